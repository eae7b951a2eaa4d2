"""YOLO detection and segmentation folders, laid out so that ultralytics trains on them as they are.

Layout written by :func:`to_yolo` (``split`` is ``train``, ``val`` or ``test``)::

    out_dir/
        data.yaml              path (absolute), train, val (and test), names {0: ..., 1: ...}
        images/<split>/<item_id>
        labels/<split>/<item_id with .txt>

A box is one line ``class cx cy w h`` and a polygon one line ``class x1 y1 x2 y2 ...``
(YOLO-seg), all normalised by the EXIF-corrected image size and written with 8 decimals, so
a round trip is exact to 1e-6 of the image size. Images are copied with their EXIF rotation
applied (re-encoded only when they carry one), so that the pixels and the labels agree in
every reader. Images live under their item id, sub-folders included; an id without an image
suffix gets the suffix of its file. YOLO has no place for attributes: they are not written.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
import pandas as pd
import yaml

from ..images import write_upright
from ._common import (
    ImageGroup,
    check_classes,
    check_labels,
    frame,
    group_images,
    image_size,
    item_relpath,
    malformed,
    no_objects,
    prepare,
)

__all__ = ["to_yolo", "from_yolo"]

# ultralytics.data.utils.IMG_FORMATS (not imported: ultralytics is an optional, heavy dependency)
IMAGE_SUFFIXES = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic"}
)
SPLITS = ("train", "val", "test")
_TOLERANCE = 1e-9  # relative excess over the image border that counts as rounding, not clipping


def to_yolo(
    df: pd.DataFrame,
    out_dir: str | os.PathLike,
    classes,
    copy_images: bool = True,
    val_fraction: float = 0.0,
    random_state: int = 0,
) -> Path:
    """Write a YOLO dataset folder (detection, or segmentation for polygon rows).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``item_id, path, label, x, y, w, h``; optional ``width, height`` (read from
        the image, EXIF-corrected, where absent), ``kind`` (``"box"`` or ``"polygon"`` with
        ``attributes["points"]``) and ``split`` (``"train"``, ``"val"`` or ``"test"`` per
        item). A row whose ``label`` is missing stands for an image without objects (an empty
        label file: a background image for ultralytics).
    out_dir : str or path-like
        Folder to write into (created). Its ``labels/`` folder is rewritten: label files and
        ultralytics ``*.cache`` files already there are removed first (a stale cache would
        make ultralytics train on old labels); with ``copy_images=True`` so are the image
        files under ``images/``. Nothing else in the folder is touched.
    classes : list of str
        Class names; class id ``k`` is ``classes[k]``.
    copy_images : bool, default=True
        Copy each image to ``images/<split>/`` (EXIF-transposed where it carries a rotation).
        False writes ``labels/`` and ``data.yaml`` only: put the images there yourself.
    val_fraction : float, default=0.0
        Without a ``split`` column, the fraction of images (not boxes) drawn at random for
        the ``val`` split. With 0 every image is in ``train`` and ``data.yaml`` names the
        training images as the validation set too (ultralytics needs one).
    random_state : int, default=0
        Seed of the ``val`` draw; images are drawn from the sorted item ids, so the draw does
        not depend on the row order.

    Returns
    -------
    pathlib.Path
        The ``data.yaml`` file, ready for ``YOLO(...).train(data=...)``.

    Raises
    ------
    ValueError
        On a label not in ``classes``, a point row, an image that mixes boxes and polygons
        (ultralytics drops such an image as corrupt), a box wholly outside its image, or an
        image that cannot be decoded. Boxes and polygons partly outside their image are
        clipped to it, with a warning.
    """
    data = prepare(df)
    names = check_classes(classes)
    check_labels(data, names)
    groups = group_images(data)
    splits = _splits(data, groups, val_fraction, random_state)
    out = Path(out_dir).resolve()
    class_id = {name: k for k, name in enumerate(names)}
    columns = _Columns(
        data["kind"].tolist(), data["label"].tolist(), data["attributes"].tolist(),
        data[["x", "y", "w", "h"]].to_numpy().tolist(),
    )  # fmt: skip
    seen: dict[PurePosixPath, str] = {}
    planned = []  # every file is checked before anything is removed or written
    clipped = 0
    for image, split in zip(groups, splits, strict=True):
        rel = _image_rel(image.item_id, image.path)
        if rel in seen:
            raise ValueError(
                f"Every item must map to its own image file. Items {seen[rel]!r} and "
                f"{image.item_id!r} both map to {str(rel)!r}."
            )
        seen[rel] = image.item_id
        lines, n_clipped = _label_lines(columns, image, class_id)
        clipped += n_clipped
        planned.append((image.path, out / "images" / split / rel, "".join(lines)))
    _clear(out, copy_images, keep={os.path.realpath(p) for p in data["path"].unique()})
    made: set[Path] = set()
    for source, target, text in planned:
        label_file = label_path(target)
        if label_file.parent not in made:
            label_file.parent.mkdir(parents=True, exist_ok=True)
            made.add(label_file.parent)
        label_file.write_text(text, encoding="utf-8")
        if copy_images:
            _copy_image(source, target)
    if clipped:
        warnings.warn(
            f"{clipped} boxes or polygons lay partly outside their image and were clipped to it "
            "(YOLO coordinates must lie in [0, 1]).",
            UserWarning,
            stacklevel=2,
        )
    used = [s for s in SPLITS if s in set(splits)] or ["train"]
    for split in {"train", *used}:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    config = {
        "path": str(out),
        "train": "images/train",
        "val": "images/val" if "val" in used else "images/train",
    }
    if "test" in used:
        config["test"] = "images/test"
    config["names"] = dict(enumerate(names))
    target = out / "data.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def _clear(out: Path, images: bool, keep: set[str]) -> None:
    """Remove what an earlier export left: label files, label caches, (copied) images.

    Files in ``keep`` (the images being exported, e.g. when re-exporting a folder read with
    :func:`from_yolo` into itself) are never removed.
    """
    for path in (out / "labels").rglob("*") if (out / "labels").is_dir() else ():
        if path.suffix in (".txt", ".cache") and path.is_file():
            path.unlink()
    if images and (out / "images").is_dir():
        for path in (out / "images").rglob("*"):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                if os.path.realpath(path) not in keep:
                    path.unlink()


def label_path(image: Path) -> Path:
    """The label file ultralytics reads for ``image`` (its last ``/images/`` becomes ``/labels/``)."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sb.join(str(image).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")


