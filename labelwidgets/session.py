"""One rater's labeling session (logic layer): the queue, resume, back, skip, undo and the status.

Every labeling widget drives a :class:`Session`; the session holds the rules and the widget only
shows them. Nothing here imports a widget library, so the rules are unit-tested without a browser.

Rules
-----
- The queue is the explicit ``item_ids`` if given, else the rater's assignments in the store (of
  the given roles), else every item of the image set (:func:`build_queue`).
- The session starts at the first item the rater has not done; an item is done once it is answered
  or skipped for every task. After a submit or a skip the session moves to the next open item
  (wrapping to the start of the queue), or to the end of the queue when all are done.
- Each submit, skip and undo is one transaction, committed before the method returns.
- An answer is stored only for an item whose image was shown (:meth:`Session.mark_shown`). An item
  whose image cannot be shown (deleted or unreadable since the image set was built) is moved to
  ``images.skipped`` with the reason, dropped from the queue, and nothing is stored for it.
- The status is data, ``{"text", "level"}`` with level ``ok``, ``info``, ``warn`` or ``error``.
  It names buttons and keys, never Python methods; a skip says "Skipped"; every action replaces
  the previous status, so a stale error never stays after a valid action.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from . import keys as _keys
from ._validate import InputError, check_name
from .images import ImageSet
from .store import LabelStore, default_rater

__all__ = ["Session", "SessionAccess", "build_queue", "message", "LEVELS"]

LEVELS = ("ok", "info", "warn", "error")


def message(text: str = "", level: str = "info") -> dict:
    """A status message as data: ``{"text": text, "level": level}``.

    Examples
    --------
    >>> message("Saved a.jpg.", "ok")
    {'text': 'Saved a.jpg.', 'level': 'ok'}
    """
    if level not in LEVELS:
        raise InputError(f"`level` must be one of {list(LEVELS)}. Got {level!r} instead.")
    return {"text": str(text), "level": level}


def build_queue(
    images: ImageSet,
    store: LabelStore,
    rater: str,
    item_ids: Iterable[str] | None = None,
    roles: Sequence[str] | None = None,
) -> list[str]:
    """The items one rater is to label, in order.

    Explicit ``item_ids`` win; otherwise, when the store holds assignments for ``rater``
    (optionally of the given ``roles``), only those items; otherwise every item of ``images``.
    Assigned items that are not in ``images`` (e.g. skipped as unreadable) are left out.

    Raises
    ------
    InputError
        When ``item_ids`` names items that are not in ``images``.
    """
    known = set(images.item_ids)
    if item_ids is not None:
        ids = list(dict.fromkeys(item_ids))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise InputError(
                f"`item_ids` must be items of the image set. Got unknown ids {unknown[:5]} "
                f"instead; e.g. {images.item_ids[:3]} are known."
            )
        return ids
    assigned = store.assignments(rater=rater)
    if roles is not None:
        assigned = assigned[assigned["role"].isin(list(roles))]
    if len(assigned):
        return [i for i in dict.fromkeys(assigned["item_id"]) if i in known]
    return images.item_ids


class Session:
    """One rater's queue over an image set, committed to a label store.

    Parameters
    ----------
    images : ImageSet
        The items.
    store : LabelStore
        Where every submission is committed.
    rater : str or None
        Who labels (None: the OS user).
    task_names : sequence of str
        The tasks an item must be answered (or skipped) for to count as done.
    item_ids : iterable of str or None, default=None
        Restrict the queue to these items (default: the rater's assignments, else all).
    roles : sequence of str or None, default=None
        Assignment roles that feed the queue (default: all roles).
    keymap : list of dict or None, default=None
        The widget's key map (:func:`labelwidgets.keys.keymap`); messages name its keys.

    Attributes
    ----------
    queue : list of str
        The rater's items in order.
    done : set of str
        Items of the queue answered or skipped for every task.
    index : int
        Position of the current item in ``queue`` (``len(queue)``: the end of the queue).
    status : dict
        The latest message, ``{"text", "level"}``.
    """

    def __init__(
        self,
        images: ImageSet,
        store: LabelStore,
        rater: str | None,
        task_names: Sequence[str],
        item_ids: Iterable[str] | None = None,
        roles: Sequence[str] | None = None,
        keymap: list[dict] | None = None,
    ):
        if not isinstance(images, ImageSet):
            raise InputError(
                f"`images` must be an ImageSet. Got {type(images).__name__!r} instead; "
                "build one with ImageSet.from_folder(...)."
            )
        if not isinstance(store, LabelStore):
            raise InputError(
                f"`store` must be a LabelStore. Got {type(store).__name__!r} instead; "
                "pass e.g. store=LabelStore('labels.db')."
            )
        self.images = images
        self.store = store
        self.rater = check_name(rater if rater is not None else default_rater(), "rater")
        self.task_names = list(task_names)
        self.keymap = keymap if keymap is not None else _keys.keymap()
        images.to_store(store)
        self.queue = build_queue(images, store, self.rater, item_ids, roles)
        self.done = store.progress(self.rater, self.task_names) & set(self.queue)
        self.history: list[tuple[str, str]] = []  # (submission_id, item_id) made here, for undo
        self.shown: set[str] = set()
        self.unshowable: dict[str, str] = {}
        self.index = self.first_open(0)
        self.status = self._arrival_message()

    # ------------------------------------------------------------------ queue
    def __repr__(self) -> str:
        return f"Session({len(self.queue)} items, rater={self.rater!r}, at {self.index})"

    @property
    def current_item(self) -> str | None:
        """The item on screen, or None once the queue is finished."""
        return self.queue[self.index] if self.index < len(self.queue) else None

    @property
    def progress(self) -> dict:
        """``{"done", "total", "rater"}`` for the progress bar."""
        return {"done": len(self.done), "total": len(self.queue), "rater": self.rater}

    def first_open(self, start: int) -> int:
        """Index of the first open item from ``start`` on, wrapping round; ``len(queue)`` if none."""
        n = len(self.queue)
        for i in [*range(start, n), *range(0, min(start, n))]:
            if self.queue[i] not in self.done:
                return i
        return n

    def ahead(self, k: int) -> list[str]:
        """The next ``k`` open items the session would show if the current one and each of these
        were submitted in turn (what the browser prefetches)."""
        out: list[str] = []
        if self.current_item is None:
            return out
        taken = set(self.done) | {self.current_item}
        i = self.index
        n = len(self.queue)
        for step in range(1, n):
            j = (i + step) % n
            if len(out) >= k:
                break
            if self.queue[j] not in taken:
                out.append(self.queue[j])
        return out

    def behind(self) -> str | None:
        """The item Back goes to, or None at the start of the queue."""
        return self.queue[self.index - 1] if self.index > 0 and self.queue else None

    def position(self, item_id: str) -> int:
        """The index of ``item_id`` in the queue."""
        try:
            return self.queue.index(item_id)
        except ValueError:
            raise InputError(
                f"`item_id` must be an item of this rater's queue. Got {item_id!r} instead; "
                f"the queue holds {len(self.queue)} items, e.g. {self.queue[:3]}."
            ) from None

    def go_to(self, index: int) -> None:
        """Make the item at ``index`` current (``len(queue)`` is the end of the queue)."""
        if not isinstance(index, int) or not 0 <= index <= len(self.queue):
            raise InputError(f"`index` must be in [0, {len(self.queue)}]. Got {index!r} instead.")
        self.index = index
        self.status = self._arrival_message()

    def back(self) -> None:
        """Go to the previous item of the queue; its earlier answers are shown for editing."""
        if self.index == 0:
            self.status = message(
                "This is the first item: there is nothing before it.", "info"
            )
            return
        self.go_to(self.index - 1)

    def _arrival_message(self) -> dict:
        if self.current_item is None:
            return message(self.end_text(), "ok")
        return message()

    def end_text(self) -> str:
        """What the end screen says (names the Back button and its key)."""
        n = len(self.queue)
        back = _keys.describe("back", self.keymap)
        if n == 0:
            return f"There is nothing to label for {self.rater}: the queue is empty."
        return f"All {n} items are done. Thank you, {self.rater}! Press {back} to edit an earlier one."

    def require_item(self, action: str, item_id: str | None = None) -> str:
        """The item to act on: ``item_id`` (which must be in the queue and shown) or the current one.

        Raises
        ------
        InputError
            At the end of the queue (naming the Back button), for an item outside the queue,
            or for an item whose image was never shown.
        """
        if item_id is None:
            item_id = self.current_item
            if item_id is None:
                back = _keys.describe("back", self.keymap)
                raise InputError(
                    f"The queue is finished: there is no item to {action}. "
                    f"Press {back} to edit an earlier one."
                )
        self.position(item_id)
        if item_id not in self.shown:
            reason = self.unshowable.get(item_id)
            raise InputError(
                f"{item_id} was never shown, so nothing is stored for it"
                + (f" ({reason})." if reason else ".")
            )
        return item_id

    def mark_shown(self, item_id: str) -> None:
        """Record that ``item_id``'s image reached the screen (answers may now be stored)."""
        self.shown.add(item_id)

    # ---------------------------------------------------------------- commits
    def commit(self, item_id: str | None, write: Callable[[str], str], text: str | None = None) -> str:
        """Store a submission for an item through ``write(item_id) -> submission_id``; advance.

        ``write`` must write one transaction (e.g. ``LabelStore.submit``) and return its id. The
        item counts as done, the submission joins the undo history, the session moves to the next
        open item after it, and the status says ``text`` (default "Saved <item>.").
        """
        item = self.require_item("submit", item_id)
        sid = write(item)
        self._record(sid, item, done=True)
        self.status = message(text or f"Saved {item}.", "ok")
        if self.current_item is None:
            self.status = message(f"{self.status['text']} {self.end_text()}", "ok")
        return sid

    def skip(self, item_id: str | None = None, reason: str | None = None) -> str:
        """Record a skip (a ``skip`` row per task, no label) for the item and move on."""
        item = self.require_item("skip", item_id)
        sid = self.store.skip(item, self.rater, self.task_names, reason=reason)
        self._record(sid, item, done=True)
        text = f"Skipped {item}: no label stored."
        if self.current_item is None:
            text += " " + self.end_text()
        self.status = message(text, "info")
        return sid

    def _record(self, submission_id: str, item_id: str, done: bool) -> None:
        self.history.append((submission_id, item_id))
        if done:
            self.done.add(item_id)
        index = self.position(item_id)
        self.index = self.first_open(index + 1)

    def undo(self) -> str | None:
        """Retract the last submission or skip made in this session and show its item again.

        Returns
        -------
        str or None
            The id of the retraction, or None when there is nothing to undo.
        """
        if not self.history:
            self.status = message("Nothing to undo: no submission was made here yet.", "info")
            return None
        submission_id, item_id = self.history.pop()
        retraction = self.store.retract(submission_id)
        self.done = self.store.progress(self.rater, self.task_names) & set(self.queue)
        self.index = self.position(item_id)
        self.status = message(f"Undid the last submission for {item_id}; it is shown again.", "ok")
        return retraction

    # ----------------------------------------------------- unshowable images
    def drop_unshowable(self, item_id: str, reason: str) -> None:
        """Move an item whose image cannot be shown out of the queue, into ``images.skipped``.

        Nothing is stored for it; the session stays on the same position (now the next item).
        """
        if item_id in self.unshowable:
            return
        self.unshowable[item_id] = reason
        self.shown.discard(item_id)
        skipped = pd.DataFrame({"path": [self.images.path(item_id)], "reason": [reason]})
        self.images.skipped = pd.concat([self.images.skipped, skipped], ignore_index=True)
        if item_id in self.queue:
            at = self.queue.index(item_id)
            self.queue.pop(at)
            self.done.discard(item_id)
            if at < self.index:
                self.index -= 1
            self.index = self.first_open(min(self.index, len(self.queue)))
        before = self.status["text"] if self.status["level"] in ("ok", "info") else ""
        warning = (
            f"{item_id} could not be shown ({reason}). It was moved to images.skipped and nothing "
            "is stored for it; showing the next item."
        )
        self.status = message(f"{before} {warning}".strip(), "warn")

    def say(self, text: str, level: str = "info") -> None:
        """Replace the status with ``text`` at ``level``."""
        self.status = message(text, level)


class SessionAccess:
    """Read-only views of ``self.session`` for the widgets that drive a :class:`Session`."""

    rater = property(lambda self: self.session.rater, doc="Who labels.")
    queue = property(lambda self: self.session.queue, doc="The rater's items in order.")
    done = property(lambda self: self.session.done, doc="Items answered or skipped for every task.")
    index = property(lambda self: self.session.index, doc="Position of the current item.")
    current_item = property(lambda self: self.session.current_item, doc="The item on screen (None at the end).")
    images = property(lambda self: self.session.images, doc="The image set.")
    store = property(lambda self: self.session.store, doc="The label store.")
