"""labelwidgets.active: uncertainty scores and the labelling order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy

from labelwidgets import InputError
from labelwidgets.active import probability_matrix, uncertainty, uncertainty_order


def long(matrix, ids=None, classes=("cat", "dog", "fox")):
    ids = ids or [f"i{k}" for k in range(len(matrix))]
    return pd.DataFrame({"item_id": np.repeat(ids, len(classes)),
                         "class": list(classes) * len(ids),
                         "probability": np.asarray(matrix, dtype=float).ravel()})  # fmt: skip


MATRIX = np.array([[0.8, 0.1, 0.1], [0.4, 0.4, 0.2], [0.34, 0.33, 0.33], [1.0, 0.0, 0.0],
                   [0.5, 0.45, 0.05]])  # fmt: skip


def test_scores_match_their_definitions():
    probs = long(MATRIX)
    top = np.sort(MATRIX, axis=1)
    expected = {
        "least_confidence": 1 - MATRIX.max(axis=1),
        "margin": 1 - (top[:, -1] - top[:, -2]),
        "entropy": entropy(MATRIX, axis=1),  # natural log, 0 log 0 = 0
    }
    for method, values in expected.items():
        got = uncertainty(probs, method)
        assert got.name == method and got.index.tolist() == ["i0", "i1", "i2", "i3", "i4"]
        assert np.allclose(got.to_numpy(), values)
        assert np.allclose(uncertainty(MATRIX, method), values)  # the array form
    assert uncertainty(probs, "entropy")["i3"] == 0.0


def test_order_most_uncertain_first():
    probs = long(MATRIX)
    assert uncertainty_order(probs, "least_confidence") == ["i2", "i1", "i4", "i0", "i3"]
    assert uncertainty_order(probs, "margin") == ["i1", "i2", "i4", "i0", "i3"]
    assert uncertainty_order(probs, "entropy") == ["i2", "i1", "i4", "i0", "i3"]
    # a queue: unscored items follow in the given order; ties keep the queue's order
    tied = long([[0.5, 0.5, 0.0], [0.9, 0.1, 0.0], [0.5, 0.5, 0.0]], ids=["a", "b", "c"])
    assert uncertainty_order(tied, item_ids=["new1", "c", "b", "new2", "a"]) == [
        "c", "a", "b", "new1", "new2"]  # fmt: skip
    assert uncertainty_order(tied, item_ids=["b"]) == ["b"]


def test_probability_matrix_classes_in_name_order_and_rescaled():
    probs = long([[0.2, 0.3, 0.5002]], classes=("zebra", "ant", "mole"))
    items, classes, matrix = probability_matrix(probs.iloc[::-1])
    assert items.tolist() == ["i0"] and classes.tolist() == ["ant", "mole", "zebra"]
    assert np.allclose(matrix, [[0.3, 0.5002, 0.2]] / np.float64(1.0002))
    assert matrix.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "probs,match",
    [
        (long([[0.5, 0.2, 0.2]]), r"must sum to 1 \(within 0.001\). Got sums \{'i0': 0.9\}"),
        (long([[0.5, -0.1, 0.6]]), r"number in \[0, 1\]. Got -0.1 for item 'i0', class 'dog'"),
        (long([[np.nan, 0.5, 0.5]]), r"number in \[0, 1\]. Got nan"),
        (long([[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]]).drop(index=2), r"every class \['cat', 'dog', 'fox'\]. Got item 'i0' without \['fox'\]"),
        (long([[0.5, 0.5, 0.0]]).iloc[:0], "at least one row"),
        (pd.DataFrame({"item_id": ["a"], "probability": [1.0]}), r"Missing \['class'\]"),
    ],
)
def test_bad_probabilities(probs, match):
    with pytest.raises(InputError, match=match):
        uncertainty(probs)


def test_bad_method_and_array():
    with pytest.raises(InputError, match=r"`method` must be one of \['least_confidence', 'margin', 'entropy'\]"):
        uncertainty(long(MATRIX), "variance")
    with pytest.raises(InputError, match=r"2-D array .* shape \(3,\)"):
        uncertainty(np.array([0.2, 0.3, 0.5]))
    with pytest.raises(InputError, match="rows must be non-negative and sum to 1"):
        uncertainty(np.array([[0.2, 0.3]]))
