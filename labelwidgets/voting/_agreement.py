"""Agreement statistics: Cohen's kappa, Krippendorff's alpha, the agreement table, confusion."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

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


def agreement(labels: pd.DataFrame, tasks=None) -> pd.DataFrame:
    """Agreement of every pair of raters on every single- and multi-label task.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``; pass ``source="human"`` to leave model rows out).
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`. Box tasks are left out.

    Returns
    -------
    pandas.DataFrame
        One row per (task, rater pair) sharing at least one item: ``task, rater_a, rater_b``
        (``rater_a < rater_b``), ``n_items`` (answered by both), ``percent_agreement`` (0-100),
        ``cohen_kappa``, and the task's ``krippendorff_alpha`` (all raters; the same on every row
        of a task).
    """
    labels = _validate_labels(labels)
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
        for a, b in combinations(raters, 2):
            both = coded[a].notna() & coded[b].notna()
            if not both.any():
                continue
            ca = coded.loc[both, a].to_numpy(dtype=np.int64)
            cb = coded.loc[both, b].to_numpy(dtype=np.int64)
            rows.append({"task": task, "rater_a": a, "rater_b": b, "n_items": int(both.sum()),
                         "percent_agreement": 100.0 * float(np.mean(ca == cb)),
                         "cohen_kappa": _kappa_from_codes(ca, cb, len(uniques)),
                         "krippendorff_alpha": alpha})  # fmt: skip
    columns = ["task", "rater_a", "rater_b", "n_items", "percent_agreement", "cohen_kappa",
               "krippendorff_alpha"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


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
