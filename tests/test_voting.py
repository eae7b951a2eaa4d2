"""Tests of labelwidgets.voting: assignment, resolution policies, agreement and the tiebreak queue."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from labelwidgets import MultiLabel, MultiTaskTagger, TiebreakQueue, voting
from labelwidgets.datasets import load_demo
from labelwidgets.store import LabelStore
from labelwidgets.voting import (
    STATUSES,
    agreement,
    assign,
    cohen_kappa,
    confusion,
    krippendorff_alpha,
    match_boxes,
    plot_confusion,
    resolve,
)


def votes(rows, task="shape"):
    """A labels frame from (item, rater, label) tuples."""
    df = pd.DataFrame(rows, columns=["item_id", "rater", "label"])
    df.insert(1, "task", task)
    return df


def random_votes(seed, n_items=300, raters=("ann", "bob", "cy"), classes=("a", "b", "c", "d"),
                 third=0.5, error=0.3):  # fmt: skip
    """Two raters per item, a third on about ``third`` of the disagreements."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_items):
        truth = rng.choice(classes)
        pair = rng.choice(raters, size=2, replace=False)
        answers = [truth if rng.random() > error else rng.choice(classes) for _ in pair]
        rows += [(f"i{i:04d}", r, a) for r, a in zip(pair, answers, strict=True)]
        if answers[0] != answers[1] and rng.random() < third:
            other = [r for r in raters if r not in pair][0]
            rows.append(
                (f"i{i:04d}", other, truth if rng.random() > error else rng.choice(classes))
            )
    return votes(rows)


# ----------------------------------------------------------------------------- assign
@pytest.mark.parametrize(
    "n_items,n_raters,per_item", [(10, 2, 2), (101, 3, 2), (50, 7, 3), (9, 4, 4)]
)
def test_assign_balanced_distinct(n_items, n_raters, per_item):
    raters = [f"r{i}" for i in range(n_raters)]
    out = assign([f"x{i}" for i in range(n_items)], raters, per_item=per_item, random_state=3)
    assert list(out.columns) == ["item_id", "rater", "role"]
    assert len(out) == n_items * per_item
    assert (out.groupby("item_id")["rater"].nunique() == per_item).all()
    counts = out["rater"].value_counts().reindex(raters, fill_value=0)
    assert counts.max() - counts.min() <= 1
    assert (out["role"] == "primary").all()


def test_assign_deterministic_and_varied():
    items, raters = [f"x{i}" for i in range(60)], ["a", "b", "c", "d"]
    first = assign(items, raters, random_state=7)
    pd.testing.assert_frame_equal(first, assign(items, raters, random_state=7))
    assert not first.equals(assign(items, raters, random_state=8))
    pairs = first.groupby("item_id", sort=False)["rater"].agg(lambda s: tuple(sorted(s)))
    assert pairs.nunique() > 2  # pairs vary, not a fixed rotation of two pairs
    assert list(pd.unique(first["item_id"])) == items  # item order kept


def test_assign_writes_store(tmp_path):
    store = LabelStore(tmp_path / "a.db")
    out = assign(["p", "q", "r"], ["ann", "bob"], store=store, role="review")
    saved = store.assignments()
    assert len(saved) == len(out) == 6
    assert set(saved["role"]) == {"review"}
    assert sorted(store.assignments(rater="ann")["item_id"]) == ["p", "q", "r"]


def test_assign_again_writes_only_new_rows(tmp_path):
    # re-running a notebook cell must not double every assignment
    store = LabelStore(tmp_path / "a.db")
    first = assign(["p", "q", "r"], ["ann", "bob"], store=store, random_state=3)
    again = assign(["p", "q", "r"], ["ann", "bob"], store=store, random_state=3)
    pd.testing.assert_frame_equal(first, again)
    assert len(store.assignments()) == 6
    assign(["p", "q", "r", "s"], ["ann", "bob"], store=store, random_state=3)
    assert len(store.assignments()) == 8


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"item_ids": [], "raters": ["a", "b"]}, "at least one item"),
        ({"item_ids": ["x", "x"], "raters": ["a", "b"]}, "must be unique"),
        ({"item_ids": ["x"], "raters": ["a"]}, "at least `per_item`=2"),
        ({"item_ids": ["x"], "raters": ["a", "a"]}, "`raters` must be unique"),
        ({"item_ids": ["x"], "raters": ["a", "b"], "per_item": 0}, "positive integer"),
        ({"item_ids": ["x"], "raters": ["a", "b"], "role": "boss"}, "`role` must be one of"),
        ({"item_ids": ["x"], "raters": "ab"}, "list of rater names"),
    ],
)
def test_assign_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        assign(**kwargs)


