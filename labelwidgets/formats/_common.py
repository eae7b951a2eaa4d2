"""Validation, image sizes and table building shared by the VOC, YOLO and COCO modules (private).

Every writer starts with :func:`prepare` (one validated copy of the input frame) and
:func:`group_images`; every reader ends with :func:`frame`. An image without objects is one
row whose ``label`` is missing, in both directions.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._validate import InputError, check_name, check_names
from ..images import image_size as _image_size

REQUIRED = ("item_id", "path", "label", "x", "y", "w", "h")
COLUMNS = ["item_id", "path", "width", "height", "kind", "label", "x", "y", "w", "h", "attributes"]
SHAPES = ("box", "polygon", "point")


class ImageGroup(NamedTuple):
    """One image of a prepared frame and the positions of its object rows."""

    item_id: str
    path: str
    width: int
    height: int
    rows: list[int]
    first: int = 0  # the image's first row (an image without objects has no object rows)


def image_size(path) -> tuple[int, int]:
    """``(width, height)`` of the upright image, header only (:func:`labelwidgets.images.image_size`)."""
    try:
        return _image_size(path)
    except OSError as exc:
        raise InputError(
            f"`path` must name a readable image file to read its size. Got {str(path)!r} "
            f"instead ({exc}). Pass `width` and `height` columns to skip it."
        ) from exc


def malformed(file, where: str, what: str, constraint: str, got) -> InputError:
    """The error for a malformed annotation file, naming the file and the line or element."""
    return InputError(f"{file}, {where}: `{what}` must be {constraint}. Got {got!r} instead.")


def attributes_dict(value, where: str) -> dict:
    """An ``attributes`` cell (dict, JSON text or missing) as a new dict."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    elif value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return {}
    raise InputError(
        f"`attributes` must be a dict or the JSON text of an object ({where}). "
        f"Got {value!r} instead."
    )


def check_points(points, kind: str, where: str) -> list[list[float]]:
    """Validate ``attributes["points"]``: a list of ``[x, y]`` pairs of finite numbers."""
    least = 3 if kind == "polygon" else 1
    try:
        pairs = [[float(p[0]), float(p[1])] for p in points]
        ok = all(len(p) == 2 for p in points) and len(pairs) >= least
        ok = ok and all(math.isfinite(v) for p in pairs for v in p)
    except (TypeError, ValueError, IndexError, KeyError):
        ok = False
    if not ok:
        raise InputError(
            f"`attributes['points']` of a {kind!r} row must be a list of at least {least} "
            f"[x, y] pairs of finite numbers ({where}). Got {points!r} instead."
        )
    return pairs


def check_classes(classes) -> list[str]:
    """``classes`` as a list of distinct non-empty strings."""
    return check_names(classes, "classes")


def check_labels(df: pd.DataFrame, classes: list[str]) -> None:
    """Raise if a row's label is not one of ``classes``."""
    labels = df["label"]
    bad = np.flatnonzero((labels.notna() & ~labels.isin(classes)).to_numpy())
    if len(bad):
        i = int(bad[0])
        raise InputError(
            f"`label` must be one of {classes} (the `classes` passed). Got {labels.iat[i]!r} in "
            f"row {i} (item {df['item_id'].iat[i]!r}) instead; add it to `classes` or drop the row."
        )


