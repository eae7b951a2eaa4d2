"""Tests of slice_frame: a store's metadata and truth labels joined with predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from labelwidgets._validate import InputError
from labelwidgets.slices import slice_frame, slice_report


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
        InputError,
        match=r"`by` must be one of \['camera', 'lighting', 'rater', 'source'\]. Got 'weather'",
    ):
        slice_frame(store, preds, "shape", by=["weather"])
    with pytest.raises(
        InputError,
        match=r"`sources` must be one of \['human', 'folder', 'model', 'pseudo'\]. Got 'humans'",
    ):
        slice_frame(store, preds, "shape", sources=["humans"])
    with pytest.raises(InputError, match=r"`task` must be a task of the store.*'size'"):
        slice_frame(store, preds, "size")
    with pytest.raises(InputError, match=r"`task` must be a single-label task.*'colors'"):
        slice_frame(store, preds, "colors")
    with pytest.raises(InputError, match=r"unknown item ids, e.g. \['nope.png'\]"):
        slice_frame(store, pd.DataFrame({"item_id": ["nope.png"], "label": ["circle"]}), "shape")
    with pytest.raises(InputError, match=r"one row per item.*'img0.png'"):
        slice_frame(store, pd.concat([preds, preds]), "shape")
    with pytest.raises(
        InputError, match=r"`predictions` must have columns \['item_id', 'label'\]. Missing"
    ):
        slice_frame(store, pd.DataFrame({"item_id": ["img0.png"]}), "shape")
    with pytest.raises(InputError, match=r"`predictions` must be a pandas DataFrame. Got 'list'"):
        slice_frame(store, [("img0.png", "circle")], "shape")
