"""Slice-based evaluation: metrics per metadata slice, with confidence intervals, flags and plots.

A model can look good overall and fail on a group of items: one camera, night images, the items
one rater labeled, or the items whose label is a pseudo label. :func:`slice_report` computes each
metric on every value of every slicing column (and, on request, on pairs of columns) and compares
it with the score on the whole data.

Everything is computed from per-slice counts (``numpy.bincount`` over integer codes), never with
a Python loop over rows: a slice's accuracy, precision, recall and F1 follow from its true
positives and its true and predicted class totals. Bootstrap intervals resample each slice's
confusion counts with one multinomial draw per replicate, which is the same distribution as
resampling the slice's rows with replacement, at a cost that does not grow with the rows.

Functions
---------
slice_report
    One row per (column, value, metric): score, interval, overall score, gap and flag.
class_balance
    Representation: the share of each true class in every slice against the whole.
differences
    The ``MetricFrame.difference()`` summary of a report (between groups or to overall).
slice_frame
    Join the store's item metadata and labels with predictions, ready for :func:`slice_report`.
detection_slice_report
    Per-slice precision and recall of boxes at an IoU threshold.
wilson_interval
    The Wilson score interval of a proportion.
plot
    A matplotlib figure, one panel per slicing column.
"""

from __future__ import annotations

import io
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "REPORT_COLUMNS",
    "BALANCE_COLUMNS",
    "slice_report",
    "class_balance",
    "differences",
    "slice_frame",
    "detection_slice_report",
    "wilson_interval",
    "plot",
    "ReportFigure",
]

REPORT_COLUMNS = [
    "column", "value", "n", "metric", "score", "ci_low", "ci_high", "overall", "gap",
    "flagged", "n_excluded",
]  # fmt: skip
BALANCE_COLUMNS = ["column", "value", "label", "n", "count", "share", "overall", "ratio"]

_BUILTIN = ("accuracy", "error_rate", "precision", "recall", "f1")
_PER_CLASS = ("precision", "recall", "f1")
_MACRO_ALIASES = {f"{m}_macro": m for m in _PER_CLASS}
_SOURCES = ("human", "folder", "pseudo")
# the bootstrap works on blocks of slices whose replicate arrays stay below this many cells
_BOOT_BLOCK_CELLS = 4_000_000


# ----------------------------------------------------------------------------- helpers
def _as_list(value, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if value is None:
        return []
    try:
        out = list(value)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a column name or a list of column names. Got {value!r} instead."
        ) from None
    return out


