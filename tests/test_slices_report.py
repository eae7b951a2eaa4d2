"""Tests of slice_report and differences: scores against fairlearn and scikit-learn, layout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from slices_data import CLASSES, FAIRLEARN_METRICS, make_frame

from labelwidgets._validate import InputError
from labelwidgets.slices import REPORT_COLUMNS, differences, slice_report
from labelwidgets.slices._report import report_rows


# --------------------------------------------------------------------------- fairlearn
@pytest.mark.parametrize("column", ["camera", "lighting"])
def test_matches_fairlearn_metricframe(column):
    from fairlearn.metrics import MetricFrame

    df = make_frame(nan_labels=25)
    report = slice_report(df, by=["camera", "lighting"], metrics=list(FAIRLEARN_METRICS))
    clean = df.dropna(subset=["label"])
    mf = MetricFrame(
        metrics=FAIRLEARN_METRICS,
        y_true=clean["label"],
        y_pred=clean["prediction"],
        sensitive_features=clean[column],
    )
    for between in ("between_groups", "to_overall"):
        ours = differences(report, method=between)
        ours = ours[ours["column"] == column].set_index("metric")["difference"]
        theirs = mf.difference(method=between)
        for metric in FAIRLEARN_METRICS:
            assert ours[metric] == pytest.approx(theirs[metric], abs=1e-12, rel=0)
    for metric in FAIRLEARN_METRICS:
        rows = report[(report["column"] == column) & (report["metric"] == metric)]
        ours = rows.set_index("value")["score"]
        theirs = mf.by_group[metric]
        assert sorted(ours.index) == sorted(theirs.index)
        np.testing.assert_allclose(
            ours.to_numpy(), theirs[ours.index].to_numpy(), atol=1e-12, rtol=0
        )
        assert rows["overall"].iloc[0] == pytest.approx(mf.overall[metric], abs=1e-12, rel=0)
        np.testing.assert_allclose(rows["gap"], rows["score"] - mf.overall[metric], atol=1e-12)


def test_intersections_match_fairlearn_two_features():
    from fairlearn.metrics import MetricFrame

    df = make_frame(seed=3)
    report = slice_report(
        df, by=["camera", "lighting"], metrics=list(FAIRLEARN_METRICS), intersections=True
    )
    pair = report[report["column"] == "camera&lighting"]
    mf = MetricFrame(
        metrics=FAIRLEARN_METRICS,
        y_true=df["label"],
        y_pred=df["prediction"],
        sensitive_features=df[["camera", "lighting"]],
    )
    for metric in FAIRLEARN_METRICS:
        theirs = mf.by_group[metric]
        theirs.index = [f"{a}&{b}" for a, b in theirs.index]
        ours = pair[pair["metric"] == metric].set_index("value")["score"]
        assert set(ours.index) == set(theirs.dropna().index)
        np.testing.assert_allclose(ours, theirs[ours.index], atol=1e-12, rtol=0)
        diff = differences(report).set_index(["column", "metric"])["difference"]
        assert diff[("camera&lighting", metric)] == pytest.approx(
            mf.difference()[metric], abs=1e-12, rel=0
        )
    n = pair[pair["metric"] == "accuracy"]["n"]
    assert n.sum() == len(df)
    assert (n == df.groupby(["camera", "lighting"]).size().to_numpy()).all()


def test_per_class_and_f1_match_scikit_learn():
    df = make_frame(seed=1)
    report = slice_report(
        df,
        by="camera",
        metrics=["f1", "precision_per_class", "recall_per_class", "f1[dog]", "error_rate"],
        n_boot=50,
    )
    for camera, part in df.groupby("camera"):
        rows = report[report["value"] == camera].set_index("metric")["score"]
        yt, yp = part["label"], part["prediction"]
        assert rows["f1"] == pytest.approx(f1_score(yt, yp, average="macro"), abs=1e-12)
        assert rows["error_rate"] == pytest.approx(1 - accuracy_score(yt, yp), abs=1e-12)
        assert rows["f1[dog]"] == pytest.approx(
            f1_score(yt, yp, labels=["dog"], average=None)[0], abs=1e-12
        )
        for cls in CLASSES:
            p = precision_score(yt, yp, labels=[cls], average=None, zero_division=np.nan)[0]
            r = recall_score(yt, yp, labels=[cls], average=None, zero_division=np.nan)[0]
            assert rows[f"precision[{cls}]"] == pytest.approx(p, abs=1e-12, nan_ok=True)
            assert rows[f"recall[{cls}]"] == pytest.approx(r, abs=1e-12, nan_ok=True)
    # camera "d" has no owl in its truth: recall[owl] is 0/0, reported as NaN, never flagged
    owl = report[(report["value"] == "d") & (report["metric"] == "recall[owl]")].iloc[0]
    assert math.isnan(owl["score"]) and not owl["flagged"]


def test_custom_callable_equals_builtin():
    df = make_frame(seed=2)

    def agreement(y_true, y_pred):
        return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))

    report = slice_report(
        df, by="lighting", metrics={"acc": agreement, "accuracy": "accuracy"}, n_boot=300
    )
    acc = report[report["metric"] == "acc"].reset_index(drop=True)
    ref = report[report["metric"] == "accuracy"].reset_index(drop=True)
    np.testing.assert_allclose(acc["score"], ref["score"], atol=1e-12)
    assert acc["overall"].iloc[0] == pytest.approx(ref["overall"].iloc[0], abs=1e-12)
    # bootstrap percentile interval of a proportion ~ its Wilson interval
    np.testing.assert_allclose(acc["ci_low"], ref["ci_low"], atol=0.03)
    np.testing.assert_allclose(acc["ci_high"], ref["ci_high"], atol=0.03)


# --------------------------------------------------------------------------- flags and layout
def test_flags_the_rare_bad_slice_and_never_small_ones():
    df = make_frame(n=4000, seed=6)
    report = slice_report(df, by=["camera", "lighting"], min_size=30)
    assert list(report.columns) == REPORT_COLUMNS
    night = report[(report["column"] == "lighting") & (report["value"] == "night")].iloc[0]
    assert night["flagged"] and night["gap"] < -0.2 and night["ci_high"] < night["overall"]
    rule = (report["n"] >= 30) & (
        (report["ci_high"] < report["overall"]) | (report["ci_low"] > report["overall"])
    )
    assert (report["flagged"] == rule).all()
    # a tiny, completely wrong slice: reported, never flagged
    tiny = pd.DataFrame(
        {
            "camera": ["z"] * 5,
            "lighting": ["day"] * 5,
            "label": ["cat"] * 5,
            "prediction": ["dog"] * 5,
        }
    )
    report = slice_report(pd.concat([df, tiny], ignore_index=True), by="camera", min_size=30)
    z = report[report["value"] == "z"].iloc[0]
    assert z["n"] == 5 and z["score"] == 0 and z["ci_high"] < z["overall"] and not z["flagged"]


def test_rows_are_ordered_column_value_metric_with_nan_slice():
    df = make_frame(n=500, seed=7)
    df.loc[:9, "camera"] = None
    report = slice_report(df, by=["lighting", "camera"], metrics=["accuracy", "recall"], n_boot=20)
    assert list(dict.fromkeys(report["column"])) == ["lighting", "camera"]
    assert list(report["metric"][:4]) == ["accuracy", "recall", "accuracy", "recall"]
    cameras = report[report["column"] == "camera"]["value"].drop_duplicates().tolist()
    assert cameras[:4] == ["a", "b", "c", "d"] and pd.isna(cameras[4])
    assert report.loc[report["value"].isna(), "n"].iloc[0] == 10


def test_nan_labels_are_excluded_and_counted():
    df = make_frame(n=600, seed=8)
    df.loc[[0, 1, 2], "label"] = np.nan
    df.loc[[3], "prediction"] = None
    report = slice_report(df, by="camera", metrics=["accuracy"])
    clean = df.iloc[4:]
    assert report["n"].sum() == len(clean) and report["n_excluded"].sum() == 4
    expected = df.iloc[:4].groupby("camera").size()
    got = report.set_index("value")["n_excluded"]
    assert all(got[c] == expected.get(c, 0) for c in got.index)
    assert report["overall"].iloc[0] == pytest.approx(
        accuracy_score(clean["label"], clean["prediction"]), abs=1e-12
    )


def test_all_labels_missing_gives_empty_scores_not_errors():
    df = make_frame(n=50).assign(label=np.nan)
    report = slice_report(df, by="lighting", metrics=["accuracy", "f1"])
    assert (report["n"] == 0).all() and report["score"].isna().all()
    assert report["overall"].isna().all() and not report["flagged"].any()
    assert report.drop_duplicates("value")["n_excluded"].sum() == 50


def test_integer_labels_and_categorical_slices():
    df = make_frame(n=800, seed=9)
    codes = {c: i for i, c in enumerate(CLASSES)}
    ints = df.assign(
        label=df["label"].map(codes),
        prediction=df["prediction"].map(codes),
        camera=pd.Categorical(df["camera"], categories=["d", "c", "b", "a", "unused"]),
    )
    a = slice_report(df, by="camera", metrics=["accuracy", "precision[dog]"])
    b = slice_report(ints, by="camera", metrics=["accuracy", "precision[1]"])
    # a missing prediction turns the column to float: classes keep y_true's integers
    ints.loc[0, "prediction"] = np.nan
    c = slice_report(ints, by="camera", metrics=["precision_per_class"], ci=None)
    assert c["metric"].unique().tolist() == [f"precision[{i}]" for i in range(4)]
    assert b["value"].drop_duplicates().tolist() == ["a", "b", "c", "d"]  # unused dropped
    np.testing.assert_allclose(a["score"], b["score"], atol=1e-12)
    assert b["metric"].tolist()[:2] == ["accuracy", "precision[1]"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"by": ["camera", "weather"]},
            r"`df` must have columns \['camera', 'weather'\]. Missing \['weather'\]; got "
            r"\['camera', 'lighting', 'label', 'prediction'\]",
        ),
        (
            {"y_true": "truth"},
            r"`df` must have columns \['truth', 'prediction'\]. Missing \['truth'\]",
        ),
        ({"y_pred": "pred"}, r"`df` must have columns \['label', 'pred'\]. Missing \['pred'\]"),
        ({"ci": 1.0}, r"`ci` must be a number in \(0, 1\). Got 1.0 instead"),
        ({"ci": 0}, r"`ci` must be a number in \(0, 1\). Got 0 instead"),
        ({"ci": -0.5}, r"`ci` must be a number in \(0, 1\). Got -0.5 instead"),
        ({"metrics": ["accuracy", "auc"]}, r"`metrics` must hold names from .*Got 'auc'"),
        (
            {"metrics": ["precision[yak]"]},
            r"per-class entries must name a class.*'precision\[yak\]'",
        ),
        ({"metrics": ["accuracy", "accuracy"]}, r"`metrics` must have distinct names"),
        ({"metrics": []}, r"`metrics` must name at least one metric"),
        ({"by": []}, r"`by` must name at least one slicing column"),
        ({"min_size": -1}, r"`min_size` must be an integer >= 0. Got -1 instead"),
        ({"n_boot": 0}, r"`n_boot` must be an integer >= 1. Got 0 instead"),
    ],
)
def test_bad_input(kwargs, match):
    df = make_frame(n=100)
    with pytest.raises(InputError, match=match):
        slice_report(df, **{"by": "camera", **kwargs})


def test_by_is_required_and_keyword_only():
    """No default slicing columns: the caller names them (and cannot pass them by position)."""
    df = make_frame(n=100)
    with pytest.raises(TypeError, match="required keyword-only argument: 'by'"):
        slice_report(df)
    with pytest.raises(TypeError, match="positional argument"):
        slice_report(df, "label", "prediction", ["camera"])
    with pytest.raises(InputError, match=r"`df` must be a pandas DataFrame. Got 'dict'"):
        slice_report(df.to_dict(), by="camera")


def test_report_rows_lays_out_values_then_metrics_and_flags_by_one_rule():
    """The one routine every report is built with: order, overall, gap, flags, dtypes."""
    score = np.array([[0.5, 0.85, np.nan], [0.3, 0.8, 0.0]])  # 2 metrics x 3 slices
    low, high = score - 0.1, score + 0.1
    rows = report_rows(
        "camera", np.array(["a", "b", "c"], dtype=object), np.array([40, 40, 10]),
        ["accuracy", "f1"], score, low, high, [0.8, 0.3], min_size=30, n_excluded=np.array([0, 2, 1]),
    )  # fmt: skip
    assert list(rows.columns) == REPORT_COLUMNS
    assert rows["value"].tolist() == ["a", "a", "b", "b", "c", "c"]
    assert rows["metric"].tolist() == ["accuracy", "f1"] * 3
    np.testing.assert_allclose(rows["overall"], [0.8, 0.3] * 3)
    np.testing.assert_allclose(rows["gap"], rows["score"] - rows["overall"])
    # a: accuracy 0.4-0.6 excludes 0.8 (flagged), f1 0.2-0.4 holds 0.3; b: accuracy
    # 0.75-0.95 holds 0.8, f1 0.7-0.9 excludes 0.3 (flagged); c: NaN, and f1 excludes 0.3
    # but the slice is smaller than min_size
    assert rows["flagged"].tolist() == [True, False, False, True, False, False]
    assert rows["n_excluded"].tolist() == [0, 0, 2, 2, 1, 1]
    assert rows["n"].dtype == np.int64 and rows["flagged"].dtype == bool


def test_ci_none_gives_scores_without_flags():
    df = make_frame(n=500)
    report = slice_report(df, by="lighting", metrics=["accuracy", "f1"], ci=None)
    assert report["ci_low"].isna().all() and not report["flagged"].any()
    assert report["score"].notna().all()


def test_differences_rejects_bad_method():
    report = slice_report(make_frame(n=200), by="camera")
    with pytest.raises(
        InputError, match=r"`method` must be one of \['between_groups', 'to_overall'\]"
    ):
        differences(report, method="ratio")
    with pytest.raises(InputError, match=r"`report` must have columns .*Missing \['score'\]"):
        differences(report.drop(columns="score"))
