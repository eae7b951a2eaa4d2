"""Noisy student for detection: teacher vs student mAP50, and the teacher given the same budget.

Data: generated images with known boxes and small objects (``make_small_objects``: 160 x 160
pixels, 1 to 4 circles, squares and triangles of 11 to 22 pixels in random colours on plain or
striped backgrounds). Per seed: 40 labelled images, 400 unlabelled, 100 held-out test images,
all drawn with that seed.

Three models per seed, YOLOv8n built from its YAML (no pretrained weights), CPU, imgsz 160:

- ``teacher``: trained on the 40 labelled images for ``--teacher-epochs`` epochs;
- ``student``: ``DetectionNoisyStudent(rounds=1)``: the teacher's boxes at confidence >=
  ``--threshold`` on the 400 pool images become pseudo-labels (images without one are dropped),
  and a student, starting from the teacher's weights, trains on human + pseudo boxes with strong
  noise (mosaic, HSV, flips, rotation, scale, pixel noise) for ``--student-epochs`` epochs;
- ``teacher, same budget``: the teacher alone trained for as many image-steps as the teacher and
  the student together (``teacher_epochs + student_epochs * n_student_images / n_labelled``
  epochs, one run with its own learning-rate schedule), so a gain of the student is not just
  more training. The budget is counted in images
  seen, which does not depend on the machine's load; wall seconds are printed beside it.

Every model is scored by ultralytics' validation on the same 100 test images (mAP50, mAP50-95),
which nothing trains on. The known boxes of the pool score the pseudo-labels (precision and
recall at IoU 0.5).

Run: ``python benchmarks/noisy_student_detection.py`` (3 seeds, 19 minutes measured on 2 busy
CPU cores); ``--seeds 0`` for one; ``--quick`` for a smoke run of under a minute at a quarter of the
size (its figures mean little).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

os.environ.setdefault("YOLO_OFFLINE", "1")

from labelwidgets.datasets import make_small_objects  # noqa: E402
from labelwidgets.training import DetectionNoisyStudent  # noqa: E402
from labelwidgets.training.detection_student import STUDENT_AUGMENT  # noqa: E402
from labelwidgets.training.detector import train_detector  # noqa: E402

CLASSES = ["circle", "square", "triangle"]


def data(root: Path, seed: int, n_labelled: int, n_pool: int, n_test: int):
    """One seed's images and truth, split into labelled, pool and test item ids."""
    images, truth = make_small_objects(
        root, n_labelled + n_pool + n_test, size=160, random_state=seed, prefix=f"s{seed}-"
    )
    ids = images.item_ids
    labelled, pool, test = ids[:n_labelled], ids[n_labelled : n_labelled + n_pool], ids[-n_test:]
    return images, truth, labelled, pool, test


def run_seed(seed: int, args, root: Path) -> dict:
    images, truth, labelled, pool, test = data(root, seed, *args.sizes)
    boxes = truth[truth["item_id"].isin(labelled)]
    holdout = truth[truth["item_id"].isin(test)]
    common = {"model": "yolov8n.yaml", "imgsz": 160, "batch": args.batch, "device": "cpu",
              "classes": CLASSES, "random_state": seed, "verbose": False}  # fmt: skip
    tic = time.perf_counter()
    ns = DetectionNoisyStudent(
        rounds=1, threshold=args.threshold, epochs=args.teacher_epochs,
        student_epochs=args.student_epochs, **common,
    ).fit(images, boxes, holdout=holdout, truth=truth)  # fmt: skip
    ns_seconds = time.perf_counter() - tic
    h = ns.history_
    teacher, student = h.iloc[0], h.iloc[-1]
    n_student = int(student["n_train_images"]) if ns.n_rounds_ else 0
    long_epochs = args.teacher_epochs + round(args.student_epochs * n_student / len(labelled))
    tic = time.perf_counter()
    alone = DetectionNoisyStudent(rounds=0, epochs=long_epochs, **common).fit(
        images, boxes, holdout=holdout
    )
    alone_seconds = time.perf_counter() - tic
    a = alone.history_.iloc[0]
    located = images.items.set_index("item_id")[["path", "width", "height"]]
    rows = pd.concat([boxes.assign(split="train"), holdout.assign(split="val")]).join(
        located, on="item_id"
    )
    init = {k: v.detach().clone() for k, v in ns.teacher_.model.state_dict().items()}
    tic = time.perf_counter()
    continued = train_detector(
        rows, CLASSES, root / "continued", epochs=long_epochs - args.teacher_epochs, imgsz=160,
        augment=STUDENT_AUGMENT, random_state=seed + 1, batch=args.batch, device="cpu",
        progress=False, val=False, init_weights=init,
    ).history.iloc[-1]  # fmt: skip
    continued_seconds = time.perf_counter() - tic
    return {
        "seed": seed,
        "teacher_map50": teacher["map50"],
        "student_map50": student["map50"] if ns.n_rounds_ else float("nan"),
        "same_budget_map50": a["map50"],
        "continued_map50": continued["map50"],
        "teacher_map50_95": teacher["map50_95"],
        "student_map50_95": student["map50_95"] if ns.n_rounds_ else float("nan"),
        "same_budget_map50_95": a["map50_95"],
        "continued_map50_95": continued["map50_95"],
        "pseudo_boxes": int(student["n_pseudo_boxes"]) if ns.n_rounds_ else 0,
        "pseudo_images": int(student["n_pseudo_images"]) if ns.n_rounds_ else 0,
        "pseudo_precision": student["pseudo_precision"] if ns.n_rounds_ else float("nan"),
        "pseudo_recall": student["pseudo_recall"] if ns.n_rounds_ else float("nan"),
        "same_budget_epochs": long_epochs,
        "ns_seconds": ns_seconds,
        "same_budget_seconds": alone_seconds,
        "continued_seconds": continued_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="a quarter of the data, few epochs")
    parser.add_argument("--teacher-epochs", type=int, default=None)
    parser.add_argument("--student-epochs", type=int, default=None)
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    args.sizes = (10, 100, 25) if args.quick else (40, 400, 100)
    args.teacher_epochs = args.teacher_epochs or (20 if args.quick else 80)
    args.student_epochs = args.student_epochs or (3 if args.quick else 10)
    print(f"labelled / pool / test images: {args.sizes}; teacher {args.teacher_epochs} epochs, "
          f"student {args.student_epochs} epochs, threshold {args.threshold}, batch {args.batch}, "
          f"CPU threads {os.cpu_count()}, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="lw-bench-detect-") as tmp:
        for seed in args.seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                row = run_seed(seed, args, Path(tmp) / f"seed{seed}")
            rows.append(row)
            print(pd.DataFrame([row]).round(3).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    print("\nmean over seeds:")
    print(df.drop(columns="seed").mean().round(3).to_string())
    gain = df["student_map50"] - df["same_budget_map50"]
    print(f"\nstudent - teacher(same budget) mAP50 per seed: {gain.round(3).tolist()}")
    print(f"student - teacher(continued, human only) mAP50 per seed: {(df['student_map50'] - df['continued_map50']).round(3).tolist()}")
    print(f"student - teacher mAP50 per seed: {(df['student_map50'] - df['teacher_map50']).round(3).tolist()}")


if __name__ == "__main__":
    main()