# ----------------------------------------------------------------------------- resolve: single
CASES = votes(
    [
        ("a", "ann", "circle"), ("a", "bob", "circle"),                          # agreed
        ("b", "ann", "circle"), ("b", "bob", "square"),                          # disagree
        ("c", "ann", "circle"), ("c", "bob", "square"), ("c", "cy", "circle"),   # 2 of 3
        ("d", "ann", "circle"), ("d", "bob", "square"), ("d", "cy", "triangle"), # all differ
        ("e", "ann", "square"),                                                  # one vote
    ]
)  # fmt: skip


@pytest.mark.parametrize(
    "policy,fallback,expected",
    [
        ("discard", "discard", [("circle", "agreed"), (None, "discarded"), (None, "discarded"),
                                (None, "discarded"), ("square", "single")]),
        ("neutral", "discard", [("circle", "agreed"), ("N", "neutral"), ("N", "neutral"),
                                ("N", "neutral"), ("square", "single")]),
        ("tiebreak", "discard", [("circle", "agreed"), (None, "needs_tiebreak"),
                                 ("circle", "tiebroken"), (None, "discarded"), ("square", "single")]),
        ("tiebreak", "neutral", [("circle", "agreed"), (None, "needs_tiebreak"),
                                 ("circle", "tiebroken"), ("N", "neutral"), ("square", "single")]),
    ],
)  # fmt: skip
def test_resolve_policies(policy, fallback, expected):
    out = resolve(CASES, policy=policy, fallback=fallback, neutral_label="N")
    assert list(out.columns) == ["item_id", "task", "label", "status", "n_votes", "votes"]
    assert list(out["item_id"]) == ["a", "b", "c", "d", "e"]
    assert list(zip(out["label"], out["status"], strict=True)) == expected
    assert list(out["n_votes"]) == [2, 2, 3, 3, 1]
    assert list(out["status"].cat.categories) == list(STATUSES)
    assert out.loc[2, "votes"] == {"ann": "circle", "bob": "square", "cy": "circle"}


