"""Export every box as a JPEG crop: fixed-size patches for classifiers, or the boxes as drawn."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path, PurePosixPath

import pandas as pd
from PIL import Image

from ._geometry import fit_box
from .images import open_image

__all__ = ["export_crops", "safe_filename"]

_BOX_COLUMNS = ("item_id", "path", "label", "x", "y", "w", "h")
# runs of anything but letters (any script), digits, _ - . and spaces, or of two or more dots
_UNSAFE = re.compile(r"(?:[^\w\-. ]|\.{2,})+")


def safe_filename(text: str) -> str:
    """``text`` made safe as one file-name part: no path separators, no ``..``, no controls.

    Each run of characters other than letters, digits, ``_ - .`` and spaces, or of two or
    more dots, becomes one ``_``; leading and trailing dots and spaces are dropped.

    Examples
    --------
    >>> safe_filename("../etc/passwd")
    '_etc_passwd'
    >>> safe_filename("gold embroidery")
    'gold embroidery'
    """
    name = _UNSAFE.sub("_", str(text)).strip(". ")
    return name or "_"


def export_crops(store_or_df, out_dir: str | os.PathLike, size=None, task: str | None = None):
    """Write one JPEG per box, named ``{image_stem}_{label}_{n}.jpg``.

    Parameters
    ----------
    store_or_df : LabelStore or pandas.DataFrame
        A store (its current boxes, ``store.labels(task)``, joined with ``store.items()``
        for the paths) or a DataFrame with ``item_id, path, label, x, y, w, h``. Rows of
        another ``kind`` than ``"box"`` (labels, polygons, points) and rows without a label
        are not boxes and are left out. With several raters, every rater's boxes are
        exported; resolve them first to export one set.
    out_dir : str or path-like
        Folder to write into (created). An item in a sub-folder (``item_id`` ``"a/b.jpg"``)
        gets its crops in the same sub-folder of ``out_dir``.
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
        One row per file written: ``path`` (the JPEG), ``item_id``, ``label``, and ``x, y, w,
        h``, the crop window in pixels of the EXIF-corrected image.

    Notes
    -----
    ``n`` counts the boxes of one image and label from 0, in row order. Labels are made
    safe for file names with :func:`safe_filename`. Images are decoded with their EXIF
    orientation applied and converted to RGB; boxes are in that upright frame.

    Raises
    ------
    ValueError
        On missing columns, a bad ``size``, a ``size`` larger than an image, a box wholly
        outside its image, an image that cannot be decoded, or two crops that would share a
        file name.
    """
    boxes = _boxes(store_or_df, task)
    crop_size = _check_size(size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"path": [], "item_id": [], "label": [], "x": [], "y": [], "w": [], "h": []}
    owners: dict[Path, str] = {}
    for (item_id, image_path), rows in boxes.groupby(["item_id", "path"], sort=False):
        folder, stem = _place(out, item_id, image_path)
        counts: dict[str, int] = {}
        with _open_upright(image_path) as image:
            width, height = image.size
            for label, x, y, w, h in rows[["label", "x", "y", "w", "h"]].itertuples(index=False):
                window = _window(x, y, w, h, width, height, crop_size, item_id)
                name = safe_filename(label)
                n = counts.get(name, 0)
                counts[name] = n + 1
                target = folder / f"{stem}_{name}_{n}.jpg"
                if owners.setdefault(target, item_id) != item_id:
                    raise ValueError(
                        f"Every crop must get its own file. Items {owners[target]!r} and "
                        f"{item_id!r} both write {str(target)!r}; give them distinct stems."
                    )
                image.crop(window).save(target, quality=95)
                left, top, right, bottom = window
                for key, value in zip(
                    written,
                    (str(target), item_id, label, left, top, right - left, bottom - top),
                    strict=True,
                ):
                    written[key].append(value)
    return pd.DataFrame(written)


def _boxes(source, task: str | None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        df = source
    elif hasattr(source, "labels") and hasattr(source, "items"):
        labels = source.labels(task=task)
        df = labels.merge(source.items()[["item_id", "path"]], on="item_id", how="left")
    else:
        raise ValueError(
            f"`store_or_df` must be a LabelStore or a pandas DataFrame. Got "
            f"{type(source).__name__} instead."
        )
    missing = [c for c in _BOX_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"`store_or_df` must have columns {list(_BOX_COLUMNS)}. Missing {missing}; got "
            f"{list(df.columns)} instead."
        )
    keep = df["label"].notna()
    if "kind" in df:
        keep &= df["kind"].fillna("box") == "box"
    if task is not None and "task" in df:
        keep &= df["task"] == task
    df = df[keep]
    no_path = df["path"].isna()
    if no_path.any():
        raise ValueError(
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
        raise ValueError(
            f"`size` must be None or (width, height) positive integers. Got {size!r} instead."
        )
    return int(w), int(h)


def _place(out: Path, item_id: str, image_path: str) -> tuple[Path, str]:
    rel = PurePosixPath(str(item_id).replace("\\", "/"))
    parts = [safe_filename(p) for p in rel.parts[:-1] if p not in ("", ".", "..", "/")]
    folder = out.joinpath(*parts) if parts else out
    folder.mkdir(parents=True, exist_ok=True)
    stem = PurePosixPath(rel.name).stem or Path(image_path).stem
    return folder, safe_filename(stem)


def _open_upright(path: str) -> Image.Image:
    try:
        return open_image(path)
    except OSError as exc:
        raise ValueError(
            f"`path` must name an image that decodes. Got {str(path)!r} instead ({exc})."
        ) from exc


def _window(x, y, w, h, width, height, crop_size, item_id) -> tuple[int, int, int, int]:
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise ValueError(
            f"A box must have finite `x, y` and positive `w, h`. Got x={x!r}, y={y!r}, w={w!r}, "
            f"h={h!r} for item {item_id!r} instead."
        )
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(
            f"A box must overlap its image ({width} x {height} pixels). Got x={x:g}, y={y:g}, "
            f"w={w:g}, h={h:g} for item {item_id!r} instead."
        )
    if crop_size is None:
        left, top = min(max(round(x), 0), width - 1), min(max(round(y), 0), height - 1)
        right, bottom = min(round(x + w), width), min(round(y + h), height)
        return left, top, max(right, left + 1), max(bottom, top + 1)
    cw, ch = crop_size
    if cw > width or ch > height:
        raise ValueError(
            f"`size` must fit inside every image. Got {crop_size!r} for item {item_id!r}, whose "
            f"image is {width} x {height} pixels; choose a smaller size."
        )
    left, top = fit_box(x + w / 2, y + h / 2, cw, ch, width, height)
    # fit_box keeps left in [0, width - cw]; rounding keeps it there (both ends are integers)
    left, top = round(left), round(top)
    return left, top, left + cw, top + ch
