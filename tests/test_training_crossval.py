"""Out-of-sample probabilities for labelled items (cross_val_probabilities)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold

from labelwidgets._validate import InputError
from labelwidgets.training import ArrayImages, cross_val_probabilities

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 60, 230)}


def colour_images(n_per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    arrays, ids, truth = [], [], []
    for c, rgb in COLOURS.items():
        for i in range(n_per_class):
            arrays.append(np.clip(np.array(rgb) + rng.normal(0, 25, (8, 8, 3)), 0, 255))
            ids.append(f"{c}-{i:02d}")
            truth.append(c)
    images = ArrayImages(np.stack(arrays).astype(np.uint8), ids)
    return images, pd.DataFrame({"item_id": ids, "label": truth})


class PixelNeighbours(BaseEstimator):
    """k nearest neighbours on raw pixels: it memorises its training items, errors included."""

    def __init__(self, k=3, classes=None):
        self.k = k
        self.classes = classes

    def _pixels(self, images, ids):
        return np.stack([np.asarray(images.load(i), dtype=float).ravel() for i in ids])

    def fit(self, images, labels, sample_weight=None):
        self.classes_ = list(self.classes or sorted(labels["label"].unique()))
        self.x_ = self._pixels(images, labels["item_id"])
        self.y_ = labels["label"].to_numpy()
        self.train_ids_ = set(labels["item_id"])
        return self

    def predict_proba(self, images):
        x = self._pixels(images, images.item_ids)
        near = np.argsort(((x[:, None] - self.x_[None]) ** 2).sum(-1), axis=1)[:, : self.k]
        votes = np.array([[np.mean(self.y_[row] == c) for c in self.classes_] for row in near])
        return votes


def test_probabilities_are_out_of_sample_and_find_a_planted_error():
    images, truth = colour_images()
    labels = truth.copy()
    labels.loc[labels["item_id"] == "red-03", "label"] = "blue"  # a rater's slip
    proba = cross_val_probabilities(PixelNeighbours(k=3), images, labels, cv=3)
    assert list(proba.columns) == ["item_id", "class", "probability"]
    assert len(proba) == 18 * 3 and list(proba["item_id"].unique()) == list(labels["item_id"])
    assert list(proba["class"].iloc[:3]) == ["blue", "green", "red"]
    assert np.allclose(proba.groupby("item_id")["probability"].sum(), 1)
    wide = proba.pivot(index="item_id", columns="class", values="probability")
    # out of sample the slip's neighbours are red; in sample 1-NN would repeat "blue"
    assert wide.loc["red-03", "red"] == 1.0 and wide.loc["red-03", "blue"] == 0.0
    in_sample = PixelNeighbours(k=1).fit(images, labels).predict_proba(images.subset(["red-03"]))
    assert in_sample[0, 0] == 1.0  # "blue": the memorised error
    # the same as fitting a clone per stratified fold by hand
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(labels, labels["label"])
    for train, test in folds:
        model = clone(PixelNeighbours(k=3)).set_params(classes=["blue", "green", "red"])
        model.fit(images, labels.iloc[train])
        ids = list(labels["item_id"].iloc[test])
        assert np.array_equal(model.predict_proba(images.subset(ids)), wide.loc[ids].to_numpy())
    # exactly the format the label-error review takes: it flags the slip, suggesting "red"
    pytest.importorskip("cleanlab")
    from labelwidgets.voting import label_issues

    issues = label_issues(labels, proba)
    flagged = issues[issues["is_issue"]]
    assert list(flagged["item_id"]) == ["red-03"] and flagged["suggested_label"].tolist() == ["red"]


def test_seeded_folds_and_bad_input():
    images, truth = colour_images(n_per_class=4)
    a = cross_val_probabilities(PixelNeighbours(), images, truth, cv=2, random_state=1)
    b = cross_val_probabilities(PixelNeighbours(), images, truth, cv=2, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InputError, match=r"`cv` must be an integer from 2 to the number of labelled items \(12\). Got 1"):
        cross_val_probabilities(PixelNeighbours(), images, truth, cv=1)
    with pytest.raises(InputError, match=r"at least 2 labelled items, so that each fold trains on it. Got \{'red': 1\}"):
        one_red = truth[(truth["label"] != "red") | (truth["item_id"] == "red-00")]
        cross_val_probabilities(PixelNeighbours(), images, one_red, cv=2)
    with pytest.raises(InputError, match="`estimator` must be a scikit-learn-style estimator"):
        cross_val_probabilities("small_cnn", images, truth)
    with pytest.raises(InputError, match=r"`labels` must have columns \['item_id', 'label'\]"):
        cross_val_probabilities(PixelNeighbours(), images, truth.rename(columns={"label": "y"}))


@pytest.mark.train
def test_with_the_torch_classifier():
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from labelwidgets.training import Classifier

    images, truth = colour_images(n_per_class=4)
    clf = Classifier(model="tiny_cnn", image_size=8, epochs=2, batch_size=16, verbose=False)
    proba = cross_val_probabilities(clf, images, truth, cv=2)
    assert not hasattr(clf, "model_")  # only clones are fitted
    wide = proba.pivot(index="item_id", columns="class", values="probability")
    assert wide.shape == (12, 3) and np.allclose(wide.sum(axis=1), 1)
    best = wide.idxmax(axis=1).reindex(truth["item_id"]).to_numpy()
    assert (best == truth["label"].to_numpy()).mean() >= 0.5