def reference_resolve(df, policy, fallback, neutral="neutral"):
    """Per-item loop: the rule as written in the docstring."""
    out = {}
    for (item, task), g in df.groupby(["item_id", "task"], sort=False):
        counts = g["label"].value_counts()
        n = len(g)
        if n == 1:
            out[item, task] = (g["label"].iloc[0], "single")
        elif len(counts) == 1:
            out[item, task] = (counts.index[0], "agreed")
        elif policy == "discard":
            out[item, task] = (None, "discarded")
        elif policy == "neutral":
            out[item, task] = (neutral, "neutral")
        elif n == 2:
            out[item, task] = (None, "needs_tiebreak")
        elif 2 * counts.iloc[0] > n:
            out[item, task] = (counts.index[0], "tiebroken")
        else:
            out[item, task] = (None, "discarded") if fallback == "discard" else (neutral, "neutral")
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dense", [True, False])
def test_resolve_matches_reference_loop(seed, dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(voting._resolve, "_DENSE_LIMIT", 0)  # the sort-based counting path
        monkeypatch.setattr(voting._votes, "_EXACT", 0)  # vote patterns through the grid
    df = pd.concat(
        [random_votes(seed), random_votes(seed + 10).assign(task="color")], ignore_index=True
    )
    for policy, fallback in [
        ("discard", "discard"),
        ("neutral", "discard"),
        ("tiebreak", "neutral"),
    ]:
        out = resolve(df, policy=policy, fallback=fallback)
        ref = reference_resolve(df, policy, fallback)
        got = {(i, t): (lab, str(s)) for i, t, lab, s in zip(out["item_id"], out["task"], out["label"],
                                                            out["status"], strict=True)}  # fmt: skip
        assert got == ref
        assert list(pd.unique(out["task"])) == ["shape", "color"]
    lean = resolve(df, votes=False)
    assert "votes" not in lean.columns
    full = resolve(df)
    pd.testing.assert_frame_equal(lean, full.drop(columns=["votes"]))
    expected = {(i, t): dict(sorted(zip(g["rater"], g["label"], strict=True)))
                for (i, t), g in df.groupby(["item_id", "task"], sort=False)}  # fmt: skip
    for i, t, v in zip(full["item_id"], full["task"], full["votes"], strict=True):
        assert v == expected[i, t] and list(v) == list(expected[i, t])  # raters in name order


def test_resolve_orders_tasks_then_items():
    df = pd.concat([votes([("b", "ann", "x"), ("a", "ann", "y")], task="t1"),
                    votes([("c", "ann", "x")], task="t2"),
                    votes([("a", "bob", "y"), ("d", "bob", "x")], task="t1")])  # fmt: skip
    out = resolve(df)
    assert list(zip(out["task"], out["item_id"], strict=True)) == [
        ("t1", "b"),
        ("t1", "a"),
        ("t1", "d"),
        ("t2", "c"),
    ]


def test_resolve_votes_are_shared_read_only_dicts():
    import json
    import pickle

    out = resolve(votes([(f"i{k}", r, "circle") for k in range(4) for r in ("bob", "ann")]))
    first, second = out["votes"].iloc[0], out["votes"].iloc[1]
    assert first is second and isinstance(first, voting.Votes) and isinstance(first, dict)
    assert first == {"ann": "circle", "bob": "circle"} and list(first) == ["ann", "bob"]
    assert json.loads(json.dumps(first)) == first
    assert pickle.loads(pickle.dumps(first)) == first
    copy = dict(first)
    copy["cy"] = "square"
    assert "cy" not in first
    for edit in (lambda v: v.__setitem__("cy", "x"), lambda v: v.update(cy="x"),
                 lambda v: v.pop("ann"), lambda v: v.clear()):  # fmt: skip
        with pytest.raises(TypeError, match="`votes` dicts returned by resolve\\(\\) must stay"):
            edit(first)
    assert first == {"ann": "circle", "bob": "circle"}


def test_vote_patterns_large_codes():
    from labelwidgets.voting._votes import _patterns

    rng = np.random.default_rng(0)
    for base, width in [(5, 3), (3000, 3), (100_000, 5)]:  # table, sort, column by column
        grid = rng.integers(0, base, (3000, width))
        grid[:1000] = grid[1000:2000]
        pattern = _patterns(grid, base)
        _, expected = np.unique(grid, axis=0, return_inverse=True)
        pairs = set(zip(pattern.tolist(), expected.reshape(-1).tolist(), strict=True))
        assert len(pairs) == len(set(pattern.tolist())) == len(np.unique(grid, axis=0))


def test_resolve_latest_vote_counts_in_raw_frame():
    t = pd.Timestamp("2024-01-01", tz="UTC")
    df = votes([("a", "ann", "circle"), ("a", "bob", "square"), ("a", "bob", "circle"),
                ("b", "ann", "square"), ("b", "ann", "circle"), ("b", "bob", "square")])  # fmt: skip
    # bob changed his mind on a (later time); ann's later row on b is older by created_at
    df["created_at"] = [t, t, t + pd.Timedelta("1h"), t + pd.Timedelta("2h"), t, t]
    out = resolve(df, tasks={"shape": "single"}).set_index("item_id")
    assert out.loc["a", "status"] == "agreed" and out.loc["a", "label"] == "circle"
    assert out.loc["b", "status"] == "agreed" and out.loc["b", "label"] == "square"
    assert (out["n_votes"] == 2).all()


def test_resolve_latest_vote_from_store(tmp_path):
    store = LabelStore(tmp_path / "s.db")
    store.register_task("shape", ["circle", "square"])
    store.submit("a", {"shape": "circle"}, "ann")
    store.submit("a", {"shape": "square"}, "bob")
    store.submit("a", {"shape": "circle"}, "bob")  # bob's latest answer
    out = resolve(store.labels(), tasks=store.tasks())
    assert out["status"].tolist() == ["agreed"]
    assert out["votes"].iloc[0] == {"ann": "circle", "bob": "circle"}
    raw = store.annotations()  # the raw log: the latest submission wins there too
    assert resolve(raw)["label"].tolist() == ["circle"]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"policy": "vote"}, "`policy` must be one of"),
        ({"fallback": "tiebreak"}, "`fallback` must be one of"),
        ({"iou": 0}, r"`iou` must be a number in \(0, 1\]"),
        ({"neutral_label": ""}, "`neutral_label` must be a non-empty string"),
        ({"tasks": {"shape": "poly"}}, r"`tasks\['shape'\]` must be one of"),
    ],
)
def test_resolve_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve(CASES, **kwargs)


