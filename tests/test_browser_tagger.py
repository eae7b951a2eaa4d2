"""The tagger in a real browser: headless Chromium against JupyterLab 4 and Notebook 7.

Keyboard focus that stays (one click, then keys with the mouse elsewhere), no key reaching the
notebook while the tagger has focus and no key reaching the tagger from a code cell, options that
wrap at 12 and 30, keys that pick 10-30, the dark theme, and a kernel killed mid-session.
"""

from __future__ import annotations

import textwrap

import pytest
from browser_harness import LabServer, NotebookPage, busy_then_killed, readme_shot, wait_for

from labelwidgets.store import LabelStore

pytestmark = pytest.mark.browser

SHAPES = textwrap.dedent(
    """
    import labelwidgets as lw
    shapes = lw.load_demo("shapes")
    store = lw.LabelStore({db!r})
    tagger = lw.MultiTaskTagger(shapes, lw.demo_tasks("shapes"), rater={rater!r}, store=store)
    tagger
    """
)


def _labels(root, db: str, rater: str):
    store = LabelStore(root / db)
    try:
        return store.labels(rater=rater)
    finally:
        store.close()


def _painted(widget) -> str:
    """The item id drawn on the tagger's canvas (set once the image is painted)."""
    return widget.locator("canvas.lw-canvas").get_attribute("data-item") or ""


def _tagger(page, nth: int = 0):
    widget = page.page.locator(".lw-tagger").nth(nth)
    widget.scroll_into_view_if_needed()
    wait_for(lambda: _painted(widget), message="the first image painted")
    return widget


def _focused(page) -> bool:
    return page.page.evaluate("() => !!document.activeElement?.classList.contains('lw-root')")


def _contrast(page, selector: str) -> float:
    """WCAG contrast ratio between an element's text colour and the tagger's background."""
    return page.page.evaluate(
        """(sel) => {
          const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
            v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
          const el = document.querySelector(sel);
          const fg = lum(getComputedStyle(el).color);
          const bg = lum(getComputedStyle(el.closest('.lw-tagger')).backgroundColor);
          return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        }""",
        selector,
    )


def test_keys_after_one_click_and_no_keys_leak(lab, notebook_page):
    name = lab.write_notebook(
        "focus.ipynb", [SHAPES.format(db="focus.db", rater="kb"), "x = 1  # a code cell"]
    )
    page = notebook_page(name)
    page.run_all()
    page.assert_widgets_ok()
    widget = _tagger(page)
    first = _painted(widget)
    readme_shot(page.page, "tagger", ".lw-tagger")

    # one click on the widget, then the mouse goes elsewhere: the keys still reach it
    widget.locator(".lw-header").click()
    page.page.mouse.move(3, 3)
    assert _focused(page)
    wanted = [("1", ["2"]), ("2", ["1", "3"]), ("3", []), ("1", ["1", "2", "3"]), ("2", ["2"])]
    shapes, colors = ["circle", "square", "triangle"], ["red", "green", "blue"]
    painted = [first]
    for shape, picks in wanted:
        page.page.keyboard.press(shape)  # a single-label pick moves on to the colors
        for key in picks:
            page.page.keyboard.press(key)
        page.page.keyboard.press("Enter")
        painted.append(wait_for(lambda: (p := _painted(widget)) != painted[-1] and p,
                                message="the next image painted"))  # fmt: skip
    readme_shot(page.page, "tagger-after-keys", ".lw-tagger")
    labels = wait_for(lambda: (df := _labels(lab.root, "focus.db", "kb"))["item_id"].nunique() == 5 and df,
                      message="five items stored")  # fmt: skip
    got = {
        item: (rows.query("task == 'shape'")["label"].item(), sorted(rows.query("task == 'colors'")["label"]))
        for item, rows in labels.groupby("item_id")
    }
    expected = {
        item: (shapes[int(s) - 1], sorted(colors[int(k) - 1] for k in picks))
        for item, (s, picks) in zip(painted[:5], wanted, strict=True)
    }
    assert got == expected
    assert "5 / 120" in widget.locator(".lw-progress").inner_text()
    wait_for(lambda: "✓ saved" in widget.locator(".lw-progress").inner_text(), message="saved mark")

    # typing 1, 2, Enter in a code cell with the mouse over the tagger changes no label
    cell = page.page.locator(".jp-Notebook .jp-Cell.jp-CodeCell").nth(1)
    cell.locator(".cm-content").click()
    widget.hover()
    for key in ["1", "2", "Enter"]:
        page.page.keyboard.press(key)
    assert "12" in cell.locator(".cm-content").inner_text()
    page.page.wait_for_timeout(1000)
    assert len(_labels(lab.root, "focus.db", "kb")) == len(labels) and _painted(widget) == painted[-1]

    # X (cut cell), D D (delete), A / B (insert), M (markdown), Shift+Enter (run) while the tagger
    # has focus: no notebook shortcut fires
    cells = page.page.locator(".jp-Notebook .jp-Cell")
    n_cells = cells.count()
    widget.locator(".lw-status").click()
    page.page.mouse.move(3, 3)
    for key in ["x", "d", "d", "a", "b", "m", "Shift+Enter", "c", "v"]:
        page.page.keyboard.press(key)
    page.page.wait_for_timeout(500)
    assert cells.count() == n_cells
    assert page.page.locator(".jp-Notebook .jp-Cell.jp-MarkdownCell").count() == 0
    assert "12" in cell.locator(".cm-content").inner_text()

    # Escape releases the keyboard: keys no longer reach the tagger
    chosen = widget.locator(".lw-option.lw-chosen").count()
    page.page.keyboard.press("Escape")
    assert not _focused(page)
    page.page.keyboard.press("2")
    page.page.wait_for_timeout(300)
    assert widget.locator(".lw-option.lw-chosen").count() == chosen
    page.assert_widgets_ok()

    # the dark theme: text stays readable
    page.page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    try:
        wait_for(lambda: page.page.evaluate("document.body.dataset.jpThemeLight") == "false",
                 message="dark theme")  # fmt: skip
        page.page.wait_for_timeout(500)
        widget.locator(".lw-header").click()
        readme_shot(page.page, "tagger-dark", ".lw-tagger")
        for selector in (".lw-tagger .lw-label", ".lw-tagger .lw-title b", ".lw-tagger .lw-help"):
            assert _contrast(page, selector) >= 4.5, selector
    finally:
        page.page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")


