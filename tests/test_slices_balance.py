"""Tests of class_balance: shares per slice against the whole."""

from __future__ import annotations

import numpy as np
import pytest
from slices_data import CLASSES, make_frame

from labelwidgets.slices import BALANCE_COLUMNS, class_balance


def test_class_balance():
    df = make_frame(n=2000, seed=10, nan_labels=10)
    bal = class_balance(df, by=["camera", "lighting"])
    assert list(bal.columns) == BALANCE_COLUMNS
    assert len(bal) == (4 + 3) * len(CLASSES)
    shares = bal.groupby(["column", "value"])["share"].sum()
    np.testing.assert_allclose(shares, 1.0)
    owl_d = bal[(bal["value"] == "d") & (bal["label"] == "owl")].iloc[0]
    assert owl_d["count"] == 0 and owl_d["ratio"] == 0
    clean = df.dropna(subset=["label"])
    cat_a = bal[(bal["value"] == "a") & (bal["label"] == "cat")].iloc[0]
    part = clean[clean["camera"] == "a"]
    assert cat_a["n"] == len(part)
    assert cat_a["share"] == pytest.approx((part["label"] == "cat").mean())
    assert cat_a["ratio"] == pytest.approx(
        (part["label"] == "cat").mean() / (clean["label"] == "cat").mean()
    )
