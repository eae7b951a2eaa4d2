"""The slice report: one row per (column, value, metric), built by :func:`report_rows` alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validate import check_choice, check_columns, check_positive_int
from ._encoding import Labels, check_by, slicings
from ._intervals import bootstrap, check_ci, wilson_interval
from ._metrics import Metric, class_counts, custom_scores, parse_metrics, stat_scores

REPORT_COLUMNS = [
    "column", "value", "n", "metric", "score", "ci_low", "ci_high", "overall", "gap",
    "flagged", "n_excluded",
]  # fmt: skip


def report_rows(
    column: str,
    values: np.ndarray,
    n: np.ndarray,
    metrics: Sequence[str],
    score: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    overall: Sequence[float],
    min_size: int,
    n_excluded: np.ndarray | int = 0,
) -> pd.DataFrame:
    """The report rows of one slicing column: values in order, and within a value, metrics.

    ``score``, ``low`` and ``high`` have one row per metric and one column per slice;
    ``overall`` one score per metric. A slice is flagged when it has at least ``min_size``
    items and its interval excludes the overall score. Every report is built here.
    """
    n_metrics, n_slices = score.shape
    ref = np.asarray(overall, dtype=np.float64)[:, None]
    # a bound within rounding of the overall score does not exclude it
    tol = 1e-9
    flagged = (n >= min_size) & ((high < ref - tol) | (low > ref + tol))
    return pd.DataFrame(
        {
            "column": column,
            "value": np.repeat(values, n_metrics),
            "n": np.repeat(n, n_metrics).astype(np.int64),
            "metric": np.tile(np.asarray(metrics, dtype=object), n_slices),
            "score": score.T.ravel(),
            "ci_low": low.T.ravel(),
            "ci_high": high.T.ravel(),
            "overall": np.tile(ref[:, 0], n_slices),
            "gap": (score - ref).T.ravel(),
            "flagged": flagged.T.ravel(),
            "n_excluded": np.repeat(np.broadcast_to(n_excluded, n.shape), n_metrics).astype(
                np.int64
            ),
        },
        columns=REPORT_COLUMNS,
    )


def check_report(report, required: Sequence[str] = tuple(REPORT_COLUMNS[:-1])) -> None:
    """Raise an ``InputError`` unless ``report`` has the report columns a reader needs."""
    check_columns(report, required, "report")


def _overall(labels: Labels, metrics: list[Metric]) -> list[float]:
    """Every metric on all the rows with both labels."""
    tp, ts, ps = (counts[0] for counts in class_counts(labels.t, labels.p, labels.k))
    out = []
    for m in metrics:
        if m.kind != "custom":
            out.append(float(stat_scores(tp, ts, ps, m)[0]))
        else:
            out.append(float(m.func(labels.raw_true, labels.raw_pred)) if len(labels.t) else np.nan)
    return out


def _column_scores(labels, metrics, codes, n, ci, n_boot, rng):
    """Score and interval bounds of every metric (rows) on every slice (columns) of a column."""
    n_slices, k = len(n), labels.k
    tp, ts, ps = class_counts(labels.t, labels.p, k, codes, n_slices)
    boot = [m for m in metrics if not m.proportion]
    if ci is not None and boot:
        b_low, b_high = bootstrap(
            codes, labels.t, labels.p, n_slices, k, boot, labels.classes, n_boot, rng, ci
        )
    score, low, high = (np.full((len(metrics), n_slices), np.nan) for _ in range(3))
    for i, m in enumerate(metrics):
        if m.kind == "custom":
            score[i] = custom_scores(m.func, labels.raw_true, labels.raw_pred, codes, n)
        else:
            score[i], successes, trials = stat_scores(tp, ts, ps, m)
        if ci is not None and m.proportion:
            low[i], high[i] = wilson_interval(successes, trials, ci)
        elif ci is not None:
            low[i], high[i] = b_low[m.name], b_high[m.name]
    score[:, n == 0] = np.nan
    return score, low, high


def slice_report(
    df: pd.DataFrame,
    y_true: str = "label",
    y_pred: str = "prediction",
    *,
    by: str | Sequence[str],
    metrics=("accuracy",),
    min_size: int = 30,
    ci: float | None = 0.95,
    intersections: bool = False,
    random_state: int | None = 0,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Score a classifier on every slice of the data and flag the slices that fall behind.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per item, with the true label, the prediction and the slicing columns (see
        :func:`slice_frame` to build it from a :class:`~labelwidgets.store.LabelStore`).
    y_true : str, default="label"
        Column of true labels.
    y_pred : str, default="prediction"
        Column of predicted labels.
    by : str or sequence of str
        Slicing columns (required, keyword-only). Each distinct value is a slice; a missing
        value is a slice of its own.
    metrics : str, callable, sequence or mapping, default=("accuracy",)
        ``"accuracy"``, ``"error_rate"``; ``"precision"``, ``"recall"``, ``"f1"`` (macro
        averages, also spelt ``"precision_macro"`` ...); ``"precision_per_class"`` (and
        recall, f1), which adds one metric ``"precision[<class>]"`` per class, or
        ``"precision[<class>]"`` for one class; any callable ``(y_true, y_pred) -> float``
        (named by its ``__name__``; pass a dict ``{name: metric}`` to choose names). A
        callable is called once per slice and, for its interval, once per slice and bootstrap
        replicate: lower ``n_boot`` or pass ``ci=None`` when it is slow.
    min_size : int, default=30
        Slices with fewer rows are reported but never flagged.
    ci : float or None, default=0.95
        Confidence level of the intervals, strictly between 0 and 1; None skips intervals
        (and flags).
    intersections : bool, default=False
        Also slice by every pair of ``by`` columns: column ``"a&b"``, values ``"x&y"``.
    random_state : int or None, default=0
        Seed of the bootstrap; the same seed gives the same intervals.
    n_boot : int, default=1000
        Bootstrap replicates for the metrics that are not proportions.

    Returns
    -------
    pandas.DataFrame
        One row per (column, value, metric), in the order of ``by`` (then the pairs), the
        values (sorted) and ``metrics``, with columns :data:`REPORT_COLUMNS`:

        - ``column``, ``value``: the slice; ``n``: its rows with both labels present;
        - ``metric``, ``score``: the metric on the slice (NaN when undefined, e.g. the
          precision of a class the slice never predicts);
        - ``ci_low``, ``ci_high``: the interval at level ``ci``;
        - ``overall``: the metric on all rows; ``gap = score - overall``;
        - ``flagged``: ``n >= min_size`` and the interval excludes ``overall``
          (``ci_high < overall`` or ``ci_low > overall``);
        - ``n_excluded``: rows of the slice left out because ``y_true`` or ``y_pred`` is
          missing (NaN/None). They are in no metric, the overall scores included.

    Notes
    -----
    Intervals: **Wilson** score intervals for proportions (accuracy, error rate, per-class
    precision and recall, see :func:`wilson_interval`); a seeded **percentile bootstrap**
    otherwise (macro averages, F1, callables). The bootstrap draws each replicate of a slice as
    a multinomial sample of the slice's confusion counts, which has the distribution of
    resampling its rows with replacement, without touching the rows again. ``overall`` is
    treated as fixed: a flag says that the slice differs from the whole, not that two slices
    differ from each other. With many slices, expect some flags by chance (about ``1 - ci``
    of the slices that do not really differ).

    Macro averages follow scikit-learn: they average over the classes present in the slice's
    truth or predictions, a 0/0 ratio counting as 0. The scores, ``overall`` and
    ``differences(report)`` match ``fairlearn.metrics.MetricFrame`` with scikit-learn's
    ``accuracy_score`` and ``precision_score(average="macro", zero_division=0)`` (and recall).

    Examples
    --------
    >>> df = pd.DataFrame({"label": list("aabbab"), "prediction": list("abbbab"),
    ...                    "camera": ["x", "x", "x", "y", "y", "y"]})
    >>> slice_report(df, by="camera", min_size=1)[["value", "n", "score", "overall"]]
      value  n     score   overall
    0     x  3  0.666667  0.833333
    1     y  3  1.000000  0.833333
    """
    check_columns(df, [y_true, y_pred], "df")
    by = check_by(df, by)
    ci = check_ci(ci)
    min_size = check_positive_int(min_size, "min_size", minimum=0)
    n_boot = check_positive_int(n_boot, "n_boot")
    labels = Labels.from_frame(df, y_true, y_pred)
    metrics = parse_metrics(metrics, labels.classes)
    if any(m.kind == "custom" for m in metrics):  # callables see the original values
        labels = labels.with_raw(df[y_true], df[y_pred])
    overall = _overall(labels, metrics)
    names = [m.name for m in metrics]
    rng = np.random.default_rng(random_state)
    parts = []
    for column, codes_all, values in slicings(df, by, intersections):
        codes = labels.kept(codes_all)
        n = np.bincount(codes, minlength=len(values))
        score, low, high = _column_scores(labels, metrics, codes, n, ci, n_boot, rng)
        excluded = labels.excluded(codes_all, len(values))
        parts.append(
            report_rows(column, values, n, names, score, low, high, overall, min_size, excluded)
        )
    return pd.concat(parts, ignore_index=True)


