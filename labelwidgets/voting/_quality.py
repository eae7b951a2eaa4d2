"""Rater analytics: how often each rater is right (Dawid-Skene), how they err, how fast they work."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import InputError, check_fraction, check_positive_int
from ._agreement import _kappa_from_codes, _task_votes
from ._common import _validate_labels
from ._resolve import dawid_skene_codes

QUALITY_COLUMNS = [
    "rater", "n_items", "agreement", "accuracy", "cohen_kappa", "seconds_per_item", "sittings",
    "confusion",
]  # fmt: skip


def _one_task(labels: pd.DataFrame, task: str | None) -> str:
    """The task to analyse: ``task``, or the only task of ``labels``."""
    names = list(pd.unique(labels["task"]))
    if task is None:
        if len(names) != 1:
            raise InputError(
                f"`task` must name one task when `labels` holds several. Got None instead; pass "
                f"one of {sorted(map(str, names))}."
            )
        return names[0]
    if task not in names:
        raise InputError(
            f"`task` must be a task of `labels`: one of {sorted(map(str, names))}. Got {task!r} "
            "instead."
        )
    return task


def _speed(labels: pd.DataFrame, break_after: float) -> pd.DataFrame:
    """Per rater: median seconds between consecutive submissions within a sitting, and sittings.

    A submission's time is its earliest ``created_at``; a gap longer than ``break_after``
    seconds is a break (it starts a new sitting and is not a labelling time).
    """
    if "created_at" not in labels.columns or labels.empty:
        return pd.DataFrame(columns=["seconds_per_item", "sittings"], dtype=float)
    times = pd.DataFrame(
        {
            "rater": labels["rater"].to_numpy(dtype=object),
            "t": pd.to_datetime(labels["created_at"], utc=True, format="mixed").to_numpy(),
            "sub": (
                labels["submission_id"].to_numpy(dtype=object)
                if "submission_id" in labels.columns
                else labels["created_at"].astype(str).to_numpy(dtype=object)
            ),
        }
    )
    subs = times.groupby(["rater", "sub"], sort=False)["t"].min().reset_index()
    subs = subs.sort_values(["rater", "t"], kind="stable")
    gap = subs.groupby("rater", sort=False)["t"].diff().dt.total_seconds()
    subs["gap"] = gap.to_numpy()
    rows = {}
    for rater, g in subs.groupby("rater", sort=True):
        gaps = g["gap"].dropna().to_numpy()
        work = gaps[gaps <= break_after]
        rows[rater] = {
            "seconds_per_item": float(np.median(work)) if len(work) else float("nan"),
            "sittings": int(1 + np.sum(gaps > break_after)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def rater_quality(
    labels: pd.DataFrame,
    task: str | None = None,
    break_after: float = 300.0,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> pd.DataFrame:
    """One row per rater of a single-label task: volume, quality and speed.

    Quality comes from a Dawid-Skene model of the task's votes (as in
    ``resolve(method="dawid_skene")``): the *consensus* of an item is its label of highest
    posterior (every item, whatever its confidence), and each rater's confusion matrix is
    estimated from all the votes, so an accuracy is estimated even for items nobody else
    labelled.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``; pass ``source="human"`` to leave model rows out). The latest
        answer of each rater counts.
    task : str or None, default=None
        A single-label task; None when ``labels`` holds only one task.
    break_after : float, default=300.0
        Seconds: a longer gap between a rater's consecutive submissions is a break, not
        labelling time.
    n_iter : int, default=100
        The most EM iterations.
    tol : float, default=1e-5
        EM stops when its lower bound per vote grows by less.

    Returns
    -------
    pandas.DataFrame
        Raters in name order: ``rater``; ``n_items`` (items answered); ``agreement`` (share of
        them where the rater's answer is the consensus, the rater's own vote included);
        ``accuracy`` (estimated chance of a right answer on an item drawn from the class
        priors: ``sum_c prior[c] * P(answer c | truth c)``); ``cohen_kappa`` (the rater's
        answers against the consensus on their items; NaN when chance agreement is 1);
        ``seconds_per_item`` (median gap between consecutive submissions within a sitting,
        from ``created_at``; NaN without it or with fewer than two submissions); ``sittings``
        (1 + the breaks); ``confusion`` (a DataFrame: rows the true class, columns the answer,
        each row the rater's estimated answer probabilities; classes in name order).

    Examples
    --------
    >>> votes = pd.DataFrame({
    ...     "item_id": [f"i{i}" for i in range(6) for _ in range(3)], "task": "shape",
    ...     "rater": ["ann", "bob", "cy"] * 6,
    ...     "label": ["o", "o", "o", "x", "x", "o", "o", "o", "x",
    ...               "x", "x", "x", "o", "o", "o", "x", "x", "o"]})
    >>> rater_quality(votes)[["rater", "n_items", "agreement"]]
      rater  n_items  agreement
    0   ann        6        1.0
    1   bob        6        1.0
    2    cy        6        0.5
    """
    labels = _validate_labels(labels)
    task = _one_task(labels, task)
    check_fraction(break_after, "break_after", high=np.inf)
    ds = {"n_iter": check_positive_int(n_iter, "n_iter", minimum=0),
          "tol": check_fraction(tol, "tol", high=np.inf)}  # fmt: skip
    votes, kind = _task_votes(labels, task)
    if kind != "single":
        raise InputError(
            f"`task` must be a single-label task. Got {task!r}, a {kind}-label task, instead."
        )
    item_c, _ = pd.factorize(votes["item_id"])
    rater_c, rater_u = pd.factorize(votes["rater"])
    lab_c, lab_u = pd.factorize(votes["value"])
    fit, classes, fit_raters = dawid_skene_codes(
        item_c.astype(np.int64), rater_c.astype(np.int64), lab_c.astype(np.int64),
        int(item_c.max()) + 1, lab_u, ds, task, rater_u,
    )  # fmt: skip
    names = np.asarray(lab_u, dtype=object)[classes]  # the fit's classes, in name order
    local = np.empty(len(lab_u), dtype=np.int64)
    local[classes] = np.arange(len(classes))
    answer = local[lab_c]
    consensus = fit.posteriors.argmax(axis=1)[item_c]
    speed = _speed(labels[(labels["rater"].isin(list(rater_u))).to_numpy()], break_after)
    rows = []
    for r in np.argsort(np.asarray(rater_u, dtype=str), kind="stable"):
        mine = rater_c == r
        errors = fit.errors[int(np.flatnonzero(fit_raters == r)[0])]  # answer x truth
        name = rater_u[r]
        rows.append({
            "rater": name,
            "n_items": int(mine.sum()),
            "agreement": float(np.mean(answer[mine] == consensus[mine])),
            "accuracy": float(fit.priors @ np.diag(errors)),
            "cohen_kappa": _kappa_from_codes(answer[mine], consensus[mine], len(classes)),
            "seconds_per_item": float(speed["seconds_per_item"].get(name, np.nan)),
            "sittings": int(speed["sittings"].get(name, 0)) if name in speed.index else 0,
            "confusion": pd.DataFrame(
                errors.T, index=pd.Index(names, name="truth"), columns=pd.Index(names, name="answer")
            ),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def plot_rater_quality(quality: pd.DataFrame, confusions: bool = True):
    """A dashboard of :func:`rater_quality` to show a class: who is right how often, and how fast.

    Top left: each rater's estimated accuracy (bar, with the items they answered) and their
    agreement with the consensus (dot), against the chance level of a random answer. Top
    right: median seconds per item. Below (``confusions=True``): each rater's confusion matrix,
    the share of each true class they gave each answer.

    Parameters
    ----------
    quality : pandas.DataFrame
        The output of :func:`rater_quality`.
    confusions : bool, default=True
        Draw the confusion matrices.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    missing = [c for c in QUALITY_COLUMNS if c not in quality.columns]
    if missing or quality.empty:
        raise InputError(
            f"`quality` must be a non-empty output of rater_quality(). Missing columns "
            f"{missing}; got {list(quality.columns)} with {len(quality)} rows instead."
        )
    n = len(quality)  # two or more: rater_quality needs two raters
    raters = quality["rater"].astype(str).tolist()
    n_classes = len(quality["confusion"].iloc[0])
    fig = plt.figure(
        figsize=(max(8.0, 2.0 * n), 3.4 + (2.6 if confusions else 0.0)), layout="constrained"
    )
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.3, 1]) if confusions else (fig, None)
    left, right = top.subplots(1, 2, width_ratios=[3, 2])
    y = np.arange(n)[::-1]
    bars = left.barh(y, quality["accuracy"], color="tab:blue", label="estimated accuracy")
    left.plot(quality["agreement"], y, "o", color="tab:orange", label="agreement with consensus")
    left.axvline(1 / n_classes, color="grey", linestyle="--", label=f"chance (1/{n_classes})")
    for bar, acc, items in zip(bars, quality["accuracy"], quality["n_items"], strict=True):
        inside = acc >= 0.4  # a short bar gets its text beside it
        left.text(acc - 0.02 if inside else acc + 0.02, bar.get_y() + bar.get_height() / 2,
                  f"{acc:.0%} · {items} items", ha="right" if inside else "left", va="center",
                  color="white" if inside else "black", fontsize=9)  # fmt: skip
    left.set_yticks(y, raters)
    left.set_xlim(0, 1)
    left.set_title("How often right")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8,
                frameon=False)  # fmt: skip
    right.barh(y, quality["seconds_per_item"].fillna(0), color="tab:green")
    right.set_yticks(y, raters)
    right.set_title("Seconds per item (median)")
    if confusions:
        axes = bottom.subplots(1, n, sharey=True)
        for i, (ax, rater, table) in enumerate(
            zip(axes, raters, quality["confusion"], strict=True)
        ):
            ax.imshow(table.to_numpy(), cmap="Blues", vmin=0, vmax=1)
            ticks = [str(c) for c in table.columns]
            ax.set_xticks(range(len(ticks)), ticks, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(len(ticks)), ticks, fontsize=8)
            ax.set_title(rater, fontsize=9)
            ax.set_xlabel("answer", fontsize=8)
            if i == 0:
                ax.set_ylabel("truth", fontsize=8)
            for (a, b), v in np.ndenumerate(table.to_numpy()):
                ax.text(b, a, f"{v:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.5 else "black")  # fmt: skip
    return fig
