"""Interaction latency in a real browser: key press that submits -> next image painted.

JupyterLab on 127.0.0.1, headless Chromium (Playwright), 200 items of about 1 megapixel JPEG.
The page records ``performance.now()`` at the Enter keydown and again two animation frames after
the next image has loaded into the widget's ``<img>``; we print the median and p95 of the
differences. Run: ``python benchmarks/latency.py [--items 200] [--widget tagger|boxes|all]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser_harness import Browser, LabServer, NotebookPage, wait_for  # noqa: E402

PROBE = """
() => {
  window.__lat = []; window.__load = []; window.__t0 = null;
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__t0 = performance.now(); }, true);
  const watch = (img) => img.addEventListener('load', () => {
    if (window.__t0 === null) return;
    const t0 = window.__t0; window.__t0 = null;
    window.__load.push(performance.now() - t0);
    requestAnimationFrame(() => requestAnimationFrame(() => window.__lat.push(performance.now() - t0)));
  });
  document.querySelectorAll(SELECTOR).forEach(watch);
  new MutationObserver((muts) => muts.forEach((m) => m.addedNodes.forEach((n) => {
    if (n.querySelectorAll) n.querySelectorAll(SELECTOR).forEach(watch);
  }))).observe(document.body, {childList: true, subtree: true});
}
"""

SETUP = """
import numpy as np
from pathlib import Path
from PIL import Image
import labelwidgets as lw
folder = Path("latency-images"); folder.mkdir(exist_ok=True)
rng = np.random.default_rng(0)
for i in range({n}):
    p = folder / f"{{i:03d}}.jpg"
    if not p.exists():
        base = np.linspace(0, 255, 1200)[None, :, None] * rng.uniform(0.3, 1, size=(1, 1, 3))
        noise = rng.normal(0, 25, size=(850, 1200, 3))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(p, quality=90)
images = lw.ImageSet.from_folder(folder)
store = lw.LabelStore("latency.db")
"""
WIDGETS = {
    "tagger": ("w = lw.MultiTaskTagger(images, {{'quality': ['good', 'bad']}}, rater='{rater}', store=store)\nw",
               ".labelwidgets img", ["1"]),
}


def measure(server: LabServer, browser: Browser, widget: str, n: int) -> np.ndarray:
    code, selector, before = WIDGETS[widget]
    name = server.write_notebook(f"latency-{widget}.ipynb", [SETUP.format(n=n), code.format(rater=f"{widget}-bench")])
    page = NotebookPage(server, browser, name)
    page.run_all(timeout=600)
    page.assert_widgets_ok()
    page.page.locator(selector).first.wait_for(timeout=60_000)
    page.page.evaluate(PROBE.replace("SELECTOR", repr(selector)))
    box = page.page.locator(".labelwidgets").first
    box.scroll_into_view_if_needed()
    box.hover()
    for i in range(n - 1):
        for key in before:
            page.page.keyboard.press(key)
        page.page.keyboard.press("Enter")
        wait_for(lambda i=i: page.page.evaluate("window.__lat.length") > i or None, timeout=30,
                 message=f"image {i + 2} painted")  # fmt: skip
    lat = np.array(page.page.evaluate("window.__lat"))
    loaded = np.array(page.page.evaluate("window.__load"))
    print(f"{widget:<7} submit key -> next image decoded:  median {np.median(loaded):6.1f} ms   "
          f"p95 {np.percentile(loaded, 95):6.1f} ms   (n={len(loaded)})")
    page.screenshot(f"latency-{widget}", ".labelwidgets")
    page.close()
    return lat


# --------------------------------------------------------------------------- box annotator
# The box annotator paints on a canvas: the probe watches its ``data-item`` (set in the same
# task as the paint) instead of an <img> load, and the progress count, which changes when the
# kernel's ack says the row is committed. The peer is jupyter-bbox-widget, the previous drawing
# surface, advanced the way it must be: its Submit message reaches the kernel, which sends the
# next image's bytes (all encoded beforehand, so only transport, decode and paint are timed).
BOX_PROBE = """
() => {
  window.__lat = []; window.__ack = []; window.__t0 = null; const sent = [];
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { window.__t0 = performance.now(); sent.push(window.__t0); }
  }, true);
  const root = document.querySelector('.lw-boxes');
  new MutationObserver(() => {
    if (window.__t0 === null) return;
    const t0 = window.__t0; window.__t0 = null;
    requestAnimationFrame(() => requestAnimationFrame(() => window.__lat.push(performance.now() - t0)));
  }).observe(root.querySelector('.lw-boxcanvas canvas'), {attributes: true, attributeFilter: ['data-item']});
  let done = null;
  new MutationObserver(() => {
    const b = root.querySelector('.lw-progress-text b');
    const n = b ? parseInt(b.textContent, 10) : NaN;
    if (done === null) { done = n; return; }
    while (n > done && sent.length) { window.__ack.push(performance.now() - sent.shift()); done += 1; }
  }).observe(root.querySelector('.lw-progress'), {childList: true, subtree: true, characterData: true});
  root.querySelector('.lw-progress').dataset.probe = '1';
}
"""
PEER_PROBE = """
() => {
  window.__lat = []; window.__t0 = null;
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__t0 = performance.now(); }, true);
  document.querySelectorAll('img[alt="annotate me"]').forEach((img) => img.addEventListener('load', () => {
    if (window.__t0 === null) return;
    const t0 = window.__t0; window.__t0 = null;
    requestAnimationFrame(() => requestAnimationFrame(() => window.__lat.push(performance.now() - t0)));
  }));
}
"""
BOXES = "w = lw.BoxAnnotator(images, ['thing'], rater='boxes-bench', store=store)\nw"
PEER = """
from jupyter_bbox_widget import BBoxWidget
shown = [images.display(i, max_size=1024).data for i in images.item_ids]
state = {"i": 0}
peer = BBoxWidget(classes=["thing"], image_bytes=shown[0])
def _next():
    state["i"] += 1
    peer.image_bytes = shown[state["i"]]