def _check_columns(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    for col in columns:
        if col not in df.columns:
            raise ValueError(
                f"`{name}` must name columns of the data frame. Got {col!r}, which is not one of "
                f"the available columns {list(df.columns)}."
            )


def _check_ci(ci) -> float | None:
    if ci is None:
        return None
    if isinstance(ci, bool) or not isinstance(ci, int | float) or not 0 < ci < 1:
        raise ValueError(
            f"`ci` must be a number strictly between 0 and 1 (e.g. 0.95), or None for no "
            f"intervals. Got {ci!r} instead."
        )
    return float(ci)


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Got {value!r} instead.")
    return int(value)


def _sorted_uniques(codes: np.ndarray, uniques) -> tuple[np.ndarray, np.ndarray]:
    """Re-number factorize codes so that the uniques are sorted (when they can be)."""
    uniques = np.asarray(uniques, dtype=object)
    if len(uniques) == 0:
        return codes, uniques
    try:
        order = np.array(sorted(range(len(uniques)), key=lambda i: uniques[i]), dtype=np.int64)
    except TypeError:  # mixed types: keep the order of first appearance
        return codes, uniques
    if (order == np.arange(len(order))).all():  # already sorted (e.g. categories)
        return codes, uniques[order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    return codes, uniques[order]


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (``-1`` for missing) and the values they stand for (sorted when possible)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniques = np.asarray(values.cat.categories, dtype=object)
        if not values.cat.ordered:
            codes, uniques = _sorted_uniques(codes, uniques)
        return codes, uniques
    codes, uniques = pd.factorize(values, sort=False)
    return _sorted_uniques(codes.astype(np.int64), uniques)


def _slice_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Slice codes over the observed values; a missing value is a slice of its own (last)."""
    codes, uniques = _factorize(values)
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(uniques), codes)
        uniques = np.append(uniques, np.array([np.nan], dtype=object))
    return _compress(codes, uniques)


def _compress(codes: np.ndarray, uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop values that no row has (unused categories, empty column pairs)."""
    counts = np.bincount(codes, minlength=len(uniques))
    observed = np.flatnonzero(counts)
    if len(observed) == len(uniques):
        return codes, uniques
    lut = np.full(len(uniques), -1, dtype=np.int64)
    lut[observed] = np.arange(len(observed))
    return lut[codes], uniques[observed]


def _encode_labels(
    y_true: pd.Series, y_pred: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of true and predicted labels over their union of classes (``-1`` for missing)."""
    t_codes, t_uni = _factorize(y_true)
    p_codes, p_uni = _factorize(y_pred)
    t_index = pd.Index(list(t_uni))
    p_index = pd.Index(list(p_uni))
    extra = p_index[~p_index.isin(t_index)]
    classes = t_index.append(extra) if len(extra) else t_index  # keep y_true's dtype
    try:
        classes = classes.sort_values()
    except TypeError:
        pass
    t_map = classes.get_indexer(t_index)
    p_map = classes.get_indexer(p_index)
    t = np.where(t_codes >= 0, t_map[np.maximum(t_codes, 0)] if len(t_map) else -1, -1)
    p = np.where(p_codes >= 0, p_map[np.maximum(p_codes, 0)] if len(p_map) else -1, -1)
    return t.astype(np.int64), p.astype(np.int64), classes.to_numpy()


# ----------------------------------------------------------------------------- intervals
def wilson_interval(successes, trials, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of a binomial proportion.

    With ``p = successes / trials`` and ``z`` the normal quantile of ``(1 + ci) / 2``::

        centre = (p + z**2 / (2 n)) / (1 + z**2 / n)
        half   = z / (1 + z**2 / n) * sqrt(p (1 - p) / n + z**2 / (4 n**2))

    Unlike the normal ("Wald") interval it stays inside [0, 1] and keeps a sensible width at
    ``p = 0`` or ``p = 1`` and for small ``n``, which is where slices fail.

    Parameters
    ----------
    successes, trials : array-like of int
        Counts, broadcast together; ``trials == 0`` gives NaN bounds.
    ci : float, default=0.95
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper bounds.

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.4902, 0.9433)
    """
    ci = _check_ci(ci)
    if ci is None:
        raise ValueError("`ci` must be a number strictly between 0 and 1. Got None instead.")
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = NormalDist().inv_cdf(0.5 + ci / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


# ----------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class _Metric:
    name: str
    kind: str  # accuracy | error_rate | precision | recall | f1 | custom
    cls: int | None = None  # class index for per-class metrics, None for macro averages
    func: Callable | None = None

    @property
    def proportion(self) -> bool:
        """Whether the metric is a proportion (Wilson interval) rather than bootstrapped."""
        if self.kind in ("accuracy", "error_rate"):
            return True
        return self.kind in ("precision", "recall") and self.cls is not None


def _metric_name(func: Callable) -> str:
    inner = getattr(func, "func", func)  # functools.partial
    return getattr(inner, "__name__", repr(func))


def _parse_metrics(metrics, classes: np.ndarray) -> list[_Metric]:
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    items = list(metrics.items()) if isinstance(metrics, Mapping) else [(None, m) for m in metrics]
    if not items:
        raise ValueError("`metrics` must name at least one metric. Got an empty collection.")
    class_index = {c: i for i, c in enumerate(classes.tolist())}
    class_names = {str(c): i for i, c in enumerate(classes.tolist())}
    allowed = (
        list(_BUILTIN) + list(_MACRO_ALIASES) + [f"{m}_per_class" for m in _PER_CLASS]
        + [f"{m}[<class>]" for m in _PER_CLASS] + ["a callable (y_true, y_pred) -> float"]
    )  # fmt: skip
    out: list[_Metric] = []
    for name, spec in items:
        if callable(spec):
            out.append(_Metric(name or _metric_name(spec), "custom", func=spec))
            continue
        if not isinstance(spec, str):
            raise ValueError(f"`metrics` must hold names from {allowed}. Got {spec!r} instead.")
        base = _MACRO_ALIASES.get(spec, spec)
        if base in _BUILTIN:
            out.append(_Metric(name or spec, base))
        elif spec.endswith("_per_class") and spec[: -len("_per_class")] in _PER_CLASS:
            base = spec[: -len("_per_class")]
            out.extend(_Metric(f"{base}[{c}]", base, i) for i, c in enumerate(classes.tolist()))
        elif "[" in spec and spec.endswith("]") and spec.split("[", 1)[0] in _PER_CLASS:
            base, label = spec[:-1].split("[", 1)
            index = class_index.get(label, class_names.get(label))
            if index is None:
                raise ValueError(
                    f"`metrics` per-class entries must name a class of the labels, one of "
                    f"{classes.tolist()}. Got {spec!r} instead."
                )
            out.append(_Metric(name or spec, base, index))
        else:
            raise ValueError(f"`metrics` must hold names from {allowed}. Got {spec!r} instead.")
    names = [m.name for m in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(
            f"`metrics` must have distinct names. Got {duplicated} more than once; pass a dict "
            f"{{name: metric}} to name callables."
        )
    return out


def _stat_scores(tp: np.ndarray, ts: np.ndarray, ps: np.ndarray, metric: _Metric):
    """Scores from true positives, true totals and predicted totals (last axis: classes).

    Returns ``(score, successes, trials)``; the counts are None for non-proportions. Macro
    averages run over the classes present in the slice (in its truth or its predictions), and
    a class whose ratio is 0/0 counts as 0 in the average, as scikit-learn does
    (``zero_division="warn"``); a per-class score that is 0/0 is NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric.kind in ("accuracy", "error_rate"):
            n = ts.sum(axis=-1)
            correct = tp.sum(axis=-1)
            num = correct if metric.kind == "accuracy" else n - correct
            return num / n, num, n
        if metric.cls is not None:
            c = metric.cls
            if metric.kind == "precision":
                return tp[..., c] / ps[..., c], tp[..., c], ps[..., c]
            if metric.kind == "recall":
                return tp[..., c] / ts[..., c], tp[..., c], ts[..., c]
            return 2 * tp[..., c] / (ts[..., c] + ps[..., c]), None, None
        if metric.kind == "precision":
            values = np.where(ps > 0, tp / ps, 0.0)
        elif metric.kind == "recall":
            values = np.where(ts > 0, tp / ts, 0.0)
        else:
            values = np.where(ts + ps > 0, 2 * tp / (ts + ps), 0.0)
        present = (ts + ps) > 0
        return (values * present).sum(axis=-1) / present.sum(axis=-1), None, None


# ----------------------------------------------------------------------------- the report
def _slicings(df: pd.DataFrame, by: list[str], intersections: bool):
    """Yield ``(column name, codes, values)`` per slicing column, then per pair of columns."""
    single = {}
    for col in by:
        single[col] = _slice_codes(df[col])
        yield col, *single[col]
    if intersections:
        for a, b in itertools.combinations(by, 2):
            (ca, va), (cb, vb) = single[a], single[b]
            codes = ca * len(vb) + cb
            values = np.array([f"{x}&{y}" for x in va.tolist() for y in vb.tolist()], dtype=object)
            yield f"{a}&{b}", *_compress(codes, values)


def _confusion_cells(codes, t, p, n_slices, k):
    """Per slice, the non-empty confusion cells: (slice, true class, predicted class, count)."""
    if n_slices * k * k <= 8_000_000:
        counts = np.bincount((codes * k + t) * k + p, minlength=n_slices * k * k)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
    else:
        keys, counts = np.unique((codes * k + t) * k + p, return_counts=True)
    s, rest = np.divmod(keys, k * k)
    return s, rest // k, rest % k, counts


def _bootstrap(codes, t, p, n_slices, k, metrics, classes, n_boot, rng, ci):
    """Percentile intervals for non-proportion metrics, by multinomial resampling of counts."""
    s, ct, cp, cnt = _confusion_cells(codes, t, p, n_slices, k)
    cells_per_slice = np.bincount(s, minlength=n_slices)
    starts = np.concatenate([[0], np.cumsum(cells_per_slice)])
    low = {m.name: np.full(n_slices, np.nan) for m in metrics}
    high = {m.name: np.full(n_slices, np.nan) for m in metrics}
    if len(cnt) == 0:  # every row excluded
        return low, high
    q = [(1 - ci) / 2, (1 + ci) / 2]
    width = max(int(cells_per_slice.max(initial=0)), 1)
    block = max(1, _BOOT_BLOCK_CELLS // (n_boot * max(width, k)))
    for first in range(0, n_slices, block):
        ids = np.arange(first, min(first + block, n_slices))
        # padded per-slice cell tables: probabilities, true and predicted class of each cell
        # (right-aligned, so that the last category, which takes the remainder of every
        # draw, is a real cell and not padding)
        pad = width - cells_per_slice[ids][:, None]
        pos = np.arange(width)[None, :]
        valid = pos >= pad
        index = np.where(valid, starts[ids][:, None] + pos - pad, 0)
        weight = np.where(valid, cnt[index], 0).astype(np.float64)
        n = weight.sum(axis=1)
        empty = n == 0
        pvals = weight / np.where(empty, 1, n)[:, None]
        pvals[empty, -1] = 1.0
        draws = rng.multinomial(
            n.astype(np.int64)[:, None], pvals[:, None, :], size=(len(ids), n_boot)
        )
        draws = draws.astype(np.float64)  # (slices, n_boot, width)
        cell_t = np.where(valid, ct[index], -1)
        cell_p = np.where(valid, cp[index], -1)
        onehot_t = (cell_t[:, :, None] == np.arange(k)).astype(np.float64)  # (slices, width, k)
        onehot_p = (cell_p[:, :, None] == np.arange(k)).astype(np.float64)
        ts = draws @ onehot_t
        ps = draws @ onehot_p
        tp = draws @ (onehot_t * onehot_p)
        for m in metrics:
            if m.kind == "custom":
                scores = _custom_boot(m.func, draws, cell_t, cell_p, classes)
            else:
                scores = _stat_scores(tp, ts, ps, m)[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
                bounds = np.nanquantile(scores, q, axis=1)
            low[m.name][ids] = np.where(empty, np.nan, bounds[0])
            high[m.name][ids] = np.where(empty, np.nan, bounds[1])
    return low, high


def _custom_boot(func, draws, cell_t, cell_p, classes) -> np.ndarray:
    """A custom metric on every replicate, rebuilt from its confusion counts (one call each)."""
    out = np.full(draws.shape[:2], np.nan)
    for i in range(draws.shape[0]):
        keep = cell_t[i] >= 0
        yt, yp = classes[cell_t[i][keep]], classes[cell_p[i][keep]]
        reps = draws[i][:, keep].astype(np.int64)
        if reps.sum() == 0:
            continue
        for b in range(draws.shape[1]):
            out[i, b] = func(np.repeat(yt, reps[b]), np.repeat(yp, reps[b]))
    return out


def slice_report(
    df: pd.DataFrame,
    y_true: str = "label",
    y_pred: str = "prediction",
    by: str | Sequence[str] = ("camera", "lighting"),
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
    by : str or sequence of str, default=("camera", "lighting")
        Slicing columns. Each distinct value is a slice; a missing value is a slice of its own.
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
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"`df` must be a pandas DataFrame. Got {type(df).__name__!r} instead.")
    for name, col in (("y_true", y_true), ("y_pred", y_pred)):
        _check_columns(df, [col], name)
    by = list(dict.fromkeys(_as_list(by, "by")))
    if not by:
        raise ValueError(f"`by` must name at least one column. Got {by!r} instead.")
    _check_columns(df, by, "by")
    ci = _check_ci(ci)
    min_size = _check_int(min_size, "min_size", 0)
    n_boot = _check_int(n_boot, "n_boot", 1)

    t_all, p_all, classes = _encode_labels(df[y_true], df[y_pred])
    metrics = _parse_metrics(metrics, classes)
    valid = (t_all >= 0) & (p_all >= 0)
    everything = bool(valid.all())  # then no copies
    t, p = (t_all, p_all) if everything else (t_all[valid], p_all[valid])
    k = max(len(classes), 1)
    hit = t == p
    if any(m.kind == "custom" for m in metrics):  # the original values, for callables only
        raw_true = df[y_true].to_numpy()[valid]
        raw_pred = df[y_pred].to_numpy()[valid]

    overall = {}
    o_tp = np.bincount(t[hit], minlength=k).astype(np.float64)
    o_ts = np.bincount(t, minlength=k).astype(np.float64)
    o_ps = np.bincount(p, minlength=k).astype(np.float64)
    for m in metrics:
        if m.kind == "custom":
            overall[m.name] = float(m.func(raw_true, raw_pred)) if len(t) else np.nan
        else:
            overall[m.name] = float(_stat_scores(o_tp, o_ts, o_ps, m)[0])

    rng = np.random.default_rng(random_state)
    frames = []
    for column, codes_all, values in _slicings(df, by, intersections):
        s_count = len(values)
        codes = codes_all if everything else codes_all[valid]
        n = np.bincount(codes, minlength=s_count)
        n_excluded = np.bincount(codes_all[~valid], minlength=s_count)
        key = codes * k + t
        tp = np.bincount(key[hit], minlength=s_count * k).reshape(s_count, k)
        ts = np.bincount(key, minlength=s_count * k).reshape(s_count, k)
        ps = np.bincount(codes * k + p, minlength=s_count * k).reshape(s_count, k)
        tp, ts, ps = tp.astype(np.float64), ts.astype(np.float64), ps.astype(np.float64)
        boot = [m for m in metrics if not m.proportion]
        if ci is not None and boot:
            b_low, b_high = _bootstrap(codes, t, p, s_count, k, boot, classes, n_boot, rng, ci)
        if any(m.kind == "custom" for m in metrics):
            order = np.argsort(codes, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(n)])
        for m in metrics:
            if m.kind == "custom":
                score = np.full(s_count, np.nan)
                for i in np.flatnonzero(n):
                    rows = order[bounds[i] : bounds[i + 1]]
                    score[i] = m.func(raw_true[rows], raw_pred[rows])
                succ = trials = None
            else:
                score, succ, trials = _stat_scores(tp, ts, ps, m)
            if ci is None:
                low = high = np.full(s_count, np.nan)
            elif m.proportion:
                low, high = wilson_interval(succ, trials, ci)
            else:
                low, high = b_low[m.name], b_high[m.name]
            score = np.where(n > 0, score, np.nan)
            ref = overall[m.name]
            flagged = (n >= min_size) & ((high < ref) | (low > ref))
            frames.append(
                pd.DataFrame(
                    {
                        "column": column,
                        "value": values,
                        "n": n,
                        "metric": m.name,
                        "score": score,
                        "ci_low": low,
                        "ci_high": high,
                        "overall": ref,
                        "gap": score - ref,
                        "flagged": flagged,
                        "n_excluded": n_excluded,
                    }
                )
            )
    report = pd.concat(frames, ignore_index=True)
    # (column, value, metric) order: within a column, values first, then metrics
    report["_c"] = report["column"].map(
        {c: i for i, c in enumerate(dict.fromkeys(report["column"]))}
    )
    report["_m"] = report["metric"].map({m.name: i for i, m in enumerate(metrics)})
    report["_v"] = report.groupby(["_c", "_m"]).cumcount()
    report = report.sort_values(["_c", "_v", "_m"], kind="stable").drop(columns=["_c", "_v", "_m"])
    report = report.reset_index(drop=True)
    report["n"] = report["n"].astype(np.int64)
    report["n_excluded"] = report["n_excluded"].astype(np.int64)
    report["flagged"] = report["flagged"].astype(bool)
    return report[REPORT_COLUMNS]


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
    """
    methods = ("between_groups", "to_overall")
    if method not in methods:
        raise ValueError(f"`method` must be one of {list(methods)}. Got {method!r} instead.")
    missing = {"column", "metric", "score", "overall"} - set(report.columns)
    if missing:
        raise ValueError(
            f"`report` must be a slice_report result with columns {REPORT_COLUMNS}. Missing "
            f"{sorted(missing)}."
        )
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


def class_balance(
    df: pd.DataFrame,
    y_true: str = "label",
    by: str | Sequence[str] = ("camera", "lighting"),
    intersections: bool = False,
) -> pd.DataFrame:
    """Representation: the share of each true class in every slice, against the whole.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per item.
    y_true : str, default="label"
        Column of true labels; rows where it is missing are left out.
    by : str or sequence of str, default=("camera", "lighting")
        Slicing columns (a missing value is a slice of its own).
    intersections : bool, default=False
        Also slice by every pair of ``by`` columns.

    Returns
    -------
    pandas.DataFrame
        One row per (column, value, label), every class in every slice (zero counts
        included), with columns :data:`BALANCE_COLUMNS`: ``n`` (labelled rows of the slice),
        ``count`` (of them, rows of the class), ``share = count / n``, ``overall`` (the
        class's share of all labelled rows) and ``ratio = share / overall``. A ratio below 1
        means the class is under-represented in the slice; it also equals the slice's share of
        the class divided by the slice's share of all rows.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"`df` must be a pandas DataFrame. Got {type(df).__name__!r} instead.")
    _check_columns(df, [y_true], "y_true")
    by = _as_list(by, "by")
    if not by:
        raise ValueError(f"`by` must name at least one column. Got {by!r} instead.")
    _check_columns(df, by, "by")
    t_all, _, classes = _encode_labels(df[y_true], df[y_true])
    valid = t_all >= 0
    t = t_all[valid]
    k = len(classes)
    overall = np.bincount(t, minlength=k) / max(len(t), 1)
    frames = []
    for column, codes_all, values in _slicings(df, by, intersections):
        s_count = len(values)
        codes = codes_all[valid]
        count = np.bincount(codes * k + t, minlength=s_count * k).reshape(s_count, k)
        n = count.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = count / n[:, None]
        frames.append(
            pd.DataFrame(
                {
                    "column": column,
                    "value": np.repeat(values, k),
                    "label": np.tile(classes, s_count),
                    "n": np.repeat(n, k),
                    "count": count.ravel(),
                    "share": share.ravel(),
                    "overall": np.tile(overall, s_count),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = out["share"] / out["overall"]
    return out[BALANCE_COLUMNS]


# ----------------------------------------------------------------------------- store input
def _latest(labels: pd.DataFrame) -> pd.DataFrame:
    """The most recent label row per item (``labels()`` is in write order)."""
    return labels.drop_duplicates("item_id", keep="last").set_index("item_id")


def slice_frame(
    store,
    predictions: pd.DataFrame | None,
    task: str,
    by: str | Sequence[str] | None = None,
    sources: Sequence[str] = _SOURCES,
) -> pd.DataFrame:
    """Join a store's item metadata and labels with predictions, ready for :func:`slice_report`.

    Parameters
    ----------
    store : LabelStore
        The store that holds the items and their labels.
    predictions : pandas.DataFrame or None
        One row per item: ``item_id`` and the predicted label in ``label`` (the shape of
        ``NoisyStudent.predict``) or ``prediction``, optionally ``confidence``. None takes the
        store's current ``source="model"`` labels of ``task`` (the latest one per item).
    task : str
        A single-label task of the store.
    by : str or sequence of str or None, default=None
        Slicing columns to keep: item metadata columns, ``"rater"`` and ``"source"``. None
        keeps all of them.
    sources : sequence of str, default=("human", "folder", "pseudo")
        Label sources that count as truth. Add ``"model"`` to evaluate against a model's
        labels (a teacher's, say).

    Returns
    -------
    pandas.DataFrame
        One row per predicted item: ``item_id``, the ``by`` columns, ``label`` (truth: the
        most recent current label of ``task`` among ``sources``, as ``store.table()`` picks
        it; NaN when the item has none), ``prediction`` and ``confidence`` (NaN when not
        given). ``rater`` and ``source`` say who gave the truth label and how (``human``,
        ``folder``, ``pseudo`` or ``model``), so that items labelled by one rater or by
        pseudo-labelling are slices out of the box. Metadata columns named ``rater`` or
        ``source`` are renamed ``meta_rater`` / ``meta_source``.
    """
    tasks = store.tasks()
    kinds = dict(zip(tasks["task"], tasks["kind"], strict=True))
    if task not in kinds and task not in set(store.labels()["task"]):
        raise ValueError(
            f"`task` must be a task of the store, one of {sorted(kinds)}. Got {task!r} instead."
        )
    if kinds.get(task, "single") != "single":
        raise ValueError(
            f"`task` must be a single-label task. Got {task!r}, a {kinds[task]!r} task; use "
            "detection_slice_report for boxes."
        )
    sources = _as_list(sources, "sources")
    items = store.items().drop(columns=["path", "width", "height", "added_at"])
    items = items.rename(columns={"rater": "meta_rater", "source": "meta_source"})
    items = items.set_index("item_id")
    truth = _latest(store.labels(task=task, source=sources))

    if predictions is None:
        preds = _latest(store.labels(task=task, source="model"))[["label", "confidence"]]
        preds = preds.rename(columns={"label": "prediction"})
    else:
        if not isinstance(predictions, pd.DataFrame):
            raise ValueError(
                "`predictions` must be a DataFrame with columns item_id and label (or "
                f"prediction), or None. Got {type(predictions).__name__!r} instead."
            )
        col = "prediction" if "prediction" in predictions.columns else "label"
        _check_columns(predictions, ["item_id", col], "predictions")
        dup = predictions["item_id"][predictions["item_id"].duplicated()]
        if len(dup):
            raise ValueError(
                f"`predictions` must hold one row per item. Got {len(dup)} repeated item ids, "
                f"e.g. {dup.iloc[0]!r}."
            )
        preds = pd.DataFrame(
            {
                "prediction": predictions[col].to_numpy(),
                "confidence": predictions["confidence"].to_numpy()
                if "confidence" in predictions.columns
                else np.nan,
            },
            index=pd.Index(predictions["item_id"].astype(str), name="item_id"),
        )
    unknown = preds.index[~preds.index.isin(items.index)]
    if len(unknown):
        raise ValueError(
            f"`predictions` must be for items of the store. Got {len(unknown)} unknown item "
            f"ids, e.g. {list(unknown[:3])}."
        )
    frame = items.loc[preds.index].copy()
    frame["rater"] = truth["rater"].reindex(preds.index)
    frame["source"] = truth["source"].reindex(preds.index)
    available = list(frame.columns)
    if by is not None:
        by = _as_list(by, "by")
        for col in by:
            if col not in available:
                raise ValueError(
                    f"`by` must name item metadata columns, 'rater' or 'source'. Got {col!r}, "
                    f"which is not one of the available columns {available}."
                )
        frame = frame[by]
    frame["label"] = truth["label"].reindex(preds.index)
    frame["prediction"] = preds["prediction"]
    frame["confidence"] = preds["confidence"].astype(float)
    return frame.reset_index()


# ----------------------------------------------------------------------------- detection
def _match_boxes(truth: pd.DataFrame, pred: pd.DataFrame, iou: float, class_aware: bool):
    """Greedy matching per item (and class): true positives per prediction row.

    Predictions are taken in decreasing confidence (ties: row order); each takes the unmatched
    true box of highest IoU (ties: row order) if that IoU is at least ``iou``, as in the
    PASCAL VOC and COCO evaluations. Implemented in vectorised rounds over the candidate
    pairs: a pair that comes first both for its prediction and for its true box is a greedy
    match; matched boxes leave; repeat.
    """
    keys = ["item_id", "label"] if class_aware else ["item_id"]
    t = truth[keys + ["x", "y", "w", "h"]].assign(_t=np.arange(len(truth)))
    p = pred[keys + ["x", "y", "w", "h"]].assign(
        _p=np.arange(len(pred)), _conf=pred["confidence"].fillna(0.0).to_numpy(float)
    )
    pairs = t.merge(p, on=keys, suffixes=("_t", "_p"))
    matched = np.zeros(len(pred), dtype=bool)
    if pairs.empty:
        return matched
    ix = np.maximum(pairs["x_t"], pairs["x_p"])
    iy = np.maximum(pairs["y_t"], pairs["y_p"])
    ax = np.minimum(pairs["x_t"] + pairs["w_t"], pairs["x_p"] + pairs["w_p"])
    ay = np.minimum(pairs["y_t"] + pairs["h_t"], pairs["y_p"] + pairs["h_p"])
    inter = np.clip(ax - ix, 0, None) * np.clip(ay - iy, 0, None)
    union = pairs["w_t"] * pairs["h_t"] + pairs["w_p"] * pairs["h_p"] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs["_iou"] = np.where(union > 0, inter / union, 0.0)
    pairs = pairs[pairs["_iou"] >= iou]
    pairs = pairs.sort_values(["_conf", "_p", "_iou", "_t"], ascending=[False, True, False, True])
    pi = pairs["_p"].to_numpy()
    ti = pairs["_t"].to_numpy()
    while len(pi):
        first_p = np.zeros(len(pi), dtype=bool)
        first_p[np.unique(pi, return_index=True)[1]] = True
        first_t = np.zeros(len(ti), dtype=bool)
        first_t[np.unique(ti, return_index=True)[1]] = True
        take = first_p & first_t
        matched[pi[take]] = True
        keep = ~np.isin(pi, pi[take]) & ~np.isin(ti, ti[take])
        pi, ti = pi[keep], ti[keep]
    return matched


def _check_boxes(df: pd.DataFrame, name: str, confidence: bool) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"`{name}` must be a pandas DataFrame. Got {type(df).__name__!r} instead.")
    needed = ["item_id", "label", "x", "y", "w", "h"] + (["confidence"] if confidence else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(
            f"`{name}` must have columns {needed}. Missing {missing}; got {list(df.columns)} "
            "instead."
        )
    df = df.dropna(subset=["label"])  # a NULL label is the store's "no objects" row
    return df.assign(item_id=df["item_id"].astype(str)).reset_index(drop=True)


def detection_slice_report(
    truth_boxes: pd.DataFrame,
    pred_boxes: pd.DataFrame,
    items: pd.DataFrame,
    by: str | Sequence[str] = ("camera", "lighting"),
    iou: float = 0.5,
    min_size: int = 30,
    ci: float | None = 0.95,
    intersections: bool = False,
    class_aware: bool = True,
) -> pd.DataFrame:
    """Per-slice precision and recall of predicted boxes at an IoU threshold.

    Parameters
    ----------
    truth_boxes, pred_boxes : pandas.DataFrame
        One row per box: ``item_id, label, x, y, w, h`` (pixels, top-left origin, as
        ``store.labels()`` returns them); ``pred_boxes`` also needs ``confidence``. Rows with
        no label (the store's "no objects" answer) are ignored.
    items : pandas.DataFrame
        One row per evaluated item: ``item_id`` and the ``by`` columns (``store.items()``).
        An item with no box at all still counts in its slice's ``n``.
    by : str or sequence of str, default=("camera", "lighting")
        Slicing columns of ``items``.
    iou : float, default=0.5
        A prediction is a true positive when it overlaps an unmatched true box of the same
        class by at least this IoU (greedy, in decreasing confidence).
    min_size : int, default=30
        Slices with fewer items are reported but never flagged.
    ci : float or None, default=0.95
        Level of the Wilson intervals (boxes treated as independent trials); None: none.
    intersections : bool, default=False
        Also slice by every pair of ``by`` columns.
    class_aware : bool, default=True
        Match only boxes of the same label; False matches boxes whatever their label.

    Returns
    -------
    pandas.DataFrame
        The :func:`slice_report` layout (:data:`REPORT_COLUMNS`) with metrics ``precision``
        (``TP / predicted boxes``) and ``recall`` (``TP / true boxes``); ``n`` counts items,
        ``n_excluded`` is 0.
    """
    truth = _check_boxes(truth_boxes, "truth_boxes", confidence=False)
    pred = _check_boxes(pred_boxes, "pred_boxes", confidence=True)
    if not isinstance(items, pd.DataFrame) or "item_id" not in items.columns:
        raise ValueError("`items` must be a DataFrame with an item_id column (store.items()).")
    by = _as_list(by, "by")
    if not by:
        raise ValueError(f"`by` must name at least one column. Got {by!r} instead.")
    _check_columns(items, by, "by")
    if not (isinstance(iou, int | float) and 0 < iou <= 1):
        raise ValueError(f"`iou` must be a number in (0, 1]. Got {iou!r} instead.")
    ci = _check_ci(ci)
    min_size = _check_int(min_size, "min_size", 0)
    items = items.assign(item_id=items["item_id"].astype(str)).drop_duplicates("item_id")
    item_index = pd.Index(items["item_id"])
    for name, boxes in (("truth_boxes", truth), ("pred_boxes", pred)):
        unknown = boxes["item_id"][~boxes["item_id"].isin(item_index)]
        if len(unknown):
            raise ValueError(
                f"`{name}` must be for items listed in `items`. Got {len(unknown)} boxes of "
                f"unknown items, e.g. {unknown.iloc[0]!r}."
            )

    matched = _match_boxes(truth, pred, iou, class_aware)
    t_item = item_index.get_indexer(truth["item_id"])
    p_item = item_index.get_indexer(pred["item_id"])
    m = len(item_index)
    tp_item = np.bincount(p_item[matched], minlength=m)
    pred_item = np.bincount(p_item, minlength=m)
    true_item = np.bincount(t_item, minlength=m)
    overall = {
        "precision": tp_item.sum() / pred_item.sum() if pred_item.sum() else np.nan,
        "recall": tp_item.sum() / true_item.sum() if true_item.sum() else np.nan,
    }
    frames = []
    for column, codes, values in _slicings(items.reset_index(drop=True), by, intersections):
        s_count = len(values)
        n = np.bincount(codes, minlength=s_count)
        tp = np.bincount(codes, weights=tp_item, minlength=s_count)
        for metric, den in (("precision", pred_item), ("recall", true_item)):
            trials = np.bincount(codes, weights=den, minlength=s_count)
            with np.errstate(divide="ignore", invalid="ignore"):
                score = tp / trials
            if ci is None:
                low = high = np.full(s_count, np.nan)
            else:
                low, high = wilson_interval(tp, trials, ci)
            ref = overall[metric]
            frames.append(
                pd.DataFrame(
                    {
                        "column": column,
                        "value": values,
                        "n": n,
                        "metric": metric,
                        "score": score,
                        "ci_low": low,
                        "ci_high": high,
                        "overall": ref,
                        "gap": score - ref,
                        "flagged": (n >= min_size) & ((high < ref) | (low > ref)),
                        "n_excluded": 0,
                    }
                )
            )
    report = pd.concat(frames, ignore_index=True)
    report["_v"] = report.groupby(["column", "metric"], sort=False).cumcount()
    report["_c"] = report["column"].map(
        {c: i for i, c in enumerate(dict.fromkeys(report["column"]))}
    )
    report["_m"] = (report["metric"] == "recall").astype(int)
    report = report.sort_values(["_c", "_v", "_m"], kind="stable").reset_index(drop=True)
    report["flagged"] = report["flagged"].astype(bool)
    return report[REPORT_COLUMNS]


# ----------------------------------------------------------------------------- plot
class ReportFigure(Figure):
    """The figure :func:`plot` returns: a matplotlib Figure that shows itself in Jupyter.

    IPython registers its Figure formatter only once pyplot is set up; before that a bare
    Figure displays as ``<Figure size ...>``. ``_repr_png_`` fills that gap (a registered
    formatter takes precedence, so the image never shows twice).
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def plot(
    report: pd.DataFrame,
    metric: str | None = None,
    columns: str | Sequence[str] | None = None,
    panel_size: tuple[float, float] = (4.0, 3.2),
    color: str = "tab:blue",
    highlight: str = "tab:red",
):
    """Bars of a slice report: one panel per column, with intervals and the overall score.

    Parameters
    ----------
    report : pandas.DataFrame
        A :func:`slice_report` or :func:`detection_slice_report` result.
    metric : str or None, default=None
        The metric to draw; None takes the report's first metric.
    columns : str or sequence of str or None, default=None
        Slicing columns to draw, one panel each; None draws all of them.
    panel_size : (float, float), default=(4.0, 3.2)
        Width and height of one panel, in inches.
    color : str, default="tab:blue"
        Colour of the bars of slices that are not flagged.
    highlight : str, default="tab:red"
        Colour of flagged slices (their tick labels are drawn in bold too).

    Returns
    -------
    ReportFigure
        A matplotlib Figure that is not registered with pyplot (no global state; Jupyter shows
        it when it is the value of a cell). Each bar is the slice's score, its error bar the interval,
        the dashed line the overall score; tick labels give each slice's ``n``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    missing = set(REPORT_COLUMNS[:-1]) - set(report.columns)
    if missing:
        raise ValueError(
            f"`report` must be a slice_report result with columns {REPORT_COLUMNS}. Missing "
            f"{sorted(missing)}."
        )
    metrics = list(dict.fromkeys(report["metric"]))
    if metric is None:
        if not metrics:
            raise ValueError("`report` must have at least one row. Got an empty report.")
        metric = metrics[0]
    if metric not in metrics:
        raise ValueError(f"`metric` must be one of {metrics}. Got {metric!r} instead.")
    all_columns = list(dict.fromkeys(report["column"]))
    columns = all_columns if columns is None else _as_list(columns, "columns")
    for col in columns:
        if col not in all_columns:
            raise ValueError(f"`columns` must be among {all_columns}. Got {col!r} instead.")

    fig = ReportFigure(figsize=(panel_size[0] * len(columns), panel_size[1]), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    for ax, col in zip(axes, columns, strict=True):
        rows = report[(report["column"] == col) & (report["metric"] == metric)]
        x = np.arange(len(rows))
        score = rows["score"].to_numpy(float)
        low = np.nan_to_num(score - rows["ci_low"].to_numpy(float), nan=0.0).clip(0)
        high = np.nan_to_num(rows["ci_high"].to_numpy(float) - score, nan=0.0).clip(0)
        flagged = rows["flagged"].to_numpy(bool)
        ax.bar(x, np.nan_to_num(score), color=np.where(flagged, highlight, color),
               yerr=[low, high], capsize=3, ecolor="0.25")  # fmt: skip
        overall = rows["overall"].iloc[0] if len(rows) else np.nan
        if not (isinstance(overall, float) and math.isnan(overall)):
            ax.axhline(overall, color="0.2", linestyle="--", linewidth=1)
        ax.set_xticks(x, [f"{v}\nn={n}" for v, n in zip(rows["value"], rows["n"], strict=True)])
        for label, flag in zip(ax.get_xticklabels(), flagged, strict=True):
            if flag:
                label.set_color(highlight)
                label.set_fontweight("bold")
        if len(rows) > 6:
            ax.tick_params(axis="x", labelrotation=90)
        ax.set_title(col)
        ax.set_ylabel(metric)
        ax.set_ylim(0, max(1.0, float(np.nanmax(score + high, initial=0.0))) * 1.05)
    fig.legend(
        handles=[
            Patch(color=color, label="slice"),
            Patch(color=highlight, label="flagged"),
            Line2D([], [], color="0.2", linestyle="--", linewidth=1, label="overall"),
        ],
        loc="outside upper center",
        ncols=3,
        fontsize="small",
        frameon=False,
    )
    return fig