def test_resolve_bad_frames():
    with pytest.raises(
        ValueError, match=r"must have columns \['item_id', 'task', 'rater', 'label'\]"
    ):
        resolve(CASES.drop(columns=["rater"]))
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        resolve(CASES.to_dict("records"))
    empty = resolve(CASES.iloc[:0])
    assert empty.empty and list(empty.columns) == voting.RESOLVED_COLUMNS


# ----------------------------------------------------------------------------- resolve: multi
def test_resolve_multi_label_per_option():
    df = votes(
        [
            ("a", "ann", "red"), ("a", "ann", "blue"), ("a", "bob", "blue"), ("a", "bob", "red"),
            ("b", "ann", "red"), ("b", "bob", "red"), ("b", "bob", "green"),
            ("c", "ann", "red"), ("c", "bob", "red"), ("c", "bob", "green"), ("c", "cy", "red"),
            ("d", "ann", "red"), ("d", "ann", "blue"), ("d", "bob", "green"), ("d", "cy", "blue"),
        ],
        task="colors",
    )  # fmt: skip
    out = resolve(df, tasks={"colors": "multi"}).set_index("item_id")
    assert out.loc["a", "label"] == ["blue", "red"] and out.loc["a", "status"] == "agreed"
    assert out.loc["b", "label"] is None and out.loc["b", "status"] == "needs_tiebreak"
    # c: red 3/3 yes, green 1/3 yes -> no: tiebroken to [red]
    assert out.loc["c", "label"] == ["red"] and out.loc["c", "status"] == "tiebroken"
    # d: red 1/3, blue 2/3, green 1/3 -> every option has a majority: [blue]
    assert out.loc["d", "label"] == ["blue"] and out.loc["d", "status"] == "tiebroken"
    assert out.loc["a", "votes"] == {"ann": ["blue", "red"], "bob": ["blue", "red"]}
    neutral = resolve(df, policy="neutral", tasks={"colors": "multi"}).set_index("item_id")
    assert neutral.loc["b", "label"] == ["neutral"] and neutral.loc["b", "status"] == "neutral"
    # inferred as multi-label (several rows per rater and item), same answer
    assert resolve(df)["label"].tolist() == out["label"].tolist()


def test_resolve_multi_from_store_counts_empty_answers(tmp_path):
    store = LabelStore(tmp_path / "m.db")
    store.register_task("colors", ["red", "blue"], kind="multi")
    store.submit("a", {"colors": ["red"]}, "ann")
    store.submit("a", {"colors": []}, "bob")  # "none of these": no row in labels()
    store.submit("b", {"colors": ["red", "blue"]}, "ann")
    store.submit("b", {"colors": ["blue", "red"]}, "bob")
    from_labels = resolve(store.labels(), tasks=store.tasks()).set_index("item_id")
    assert from_labels.loc["a", "status"] == "single"  # bob's empty answer is invisible here
    from_current = resolve(store.current(), tasks=store.tasks()).set_index("item_id")
    assert from_current.loc["a", "status"] == "needs_tiebreak"
    assert from_current.loc["a", "votes"] == {"ann": ["red"], "bob": []}
    assert from_current.loc["b", "label"] == ["blue", "red"]


# ----------------------------------------------------------------------------- resolve: boxes
def box_votes(rows):
    df = pd.DataFrame(rows, columns=["item_id", "rater", "label", "x", "y", "w", "h"])
    df.insert(1, "task", "objects")
    df["kind"] = "box"
    return df


def test_match_boxes_greedy():
    a = [
        {"label": "cat", "x": 0, "y": 0, "w": 10, "h": 10},
        {"label": "dog", "x": 50, "y": 50, "w": 10, "h": 10},
    ]
    b = [
        {"label": "dog", "x": 51, "y": 50, "w": 10, "h": 10},
        {"label": "cat", "x": 1, "y": 1, "w": 10, "h": 10},
    ]
    objects = match_boxes({"bob": b, "ann": a}, iou=0.5)
    assert len(objects) == 2
    assert objects[0]["ann"]["label"] == objects[0]["bob"]["label"] == "cat"
    assert match_boxes({"ann": a, "bob": b}, iou=0.99) == [
        {"ann": a[0]},
        {"ann": a[1]},
        {"bob": b[0]},
        {"bob": b[1]},
    ]


