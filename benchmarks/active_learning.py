"""Benchmark: active learning on ``load_digits``, uncertainty order against random order.

The digits (1,797 images of 8 x 8 pixels, 10 classes) are split per seed into a test set of
500 and a pool of 1,297. Every strategy starts from the same 5 labelled images per class (50)
and runs 5 rounds: fit the model on the labelled images, predict the unlabelled pool, label
the next 20 in the strategy's order (the truth plays the rater), refit. The model is
scikit-learn's ``LogisticRegression(max_iter=2000)`` on pixels scaled to [0, 1] (fast; a fixed
model so the order alone differs). The uncertainty orders go through the package's own path:
the pool's probabilities as a long ``item_id, class, probability`` frame into
:func:`labelwidgets.active.uncertainty_order`, as a tagger would call it.

Printed: test accuracy after each round (mean and standard deviation over 3 seeds) per
strategy, the gain over random after the last round, and the time of one
``uncertainty_order`` call on the pool (median and p95) beside the model's ``predict_proba``.

Run: ``nice -n 10 .venv/bin/python benchmarks/active_learning.py [--seeds 3] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from labelwidgets.active import UNCERTAINTY_METHODS, uncertainty_order

STRATEGIES = ("random", *UNCERTAINTY_METHODS)


def long_probabilities(ids: np.ndarray, classes: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"item_id": np.repeat(ids, len(classes)),
                         "class": np.tile(classes.astype(str), len(ids)),
                         "probability": proba.ravel()})  # fmt: skip


def run(strategy: str, seed: int, rounds: int, per_round: int, start: int, timings: dict):
    """Test accuracy after round 0 (the start) and after each round."""
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_pool, x_test, y_pool, y_test = train_test_split(x, y, test_size=500, stratify=y,
                                                      random_state=seed)  # fmt: skip
    ids = np.array([f"digit_{i:04d}" for i in range(len(y_pool))], dtype=object)
    rng = np.random.default_rng(seed)
    labelled = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), start, replace=False)
                               for c in range(10)])  # fmt: skip
    order_rng = np.random.default_rng(seed + 1000)
    accuracy = []
    for r in range(rounds + 1):
        model = LogisticRegression(max_iter=2000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x_pool[labelled], y_pool[labelled])
        accuracy.append(float(model.score(x_test, y_test)))
        if r == rounds:
            break
        rest = np.setdiff1d(np.arange(len(y_pool)), labelled)
        if strategy == "random":
            chosen = order_rng.choice(rest, per_round, replace=False)
        else:
            t0 = time.perf_counter()
            proba = model.predict_proba(x_pool[rest])
            probs = long_probabilities(ids[rest], model.classes_, proba)
            t1 = time.perf_counter()
            order = uncertainty_order(probs, strategy)
            t2 = time.perf_counter()
            timings.setdefault("predict_proba + long frame", []).append(t1 - t0)
            timings.setdefault("uncertainty_order", []).append(t2 - t1)
            position = {item: i for i, item in enumerate(ids)}
            chosen = np.array([position[item] for item in order[:per_round]])
        labelled = np.concatenate([labelled, chosen])
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--start", type=int, default=5, help="labelled images per class at start")
    args = parser.parse_args()
    print(f"load_digits, LogisticRegression; {args.start} labels per class to start, "
          f"+{args.per_round} per round, {args.rounds} rounds, {args.seeds} seeds; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    timings: dict = {}
    results = {s: np.array([run(s, seed, args.rounds, args.per_round, args.start, timings)
                            for seed in range(args.seeds)]) for s in STRATEGIES}  # fmt: skip
    labels = [args.start * 10 + r * args.per_round for r in range(args.rounds + 1)]
    print("\ntest accuracy, mean ± sd over seeds, by number of labelled images:")
    print(f"{'strategy':18s}" + "".join(f"{n:>15d}" for n in labels))
    for s, acc in results.items():
        cells = "".join(f"{m:8.3f} ± {sd:.3f}" for m, sd in zip(acc.mean(0), acc.std(0), strict=True))
        print(f"{s:18s}{cells}")
    base = results["random"][:, -1]
    print(f"\nafter round {args.rounds} ({labels[-1]} labels), gain over random order "
          "(accuracy points, mean over seeds; seeds where the order won):")
    for s in UNCERTAINTY_METHODS:
        diff = results[s][:, -1] - base
        print(f"  {s:18s} {100 * diff.mean():+6.2f}   {int((diff > 0).sum())}/{args.seeds}")
    print("\none ordering of the pool (about 1,200 unlabelled images):")
    for name in ("predict_proba + long frame", "uncertainty_order"):
        t = np.array(timings[name]) * 1000
        print(f"  {name:28s} median {np.median(t):7.2f} ms   p95 {np.percentile(t, 95):7.2f} ms")


if __name__ == "__main__":
    main()