def differences(report: pd.DataFrame, method: str = "between_groups") -> pd.DataFrame:
    """Summarise a report the way ``fairlearn.metrics.MetricFrame.difference()`` does.

    Parameters
    ----------
    report : pandas.DataFrame
        A :func:`slice_report` or :func:`detection_slice_report` result.
    method : {"between_groups", "to_overall"}, default="between_groups"
        ``"between_groups"``: the largest score minus the smallest, per column and metric;
        ``"to_overall"``: the largest ``|score - overall|``. Undefined (NaN) scores are
        skipped. Every slice counts, small ones included.

    Returns
    -------
    pandas.DataFrame
        Columns ``column, metric, difference``.

    Examples
    --------
    >>> df = pd.DataFrame({"label": list("aabbab"), "prediction": list("abbbab"),
    ...                    "camera": ["x", "x", "x", "y", "y", "y"]})
    >>> differences(slice_report(df, by="camera"))
       column    metric  difference
    0  camera  accuracy    0.333333
    """
    check_choice(method, ("between_groups", "to_overall"), "method")
    check_report(report, ["column", "metric", "score", "overall"])
    grouped = report.groupby(["column", "metric"], sort=False)
    if method == "between_groups":
        diff = grouped["score"].max() - grouped["score"].min()
    else:
        diff = (
            report.assign(_d=(report["score"] - report["overall"]).abs())
            .groupby(["column", "metric"], sort=False)["_d"]
            .max()
        )
    return diff.rename("difference").reset_index()
