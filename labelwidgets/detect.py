"""Model pre-annotation (logic layer): run a detector on one image and get the store's box dicts.

A detector is an ultralytics model (anything with ``predict`` and ``names``) or a plain callable
``(PIL.Image) -> list of box dicts``. Nothing here imports torch or ultralytics itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from PIL import Image

from ._validate import InputError

__all__ = ["detect_boxes", "boxes_from_result", "detector_name", "check_detector"]


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
