"""Polygons and points without a browser: the pure functions, the JupyterLab 4 fix, and the
session handlers that the mouse, the buttons and the keys call."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from labelwidgets.images import ImageSet
from labelwidgets.polygons import (
    PointAnnotator,
    PolygonAnnotator,
    detach_viewless,
    normalize_shapes,
    rows_to_shapes,
    shape_rows,
)

CLASSES = ["cat", "dog"]
TRI = [[10.0, 10.0], [60.0, 10.0], [60.0, 50.0]]


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def images(tmp_path):
    """Three images: a small one (upscaled on the canvas), a large one (downscaled), and one
    whose EXIF orientation turns 200 x 100 stored pixels into a 100 x 200 upright image."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    small = Image.new("RGB", (120, 80), (230, 230, 230))
    ImageDraw.Draw(small).polygon([(10, 10), (60, 10), (60, 50)], fill=(200, 0, 0))
    small.save(folder / "a_small.png")
    Image.new("RGB", (1600, 1200), (90, 90, 90)).save(folder / "b_large.png")
    rotated = Image.new("RGB", (200, 100), (20, 120, 20))
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    rotated.save(folder / "c_exif.jpg", exif=exif)
    return ImageSet.from_folder(folder)


def _viewless(widget) -> list:
    """Widgets without a view anywhere among the children (what JupyterLab 4 cannot show)."""
    found = []
    for child in getattr(widget, "children", ()):
        if getattr(child, "_view_name", None) is None:
            found.append(child)
        found.extend(_viewless(child))
    return found


# ------------------------------------------------------------ normalize_shapes
def test_normalize_polygon_drops_closing_and_repeated_vertices():
    shapes = [{"label": "cat", "points": [(10, 10), (60, 10), (60, 10), (60, 50), (10, 10)]}]
    clean, notes = normalize_shapes(shapes, "polygon", CLASSES, 120, 80)
    assert clean == [{"label": "cat", "points": TRI}]
    assert notes == []


def test_normalize_accepts_ipyannotations_and_numpy_forms():
    poly = {"type": "polygon", "label": "dog", "points": np.array(TRI + TRI[:1])}
    clean, _ = normalize_shapes([poly], "polygon", CLASSES, 120, 80)
    assert clean[0]["points"] == TRI
    forms = [
        {"label": "cat", "x": 5, "y": 6},
        {"label": "cat", "points": [[5, 6]]},
        {"type": "point", "label": "cat", "coordinates": (5, 6)},
    ]
    clean, _ = normalize_shapes(forms, "point", CLASSES, 120, 80)
    assert [s["points"] for s in clean] == [[[5.0, 6.0]]] * 3


def test_normalize_clips_a_polygon_partly_outside_and_says_so():
    shapes = [{"label": "cat", "points": [[-10, 10], [60, 10], [60, 95]]}]
    clean, notes = normalize_shapes(shapes, "polygon", CLASSES, 120, 80)
    assert clean[0]["points"] == [[0.0, 10.0], [60.0, 10.0], [60.0, 80.0]]
    assert len(notes) == 1 and "clipped" in notes[0]


@pytest.mark.parametrize(
    ("shapes", "kind", "match"),
    [
        (
            [{"label": "cow", "points": TRI}],
            "polygon",
            r"must be one of \['cat', 'dog'\]. Got 'cow'",
        ),
        ([{"label": "cat", "points": TRI[:2]}], "polygon", "at least 3 distinct vertices"),
        ([{"label": "cat", "points": [[0, 0], [5, 5], [10, 10]]}], "polygon", "positive area"),
        ([{"label": "cat", "points": [[200, 200], [300, 200], [300, 300]]}], "polygon", "overlap"),
        ([{"label": "cat", "points": [[0, 0], [5, np.nan], [1, 9]]}], "polygon", "finite numbers"),
        ([{"label": "cat", "points": "0,0 1,1"}], "polygon", "list of \\[x, y\\] pairs"),
        ([{"label": "cat", "x": 121, "y": 5}], "point", "inside the image"),
        ([{"label": "cat", "points": [[1, 2], [3, 4]]}], "point", "exactly one"),
        ([{"label": "cat"}], "point", "must have 'x' and 'y'"),
        ([("cat", 1, 2)], "point", "must be a dict"),
        ({"label": "cat", "x": 1, "y": 2}, "point", "`shapes` must be a list"),
        ([], "box", r"`kind` must be one of \['polygon', 'point'\]"),
    ],
)
def test_normalize_refuses_bad_shapes(shapes, kind, match):
    with pytest.raises(ValueError, match=match):
        normalize_shapes(shapes, kind, CLASSES, 120, 80)


