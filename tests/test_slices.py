"""Tests for labelwidgets.slices: slice reports, intervals, store input, detection, plots."""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from labelwidgets.slices import (
    BALANCE_COLUMNS,
    REPORT_COLUMNS,
    class_balance,
    detection_slice_report,
    differences,
    plot,
    slice_frame,
    slice_report,
    wilson_interval,
)

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


# --------------------------------------------------------------------------- intervals
def _wilson_reference(x, n, ci):
    """Wilson (1927) in its textbook form: (x + z^2/2 +- z sqrt(x(n-x)/n + z^2/4)) / (n + z^2)."""
    z = NormalDist().inv_cdf(1 - (1 - ci) / 2)
    centre = x + z * z / 2
    half = z * math.sqrt(x * (n - x) / n + z * z / 4)
    return (centre - half) / (n + z * z), (centre + half) / (n + z * z)


@pytest.mark.parametrize(
    ("x", "n", "ci"), [(8, 10, 0.95), (0, 7, 0.95), (7, 7, 0.9), (1, 1, 0.99), (317, 1000, 0.8)]
)
def test_wilson_matches_reference_formula(x, n, ci):
    low, high = wilson_interval(x, n, ci)
    ref_low, ref_high = _wilson_reference(x, n, ci)
    assert float(low) == pytest.approx(ref_low, abs=1e-12)
    assert float(high) == pytest.approx(ref_high, abs=1e-12)
    assert 0 <= low <= x / n <= high <= 1


def test_wilson_known_value_and_empty():
    # 8 of 10 at 95%: 0.4902 to 0.9433 (Newcombe 1998, and any statistics table)
    low, high = wilson_interval(8, 10)
    assert (round(float(low), 4), round(float(high), 4)) == (0.4902, 0.9433)
    low, high = wilson_interval([0, 3], [0, 4])
    assert math.isnan(low[0]) and math.isnan(high[0]) and 0 < low[1] < 0.75 < high[1] <= 1


def test_report_uses_wilson_for_proportions():
    df = make_frame(seed=4)
    report = slice_report(
        df, by="lighting", metrics=["accuracy", "precision[cat]", "recall[cat]"], ci=0.9
    )
    for lighting, part in df.groupby("lighting"):
        rows = report[report["value"] == lighting].set_index("metric")
        hit = part["label"] == part["prediction"]
        pairs = {
            "accuracy": (hit.sum(), len(part)),
            "precision[cat]": (
                (hit & (part["prediction"] == "cat")).sum(),
                (part["prediction"] == "cat").sum(),
            ),
            "recall[cat]": ((hit & (part["label"] == "cat")).sum(), (part["label"] == "cat").sum()),
        }
        for metric, (x, n) in pairs.items():
            ref = _wilson_reference(int(x), int(n), 0.9)
            assert rows.loc[metric, "ci_low"] == pytest.approx(ref[0], abs=1e-12)
            assert rows.loc[metric, "ci_high"] == pytest.approx(ref[1], abs=1e-12)


