"""Pure box geometry (core layer): fixed-size placement, clipping and the checks on drawn boxes.

Boxes are dicts ``x, y, w, h, label`` in pixels of the EXIF-corrected image, top-left origin.
Used by the box annotator, crop export, formats and model pre-annotation alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real

from ._validate import InputError

__all__ = [
    "fit_box",
    "clip_box",
    "normalize_boxes",
    "check_box_size",
    "model_boxes",
    "snap_boxes",
    "check_region",
]

_GEOMETRY = ("x", "y", "w", "h")


def fit_box(
    cx: float, cy: float, w: float, h: float, width: float, height: float
) -> tuple[float, float]:
    """Place a box of exactly ``w`` x ``h`` centred on ``(cx, cy)``, shifted to lie inside the image.

    The box is moved, never shrunk: near a border it is shifted until all four edges lie
    inside ``[0, width] x [0, height]``. This is the rule of fixed-size click boxes and of
    fixed-size crops (README, "Conventions").

    Parameters
    ----------
    cx, cy : float
        The centre asked for (a click), in image pixels, top-left origin.
    w, h : float
        Size of the box; must be positive and no larger than the image.
    width, height : float
        Size of the (EXIF-corrected) image.

    Returns
    -------
    tuple of float
        ``(x, y)``, the top-left corner, with ``0 <= x <= width - w`` and
        ``0 <= y <= height - h``.

    Raises
    ------
    ValueError
        If a size is not positive and finite, or the box is larger than the image.

    Examples
    --------
    >>> fit_box(5, 50, 20, 20, 100, 80)     # near the left edge: shifted right
    (0.0, 40.0)
    >>> fit_box(50, 79, 20, 20, 100, 80)    # near the bottom edge: shifted up
    (40.0, 60.0)
    """
    for name, value in (("w", w), ("h", h), ("width", width), ("height", height)):
        if not (isinstance(value, Real) and math.isfinite(value) and value > 0):
            raise InputError(f"`{name}` must be a positive finite number. Got {value!r} instead.")
    for name, value in (("cx", cx), ("cy", cy)):
        if not (isinstance(value, Real) and math.isfinite(value)):
            raise InputError(f"`{name}` must be a finite number. Got {value!r} instead.")
    if w > width or h > height:
        raise InputError(
            f"The box size must fit inside the image ({width:g} x {height:g} pixels). "
            f"Got {w:g} x {h:g} instead; choose a smaller box size."
        )
    x = min(max(float(cx) - w / 2, 0.0), float(width) - w)
    y = min(max(float(cy) - h / 2, 0.0), float(height) - h)
    return x, y


def check_box_size(box_size) -> tuple[float, float] | None:
    """Validate ``box_size``: None or two positive finite numbers ``(w, h)``."""
    if box_size is None:
        return None
    if isinstance(box_size, Real) and not isinstance(box_size, bool):
        box_size = (box_size, box_size)
    ok = (
        isinstance(box_size, Sequence)
        and len(box_size) == 2
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in box_size)
        and all(math.isfinite(v) and v > 0 for v in box_size)
    )
    if not ok:
        raise InputError(
            f"`box_size` must be None or two positive numbers (w, h) in image pixels. "
            f"Got {box_size!r} instead."
        )
    return float(box_size[0]), float(box_size[1])


def clip_box(box: Mapping, width: float, height: float) -> tuple[dict | None, bool]:
    """Clip a box to the image ``[0, width] x [0, height]``.

    Returns
    -------
    (dict or None, bool)
        The clipped box (None when no area is left inside the image) and whether it changed.

    Examples
    --------
    >>> clip_box({"x": -10, "y": 5, "w": 30, "h": 10, "label": "a"}, 100, 100)
    ({'x': 0.0, 'y': 5.0, 'w': 20.0, 'h': 10.0, 'label': 'a'}, True)
    >>> clip_box({"x": 150, "y": 5, "w": 30, "h": 10, "label": "a"}, 100, 100)
    (None, True)
    """
    x0, y0 = float(box["x"]), float(box["y"])
    x1, y1 = x0 + float(box["w"]), y0 + float(box["h"])
    cx0, cy0 = min(max(x0, 0.0), width), min(max(y0, 0.0), height)
    cx1, cy1 = min(max(x1, 0.0), width), min(max(y1, 0.0), height)
    if cx1 <= cx0 or cy1 <= cy0:
        return None, True
    changed = (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1)
    out = dict(box)
    if changed:
        out.update(x=cx0, y=cy0, w=cx1 - cx0, h=cy1 - cy0)
    else:
        out.update(x=x0, y=y0, w=float(box["w"]), h=float(box["h"]))
    return out, changed


def normalize_boxes(
    boxes: Iterable[Mapping],
    classes: Sequence[str],
    width: float,
    height: float,
    box_size: tuple[float, float] | None = None,
) -> tuple[list[dict], list[str]]:
    """Check one image's boxes; clip those partly outside the image.

    Parameters
    ----------
    boxes : iterable of mapping
        Each with ``x, y, w, h, label`` in original pixels and optional ``attributes`` (dict)
        and ``confidence``.
    classes : sequence of str
        The allowed labels.
    width, height : float
        Size of the (EXIF-corrected) image.
    box_size : (float, float) or None, default=None
        In fixed-size mode, the size every box must have (to 1e-6 pixel).

    Returns
    -------
    (list of dict, list of str)
        The boxes as ``x, y, w, h, label, attributes`` (+ ``confidence`` when given) and one
        note per box that was clipped.

    Raises
    ------
    ValueError
        For an unknown class, a missing or non-finite coordinate, a size that is zero or
        negative, a box wholly outside the image, or (fixed-size mode) a box of another size.
    """
    if isinstance(boxes, Mapping) or isinstance(boxes, str):
        raise InputError(f"`boxes` must be a list of box dicts. Got {boxes!r} instead.")
    out, notes = [], []
    for i, box in enumerate(boxes):
        if not isinstance(box, Mapping):
            raise InputError(
                f"`boxes[{i}]` must be a dict with x, y, w, h, label. Got {box!r} instead."
            )
        missing = [k for k in (*_GEOMETRY, "label") if k not in box]
        if missing:
            raise InputError(
                f"`boxes[{i}]` must have keys x, y, w, h, label. Missing {missing} in {dict(box)!r}."
            )
        if box["label"] not in classes:
            raise InputError(
                f"`boxes[{i}]['label']` must be one of {list(classes)}. Got {box['label']!r} instead."
            )
        for k in _GEOMETRY:
            v = box[k]
            if not (isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)):
                raise InputError(f"`boxes[{i}]['{k}']` must be a finite number. Got {v!r} instead.")
        if box["w"] <= 0 or box["h"] <= 0:
            raise InputError(
                f"`boxes[{i}]` must have a positive width and height. Got w={box['w']!r}, "
                f"h={box['h']!r} instead."
            )
        if box_size is not None and (
            abs(box["w"] - box_size[0]) > 1e-6 or abs(box["h"] - box_size[1]) > 1e-6
        ):
            raise InputError(
                f"`boxes[{i}]` must be {box_size[0]:g} x {box_size[1]:g} pixels in fixed-size mode. "
                f"Got {box['w']:g} x {box['h']:g} instead; use click(x, y) to place boxes."
            )
        attrs = box.get("attributes") or {}
        if isinstance(attrs, str):
            attrs = json.loads(attrs)
        if not isinstance(attrs, Mapping):
            raise InputError(f"`boxes[{i}]['attributes']` must be a dict. Got {attrs!r} instead.")
        clean = {
            "x": float(box["x"]), "y": float(box["y"]), "w": float(box["w"]), "h": float(box["h"]),
            "label": box["label"], "attributes": dict(attrs) or None,
        }  # fmt: skip
        if box.get("confidence") is not None:
            clean["confidence"] = float(box["confidence"])
        clipped, changed = clip_box(clean, width, height)
        if clipped is None:
            raise InputError(
                f"`boxes[{i}]` must overlap the image (0, 0)-({width:g}, {height:g}). Got x={clean['x']:g}, "
                f"y={clean['y']:g}, w={clean['w']:g}, h={clean['h']:g}, wholly outside."
            )
        if changed:
            notes.append(
                f"box {i + 1} ({clean['label']}) was partly outside the image and was clipped to "
                f"x={clipped['x']:g}, y={clipped['y']:g}, w={clipped['w']:g}, h={clipped['h']:g}"
            )
        out.append(clipped)
    return out, notes


def model_boxes(
    found: Iterable[Mapping], classes: Sequence[str], width: float, height: float
) -> tuple[list[dict], list[str]]:
    """A detector's boxes as pre-annotations: known classes only, clipped to the image.

    Boxes of a class outside ``classes`` and boxes of zero or negative size are left out;
    boxes partly outside the image are clipped; boxes wholly outside are left out.

    Returns
    -------
    (list of dict, list of str)
        The kept boxes and the sorted names of the unknown classes that were left out.

    Examples
    --------
    >>> kept, unknown = model_boxes(
    ...     [{"x": -5, "y": 0, "w": 10, "h": 10, "label": "cat", "confidence": 0.9},
    ...      {"x": 0, "y": 0, "w": 10, "h": 10, "label": "bus", "confidence": 0.8}],
    ...     ["cat"], 100, 100)
    >>> kept, unknown
    ([{'x': 0.0, 'y': 0.0, 'w': 5.0, 'h': 10.0, 'label': 'cat', 'confidence': 0.9}], ['bus'])
    """
    kept, unknown = [], set()
    for box in found:
        if box["label"] not in classes:
            unknown.add(str(box["label"]))
            continue
        if not (box["w"] > 0 and box["h"] > 0):
            continue
        clipped, _ = clip_box(box, width, height)
        if clipped is not None:
            kept.append(clipped)
    return kept, sorted(unknown)


def snap_boxes(
    boxes: Iterable[Mapping], box_size: tuple[float, float], width: float, height: float
) -> list[dict]:
    """Boxes of another size (model boxes, an earlier box size) as fixed-size boxes.

    Each box keeps its centre and gets exactly ``box_size``, shifted inside the image by
    :func:`fit_box`; boxes already of that size (to 1e-6 pixel) are kept as they are.

    Raises
    ------
    InputError
        If ``box_size`` does not fit inside the image.

    Examples
    --------
    >>> snap_boxes([{"x": 0, "y": 10, "w": 10, "h": 20, "label": "a"}], (8, 8), 100, 100)
    [{'x': 1.0, 'y': 16.0, 'w': 8.0, 'h': 8.0, 'label': 'a'}]
    """
    w, h = box_size
    out = []
    for box in boxes:
        if abs(box["w"] - w) <= 1e-6 and abs(box["h"] - h) <= 1e-6:
            out.append(dict(box))
            continue
        x, y = fit_box(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2, w, h, width, height)
        out.append({**box, "x": x, "y": y, "w": float(w), "h": float(h)})
    return out


def check_region(region: Mapping, width: int, height: int) -> tuple[int, int, int, int]:
    """A region of the image asked for by the front end, as whole pixels inside the image.

    Parameters
    ----------
    region : mapping
        ``x, y, w, h`` in original pixels (a zoomed view's full-resolution crop).
    width, height : int
        Size of the (EXIF-corrected) image.

    Returns
    -------
    (int, int, int, int)
        ``(left, top, right, bottom)``: the smallest whole-pixel rectangle holding the region,
        cut to the image.

    Examples
    --------
    >>> check_region({"x": 10.5, "y": -3, "w": 20, "h": 10}, 100, 100)
    (10, 0, 31, 7)
    """
    try:
        x, y, w, h = (float(region[k]) for k in _GEOMETRY)
    except (KeyError, TypeError, ValueError):
        raise InputError(
            f"`region` must be a dict of numbers x, y, w, h. Got {region!r} instead."
        ) from None
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise InputError(
            f"`region` must have finite x, y and a positive w, h. Got {dict(region)!r} instead."
        )
    left, top = max(0, math.floor(x)), max(0, math.floor(y))
    right, bottom = min(int(width), math.ceil(x + w)), min(int(height), math.ceil(y + h))
    if right <= left or bottom <= top:
        raise InputError(
            f"`region` must overlap the image (0, 0)-({width}, {height}). Got {dict(region)!r}."
        )
    return left, top, right, bottom
