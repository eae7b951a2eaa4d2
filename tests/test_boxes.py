"""BoxAnnotator and its pure functions, without a browser: the handlers the buttons call.

The front end is stood in for by setting ``annotator.bbox.bboxes`` (display pixels) exactly as
jupyter-bbox-widget's JavaScript does: a new box appears with zero size at the mousedown point
and gets its final size on mouseup.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from labelwidgets._geometry import check_box_size, clip_box, normalize_boxes
from labelwidgets._validate import InputError
from labelwidgets.boxes import BoxAnnotator, from_widget, to_widget
from labelwidgets.images import ImageSet

CLASSES = ["frill", "red", "goldEmbroidery"]


@pytest.fixture
def images(tmp_path):
    """A wide image shown downscaled (1000 x 300 -> 768 x 230), a small one, and a broken file."""
    root = tmp_path / "imgs"
    root.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 1000, 3), dtype=np.uint8)).save(root / "a_wide.png")
    Image.fromarray(rng.integers(0, 255, (100, 120, 3), dtype=np.uint8)).save(root / "b_small.png")
    (root / "c_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return ImageSet.from_folder(root, progress=False)


def boxes_of(store, source="human"):
    return (
        store.labels(task="boxes", source=source)
        .sort_values(["item_id", "x"])
        .reset_index(drop=True)
    )


# ------------------------------------------------------------------ pure functions
def test_widget_round_trip_is_exact_per_axis():
    box = {
        "x": 13.0,
        "y": 7.5,
        "w": 130.25,
        "h": 65.0,
        "label": "red",
        "attributes": {"occluded": True},
    }
    scale = (768 / 1000, 230 / 300)  # ImageSet rounds each side, so the axes differ
    shown = to_widget(box, scale)
    assert shown == pytest.approx(
        {"x": 13 * 0.768, "y": 7.5 * 230 / 300, "width": 130.25 * 0.768, "height": 65 * 230 / 300,
         "label": "red", "occluded": True}
    )  # fmt: skip
    back = from_widget(shown, scale, attributes=("occluded", "truncated"))
    assert back["attributes"] == {"occluded": True, "truncated": False}
    for k in ("x", "y", "w", "h"):
        assert back[k] == pytest.approx(box[k], abs=1e-9)


def test_clip_box_inside_partly_and_wholly_outside():
    inside = {"x": 1, "y": 2, "w": 3, "h": 4, "label": "red"}
    assert clip_box(inside, 10, 10) == (
        {"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0, "label": "red"},
        False,
    )
    clipped, changed = clip_box({"x": 8, "y": -2, "w": 5, "h": 5, "label": "red"}, 10, 10)
    assert changed and clipped == {"x": 8.0, "y": 0.0, "w": 2.0, "h": 3.0, "label": "red"}
    assert clip_box({"x": 10, "y": 0, "w": 5, "h": 5, "label": "red"}, 10, 10) == (None, True)


def test_normalize_boxes_rejects_bad_input():
    ok = {"x": 1, "y": 1, "w": 5, "h": 5, "label": "red"}
    with pytest.raises(
        ValueError, match=r"must be one of \['frill', 'red', 'goldEmbroidery'\]. Got 'blue'"
    ):
        normalize_boxes([{**ok, "label": "blue"}], CLASSES, 100, 100)
    with pytest.raises(ValueError, match="positive width and height. Got w=0"):
        normalize_boxes([{**ok, "w": 0}], CLASSES, 100, 100)
    with pytest.raises(ValueError, match="positive width and height. Got w=5, h=-3"):
        normalize_boxes([{**ok, "h": -3}], CLASSES, 100, 100)
    with pytest.raises(ValueError, match="must overlap the image.*wholly outside"):
        normalize_boxes([{**ok, "x": 200}], CLASSES, 100, 100)
    with pytest.raises(ValueError, match=r"`boxes\[0\]\['y'\]` must be a finite number"):
        normalize_boxes([{**ok, "y": float("nan")}], CLASSES, 100, 100)
    with pytest.raises(ValueError, match="Missing \\['h'\\]"):
        normalize_boxes([{k: v for k, v in ok.items() if k != "h"}], CLASSES, 100, 100)
    with pytest.raises(ValueError, match="must be 8 x 8 pixels in fixed-size mode. Got 5 x 5"):
        normalize_boxes([ok], CLASSES, 100, 100, box_size=(8, 8))
    with pytest.raises(InputError, match="must be a list of box dicts"):
        normalize_boxes(ok, CLASSES, 100, 100)


def test_normalize_boxes_clips_and_says_so():
    out, notes = normalize_boxes(
        [{"x": 90, "y": 10, "w": 20, "h": 5, "label": "red"}], CLASSES, 100, 100
    )
    assert out == [{"x": 90.0, "y": 10.0, "w": 10.0, "h": 5.0, "label": "red", "attributes": None}]
    assert len(notes) == 1 and "partly outside the image and was clipped" in notes[0]


def test_check_box_size():
    assert check_box_size(None) is None
    assert check_box_size(64) == (64.0, 64.0)
    assert check_box_size((64, 32)) == (64.0, 32.0)
    for bad in [(0, 5), (-1, 5), (5,), "64", (True, 5), (float("inf"), 3)]:
        with pytest.raises(ValueError, match="`box_size` must be None or two positive numbers"):
            check_box_size(bad)


# ------------------------------------------------------------------ the widget
def test_undecodable_image_never_reaches_the_widget(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    assert ann.queue == ["a_wide.png", "b_small.png"]
    assert list(images.skipped["path"].str.endswith("c_broken.jpg")) == [True]


def test_unknown_classes_list_is_refused(images, store):
    with pytest.raises(ValueError, match="`classes` must be unique. Got \\['red'\\]"):
        BoxAnnotator(images, classes=["red", "red"], store=store)
    with pytest.raises(ValueError, match="`classes` must be a non-empty list"):
        BoxAnnotator(images, classes=[], store=store)


def test_drawn_boxes_are_stored_in_original_pixels(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, max_size=768)
    assert ann.current_item == "a_wide.png"
    sx, sy = ann._scale
    assert (sx, sy) == (768 / 1000, 230 / 300)
    assert ann.bbox.hide_buttons is True  # the session's buttons are used
    # the front end: mousedown (zero size), then mouseup with the dragged size, class "red"
    ann.bbox.bboxes = [{"x": 100, "y": 50, "width": 0, "height": 0, "label": "red"}]
    ann.bbox.bboxes = [{"x": 100, "y": 50, "width": 192, "height": 115, "label": "red"}]
    ann.select_class("goldEmbroidery")
    ann.bbox.bboxes = [
        *ann.bbox.bboxes,
        {"x": 10, "y": 10, "width": 20, "height": 30, "label": "goldEmbroidery"},
    ]
    ann.submit_button.click()
    rows = boxes_of(store)
    assert len(rows) == 2 and set(rows["kind"]) == {"box"} and rows["submission_id"].nunique() == 1
    red = rows[rows["label"] == "red"].iloc[0]
    assert (red.x, red.y, red.w, red.h) == pytest.approx((100 / sx, 50 / sy, 192 / sx, 115 / sy))
    assert json.loads(red.attributes) == {"truncated": False, "occluded": False, "difficult": False}
    assert ann.current_item == "b_small.png"
    assert "Saved 2 box(es)" in ann.status.value


def test_attributes_follow_the_selected_box(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    ann.bbox.bboxes = [{"x": 10, "y": 10, "width": 50, "height": 40, "label": "frill"},
                       {"x": 100, "y": 10, "width": 50, "height": 40, "label": "red"}]  # fmt: skip
    ann.bbox.selected_index = 1
    assert not ann.checkboxes["occluded"].disabled
    ann.checkboxes["occluded"].value = True
    ann.checkboxes["difficult"].value = True
    ann.bbox.selected_index = -1
    assert ann.checkboxes["occluded"].disabled
    ann.submit()
    attrs = boxes_of(store).set_index("label")["attributes"].map(json.loads)
    assert attrs["red"] == {"truncated": False, "occluded": True, "difficult": True}
    assert attrs["frill"] == {"truncated": False, "occluded": False, "difficult": False}


def test_programmatic_submit_clips_and_refuses(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    with pytest.raises(ValueError, match="must be one of .*Got 'blue'"):
        ann.submit([{"x": 1, "y": 1, "w": 5, "h": 5, "label": "blue"}])
    with pytest.raises(ValueError, match="wholly outside"):
        ann.submit([{"x": 1000, "y": 1, "w": 5, "h": 5, "label": "red"}])
    assert store.annotations().empty
    ann.submit([{"x": 990, "y": 290, "w": 20, "h": 20, "label": "red",
                 "attributes": {"truncated": True}}])  # fmt: skip
    row = boxes_of(store).iloc[0]
    assert (row.x, row.y, row.w, row.h) == (990, 290, 10, 10)
    assert json.loads(row.attributes) == {"truncated": True}
    assert "clipped" in ann.status.value


def test_a_bad_box_from_the_button_is_a_message_not_a_crash(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    ann.bbox.bboxes = [{"x": 10, "y": 10, "width": 50, "height": 40, "label": "blue"}]
    ann.submit_button.click()
    assert "must be one of" in ann.status.value and "blue" in ann.status.value
    assert store.annotations().empty and ann.current_item == "a_wide.png"


def test_zero_size_clicks_are_left_out_and_said(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    ann.bbox.bboxes = [{"x": 10, "y": 10, "width": 0, "height": 0, "label": "red"},
                       {"x": 10, "y": 10, "width": 30, "height": 30, "label": "red"}]  # fmt: skip
    ann.submit()
    assert len(boxes_of(store)) == 1
    assert "1 box(es) of zero size left out" in ann.status.value


def test_empty_submit_means_no_objects_and_counts_as_done(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    ann.submit([])
    log = store.annotations()
    assert len(log) == 1 and log["label"].isna().all() and log["kind"].iloc[0] == "box"
    assert ann.done == {"a_wide.png"}


def test_resume_back_and_exact_reload(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    box = {"x": 12.345678, "y": 7.0, "w": 100.1, "h": 33.3, "label": "frill"}
    ann.submit([box])
    assert ann.current_item == "b_small.png"
    ann.back()
    assert ann.current_item == "a_wide.png" and len(ann.bbox.bboxes) == 1
    # resubmitting what is drawn, untouched, keeps the exact numbers despite the 0.768 scale
    ann.submit()
    rows = boxes_of(store)
    assert len(rows) == 1
    assert (rows.x[0], rows.y[0], rows.w[0], rows.h[0]) == (12.345678, 7.0, 100.1, 33.3)
    # a new session of the same rater resumes at the open item; its earlier boxes load for editing
    again = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    assert again.current_item == "b_small.png"
    again.back()
    assert again.boxes[0]["label"] == "frill" and again.boxes[0]["x"] == 12.345678
    # another rater starts afresh
    bob = BoxAnnotator(images, classes=CLASSES, rater="bob", store=store)
    assert bob.current_item == "a_wide.png" and bob.bbox.bboxes == []


def test_skip_undo_and_keys(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    ann.press("s")
    assert ann.current_item == "b_small.png"
    assert store.current(task="boxes", rater="alice")["kind"].tolist() == ["skip"]
    ann.press("z")
    assert ann.current_item == "a_wide.png" and store.current(task="boxes").empty
    ann.press("3")
    assert ann.bbox.label == "goldEmbroidery"
    with pytest.raises(ValueError, match="Key 9 has no class: there are 3 classes"):
        ann.press("9")
    ann.bbox.bboxes = [{"x": 10, "y": 10, "width": 5, "height": 5, "label": "red"}]
    ann.bbox.selected_index = 0
    ann.press("Delete")
    assert ann.bbox.bboxes == []
    ann.bbox.bboxes = [{"x": 10, "y": 10, "width": 5, "height": 5, "label": "red"}]
    ann.press("Enter")
    assert ann.current_item == "b_small.png" and len(boxes_of(store)) == 1
    ann.press("Backspace")
    assert ann.current_item == "a_wide.png"
    ann.go_to(1)
    ann.submit([])
    assert ann.current_item is None and ann.bbox.layout.display == "none"
    with pytest.raises(ValueError, match="queue is finished"):
        ann.submit([])
    ann.back()  # from the end screen: the image is shown (and sent) again
    assert ann.current_item == "b_small.png" and ann.bbox.layout.display is None
    assert ann.bbox.image_bytes[:4] == b"\x89PNG"


# ------------------------------------------------------------------ fixed-size mode
@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [(5, 150, (0, 118)), (995, 150, (936, 118)), (500, 3, (468, 0)), (500, 299, (468, 236)),
     (0, 0, (0, 0)), (1000, 300, (936, 236)), (500, 150, (468, 118))],
)  # fmt: skip
def test_click_places_exact_size_inside_all_borders(images, store, x, y, expected):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, box_size=(64, 64))
    ann.select_class("red")
    box = ann.click(x, y)
    assert (box["x"], box["y"], box["w"], box["h"]) == (*expected, 64, 64)
    ann.submit()
    row = boxes_of(store).iloc[0]
    assert (row.x, row.y, row.w, row.h, row.label) == (*expected, 64.0, 64.0, "red")


def test_front_end_click_snaps_to_the_fixed_size(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, box_size=(64, 32))
    sx, sy = ann._scale
    # mousedown at display (384, 2) = original (500, 2.6): a zero-size box, then the same on mouseup
    click = {"x": 384, "y": 2, "width": 0, "height": 0, "label": "frill"}
    ann.bbox.bboxes = [click]
    ann.bbox.bboxes = [dict(click)]
    (shown,) = ann.bbox.bboxes
    assert shown["width"] == pytest.approx(64 * sx) and shown["height"] == pytest.approx(32 * sy)
    (box,) = ann.boxes
    assert (box["x"], box["y"], box["w"], box["h"]) == (500 - 32, 0, 64, 32)
    # a drag that resized the box snaps back around its centre
    ann.bbox.bboxes = [{**shown, "width": shown["width"] + 40}]
    (box,) = ann.boxes
    assert (box["w"], box["h"]) == (64, 32) and box["x"] == pytest.approx(468 + 20 / sx)
    ann.submit()
    row = boxes_of(store).iloc[0]
    assert (row.w, row.h) == (64.0, 32.0) and 0 <= row.x <= 1000 - 64 and row.y == 0


def test_box_size_larger_than_the_image(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, box_size=(200, 200))
    ann.go_to(1)  # b_small.png is 120 x 100
    with pytest.raises(
        ValueError, match="must fit inside the image \\(120 x 100 pixels\\). Got 200 x 200"
    ):
        ann.click(60, 50)
    ann.bbox.bboxes = [{"x": 60, "y": 50, "width": 0, "height": 0, "label": "red"}]
    assert ann.bbox.bboxes == [] and "must fit inside the image" in ann.status.value


def test_click_needs_fixed_size_mode(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store)
    with pytest.raises(ValueError, match="`box_size` must be set to place boxes by clicking"):
        ann.click(10, 10)


# ------------------------------------------------------------------ pre-annotation
class CountingDetector:
    """A callable detector that finds one box per image, plus one of a class not in the list."""

    name = "toy-detector"

    def __init__(self):
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        w, h = image.size
        return [{"x": w / 4, "y": h / 4, "w": w / 2, "h": h / 2, "label": "red", "confidence": 0.9},
                {"x": 0, "y": 0, "w": 5, "h": 5, "label": "cat", "confidence": 0.5}]  # fmt: skip


def test_detector_boxes_are_written_once_and_pre_drawn(images, store):
    det = CountingDetector()
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, detector=det)
    assert det.calls == 1 and ann.detector_name == "toy-detector"
    model = store.labels(task="boxes", source="model")
    assert model[["item_id", "rater", "model", "label", "x", "y", "w", "h", "confidence"]].to_dict("records") == [
        {"item_id": "a_wide.png", "rater": "toy-detector", "model": "toy-detector", "label": "red",
         "x": 250.0, "y": 75.0, "w": 500.0, "h": 150.0, "confidence": 0.9}
    ]  # fmt: skip
    assert [b["label"] for b in ann.boxes] == ["red"]
    assert "1 box(es) pre-drawn by toy-detector" in ann.model_note.value
    assert "classes [&#x27;cat&#x27;] were left out" in ann.model_note.value
    # the rater accepts it unchanged: a human row, marked as taken from the model
    ann.submit()
    human = boxes_of(store, "human")
    assert len(human) == 1 and human.rater[0] == "alice" and human.source[0] == "human"
    assert (human.x[0], human.w[0]) == (250.0, 500.0)
    assert json.loads(human.attributes[0])["from_model"] is True
    assert det.calls == 2  # the second image
    # a new session does not run the detector again on either image
    BoxAnnotator(images, classes=CLASSES, rater="bob", store=store, detector=det)
    assert det.calls == 2
    assert len(store.labels(task="boxes", source="model")) == 2


def test_detector_boxes_snap_in_fixed_size_mode(images, store):
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, detector=CountingDetector(),
                       box_size=(64, 64))  # fmt: skip
    (box,) = ann.boxes
    assert (box["x"], box["y"], box["w"], box["h"]) == (500 - 32, 150 - 32, 64, 64)


def test_bad_detector_is_refused(images, store):
    with pytest.raises(
        InputError, match="`detector` must be an ultralytics YOLO model or a callable"
    ):
        BoxAnnotator(images, classes=CLASSES, store=store, detector="yolov8n.pt")


def test_stored_predictions_are_pre_drawn_without_a_detector(images, store):
    box = {"x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0, "label": "frill", "confidence": 0.7}
    store.submit_boxes("a_wide.png", "boxes", [box], "yolov8n", source="model", model="yolov8n")
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, detector_name="yolov8n")
    (drawn,) = ann.boxes
    assert (drawn["x"], drawn["y"], drawn["w"], drawn["h"], drawn["label"]) == (
        10,
        20,
        30,
        40,
        "frill",
    )
    ann.submit()
    assert ann.bbox.bboxes == []  # b_small.png has no stored predictions


def test_a_failing_detector_is_a_message(images, store):
    def broken(image):
        raise RuntimeError("CUDA out of memory")

    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, detector=broken)
    assert ann.bbox.bboxes == [] and "The detector failed on a_wide.png" in ann.status.value
    assert store.annotations().empty  # nothing recorded: it is tried again next time


def test_small_images_are_shown_enlarged_and_boxes_stay_in_original_pixels(images, store):
    ann = BoxAnnotator(
        images, classes=CLASSES, rater="alice", store=store, item_ids=["b_small.png"]
    )
    assert ann._scale == (4.0, 4.0)  # 120 x 100 shown as 480 x 400, each pixel a 4 x 4 square
    data = ann.bbox.image_bytes
    with Image.open(io.BytesIO(data)) as shown:
        assert shown.size == (480, 400)
    ann.bbox.bboxes = [{"x": 40, "y": 40, "width": 80, "height": 40, "label": "red"}]
    ann.submit()
    row = boxes_of(store).iloc[0]
    assert (row.x, row.y, row.w, row.h) == (10.0, 10.0, 20.0, 10.0)
    plain = BoxAnnotator(images, classes=CLASSES, rater="bob", store=store, min_size=1)
    plain.go_to(1)
    assert plain._scale == (1.0, 1.0)