def test_bootstrap_matches_row_resampling_and_is_seeded():
    """Multinomial resampling of confusion counts == resampling rows, in distribution."""
    df = make_frame(n=400, seed=5)
    part = df[df["camera"] == "a"]
    report = slice_report(df, by="camera", metrics=["precision"], n_boot=4000, random_state=1)
    row = report[report["value"] == "a"].iloc[0]
    rng = np.random.default_rng(99)
    yt, yp = part["label"].to_numpy(), part["prediction"].to_numpy()
    t = pd.Categorical(yt, CLASSES).codes
    p = pd.Categorical(yp, CLASSES).codes

    def macro_precision(idx):
        cm = np.bincount(t[idx] * 4 + p[idx], minlength=16).reshape(4, 4)
        present = (cm.sum(0) + cm.sum(1)) > 0
        with np.errstate(invalid="ignore"):
            per_class = np.nan_to_num(np.diag(cm) / cm.sum(0))
        return per_class[present].mean()

    everything = np.arange(len(part))
    assert macro_precision(everything) == pytest.approx(
        precision_score(yt, yp, average="macro", zero_division=0), abs=1e-12
    )
    scores = [macro_precision(rng.integers(0, len(part), len(part))) for _ in range(4000)]
    low, high = np.quantile(scores, [0.025, 0.975])
    assert row["ci_low"] == pytest.approx(low, abs=0.015)
    assert row["ci_high"] == pytest.approx(high, abs=0.015)
    assert row["ci_low"] < row["score"] < row["ci_high"]
    again = slice_report(df, by="camera", metrics=["precision"], n_boot=4000, random_state=1)
    pd.testing.assert_frame_equal(report, again)
    other = slice_report(df, by="camera", metrics=["precision"], n_boot=4000, random_state=2)
    assert not np.allclose(report["ci_low"], other["ci_low"])


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
            r"`by` must name columns.*'weather'.*\['camera', 'lighting', 'label', 'prediction'\]",
        ),
        ({"y_true": "truth"}, r"`y_true` must name columns.*'truth'"),
        ({"y_pred": "pred"}, r"`y_pred` must name columns.*'pred'"),
        ({"ci": 1.0}, r"`ci` must be a number strictly between 0 and 1.*Got 1.0"),
        ({"ci": 0}, r"`ci` must be a number strictly between 0 and 1.*Got 0"),
        ({"ci": -0.5}, r"`ci` must be a number strictly between 0 and 1"),
        ({"metrics": ["accuracy", "auc"]}, r"`metrics` must hold names from .*Got 'auc'"),
        (
            {"metrics": ["precision[yak]"]},
            r"per-class entries must name a class.*'precision\[yak\]'",
        ),
        ({"metrics": ["accuracy", "accuracy"]}, r"`metrics` must have distinct names"),
        ({"metrics": []}, r"`metrics` must name at least one metric"),
        ({"by": []}, r"`by` must name at least one column"),
        ({"min_size": -1}, r"`min_size` must be an integer >= 0"),
        ({"n_boot": 0}, r"`n_boot` must be an integer >= 1"),
    ],
)
def test_bad_input(kwargs, match):
    df = make_frame(n=100)
    with pytest.raises(ValueError, match=match):
        slice_report(df, **kwargs)


def test_ci_none_gives_scores_without_flags():
    df = make_frame(n=500)
    report = slice_report(df, by="lighting", metrics=["accuracy", "f1"], ci=None)
    assert report["ci_low"].isna().all() and not report["flagged"].any()
    assert report["score"].notna().all()


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


def test_differences_rejects_bad_method():
    report = slice_report(make_frame(n=200), by="camera")
    with pytest.raises(
        ValueError, match=r"`method` must be one of \['between_groups', 'to_overall'\]"
    ):
        differences(report, method="ratio")


# --------------------------------------------------------------------------- store input
def _fill_store(store):
    items = pd.DataFrame(
        {
            "item_id": [f"img{i}.png" for i in range(8)],
            "path": [f"/data/img{i}.png" for i in range(8)],
            "width": 32,
            "height": 32,
            "lighting": ["day"] * 6 + ["night"] * 2,
            "camera": ["a", "b"] * 4,
        }
    )
    store.add_items(items)
    store.register_task("shape", ["circle", "square"])
    truth = ["circle", "square", "circle", "square", "circle", "square", "circle", "square"]
    for i in range(5):
        store.submit(f"img{i}.png", {"shape": truth[i]}, rater="alice" if i < 3 else "bob")
    store.submit("img0.png", {"shape": "square"}, rater="bob")  # later answer wins
    store.submit(
        "img5.png", {"shape": truth[5]}, rater="student-r1", source="pseudo", model="student"
    )
    store.submit("img6.png", {"shape": "circle"}, rater="yolo", source="model", model="yolo")
    for i in range(8):  # model predictions for every item
        store.submit(
            f"img{i}.png",
            {"shape": "circle"},
            rater="teacher",
            source="model",
            model="teacher",
            confidence=0.5 + i / 20,
        )
    return items


def test_slice_frame_joins_metadata_truth_and_predictions(store):
    _fill_store(store)
    preds = pd.DataFrame(
        {"item_id": [f"img{i}.png" for i in range(7)], "label": ["circle"] * 7, "confidence": 0.9}
    )
    frame = slice_frame(store, preds, "shape")
    frame = frame.set_index("item_id")
    assert list(frame.columns) == [
        "camera",
        "lighting",
        "rater",
        "source",
        "label",
        "prediction",
        "confidence",
    ]
    assert len(frame) == 7
    assert frame.loc["img0.png", "label"] == "square" and frame.loc["img0.png", "rater"] == "bob"
    assert frame.loc["img1.png", "rater"] == "alice" and frame.loc["img1.png", "source"] == "human"
    assert (
        frame.loc["img5.png", "source"] == "pseudo"
        and frame.loc["img5.png", "rater"] == "student-r1"
    )
    assert pd.isna(frame.loc["img6.png", "label"])  # only a model label: not truth by default
    report = slice_report(frame.reset_index(), by=["rater", "source"], min_size=1)
    assert set(report["value"].dropna()) == {"alice", "bob", "student-r1", "human", "pseudo"}
    assert report["n_excluded"].sum() == 2  # img6 in the NaN rater slice and NaN source slice
    with_model = slice_frame(
        store, preds, "shape", by=["source"], sources=["human", "pseudo", "model"]
    )
    assert list(with_model.columns) == ["item_id", "source", "label", "prediction", "confidence"]
    assert with_model.set_index("item_id").loc["img6.png", "source"] == "model"


