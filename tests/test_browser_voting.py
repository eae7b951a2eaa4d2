"""Two raters in two browser pages, then a third in the tiebreak queue: real JupyterLab, real clicks.

Two notebooks (rater ``ann``, rater ``bob``) each show a MultiTaskTagger on one SQLite file; both
raters are assigned the same six demo photos. ``ann`` answers with the mouse, ``bob`` with the
keyboard, item by item in turn, disagreeing on purpose on three (item, task) pairs. A third
notebook then shows the TiebreakQueue for ``cy``: it must hold exactly the disputed items, and
``cy``'s answers must resolve them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_harness import readme_shot, wait_for

from labelwidgets.datasets import load_demo
from labelwidgets.store import LabelStore
from labelwidgets.voting import assign, resolve

pytestmark = pytest.mark.browser

DB = "voting-browser.db"
TASKS = {
    "subject": ["person", "animal", "vehicle", "food", "building", "plant"],
    "place": ["indoors", "outdoors"],
}
# per assigned item: (subject, place) of ann and of bob; they differ on three (item, task) pairs
ANN = [("person", "outdoors"), ("animal", "indoors"), ("food", "indoors"),
       ("vehicle", "outdoors"), ("plant", "outdoors"), ("building", "outdoors")]  # fmt: skip
BOB = [("person", "outdoors"), ("plant", "indoors"), ("food", "outdoors"),
       ("vehicle", "outdoors"), ("animal", "outdoors"), ("building", "outdoors")]  # fmt: skip
HEADER = re.compile(r"(photos/[\w.-]+)\s+item (\d+) of (\d+)")


def _rater_notebook(lab, rater: str, widget: str = "MultiTaskTagger") -> str:
    return lab.write_notebook(
        f"voting-{rater}.ipynb",
        [
            "import labelwidgets as lw\n"
            "photos = lw.load_demo('photos')\n"
            f"store = lw.LabelStore({DB!r})\n"
            f"tasks = {TASKS!r}",
            f"widget = lw.{widget}(photos, store=store, tasks=tasks, rater={rater!r})\nwidget",
        ],
    )


def _open(notebook_page, name: str):
    page = notebook_page(name)
    try:
        page.run_all(timeout=90)
    except TimeoutError:  # seen once in ten runs: the Run All click was lost, no cell ran
        page.run_all(timeout=90)
    page.assert_widgets_ok()
    widget = page.page.locator(".lw-tagger").first
    widget.scroll_into_view_if_needed()
    wait_for(lambda: widget.locator("canvas.lw-canvas").get_attribute("data-item"), message="painted")
    return page, widget


def _shown(widget) -> tuple[str, int, int] | None:
    """(item id, position, queue length) from the widget's header; None on the end screen."""
    match = HEADER.search(widget.inner_text())
    return (match.group(1), int(match.group(2)), int(match.group(3))) if match else None


def _option(widget, option: str):
    return widget.locator("button.lw-option", has=widget.page.locator(".lw-label", has_text=re.compile(rf"^{option}$")))


def _answer_by_mouse(widget, answer: tuple[str, str]) -> None:
    for option in answer:
        _option(widget, option).click()
        wait_for(lambda o=option: "lw-chosen" in (_option(widget, o).get_attribute("class") or ""),
                 message=f"{option} selected")  # fmt: skip
    widget.locator("button", has_text="Submit").click()


def _answer_by_keys(page, widget, answer: tuple[str, str]) -> None:
    widget.locator(".lw-header").click()  # one click gives the widget the keys
    page.page.mouse.move(3, 3)  # and the mouse may go anywhere
    for task, option in zip(TASKS, answer, strict=True):  # a pick moves on to the next task
        page.page.keyboard.press(str(TASKS[task].index(option) + 1))
    wait_for(lambda: "lw-chosen" in (_option(widget, answer[1]).get_attribute("class") or ""),
             message=f"{answer} selected by keys")  # fmt: skip
    page.page.keyboard.press("Enter")


def _wait_next(widget, position: int, total: int) -> None:
    if position < total:
        widget.locator(f"text=item {position + 1} of {total}").wait_for(timeout=30_000)
    else:
        widget.locator(".lw-end h3", has_text=f"All {total} items are done").wait_for(timeout=30_000)
    wait_for(lambda: "saving" not in widget.locator(".lw-progress").inner_text(), message="saved")


