"""Tests of the integer encodings every slice count is built on, and of metric parsing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwidgets._validate import InputError
from labelwidgets.slices._encoding import Labels, check_by, encode_labels, slicings
from labelwidgets.slices._metrics import parse_metrics


def test_slicings_sort_values_put_missing_last_and_drop_empty_pairs():
    df = pd.DataFrame(
        {
            "camera": pd.Categorical(["b", "a", None, "b"], categories=["b", "a", "unused"]),
            "light": ["day", "night", "day", "day"],
        }
    )
    out = {col: (codes, values) for col, codes, values in slicings(df, ["camera", "light"], True)}
    assert list(out) == ["camera", "light", "camera&light"]
    codes, values = out["camera"]
    assert values[:2].tolist() == ["a", "b"] and pd.isna(values[2])  # unused category dropped
    assert codes.tolist() == [1, 0, 2, 1]
    codes, values = out["camera&light"]
    # only the pairs some row has, in (a, b) order
    assert values.tolist() == ["a&night", "b&day", "nan&day"]
    assert codes.tolist() == [1, 0, 2, 1]


def test_encode_labels_keeps_the_true_dtype_and_adds_unseen_predictions():
    t, p, classes = encode_labels(pd.Series([2, 0, 1]), pd.Series([0.0, np.nan, 3.0]))
    assert classes.tolist() == [0, 1, 2, 3]
    assert t.tolist() == [2, 0, 1] and p.tolist() == [0, -1, 3]


def test_labels_keep_only_rows_with_both_labels():
    df = pd.DataFrame({"y": ["a", None, "b", "a"], "p": ["a", "b", None, "b"]})
    labels = Labels.from_frame(df, "y", "p").with_raw(df["y"], df["p"])
    assert labels.t.tolist() == [0, 0] and labels.p.tolist() == [0, 1]
    assert labels.raw_pred.tolist() == ["a", "b"]
    codes = np.array([0, 1, 1, 0])
    assert labels.kept(codes).tolist() == [0, 0]
    assert labels.excluded(codes, 2).tolist() == [0, 2]
    full = Labels.from_frame(df.dropna(), "y", "p")
    assert full.valid is None and full.excluded(np.array([0, 0]), 1).tolist() == [0]


def test_parse_metrics_names_classes_by_value_or_text():
    classes = np.array([0, 1, 2])
    metrics = parse_metrics({"acc": "accuracy", "p1": "precision[1]"}, classes)
    assert [(m.name, m.kind, m.cls) for m in metrics] == [
        ("acc", "accuracy", None),
        ("p1", "precision", 1),
    ]
    assert [m.proportion for m in parse_metrics(["f1", "recall[2]"], classes)] == [False, True]
    with pytest.raises(InputError, match=r"one of \[0, 1, 2\]. Got 'recall\[7\]'"):
        parse_metrics("recall[7]", classes)


def test_check_by_dedupes_and_requires_a_column():
    df = pd.DataFrame({"a": [1], "b": [2]})
    assert check_by(df, ["b", "a", "b"]) == ["b", "a"]
    with pytest.raises(InputError, match="`by` must name at least one slicing column"):
        check_by(df, None)
    with pytest.raises(InputError, match="`by` must be a column name or a list of column names"):
        check_by(df, 3)
