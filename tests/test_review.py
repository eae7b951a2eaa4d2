"""The review queue: label_issues' ranking in the tagger, reviewed through the tagger's own submit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelwidgets import InputError, MultiLabel
from labelwidgets.datasets import demo_tasks, demo_truth, load_demo
from labelwidgets.review import ReviewQueue, review_plan, review_record, reviewed_items
from labelwidgets.voting import label_issues

ISSUES = pd.DataFrame({
    "item_id": ["c", "a", "d", "b"], "task": "shape", "label": ["x", "o", "o", "x"],
    "suggested_label": ["o", "x", "o", "x"], "suggested_probability": [0.9, 0.8, 0.7, 0.95],
    "label_quality": [0.05, 0.1, 0.7, 0.95], "is_issue": [True, True, False, False],
})  # fmt: skip


def test_plan_keeps_the_ranking_and_gives_suggestions():
    plan = review_plan(ISSUES)
    assert plan.item_ids == ["c", "a"] and plan.tasks == ["shape"]
    assert plan.current == {"c": {"shape": "x"}, "a": {"shape": "o"}}
    assert plan.details["c"] == {"shape": {"was": "x", "suggested": "o", "probability": 0.9, "score": 0.05}}
    assert plan.suggestions.to_dict("list") == {
        "item_id": ["c", "a"], "task": ["shape", "shape"], "label": ["o", "x"],
        "confidence": [0.9, 0.8], "model": ["label_issues", "label_issues"]}  # fmt: skip
    assert review_plan(ISSUES, only_issues=False).item_ids == ["c", "a", "d", "b"]
    assert review_plan(ISSUES, only_issues=False, limit=3).item_ids == ["c", "a", "d"]
    # two tasks concatenated: an item once, in order of first appearance; columns beyond the
    # four required ones are optional
    both = pd.concat([ISSUES, ISSUES.assign(task="size", label="big", suggested_label="small")])
    plan = review_plan(both[["item_id", "task", "label", "suggested_label"]])
    assert plan.item_ids == ["c", "a", "d", "b"] and plan.tasks == ["shape", "size"]
    assert plan.details["a"]["size"] == {"was": "big", "suggested": "small", "probability": None, "score": None}
    assert plan.suggestions["confidence"].isna().all()


def test_record_and_reviewed_items():
    details = review_plan(ISSUES).details["c"]
    assert review_record(details, {"shape": "o"}) == {"shape": {"review": {
        "was": "x", "suggested": "o", "probability": 0.9, "score": 0.05, "decision": "corrected"}}}  # fmt: skip
    assert review_record(details, {"shape": "x"})["shape"]["review"]["decision"] == "confirmed"
    rows = pd.DataFrame({"item_id": ["a", "a", "b", "b", "c", "d"],
                         "task": ["shape", "size", "shape", "size", "shape", "shape"],
                         "kind": ["label", "label", "label", "label", "skip", "label"],
                         "attributes": ['{"review": {}}', {"review": {}}, '{"review": {}}', None,
                                        '{"review": {}}', '{"suggested": "o", "reason": "review"}']})  # fmt: skip
    assert reviewed_items(rows, ["shape"]) == {"a", "b"}
    assert reviewed_items(rows, ["shape", "size"]) == {"a"}


@pytest.mark.parametrize(
    ("issues", "match"),
    [
        (ISSUES.drop(columns="suggested_label"), r"Missing \['suggested_label'\]"),
        (pd.concat([ISSUES, ISSUES.head(1)]), r"one row per \(item_id, task\). Got \[\('c', 'shape'\)\]"),
        (ISSUES.assign(label=[None, "o", "o", "x"]), r"a label and a suggested_label. Got none for \['c'\]"),
    ],
)
def test_bad_issues(issues, match):
    with pytest.raises(InputError, match=match):
        review_plan(issues)


def test_bad_limit_and_flag():
    with pytest.raises(InputError, match="`limit` must be an integer >= 1. Got 0"):
        review_plan(ISSUES, limit=0)
    with pytest.raises(InputError, match="`only_issues` must be True or False. Got 'yes'"):
        review_plan(ISSUES, only_issues="yes")


# ------------------------------------------------------------------------ the widget
@pytest.fixture(scope="module")
def photos(demo_root):
    images = load_demo("photos", root=demo_root)
    images.truth = demo_truth("photos", root=demo_root)
    return images


PLANTED = {"photos/coffee.jpg": "plant", "photos/rocket.jpg": "food"}  # truth: food, vehicle


def _first_pass(photos, store, rater="ann"):
    """``rater``'s labels of ``subject`` (the truth with two planted errors) and the issues a
    model that knows the truth finds in them (cleanlab, through label_issues)."""
    truth = photos.truth
    for item, subject in zip(truth["item_id"], truth["subject"], strict=True):
        store.submit(item, {"subject": PLANTED.get(item, subject)}, rater)
    classes = sorted(demo_tasks("photos")["subject"])
    probs = pd.DataFrame([{"item_id": item, "class": c, "probability": 0.9 if c == subject else 0.02}
                          for item, subject in zip(truth["item_id"], truth["subject"], strict=True)
                          for c in classes])  # fmt: skip
    return label_issues(store.labels(task="subject"), probs, filter_by="predicted_neq_given")


def _reviews(store, rater):
    rows = store.annotations()
    rows = rows[(rows["rater"] == rater) & rows["attributes"].notna()]
    return {r.item_id: (r.label, json.loads(r.attributes)["review"]) for r in rows.itertuples()}


def test_review_corrects_and_confirms_through_submit(photos, store):
    issues = _first_pass(photos, store)
    assert issues["item_id"].head(2).tolist() == ["photos/coffee.jpg", "photos/rocket.jpg"]
    before = store.annotations()
    q = ReviewQueue(photos, demo_tasks("photos"), issues, rater="rev", store=store)
    assert q.queue == ["photos/coffee.jpg", "photos/rocket.jpg"] and list(q.tasks) == ["subject"]
    first = q.window[0]
    assert first["item_id"] == "photos/coffee.jpg" and first["initial"] == {"subject": "plant"}
    assert first["suggested"] == {"subject": ["food"]} and first["earlier"] is False
    assert first["note"] == "Review subject: labelled plant · the model suggests food (p = 0.90)"
    q.press("4"), q.press("Enter")  # food is option 4: a correction, by keys
    q.press("Enter")  # rocket.jpg: keep "food" (a wrong confirmation is still the reviewer's call)
    assert q.current_item is None and "All 2 items are done" in q.status["text"]
    got = _reviews(store, "rev")
    assert got["photos/coffee.jpg"] == ("food", {"was": "plant", "suggested": "food", "probability": 0.9,
                                                 "score": pytest.approx(0.02, abs=0.01),
                                                 "decision": "corrected"})  # fmt: skip
    assert got["photos/rocket.jpg"][0] == "food" and got["photos/rocket.jpg"][1]["decision"] == "confirmed"
    after = store.annotations()
    assert len(after) == len(before) + 2  # new submissions; the first labels are all still there
    cols = ["annotation_id", "submission_id", "item_id", "rater", "label", "created_at"]
    assert after[cols].head(len(before)).to_dict("list") == before[cols].to_dict("list")
    newest = store.table().set_index("item_id")["subject"]
    assert newest["photos/coffee.jpg"] == "food"
    assert not store.assignments().size  # no team plan in this store: no assignments written


def test_self_review_resumes_skips_for_later_and_undoes(photos, store):
    issues = _first_pass(photos, store, rater="ann")
    q = ReviewQueue(photos, demo_tasks("photos"), issues, rater="ann", store=store)
    # ann's own first labels do not count as reviewed: the queue starts at its head
    assert q.progress == {"done": 0, "total": 2, "rater": "ann"} and q.current_item == "photos/coffee.jpg"
    assert q.window[0]["earlier"] is False and q.option_counts == {"subject": [0] * 6}
    assert q.skip() is None  # later: nothing stored, the next item comes
    assert q.current_item == "photos/rocket.jpg" and "Left photos/coffee.jpg for later" in q.status["text"]
    assert len(store.annotations()) == 8
    q.submit({"subject": "vehicle"})
    assert q.current_item == "photos/coffee.jpg"  # it comes round again
    resumed = ReviewQueue(photos, demo_tasks("photos"), issues, rater="ann", store=store)
    assert resumed.progress["done"] == 1 and resumed.current_item == "photos/coffee.jpg"
    q.undo()
    assert q.current_item == "photos/rocket.jpg" and q.progress["done"] == 0
    assert store.labels(rater="ann").set_index("item_id").loc["photos/rocket.jpg", "label"] == "food"
    q.submit({"subject": "vehicle"}), q.submit({"subject": "food"})
    labels = store.labels(rater="ann").set_index("item_id")["label"]
    assert labels["photos/rocket.jpg"] == "vehicle" and labels["photos/coffee.jpg"] == "food"
    assert {d["decision"] for _l, d in _reviews(store, "ann").values()} == {"corrected"}


def test_review_assignments_in_a_team_store(photos, store):
    store.assign(pd.DataFrame({"item_id": photos.item_ids, "rater": "ann"}))  # a team plan exists
    issues = _first_pass(photos, store)
    for _ in range(2):  # reopened: assigned once
        ReviewQueue(photos, demo_tasks("photos"), issues, rater="lead", store=store).close()
    plan = store.assignments(rater="lead")
    assert plan["item_id"].tolist() == ["photos/coffee.jpg", "photos/rocket.jpg"]
    assert set(plan["role"]) == {"review"}


def test_bad_review_queues(photos, store):
    issues = _first_pass(photos, store)
    tasks = demo_tasks("photos")
    with pytest.raises(InputError, match=r"`tasks` must define every task of `issues` \['subject'\]"):
        ReviewQueue(photos, {"place": tasks["place"]}, issues, rater="rev", store=store)
    with pytest.raises(InputError, match=r"must name items of the image set. Got 1 unknown items, e.g. \['nope.jpg'\]"):
        ReviewQueue(photos, tasks, issues.assign(item_id=["nope.jpg", *issues["item_id"][1:]]),
                    rater="rev", store=store)  # fmt: skip
    with pytest.raises(InputError, match=r"label for task 'subject' must be one of .* Got 'robot'"):
        ReviewQueue(photos, tasks, issues.assign(label=np.where(issues.index == 0, "robot", issues["label"])),
                    rater="rev", store=store)  # fmt: skip
    with pytest.raises(InputError, match=r"must be single-label tasks. Got multi-label \['subject'\]"):
        ReviewQueue(photos, {"subject": MultiLabel(tasks["subject"])}, issues, rater="rev", store=store)
    with pytest.raises(TypeError, match="store"):
        ReviewQueue(photos, tasks, issues, rater="rev")  # no silent labels.db
