"""Benchmark: ``slice_report`` against ``fairlearn.metrics.MetricFrame`` on the same data.

One million rows, five classes, three slicing columns (4, 12 and 20 values), metrics accuracy
and macro precision and recall. ``slice_report`` computes them with intervals (Wilson for
accuracy, a 1,000-replicate bootstrap for the macro averages); ``MetricFrame`` computes the same
scores without intervals (its own bootstrap, ``n_boot``, would take hours at this size), one
frame per slicing column (its ``by_group``, ``overall`` and ``difference()``). Both read the
same DataFrame. The scores are checked to agree before the times are printed.

Run: ``python benchmarks/slices.py [--rows N] [--repeat R]``. Prints the median and p95 of
each, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score, precision_score, recall_score

from labelwidgets.slices import differences, slice_report

CLASSES = ["bird", "car", "cat", "dog", "person"]
COLUMNS = {"camera": 4, "site": 12, "rater": 20}
METRICS = ("accuracy", "precision", "recall")


def make_data(rows: int, seed: int = 0) -> pd.DataFrame:
    """Labels, predictions (about 85% right, worse on some slices) and three slicing columns."""
    rng = np.random.default_rng(seed)
    data = {
        name: pd.Categorical.from_codes(
            rng.integers(0, k, rows), [f"{name}{i:02d}" for i in range(k)]
        )
        for name, k in COLUMNS.items()
    }
    label = rng.integers(0, len(CLASSES), rows)
    error = 0.1 + 0.05 * (data["camera"].codes == 3) + 0.01 * (data["rater"].codes % 5)
    wrong = rng.random(rows) < error
    pred = np.where(wrong, rng.integers(0, len(CLASSES), rows), label)
    data["label"] = pd.Categorical.from_codes(label, CLASSES)
    data["prediction"] = pd.Categorical.from_codes(pred, CLASSES)
    return pd.DataFrame(data)


def run_ours(df: pd.DataFrame) -> pd.DataFrame:
    return slice_report(df, by=list(COLUMNS), metrics=METRICS, ci=0.95, n_boot=1000)


def run_fairlearn(df: pd.DataFrame) -> dict:
    metrics = {
        "accuracy": accuracy_score,
        "precision": functools.partial(precision_score, average="macro", zero_division=0),
        "recall": functools.partial(recall_score, average="macro", zero_division=0),
    }
    out = {}
    for col in COLUMNS:
        mf = MetricFrame(
            metrics=metrics, y_true=df["label"], y_pred=df["prediction"], sensitive_features=df[col]
        )
        out[col] = (mf.by_group, mf.overall, mf.difference())
    return out


def timed(fn, *args, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return times, result


def check_same(report: pd.DataFrame, frames: dict) -> float:
    """The largest absolute difference between the two tools' numbers."""
    worst = 0.0
    diff = differences(report).set_index(["column", "metric"])["difference"]
    for col, (by_group, overall, difference) in frames.items():
        for metric in METRICS:
            rows = report[(report["column"] == col) & (report["metric"] == metric)]
            ours = rows.set_index("value")["score"]
            theirs = by_group[metric].reindex(ours.index)
            worst = max(worst, float((ours - theirs).abs().max()))
            worst = max(worst, abs(rows["overall"].iloc[0] - overall[metric]))
            worst = max(worst, abs(diff[(col, metric)] - difference[metric]))
    return worst


def summary(times: list[float]) -> str:
    t = np.array(times)
    return f"median {np.median(t):8.3f} s   p95 {np.percentile(t, 95):8.3f} s   (n={len(t)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    df = make_data(args.rows)
    shape = ", ".join(f"{c} ({k})" for c, k in COLUMNS.items())
    print(f"{args.rows:,} rows, {len(CLASSES)} classes, slicing columns: {shape}")
    print(f"metrics: {', '.join(METRICS)} (precision and recall macro-averaged)")
    ours_t, report = timed(run_ours, df, repeat=args.repeat)
    theirs_t, frames = timed(run_fairlearn, df, repeat=max(1, min(args.repeat, 3)))
    worst = check_same(report, frames)
    print(f"largest difference in by_group / overall / difference(): {worst:.2e}")
    print(f"slice_report, with 95% intervals (Wilson + 1000 bootstrap): {summary(ours_t)}")
    print(f"MetricFrame, no intervals, one per column:                  {summary(theirs_t)}")
    ratio = np.median(theirs_t) / np.median(ours_t)
    print(f"ratio (MetricFrame / slice_report, medians): {ratio:.1f}x  (target >= 50x)")


if __name__ == "__main__":
    main()