MANY = textwrap.dedent(
    """
    from pathlib import Path
    from PIL import Image
    import labelwidgets as lw
    folder = Path("many"); folder.mkdir(exist_ok=True)
    for i in range(3):
        Image.new("RGB", (2400, 1600), (60 * i, 120, 90)).save(folder / f"{i}.jpg")
    images = lw.ImageSet.from_folder(folder)
    store = lw.LabelStore("many.db")
    tasks12 = {"species": [f"species number {i}" for i in range(1, 13)], "size": ["small", "large"]}
    tasks30 = {"code": [f"a fairly long option name {i}" for i in range(1, 31)], "ok": ["yes", "no"]}
    t12 = lw.MultiTaskTagger(images, tasks12, rater="r12", store=store)
    t30 = lw.MultiTaskTagger(images, tasks30, rater="r30", store=store)
    """
)


def test_many_options_wrap_and_two_digit_keys(lab, notebook_page):
    name = lab.write_notebook("many.ipynb", [MANY, "t12", "t30"])
    page = notebook_page(name, width=1100, height=2200)
    page.run_all()
    page.assert_widgets_ok()
    t12, t30 = _tagger(page, 0), _tagger(page, 1)
    # every option is whole: no button is cut or wider than its row
    for widget in (t12, t30):
        cut = widget.evaluate(
            """(el) => [...el.querySelectorAll('.lw-option')].filter((b) => {
                 const row = b.closest('.lw-options').getBoundingClientRect(), r = b.getBoundingClientRect();
                 return b.scrollWidth > b.clientWidth + 1 || r.right > row.right + 1 || r.left < row.left - 1;
               }).length"""
        )
        assert cut == 0
        # the large image is scaled to fit inside the widget
        img, box = widget.locator("canvas.lw-canvas").bounding_box(), widget.bounding_box()
        assert img["width"] <= box["width"] and img["height"] <= 800
    readme_shot(page.page, "tagger-30-options", ".lw-tagger >> nth=1")

    t30.locator(".lw-header").click()
    page.page.mouse.move(3, 3)
    for key in ["2", "7", "1", "Enter"]:  # 27 in "code", then 1 = yes
        page.page.keyboard.press(key)
    t12.locator(".lw-header").click()
    page.page.mouse.move(3, 3)
    for key in ["1", "2", "2", "Enter"]:  # 12 in "species" (not 1 here and 2 in "size"), 2 = large
        page.page.keyboard.press(key)
    page.page.keyboard.press("1")  # 1 alone: picked when the interval passes
    page.page.wait_for_timeout(900)
    assert "species number 1" in t12.locator(".lw-option.lw-chosen").first.inner_text()
    got = wait_for(lambda: len(df := _labels(lab.root, "many.db", "r12")) == 2 and df, message="r12 rows")
    assert sorted(got["label"]) == ["large", "species number 12"]
    got = _labels(lab.root, "many.db", "r30")
    assert sorted(got["label"]) == ["a fairly long option name 27", "yes"]
    tip = t12.locator(".lw-option").nth(11).get_attribute("title")
    assert tip.startswith("Type 1 then 2 quickly")
    page.assert_widgets_ok()


