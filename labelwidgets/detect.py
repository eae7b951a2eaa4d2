"""Model pre-annotation and its review (logic layer).

Run a detector on one image and get the store's box dicts (:func:`detect_boxes`); record what a
rater decided about each pre-drawn box (:func:`review_boxes`), read it back
(:func:`boxes_from_rows`) and measure the model's precision from those decisions
(:func:`model_review`, :func:`model_precision`).

A detector is an ultralytics model (anything with ``predict`` and ``names``) or a plain callable
``(PIL.Image) -> list of box dicts``. Nothing here imports torch or ultralytics itself.

A reviewed box keeps the model box it started from in ``attributes["review"]``:
``{"verdict", "model", "label", "confidence", "x", "y", "w", "h"}`` with ``verdict`` one of
``"accepted"`` (kept as drawn), ``"changed"`` (moved, resized or relabelled) or ``"rejected"``.
A rejected model box is stored as a row with ``label`` NULL (so no view counts it as an object)
and the model box's geometry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ._validate import InputError, check_choice, check_columns, check_fraction

__all__ = [
    "detect_boxes",
    "boxes_from_result",
    "detector_name",
    "check_detector",
    "review_boxes",
    "boxes_from_rows",
    "model_review",
    "model_precision",
    "VERDICTS",
]

#: What a rater decided about a pre-drawn model box.
VERDICTS = ("accepted", "changed", "rejected")
_GEOMETRY = ("x", "y", "w", "h")


def check_detector(detector):
    """``detector`` if it is an ultralytics model or a callable, else an :class:`InputError`."""
    if detector is not None and not (callable(detector) or hasattr(detector, "predict")):
        raise InputError(
            "`detector` must be an ultralytics YOLO model or a callable (PIL image) -> list of "
            f"box dicts. Got {type(detector).__name__!r} instead."
        )
    return detector


def detect_boxes(detector, image: Image.Image, options: Mapping | None = None) -> list[dict]:
    """Run a detector on one upright RGB image; boxes in its pixels.

    Parameters
    ----------
    detector : ultralytics.YOLO or callable
        An ultralytics model (anything with ``predict`` and ``names``), or a callable
        ``(PIL.Image) -> list of dicts x, y, w, h, label[, confidence]``.
    image : PIL.Image.Image
        The EXIF-corrected RGB image.
    options : mapping or None, default=None
        Keyword arguments of an ultralytics model's ``predict`` (``conf``, ``iou``,
        ``max_det``, ``imgsz``, ...); not used with a plain callable.

    Returns
    -------
    list of dict
        ``x, y, w, h, label, confidence`` per box (``confidence`` None when not given).
    """
    if hasattr(detector, "predict") and hasattr(detector, "names"):
        kwargs = {"verbose": False, **(options or {})}
        return boxes_from_result(detector.predict(image, **kwargs)[0])
    if not callable(detector):
        raise InputError(
            "`detector` must be an ultralytics YOLO model or a callable (PIL image) -> list of "
            f"box dicts. Got {type(detector).__name__!r} instead."
        )
    boxes = detector(image)
    if isinstance(boxes, pd.DataFrame):
        boxes = boxes.to_dict("records")
    return [
        {"x": float(b["x"]), "y": float(b["y"]), "w": float(b["w"]), "h": float(b["h"]),
         "label": b["label"], "confidence": None if b.get("confidence") is None else float(b["confidence"])}
        for b in boxes
    ]  # fmt: skip


def boxes_from_result(result) -> list[dict]:
    """One ultralytics ``Results`` object as box dicts ``x, y, w, h, label, confidence``."""
    names = result.names
    xyxy = result.boxes.xyxy.cpu().numpy().tolist()
    confs = result.boxes.conf.cpu().numpy().tolist()
    cls = result.boxes.cls.cpu().numpy().astype(int).tolist()
    return [
        {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0, "label": names[c], "confidence": p}
        for (x0, y0, x1, y1), p, c in zip(xyxy, confs, cls, strict=True)
    ]


def detector_name(detector) -> str:
    """A readable name for a detector: the weights' stem, the YAML's stem, or the callable's name."""
    for attr in ("ckpt_path", "model_name", "cfg"):
        value = getattr(detector, attr, None)
        if isinstance(value, str | Path) and str(value):
            return Path(str(value)).stem
    name = getattr(detector, "name", None) or getattr(detector, "__name__", None)
    return str(name) if name else type(detector).__name__


