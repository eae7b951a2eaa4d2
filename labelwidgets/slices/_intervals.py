"""Confidence intervals: Wilson for proportions, a count-level percentile bootstrap otherwise.

The bootstrap resamples each slice's confusion counts with one multinomial draw per replicate,
which has the distribution of resampling the slice's rows with replacement, at a cost that does
not grow with the rows.
"""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np

from .._validate import check_fraction
from ._metrics import Metric, stat_scores

# the bootstrap works on blocks of slices whose replicate arrays stay below this many cells
_BOOT_BLOCK_CELLS = 4_000_000


def check_ci(ci) -> float | None:
    """``ci`` as a float in (0, 1), or None (no intervals)."""
    return None if ci is None else check_fraction(ci, "ci", closed_high=False)


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
    ci = check_fraction(ci, "ci", closed_high=False)
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = NormalDist().inv_cdf(0.5 + ci / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        # at p = 0 (p = 1) the lower (upper) bound is exactly 0 (1); rounding must not move it
        low = np.where(n > 0, np.where(s <= 0, 0.0, np.clip(centre - half, 0.0, 1.0)), np.nan)
        high = np.where(n > 0, np.where(s >= n, 1.0, np.clip(centre + half, 0.0, 1.0)), np.nan)
    return low, high


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


def bootstrap(
    codes: np.ndarray,
    t: np.ndarray,
    p: np.ndarray,
    n_slices: int,
    k: int,
    metrics: list[Metric],
    classes: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    ci: float,
) -> tuple[dict, dict]:
    """Percentile intervals per metric name and slice, by multinomial resampling of counts."""
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
                scores = stat_scores(tp, ts, ps, m)[0]
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
