"""Benchmark: finding planted label errors on ``load_digits``, ``label_issues`` beside cleanlab.

Per seed, 10 % of the 1,797 digit labels are flipped at random to another class. Out-of-sample
probabilities come from 5-fold ``cross_val_predict`` of scikit-learn's
``LogisticRegression(max_iter=2000)`` (pixels scaled to [0, 1]) trained on the noisy labels.
Then, on the same probabilities:

* ``label_issues(labels, probabilities)``: the package's queue, from the long frames a notebook
  holds (``store.labels()`` and ``item_id, class, probability``);
* cleanlab called directly: ``find_label_issues(labels, pred_probs,
  return_indices_ranked_by="self_confidence")`` on the integer labels and the matrix.

Printed per seed and as the mean: precision and recall of the first k flagged items
(k = the number flipped; cleanlab may flag fewer than k, the queue continues with the lowest
label quality), how many each flagged, and the time of each call (median and p95 over
``--repeats``) with the ratio.

Run: ``nice -n 10 .venv/bin/python benchmarks/label_errors.py [--seeds 3] [--noise 0.1]``.
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
from sklearn.model_selection import cross_val_predict

from labelwidgets.voting import label_issues

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
                 dtype=object)  # fmt: skip


def precision_recall(found, flipped: set, k: int) -> tuple[float, float]:
    top = list(found)[:k]
    hits = sum(1 for i in top if i in flipped)
    return (hits / len(top) if top else float("nan")), hits / len(flipped)


def one_seed(seed: int, noise: float, repeats: int) -> dict:
    from cleanlab.filter import find_label_issues

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    rng = np.random.default_rng(seed)
    k = int(round(noise * len(y)))
    flip = rng.choice(len(y), size=k, replace=False)
    noisy = y.copy()
    noisy[flip] = (y[flip] + rng.integers(1, 10, size=k)) % 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = cross_val_predict(LogisticRegression(max_iter=2000), x, noisy, cv=5,
                                 method="predict_proba")  # fmt: skip
    ids = np.array([f"digit_{i:04d}" for i in range(len(y))], dtype=object)
    labels = pd.DataFrame({"item_id": ids, "task": "digit", "rater": "ann",
                           "label": NAMES[noisy]})  # fmt: skip
    probs = pd.DataFrame({"item_id": np.repeat(ids, 10), "class": np.tile(NAMES, len(ids)),
                          "probability": pred.ravel()})  # fmt: skip
    # cleanlab's classes in the package's order (names sorted), so both see the same matrix
    order = np.argsort(NAMES.astype(str))
    rank = np.empty(10, dtype=np.int64)
    rank[order] = np.arange(10)
    y_sorted, p_sorted = rank[noisy], pred[:, order]

    times = {"label_issues": [], "cleanlab": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        queue = label_issues(labels, probs)
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ranked = find_label_issues(y_sorted, p_sorted,
                                       return_indices_ranked_by="self_confidence", n_jobs=1)  # fmt: skip
        t2 = time.perf_counter()
        times["label_issues"].append(t1 - t0)
        times["cleanlab"].append(t2 - t1)
    flipped = set(ids[flip])
    ours = precision_recall(queue["item_id"], flipped, k)
    theirs = precision_recall(ids[ranked], flipped, k)
    return {"k": k, "ours": ours, "theirs": theirs, "ours_flagged": int(queue["is_issue"].sum()),
            "theirs_flagged": len(ranked), "times": times,
            "same_order": queue["item_id"].head(len(ranked)).tolist() == ids[ranked].tolist()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"load_digits, {args.noise:.0%} of labels flipped, 5-fold LogisticRegression "
          f"probabilities; load average {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print(f"{'seed':>4s} {'k':>5s} {'label_issues P@k':>17s} {'R@k':>6s} {'flagged':>8s}   "
          f"{'cleanlab P@k':>12s} {'R@k':>6s} {'flagged':>8s}  same ranking")  # fmt: skip
    runs = [one_seed(seed, args.noise, args.repeats) for seed in range(args.seeds)]
    for seed, r in enumerate(runs):
        print(f"{seed:4d} {r['k']:5d} {r['ours'][0]:17.3f} {r['ours'][1]:6.3f} "
              f"{r['ours_flagged']:8d}   {r['theirs'][0]:12.3f} {r['theirs'][1]:6.3f} "
              f"{r['theirs_flagged']:8d}  {r['same_order']}")  # fmt: skip
    mean = {who: np.mean([r[who] for r in runs], axis=0) for who in ("ours", "theirs")}
    print(f"mean {'':5s} {mean['ours'][0]:17.3f} {mean['ours'][1]:6.3f} {'':8s}   "
          f"{mean['theirs'][0]:12.3f} {mean['theirs'][1]:6.3f}")  # fmt: skip
    ours_t = np.concatenate([r["times"]["label_issues"] for r in runs])
    theirs_t = np.concatenate([r["times"]["cleanlab"] for r in runs])
    print(f"\n{'call':44s} {'median ms':>10s} {'p95 ms':>8s}")
    print(f"{'label_issues (long frames -> ranked queue)':44s} {1000 * np.median(ours_t):10.1f} "
          f"{1000 * np.percentile(ours_t, 95):8.1f}")  # fmt: skip
    print(f"{'cleanlab find_label_issues (arrays)':44s} {1000 * np.median(theirs_t):10.1f} "
          f"{1000 * np.percentile(theirs_t, 95):8.1f}")  # fmt: skip
    print(f"ratio label_issues / cleanlab: {np.median(ours_t) / np.median(theirs_t):.2f}x "
          "(the queue also checks the frames and scores every item)")


if __name__ == "__main__":
    main()