def prepare(df, name: str = "df") -> pd.DataFrame:
    """Validate an annotation frame and return a normalised copy.

    The copy has a fresh ``RangeIndex`` (error messages count rows from 0), ``kind``
    (default ``"box"``), ``attributes`` as dicts, ``label`` as ``str`` or ``None`` (an image
    without objects), float boxes, integer ``width``/``height`` (read from the images, EXIF
    corrected, where missing), and for polygon and point rows ``attributes["points"]`` as
    lists of ``[x, y]`` floats with ``x, y, w, h`` their bounding box.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"`{name}` must be a pandas DataFrame. Got {type(df).__name__} instead.")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(
            f"`{name}` must have columns {list(REQUIRED)} (and optionally width, height, kind, "
            f"attributes). Missing {missing}; got {list(df.columns)} instead."
        )
    out = df.reset_index(drop=True).copy()
    n = len(out)
    out["item_id"] = [str(v) for v in out["item_id"].tolist()]
    out["path"] = [str(v) for v in out["path"].tolist()]
    out["label"] = pd.Series(
        [v if type(v) is str else None if _missing(v) else str(v) for v in out["label"].tolist()],
        index=out.index,
        dtype=object,
    )
    for label in pd.unique(out["label"].dropna()):
        check_name(label, "label")  # control characters: no file format holds them
    kinds = (
        ["box" if _missing(k) else str(k) for k in out["kind"].tolist()]
        if "kind" in out
        else ["box"] * n
    )
    for i, kind in enumerate(kinds):
        if kind not in SHAPES:
            raise InputError(
                f"`kind` must be one of {list(SHAPES)} for an annotation file. Got {kind!r} in "
                f"row {i} (item {out['item_id'][i]!r}) instead; filter the rows first."
            )
    out["kind"] = kinds
    raw = out["attributes"].tolist() if "attributes" in out else [None] * n
    attrs = [attributes_dict(v, f"row {i}") for i, v in enumerate(raw)]
    out["attributes"] = pd.Series(attrs, index=out.index, dtype=object)
    if "image_attributes" in out:
        images = [attributes_dict(v, f"row {i}") for i, v in enumerate(out["image_attributes"])]
        out["image_attributes"] = pd.Series(images, index=out.index, dtype=object)
    for col in ("x", "y", "w", "h"):
        try:
            out[col] = pd.to_numeric(out[col]).astype(float)
        except (TypeError, ValueError) as exc:
            raise InputError(f"`{col}` must hold numbers. {exc}") from exc
    coords = out[["x", "y", "w", "h"]].to_numpy()
    for i in np.flatnonzero(out["kind"].to_numpy() != "box"):
        if out["label"][i] is None:
            continue
        where = f"row {i} (item {out['item_id'][i]!r})"
        default = _point_of(coords[i]) if kinds[i] == "point" else None
        pts = check_points(attrs[i].get("points", default), kinds[i], where)
        attrs[i]["points"] = pts
        parts = [pts]
        if kinds[i] == "polygon" and attrs[i].get("extra_parts"):
            extra = [check_points(p, "polygon", where) for p in attrs[i]["extra_parts"]]
            attrs[i]["extra_parts"] = extra
            parts += extra
        coords[i] = bounding_box(parts)
    out[["x", "y", "w", "h"]] = coords
    is_box = (out["kind"].to_numpy() == "box") & out["label"].notna().to_numpy()
    bad = is_box & ~(np.isfinite(coords).all(axis=1) & (coords[:, 2] > 0) & (coords[:, 3] > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"A box must have finite `x, y` and positive `w, h`. Got "
            f"{dict(zip('xywh', coords[i].tolist(), strict=True))} in row {i} "
            f"(item {out['item_id'][i]!r}) instead."
        )
    _fill_sizes(out)
    return out


def bounding_box(parts: list[list[list[float]]]) -> list[float]:
    """``[x, y, w, h]`` of the points of every part (a multi-part polygon's box covers all)."""
    xs = [p[0] for part in parts for p in part]
    ys = [p[1] for part in parts for p in part]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _missing(value) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and pd.isna(value))


def _point_of(xywh) -> list | None:
    x, y = xywh[0], xywh[1]
    return [[x, y]] if np.isfinite([x, y]).all() else None


def _fill_sizes(out: pd.DataFrame) -> None:
    width = pd.to_numeric(out["width"]) if "width" in out else pd.Series(np.nan, index=out.index)
    height = pd.to_numeric(out["height"]) if "height" in out else pd.Series(np.nan, index=out.index)
    need = (width.isna() | height.isna() | (width <= 0) | (height <= 0)).to_numpy()
    if need.any():
        sizes = {p: image_size(p) for p in pd.unique(out["path"][need])}
        width = width.astype(float)
        height = height.astype(float)
        width[need] = [sizes[p][0] for p in out["path"][need]]
        height[need] = [sizes[p][1] for p in out["path"][need]]
    out["width"] = width.round().astype(int)
    out["height"] = height.round().astype(int)


def group_images(df: pd.DataFrame) -> list[ImageGroup]:
    """The images of a prepared frame, in order of first appearance, with their object rows.

    Raises if one ``item_id`` comes with two different paths or sizes.
    """
    codes, uniques = pd.factorize(df["item_id"], sort=False)
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    paths, widths, heights = df["path"].tolist(), df["width"].tolist(), df["height"].tolist()
    has_object = df["label"].notna().tolist()
    groups = []
    for k, item_id in enumerate(uniques):
        rows = order[starts[k] : starts[k + 1]].tolist()
        first = rows[0]
        for i in rows[1:]:
            if (paths[i], widths[i], heights[i]) != (paths[first], widths[first], heights[first]):
                raise InputError(
                    f"Every row of an item must share `path`, `width` and `height`. Item "
                    f"{item_id!r} has {(paths[first], widths[first], heights[first])!r} in row "
                    f"{first} and {(paths[i], widths[i], heights[i])!r} in row {i}."
                )
        objects = [i for i in rows if has_object[i]]
        groups.append(
            ImageGroup(item_id, paths[first], widths[first], heights[first], objects, first)
        )
    return groups


