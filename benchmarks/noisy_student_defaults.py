"""Seconds per noisy-student round on a few hundred small images: today's defaults vs the old ones.

The case from the issue that asked for CPU defaults: 140 greyscale faces and non-faces of 25 x 25
pixels (scikit-image's ``lfw_subset``, shipped with the package, nothing downloaded), 10 human labels
per class, the rest unlabelled. ``NoisyStudent()`` with default settings now reads the data (image
size 25, epochs from the number of labels, early stopping, batch 32); the old defaults were a
64-pixel image, 30 epochs of at least 10 batches of 64, one-cycle, no early stopping. Both run
the same seeds; the script prints seconds per round (median, p95), CPU seconds per round, and the
accuracy of each round on the unlabelled items, and the ratio of the medians.

Run: ``python benchmarks/noisy_student_defaults.py --threads 1`` (the old defaults take minutes a
round; ``--old-rounds`` sets how many they run, default 1). Report ``uptime`` beside the figures.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from skimage.data import lfw_subset

from labelwidgets.training import ArrayImages, Classifier, NoisyStudent

OLD_DEFAULTS = dict(model="small_cnn", image_size=64, epochs=30, batch_size=64)


def faces(seed: int):
    """140 of the 200 25x25 crops (100 faces, 100 not), 10 labels per class, the truth."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(200, 140, replace=False)
    ids = [f"f{i:03d}" for i in pick]
    truth = pd.DataFrame({"item_id": ids, "label": np.where(pick < 100, "face", "other")})
    return ArrayImages(lfw_subset()[pick], ids), truth.groupby("label").head(10), truth


def run(name: str, ns: NoisyStudent, seed: int) -> dict:
    images, labels, truth = faces(seed)
    cpu = time.process_time()
    ns.fit(images, labels, truth=truth)
    cpu = (time.process_time() - cpu) / (ns.n_rounds_ + 1)
    h = ns.history_
    return {"setup": name, "seed": seed, "seconds": list(h["seconds"]), "cpu s/round": cpu,
            "val_accuracy": list(h["val_accuracy"].round(3))}  # fmt: skip


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old-rounds", type=int, default=1)
    parser.add_argument("--old-seeds", type=int, default=1, help="how many seeds the old run")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    for i, seed in enumerate(args.seeds):
        ns = NoisyStudent(rounds=args.rounds, random_state=seed, verbose=False)
        rows.append(run("defaults", ns, seed))
        print(rows[-1], flush=True)
        if i < args.old_seeds:
            old = NoisyStudent(Classifier(**OLD_DEFAULTS, verbose=False), rounds=args.old_rounds,
                               random_state=seed, verbose=False)  # fmt: skip
            rows.append(run("old defaults", old, seed))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    medians = {}
    for name, group in table.groupby("setup", sort=False):
        seconds = np.concatenate(group["seconds"].to_numpy())
        medians[name] = float(np.median(seconds))
        last = [acc[-1] for acc in group["val_accuracy"]]
        first = [acc[0] for acc in group["val_accuracy"]]
        print(f"{name:13s} seconds/round median {np.median(seconds):.1f} p95 "
              f"{np.percentile(seconds, 95):.1f} (n={len(seconds)}); cpu s/round mean "
              f"{group['cpu s/round'].mean():.1f}; pool accuracy teacher {np.mean(first):.3f} "
              f"last round {np.mean(last):.3f}")  # fmt: skip
    if len(medians) == 2:
        print(f"old / new seconds per round (medians): {medians['old defaults'] / medians['defaults']:.1f}x")
    return table


if __name__ == "__main__":
    main()