peer.on_submit(_next)
peer
"""


def _figures(name: str, what: str, values) -> None:
    v = np.asarray(values)
    print(f"{name:<22} {what}: median {np.median(v):6.1f} ms   p95 {np.percentile(v, 95):6.1f} ms   "
          f"max {v.max():6.1f} ms   (n={len(v)})")  # fmt: skip


def measure_boxes(server: LabServer, browser: Browser, n: int) -> None:
    """Key (Enter) -> next image painted and -> row committed, BoxAnnotator vs jupyter-bbox-widget."""
    name = server.write_notebook("latency-boxes.ipynb", [SETUP.format(n=n), BOXES])
    page = NotebookPage(server, browser, name)
    page.run_all(timeout=600)
    page.assert_widgets_ok()
    canvas = page.page.locator(".lw-boxes .lw-boxcanvas canvas")
    wait_for(lambda: canvas.get_attribute("data-item") is not None, timeout=60, message="first image")
    page.page.evaluate(BOX_PROBE)
    page.page.locator(".lw-boxes .lw-header").click()  # one click: the widget holds the keys
    page.page.mouse.move(2, 2)
    for i in range(n - 1):
        page.page.keyboard.press("Enter")  # "no objects": the fastest a rater can go
        wait_for(lambda i=i: page.page.evaluate(f"window.__lat.length > {i} && window.__ack.length > {i}") or None,
                 timeout=30, message=f"image {i + 2} painted and row {i + 1} committed")  # fmt: skip
    lat, ack = page.page.evaluate("window.__lat"), page.page.evaluate("window.__ack")
    page.screenshot("latency-boxes", ".lw-boxes")
    page.close()

    name = server.write_notebook("latency-bbox-peer.ipynb", [SETUP.format(n=n), PEER])
    page = NotebookPage(server, browser, name)
    page.run_all(timeout=600)
    page.assert_widgets_ok()
    page.page.locator('img[alt="annotate me"]').first.wait_for(timeout=60_000)
    page.page.evaluate(PEER_PROBE)
    page.page.locator(".classes").first.click()  # focuses its wrapper: Enter submits
    for i in range(n - 1):
        page.page.keyboard.press("Enter")
        wait_for(lambda i=i: page.page.evaluate("window.__lat.length") > i or None, timeout=30,
                 message=f"peer image {i + 2} painted")  # fmt: skip
    peer = page.page.evaluate("window.__lat")
    page.close()
    _figures("boxes", "submit key -> next image painted", lat)
    _figures("boxes", "submit key -> row committed (ack)", ack)
    _figures("jupyter-bbox-widget", "submit key -> next image painted", peer)
    print(f"{'ratio':<22} peer / boxes, median {np.median(peer) / np.median(lat):.1f}x, "
          f"p95 {np.percentile(peer, 95) / np.percentile(lat, 95):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--widget", choices=["tagger", "boxes", "all"], default="all")
    args = parser.parse_args()
    widgets = [*WIDGETS, "boxes"] if args.widget == "all" else [args.widget]
    with tempfile.TemporaryDirectory() as tmp:
        server, browser = LabServer(Path(tmp) / "lab"), Browser()
        try:
            for widget in widgets:
                if widget == "boxes":
                    measure_boxes(server, browser, args.items)
                    continue
                lat = measure(server, browser, widget, args.items)
                print(f"{widget:<7} submit key -> next image painted: median {np.median(lat):6.1f} ms   "
                      f"p95 {np.percentile(lat, 95):6.1f} ms   max {lat.max():6.1f} ms   (n={len(lat)})")  # fmt: skip
        finally:
            browser.close()
            server.stop()


if __name__ == "__main__":
    main()
