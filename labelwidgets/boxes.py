"""Bounding boxes: draw them on a zoomable canvas, click once per object, or verify a model's.

:class:`BoxAnnotator` is a thin anywidget over a :class:`~labelwidgets.session.Session`; its view
is ``frontend/boxes.js`` on the box canvas ``frontend/canvas.js``. Boxes are floats in pixels of
the EXIF-corrected original whatever the zoom (the browser draws a display copy and, zoomed past
its pixels, full-resolution crops of the view). The rules are pure functions in
:mod:`labelwidgets._geometry` and :mod:`labelwidgets.detect`; unsaved boxes stay a draft.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd
import traitlets as t

from . import _geometry as geo
from . import keys as _keys
from ._validate import InputError, check_choice, check_names
from ._widget import FRONTEND, LabelingWidget, frontend_module
from .detect import VERDICTS, boxes_from_rows, check_detector, detect_boxes, review_boxes
from .detect import detector_name as _detector_name
from .images import ImageSet, encode_display
from .session import Session
from .store import LabelStore

__all__ = ["BoxAnnotator", "DEFAULT_ATTRIBUTES"]

DEFAULT_ATTRIBUTES = ("truncated", "occluded", "difficult")
_DETAIL_MAX = 2048  # longest side of a full-resolution crop sent for a zoomed view


class BoxAnnotator(LabelingWidget):
    """Draw bounding boxes on each image, click once per object, or verify a detector's boxes.

    Parameters
    ----------
    images : ImageSet
        The items (images that fail to decode are in ``images.skipped``, never shown).
    classes : sequence of str
        The only labels a box may have.
    rater : str or None, default=None
        Who labels (default: the OS user).
    store : LabelStore
        Where boxes go; required.
    task : str, default="boxes"
        The task name of the rows (registered with ``kind="box"`` and the classes).
    box_size : (float, float) or None, default=None
        Fixed-size mode: every box is this size in original pixels; a click places one.
    attributes : sequence of str, default=("truncated", "occluded", "difficult")
        Per-box flags, toggled for the selected box; stored in ``attributes``.
    detector : ultralytics.YOLO or callable or None, default=None
        Pre-annotation, run once per item (``source="model"`` rows) and shown for review: A
        accepts, R rejects the selected box; rows record accepted/changed/rejected per model box
        (:func:`labelwidgets.detect.model_precision` measures the model from them).
    item_ids : iterable of str or None, default=None
        Restrict the queue to these items (default: the rater's assignments, else all).
    max_size : int, default=1024
        Longest side of the display copy; zoomed further, the browser gets full-resolution crops.
    min_size : int, default=384
        Smaller images are shown enlarged by a whole factor (crisp pixels).
    detector_name : str or None, default=None
        Name of the detector's rows (default: the detector's); alone, its stored rows are reviewed.
    detector_options : mapping or None, default=None
        Keyword arguments for an ultralytics detector's ``predict``, e.g. ``{"conf": 0.25}``.
    roles : sequence of str or None, default=None
        Assignment roles that feed the queue (default: all roles).

    Examples
    --------
    >>> annotator = BoxAnnotator(images, ["cat", "dog"], rater="alice", store=store)  # doctest: +SKIP
    >>> annotator.submit([{"x": 10, "y": 20, "w": 50, "h": 40, "label": "cat"}])  # doctest: +SKIP
    """

    _esm = frontend_module("canvas.js") + "\n" + (FRONTEND / "boxes.js").read_text()
    _css = LabelingWidget._css + (FRONTEND / "boxes.css").read_text()
    classes = t.List(t.Unicode()).tag(sync=True)
    box_size = t.List(t.Float(), allow_none=True, default_value=None).tag(sync=True)
    attributes = t.List(t.Unicode()).tag(sync=True)
    #: What the browser has drawn on an image (``{item_id, boxes}``); kept as the image's draft.
    drawn = t.Dict().tag(sync=True)

    def __init__(
        self,
        images: ImageSet,
        classes: Sequence[str],
        *,
        rater: str | None = None,
        store: LabelStore,
        task: str = "boxes",
        box_size: tuple[float, float] | None = None,
        attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
        detector: Callable | None = None,
        item_ids: Iterable[str] | None = None,
        max_size: int = 1024,
        min_size: int = 384,
        detector_name: str | None = None,
        detector_options: Mapping | None = None,
        roles: Sequence[str] | None = None,
    ):
        classes = check_names(classes, "classes")
        attributes = [attributes] if isinstance(attributes, str) else list(attributes)
        attributes = check_names(attributes, "attributes") if attributes else []
        size = geo.check_box_size(box_size)
        self.detector = check_detector(detector)
        self.detector_name = detector_name or (_detector_name(detector) if detector else None)
        self.detector_options = dict(detector_options or {})
        self.task = task
        review = ("accept", "reject")  # keys for model boxes only when there are some
        keymap = _keys.keymap([k for k in _keys.BOX_KEYS if self.detector_name or k["action"] not in review])
        session = Session(images, store, rater, [task], item_ids, roles, keymap)
        store.register_task(task, classes, kind="box")
        super().__init__(session, max_size=max_size, min_size=min_size, classes=classes,
                         box_size=list(size) if size else None, attributes=attributes)  # fmt: skip
        self.keymap = keymap
        self._drafts: dict[str, list[dict]] = {}
        self._notes: dict[str, str] = {}
        self._label, self._digits = classes[0], None  # the class of click(); digits typed
        self._full: tuple[str, object] | None = None
        self._answers = self._load(self.rater, "human")
        self._model = self._load(self.detector_name, "model") if self.detector_name else {}
        plain = [e for e in keymap if e["action"] != "class"]
        how = ("click to place a box" if size else "drag to draw a box") + (
            "; drag a selected box to move it, its handles to resize; the wheel zooms, Space+drag "
            f"or the middle button pans. 1-{len(classes)} class of the selected and next boxes. "
        )  # fmt: skip
        self.help = _keys.help_text(plain).replace("them. ", f"them. {how[0].upper()}{how[1:]}", 1)
        self._refresh()

    def __repr__(self) -> str:
        mode = f", box_size={tuple(self.box_size)}" if self.box_size else ""
        return f"BoxAnnotator({len(self.queue)} items, classes={list(self.classes)}, rater={self.rater!r}{mode})"

    def _load(self, rater: str, source: str) -> dict[str, list[dict]]:
        """``{item_id: boxes}`` of a rater's current box submissions (skips left out)."""
        cur = self.store.current(task=self.task, rater=rater, source=source)
        cur = cur[cur["item_id"].isin(self.queue) & (cur["kind"] == "box")]
        return {item: boxes_from_rows(rows) for item, rows in cur.groupby("item_id", sort=False)}

    def _after_undo(self) -> None:
        self._answers = self._load(self.rater, "human")

    def _model_boxes(self, item_id: str) -> list[dict]:
        """The detector's boxes for an item (run once, its rows written), for review."""
        if item_id not in self._model and self.detector is not None:
            width, height = self.images.size(item_id)
            try:
                found = detect_boxes(self.detector, self.images.load(item_id), self.detector_options)
            except Exception as exc:  # the user's model failing must not end the session
                logging.getLogger("labelwidgets").warning("detector failed on %s", item_id, exc_info=True)
                self._notes[item_id] = f"The detector failed on {item_id} ({exc!r}): draw the boxes by hand."
                self._model[item_id] = []  # not stored: a new session tries again
                return []
            kept, unknown = geo.model_boxes(found, self.classes, width, height)
            if unknown:
                self._notes[item_id] = f"Model boxes of classes {unknown} were left out."
            self.store.submit_boxes(item_id, self.task, kept, self.detector_name, source="model",
                                    model=self.detector_name)  # fmt: skip
            self._model[item_id] = kept
        boxes = self._model.get(item_id, [])
        if self.box_size:
            boxes = geo.snap_boxes(boxes, self.box_size, *self.images.size(item_id))
        model = {"name": self.detector_name, "verdict": "pending"}
        return [{**b, "attributes": {}, "model": {**b, **model}} for b in boxes]

    def _shown(self, item_id: str) -> tuple[list[dict], str]:
        """What an image shows: its draft, else the rater's answer, else the model's boxes."""
        if item_id in self._drafts:
            return self._drafts[item_id], "draft"
        if item_id in self._answers:
            return self._answers[item_id], "answer"
        boxes = self._model_boxes(item_id) if self.detector_name else []
        return boxes, "model" if boxes else "none"

    def _entry(self, item_id: str) -> dict:
        boxes, source = self._shown(item_id)
        return {"size": list(self.images.size(item_id)), "boxes": boxes, "source": source,
                "note": self._notes.get(item_id, ""), "model_name": self.detector_name}  # fmt: skip

    @t.observe("drawn")
    def _on_drawn(self, change) -> None:
        new = change["new"] or {}
        if new.get("origin") != "kernel" and new.get("item_id") in self.queue:
            self._drafts[new["item_id"]] = list(new.get("boxes") or [])

    @property
    def boxes(self) -> list[dict]:
        """The boxes on the current image now (original pixels; model boxes with ``model``)."""
        item = self.current_item
        return [dict(b) for b in self._shown(item)[0]] if item else []

    def _on_submit(self, msg: dict) -> str:
        item = self.session.require_item("submit", msg.get("item_id"))
        shown = self._shown(item)[0]
        boxes = shown if msg.get("boxes") is None else msg["boxes"]
        offered = [b["model"] for b in shown if b.get("model")]
        kept, rejected = review_boxes(boxes, self.detector_name, offered=offered)
        clean, notes = geo.normalize_boxes(kept, self.classes, *self.images.size(item), self.box_size)
        rows = clean + rejected
        verdicts = [(b["attributes"] or {}).get("review", {}).get("verdict") for b in rows]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
        text = f"Saved {len(clean)} box(es) on {item}" if clean else f"Saved {item}: no objects"
        text += f" (model boxes: {counts})" if counts else ""
        text += "." + (" Note: " + "; ".join(notes) + "." if notes else "")
        sid = self.session.commit(
            item, lambda i: self.store.submit_boxes(i, self.task, rows, self.rater), text
        )
        self._answers[item] = boxes_from_rows(pd.DataFrame(rows))
        self._drafts.pop(item, None)
        return sid

    def _on_skip(self, msg: dict) -> str:
        item = msg.get("item_id") or self.current_item
        sid = super()._on_skip(msg)
        kept = [b for b in self._drafts.get(item, []) if b.get("model") is None]
        if kept:
            back = _keys.describe("back", self.keymap)
            self.session.say(f"{self.session.status['text']} Its {len(kept)} drawn box(es) are "
                             f"kept as a draft: {back} shows them again.", "info")  # fmt: skip
        return sid

    def _receive(self, _widget, content: dict, buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "detail":
            try:
                self._send_detail(content)
            except (InputError, OSError) as exc:  # a view's request: nothing to save, say it
                self.say(f"Could not show full resolution: {exc}", "warn")
            return
        super()._receive(_widget, content, buffers)

    def _send_detail(self, msg: dict) -> None:
        """Answer a zoomed view: the region of the original at full resolution (capped)."""
        item = msg.get("item_id")
        self.session.position(item)
        left, top, right, bottom = geo.check_region(msg, *self.images.size(item))
        if self._full is None or self._full[0] != item:
            self._full = (item, self.images.load(item))
        crop = self._full[1].crop((left, top, right, bottom))
        scale = min(1.0, float(msg.get("scale") or 1.0))
        side = max(1, min(_DETAIL_MAX, math.ceil(max(crop.size) * scale)))
        shown = encode_display(crop, max_size=side)
        region = {"x": left, "y": top, "w": right - left, "h": bottom - top}
        self.send({"type": "detail", "item_id": item, "format": shown.format, **region},
                  buffers=[shown.data])  # fmt: skip

    def submit(self, boxes: Sequence[Mapping] | None = None) -> str:
        """Commit the current image's boxes and advance, as Submit and Enter do; returns the
        submission id (committed). ``boxes``: ``x, y, w, h, label`` (+ ``attributes``, + ``model``
        for a reviewed model box) in original pixels; None submits what is drawn (undecided model
        boxes count as accepted); ``[]`` records "no objects"."""
        payload = None if boxes is None else [dict(b) for b in boxes]
        return self._twin("submit", item_id=self.current_item, boxes=payload)

    def select_class(self, label: str) -> None:
        """The class of the next boxes placed with :meth:`click` (keys 1-9 in the browser)."""
        self._label = check_choice(label, self.classes, "label")

    def click(self, x: float, y: float, label: str | None = None) -> dict:
        """Place a fixed-size box centred on ``(x, y)`` (original pixels), as a click does."""
        if not self.box_size:
            raise InputError("`box_size` must be set to place boxes by clicking. Got None; "
                             "create the annotator with box_size=(w, h).")  # fmt: skip
        item = self.session.require_item("click on")
        label = self._label if label is None else check_choice(label, self.classes, "label")
        bx, by = geo.fit_box(x, y, *self.box_size, *self.images.size(item))
        box = {"x": bx, "y": by, "w": self.box_size[0], "h": self.box_size[1], "label": label,
               "attributes": {}}  # fmt: skip
        self._edit(item, [*self._shown(item)[0], box])
        return box

    def review(self, index: int, verdict: str) -> None:
        """Accept or reject the model box at ``index`` of :attr:`boxes` (keys A and R)."""
        item = self.session.require_item("review")
        check_choice(verdict, ("accepted", "rejected"), "verdict")
        boxes = [dict(b) for b in self._shown(item)[0]]
        if not (0 <= index < len(boxes) and boxes[index].get("model")):
            models = [i for i, b in enumerate(boxes) if b.get("model")]
            raise InputError(f"`index` must be that of a model box, one of {models}. "
                             f"Got {index!r} instead.")  # fmt: skip
        boxes[index]["model"] = {**boxes[index]["model"], "verdict": verdict}
        self._edit(item, boxes)

    def _edit(self, item: str, boxes: list[dict]) -> None:
        self._drafts[item] = boxes
        self.drawn = {"item_id": item, "boxes": boxes, "origin": "kernel"}

    def _key_action(self, entry: dict):
        if entry["action"] == "class":
            if self._digits is None:
                self._digits = _keys.DigitBuffer(len(self.classes))
            number = self._digits.feed(entry["args"][0])
            return None if number is None else self.select_class(self.classes[number - 1])
        if entry["action"] in ("accept", "reject") or entry["action"] in _keys.BOX_VIEW_ACTIONS:
            return self.say(f"Key {entry['key']!r} acts on the canvas in the browser. In Python, "
                            "use review(index, verdict), click(x, y) or submit(boxes).", "warn")  # fmt: skip
        return super()._key_action(entry)

