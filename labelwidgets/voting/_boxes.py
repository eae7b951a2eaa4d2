"""Box tasks: greedy IoU matching of several raters' boxes and their resolution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._common import _AGREED, _NEUTRAL, _SINGLE, _TIEBROKEN, RESOLVED_COLUMNS, STATUSES, _Rule


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes ``a`` (m x 4) and ``b`` (k x 4) given as x, y, w, h."""
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(
        np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0][:, None], b[:, 0][None]), 0, None
    )
    ih = np.clip(
        np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1][:, None], b[:, 1][None]), 0, None
    )
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_boxes(boxes_by_rater: Mapping[str, Sequence[Mapping]], iou: float = 0.5) -> list[dict]:
    """Group several raters' boxes into objects by greedy IoU matching.

    Parameters
    ----------
    boxes_by_rater : mapping of rater -> list of box dicts (``label, x, y, w, h``)
        Raters are processed in name order.
    iou : float, default=0.5
        Least IoU for a box to join an object (against the mean of the object's boxes).

    Returns
    -------
    list of dict
        One dict rater -> box per object, in order of creation.
    """
    objects: list[dict] = []
    for rater in sorted(boxes_by_rater):
        boxes = list(boxes_by_rater[rater])
        if not boxes:
            continue
        xywh = np.array([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], dtype=float)
        used_obj: set[int] = set()
        used_box: set[int] = set()
        if objects:
            means = np.array([np.mean([[b["x"], b["y"], b["w"], b["h"]] for b in o.values()], axis=0)
                              for o in objects])  # fmt: skip
            m = _iou(means, xywh)
            flat = np.argsort(-m, axis=None, kind="stable")  # ties: earlier object, then box
            for o, b in zip(*np.unravel_index(flat, m.shape), strict=True):
                if m[o, b] < iou:
                    break
                if o in used_obj or b in used_box:
                    continue
                objects[o][rater] = boxes[b]
                used_obj.add(int(o))
                used_box.add(int(b))
        for b, box in enumerate(boxes):
            if b not in used_box:
                objects.append({rater: box})
    return objects


def _mean_box(boxes: Sequence[Mapping], label: str) -> dict:
    xywh = np.mean([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], axis=0)
    return {
        "label": label,
        "x": float(xywh[0]),
        "y": float(xywh[1]),
        "w": float(xywh[2]),
        "h": float(xywh[3]),
    }


def _resolve_boxes(df: pd.DataFrame, rule: _Rule, iou: float, votes: bool) -> pd.DataFrame:
    """Resolution of box votes: a Python loop per (item, task), greedy IoU matching inside."""
    rows = []
    tie = rule.policy == "tiebreak"
    for (item, task), g in df.groupby(["item_id", "task"], sort=False):
        per_rater: dict[str, list[dict]] = {}
        for rater, rg in g.groupby("rater", sort=True):
            rg = rg.dropna(subset=["label"])
            per_rater[rater] = [
                {
                    "label": r.label,
                    "x": float(r.x),
                    "y": float(r.y),
                    "w": float(r.w),
                    "h": float(r.h),
                }
                for r in rg.itertuples(index=False)
            ]
        n = len(per_rater)
        objects = match_boxes(per_rater, iou)
        agreed, majority, disputed = [], [], []
        unanimous = decided = True
        for obj in objects:
            values = [obj[r]["label"] if r in obj else None for r in per_rater]
            counts = pd.Series(values, dtype=object).value_counts(dropna=False)
            top, top_n = counts.index[0], int(counts.iloc[0])
            present = isinstance(top, str)  # None / NaN: the majority saw no object here
            if top_n == n:
                if present:
                    agreed.append(_mean_box(list(obj.values()), top))
                continue
            unanimous = False
            disputed.append(_mean_box(list(obj.values()), rule.neutral_label))
            if tie and n >= 3 and 2 * top_n > n:
                if present:
                    majority.append(_mean_box([b for b in obj.values() if b["label"] == top], top))
            else:
                decided = False
        status = int(rule.status(np.array([n]), np.array([unanimous]), np.array([decided]))[0])
        if status in (_AGREED, _SINGLE):
            label = agreed
        elif status == _TIEBROKEN:
            label = agreed + majority
        elif status == _NEUTRAL:
            label = agreed + disputed
        else:
            label = None
        rows.append({"item_id": item, "task": task, "label": label, "status": STATUSES[status],
                     "n_votes": n, "votes": per_rater})  # fmt: skip
    out = pd.DataFrame(rows, columns=RESOLVED_COLUMNS)
    out["status"] = pd.Categorical(out["status"], categories=list(STATUSES))
    out["n_votes"] = out["n_votes"].astype(np.int64)
    return out if votes else out.drop(columns=["votes"])
