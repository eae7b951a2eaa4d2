"""MultiTaskTagger driven through the same handlers its browser messages and keys reach."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image

from labelwidgets._tasks import MultiLabel, normalize_answers, normalize_tasks
from labelwidgets._validate import InputError
from labelwidgets.datasets import SimulatedRater, demo_tasks, demo_truth, load_demo
from labelwidgets.images import ImageSet
from labelwidgets.tagging import MultiTaskTagger, toggle

TASKS = {"variety": ["daisy", "tulip", "rose"], "color": MultiLabel(["red", "white", "yellow"]),
         "place": ["indoors", "outdoors"]}  # fmt: skip


@pytest.fixture(scope="module")
def photos(demo_root):
    return load_demo("photos", root=demo_root)


def _sent(tagger, monkeypatch):
    """Record what the widget sends to the browser (acks and images)."""
    out = []
    monkeypatch.setattr(tagger, "send", lambda content, buffers=None: out.append((content, buffers)))
    return out


def test_browser_messages_commit_and_ack(photos, store, monkeypatch):
    t = MultiTaskTagger(photos, TASKS, rater="alice", store=store)
    sent = _sent(t, monkeypatch)
    first, second = photos.item_ids[:2]
    assert t.current == first and [e["role"] for e in t.window] == ["current", "ahead", "ahead", "ahead"]
    t.handle({"type": "submit", "seq": 1, "item_id": first,
              "answers": {"variety": "rose", "color": ["white", "red"], "place": "outdoors"}})  # fmt: skip
    labels = store.labels(rater="alice")
    assert sorted(zip(labels["task"], labels["label"], strict=True)) == [
        ("color", "red"), ("color", "white"), ("place", "outdoors"), ("variety", "rose")]  # fmt: skip
    ack = [c for c, _b in sent if c["type"] == "ack"]
    assert len(ack) == 1 and ack[0].pop("kernel_ms") >= 0
    assert ack == [{"type": "ack", "seq": 1, "ok": True, "submission_id": labels["submission_id"][0],
                    "status": {"text": f"Saved {first}.", "level": "ok"}}]  # fmt: skip
    assert t.current == second and t.position == 1 and t.progress["done"] == 1
    assert t.window[0] == {**t.window[0], "item_id": first, "role": "behind", "earlier": True}
    # the new window entry's image went out once, as a binary buffer
    images = [(c["item_id"], c["format"], b) for c, b in sent if c["type"] == "image"]
    assert [i for i, _f, _b in images] == [photos.item_ids[4]]
    assert images[0][1] == "jpeg" and images[0][2][0][:2] == b"\xff\xd8"  # JPEG bytes as a buffer
    assert t.option_counts["variety"] == [0, 0, 1] and t.counts().query("option == 'red'")["n"].item() == 1
    # a bad answer: an error ack, nothing stored, the item stays
    t.handle({"type": "submit", "seq": 2, "item_id": second, "answers": {"variety": "lily"}})
    bad = [c for c, _b in sent if c["type"] == "ack"][-1]
    assert bad["ok"] is False and "`variety` must be one of" in bad["error"]
    assert t.status["level"] == "error" and t.current == second and len(store.labels()) == 4
    t.handle({"type": "skip", "seq": 3, "item_id": second})
    assert t.status == {"text": f"Skipped {second}: no label stored.", "level": "info"}  # stale error gone
    t.handle({"type": "need", "seq": 4, "item_ids": [photos.item_ids[2], "not-in-window"]})
    assert [c["item_id"] for c, _b in sent if c["type"] == "image"][-1] == photos.item_ids[2]
    t.handle({"type": "bogus", "seq": 5})
    assert "Message type must be one of" in [c for c, _b in sent if c["type"] == "ack"][-1]["error"]


def test_keyboard_twin(photos, store):
    t = MultiTaskTagger(photos, TASKS, rater="kim", store=store)
    for key in ["2", "1", "3", "Tab", "1", "Enter"]:
        # 2 = tulip (a single-label pick moves on to color), 1 = red, 3 = yellow, Tab -> place, 1 = indoors
        t.press(key)
    got = store.labels(rater="kim").sort_values(["task", "label"])
    assert list(zip(got["task"], got["label"], strict=True)) == [
        ("color", "red"), ("color", "yellow"), ("place", "indoors"), ("variety", "tulip")]  # fmt: skip
    t.press("s")  # skip: a skip row per task, no label
    assert (store.annotations()["kind"] == "skip").sum() == 3 and t.index == 2
    t.press("Backspace")
    assert t.index == 1 and t.selection["answers"] == {"variety": None, "color": [], "place": None}
    t.press("Backspace")
    assert t.selection["answers"]["variety"] == "tulip" and t.selection["answers"]["color"] == ["red", "yellow"]
    t.press("ArrowDown"), t.press("ArrowUp"), t.press("Tab", shift=True)
    assert t.active == 2
    t.press("9")  # no ninth option: a message, not a crash
    assert "Typed 9 must be an option number 1-2" in t.status["text"] and t.status["level"] == "error"
    assert t.press("x") is None  # a key that does nothing


def _many(tmp_path, n_images=3):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(n_images):
        Image.new("RGB", (64, 48), (40 * i, 90, 90)).save(folder / f"{i}.png")
    return ImageSet.from_folder(folder, progress=False)


@pytest.mark.parametrize("n", [12, 30])
def test_more_than_nine_options_by_keys_only_in_the_active_task(tmp_path, store, n):
    images = _many(tmp_path)
    tasks = {"species": [f"s{i}" for i in range(1, n + 1)], "size": ["small", "large"]}
    t = MultiTaskTagger(images, tasks, rater="r", store=store)
    t.press("1"), t.press("2")  # 12, not 1 here and 2 in "size"
    assert t.selection["answers"] == {"species": "s12", "size": None} and t.active == 1
    t.press("2"), t.press("Enter")
    assert store.table(rater="r").set_index("item_id").loc["0.png", ["species", "size"]].tolist() == ["s12", "large"]
    t.press("1"), t.press("Enter")  # 1 alone, then Enter picks 1 (another key ends the number)
    assert t.selection["answers"]["species"] == "s1" and t.status["level"] == "error"  # size missing
    assert "`size` must be answered" in t.status["text"]
    t.press("Tab", shift=True), t.press("3")
    if n == 12:  # no option 3x: picked at once
        assert t.selection["answers"]["species"] == "s3"
    else:  # 30 follows 3: it waits for a second digit
        assert t.selection["answers"]["species"] == "s1"
        t.press("0")
        assert t.selection["answers"]["species"] == "s30"
    keys_on_buttons = [str(i) for i in range(1, n + 1)]  # what the browser prints on each button
    assert keys_on_buttons[-1] == str(n) and "type both digits" in t.help


def test_edit_undo_and_resume(photos, store):
    t = MultiTaskTagger(photos, TASKS, rater="bo", store=store)
    answers = {"variety": "daisy", "color": [], "place": "indoors"}
    for _ in range(3):
        t.submit(answers)
    t.back()
    assert t.window[[e["role"] for e in t.window].index("current")]["initial"]["variety"] == "daisy"
    t.submit({**answers, "variety": "rose"})  # an edit is a new submission
    assert store.table(rater="bo").set_index("item_id").loc[photos.item_ids[2], "variety"] == "rose"
    t.undo()
    assert store.table(rater="bo").set_index("item_id").loc[photos.item_ids[2], "variety"] == "daisy"
    assert t.index == 2 and t.option_counts["variety"] == [3, 0, 0]
    resumed = MultiTaskTagger(photos, TASKS, rater="bo", store=store)
    assert resumed.index == 3 and resumed.current_item == photos.item_ids[3]
    assert resumed.selection["answers"]["variety"] is None


def test_select_twin_and_submit_what_is_selected(photos, store):
    t = MultiTaskTagger(photos, TASKS, rater="sel", store=store)
    t.select("variety", "rose"), t.select("color", "red"), t.select("color", "white"), t.select("color", "white")
    t.select("place", "outdoors")
    assert t.selection["answers"] == {"variety": "rose", "color": ["red"], "place": "outdoors"}
    t.submit()
    assert sorted(store.labels(rater="sel")["label"]) == ["outdoors", "red", "rose"]
    with pytest.raises(InputError, match="`task` must be one of"):
        t.select("size", "big")
    with pytest.raises(InputError, match=r"`option` must be one of \['indoors', 'outdoors'\]"):
        t.select("place", "moon")
    assert toggle(MultiLabel(["a", "b"]), ["b"], "a") == ["a", "b"]


def test_suggestions_are_preselected_and_recorded(photos, store):
    sugg = pd.DataFrame({"item_id": photos.item_ids[:2], "task": "variety", "label": ["rose", "tulip"],
                         "confidence": [0.9, 0.6], "model": "m1"})  # fmt: skip
    t = MultiTaskTagger(photos, TASKS, rater="al", store=store, suggestions=sugg)
    assert t.selection["answers"]["variety"] == "rose"
    assert t.window[0]["suggested"] == {"variety": ["rose"]}
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


def test_finished_queue(photos, store, monkeypatch):
    t = MultiTaskTagger(photos, {"place": ["in", "out"]}, rater="q", store=store, item_ids=photos.item_ids[:1])
    assert t.window[0]["final"] is True
    t.submit({"place": "in"})
    assert t.current_item is None and t.current is None
    assert "All 1 items are done" in t.status["text"] and "Back (Backspace)" in t.status["text"]
    with pytest.raises(InputError, match="queue is finished"):
        t.submit({"place": "in"})
    sent = _sent(t, monkeypatch)
    t.handle({"type": "submit", "seq": 9, "answers": {"place": "in"}})  # the browser gets a message
    assert "queue is finished" in t.status["text"] and sent[-1][0]["ok"] is False
    assert "back()" not in t.status["text"]


def test_deleted_image_is_skipped_and_never_labelled(tmp_path, store):
    images = _many(tmp_path, n_images=6)
    t = MultiTaskTagger(images, {"size": ["small", "large"]}, rater="d", store=store)
    assert [e["item_id"] for e in t.window] == ["0.png", "1.png", "2.png", "3.png"]
    (tmp_path / "many" / "5.png").unlink()  # deleted after the ImageSet was built
    t.press("1"), t.press("Enter")  # 4.png enters the window: 5.png must follow it and cannot
    t.press("1"), t.press("Enter")
    assert "5.png" not in t.queue and "5.png" not in {e["item_id"] for e in t.window}
    assert images.skipped["path"].str.endswith("5.png").any()
    assert "moved to images.skipped" in t.status["text"] and t.status["level"] == "warn"
    with pytest.raises(InputError, match="rater's queue"):
        t.handle({"type": "submit", "item_id": "5.png", "answers": {"size": "small"}}, raise_errors=True)
    while t.current_item is not None:
        t.submit({"size": "large"})
    assert "5.png" not in set(store.annotations()["item_id"]) and t.progress["total"] == 5


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


def test_bad_answers_suggestions_rater_and_store(photos, store):
    tasks = normalize_tasks(TASKS)
    with pytest.raises(ValueError, match=r"`variety` must be one of \['daisy', 'tulip', 'rose'\]. Got 'lily'"):
        normalize_answers(tasks, {"variety": "lily", "place": "indoors"})
    with pytest.raises(ValueError, match=r"`place` must be answered"):
        normalize_answers(tasks, {"variety": "rose"})
    with pytest.raises(ValueError, match=r"`color` must be a subset of \['red', 'white', 'yellow'\]"):
        normalize_answers(tasks, {"variety": "rose", "place": "indoors", "color": ["blue"]})
    bad = pd.DataFrame({"item_id": ["x"], "task": ["variety"], "label": ["lily"]})
    with pytest.raises(ValueError, match=r"must be one of \['daisy', 'tulip', 'rose'\]. Got 'lily'"):
        MultiTaskTagger(photos, TASKS, rater="a", store=store, suggestions=bad)
    with pytest.raises(InputError, match="`rater` must be a non-empty string"):
        MultiTaskTagger(photos, TASKS, rater=" ", store=store)
    with pytest.raises(TypeError, match="store"):
        MultiTaskTagger(photos, TASKS, rater="a")  # no silent labels.db
    with pytest.raises(InputError, match="Task names must not be a column of the table"):
        MultiTaskTagger(photos, {"camera": ["a", "b"]}, rater="a", store=store)


def test_simulated_rater_goes_through_submit(demo_root, store):
    shapes = load_demo("shapes", root=demo_root)
    truth = demo_truth("shapes", root=demo_root)
    perfect = SimulatedRater(truth, error_rate=0.0, name="p")
    t = MultiTaskTagger(shapes, demo_tasks("shapes"), rater="p", store=store)
    assert perfect.label(t) == len(shapes)
    table = store.table(rater="p").merge(truth, on="item_id", suffixes=("", "_true"))
    assert (table["shape"] == table["shape_true"]).all()
    assert (table["colors"] == table["colors_true"]).all()
    shown = t.window[0]  # the 96 px shapes are sent enlarged (crisp PNG), not at 96 px
    assert shown["format"] == "png" and min(shown["width"], shown["height"]) >= 384
