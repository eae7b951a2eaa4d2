"""Time writing and parsing 5,000 images / 37,000 boxes in VOC, YOLO and COCO.

Run: ``python benchmarks/formats.py [--images 5000] [--boxes 37000] [--repeats 3]``

The annotations are generated (seeded): four image sizes, one to many boxes per image, five
classes; no pixels are needed for writing (``width``/``height`` are given). Parsing YOLO needs
the image sizes, so every image is a hard link to one small template file of its size (outside
the timings). Each figure is the median (and the slowest) of ``--repeats`` runs, beside
globox (``pip install globox``), a maintained converter, doing the same work on the same data:
it writes from its own ``AnnotationSet`` (built outside the timing) and parses the very files
labelwidgets wrote. Our writers include the validation of the DataFrame (``prepare``), our
readers return a DataFrame; globox's return an ``AnnotationSet``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from labelwidgets.formats import from_coco, from_voc, from_yolo, to_coco, to_voc, to_yolo

CLASSES = ["frill", "red", "goldEmbroidery", "pack", "lark"]
SIZES = [(640, 480), (1280, 720), (800, 600), (480, 640)]


def make_boxes(n_images: int, n_boxes: int, seed: int = 0) -> pd.DataFrame:
    """``n_boxes`` random boxes over ``n_images`` images (at least one box each)."""
    rng = np.random.default_rng(seed)
    per_image = rng.multinomial(n_boxes - n_images, np.full(n_images, 1 / n_images)) + 1
    size_of = rng.integers(len(SIZES), size=n_images)
    image = np.repeat(np.arange(n_images), per_image)
    width = np.array([SIZES[s][0] for s in size_of])[image]
    height = np.array([SIZES[s][1] for s in size_of])[image]
    w = np.round(rng.uniform(8, width / 3), 2)
    h = np.round(rng.uniform(8, height / 3), 2)
    x = np.round(rng.uniform(0, width - w - 0.01), 2)
    y = np.round(rng.uniform(0, height - h - 0.01), 2)
    ids = np.array([f"img_{k:05d}.jpg" for k in range(n_images)])[image]
    return pd.DataFrame({
        "item_id": ids, "path": ["/data/" + i for i in ids], "width": width, "height": height,
        "label": np.array(CLASSES)[rng.integers(len(CLASSES), size=n_boxes)],
        "x": x, "y": y, "w": w, "h": h,
    })  # fmt: skip


def link_images(df: pd.DataFrame, folder: Path, templates: Path) -> None:
    """Put a hard link to a template image of the right size under ``folder`` for every item."""
    folder.mkdir(parents=True, exist_ok=True)
    templates.mkdir(parents=True, exist_ok=True)
    for item_id, w, h in df.drop_duplicates("item_id")[["item_id", "width", "height"]].itertuples(
        index=False
    ):
        template = templates / f"{w}x{h}.jpg"
        if not template.exists():
            Image.new("RGB", (int(w), int(h))).save(template)
        target = folder / item_id
        if not target.exists():
            os.link(template, target)


def timed(fn, repeats: int, fresh=None) -> tuple[float, float, object]:
    """Median and slowest wall time of ``fn()`` over ``repeats`` runs, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        if fresh:
            fresh()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times), result