def test_two_raters_then_tiebreak_queue(lab, notebook_page):
    home = Path(lab.env["LABELWIDGETS_HOME"])
    items = load_demo("photos", root=home / "demo").item_ids[:6]  # the files the kernels load
    store = LabelStore(lab.root / DB)
    assign(items, ["ann", "bob"], per_item=2, store=store)  # both raters get the same six photos
    assert len(store.assignments()) == 12

    ann_page, ann = _open(notebook_page, _rater_notebook(lab, "ann"))
    bob_page, bob = _open(notebook_page, _rater_notebook(lab, "bob"))
    assert _shown(ann) == (items[0], 1, 6) and _shown(bob) == (items[0], 1, 6)

    for i, item in enumerate(items):  # the two raters take turns, each in their own kernel
        assert _shown(ann) == (item, i + 1, 6)
        _answer_by_mouse(ann, ANN[i])
        _wait_next(ann, i + 1, 6)
        assert _shown(bob) == (item, i + 1, 6)
        _answer_by_keys(bob_page, bob, BOB[i])
        _wait_next(bob, i + 1, 6)
        if i == 1:
            ann_page.screenshot("voting-ann-tagger", ".lw-tagger")
            bob_page.screenshot("voting-bob-tagger", ".lw-tagger")
    bob_page.screenshot("voting-bob-done", ".lw-tagger")
    ann_page.assert_widgets_ok()
    bob_page.assert_widgets_ok()

    # the store holds exactly what was clicked and typed, once
    labels = store.labels()
    assert (labels["source"] == "human").all() and len(labels) == 24
    for rater, answers in (("ann", ANN), ("bob", BOB)):
        mine = labels[labels["rater"] == rater]
        got = {(r.item_id, r.task): r.label for r in mine.itertuples()}
        assert got == {(item, task): answer[t] for item, answer in zip(items, answers, strict=True)
                       for t, task in enumerate(TASKS)}  # fmt: skip
    disputed = {(item, task) for item, a, b in zip(items, ANN, BOB, strict=True)
                for t, task in enumerate(TASKS) if a[t] != b[t]}  # fmt: skip
    assert len(disputed) == 3
    res = resolve(labels, tasks=store.tasks())
    need = res[res["status"] == "needs_tiebreak"]
    assert set(zip(need["item_id"], need["task"], strict=True)) == disputed
    assert (res.loc[res["status"] != "needs_tiebreak", "status"] == "agreed").all()

    # the third rater's queue: exactly the disputed items, in queue order, each once
    cy_page, cy = _open(notebook_page, _rater_notebook(lab, "cy", widget="TiebreakQueue"))
    disputed_items = [item for item in items if any((item, t) in disputed for t in TASKS)]
    readme_shot(cy_page.page, "tiebreak", ".lw-tagger")
    seen = []
    for k in range(len(disputed_items)):
        item, position, total = _shown(cy)
        assert (position, total) == (k + 1, len(disputed_items))
        tasks_here = [t for t in TASKS if (item, t) in disputed]
        assert f"Tiebreak for {', '.join(tasks_here)} (earlier votes hidden)" in cy.inner_text()
        seen.append(item)
        i = items.index(item)
        # cy sides with bob on the first disputed item, with ann on the others
        _answer_by_mouse(cy, BOB[i] if k == 0 else ANN[i])
        _wait_next(cy, k + 1, len(disputed_items))
    assert seen == disputed_items
    cy_page.screenshot("voting-tiebreak-done", ".lw-tagger")
    cy_page.assert_widgets_ok()

    after = resolve(store.labels(), tasks=store.tasks()).set_index(["item_id", "task"])
    for k, item in enumerate(disputed_items):
        winner = BOB if k == 0 else ANN
        for t, task in enumerate(TASKS):
            row = after.loc[(item, task)]
            assert row["label"] == winner[items.index(item)][t]
            assert row["status"] == ("tiebroken" if (item, task) in disputed else "agreed")
            assert row["n_votes"] == 3
    assert set(after["status"]) == {"agreed", "tiebroken"}
    tiebreak = store.assignments(rater="cy")
    assert sorted(tiebreak["item_id"]) == sorted(disputed_items)
    assert set(tiebreak["role"]) == {"tiebreak"}
    store.close()
