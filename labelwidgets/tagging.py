"""Multi-task tagging: several label tasks per image, answered from predefined options.

Click the widget once (or Tab to it): from then on the keys work wherever the mouse is, until
Esc or a click outside. Type an option's number to pick it in the active task (a single-label
pick moves on to the next task; with 10 or more options type both digits of 10-99 quickly),
``Tab`` / ``↓`` and ``Shift+Tab`` / ``↑`` change the task, ``Enter`` submits, ``S`` skips,
``Backspace`` goes back, ``Z`` undoes. The keys come from :func:`labelwidgets.keys.keymap`.

The browser holds the next images before they are needed and shows the next one on the key
press; the submission is committed in the kernel meanwhile and the widget says when it is saved,
or that it is not (see :mod:`labelwidgets._widget`). ``order="uncertainty"`` shows the items a
model is least sure of first (:mod:`labelwidgets.active`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import traitlets as t

from . import keys as _keys
from ._tasks import (
    MultiLabel,
    OptionCounts,
    answers_from_rows,
    normalize_answers,
    normalize_suggestions,
    normalize_tasks,
    suggestion_record,
    task_kind,
    toggle,
)
from ._validate import InputError
from ._widget import LabelingWidget, frontend_module
from .active import UncertaintyRank
from .images import ImageSet
from .session import Session
from .store import LabelStore

__all__ = ["MultiTaskTagger", "toggle", "suggestion_record"]
log = logging.getLogger("labelwidgets")

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
    order : {None, "uncertainty", "least_confidence", "margin", "entropy"}, default=None
        None keeps the queue's order; the others show first the items a model is least sure
        of, from its ``source="model"`` predictions in the store (:mod:`labelwidgets.active`;
        ``"uncertainty"`` is least confidence; unpredicted items follow). Each time the rater
        moves on, the items not yet shown are re-ordered by the newest predictions.
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
        order: str | None = None,
        max_size: int = 768,
        min_size: int = 384,
    ):
        reserved = images.metadata_columns if isinstance(images, ImageSet) else ()
        self.tasks = normalize_tasks(tasks, reserved=reserved)
        self.suggestions = normalize_suggestions(self.tasks, suggestions)
        self.order, self._rank = order, None if order is None else UncertaintyRank(order, self.tasks)
        keymap = _keys.keymap(_keys.TASK_KEYS)
        session = Session(images, store, rater, list(self.tasks), item_ids, roles, keymap,
                          progress=self._progress)  # fmt: skip
        for name, options in self.tasks.items():
            store.register_task(name, options, task_kind(options))
        super().__init__(session, max_size=max_size, min_size=min_size)
        self._reorder()
        self._digits: _keys.DigitBuffer | None = None
        self._load_answers()
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
    def _load_answers(self) -> None:
        """This rater's current answers per item of the queue, and the option counts."""
        cur = self.store.current(rater=self.rater)
        self.answers = answers_from_rows(cur[cur["item_id"].isin(self.queue)], self.tasks)
        self._counts = OptionCounts(self.tasks, self.answers.values())

    def _after_undo(self) -> None:
        self._load_answers()

    _progress = None  # the Session's progress(rater, tasks) -> finished items; None: the store's

    def _reorder(self) -> None:
        """Re-order the items not yet shown by the model's uncertainty (``order``)."""
        if self._rank is None:
            return
        try:
            self.session.reorder(self._rank(self.store))
        except Exception as exc:  # the answer is already committed: never report it as lost
            log.warning("labelwidgets: re-ordering by %s failed: %r", self.order, exc)
            self.say(f"{self.session.status['text']} The order by {self.order} could not be updated "
                     f"({type(exc).__name__}: {exc}); the queue keeps its order.".strip(), "warn")  # fmt: skip

    def _preset(self, item_id: str) -> dict:
        """What is selected on an item the rater has not answered: the suggestions."""
        return {k: v for k, v in self.suggestions.get(item_id, {}).items() if k != "_meta"}

    def _record(self, item_id: str, answers: dict) -> dict | None:
        """The ``attributes`` stored with a submission: whether suggestions were accepted."""
        return suggestion_record(self.suggestions.get(item_id), answers)

    def _initial(self, item_id: str) -> dict:
        """What is selected when an item is shown: the rater's earlier answers, else the preset."""
        earlier = self.answers.get(item_id)
        base = dict(earlier) if earlier else self._preset(item_id)
        return {
            name: sorted(base.get(name) or [], key=list(opts).index) if isinstance(opts, MultiLabel)
            else base.get(name)
            for name, opts in self.tasks.items()
        }  # fmt: skip

    def counts(self) -> pd.DataFrame:
        """How often this rater chose each option so far: ``task, option, n``."""
        return self._counts.frame()

    def _set_answer(self, item: str, answer: dict) -> None:
        self._counts.replace(self.answers.get(item, {}), answer)
        self.answers[item] = answer

    # --------------------------------------------------------------- handlers
    def _on_submit(self, msg: dict) -> str:
        item = self.session.require_item("submit", msg.get("item_id"))
        clean = normalize_answers(self.tasks, msg.get("answers") or {})
        record = self._record(item, clean)
        sid = self.session.commit(
            item, lambda i: self.store.submit(i, clean, self.rater, attributes=record)
        )
        self._set_answer(item, clean)
        self._reorder()
        return sid

    def _on_skip(self, msg: dict) -> str:
        sid = super()._on_skip(msg)
        self._set_answer(self.session.history[-1][1], {})
        self._reorder()
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
            self._digit(None)
        if action == "next_task":
            return self._set_active(self.active + 1)
        if action == "prev_task":
            return self._set_active(self.active - 1)
        if action == "digit":
            return self._digit(entry["args"][0])
        return super()._key_action(entry)

    def _digit(self, digit: str | None) -> None:
        """Feed a typed digit to the active task; None commits a lone digit still waiting."""
        buffer = self._digits
        if self.current_item is None or (digit is None and not (buffer and buffer.typed)):
            return
        task = list(self.tasks)[self.active]
        n = len(self.tasks[task])
        if digit is not None and (buffer is None or buffer.n_options != n):
            buffer = self._digits = _keys.DigitBuffer(n)
        try:
            number = buffer.feed(digit) if digit is not None else buffer.flush()
        except InputError as exc:
            return self.say(f"{exc} ({task} has {n} options).", "error")
        if number is not None:
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
        self.option_counts = self._counts.lists()
        if self.selection.get("item_id") != self.current_item:
            self._digits = None
            self.selection = {
                "item_id": self.current_item,
                "answers": self._initial(self.current_item) if self.current_item else {},
                "active": 0,
            }