# ------------------------------------------------------------ rows
def test_shape_rows_hold_points_and_bounding_box(store):
    store.add_items(pd.DataFrame({"item_id": ["a"], "path": ["a.png"]}))
    poly = shape_rows("a", "polygons", "al", "polygon", [{"label": "cat", "points": TRI}])
    assert (poly[0]["x"], poly[0]["y"], poly[0]["w"], poly[0]["h"]) == (10.0, 10.0, 50.0, 40.0)
    assert poly[0]["attributes"] == {"points": TRI}
    point = shape_rows("a", "points", "al", "point", [{"label": "dog", "points": [[3.0, 4.0]]}])
    assert (point[0]["x"], point[0]["y"], point[0]["w"], point[0]["h"]) == (3.0, 4.0, 0.0, 0.0)
    empty = shape_rows("a", "polygons", "al", "polygon", [])
    assert empty == [
        {"item_id": "a", "task": "polygons", "rater": "al", "kind": "polygon", "source": "human"}
    ]
    store.append(poly)
    store.append(point)
    back = rows_to_shapes(store.current(task="polygons"))
    assert back == [{"label": "cat", "points": TRI}]
    assert rows_to_shapes(store.current(task="points")) == [
        {"label": "dog", "points": [[3.0, 4.0]]}
    ]


# ------------------------------------------------------------ the JupyterLab 4 fix
def test_ipyannotations_puts_a_viewless_event_among_children_and_detach_fixes_it():
    from ipyannotations.images import PointAnnotator as RawPoints
    from ipyannotations.images import PolygonAnnotator as RawPolygons
    from ipyevents import Event

    for cls in (RawPolygons, RawPoints):
        raw = cls(options=["a"], canvas_size=(200, 150))
        assert [type(w) for w in _viewless(raw)] == [Event]  # the cause of "view class 'null'"
        detached = detach_viewless(raw)
        assert detached == [raw.event_watcher]
        assert _viewless(raw) == []
        # the listener lives on: still open, still listening on the annotator's views
        assert raw.event_watcher.comm is not None and raw.event_watcher.source is raw
        assert raw.event_watcher.watched_events == ["keyup"]
        raw.close()


def test_session_widget_has_no_viewless_children(images, store):
    for cls in (PolygonAnnotator, PointAnnotator):
        w = cls(images, CLASSES, rater="al", store=store)
        assert _viewless(w) == []
        assert w.focus_keys in w.children and w.focus_keys.keymap == w.keymap  # the keys arrive through it
        assert w.annotator.event_watcher.watched_events == []  # one listener, not two
        w.close()


# ------------------------------------------------------------ canvas coordinates
@pytest.mark.parametrize("item", ["a_small.png", "b_large.png", "c_exif.jpg"])
def test_canvas_clicks_map_to_pixels_of_the_upright_image(images, store, item):
    w = PolygonAnnotator(images, CLASSES, rater="al", store=store, item_ids=[item])
    width, height = (
        int(v) for v in images.items.set_index("item_id").loc[item, ["width", "height"]]
    )
    pts = [[0, 0], [width * 0.75, height * 0.1], [width, height]]
    for x, y in pts:
        w.click(x, y)
    drawn = w.drawn()[0]["points"]
    tol = max(width / w.canvas_size[0], height / w.canvas_size[1], 1.0)  # one canvas pixel
    assert np.allclose(drawn, pts, atol=tol), (drawn, pts)
    # brightness redraws the image: the mapping must survive it
    w.annotator.brightness_slider.value = 1.5
    assert (w.canvas.original_width, w.canvas.original_height) == (width, height)
    w.close()


def test_exif_image_is_upright_and_rows_are_in_its_pixels(images, store):
    assert images.items.set_index("item_id").loc["c_exif.jpg", ["width", "height"]].tolist() == [
        100,
        200,
    ]
    w = PolygonAnnotator(images, CLASSES, rater="al", store=store, item_ids=["c_exif.jpg"])
    w.submit([{"label": "dog", "points": [[10, 150], [90, 150], [50, 199]]}])
    row = store.labels(task="polygons").iloc[0]
    assert (row["x"], row["y"], row["w"], row["h"]) == (10.0, 150.0, 80.0, 49.0)
    with pytest.raises(ValueError, match="overlap"):
        normalize_shapes(
            [{"label": "dog", "points": [[150, 10], [190, 10], [190, 50]]}],
            "polygon",
            CLASSES,
            100,
            200,
        )
    w.close()


