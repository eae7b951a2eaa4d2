"""Beyond JupyterLab: the rater page of ``labelwidgets serve`` (Voila) and a marimo app, in
headless Chromium. Each renders the tagger, takes keys after one click and stores rows that the
teacher's store sees at once."""

from __future__ import annotations

import sys
import textwrap

import pytest
from browser_harness import AppServer, assert_page_ok, readme_shot, wait_for

from labelwidgets.datasets import load_demo
from labelwidgets.store import LabelStore

pytestmark = pytest.mark.browser


def _painted(widget) -> str:
    return widget.locator("canvas.lw-canvas").get_attribute("data-item") or ""


def _label_by_keys(page, widget, answers: list[list[str]]) -> list[str]:
    """One click on the widget, the mouse away, then keys only; returns the items answered."""
    widget.locator(".lw-header").click()
    page.mouse.move(3, 3)
    items = []
    for keys in answers:
        items.append(_painted(widget))
        for key in [*keys, "Enter"]:
            page.keyboard.press(key)
        wait_for(lambda: _painted(widget) != items[-1], message="the next image painted")
    return items


def test_rater_page_in_voila(browser, tmp_path, demo_root):
    """`labelwidgets serve`: one rater's page against the teacher's store, images from the store."""
    teacher = LabelStore(tmp_path / "class.db")
    shapes = load_demo("shapes", root=demo_root)
    shapes.subset(shapes.item_ids[:6]).to_store(teacher)
    teacher.register_task("shape", ["circle", "square", "triangle"])
    server = AppServer(
        tmp_path / "voila",
        [sys.executable, "-m", "labelwidgets", "serve", "--store", str(tmp_path / "class.db"),
         "--rater", "rita", "--port", "{port}", "--no-browser", "--token", "page-token"],
        ready_path="/?token=page-token", name="voila",
    )  # fmt: skip
    page = browser.new_page(1200, 900)
    try:
        page.goto(f"{server.base}/?token=page-token")
        widget = page.locator(".lw-tagger").first
        widget.wait_for(timeout=120_000)
        wait_for(lambda: _painted(widget), timeout=60, message="first image painted")
        assert "Labeling as rita" in page.locator("body").inner_text()
        assert "import" not in page.locator("body").inner_text()  # no code on the rater's page
        readme_shot(page, "rater-page-voila")
        items = _label_by_keys(page, widget, [["1"], ["3"], ["2"]])
        got = wait_for(lambda: len(df := teacher.labels(rater="rita")) == 3 and df, message="three rows")
        assert dict(zip(got["item_id"], got["label"], strict=True)) == dict(
            zip(items, ["circle", "triangle", "square"], strict=True)
        )
        assert_page_ok(page)
    finally:
        page.close()
        server.stop()
        teacher.close()


MARIMO_APP = textwrap.dedent(
    """
    import marimo

    app = marimo.App()


    @app.cell
    def _():
        import marimo as mo
        import labelwidgets as lw

        shapes = lw.load_demo("shapes")
        store = lw.LabelStore("marimo.db")
        tagger = mo.ui.anywidget(
            lw.MultiTaskTagger(shapes, lw.demo_tasks("shapes"), rater="mo", store=store)
        )
        tagger
        return


    if __name__ == "__main__":
        app.run()
    """
)


def test_tagger_in_marimo(browser, tmp_path, demo_root):
    root = tmp_path / "marimo"
    root.mkdir()
    (root / "app.py").write_text(MARIMO_APP)
    server = AppServer(
        root,
        [sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--port", "{port}",
         "--no-token", "--no-sandbox", "--no-skew-protection"],
        name="marimo",
    )  # fmt: skip
    page = browser.new_page(1200, 900)
    try:
        page.goto(server.base)
        widget = page.locator(".lw-tagger").first
        widget.wait_for(timeout=120_000)
        wait_for(lambda: _painted(widget), timeout=60, message="first image painted")
        readme_shot(page, "tagger-marimo")
        items = _label_by_keys(page, widget, [["1", "1"], ["2", "2", "3"]])
        store = LabelStore(root / "marimo.db")
        got = wait_for(lambda: len(df := store.labels(rater="mo")) == 5 and df, message="five rows")
        answers = {(r.item_id, r.task, r.label) for r in got.itertuples()}
        assert answers == {(items[0], "shape", "circle"), (items[0], "colors", "red"),
                           (items[1], "shape", "square"), (items[1], "colors", "green"),
                           (items[1], "colors", "blue")}  # fmt: skip
        store.close()
        assert_page_ok(page)
    finally:
        page.close()
        server.stop()