def image_attributes(data: pd.DataFrame) -> list[dict]:
    """Per row, the image-level fields a reader kept (``image_attributes``), or ``{}``.

    Index it with an image's ``first`` row (:class:`ImageGroup`).
    """
    if "image_attributes" not in data:
        return [{}] * len(data)
    return data["image_attributes"].tolist()


def item_relpath(item_id: str) -> PurePosixPath:
    """The relative file path an item gets inside a dataset folder (its id, checked)."""
    rel = PurePosixPath(item_id.replace("\\", "/"))
    if rel.is_absolute() or not rel.parts or ".." in rel.parts or ":" in rel.parts[0]:
        raise InputError(
            "`item_id` must be a relative path without '..' to name a file in a dataset folder. "
            f"Got {item_id!r} instead; use ids relative to the image root (ImageSet's default)."
        )
    return rel


def sidecar_path(item_id: str, suffix: str, taken: dict) -> tuple[PurePosixPath, PurePosixPath]:
    """``(image path, annotation file path)`` of an item in a one-file-per-image export.

    Item ``a/b.jpg`` gets ``a/b<suffix>``; an id without a file suffix (``"42"``) gets
    ``42<suffix>``. ``taken`` maps the files planned so far to their items; a clash raises.
    """
    rel = item_relpath(item_id)
    file_rel = rel.with_suffix(suffix) if rel.suffix else rel.with_name(rel.name + suffix)
    if file_rel in taken:
        raise InputError(
            f"Every item must map to its own {suffix} file. Items {taken[file_rel]!r} and "
            f"{item_id!r} both map to {str(file_rel)!r}; give them distinct stems."
        )
    taken[file_rel] = item_id
    return rel, file_rel


def files_below(root, suffixes: tuple[str, ...], skip: str = "") -> list[str]:
    """Paths (text, sorted) of the files below ``root`` whose lower-case suffix is one of
    ``suffixes``; links to folders are not followed. ``skip``: a file name to leave out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found += [
            os.path.join(dirpath, name) for name in filenames
            if name.lower().endswith(suffixes) and name != skip
        ]  # fmt: skip
    return sorted(found)


def read_json(path: Path):
    """A JSON file's content; invalid JSON is an error naming the file, line and column."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.loads(f.read())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}, line {exc.lineno}, column {exc.colno}: the file must be valid JSON "
            f"({exc.msg})."
        ) from exc


def frame(rows: list[tuple], extra: Sequence[str] = ()) -> pd.DataFrame:
    """The reader's output table from row tuples in :data:`COLUMNS` order (then ``extra``)."""
    columns = [*COLUMNS, *extra]
    out = (
        pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    )
    out["label"] = pd.Series([r[5] for r in rows], dtype=object)  # None, not NaN: no objects
    out["attributes"] = pd.Series([r[10] for r in rows], dtype=object)
    for col in ("x", "y", "w", "h"):
        out[col] = out[col].astype(float)
    out["width"] = out["width"].astype(int)
    out["height"] = out["height"].astype(int)
    return out


def no_objects(item_id: str, path: str, width: int, height: int, *extra) -> tuple:
    """The row of an image without objects (a box task's "none": ``label`` missing)."""
    return (
        item_id,
        path,
        width,
        height,
        "box",
        None,
        math.nan,
        math.nan,
        math.nan,
        math.nan,
        {},
        *extra,
    )


def polygon_area(points: list[list[float]]) -> float:
    """Area of a simple polygon (shoelace formula).

    Examples
    --------
    >>> polygon_area([[0, 0], [4, 0], [4, 3], [0, 3]])
    12.0
    """
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2)


def existing_image(recorded: str | None, beside, name: str) -> str:
    """The image path a file records, or the file beside it, whichever exists (else as recorded)."""
    if recorded and os.path.isfile(recorded):
        return recorded
    candidate = os.path.join(beside, name)
    if os.path.isfile(candidate):
        return candidate
    return recorded or candidate
