"""The ipywidgets session base the box annotator still uses, until it moves onto the anywidget
base (:mod:`labelwidgets._widget`). The queue rules are :class:`labelwidgets.session.Session`'s;
this class only adds the ipywidgets parts (progress bar, header, status line, action bar, and
keys through ipyevents while the mouse is over the widget).
"""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import ipywidgets as widgets

from ._validate import InputError
from .images import ImageSet
from .session import Session, SessionAccess, build_queue
from .store import LabelStore

__all__ = ["LabelingSession", "build_queue"]

log = logging.getLogger("labelwidgets")


class LabelingSession(SessionAccess, widgets.VBox):
    """Base of the ipywidgets labeling widgets (not used directly); the parameters are those
    of :class:`labelwidgets.session.Session`."""

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
        self.session = Session(images, store, rater, task_names, item_ids, roles)
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

    # ------------------------------------------------------------------ queue
    def go_to(self, index: int) -> None:
        """Show the item at ``index`` of the queue (``len(queue)`` shows the end screen)."""
        self.session.go_to(index)
        self._refresh()

    def back(self) -> None:
        """Go to the previous item; its earlier answers stay and can be edited."""
        if self.index > 0:
            self.go_to(self.index - 1)

    def _require_item(self, action: str) -> str:
        """The current item, or a clear error once the queue is finished."""
        if self.current_item is None:
            raise InputError(
                f"The queue is finished: there is no item to {action}. Press Back to edit an earlier one."
            )
        return self.current_item

    def skip(self, reason: str | None = None) -> str:
        """Record a skip for the current item (a ``skip`` row per task, not a label) and advance."""
        item = self._require_item("skip")
        self.session.mark_shown(item)
        sid = self.session.skip(item, reason=reason)
        self._forget(item)
        self._refresh()
        self.say(html.escape(self.session.status["text"]))
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
        self.session._record(submission_id, item_id, done)
        self._refresh()  # the next image goes out first; the status line can wait
        self.say(f"Saved {html.escape(item_id)}", ok=True)

    def undo(self) -> str | None:
        """Retract the last submission made in this widget and show its item again."""
        retraction = self.session.undo()
        if retraction is not None:
            self._after_undo(self.current_item)
        self._refresh()
        self.say(html.escape(self.session.status["text"]), ok=retraction is not None)
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
            self.header.value = f"<h4>{html.escape(self.session.end_text())}</h4>"
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
        for item in self.session.ahead(2):
            if item not in self._prefetched:
                self._prefetched[item] = self._prefetcher.submit(self._display_image, item)
        while len(self._prefetched) > 8:  # forget the oldest; the ImageSet's cache still has them
            self._prefetched.pop(next(iter(self._prefetched)))

    def _image_for(self, item_id: str):
        """What :meth:`_display_image` returns for ``item_id``; a failed prefetch is retried here,
        where its error reaches the handler."""
        future = self._prefetched.pop(item_id, None)
        if future is not None and future.done() and future.exception() is None:
            return future.result()
        return self._display_image(item_id)

    def _display_image(self, item_id: str):
        """The display form of an item's image (subclasses choose size and format)."""
        return self.images.display(item_id)

    def say(self, message: str, ok: bool = False, error: bool = False) -> None:
        """Show a message (HTML) in the status line."""
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
