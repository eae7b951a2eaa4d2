"""labelwidgets.active: uncertainty scores and the labelling order."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy

from labelwidgets import InputError
from labelwidgets._tasks import MultiLabel
from labelwidgets.active import (
    ORDERS,
    UNCERTAINTY_METHODS,
    UncertaintyRank,
    predictions_version,
    probability_matrix,
    rank_items,
    stored_uncertainty,
    uncertainty,
    uncertainty_order,
    write_probabilities,
)
from labelwidgets.session import reorder_open


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


# ------------------------------------------------------------------ predictions in the store

def _items(store, ids):
    store.add_items(pd.DataFrame({"item_id": ids, "path": ids, "width": 8, "height": 8}))


def test_written_probabilities_read_back_as_the_same_scores(store):
    ids = [f"i{k}" for k in range(len(MATRIX))]
    _items(store, ids)
    store.register_task("animal", ["cat", "dog", "fox"])
    sid = write_probabilities(store, "animal", long(MATRIX), "net", round=2)
    rows = store.current(source="model")
    assert len(rows) == len(ids) and set(rows["submission_id"]) == {sid}  # one transaction
    first = rows.iloc[0]
    assert (first["rater"], first["model"], first["round"], first["label"]) == ("net", "net", 2, "cat")
    assert first["confidence"] == pytest.approx(0.8)
    assert json.loads(first["attributes"]) == {"probabilities": {"cat": 0.8, "dog": 0.1, "fox": 0.1}}
    for method in UNCERTAINTY_METHODS:
        got = stored_uncertainty(rows, method)
        assert got.name == method and sorted(got.index) == ids
        assert np.allclose(got.loc[ids].to_numpy(), uncertainty(MATRIX, method))
    # the order a tagger takes is the order of uncertainty_order on the same probabilities
    for order, method in ORDERS.items():
        rank = UncertaintyRank(order, {"animal": ["cat", "dog", "fox"]})(store)
        assert rank(ids) == uncertainty_order(long(MATRIX), method)


def test_newest_prediction_counts_and_top1_only_rows(store):
    _items(store, ["a", "b", "c"])
    write_probabilities(store, "animal", long([[0.9, 0.05, 0.05]], ids=["a"]), "old")
    write_probabilities(store, "animal", long([[0.4, 0.3, 0.3]], ids=["a"]), "new")  # another model, later
    # another tool's prediction: top-1 confidence only (no distribution)
    store.submit("b", {"animal": "dog"}, "other", source="model", confidence=0.7)
    store.submit("c", {"animal": "dog"}, "ann")  # a human answer is no prediction
    rows = store.current()
    least = stored_uncertainty(rows)
    assert least.round(6).to_dict() == {"a": 0.6, "b": 0.3}
    assert stored_uncertainty(rows, "margin").round(6).to_dict() == {"a": 0.9}  # b: unknown
    assert rank_items(stored_uncertainty(rows, "margin"), ["c", "b", "a"]) == ["a", "c", "b"]


def test_item_score_is_its_most_uncertain_task_and_bad_rows_are_ignored():
    rows = pd.DataFrame({
        "annotation_id": [1, 2, 3, 4, 5], "item_id": ["a", "a", "b", "c", "d"],
        "task": ["shape", "size", "shape", "shape", "shape"], "kind": "label", "source": "model",
        "label": ["o", "big", "o", "o", "o"], "confidence": [0.9, 0.6, np.nan, np.nan, 1.5],
        "attributes": [None, None, '{"probabilities": {"o": 0.5, "x": 0.2}}',  # no distribution
                       "{not json", '{"probabilities": {"o": "high"}}'],
    })  # fmt: skip
    assert stored_uncertainty(rows).round(6).to_dict() == {"a": 0.4}
    assert stored_uncertainty(rows, tasks=["shape"]).round(6).to_dict() == {"a": 0.1}


def test_rank_reads_predictions_again_only_when_they_change(store, monkeypatch):
    _items(store, ["a", "b", "c"])
    reads = []
    real = store.current
    monkeypatch.setattr(store, "current", lambda *a, **k: reads.append(k) or real(*a, **k))
    ranker = UncertaintyRank("uncertainty", {"animal": ["cat", "dog", "fox"],
                                             "colors": MultiLabel(["red", "blue"])})  # fmt: skip
    assert predictions_version(store) is None and ranker(store)(["c", "b", "a"]) == ["c", "b", "a"]
    sid = write_probabilities(store, "animal", long([[0.9, 0.05, 0.05], [0.5, 0.3, 0.2]], ids=["a", "b"]), "net")
    store.submit("c", {"colors": ["red"]}, "net", source="model", confidence=0.1)  # multi-label: left out
    assert ranker(store)(["c", "a", "b"]) == ["b", "a", "c"] and len(reads) == 2
    version = predictions_version(store)
    store.submit("c", {"animal": "cat"}, "ann")  # a human answer changes no prediction
    assert predictions_version(store) == version
    assert ranker(store)(["c", "a", "b"]) == ["b", "a", "c"] and len(reads) == 2  # not read again
    store.retract(sid)  # the predictions withdrawn: read again, nothing left to rank by
    assert predictions_version(store) > version
    assert ranker(store)(["c", "a", "b"]) == ["c", "a", "b"] and len(reads) == 3
    assert reads == [{"source": "model"}] * 3


def test_bad_predictions_and_orders(store):
    _items(store, ["i0"])
    store.register_task("animal", ["cat", "dog"])
    with pytest.raises(InputError, match=r"classes must be options of task 'animal' \['cat', 'dog'\]. Got \['fox'\]"):
        write_probabilities(store, "animal", long(MATRIX[:1]), "net")
    with pytest.raises(InputError, match="must sum to 1"):
        write_probabilities(store, "animal", long([[0.5, 0.2, 0.2]]), "net")
    with pytest.raises(InputError, match="`model` must be"):
        write_probabilities(store, "animal", long(MATRIX[:1]), "")
    assert store.annotations().empty
    with pytest.raises(InputError, match=r"`order` must be one of \['uncertainty', 'least_confidence'"):
        UncertaintyRank("random", {"animal": ["cat", "dog"]})


def test_reorder_open_moves_only_the_unshown_items():
    queue = ["a", "b", "c", "d", "e", "f"]
    # shown or done items keep their places; the rest fill theirs from the current position on
    assert reorder_open(queue, {"b", "c"}, ["f", "a", "e", "d"], start=3) == ["d", "b", "c", "f", "a", "e"]
    assert reorder_open(queue, set(), queue[::-1]) == queue[::-1]
    assert reorder_open(queue, set(queue), []) == queue
    with pytest.raises(InputError, match=r"`order` must hold each movable item of the queue once \(4 items\)"):
        reorder_open(queue, {"b", "c"}, ["f", "a", "e"], start=3)


def test_predictions_on_postgresql(postgres_url):
    from labelwidgets.store import LabelStore

    store = LabelStore(postgres_url)
    try:
        ids = [f"i{k}" for k in range(len(MATRIX))]
        _items(store, ids)
        assert predictions_version(store) is None
        write_probabilities(store, "animal", long(MATRIX), "net")
        assert predictions_version(store) == store.annotations()["annotation_id"].max()
        rank = UncertaintyRank("entropy", {"animal": ["cat", "dog", "fox"]})(store)
        assert rank(ids) == uncertainty_order(long(MATRIX), "entropy")
    finally:
        store.close()
