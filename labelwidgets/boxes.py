"""Bounding boxes: draw them with the mouse, or click once to place a fixed-size box.

:class:`BoxAnnotator` puts jupyter-bbox-widget's drawing surface into a labeling session (queue,
resume, progress, undo, keys: see :mod:`labelwidgets._session`). Boxes are kept in pixels of the
EXIF-corrected original image; the browser may show a downscaled copy, and the pure functions
:func:`to_widget` / :func:`from_widget` convert between the two. Each box of a submit is one
``kind="box"`` row of the store, written in one transaction.

Keys (with the mouse over the widget, outside the image): ``1``-``9`` pick the class for new
boxes, ``Enter`` submits and advances, ``Backspace`` goes back, ``S`` skips, ``Z`` undoes,
``Delete`` removes the selected box, ``Escape`` deselects. With the image focused (click on it),
jupyter-bbox-widget's own keys apply: digits pick the class, ``Tab`` selects the next box,
``W A S D`` move it, ``Q E R F`` resize it, ``C`` gives it the current class, ``Delete`` removes it.

Fixed-size mode (``box_size=(w, h)``): a click on the image places a box of exactly that size
centred on the click, shifted (not shrunk) to lie inside the image. jupyter-bbox-widget reports a
click as a new box of zero size at the click point (it starts every box on ``mousedown``), so no
extra event source is needed: any box drawn, moved or resized in this mode snaps back to the
fixed size around its own centre.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence

import ipywidgets as widgets
import pandas as pd

from ._geometry import check_box_size, fit_box, model_boxes, normalize_boxes
from ._session import LabelingSession
from ._validate import check_names
from .detect import check_detector, detect_boxes
from .detect import detector_name as _detector_name
from .images import ImageSet
from .store import LabelStore

__all__ = ["BoxAnnotator", "to_widget", "from_widget"]

DEFAULT_ATTRIBUTES = ("truncated", "occluded", "difficult")
_GEOMETRY = ("x", "y", "w", "h")


# --------------------------------------------------------------------------- pure functions
def to_widget(box: Mapping, scale: tuple[float, float] = (1.0, 1.0)) -> dict:
    """A stored box (original pixels) as a jupyter-bbox-widget dict (display pixels).

    Parameters
    ----------
    box : mapping
        ``x, y, w, h, label`` and optional ``attributes`` (a dict, spread into the widget dict
        the way jupyter-bbox-widget's ``attach`` keeps per-box properties).
    scale : (float, float), default=(1.0, 1.0)
        Display pixels per original pixel along x and y.

    Returns
    -------
    dict
        ``x, y, width, height, label`` and the attributes.

    Examples
    --------
    >>> to_widget({"x": 10, "y": 20, "w": 30, "h": 40, "label": "cat"}, (0.5, 0.5))
    {'x': 5.0, 'y': 10.0, 'width': 15.0, 'height': 20.0, 'label': 'cat'}
    """
    sx, sy = scale
    attrs = box.get("attributes") or {}
    if isinstance(attrs, str):
        attrs = json.loads(attrs)
    out = {
        "x": float(box["x"]) * sx,
        "y": float(box["y"]) * sy,
        "width": float(box["w"]) * sx,
        "height": float(box["h"]) * sy,
        "label": box["label"],
    }
    out.update({k: v for k, v in attrs.items() if k not in out})
    return out


def from_widget(
    bbox: Mapping,
    scale: tuple[float, float] = (1.0, 1.0),
    attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
) -> dict:
    """A jupyter-bbox-widget dict (display pixels) as a stored box (original pixels).

    The inverse of :func:`to_widget`: ``x / sx``, ``y / sy``, ``width / sx``, ``height / sy``.
    Properties named in ``attributes`` go to the ``attributes`` dict as booleans (False when
    the widget has not set them: jupyter-bbox-widget adds them when a box is first selected).

    Examples
    --------
    >>> from_widget({"x": 5, "y": 10, "width": 15, "height": 20, "label": "cat", "occluded": True},
    ...             (0.5, 0.5), attributes=("occluded", "truncated"))
    {'x': 10.0, 'y': 20.0, 'w': 30.0, 'h': 40.0, 'label': 'cat', 'attributes': {'occluded': True, 'truncated': False}}
    """
    sx, sy = scale
    out = {
        "x": float(bbox["x"]) / sx,
        "y": float(bbox["y"]) / sy,
        "w": float(bbox["width"]) / sx,
        "h": float(bbox["height"]) / sy,
        "label": bbox.get("label"),
    }
    if attributes:
        out["attributes"] = {a: bool(bbox.get(a, False)) for a in attributes}
    return out


# --------------------------------------------------------------------------- widget
class BoxAnnotator(LabelingSession):
    """Draw bounding boxes on each image, or click once per object in fixed-size mode.

    Parameters
    ----------
    images : ImageSet
        The items (images that fail to decode are in ``images.skipped`` and never shown).
    classes : sequence of str
        The only labels a box may have.
    rater : str or None, default=None
        Who labels (default: the OS user).
    store : LabelStore or None, default=None
        Where boxes go (default: ``LabelStore("labels.db")``).
    task : str, default="boxes"
        The task name of the rows (registered with ``kind="box"`` and the classes).
    box_size : (float, float) or None, default=None
        Fixed-size mode: the size of every box in original image pixels; a click places one.
    attributes : sequence of str, default=("truncated", "occluded", "difficult")
        Per-box flags, shown as checkboxes for the selected box; stored in ``attributes``.
    detector : ultralytics.YOLO or callable or None, default=None
        Pre-annotation: its boxes are written once per item (``source="model"``, rater and
        ``model`` = ``detector_name``, ``confidence``) and shown pre-drawn for correction.
    item_ids : iterable of str or None, default=None
        Restrict the queue to these items (default: the rater's assignments, else all).
    max_size : int, default=768
        Longest side of the displayed image; boxes stay in original pixels.
    min_size : int, default=384
        Images whose longest side is shorter are shown enlarged by a whole factor (nearest
        neighbour, so pixels stay sharp); boxes stay in original pixels.
    detector_name : str or None, default=None
        Name recorded for the detector's rows (default: derived from the detector).
    detector_options : mapping or None, default=None
        Keyword arguments for an ultralytics detector's ``predict``, e.g.
        ``{"conf": 0.25, "max_det": 10}``.

    Attributes
    ----------
    bbox : jupyter_bbox_widget.BBoxWidget
        The drawing surface (its ``bboxes`` are in display pixels).
    boxes : list of dict
        What is drawn now, in original pixels.

    Examples
    --------
    >>> annotator = BoxAnnotator(images, classes=["cat", "dog"], rater="alice")  # doctest: +SKIP
    >>> annotator.submit([{"x": 10, "y": 20, "w": 50, "h": 40, "label": "cat"}])  # doctest: +SKIP
    """

    _keys_help = (
        "Keys (mouse over the widget): <b>1-9</b> class · <b>Enter</b> submit · "
        "<b>Backspace</b> back · <b>S</b> skip · <b>Z</b> undo · <b>Delete</b> remove selected box. "
        "Click the image first to use its own keys (Tab select, WASD move, QERF resize, C relabel)."
    )

    def __init__(
        self,
        images: ImageSet,
        classes: Sequence[str],
        rater: str | None = None,
        store: LabelStore | None = None,
        task: str = "boxes",
        box_size: tuple[float, float] | None = None,
        attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
        detector: Callable | None = None,
        item_ids: Iterable[str] | None = None,
        max_size: int = 768,
        min_size: int = 384,
        detector_name: str | None = None,
        detector_options: Mapping | None = None,
    ):
        from jupyter_bbox_widget import BBoxWidget

        self.classes = check_names(classes, "classes")
        self.box_size = check_box_size(box_size)
        if isinstance(attributes, str):
            attributes = (attributes,)
        self.attributes = tuple(check_names(attributes, "attributes")) if len(attributes) else ()
        if not isinstance(max_size, int) or max_size < 16:
            raise ValueError(f"`max_size` must be an integer >= 16. Got {max_size!r} instead.")
        self.max_size = max_size
        if not isinstance(min_size, int) or min_size < 1:
            raise ValueError(f"`min_size` must be a positive integer. Got {min_size!r} instead.")
        self.min_size = min_size
        self.task = task
        self.detector = detector
        self.detector_options = dict(detector_options or {})
        if check_detector(detector) is not None:
            self.detector_name = detector_name or _detector_name(detector)
        else:
            self.detector_name = detector_name
        store = store if store is not None else LabelStore("labels.db")
        store.register_task(task, self.classes, kind="box")
        self._scale = (1.0, 1.0)
        self._size = (0, 0)
        self._shown: dict[tuple, dict] = {}  # widget geometry -> exact original box, for exactness
        self._model_rows: dict[str, list[dict]] = {}
        self._detector_notes: dict[str, str] = {}
        self._syncing = False
        super().__init__(images, store, rater, [task], item_ids=item_ids)
        self.answers = self._load_boxes(self.rater, "human")
        if self.detector_name is not None:
            self._model_rows = self._load_boxes(self.detector_name, "model")

        self.bbox = BBoxWidget(classes=self.classes, hide_buttons=True)
        self.bbox.label = self.classes[0]
        self.bbox.on_submit(lambda: self.guard(self.submit))
        self.bbox.on_skip(lambda: self.guard(self.skip))
        self.bbox.observe(self._on_bboxes, names=["bboxes"])
        self.checkboxes = {}
        for name in self.attributes:
            box = widgets.Checkbox(value=False, description=name, indent=False, disabled=True)
            self.bbox.attach(box, name=name, default_value=False)
            self.checkboxes[name] = box
        mode = (
            f"Fixed-size mode: click to place a {self.box_size[0]:g} x {self.box_size[1]:g} box."
            if self.box_size
            else "Drag on the image to draw a box."
        )
        self.mode_note = widgets.HTML(f"<small>{html.escape(mode)}</small>")
        self.model_note = widgets.HTML()
        self.side = side = widgets.VBox(
            [
                widgets.HTML("<b>Selected box</b>"),
                *self.checkboxes.values(),
                self.mode_note,
                self.model_note,
            ],
            layout=widgets.Layout(min_width="160px"),
        )
        self.children = [
            widgets.HBox([self.progress_bar, self.progress_text]),
            self.header,
            widgets.HBox([self.bbox, side], layout=widgets.Layout(align_items="flex-start")),
            self._action_bar(),
            self.status,
            self.keys_help,
        ]
        self.add_class("lw-boxes")
        self._refresh()

    def __repr__(self) -> str:
        mode = f", box_size={self.box_size}" if self.box_size else ""
        return (
            f"BoxAnnotator({len(self.queue)} items, classes={self.classes}, "
            f"rater={self.rater!r}{mode})"
        )

    # ------------------------------------------------------------------ state
    def _load_boxes(self, rater: str, source: str) -> dict[str, list[dict]]:
        """``{item_id: boxes}`` of a rater's current submissions for this task (skips left out)."""
        cur = self.store.current(task=self.task, rater=rater, source=source)
        cur = cur[cur["item_id"].isin(self.queue) & (cur["kind"] == "box")]
        out: dict[str, list[dict]] = {}
        for item, rows in cur.groupby("item_id", sort=False):
            boxes = rows.dropna(subset=["label"])
            out[item] = [
                {"x": r.x, "y": r.y, "w": r.w, "h": r.h, "label": r.label,
                 "attributes": json.loads(r.attributes) if isinstance(r.attributes, str) else None,
                 "confidence": None if pd.isna(r.confidence) else float(r.confidence)}
                for r in boxes.itertuples(index=False)
            ]  # fmt: skip
        return out

    def _after_undo(self, item_id: str) -> None:
        self.answers = self._load_boxes(self.rater, "human")

    def _model_boxes(self, item_id: str) -> list[dict]:
        """The detector's boxes for an item, running it (and writing its rows) the first time."""
        if self.detector is None and item_id not in self._model_rows:
            return []
        if item_id not in self._model_rows:
            try:
                found = detect_boxes(
                    self.detector, self.images.load(item_id), self.detector_options
                )
            except Exception as exc:  # a failing model must not take the session down
                self.say(
                    f"The detector failed on {html.escape(item_id)}: {html.escape(repr(exc))}. "
                    "Draw the boxes by hand.",
                    error=True,
                )
                return []
            kept, unknown = model_boxes(found, self.classes, *self.images.size(item_id))
            if unknown:
                self._detector_notes[item_id] = (
                    f"Boxes of classes {unknown} were left out: the classes are "
                    f"{self.classes}."
                )
            self.store.submit_boxes(
                item_id,
                self.task,
                kept,
                self.detector_name,
                source="model",
                model=self.detector_name,
            )
            self._model_rows[item_id] = kept
        return self._model_rows[item_id]

    @property
    def boxes(self) -> list[dict]:
        """The boxes drawn now, in original pixels (``x, y, w, h, label`` and ``attributes``)."""
        out = []
        for b in self.bbox.bboxes:
            box = from_widget(b, self._scale, self.attributes)
            exact = self._shown.get(_geometry_key(b))
            if exact is not None:  # unchanged since shown: keep the exact original numbers
                box.update({k: exact[k] for k in _GEOMETRY})
                if exact.get("from_model"):
                    box.setdefault("attributes", {})["from_model"] = True
            out.append(box)
        return out

    def _set_boxes(self, boxes: Sequence[Mapping], from_model: bool = False) -> None:
        """Show boxes given in original pixels (reassigning the trait, never mutating it)."""
        shown, keyed = [], {}
        for box in boxes:
            attrs = {a: False for a in self.attributes}
            attrs.update(
                {k: v for k, v in (box.get("attributes") or {}).items() if k in self.attributes}
            )
            w = to_widget({**box, "attributes": attrs}, self._scale)
            shown.append(w)
            was_model = from_model or bool((box.get("attributes") or {}).get("from_model"))
            keyed[_geometry_key(w)] = {
                **{k: float(box[k]) for k in _GEOMETRY},
                "from_model": was_model,
            }
        self._shown = keyed
        self._syncing = True
        try:
            with self.bbox.hold_sync():
                self.bbox.selected_index = -1
                self.bbox.bboxes = shown
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ actions
    def select_class(self, label: str) -> None:
        """Make ``label`` the class of the next boxes (like the class buttons and keys 1-9)."""
        if label not in self.classes:
            raise ValueError(f"`label` must be one of {self.classes}. Got {label!r} instead.")
        self.bbox.label = label

    def click(self, x: float, y: float, label: str | None = None) -> dict:
        """Place a fixed-size box centred on ``(x, y)`` (original pixels), like a click.

        The box is shifted to lie fully inside the image. Returns the box placed.
        """
        if self.box_size is None:
            raise ValueError(
                "`box_size` must be set to place boxes by clicking. Got None; create the annotator "
                "with box_size=(w, h)."
            )
        self._require_item("click on")
        label = self.bbox.label if label is None else label
        if label not in self.classes:
            raise ValueError(f"`label` must be one of {self.classes}. Got {label!r} instead.")
        width, height = self._size
        w, h = self.box_size
        bx, by = fit_box(x, y, w, h, width, height)
        box = {"x": bx, "y": by, "w": w, "h": h, "label": label}
        self._set_boxes([*self.boxes, box])
        return box

    def delete_box(self, index: int | None = None) -> None:
        """Remove a drawn box (default: the selected one)."""
        index = self.bbox.selected_index if index is None else index
        n = len(self.bbox.bboxes)
        if not 0 <= index < n:
            raise IndexError(f"`index` must be in [0, {n - 1}]. Got {index!r} instead.")
        self.bbox.selected_index = -1
        self.bbox.bboxes = [b for i, b in enumerate(self.bbox.bboxes) if i != index]

    def submit(self, boxes: Sequence[Mapping] | None = None) -> str:
        """Commit the current image's boxes and advance; the Submit button calls this.

        Parameters
        ----------
        boxes : list of dict or None, default=None
            ``x, y, w, h, label`` (+ ``attributes``) in original pixels; None submits what is
            drawn. An empty list records "no objects". Drawn boxes of zero size (a click that
            drew nothing) are left out.

        Returns
        -------
        str
            The submission id (rows committed when this returns).
        """
        item = self._require_item("submit")
        notes = []
        if boxes is None:
            drawn = self.boxes
            boxes = [b for b in drawn if b["w"] > 0 and b["h"] > 0]
            if len(boxes) < len(drawn):
                notes.append(f"{len(drawn) - len(boxes)} box(es) of zero size left out")
        clean, clipped = normalize_boxes(boxes, self.classes, *self.images.size(item), self.box_size)
        notes += clipped
        sid = self.store.submit_boxes(item, self.task, clean, self.rater)
        self.answers[item] = clean
        self._committed(sid, item)
        message = f"Saved {len(clean)} box(es) for {html.escape(item)}"
        if notes:
            self.say(message + ". Note: " + html.escape("; ".join(notes)) + ".", error=False)
        else:
            self.say(message + ".", ok=True)
        return sid

    def _forget(self, item_id: str) -> None:
        self.answers.pop(item_id, None)

    # ------------------------------------------------------------- front end
    def _on_bboxes(self, change: dict) -> None:
        """In fixed-size mode, snap every new, moved or resized box back to the fixed size."""
        if self._syncing or self.box_size is None or self.current_item is None:
            return
        self.guard(self._snap, change["new"])

    def _snap(self, bboxes: list[dict]) -> None:
        width, height = self._size
        w, h = self.box_size
        sx, sy = self._scale
        fixed, changed, errors = [], False, []
        for b in bboxes:
            exact = self._shown.get(_geometry_key(b))
            if exact is not None:
                fixed.append(b)
                continue
            cx = (float(b["x"]) + float(b["width"]) / 2) / sx
            cy = (float(b["y"]) + float(b["height"]) / 2) / sy
            try:
                bx, by = fit_box(cx, cy, w, h, width, height)
            except ValueError as exc:
                errors.append(str(exc))
                changed = True
                continue
            box = {**from_widget(b, self._scale, self.attributes), "x": bx, "y": by, "w": w, "h": h}
            new = to_widget(box, self._scale)
            self._shown[_geometry_key(new)] = {"x": bx, "y": by, "w": w, "h": h}
            fixed.append(new)
            changed = True
        if changed:
            index = self.bbox.selected_index
            self._syncing = True
            try:
                with self.bbox.hold_sync():
                    self.bbox.bboxes = fixed
                    self.bbox.selected_index = index if index < len(fixed) else -1
            finally:
                self._syncing = False
        if errors:
            raise ValueError(errors[0])

    def _show_item(self, item_id: str | None) -> None:
        if item_id is None:
            self.bbox.layout.display = self.side.layout.display = "none"
            self._set_boxes([])
            return
        if self.bbox.layout.display == "none":
            # shown again after the end screen: the browser measured the hidden image as 0 x 0;
            # new bytes make it load, and measure, the image again
            self.bbox.image_bytes = b""
        self.bbox.layout.display = self.side.layout.display = None
        shown = self._image_for(item_id)
        self._size = self.images.size(item_id)
        self._scale = shown.scale
        data = shown.data
        if item_id in self.answers:
            boxes, from_model = self.answers[item_id], False
        else:
            boxes, from_model = self._model_boxes(item_id), True
        note = ""
        if from_model and self.detector_name is not None:
            note = f"{len(boxes)} box(es) pre-drawn by {self.detector_name}. "
            note += self._detector_notes.get(item_id, "")
        self.model_note.value = f"<small>{html.escape(note)}</small>" if note else ""
        if self.box_size is not None:
            boxes = self._fixed(boxes)
        with self.bbox.hold_sync():
            self.bbox.image_bytes = data
            self._set_boxes(boxes, from_model=from_model)

    def _fixed(self, boxes: Sequence[Mapping]) -> list[dict]:
        """Boxes of another size (model boxes, an earlier box size) snapped to ``box_size``."""
        w, h = self.box_size
        out = []
        for box in boxes:
            if abs(box["w"] - w) <= 1e-6 and abs(box["h"] - h) <= 1e-6:
                out.append(dict(box))
                continue
            try:
                x, y = fit_box(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2, w, h, *self._size)
            except ValueError as exc:
                self.say(html.escape(str(exc)), error=True)
                return []
            out.append({**box, "x": x, "y": y, "w": w, "h": h})
        return out

    def close(self) -> None:
        """Close the widget (also when the constructor refused its arguments half-way)."""
        if "_prefetcher" not in self.__dict__:  # LabelingSession.__init__ never ran
            widgets.VBox.close(self)
            return
        super().close()

    def _display_image(self, item_id: str):
        """The item's image for the browser: downscaled past ``max_size``, tiny images enlarged by a
        whole factor up to ``min_size`` (see :func:`labelwidgets.images.encode_display`)."""
        return self.images.display(item_id, max_size=self.max_size, min_size=self.min_size)

    def _handle_key(self, key: str, shift: bool = False, ctrl: bool = False) -> None:
        if self._common_key(key, ctrl):
            return
        if key == "Delete":
            self.delete_box()
        elif key == "Escape":
            self.bbox.selected_index = -1
        elif key.isdigit() and key != "0":
            n = int(key)
            if n > len(self.classes):
                raise ValueError(f"Key {key} has no class: there are {len(self.classes)} classes.")
            self.select_class(self.classes[n - 1])


def _geometry_key(bbox: Mapping) -> tuple:
    return (
        bbox.get("label"),
        float(bbox["x"]),
        float(bbox["y"]),
        float(bbox["width"]),
        float(bbox["height"]),
    )
