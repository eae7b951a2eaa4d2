"""Interaction latency in a real browser: the key that submits -> the next image painted, and
-> the commit acknowledged (the row is in the store when the kernel acks).

JupyterLab on 127.0.0.1, headless Chromium (Playwright), 200 items of about 1 megapixel JPEG.

- The tagger (anywidget, this package): the page records ``performance.now()`` at the Enter
  keydown and again two animation frames after the tagger's canvas shows the next item
  (``canvas[data-item]`` changes); the ack time is the widget's own ``lw-ack`` event (send -> ack,
  the kernel acks after the row is committed).
- The peer, in the same run: the ipywidgets tagger this package had before (git revision
  ``--peer``, extracted to a temporary folder and imported by its own JupyterLab server): Enter
  keydown -> two frames after the next image's ``<img>`` loaded. Keys reach it with the mouse over
  it (ipyevents).
- The box annotator (anywidget, this package): the same on its box canvas
  (``.lw-boxes canvas[data-item]``); its peer is the peer revision's BoxAnnotator
  (jupyter-bbox-widget in an ipywidgets session, keys by ipyevents with the mouse over it).

Both are driven at the same pace: the next key after the previous image is painted (with
``--pace committed``, also after the previous row is committed: a rater slower than the kernel).
Run: ``python benchmarks/latency.py [--items 200] [--widget tagger|boxes|all] [--peer REV|none]
[--pace painted|committed]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser_harness import Browser, LabServer, NotebookPage, wait_for  # noqa: E402

PEER_REV = "ce35239"  # the last revision with the ipywidgets/ipyevents tagger

CANVAS_PROBE = """
() => {
  window.__lat = []; window.__ack = []; window.__kms = []; window.__t0 = null; window.__seen = null;
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__t0 = performance.now(); }, true);
  document.addEventListener('lw-ack', (e) => {
    if (e.detail.type === 'submit') { window.__ack.push(e.detail.ms); window.__kms.push(e.detail.kernel_ms); }
  }, true);
  const canvas = document.querySelector('.lw-tagger canvas.lw-canvas');
  window.__seen = canvas.dataset.item;
  new MutationObserver(() => {
    if (canvas.dataset.item === window.__seen || window.__t0 === null) return;
    window.__seen = canvas.dataset.item;
    const t0 = window.__t0; window.__t0 = null;
    requestAnimationFrame(() => requestAnimationFrame(() => window.__lat.push(performance.now() - t0)));
  }).observe(canvas, {attributes: true, attributeFilter: ['data-item']});
}
"""

# the box annotator paints on the box canvas inside its own root
BOX_PROBE = CANVAS_PROBE.replace(".lw-tagger canvas.lw-canvas", ".lw-boxes .lw-boxcanvas canvas")

IMG_PROBE = """
() => {
  window.__lat = []; window.__ack = []; window.__kms = []; window.__t0 = null;
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__t0 = performance.now(); }, true);
  const watch = (img) => img.addEventListener('load', () => {
    if (window.__t0 === null) return;
    const t0 = window.__t0; window.__t0 = null;
    requestAnimationFrame(() => requestAnimationFrame(() => window.__lat.push(performance.now() - t0)));
  });
  document.querySelectorAll('.labelwidgets img').forEach(watch);
  new MutationObserver((muts) => muts.forEach((m) => m.addedNodes.forEach((n) => {
    if (n.querySelectorAll) n.querySelectorAll('.labelwidgets img').forEach(watch);
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
store = lw.LabelStore("latency-{name}.db")
"""
# name -> (code showing the widget, probe, keys before Enter, keys land by: "focus" | "hover")
WIDGETS = {
    "tagger": ("w = lw.MultiTaskTagger(images, {{'quality': ['good', 'bad']}}, rater='{rater}', store=store)\nw",
               CANVAS_PROBE, ["1"], "focus"),
    "peer-tagger": ("w = lw.MultiTaskTagger(images, {{'quality': ['good', 'bad']}}, rater='{rater}', store=store)\nw",
                    IMG_PROBE, ["1"], "hover"),
    "boxes": ("w = lw.BoxAnnotator(images, ['thing'], rater='{rater}', store=store)\nw",
              BOX_PROBE, [], "focus"),
    # the box annotator of the peer revision: jupyter-bbox-widget in an ipywidgets session
    "peer-boxes": ("w = lw.BoxAnnotator(images, classes=['thing'], rater='{rater}', store=store)\nw",
                   IMG_PROBE, [], "hover"),
}


def measure(server: LabServer, browser: Browser, widget: str, n: int,
            pace: str = "painted") -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    code, probe, before, keys_by = WIDGETS[widget]
    name = server.write_notebook(
        f"latency-{widget}.ipynb", [SETUP.format(n=n, name=widget), code.format(rater=f"{widget}-bench")]
    )
    page = NotebookPage(server, browser, name)
    page.run_all(timeout=600)
    page.assert_widgets_ok()
    box = page.page.locator(".labelwidgets").first
    box.scroll_into_view_if_needed()
    if probe in (CANVAS_PROBE, BOX_PROBE):
        wait_for(lambda: box.locator("canvas").get_attribute("data-item"), timeout=60, message="painted")
    else:
        page.page.locator(".labelwidgets img").first.wait_for(timeout=60_000)
    page.page.evaluate(probe)
    if keys_by == "focus":
        box.locator(".lw-header").click()  # one click; the mouse may then go anywhere
        page.page.mouse.move(3, 3)
    else:
        box.hover()
    for i in range(n - 1):
        for key in before:
            page.page.keyboard.press(key)
        page.page.keyboard.press("Enter")
        try:
            wait_for(lambda i=i: page.page.evaluate("window.__lat.length") > i or None, timeout=30,
                     message=f"image {i + 2} painted")  # fmt: skip
        except TimeoutError:
            page.screenshot(f"latency-{widget}-stalled", ".labelwidgets")
            raise
        if pace == "committed" and probe is not IMG_PROBE:  # a rater's pace: the row is in first
            wait_for(lambda i=i: page.page.evaluate("window.__ack.length") > i or None, timeout=30,
                     message=f"row {i + 1} committed")  # fmt: skip
    time.sleep(1.0)  # the last acks
    lat = np.array(page.page.evaluate("window.__lat"))
    ack = np.array(page.page.evaluate("window.__ack"))
    kms = np.array(page.page.evaluate("window.__kms"), dtype=float)
    page.screenshot(f"latency-{widget}", ".labelwidgets")
    page.close()
    return lat, ack, kms


def _peer_package(rev: str, into: Path) -> Path | None:
    """The package as it was at ``rev`` (git archive), or None when git cannot give it."""
    try:
        data = subprocess.run(["git", "-C", str(REPO), "archive", rev, "labelwidgets"],
                              capture_output=True, check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"peer {rev}: not available ({exc}); measuring this package only")
        return None
    archive = into / "peer.tar"
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "peer", filter="data")
    return into / "peer"


def _row(label: str, values: np.ndarray) -> str:
    if not len(values):
        return f"{label:<44} (no samples)"
    return (f"{label:<44} median {np.median(values):6.1f} ms   p95 {np.percentile(values, 95):6.1f} ms"
            f"   max {values.max():6.1f} ms   (n={len(values)})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--widget", choices=["tagger", "boxes", "all"], default="tagger")
    parser.add_argument("--peer", default=PEER_REV, help="git revision of the peer tagger, or 'none'")
    parser.add_argument("--pace", choices=["painted", "committed"], default="painted",
                        help="press the next key once the image is painted (default) or once the "
                             "previous row is committed too (a rater slower than the kernel)")
    args = parser.parse_args()
    widgets = ["tagger", "boxes"] if args.widget == "all" else [args.widget]
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} CPUs)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        browser = Browser()
        try:
            server = LabServer(tmp / "lab")
            try:
                for widget in widgets:
                    results[widget] = measure(server, browser, widget, args.items, args.pace)
            finally:
                server.stop()
            peer = _peer_package(args.peer, tmp) if args.peer != "none" else None
            if peer is not None:
                os.environ["PYTHONPATH"] = f"{peer}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
                server = LabServer(tmp / "peer-lab")
                try:
                    for widget in widgets:
                        results[f"peer-{widget}"] = measure(server, browser, f"peer-{widget}", args.items, args.pace)
                finally:
                    server.stop()
        finally:
            browser.close()
    print(f"load after: {os.getloadavg()[0]:.2f}")
    for widget, (lat, ack, kms) in results.items():
        print(_row(f"{widget}: submit key -> next image painted", lat))
        if len(ack):
            print(_row(f"{widget}: submit key -> commit acknowledged", ack))
            print(_row(f"{widget}:   of which in the kernel's handler", kms))
    for widget in widgets:
        if widget in results and f"peer-{widget}" in results:
            new, old = results[widget][0], results[f"peer-{widget}"][0]
            print(f"{widget} vs peer ({args.peer}): median {np.median(old) / np.median(new):.1f}x faster, "
                  f"p95 {np.percentile(old, 95) / np.percentile(new, 95):.1f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()