def _image_rel(item_id: str, path: str) -> PurePosixPath:
    rel = item_relpath(item_id)
    if rel.suffix.lower() in IMAGE_SUFFIXES:
        return rel
    suffix = Path(path).suffix.lower()
    return rel.with_name(rel.name + (suffix if suffix in IMAGE_SUFFIXES else ".png"))


def _splits(data: pd.DataFrame, groups: list[ImageGroup], val_fraction, random_state) -> list[str]:
    if "split" in data:
        if val_fraction:
            raise ValueError(
                "Pass either a `split` column or `val_fraction`, not both. Got `val_fraction`="
                f"{val_fraction!r} with a `split` column."
            )
        first = data.groupby("item_id", sort=False)["split"].first()
        splits = ["train" if pd.isna(first[g.item_id]) else first[g.item_id] for g in groups]
        for g, split in zip(groups, splits, strict=True):
            if split not in SPLITS:
                raise ValueError(
                    f"`split` must be one of {list(SPLITS)}. Got {split!r} for item "
                    f"{g.item_id!r} instead."
                )
        return splits
    if not (isinstance(val_fraction, int | float) and 0 <= val_fraction < 1):
        raise ValueError(
            f"`val_fraction` must be a number in [0, 1). Got {val_fraction!r} instead."
        )
    splits = ["train"] * len(groups)
    if val_fraction and len(groups) > 1:
        n_val = min(max(1, round(len(groups) * val_fraction)), len(groups) - 1)
        by_id = sorted(range(len(groups)), key=lambda k: groups[k].item_id)
        drawn = np.random.default_rng(random_state).permutation(len(groups))[:n_val]
        for k in drawn:
            splits[by_id[k]] = "val"
    return splits


class _Columns(NamedTuple):
    kind: list
    label: list
    attributes: list
    xywh: list


