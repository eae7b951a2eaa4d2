"""Benchmark: ``resolve(method="dawid_skene")`` against crowd-kit's ``DawidSkene``, in one run.

Votes: ``--items`` items (default 100,000), each labelled by all of five simulated raters of
mixed skill (right with probability 0.9, 0.8, 0.7, 0.6 and 0.3; a wrong answer is uniform over
the other classes), four classes. One long DataFrame shaped like ``store.labels()`` (string
item ids, rater names and labels).

Timed (median and p95 of ``--repeats`` runs each, taking turns so load on a shared machine hits
both alike), with the same EM settings (100 iterations at most, tolerance 1e-5 on crowd-kit's
lower bound):

* ``resolve(votes, method="dawid_skene")``: from the long votes to the resolved table (labels,
  statuses, posteriors, the ``votes`` dicts);
* crowd-kit ``DawidSkene(n_iter=100, tol=1e-5).fit(data)`` on the same votes as its
  ``task, worker, label`` frame (the rename is not timed).

Then: the share of items with the same label (target >= 99.9 %), the largest difference of the
chosen label's posterior, the iterations each ran, and the accuracy of both and of the majority
rule against the known truth.

Run: ``nice -n 10 .venv/bin/python benchmarks/voting_dawid_skene.py [--items N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import pandas as pd
from voting_resolve import timed  # the same round-robin timing (benchmarks/ is on sys.path)

from labelwidgets.voting import resolve
from labelwidgets.voting._dawid_skene import fit_dawid_skene

CLASSES = np.array(["bird", "cat", "dog", "fish"], dtype=object)
ACCURACY = (0.9, 0.8, 0.7, 0.6, 0.3)


def make_votes(n_items: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Every rater labels every item; returns the long votes and the true class codes."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    truth = rng.integers(0, k, n_items)
    answers = []
    for acc in ACCURACY:
        wrong = (truth + rng.integers(1, k, n_items)) % k
        answers.append(np.where(rng.random(n_items) < acc, truth, wrong))
    items = np.array([f"img_{i:06d}.jpg" for i in range(n_items)], dtype=object)
    raters = np.array([f"rater_{r}" for r in range(len(ACCURACY))], dtype=object)
    n_raters = len(ACCURACY)
    votes = pd.DataFrame(
        {
            "item_id": pd.array(np.tile(items, n_raters), dtype="str"),
            "task": pd.array(np.full(n_items * n_raters, "animal", dtype=object), dtype="str"),
            "rater": pd.array(np.repeat(raters, n_items), dtype="str"),
            "label": pd.array(CLASSES[np.concatenate(answers)], dtype="str"),
        }
    )
    return votes, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from crowdkit.aggregation import DawidSkene

    votes, truth = make_votes(args.items)
    data = pd.DataFrame(
        {"task": votes["item_id"].astype(object), "worker": votes["rater"].astype(object),
         "label": votes["label"].astype(object)}  # fmt: skip
    )
    print(f"votes: {len(votes):,} rows ({args.items:,} items x {len(ACCURACY)} raters, "
          f"{len(CLASSES)} classes); load average {os.getloadavg()[0]:.2f}")  # fmt: skip

    def crowdkit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return DawidSkene(n_iter=100, tol=1e-5).fit(data)

    got = timed(
        {"ours": lambda: resolve(votes, method="dawid_skene"), "crowdkit": crowdkit},
        args.repeats,
    )
    ours_med, ours_p95, ours = got["ours"]
    ck_med, ck_p95, ck = got["crowdkit"]
    print(f"\n{'what':52s} {'median s':>9s} {'p95 s':>9s}")
    print(f"{'resolve(method=dawid_skene), long votes -> table':52s} {ours_med:9.3f} {ours_p95:9.3f}")
    print(f"{'crowd-kit DawidSkene(n_iter=100, tol=1e-5).fit':52s} {ck_med:9.3f} {ck_p95:9.3f}")
    print(f"\nratio (crowd-kit time / resolve time): {ck_med / ours_med:.1f}x")

    decided = ours["confidence"].to_numpy() >= 0.9
    # labels compared at threshold 0 (every item keeps its most probable label)
    chosen = resolve(votes, method="dawid_skene", threshold=0.0, votes=False).set_index("item_id")
    index = chosen.index.astype(object)
    ck_labels = ck.labels_.reindex(index).to_numpy(dtype=object)
    ours_labels = chosen["label"].to_numpy(dtype=object)
    same = ours_labels == ck_labels
    ck_conf = ck.probas_.max(axis=1).reindex(index).to_numpy()
    item_c, _ = pd.factorize(votes["item_id"])
    rater_c, _ = pd.factorize(votes["rater"])
    label_c = np.searchsorted(CLASSES, votes["label"].to_numpy(dtype=object))
    n_iter = fit_dawid_skene(item_c, rater_c, label_c, args.items, len(ACCURACY), len(CLASSES)).n_iter
    print(f"same label: {same.mean():.4%} of {len(same):,} items ({int((~same).sum())} differ); "
          f"largest posterior difference {np.abs(ck_conf - chosen['confidence'].to_numpy()).max():.2e}")
    print(f"EM iterations: ours {n_iter}, crowd-kit {len(ck.loss_history_)}")
    ref = CLASSES[truth][pd.Index([f"img_{i:06d}.jpg" for i in range(args.items)]).get_indexer(index)]
    mv = resolve(votes, votes=False).set_index("item_id")  # tiebreak policy: strict majority
    first = votes["label"].to_numpy(dtype=object)[: args.items]  # rater_0, right 90 %
    print("\naccuracy against the truth (every item; an undecided item counts as wrong):")
    print(f"  Dawid-Skene, ours                 {np.mean(ours_labels == ref):.4f}")
    print(f"  Dawid-Skene, crowd-kit            {np.mean(ck_labels == ref):.4f}")
    print(f"  majority (3 of 5 or more)         {np.mean(mv['label'].to_numpy(dtype=object) == ref):.4f}")
    print(f"  the best rater alone              {np.mean(first == CLASSES[truth]):.4f}")
    print(f"Dawid-Skene decided at threshold 0.9: {decided.mean():.2%} of items")

if __name__ == "__main__":
    main()
