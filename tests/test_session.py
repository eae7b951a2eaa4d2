"""The session's rules without any widget: queue, resume, back, skip, undo, shown rule, status."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from PIL import Image

from labelwidgets import keys
from labelwidgets._validate import InputError
from labelwidgets.images import ImageSet
from labelwidgets.session import Session, build_queue, message

TASKS = ["shape"]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(5):
        Image.new("RGB", (40, 30), (50 * i, 10, 10)).save(folder / f"{i}.png")
    return ImageSet.from_folder(folder, progress=False)


def _session(images, store, **kw):
    s = Session(images, store, kw.pop("rater", "ann"), TASKS, **kw)
    s.shown.update(s.queue)  # as if every image had reached the screen
    return s


def _answer(s, item=None, label="circle"):
    return s.commit(item, lambda i: s.store.submit(i, {"shape": label}, s.rater))


def test_session_module_loads_no_widget_library():
    code = "import sys, labelwidgets.session, labelwidgets.keys; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in out.stdout.split()}
    assert not loaded & {"ipywidgets", "anywidget", "ipyevents", "traitlets", "jupyter_bbox_widget"}


def test_queue_order_explicit_assigned_all(images, store):
    ids = images.item_ids
    assert build_queue(images, store, "ann") == ids
    store.assign(pd.DataFrame({"item_id": [ids[3], ids[1]], "rater": "ann", "role": "primary"}))
    store.assign(pd.DataFrame({"item_id": [ids[4]], "rater": "ann", "role": "tiebreak"}))
    assert build_queue(images, store, "ann") == [ids[3], ids[1], ids[4]]
    assert build_queue(images, store, "ann", roles=["tiebreak"]) == [ids[4]]
    assert build_queue(images, store, "ann", item_ids=[ids[2], ids[2], ids[0]]) == [ids[2], ids[0]]
    assert build_queue(images, store, "bob") == ids
    with pytest.raises(InputError, match=r"`item_ids` must be items of the image set. Got unknown ids \['nope'\]"):
        build_queue(images, store, "ann", item_ids=["nope"])


def test_submit_advances_and_resumes_at_first_open(images, store):
    s = _session(images, store)
    assert s.index == 0 and s.status == {"text": "", "level": "info"}
    sid = _answer(s)
    assert store.labels(rater="ann")["submission_id"].tolist() == [sid]
    assert s.index == 1 and s.status == {"text": f"Saved {images.item_ids[0]}.", "level": "ok"}
    assert s.progress == {"done": 1, "total": 5, "rater": "ann"}
    _answer(s, images.item_ids[2])  # an item further on (the browser ran ahead): commit it
    assert s.index == 3 and s.done == {images.item_ids[0], images.item_ids[2]}
    again = _session(images, store)
    assert again.index == 1 and again.current_item == images.item_ids[1]
    assert again.ahead(3) == [images.item_ids[3], images.item_ids[4]]  # the done one is passed
    assert again.behind() == images.item_ids[0]


def test_skip_says_skipped_not_saved(images, store):
    s = _session(images, store)
    s.skip(reason="blurry")
    log = store.annotations()
    assert list(log["kind"]) == ["skip"] and store.labels().empty
    assert s.status["text"].startswith(f"Skipped {images.item_ids[0]}: no label stored")
    assert "Saved" not in s.status["text"] and s.status["level"] == "info"
    assert s.index == 1


def test_wraps_round_then_end_screen_names_back_button(images, store):
    s = _session(images, store)
    for item in images.item_ids[1:]:
        _answer(s, item)
    assert s.current_item == images.item_ids[0]  # wrapped round to the one left open
    assert s.ahead(3) == []
    _answer(s)
    assert s.current_item is None and s.index == 5
    assert "All 5 items are done" in s.status["text"] and "Back (Backspace)" in s.status["text"]
    assert "back()" not in s.end_text()
    with pytest.raises(InputError, match=r"queue is finished: there is no item to submit. Press Back \(Backspace\)"):
        _answer(s)


def test_back_go_to_and_stale_error_cleared(images, store):
    s = _session(images, store)
    s.back()
    assert s.index == 0 and "first item" in s.status["text"]
    _answer(s)
    s.say("Something was wrong.", "error")
    s.back()
    assert s.index == 0 and s.status == message()  # a valid action replaces the stale error
    s.go_to(5)
    assert s.current_item is None and s.status["level"] == "ok"
    with pytest.raises(InputError, match=r"`index` must be in \[0, 5\]. Got 6 instead"):
        s.go_to(6)


def test_undo_retracts_and_shows_item_again(images, store):
    s = _session(images, store)
    assert s.undo() is None and "Nothing to undo" in s.status["text"]
    _answer(s)
    s.skip()
    s.undo()  # the skip
    assert s.current_item == images.item_ids[1] and images.item_ids[1] not in s.done
    s.undo()
    assert s.current_item == images.item_ids[0] and not s.done
    assert store.labels().empty
    assert s.status == {"text": f"Undid the last submission for {images.item_ids[0]}; it is shown again.",
                        "level": "ok"}  # fmt: skip


def test_nothing_stored_for_an_image_never_shown(images, store):
    s = Session(images, store, "ann", TASKS)
    with pytest.raises(InputError, match="was never shown, so nothing is stored for it"):
        _answer(s)
    with pytest.raises(InputError, match="must be an item of this rater's queue"):
        s.require_item("submit", "elsewhere.png")
    assert store.annotations().empty


def test_unshowable_image_moves_to_skipped(images, store):
    s = _session(images, store)
    gone = images.item_ids[1]
    _answer(s)
    s.drop_unshowable(gone, "cannot decode 1.png: missing")
    assert gone not in s.queue and s.current_item == images.item_ids[2]
    assert images.skipped["reason"].tolist()[-1] == "cannot decode 1.png: missing"
    assert s.status["level"] == "warn" and s.status["text"].startswith(f"Saved {images.item_ids[0]}.")
    assert "moved to images.skipped and nothing is stored" in s.status["text"]
    with pytest.raises(InputError, match="must be an item of this rater's queue"):
        _answer(s, gone)
    assert set(store.annotations()["item_id"]) == {images.item_ids[0]}


def test_bad_inputs(images, store):
    with pytest.raises(InputError, match="`images` must be an ImageSet. Got 'list'"):
        Session([], store, "a", TASKS)
    with pytest.raises(InputError, match="`store` must be a LabelStore. Got 'str'"):
        Session(images, "labels.db", "a", TASKS)
    with pytest.raises(InputError, match="`level` must be one of"):
        message("x", "fatal")
    s = Session(images, store, "a", TASKS, keymap=keys.keymap())
    assert repr(s) == "Session(5 items, rater='a', at 0)"
