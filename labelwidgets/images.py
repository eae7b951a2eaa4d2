"""Image sets and the one decode path: every image any part of the package reads goes through here.

:func:`open_image` decodes fully (a truncated file fails here, not mid-session), turns the image
upright by its EXIF orientation and converts any mode to 8-bit RGB (16-bit and float scaled,
transparency on white), refusing images over :data:`MAX_PIXELS`. :func:`image_size` reads the
upright size from the header alone; :func:`write_upright` copies an image for export, upright.
:class:`ImageSet` holds items with metadata, a size per item (a dict, not a scan) and the one
display cache the widgets share.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock
from typing import NamedTuple

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageSet",
    "Display",
    "open_image",
    "image_size",
    "to_rgb",
    "write_upright",
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: The largest image (width x height) decoded; larger files are refused as possible
#: decompression bombs (Pillow's own error limit).
MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)
_RESERVED = ("item_id", "path", "width", "height")
_EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 or 270 degrees


def _pil_open():
    """PIL's own ``Image.open``.

    Importing ultralytics replaces ``PIL.Image.open`` process-wide with a wrapper that, on a file
    PIL cannot identify, tries to install ``pi-heif`` (and fails offline with ModuleNotFoundError);
    the original stays in ``ultralytics.utils.patches._image_open``.
    """
    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", Image.open)


def _check_pixels(img: Image.Image, path: Path) -> None:
    if img.width * img.height > MAX_PIXELS:
        raise OSError(
            f"{path.name} is {img.width} x {img.height} pixels, more than the limit of "
            f"{MAX_PIXELS:,} (labelwidgets.images.MAX_PIXELS); raise the limit if you trust the file."
        )


def open_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image fully, apply its EXIF orientation and convert it to 8-bit RGB.

    Transparent pixels are composited on white; 16-bit and float images are scaled to 0-255.

    Raises
    ------
    OSError
        When the file is missing, truncated, too large or not an image (the message says which).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be an existing file. Got {str(path)!r} instead.")
    try:
        with _pil_open()(path) as img:
            _check_pixels(img, path)
            img.load()  # full decode: truncated files fail here, not in a widget
            return to_rgb(ImageOps.exif_transpose(img))
    except UnidentifiedImageError as exc:
        raise OSError(f"not an image file that Pillow can read: {path.name}") from exc
    except OSError as exc:
        if str(exc).startswith(path.name):
            raise
        raise OSError(f"cannot decode {path.name}: {exc}") from exc
    except (SyntaxError, ValueError, ImportError, Image.DecompressionBombError) as exc:
        raise OSError(f"cannot decode {path.name}: {exc}") from exc


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of the upright image (EXIF orientation applied), from the header only.

    Raises
    ------
    OSError
        When the file is missing or not an image Pillow can identify.
    """
    path = Path(path)
    try:
        with _pil_open()(path) as im:
            width, height = im.size
            orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise OSError(f"cannot read the size of {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    return (height, width) if orientation in _SWAPS_SIDES else (width, height)


def to_rgb(img: Image.Image | np.ndarray) -> Image.Image:
    """Any PIL image or array (grey, palette, alpha, 16-bit, float) as an 8-bit RGB image.

    Arrays and 16-bit/float images are scaled from their own minimum and maximum to 0-255.

    Examples
    --------
    >>> to_rgb(np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)).getpixel((1, 1))
    (255, 255, 255)
    """
    if isinstance(img, np.ndarray):
        arr = img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img
        if arr.dtype != np.uint8:
            arr = _scaled(arr)
        img = Image.fromarray(arr)
    if img.mode == "RGB":
        return img.copy()
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_scaled(np.asarray(img))).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return img.convert("RGB")


def _scaled(arr: np.ndarray) -> np.ndarray:
    """An array scaled from its own range to 0-255 as uint8 (a flat array becomes 0)."""
    arr = np.asarray(arr, dtype=np.float64)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    out = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
    return np.round(out).astype(np.uint8)


