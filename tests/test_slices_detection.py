"""Tests of detection_slice_report: greedy box matching, per-slice precision and recall."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwidgets._validate import InputError
from labelwidgets.slices import REPORT_COLUMNS, detection_slice_report


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
        InputError, match=r"`pred_boxes` must have columns.*Missing \['confidence'\]"
    ):
        detection_slice_report(boxes, boxes, items, by="lighting")
    preds = boxes.assign(confidence=1.0)
    with pytest.raises(InputError, match=r"`items` must have columns \['camera'\]. Missing"):
        detection_slice_report(boxes, preds, items, by="camera")
    with pytest.raises(InputError, match=r"`iou` must be a number in \(0, 1\]"):
        detection_slice_report(boxes, preds, items, by="lighting", iou=0)
    with pytest.raises(InputError, match=r"`truth_boxes` must be for items listed in `items`.*'z'"):
        detection_slice_report(boxes.assign(item_id="z"), preds, items, by="lighting")
    with pytest.raises(TypeError, match="required positional argument: 'by'"):
        detection_slice_report(boxes, preds, items)
