"""The box canvas (``labelwidgets/frontend/canvas.js``) on its own, in headless Chromium.

A static page on 127.0.0.1 loads the real module and plays the kernel's part: it shows the
display copy that ``encode_display`` makes of a 4000 x 3000 photo and answers the canvas's
requests for full-resolution crops. The mouse, wheel and keys are Playwright's; where the
objects are on screen is read from screenshots, never from the canvas's own transform, so the
drawing and the pointer mapping are both checked against the image's true pixels.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelwidgets._geometry import fit_box
from labelwidgets.images import encode_display

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CANVAS_JS = REPO / "labelwidgets" / "frontend" / "canvas.js"
W, H = 4000, 3000
MAGENTA = (2345, 1678, 20, 20)  # x, y, w, h of the first object, in original pixels
CYAN = (2611, 1523, 20, 20)  # the second, reached by panning
CLASSES = ["cat", "dog", "bird"]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  body { margin: 0; font-family: sans-serif; background: #fff; }
  #root { width: 800px; margin: 20px; outline: none; }
  #root:focus { box-shadow: 0 0 0 3px #1a73e8; }
</style></head>
<body><div id="root" tabindex="0"></div>
<script type="module">
import { BoxCanvas, fitBox } from "./canvas.js";
// the key table a widget gets from Python (labelwidgets.keys); here a fixed copy of its shape
const KEYS = {
  "+": ["zoom", [1.5]], "=": ["zoom", [1.5]], "-": ["zoom", [1 / 1.5]], "f": ["fit", []],
  "ArrowLeft": ["pan", [-0.1, 0]], "ArrowRight": ["pan", [0.1, 0]],
  "ArrowUp": ["pan", [0, -0.1]], "ArrowDown": ["pan", [0, 0.1]],
  "Tab": ["next", [1]], "a": ["accept", []], "r": ["reject", []], "Delete": ["delete", []],
  "u": ["restore", []], "Escape": ["deselect", []], "o": ["attribute", ["occluded"]],
  "1": ["label", ["cat"]], "2": ["label", ["dog"]], "3": ["label", ["bird"]],
};
const root = document.getElementById("root");
window.messages = [];
window.changes = 0;
window.details = 0;
const full = new Image();
full.src = "full.png";
const canvas = new BoxCanvas(root, {
  classes: CLASSES, attributes: ["truncated", "occluded", "difficult"], maxWidth: 800,
  onChange: () => { window.changes += 1; },
  onMessage: (text, level) => window.messages.push([level, text]),
  onDetail: async (req) => {  // what the kernel does: crop the original at full resolution
    await full.decode();
    const bmp = await createImageBitmap(full, req.x, req.y, req.w, req.h, {
      resizeWidth: Math.round(req.w * req.scale), resizeHeight: Math.round(req.h * req.scale),
      resizeQuality: "high" });
    if (canvas.setDetail({ ...req, source: bmp })) window.details += 1;
  },
});
root.addEventListener("keydown", (e) => {
  e.stopPropagation();
  const hit = KEYS[e.key];
  if (!hit) return;
  e.preventDefault();
  window.lastAction = canvas.action(hit[0], hit[1]);
});
window.canvas = canvas;
window.fitBox = fitBox;
const display = await createImageBitmap(await (await fetch("display.jpg")).blob());
canvas.setImage({ source: display, width: WIDTH, height: HEIGHT, item: "photo" });
window.ready = true;
</script></body></html>
"""