def write_upright(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Write ``source`` to ``target`` upright: a byte copy when already upright and of the same
    format, else decoded, turned by its EXIF orientation and saved (JPEG quality 95).

    The image is always fully decoded first, so a corrupt file fails here with an ``OSError``.
    """
    source, target = Path(source), Path(target)
    with _pil_open()(source) as im:
        _check_pixels(im, source)
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
        same_format = Image.registered_extensions().get(target.suffix.lower()) == im.format
        im.load()
        if orientation != 1 or not same_format:
            upright = ImageOps.exif_transpose(im)
            if target.suffix.lower() in {".jpg", ".jpeg"} and upright.mode not in ("RGB", "L"):
                upright = to_rgb(upright)
            upright.save(target, quality=95)
            return
    if os.path.realpath(source) != os.path.realpath(target):
        shutil.copyfile(source, target)


class Display(NamedTuple):
    """An image encoded for the browser: ``data`` bytes in ``format`` (``"jpeg"`` or ``"png"``),
    ``width`` x ``height`` display pixels; display = original x ``scale`` (per axis)."""

    data: bytes
    format: str
    width: int
    height: int
    scale: tuple[float, float]


def encode_display(img: Image.Image, max_size: int = 768, min_size: int = 0, quality: int = 90) -> Display:
    """Encode an upright RGB image for display: no side longer than ``max_size``; an image whose
    longest side is under ``min_size`` is enlarged by a whole factor with nearest-neighbour
    sampling (PNG, so every original pixel stays a crisp square).

    Examples
    --------
    >>> d = encode_display(Image.new("RGB", (96, 64)), max_size=768, min_size=384)
    >>> d.format, d.width, d.height, d.scale
    ('png', 384, 256, (4.0, 4.0))
    """
    width, height = img.size
    factor = -(-min_size // max(width, height)) if min_size else 1
    buf = io.BytesIO()
    if factor > 1 and max(width, height) * factor <= max(max_size, min_size):
        shown = img.resize((width * factor, height * factor), Image.Resampling.NEAREST)
        shown.save(buf, format="PNG")
        fmt = "png"
    else:
        scale = min(1.0, max_size / max(width, height))
        shown = img
        if scale < 1.0:
            shown = img.resize(
                (max(1, round(width * scale)), max(1, round(height * scale))),
                Image.Resampling.LANCZOS,
            )
        shown.save(buf, format="JPEG", quality=quality)
        fmt = "jpeg"
    return Display(buf.getvalue(), fmt, shown.width, shown.height,
                   (shown.width / width, shown.height / height))  # fmt: skip


def _unusable_name(path: Path) -> str | None:
    """Why a file found in a folder cannot become an item, or None.

    A name that is not valid UTF-8 cannot be stored as text (the store and every annotation
    format are text); a symbolic link whose target is missing has no image behind it.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8; rename the file to include it"
    if path.is_symlink() and not path.exists():
        return "a symbolic link whose target is missing"
    if not path.is_file():
        return "not a regular file"
    return None


def _shown_path(path: Path) -> str:
    """A path as printable text, undecodable bytes written as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _probe(path: str) -> tuple[int, int] | str:
    """(width, height) of the upright image, or the reason it cannot be used."""
    try:
        img = open_image(path)
    except OSError as exc:
        return str(exc)
    return img.size


class ImageSet:
    """Items (images plus metadata) ready for the widgets.

    Build one with :meth:`from_folder`, :meth:`from_csv` or :meth:`from_dataframe`.

    Attributes
    ----------
    items : pandas.DataFrame
        ``item_id, path, width, height`` and one column per metadata field; sizes are those of
        the EXIF-corrected image.
    skipped : pandas.DataFrame
        ``path, reason`` for every file that could not be used (missing, truncated, not an
        image, duplicate id). Skipped files never reach a widget.
    initial_labels : pandas.DataFrame
        ``item_id, task, label`` read from the folder layout (``labels_from_subfolders=True``).
    """

    def __init__(
        self,
        items: pd.DataFrame,
        skipped: pd.DataFrame | None = None,
        initial_labels: pd.DataFrame | None = None,
        root: str | os.PathLike | None = None,
        cache_size: int = 256,
    ):
        self.items = items.reset_index(drop=True)
        self.skipped = (
            skipped if skipped is not None else pd.DataFrame({"path": [], "reason": []})
        ).reset_index(drop=True)
        self.initial_labels = (
            initial_labels
            if initial_labels is not None
            else pd.DataFrame({"item_id": [], "task": [], "label": []})
        )
        self.root = Path(root) if root is not None else None
        self._paths = dict(zip(self.items["item_id"], self.items["path"], strict=True))
        self._positions = {item_id: i for i, item_id in enumerate(self.items["item_id"])}
        self._sizes = {
            item_id: (int(w), int(h))
            for item_id, w, h in zip(
                self.items["item_id"], self.items["width"], self.items["height"], strict=True
            )
        } if "width" in self.items else {}
        self._cache: OrderedDict[tuple, Display] = OrderedDict()
        self._cache_lock = Lock()
        self._cache_size = cache_size

    # ----------------------------------------------------------- constructors
    @classmethod
    def from_folder(
        cls,
        root: str | os.PathLike,
        labels_from_subfolders: bool = False,
        task: str = "label",
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        progress: bool = True,
    ) -> ImageSet:
        """All images under ``root``, recursively; ``item_id`` is the path relative to ``root``.

        Parameters
        ----------
        root : str or path-like
            The folder to scan.
        labels_from_subfolders : bool, default=False
            Use each image's first-level subfolder name as an initial label for ``task``
            (written with ``source="folder"`` by :meth:`to_store`).
        task : str, default="label"
            The task those folder labels answer.
        extensions : sequence of str, default=IMAGE_EXTENSIONS
            File suffixes treated as images (case-insensitive); other files are listed in
            ``skipped`` with the reason, hidden files are ignored.
        progress : bool, default=True
            Show a progress bar while decoding.
        """
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"`root` must be an existing folder. Got {str(root)!r} instead.")
        exts = {e.lower() for e in extensions}
        found = sorted(
            p
            for p in root.rglob("*")
            if (p.is_file() or p.is_symlink())
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        files, unusable = [], []
        for p in found:
            reason = _unusable_name(p)
            (unusable.append((_shown_path(p), reason)) if reason else files.append(p))
        images = [p for p in files if p.suffix.lower() in exts]
        others = [(str(p), f"not an image extension {sorted(exts)}") for p in files if p.suffix.lower() not in exts]
        df = pd.DataFrame(
            {"item_id": [p.relative_to(root).as_posix() for p in images], "path": [str(p) for p in images]}
        )
        if labels_from_subfolders:
            df["_folder"] = [
                p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None
                for p in images
            ]
        skipped = pd.DataFrame(unusable + others, columns=["path", "reason"])
        out = cls._validated(df, root=root, progress=progress, extra_skipped=skipped)
        if labels_from_subfolders:
            folder = out.items.pop("_folder")
            has = folder.notna()
            out.initial_labels = pd.DataFrame(
                {"item_id": out.items.loc[has, "item_id"], "task": task, "label": folder[has]}
            ).reset_index(drop=True)
        return out

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        path_column: str = "path",
        item_id_column: str | None = None,
        progress: bool = True,
        **read_csv_kwargs,
    ) -> ImageSet:
        """Items listed in a CSV file; relative paths are relative to the CSV's folder.

        Every column other than the path (and item id) column becomes item metadata.
        """
        path = Path(path)
        df = pd.read_csv(path, **read_csv_kwargs)
        return cls.from_dataframe(
            df, path_column=path_column, item_id_column=item_id_column, root=path.parent,
            progress=progress,
        )  # fmt: skip

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        path_column: str = "path",
        item_id_column: str | None = None,
        root: str | os.PathLike | None = None,
        progress: bool = True,
    ) -> ImageSet:
        """Items from a DataFrame with one image path per row; other columns are metadata.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per image.
        path_column : str, default="path"
            The column holding the image paths.
        item_id_column : str or None, default=None
            The column holding item ids; by default an ``item_id`` column if present, else
            the path as written in ``path_column``.
        root : str or path-like or None, default=None
            Folder that relative paths are relative to (default: the working directory).
        progress : bool, default=True
            Show a progress bar while decoding.
        """
        if path_column not in df.columns:
            raise ValueError(
                f"`path_column` must name a column of the table. Got {path_column!r}; "
                f"the columns are {list(df.columns)}."
            )
        if item_id_column is None and "item_id" in df.columns:
            item_id_column = "item_id"
        if item_id_column is not None and item_id_column not in df.columns:
            raise ValueError(
                f"`item_id_column` must name a column of the table. Got {item_id_column!r}; "
                f"the columns are {list(df.columns)}."
            )
        base = Path(root) if root is not None else Path.cwd()
        paths = [
            str(Path(p) if Path(p).is_absolute() else base / p) if isinstance(p, str | os.PathLike) else p
            for p in df[path_column]
        ]
        ids = df[item_id_column] if item_id_column else df[path_column]
        meta = df.drop(columns=[c for c in {path_column, item_id_column} if c])
        meta = meta.drop(columns=[c for c in ("width", "height") if c in meta.columns])
        out = pd.concat(
            [pd.DataFrame({"item_id": ids.astype(str).to_numpy(), "path": paths}), meta.reset_index(drop=True)],
            axis=1,
        )
        return cls._validated(out, root=root, progress=progress)

    @classmethod
    def _validated(
        cls,
        df: pd.DataFrame,
        root=None,
        progress: bool = True,
        extra_skipped: pd.DataFrame | None = None,
    ) -> ImageSet:
        from tqdm.auto import tqdm

        bad_path = df["path"].isna() | ~df["path"].map(lambda p: isinstance(p, str))
        paths = df["path"].where(~bad_path, "").tolist()
        with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 2)) as pool:
            results = list(
                tqdm(
                    pool.map(_probe, paths),
                    total=len(paths),
                    desc="Checking images",
                    disable=not progress or len(paths) < 50,
                )
            )
        ok = np.array([isinstance(r, tuple) for r in results], dtype=bool) & ~bad_path.to_numpy()
        dup = df["item_id"].duplicated().to_numpy()
        reasons = [
            "no path" if b else (r if isinstance(r, str) else "duplicate item_id")
            for r, b in zip(results, bad_path, strict=True)
        ]
        use = ok & ~dup
        skipped = pd.DataFrame(
            {"path": df.loc[~use, "path"].astype(str).to_numpy(),
             "reason": [reasons[i] for i in np.flatnonzero(~use)]}
        )  # fmt: skip
        if extra_skipped is not None and len(extra_skipped):
            skipped = pd.concat([skipped, extra_skipped], ignore_index=True)
        items = df[use].copy()
        sizes = [results[i] for i in np.flatnonzero(use)]
        items.insert(2, "width", [s[0] for s in sizes])
        items.insert(3, "height", [s[1] for s in sizes])
        items["width"] = items["width"].astype(int)
        items["height"] = items["height"].astype(int)
        return cls(items, skipped=skipped, root=root)

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"ImageSet({len(self)} items, {len(self.skipped)} skipped)"

    @property
    def item_ids(self) -> list[str]:
        """Item ids in order."""
        return self.items["item_id"].tolist()

    @property
    def metadata_columns(self) -> list[str]:
        """The metadata column names."""
        return [c for c in self.items.columns if c not in _RESERVED]

    def path(self, item_id: str) -> str:
        """The file path of an item."""
        try:
            return self._paths[item_id]
        except KeyError:
            raise KeyError(
                f"`item_id` must be an item of this ImageSet. Got {item_id!r}; "
                f"{len(self)} items, e.g. {self.item_ids[:3]}."
            ) from None

    def load(self, item_id: str) -> Image.Image:
        """The upright RGB image of an item."""
        return open_image(self.path(item_id))

    def size(self, item_id: str) -> tuple[int, int]:
        """``(width, height)`` of an item's upright image (a dict lookup)."""
        try:
            return self._sizes[item_id]
        except KeyError:
            self.path(item_id)  # raises the helpful KeyError
            raise

    def metadata(self, item_id: str) -> dict:
        """An item's metadata fields (``{column: value}``), a dict lookup."""
        self.path(item_id)  # the helpful KeyError for an unknown id
        row = self.items.iloc[self._positions[item_id]]
        return {c: row[c] for c in self.metadata_columns}

    def display(self, item_id: str, max_size: int = 768, min_size: int = 0) -> Display:
        """The image encoded for the browser (see :func:`encode_display`), from an LRU cache that
        every widget shares; safe to call from a prefetch thread."""
        key = (item_id, max_size, min_size)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        shown = encode_display(self.load(item_id), max_size=max_size, min_size=min_size)
        with self._cache_lock:
            self._cache[key] = shown
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return shown

    def subset(self, item_ids: Iterable[str]) -> ImageSet:
        """A new ImageSet with only these items, in the order given."""
        ids = list(item_ids)
        unknown = sorted(set(ids) - set(self._paths))
        if unknown:
            raise KeyError(f"`item_ids` must be items of this ImageSet. Unknown: {unknown[:5]}.")
        items = self.items.set_index("item_id").loc[ids].reset_index()
        labels = self.initial_labels[self.initial_labels["item_id"].isin(ids)]
        return ImageSet(items, skipped=self.skipped, initial_labels=labels, root=self.root)

    def to_store(self, store) -> int:
        """Add the items to ``store`` and write folder labels once (``source="folder"``).

        Returns
        -------
        int
            The number of items that were new to the store.
        """
        added = store.add_items(self.items)
        labels = self.initial_labels
        if len(labels):
            have = store.current(source="folder")
            done = set(zip(have["item_id"], have["task"], strict=True))
            rows = [
                {"item_id": item_id, "task": task, "rater": "folder", "kind": "label",
                 "label": str(label), "source": "folder"}  # fmt: skip
                for item_id, task, label in labels[["item_id", "task", "label"]].itertuples(index=False)
                if (item_id, task) not in done
            ]
            if rows:  # one bulk import, one submission
                store.append(rows)
        return added
