"""Detection slices: per-slice precision and recall of boxes matched at an IoU threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validate import InputError, check_columns, check_fraction, check_positive_int
from ._encoding import check_by, slicings
from ._intervals import check_ci, wilson_interval
from ._report import report_rows

_METRICS = ("precision", "recall")


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


def _check_boxes(df: pd.DataFrame, what: str, confidence: bool) -> pd.DataFrame:
    """Boxes with a label (the store's "no objects" rows dropped), item ids as text."""
    check_columns(df, ["item_id", "label", "x", "y", "w", "h"] + ["confidence"] * confidence, what)
    df = df.dropna(subset=["label"])
    return df.assign(item_id=df["item_id"].astype(str)).reset_index(drop=True)


def _box_counts(truth, pred, item_index: pd.Index, iou: float, class_aware: bool):
    """Per item: true positives, predicted boxes and true boxes."""
    matched = _match_boxes(truth, pred, iou, class_aware)
    t_item = item_index.get_indexer(truth["item_id"])
    p_item = item_index.get_indexer(pred["item_id"])
    m = len(item_index)
    tp = np.bincount(p_item[matched], minlength=m)
    return tp, np.bincount(p_item, minlength=m), np.bincount(t_item, minlength=m)


def detection_slice_report(
    truth_boxes: pd.DataFrame,
    pred_boxes: pd.DataFrame,
    items: pd.DataFrame,
    by: str | Sequence[str],
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
    by : str or sequence of str
        Slicing columns of ``items`` (required).
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
    check_columns(items, ["item_id"], "items")
    by = check_by(items, by, "items")
    iou = check_fraction(iou, "iou")
    ci = check_ci(ci)
    min_size = check_positive_int(min_size, "min_size", minimum=0)
    items = items.assign(item_id=items["item_id"].astype(str)).drop_duplicates("item_id")
    item_index = pd.Index(items["item_id"])
    for what, boxes in (("truth_boxes", truth), ("pred_boxes", pred)):
        unknown = boxes["item_id"][~boxes["item_id"].isin(item_index)]
        if len(unknown):
            raise InputError(
                f"`{what}` must be for items listed in `items`. Got {len(unknown)} boxes of "
                f"unknown items, e.g. {unknown.iloc[0]!r}."
            )

    tp_item, pred_item, true_item = _box_counts(truth, pred, item_index, iou, class_aware)
    with np.errstate(divide="ignore", invalid="ignore"):
        overall = [tp_item.sum() / d.sum() if d.sum() else np.nan for d in (pred_item, true_item)]
    parts = []
    for column, codes, values in slicings(items.reset_index(drop=True), by, intersections):
        s_count = len(values)
        tp = np.bincount(codes, weights=tp_item, minlength=s_count)
        trials = np.stack([np.bincount(codes, weights=d, minlength=s_count)
                           for d in (pred_item, true_item)])  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            score = tp / trials
        low = high = np.full(trials.shape, np.nan)
        if ci is not None:
            low, high = wilson_interval(tp, trials, ci)
        n = np.bincount(codes, minlength=s_count)
        parts.append(report_rows(column, values, n, _METRICS, score, low, high, overall, min_size))
    return pd.concat(parts, ignore_index=True)
