"""Noisy student on scikit-learn's digits with 5 labels per class, against scikit-learn peers.

For each of 3 seeds: a 70/30 stratified split of the 1,797 8x8 digits; 5 labelled images per
class from the training part, the rest of it unlabelled; test accuracy of the teacher and of the
student after each round, and on the same split scikit-learn's ``SelfTrainingClassifier``
(SVC with probabilities; logistic regression) and ``LabelSpreading`` (kNN kernel), on the 64 raw
pixels. The noisy student: a ``tiny_cnn`` teacher and ``small_cnn`` students on the digits
upsampled to 16x16, no flips (they change digits), threshold 0.7, 3 rounds.

Run: ``python benchmarks/noisy_student_digits.py`` (CPU, a few minutes). ``--rounds``,
``--epochs``, ``--student-epochs``, ``--image-size`` and ``--seeds`` change the setup.
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


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--student-epochs", type=int, default=6)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--model", default="tiny_cnn")
    parser.add_argument("--student-model", default="small_cnn")
    parser.add_argument("--soft", action="store_true")
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
        tic = time.perf_counter()
        common = dict(image_size=args.image_size, batch_size=32, verbose=False)
        ns = NoisyStudent(
            Classifier(model=args.model, epochs=args.epochs, **common),
            Classifier(model=args.student_model, epochs=args.student_epochs, **common),
            rounds=args.rounds, threshold=args.threshold, soft=args.soft, random_state=seed,
            verbose=False,
        )  # fmt: skip
        ns.fit(images.subset(ids[train]), labels, truth=truth)
        seconds = time.perf_counter() - tic
        test_images = images.subset(ids[test])
        row = {"seed": seed}
        for r in range(ns.n_rounds_ + 1):
            row["teacher" if r == 0 else f"student r{r}"] = ns.score(test_images, truth, round=r)
        row["pseudo_acc(last)"] = ns.history_["pseudo_accuracy"].iloc[-1]
        row.update(peers(digits, train, test, labelled, seed))
        row["noisy student s"] = seconds
        rows.append(row)
        print(pd.DataFrame([row]).round(4).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    summary = table.drop(columns="seed").agg(["mean", "std"]).round(4)
    print("\ntest accuracy, 5 labels per class, 3 seeds")
    print(table.round(4).to_string(index=False))
    print(summary.to_string())
    last = [c for c in table.columns if c.startswith("student")][-1] if args.rounds else "teacher"
    peer_names = ["SelfTraining(SVC)", "SelfTraining(LogReg)", "LabelSpreading(knn)"]
    best_peer = max(table[name].mean() for name in peer_names)
    print(
        f"\nfinal model ({last}) mean {table[last].mean():.4f} vs best peer {best_peer:.4f}: "
        f"ratio {table[last].mean() / best_peer:.3f}; total {time.perf_counter() - start:.0f} s"
    )
    return table


if __name__ == "__main__":
    main()
