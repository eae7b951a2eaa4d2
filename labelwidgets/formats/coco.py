"""COCO object-detection JSON: boxes, polygons (``segmentation``) and points (``keypoints``).

:func:`to_coco` writes ``info``, ``licenses``, ``images`` (``id`` from 1, ``file_name`` = the
item id, ``width``, ``height`` and ``path``), ``annotations`` (``id`` from 1, ``bbox``
``[x, y, w, h]`` in pixels, ``area``, ``iscrowd``, ``category_id``, ``segmentation``) and
``categories`` (ids from 1 in the order of the class list). Coordinates are written as
Python floats (shortest exact text), so a round trip is exact.

Polygon rows (``kind="polygon"``, points in ``attributes["points"]``) become one
``segmentation`` polygon (extra rings in ``attributes["extra_parts"]`` follow it); point rows
(``kind="point"``) become ``keypoints`` ``[x, y, 2, ...]`` with ``area`` 0, which is how
:func:`from_coco` tells them from keypoint-annotated boxes. Other attributes go into the
annotation's ``attributes`` object (the CVAT convention) and come back from it.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ._common import (
    check_classes,
    check_labels,
    frame,
    group_images,
    malformed,
    no_objects,
    polygon_area,
    prepare,
)

__all__ = ["to_coco", "from_coco"]


def to_coco(df: pd.DataFrame, path: str | os.PathLike, classes) -> Path:
    """Write a COCO JSON file.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``item_id, path, label, x, y, w, h``; optional ``width, height`` (read from
        the image, EXIF-corrected, where absent), ``kind`` (``"box"``, ``"polygon"``,
        ``"point"``) and ``attributes`` (dict or JSON text). A row whose ``label`` is missing
        stands for an image without objects (an ``images`` entry without annotations).
    path : str or path-like
        The JSON file to write (its folder is created).
    classes : list of str
        Class names; category ``k + 1`` is ``classes[k]``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        On missing columns, a label not in ``classes``, or a malformed box or point list.
    """
    data = prepare(df)
    names = check_classes(classes)
    check_labels(data, names)
    category = {name: k for k, name in enumerate(names, start=1)}
    labels, kinds, attrs = (
        data["label"].tolist(),
        data["kind"].tolist(),
        data["attributes"].tolist(),
    )
    boxes = data[["x", "y", "w", "h"]].to_numpy().tolist()
    images, annotations = [], []
    for image_id, image in enumerate(group_images(data), start=1):
        images.append(
            {
                "id": image_id,
                "file_name": image.item_id,
                "width": image.width,
                "height": image.height,
                "path": image.path,
            }  # fmt: skip
        )
        for i in image.rows:
            extra = dict(attrs[i])
            points = extra.pop("points", None)
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": category[labels[i]],
                "bbox": boxes[i],
                "area": boxes[i][2] * boxes[i][3],
                "iscrowd": int(extra.pop("iscrowd", 0)),
                "segmentation": [],
            }
            if kinds[i] == "polygon":
                rings = [points, *extra.pop("extra_parts", [])]
                ann["segmentation"] = [[v for p in ring for v in p] for ring in rings]
                ann["area"] = polygon_area(points)
            elif kinds[i] == "point":
                ann["keypoints"] = [v for p in points for v in (p[0], p[1], 2)]
                ann["num_keypoints"] = len(points)
                ann["area"] = 0.0
            if extra:
                ann["attributes"] = extra
            annotations.append(ann)
    now = datetime.now(timezone.utc)
    document = {
        "info": {
            "description": "Exported by labelwidgets",
            "version": "1.0",
            "year": now.year,
            "contributor": "",
            "url": "",
            "date_created": now.isoformat(timespec="seconds"),
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": k, "name": name, "supercategory": ""} for name, k in category.items()
        ],
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, ensure_ascii=False, default=str), encoding="utf-8")
    return target


def from_coco(path: str | os.PathLike) -> pd.DataFrame:
    """Read a COCO JSON file.

    Parameters
    ----------
    path : str or path-like
        The JSON file.

    Returns
    -------
    pandas.DataFrame
        ``item_id, path, width, height, kind, label, x, y, w, h, attributes``: one row per
        annotation, images in file order, and one row with ``label`` missing per image
        without annotations. ``item_id`` is ``file_name``; ``path`` is the image's ``path``
        key where present, else ``file_name`` beside the JSON file. ``kind`` is
        ``"polygon"`` for a polygon ``segmentation`` (``attributes["points"]``; more rings in
        ``attributes["extra_parts"]``), ``"point"`` for ``keypoints`` with ``area`` 0, else
        ``"box"`` (an RLE mask, keypoints, ``iscrowd`` 1 or a ``score`` kept in
        ``attributes``).

    Raises
    ------
    ValueError
        If the file is not valid JSON (naming line and column), a required key is missing
        or malformed, or an annotation names an unknown category or image (naming the
        element, e.g. ``annotations[12] (id 57)``, and the allowed ids).
    """
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{source}, line {exc.lineno}, column {exc.colno}: the file must be valid JSON "
            f"({exc.msg})."
        ) from exc
    if not isinstance(document, dict):
        raise malformed(
            source, "top level", "the document", "a JSON object", type(document).__name__
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(document.get(key), list):
            raise malformed(source, "top level", key, "a list", document.get(key, "<missing>"))
    categories = _categories(document["categories"], source)
    images = _images(document["images"], source)
    per_image: dict = {image_id: [] for image_id in images}
    for k, ann in enumerate(document["annotations"]):
        where = f"annotations[{k}]"
        _require(ann, ("id", "image_id", "category_id", "bbox"), source, where)
        where = f"annotations[{k}] (id {ann['id']})"
        if ann["category_id"] not in categories:
            raise malformed(
                source, where, "category_id", f"one of the category ids {sorted(categories)}",
                ann["category_id"],
            )  # fmt: skip
        if ann["image_id"] not in per_image:
            raise malformed(
                source, where, "image_id", "the id of an entry of images", ann["image_id"]
            )
        per_image[ann["image_id"]].append((where, ann))
    rows: list[tuple] = []
    for image_id, base in images.items():
        if not per_image[image_id]:
            rows.append(no_objects(*base))
        for where, ann in per_image[image_id]:
            kind, box, attrs = _shape(ann, source, where)
            rows.append((*base, kind, categories[ann["category_id"]], *box, attrs))
    return frame(rows)


def _require(entry, keys, source: Path, where: str) -> None:
    if not isinstance(entry, dict):
        raise malformed(source, where, where, "a JSON object", entry)
    for key in keys:
        if key not in entry:
            raise malformed(source, where, key, "present", f"<missing>; keys {sorted(entry)}")


def _categories(entries: list, source: Path) -> dict:
    categories = {}
    for k, cat in enumerate(entries):
        where = f"categories[{k}]"
        _require(cat, ("id", "name"), source, where)
        if cat["id"] in categories:
            raise malformed(source, where, "id", "unique among categories", cat["id"])
        if not isinstance(cat["name"], str) or not cat["name"]:
            raise malformed(source, where, "name", "a non-empty string", cat["name"])
        categories[cat["id"]] = cat["name"]
    return categories


def _images(entries: list, source: Path) -> dict:
    images = {}
    for k, image in enumerate(entries):
        where = f"images[{k}]"
        _require(image, ("id", "file_name", "width", "height"), source, where)
        if image["id"] in images:
            raise malformed(source, where, "id", "unique among images", image["id"])
        for key in ("width", "height"):
            value = image[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise malformed(source, where, key, "a positive number", value)
        name = str(image["file_name"])
        image_path = image.get("path") or str(source.parent / name)
        images[image["id"]] = (name, image_path, int(image["width"]), int(image["height"]))
    return images


_NUMBER_TYPES = (int, float)


def _numbers(values, source: Path, where: str, key: str, count: int | None = None) -> list[float]:
    ok = type(values) is list and (count is None or len(values) == count)
    # bool is not a number here; inf - inf is nan, so one sum tells whether all are finite
    ok = ok and all(type(v) in _NUMBER_TYPES for v in values) and math.isfinite(sum(values))
    if not ok:
        want = f"a list of {count} finite numbers" if count else "a list of finite numbers"
        raise malformed(source, where, key, want, values)
    return [float(v) for v in values]


def _shape(ann: dict, source: Path, where: str) -> tuple[str, list[float], dict]:
    box = _numbers(ann["bbox"], source, where, "bbox", 4)
    if box[2] < 0 or box[3] < 0:
        raise malformed(source, where, "bbox", "[x, y, w, h] with w, h >= 0", ann["bbox"])
    attrs = dict(ann.get("attributes") or {})
    if ann.get("iscrowd"):
        attrs["iscrowd"] = int(ann["iscrowd"])
    if "score" in ann:
        attrs["score"] = ann["score"]
    seg = ann.get("segmentation")
    if isinstance(seg, list) and seg:
        rings = []
        for r, ring in enumerate(seg):
            flat = _numbers(ring, source, f"{where} segmentation[{r}]", "polygon")
            if len(flat) < 6 or len(flat) % 2:
                raise malformed(
                    source, f"{where} segmentation[{r}]", "polygon",
                    "an even number >= 6 of coordinates", ring,
                )  # fmt: skip
            rings.append([[flat[j], flat[j + 1]] for j in range(0, len(flat), 2)])
        attrs["points"] = rings[0]
        if len(rings) > 1:
            attrs["extra_parts"] = rings[1:]
        return "polygon", box, attrs
    if isinstance(seg, dict):
        attrs["segmentation"] = seg  # an RLE mask: kept, not decoded
    keypoints = ann.get("keypoints")
    if keypoints:
        flat = _numbers(keypoints, source, where, "keypoints")
        if len(flat) % 3:
            raise malformed(source, where, "keypoints", "[x, y, v, ...] triples", keypoints)
        if ann.get("area", None) == 0:
            points = [[flat[j], flat[j + 1]] for j in range(0, len(flat), 3) if flat[j + 2] > 0]
            if points:
                attrs["points"] = points
                return "point", box, attrs
        attrs["keypoints"] = keypoints
    return "box", box, attrs
