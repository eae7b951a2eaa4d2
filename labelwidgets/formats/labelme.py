"""labelme JSON: one file per image, ``shapes`` with ``shape_type`` and pixel ``points``.

labelme (5.x) writes ``version``, ``flags``, ``shapes`` (``label``, ``points``, ``group_id``,
``description``, ``shape_type``, ``flags``, ``mask``), ``imagePath`` (relative to the JSON
file), ``imageData`` (base64 or null) and ``imageHeight``/``imageWidth``. Points are continuous
pixel coordinates: a ``rectangle`` ``[[x1, y1], [x2, y2]]`` is the box ``x = min(x1, x2)``,
``w = |x2 - x1|`` (labelme2voc writes those corners to VOC unchanged).

Shapes map to rows: ``rectangle`` -> ``kind="box"``, ``polygon`` -> ``"polygon"``, ``point``
and ``points`` -> ``"point"``. Polygons of one label that share a ``group_id`` are one
multi-part object (as labelme's ``labelme2coco`` merges them); :func:`to_labelme` writes a
multi-part polygon that way. ``group_id``, ``description`` and shape ``flags`` come back in
``attributes`` (other attributes ride in the shape's ``attributes`` key, which labelme keeps);
image ``flags`` in ``image_attributes``. ``imageData`` is never decoded: images are read
from files only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import pandas as pd

from .._validate import InputError
from ._common import (
    bounding_box,
    existing_image,
    files_below,
    frame,
    group_images,
    image_attributes,
    image_size,
    malformed,
    no_objects,
    prepare,
    read_json,
    sidecar_path,
)
from ._export import MANIFEST, ExportFolder

__all__ = ["to_labelme", "from_labelme"]

LABELME_VERSION = "5.5.0"
_SHAPE_KEYS = ("label", "points", "group_id", "description", "shape_type", "flags", "mask")
_KIND = {"rectangle": "box", "polygon": "polygon", "point": "point", "points": "point"}
_LEAST = {"rectangle": 2, "polygon": 3, "point": 1, "points": 1}


def from_labelme(source: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read labelme JSON files.

    Parameters
    ----------
    source : str, path-like, or iterable of them
        A folder (every ``*.json`` below it, sorted), one JSON file, or a list of them.

    Returns
    -------
    pandas.DataFrame
        ``item_id, path, width, height, kind, label, x, y, w, h, attributes,
        image_attributes``; one row per shape (a multi-part polygon is one row), one row
        with ``label`` missing for an image without shapes. ``item_id`` is the JSON file's
        folder relative to ``source`` joined with the file name of ``imagePath``; ``path`` is
        ``imagePath`` resolved from the JSON file's folder (or the same name beside it).

    Raises
    ------
    InputError
        If a file is not valid JSON, a key is missing or malformed, a shape has a type
        this package cannot hold as a row (``circle``, ``line``, ``linestrip``, ``mask``),
        or two files name the same image (naming both).
    """
    rows: list[tuple] = []
    owner: dict[str, str] = {}
    for json_path, rel_parent in _json_files(source):
        item_id = _read_one(json_path, rel_parent, rows)
        if item_id in owner:
            raise InputError(
                f"Every image must have one labelme file. {str(owner[item_id])!r} and "
                f"{str(json_path)!r} both name {item_id!r}; merge them or remove one."
            )
        owner[item_id] = json_path
    return frame(rows, extra=["image_attributes"])


def _json_files(source) -> list[tuple[str, str]]:
    """``(JSON file, its folder relative to source, "" at the top)`` of every file to read."""
    if isinstance(source, str | os.PathLike) and Path(source).is_dir():
        root = str(source)
        files = files_below(root, (".json",), skip=MANIFEST)
        if not files:
            raise InputError(
                f"`source` must be a folder holding labelme *.json files. Got {root!r}, "
                "which holds none."
            )
        cut = len(root.rstrip(os.sep)) + 1
        return [(f, os.path.dirname(f)[cut:].replace(os.sep, "/")) for f in files]
    sources = [Path(source)] if isinstance(source, str | os.PathLike) else [Path(s) for s in source]
    for path in sources:
        if not path.is_file():
            raise InputError(
                f"`source` must be a folder or existing JSON files. Got {str(path)!r} instead."
            )
    return [(str(p), "") for p in sources]


def _read_one(json_path: str, rel_parent: str, rows: list) -> str:
    data = read_json(json_path)
    if not isinstance(data, dict):
        raise malformed(json_path, "top level", "the document", "a JSON object", type(data).__name__)
    image_path = data.get("imagePath")
    if not isinstance(image_path, str) or not image_path:
        raise malformed(json_path, "top level", "imagePath", "a file name", image_path)
    shapes = data.get("shapes")
    if not isinstance(shapes, list):
        raise malformed(json_path, "top level", "shapes", "a list", shapes)
    image_path = image_path.replace("\\", "/")
    name = image_path.rsplit("/", 1)[-1]
    item_id = f"{rel_parent}/{name}" if rel_parent else name
    folder = os.path.dirname(json_path)
    path = existing_image(os.path.normpath(os.path.join(folder, image_path)), folder, name)
    width, height = data.get("imageWidth"), data.get("imageHeight")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        if not os.path.isfile(path):
            raise malformed(
                json_path, "top level", "imageWidth and imageHeight",
                "positive integers (or the image beside the file)", (width, height),
            )  # fmt: skip
        width, height = image_size(path)
    extra = {k: v for k, v in data.items() if k not in (
        "version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth")}
    if data.get("flags"):
        extra["flags"] = data["flags"]
    base = (item_id, path, width, height)
    merged: dict = {}  # (label, group_id) -> the row of the polygon's first part
    count = 0
    for k, shape in enumerate(shapes):
        where = f"shapes[{k}]"
        if not isinstance(shape, dict):
            raise malformed(json_path, where, where, "a JSON object", shape)
        kind, label, points, attrs = _shape(shape, json_path, where)
        key = (label, attrs.get("group_id"))
        if kind == "polygon" and key[1] is not None and key in merged:
            row = rows[merged[key]]
            row[10].setdefault("extra_parts", []).append(points)
            xywh = bounding_box([row[10]["points"], *row[10]["extra_parts"]])
            rows[merged[key]] = (*row[:6], *xywh, row[10], row[11])
            continue
        if kind == "polygon" and key[1] is not None:
            merged[key] = len(rows)
        if kind == "box":
            (x1, y1), (x2, y2) = points
            xywh = (min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1))
        else:
            attrs["points"] = points
            xywh = bounding_box([points])
        rows.append((*base, kind, label, *xywh, attrs, extra))
        count += 1
    if not count:
        rows.append((*no_objects(*base), extra))
    return item_id


