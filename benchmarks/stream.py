"""Streamed predictions: images per second and peak memory as the pool grows, vs predicting in memory.

Writes N small generated PNGs (32 x 32, deterministic) to a temporary folder (removed at the
end), fits a tiny classifier (``tiny_cnn`` at 16 px, one epoch on 60 labels, saved as
safetensors; each image is decoded and resized from 32 px, torch on one thread), then runs each case in a fresh Python process, so that each peak RSS is its own:

* ``stream``: ``predict_to_store`` (local engine, batches of 256, one transaction each) over the
  first 10,000 and over all N images, into a fresh SQLite store;
* ``in-memory`` (the peer), on the same two pools: ``Classifier.predict_proba`` on the whole
  pool, then one ``write_probabilities`` call: predict everything, then write.

Each process reports images per second (whole run), the median and p95 seconds per batch (stream
only: a batch is read + predict + write), its peak RSS (``ru_maxrss``) and the growth of RSS over
its baseline (after imports, the model and the ImageSet were loaded). The target: the stream's
peak RSS grows < 200 MB from 10,000 to 100,000 images.

Usage: ``python benchmarks/stream.py [N] [--ray]`` (default N = 100000; ``--quick``: N = 20000;
``--ray`` adds ``engine="ray"`` on 10,000 images: a local Ray instance, 2 CPUs, 2 actors, the
cluster's start not timed; its RSS is the driver's only).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIDE = 32
MODEL_SIDE = 16
BATCH = 256
#: Torch threads in every case: on this shared 2-core machine one thread predicted a batch of 256
#: in 0.41 s and two threads in 0.92 s (the other core was busy).
THREADS = 1


def rss_mb() -> float:
    """This process's resident memory now (MB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_pngs(folder: Path, n: int) -> None:
    """``n`` deterministic 32 x 32 PNGs: a colour from the index and a square that moves."""
    from PIL import Image

    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    for k in range(n):
        arr = np.empty((SIDE, SIDE, 3), dtype=np.uint8)
        arr[...] = ((k * 37) % 256, (k * 91) % 256, (k * 53) % 256)
        x0, y0 = k % 20, (k // 20) % 20
        arr[(yy >= y0) & (yy < y0 + 12) & (xx >= x0) & (xx < x0 + 12)] = (255 - arr[0, 0])
        Image.fromarray(arr).save(folder / f"{k:06d}.png", compress_level=1)


def image_set(folder: Path, n: int):
    """An ImageSet over the first ``n`` files; the sizes are known, so no file is probed."""
    import pandas as pd

    from labelwidgets.images import ImageSet

    ids = [f"{k:06d}.png" for k in range(n)]
    items = pd.DataFrame({"item_id": ids, "path": [str(folder / i) for i in ids],
                          "width": SIDE, "height": SIDE})  # fmt: skip
    return ImageSet(items, root=folder)


def fit_model(folder: Path, path: Path) -> None:
    import pandas as pd

    from labelwidgets.training import Classifier

    images = image_set(folder, 60)
    labels = pd.DataFrame({"item_id": images.item_ids,
                           "label": [("dark", "mid", "light")[k % 3] for k in range(60)]})  # fmt: skip
    Classifier(model="tiny_cnn", image_size=MODEL_SIDE, epochs=1, verbose=False).fit(
        images, labels).save(path)


def child(mode: str, folder: Path, n: int, model_path: Path, db: Path) -> dict:
    """One case in this (fresh) process; returns its figures."""
    import pandas as pd
    import torch

    from labelwidgets.active import write_probabilities
    from labelwidgets.store import LabelStore
    from labelwidgets.training import Classifier
    from labelwidgets.training.stream import predict_to_store

    torch.set_num_threads(THREADS)
    clf = Classifier.load(model_path, verbose=False)
    images = image_set(folder, n)
    store = LabelStore(db)
    clf.predict_proba(image_set(folder, 8))  # warm up torch outside the timing
    base = rss_mb()
    tic = time.perf_counter()
    if mode in ("stream", "ray"):
        if mode == "ray":
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            tic = time.perf_counter()  # the cluster's start is not the step's time
        report = predict_to_store(clf, images, store, "shade", batch_size=BATCH, progress=False,
                                  engine="local" if mode == "stream" else "ray", workers=2)  # fmt: skip
        assert report.n_predicted == n
        per_batch = np.array(report.batch_seconds)
    else:
        proba = clf.predict_proba(images)
        ids = images.item_ids
        long = pd.DataFrame({"item_id": np.repeat(ids, len(clf.classes_)),
                             "class": np.tile(clf.classes_, len(ids)), "probability": proba.ravel()})  # fmt: skip
        write_probabilities(store, "shade", long, "tiny_cnn")
        per_batch = np.array([np.nan])
    seconds = time.perf_counter() - tic
    n_rows = len(store.current(task="shade")) if n <= 20_000 else None  # a check, not timed
    assert n_rows in (None, n)
    return {"mode": mode, "n": n, "seconds": seconds, "images_per_s": n / seconds,
            "batch_median_s": float(np.median(per_batch)),
            "batch_p95_s": float(np.percentile(per_batch, 95)),
            "batch_images_per_s_median": BATCH / float(np.median(per_batch)),
            "peak_mb": peak_mb(), "base_mb": base, "growth_mb": peak_mb() - base}  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, folder, n, model, db = sys.argv[2:7]
        print(json.dumps(child(mode, Path(folder), int(n), Path(model), Path(db))))
        return
    n_max = 20_000 if "--quick" in sys.argv else int(next((a for a in sys.argv[1:] if a.isdigit()), 100_000))
    small = min(10_000, n_max)
    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-stream-"))
    try:
        folder = tmp / "images"
        folder.mkdir()
        tic = time.perf_counter()
        write_pngs(folder, n_max)
        print(f"wrote {n_max:,} PNGs of {SIDE}x{SIDE} in {time.perf_counter() - tic:.1f} s; "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")  # fmt: skip
        model = tmp / "tiny_cnn.safetensors"
        fit_model(folder, model)
        cases = [("stream", small), ("stream", n_max), ("in-memory", small), ("in-memory", n_max)]
        if "--ray" in sys.argv:  # and the same step on a local Ray instance (2 CPUs, 2 actors)
            cases.append(("ray", small))
        results = []
        for mode, n in cases:
            db = tmp / f"{mode}-{n}.db"
            out = subprocess.run([sys.executable, __file__, "--child", mode, str(folder), str(n),
                                  str(model), str(db)], capture_output=True, text=True)  # fmt: skip
            if out.returncode:
                sys.exit(f"{mode} {n} failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            batch = (f"per batch of {BATCH}: median {r['batch_median_s'] * 1000:.0f} ms, "
                     f"p95 {r['batch_p95_s'] * 1000:.0f} ms "
                     f"({r['batch_images_per_s_median']:,.0f} img/s)" if mode != "in-memory" else
                     "one predict_proba + one write")  # fmt: skip
            print(f"{mode:>9} {n:>7,} images: {r['images_per_s']:7,.0f} img/s ({r['seconds']:.1f} s); "
                  f"{batch}; peak RSS {r['peak_mb']:.0f} MB (+{r['growth_mb']:.0f} MB over "
                  f"{r['base_mb']:.0f} MB baseline)", flush=True)  # fmt: skip
            db.unlink(missing_ok=True)
        s_small, s_big, mem, mem_big = results[:4]
        print(f"stream peak RSS from {small:,} to {n_max:,} images: "
              f"{s_big['peak_mb'] - s_small['peak_mb']:+.0f} MB (target < +200 MB); growth over "
              f"baseline {s_small['growth_mb']:.0f} -> {s_big['growth_mb']:.0f} MB")  # fmt: skip
        print(f"stream vs in-memory at {small:,}: {s_small['images_per_s'] / mem['images_per_s']:.2f}x "
              f"the speed, peak RSS {s_small['peak_mb']:.0f} vs {mem['peak_mb']:.0f} MB")  # fmt: skip
        print(f"in-memory peak RSS from {small:,} to {n_max:,} images: "
              f"{mem_big['peak_mb'] - mem['peak_mb']:+.0f} MB; stream vs in-memory at {n_max:,}: "
              f"{s_big['images_per_s'] / mem_big['images_per_s']:.2f}x the speed")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
