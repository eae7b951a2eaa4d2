"""YOLO detection and segmentation folders, laid out so that ultralytics trains on them as they are.

Layout written by :func:`to_yolo` (``split`` is ``train``, ``val`` or ``test``)::

    out_dir/
        data.yaml              train, val (and test), names {0: ..., 1: ...}; no ``path``, so
                               ultralytics resolves the splits from the YAML's own folder and
                               the folder can be moved or copied
        images/<split>/<item_id>
        labels/<split>/<item_id with .txt>
        .labelwidgets-export.json   the files written, so a re-export removes only those

A box is one line ``class cx cy w h`` and a polygon one line ``class x1 y1 x2 y2 ...``
(YOLO-seg), all normalised by the EXIF-corrected image size and written with 8 decimals, so
a round trip is exact to 1e-6 of the image size. A multi-part polygon is joined into one
outline at the parts' closest points, as ultralytics' ``convert_coco`` joins them; crowd
regions (``attributes["iscrowd"]``) are left out, as that converter leaves them out. Images
are copied with their EXIF rotation applied (re-encoded only when they carry one), so that
the pixels and the labels agree in every reader. Images live under their item id,
sub-folders included; an id without an image suffix gets the suffix of its file. YOLO has no
place for attributes: they are not written.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np
import pandas as pd
import yaml

from .._validate import InputError
from ..images import write_upright
from ._common import (
    ImageGroup,
    check_classes,
    check_labels,
    group_images,
    item_relpath,
    prepare,
)
from ._export import ExportFolder
from ._yolo_read import IMAGE_SUFFIXES, SPLITS, read_yolo

__all__ = ["to_yolo", "from_yolo"]

_TOLERANCE = 1e-9  # relative excess over the image border that counts as rounding, not clipping
_NUMPY_MAGIC = b"\x93NUMPY"  # ultralytics saves its label caches with numpy.save


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
        label file: a background image for ultralytics). Rows with ``attributes["iscrowd"]``
        are left out.
    out_dir : str or path-like
        Folder to write into (created). It must be new, empty, or an earlier ``to_yolo``
        export: then the files that export wrote and this one does not are removed, and so
        are ultralytics' label caches (``labels/*.cache``, which would make it train on the
        old labels). Nothing else is touched, no link is followed, and an image being
        exported is never removed (re-exporting a folder read with :func:`from_yolo`).
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
    InputError
        On a label not in ``classes``, a point row, an image that mixes boxes and polygons
        (ultralytics drops such an image as corrupt), a box wholly outside its image, an
        image that cannot be decoded, or an ``out_dir`` holding files this package did not
        write. Boxes and polygons partly outside their image are clipped to it, with a
        warning.
    """
    data = prepare(df)
    names = check_classes(classes)
    check_labels(data, names)
    groups = group_images(data)
    splits = _splits(data, groups, val_fraction, random_state)
    folder = ExportFolder(out_dir, "yolo")
    class_id = {name: k for k, name in enumerate(names)}
    columns = _Columns(
        data["kind"].tolist(), data["label"].tolist(), data["attributes"].tolist(),
        data[["x", "y", "w", "h"]].to_numpy().tolist(),
    )  # fmt: skip
    seen: dict[PurePosixPath, str] = {}
    planned = []  # every file is checked before anything is removed or written
    clipped = 0
    for image, split in zip(groups, splits, strict=True):
        rel = image_rel(image.item_id, image.path)
        if rel in seen:
            raise InputError(
                f"Every item must map to its own image file. Items {seen[rel]!r} and "
                f"{image.item_id!r} both map to {str(rel)!r}."
            )
        seen[rel] = image.item_id
        lines, n_clipped = _label_lines(columns, image, class_id)
        clipped += n_clipped
        image_file = PurePosixPath("images", split, rel)
        label_file = PurePosixPath("labels", split, rel).with_suffix(".txt")  # as label_path
        planned.append((image.path, image_file, label_file, "".join(lines)))
    rels = [p[2] for p in planned] + ([p[1] for p in planned] if copy_images else [])
    targets = dict(zip(rels, folder.claim([*rels, "data.yaml"]), strict=False))
    folder.begin()
    for source, image_file, label_file, text in planned:
        folder.write_text(targets[label_file], text)
        if copy_images:
            _copy_image(source, targets[image_file])
    if clipped:
        warnings.warn(
            f"{clipped} boxes or polygons lay partly outside their image and were clipped to it "
            "(YOLO coordinates must lie in [0, 1]).",
            UserWarning,
            stacklevel=2,
        )
    used = [s for s in SPLITS if s in set(splits)] or ["train"]
    for split in {"train", *used}:
        (folder.root / "images" / split).mkdir(parents=True, exist_ok=True)
        (folder.root / "labels" / split).mkdir(parents=True, exist_ok=True)
    config = {
        "train": "images/train",
        "val": "images/val" if "val" in used else "images/train",
    }
    if "test" in used:
        config["test"] = "images/test"
    config["names"] = dict(enumerate(names))
    target = folder.root / "data.yaml"
    folder.write_text(target, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    keep = {os.path.realpath(p) for p in data["path"].unique()}
    folder.finish(keep=keep)
    _drop_label_caches(folder)
    return target


def _drop_label_caches(folder: ExportFolder) -> None:
    """Remove ultralytics' caches of the labels just replaced (``labels/**/*.cache``).

    Only regular files that start as ``numpy.save`` files do (what ultralytics writes), found
    without following links.
    """
    labels = folder.root / "labels"
    if labels.is_symlink() or not labels.is_dir():
        return
    for dirpath, _subdirs, filenames in os.walk(labels):  # os.walk does not follow links
        for name in filenames:
            if not name.endswith(".cache"):
                continue
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            with open(path, "rb") as f:
                if f.read(len(_NUMPY_MAGIC)) != _NUMPY_MAGIC:
                    continue
            folder.remove(PurePosixPath(path.relative_to(folder.root).as_posix()))


def image_rel(item_id: str, path: str) -> PurePosixPath:
    """The path of an item's image inside a split folder: its id, with an image suffix."""
    rel = item_relpath(item_id)
    if rel.suffix.lower() in IMAGE_SUFFIXES:
        return rel
    suffix = Path(path).suffix.lower()
    return rel.with_name(rel.name + (suffix if suffix in IMAGE_SUFFIXES else ".png"))


def _splits(data: pd.DataFrame, groups: list[ImageGroup], val_fraction, random_state) -> list[str]:
    if "split" in data:
        if val_fraction:
            raise InputError(
                "Pass either a `split` column or `val_fraction`, not both. Got `val_fraction`="
                f"{val_fraction!r} with a `split` column."
            )
        first = data.groupby("item_id", sort=False)["split"].first()
        splits = ["train" if pd.isna(first[g.item_id]) else first[g.item_id] for g in groups]
        for g, split in zip(groups, splits, strict=True):
            if split not in SPLITS:
                raise InputError(
                    f"`split` must be one of {list(SPLITS)}. Got {split!r} for item "
                    f"{g.item_id!r} instead."
                )
        return splits
    if not (isinstance(val_fraction, int | float) and 0 <= val_fraction < 1):
        raise InputError(
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


def _copy_image(source: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_upright(source, target)
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            f"`path` must name an image that decodes. Got {source!r} instead "
            f"({type(exc).__name__}: {exc})."
        ) from exc


def from_yolo(source: str | os.PathLike, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read a YOLO dataset folder as ultralytics, Roboflow, CVAT or LabelImg wrote it.

    Parameters
    ----------
    source : str or path-like
        The dataset folder or its configuration file: ``data.yaml`` (ultralytics; Roboflow,
        whose ``../train/images`` splits resolve as ultralytics resolves them), ``obj.data``
        (CVAT "YOLO 1.1": ``train.txt`` listing ``data/obj_train_data/<image>``, labels
        beside the images, ``obj.names``) or ``classes.txt`` (LabelImg: images and labels
        side by side). Splits are folders or ``.txt`` image lists; an image listed in two
        splits is read once, in the first. A ``path`` or split outside the dataset folder is
        an error (a stale absolute ``path`` that no longer exists, as in a moved folder, is
        ignored).
    items : pandas.DataFrame, optional
        ``item_id, path`` and optional ``width, height`` of the items (e.g.
        ``store.items()``). With it, ``item_id`` and ``path`` come from this table (matched
        by the image's path inside the split, as :func:`to_yolo` names it) and sizes are read
        from it, so the images need not be in the folder. Without it, every image under a
        split is read (its size from the file, EXIF-corrected) and its ``item_id`` is its path
        inside the split folder (``images/<split>/`` or ``obj_<split>_data/``).

    Returns
    -------
    pandas.DataFrame
        ``item_id, path, width, height, kind, label, x, y, w, h, attributes, split,
        confidence``; one row per line (``kind`` ``"box"``, or ``"polygon"`` with
        ``attributes["points"]``), and one row with ``label`` missing for an image with an
        empty or no label file. Lines as ultralytics writes predictions keep their extra
        columns: ``class cx cy w h conf`` (``save_conf``) gives ``confidence``, ``class cx cy
        w h conf id`` (tracking) also ``attributes["track_id"]``, and a polygon line with an
        even number of fields ends with its confidence.

    Raises
    ------
    InputError
        If the configuration is missing or lacks names, a ``path`` or split lies outside the
        dataset folder, a line does not have one of the layouts above, a field is not a
        number, a coordinate is not normalised (above 1.01, as ultralytics checks), a class
        id is not one of the names' ids, or a label file has no image (each naming the file
        and line).
    """
    return read_yolo(source, items)