# ----------------------------------------------------------------------------- review
def review_boxes(
    boxes: Iterable[Mapping],
    model: str | None = None,
    tol: float = 1e-6,
    offered: Sequence[Mapping] = (),
) -> tuple[list[dict], list[dict]]:
    """A rater's answer on an image shown with model boxes: the boxes kept and the rejections.

    Parameters
    ----------
    boxes : iterable of mapping
        The rater's boxes (``x, y, w, h, label``, ``attributes``). A box that was pre-drawn
        from a model box carries ``model``: that box as shown (``x, y, w, h, label``, optional
        ``confidence``, ``name`` and ``verdict``). Boxes without ``model`` are the rater's own.
    model : str or None, default=None
        Name of the model, used where a box's ``model`` has no ``name``.
    tol : float, default=1e-6
        Largest coordinate difference, in pixels, that still counts as "as drawn".
    offered : sequence of mapping, default=()
        The model boxes that were on screen (each as in ``model`` above). One that no box of
        ``boxes`` comes from was left out by the rater: it counts as rejected.

    Returns
    -------
    (list of dict, list of dict)
        The kept boxes, each model-derived one with ``attributes["review"]`` (verdict
        ``"accepted"`` when equal to the model box within ``tol`` and of the same class,
        else ``"changed"``; an undecided box counts as accepted), and one row per model box
        whose verdict is ``"rejected"`` (``label`` None, the model box's geometry).

    Examples
    --------
    >>> m = {"x": 0, "y": 0, "w": 10, "h": 10, "label": "cat", "confidence": 0.9}
    >>> kept, rejected = review_boxes(
    ...     [{**m, "model": m}, {**m, "x": 50, "model": {**m, "x": 50, "verdict": "rejected"}}],
    ...     model="yolo")
    >>> kept[0]["attributes"]["review"]["verdict"], rejected[0]["label"], rejected[0]["x"]
    ('accepted', None, 50.0)
    """
    kept, rejected = [], []
    boxes = list(boxes)
    for shown in offered:
        if not any(_same(b.get("model") or {}, shown, tol) for b in boxes):
            boxes.append({**shown, "model": {**shown, "verdict": "rejected"}})
    for i, box in enumerate(boxes):
        out = {k: v for k, v in box.items() if k != "model"}
        attrs = dict(out.get("attributes") or {})
        attrs.pop("review", None)
        shown = box.get("model")
        if not shown:
            kept.append({**out, "attributes": attrs or None})
            continue
        if not isinstance(shown, Mapping) or any(k not in shown for k in (*_GEOMETRY, "label")):
            raise InputError(
                f"`boxes[{i}]['model']` must be the model box as shown (x, y, w, h, label). "
                f"Got {shown!r} instead."
            )
        verdict = shown.get("verdict") or "pending"
        check_choice(verdict, ("pending", *VERDICTS), f"boxes[{i}]['model']['verdict']")
        record = {
            "model": shown.get("name") or model,
            "label": shown["label"],
            "confidence": None if shown.get("confidence") is None else float(shown["confidence"]),
            **{k: float(shown[k]) for k in _GEOMETRY},
        }
        if verdict == "rejected":
            rejected.append(
                {**{k: record[k] for k in _GEOMETRY}, "label": None,
                 "attributes": {"review": {"verdict": "rejected", **record}}}
            )  # fmt: skip
            continue
        same = _same(box, shown, tol)
        attrs["review"] = {"verdict": "accepted" if same else "changed", **record}
        kept.append({**out, "attributes": attrs})
    return kept, rejected


def _same(a: Mapping, b: Mapping, tol: float) -> bool:
    """Same class and the same geometry within ``tol`` pixels."""
    return (
        "label" in a
        and a.get("label") == b.get("label")
        and all(k in a and abs(float(a[k]) - float(b[k])) <= tol for k in _GEOMETRY)
    )


def _attributes(value) -> dict:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value:
        return json.loads(value)
    return {}


