"""Reading COCO object-detection JSON (private; see :func:`~labelwidgets.formats.from_coco`).

The annotations are read column by column (ids, categories, boxes as one NumPy array); only
annotations with a segmentation, keypoints, attributes, a crowd flag or a score go through
the per-annotation path. Any malformed entry is then found again one by one, so the error
names it (``annotations[12] (id 57)``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ._common import COLUMNS, malformed, read_json

#: Keys of a COCO image entry that have a column; every other key is kept in image_attributes.
IMAGE_KEYS = ("id", "file_name", "width", "height", "path")
#: Keys of an annotation that are read into columns or shapes; others go to attributes.
_NUMBER_TYPES = (int, float)
EXTRA = ["image_attributes", "image_id", "category_id", "annotation_id"]


def read_document(source: Path) -> dict:
    document = read_json(source)
    if not isinstance(document, dict):
        raise malformed(
            source, "top level", "the document", "a JSON object", type(document).__name__
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(document.get(key), list):
            raise malformed(source, "top level", key, "a list", document.get(key, "<missing>"))
    return document


def read_coco(source: Path) -> pd.DataFrame:
    document = read_document(source)
    categories = _categories(document["categories"], source)
    image_index, images = _images(document["images"], source)
    anns = document["annotations"]
    n = len(anns)
    try:
        ann_ids = [a["id"] for a in anns]
        image_ids = [a["image_id"] for a in anns]
        cat_ids = [a["category_id"] for a in anns]
        bboxes = [a["bbox"] for a in anns]
    except (KeyError, TypeError):
        for k, ann in enumerate(anns):
            _require(ann, ("id", "image_id", "category_id", "bbox"), source, f"annotations[{k}]")
        raise
    try:
        labels = [categories[c] for c in cat_ids]
    except (KeyError, TypeError):
        k = next(k for k, c in enumerate(cat_ids) if _unhashable(c) or c not in categories)
        raise malformed(
            source, _where(k, ann_ids[k]), "category_id",
            f"one of the category ids {sorted(categories)}", cat_ids[k],
        ) from None  # fmt: skip
    try:
        owner = np.array([image_index[i] for i in image_ids], dtype=np.int64)
    except (KeyError, TypeError):
        k = next(k for k, i in enumerate(image_ids) if _unhashable(i) or i not in image_index)
        raise malformed(
            source, _where(k, ann_ids[k]), "image_id", "the id of an entry of images",
            image_ids[k],
        ) from None  # fmt: skip
    boxes = _boxes(bboxes, ann_ids, source)
    kinds = ["box"] * n
    attrs: list[dict] = [{} for _ in range(n)]
    special = [
        k for k, a in enumerate(anns)
        if a.get("segmentation") or a.get("keypoints") or a.get("attributes")
        or a.get("iscrowd") or "score" in a
    ]  # fmt: skip
    for k in special:
        kinds[k], attrs[k] = _shape(anns[k], source, _where(k, ann_ids[k]))
    # rows grouped by image, images in file order; an image without annotations is one row
    n_images = len(images["file_name"])
    empty = np.setdiff1d(np.arange(n_images), owner)
    order = np.argsort(np.concatenate([owner, empty]), kind="stable")
    is_ann = order < n
    ann_of_row = np.where(is_ann, order, 0)
    image_of_row = np.concatenate([owner, empty])[order]
    columns: dict = {}
    for key in ("file_name", "path", "width", "height"):
        columns[key] = np.asarray(images[key], dtype=object)[image_of_row]
    out = pd.DataFrame(
        {
            "item_id": columns["file_name"], "path": columns["path"],
            "width": columns["width"].astype(np.int64), "height": columns["height"].astype(np.int64),
            "kind": _pick(kinds, ann_of_row, is_ann, "box"),
        }
    )  # fmt: skip
    out["label"] = pd.Series(_pick(labels, ann_of_row, is_ann, None), dtype=object)
    for j, col in enumerate(("x", "y", "w", "h")):
        out[col] = np.where(is_ann, boxes[ann_of_row, j] if n else np.nan, np.nan)
    out["attributes"] = _pick(attrs, ann_of_row, is_ann, None, fill=dict)
    out["image_attributes"] = np.asarray(images["extra"], dtype=object)[image_of_row]
    out["image_id"] = _id_column(images["id"], image_of_row, None)
    out["category_id"] = _id_column(cat_ids, ann_of_row, is_ann)
    out["annotation_id"] = _id_column(ann_ids, ann_of_row, is_ann)
    out.attrs["coco"] = {
        "info": document.get("info"),
        "licenses": document.get("licenses"),
        "categories": document["categories"],
    }
    return out[[*COLUMNS, *EXTRA]]


def _pick(values: list, index: np.ndarray, is_ann: np.ndarray, missing, fill=None) -> np.ndarray:
    """``values[index]`` where ``is_ann``, else ``missing`` (or a new ``fill()``), as objects."""
    source = np.empty(len(values), dtype=object)
    source[:] = values
    out = source[index] if len(values) else np.empty(len(index), dtype=object)
    for k in np.flatnonzero(~is_ann):
        out[k] = fill() if fill else missing
    return out


def _id_column(values: list, index: np.ndarray, present):
    """Ids as a nullable integer array (object when a file uses other ids, e.g. strings)."""
    if all(type(v) is int for v in values):
        data = np.array(values, dtype=np.int64)[index] if values else np.zeros(len(index), np.int64)
        mask = np.zeros(len(index), dtype=bool) if present is None else ~present
        return pd.arrays.IntegerArray(data, mask)
    out = np.asarray(values, dtype=object)[index]
    if present is not None:
        out[~present] = None
    return out


def _unhashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return True
    return False


def _where(k: int, ann_id) -> str:
    return f"annotations[{k}] (id {ann_id})"


def _boxes(bboxes: list, ann_ids: list, source: Path) -> np.ndarray:
    try:
        arr = np.array(bboxes) if bboxes else np.empty((0, 4))
        ok = arr.ndim == 2 and arr.shape[1] == 4 and arr.dtype.kind in "if"
        ok = ok and bool(np.isfinite(arr).all())
    except (TypeError, ValueError):  # ragged lists
        ok = False
    if not ok:  # find the bad one, to name it
        for k, bbox in enumerate(bboxes):
            _numbers(bbox, source, _where(k, ann_ids[k]), "bbox", 4)
    arr = arr.astype(np.float64)
    bad = np.flatnonzero((arr[:, 2] < 0) | (arr[:, 3] < 0))
    if len(bad):
        k = int(bad[0])
        raise malformed(
            source, _where(k, ann_ids[k]), "bbox", "[x, y, w, h] with w, h >= 0", bboxes[k]
        )
    return arr


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
        if _unhashable(cat["id"]) or cat["id"] in categories:
            raise malformed(source, where, "id", "unique among categories", cat["id"])
        if not isinstance(cat["name"], str) or not cat["name"]:
            raise malformed(source, where, "name", "a non-empty string", cat["name"])
        categories[cat["id"]] = cat["name"]
    return categories


def _images(entries: list, source: Path) -> tuple[dict, dict]:
    index: dict = {}
    columns: dict = {"id": [], "file_name": [], "path": [], "width": [], "height": [], "extra": []}
    parent = str(source.parent)
    required = ("id", "file_name", "width", "height")
    for k, image in enumerate(entries):
        if type(image) is not dict or not all(key in image for key in required):
            _require(image, required, source, f"images[{k}]")
        image_id, width, height = image["id"], image["width"], image["height"]
        if _unhashable(image_id) or image_id in index:
            raise malformed(source, f"images[{k}]", "id", "unique among images", image_id)
        for key, value in (("width", width), ("height", height)):
            if type(value) not in _NUMBER_TYPES or not value > 0:
                raise malformed(source, f"images[{k}]", key, "a positive number", value)
        name = str(image["file_name"])
        index[image_id] = k
        columns["id"].append(image_id)
        columns["file_name"].append(name)
        columns["path"].append(image.get("path") or os.path.join(parent, name))
        columns["width"].append(int(width))
        columns["height"].append(int(height))
        columns["extra"].append(
            {key: v for key, v in image.items() if key not in IMAGE_KEYS} if len(image) > 4 else {}
        )
    return index, columns


def _numbers(values, source: Path, where: str, key: str, count: int | None = None) -> list[float]:
    ok = type(values) is list and (count is None or len(values) == count)
    # bool is not a number here; inf - inf is nan, so one sum tells whether all are finite
    ok = ok and all(type(v) in _NUMBER_TYPES for v in values) and math.isfinite(sum(values))
    if not ok:
        want = f"a list of {count} finite numbers" if count else "a list of finite numbers"
        raise malformed(source, where, key, want, values)
    return [float(v) for v in values]


def _shape(ann: dict, source: Path, where: str) -> tuple[str, dict]:
    """``(kind, attributes)`` of an annotation with a segmentation, keypoints or extras."""
    attrs = dict(ann.get("attributes") or {})
    if ann.get("iscrowd"):
        attrs["iscrowd"] = int(ann["iscrowd"])
    if "score" in ann:
        attrs["score"] = ann["score"]
    keypoints = ann.get("keypoints")
    if keypoints:
        flat = _numbers(keypoints, source, where, "keypoints")
        if len(flat) % 3:
            raise malformed(source, where, "keypoints", "[x, y, v, ...] triples", keypoints)
    seg = ann.get("segmentation")
    if isinstance(seg, list) and seg:
        rings = []
        for r, ring in enumerate(seg):
            flat_ring = _numbers(ring, source, f"{where} segmentation[{r}]", "polygon")
            if len(flat_ring) < 6 or len(flat_ring) % 2:
                raise malformed(
                    source, f"{where} segmentation[{r}]", "polygon",
                    "an even number >= 6 of coordinates", ring,
                )  # fmt: skip
            rings.append([[flat_ring[j], flat_ring[j + 1]] for j in range(0, len(flat_ring), 2)])
        attrs["points"] = rings[0]
        if len(rings) > 1:
            attrs["extra_parts"] = rings[1:]
        if keypoints:  # a person outline with its keypoints: both kept
            attrs["keypoints"] = keypoints
            if "num_keypoints" in ann:
                attrs["num_keypoints"] = ann["num_keypoints"]
        return "polygon", attrs
    if isinstance(seg, dict):
        _check_rle(seg, source, where)
        attrs["segmentation"] = seg  # an RLE mask: kept as it is, not decoded
    if keypoints:
        if ann.get("area", None) == 0 and not isinstance(seg, dict):
            points = [[flat[j], flat[j + 1]] for j in range(0, len(flat), 3) if flat[j + 2] > 0]
            if points:
                attrs["points"] = points
                return "point", attrs
        attrs["keypoints"] = keypoints
        if "num_keypoints" in ann:
            attrs["num_keypoints"] = ann["num_keypoints"]
    return "box", attrs


def _check_rle(seg: dict, source: Path, where: str) -> None:
    size, counts = seg.get("size"), seg.get("counts")
    ok = (
        isinstance(size, list) and len(size) == 2
        and all(type(v) is int and v > 0 for v in size)
        and (isinstance(counts, str) or (isinstance(counts, list)
             and all(type(v) is int and v >= 0 for v in counts)))
    )  # fmt: skip
    if not ok:
        raise malformed(
            source, f"{where} segmentation", "an RLE mask",
            "{'size': [height, width], 'counts': [run lengths] or compressed text}", seg,
        )  # fmt: skip


def rle_area(seg: dict) -> int:
    """The number of pixels a COCO RLE mask covers (uncompressed ``counts`` or compressed text).

    The compressed form is decoded as pycocotools' ``rleFrString`` reads it.

    Examples
    --------
    >>> rle_area({"size": [2, 2], "counts": [0, 4]})
    4
    >>> rle_area({"size": [2, 2], "counts": "04"})
    4
    """
    counts = seg["counts"]
    if isinstance(counts, str):
        counts = _decode_counts(counts)
    return int(sum(counts[1::2]))


def _decode_counts(text: str) -> list[int]:
    counts: list[int] = []
    data = text.encode("ascii")
    p = 0
    while p < len(data):
        x, k, more = 0, 0, True
        while more:
            c = data[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts
