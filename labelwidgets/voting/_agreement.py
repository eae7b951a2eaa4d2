"""Agreement statistics: Cohen's kappa, Krippendorff's alpha, the agreement table, confusion."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from .._validate import InputError, check_fraction, check_positive_int
from ._common import STATUSES, _infer_kind, _latest, _task_kinds, _validate_labels


def _task_votes(labels: pd.DataFrame, task: str, tasks=None) -> tuple[pd.DataFrame, str]:
    """Each rater's current answer per item for one task: ``item_id, rater, value``.

    ``value`` is the label (single) or the sorted tuple of chosen options (multi: the set is
    one nominal value). Box tasks raise.
    """
    labels = _validate_labels(labels)
    df = labels[(labels["task"] == task).to_numpy()]
    if df.empty:
        raise ValueError(
            f"`task` must be a task of `labels`: one of {sorted(pd.unique(labels['task']))}. "
            f"Got {task!r} instead."
        )
    repeated = df.duplicated(["item_id", "rater"], keep=False).to_numpy()
    kind = _task_kinds(tasks).get(task) or _infer_kind(df, repeated)
    if kind == "box":
        raise ValueError(
            f"`task` must be a single- or multi-label task. Got {task!r}, a box task; "
            "compare boxes with resolve(..., iou=...) instead."
        )
    if repeated.any() and (kind == "single" or "submission_id" in df.columns):
        df = df[_latest(df, repeated)]
    if kind == "single":
        df = df.dropna(subset=["label"]).drop_duplicates(["item_id", "rater"], keep="last")
        out = df[["item_id", "rater", "label"]].rename(columns={"label": "value"})
    else:
        out = (
            df.groupby(["item_id", "rater"], sort=False)["label"]
            .agg(lambda s: tuple(sorted(set(s.dropna()))))
            .rename("value")
            .reset_index()
        )
    out = out.astype({"item_id": object, "rater": object, "value": object})
    return out.reset_index(drop=True), kind


def _kappa_from_codes(a: np.ndarray, b: np.ndarray, n_values: int) -> float:
    """Cohen's kappa exactly as scikit-learn computes it (unweighted)."""
    conf = np.bincount(a * n_values + b, minlength=n_values * n_values).reshape(n_values, n_values)
    sum0, sum1 = conf.sum(axis=0), conf.sum(axis=1)
    expected = np.outer(sum0, sum1) / np.sum(sum0)
    w = np.ones((n_values, n_values), dtype=int)
    w.flat[:: n_values + 1] = 0
    denominator = np.sum(w * expected)
    if denominator == 0:  # both raters always gave the same single value
        return float("nan")
    return float(1 - np.sum(w * conf) / denominator)


def cohen_kappa(labels: pd.DataFrame, task: str, rater_a: str, rater_b: str, tasks=None) -> float:
    """Cohen's kappa of two raters on one task, over the items both answered.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``); the latest answer of each rater counts.
    task : str
        A single- or multi-label task (a multi-label answer counts as one value: the set).
    rater_a, rater_b : str
        The two raters.
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`.

    Returns
    -------
    float
        Kappa (equal to ``sklearn.metrics.cohen_kappa_score``); NaN when chance agreement is
        1 (both raters always gave the same one value).
    """
    votes, _ = _task_votes(labels, task, tasks)
    wide = _wide(votes)
    for name, rater in (("rater_a", rater_a), ("rater_b", rater_b)):
        if rater not in wide.columns:
            raise ValueError(
                f"`{name}` must be a rater of task {task!r}: one of {sorted(wide.columns)}. "
                f"Got {rater!r} instead."
            )
    both = wide[rater_a].notna() & wide[rater_b].notna()
    if not both.any():
        raise ValueError(f"Raters {rater_a!r} and {rater_b!r} share no item of task {task!r}.")
    codes, uniques = pd.factorize(pd.concat([wide.loc[both, rater_a], wide.loc[both, rater_b]]))
    half = int(both.sum())
    return _kappa_from_codes(
        codes[:half].astype(np.int64), codes[half:].astype(np.int64), len(uniques)
    )


def _wide(votes: pd.DataFrame) -> pd.DataFrame:
    """Items x raters table of values (NaN where a rater did not answer)."""
    return votes.pivot(index="item_id", columns="rater", values="value")


def krippendorff_alpha(labels: pd.DataFrame, task: str, tasks=None) -> float:
    """Krippendorff's alpha (nominal) of all raters on one task.

    Computed from the coincidence matrix: each item answered by ``m >= 2`` raters adds every
    ordered pair of its values from different raters with weight ``1 / (m - 1)``; then
    ``alpha = 1 - (n - 1) * D_o / D_e`` with ``D_o`` the off-diagonal coincidences and ``D_e``
    the off-diagonal products of the value totals. Items with one answer are left out.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``).
    task : str
        A single- or multi-label task (a multi-label answer is one value: the set).
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`.

    Returns
    -------
    float
        Alpha (equal to ``krippendorff.alpha(..., level_of_measurement="nominal")``); NaN when
        no item has two answers or only one value occurs.
    """
    votes, _ = _task_votes(labels, task, tasks)
    return _alpha_from_votes(votes)