def to_globox(df: pd.DataFrame):
    from globox import Annotation, AnnotationSet, BoundingBox

    annotations = []
    for item_id, rows in df.groupby("item_id", sort=False):
        boxes = [
            BoundingBox(label=r.label, xmin=r.x, ymin=r.y, xmax=r.x + r.w, ymax=r.y + r.h)
            for r in rows.itertuples(index=False)
        ]
        first = rows.iloc[0]
        size = (int(first["width"]), int(first["height"]))
        annotations.append(Annotation(image_id=item_id, image_size=size, boxes=boxes))
    return AnnotationSet(annotations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--boxes", type=int, default=37000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    df = make_boxes(args.images, args.boxes)
    label_to_id = {c: k for k, c in enumerate(CLASSES)}
    try:
        from importlib.metadata import version

        peer, peer_name = to_globox(df), f"globox {version('globox')}"
    except ImportError:
        peer, peer_name = None, "globox (not installed: pip install globox)"
    root = Path(tempfile.mkdtemp(prefix="lw-bench-formats-"))
    ours, theirs = root / "ours", root / "theirs"

    ours.mkdir(parents=True)
    theirs.mkdir(parents=True)

    def fresh(path: Path):
        return lambda: shutil.rmtree(path, ignore_errors=True)

    rows = []
    n = args.repeats
    # ---- VOC
    w = timed(lambda: to_voc(df, ours / "voc"), n, fresh(ours / "voc"))
    p = timed(lambda: from_voc(ours / "voc"), n)
    assert len(p[2]) == len(df)
    pw = pp = None
    if peer is not None:
        from globox import AnnotationSet

        pw = timed(lambda: peer.save_pascal_voc(theirs / "voc"), n, fresh(theirs / "voc"))
        pp = timed(lambda: AnnotationSet.from_pascal_voc(ours / "voc"), n)
        assert pp[2].nb_boxes() == len(df)
    rows += [("VOC", "write", w, pw), ("VOC", "parse", p, pp)]
    # ---- YOLO (labels + data.yaml; images linked in afterwards for the size look-up)
    w = timed(
        lambda: to_yolo(df, ours / "yolo", CLASSES, copy_images=False), n, fresh(ours / "yolo")
    )
    link_images(df, ours / "yolo" / "images" / "train", root / "templates")
    p = timed(lambda: from_yolo(ours / "yolo"), n)
    assert len(p[2]) == len(df)
    pw = pp = None
    if peer is not None:
        pw = timed(
            lambda: peer.save_yolo_v5(theirs / "yolo", label_to_id=label_to_id),
            n,
            fresh(theirs / "yolo"),
        )
        pp = timed(
            lambda: AnnotationSet.from_yolo_v5(
                ours / "yolo" / "labels" / "train",
                image_folder=ours / "yolo" / "images" / "train",
                image_extension=".jpg",
            ),
            n,
        )
        assert pp[2].nb_boxes() == len(df)
    rows += [("YOLO", "write", w, pw), ("YOLO", "parse", p, pp)]
    # ---- COCO
    w = timed(lambda: to_coco(df, ours / "coco.json", CLASSES), n)
    p = timed(lambda: from_coco(ours / "coco.json"), n)
    assert len(p[2]) == len(df)
    pw = pp = None
    if peer is not None:
        coco_ids = {c: k for k, c in enumerate(CLASSES, start=1)}
        pw = timed(
            lambda: peer.save_coco(theirs / "coco.json", label_to_id=coco_ids, auto_ids=True), n
        )
        pp = timed(lambda: AnnotationSet.from_coco(ours / "coco.json"), n)
        assert pp[2].nb_boxes() == len(df)
    rows += [("COCO", "write", w, pw), ("COCO", "parse", p, pp)]
    shutil.rmtree(root, ignore_errors=True)

    print(
        f"{df['item_id'].nunique():,} images, {len(df):,} boxes; median (slowest) of {n} runs; "
        f"peer: {peer_name}; Python {sys.version.split()[0]}"
    )
    header = f"{'format':<6} {'op':<6} {'labelwidgets s':>18} {'peer s':>18} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for fmt, op, mine, other in rows:
        mine_text = f"{mine[0]:.3f} ({mine[1]:.3f})"
        other_text = f"{other[0]:.3f} ({other[1]:.3f})" if other else "-"
        ratio = f"{mine[0] / other[0]:.2f}x" if other else "-"
        print(f"{fmt:<6} {op:<6} {mine_text:>18} {other_text:>18} {ratio:>7}")
    print("ratio = labelwidgets median / peer median (below 1: labelwidgets is faster)")


if __name__ == "__main__":
    main()