def test_resolve_boxes():
    df = box_votes(
        [
            ("p", "ann", "cat", 0, 0, 10, 10), ("p", "bob", "cat", 2, 0, 10, 10),      # IoU 0.67
            ("q", "ann", "cat", 0, 0, 10, 10), ("q", "bob", "dog", 1, 0, 10, 10),      # label differs
            ("r", "ann", "cat", 0, 0, 10, 10), ("r", "bob", "cat", 8, 8, 10, 10),      # no match
            ("s", "ann", "cat", 0, 0, 10, 10), ("s", "bob", "dog", 1, 0, 10, 10),
            ("s", "cy", "cat", 0, 1, 10, 10),                                          # 2 of 3
        ]
    )  # fmt: skip
    out = resolve(df).set_index("item_id")
    assert out.loc["p", "status"] == "agreed"
    assert out.loc["p", "label"] == [{"label": "cat", "x": 1.0, "y": 0.0, "w": 10.0, "h": 10.0}]
    assert out.loc["q", "status"] == "needs_tiebreak" and out.loc["q", "label"] is None
    assert out.loc["r", "status"] == "needs_tiebreak"
    assert out.loc["s", "status"] == "tiebroken"
    assert out.loc["s", "label"] == [{"label": "cat", "x": 0.0, "y": 0.5, "w": 10.0, "h": 10.0}]
    assert set(out.loc["s", "votes"]) == {"ann", "bob", "cy"}
    neutral = resolve(df, policy="neutral").set_index("item_id")
    assert neutral.loc["q", "label"] == [
        {"label": "neutral", "x": 0.5, "y": 0.0, "w": 10.0, "h": 10.0}
    ]
    assert [b["label"] for b in neutral.loc["r", "label"]] == ["neutral", "neutral"]
    strict = resolve(df, iou=0.9).set_index("item_id")
    assert strict.loc["p", "status"] == "needs_tiebreak"


def test_resolve_mixed_kinds_from_store(tmp_path):
    store = LabelStore(tmp_path / "k.db")
    store.register_task("shape", ["circle", "square"])
    store.register_task("objects", ["circle", "square"], kind="box")
    for rater, shape in (("ann", "circle"), ("bob", "circle")):
        store.submit("a", {"shape": shape}, rater)
        store.submit_boxes(
            "a", "objects", [{"label": shape, "x": 5, "y": 5, "w": 20, "h": 20}], rater
        )
    out = resolve(store.labels(), tasks=store.tasks())
    assert sorted(out["task"]) == ["objects", "shape"]
    assert (out["status"] == "agreed").all()


# ----------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cohen_kappa_equals_sklearn(seed):
    df = random_votes(seed, n_items=400, third=0.0, error=0.4)
    for a, b in itertools.combinations(["ann", "bob", "cy"], 2):
        wide = df.pivot(index="item_id", columns="rater", values="label")[[a, b]].dropna()
        expected = cohen_kappa_score(wide[a], wide[b])
        assert abs(cohen_kappa(df, "shape", a, b) - expected) < 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_krippendorff_alpha_equals_package(seed):
    df = random_votes(seed, n_items=300, third=0.7, error=0.35)
    classes = {c: i for i, c in enumerate(sorted(df["label"].unique()))}
    wide = df.assign(code=df["label"].map(classes)).pivot(
        index="item_id", columns="rater", values="code"
    )
    expected = krippendorff.alpha(
        reliability_data=wide.T.to_numpy(dtype=float), level_of_measurement="nominal"
    )
    assert abs(krippendorff_alpha(df, "shape") - expected) < 1e-12


def test_agreement_table():
    df = pd.concat([random_votes(5), random_votes(6).assign(task="color")], ignore_index=True)
    table = agreement(df)
    assert list(table.columns) == ["task", "rater_a", "rater_b", "n_items", "percent_agreement",
                                   "cohen_kappa", "krippendorff_alpha", "gwet_ac1"]  # fmt: skip
    assert len(table) == 6 and (table["rater_a"] < table["rater_b"]).all()
    for row in table.itertuples():
        sub = df[df["task"] == row.task]
        wide = sub.pivot(index="item_id", columns="rater", values="label")[
            [row.rater_a, row.rater_b]
        ].dropna()
        assert row.n_items == len(wide)
        assert row.percent_agreement == pytest.approx(
            100 * (wide[row.rater_a] == wide[row.rater_b]).mean()
        )
        assert row.cohen_kappa == pytest.approx(
            cohen_kappa_score(wide[row.rater_a], wide[row.rater_b]), abs=1e-12
        )
        assert row.krippendorff_alpha == pytest.approx(krippendorff_alpha(df, row.task), abs=1e-12)


