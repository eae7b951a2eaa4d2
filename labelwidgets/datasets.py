"""Offline demo data: real photos that installed packages ship, and generated images with known truth.

Nothing is downloaded. ``load_demo("shapes")`` draws coloured shapes whose truth is known for
several tasks (shape, colours present, boxes) with metadata columns ``lighting`` (``night`` is
deliberately rare, darker and noisier), ``camera`` and ``background``. ``load_demo("photos")``
gathers the photos shipped by scikit-learn, scikit-image and ultralytics, with their subject
and place written down by hand.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from ._offline import config_dir, test_mode
from ._validate import InputError
from .images import ImageSet

__all__ = [
    "load_demo",
    "make_demo",
    "make_small_objects",
    "demo_truth",
    "demo_tasks",
    "SimulatedRater",
    "SHAPES",
    "COLORS",
    "test_mode",
]

SHAPES = ("circle", "square", "triangle")
COLORS = ("red", "green", "blue")
_RGB = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220)}
SUBJECTS = ("person", "animal", "vehicle", "food", "building", "plant")
PLACES = ("indoors", "outdoors")
_SUBSETS = ("shapes", "photos")
#: The generated images' file names (a rebuild removes these and nothing else).
_SHAPE_FILE = re.compile(r"\d{4}\.jpg")


def demo_tasks(subset: str = "shapes") -> dict:
    """The labeling tasks that fit a demo subset, ready for :class:`MultiTaskTagger`."""
    from ._tasks import MultiLabel

    _check_subset(subset)
    if subset == "shapes":
        return {"shape": list(SHAPES), "colors": MultiLabel(list(COLORS))}
    return {"subject": list(SUBJECTS), "place": list(PLACES)}


def _check_subset(subset: str) -> None:
    if subset not in _SUBSETS:
        raise ValueError(f"`subset` must be one of {list(_SUBSETS)}. Got {subset!r} instead.")


def _default_root() -> Path:
    return config_dir() / "demo"


# --------------------------------------------------------------------------- shapes
def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], rgb) -> None:
    x, y, w, h = box
    if shape == "circle":
        draw.ellipse([x, y, x + w - 1, y + h - 1], fill=rgb)
    elif shape == "square":
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=rgb)
    else:
        draw.polygon([(x + w / 2, y), (x + w - 1, y + h - 1), (x, y + h - 1)], fill=rgb)


def _background(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    base = rng.integers(150, 230, size=3).astype(np.float64)
    img = np.ones((size, size, 3)) * base
    if kind == "textured":
        yy, xx = np.mgrid[0:size, 0:size]
        freq = rng.uniform(0.15, 0.45)
        stripes = 25 * np.sin(freq * (xx + rng.uniform(0.5, 1.5) * yy))
        img += stripes[..., None] + rng.normal(0, 10, size=(size, size, 1))
    return img


def _shapes_rows(n: int, size: int, rng: np.random.Generator) -> list[dict]:
    """Draw ``n`` shape images in memory; returns rows with the image and its truth."""
    rows = []
    for i in range(n):
        lighting = "night" if rng.random() < 0.12 else "day"
        camera = str(rng.choice(["cam_a", "cam_b", "cam_c"], p=[0.45, 0.35, 0.2]))
        background = str(rng.choice(["plain", "textured"], p=[0.6, 0.4]))
        canvas = Image.fromarray(np.clip(_background(rng, background, size), 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(canvas)
        shape = str(rng.choice(SHAPES))
        color = str(rng.choice(COLORS))
        side = int(rng.integers(size * 0.35, size * 0.6))
        x, y = (int(v) for v in rng.integers(0, size - side, size=2))
        boxes = [{"label": shape, "x": float(x), "y": float(y), "w": float(side), "h": float(side)}]
        colors = {color}
        if rng.random() < 0.4:  # a second, smaller object in a corner the first leaves free
            shape2 = str(rng.choice(SHAPES))
            color2 = str(rng.choice([c for c in COLORS if c != color]))
            side2 = int(rng.integers(size * 0.14, size * 0.22))
            corners = [(2, 2), (size - side2 - 2, 2), (2, size - side2 - 2), (size - side2 - 2, size - side2 - 2)]
            free = [
                (cx, cy)
                for cx, cy in corners
                if cx + side2 <= x or cx >= x + side or cy + side2 <= y or cy >= y + side
            ]
            if free:
                cx, cy = free[int(rng.integers(len(free)))]
                _draw_shape(draw, shape2, (cx, cy, side2, side2), _RGB[color2])
                boxes.append({"label": shape2, "x": float(cx), "y": float(cy), "w": float(side2), "h": float(side2)})
                colors.add(color2)
        _draw_shape(draw, shape, (x, y, side, side), _RGB[color])
        arr = np.asarray(canvas, dtype=np.float64)
        if camera == "cam_b":
            arr = np.asarray(Image.fromarray(arr.astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float64)
        elif camera == "cam_c":
            arr = arr * np.array([1.08, 1.0, 0.85])
        if lighting == "night":
            arr = arr * 0.3 + rng.normal(0, 14, size=arr.shape)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        rows.append(
            {"item_id": f"shapes/{i:04d}.jpg", "image": img, "lighting": lighting, "camera": camera,
             "background": background, "shape": shape, "colors": sorted(colors), "boxes": boxes}  # fmt: skip
        )
    return rows


# --------------------------------------------------------------------------- photos
# (loader, file name, subject, place, truth boxes as label, x, y, w, h in the upright image)
_PHOTOS = (
    ("skimage:astronaut", "astronaut.jpg", "person", "indoors"),
    ("skimage:coffee", "coffee.jpg", "food", "indoors"),
    ("skimage:chelsea", "chelsea.jpg", "animal", "indoors"),
    ("skimage:rocket", "rocket.jpg", "vehicle", "outdoors"),
    ("sklearn:china.jpg", "china.jpg", "building", "outdoors"),
    ("sklearn:flower.jpg", "flower.jpg", "plant", "outdoors"),
    ("ultralytics:bus.jpg", "bus.jpg", "vehicle", "outdoors"),
    ("ultralytics:zidane.jpg", "zidane.jpg", "person", "indoors"),
)


def _photo(source: str) -> Image.Image | None:
    """A shipped photo, or None when the package that ships it is not installed."""
    lib, name = source.split(":", 1)
    try:
        if lib == "skimage":
            from skimage import data

            return Image.fromarray(getattr(data, name)()).convert("RGB")
        if lib == "sklearn":
            from sklearn.datasets import load_sample_image

            return Image.fromarray(load_sample_image(name)).convert("RGB")
        import importlib.util

        spec = importlib.util.find_spec("ultralytics")
        if spec is None or spec.origin is None:
            return None
        path = Path(spec.origin).parent / "assets" / name
        return Image.open(path).convert("RGB") if path.exists() else None
    except (ImportError, OSError):
        return None


# --------------------------------------------------------------------------- public
def make_demo(
    root: str | os.PathLike | None = None,
    n_shapes: int | None = None,
    size: int = 96,
    random_state: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write the demo images, ``metadata.csv`` and ``truth.csv`` under ``root``.

    Parameters
    ----------
    root : str or path-like or None, default=None
        Target folder (default: ``$LABELWIDGETS_HOME/demo``).
    n_shapes : int or None, default=None
        Number of generated shape images (default 300, or 120 in test mode).
    size : int, default=96
        Side of the generated images in pixels.
    random_state : int, default=0
        Seed: the same seed draws the same images.
    overwrite : bool, default=False
        Rebuild even if the folder already holds a demo built with the same settings.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    root = Path(root) if root is not None else _default_root()
    n_shapes = n_shapes if n_shapes is not None else (120 if test_mode() else 300)
    stamp = {"n_shapes": n_shapes, "size": size, "random_state": random_state, "version": 1}
    marker = root / "demo.json"
    if not overwrite and marker.exists() and json.loads(marker.read_text()) == stamp:
        return root
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise InputError(f"`root` must be a folder, not a link or a file. Got {str(root)!r} instead.")
    if root.exists() and any(root.iterdir()) and not marker.is_file():
        raise InputError(
            f"`root` must be a new or empty folder, or one the demo wrote. Got {str(root)!r}, which "
            "holds other files (and no demo.json); give a new folder."
        )
    shapes = root / "shapes"
    if shapes.is_dir() and not shapes.is_symlink():
        for old in shapes.iterdir():  # only the demo's own images (0000.jpg, ...), never a link
            if _SHAPE_FILE.fullmatch(old.name) and old.is_file() and not old.is_symlink():
                old.unlink()
    shapes.mkdir(parents=True, exist_ok=True)
    (root / "photos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(random_state)
    meta, truth = [], []
    for row in _shapes_rows(n_shapes, size, rng):
        row.pop("image").save(root / row["item_id"], quality=92)
        meta.append({k: row[k] for k in ("item_id", "lighting", "camera", "background")})
        truth.append({"item_id": row["item_id"], "shape": row["shape"],
                      "colors": json.dumps(row["colors"]), "boxes": json.dumps(row["boxes"])})  # fmt: skip
    for source, name, subject, place in _PHOTOS:
        img = _photo(source)
        if img is None:
            continue
        item_id = f"photos/{name}"
        img.save(root / item_id, quality=92)
        meta.append({"item_id": item_id, "lighting": "day", "camera": "photo", "background": "photo"})
        truth.append({"item_id": item_id, "subject": subject, "place": place})
    pd.DataFrame(meta).assign(path=lambda d: d["item_id"]).to_csv(root / "metadata.csv", index=False)
    pd.DataFrame(truth).to_csv(root / "truth.csv", index=False)
    marker.write_text(json.dumps(stamp))
    return root


def load_demo(
    subset: str = "shapes",
    root: str | os.PathLike | None = None,
    n_shapes: int | None = None,
    random_state: int = 0,
) -> ImageSet:
    """The demo :class:`ImageSet` (building the files first if needed).

    Parameters
    ----------
    subset : {"shapes", "photos"}, default="shapes"
        Generated shapes with known truth and metadata, or the shipped real photos.
    root, n_shapes, random_state
        As in :func:`make_demo`.
    """
    _check_subset(subset)
    root = make_demo(root, n_shapes=n_shapes, random_state=random_state)
    meta = pd.read_csv(root / "metadata.csv")
    meta = meta[meta["item_id"].str.startswith(subset + "/")]
    return ImageSet.from_dataframe(meta, path_column="path", root=root, progress=False)


def demo_truth(subset: str = "shapes", root: str | os.PathLike | None = None) -> pd.DataFrame:
    """The known truth of the demo items, one row per item.

    For ``"shapes"``: ``item_id, shape, colors`` (sorted list) and ``boxes`` (list of dicts
    ``label, x, y, w, h``, one per drawn shape); for ``"photos"``: ``item_id, subject, place``.
    """
    _check_subset(subset)
    root = Path(root) if root is not None else _default_root()
    path = root / "truth.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"`root` must hold a demo built by make_demo(). No truth.csv in {str(root)!r}."
        )
    df = pd.read_csv(path)
    df = df[df["item_id"].str.startswith(subset + "/")].reset_index(drop=True)
    if subset == "shapes":
        df["colors"] = df["colors"].map(json.loads)
        df["boxes"] = df["boxes"].map(json.loads)
        return df[["item_id", "shape", "colors", "boxes"]]
    return df[["item_id", "subject", "place"]]


def make_small_objects(
    root: str | os.PathLike,
    n_images: int = 100,
    size: int = 160,
    n_objects: tuple[int, int] = (1, 4),
    object_size: tuple[float, float] = (0.07, 0.14),
    classes: Sequence[str] = SHAPES,
    prefix: str = "img",
    random_state: int = 0,
) -> tuple[ImageSet, pd.DataFrame]:
    """Generated detection data with small objects and known boxes.

    Each image has a plain or striped background and ``n_objects`` shapes (drawn from
    ``classes``, in a random colour, so the colour says nothing about the class) whose sides
    are ``object_size`` of the image side, placed without overlap. Files are written as
    ``<root>/<prefix>NNNN.png``; nothing else in ``root`` is touched (an existing file of the
    same name is overwritten).

    Parameters
    ----------
    root : str or path-like
        Folder for the images (created).
    n_images : int, default=100
        How many images.
    size : int, default=160
        Image side in pixels.
    n_objects : (int, int), default=(1, 4)
        Fewest and most shapes per image (inclusive).
    object_size : (float, float), default=(0.07, 0.14)
        Smallest and largest shape side, as fractions of ``size``.
    classes : sequence of str, default=SHAPES
        The shapes to draw, among ``"circle"``, ``"square"``, ``"triangle"``.
    prefix : str, default="img"
        Start of every file name and item id (use different prefixes for sets that share a
        folder).
    random_state : int, default=0
        Seed: the same seed draws the same images.

    Returns
    -------
    (ImageSet, pandas.DataFrame)
        The images (item id = file name) and their truth, one row per shape:
        ``item_id, label, x, y, w, h`` in pixels.
    """
    bad = [c for c in classes if c not in SHAPES]
    if bad or not len(classes):
        raise InputError(f"`classes` must be a non-empty subset of {list(SHAPES)}. Got {list(classes)!r} instead.")
    lo, hi = n_objects
    if not (1 <= lo <= hi):
        raise InputError(f"`n_objects` must be (low, high) with 1 <= low <= high. Got {n_objects!r} instead.")
    small, large = object_size
    if not (0 < small <= large < 0.5):
        raise InputError(
            f"`object_size` must be (low, high) with 0 < low <= high < 0.5. Got {object_size!r} instead."
        )
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(random_state)
    items, truth = [], []
    for i in range(n_images):
        kind = "textured" if rng.random() < 0.4 else "plain"
        canvas = Image.fromarray(np.clip(_background(rng, kind, size), 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(canvas)
        item_id = f"{prefix}{i:04d}.png"
        placed: list[tuple[int, int, int]] = []
        for _ in range(int(rng.integers(lo, hi + 1))):
            side = int(rng.integers(max(4, round(small * size)), max(5, round(large * size)) + 1))
            for _attempt in range(30):  # rejection sampling: shapes never overlap
                x, y = (int(v) for v in rng.integers(1, size - side - 1, size=2))
                if all(x + side + 2 <= px or px + ps + 2 <= x or y + side + 2 <= py or py + ps + 2 <= y
                       for px, py, ps in placed):  # fmt: skip
                    break
            else:
                continue
            placed.append((x, y, side))
            shape = str(rng.choice(list(classes)))
            _draw_shape(draw, shape, (x, y, side, side), _RGB[str(rng.choice(COLORS))])
            truth.append({"item_id": item_id, "label": shape, "x": float(x), "y": float(y),
                          "w": float(side), "h": float(side)})  # fmt: skip
        canvas.save(root / item_id)
        items.append({"item_id": item_id, "path": item_id, "background": kind,
                      "n_objects": len(placed)})  # fmt: skip
    images = ImageSet.from_dataframe(pd.DataFrame(items), root=root, progress=False)
    return images, pd.DataFrame(truth, columns=["item_id", "label", "x", "y", "w", "h"])


class SimulatedRater:
    """A rater with a known error rate, for headless notebooks, tests and teaching.

    Parameters
    ----------
    truth : pandas.DataFrame
        ``item_id`` plus one column per task (a label, or a list of labels for multi-label).
    error_rate : float, default=0.1
        For a single-label task, the chance of answering a wrong option (uniform among the
        others); for a multi-label task, the chance of flipping each option.
    random_state : int, default=0
        Seed; the same seed gives the same answers.
    name : str or None, default=None
        The rater name the answers are submitted under (default ``"sim-<error_rate>"``).
    """

    def __init__(
        self,
        truth: pd.DataFrame,
        error_rate: float = 0.1,
        random_state: int = 0,
        name: str | None = None,
    ):
        if not 0 <= error_rate <= 1:
            raise ValueError(f"`error_rate` must be in [0, 1]. Got {error_rate!r} instead.")
        if "item_id" not in truth.columns:
            raise ValueError(
                f"`truth` must have an 'item_id' column. Got columns {list(truth.columns)}."
            )
        self.truth = truth.set_index("item_id")
        self.error_rate = error_rate
        self.random_state = random_state
        self.name = name or f"sim-{error_rate:g}"
        self._rng = np.random.default_rng(random_state)

    def answer(self, item_id: str, tasks: Mapping[str, Sequence[str]]) -> dict:
        """This rater's answers for one item, for the given tasks (name -> options)."""
        from ._tasks import MultiLabel

        answers = {}
        for task, options in tasks.items():
            true = self.truth.at[item_id, task]
            opts = list(options)
            if isinstance(options, MultiLabel):
                chosen = set(true)
                for opt in opts:
                    if self._rng.random() < self.error_rate:
                        chosen ^= {opt}
                answers[task] = [o for o in opts if o in chosen]
            elif self._rng.random() < self.error_rate:
                answers[task] = str(self._rng.choice([o for o in opts if o != true]))
            else:
                answers[task] = true
        return answers

    def label(self, tagger, n: int | None = None) -> int:
        """Answer the tagger's queue through ``tagger.submit`` (the buttons' code path).

        Returns
        -------
        int
            The number of items submitted.
        """
        done = 0
        while tagger.current_item is not None and (n is None or done < n):
            tagger.submit(self.answer(tagger.current_item, tagger.tasks))
            done += 1
        return done
