"""Time writing and parsing 5,000 images / 37,000 boxes in VOC, YOLO, COCO and labelme.

Run: ``python benchmarks/formats.py [--images 5000] [--boxes 37000] [--repeats 7]``

The annotations are generated (seeded): four image sizes, one to many boxes per image, five
classes; no pixels are needed for writing (``width``/``height`` are given). Parsing YOLO needs
the image sizes, so every image is a hard link to one small template file of its size (outside
the timings). Each figure is the median and the 95th percentile of ``--repeats`` runs, beside
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

from labelwidgets.formats import (
    from_coco,
    from_labelme,
    from_voc,
    from_yolo,
    to_coco,
    to_labelme,
    to_voc,
    to_yolo,
)

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


def _run(fn, fresh=None) -> tuple[float, object]:
    if fresh:
        fresh()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def timed(mine, theirs, repeats: int, fresh_mine=None, fresh_theirs=None):
    """Wall times of ``mine()`` and ``theirs()`` run in turns (so load drifts hit both alike).

    Returns ``(my times, their times, my last result, their last result)``; ``theirs`` may be
    None (no peer installed).
    """
    mine_times, their_times, mine_result, their_result = [], [], None, None
    for _ in range(repeats):
        t, mine_result = _run(mine, fresh_mine)
        mine_times.append(t)
        if theirs is not None:
            t, their_result = _run(theirs, fresh_theirs)
            their_times.append(t)
    return mine_times, their_times, mine_result, their_result


def _stats(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), float(np.percentile(times, 95))


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
    parser.add_argument("--repeats", type=int, default=7)
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
    has_peer = peer is not None
    if has_peer:
        from globox import AnnotationSet
    coco_ids = {c: k for k, c in enumerate(CLASSES, start=1)}
    # ---- VOC
    w = timed(lambda: to_voc(df, ours / "voc"),
              has_peer and (lambda: peer.save_pascal_voc(theirs / "voc")), n,
              fresh(ours / "voc"), fresh(theirs / "voc"))  # fmt: skip
    p = timed(lambda: from_voc(ours / "voc"),
              has_peer and (lambda: AnnotationSet.from_pascal_voc(ours / "voc")), n)  # fmt: skip
    rows += [("VOC", "write", w), ("VOC", "parse", p)]
    # ---- YOLO (labels + data.yaml; images linked in afterwards for the size look-up)
    w = timed(lambda: to_yolo(df, ours / "yolo", CLASSES, copy_images=False),
              has_peer and (lambda: peer.save_yolo_v5(theirs / "yolo", label_to_id=label_to_id)),
              n, fresh(ours / "yolo"), fresh(theirs / "yolo"))  # fmt: skip
    link_images(df, ours / "yolo" / "images" / "train", root / "templates")
    p = timed(lambda: from_yolo(ours / "yolo"),
              has_peer and (lambda: AnnotationSet.from_yolo_v5(
                  ours / "yolo" / "labels" / "train",
                  image_folder=ours / "yolo" / "images" / "train", image_extension=".jpg")),
              n)  # fmt: skip
    rows += [("YOLO", "write", w), ("YOLO", "parse", p)]
    # ---- COCO
    w = timed(lambda: to_coco(df, ours / "coco.json", CLASSES),
              has_peer and (lambda: peer.save_coco(theirs / "coco.json", label_to_id=coco_ids,
                                                    auto_ids=True)), n)  # fmt: skip
    p = timed(lambda: from_coco(ours / "coco.json"),
              has_peer and (lambda: AnnotationSet.from_coco(ours / "coco.json")), n)  # fmt: skip
    rows += [("COCO", "write", w), ("COCO", "parse", p)]
    # ---- labelme (one JSON per image, rectangles)
    w = timed(lambda: to_labelme(df, ours / "labelme"),
              has_peer and (lambda: peer.save_labelme(theirs / "labelme")), n,
              fresh(ours / "labelme"), fresh(theirs / "labelme"))  # fmt: skip
    p = timed(lambda: from_labelme(ours / "labelme"),
              has_peer and (lambda: AnnotationSet.from_labelme(ours / "labelme")), n)  # fmt: skip
    rows += [("labelme", "write", w), ("labelme", "parse", p)]
    for fmt, op, (_, _, mine, other) in rows:
        if op == "parse":
            assert mine["label"].notna().sum() == len(df), fmt
            assert other is None or other.nb_boxes() == len(df), fmt
    shutil.rmtree(root, ignore_errors=True)

    print(
        f"{df['item_id'].nunique():,} images, {len(df):,} boxes; median / p95 of {n} runs; "
        f"peer: {peer_name}; Python {sys.version.split()[0]}; load {os.getloadavg()[0]:.2f}"
    )
    header = (
        f"{'format':<8} {'op':<6} {'labelwidgets s':>15} {'peer s':>15} "
        f"{'median':>7} {'p95':>6} {'paired':>7}"
    )
    print(header)
    print("-" * len(header))
    for fmt, op, (mine, other, _, _) in rows:
        m, m95 = _stats(mine)
        line = f"{fmt:<8} {op:<6} {m:>7.3f} / {m95:.3f}"
        if other:
            o, o95 = _stats(other)
            paired = statistics.median(a / b for a, b in zip(mine, other, strict=True))
            line += f" {o:>7.3f} / {o95:.3f} {m / o:>6.2f}x {m95 / o95:>5.2f}x {paired:>6.2f}x"
        print(line)
    print(
        "times: median / p95 in seconds; ratios labelwidgets / peer (below 1: labelwidgets is "
        "faster): of the medians, of the p95s, and the median of the run-by-run ratios"
    )


if __name__ == "__main__":
    main()