def _alpha_from_votes(votes: pd.DataFrame) -> float:
    unit, _ = pd.factorize(votes["item_id"])
    value, uniques = pd.factorize(votes["value"])
    n_units, n_values = int(unit.max()) + 1, len(uniques)
    counts = np.bincount(unit.astype(np.int64) * n_values + value, minlength=n_units * n_values)
    counts = counts.reshape(n_units, n_values).astype(float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    if len(m) == 0:
        return float("nan")
    weighted = counts / (m - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    n_c = coincidence.sum(axis=0)
    n = n_c.sum()
    expected_disagreement = (n * n - np.sum(n_c * n_c)) / (n - 1)
    if expected_disagreement == 0:
        return float("nan")
    observed_disagreement = n - np.trace(coincidence)
    return float(1 - observed_disagreement / expected_disagreement)


def _gwet_ac1(a: np.ndarray, b: np.ndarray, n_values: int) -> float:
    """Gwet's AC1 of two raters' codes (``n_values`` categories)."""
    conf = np.bincount(a * n_values + b, minlength=n_values * n_values)
    return float(_pair_stats(conf.reshape(1, n_values, n_values).astype(float))[2][0])


def _pair_stats(conf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percent agreement, Cohen's kappa and Gwet's AC1 of stacked confusion tables.

    ``conf`` has shape (B, Q, Q) (rater a's value x rater b's value, with ``Q`` the task's
    values); a table without items gives NaN. Kappa is scikit-learn's; AC1 is
    ``(p_a - p_e) / (1 - p_e)`` with ``p_e = sum_k pi_k (1 - pi_k) / (Q - 1)`` and ``pi_k``
    the mean of the two raters' shares of value ``k`` (NaN when ``Q == 1``).
    """
    n = conf.sum(axis=(1, 2))
    agree = np.trace(conf, axis1=1, axis2=2)
    rows, cols = conf.sum(axis=2), conf.sum(axis=1)
    q = conf.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = agree / n
        chance = (n * n - np.sum(rows * cols, axis=1)) / n  # sklearn's sum(w * expected)
        kappa = np.where(chance > 0, 1 - (n - agree) / chance, np.nan)
        pi = (rows + cols) / (2 * n[:, None])
        pe = np.sum(pi * (1 - pi), axis=1) / (q - 1) if q > 1 else np.full(len(n), np.nan)
        ac1 = (pa - pe) / (1 - pe)
    return 100.0 * pa, kappa, ac1


def _alpha_from_coincidence(coincidence: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha (nominal) of stacked coincidence matrices (B, Q, Q)."""
    n_c = coincidence.sum(axis=1)
    n = n_c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (n * n - np.sum(n_c * n_c, axis=1)) / (n - 1)
        observed = n - np.trace(coincidence, axis1=1, axis2=2)
        return np.where(expected > 0, 1 - observed / expected, np.nan)


def _weights(idx: np.ndarray, n_items: int) -> np.ndarray:
    """How often each item is drawn in each bootstrap sample: (n_items, B) floats from draws
    (B, n), C-ordered for the sparse products."""
    n_samples = len(idx)
    cell = idx * n_samples + np.arange(n_samples)[:, None]
    counts = np.bincount(cell.ravel(), minlength=n_items * n_samples)
    return counts.astype(float).reshape(n_items, n_samples)


def _bootstrap(coded: pd.DataFrame, raters, n_values: int, rng, n_boot: int):
    """Bootstrap replicates over the items (rows of ``coded``) of the task's statistics.

    Returns ``{pair: (pa, kappa, ac1)}`` and the alpha replicates, arrays of length
    ``n_boot``; every pair and alpha use the same draws.
    """
    from scipy import sparse

    n_items = len(coded)
    idx = rng.integers(0, n_items, size=(n_boot, n_items))
    values = coded.to_numpy(dtype=float)  # items x raters, NaN where not answered
    answered = ~np.isnan(values)
    codes = np.where(answered, values, 0).astype(np.int64)
    counts = np.zeros((n_items, n_values))  # each item's values over raters
    for j in range(values.shape[1]):
        np.add.at(counts, (np.flatnonzero(answered[:, j]), codes[answered[:, j], j]), 1.0)
    m = counts.sum(axis=1)
    pairable = m >= 2
    contrib = np.zeros((n_items, n_values * n_values))  # each item's coincidences
    c = counts[pairable]
    contrib[pairable] = (
        (c[:, :, None] * c[:, None, :] - np.einsum("ij,jk->ijk", c, np.eye(n_values)))
        / (m[pairable] - 1)[:, None, None]
    ).reshape(len(c), -1)
    contrib = sparse.csr_matrix(contrib.T)  # cells x items
    col = {r: j for j, r in enumerate(coded.columns)}
    pair_tables = {}  # per pair: cells x items, a one where both answered (the pair's cell)
    for a, b in combinations(raters, 2):
        both = np.flatnonzero(answered[:, col[a]] & answered[:, col[b]])
        if len(both):
            cell = codes[both, col[a]] * n_values + codes[both, col[b]]
            pair_tables[a, b] = sparse.csr_matrix(
                (np.ones(len(both)), (cell, both)), shape=(n_values * n_values, n_items)
            )
    step = max(1, (1 << 22) // n_items)  # bootstrap samples per block: a few million cells
    alpha, stats = [], {pair: [] for pair in pair_tables}
    for start in range(0, n_boot, step):
        w = _weights(idx[start : start + step], n_items)  # items x samples
        alpha.append(_alpha_from_coincidence((contrib @ w).T.reshape(-1, n_values, n_values)))
        for pair, onehot in pair_tables.items():
            stats[pair].append(_pair_stats((onehot @ w).T.reshape(-1, n_values, n_values)))
    out = {pair: tuple(np.concatenate(part) for part in zip(*blocks, strict=True))
           for pair, blocks in stats.items()}  # fmt: skip
    return out, np.concatenate(alpha)


_STATS = ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1")


def agreement(
    labels: pd.DataFrame,
    tasks=None,
    ci: float | None = None,
    n_boot: int = 1000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Agreement of every pair of raters on every single- and multi-label task.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``; pass ``source="human"`` to leave model rows out).
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`. Box tasks are left out.
    ci : float or None, default=None
        Add percentile bootstrap confidence intervals at this level (e.g. 0.95) for every
        statistic; None leaves them out.
    n_boot : int, default=1000
        Bootstrap samples (with ``ci``).
    random_state : int or None, default=0
        Seed of the bootstrap (``numpy.random.default_rng``); the same seed gives the same
        intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (task, rater pair) sharing at least one item: ``task, rater_a, rater_b``
        (``rater_a < rater_b``), ``n_items`` (answered by both), ``percent_agreement`` (0-100),
        ``cohen_kappa``, the task's ``krippendorff_alpha`` (all raters; the same on every row
        of a task) and ``gwet_ac1``. With ``ci``, each statistic ``s`` also has ``s_low`` and
        ``s_high``.

    Notes
    -----
    **Gwet's AC1** is ``(p_a - p_e) / (1 - p_e)`` with ``p_e = sum_k pi_k (1 - pi_k) / (Q - 1)``,
    ``pi_k`` the mean of the two raters' shares of value ``k`` and ``Q`` the number of distinct
    values of the task (all raters). Unlike kappa it stays high when raters agree on a skewed
    task (95 % "normal"), where kappa's chance correction drops towards 0 (the "kappa
    paradox").

    **The bootstrap** resamples items with replacement: per task, in order of first
    appearance, ``rng.integers(0, n, size=(n_boot, n))`` draws ``n_boot`` samples of the task's
    ``n`` items (every item with an answer, in sorted ``item_id`` order), with
    ``rng = numpy.random.default_rng(random_state)`` created once. Every rater pair and alpha
    are computed on the same samples (a pair on the drawn items both raters answered); the
    interval is the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` percentiles of the replicates,
    leaving out replicates where a statistic is undefined (NaN).
    """
    labels = _validate_labels(labels)
    if ci is not None:
        ci = check_fraction(ci, "ci", high=1.0)
        if ci >= 1:
            raise InputError(f"`ci` must be a number in (0, 1). Got {ci!r} instead.")
        n_boot = check_positive_int(n_boot, "n_boot")
    rng = np.random.default_rng(random_state)
    rows = []
    for task in pd.unique(labels["task"]):
        sub = labels[(labels["task"] == task).to_numpy()]
        kind = _task_kinds(tasks).get(task) or _infer_kind(
            sub, sub.duplicated(["item_id", "rater"], keep=False).to_numpy()
        )
        if kind == "box":
            continue
        votes, _ = _task_votes(sub, task, tasks)
        if votes.empty:
            continue
        alpha = _alpha_from_votes(votes)
        code, uniques = pd.factorize(votes["value"])
        coded = votes.assign(value=code).pivot(index="item_id", columns="rater", values="value")
        raters = sorted(coded.columns)
        boot = _bootstrap(coded, raters, len(uniques), rng, n_boot) if ci is not None else None
        for a, b in combinations(raters, 2):
            both = coded[a].notna() & coded[b].notna()
            if not both.any():
                continue
            ca = coded.loc[both, a].to_numpy(dtype=np.int64)
            cb = coded.loc[both, b].to_numpy(dtype=np.int64)
            row = {"task": task, "rater_a": a, "rater_b": b, "n_items": int(both.sum()),
                   "percent_agreement": 100.0 * float(np.mean(ca == cb)),
                   "cohen_kappa": _kappa_from_codes(ca, cb, len(uniques)),
                   "krippendorff_alpha": alpha,
                   "gwet_ac1": _gwet_ac1(ca, cb, len(uniques))}  # fmt: skip
            if boot is not None:
                pa, kappa, ac1 = boot[0][a, b]
                reps = dict(zip(_STATS, (pa, kappa, boot[1], ac1), strict=True))
                for stat in _STATS:
                    low, high = _interval(reps[stat], ci)
                    row[f"{stat}_low"], row[f"{stat}_high"] = low, high
            rows.append(row)
    columns = ["task", "rater_a", "rater_b", "n_items", *_STATS]
    if ci is not None:
        columns += [f"{stat}_{end}" for stat in _STATS for end in ("low", "high")]
    return pd.DataFrame(rows, columns=columns)


def _interval(replicates: np.ndarray, ci: float) -> tuple[float, float]:
    """The percentile interval of the defined replicates (NaN, NaN when there are none)."""
    defined = replicates[~np.isnan(replicates)]
    if not len(defined):
        return float("nan"), float("nan")
    low, high = np.percentile(defined, [50 * (1 - ci), 50 * (1 + ci)])
    return float(low), float(high)


def confusion(
    labels: pd.DataFrame,
    resolved: pd.DataFrame,
    task: str,
    statuses: Sequence[str] = ("agreed", "tiebroken"),
    tasks=None,
) -> pd.DataFrame:
    """Each rater's answers against the resolved labels, as a long table.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``).
    resolved : pandas.DataFrame
        The output of :func:`resolve`.
    task : str
        A single- or multi-label task (multi-label sets are compared whole, as tuples).
    statuses : sequence of str, default=("agreed", "tiebroken")
        Which resolved items serve as the reference.
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`.

    Returns
    -------
    pandas.DataFrame
        ``rater, resolved, label, n``: how often ``rater`` answered ``label`` where the
        resolved label is ``resolved``; sorted by rater, resolved, label.
    """
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise ValueError(f"`statuses` must be drawn from {list(STATUSES)}. Got {bad!r} instead.")
    missing = [c for c in ("item_id", "task", "label", "status") if c not in resolved.columns]
    if missing:
        raise ValueError(
            f"`resolved` must be the output of resolve(). Missing columns {missing}; "
            f"got {list(resolved.columns)} instead."
        )
    votes, _ = _task_votes(labels, task, tasks)
    ref = resolved[
        (resolved["task"] == task).to_numpy() & resolved["status"].isin(list(statuses)).to_numpy()
    ]
    ref = pd.DataFrame(
        {
            "item_id": ref["item_id"].to_numpy(dtype=object),
            "resolved": [tuple(v) if isinstance(v, list) else v for v in ref["label"]],
        }  # fmt: skip
    )
    merged = votes.merge(ref, on="item_id", how="inner").rename(columns={"value": "label"})
    out = merged.groupby(["rater", "resolved", "label"], sort=True).size().rename("n").reset_index()
    return out.astype({"n": np.int64})


def plot_confusion(table: pd.DataFrame, rater: str | None = None, ax=None):
    """Heatmap of :func:`confusion` for one rater (or all raters summed).

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`confusion`.
    rater : str or None, default=None
        The rater to show; None sums all raters.
    ax : matplotlib.axes.Axes or None, default=None
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if rater is not None:
        if rater not in set(table["rater"]):
            raise ValueError(
                f"`rater` must be one of {sorted(set(table['rater']))}. Got {rater!r} instead."
            )
        table = table[table["rater"] == rater]
    grid = table.pivot_table(
        index="resolved", columns="label", values="n", aggfunc="sum", fill_value=0
    )
    names = sorted(set(grid.index) | set(grid.columns), key=str)
    grid = grid.reindex(index=names, columns=names, fill_value=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 + 0.7 * len(names), 1.0 + 0.6 * len(names)))
    ax.imshow(grid.to_numpy(), cmap="Blues")
    ax.set_xticks(range(len(names)), [str(n) for n in names], rotation=45, ha="right")
    ax.set_yticks(range(len(names)), [str(n) for n in names])
    ax.set_xlabel(f"{rater or 'all raters'}: answer")
    ax.set_ylabel("resolved label")
    top = grid.to_numpy().max() if grid.size else 0
    for i in range(len(names)):
        for j in range(len(names)):
            v = int(grid.iat[i, j])
            ax.text(
                j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black"
            )
    return ax
