"""Dawid-Skene in resolve() (checked against crowd-kit) and rater_quality()."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene
from sklearn.metrics import cohen_kappa_score

from labelwidgets import InputError
from labelwidgets.store import LabelStore
from labelwidgets.voting import STATUSES, plot_rater_quality, rater_quality, resolve
from labelwidgets.voting._dawid_skene import fit_dawid_skene

matplotlib.use("Agg")


def simulate(seed, n_items=300, accuracy=(0.9, 0.8, 0.7, 0.6, 0.3), per_item=(2, 4),
             n_classes=4, task="shape", sparse_rater=False):  # fmt: skip
    """Votes of raters with known accuracies (a wrong answer is uniform over the classes)."""
    rng = np.random.default_rng(seed)
    names = [f"r{i}" for i in range(len(accuracy))]
    classes = [f"c{k:02d}" for k in range(n_classes)]
    truth = rng.integers(0, n_classes, n_items)
    rows = []
    for i in range(n_items):
        m = rng.integers(per_item[0], per_item[1] + 1)
        for r in rng.choice(len(names), size=m, replace=False):
            right = rng.random() < accuracy[r]
            answer = truth[i] if right else rng.integers(0, n_classes)
            rows.append((f"i{i:04d}", task, names[r], classes[answer]))
    if sparse_rater:  # a rater who answered two items only
        rows += [("i0000", task, "late", classes[truth[0]]), ("i0001", task, "late", classes[0])]
    df = pd.DataFrame(rows, columns=["item_id", "task", "rater", "label"])
    return df, pd.Series(np.asarray(classes, dtype=object)[truth],
                         index=[f"i{i:04d}" for i in range(n_items)])  # fmt: skip


def crowdkit_fit(df, n_iter=100, tol=1e-5):
    data = pd.DataFrame({"task": df["item_id"], "worker": df["rater"], "label": df["label"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DawidSkene(n_iter=n_iter, tol=tol).fit(data)


# ----------------------------------------------------------------------------- against crowd-kit
@pytest.mark.parametrize(
    "seed,kwargs,n_iter",
    [
        (0, {}, 1),
        (0, {}, 100),  # run to crowd-kit's stopping rule
        (1, {"per_item": (1, 5)}, 7),  # unequal vote counts, single votes
        (2, {"sparse_rater": True}, 7),
        (3, {"n_classes": 12, "n_items": 400}, 7),  # many classes
        (3, {"n_classes": 12, "n_items": 400}, 100),
        (4, {"accuracy": (0.8, 0.7), "per_item": (1, 2)}, 7),  # two raters
        (5, {"accuracy": (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.5, 0.4, 0.3, 0.2),
             "per_item": (2, 6)}, 7),  # fmt: skip
    ],
)
def test_dawid_skene_equals_crowdkit(seed, kwargs, n_iter):
    df, _ = simulate(seed, **kwargs)
    ours = resolve(df, method="dawid_skene", n_iter=n_iter, threshold=0.0).set_index("item_id")
    theirs = crowdkit_fit(df, n_iter=n_iter)
    probas = theirs.probas_.reindex(index=ours.index)
    # posteriors to 1e-6: the chosen label's, and the whole matrix through the core
    assert np.allclose(ours["confidence"], probas.max(axis=1), atol=1e-6, rtol=0)
    item_c, item_u = pd.factorize(df["item_id"])
    rater_c, rater_u = pd.factorize(df["rater"])
    classes = np.sort(df["label"].unique())
    fit = fit_dawid_skene(item_c, rater_c, np.searchsorted(classes, df["label"]), len(item_u),
                          len(rater_u), len(classes), n_iter=n_iter)  # fmt: skip
    expected = theirs.probas_.reindex(index=item_u, columns=classes).to_numpy()
    assert np.abs(fit.posteriors - expected).max() < 1e-6
    assert fit.n_iter == len(theirs.loss_history_)
    errors = theirs.errors_  # (worker, answer) x truth, answers the worker gave
    for (worker, answer), row in errors.iterrows():
        r, a = list(rater_u).index(worker), list(classes).index(answer)
        assert np.allclose(fit.errors[r, a], row.reindex(classes).to_numpy(), atol=1e-6)
    # the same labels wherever the top posterior is not a tie
    top2 = np.sort(probas.to_numpy(), axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1e-9
    assert clear.mean() > 0.9
    same = ours["label"].to_numpy()[clear] == theirs.labels_.reindex(ours.index).to_numpy()[clear]
    assert same.all()


def test_dawid_skene_several_tasks_are_separate_models():
    a, _ = simulate(0, task="shape")
    b, _ = simulate(1, task="size", n_classes=3)
    both = resolve(pd.concat([a, b], ignore_index=True), method="dawid_skene", threshold=0.0)
    assert list(pd.unique(both["task"])) == ["shape", "size"]
    for task, df in (("shape", a), ("size", b)):
        alone = resolve(df, method="dawid_skene", threshold=0.0)
        part = both[both["task"] == task].reset_index(drop=True)
        pd.testing.assert_series_equal(part["confidence"], alone["confidence"])
        assert part["label"].tolist() == alone["label"].tolist()


# ----------------------------------------------------------------------------- statuses, policy
def test_dawid_skene_columns_statuses_and_policies():
    df, _ = simulate(6, per_item=(1, 4))
    out = resolve(df, method="dawid_skene", threshold=0.9)
    assert list(out.columns) == ["item_id", "task", "label", "status", "n_votes", "votes",
                                 "confidence"]  # fmt: skip
    assert list(out["status"].cat.categories) == list(STATUSES)
    decided = out["confidence"] >= 0.9
    st = out["status"].astype(str)
    assert set(st[~decided]) == {"needs_tiebreak"}
    assert out.loc[~decided, "label"].isna().all()
    for _, row in out[decided].iterrows():
        answers = set(row["votes"].values())
        if row["n_votes"] == 1:
            assert row["status"] == "single"
        elif answers == {row["label"]}:
            assert row["status"] == "agreed"
        else:
            assert row["status"] == "estimated" and row["label"] in answers | {row["label"]}
    neutral = resolve(df, method="dawid_skene", threshold=0.9, policy="neutral", neutral_label="N")
    assert (neutral.loc[~decided, "label"] == "N").all()
    assert set(neutral.loc[~decided, "status"].astype(str)) == {"neutral"}
    discard = resolve(df, method="dawid_skene", threshold=0.9, policy="discard", votes=False)
    assert "votes" not in discard.columns
    assert set(discard.loc[~decided, "status"].astype(str)) == {"discarded"}
    # the majority default is unchanged: no confidence column
    assert "confidence" not in resolve(df).columns


def test_dawid_skene_beats_majority_with_a_near_random_rater():
    """Three raters per item, one of them near random: DS weighs that rater down."""
    df, truth = simulate(7, n_items=1500, accuracy=(0.75, 0.7, 0.65, 0.3), per_item=(3, 3))
    ds = resolve(df, method="dawid_skene", threshold=0.0).set_index("item_id")
    mv = resolve(df, policy="tiebreak", fallback="discard").set_index("item_id")
    ds_acc = (ds["label"] == truth.reindex(ds.index)).mean()
    mv_acc = (mv["label"] == truth.reindex(mv.index)).mean()  # undecided items count as wrong
    assert ds_acc > mv_acc + 0.03


def test_dawid_skene_two_fixed_raters_leave_disagreements_open():
    """The same two raters on every item: a disagreement stays near a coin toss."""
    df, _ = simulate(8, n_items=600, accuracy=(0.9, 0.6), per_item=(2, 2), n_classes=3)
    out = resolve(df, method="dawid_skene")
    split = out["votes"].map(lambda v: len(set(v.values())) > 1)
    assert split.any()
    assert (out.loc[split, "confidence"] < 0.9).all()
    assert (out.loc[split, "status"] == "needs_tiebreak").all()
    assert (out.loc[~split, "status"] == "agreed").all()


def test_dawid_skene_from_store_latest_answer(tmp_path):
    store = LabelStore(tmp_path / "ds.db")
    store.register_task("shape", ["circle", "square"])
    for item, answers in {"a": ("circle", "circle", "square"), "b": ("square", "square", "square"),
                          "c": ("circle", "square", "circle")}.items():  # fmt: skip
        for rater, answer in zip(("ann", "bob", "cy"), answers, strict=True):
            store.submit(item, {"shape": answer}, rater)
    store.submit("c", {"shape": "square"}, "cy")  # cy changes her mind: the latest counts
    out = resolve(store.labels(), method="dawid_skene", threshold=0.0, tasks=store.tasks())
    assert out.set_index("item_id").loc["c", "votes"] == {"ann": "circle", "bob": "square",
                                                          "cy": "square"}  # fmt: skip


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"method": "bayes"}, r"`method` must be one of \['majority', 'dawid_skene'\]. Got 'bayes'"),
        ({"method": "dawid_skene", "threshold": 1.5}, r"`threshold` must be a number in \[0, 1\]"),
        ({"method": "dawid_skene", "n_iter": -1}, r"`n_iter` must be an integer >= 0"),
        ({"method": "dawid_skene", "tol": 0}, r"`tol` must be a number in \(0, inf\]"),
    ],
)
def test_dawid_skene_bad_arguments(kwargs, match):
    df, _ = simulate(9, n_items=20)
    with pytest.raises(InputError, match=match):
        resolve(df, **kwargs)


def test_dawid_skene_bad_votes(tmp_path):
    one = pd.DataFrame({"item_id": ["a", "b"], "task": "shape", "rater": "ann",
                        "label": ["circle", "square"]})  # fmt: skip
    with pytest.raises(InputError, match=r"two raters or more on task 'shape'.*\['ann'\]"):
        resolve(one, method="dawid_skene")
    multi = pd.DataFrame({"item_id": ["a", "a", "a"], "task": "colors", "rater": ["ann", "ann", "bob"],
                          "label": ["red", "blue", "red"], "submission_id": ["s1", "s1", "s2"]})  # fmt: skip
    with pytest.raises(InputError, match=r"single-label tasks only. Got task 'colors' of kind 'multi'"):
        resolve(multi, method="dawid_skene")
    store = LabelStore(tmp_path / "opts.db")
    store.register_task("shape", ["circle", "square"])
    votes = pd.DataFrame({"item_id": ["a", "a"], "task": "shape", "rater": ["ann", "bob"],
                          "label": ["circle", "hexagon"]})  # fmt: skip
    with pytest.raises(InputError, match=r"options \['circle', 'square'\]. Got \['hexagon'\]"):
        resolve(votes, method="dawid_skene", tasks=store.tasks())
    with pytest.raises(InputError, match=r"one of \['shape'\]. Got 'size'"):
        resolve(votes.assign(task="size"), method="dawid_skene", tasks=store.tasks())


def test_dawid_skene_empty_votes_have_confidence_column():
    empty = pd.DataFrame(columns=["item_id", "task", "rater", "label"])
    out = resolve(empty, method="dawid_skene")
    assert list(out.columns) == ["item_id", "task", "label", "status", "n_votes", "votes",
                                 "confidence"]  # fmt: skip
    assert out.empty


# ----------------------------------------------------------------------------- rater_quality
def with_times(df, seconds, seed=0, breaks=()):
    """Give each rater submissions ``seconds[rater]`` apart, with long breaks after the given
    positions of their sequence."""
    rng = np.random.default_rng(seed)
    df = df.copy()
    start = pd.Timestamp("2026-03-01 09:00", tz="UTC")
    times = []
    pos = df.groupby("rater").cumcount().to_numpy()
    for rater, p in zip(df["rater"], pos, strict=True):
        gap = seconds[rater] * p + 3600 * sum(p > b for b in breaks)
        times.append(start + pd.Timedelta(seconds=float(gap + rng.uniform(0, 0.01))))
    df["created_at"] = times
    df["submission_id"] = [f"{r}-{p}" for r, p in zip(df["rater"], pos, strict=True)]
    return df


def test_rater_quality_table():
    df, _ = simulate(10, n_items=800, accuracy=(0.9, 0.75, 0.6, 0.25), per_item=(3, 3))
    df = with_times(df, {"r0": 4.0, "r1": 6.0, "r2": 8.0, "r3": 2.0}, breaks=(100, 300))
    q = rater_quality(df)
    assert q["rater"].tolist() == ["r0", "r1", "r2", "r3"]
    assert list(q.columns) == ["rater", "n_items", "agreement", "accuracy", "cohen_kappa",
                               "seconds_per_item", "sittings", "confusion"]  # fmt: skip
    # estimated accuracy near the true one (a wrong answer is uniform: 1/4 of them are right)
    true_acc = np.array([0.9, 0.75, 0.6, 0.25]) + np.array([0.1, 0.25, 0.4, 0.75]) / 4
    assert np.abs(q["accuracy"].to_numpy() - true_acc).max() < 0.06
    assert q["accuracy"].is_monotonic_decreasing
    # agreement and kappa against the consensus computed by hand from resolve()
    consensus = resolve(df, method="dawid_skene", threshold=0.0).set_index("item_id")["label"]
    for _, row in q.iterrows():
        mine = df[df["rater"] == row["rater"]]
        ref = consensus.reindex(mine["item_id"]).to_numpy()
        assert row["n_items"] == len(mine)
        assert row["agreement"] == pytest.approx(np.mean(mine["label"].to_numpy() == ref))
        assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(mine["label"], ref))
        table = row["confusion"]
        assert table.index.name == "truth" and table.columns.name == "answer"
        assert np.allclose(table.sum(axis=1), 1.0)
    assert q["seconds_per_item"].round(1).tolist() == [4.0, 6.0, 8.0, 2.0]
    assert q["sittings"].tolist() == [3, 3, 3, 3]


def test_rater_quality_speed_break_limit():
    df, _ = simulate(11, n_items=100, accuracy=(0.9, 0.8), per_item=(2, 2))
    df = with_times(df, {"r0": 400.0, "r1": 5.0})
    q = rater_quality(df, break_after=300).set_index("rater")
    assert np.isnan(q.loc["r0", "seconds_per_item"])  # every gap is a break
    assert q.loc["r0", "sittings"] == 100
    q = rater_quality(df, break_after=600).set_index("rater")
    assert q.loc["r0", "seconds_per_item"] == pytest.approx(400, abs=0.02)
    assert q.loc["r0", "sittings"] == 1
    no_time = rater_quality(df.drop(columns=["created_at"]))
    assert no_time["seconds_per_item"].isna().all()


def test_rater_quality_plot():
    df, _ = simulate(12, n_items=200, accuracy=(0.9, 0.7, 0.3), per_item=(2, 3))
    q = rater_quality(with_times(df, {"r0": 3.0, "r1": 5.0, "r2": 1.0}))
    fig = plot_rater_quality(q)
    assert len(fig.axes) == 2 + 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["How often right", "Seconds per item (median)"]
    assert titles[2:] == ["r0", "r1", "r2"]
    assert len(plot_rater_quality(q, confusions=False).axes) == 2
    with pytest.raises(InputError, match="output of rater_quality"):
        plot_rater_quality(q.drop(columns=["confusion"]))


def test_rater_quality_errors():
    df, _ = simulate(13, n_items=30)
    both = pd.concat([df, df.assign(task="size")])
    with pytest.raises(InputError, match=r"`task` must name one task.*\['shape', 'size'\]"):
        rater_quality(both)
    with pytest.raises(InputError, match=r"one of \['shape', 'size'\]. Got 'colour'"):
        rater_quality(both, task="colour")
    with pytest.raises(InputError, match="two raters or more"):
        rater_quality(df[df["rater"] == "r0"])
    with pytest.raises(InputError, match=r"`break_after` must be a number"):
        rater_quality(df, break_after=0)
    multi = pd.DataFrame({"item_id": ["a", "a", "a"], "task": "colors", "rater": ["ann", "ann", "bob"],
                          "label": ["red", "blue", "red"], "submission_id": ["s1", "s1", "s2"]})  # fmt: skip
    with pytest.raises(InputError, match="must be a single-label task"):
        rater_quality(multi)
