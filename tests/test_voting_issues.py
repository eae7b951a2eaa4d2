"""label_issues(): confident learning on long probabilities, against cleanlab called directly."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from labelwidgets import InputError
from labelwidgets.store import LabelStore
from labelwidgets.voting import label_issues, resolve

CLASSES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                    "nine"], dtype=object)  # fmt: skip


@pytest.fixture(scope="module")
def digits():
    """400 digits, 10 % of the labels flipped, out-of-sample probabilities (5-fold CV)."""
    x, y = load_digits(return_X_y=True)
    x, y = x[:400] / 16.0, y[:400]
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.choice(len(y), size=40, replace=False)
    noisy[flip] = (y[flip] + rng.integers(1, 10, size=40)) % 10
    model = LogisticRegression(max_iter=300)
    pred = cross_val_predict(model, x, noisy, cv=5, method="predict_proba")
    ids = np.array([f"d{i:04d}" for i in range(len(y))], dtype=object)
    labels = pd.DataFrame({"item_id": ids, "task": "digit", "rater": "ann",
                           "label": CLASSES[noisy]})  # fmt: skip
    probs = pd.DataFrame({"item_id": np.repeat(ids, 10), "class": np.tile(CLASSES, len(ids)),
                          "probability": pred.ravel()})  # fmt: skip
    return labels, probs, noisy, pred, set(ids[flip])


def test_label_issues_equal_cleanlab(digits):
    labels, probs, noisy, pred, flipped = digits
    out = label_issues(labels, probs.sample(frac=1.0, random_state=1))  # row order is free
    assert list(out.columns) == ["item_id", "task", "label", "suggested_label",
                                 "suggested_probability", "label_quality", "is_issue"]  # fmt: skip
    assert len(out) == len(labels) and set(out["item_id"]) == set(labels["item_id"])
    # cleanlab on the same matrix, its classes in name order
    order = np.argsort(CLASSES.astype(str))
    rank = np.empty(10, dtype=np.int64)
    rank[order] = np.arange(10)
    y, p = rank[noisy], pred[:, order]
    ranked = find_label_issues(y, p, return_indices_ranked_by="self_confidence", n_jobs=1)
    n_flagged = int(out["is_issue"].sum())
    assert n_flagged == len(ranked)
    assert out["item_id"].head(n_flagged).tolist() == labels["item_id"].to_numpy()[ranked].tolist()
    assert not out["is_issue"].iloc[n_flagged:].any()
    quality = get_label_quality_scores(y, p)
    by_id = dict(zip(labels["item_id"], quality, strict=True))
    assert np.allclose(out["label_quality"], out["item_id"].map(by_id))
    assert out["label_quality"].iloc[n_flagged:].is_monotonic_increasing
    assert (out["suggested_label"] == CLASSES[pred.argmax(axis=1)][
        out["item_id"].str[1:].astype(int)]).all()  # fmt: skip
    # the flagged items are mostly the planted errors
    precision = np.mean([i in flipped for i in out["item_id"].head(n_flagged)])
    assert precision > 0.6
    top = out.head(len(flipped))
    assert (top["suggested_label"] != top["label"]).mean() > 0.8


def test_label_issues_from_resolved_votes(digits):
    labels, probs, *_ = digits
    second = labels.assign(rater="bob")
    second.loc[second.index[:5], "label"] = "zero"  # bob disagrees on five items
    votes = pd.concat([labels, second], ignore_index=True)
    with pytest.raises(InputError, match=r"one label per item. Got \d+ items with several labels"):
        label_issues(votes, probs)
    resolved = resolve(votes)  # disputed items have no label yet: they are left out
    out = label_issues(resolved, probs)
    assert len(out) == len(labels) - int((labels["label"].head(5) != "zero").sum())
    agreed = label_issues(pd.concat([labels, labels.assign(rater="bob")]), probs)
    assert len(agreed) == len(labels)  # two raters who agree: one label


def test_label_issues_from_store(tmp_path, digits):
    labels, probs, *_ = digits
    store = LabelStore(tmp_path / "issues.db")
    store.register_task("digit", list(CLASSES))
    store.register_task("size", ["small", "big"])
    for item, label in zip(labels["item_id"].head(60), labels["label"].head(60), strict=True):
        store.submit(item, {"digit": label, "size": "small"}, "ann")
    out = label_issues(store.labels(), probs, task="digit")
    assert len(out) == 60 and set(out["task"]) == {"digit"}
    with pytest.raises(InputError, match=r"`task` must name one task.*\['digit', 'size'\]"):
        label_issues(store.labels(), probs)


def bad_probs(probs, how):
    p = probs.copy()
    if how == "sum":
        p.loc[p.index[:10], "probability"] = 0.5
    elif how == "range":
        p.loc[p.index[0], "probability"] = 1.5
    elif how == "duplicate":
        p = pd.concat([p, p.head(1)])
    elif how == "missing_class":
        p = p.drop(index=p.index[3])
    elif how == "columns":
        p = p.rename(columns={"class": "label"})
    elif how == "text":
        p["probability"] = p["probability"].astype(str)
        p.loc[p.index[0], "probability"] = "high"
    return p


@pytest.mark.parametrize(
    "how,match",
    [
        ("sum", r"must sum to 1 \(within 0.001\). Got sums \{'d0000': "),
        ("range", r"`probability` must be a number in \[0, 1\]. Got 1.5 for item 'd0000'"),
        ("duplicate", r"one row per \(item_id, class\). Got 2 rows for item 'd0000', class 'zero'"),
        ("missing_class", r"every class \[.*\]. Got item 'd0000' without \['three'\]"),
        ("columns", r"`probabilities` must have columns \['item_id', 'class', 'probability'\]"),
        ("text", r"`probability` must hold numbers in \[0, 1\]"),
    ],
)
def test_bad_probabilities(digits, how, match):
    labels, probs, *_ = digits
    with pytest.raises(InputError, match=match):
        label_issues(labels, bad_probs(probs, how))


def test_bad_labels(digits):
    labels, probs, *_ = digits
    odd = labels.copy()
    odd.loc[odd.index[0], "label"] = "eleven"
    with pytest.raises(InputError, match=r"classes of `probabilities` \[.*\]. Got \['eleven'\]"):
        label_issues(odd, probs)
    with pytest.raises(InputError, match=r"cover every labelled item. Got none for 1 items, e.g. \['x'\]"):
        label_issues(pd.concat([labels, labels.head(1).assign(item_id="x")]), probs)
    with pytest.raises(InputError, match=r"`rank_by` must be one of"):
        label_issues(labels, probs, rank_by="loss")
    with pytest.raises(InputError, match=r"`filter_by` must be one of"):
        label_issues(labels, probs, filter_by="magic")
    boxes = labels.assign(kind="box")
    with pytest.raises(InputError, match=r"Got kinds \['box'\]"):
        label_issues(boxes, probs)
    multi = pd.DataFrame({"item_id": ["d0000"], "task": "digit", "label": [["one", "two"]]})
    with pytest.raises(InputError, match="one class per item"):
        label_issues(multi, probs)
    with pytest.raises(InputError, match="at least one labelled item"):
        label_issues(labels.assign(label=None), probs)


def test_missing_cleanlab_names_the_install_command(digits, monkeypatch):
    labels, probs, *_ = digits
    monkeypatch.setitem(sys.modules, "cleanlab.filter", None)
    with pytest.raises(ImportError, match=r"pip install 'labelwidgets\[quality\]'"):
        label_issues(labels, probs)
