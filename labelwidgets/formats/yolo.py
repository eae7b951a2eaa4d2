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
from ._yolo_layout import SPLITS
from ._yolo_lines import Columns, label_lines
from ._yolo_read import IMAGE_SUFFIXES, read_yolo

__all__ = ["to_yolo", "from_yolo"]

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
    columns = Columns(
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
        lines, n_clipped = label_lines(columns, image, class_id)
        clipped += n_clipped
        text_rel = rel.as_posix()
        image_file = f"images/{split}/{text_rel}"
        label_file = f"labels/{split}/{text_rel.rsplit('.', 1)[0]}.txt"  # as label_path
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