def test_kernel_killed_mid_session(lab, notebook_page):
    """Busy kernel: answers wait and say so. Killed kernel: the unsaved answers are listed,
    nothing half-written is stored, and the widget run again resumes at the first unsaved item.

    The kernel is kept busy by another writer holding the store's write lock (as a teammate's
    long transaction would): the tagger's commit waits for it inside the kernel, so no ack comes.
    """
    name = lab.write_notebook(
        "kill.ipynb",
        [SHAPES.format(db="kill.db", rater="kk"), "import os\nopen('kernel.pid', 'w').write(str(os.getpid()))"],
    )  # fmt: skip
    page = notebook_page(name)
    page.run_all()
    widget = _tagger(page)
    pid = int((lab.root / "kernel.pid").read_text())
    saved = _painted(widget)
    widget.locator(".lw-header").click()
    page.page.mouse.move(3, 3)
    for key in ["1", "1", "Enter"]:  # saved before the kernel gets busy
        page.page.keyboard.press(key)
    wait_for(lambda: len(_labels(lab.root, "kill.db", "kk")) == 2, message="first item stored")

    waiting = []
    status = widget.locator(".lw-status")

    def rater_goes_on():
        for keys in (["2", "2", "Enter"], ["3", "Enter"]):
            waiting.append(_painted(widget))
            for key in keys:
                page.page.keyboard.press(key)
        assert _painted(widget) not in waiting  # the rater went on at once

    def while_busy():
        assert all(item in status.inner_text() for item in waiting)
        assert "2 answers not saved yet" in status.inner_text()
        assert "saving 2" in widget.locator(".lw-progress").inner_text()
        readme_shot(page.page, "tagger-kernel-busy", ".lw-tagger")

    text = busy_then_killed(lab.root / "kill.db", pid, status, rater_goes_on, while_busy)
    assert f"{waiting[0]} (shape: square; colors: green)" in text
    assert f"{waiting[1]} (shape: triangle; colors: none)" in text
    assert "NOT saved" in text and "run the cell again" in text
    assert "2 NOT saved" in widget.locator(".lw-progress").inner_text()
    dialog = page.page.locator(".jp-Dialog button.jp-mod-accept")  # "Kernel Restarting": close it
    wait_for(lambda: dialog.count(), timeout=10, message="JupyterLab's restart dialog")
    dialog.first.click()
    readme_shot(page.page, "tagger-kernel-gone", ".lw-tagger")
    labels = _labels(lab.root, "kill.db", "kk")
    assert set(labels["item_id"]) == {saved}  # what was acknowledged, and nothing else
    assert widget.locator("button.lw-action").first.is_disabled()

    # the kernel restarted: run the tagger's cell again, it resumes at the first unsaved item
    page.wait_kernel_idle()
    page.page.locator(".jp-Notebook .jp-Cell.jp-CodeCell").nth(0).locator(".cm-content").click()
    page.page.keyboard.press("Shift+Enter")
    fresh = page.page.locator(".lw-tagger").last
    wait_for(lambda: _painted(fresh) == waiting[0], timeout=60, message="resumed at the first unsaved item")


def test_tagger_in_notebook7(browser, tmp_path):
    server = LabServer(tmp_path / "nb7", app="notebook")
    try:
        page = NotebookPage(server, browser, server.write_notebook(
            "nb7.ipynb", [SHAPES.format(db="nb7.db", rater="n7")]))  # fmt: skip
        page.run_all()
        page.assert_widgets_ok()
        widget = _tagger(page)
        first = _painted(widget)
        widget.locator(".lw-option", has_text="triangle").click()  # the mouse
        widget.locator(".lw-option", has_text="blue").click()
        page.page.mouse.move(3, 3)
        page.page.keyboard.press("Enter")  # the key, with the mouse elsewhere
        wait_for(lambda: _painted(widget) != first, message="next image")
        labels = wait_for(lambda: len(df := _labels(server.root, "nb7.db", "n7")) == 2 and df,
                          message="two rows")  # fmt: skip
        assert sorted(labels["label"]) == ["blue", "triangle"] and set(labels["item_id"]) == {first}
        readme_shot(page.page, "tagger-notebook7", ".lw-tagger")
        page.assert_widgets_ok()
        # the one page error the harness ignores in Notebook 7 happens without any widget too
        empty = NotebookPage(server, browser, server.write_notebook("empty.ipynb", ["1 + 1"]))
        empty.page.wait_for_timeout(2000)
        from browser_harness import UPSTREAM_JS_ERRORS

        known = UPSTREAM_JS_ERRORS["notebook"]
        assert all(any(e.startswith(k) for k in known) for e in empty.page.js_errors)
        empty.close()
        page.close()
    finally:
        server.stop()


def test_widget_error_is_detected(lab, notebook_page):
    """The harness itself: a widget whose view cannot load must fail the check."""
    name = lab.write_notebook(
        "broken.ipynb",
        ["import ipywidgets as w\n"
         "from traitlets import Unicode\n"
         "class Broken(w.DOMWidget):\n"
         "    _view_name = Unicode('NoSuchView').tag(sync=True)\n"
         "    _view_module = Unicode('no-such-module').tag(sync=True)\n"
         "Broken()"],
    )  # fmt: skip
    page = notebook_page(name)
    page.run_all()
    page.page.wait_for_timeout(3000)
    with pytest.raises(AssertionError, match="widget errors|JavaScript errors"):
        page.assert_widgets_ok()


