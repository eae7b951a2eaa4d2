"""Multi-task tagging: several label tasks per image, answered from predefined options.

Click the widget once (or Tab to it): from then on the keys work wherever the mouse is, until
Esc or a click outside. Type an option's number to pick it in the active task (a single-label
pick moves on to the next task; with 10 or more options type both digits of 10-99 quickly),
``Tab`` / ``↓`` and ``Shift+Tab`` / ``↑`` change the task, ``Enter`` submits, ``S`` skips,
``Backspace`` goes back, ``Z`` undoes. The keys come from :func:`labelwidgets.keys.keymap`.

The browser holds the next images before they are needed and shows the next one on the key
press; the submission is committed in the kernel meanwhile and the widget says when it is saved,
or that it is not (see :mod:`labelwidgets._widget`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import traitlets as t

from . import keys as _keys
from ._tasks import MultiLabel, normalize_answers, normalize_suggestions, normalize_tasks, task_kind
from ._validate import InputError
from ._widget import LabelingWidget, frontend_module
from .images import ImageSet
from .session import Session
from .store import LabelStore

__all__ = ["MultiTaskTagger", "toggle", "suggestion_record"]


def toggle(options: Sequence[str], chosen, option: str):
    """The answer after clicking ``option``: a multi-label task toggles it in the sorted list
    ``chosen``; a single-label task takes it.

    Examples
    --------
    >>> toggle(MultiLabel(["red", "green"]), ["green"], "red")
    ['red', 'green']
    >>> toggle(("in", "out"), "in", "out")
    'out'
    """
    if option not in options:
        raise InputError(f"`option` must be one of {list(options)}. Got {option!r} instead.")
    if isinstance(options, MultiLabel):
        now = set(chosen or []) ^ {option}
        return [o for o in options if o in now]
    return option


def suggestion_record(suggested: Mapping | None, answers: Mapping) -> dict | None:
    """Per task, whether the rater accepted a model's suggestion (stored in ``attributes``).

    ``suggested`` is one item of :func:`~labelwidgets._tasks.normalize_suggestions`.
    """
    if not suggested:
        return None
    record = {}
    for task, meta in suggested["_meta"].items():
        value = suggested[task]
        same = sorted(value) == sorted(answers[task]) if isinstance(value, list) else value == answers[task]
        record[task] = {"suggested": value, "accepted": bool(same),
                        "suggestion_model": meta["model"], "suggestion_confidence": meta["confidence"]}  # fmt: skip
    return record


class MultiTaskTagger(LabelingWidget):
    """Label several tasks per image from predefined options, by keyboard or mouse.

    Parameters
    ----------
    images : ImageSet
        The items to label.
    tasks : dict
        Task name -> list of options (one answer) or ``MultiLabel(options)`` (any subset).
    rater : str or None, default=None
        Who labels (default: the OS user).
    store : LabelStore
        Where answers are committed (required: e.g. ``LabelStore("labels.db")``).
    suggestions : pandas.DataFrame or None, default=None
        Model answers (``item_id, task, label``, optional ``confidence, model``) pre-selected
        for the rater to confirm or correct. Whether each was accepted is recorded in the
        submission's ``attributes`` (``suggested``, ``accepted``, ``suggestion_model``,
        ``suggestion_confidence``); the rows stay ``source="human"``.
    item_ids : iterable of str or None, default=None
        Restrict the queue (default: the rater's assignments if any, else every item).
    roles : sequence of str or None, default=None
        Assignment roles that feed the queue.
    max_size : int, default=768
        Longest side of the displayed image in pixels (larger images are scaled down; the
        view scales them further to fit).
    min_size : int, default=384
        Images smaller than this (e.g. 96 px shapes) are enlarged by a whole factor, pixels
        kept sharp.

    Examples
    --------
    >>> tagger = MultiTaskTagger(images, {"variety": ["daisy", "rose"],
    ...                                   "color": MultiLabel(["red", "white"])},
    ...                          rater="alice", store=store)  # doctest: +SKIP
    >>> tagger.submit({"variety": "rose", "color": ["red"]})  # doctest: +SKIP
    """

    _esm = frontend_module("tagger.js")

    tasks_spec = t.List(t.Dict()).tag(sync=True)
    selection = t.Dict().tag(sync=True)
    option_counts = t.Dict().tag(sync=True)

    def __init__(
        self,
        images: ImageSet,
        tasks: Mapping[str, Sequence[str]],
        *,
        rater: str | None = None,
        store: LabelStore,
        suggestions: pd.DataFrame | None = None,
        item_ids: Iterable[str] | None = None,
        roles: Sequence[str] | None = None,
        max_size: int = 768,
        min_size: int = 384,
    ):
        reserved = images.metadata_columns if isinstance(images, ImageSet) else ()
        self.tasks = normalize_tasks(tasks, reserved=reserved)
        self.suggestions = normalize_suggestions(self.tasks, suggestions)
        keymap = _keys.keymap(_keys.TASK_KEYS)
        session = Session(images, store, rater, list(self.tasks), item_ids, roles, keymap)
        for name, options in self.tasks.items():
            store.register_task(name, options, task_kind(options))
        super().__init__(session, max_size=max_size, min_size=min_size)
        self._digits: _keys.DigitBuffer | None = None
        self.answers = self._load_answers()
        self._recount()
        most = max(len(o) for o in self.tasks.values())
        with self.hold_sync():
            self.keymap = keymap
            self.help = _keys.help_text(keymap, most)
            self.tasks_spec = [
                {"name": name, "multi": isinstance(opts, MultiLabel), "options": list(opts)}
                for name, opts in self.tasks.items()
            ]
        self._refresh()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.queue)} items, tasks={list(self.tasks)}, rater={self.rater!r})"

    # ------------------------------------------------------------------ state
    def _load_answers(self) -> dict[str, dict]:
        """This rater's current answers per item (skipped items map to ``{}``)."""
        cur = self.store.current(rater=self.rater)
        cur = cur[cur["task"].isin(list(self.tasks)) & cur["item_id"].isin(self.queue)]
        answers: dict[str, dict] = {}
        for (item, task), rows in cur.groupby(["item_id", "task"], sort=False):
            entry = answers.setdefault(item, {})
            if (rows["kind"] == "skip").any():
                continue
            labels = rows["label"].dropna().tolist()
            multi = isinstance(self.tasks[task], MultiLabel)
            entry[task] = labels if multi else (labels[0] if labels else None)
        return answers

    def _after_undo(self) -> None:
        self.answers = self._load_answers()
        self._recount()

    def _initial(self, item_id: str) -> dict:
        """What is selected when an item is shown: the rater's earlier answers, else suggestions."""
        earlier = self.answers.get(item_id)
        base = dict(earlier) if earlier else {
            k: v for k, v in self.suggestions.get(item_id, {}).items() if k != "_meta"
        }
        return {
            name: sorted(base.get(name) or [], key=list(opts).index) if isinstance(opts, MultiLabel)
            else base.get(name)
            for name, opts in self.tasks.items()
        }  # fmt: skip

    def counts(self) -> pd.DataFrame:
        """How often this rater chose each option so far: ``task, option, n``."""
        return pd.DataFrame(
            [{"task": t, "option": o, "n": self._counts[(t, o)]} for t, opts in self.tasks.items() for o in opts]
        )

    def _recount(self) -> None:
        self._counts = {(t, o): 0 for t, opts in self.tasks.items() for o in opts}
        for answer in self.answers.values():
            self._count(answer, 1)

    def _count(self, answer: dict, sign: int) -> None:
        for task, value in answer.items():
            for option in value if isinstance(value, list) else [value]:
                if (task, option) in self._counts:
                    self._counts[(task, option)] += sign

    def _set_answer(self, item: str, answer: dict) -> None:
        self._count(self.answers.get(item, {}), -1)
        self.answers[item] = answer
        self._count(answer, 1)

    # --------------------------------------------------------------- handlers
    def _on_submit(self, msg: dict) -> str:
        item = self.session.require_item("submit", msg.get("item_id"))
        clean = normalize_answers(self.tasks, msg.get("answers") or {})
        record = suggestion_record(self.suggestions.get(item), clean)
        sid = self.session.commit(
            item, lambda i: self.store.submit(i, clean, self.rater, attributes=record)
        )
        self._set_answer(item, clean)
        return sid

    def _on_skip(self, msg: dict) -> str:
        sid = super()._on_skip(msg)
        self._set_answer(self.session.history[-1][1], {})
        return sid

    # ------------------------------------------------------------------ twins
    def submit(self, answers: Mapping | None = None) -> str:
        """Commit answers for the current item and advance; Submit and Enter do the same.

        Parameters
        ----------
        answers : dict or None, default=None
            Task -> option (or list of options); None submits what is selected on screen.

        Returns
        -------
        str
            The submission id (the rows are committed when this returns).
        """
        if answers is None:
            answers = self._selected()
        return self._twin("submit", item_id=self.current_item, answers=dict(answers))

    def _selected(self) -> dict:
        sel = self.selection
        if self.current_item is not None and sel.get("item_id") == self.current_item:
            return dict(sel.get("answers") or {})
        return self._initial(self.current_item) if self.current_item else {}

    def select(self, task: str, option: str) -> None:
        """Pick ``option`` for ``task`` (toggles it in a multi-label task), like its button."""
        if task not in self.tasks:
            raise InputError(f"`task` must be one of {list(self.tasks)}. Got {task!r} instead.")
        answers = self._selected()
        answers[task] = toggle(self.tasks[task], answers.get(task), option)
        self.selection = {"item_id": self.current_item, "answers": answers,
                          "active": list(self.tasks).index(task)}  # fmt: skip

    @property
    def active(self) -> int:
        """Index of the active task (the one digits answer)."""
        sel = self.selection
        return int(sel.get("active", 0)) if sel.get("item_id") == self.current_item else 0

    def _set_active(self, active: int) -> None:
        self.selection = {"item_id": self.current_item, "answers": self._selected(),
                          "active": active % len(self.tasks)}  # fmt: skip

    def _key_action(self, entry: dict):
        action = entry["action"]
        if action != "digit":
            self._flush_digits()
        if action == "next_task":
            return self._set_active(self.active + 1)
        if action == "prev_task":
            return self._set_active(self.active - 1)
        if action == "digit":
            return self._digit(entry["args"][0])
        return super()._key_action(entry)

    def _digit(self, digit: str) -> None:
        if self.current_item is None:
            return
        task = list(self.tasks)[self.active]
        if self._digits is None or self._digits.n_options != len(self.tasks[task]):
            self._digits = _keys.DigitBuffer(len(self.tasks[task]))
        try:
            number = self._digits.feed(digit)
        except InputError as exc:
            self.say(f"{exc} ({task} has {len(self.tasks[task])} options).", "error")
            return
        if number is not None:
            self._pick(task, number)

    def _flush_digits(self) -> None:
        if self._digits is None or not self._digits.typed:
            return
        task = list(self.tasks)[self.active]
        try:
            number = self._digits.flush()
        except InputError as exc:
            self.say(f"{exc} ({task} has {len(self.tasks[task])} options).", "error")
            return
        self._pick(task, number)

    def _pick(self, task: str, number: int) -> None:
        options = self.tasks[task]
        self.select(task, options[number - 1])
        if not isinstance(options, MultiLabel) and self.active < len(self.tasks) - 1:
            self._set_active(self.active + 1)

    # ----------------------------------------------------------------- window
    def note(self, item_id: str) -> str:
        """The line shown under an item's header ("" here; the tiebreak queue names the disputed
        tasks)."""
        return ""

    def _entry(self, item_id: str) -> dict:
        suggested = {
            k: (v if isinstance(v, list) else [v])
            for k, v in self.suggestions.get(item_id, {}).items() if k != "_meta"
        }  # fmt: skip
        return {"initial": self._initial(item_id), "earlier": item_id in self.answers,
                "suggested": suggested, "note": self.note(item_id)}  # fmt: skip

    def _sync_extra(self) -> None:
        self.option_counts = {
            name: [self._counts[(name, o)] for o in opts] for name, opts in self.tasks.items()
        }
        if self.selection.get("item_id") != self.current_item:
            self._digits = None
            self.selection = {
                "item_id": self.current_item,
                "answers": self._initial(self.current_item) if self.current_item else {},
                "active": 0,
            }
