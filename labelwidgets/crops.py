"""Export every box as a JPEG crop: fixed-size patches for classifiers, or the boxes as drawn.

The folder gets a manifest, ``crops.csv`` (``file, item_id, label``, the crop window ``x, y,
w, h`` and the box ``box_x, box_y, box_w, box_h``), so every file maps back to its item and its
exact label even where the label had to be changed to make a file name.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from pathlib import Path, PurePosixPath

import pandas as pd

from ._geometry import fit_box
from ._validate import InputError, check_columns, check_name, name_key
from .formats._export import ExportFolder
from .images import image_size, open_image

__all__ = ["export_crops", "safe_filename", "MANIFEST_CSV"]

MANIFEST_CSV = "crops.csv"
_BOX_COLUMNS = ("item_id", "path", "label", "x", "y", "w", "h")
# runs of anything but letters (any script), digits, _ - . and spaces, or of two or more dots
_UNSAFE = re.compile(r"(?:[^\w\-. ]|\.{2,})+")
#: the most UTF-8 bytes a label or a stem takes in a file name (file systems allow 255 in all)
MAX_PART_BYTES = 96


def safe_filename(text: str, max_bytes: int = MAX_PART_BYTES) -> str:
    """``text`` made safe as one file-name part: no path separators, no ``..``, no controls.

    Each run of characters other than letters, digits, ``_ - .`` and spaces, or of two or
    more dots, becomes one ``_``; leading and trailing dots and spaces are dropped. A result
    longer than ``max_bytes`` (UTF-8) is cut and ends with ``~`` and 8 hex digits of a hash
    of ``text``, so two long texts stay apart.

    Examples
    --------
    >>> safe_filename("../etc/passwd")
    '_etc_passwd'
    >>> safe_filename("gold embroidery")
    'gold embroidery'
    >>> len(safe_filename("x" * 300).encode())
    96
    """
    name = _UNSAFE.sub("_", str(text)).strip(". ") or "_"
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    digest = hashlib.sha1(str(text).encode("utf-8")).hexdigest()[:8]
    cut = name.encode("utf-8")[: max_bytes - 9].decode("utf-8", errors="ignore")
    return f"{cut.rstrip('. ')}~{digest}"


def export_crops(store_or_df, out_dir: str | os.PathLike, size=None, task: str | None = None):
    """Write one JPEG per box, named ``{image_stem}_{label}_{n}.jpg``, and ``crops.csv``.

    Parameters
    ----------
    store_or_df : LabelStore or pandas.DataFrame
        A store (its current boxes, ``store.labels(task)``, joined with ``store.items()``
        for the paths) or a DataFrame with ``item_id, path, label, x, y, w, h``. Rows of
        another ``kind`` than ``"box"`` (labels, polygons, points) and rows without a label
        are not boxes and are left out. With several raters, every rater's boxes are
        exported; resolve them first to export one set.
    out_dir : str or path-like
        Folder to write into (created): new, empty, or an earlier ``export_crops`` folder,
        which is replaced (only the files that export wrote are removed; no link is
        followed). An item in a sub-folder (``item_id`` ``"a/b.jpg"``) gets its crops in the
        same sub-folder of ``out_dir``.
    size : tuple of int, optional
        ``(width, height)`` of every crop. The crop is centred on the box's centre and
        shifted, never shrunk, to lie inside the image (:func:`labelwidgets._geometry.fit_box`,
        the rule of fixed-size click boxes), so every crop is exactly this size. None crops
        each box as it is (rounded to whole pixels, clipped to the image).
    task : str, optional
        Only this task's boxes (the store's ``task`` column, or the DataFrame's if it has one).

    Returns
    -------
    pandas.DataFrame
        One row per file written, as in ``crops.csv``: ``path`` (the JPEG), ``file`` (its path
        inside ``out_dir``), ``item_id``, ``label``, ``x, y, w, h`` (the crop window in pixels
        of the EXIF-corrected image) and ``box_x, box_y, box_w, box_h`` (the box).

    Notes
    -----
    Labels and stems are made safe for file names with :func:`safe_filename` (long ones are
    cut, with a hash). ``n`` counts from 0 the crops whose file name would otherwise be the
    same, ignoring case (``Cat`` and ``cat``, ``a/b`` and ``a:b``, two images ``a.jpg`` and
    ``a.png``), in row order, so names never collide, also on case-insensitive file systems.
    Images are decoded with their EXIF orientation applied and converted to RGB; boxes are in
    that upright frame.

    Raises
    ------
    InputError
        On missing columns, a bad ``size``, a ``size`` larger than an image, a box wholly
        outside its image, an image that cannot be decoded, or an ``out_dir`` holding files
        this package did not write.
    """
    boxes = _boxes(store_or_df, task)
    crop_size = _check_size(size)
    folder = ExportFolder(out_dir, "crops")
    columns = ("file", "item_id", "label", "x", "y", "w", "h", "box_x", "box_y", "box_w", "box_h")
    written: dict[str, list] = {c: [] for c in columns}
    counts: dict[tuple, int] = {}
    plan = []  # every window and name is settled before anything is written
    for (item_id, image_path), rows in boxes.groupby(["item_id", "path"], sort=False):
        subfolder, stem = _place(item_id, image_path)
        width, height = _size(image_path)
        crops = []
        for label, x, y, w, h in rows[["label", "x", "y", "w", "h"]].itertuples(index=False):
            window = _window(x, y, w, h, width, height, crop_size, item_id)
            name = f"{stem}_{safe_filename(label)}"
            key = (subfolder, name_key(name))
            n = counts.get(key, 0)
            counts[key] = n + 1
            rel = PurePosixPath(subfolder, f"{name}_{n}.jpg")
            left, top, right, bottom = window
            values = (rel.as_posix(), item_id, label, left, top, right - left, bottom - top,
                      x, y, w, h)  # fmt: skip
            for column, value in zip(columns, values, strict=True):
                written[column].append(value)
            crops.append((rel, window))
        plan.append((image_path, crops))
    targets = folder.claim([rel for _, crops in plan for rel, _ in crops] + [MANIFEST_CSV])
    folder.begin()
    k = 0
    for image_path, crops in plan:
        with _open_upright(image_path) as image:
            for _, window in crops:
                targets[k].parent.mkdir(parents=True, exist_ok=True)
                image.crop(window).save(targets[k], quality=95)
                k += 1
    table = pd.DataFrame(written)
    folder.write_text(targets[-1], table.to_csv(index=False))
    folder.finish()
    table.insert(0, "path", [str(Path(out_dir, f)) for f in table["file"]])  # as `out_dir` names it
    return table


def _boxes(source, task: str | None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        df = source
    elif hasattr(source, "labels") and hasattr(source, "items"):
        labels = source.labels(task=task)
        df = labels.merge(source.items()[["item_id", "path"]], on="item_id", how="left")
    else:
        raise InputError(
            f"`store_or_df` must be a LabelStore or a pandas DataFrame. Got "
            f"{type(source).__name__} instead."
        )
    check_columns(df, _BOX_COLUMNS, "store_or_df")
    keep = df["label"].notna()
    if "kind" in df:
        keep &= df["kind"].fillna("box") == "box"
    if task is not None and "task" in df:
        keep &= df["task"] == task
    df = df[keep]
    for label in pd.unique(df["label"]):
        if isinstance(label, str):
            check_name(label, "label")  # control characters: crops.csv must read back
    no_path = df["path"].isna()
    if no_path.any():
        raise InputError(
            f"Every box's item must have a `path`. Got none for item "
            f"{df.loc[no_path, 'item_id'].iloc[0]!r}; add the item to the store first."
        )
    return df[list(_BOX_COLUMNS)].astype({"x": float, "y": float, "w": float, "h": float})


def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        w, h = size
        ok = all(int(v) == v and v > 0 for v in (w, h))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(
            f"`size` must be None or (width, height) positive integers. Got {size!r} instead."
        )
    return int(w), int(h)


def _place(item_id: str, image_path: str) -> tuple[str, str]:
    rel = PurePosixPath(str(item_id).replace("\\", "/"))
    parts = [safe_filename(p) for p in rel.parts[:-1] if p not in ("", ".", "..", "/")]
    stem = PurePosixPath(rel.name).stem or Path(image_path).stem
    return PurePosixPath(*parts).as_posix() if parts else "", safe_filename(stem)


def _size(path: str) -> tuple[int, int]:
    try:
        return image_size(path)
    except OSError as exc:
        raise InputError(
            f"`path` must name an image that decodes. Got {str(path)!r} instead ({exc})."
        ) from exc


def _open_upright(path: str):
    try:
        return open_image(path)
    except OSError as exc:
        raise InputError(
            f"`path` must name an image that decodes. Got {str(path)!r} instead ({exc})."
        ) from exc


def _window(x, y, w, h, width, height, crop_size, item_id) -> tuple[int, int, int, int]:
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise InputError(
            f"A box must have finite `x, y` and positive `w, h`. Got x={x!r}, y={y!r}, w={w!r}, "
            f"h={h!r} for item {item_id!r} instead."
        )
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise InputError(
            f"A box must overlap its image ({width} x {height} pixels). Got x={x:g}, y={y:g}, "
            f"w={w:g}, h={h:g} for item {item_id!r} instead."
        )
    if crop_size is None:
        left, top = min(max(round(x), 0), width - 1), min(max(round(y), 0), height - 1)
        right, bottom = min(round(x + w), width), min(round(y + h), height)
        return left, top, max(right, left + 1), max(bottom, top + 1)
    cw, ch = crop_size
    if cw > width or ch > height:
        raise InputError(
            f"`size` must fit inside every image. Got {crop_size!r} for item {item_id!r}, whose "
            f"image is {width} x {height} pixels; choose a smaller size."
        )
    left, top = fit_box(x + w / 2, y + h / 2, cw, ch, width, height)
    # fit_box keeps left in [0, width - cw]; rounding keeps it there (both ends are integers)
    left, top = round(left), round(top)
    return left, top, left + cw, top + ch
