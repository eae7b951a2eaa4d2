"""Metric names to scores: everything a classification metric needs is three count arrays.

A slice's accuracy, precision, recall and F1 follow from its true positives and its true and
predicted class totals, counted per (slice, class) with one ``numpy.bincount``. Callables are
the exception: they are called on the slice's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .._validate import InputError

BUILTIN = ("accuracy", "error_rate", "precision", "recall", "f1")
PER_CLASS = ("precision", "recall", "f1")
MACRO_ALIASES = {f"{m}_macro": m for m in PER_CLASS}


@dataclass(frozen=True)
class Metric:
    """One metric of a report: a built-in kind (on one class or macro-averaged) or a callable."""

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


def _callable_name(func: Callable) -> str:
    inner = getattr(func, "func", func)  # functools.partial
    return getattr(inner, "__name__", repr(func))


def _one_spec(name: str | None, spec, classes: list) -> list[Metric]:
    """The metrics one entry of ``metrics`` stands for (several for ``*_per_class``)."""
    if callable(spec):
        return [Metric(name or _callable_name(spec), "custom", func=spec)]
    allowed = (
        list(BUILTIN) + list(MACRO_ALIASES) + [f"{m}_per_class" for m in PER_CLASS]
        + [f"{m}[<class>]" for m in PER_CLASS] + ["a callable (y_true, y_pred) -> float"]
    )  # fmt: skip
    if not isinstance(spec, str):
        raise InputError(f"`metrics` must hold names from {allowed}. Got {spec!r} instead.")
    base = MACRO_ALIASES.get(spec, spec)
    if base in BUILTIN:
        return [Metric(name or spec, base)]
    if spec.endswith("_per_class") and spec[: -len("_per_class")] in PER_CLASS:
        base = spec[: -len("_per_class")]
        return [Metric(f"{base}[{c}]", base, i) for i, c in enumerate(classes)]
    if "[" in spec and spec.endswith("]") and spec.split("[", 1)[0] in PER_CLASS:
        base, label = spec[:-1].split("[", 1)
        index = {c: i for i, c in enumerate(classes)}.get(label)
        index = {str(c): i for i, c in enumerate(classes)}.get(label) if index is None else index
        if index is None:
            raise InputError(
                f"`metrics` per-class entries must name a class of the labels, one of "
                f"{classes}. Got {spec!r} instead."
            )
        return [Metric(name or spec, base, index)]
    raise InputError(f"`metrics` must hold names from {allowed}. Got {spec!r} instead.")


def parse_metrics(metrics, classes: np.ndarray) -> list[Metric]:
    """The ``metrics`` argument of ``slice_report`` as a list of :class:`Metric`.

    Examples
    --------
    >>> [m.name for m in parse_metrics(["accuracy", "recall_per_class"], np.array(["a", "b"]))]
    ['accuracy', 'recall[a]', 'recall[b]']
    """
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    items = list(metrics.items()) if isinstance(metrics, Mapping) else [(None, m) for m in metrics]
    if not items:
        raise InputError("`metrics` must name at least one metric. Got an empty collection.")
    out = [m for name, spec in items for m in _one_spec(name, spec, classes.tolist())]
    names = [m.name for m in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(
            f"`metrics` must have distinct names. Got {duplicated} more than once; pass a dict "
            f"{{name: metric}} to name callables."
        )
    return out


def class_counts(
    t: np.ndarray, p: np.ndarray, k: int, codes: np.ndarray | None = None, n_slices: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, true totals and predicted totals, as floats of shape ``(n_slices, k)``.

    ``t`` and ``p`` are class codes, ``codes`` the slice of each row (None: one slice).
    """
    t_key = t if codes is None else codes * k + t
    p_key = p if codes is None else codes * k + p
    size = n_slices * k
    tp = np.bincount(t_key[t == p], minlength=size).reshape(n_slices, k)
    ts = np.bincount(t_key, minlength=size).reshape(n_slices, k)
    ps = np.bincount(p_key, minlength=size).reshape(n_slices, k)
    return tp.astype(np.float64), ts.astype(np.float64), ps.astype(np.float64)


def stat_scores(tp: np.ndarray, ts: np.ndarray, ps: np.ndarray, metric: Metric):
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


def custom_scores(func: Callable, y_true, y_pred, codes: np.ndarray, n: np.ndarray) -> np.ndarray:
    """A callable on each slice's rows, in their order; NaN for a slice with no rows."""
    score = np.full(len(n), np.nan)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(n)])
    for i in np.flatnonzero(n):
        rows = order[bounds[i] : bounds[i + 1]]
        score[i] = func(y_true[rows], y_pred[rows])
    return score
