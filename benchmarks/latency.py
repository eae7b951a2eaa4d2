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
    "boxes": ("w = lw.BoxAnnotator(images, classes=['thing'], rater='{rater}', store=store)\nw",
              ".labelwidgets img", []),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--widget", choices=["tagger", "boxes", "all"], default="all")
    args = parser.parse_args()
    widgets = list(WIDGETS) if args.widget == "all" else [args.widget]
    with tempfile.TemporaryDirectory() as tmp:
        server, browser = LabServer(Path(tmp) / "lab"), Browser()
        try:
            for widget in widgets:
                lat = measure(server, browser, widget, args.items)
                print(f"{widget:<7} submit key -> next image painted: median {np.median(lat):6.1f} ms   "
                      f"p95 {np.percentile(lat, 95):6.1f} ms   max {lat.max():6.1f} ms   (n={len(lat)})")  # fmt: skip
        finally:
            browser.close()
            server.stop()


if __name__ == "__main__":
    main()
