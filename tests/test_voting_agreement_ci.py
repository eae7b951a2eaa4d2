"""agreement(): Gwet's AC1 and bootstrap intervals, against a reference computation."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from labelwidgets import InputError
from labelwidgets.voting import agreement

STATS = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")


def votes(seed, n_items=50, raters=("ann", "bob", "cy"), classes=3, answer=0.8, right=0.7,
          task="shape"):  # fmt: skip
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_items):
        truth = rng.integers(classes)
        for r in raters:
            if rng.random() < answer:
                value = truth if rng.random() < right else rng.integers(classes)
                rows.append((f"i{i:03d}", task, r, f"c{value}"))
    return pd.DataFrame(rows, columns=["item_id", "task", "rater", "label"])


def gwet_ac1_reference(a, b, categories):
    """AC1 from Gwet (2008), eq. for two raters: p_e = sum pi_k (1 - pi_k) / (Q - 1)."""
    a, b = list(a), list(b)
    n = len(a)
    pa = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pi = [(a.count(k) + b.count(k)) / (2 * n) for k in categories]
    pe = sum(p * (1 - p) for p in pi) / (len(categories) - 1)
    return (pa - pe) / (1 - pe)


def reference_intervals(df, ci, n_boot, seed):
    """The documented bootstrap by a plain loop: sklearn, krippendorff and the AC1 formula on
    each resampled table of items."""
    rng = np.random.default_rng(seed)
    out = {}
    for task in pd.unique(df["task"]):
        wide = df[df["task"] == task].pivot(index="item_id", columns="rater", values="label")
        categories = sorted(pd.unique(df.loc[df["task"] == task, "label"]))
        code = {c: k for k, c in enumerate(categories)}
        idx = rng.integers(0, len(wide), size=(n_boot, len(wide)))
        reps = {}
        for b in range(n_boot):
            sample = wide.iloc[idx[b]]
            matrix = sample.apply(lambda col, code=code: col.map(code)).to_numpy(dtype=float).T
            alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
            raters = sorted(wide.columns)
            for i, ra in enumerate(raters):
                for rb in raters[i + 1 :]:
                    both = sample[ra].notna() & sample[rb].notna()
                    x, y = sample.loc[both, ra].tolist(), sample.loc[both, rb].tolist()
                    kappa = cohen_kappa_score(x, y) if len(set(x) | set(y)) > 1 else np.nan
                    rep = reps.setdefault((task, ra, rb), {s: [] for s in STATS})
                    rep["percent_agreement"].append(100 * np.mean(np.array(x) == np.array(y)))
                    rep["cohen_kappa"].append(kappa)
                    rep["krippendorff_alpha"].append(alpha)
                    rep["gwet_ac1"].append(gwet_ac1_reference(x, y, categories))
        for key, rep in reps.items():
            out[key] = {s: np.percentile(np.array(v)[~np.isnan(v)], [50 * (1 - ci), 50 * (1 + ci)])
                        for s, v in rep.items()}  # fmt: skip
    return out


def test_intervals_equal_reference_loop():
    df = pd.concat([votes(0, n_items=40), votes(10, classes=4, task="size", n_items=30)])
    out = agreement(df, ci=0.9, n_boot=80, random_state=5)
    ref = reference_intervals(df, 0.9, 80, 5)
    assert len(out) == len(ref) == 6
    for _, row in out.iterrows():
        expected = ref[row["task"], row["rater_a"], row["rater_b"]]
        for stat in STATS:
            assert row[f"{stat}_low"] == pytest.approx(expected[stat][0], abs=1e-9)
            assert row[f"{stat}_high"] == pytest.approx(expected[stat][1], abs=1e-9)
            assert row[f"{stat}_low"] <= row[stat] + 1e-9 or stat == "cohen_kappa"


def test_point_estimates_and_columns():
    df = votes(2)
    plain = agreement(df)
    assert list(plain.columns) == ["task", "rater_a", "rater_b", "n_items", *STATS]
    with_ci = agreement(df, ci=0.95, n_boot=50)
    pd.testing.assert_frame_equal(with_ci[plain.columns], plain)
    assert list(with_ci.columns[len(plain.columns):]) == [
        f"{s}_{end}" for s in STATS for end in ("low", "high")
    ]
    wide = df.pivot(index="item_id", columns="rater", values="label")
    categories = sorted(df["label"].unique())
    for _, row in plain.iterrows():
        both = wide[[row["rater_a"], row["rater_b"]]].dropna()
        expected = gwet_ac1_reference(both.iloc[:, 0], both.iloc[:, 1], categories)
        assert row["gwet_ac1"] == pytest.approx(expected)


def test_gwet_ac1_resists_the_kappa_paradox():
    """Two raters agree on 95 % of a skewed task: kappa falls near 0, AC1 stays high."""
    a = ["normal"] * 95 + ["normal", "normal", "rare", "rare", "normal"]
    b = ["normal"] * 95 + ["rare", "rare", "normal", "normal", "normal"]
    df = pd.DataFrame({"item_id": [f"i{i}" for i in range(100)] * 2, "task": "scan",
                       "rater": ["ann"] * 100 + ["bob"] * 100, "label": a + b})  # fmt: skip
    row = agreement(df).iloc[0]
    assert row["percent_agreement"] == pytest.approx(96.0)
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b))
    assert row["cohen_kappa"] < 0
    assert row["gwet_ac1"] == pytest.approx(gwet_ac1_reference(a, b, ["normal", "rare"]))
    assert row["gwet_ac1"] > 0.95


def test_intervals_seeded_and_cover():
    df = votes(3, n_items=200)
    first = agreement(df, ci=0.95, n_boot=200, random_state=7)
    pd.testing.assert_frame_equal(first, agreement(df, ci=0.95, n_boot=200, random_state=7))
    other = agreement(df, ci=0.95, n_boot=200, random_state=8)
    assert not np.allclose(first["cohen_kappa_low"], other["cohen_kappa_low"])
    narrow = agreement(df, ci=0.5, n_boot=200, random_state=7)
    for stat in STATS:
        assert (first[f"{stat}_low"] <= narrow[f"{stat}_low"]).all()
        assert (first[f"{stat}_high"] >= narrow[f"{stat}_high"]).all()
        assert (first[f"{stat}_low"] < first[f"{stat}_high"]).all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"ci": 1.0}, r"`ci` must be a number in \(0, 1\). Got 1.0"),
        ({"ci": 0}, r"`ci` must be a number in \(0, 1\]. Got 0"),
        ({"ci": 0.9, "n_boot": 0}, r"`n_boot` must be an integer >= 1. Got 0"),
    ],
)
def test_interval_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        agreement(votes(4, n_items=10), **kwargs)
