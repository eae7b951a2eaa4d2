"""The key map as data: lookup, names on buttons, help text and the option-number rule."""

from __future__ import annotations

import pytest

from labelwidgets import keys
from labelwidgets._validate import InputError


def test_keymap_lookup_and_normalisation():
    km = keys.keymap(keys.TASK_KEYS)
    assert keys.lookup(km, "S")["action"] == "skip"  # Caps Lock / Shift on a letter
    assert keys.lookup(km, "s", shift=True)["action"] == "skip"
    assert keys.lookup(km, "Tab")["action"] == "next_task"
    assert keys.lookup(km, "Tab", shift=True)["action"] == "prev_task"
    assert keys.lookup(km, "z", ctrl=True) is None  # Ctrl+Z is the browser's, not ours
    assert keys.lookup(km, "x") is None
    assert keys.lookup(km, "7") == {"key": "7", "action": "digit", "args": ["7"],
                                    "label": "Type an option's number", "interval_ms": 600}  # fmt: skip
    # a later group replaces a key of the base
    mine = keys.keymap([{"key": "s", "action": "save_draft", "label": "Save draft"}])
    assert keys.lookup(mine, "s")["action"] == "save_draft"
    assert [e["key"] for e in mine].count("s") == 1


def test_shown_names_and_help_name_every_key():
    km = keys.keymap(keys.TASK_KEYS)
    assert keys.shortcut("skip", km) == "S"
    assert keys.shortcut("next_task", km) == "Tab / ↓"
    assert keys.shortcut("prev_task", km) == "Shift+Tab / ↑"
    assert keys.describe("back", km) == "Back (Backspace)"
    assert keys.describe("nothing", km) == "nothing"
    text = keys.help_text(km, max_options=30)
    assert "1-30 pick in the active task (type both digits of 10-30 quickly)" in text
    for action in ("submit", "skip", "back", "undo", "next_task"):
        assert keys.shortcut(action, km) in text
    assert "Esc" in text and "wherever the mouse is" in text
    assert "1-3 pick" in keys.help_text(km, max_options=3)


def test_keymap_refuses_bad_entries():
    with pytest.raises(InputError, match="must be dicts with 'key' and 'action'"):
        keys.keymap([{"key": "q"}])
    with pytest.raises(InputError, match=r"must be normalised .* Got 'Q' instead; use 'q'"):
        keys.keymap([{"key": "Q", "action": "quit"}])
    with pytest.raises(InputError, match="`key` must be a KeyboardEvent.key string"):
        keys.normalize_key("")


@pytest.mark.parametrize(
    ("n", "typed", "picked"),
    [
        (3, ["2"], [2]),  # one digit, at once
        (12, ["1", "2"], [None, 12]),  # two digits within the interval
        (12, ["2"], [2]),  # no 2x option: picked at once
        (12, ["1", "0"], [None, 10]),
        (30, ["3", "0"], [None, 30]),
        (30, ["4"], [4]),
        (10, ["1", "0"], [None, 10]),
        (9, ["9"], [9]),
    ],
)
def test_digit_buffer(n, typed, picked):
    b = keys.DigitBuffer(n)
    assert [b.feed(d) for d in typed] == picked


def test_digit_buffer_flush_and_errors():
    b = keys.DigitBuffer(12)
    assert b.feed("1") is None and b.flush() == 1  # the interval passed, or another key came
    assert b.flush() is None
    with pytest.raises(InputError, match="Typed 0 must be an option number 1-3"):
        keys.DigitBuffer(3).feed("0")
    b = keys.DigitBuffer(30)
    b.feed("0")
    with pytest.raises(InputError, match="Typed 0 must be an option number 1-30"):
        b.flush()
    with pytest.raises(InputError, match="`digit` must be one of '0'-'9'"):
        keys.DigitBuffer(3).feed("x")
