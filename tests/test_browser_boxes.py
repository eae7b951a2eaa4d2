"""BoxAnnotator in a real browser (JupyterLab, headless Chromium; see browser_harness.py).

Zoom into a 4000 x 3000 photo and box a 20 x 20 object exactly; verify model boxes by key;
label with the keys after one click with the mouse moved away; place fixed-size boxes by
clicking near every border. Where objects are on screen is read from screenshots, never from
the widget's own transform.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from browser_harness import ARTIFACTS, REPO, busy_then_killed, wait_for
from PIL import Image

from labelwidgets.store import LabelStore

pytestmark = pytest.mark.browser

SCREENSHOTS = REPO / "docs" / "screenshots"
MAGENTA = (2345, 1678, 20, 20)  # the small object: x, y, w, h in original pixels

SETUP = """
import numpy as np
import pandas as pd
from PIL import Image
from labelwidgets.images import ImageSet
from labelwidgets.store import LabelStore
from labelwidgets.boxes import BoxAnnotator

yy, xx = np.mgrid[0:3000, 0:4000].astype(np.float32)
photo = np.stack([110 + 50 * xx / 4000, 120 + 40 * yy / 3000, 100 + 30 * (xx + yy) / 7000], -1)
photo = photo.astype(np.uint8)
photo[1678:1698, 2345:2365] = (255, 0, 255)
Image.fromarray(photo).save("photo.png", compress_level=1)
rng = np.random.default_rng(0)
for i in range(6):
    img = np.full((300, 400, 3), 90 + 20 * i, np.uint8)
    img[100:180, 120:260] = (230, 230, 60)
    Image.fromarray(img).save(f"scene{i}.png")
photos = ImageSet.from_dataframe(pd.DataFrame({"path": ["photo.png"]}), progress=False)
scenes = ImageSet.from_dataframe(pd.DataFrame({"path": [f"scene{i}.png" for i in range(6)]}),
                                 progress=False)
store = LabelStore("boxes-browser.db")
classes = ["cat", "dog", "bird"]

def detector(image):  # a model with one right box and one wrong one per image
    return [{"x": 120, "y": 100, "w": 140, "h": 80, "label": "cat", "confidence": 0.9},
            {"x": 10, "y": 200, "w": 60, "h": 50, "label": "dog", "confidence": 0.4}]
