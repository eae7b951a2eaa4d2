"""COCO object-detection JSON: boxes, polygons (``segmentation``), crowd masks and keypoints.

:func:`from_coco` keeps what it reads: image ids, category ids (COCO's own 1..90 have gaps),
annotation ids, every other key of an image entry (``license``, ``coco_url``, ``flickr_url``,
``date_captured``, Roboflow's ``extra``) in ``image_attributes``, and the file's ``info``,
``licenses`` and ``categories`` in ``df.attrs["coco"]``. :func:`to_coco` writes them back
unless asked to ``renumber``; new files get image and annotation ids from 1 and category ids
from 1 in the order of the class list.

Polygon rows (``kind="polygon"``, points in ``attributes["points"]``) become a
``segmentation`` (more parts in ``attributes["extra_parts"]``; ``bbox`` and ``area`` cover
every part); a crowd region stays an RLE ``segmentation`` with ``iscrowd`` 1; ``keypoints``
are kept beside a box or a polygon; point rows (``kind="point"``) become ``keypoints``
``[x, y, 2, ...]`` with ``area`` 0, which is how :func:`from_coco` tells them from
keypoint-annotated boxes. Other attributes go into the annotation's ``attributes`` object
(CVAT's convention) and come back from it. Coordinates are written as Python floats (the
shortest exact text), so a round trip is exact.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .._validate import InputError, check_names
from ._coco_read import IMAGE_KEYS, read_coco, rle_area
from ._common import check_labels, group_images, image_attributes, polygon_area, prepare
from ._export import write_atomic

__all__ = ["to_coco", "from_coco"]

#: image_attributes keys that belong to other formats and are not written into COCO images
_FOREIGN_IMAGE_KEYS = frozenset({"segmented", "source", "owner", "depth", "verified", "flags"})


def to_coco(
    df: pd.DataFrame, path: str | os.PathLike, classes=None, renumber: bool = False
) -> Path:
    """Write a COCO JSON file.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``item_id, path, label, x, y, w, h``; optional ``width, height`` (read from
        the image, EXIF-corrected, where absent), ``kind`` (``"box"``, ``"polygon"``,
        ``"point"``), ``attributes`` (dict or JSON text), ``confidence`` (written as
        ``score``), and the ``image_attributes``, ``image_id``, ``category_id`` and
        ``annotation_id`` that :func:`from_coco` returns. A row whose ``label`` is missing
        stands for an image without objects (an ``images`` entry without annotations).
    path : str or path-like
        The JSON file to write (its folder is created). An existing file is replaced
        whole, never half-written; a link is refused.
    classes : list of str, dict, list of dict, or None, default=None
        The categories: class names (ids as ``df``'s ``category_id`` column records them,
        else from 1 in this order), a mapping ``{category id: name}``, or COCO category
        dicts (``id``, ``name`` and optionally ``supercategory``, ``keypoints``,
        ``skeleton``, written as given). None uses the categories :func:`from_coco` recorded
        in ``df.attrs["coco"]``.
    renumber : bool, default=False
        Number images, annotations and categories afresh from 1 (categories in the order of
        ``classes``) instead of keeping the ids ``df`` records.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputError
        On missing columns, a label not among the categories, two items or annotations with
        the same recorded id (pass ``renumber=True``), or a malformed box or point list.
    """
    source_attrs = dict(df.attrs.get("coco") or {}) if isinstance(df, pd.DataFrame) else {}
    data = prepare(df)
    categories = _categories(classes, data, source_attrs, renumber)
    check_labels(data, [c["name"] for c in categories])
    category = {c["name"]: c["id"] for c in categories}
    groups = group_images(data)
    image_ids = _ids(data, "image_id", [g.first for g in groups], renumber, "item")
    object_rows = [i for g in groups for i in g.rows]
    ann_ids = dict(
        zip(object_rows, _ids(data, "annotation_id", object_rows, renumber, "annotation"),
            strict=True)
    )  # fmt: skip
    labels, kinds = data["label"].tolist(), data["kind"].tolist()
    attrs = data["attributes"].tolist()
    boxes = data[["x", "y", "w", "h"]].to_numpy().tolist()
    confidence = data["confidence"].tolist() if "confidence" in data else None
    images, annotations = [], []
    extras = image_attributes(data)
    for image, image_id in zip(groups, image_ids, strict=True):
        entry = {
            "id": image_id, "file_name": image.item_id, "width": image.width,
            "height": image.height, "path": image.path,
        }  # fmt: skip
        for key, value in extras[image.first].items():
            if key not in IMAGE_KEYS and key not in _FOREIGN_IMAGE_KEYS:
                entry[key] = value
        images.append(entry)
        for i in image.rows:
            ann = _annotation(attrs[i], kinds[i], boxes[i])
            ann["id"] = ann_ids[i]
            ann["image_id"] = image_id
            ann["category_id"] = category[labels[i]]
            if confidence is not None and "score" not in ann and not _nan(confidence[i]):
                ann["score"] = float(confidence[i])
            annotations.append(ann)
    now = datetime.now(timezone.utc)
    info = source_attrs.get("info") or {
        "description": "Exported by labelwidgets", "version": "1.0", "year": now.year,
        "contributor": "", "url": "", "date_created": now.isoformat(timespec="seconds"),
    }  # fmt: skip
    document = {
        "info": info,
        "licenses": source_attrs.get("licenses") or [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    target = Path(path)
    write_atomic(target, json.dumps(document, ensure_ascii=False, default=str))
    return target


_ANN_ORDER = ("id", "image_id", "category_id")


def _annotation(attrs: dict, kind: str, box: list) -> dict:
    if not attrs and kind == "box":  # the common case
        return {"id": None, "image_id": None, "category_id": None, "bbox": box,
                "area": box[2] * box[3], "iscrowd": 0, "segmentation": []}  # fmt: skip
    extra = dict(attrs)
    points = extra.pop("points", None)
    parts = extra.pop("extra_parts", None) or []
    keypoints = extra.pop("keypoints", None)
    num_keypoints = extra.pop("num_keypoints", None)
    segmentation = extra.pop("segmentation", None)
    ann = dict.fromkeys(_ANN_ORDER)
    ann["bbox"] = box
    ann["area"] = box[2] * box[3]
    ann["iscrowd"] = int(extra.pop("iscrowd", 0))
    ann["segmentation"] = []
    if kind == "polygon":
        rings = [points, *parts]
        ann["segmentation"] = [[v for p in ring for v in p] for ring in rings]
        ann["area"] = sum(polygon_area(ring) for ring in rings)
    elif kind == "point":
        keypoints = [v for p in points for v in (p[0], p[1], 2)]
        num_keypoints = len(points)
        ann["area"] = 0.0
    elif isinstance(segmentation, dict):  # a crowd region's RLE mask, kept as it was read
        ann["segmentation"] = segmentation
        ann["area"] = float(rle_area(segmentation))
    if keypoints is not None:
        ann["keypoints"] = keypoints
        ann["num_keypoints"] = (
            num_keypoints if num_keypoints is not None
            else sum(1 for v in keypoints[2::3] if v > 0)
        )  # fmt: skip
    if "score" in extra:
        ann["score"] = extra.pop("score")
    if extra:
        ann["attributes"] = extra
    return ann


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _categories(classes, data: pd.DataFrame, source_attrs: dict, renumber: bool) -> list[dict]:
    """The categories to write, as COCO dicts in order."""
    if classes is None:
        classes = source_attrs.get("categories")
        if classes is None:
            raise InputError(
                "`classes` must be given (class names, {id: name}, or COCO category dicts) "
                "unless `df` comes from from_coco. Got None instead."
            )
    if isinstance(classes, dict):
        cats = [{"id": k, "name": v} for k, v in classes.items()]
    elif not isinstance(classes, str) and len(classes) and all(isinstance(c, dict) for c in classes):
        for c in classes:
            if "id" not in c or "name" not in c:
                raise InputError(
                    f"`classes` must hold COCO category dicts with 'id' and 'name'. Got {c!r} "
                    "instead."
                )
        cats = [dict(c) for c in classes]
    else:
        names = check_names(classes, "classes")
        recorded = {} if renumber else _recorded_ids(data)
        free = max([0, *(v for v in recorded.values() if isinstance(v, int))]) + 1
        cats = []
        for name in names:
            if name in recorded:
                cats.append({"id": recorded[name], "name": name, "supercategory": ""})
            else:
                cats.append({"id": free, "name": name, "supercategory": ""})
                free += 1
    check_names([c["name"] for c in cats], "classes")
    if renumber:
        cats = [{**c, "id": k} for k, c in enumerate(cats, start=1)]
    ids = [c["id"] for c in cats]
    if len(set(map(repr, ids))) != len(ids):
        raise InputError(f"`classes` must have distinct category ids. Got {ids} instead.")
    return cats


def _recorded_ids(data: pd.DataFrame) -> dict:
    """``{label: category id}`` from a ``category_id`` column, checked to be one-to-one."""
    if "category_id" not in data:
        return {}
    pairs = data.loc[data["label"].notna() & data["category_id"].notna(), ["label", "category_id"]]
    mapping: dict = {}
    for label, cat in pairs.drop_duplicates().itertuples(index=False):
        cat = int(cat) if isinstance(cat, float) and cat.is_integer() else cat
        if mapping.setdefault(label, cat) != cat:
            raise InputError(
                f"`category_id` must be one id per label. Got {mapping[label]!r} and {cat!r} for "
                f"{label!r}; pass renumber=True to number the categories afresh."
            )
    if len(set(mapping.values())) != len(mapping):
        raise InputError(
            f"`category_id` must be one label per id. Got {mapping}; pass renumber=True."
        )
    return mapping


def _ids(data: pd.DataFrame, column: str, rows: list[int], renumber: bool, what: str) -> list:
    """Recorded ids for ``rows`` (kept), new ones from max + 1 where missing, or 1..n."""
    if renumber or column not in data:
        return list(range(1, len(rows) + 1))
    values = data[column].tolist()
    recorded = [None if _nan(values[i]) or values[i] is pd.NA else values[i] for i in rows]
    recorded = [int(v) if isinstance(v, float) and v.is_integer() else v for v in recorded]
    taken = [v for v in recorded if v is not None]
    if len(set(map(repr, taken))) != len(taken):
        dup = next(v for v in taken if taken.count(v) > 1)
        raise InputError(
            f"`{column}` must be unique per {what} to be kept. Got {dup!r} more than once; pass "
            "renumber=True to number them afresh."
        )
    free = max([0, *(v for v in taken if isinstance(v, int))]) + 1
    out = []
    for v in recorded:
        if v is None:
            v, free = free, free + 1
        out.append(v)
    return out


def from_coco(path: str | os.PathLike) -> pd.DataFrame:
    """Read a COCO JSON file (CVAT "COCO 1.0", Roboflow, the COCO datasets, ``to_coco``).

    Parameters
    ----------
    path : str or path-like
        The JSON file.

    Returns
    -------
    pandas.DataFrame
        ``item_id, path, width, height, kind, label, x, y, w, h, attributes,
        image_attributes, image_id, category_id, annotation_id``: one row per annotation,
        images in file order, and one row with ``label`` missing per image without
        annotations. ``item_id`` is ``file_name``; ``path`` is the image's ``path`` key where
        present, else ``file_name`` beside the JSON file. ``kind`` is ``"polygon"`` for a
        polygon ``segmentation`` (``attributes["points"]``; more parts in
        ``attributes["extra_parts"]``), ``"point"`` for ``keypoints`` with ``area`` 0, else
        ``"box"`` (an RLE mask, ``keypoints``, ``iscrowd`` 1 or a ``score`` kept in
        ``attributes``). ``df.attrs["coco"]`` holds the file's ``info``, ``licenses`` and
        ``categories``.

    Raises
    ------
    InputError
        If the file is not valid JSON (naming line and column), a required key is missing
        or malformed, or an annotation names an unknown category or image (naming the
        element, e.g. ``annotations[12] (id 57)``, and the allowed ids).
    """
    return read_coco(Path(path))
