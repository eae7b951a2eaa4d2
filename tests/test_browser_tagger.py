"""The tagger in a real browser: JupyterLab (and Notebook 7) in headless Chromium, clicks and keys."""

from __future__ import annotations

import pytest
from browser_harness import REPO, LabServer, wait_for

from labelwidgets.store import LabelStore

pytestmark = pytest.mark.browser
NOTEBOOK = REPO / "notebooks" / "01_multitask_tagging.ipynb"


def _label_second_photo(page, server, shot: str):
    """Run notebook 01, then label the tagger's current photo by mouse and keyboard."""
    page.run_all()
    page.assert_widgets_ok()
    tagger = page.page.locator(".labelwidgets").first
    tagger.scroll_into_view_if_needed()
    tagger.locator("text=item 2 of 8").wait_for(timeout=30_000)  # notebook submitted item 1 itself
    page.screenshot(f"{shot}-before", ".labelwidgets")

    # mouse: pick "animal" for subject (button 2)
    tagger.locator("button.lw-option", has_text="animal").click()
    wait_for(lambda: "mod-primary" in (tagger.locator("button.lw-option", has_text="animal").get_attribute("class") or ""),
             message="animal button selected")  # fmt: skip
    # keyboard (mouse over the widget): Tab to "place", 1 = indoors, Tab to colors, 1 = red, 5 = black, Enter
    tagger.hover()
    for key in ["Tab", "1", "1", "5"]:
        page.page.keyboard.press(key)
        page.page.wait_for_timeout(150)
    page.screenshot(f"{shot}-selected", ".labelwidgets")
    page.page.keyboard.press("Enter")
    tagger.locator("text=item 3 of 8").wait_for(timeout=30_000)
    page.screenshot(f"{shot}-after", ".labelwidgets")
    page.assert_widgets_ok()

    db = LabelStore(server.root / "tagging-demo.db")
    labels = wait_for(
        lambda: (lambda df: df if len(df) == 4 else None)(
            db.labels(rater="alice").query("item_id == 'photos/coffee.jpg'")
        ),
        message="four label rows for the second photo",
    )
    got = sorted(zip(labels["task"], labels["label"], strict=True))
    assert got == [
        ("colors", "black"),
        ("colors", "red"),
        ("place", "indoors"),
        ("subject", "animal"),
    ]
    assert set(labels["source"]) == {"human"}
    # the first photo, submitted by the notebook itself, is there too
    assert len(db.labels(rater="alice").query("item_id == 'photos/astronaut.jpg'")) == 4
    db.close()


def test_tagger_in_jupyterlab(lab, notebook_page):
    name = lab.copy_in(NOTEBOOK)
    page = notebook_page(name)
    _label_second_photo(page, lab, "tagger-jupyterlab")


def test_tagger_in_notebook7(browser, tmp_path):
    from browser_harness import NotebookPage

    server = LabServer(tmp_path / "nb7", app="notebook")
    try:
        name = server.copy_in(NOTEBOOK)
        page = NotebookPage(server, browser, name)
        _label_second_photo(page, server, "tagger-notebook7")
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


def test_notebook7_baseline_error(browser, tmp_path):
    """The one page error the harness ignores in Notebook 7 happens without any widget too."""
    from browser_harness import UPSTREAM_JS_ERRORS, NotebookPage

    server = LabServer(tmp_path / "nb7-empty", app="notebook")
    try:
        page = NotebookPage(server, browser, server.write_notebook("empty.ipynb", ["1 + 1"]))
        page.page.wait_for_timeout(2000)
        known = UPSTREAM_JS_ERRORS["notebook"]
        assert all(any(e.startswith(k) for k in known) for e in page.page.js_errors)
        page.close()
    finally:
        server.stop()
