"""The base of the labeling widgets: an anywidget view over a :class:`~labelwidgets.session.Session`.

Kernel -> browser: synced traits (``keymap``, ``help``, ``window``, ``current``, ``position``,
``progress``, ``status``) and one custom message per image (``{"type": "image", "item_id",
"format", "width", "height"}`` with the encoded bytes as a binary buffer), sent once per item when
it enters the window and again when a view asks for it (``{"type": "need", "item_ids"}``).
Browser -> kernel: ``{"type", "seq", "item_id", ...}`` messages; the kernel runs the handler
``_on_<type>``, commits, updates the traits and then answers ``{"type": "ack", "seq", "ok",
"submission_id" | "error"}``, so a browser that sees the ack already has the new state.

Subclasses set ``_esm = frontend_module("<widget>.js")`` and implement ``_entry(item_id)``
(widget fields of a window entry) and their handlers. The programmatic twins (``submit``,
``skip``, ``back``, ``undo``, ``go_to``, ``press``) build the same messages and go through the
same :meth:`LabelingWidget.handle` as the browser's.
"""

from __future__ import annotations

import logging
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anywidget
import traitlets as t

from . import keys as _keys
from ._validate import InputError
from .images import Display
from .session import Session, SessionAccess

__all__ = ["LabelingWidget", "FocusKeys", "frontend_module", "FRONTEND"]

log = logging.getLogger("labelwidgets")
FRONTEND = Path(__file__).resolve().parent / "frontend"


def frontend_module(name: str) -> str:
    """One ES module: ``frontend/common.js`` followed by ``frontend/<name>`` (anywidget loads a
    single module, so the shared helpers are put in front of each widget's own code)."""
    return (FRONTEND / "common.js").read_text() + "\n" + (FRONTEND / name).read_text()