def test_slice_frame_takes_model_predictions_from_the_store(store):
    _fill_store(store)
    frame = slice_frame(store, None, "shape", by="lighting").set_index("item_id")
    assert len(frame) == 8  # the latest model label per item: the teacher's
    assert (frame["prediction"] == "circle").all()
    assert frame.loc["img3.png", "confidence"] == pytest.approx(0.65)
    assert frame.loc["img6.png", "prediction"] == "circle"


def test_slice_frame_bad_input(store):
    _fill_store(store)
    store.register_task("colors", ["red", "blue"], kind="multi")
    preds = pd.DataFrame({"item_id": ["img0.png"], "label": ["circle"]})
    with pytest.raises(
        ValueError,
        match=r"`by` must name item metadata.*'weather'.*\['camera', 'lighting', 'rater', 'source'\]",
    ):
        slice_frame(store, preds, "shape", by=["weather"])
    with pytest.raises(ValueError, match=r"`task` must be a task of the store.*'size'"):
        slice_frame(store, preds, "size")
    with pytest.raises(ValueError, match=r"`task` must be a single-label task.*'colors'"):
        slice_frame(store, preds, "colors")
    with pytest.raises(ValueError, match=r"unknown item ids, e.g. \['nope.png'\]"):
        slice_frame(store, pd.DataFrame({"item_id": ["nope.png"], "label": ["circle"]}), "shape")
    with pytest.raises(ValueError, match=r"one row per item.*'img0.png'"):
        slice_frame(store, pd.concat([preds, preds]), "shape")
    with pytest.raises(ValueError, match=r"`predictions` must name columns.*'label'"):
        slice_frame(store, pd.DataFrame({"item_id": ["img0.png"]}), "shape")


# --------------------------------------------------------------------------- detection
def _greedy_reference(truth, pred, thr):
    """Plain loops: per item and class, predictions by confidence take their best free box."""
    tp = 0
    for (item, label), preds in pred.groupby(["item_id", "label"]):
        gts = truth[(truth["item_id"] == item) & (truth["label"] == label)]
        free = list(gts.index)
        for _, p in preds.sort_values("confidence", ascending=False, kind="stable").iterrows():
            best, best_iou = None, thr
            for g in free:
                t = gts.loc[g]
                iw = max(0, min(t.x + t.w, p.x + p.w) - max(t.x, p.x))
                ih = max(0, min(t.y + t.h, p.y + p.h) - max(t.y, p.y))
                inter = iw * ih
                iou = inter / (t.w * t.h + p.w * p.h - inter)
                if iou >= best_iou and (best is None or iou > best_iou):
                    best, best_iou = g, iou
            if best is not None:
                free.remove(best)
                tp += 1
    return tp


def test_detection_slice_report_by_hand():
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "lighting": ["day", "day", "night"]})
    truth = pd.DataFrame(
        {
            "item_id": ["a", "a", "b", "c", "c"],
            "label": ["car", "car", "dog", "car", None],
            "x": [0, 50, 0, 0, np.nan],
            "y": 0,
            "w": [10, 10, 20, 10, np.nan],
            "h": 10,
        }
    )
    pred = pd.DataFrame(
        {
            "item_id": ["a", "a", "a", "b", "c"],
            "label": ["car", "car", "car", "cat", "car"],
            "x": [1, 0, 50, 0, 30],
            "y": 0,
            "w": 10,
            "h": 10,
            "confidence": [0.9, 0.8, 0.7, 0.9, 0.6],
        }
    )
    # a: 0.9 matches box 0 (IoU 0.82); 0.8 duplicates box 0 -> FP; 0.7 matches box 1 -> TP
    # b: wrong class -> FP, FN; c: no overlap -> FP, FN
    report = detection_slice_report(truth, pred, items, by="lighting", min_size=1)
    s = report.set_index(["value", "metric"])["score"]
    assert s[("day", "precision")] == pytest.approx(2 / 4) and s[
        ("day", "recall")
    ] == pytest.approx(2 / 3)
    assert s[("night", "precision")] == 0 and s[("night", "recall")] == 0
    assert report["overall"][report["metric"] == "precision"].iloc[0] == pytest.approx(2 / 5)
    assert report.set_index(["value", "metric"])["n"][("day", "recall")] == 2
    agnostic = detection_slice_report(
        truth, pred, items, by="lighting", class_aware=False, min_size=1
    )
    assert agnostic.set_index(["value", "metric"])["score"][("day", "recall")] == 1.0
    strict = detection_slice_report(truth, pred, items, by="lighting", iou=0.9, min_size=1)
    assert strict.set_index(["value", "metric"])["score"][("day", "precision")] == pytest.approx(
        2 / 4
    )
    assert list(report.columns) == REPORT_COLUMNS