def boxes_from_rows(rows: pd.DataFrame) -> list[dict]:
    """The boxes of one submission's store rows, as the box annotator shows them.

    The inverse of :func:`review_boxes`: a row with ``attributes["review"]`` gets ``model``
    back (the model box and its verdict); a rejection row becomes the rejected model box; the
    "no objects" row (``label`` NULL, no review) gives nothing.

    Examples
    --------
    >>> rows = pd.DataFrame({"x": [1.0], "y": [2.0], "w": [3.0], "h": [4.0], "label": ["cat"],
    ...                      "attributes": ['{"occluded": true}'], "confidence": [None]})
    >>> boxes_from_rows(rows)
    [{'x': 1.0, 'y': 2.0, 'w': 3.0, 'h': 4.0, 'label': 'cat', 'attributes': {'occluded': True}}]
    """
    out = []
    for row in rows.to_dict("records"):
        attrs = _attributes(row.get("attributes"))
        review = attrs.pop("review", None)
        label = row.get("label")
        has_label = isinstance(label, str)
        if not has_label and not (review and review.get("verdict") == "rejected"):
            continue
        if has_label:
            box = {k: float(row[k]) for k in _GEOMETRY}
            box.update(label=label, attributes=attrs)
            confidence = row.get("confidence")
            if confidence is not None and not pd.isna(confidence):
                box["confidence"] = float(confidence)
        else:  # the rejected model box, shown again so that the decision can be changed
            box = {**{k: float(review[k]) for k in _GEOMETRY}, "label": review["label"],
                   "attributes": attrs}  # fmt: skip
        if review:
            box["model"] = {
                **{k: float(review[k]) for k in _GEOMETRY}, "label": review["label"],
                "confidence": review.get("confidence"), "name": review.get("model"),
                "verdict": review["verdict"],
            }  # fmt: skip
        out.append(box)
    return out


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of row i of ``a`` with row i of ``b`` (n x 4 arrays of x, y, w, h)."""
    iw = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


REVIEW_COLUMNS = [
    "model", "reviewed", "accepted", "changed", "rejected", "precision_as_drawn", "precision",
    "mean_iou_changed",
]  # fmt: skip


def model_review(
    rows: pd.DataFrame, iou: float = 0.5, by: Sequence[str] = ("model",)
) -> pd.DataFrame:
    """A model's precision as its reviewers judged it, from the store's rows.

    Every reviewed model box counts once per rater who decided on it. A box is a true
    positive when it was accepted as drawn, or changed into a box of the same class that
    overlaps it with IoU >= ``iou`` (moved a little, resized a little); a rejected box, a
    relabelled one and one moved far away are false positives.

    Parameters
    ----------
    rows : pandas.DataFrame
        Annotation rows with ``x, y, w, h, label, attributes``, such as
        ``store.current(task="boxes", source="human")`` (``labels()`` would leave out the
        rejections, which have no label).
    iou : float, default=0.5
        The overlap a changed box needs with its model box to still count as found.
    by : sequence of str, default=("model",)
        Group by the model's name and optionally ``"label"`` (the model box's class) and any
        column of ``rows`` (``"rater"``, ``"item_id"``).

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``reviewed``, ``accepted``, ``changed``,
        ``rejected``, ``precision_as_drawn`` (accepted / reviewed), ``precision``
        (true positives / reviewed) and ``mean_iou_changed``.

    Examples
    --------
    >>> m = {"x": 0, "y": 0, "w": 10, "h": 10, "label": "cat"}
    >>> kept, rejected = review_boxes([{**m, "model": m}, {**m, "w": 9, "model": m},
    ...                                {**m, "model": {**m, "verdict": "rejected"}}], model="yolo")
    >>> table = model_review(pd.DataFrame(kept + rejected))
    >>> table[["model", "reviewed", "accepted", "changed", "rejected", "precision"]]
      model  reviewed  accepted  changed  rejected  precision
    0  yolo         3         1        1         1   0.666667
    """
    check_fraction(iou, "iou")
    check_columns(rows, [*_GEOMETRY, "label", "attributes"], "rows")
    by = [by] if isinstance(by, str) else list(by)
    check_columns(rows.assign(model=None), [c for c in by if c != "label"], "rows")
    records = []
    for row in rows.to_dict("records"):
        review = _attributes(row.get("attributes")).get("review")
        if not review:
            continue
        kept = isinstance(row.get("label"), str)
        rec = {c: row.get(c) for c in by if c not in ("model", "label")}
        rec.update(
            model=review.get("model"), label=review["label"], verdict=review["verdict"],
            same_label=kept and row["label"] == review["label"],
            drawn=[float(row[k]) if kept else math.nan for k in _GEOMETRY],
            shown=[float(review[k]) for k in _GEOMETRY],
        )  # fmt: skip
        records.append(rec)
    if not records:
        return pd.DataFrame(columns=[*by, *REVIEW_COLUMNS[1:]])
    df = pd.DataFrame(records)
    overlap = _pair_iou(np.array(df["drawn"].tolist()), np.array(df["shown"].tolist()))
    df["iou"] = np.where(df["verdict"] == "rejected", 0.0, np.nan_to_num(overlap))
    df["found"] = (df["verdict"] == "accepted") | (
        (df["verdict"] == "changed") & df["same_label"] & (df["iou"] >= iou)
    )
    for verdict in VERDICTS:
        df[verdict] = df["verdict"] == verdict
    df["iou_changed"] = df["iou"].where(df["changed"])
    out = df.groupby(by, dropna=False, sort=True).agg(
        reviewed=("verdict", "size"), accepted=("accepted", "sum"), changed=("changed", "sum"),
        rejected=("rejected", "sum"), found=("found", "sum"),
        mean_iou_changed=("iou_changed", "mean"),
    )  # fmt: skip
    out["precision_as_drawn"] = out["accepted"] / out["reviewed"]
    out["precision"] = out.pop("found") / out["reviewed"]
    return out.reset_index()[[*by, *REVIEW_COLUMNS[1:]]]


def model_precision(store, task: str = "boxes", rater: str | None = None, iou: float = 0.5,
                    by: Sequence[str] = ("model",)) -> pd.DataFrame:  # fmt: skip
    """:func:`model_review` of a box task's current human answers in ``store``.

    Parameters
    ----------
    store : LabelStore
        The store the box annotator wrote to.
    task : str, default="boxes"
        The box task.
    rater : str or None, default=None
        Only this rater's decisions (default: every rater's).
    iou : float, default=0.5
        See :func:`model_review`.
    by : sequence of str, default=("model",)
        See :func:`model_review`.
    """
    return model_review(store.current(task=task, rater=rater, source="human"), iou=iou, by=by)