# ------------------------------------------------------------ the session
def test_polygon_session_draw_submit_back_undo(images, store):
    w = PolygonAnnotator(images, CLASSES, rater="al", store=store)
    assert w.current_item == "a_small.png" and w.task == "polygons"
    for x, y in TRI + TRI[:1]:  # clicking the first vertex again closes the polygon
        w.click(x, y)
    w.press("2")
    for x, y in [[70, 20], [100, 20], [100, 60]]:  # left open: closed on submit
        w.click(x, y)
    w.annotator.submit_button.click()  # their Submit button: one submission for the image
    rows = store.labels(task="polygons")
    assert rows["label"].tolist() == ["cat", "dog"]
    assert set(rows["kind"]) == {"polygon"} and rows["submission_id"].nunique() == 1
    assert [json.loads(a)["points"] for a in rows["attributes"]] == [
        TRI,
        [[70.0, 20.0], [100.0, 20.0], [100.0, 60.0]],
    ]
    assert w.current_item == "b_large.png" and "Saved a_small.png" in w.status["text"]
    assert w.progress_bar.value == 1

    w.press("ArrowLeft")  # back: the submitted polygons load for editing
    assert w.current_item == "a_small.png"
    assert [p["label"] for p in w.canvas.data] == ["cat", "dog"]
    assert w.drawn()[0]["points"] == TRI
    w.press("z")  # undo the submission: retracted, the item shows again, empty
    assert store.labels(task="polygons").empty
    assert w.current_item == "a_small.png" and w.canvas.data == []
    w.close()


def test_backspace_removes_points_and_open_polygon_rules(images, store):
    w = PolygonAnnotator(images, CLASSES, rater="al", store=store)
    w.click(10, 10)
    w.click(60, 10)
    w._on_key("Enter")  # through the guard, as the browser does
    assert "at least 3 points" in w.status["text"] and store.labels().empty
    w.press("Backspace")
    assert w.canvas.current_polygon.points == [(10, 10)]
    w.press("Backspace")
    w.press("Backspace")
    assert w.canvas.current_polygon.points == [] and "Nothing drawn" in w.status["text"]
    w.close()


def test_keys_select_class_toggle_edit_and_refuse_unknown(images, store):
    w = PolygonAnnotator(images, CLASSES, rater="al", store=store)
    w.press("2")
    assert w.annotator.class_selector.value == "dog" and w.canvas.current_class == "dog"
    w.press("e")
    assert w.canvas.editing is True
    w.press("E")
    assert w.canvas.editing is False
    assert w.press("9") is None and w.status["text"] == ""  # no key 9 with two classes
    w._on_key("x")  # a key the map does not have: ignored
    with pytest.raises(ValueError, match=r"`label` must be one of \['cat', 'dog'\]. Got 'cow'"):
        w.select_class("cow")
    assert list(w.annotator.class_selector.options) == CLASSES  # predefined classes only
    w.close()


def test_partly_outside_polygon_is_clipped_and_said(images, store):
    w = PolygonAnnotator(images, CLASSES, rater="al", store=store)
    w.submit([{"label": "cat", "points": [[-5, 10], [60, 10], [60, 90]]}])
    row = store.labels(task="polygons").iloc[0]
    assert json.loads(row["attributes"])["points"] == [[0.0, 10.0], [60.0, 10.0], [60.0, 80.0]]
    assert "clipped" in w.status["text"]
    w.close()


def test_skip_empty_submit_resume_and_end_of_queue(images, store):
    w = PolygonAnnotator(images, CLASSES, rater="al", store=store)
    w.submit([{"label": "cat", "points": TRI}])
    w.annotator.skip_button.click()  # their Skip button: a skip row, not a shape
    assert store.current(task="polygons")["kind"].tolist() == ["polygon", "skip"]
    w.close()

    again = PolygonAnnotator(images, CLASSES, rater="al", store=store)  # resumes at the open item
    assert again.current_item == "c_exif.jpg" and again.progress_bar.value == 2
    again.submit([])  # nothing to mark: recorded, counts as done, no label row
    assert again.current_item is None and "All 3 items are done" in again.header.value and "Back (←)" in again.header.value
    assert len(store.labels(task="polygons")) == 1
    with pytest.raises(ValueError, match="queue is finished"):
        again.submit()
    with pytest.raises(ValueError, match="queue is finished"):
        again.skip()
    assert again.annotator.layout.display == "none"
    again.close()


def test_point_session(images, store):
    w = PointAnnotator(images, ["eye", "nose"], rater="bo", store=store, item_ids=["b_large.png"])
    assert w.task == "points"
    w.click(400, 300)
    w.press("2")
    w.click(1200, 900)
    w.press("Backspace")  # removes the nose
    w.click(1000, 800)
    w.press("Enter")
    rows = store.labels(task="points")
    assert rows["label"].tolist() == ["eye", "nose"] and set(rows["kind"]) == {"point"}
    got = [json.loads(a)["points"][0] for a in rows["attributes"]]
    assert np.allclose(got, [[400, 300], [1000, 800]], atol=1600 / 640)
    assert rows["w"].tolist() == [0.0, 0.0] and np.allclose(rows[["x", "y"]].to_numpy(), got)
    w.press("ArrowLeft")
    assert [p["label"] for p in w.canvas.data] == ["eye", "nose"]
    w.close()


