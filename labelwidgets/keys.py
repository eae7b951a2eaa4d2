"""Keyboard shortcuts as data (core layer): one table for the front end, the help text, the
button tooltips and Python's ``press()`` twin.

A key map is a list of ``{"key", "action", "args", "label"}`` entries. ``key`` is a
``KeyboardEvent.key`` value, lower case for letters, with a ``"Shift+"`` or ``"Ctrl+"`` prefix
where the modifier matters (:func:`normalize_key`). The browser looks every key up in the map it
is sent; it never hard-codes a shortcut.

Options are picked by typing their number. A task with up to 9 options takes one digit. A task
with 10 or more options takes its numbers as typed: the digits typed within
:data:`DIGIT_INTERVAL_MS` of each other form one number, which is picked as soon as no longer
number can follow (``2`` of 12 options at once; ``1`` waits for a second digit, ``1 2`` picks
12), when as many digits as the largest number has were typed, when another key is pressed, or
when the interval passes (``1`` alone picks 1). Digits only ever pick in the active task.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ._validate import InputError

__all__ = [
    "DIGIT_INTERVAL_MS",
    "COMMON",
    "TASK_KEYS",
    "BOX_KEYS",
    "BOX_VIEW_ACTIONS",
    "DigitBuffer",
    "keymap",
    "normalize_key",
    "lookup",
    "describe",
    "shortcut",
    "help_text",
]

#: Digits typed within this many milliseconds of each other form one option number (10-99).
DIGIT_INTERVAL_MS = 600

#: Keys every labeling widget has.
COMMON = (
    {"key": "Enter", "action": "submit", "args": [], "label": "Submit"},
    {"key": "s", "action": "skip", "args": [], "label": "Skip"},
    {"key": "Backspace", "action": "back", "args": [], "label": "Back"},
    {"key": "z", "action": "undo", "args": [], "label": "Undo"},
    {"key": "Escape", "action": "release", "args": [], "label": "Release the keyboard"},
)

#: Keys of widgets that answer tasks from options (the tagger).
TASK_KEYS = (
    {"key": "Tab", "action": "next_task", "args": [], "label": "Next task"},
    {"key": "ArrowDown", "action": "next_task", "args": [], "label": "Next task"},
    {"key": "Shift+Tab", "action": "prev_task", "args": [], "label": "Previous task"},
    {"key": "ArrowUp", "action": "prev_task", "args": [], "label": "Previous task"},
    *(
        {"key": str(d), "action": "digit", "args": [str(d)], "label": "Type an option's number",
         "interval_ms": DIGIT_INTERVAL_MS}
        for d in range(10)
    ),
)

_ARROWS = {"ArrowLeft": (-1, 0), "ArrowRight": (1, 0), "ArrowUp": (0, -1), "ArrowDown": (0, 1)}
#: The box annotator's keys beyond the common ones (Enter, S, Backspace, Z, Esc).
BOX_KEYS = (
    *({"key": str(d), "action": "class", "args": [str(d)], "label": "Class",
       "interval_ms": DIGIT_INTERVAL_MS} for d in range(10)),
    {"key": "Tab", "action": "next", "label": "Select the next box"},
    {"key": "Shift+Tab", "action": "prev", "label": "Select the previous box"},
    {"key": "Delete", "action": "delete", "label": "Delete the selected box"},
    {"key": "Ctrl+z", "action": "restore", "label": "Bring back the deleted box"},
    {"key": "a", "action": "accept", "label": "Accept the selected model box"},
    {"key": "r", "action": "reject", "label": "Reject the selected model box"},
    {"key": "+", "action": "zoom_in", "label": "Zoom in"},
    {"key": "=", "action": "zoom_in", "label": "Zoom in"},
    {"key": "-", "action": "zoom_out", "label": "Zoom out"},
    {"key": "f", "action": "fit", "label": "Fit the image"},
    *({"key": k, "action": "pan", "args": [dx / 5, dy / 5], "label": "Pan"} for k, (dx, dy) in _ARROWS.items()),
    *({"key": "Shift+" + k, "action": "nudge", "args": [dx, dy], "label": "Move the selected box 1 px"}
      for k, (dx, dy) in _ARROWS.items()),
)  # fmt: skip
#: Box annotator actions that act on the canvas only (no Python twin).
BOX_VIEW_ACTIONS = ("next", "prev", "delete", "restore", "zoom_in", "zoom_out", "fit", "pan", "nudge")

_SHOWN = {
    "Enter": "Enter",
    "Backspace": "Backspace",
    "Escape": "Esc",
    "ArrowDown": "↓",
    "ArrowUp": "↑",
    "ArrowLeft": "←",
    "ArrowRight": "→",
    "Delete": "Delete",
    " ": "Space",
}


def keymap(*groups: Iterable[dict], base: Sequence[dict] = COMMON) -> list[dict]:
    """A key map: ``base`` (the common keys) followed by each group; later entries replace
    earlier ones with the same key.

    Raises
    ------
    InputError
        For an entry without ``key`` / ``action`` or with a key that is not normalised.

    Examples
    --------
    >>> [e["key"] for e in keymap()]
    ['Enter', 's', 'Backspace', 'z', 'Escape']
    >>> lookup(keymap(), "S")["action"]
    'skip'
    """
    out: dict[str, dict] = {}
    for entry in [*base, *(e for group in groups for e in group)]:
        if not isinstance(entry, dict) or not entry.get("key") or not entry.get("action"):
            raise InputError(
                f"Key map entries must be dicts with 'key' and 'action'. Got {entry!r} instead."
            )
        key = entry["key"]
        if normalize_key(*_split(key)) != key:
            raise InputError(
                f"Key map keys must be normalised (see normalize_key). Got {key!r} instead; "
                f"use {normalize_key(*_split(key))!r}."
            )
        out[key] = {**entry, "args": list(entry.get("args", [])),
                    "label": entry.get("label", entry["action"])}  # fmt: skip
    return list(out.values())


def _split(key: str) -> tuple[str, bool, bool]:
    shift = ctrl = False
    while True:
        if key.startswith("Shift+") and len(key) > 6:
            shift, key = True, key[6:]
        elif key.startswith("Ctrl+") and len(key) > 5:
            ctrl, key = True, key[5:]
        else:
            return key, shift, ctrl


def normalize_key(key: str, shift: bool = False, ctrl: bool = False) -> str:
    """The key map name of a key press: letters in lower case (Shift and Caps Lock ignored),
    ``"Shift+"`` only before named keys (``"Shift+Tab"``), ``"Ctrl+"`` for Ctrl or Cmd.

    Examples
    --------
    >>> normalize_key("S", shift=True), normalize_key("Tab", shift=True), normalize_key("z", ctrl=True)
    ('s', 'Shift+Tab', 'Ctrl+z')
    """
    if not isinstance(key, str) or not key:
        raise InputError(f"`key` must be a KeyboardEvent.key string. Got {key!r} instead.")
    name = key.lower() if len(key) == 1 else key
    if shift and len(key) > 1:
        name = "Shift+" + name
    if ctrl:
        name = "Ctrl+" + name
    return name


def lookup(keys: Sequence[dict], key: str, shift: bool = False, ctrl: bool = False) -> dict | None:
    """The key map entry for a key press, or None when the key does nothing."""
    name = normalize_key(key, shift, ctrl)
    return next((e for e in keys if e["key"] == name), None)


def shortcut(action: str, keys: Sequence[dict]) -> str:
    """The key(s) of ``action`` as printed on buttons and in help: ``"S"``, ``"Tab / ↓"``."""
    names = [_shown(e["key"]) for e in keys if e["action"] == action]
    return " / ".join(dict.fromkeys(names))


def _shown(key: str) -> str:
    base, shift, ctrl = _split(key)
    text = _SHOWN.get(base, base.upper() if len(base) == 1 else base)
    return ("Ctrl+" if ctrl else "") + ("Shift+" if shift else "") + text


def describe(action: str, keys: Sequence[dict]) -> str:
    """A button name with its key, as the status line says it: ``"Back (Backspace)"``."""
    label = next((e["label"] for e in keys if e["action"] == action), action)
    key = shortcut(action, keys)
    return f"{label} ({key})" if key else label


def help_text(keys: Sequence[dict], max_options: int = 0) -> str:
    """One help line: how focus works and every action with its keys.

    Examples
    --------
    >>> help_text(keymap())[:60]
    'Click the widget (or Tab to it) to use the keys: they work w'
    """
    parts = []
    if any(e["action"] == "digit" for e in keys):
        if max_options >= 10:
            parts.append(
                f"1-{max_options} pick in the active task (type both digits of 10-{max_options} "
                "quickly)"
            )
        else:
            parts.append(f"1-{max(max_options, 1)} pick in the active task")
    seen = []
    for e in keys:
        if e["action"] in ("digit", "release") or e["action"] in seen:
            continue
        seen.append(e["action"])
        parts.append(f"{shortcut(e['action'], keys)} {e['label'].lower()}")
    return (
        "Click the widget (or Tab to it) to use the keys: they work wherever the mouse is, and "
        "notebook shortcuts are off meanwhile. Esc or a click outside releases them. "
        + " · ".join(parts)
    )


class DigitBuffer:
    """The option-number rule of the key map for one task of ``n_options`` options.

    :meth:`feed` takes one digit and returns the option number picked (1-based) or None while
    a longer number may still follow; :meth:`flush` picks what was typed (another key was
    pressed, or :data:`DIGIT_INTERVAL_MS` passed). The front end applies the same rule.

    Examples
    --------
    >>> b = DigitBuffer(12)
    >>> b.feed("1"), b.feed("2")
    (None, 12)
    >>> b.feed("3")
    3
    >>> b.feed("1"), b.flush()
    (None, 1)
    """

    def __init__(self, n_options: int):
        self.n_options = int(n_options)
        self.width = len(str(self.n_options))
        self.typed = ""

    def feed(self, digit: str) -> int | None:
        """Add a digit; the option number once it is complete, else None.

        Raises
        ------
        InputError
            When the number typed names no option (e.g. ``0``, or ``15`` of 12).
        """
        if not (isinstance(digit, str) and len(digit) == 1 and digit.isdigit()):
            raise InputError(f"`digit` must be one of '0'-'9'. Got {digit!r} instead.")
        self.typed += digit
        value = int(self.typed)
        if value * 10 > self.n_options or len(self.typed) >= self.width:
            return self.flush()
        return None

    def flush(self) -> int | None:
        """The option number typed so far (None if nothing is pending); clears the buffer."""
        typed, self.typed = self.typed, ""
        if not typed:
            return None
        value = int(typed)
        if not 1 <= value <= self.n_options:
            raise InputError(
                f"Typed {typed} must be an option number 1-{self.n_options}. Got {value} instead."
            )
        return value