def _label_lines(columns: _Columns, image: ImageGroup, class_id: dict) -> tuple[list[str], int]:
    kinds, labels, attrs, coords = columns
    rows = image.rows
    shapes = {kinds[i] for i in rows}
    if "point" in shapes:
        i = next(i for i in rows if kinds[i] == "point")
        raise ValueError(
            f"`kind` must be 'box' or 'polygon' for YOLO. Got 'point' in row {i} (item "
            f"{image.item_id!r}) instead; export points with to_coco."
        )
    if len(shapes) > 1:
        raise ValueError(
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
                raise ValueError(
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
            xs = [min(max(p[0], 0.0), W) for p in points]
            ys = [min(max(p[1], 0.0), H) for p in points]
            clipped += any(_outside(p[0], p[1], p[0], p[1], W, H) for p in points)
            coords_text = " ".join(
                f"{px / W:.8f} {py / H:.8f}" for px, py in zip(xs, ys, strict=True)
            )
            lines.append(f"{cls} {coords_text}\n")
    return lines, clipped


def _outside(x0: float, y0: float, x1: float, y1: float, W: int, H: int) -> bool:
    return (
        x0 < -_TOLERANCE * W or y0 < -_TOLERANCE * H
        or x1 > W * (1 + _TOLERANCE) or y1 > H * (1 + _TOLERANCE)
    )  # fmt: skip


def _copy_image(source: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_upright(source, target)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(
            f"`path` must name an image that decodes. Got {source!r} instead "
            f"({type(exc).__name__}: {exc})."
        ) from exc


def from_yolo(source: str | os.PathLike, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read a YOLO dataset folder (detection lines and YOLO-seg polygon lines).

    Parameters
    ----------
    source : str or path-like
        The dataset folder holding ``data.yaml``, or the YAML file itself. Splits are the
        ``train``, ``val`` and ``test`` entries (folders or ``.txt`` image lists, relative to
        the YAML's folder); an image listed in two splits is read once, in the first.
    items : pandas.DataFrame, optional
        ``item_id, path`` and optional ``width, height`` of the items (e.g.
        ``store.items()``). With it, ``item_id`` and ``path`` come from this table (matched
        by the image's path inside the split, as :func:`to_yolo` names it) and sizes are read
        from it, so the images need not be in the folder. Without it, every image under a
        split is read (its size from the file, EXIF-corrected) and its ``item_id`` is its path
        inside the split folder.

    Returns
    -------
    pandas.DataFrame
        ``item_id, path, width, height, kind, label, x, y, w, h, attributes, split``; one row
        per line (``kind`` ``"box"``, or ``"polygon"`` with ``attributes["points"]``), and
        one row with ``label`` missing for an image with an empty or no label file.

    Raises
    ------
    ValueError
        If ``data.yaml`` is missing or lacks ``names``, a line does not hold 5 or an odd
        number >= 7 of fields, a field is not a number, a class id is not one of the names'
        ids, or a label file has no image (each naming the file and line).
    """
    yaml_path, config = _read_yaml(Path(source))
    names = _names(config, yaml_path)
    base = yaml_path.parent
    train = _entries(config.get("train"))
    if config.get("path") and train and not (base / train[0]).exists():
        base = Path(config["path"])  # a folder written elsewhere with its data.yaml apart
    known = None if items is None else _items_table(items)
    rows: list[tuple] = []
    done: set[Path] = set()
    seen: set = set()  # images (or item ids) already read: each is read in its first split
    for split in SPLITS:
        for entry in _entries(config.get(split)):
            folder = (base / entry).resolve()
            if folder in done:
                continue
            done.add(folder)
            _read_split(folder, split, names, known, rows, yaml_path, seen)
    return frame(rows, extra=["split"])


def _read_yaml(source: Path) -> tuple[Path, dict]:
    yaml_path = source
    if source.is_dir():
        yaml_path = source / "data.yaml"
        if not yaml_path.is_file():
            found = sorted(source.glob("*.yaml"))
            if len(found) != 1:
                raise ValueError(
                    f"`source` must be a YOLO folder holding data.yaml (or one *.yaml). Got "
                    f"{str(source)!r}, which holds {[f.name for f in found]}."
                )
            yaml_path = found[0]
    if not yaml_path.is_file():
        raise ValueError(f"`source` must be a YOLO folder or its data.yaml. Got {str(source)!r}.")
    try:
        config = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise ValueError(f"{yaml_path}, {where}: the file must be valid YAML ({exc}).") from exc
    if not isinstance(config, dict):
        raise malformed(yaml_path, "top level", "data.yaml", "a mapping", config)
    return yaml_path, config


def _names(config: dict, yaml_path: Path) -> list[str]:
    names = config.get("names")
    if isinstance(names, dict) and sorted(names) == list(range(len(names))):
        names = [names[k] for k in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise malformed(
            yaml_path, "names", "names", "a list of class names or a mapping {0: name, ...}", names
        )
    return names


def _entries(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _items_table(items: pd.DataFrame) -> list[tuple[PurePosixPath, str, str, float, float]]:
    missing = {"item_id", "path"} - set(items.columns)
    if missing:
        raise ValueError(
            f"`items` must have columns ['item_id', 'path'] (and optionally width, height). "
            f"Missing {sorted(missing)}; got {list(items.columns)} instead."
        )
    width = items["width"] if "width" in items else [math.nan] * len(items)
    height = items["height"] if "height" in items else [math.nan] * len(items)
    return [
        (_image_rel(str(i), str(p)), str(i), str(p), w, h)
        for i, p, w, h in zip(items["item_id"], items["path"], width, height, strict=True)
    ]


def _read_split(folder: Path, split: str, names, known, rows, yaml_path: Path, seen: set) -> None:
    if folder.suffix == ".txt":
        images = _listed_images(folder)
        image_root = folder.parent
    elif folder.is_dir():
        images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        image_root = folder
    elif known is not None:
        images, image_root = [], folder
    else:
        raise malformed(yaml_path, split, split, "an existing folder or .txt list", str(folder))
    labels_dir = label_path(folder / "x.png").parent
    matched: set[Path] = set()
    if known is None:
        for image in images:
            lab = label_path(image)
            matched.add(lab)
            key = os.path.abspath(image)
            if key in seen:
                continue  # listed in an earlier split too
            seen.add(key)
            width, height = image_size(image)
            item_id = _item_id(image, image_root, listed=folder.suffix == ".txt")
            _read_labels(lab, item_id, str(image), width, height, split, names, rows)
    else:
        for rel, item_id, path, width, height in known:
            image = folder / rel
            lab = label_path(image)
            if item_id in seen or not (lab.is_file() or image.is_file()):
                matched.add(lab)
                continue  # the item is not in this split, or was read in an earlier one
            seen.add(item_id)
            if pd.isna(width) or pd.isna(height):
                width, height = image_size(image if image.is_file() else path)
            matched.add(_read_labels(lab, item_id, path, width, height, split, names, rows))
    if labels_dir.is_dir():
        for orphan in sorted(set(labels_dir.rglob("*.txt")) - matched):
            raise ValueError(
                f"{orphan}: a label file must have an image (or an item in `items`). Found none "
                f"for it in {str(folder)!r}."
            )


def _item_id(image: Path, root: Path, listed: bool) -> str:
    """An image's id: its path inside its split folder (``images/<split>/``)."""
    text = image.as_posix()
    if listed and "/images/" in text:  # a .txt list names images/<split>/<id>
        rest = text.rsplit("/images/", 1)[1]
        return rest.split("/", 1)[1] if "/" in rest else rest
    prefix = root.as_posix() + "/"
    return text[len(prefix) :] if text.startswith(prefix) else text


def _listed_images(listing: Path) -> list[Path]:
    parent = listing.parent
    out = []
    for line in listing.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            out.append(parent / line[2:] if line.startswith("./") else Path(line))
    return out


def _read_labels(lab: Path, item_id, path, width, height, split, names, rows) -> Path:
    base = (item_id, path, int(width), int(height))
    try:
        text = lab.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        text = ""  # no label file: a background image for ultralytics
    before = len(rows)
    W, H = float(width), float(height)
    n_names = len(names)
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if not (len(fields) == 5 or (len(fields) >= 7 and len(fields) % 2 == 1)):
            raise malformed(
                lab, f"line {n}", "a line",
                "'class cx cy w h' (5 fields) or 'class x1 y1 x2 y2 x3 y3 ...' (an odd number "
                f">= 7 of fields); it has {len(fields)}", line,
            )  # fmt: skip
        try:
            values = [float(v) for v in fields]
        except ValueError:
            bad = next(v for v in fields if not _is_number(v))
            raise malformed(lab, f"line {n}", "every field", "a number", bad) from None
        if not all(math.isfinite(v) for v in values):
            raise malformed(lab, f"line {n}", "every field", "a finite number", line)
        cls = values[0]
        if not (cls.is_integer() and 0 <= cls < n_names):
            raise malformed(
                lab, f"line {n}", "the class id",
                f"an integer in [0, {n_names - 1}] (names: {names})", fields[0],
            )  # fmt: skip
        label = names[int(cls)]
        if len(fields) == 5:
            cx, cy, w, h = values[1:]
            if w <= 0 or h <= 0:
                raise malformed(lab, f"line {n}", "w and h", "positive", line)
            rows.append(
                (*base, "box", label, (cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H, {}, split)
            )
        else:
            points = [[values[k] * W, values[k + 1] * H] for k in range(1, len(values), 2)]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            rows.append(
                (*base, "polygon", label, min(xs), min(ys), max(xs) - min(xs),
                 max(ys) - min(ys), {"points": points}, split)
            )  # fmt: skip
    if len(rows) == before:
        rows.append(no_objects(*base, split))
    return lab


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
