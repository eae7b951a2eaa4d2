"""BoxAnnotator in a real browser: drag boxes with the mouse, switch class, submit; click once in
fixed-size mode. JupyterLab in headless Chromium (see browser_harness.py)."""

from __future__ import annotations

import pytest
from browser_harness import ARTIFACTS, wait_for

from labelwidgets.store import LabelStore

pytestmark = pytest.mark.browser

SETUP = """
import numpy as np
from PIL import Image
from labelwidgets.images import ImageSet
from labelwidgets.store import LabelStore
from labelwidgets.boxes import BoxAnnotator

rng = np.random.default_rng(0)
Image.fromarray(rng.integers(60, 200, (600, 1000, 3), dtype=np.uint8)).save("wide.png")
images = ImageSet.from_dataframe(__import__("pandas").DataFrame({"path": ["wide.png"]}), progress=False)
store = LabelStore("boxes-browser.db")
classes = ["frill", "red", "goldEmbroidery"]
"""
FREE = (
    'drawn = BoxAnnotator(images, classes=classes, rater="alice", store=store, max_size=500)\ndrawn'
)
FIXED = (
    'fixed = BoxAnnotator(images, classes=classes, rater="carol", store=store, max_size=500,\n'
    "                     box_size=(64, 64))\nfixed"
)
SCALE = 2.0  # 1000 x 600 original shown as 500 x 300


def _image_box(widget):
    """The displayed image's page rectangle and CSS pixels per displayed-image pixel."""
    img = widget.locator("img").first
    img.wait_for(timeout=30_000)
    wait_for(lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"), message="image loaded")
    rect = img.bounding_box()
    natural = img.evaluate("i => i.naturalWidth")
    assert natural == 500
    return rect, rect["width"] / natural


def _drag(page, rect, css_per_px, start, end):
    """Drag from ``start`` to ``end`` given in displayed-image pixels."""
    x0, y0 = rect["x"] + start[0] * css_per_px, rect["y"] + start[1] * css_per_px
    x1, y1 = rect["x"] + end[0] * css_per_px, rect["y"] + end[1] * css_per_px
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    page.wait_for_timeout(300)


def _rows(lab, rater, n):
    def read():
        db = LabelStore(lab.root / "boxes-browser.db")
        try:
            df = db.labels(task="boxes", rater=rater)
        finally:
            db.close()
        return (df,) if len(df) == n else None  # a tuple: a DataFrame has no truth value

    return wait_for(read, timeout=30, message=f"{n} box rows of {rater}")[0]


def test_boxes_in_jupyterlab(lab, notebook_page):
    name = lab.write_notebook("boxes.ipynb", [SETUP, FREE, FIXED])
    page = notebook_page(name)
    page.run_all()
    page.assert_widgets_ok()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # ---- free drawing: two boxes with the mouse, the second after switching the class to "red"
    drawn = page.page.locator(".lw-boxes").nth(0)
    drawn.scroll_into_view_if_needed()
    rect, css = _image_box(drawn)
    _drag(page.page, rect, css, (50, 40), (150, 120))  # class "frill", the default
    drawn.locator(".class-label", has_text="red").first.click()
    _drag(page.page, rect, css, (300, 100), (400, 250))
    drawn.locator("svg rect").nth(1).wait_for(timeout=10_000)
    drawn.screenshot(path=str(ARTIFACTS / "boxes-drawn-before-submit.png"))
    drawn.locator("button", has_text="Submit").click()
    rows = _rows(lab, "alice", 2).sort_values("x").reset_index(drop=True)
    assert rows["label"].tolist() == ["frill", "red"]
    assert set(rows["kind"]) == {"box"} and rows["submission_id"].nunique() == 1
    expected = [(50, 40, 100, 80), (300, 100, 100, 150)]  # displayed pixels
    for row, (x, y, w, h) in zip(rows.itertuples(), expected, strict=True):
        # the widget rounds to whole displayed pixels; one displayed pixel is two original ones
        got = (row.x, row.y, row.w, row.h)
        want = tuple(v * SCALE for v in (x, y, w, h))
        assert got == pytest.approx(want, abs=2 * SCALE), (got, want)
    drawn.locator("text=All 1 items are done").wait_for(timeout=10_000)
    drawn.screenshot(path=str(ARTIFACTS / "boxes-drawn-after-submit.png"))

    # ---- fixed-size mode: one click near the right border places exactly 64 x 64, inside
    fixed = page.page.locator(".lw-boxes").nth(1)
    fixed.scroll_into_view_if_needed()
    rect, css = _image_box(fixed)
    fixed.locator(".class-label", has_text="goldEmbroidery").first.click()
    page.page.mouse.click(rect["x"] + 495 * css, rect["y"] + 150 * css)  # 5 px from the right edge
    wait_for(
        lambda: (
            abs(
                float(fixed.locator("svg rect").first.get_attribute("width") or 0)
                - 64 / SCALE * css
            )
            < 0.5
        ),
        message="the click's box snapped to 64 x 64 original pixels",
    )
    fixed.screenshot(path=str(ARTIFACTS / "boxes-fixed-size-click.png"))
    fixed.locator("button", has_text="Submit").click()
    row = _rows(lab, "carol", 1).iloc[0]
    assert row.label == "goldEmbroidery"
    assert (row.w, row.h) == (64.0, 64.0)  # exactly, not approximately
    assert row.x == 1000 - 64  # shifted left to lie inside the image
    assert row.y == pytest.approx(150 * SCALE - 32, abs=SCALE)  # centred on the click vertically
    page.assert_widgets_ok()


def test_notebook_02_renders_in_jupyterlab(lab, notebook_page):
    """The whole boxes notebook (training included) runs in JupyterLab and every widget renders."""
    from browser_harness import REPO

    name = lab.copy_in(REPO / "notebooks" / "02_bounding_boxes.ipynb")
    page = notebook_page(name)
    page.run_all(timeout=540)
    page.assert_widgets_ok()
    widgets = page.page.locator(".lw-boxes")
    assert widgets.count() == 2  # alice draws, carol corrects the pre-annotation
    carol = widgets.nth(1)
    carol.scroll_into_view_if_needed()
    carol.locator("text=All 5 items are done").wait_for(timeout=30_000)
    carol.locator("button", has_text="Back").click()  # the last image, with carol's boxes
    carol.locator("text=item 5 of 5").wait_for(timeout=30_000)
    carol.locator("svg rect").first.wait_for(timeout=30_000)
    carol.screenshot(path=str(ARTIFACTS / "boxes-notebook02-back.png"))
    alice = widgets.nth(0)
    alice.scroll_into_view_if_needed()
    alice.locator("text=shapes/0040.jpg").first.wait_for(timeout=30_000)  # 40 done, one undone
    alice.screenshot(path=str(ARTIFACTS / "boxes-notebook02-annotator.png"))
    page.assert_widgets_ok()
