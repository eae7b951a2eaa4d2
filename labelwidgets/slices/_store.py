"""Store input: a store's item metadata and truth labels joined with predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validate import InputError, check_choice, check_columns
from ._encoding import as_list

TRUTH_SOURCES = ("human", "folder", "pseudo")


def _latest(labels: pd.DataFrame) -> pd.DataFrame:
    """The most recent label row per item (``labels()`` is in write order)."""
    return labels.drop_duplicates("item_id", keep="last").set_index("item_id")


def _check_task(store, task: str) -> None:
    tasks = store.tasks()
    kinds = dict(zip(tasks["task"], tasks["kind"], strict=True))
    if task not in kinds and task not in set(store.labels()["task"]):
        raise InputError(
            f"`task` must be a task of the store, one of {sorted(kinds)}. Got {task!r} instead."
        )
    if kinds.get(task, "single") != "single":
        raise InputError(
            f"`task` must be a single-label task. Got {task!r}, a {kinds[task]!r} task; use "
            "detection_slice_report for boxes."
        )


def _predictions(predictions: pd.DataFrame, items: pd.Index) -> pd.DataFrame:
    """``prediction`` and ``confidence`` indexed by item id, checked against the store's items."""
    has_prediction = isinstance(predictions, pd.DataFrame) and "prediction" in predictions
    col = "prediction" if has_prediction else "label"
    check_columns(predictions, ["item_id", col], "predictions")
    dup = predictions["item_id"][predictions["item_id"].duplicated()]
    if len(dup):
        raise InputError(
            f"`predictions` must hold one row per item. Got {len(dup)} repeated item ids, "
            f"e.g. {dup.iloc[0]!r}."
        )
    confidence = predictions["confidence"].to_numpy() if "confidence" in predictions else np.nan
    preds = pd.DataFrame(
        {"prediction": predictions[col].to_numpy(), "confidence": confidence},
        index=pd.Index(predictions["item_id"].astype(str), name="item_id"),
    )
    unknown = preds.index[~preds.index.isin(items)]
    if len(unknown):
        raise InputError(
            f"`predictions` must be for items of the store. Got {len(unknown)} unknown item "
            f"ids, e.g. {list(unknown[:3])}."
        )
    return preds


def slice_frame(
    store,
    predictions: pd.DataFrame | None,
    task: str,
    by: str | Sequence[str] | None = None,
    sources: Sequence[str] = TRUTH_SOURCES,
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
    from ..store import SOURCES

    _check_task(store, task)
    sources = [check_choice(s, SOURCES, "sources") for s in as_list(sources, "sources")]
    items = store.items().drop(columns=["path", "width", "height", "added_at"])
    items = items.rename(columns={"rater": "meta_rater", "source": "meta_source"})
    items = items.set_index("item_id")
    truth = _latest(store.labels(task=task, source=sources))
    if predictions is None:
        preds = _latest(store.labels(task=task, source="model"))[["label", "confidence"]]
        preds = preds.rename(columns={"label": "prediction"})
    else:
        preds = _predictions(predictions, items.index)
    frame = items.loc[preds.index].copy()
    frame["rater"] = truth["rater"].reindex(preds.index)
    frame["source"] = truth["source"].reindex(preds.index)
    if by is not None:
        available = list(frame.columns)
        frame = frame[[check_choice(col, available, "by") for col in as_list(by, "by")]]
    frame["label"] = truth["label"].reindex(preds.index)
    frame["prediction"] = preds["prediction"]
    frame["confidence"] = preds["confidence"].astype(float)
    return frame.reset_index()