def test_two_raters_keep_their_own_shapes(images, store):
    a = PolygonAnnotator(images, CLASSES, rater="al", store=store, item_ids=["a_small.png"])
    a.submit([{"label": "cat", "points": TRI}])
    b = PolygonAnnotator(images, CLASSES, rater="bo", store=store, item_ids=["a_small.png"])
    assert b.current_item == "a_small.png" and b.canvas.data == []
    b.submit([{"label": "dog", "points": TRI}])
    labels = store.labels(task="polygons").sort_values("rater")
    assert labels[["rater", "label"]].values.tolist() == [["al", "cat"], ["bo", "dog"]]
    a.close()
    b.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classes": []}, "`classes` must be a non-empty list"),
        ({"classes": "cat"}, "`classes` must be a non-empty list"),
        ({"classes": ["cat", "cat"]}, "must be unique"),
        ({"classes": ["cat", ""]}, "non-empty strings"),
        ({"classes": CLASSES, "task": ""}, "`task` must be a non-empty string"),
        ({"classes": CLASSES, "canvas_size": (10, 10)}, "`canvas_size` must be"),
        ({"classes": CLASSES, "item_ids": ["nope.png"]}, "`item_ids` must be items"),
    ],
)
def test_bad_arguments(images, store, kwargs, match):
    with pytest.raises(ValueError, match=match):
        PolygonAnnotator(images, rater="al", store=store, **kwargs)


def test_unreadable_images_are_skipped_not_shown(tmp_path, store):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.new("RGB", (50, 40)).save(folder / "ok.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    images = ImageSet.from_folder(folder)
    w = PointAnnotator(images, ["x"], rater="al", store=store)
    assert w.queue == ["ok.png"] and "broken.png" in images.skipped["path"].iloc[0]
    w.close()


def test_widget_rows_export_to_coco_and_yolo_seg_and_read_back(images, store, tmp_path):
    formats = pytest.importorskip("labelwidgets.formats", reason="the formats package is absent")
    seg = PolygonAnnotator(
        images, CLASSES, rater="al", store=store, item_ids=["a_small.png", "c_exif.jpg"]
    )
    seg.submit(
        [
            {"label": "cat", "points": TRI},
            {"label": "dog", "points": [[70, 20], [110, 25], [90, 70]]},
        ]
    )
    seg.submit([{"label": "dog", "points": [[10, 150], [90, 150], [50, 199]]}])
    pts = PointAnnotator(images, CLASSES, rater="al", store=store, item_ids=["a_small.png"])
    pts.submit([{"label": "cat", "x": 30, "y": 40}])
    items = store.items()[["item_id", "path", "width", "height"]]
    polygons = store.labels(task="polygons").merge(items, on="item_id")
    both = store.labels().merge(items, on="item_id")

    back = formats.from_coco(formats.to_coco(both, tmp_path / "coco.json", CLASSES))
    want = sorted(
        (r.item_id, r.kind, r.label, json.dumps(json.loads(r.attributes)["points"]))
        for r in both.itertuples()
    )
    got = sorted(
        (r.item_id, r.kind, r.label, json.dumps(r.attributes["points"]))
        for r in back.itertuples()
        if r.label
    )
    assert got == want

    out = formats.to_yolo(polygons, tmp_path / "yolo", CLASSES)
    back = formats.from_yolo(out).dropna(subset=["label"]).sort_values(["item_id", "label"])
    expect = polygons.sort_values(["item_id", "label"])
    assert (
        back["kind"].tolist() == ["polygon"] * 3
        and back["label"].tolist() == expect["label"].tolist()
    )
    for a, b, w, h in zip(
        back["attributes"], expect["attributes"], expect["width"], expect["height"], strict=True
    ):
        assert np.allclose(a["points"], json.loads(b)["points"], atol=1e-6 * max(w, h))
    seg.close()
    pts.close()


@pytest.mark.postgres
def test_polygons_on_postgresql(images, postgres_url):
    from labelwidgets.store import LabelStore

    store = LabelStore(postgres_url)
    try:
        w = PolygonAnnotator(images, CLASSES, rater="al", store=store, item_ids=["a_small.png"])
        w.submit([{"label": "dog", "points": TRI}])
        row = store.labels(task="polygons").iloc[0]
        assert row["kind"] == "polygon" and json.loads(row["attributes"])["points"] == TRI
        again = PolygonAnnotator(images, CLASSES, rater="al", store=store, item_ids=["a_small.png"])
        assert again.current_item is None and again.shapes == {
            "a_small.png": [{"label": "dog", "points": TRI}]
        }
        w.close()
        again.close()
    finally:
        store.close()