def _shape(shape: dict, json_path: str, where: str):
    shape_type = shape.get("shape_type") or "polygon"  # labelme's default for old files
    if shape_type not in _KIND:
        raise malformed(
            json_path, where, "shape_type",
            f"one of {sorted(_KIND)} (rows hold boxes, polygons and points)", shape_type,
        )  # fmt: skip
    label = shape.get("label")
    if not isinstance(label, str) or not label.strip():
        raise malformed(json_path, where, "label", "a non-empty string", label)
    points = shape.get("points")
    try:
        points = [[float(p[0]), float(p[1])] for p in points]
        ok = all(len(p) == 2 for p in shape["points"]) and len(points) >= _LEAST[shape_type]
    except (TypeError, ValueError, IndexError, KeyError):
        ok = False
    if not ok or (shape_type == "rectangle" and len(points) != 2):
        raise malformed(
            json_path, where, "points",
            f"at least {_LEAST[shape_type]} [x, y] pairs for a {shape_type}", shape.get("points"),
        )  # fmt: skip
    attrs = dict(shape.get("attributes") or {})
    if shape.get("group_id") is not None:
        attrs["group_id"] = shape["group_id"]
    if shape.get("description"):
        attrs["description"] = shape["description"]
    if shape.get("flags"):
        attrs["flags"] = shape["flags"]
    for key, value in shape.items():
        if key not in _SHAPE_KEYS and key != "attributes":
            attrs[key] = value
    return _KIND[shape_type], label, points, attrs


def to_labelme(df: pd.DataFrame, out_dir: str | os.PathLike) -> Path:
    """Write one labelme JSON file per image (labelme opens them beside their images).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``item_id, path, label, x, y, w, h``; optional ``width, height``, ``kind``
        (``"box"``, ``"polygon"``, ``"point"``), ``attributes`` and ``image_attributes``. A
        row whose ``label`` is missing stands for an image without shapes.
    out_dir : str or path-like
        Folder to write into (created): new, empty, or an earlier ``to_labelme`` export,
        which is replaced. Item ``a/b.jpg`` is written to ``out_dir/a/b.json`` with
        ``imagePath`` the image's path relative to that file and ``imageData`` null.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    InputError
        On missing columns, a malformed shape, an item id that is not a relative path, two
        items that would share one file, or an ``out_dir`` holding files this package did
        not write.
    """
    data = prepare(df)
    folder = ExportFolder(out_dir, "labelme")
    labels, kinds = data["label"].tolist(), data["kind"].tolist()
    attrs, boxes = data["attributes"].tolist(), data[["x", "y", "w", "h"]].to_numpy().tolist()
    files: dict[PurePosixPath, str] = {}
    planned: dict[PurePosixPath, str] = {}
    free = max((a["group_id"] for a in attrs if type(a.get("group_id")) is int), default=0) + 1
    extras = image_attributes(data)
    for image in group_images(data):
        _, json_rel = sidecar_path(image.item_id, ".json", files)
        image_dir = folder.root.joinpath(*json_rel.parent.parts)
        shapes: list[dict] = []
        for i in image.rows:
            new, free = _shapes(labels[i], kinds[i], boxes[i], dict(attrs[i]), free)
            shapes += new
        extra = extras[image.first]
        document = {
            "version": LABELME_VERSION,
            "flags": extra.get("flags") or {},
            "shapes": shapes,
            "imagePath": Path(os.path.relpath(os.path.abspath(image.path), image_dir)).as_posix(),
            "imageData": None,
            "imageHeight": image.height,
            "imageWidth": image.width,
        }
        planned[json_rel] = json.dumps(document, ensure_ascii=False)
    folder.write_all(planned)
    return Path(out_dir)


def _shapes(label: str, kind: str, box: list, attrs: dict, free: int) -> tuple[list[dict], int]:
    points = attrs.pop("points", None)
    parts = attrs.pop("extra_parts", None) or []
    group_id = attrs.pop("group_id", None)
    if parts and group_id is None:
        group_id, free = free, free + 1  # labelme's way to say "these parts are one object"
    description, flags = attrs.pop("description", ""), attrs.pop("flags", {})
    if kind == "box":
        x, y, w, h = box
        rings, shape_type = [[[x, y], [x + w, y + h]]], "rectangle"
    elif kind == "polygon":
        rings, shape_type = [points, *parts], "polygon"
    else:
        rings, shape_type = [points], "point" if len(points) == 1 else "points"
    shapes = []
    for ring in rings:
        shape = {
            "label": label, "points": ring, "group_id": group_id, "description": description,
            "shape_type": shape_type, "flags": flags, "mask": None,
        }  # fmt: skip
        if attrs:
            shape["attributes"] = attrs  # labelme keeps unknown shape keys
        shapes.append(shape)
    return shapes, free
