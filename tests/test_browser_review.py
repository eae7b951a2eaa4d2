"""The review queue in a real browser: label_issues' first item corrected and the next confirmed
by keyboard in JupyterLab, then the rows checked in the store.

Rater ``ann`` labelled the demo photos' ``subject`` with two planted errors (coffee as a plant,
the rocket as food); a model that knows better gives its probabilities; ``label_issues`` flags
both. Reviewer ``rev`` opens ``lw.ReviewQueue``: the label under review is selected, the model's
suggestion starred and both named under the header. One key (4, food) and Enter correct the
first; Enter alone confirms the second. Each is a new submission of ``rev`` with the review in
``attributes``; ann's rows are untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser_harness import readme_shot, wait_for
from test_browser_voting import _open, _option, _shown, _wait_next

from labelwidgets.datasets import demo_truth, load_demo
from labelwidgets.store import LabelStore

pytestmark = pytest.mark.browser

DB = "review-browser.db"
PLANTED = {"photos/coffee.jpg": "plant", "photos/rocket.jpg": "food"}  # truth: food, vehicle
CELLS = [
    "import pandas as pd\n"
    "import labelwidgets as lw\n"
    "photos = lw.load_demo('photos')\n"
    "tasks = lw.demo_tasks('photos')\n"
    f"store = lw.LabelStore({DB!r})",
    # a model that knows the truth: 0.9 on it, 0.02 on each other subject
    "truth = lw.demo_truth('photos')\n"
    "probs = pd.DataFrame([{'item_id': i, 'class': c, 'probability': 0.9 if c == s else 0.02}\n"
    "                      for i, s in zip(truth['item_id'], truth['subject'])\n"
    "                      for c in sorted(tasks['subject'])])\n"
    "issues = lw.label_issues(store.labels(task='subject'), probs, filter_by='predicted_neq_given')",
    "review = lw.ReviewQueue(photos, tasks, issues, rater='rev', store=store)\nreview",
]


def test_review_queue_corrects_by_keyboard(lab, notebook_page):
    home = Path(lab.env["LABELWIDGETS_HOME"])
    load_demo("photos", root=home / "demo")  # the files the kernel loads
    truth = demo_truth("photos", root=home / "demo")
    store = LabelStore(lab.root / DB)
    for item, subject in zip(truth["item_id"], truth["subject"], strict=True):
        store.submit(item, {"subject": PLANTED.get(item, subject)}, "ann")
    before = store.annotations()

    page, widget = _open(notebook_page, lab.write_notebook("review.ipynb", CELLS))
    assert _shown(widget) == ("photos/coffee.jpg", 1, 2)
    text = widget.inner_text()
    assert "Review subject: labelled plant · the model suggests food (p = 0.90)" in text
    assert "lw-chosen" in _option(widget, "plant").get_attribute("class")  # the label under review
    food = _option(widget, "food")
    assert "lw-suggested" in food.get_attribute("class") and "★" in food.inner_text()
    readme_shot(page.page, "review", ".lw-tagger")

    widget.locator(".lw-header").click()  # one click gives the widget the keys
    page.page.mouse.move(3, 3)
    page.page.keyboard.press("4")  # food
    wait_for(lambda: "lw-chosen" in (food.get_attribute("class") or ""), message="food selected by key")
    assert "lw-chosen" not in _option(widget, "plant").get_attribute("class")
    page.page.keyboard.press("Enter")  # corrected
    _wait_next(widget, 1, 2)
    assert _shown(widget) == ("photos/rocket.jpg", 2, 2)
    assert "Review subject: labelled food · the model suggests vehicle" in widget.inner_text()
    page.page.keyboard.press("Enter")  # confirmed, as it is
    _wait_next(widget, 2, 2)
    wait_for(lambda: "All 2 items are done." in widget.inner_text(), message="the end screen once saved")
    assert "still saving" not in widget.inner_text()  # repainted when the last ack came
    page.screenshot("review-done", ".lw-tagger")
    page.assert_widgets_ok()

    after = store.annotations()
    new = after[~after["annotation_id"].isin(before["annotation_id"])]
    assert new[["item_id", "rater", "label", "source"]].values.tolist() == [
        ["photos/coffee.jpg", "rev", "food", "human"], ["photos/rocket.jpg", "rev", "food", "human"]]  # fmt: skip
    reviews = [json.loads(a)["review"] for a in new["attributes"]]
    assert [(r["was"], r["suggested"], r["decision"]) for r in reviews] == [
        ("plant", "food", "corrected"), ("food", "vehicle", "confirmed")]  # fmt: skip
    assert all(r["probability"] == pytest.approx(0.9) and 0 <= r["score"] < 0.1 for r in reviews)
    assert len(new["submission_id"].unique()) == 2  # one submission per item
    cols = ["annotation_id", "submission_id", "rater", "label"]
    assert after[cols].head(len(before)).values.tolist() == before[cols].values.tolist()  # nothing overwritten
    assert store.labels(rater="ann").set_index("item_id").loc["photos/coffee.jpg", "label"] == "plant"
    assert store.table().set_index("item_id").loc["photos/coffee.jpg", "subject"] == "food"  # newest wins
    store.close()
