"""MultiTaskTagger driven through the same handlers its buttons and keys call."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labelwidgets._tasks import MultiLabel, normalize_answers, normalize_tasks
from labelwidgets._validate import InputError
from labelwidgets.datasets import SimulatedRater, demo_tasks, demo_truth, load_demo
from labelwidgets.tagging import MultiTaskTagger

TASKS = {"variety": ["daisy", "tulip", "rose"], "color": MultiLabel(["red", "white", "yellow"]),
         "place": ["indoors", "outdoors"]}  # fmt: skip


@pytest.fixture(scope="module")
def photos(demo_root):
    return load_demo("photos", root=demo_root)


def _button(tagger, task, option):
    return tagger._buttons[task][list(tagger.tasks[task]).index(option)]


def test_buttons_and_submit_commit_rows(photos, store):
    t = MultiTaskTagger(photos, TASKS, rater="alice", store=store)
    first = t.current_item
    _button(t, "variety", "rose").click()
    _button(t, "color", "red").click()
    _button(t, "color", "white").click()
    _button(t, "color", "white").click()  # toggled off again
    _button(t, "place", "outdoors").click()
    assert _button(t, "variety", "rose").button_style == "primary"
    t.submit_button.click()
    labels = store.labels(rater="alice")
    assert sorted(zip(labels["task"], labels["label"], strict=True)) == [
        ("color", "red"), ("place", "outdoors"), ("variety", "rose")]  # fmt: skip
    assert set(labels["item_id"]) == {first}
    assert t.current_item == photos.item_ids[1]
    assert t.progress_bar.value == 1 and "1 / 8" in t.progress_text.value
    assert "rose (1)" in _button(t, "variety", "rose").description  # per-option counts


def test_keyboard_flow(photos, store):
    t = MultiTaskTagger(photos, TASKS, rater="kim", store=store)
    for key in ["2", "1", "3", "Tab", "1", "Enter"]:
        # 2 = tulip (single-label pick moves on to color), 1 = red, 3 = yellow, Tab -> place, 1 = indoors
        t.press(key)
    got = store.labels(rater="kim").sort_values(["task", "label"])
    assert list(zip(got["task"], got["label"], strict=True)) == [
        ("color", "red"), ("color", "yellow"), ("place", "indoors"), ("variety", "tulip")]  # fmt: skip
    t.press("s")  # skip: a skip row per task, no label
    log = store.annotations()
    assert (log["kind"] == "skip").sum() == 3 and t.index == 2
    t.press("Backspace")
    assert t.index == 1 and t.selection == {"variety": None, "color": set(), "place": None}
    t.press("Backspace")
    assert t.selection["variety"] == "tulip" and t.selection["color"] == {"red", "yellow"}
    t.press("ArrowDown"), t.press("ArrowUp"), t.press("Tab", shift=True)
    assert t.active == 2
    t._on_dom_event({"type": "keydown", "key": "9"})  # no ninth option: a message, not a crash
    assert "has no option" in t.status.value


def test_edit_undo_and_resume(photos, store):
    t = MultiTaskTagger(photos, TASKS, rater="bo", store=store)
    answers = {"variety": "daisy", "color": [], "place": "indoors"}
    for _ in range(3):
        t.submit(answers)
    t.back()
    t.submit({**answers, "variety": "rose"})  # an edit is a new submission
    assert store.table(rater="bo").set_index("item_id").loc[photos.item_ids[2], "variety"] == "rose"
    t.undo()
    assert store.table(rater="bo").set_index("item_id").loc[photos.item_ids[2], "variety"] == "daisy"
    assert t.index == 2
    resumed = MultiTaskTagger(photos, TASKS, rater="bo", store=store)
    assert resumed.index == 3 and resumed.current_item == photos.item_ids[3]
    assert resumed.selection["variety"] is None


def test_suggestions_are_preselected_and_recorded(photos, store):
    sugg = pd.DataFrame({"item_id": photos.item_ids[:2], "task": "variety", "label": ["rose", "tulip"],
                         "confidence": [0.9, 0.6], "model": "m1"})  # fmt: skip
    t = MultiTaskTagger(photos, TASKS, rater="al", store=store, suggestions=sugg)
    assert t.selection["variety"] == "rose"
    assert "★" in _button(t, "variety", "rose").description
    t.select("place", "indoors")
    t.submit()
    t.submit({"variety": "daisy", "place": "outdoors", "color": ["red"]})
    rows = store.labels(rater="al", task="variety").set_index("item_id")["attributes"].map(json.loads)
    assert rows.iloc[0] == {"suggested": "rose", "accepted": True, "suggestion_model": "m1",
                            "suggestion_confidence": 0.9}  # fmt: skip
    assert rows.iloc[1]["accepted"] is False


def test_assignments_restrict_the_queue(photos, store):
    store.assign(pd.DataFrame({"item_id": photos.item_ids[3:5], "rater": "zed"}))
    t = MultiTaskTagger(photos, TASKS, rater="zed", store=store)
    assert t.queue == photos.item_ids[3:5]
    other = MultiTaskTagger(photos, TASKS, rater="yan", store=store)
    assert len(other.queue) == len(photos)


def test_finished_queue(photos, store):
    t = MultiTaskTagger(photos, {"place": ["in", "out"]}, rater="q", store=store, item_ids=photos.item_ids[:1])
    t.submit({"place": "in"})
    assert t.current_item is None and "All 1 items are done" in t.header.value
    with pytest.raises(ValueError, match="queue is finished"):
        t.submit({"place": "in"})
    t.submit_button.click()  # the button shows the message instead of raising
    assert "queue is finished" in t.status.value


@pytest.mark.parametrize(
    ("tasks", "exc", "match"),
    [
        ({}, InputError, "must be a non-empty dict"),
        ({"a": []}, ValueError, r"`tasks\['a'\]` must be a non-empty list of names"),
        ({"a": ["x", "x"]}, ValueError, r"must be unique. Got \['x'\]"),
        ({"a": "xyz"}, InputError, r"must be a list of options or MultiLabel"),
        ({"a": ["x", ""]}, ValueError, "non-empty strings"),
        (["a"], InputError, "must be a non-empty dict"),
    ],
)
def test_bad_task_specs(tasks, exc, match):
    with pytest.raises(exc, match=match):
        normalize_tasks(tasks)


def test_bad_answers_suggestions_and_rater(photos, store):
    tasks = normalize_tasks(TASKS)
    with pytest.raises(ValueError, match=r"`variety` must be one of \['daisy', 'tulip', 'rose'\]. Got 'lily'"):
        normalize_answers(tasks, {"variety": "lily", "place": "indoors"})
    with pytest.raises(ValueError, match=r"`place` must be answered"):
        normalize_answers(tasks, {"variety": "rose"})
    with pytest.raises(ValueError, match=r"`color` must be a subset of \['red', 'white', 'yellow'\]"):
        normalize_answers(tasks, {"variety": "rose", "place": "indoors", "color": ["blue"]})
    with pytest.raises(ValueError, match=r"unknown tasks \['size'\]"):
        normalize_answers(tasks, {"size": "big"})
    bad = pd.DataFrame({"item_id": ["x"], "task": ["variety"], "label": ["lily"]})
    with pytest.raises(ValueError, match=r"must be one of \['daisy', 'tulip', 'rose'\]. Got 'lily'"):
        MultiTaskTagger(photos, TASKS, rater="a", store=store, suggestions=bad)
    with pytest.raises(ValueError, match="task must be one of"):
        MultiTaskTagger(photos, TASKS, rater="a", store=store,
                        suggestions=bad.assign(task="size"))  # fmt: skip
    with pytest.raises(ValueError, match="`rater` must be a non-empty string"):
        MultiTaskTagger(photos, TASKS, rater=" ", store=store)


def test_simulated_rater_goes_through_submit(demo_root, store):
    shapes = load_demo("shapes", root=demo_root)
    truth = demo_truth("shapes", root=demo_root)
    perfect = SimulatedRater(truth, error_rate=0.0, name="p")
    t = MultiTaskTagger(shapes, demo_tasks("shapes"), rater="p", store=store)
    assert perfect.label(t) == len(shapes)
    table = store.table(rater="p").merge(truth, on="item_id", suffixes=("", "_true"))
    assert (table["shape"] == table["shape_true"]).all()
    assert (table["colors"] == table["colors_true"]).all()
    noisy = SimulatedRater(truth, error_rate=0.3, random_state=1, name="n")
    t2 = MultiTaskTagger(shapes, demo_tasks("shapes"), rater="n", store=store)
    noisy.label(t2)
    acc = (store.table(rater="n").merge(truth, on="item_id")["shape_x"] ==
           store.table(rater="n").merge(truth, on="item_id")["shape_y"]).mean()  # fmt: skip
    assert 0.55 < acc < 0.85
    with pytest.raises(ValueError, match=r"`error_rate` must be in \[0, 1\]"):
        SimulatedRater(truth, error_rate=2)
