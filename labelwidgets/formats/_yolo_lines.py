"""YOLO label lines from boxes and polygons (private; see :func:`~labelwidgets.formats.to_yolo`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import InputError
from ._common import ImageGroup

_TOLERANCE = 1e-9  # relative excess over the image border that counts as rounding, not clipping


class Columns(NamedTuple):
    kind: list
    label: list
    attributes: list
    xywh: list


def label_lines(columns: Columns, image: ImageGroup, class_id: dict) -> tuple[list[str], int]:
    kinds, labels, attrs, coords = columns
    rows = [i for i in image.rows if not attrs[i].get("iscrowd")]  # as convert_coco: no crowds
    shapes = {kinds[i] for i in rows}
    if "point" in shapes:
        i = next(i for i in rows if kinds[i] == "point")
        raise InputError(
            f"`kind` must be 'box' or 'polygon' for YOLO. Got 'point' in row {i} (item "
            f"{image.item_id!r}) instead; export points with to_coco."
        )
    if len(shapes) > 1:
        raise InputError(
            f"An image's YOLO label file must hold only boxes or only polygons (ultralytics drops "
            f"a file that mixes them as corrupt). Got both for item {image.item_id!r} (rows "
            f"{rows}); export boxes and polygons to separate folders."
        )
    W, H = image.width, image.height
    lines, clipped = [], 0
    for i in rows:
        cls = class_id[labels[i]]
        if kinds[i] == "box":
            x, y, w, h = coords[i]
            x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, W), min(y + h, H)
            if x1 <= x0 or y1 <= y0:
                raise InputError(
                    f"A box must overlap its image ({W} x {H} pixels). Got x={x:g}, y={y:g}, "
                    f"w={w:g}, h={h:g} in row {i} (item {image.item_id!r}) instead."
                )
            clipped += _outside(x, y, x + w, y + h, W, H)
            lines.append(
                f"{cls} {(x0 + x1) / 2 / W:.8f} {(y0 + y1) / 2 / H:.8f} "
                f"{(x1 - x0) / W:.8f} {(y1 - y0) / H:.8f}\n"
            )
        else:
            points = attrs[i]["points"]
            if attrs[i].get("extra_parts"):
                points = merge_parts([points, *attrs[i]["extra_parts"]])
            xs = [min(max(p[0], 0.0), W) for p in points]
            ys = [min(max(p[1], 0.0), H) for p in points]
            clipped += any(_outside(p[0], p[1], p[0], p[1], W, H) for p in points)
            coords_text = " ".join(
                f"{px / W:.8f} {py / H:.8f}" for px, py in zip(xs, ys, strict=True)
            )
            lines.append(f"{cls} {coords_text}\n")
    return lines, clipped


def merge_parts(parts: list[list[list[float]]]) -> list[list[float]]:
    """One outline from a multi-part polygon, as ultralytics' ``merge_multi_segment`` joins it.

    Neighbouring parts are linked at their closest pair of points; the outline runs forward
    through every part, then back through the middle ones, so each link is walked twice
    (a zero-width seam) and every point of every part is on the outline.

    Examples
    --------
    >>> merge_parts([[[0, 0], [1, 0], [1, 1]], [[3, 0], [4, 0], [4, 1]]])
    [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [4.0, 0.0], [4.0, 1.0], [3.0, 0.0]]
    """
    segments = [np.asarray(p, dtype=float).reshape(-1, 2) for p in parts]
    links: list[list[int]] = [[] for _ in segments]
    for k in range(1, len(segments)):
        a, b = segments[k - 1], segments[k]
        distance = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(np.argmin(distance, axis=None), distance.shape)
        links[k - 1].append(int(i))
        links[k].append(int(j))
    out = []
    last = len(segments) - 1
    for k, idx in enumerate(links):  # forward
        if len(idx) == 2 and idx[0] > idx[1]:
            idx = [len(segments[k]) - 1 - x for x in idx]
            segments[k] = segments[k][::-1, :]
        segments[k] = np.roll(segments[k], -idx[0], axis=0)
        segments[k] = np.concatenate([segments[k], segments[k][:1]])
        if k in (0, last):
            out.append(segments[k])
        else:
            out.append(segments[k][: idx[1] - idx[0] + 1])
    for k in range(last - 1, 0, -1):  # and back through the middle parts
        out.append(segments[k][abs(links[k][1] - links[k][0]) :])
    return np.concatenate(out, axis=0).tolist()


def _outside(x0: float, y0: float, x1: float, y1: float, W: int, H: int) -> bool:
    return (
        x0 < -_TOLERANCE * W or y0 < -_TOLERANCE * H
        or x1 > W * (1 + _TOLERANCE) or y1 > H * (1 + _TOLERANCE)
    )  # fmt: skip