"""
ZOOM = 'zoom = BoxAnnotator(photos, classes, rater="zoe", store=store)\nzoom'
VERIFY = ('verify = BoxAnnotator(scenes, classes, rater="vera", store=store, detector=detector,\n'
          '                      item_ids=scenes.item_ids[:2])\nverify')  # fmt: skip
KEYS = ('keys = BoxAnnotator(scenes, classes, rater="kim", store=store, task="objects",\n'
        '                    item_ids=scenes.item_ids[2:])\nkeys')  # fmt: skip
FIXED = ('fixed = BoxAnnotator(photos, classes, rater="fay", store=store, task="patches",\n'
         '                     box_size=(64, 48))\nfixed')  # fmt: skip


def _rows(lab, task, rater, n, kinds=("box",), db_name="boxes-browser.db"):
    def read():
        db = LabelStore(lab.root / db_name)
        try:
            df = db.current(task=task, rater=rater)
        finally:
            db.close()
        df = df[df["kind"].isin(kinds)]
        return (df,) if len(df) == n else None

    return wait_for(read, timeout=30, message=f"{n} rows of {rater}")[0]


def _find(page, widget, rgb_test):
    """Where pixels passing ``rgb_test`` are on screen: page CSS px (left, top, right, bottom)."""
    page.mouse.move(2, 2)  # the crosshair follows the pointer: move it off the canvas
    page.wait_for_timeout(80)
    canvas = widget.locator(".lw-boxcanvas canvas")
    png = canvas.screenshot()
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    ys, xs = np.nonzero(rgb_test(arr[..., 0], arr[..., 1], arr[..., 2]))
    assert len(xs), "the object is not on screen"
    rect = canvas.bounding_box()
    s = rect["width"] / arr.shape[1]
    return (rect["x"] + xs.min() * s, rect["y"] + ys.min() * s,
            rect["x"] + (xs.max() + 1) * s, rect["y"] + (ys.max() + 1) * s)  # fmt: skip


def _magenta(r, g, b):
    return (r > 170) & (g < 90) & (b > 170)


def _shot(widget, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(ARTIFACTS / f"{name}.png", SCREENSHOTS / f"{name}.png")


def _zoom_is(canvas, value):
    wait_for(lambda: abs(float(canvas.get_attribute("data-zoom") or 0) - value) < 0.01,
             timeout=5, message=f"zoom {value}")  # fmt: skip


def test_box_annotator_in_jupyterlab(lab, notebook_page):
    name = lab.write_notebook("boxes.ipynb", [SETUP, ZOOM, VERIFY, KEYS, FIXED])
    nb = notebook_page(name)
    nb.run_all(timeout=300)
    nb.assert_widgets_ok()
    page = nb.page

    # ---- zoom to 8x+ around a 20 x 20 object on a 4000 x 3000 photo and box it by dragging
    zoom = page.locator(".lw-boxes").nth(0)
    zoom.scroll_into_view_if_needed()
    canvas = zoom.locator(".lw-boxcanvas canvas")
    wait_for(lambda: canvas.get_attribute("data-item") == "photo.png", message="photo painted")
    left, top, right, bottom = _find(page, zoom, _magenta)
    target = ((left + right) / 2, (top + bottom) / 2)
    page.mouse.click(*target)  # one click: the widget holds the keys and the wheel
    for _ in range(60):
        if float(canvas.get_attribute("data-zoom") or 1) >= 8:
            break
        page.mouse.move(*target)
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(30)
    assert float(canvas.get_attribute("data-zoom")) >= 8
    # the kernel sends the view's crop at full resolution: the object's edges are sharp
    wait_for(lambda: canvas.get_attribute("data-detail") == "full", message="full-resolution crop")
    page.wait_for_timeout(100)
    left, top, right, bottom = _find(page, zoom, _magenta)
    assert right - left > 25
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move(right, bottom, steps=8)
    page.mouse.up()
    _shot(zoom, "boxes-zoomed")
    page.keyboard.press("Enter")
    (row,) = _rows(lab, "boxes", "zoe", 1).itertuples()
    x, y, w, h = MAGENTA
    corners = (row.x, row.y, row.x + row.w, row.y + row.h)
    assert all(abs(a - b) <= 1 for a, b in zip(corners, (x, y, x + w, y + h), strict=True)), corners
    assert row.label == "cat"

    # ---- verify mode: accept / reject / relabel model boxes by key, with the mouse away
    verify = page.locator(".lw-boxes").nth(1)
    verify.scroll_into_view_if_needed()
    vcanvas = verify.locator(".lw-boxcanvas canvas")
    wait_for(lambda: vcanvas.get_attribute("data-item") == "scene0.png", message="scene0 painted")
    verify.locator(".lw-header").click()  # one click on the widget, not on the image
    page.mouse.move(3, 3)  # the mouse leaves the widget: the keys still work
    page.keyboard.press("Tab")  # the first undecided model box
    assert "Box 1 · cat" in verify.locator(".lw-side").inner_text()
    page.keyboard.press("a")  # accepted; the next undecided box is selected
    assert "Box 2 · dog" in verify.locator(".lw-side").inner_text()
    page.keyboard.press("r")  # rejected
    assert "1 accepted, 1 rejected" in verify.locator(".lw-count-line").inner_text()
    _shot(verify, "boxes-verify")
    page.keyboard.press("Enter")
    wait_for(lambda: vcanvas.get_attribute("data-item") == "scene1.png", message="scene1 painted")
    page.keyboard.press("Tab")
    page.keyboard.press("a")
    page.keyboard.press("1")  # box 2 is a cat, not a dog: relabelled, so "changed"
    page.keyboard.press("Enter")
    verify.locator("h3", has_text="All 2 items are done").wait_for(timeout=30_000)
    rows = _rows(lab, "boxes", "vera", 4)

    got = sorted(
        (r.item_id, r.label if isinstance(r.label, str) else "-", json.loads(r.attributes)["review"]["verdict"])
        for r in rows.itertuples()
    )  # fmt: skip
    assert got == [("scene0.png", "-", "rejected"), ("scene0.png", "cat", "accepted"),
                   ("scene1.png", "cat", "accepted"), ("scene1.png", "cat", "changed")]  # fmt: skip
    db = LabelStore(lab.root / "boxes-browser.db")
    try:
        from labelwidgets.detect import model_precision

        table = model_precision(db, rater="vera").iloc[0]
    finally:
        db.close()
    assert (table.reviewed, table.accepted, table.changed, table.rejected) == (4, 2, 1, 1)
    assert table.precision_as_drawn == 0.5

    # ---- keys only after one click: submit, zoom, pan, skip (asks when boxes are drawn), undo
    keys = page.locator(".lw-boxes").nth(2)
    keys.scroll_into_view_if_needed()
    kcanvas = keys.locator(".lw-boxcanvas canvas")
    wait_for(lambda: kcanvas.get_attribute("data-item") == "scene2.png", message="scene2 painted")
    cells_before = page.locator(".jp-Notebook .jp-Cell").count()
    keys.locator(".lw-header").click()
    page.mouse.move(3, 3)
    page.keyboard.press("Enter")  # no objects on scene2
    wait_for(lambda: kcanvas.get_attribute("data-item") == "scene3.png", message="scene3 painted")
    page.keyboard.press("+")
    page.keyboard.press("+")
    _zoom_is(kcanvas, 2.25)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("f")
    _zoom_is(kcanvas, 1)
    # one box drawn with the mouse, then S: it asks instead of dropping the box
    rect = kcanvas.bounding_box()
    page.mouse.move(rect["x"] + 100, rect["y"] + 100)
    page.mouse.down()
    page.mouse.move(rect["x"] + 200, rect["y"] + 160, steps=5)
    page.mouse.up()
    page.mouse.move(3, 3)
    _shot(keys, "boxes")
    page.keyboard.press("s")
    assert "Press S again to skip it anyway" in keys.locator(".lw-status").inner_text()
    assert kcanvas.get_attribute("data-item") == "scene3.png"
    page.keyboard.press("Backspace")  # back to scene2: the box on scene3 is kept as a draft
    wait_for(lambda: kcanvas.get_attribute("data-item") == "scene2.png", message="back on scene2")
    assert "as a draft" in keys.locator(".lw-status").inner_text()
    page.keyboard.press("Enter")  # scene2 again: still no objects
    wait_for(lambda: kcanvas.get_attribute("data-item") == "scene3.png", message="scene3 again")
    assert keys.locator(".lw-count-line").inner_text().startswith("1 box")
    assert "unsaved draft" in keys.locator(".lw-header").inner_text()
    page.keyboard.press("s")
    page.keyboard.press("s")  # asked twice: skipped; the box stays a draft
    wait_for(lambda: kcanvas.get_attribute("data-item") == "scene4.png", message="scene4 painted")
    page.keyboard.press("z")  # undo the skip: scene3 with its box
    wait_for(lambda: kcanvas.get_attribute("data-item") == "scene3.png", message="undo shows scene3")
    assert keys.locator(".lw-count-line").inner_text().startswith("1 box")
    page.keyboard.press("Enter")
    wait_for(lambda: kcanvas.get_attribute("data-item") == "scene4.png", message="scene4 again")
    objects = _rows(lab, "objects", "kim", 2)
    assert sorted(objects["item_id"]) == ["scene2.png", "scene3.png"]
    assert objects["label"].notna().sum() == 1  # scene3's box; scene2 is "no objects"
    # no key reached JupyterLab: no cell was cut, added or run
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells_before

    # ---- fixed-size mode: one click near each border places exactly 64 x 48 inside the photo
    fixed = page.locator(".lw-boxes").nth(3)
    fixed.scroll_into_view_if_needed()
    fcanvas = fixed.locator(".lw-boxcanvas canvas")
    wait_for(lambda: fcanvas.get_attribute("data-item") == "photo.png", message="photo painted")
    fixed.locator(".lw-option", has_text="dog").click()
    rect = fcanvas.bounding_box()
    spots = [(2, 2), (rect["width"] - 3, rect["height"] / 2), (rect["width"] / 2, rect["height"] - 3),
             (2, rect["height"] - 3), (rect["width"] - 3, 2), (rect["width"] / 2, rect["height"] / 2)]  # fmt: skip
    for sx, sy in spots:
        page.mouse.click(rect["x"] + sx, rect["y"] + sy)
        page.mouse.move(3, 3)
    _shot(fixed, "boxes-fixed-size")
    page.keyboard.press("Enter")
    rows = _rows(lab, "patches", "fay", len(spots)).sort_values(["y", "x"]).reset_index(drop=True)
    assert set(zip(rows.w, rows.h, strict=True)) == {(64.0, 48.0)}  # exactly, never shrunk
    assert ((rows.x >= 0) & (rows.x <= 4000 - 64) & (rows.y >= 0) & (rows.y <= 3000 - 48)).all()
    corners = set(zip(rows.x, rows.y, strict=True))
    assert {(0.0, 0.0), (4000.0 - 64, 0.0), (0.0, 3000.0 - 48)} <= corners
    assert (rows.x == 4000 - 64).sum() == 2 and (rows.y == 3000 - 48).sum() == 2
    assert set(rows.label) == {"dog"}
    nb.assert_widgets_ok()


def test_notebook_02_renders_in_jupyterlab(lab, notebook_page):
    """The whole boxes notebook (training included) runs in JupyterLab and every widget renders."""
    name = lab.copy_in(REPO / "notebooks" / "02_bounding_boxes.ipynb")
    nb = notebook_page(name)
    nb.run_all(timeout=540)
    nb.assert_widgets_ok()
    widgets = nb.page.locator(".lw-boxes")
    assert widgets.count() == 2  # alice draws, carol verifies (bob's clicks are made in code)
    carol = widgets.nth(1)
    carol.scroll_into_view_if_needed()
    carol.locator("h3", has_text="All 5 items are done").wait_for(timeout=30_000)
    carol.locator("button", has_text="Back").click()  # the last image, with carol's decisions
    carol.locator("text=item 5 of 5").wait_for(timeout=30_000)
    assert "rejected" in carol.locator(".lw-count-line").inner_text()
    alice = widgets.nth(0)
    alice.scroll_into_view_if_needed()
    alice.locator("text=shapes/0040.jpg").first.wait_for(timeout=30_000)  # 40 done, one undone
    canvas = alice.locator(".lw-boxcanvas canvas")
    wait_for(lambda: canvas.get_attribute("data-item") == "shapes/0040.jpg", message="painted")
    nb.assert_widgets_ok()


def test_kernel_killed_with_boxes_unsaved(lab, notebook_page):
    """Busy kernel: the submitted boxes wait and the rater goes on. Killed kernel: the boxes not
    saved, submitted or drawn, are listed and stay on screen; only acknowledged rows are stored."""
    setup = SETUP.replace("boxes-browser.db", "boxes-kill.db")
    code = ('kill = BoxAnnotator(scenes, classes, rater="kit", store=store)\n'
            'import os; open("kernel.pid", "w").write(str(os.getpid()))\nkill')  # fmt: skip
    nb = notebook_page(lab.write_notebook("boxes-kill.ipynb", [setup, code]))
    nb.run_all(timeout=300)
    page = nb.page
    widget = page.locator(".lw-boxes").first
    canvas = widget.locator(".lw-boxcanvas canvas")
    wait_for(lambda: canvas.get_attribute("data-item") == "scene0.png", message="scene0 painted")
    pid = int((lab.root / "kernel.pid").read_text())
    widget.locator(".lw-header").click()
    page.keyboard.press("Enter")  # scene0: no objects, saved
    _rows(lab, "boxes", "kit", 1, db_name="boxes-kill.db")

    def draw():
        rect = canvas.bounding_box()
        page.mouse.move(rect["x"] + 100, rect["y"] + 80)
        page.mouse.down()
        page.mouse.move(rect["x"] + 220, rect["y"] + 160, steps=4)
        page.mouse.up()
        page.mouse.move(3, 3)

    def rater_goes_on():
        wait_for(lambda: canvas.get_attribute("data-item") == "scene1.png", message="scene1 painted")
        draw()
        page.keyboard.press("Enter")  # submitted: it waits in the kernel
        wait_for(lambda: canvas.get_attribute("data-item") == "scene2.png", message="scene2 at once")
        page.keyboard.press("2")  # dog
        draw()  # drawn, not submitted

    text = busy_then_killed(lab.root / "boxes-kill.db", pid, widget.locator(".lw-status"), rater_goes_on)
    assert "NOT saved: scene1.png (cat) | scene2.png (draft: dog)" in text, text
    assert widget.locator(".lw-count-line").inner_text().startswith("1 box")  # still on screen
    dialog = page.locator(".jp-Dialog button.jp-mod-accept")  # "Kernel Restarting": close it
    if dialog.count():
        dialog.first.click()
    _shot(widget, "boxes-kernel-gone")
    db = LabelStore(lab.root / "boxes-kill.db")
    try:
        stored = db.current(task="boxes", rater="kit")
    finally:
        db.close()
    assert stored["item_id"].tolist() == ["scene0.png"]  # what was acknowledged, and nothing else
