"""Shared test data for the tests of labelwidgets.slices (tests/test_slices_*.py)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, precision_score, recall_score

CLASSES = ["cat", "dog", "fox", "owl"]


def make_frame(n=3000, seed=0, nan_labels=0):
    """Labels and predictions with a rare, worse ``night`` slice and classes missing in slices."""
    rng = np.random.default_rng(seed)
    lighting = rng.choice(["day", "dusk", "night"], n, p=[0.6, 0.33, 0.07])
    camera = rng.choice(["a", "b", "c", "d"], n)
    label = rng.choice(CLASSES, n, p=[0.4, 0.3, 0.2, 0.1])
    # camera "d" never sees an owl, so slices hold different class sets
    label = np.where((camera == "d") & (label == "owl"), "cat", label)
    error = np.where(lighting == "night", 0.45, 0.1)
    wrong = rng.random(n) < error
    prediction = np.where(wrong, rng.choice(CLASSES, n), label)
    df = pd.DataFrame(
        {"camera": camera, "lighting": lighting, "label": label, "prediction": prediction}
    )
    if nan_labels:
        df.loc[rng.choice(n, nan_labels, replace=False), "label"] = None
    return df


FAIRLEARN_METRICS = {
    "accuracy": accuracy_score,
    "precision": functools.partial(precision_score, average="macro", zero_division=0),
    "recall": functools.partial(recall_score, average="macro", zero_division=0),
}
