"""Noisy student on scikit-learn's digits with 5 labels per class, against scikit-learn peers.

For each of 3 seeds: a 70/30 stratified split of the 1,797 8x8 digits; 5 labelled images per
class from the training part, the rest of it unlabelled; test accuracy of the teacher and of the
student after each round, and the wall and CPU seconds of each round. Two noisy students run on
the same split, threshold 0.7, 3 rounds, no flips (they change digits):

- ``defaults``: ``NoisyStudent()`` as a user gets it, every setting read from the data (image
  size 16, epochs from the number of labels with early stopping, batch 32);
- ``fixed``: the hand-tuned setup that set the accuracy bar before the defaults existed (a
  ``tiny_cnn`` teacher for 30 epochs and ``small_cnn`` students for 6, at 16x16, batch 32).

Peers on the same split: scikit-learn's ``SelfTrainingClassifier`` (SVC with probabilities;
logistic regression) and ``LabelSpreading`` (kNN kernel), on the 64 raw pixels.

Run: ``python benchmarks/noisy_student_digits.py --threads 1`` (CPU, a few minutes; report the
load, ``uptime``, beside the times). ``--seeds``, ``--rounds`` and ``--skip-fixed`` change it.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
from sklearn.svm import SVC

from labelwidgets.training import ArrayImages, Classifier, NoisyStudent


def split(seed: int, n_per_class: int = 5):
    digits = load_digits()
    idx = np.arange(len(digits.target))
    train, test = train_test_split(idx, test_size=0.3, stratify=digits.target, random_state=seed)
    rng = np.random.default_rng(seed)
    labelled = np.concatenate(
        [
            rng.choice(train[digits.target[train] == c], n_per_class, replace=False)
            for c in range(10)
        ]
    )
    return digits, train, test, labelled


def peers(digits, train, test, labelled, seed: int) -> dict[str, float]:
    """scikit-learn's semi-supervised peers on the 64 raw pixels of the same split.

    Their settings are the best of a small grid (LabelSpreading kNN k in 5, 7, 10 and RBF gamma
    in 5, 10, 20; self-training bases SVC and LogisticRegression) on these very splits, which
    favours the peers.
    """
    x = digits.data / 16.0
    y = np.where(np.isin(train, labelled), digits.target[train], -1)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # SVC(probability=True), sklearn >= 1.9
        warnings.simplefilter("ignore", RuntimeWarning)  # LabelSpreading's 0/0 on empty rows
        for name, base in (
            ("SelfTraining(SVC)", SVC(probability=True, gamma="scale", random_state=seed)),
            ("SelfTraining(LogReg)", LogisticRegression(C=10, max_iter=2000)),
        ):
            model = SelfTrainingClassifier(base, threshold=0.7).fit(x[train], y)
            out[name] = float((model.predict(x[test]) == digits.target[test]).mean())
        spreading = LabelSpreading(kernel="knn", n_neighbors=10, alpha=0.2, max_iter=200)
        spreading.fit(x[train], y)
    out["LabelSpreading(knn)"] = float((spreading.predict(x[test]) == digits.target[test]).mean())
    return out


def run(ns, images, labels, truth, train, test, ids) -> dict:
    """Fit one noisy student; test accuracy per round and seconds per round."""
    cpu = time.process_time()
    ns.fit(images.subset(ids[train]), labels, truth=truth)
    cpu = time.process_time() - cpu
    test_images = images.subset(ids[test])
    out = {f"acc r{r}": ns.score(test_images, truth, round=r) for r in range(ns.n_rounds_ + 1)}
    out["pseudo_acc(last)"] = ns.history_["pseudo_accuracy"].iloc[-1]
    out["s/round"] = list(ns.history_["seconds"])
    out["cpu s/round"] = cpu / (ns.n_rounds_ + 1)
    return out


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--skip-fixed", action="store_true", help="run the defaults only")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    rows, start = [], time.perf_counter()
    for seed in args.seeds:
        digits, train, test, labelled = split(seed)
        ids = np.array([f"d{i:04d}" for i in range(len(digits.target))])
        images = ArrayImages(digits.images, ids)
        labels = pd.DataFrame(
            {"item_id": ids[labelled], "label": digits.target[labelled].astype(str)}
        )
        truth = pd.DataFrame({"item_id": ids, "label": digits.target.astype(str)})
        setups = {"defaults": NoisyStudent(rounds=args.rounds, threshold=args.threshold,
                                           random_state=seed, verbose=False)}  # fmt: skip
        if not args.skip_fixed:
            common = dict(image_size=16, batch_size=32, verbose=False)
            setups["fixed"] = NoisyStudent(
                Classifier(model="tiny_cnn", epochs=30, **common),
                Classifier(model="small_cnn", epochs=6, **common),
                rounds=args.rounds, threshold=args.threshold, random_state=seed, verbose=False,
            )  # fmt: skip
        for name, ns in setups.items():
            row = {"setup": name, "seed": seed, **run(ns, images, labels, truth, train, test, ids)}
            rows.append(row)
            shown = {k: v for k, v in row.items() if k != "s/round"}
            shown["s/round"] = " ".join(f"{x:.1f}" for x in row["s/round"])
            print(pd.DataFrame([shown]).round(4).to_string(index=False), flush=True)
        peer = {"setup": "peers", "seed": seed, **peers(digits, train, test, labelled, seed)}
        rows.append(peer)
    table = pd.DataFrame(rows)
    last = f"acc r{args.rounds}"
    print(f"\ntest accuracy, 5 labels per class, seeds {args.seeds}")
    for name, group in table[table["setup"] != "peers"].groupby("setup", sort=False):
        per_round = np.concatenate(group["s/round"].to_numpy())
        acc = group[[c for c in group.columns if c.startswith("acc r")]].dropna(axis=1)
        print(f"{name:9s} per seed {group[last].round(4).tolist()}  mean {group[last].mean():.4f}"
              f"  by round {acc.mean().round(4).tolist()}  seconds/round median "
              f"{np.median(per_round):.1f} p95 {np.percentile(per_round, 95):.1f}"
              f"  cpu s/round mean {group['cpu s/round'].mean():.1f}")  # fmt: skip
    peer_names = ["SelfTraining(SVC)", "SelfTraining(LogReg)", "LabelSpreading(knn)"]
    peer_rows = table[table["setup"] == "peers"]
    for name in peer_names:
        print(f"{name:22s} mean {peer_rows[name].mean():.4f}")
    ours = table.loc[table["setup"] == "defaults", last].mean()
    best_peer = max(peer_rows[name].mean() for name in peer_names)
    print(f"defaults / best peer accuracy: {ours / best_peer:.3f}")
    if not args.skip_fixed:
        fixed = table[table["setup"] == "fixed"]
        defaults = table[table["setup"] == "defaults"]
        print(f"defaults / fixed: accuracy {ours / fixed[last].mean():.3f}, cpu time per round "
              f"{defaults['cpu s/round'].mean() / fixed['cpu s/round'].mean():.2f}")  # fmt: skip
    print(f"total {time.perf_counter() - start:.0f} s")
    return table


if __name__ == "__main__":
    main()