def test_detection_matches_greedy_reference():
    rng = np.random.default_rng(11)
    n_items = 40
    items = pd.DataFrame(
        {"item_id": [f"i{i}" for i in range(n_items)], "camera": rng.choice(["x", "y"], n_items)}
    )
    truth = pd.DataFrame(
        {
            "item_id": rng.choice(items["item_id"], 200),
            "label": rng.choice(["a", "b"], 200),
            "x": rng.uniform(0, 60, 200),
            "y": rng.uniform(0, 60, 200),
            "w": rng.uniform(10, 30, 200),
            "h": rng.uniform(10, 30, 200),
        }
    )
    jitter = truth.sample(180, random_state=1, replace=True)
    pred = jitter.assign(
        x=jitter["x"] + rng.normal(0, 4, 180),
        y=jitter["y"] + rng.normal(0, 4, 180),
        confidence=rng.random(180),
    ).reset_index(drop=True)
    report = detection_slice_report(truth, pred, items, by="camera", iou=0.5, min_size=1)
    tp = _greedy_reference(truth, pred, 0.5)
    overall = report.groupby("metric")["overall"].first()
    assert overall["precision"] == pytest.approx(tp / len(pred), abs=1e-12)
    assert overall["recall"] == pytest.approx(tp / len(truth), abs=1e-12)


def test_detection_bad_input():
    items = pd.DataFrame({"item_id": ["a"], "lighting": ["day"]})
    boxes = pd.DataFrame(
        {"item_id": ["a"], "label": ["car"], "x": [0], "y": [0], "w": [5], "h": [5]}
    )
    with pytest.raises(
        ValueError, match=r"`pred_boxes` must have columns.*Missing \['confidence'\]"
    ):
        detection_slice_report(boxes, boxes, items, by="lighting")
    preds = boxes.assign(confidence=1.0)
    with pytest.raises(ValueError, match=r"`by` must name columns.*'camera'"):
        detection_slice_report(boxes, preds, items, by="camera")
    with pytest.raises(ValueError, match=r"`iou` must be a number in \(0, 1\]"):
        detection_slice_report(boxes, preds, items, by="lighting", iou=0)
    with pytest.raises(ValueError, match=r"`truth_boxes` must be for items listed in `items`.*'z'"):
        detection_slice_report(boxes.assign(item_id="z"), preds, items, by="lighting")


# --------------------------------------------------------------------------- plot
def test_plot_panels_bars_and_highlights():
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    df = make_frame(n=3000, seed=12)
    report = slice_report(df, by=["camera", "lighting"], metrics=["accuracy", "f1"], n_boot=100)
    fig = plot(report)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["camera", "lighting"]
    light = fig.axes[1]
    rows = report[(report["column"] == "lighting") & (report["metric"] == "accuracy")]
    bars = light.patches
    assert [b.get_height() for b in bars] == pytest.approx(rows["score"].tolist())
    flagged = rows["flagged"].tolist()
    assert flagged[2]  # night
    expected = [to_rgba("tab:red" if f else "tab:blue") for f in flagged]
    assert [tuple(b.get_facecolor()) for b in bars] == expected
    assert any(
        line.get_ydata()[0] == pytest.approx(rows["overall"].iloc[0]) for line in light.lines
    )
    assert light.get_ylabel() == "accuracy"
    assert fig._repr_png_().startswith(b"\x89PNG")  # shows in Jupyter without pyplot
    fig = plot(report, metric="f1", columns="lighting")
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "f1"
    with pytest.raises(
        ValueError, match=r"`metric` must be one of \['accuracy', 'f1'\]. Got 'auc'"
    ):
        plot(report, metric="auc")
    with pytest.raises(ValueError, match=r"`columns` must be among \['camera', 'lighting'\]"):
        plot(report, columns=["rater"])