def _photo() -> Image.Image:
    """A smooth 4000 x 3000 'photo' with two 20 x 20 objects of colours found nowhere else."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    rgb = np.stack([110 + 50 * xx / W, 120 + 40 * yy / H, 100 + 30 * (xx + yy) / (W + H)], -1)
    arr = rgb.astype(np.uint8)
    for (x, y, w, h), colour in ((MAGENTA, (255, 0, 255)), (CYAN, (0, 255, 255))):
        arr[y : y + h, x : x + w] = colour
    return Image.fromarray(arr)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The page, the module, the display copy and the original, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("canvas-site")
    photo = _photo()
    photo.save(root / "full.png", compress_level=1)
    shown = encode_display(photo, max_size=768)
    (root / "display.jpg").write_bytes(shown.data)
    shutil.copy(CANVAS_JS, root / "canvas.js")
    page = PAGE.replace("CLASSES", json.dumps(CLASSES)).replace("WIDTH", str(W))
    (root / "index.html").write_text(page.replace("HEIGHT", str(H)))
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def page(site, browser):
    pg = browser.new_page(900, 800)
    pg.goto(site)
    pg.wait_for_function("window.ready === true", timeout=30_000)
    yield pg
    assert not pg.js_errors, pg.js_errors
    pg.close()


def _canvas_rect(page):
    return page.locator("#root canvas").bounding_box()


def _find(page, colour, shot_name=None):
    """Where a colour is on screen: (left, top, right, bottom) in page CSS px, edges exclusive."""
    page.mouse.move(2, 2)  # no crosshair over the object
    page.wait_for_function("!canvas._frame")
    png = page.locator("#root canvas").screenshot()
    if shot_name:
        _artifact(shot_name, png)
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    if colour == "magenta":
        mask = (r > 170) & (g < 90) & (b > 170)
    else:
        mask = (r < 90) & (g > 170) & (b > 170)
    ys, xs = np.nonzero(mask)
    assert len(xs), f"no {colour} pixels on screen"
    rect = _canvas_rect(page)
    sx = rect["width"] / arr.shape[1]  # screenshot px per CSS px (1 here)
    return (rect["x"] + xs.min() * sx, rect["y"] + ys.min() * sx,
            rect["x"] + (xs.max() + 1) * sx, rect["y"] + (ys.max() + 1) * sx)  # fmt: skip


def _artifact(name, png: bytes) -> None:
    from browser_harness import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.png").write_bytes(png)


def _drag(page, x0, y0, x1, y1, steps=8):
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=steps)
    page.mouse.up()


def _zoom_on(page, target, times=8.0):
    """Focus the widget with a click, then wheel-zoom on ``target`` (page px) past ``times``."""
    page.mouse.click(*target)
    while page.evaluate("canvas.relativeZoom") < times:
        page.mouse.move(*target)
        page.mouse.wheel(0, -100)
        page.wait_for_function("!canvas._frame")
    # the full-resolution crop of the viewport arrives (here from the page, in the widget from
    # the kernel) and is drawn: the object's edges are the original's pixels
    page.wait_for_function("canvas.detail !== null && canvas.detailWanted() === null")
    page.wait_for_timeout(50)


def _boxes(page):
    return page.evaluate("canvas.getBoxes()")


def _centre(rect):
    return ((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2)


# --------------------------------------------------------------------------- the rule
def test_fit_box_in_js_equals_python(page):
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(3000):
        width, height = (float(v) for v in rng.integers(1, 5000, 2))
        w = float(rng.uniform(0.5, width)) if rng.random() < 0.7 else float(rng.integers(1, width + 1))
        h = float(rng.uniform(0.5, height)) if rng.random() < 0.7 else float(rng.integers(1, height + 1))
        cx = float(rng.uniform(-200, width + 200))
        cy = float(rng.choice([0.0, height, rng.uniform(-50, height + 50), h / 2]))
        cases.append((cx, cy, w, h, width, height))
    cases += [(5, 50, 20, 20, 100, 80), (50, 79, 20, 20, 100, 80), (0.1, 0.1, 64, 48, 64, 48)]
    got = page.evaluate("(cases) => cases.map((c) => fitBox(...c))", cases)
    want = [list(fit_box(*c)) for c in cases]
    assert got == want  # the same floats, bit for bit
    # where Python refuses (box larger than the image), the JS places nothing
    assert page.evaluate("fitBox(10, 10, 65, 10, 64, 48)") is None


# --------------------------------------------------------------------------- zoom + draw
def test_small_object_boxed_at_8x_lands_within_a_pixel(page):
    rect = _find(page, "magenta")  # at the fitted zoom (0.2 CSS px per pixel) it is 4 px wide
    _zoom_on(page, _centre(rect))
    assert page.evaluate("canvas.relativeZoom") >= 8
    left, top, right, bottom = _find(page, "magenta", "canvas-zoomed-8x")
    assert right - left > 25  # the object is large on screen now (20 px * 1.6)
    _drag(page, left, top, right, bottom)
    (box,) = _boxes(page)
    x, y, w, h = MAGENTA
    for got, want in zip((box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]),
                         (x, y, x + w, y + h), strict=True):  # fmt: skip
        assert abs(got - want) <= 1.0, (box, MAGENTA)
    assert box["label"] == "cat" and isinstance(box["x"], float) and box["x"] != round(box["x"])
    # zooming out and in again changes nothing about the box: the display is only a view
    page.keyboard.press("f")
    page.keyboard.press("+")
    assert _boxes(page) == [box]
    _artifact("canvas-boxed", page.locator("#root canvas").screenshot())


def test_draw_while_zoomed_and_panned(page):
    rect = _find(page, "magenta")
    _zoom_on(page, _centre(rect), times=10)
    zoom = page.evaluate("canvas.view.zoom")
    # pan with Space held and the mouse, then with an arrow key, towards the cyan object
    c = _canvas_rect(page)
    mid = (c["x"] + c["width"] / 2, c["y"] + c["height"] / 2)
    page.keyboard.down(" ")
    _drag(page, mid[0], mid[1], mid[0] - (CYAN[0] - MAGENTA[0]) * zoom + 60, mid[1] - (CYAN[1] - MAGENTA[1]) * zoom)
    page.keyboard.up(" ")
    assert _boxes(page) == []  # panning drew nothing
    page.keyboard.press("ArrowRight")
    page.wait_for_function("canvas.detail !== null && canvas.detailWanted() === null")
    page.wait_for_timeout(50)
    page.keyboard.press("2")  # class "dog" for the next box
    left, top, right, bottom = _find(page, "cyan", "canvas-panned")
    # start the drag with a margin outside the object, finish it after panning mid-drag: the
    # anchor stays on the image point where it started
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move(left + 10, top + 10, steps=3)
    page.keyboard.press("ArrowLeft")  # pan by a tenth of the view while the button is held
    shift = page.evaluate("0.1 * canvas.cssW")
    page.mouse.move(right + shift, bottom, steps=5)
    page.mouse.up()
    (box,) = _boxes(page)
    x, y, w, h = CYAN
    assert box["label"] == "dog"
    for got, want in zip((box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]),
                         (x, y, x + w, y + h), strict=True):  # fmt: skip
        assert abs(got - want) <= 1.0, (box, CYAN)


def test_zoom_keys_and_limits(page):
    c = _canvas_rect(page)
    page.mouse.click(c["x"] + 100, c["y"] + 100)
    for _ in range(12):
        page.keyboard.press("+")
    assert page.evaluate("canvas.relativeZoom") >= 8  # at least 8x, at most the limit
    assert page.evaluate("canvas.view.zoom") == pytest.approx(page.evaluate("canvas.maxZoom()"))
    for _ in range(12):
        page.keyboard.press("-")
    assert page.evaluate("canvas.relativeZoom") == pytest.approx(0.5)
    page.keyboard.press("f")
    assert page.evaluate("canvas.relativeZoom") == pytest.approx(1)
    # the wheel zooms around the pointer: the image point under it stays under it
    before = page.evaluate("canvas.toImage({x: 300, y: 200})")
    page.mouse.move(c["x"] + 300, c["y"] + 200)
    page.mouse.wheel(0, -300)
    page.wait_for_function("!canvas._frame")
    after = page.evaluate("canvas.toImage({x: 300, y: 200})")
    assert after["x"] == pytest.approx(before["x"], abs=1e-6)
    assert after["y"] == pytest.approx(before["y"], abs=1e-6)
    assert page.evaluate("canvas.relativeZoom") > 1.5


def test_wheel_without_focus_scrolls_the_page(page):
    page.evaluate("document.activeElement.blur()")
    c = _canvas_rect(page)
    page.mouse.move(c["x"] + 200, c["y"] + 200)
    page.mouse.wheel(0, -100)
    page.wait_for_timeout(100)
    assert page.evaluate("canvas.relativeZoom") == pytest.approx(1)
    assert "Click the image first" in page.evaluate("messages.at(-1)[1]")


# --------------------------------------------------------------------------- edit
def test_move_resize_select_delete_restore(page):
    c = _canvas_rect(page)
    ox, oy = c["x"], c["y"]
    z = page.evaluate("canvas.view.zoom")
    to_page = page.evaluate("(p) => canvas.toScreen(p[0], p[1])", [1000, 1000])
    x0, y0 = ox + to_page["x"], oy + to_page["y"]
    _drag(page, x0, y0, x0 + 100, y0 + 60)
    (box,) = _boxes(page)
    assert box["w"] == pytest.approx(100 / z, abs=1e-6) and box["h"] == pytest.approx(60 / z, abs=1e-6)
    assert page.evaluate("canvas.selected") == 0  # a new box is selected
    # drag the selected box: it moves by the drag, in image pixels
    _drag(page, x0 + 50, y0 + 30, x0 + 90, y0 + 50)
    (moved,) = _boxes(page)
    assert moved["x"] == pytest.approx(box["x"] + 40 / z, abs=1e-6)
    assert moved["w"] == pytest.approx(box["w"], abs=1e-9)
    # the bottom-right handle resizes it
    corner = (x0 + 140, y0 + 80)
    _drag(page, *corner, corner[0] + 20, corner[1] + 10)
    (resized,) = _boxes(page)
    assert resized["x"] == pytest.approx(moved["x"], abs=1e-9)
    assert resized["w"] == pytest.approx(moved["w"] + 20 / z, abs=1e-6)
    assert resized["h"] == pytest.approx(moved["h"] + 10 / z, abs=1e-6)
    # a box dragged past the image's edge is clipped to it
    edge = page.evaluate("(p) => canvas.toScreen(p[0], p[1])", [3900, 2900])
    _drag(page, ox + edge["x"], oy + edge["y"], ox + edge["x"] + 200, oy + edge["y"] + 200)
    clipped = _boxes(page)[1]
    assert clipped["x"] + clipped["w"] == pytest.approx(W, abs=1e-9)
    assert clipped["y"] + clipped["h"] == pytest.approx(H, abs=1e-9)
    # attributes belong to the selected box; Delete removes it, U brings it back
    page.keyboard.press("o")
    assert _boxes(page)[1]["attributes"]["occluded"] is True
    assert _boxes(page)[0]["attributes"]["occluded"] is False
    page.keyboard.press("Delete")
    assert len(_boxes(page)) == 1
    assert page.evaluate("lastAction.text") == "Deleted box 2 (cat)."
    page.keyboard.press("u")
    assert len(_boxes(page)) == 2 and _boxes(page)[1]["attributes"]["occluded"] is True
    # a click outside every box deselects; Delete then removes nothing and says why
    page.mouse.click(ox + 20, oy + 20)
    page.keyboard.press("Delete")
    assert len(_boxes(page)) == 2
    assert "Select a box first" in page.evaluate("lastAction.text")
    # a click on a box selects it (the smaller one when nested), a digit relabels it
    page.mouse.click(x0 + 60, y0 + 40)
    assert page.evaluate("canvas.selected") == 0
    page.keyboard.press("3")
    assert _boxes(page)[0]["label"] == "bird"
    _artifact("canvas-selected", page.locator("#root canvas").screenshot())


def test_fixed_size_click_near_every_border(page):
    page.evaluate("canvas.setBoxSize([64, 48])")
    c = _canvas_rect(page)
    targets = [(3, 3), (3990, 5), (2000, 2990), (1, 1500), (3990, 2990), (2000, 1500), (30, 2990)]
    for tx, ty in targets:
        s = page.evaluate("(p) => canvas.toScreen(p[0], p[1])", [tx, ty])
        page.mouse.click(c["x"] + s["x"], c["y"] + s["y"])
        page.keyboard.press("Escape")  # the next click places a new box even over this one
    boxes = _boxes(page)
    assert len(boxes) == len(targets)
    for box, (tx, ty) in zip(boxes, targets, strict=True):
        assert (box["w"], box["h"]) == (64, 48)  # exactly the size, never shrunk
        assert 0 <= box["x"] <= W - 64 and 0 <= box["y"] <= H - 48
        # the rule is Python's, applied to where the click landed (within half a screen pixel)
        want = fit_box(tx, ty, 64, 48, W, H)
        assert box["x"] == pytest.approx(want[0], abs=3) and box["y"] == pytest.approx(want[1], abs=3)
    assert (boxes[0]["x"], boxes[0]["y"]) == (0, 0)
    assert (boxes[1]["x"], boxes[1]["y"]) == (W - 64, 0)
    assert boxes[2]["y"] == H - 48 and boxes[3]["x"] == 0
    assert (boxes[4]["x"], boxes[4]["y"]) == (W - 64, H - 48)
    # in fixed-size mode a drag pans instead of drawing, and a box keeps its size when moved
    z0 = page.evaluate("canvas.view.ox")
    page.keyboard.press("+")
    page.keyboard.press("+")
    _drag(page, c["x"] + 400, c["y"] + 300, c["x"] + 300, c["y"] + 300)
    assert len(_boxes(page)) == len(targets) and page.evaluate("canvas.view.ox") != z0
    # a box larger than the image is refused with a message, not placed
    page.evaluate("canvas.setBoxSize([5000, 10])")
    page.keyboard.press("f")
    page.mouse.click(c["x"] + 200, c["y"] + 450)  # no box under it
    assert len(_boxes(page)) == len(targets)
    assert "must fit inside the image" in page.evaluate("messages.at(-1)[1]")


# --------------------------------------------------------------------------- verify mode
def test_verify_mode_accept_reject_change_by_key(page):
    model = [
        {"x": 100, "y": 100, "w": 400, "h": 300, "label": "cat", "model": {"x": 100, "y": 100, "w": 400, "h": 300, "label": "cat", "confidence": 0.91}},
        {"x": 1500, "y": 800, "w": 300, "h": 300, "label": "dog", "model": {"x": 1500, "y": 800, "w": 300, "h": 300, "label": "dog", "confidence": 0.55}},
        {"x": 2600, "y": 2000, "w": 500, "h": 400, "label": "bird", "model": {"x": 2600, "y": 2000, "w": 500, "h": 400, "label": "bird", "confidence": 0.32}},
        {"x": 3000, "y": 300, "w": 300, "h": 200, "label": "cat", "model": {"x": 3000, "y": 300, "w": 300, "h": 200, "label": "cat", "confidence": 0.4}},
    ]  # fmt: skip
    page.evaluate("(b) => canvas.setBoxes(b)", model)
    c = _canvas_rect(page)
    page.mouse.click(c["x"] + 5, c["y"] + 5)  # focus; nothing under the click
    _artifact("canvas-verify-before", page.locator("#root canvas").screenshot())
    page.keyboard.press("Tab")
    assert page.evaluate("canvas.selected") == 0
    page.keyboard.press("a")  # accept box 1; the next undecided box is selected
    assert page.evaluate("canvas.selected") == 1
    page.keyboard.press("r")  # reject box 2
    assert page.evaluate("canvas.selected") == 2
    page.keyboard.press("1")  # box 3 was a cat: relabelled, so changed
    page.keyboard.press("Tab")
    assert page.evaluate("canvas.selected") == 3  # Tab goes through the undecided ones
    page.keyboard.press("Delete")  # Delete on a model box rejects it: the decision is kept
    verdicts = [b["model"]["verdict"] for b in _boxes(page)]
    assert verdicts == ["accepted", "rejected", "changed", "rejected"]
    assert len(_boxes(page)) == 4
    # a rejected box can be accepted again; moving an accepted box makes it "changed"
    page.evaluate("canvas.select(1)")
    page.keyboard.press("a")
    assert _boxes(page)[1]["model"]["verdict"] == "accepted"
    s = page.evaluate("canvas.toScreen(300, 250)")
    page.mouse.click(c["x"] + s["x"], c["y"] + s["y"])  # select box 1
    _drag(page, c["x"] + s["x"], c["y"] + s["y"], c["x"] + s["x"] + 30, c["y"] + s["y"])
    assert _boxes(page)[0]["model"]["verdict"] == "changed"
    assert _boxes(page)[0]["model"]["x"] == 100  # the model's own box is kept for the record
    page.evaluate("canvas.select(3)")
    _artifact("canvas-verify-after", page.locator("#root canvas").screenshot())
