"""Tests of the intervals: Wilson against its textbook formula, the count-level bootstrap."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_score
from slices_data import CLASSES, make_frame

from labelwidgets._validate import InputError
from labelwidgets.slices import slice_report, wilson_interval


def _wilson_reference(x, n, ci):
    """Wilson (1927) in its textbook form: (x + z^2/2 +- z sqrt(x(n-x)/n + z^2/4)) / (n + z^2)."""
    z = NormalDist().inv_cdf(1 - (1 - ci) / 2)
    centre = x + z * z / 2
    half = z * math.sqrt(x * (n - x) / n + z * z / 4)
    return (centre - half) / (n + z * z), (centre + half) / (n + z * z)


@pytest.mark.parametrize(
    ("x", "n", "ci"), [(8, 10, 0.95), (0, 7, 0.95), (7, 7, 0.9), (1, 1, 0.99), (317, 1000, 0.8)]
)
def test_wilson_matches_reference_formula(x, n, ci):
    low, high = wilson_interval(x, n, ci)
    ref_low, ref_high = _wilson_reference(x, n, ci)
    assert float(low) == pytest.approx(ref_low, abs=1e-12)
    assert float(high) == pytest.approx(ref_high, abs=1e-12)
    assert 0 <= low <= x / n <= high <= 1


def test_wilson_known_value_and_empty():
    # 8 of 10 at 95%: 0.4902 to 0.9433 (Newcombe 1998, and any statistics table)
    low, high = wilson_interval(8, 10)
    assert (round(float(low), 4), round(float(high), 4)) == (0.4902, 0.9433)
    low, high = wilson_interval([0, 3], [0, 4])
    assert math.isnan(low[0]) and math.isnan(high[0]) and 0 < low[1] < 0.75 < high[1] <= 1


def test_a_perfect_slice_is_not_flagged_against_a_perfect_whole():
    # at p = 1 the Wilson upper bound is exactly 1 (rounding once made it 0.9999999999999999,
    # and every slice of a perfect model was flagged against an overall score of 1.0)
    low, high = wilson_interval([258, 0], [258, 42])
    assert high[0] == 1.0 and low[1] == 0.0
    df = pd.DataFrame({"label": ["a", "b"] * 150, "camera": ["x"] * 260 + ["y"] * 40})
    df["prediction"] = df["label"]
    report = slice_report(df, by="camera", min_size=10)
    assert not report["flagged"].any(), report
    df.loc[df.index[-10:], "prediction"] = "c"   # now camera y is worse: still flagged
    assert slice_report(df, by="camera", min_size=10).set_index("value").loc["y", "flagged"]


def test_report_uses_wilson_for_proportions():
    df = make_frame(seed=4)
    report = slice_report(
        df, by="lighting", metrics=["accuracy", "precision[cat]", "recall[cat]"], ci=0.9
    )
    for lighting, part in df.groupby("lighting"):
        rows = report[report["value"] == lighting].set_index("metric")
        hit = part["label"] == part["prediction"]
        pairs = {
            "accuracy": (hit.sum(), len(part)),
            "precision[cat]": (
                (hit & (part["prediction"] == "cat")).sum(),
                (part["prediction"] == "cat").sum(),
            ),
            "recall[cat]": ((hit & (part["label"] == "cat")).sum(), (part["label"] == "cat").sum()),
        }
        for metric, (x, n) in pairs.items():
            ref = _wilson_reference(int(x), int(n), 0.9)
            assert rows.loc[metric, "ci_low"] == pytest.approx(ref[0], abs=1e-12)
            assert rows.loc[metric, "ci_high"] == pytest.approx(ref[1], abs=1e-12)


def test_bootstrap_matches_row_resampling_and_is_seeded():
    """Multinomial resampling of confusion counts == resampling rows, in distribution."""
    df = make_frame(n=400, seed=5)
    part = df[df["camera"] == "a"]
    report = slice_report(df, by="camera", metrics=["precision"], n_boot=4000, random_state=1)
    row = report[report["value"] == "a"].iloc[0]
    rng = np.random.default_rng(99)
    yt, yp = part["label"].to_numpy(), part["prediction"].to_numpy()
    t = pd.Categorical(yt, CLASSES).codes
    p = pd.Categorical(yp, CLASSES).codes

    def macro_precision(idx):
        cm = np.bincount(t[idx] * 4 + p[idx], minlength=16).reshape(4, 4)
        present = (cm.sum(0) + cm.sum(1)) > 0
        with np.errstate(invalid="ignore"):
            per_class = np.nan_to_num(np.diag(cm) / cm.sum(0))
        return per_class[present].mean()

    everything = np.arange(len(part))
    assert macro_precision(everything) == pytest.approx(
        precision_score(yt, yp, average="macro", zero_division=0), abs=1e-12
    )
    scores = [macro_precision(rng.integers(0, len(part), len(part))) for _ in range(4000)]
    low, high = np.quantile(scores, [0.025, 0.975])
    assert row["ci_low"] == pytest.approx(low, abs=0.015)
    assert row["ci_high"] == pytest.approx(high, abs=0.015)
    assert row["ci_low"] < row["score"] < row["ci_high"]
    again = slice_report(df, by="camera", metrics=["precision"], n_boot=4000, random_state=1)
    pd.testing.assert_frame_equal(report, again)
    other = slice_report(df, by="camera", metrics=["precision"], n_boot=4000, random_state=2)
    assert not np.allclose(report["ci_low"], other["ci_low"])


@pytest.mark.parametrize("ci", [None, 0, 1, 1.5, float("nan"), True, "0.95"])
def test_wilson_rejects_a_level_outside_the_open_unit_interval(ci):
    with pytest.raises(InputError, match=r"`ci` must be a number in \(0, 1\). Got"):
        wilson_interval(8, 10, ci)
