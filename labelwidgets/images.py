"""Image sets: items with metadata, safe decoding, cached thumbnails and a ``skipped`` list.

Every image that reaches a widget has been fully decoded once (so a truncated file is caught
here, not mid-session), is turned upright by its EXIF orientation and converted to RGB.
"""

from __future__ import annotations

import io
import os
import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageSet", "open_image", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_RESERVED = ("item_id", "path", "width", "height")


def _pil_open():
    """PIL's own ``Image.open``.

    Importing ultralytics replaces ``PIL.Image.open`` process-wide with a wrapper that, on a file
    PIL cannot identify, tries to install ``pi-heif`` (and fails offline with ModuleNotFoundError);
    the original stays in ``ultralytics.utils.patches._image_open``.
    """
    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", Image.open)


def open_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image fully, apply its EXIF orientation and convert it to 8-bit RGB.

    Transparent pixels are composited on white; 16-bit and float images are scaled to 0-255.

    Raises
    ------
    OSError
        When the file is missing, truncated or not an image (the message says which).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` must be an existing file. Got {str(path)!r} instead.")
    try:
        with _pil_open()(path) as img:
            img.load()  # full decode: truncated files fail here, not in a widget
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except UnidentifiedImageError as exc:
        raise OSError(f"not an image file that Pillow can read: {path.name}") from exc
    except (OSError, SyntaxError, ValueError, ImportError, Image.DecompressionBombError) as exc:
        raise OSError(f"cannot decode {path.name}: {exc}") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img.copy()
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8)).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return img.convert("RGB")


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
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
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
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        images = [p for p in files if p.suffix.lower() in exts]
        others = [p for p in files if p.suffix.lower() not in exts]
        df = pd.DataFrame(
            {"item_id": [p.relative_to(root).as_posix() for p in images], "path": [str(p) for p in images]}
        )
        if labels_from_subfolders:
            df["_folder"] = [
                p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None
                for p in images
            ]
        skipped = pd.DataFrame(
            {"path": [str(p) for p in others], "reason": [f"not an image extension {sorted(exts)}" for _ in others]}
        )
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

    def encoded(self, item_id: str, max_size: int = 768, quality: int = 90) -> tuple[bytes, str, float]:
        """The image as display bytes, no side longer than ``max_size`` (cached, LRU).

        Returns
        -------
        (bytes, str, float)
            The encoded image, its format (``"jpeg"``) and the scale from original pixels to
            display pixels (``display = original * scale``).
        """
        key = (item_id, max_size, quality)
        img_size = self._size(item_id)
        scale = min(1.0, max_size / max(img_size))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key], "jpeg", scale
        img = self.load(item_id)
        if scale < 1.0:
            img = img.resize(
                (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                Image.Resampling.LANCZOS,
            )
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        data = buf.getvalue()
        self._cache[key] = data
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data, "jpeg", scale

    def _size(self, item_id: str) -> tuple[int, int]:
        row = self.items.loc[self.items["item_id"] == item_id]
        if row.empty:
            self.path(item_id)  # raises the helpful KeyError
        return int(row["width"].iloc[0]), int(row["height"].iloc[0])

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