def test_agreement_errors():
    with pytest.raises(ValueError, match="`task` must be a task of `labels`"):
        cohen_kappa(CASES, "colour", "ann", "bob")
    with pytest.raises(ValueError, match="`rater_b` must be a rater of task 'shape'"):
        cohen_kappa(CASES, "shape", "ann", "zed")
    boxes = box_votes([("p", "ann", "cat", 0, 0, 10, 10), ("p", "bob", "cat", 2, 0, 10, 10)])
    with pytest.raises(ValueError, match="must be a single- or multi-label task"):
        krippendorff_alpha(boxes, "objects")
    assert agreement(boxes).empty


def test_confusion_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    df = random_votes(4)
    resolved = resolve(df)
    table = confusion(df, resolved, "shape")
    assert list(table.columns) == ["rater", "resolved", "label", "n"]
    decided = resolved[resolved["status"].isin(["agreed", "tiebroken"])]
    assert table["n"].sum() == decided["n_votes"].sum()
    agreed_votes = table.loc[table["resolved"] == table["label"], "n"].sum()
    expected = sum(
        sum(v == lab for v in d.values())
        for d, lab in zip(decided["votes"], decided["label"], strict=True)
    )
    assert agreed_votes == expected
    ax = plot_confusion(table, rater="ann")
    assert ax.get_ylabel() == "resolved label" and len(ax.texts) == 16
    with pytest.raises(ValueError, match="`statuses` must be drawn from"):
        confusion(df, resolved, "shape", statuses=["fine"])


# ----------------------------------------------------------------------------- tiebreak queue
@pytest.fixture()
def demo(tmp_path):
    images = load_demo(root=tmp_path / "demo", n_shapes=12)
    return images, LabelStore(tmp_path / "labels.db")


def test_tiebreak_queue_flow(demo):
    images, store = demo
    tasks = {
        "shape": ["circle", "square", "triangle"],
        "colors": MultiLabel(["red", "green", "blue"]),
    }
    ids = images.item_ids[:6]
    assign(ids, ["ann", "bob"], store=store)
    ann = MultiTaskTagger(images, tasks, rater="ann", store=store)
    bob = MultiTaskTagger(images, tasks, rater="bob", store=store)
    assert ann.queue == ids and bob.queue == ids
    for i in range(len(ids)):
        ann.submit({"shape": "circle", "colors": ["red"]})
        bob.submit({"shape": "circle" if i % 2 else "square", "colors": ["red"]})
    disputed = [item for i, item in enumerate(ids) if i % 2 == 0]

    blind = TiebreakQueue(images, store, tasks, rater="cy")
    assert blind.queue == disputed
    assert blind.disputed == {item: ["shape"] for item in disputed}
    note = blind.note(blind.current_item)
    assert "earlier votes hidden" in note and "square" not in note
    tiebreak = store.assignments(rater="cy")
    assert sorted(tiebreak["item_id"]) == sorted(disputed) and set(tiebreak["role"]) == {"tiebreak"}
    assert TiebreakQueue(images, store, tasks, rater="ann").queue == []  # a voter cannot break ties

    shown = TiebreakQueue(images, store, tasks, rater="cy", show_votes=True)
    note = shown.note(shown.current_item)
    assert "ann: circle" in note and "bob: square" in note
    assert len(store.assignments(rater="cy")) == len(disputed)  # assigned once

    blind.submit({"shape": "square", "colors": ["red"]})
    blind.skip()
    blind.submit({"shape": "circle", "colors": ["red"]})
    res = resolve(store.labels(), tasks=store.tasks()).set_index(["item_id", "task"])
    assert res.loc[(disputed[0], "shape"), "status"] == "tiebroken"
    assert res.loc[(disputed[0], "shape"), "label"] == "square"
    assert res.loc[(disputed[1], "shape"), "status"] == "needs_tiebreak"  # skipped
    assert res.loc[(disputed[2], "shape"), "label"] == "circle"
    assert TiebreakQueue(images, store, tasks, rater="dan").queue == [disputed[1]]


def test_tiebreak_queue_errors(demo):
    images, store = demo
    with pytest.raises(ValueError, match="`fallback` must be one of"):
        TiebreakQueue(images, store, {"shape": ["circle"]}, rater="cy", fallback="coin")
    with pytest.raises(ValueError, match="`rater` must be a non-empty string"):
        TiebreakQueue(images, store, {"shape": ["circle"]}, rater="")
