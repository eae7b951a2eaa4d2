"""What every labeling widget shares: one rater's queue of items, resume, progress, keys, status.

A widget subclasses :class:`LabelingSession` and supplies ``_show_item`` (draw the current item)
and ``_handle_key``; the queue, progress bar, status line and keyboard capture live here so the
tagger and the box annotator behave alike.
"""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import ipywidgets as widgets

from .images import ImageSet
from .store import LabelStore, _check_name, default_rater

__all__ = ["LabelingSession", "build_queue"]

log = logging.getLogger("labelwidgets")


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
    Items that are not in ``images`` (e.g. skipped as unreadable) are left out.
    """
    known = set(images.item_ids)
    if item_ids is not None:
        ids = list(dict.fromkeys(item_ids))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValueError(
                f"`item_ids` must be items of the image set. Unknown: {unknown[:5]}; "
                f"e.g. {images.item_ids[:3]} are known."
            )
        return ids
    assigned = store.assignments(rater=rater)
    if roles is not None:
        assigned = assigned[assigned["role"].isin(list(roles))]
    if len(assigned):
        return [i for i in dict.fromkeys(assigned["item_id"]) if i in known]
    return images.item_ids


class LabelingSession(widgets.VBox):
    """Base of the labeling widgets (not used directly).

    Parameters
    ----------
    images : ImageSet
        The items.
    store : LabelStore
        Where every submission is committed.
    rater : str or None
        Who labels (default: the OS user).
    task_names : sequence of str
        The tasks an item must be answered (or skipped) for to count as done.
    item_ids : iterable of str or None
        Restrict the queue to these items (default: the rater's assignments, else all).
    roles : sequence of str or None
        Assignment roles that feed the queue (default: all roles).
    """

    _keys_help = ""

    def __init__(
        self,
        images: ImageSet,
        store: LabelStore,
        rater: str | None,
        task_names: Sequence[str],
        item_ids: Iterable[str] | None = None,
        roles: Sequence[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(images, ImageSet):
            raise TypeError(f"`images` must be an ImageSet. Got {type(images).__name__!r} instead.")
        if not isinstance(store, LabelStore):
            raise TypeError(f"`store` must be a LabelStore. Got {type(store).__name__!r} instead.")
        self.images = images
        self.store = store
        self.rater = _check_name(rater if rater is not None else default_rater(), "rater")
        self._task_names = list(task_names)
        images.to_store(store)
        self.queue = build_queue(images, store, self.rater, item_ids, roles)
        self.done = store.progress(self.rater, self._task_names) & set(self.queue)
        self._history: list[tuple[str, str]] = []  # (submission_id, item_id) made here, for undo
        self._prefetcher = ThreadPoolExecutor(max_workers=1)
        self._prefetched: dict[str, Future] = {}

        self.progress_bar = widgets.IntProgress(min=0, max=max(1, len(self.queue)), description="")
        self.progress_text = widgets.HTML()
        self.header = widgets.HTML()
        self.status = widgets.HTML()
        self.keys_help = widgets.HTML(f"<small style='color:#666'>{self._keys_help}</small>")
        self.add_class("labelwidgets")
        self._keyboard = None
        self._start_keyboard()
        self.index = self._first_open(0)

    # ------------------------------------------------------------------ queue
    @property
    def current_item(self) -> str | None:
        """The item on screen, or None once the queue is finished."""
        return self.queue[self.index] if self.index < len(self.queue) else None

    def _first_open(self, start: int) -> int:
        """Index of the first item from ``start`` on that the rater has not done, else the end."""
        for i in range(start, len(self.queue)):
            if self.queue[i] not in self.done:
                return i
        for i in range(0, start):
            if self.queue[i] not in self.done:
                return i
        return len(self.queue)

    def go_to(self, index: int) -> None:
        """Show the item at ``index`` of the queue (``len(queue)`` shows the end screen)."""
        if not 0 <= index <= len(self.queue):
            raise IndexError(f"`index` must be in [0, {len(self.queue)}]. Got {index!r} instead.")
        self.index = index
        self._refresh()

    def back(self) -> None:
        """Go to the previous item; its earlier answers stay and can be edited."""
        if self.index > 0:
            self.go_to(self.index - 1)

    def _advance(self) -> None:
        self.go_to(self._first_open(self.index + 1) if self.index < len(self.queue) else len(self.queue))

    def _require_item(self, action: str) -> str:
        """The current item, or a clear error once the queue is finished."""
        if self.current_item is None:
            raise ValueError(f"The queue is finished: there is no item to {action}. Use back() to edit.")
        return self.current_item

    def skip(self, reason: str | None = None) -> str:
        """Record a skip for the current item (a ``skip`` row per task, not a label) and advance."""
        item = self._require_item("skip")
        sid = self.store.skip(item, self.rater, self._task_names, reason=reason)
        self._forget(item)
        self._committed(sid, item)
        return sid

    def _forget(self, item_id: str) -> None:
        """Drop what the subclass holds as the rater's answer for ``item_id`` (after a skip)."""

    def _common_key(self, key: str, ctrl: bool) -> bool:
        """Enter submit, Backspace back, S skip, Z undo; returns whether ``key`` was one of them."""
        actions = {"Enter": self.submit, "Backspace": self.back, "z": self.undo, "Z": self.undo}
        if not ctrl:
            actions.update(s=self.skip, S=self.skip)
        if key in actions:
            actions[key]()
            return True
        return False

    def _committed(self, submission_id: str, item_id: str, done: bool = True) -> None:
        self._history.append((submission_id, item_id))
        if done:
            self.done.add(item_id)
        self._advance()  # the next image goes out first; the status line can wait
        self.say(f"Saved {html.escape(item_id)}", ok=True)

    def undo(self) -> str | None:
        """Retract the last submission made in this widget and show its item again.

        Returns
        -------
        str or None
            The id of the retraction, or None when there is nothing to undo.
        """
        if not self._history:
            self.say("Nothing to undo.")
            return None
        submission_id, item_id = self._history.pop()
        retraction = self.store.retract(submission_id)
        self.done = self.store.progress(self.rater, self._task_names) & set(self.queue)
        self._after_undo(item_id)
        self.go_to(self.queue.index(item_id))
        self.say(f"Undid the last submission for {html.escape(item_id)}.", ok=True)
        return retraction

    def _after_undo(self, item_id: str) -> None:
        """Reload what the subclass caches about ``item_id`` after a retraction."""

    def _action_bar(self) -> widgets.HBox:
        """Back, Skip, Undo and Submit buttons, wired to the programmatic twins."""
        self.submit_button = widgets.Button(description="Submit ⏎", button_style="success", icon="check")
        self.back_button = widgets.Button(description="Back", icon="arrow-left")
        self.skip_button = widgets.Button(description="Skip (S)", icon="forward")
        self.undo_button = widgets.Button(description="Undo (Z)", icon="undo")
        self.submit_button.on_click(lambda _b: self.guard(self.submit))
        self.back_button.on_click(lambda _b: self.guard(self.back))
        self.skip_button.on_click(lambda _b: self.guard(self.skip))
        self.undo_button.on_click(lambda _b: self.guard(self.undo))
        return widgets.HBox([self.back_button, self.skip_button, self.undo_button, self.submit_button])

    # --------------------------------------------------------------- display
    def _refresh(self) -> None:
        item = self.current_item
        self._show_item(item)  # first, so the image message reaches the browser first
        n, done = len(self.queue), len(self.done)
        with self.progress_bar.hold_sync():
            self.progress_bar.max = max(1, n)
            self.progress_bar.value = done
        self.progress_text.value = f"<b>{done} / {n}</b> done by {html.escape(self.rater)}"
        if item is None:
            self.header.value = f"<h4>All {n} items are done. Thank you, {html.escape(self.rater)}!</h4>"
        else:
            fields = " · ".join(
                f"{html.escape(str(c))}: {html.escape(str(v))}"
                for c, v in self.images.metadata(item).items()
            )
            self.header.value = (
                f"<b>{html.escape(item)}</b> &nbsp; item {self.index + 1} of {n}"
                + (f" &nbsp; <span style='color:#666'>{fields}</span>" if fields else "")
            )
        self._prefetch()

    def _show_item(self, item_id: str | None) -> None:
        raise NotImplementedError

    def _prefetch(self) -> None:
        """Prepare the next images in the background so that advancing is instant."""
        if self.index >= len(self.queue):
            return
        nxt = self._first_open(self.index + 1)
        for i in dict.fromkeys([nxt, self.index + 1]):
            if i < len(self.queue) and self.queue[i] not in self._prefetched:
                self._prefetched[self.queue[i]] = self._prefetcher.submit(self._display_image, self.queue[i])
        while len(self._prefetched) > 8:  # forget the oldest; the ImageSet's cache still has them
            self._prefetched.pop(next(iter(self._prefetched)))

    def _image_for(self, item_id: str):
        """What :meth:`_display_image` returns for ``item_id``, from the prefetch when there is one."""
        future = self._prefetched.pop(item_id, None)
        if future is not None:
            try:
                return future.result()
            except Exception:  # the error is raised again below, in the handler's thread
                pass
        return self._display_image(item_id)

    def _display_image(self, item_id: str):
        """The display form of an item's image (subclasses choose size and format)."""
        return self.images.display(item_id)

    def say(self, message: str, ok: bool = False, error: bool = False) -> None:
        """Show a message in the status line."""
        color = "#b00020" if error else ("#1b7f3b" if ok else "#444")
        self.status.value = f"<span style='color:{color}'>{message}</span>"

    # -------------------------------------------------------------- keyboard
    def _start_keyboard(self) -> None:
        try:
            from ipyevents import Event
        except ImportError:  # the widget still works with the mouse
            self.keys_help.value = "<small>Install ipyevents for keyboard shortcuts.</small>"
            return
        # ipyevents' Event has no view: it is kept here, never put among the children
        self._keyboard = Event(source=self, watched_events=["keydown"], prevent_default_action=True)
        self._keyboard.on_dom_event(self._on_dom_event)

    def _on_dom_event(self, event: dict) -> None:
        self.guard(self._handle_key, event.get("key", ""), bool(event.get("shiftKey")),
                   bool(event.get("ctrlKey") or event.get("metaKey")))  # fmt: skip

    def press(self, key: str, shift: bool = False, ctrl: bool = False) -> None:
        """Act as if ``key`` were pressed (the keyboard's programmatic twin)."""
        self._handle_key(key, shift, ctrl)

    def _handle_key(self, key: str, shift: bool, ctrl: bool) -> None:
        raise NotImplementedError

    def guard(self, fn: Callable, *args) -> None:
        """Run a button or key handler: a bad input becomes a message, never a dead widget."""
        try:
            fn(*args)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            self.say(html.escape(str(exc)), error=True)
        except Exception as exc:  # keep the session alive, but say what broke
            log.error("labelwidgets handler failed:\n%s", traceback.format_exc())
            self.say(f"Unexpected error: {html.escape(repr(exc))}", error=True)

    def close(self) -> None:
        """Close the widget and its keyboard listener."""
        if getattr(self, "_keyboard", None) is not None:
            self._keyboard.close()
        if getattr(self, "_prefetcher", None) is not None:
            self._prefetcher.shutdown(wait=False)
        super().close()