class LabelingWidget(SessionAccess, anywidget.AnyWidget):
    """Base of the labeling widgets (not used directly).

    Parameters
    ----------
    session : Session
        The rater's queue and rules.
    max_size : int, default=768
        Longest side of the displayed image in pixels.
    min_size : int, default=384
        Images whose longest side is shorter are enlarged by a whole factor (crisp pixels).
    """

    _css = (FRONTEND / "labelwidgets.css").read_text()
    #: Open items the browser holds beyond the current one.
    AHEAD = 3

    keymap = t.List(t.Dict()).tag(sync=True)
    help = t.Unicode("").tag(sync=True)
    window = t.List(t.Dict()).tag(sync=True)
    current = t.Unicode(None, allow_none=True).tag(sync=True)
    position = t.Int(0).tag(sync=True)
    progress = t.Dict().tag(sync=True)
    status = t.Dict().tag(sync=True)

    def __init__(self, session: Session, max_size: int = 768, min_size: int = 384, **kwargs):
        super().__init__(**kwargs)
        self.session = session
        self.max_size = int(max_size)
        self.min_size = int(min_size)
        self._sent: set[str] = set()
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lw-prefetch")
        self._handlers = {
            "submit": self._on_submit,
            "skip": self._on_skip,
            "back": self._on_back,
            "undo": self._on_undo,
            "goto": self._on_goto,
            "need": self._on_need,
        }
        self.on_msg(self._receive)

    # --------------------------------------------------------------- messages
    def _receive(self, _widget, content: dict, _buffers) -> None:
        self.handle(content)

    def handle(self, msg: dict, raise_errors: bool = False):
        """Run the handler of one message (from the browser or a programmatic twin).

        The handler commits what it writes, the traits are updated, then the browser gets the
        ack (with ``kernel_ms``, the time spent here). A bad input becomes an error status (and the ack says ``ok: false``); with
        ``raise_errors`` (the Python twins) it is raised as well.
        """
        started = time.perf_counter()
        kind = msg.get("type") if isinstance(msg, dict) else None
        handler = self._handlers.get(kind)
        seq = msg.get("seq") if isinstance(msg, dict) else None
        result, error = None, None
        try:
            if handler is None:
                raise InputError(
                    f"Message type must be one of {sorted(self._handlers)}. Got {kind!r} instead."
                )
            result = handler(msg)
        except InputError as exc:
            error = exc
            self.session.say(str(exc), "error")
        except Exception as exc:  # an internal error: log it with its traceback, keep the widget alive
            error = exc
            log.error("labelwidgets handler failed:\n%s", traceback.format_exc())
            self.session.say(
                f"Internal error: {type(exc).__name__}: {exc}. Your answers were not saved. "
                "Please report this with the log.",
                "error",
            )
        prepared = [] if kind == "need" else self._refresh(prefetch=False, images=False)
        if seq is not None:
            ack = {"type": "ack", "seq": seq, "ok": error is None, "status": self.session.status,
                   "kernel_ms": round((time.perf_counter() - started) * 1000, 1)}
            if error is not None:
                ack["error"] = str(error)
            elif isinstance(result, str):
                ack["submission_id"] = result
            self.send(ack)
        if kind != "need":  # after the ack: neither picture bytes nor encoding delay it
            self._send_images([item for item, _r, _s in prepared], displays=prepared)
            self._prefetch()
        if error is not None and raise_errors:
            raise error
        return result

    def _twin(self, kind: str, **fields):
        """Run a programmatic twin: the browser's message, through :meth:`handle`."""
        return self.handle({"type": kind, **fields}, raise_errors=True)

    # ---------------------------------------------------------------- handlers
    def _on_skip(self, msg: dict) -> str:
        return self.session.skip(msg.get("item_id"), reason=msg.get("reason"))

    def _on_back(self, msg: dict) -> None:
        self.session.back()

    def _on_undo(self, msg: dict) -> str | None:
        retraction = self.session.undo()
        if retraction is not None:
            self._after_undo()
        return retraction

    def _on_goto(self, msg: dict) -> None:
        if msg.get("item_id") is not None:
            self.session.go_to(self.session.position(msg["item_id"]))
        else:
            self.session.go_to(msg.get("index"))

    def _on_submit(self, msg: dict) -> str:
        raise NotImplementedError

    def _on_need(self, msg: dict) -> None:
        ids = msg.get("item_ids") or []
        shown = {e["item_id"] for e in self.window}
        self._send_images([i for i in ids if i in shown], force=True)

    def _after_undo(self) -> None:
        """Reload what the subclass holds about the rater's answers after a retraction."""

    # ------------------------------------------------------------ twins
    def skip(self, reason: str | None = None) -> str:
        """Skip the current item (a ``skip`` row per task, no label) and move on; the Skip
        button and its key do the same."""
        return self._twin("skip", item_id=self.current_item, reason=reason)

    def back(self) -> None:
        """Go to the previous item; its earlier answers are shown and can be edited."""
        self._twin("back")

    def undo(self) -> str | None:
        """Retract the last submission made in this widget and show its item again.

        Returns
        -------
        str or None
            The id of the retraction, or None when there is nothing to undo.
        """
        return self._twin("undo")

    def go_to(self, index: int) -> None:
        """Show the item at ``index`` of the queue (``len(queue)`` shows the end screen)."""
        self._twin("goto", index=index)

    def press(self, key: str, shift: bool = False, ctrl: bool = False):
        """Act as if ``key`` were pressed with the widget focused (the keyboard's twin).

        As in the browser, a key whose action fails shows the error in the status line
        (``status``) instead of raising. Returns what the action returns (e.g. a submission id).
        """
        entry = _keys.lookup(self.keymap, key, shift, ctrl)
        if entry is None:
            return None
        try:
            return self._key_action(entry)
        except InputError:  # the status line already says what was wrong
            return None

    def _key_action(self, entry: dict):
        actions = {"submit": self.submit, "skip": self.skip, "back": self.back,
                   "undo": self.undo, "release": lambda: None}  # fmt: skip
        if entry["action"] not in actions:
            raise InputError(
                f"Key action must be one of {sorted(actions)}. Got {entry['action']!r} instead."
            )
        return actions[entry["action"]](*entry["args"])

    def submit(self, *args, **kwargs) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------- window
    def _display(self, item_id: str) -> Display:
        """The encoded image of an item (the image set's shared cache)."""
        return self.images.display(item_id, max_size=self.max_size, min_size=self.min_size)

    def _entry(self, item_id: str) -> dict:
        """Widget-specific fields of a window entry (answers, boxes, notes)."""
        return {}

    def _header(self, item_id: str) -> dict:
        fields = [[str(k), str(v)] for k, v in self.images.metadata(item_id).items()]
        return {"index": self.session.position(item_id), "total": len(self.queue), "fields": fields}

    def _prepared(self) -> list[tuple[str, str, Display]]:
        """``(item_id, role, display)`` for the previous, current and next open items, encoding
        what is missing; an item whose image cannot be shown is dropped from the queue."""
        while True:
            s = self.session
            wanted = [("behind", s.behind()), ("current", s.current_item)]
            wanted += [("ahead", i) for i in s.ahead(self.AHEAD)]
            out = []
            for role, item in wanted:
                if item is None:
                    continue
                try:
                    shown = self._display(item)
                except OSError as exc:
                    if role == "behind":  # the previous image went missing: Back will say so
                        continue
                    s.drop_unshowable(item, str(exc))
                    break
                out.append((item, role, shown))
            else:
                return out

    def _refresh(self, prefetch: bool = True, images: bool = True) -> list:
        """Send the window's images (new ones only), then the state, in one batch. With
        ``images=False`` the images are not sent but returned (``handle`` sends them after the
        ack, so the ack never waits for picture bytes)."""
        prepared = self._prepared()
        for item, _role, _shown in prepared:
            self.session.mark_shown(item)
        if images:
            self._send_images([item for item, _r, _s in prepared], displays=prepared)
        window = [
            {"item_id": item, "role": role, "format": shown.format, "width": shown.width,
             "height": shown.height, "scale": list(shown.scale), "final": False,
             **self._header(item), **self._entry(item)}  # fmt: skip
            for item, role, shown in prepared
        ]
        sequence = [e for e in window if e["role"] != "behind"]
        if sequence and len(sequence) <= self.AHEAD:  # the queue has no open item after these
            sequence[-1]["final"] = True
        with self.hold_sync():
            self.window = window
            self.current = self.current_item
            self.position = self.index
            self.progress = self.session.progress
            self.status = dict(self.session.status)
            self._sync_extra()
        if prefetch:
            self._prefetch()
        return [] if images else prepared

    def _sync_extra(self) -> None:
        """Further traits a subclass updates with the window (inside ``hold_sync``)."""

    def _send_images(self, item_ids, displays=None, force: bool = False) -> None:
        known = {item: shown for item, _r, shown in displays or []}
        for item in item_ids:
            if item in self._sent and not force:
                continue
            shown = known.get(item) or self._display(item)
            self.send(
                {"type": "image", "item_id": item, "format": shown.format,
                 "width": shown.width, "height": shown.height},  # fmt: skip
                buffers=[shown.data],
            )
            self._sent.add(item)

    def _prefetch(self) -> None:
        """Encode the items after the window in the background (they land in the shared cache)."""
        later = self.session.ahead(self.AHEAD + 2)[self.AHEAD :]
        for item in later:
            self._prefetcher.submit(self._display, item)

    def say(self, text: str, level: str = "info") -> None:
        """Show a message in the status line."""
        self.session.say(text, level)
        self.status = dict(self.session.status)

    def close(self) -> None:
        """Close the widget and stop its prefetch thread."""
        prefetcher = self.__dict__.get("_prefetcher")
        if prefetcher is not None:
            prefetcher.shutdown(wait=False, cancel_futures=True)
        super().close()



class FocusKeys(anywidget.AnyWidget):
    """Keyboard focus for an ipywidgets container of class ``labelwidgets`` (put it among the
    container's children): a click anywhere in the container gives it the keys, wherever the
    mouse is afterwards; Esc or a click outside releases them; notebook shortcuts do not fire
    meanwhile. Each key of ``keymap`` calls ``on_key(key)`` in the kernel; the view shows ``help``.
    """

    _esm = frontend_module("focuskeys.js")
    _css = (FRONTEND / "labelwidgets.css").read_text()
    keymap = t.List(t.Dict()).tag(sync=True)
    help = t.Unicode("").tag(sync=True)

    def __init__(self, keymap: list[dict], help: str, on_key):
        super().__init__(keymap=keymap, help=help)
        self._on_key = on_key
        self.on_msg(lambda _w, content, _b: self._receive(content))

    def _receive(self, content: dict) -> None:
        if isinstance(content, dict) and content.get("type") == "key" and isinstance(content.get("key"), str):
            self._on_key(content["key"])
