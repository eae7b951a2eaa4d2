"""Polygons and points in a real JupyterLab 4: the widgets render, mouse clicks and keys reach the store.

Also the proof behind the fix: ipyannotations' own PolygonAnnotator shows the widget error box
in JupyterLab 4, and the same widget renders once ``detach_viewless`` has run on it.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from browser_harness import ERROR_TEXTS, readme_shot, wait_for
from PIL import Image, ImageDraw

pytestmark = pytest.mark.browser

# 160 x 120 on a 640 x 480 canvas: the image fills the canvas at 4 canvas pixels per image pixel
W, H, CANVAS = 160, 120, (640, 480)
SCALE = CANVAS[0] / W


def _images(folder):
    folder.mkdir(exist_ok=True)
    for name, fill in (("one.png", (200, 60, 60)), ("two.png", (60, 60, 200))):
        img = Image.new("RGB", (W, H), (235, 235, 235))
        ImageDraw.Draw(img).polygon([(20, 20), (120, 20), (120, 90)], fill=fill)
        img.save(folder / name)


def _page_xy(canvas, x, y):
    """Page coordinates of image pixel (x, y) on an ipycanvas MultiCanvas shown at any CSS size."""
    box = canvas.bounding_box()
    return (
        box["x"] + x * SCALE * box["width"] / CANVAS[0],
        box["y"] + y * SCALE * box["height"] / CANVAS[1],
    )


def _click(page, canvas, x, y):
    page.mouse.click(*_page_xy(canvas, x, y))
    page.wait_for_timeout(150)


def _rows(db, task):
    from labelwidgets.store import LabelStore

    store = LabelStore(db)
    try:
        return store.labels(task=task)
    finally:
        store.close()


def test_polygon_and_point_annotators_in_jupyterlab(lab, notebook_page):
    _images(lab.root / "shapes")
    db = lab.root / "shapes.db"
    setup = textwrap.dedent(
        """
        from labelwidgets.images import ImageSet
        from labelwidgets.store import LabelStore
        from labelwidgets.polygons import PolygonAnnotator, PointAnnotator
        images = ImageSet.from_folder("shapes")
        store = LabelStore("shapes.db")
        """
    )
    name = lab.write_notebook(
        "polygons.ipynb",
        [
            setup,
            'seg = PolygonAnnotator(images, ["triangle", "square"], rater="browser", store=store)\nseg',
            'pts = PointAnnotator(images, ["corner"], rater="browser", store=store)\npts',
        ],
    )
    nb = notebook_page(name)
    nb.run_all()
    page = nb.page
    wait_for(
        lambda: page.locator(".lw-shape-annotator canvas").count() >= 2, message="canvases rendered"
    )
    nb.assert_widgets_ok()

    seg = page.locator(".labelwidgets:has(.lw-shape-annotator)").nth(0)
    seg_canvas = seg.locator(".lw-shape-annotator canvas").last
    seg_canvas.scroll_into_view_if_needed()
    # one click on the widget gives it the keys; the mouse then leaves it
    seg.locator(".widget-html").first.click()
    page.mouse.move(3, 3)
    assert page.evaluate("() => document.activeElement.classList.contains('lw-root')")
    page.keyboard.press("2")  # the second class by key, with the mouse elsewhere
    wait_for(lambda: seg.locator("select").first.input_value() == "square", message="class 2 by key")
    # a triangle closed by clicking its first vertex again
    for x, y in [(20, 20), (120, 20), (120, 90), (20, 20)]:
        _click(page, seg_canvas, x, y)
    nb.screenshot("polygons_drawn", ".lw-shape-annotator")
    page.mouse.move(3, 3)
    page.keyboard.press("Enter")  # the keys still go to the widget (focus stayed inside it)
    rows = wait_for(
        lambda: (r := _rows(db, "polygons")).shape[0] and r, message="polygon row in the store"
    )
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["kind"] == "polygon" and row["label"] == "square" and row["item_id"] == "one.png"
    assert json.loads(row["attributes"])["points"] == [[20.0, 20.0], [120.0, 20.0], [120.0, 90.0]]
    assert (row["x"], row["y"], row["w"], row["h"]) == (20.0, 20.0, 100.0, 70.0)

    # points: two clicks, drag one in Edit mode, then the widget's own Submit button
    pts_box = page.locator(".lw-shape-annotator").nth(1)
    pts_canvas = pts_box.locator("canvas").last
    pts_canvas.scroll_into_view_if_needed()
    _click(page, pts_canvas, 30, 40)
    _click(page, pts_canvas, 100, 60)
    pts_box.locator("button", has_text="Edit").click()
    page.mouse.move(*_page_xy(pts_canvas, 100, 60))
    page.mouse.down()
    for step in range(1, 6):  # ipycanvas sends mouse moves throttled: move in steps
        page.mouse.move(*_page_xy(pts_canvas, 100 + 4 * step, 60 + 4 * step))
        page.wait_for_timeout(100)
    page.mouse.up()
    page.wait_for_timeout(300)
    nb.screenshot("points_drawn", ".lw-shape-annotator >> nth=1")
    pts_box.locator("button", has_text="Submit").click()
    rows = wait_for(lambda: len(r := _rows(db, "points")) == 2 and r, message="two point rows")
    got = sorted(json.loads(a)["points"][0] for a in rows["attributes"])
    assert got == [[30.0, 40.0], [120.0, 80.0]]
    assert set(rows["kind"]) == {"point"} and set(rows["label"]) == {"corner"}
    assert list(rows["w"]) == [0.0, 0.0]
    nb.assert_widgets_ok()
    readme_shot(page, "polygons", ".labelwidgets:has(.lw-shape-annotator) >> nth=0")
    nb.screenshot("polygons_page")


def _centre(locator):
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_ipyannotations_needs_the_fix_in_jupyterlab4(lab, notebook_page):
    """ipyannotations 0.5.1 as shipped shows an error box; detach_viewless makes it render."""
    name = lab.write_notebook(
        "ipyannotations_raw.ipynb",
        [
            "import json\nimport numpy as np\nfrom ipyannotations.images import PolygonAnnotator\n"
            "raw = PolygonAnnotator(options=['a'], canvas_size=(200, 150))\nraw",
            "from labelwidgets.polygons import detach_viewless\n"
            "fixed = PolygonAnnotator(options=['a'], canvas_size=(200, 150))\n"
            "detached = detach_viewless(fixed)\nfixed.add_class('lw-fixed')\n"
            "fixed.display(np.full((60, 80, 3), 128))\n"
            "fixed.on_submit(lambda data: open('submitted.json', 'w').write(json.dumps(data)))\n"
            "fixed",
        ],
    )
    nb = notebook_page(name)
    nb.run_all()
    page = nb.page
    cells = page.locator(".jp-Notebook .jp-Cell.jp-CodeCell")
    wait_for(
        lambda: page.locator(".lw-fixed canvas").count() > 0, message="the fixed widget's canvas"
    )
    raw_out = wait_for(
        lambda: (
            (t := cells.nth(0).locator(".jp-Cell-outputArea").inner_text())
            and any(e in t for e in ERROR_TEXTS)
            and t
        ),
        message="the raw widget's error box",
    )
    assert any(e in raw_out for e in ERROR_TEXTS)
    fixed_out = cells.nth(1).locator(".jp-Cell-outputArea").inner_text()
    assert not any(e in fixed_out for e in ERROR_TEXTS), fixed_out
    nb.screenshot("ipyannotations_raw_vs_fixed")
    # ipyannotations' own shortcut (Enter submits) works with its Event out of the children
    fixed_canvas = page.locator(".lw-fixed canvas").last
    fixed_canvas.scroll_into_view_if_needed()
    box = fixed_canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.keyboard.press("Enter")
    submitted = wait_for(lambda: (lab.root / "submitted.json").exists(), message="their Enter key")
    assert submitted and json.loads((lab.root / "submitted.json").read_text()) == []
    # the image pixels reached the canvas: the fixed widget is not blank
    png = page.locator(".lw-fixed canvas").first.screenshot()
    from io import BytesIO

    arr = np.asarray(Image.open(BytesIO(png)).convert("L"))
    assert (arr < 200).mean() > 0.1, "the canvas shows no image"
