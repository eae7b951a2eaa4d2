"""BoxAnnotator and the pure rules it calls, without a browser.

The widget is driven through :meth:`handle` with the messages its browser view sends
(``submit`` with the boxes drawn, ``skip``, ``back``, ``undo``, ``detail``) and through the
``drawn`` trait the view sets as the rater draws; the Python twins take the same paths.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labelwidgets._geometry import (
    check_box_size,
    check_region,
    clip_box,
    fit_box,
    normalize_boxes,
    snap_boxes,
)
from labelwidgets._validate import InputError
from labelwidgets.boxes import BoxAnnotator
from labelwidgets.detect import boxes_from_rows, model_precision, model_review, review_boxes
from labelwidgets.images import ImageSet

CLASSES = ["frill", "red", "goldEmbroidery"]


@pytest.fixture
def images(tmp_path):
    """A wide image, a small one, and a broken file."""
    root = tmp_path / "imgs"
    root.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 1000, 3), dtype=np.uint8)).save(root / "a_wide.png")
    Image.fromarray(rng.integers(0, 255, (100, 120, 3), dtype=np.uint8)).save(root / "b_small.png")
    (root / "c_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return ImageSet.from_folder(root, progress=False)


def boxes_of(store, source="human", task="boxes"):
    return store.labels(task=task, source=source).sort_values(["item_id", "x"]).reset_index(drop=True)


def _sent(widget, monkeypatch):
    out = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: out.append((content, buffers)))
    return out


MODEL = {"x": 10.0, "y": 10.0, "w": 40.0, "h": 20.0, "label": "red", "confidence": 0.8}


# ------------------------------------------------------------------ geometry
def test_clip_box_inside_partly_and_wholly_outside():
    inside = {"x": 1, "y": 2, "w": 3, "h": 4, "label": "red"}
    assert clip_box(inside, 10, 10) == ({"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0, "label": "red"}, False)
    clipped, changed = clip_box({"x": 8, "y": -2, "w": 5, "h": 5, "label": "red"}, 10, 10)
    assert changed and clipped == {"x": 8.0, "y": 0.0, "w": 2.0, "h": 3.0, "label": "red"}
    assert clip_box({"x": 10, "y": 0, "w": 5, "h": 5, "label": "red"}, 10, 10) == (None, True)


def test_normalize_boxes_rejects_bad_input():
    ok = {"x": 1, "y": 1, "w": 5, "h": 5, "label": "red"}
    with pytest.raises(InputError, match=r"must be one of \['frill', 'red', 'goldEmbroidery'\]. Got 'blue'"):
        normalize_boxes([{**ok, "label": "blue"}], CLASSES, 100, 100)
    with pytest.raises(InputError, match="positive width and height. Got w=0"):
        normalize_boxes([{**ok, "w": 0}], CLASSES, 100, 100)
    with pytest.raises(InputError, match="must overlap the image.*wholly outside"):
        normalize_boxes([{**ok, "x": 200}], CLASSES, 100, 100)
    with pytest.raises(InputError, match=r"`boxes\[0\]\['y'\]` must be a finite number"):
        normalize_boxes([{**ok, "y": float("nan")}], CLASSES, 100, 100)
    with pytest.raises(InputError, match="must be 8 x 8 pixels in fixed-size mode. Got 5 x 5"):
        normalize_boxes([ok], CLASSES, 100, 100, box_size=(8, 8))
    with pytest.raises(InputError, match="must be a list of box dicts"):
        normalize_boxes(ok, CLASSES, 100, 100)
    out, notes = normalize_boxes([{**ok, "x": 90, "w": 20}], CLASSES, 100, 100)
    assert out[0]["w"] == 10.0 and "partly outside the image and was clipped" in notes[0]


def test_check_box_size_and_snap():
    assert check_box_size(None) is None and check_box_size(64) == (64.0, 64.0)
    for bad in [(0, 5), (5,), "64", (True, 5), (float("inf"), 3)]:
        with pytest.raises(InputError, match="`box_size` must be None or two positive numbers"):
            check_box_size(bad)
    snapped = snap_boxes([MODEL, {**MODEL, "w": 8.0, "h": 8.0}], (8, 8), 100, 100)
    assert snapped[0] == {**MODEL, "x": 26.0, "y": 16.0, "w": 8.0, "h": 8.0}  # same centre
    assert snapped[1] == {**MODEL, "w": 8.0, "h": 8.0}  # already that size: as it was
    assert snap_boxes([{**MODEL, "x": 95.0}], (8, 8), 100, 100)[0]["x"] == 92.0  # shifted inside
    with pytest.raises(InputError, match="must fit inside the image"):
        snap_boxes([MODEL], (200, 8), 100, 100)


def test_check_region():
    assert check_region({"x": 10.5, "y": -3, "w": 20, "h": 10}, 100, 80) == (10, 0, 31, 7)
    assert check_region({"x": 90, "y": 70, "w": 50, "h": 50}, 100, 80) == (90, 70, 100, 80)
    with pytest.raises(InputError, match="must overlap the image"):
        check_region({"x": 200, "y": 0, "w": 5, "h": 5}, 100, 80)
    with pytest.raises(InputError, match="positive w, h"):
        check_region({"x": 0, "y": 0, "w": 0, "h": 5}, 100, 80)
    with pytest.raises(InputError, match="dict of numbers x, y, w, h"):
        check_region({"x": "left"}, 100, 80)


# ------------------------------------------------------------------ review rules
def test_review_boxes_verdicts():
    shown = {**MODEL, "name": "yolo", "verdict": "pending"}
    boxes = [
        {**MODEL, "attributes": {"occluded": True}, "model": shown},  # as drawn
        {**MODEL, "x": 12.0, "model": {**shown, "x": 100.0, "verdict": "accepted"}},  # moved
        {**MODEL, "model": {**shown, "y": 50.0, "verdict": "rejected"}},  # rejected
        {"x": 1.0, "y": 1.0, "w": 3.0, "h": 3.0, "label": "frill"},  # the rater's own
    ]
    kept, rejected = review_boxes(boxes, offered=[shown, {**shown, "x": 60.0}])
    review = [b["attributes"].get("review") if b["attributes"] else None for b in kept]
    assert [r and r["verdict"] for r in review] == ["accepted", "changed", None]
    assert kept[0]["attributes"]["occluded"] is True and "model" not in kept[0]
    assert review[1] == {"verdict": "changed", "model": "yolo", "label": "red", "confidence": 0.8,
                         "x": 100.0, "y": 10.0, "w": 40.0, "h": 20.0}  # fmt: skip
    # the rejected one and the offered model box that no box came from: rows without a label
    assert [(r["label"], r["x"], r["y"]) for r in rejected] == [(None, 10.0, 50.0), (None, 60.0, 10.0)]
    assert all(r["attributes"]["review"]["verdict"] == "rejected" for r in rejected)
    with pytest.raises(InputError, match=r"`boxes\[0\]\['model'\]` must be the model box as shown"):
        review_boxes([{**MODEL, "model": {"x": 1}}])
    with pytest.raises(InputError, match="verdict'\\]` must be one of"):
        review_boxes([{**MODEL, "model": {**shown, "verdict": "maybe"}}])


def test_boxes_from_rows_round_trip():
    shown = {**MODEL, "name": "yolo"}
    boxes = [{**MODEL, "attributes": {"occluded": True}, "model": {**shown, "verdict": "accepted"}},
             {**MODEL, "x": 1.0, "attributes": {}, "model": {**shown, "x": 70.0, "verdict": "rejected"}},
             {"x": 5.0, "y": 6.0, "w": 7.0, "h": 8.0, "label": "frill", "attributes": {}}]  # fmt: skip
    kept, rejected = review_boxes(boxes)
    rows = pd.DataFrame(kept + rejected)
    rows["attributes"] = rows["attributes"].map(lambda a: json.dumps(a) if a else None)  # as stored
    back = boxes_from_rows(rows)
    assert back[0]["model"] == {**shown, "verdict": "accepted"} and back[0]["attributes"] == {"occluded": True}
    assert back[1] == {"x": 5.0, "y": 6.0, "w": 7.0, "h": 8.0, "label": "frill", "attributes": {}}
    assert back[2]["model"]["verdict"] == "rejected" and back[2]["x"] == 70.0  # shown again
    # the "no objects" row gives nothing
    assert boxes_from_rows(pd.DataFrame({"x": [None], "y": [None], "w": [None], "h": [None],
                                         "label": [None], "attributes": [None]})) == []  # fmt: skip


def test_model_review_counts_and_precision():
    shown = {**MODEL, "name": "m1"}
    decisions = [
        {**MODEL, "model": shown},  # accepted
        {**MODEL, "w": 36.0, "model": shown},  # changed a little: IoU 0.9, still found
        {**MODEL, "x": 200.0, "model": shown},  # moved far away: a miss
        {**MODEL, "label": "frill", "model": shown},  # relabelled: a miss
        {**MODEL, "model": {**shown, "verdict": "rejected"}},
        {**MODEL, "model": {**shown, "name": "m2"}},
    ]
    kept, rejected = review_boxes(decisions)
    rows = pd.DataFrame(kept + rejected + [{**MODEL, "attributes": None}])  # a plain box: ignored
    table = model_review(rows).set_index("model")
    m1 = table.loc["m1"]
    assert (m1.reviewed, m1.accepted, m1.changed, m1.rejected) == (5, 1, 3, 1)
    assert m1.precision_as_drawn == pytest.approx(1 / 5) and m1.precision == pytest.approx(2 / 5)
    assert m1.mean_iou_changed == pytest.approx((0.9 + 0 + 1) / 3)
    assert table.loc["m2"].precision == 1.0
    strict = model_review(rows, iou=0.95).set_index("model")
    assert strict.loc["m1"].precision == pytest.approx(1 / 5)
    assert list(model_review(rows, by=["model", "label"]).columns[:2]) == ["model", "label"]
    assert model_review(rows.iloc[-1:]).empty
    with pytest.raises(InputError, match="`iou` must be a number in"):
        model_review(rows, iou=0)
    with pytest.raises(InputError, match="must have columns"):
        model_review(rows.drop(columns=["attributes"]))


# ------------------------------------------------------------------ the widget
def test_queue_store_and_arguments(images, store):
    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store)
    assert ann.queue == ["a_wide.png", "b_small.png"]  # the broken file never reaches it
    assert "c_broken.jpg" in images.skipped["path"].iloc[0]
    assert repr(ann) == "BoxAnnotator(2 items, classes=['frill', 'red', 'goldEmbroidery'], rater='alice')"
    assert ann.window[0]["size"] == [1000, 300] and ann.window[0]["source"] == "none"
    assert "drag to draw a box" in ann.help.lower() and "A accept" not in ann.help
    with pytest.raises(TypeError, match="store"):
        BoxAnnotator(images, CLASSES, rater="alice")  # no silent labels.db
    with pytest.raises(InputError, match="`classes`"):
        BoxAnnotator(images, [], rater="alice", store=store)
    with pytest.raises(InputError, match="`detector` must be an ultralytics YOLO model or a callable"):
        BoxAnnotator(images, CLASSES, store=store, detector="yolov8n.pt")


def test_browser_submit_is_stored_exactly_and_acked(images, store, monkeypatch):
    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store)
    sent = _sent(ann, monkeypatch)
    drawn = [{"x": 13.37, "y": 7.5, "w": 130.25, "h": 65.0, "label": "red", "attributes": {"occluded": True}},
             {"x": 900.0, "y": 250.0, "w": 150.0, "h": 100.0, "label": "frill", "attributes": {}}]  # fmt: skip
    ann.handle({"type": "submit", "seq": 1, "item_id": "a_wide.png", "boxes": drawn})
    rows = boxes_of(store)
    assert rows[["x", "y", "w", "h"]].to_numpy().tolist() == [[13.37, 7.5, 130.25, 65.0], [900.0, 250.0, 100.0, 50.0]]
    assert json.loads(rows.attributes[0]) == {"occluded": True} and rows.submission_id.nunique() == 1
    ack = [c for c, _b in sent if c["type"] == "ack"][0]
    assert ack["ok"] and ack["status"]["text"].startswith("Saved 2 box(es) on a_wide.png. Note: box 2")
    assert ann.current == "b_small.png"
    # a bad box: an error ack, nothing stored, the item stays
    ann.handle({"type": "submit", "seq": 2, "item_id": "b_small.png", "boxes": [{**drawn[0], "label": "blue"}]})
    bad = [c for c, _b in sent if c["type"] == "ack"][-1]
    assert not bad["ok"] and "must be one of" in bad["error"] and len(boxes_of(store)) == 2
    ann.submit([])  # "no objects" is an answer too
    assert ann.current is None and len(ann.done) == 2
    with pytest.raises(InputError, match="The queue is finished"):
        ann.submit([])


def test_drafts_are_kept_when_moving_away(images, store):
    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store)
    box = {"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0, "label": "red", "attributes": {}}
    ann.drawn = {"item_id": "a_wide.png", "boxes": [box]}  # what the browser sends as it draws
    assert ann.boxes == [box] and ann._entry("a_wide.png")["source"] == "draft"
    ann.skip()
    assert "Its 1 drawn box(es) are kept as a draft: Back (Backspace) shows them again" in ann.status["text"]
    assert store.labels().empty  # a skip stores no label
    ann.back()
    assert ann.current == "a_wide.png" and ann.boxes == [box]  # the draft is shown again
    ann.submit()  # None: what is drawn
    assert boxes_of(store)[["x", "label"]].to_numpy().tolist() == [[1.0, "red"]]
    assert "a_wide.png" not in ann._drafts
    ann.undo()
    assert ann.current == "a_wide.png" and ann.boxes == [] and boxes_of(store).empty


def test_resume_and_earlier_answers_reload_exactly(images, store):
    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store)
    ann.submit([{"x": 0.125, "y": 0.25, "w": 10.5, "h": 5.0, "label": "frill"}])
    again = BoxAnnotator(images, CLASSES, rater="alice", store=store)
    assert again.current_item == "b_small.png"  # resumes at the first open item
    again.back()
    assert again.boxes == [{"x": 0.125, "y": 0.25, "w": 10.5, "h": 5.0, "label": "frill", "attributes": {}}]
    assert again.window[0]["source"] == "answer"


class CountingDetector:
    """A callable detector: one box per image, plus one of a class not in the list."""

    name = "toy-detector"

    def __init__(self):
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        w, h = image.size
        return [{"x": w / 4, "y": h / 4, "w": w / 2, "h": h / 2, "label": "red", "confidence": 0.9},
                {"x": 0, "y": 0, "w": 5, "h": 5, "label": "cat", "confidence": 0.5}]  # fmt: skip


def test_detector_boxes_written_once_and_reviewed(images, store):
    det = CountingDetector()
    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store, detector=det)
    assert det.calls == 2 and ann.detector_name == "toy-detector"  # the window holds both items
    model = store.labels(task="boxes", source="model")
    assert model[["item_id", "rater", "label", "x", "w", "confidence"]].to_dict("records")[0] == {
        "item_id": "a_wide.png", "rater": "toy-detector", "label": "red", "x": 250.0, "w": 500.0,
        "confidence": 0.9}  # fmt: skip
    (box,) = ann.boxes
    assert box["model"]["verdict"] == "pending" and ann.window[0]["source"] == "model"
    assert "classes ['cat'] were left out" in ann.window[0]["note"]
    assert "A accept the selected model box" in ann.help
    ann.submit()  # Enter with the model box undecided: accepted
    assert "(model boxes: 1 accepted)" in ann.status["text"]
    ann.review(0, "rejected")  # the R key's twin, on the second image
    ann.submit()
    table = model_precision(store).iloc[0]
    assert (table.model, table.reviewed, table.accepted, table.rejected) == ("toy-detector", 2, 1, 1)
    assert boxes_of(store)["label"].tolist() == ["red"]  # the rejection is no object
    BoxAnnotator(images, CLASSES, rater="bob", store=store, detector=det)
    assert det.calls == 2  # never run twice on an image
    with pytest.raises(InputError, match="`index` must be that of a model box"):
        ann.back() or ann.review(5, "accepted")


def test_programmatic_boxes_leave_model_boxes_out_as_rejected(images, store):
    ann = BoxAnnotator(images, CLASSES, rater="carol", store=store, detector=CountingDetector())
    ann.submit([{"x": 1.0, "y": 1.0, "w": 5.0, "h": 5.0, "label": "frill"}])
    table = model_precision(store).iloc[0]
    assert (table.reviewed, table.rejected) == (1, 1)


def test_a_failing_detector_is_a_note(images, store):
    def broken(image):
        raise RuntimeError("CUDA out of memory")

    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store, detector=broken)
    assert ann.boxes == [] and "The detector failed on a_wide.png" in ann.window[0]["note"]
    assert store.annotations().empty  # nothing recorded: a new session tries again


def test_fixed_size_clicks_and_snapped_model_boxes(images, store):
    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store, box_size=(64, 48),
                       detector=CountingDetector())  # fmt: skip
    (model,) = ann.boxes
    assert (model["x"], model["y"], model["w"], model["h"]) == (500 - 32, 150 - 24, 64, 48)
    assert model["model"]["w"] == 64  # reviewed against the box as shown
    ann.select_class("goldEmbroidery")
    for x, y in [(2, 2), (998, 150), (500, 299)]:
        box = ann.click(x, y)
        assert (box["x"], box["y"]) == fit_box(x, y, 64, 48, 1000, 300)
    assert ann.drawn["origin"] == "kernel" and len(ann.drawn["boxes"]) == 4  # the browser redraws
    ann.submit()
    rows = boxes_of(store)
    assert set(zip(rows.w, rows.h, strict=True)) == {(64.0, 48.0)}
    assert sorted(zip(rows.x, rows.y, strict=True))[0] == (0.0, 0.0) and rows.x.max() == 1000 - 64
    with pytest.raises(InputError, match="must fit inside the image \\(120 x 100 pixels\\)"):
        BoxAnnotator(images, CLASSES, rater="bob", store=store, box_size=(200, 200),
                     item_ids=["b_small.png"]).click(60, 50)  # fmt: skip
    with pytest.raises(InputError, match="`box_size` must be set to place boxes by clicking"):
        BoxAnnotator(images, CLASSES, rater="dan", store=store).click(10, 10)


def test_detail_crop_at_full_resolution(tmp_path, store, monkeypatch):
    yy, xx = np.mgrid[0:300, 0:1000]
    smooth = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "smooth.png")
    images = ImageSet.from_dataframe(pd.DataFrame({"path": [str(tmp_path / "smooth.png")]}), progress=False)
    item = images.item_ids[0]
    ann = BoxAnnotator(images, CLASSES, rater="alice", store=store, max_size=256)
    sent = _sent(ann, monkeypatch)
    ann._receive(ann, {"type": "detail", "item_id": item, "x": 100.4, "y": 20, "w": 50,
                       "h": 40, "scale": 1}, [])  # fmt: skip
    ((msg, buffers),) = sent
    assert {k: msg[k] for k in ("x", "y", "w", "h")} == {"x": 100, "y": 20, "w": 51, "h": 40}
    crop = Image.open(io.BytesIO(buffers[0]))
    assert crop.size == (51, 40)  # one crop pixel per original pixel, not the 256-px display copy
    original = smooth[20:60, 100:151].astype(int)
    assert np.abs(np.asarray(crop.convert("RGB")).astype(int) - original).mean() < 4  # JPEG
    ann._receive(ann, {"type": "detail", "item_id": item, "x": 0, "y": 0, "w": 1000,
                       "h": 300, "scale": 0.5}, [])  # fmt: skip
    assert Image.open(io.BytesIO(sent[-1][1][0])).size == (500, 150)
    ann._receive(ann, {"type": "detail", "item_id": item, "x": 5000, "y": 0, "w": 5,
                       "h": 5}, [])  # fmt: skip
    assert "Could not show full resolution" in ann.status["text"] and len(sent) == 2


def test_keys_twin(images, store):
    ann = BoxAnnotator(images, CLASSES + [f"c{i}" for i in range(9)], rater="kim", store=store,
                       box_size=(10, 10))  # fmt: skip
    ann.press("3")
    assert ann._label == "goldEmbroidery"
    ann.press("1"), ann.press("2")  # two digits: class 12
    assert ann._label == "c8"
    ann.click(50, 50)
    assert ann.press("Delete") is None and "acts on the canvas in the browser" in ann.status["text"]
    ann.press("Enter")
    assert boxes_of(store).label.tolist() == ["c8"]
    ann.press("s")
    assert ann.current is None and "Skipped b_small.png" in ann.status["text"]
