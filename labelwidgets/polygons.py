"""Polygons and points: segmentation is detection with a polygon instead of a box.

:class:`PolygonAnnotator` and :class:`PointAnnotator` put ipyannotations' drawing widgets
(an ipycanvas ``MultiCanvas``) into the labelwidgets session: one rater's queue, resume,
progress bar, back, skip, undo and a status line, with every submit written to the store as
``kind="polygon"`` / ``kind="point"`` rows. Points are in pixels of the EXIF-corrected image
(top-left origin) and live in ``attributes["points"]`` as ``[[x, y], ...]``; ``x, y, w, h``
hold a polygon's bounding box, and a point's position (``w = h = 0``).

JupyterLab 4 fix. ipyannotations 0.5 appends its keyboard listener, an ``ipyevents.Event``,
to the children of its ``VBox``. An ``Event`` is a widget without a view, so JupyterLab 4 with
ipywidgets 8 shows "Failed to load view class 'null'" in place of the whole annotator.
:func:`detach_viewless` takes such widgets out of every box's ``children``; ipyevents listens on
its ``source`` widget's views, so the shortcuts keep working without it being displayed. Inside
the annotators their listener is switched off and the keys come from :class:`FocusKeys`.

The queue rules (resume, back, skip, undo, an image that cannot be shown) are those of
:class:`labelwidgets.session.Session`. Keys (:func:`shape_keymap`): click the widget once, then
they work wherever the mouse is until Esc or a click outside: ``1``-``9`` pick the class,
``Enter`` submits, ``Backspace`` removes the last point drawn, ``E`` toggles edit mode (drag
points), ``S`` skips, ``Z`` undoes the last submit, ``←`` goes back.
"""

from __future__ import annotations

import functools
import html
import io
import json
import logging
import math
import traceback
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real

import ipywidgets as widgets
import pandas as pd
from PIL import Image

from . import keys as _keys
from ._validate import InputError, check_names
from ._widget import FocusKeys
from .images import Display, ImageSet
from .session import Session, SessionAccess
from .store import TASK_KINDS, LabelStore

__all__ = [
    "shape_keymap",
    "PolygonAnnotator",
    "PointAnnotator",
    "detach_viewless",
    "normalize_shapes",
    "shape_rows",
    "rows_to_shapes",
    "canvas_shapes",
    "to_ipyannotations",
]

_KINDS = ("polygon", "point")
log = logging.getLogger("labelwidgets")


# ------------------------------------------------------------------ pure functions
def _pair(value, where: str) -> list[float]:
    if hasattr(value, "tolist"):  # a NumPy row
        value = value.tolist()
    ok = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
    ok = ok and all(
        isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )
    if not ok:
        raise ValueError(
            f"{where} must be an [x, y] pair of finite numbers. Got {value!r} instead."
        )
    return [float(value[0]), float(value[1])]


def _area(points: list[list[float]]) -> float:
    """Area of a simple polygon (shoelace formula)."""
    n = len(points)
    s = sum(
        points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
        for i in range(n)
    )
    return abs(s) / 2


def _shape_points(shape: Mapping, kind: str, where: str) -> list[list[float]]:
    if kind == "point":
        if "points" in shape:
            pts = shape["points"]
            if not isinstance(pts, Sequence) or len(pts) != 1:
                raise ValueError(
                    f"{where}['points'] must hold exactly one [x, y] pair. Got {pts!r} instead."
                )
            return [_pair(pts[0], f"{where}['points'][0]")]
        if "coordinates" in shape:  # ipyannotations' point format
            return [_pair(shape["coordinates"], f"{where}['coordinates']")]
        if "x" in shape and "y" in shape:
            return [_pair((shape["x"], shape["y"]), f"{where} (x, y)")]
        raise ValueError(
            f"{where} must have 'x' and 'y' (or 'points'). Got keys {sorted(shape)} instead."
        )
    pts = shape.get("points")
    if hasattr(pts, "tolist"):  # a NumPy array
        pts = pts.tolist()
    if isinstance(pts, str) or not isinstance(pts, Sequence):
        raise ValueError(f"{where}['points'] must be a list of [x, y] pairs. Got {pts!r} instead.")
    out = [_pair(p, f"{where}['points'][{i}]") for i, p in enumerate(pts)]
    dedup = [p for i, p in enumerate(out) if i == 0 or p != out[i - 1]]
    if len(dedup) > 1 and dedup[0] == dedup[-1]:  # a closing point that repeats the first
        dedup.pop()
    return dedup


def normalize_shapes(
    shapes: Iterable[Mapping], kind: str, classes: Sequence[str], width: float, height: float
) -> tuple[list[dict], list[str]]:
    """Check an image's polygons or points; return them cleaned, and notes on what was changed.

    Parameters
    ----------
    shapes : iterable of dict
        Each with ``label`` and, for a polygon, ``points`` (``[[x, y], ...]``, at least three
        distinct vertices; a closing vertex equal to the first is dropped); for a point ``x, y``,
        ``points=[[x, y]]`` or ipyannotations' ``coordinates=(x, y)``. Pixels of the
        EXIF-corrected image, top-left origin.
    kind : {"polygon", "point"}
        What the shapes are.
    classes : sequence of str
        The allowed labels.
    width, height : float
        Size of the image; a polygon partly outside is clipped to it (and noted), one wholly
        outside is refused, and so is a point outside the image.

    Returns
    -------
    (list of dict, list of str)
        ``[{"label": str, "points": [[x, y], ...]}, ...]`` and human-readable notes.

    Raises
    ------
    ValueError
        For an unknown label, malformed points, fewer than three distinct vertices or a zero
        area, or a shape outside the image.
    """
    if kind not in _KINDS:
        raise ValueError(f"`kind` must be one of {list(_KINDS)}. Got {kind!r} instead.")
    if isinstance(shapes, Mapping) or isinstance(shapes, str) or not isinstance(shapes, Iterable):
        raise ValueError(f"`shapes` must be a list of dicts. Got {shapes!r} instead.")
    out, notes = [], []
    for i, shape in enumerate(shapes):
        where = f"shapes[{i}]"
        if not isinstance(shape, Mapping):
            raise ValueError(
                f"{where} must be a dict with 'label' and points. Got {shape!r} instead."
            )
        label = shape.get("label")
        if label not in classes:
            raise ValueError(
                f"{where}['label'] must be one of {list(classes)}. Got {label!r} instead."
            )
        pts = _shape_points(shape, kind, where)
        if kind == "point":
            x, y = pts[0]
            if not (0 <= x <= width and 0 <= y <= height):
                raise ValueError(
                    f"{where} must lie inside the image (0 <= x <= {width:g}, 0 <= y <= {height:g}). "
                    f"Got ({x:g}, {y:g}) instead."
                )
        else:
            if len(pts) < 3:
                raise ValueError(
                    f"{where} must have at least 3 distinct vertices. Got {len(pts)}: {pts!r}."
                )
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            if max(xs) < 0 or min(xs) > width or max(ys) < 0 or min(ys) > height:
                raise ValueError(
                    f"{where} must overlap the image (0..{width:g} x 0..{height:g}). "
                    f"Got a polygon wholly outside it: {pts!r}."
                )
            clipped = [
                [min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))] for x, y in pts
            ]
            if clipped != pts:
                notes.append(
                    f"{where} ({label}) was partly outside the image: clipped to its border."
                )
                pts = clipped
            if _area(pts) <= 0:
                raise ValueError(f"{where} must enclose a positive area. Got the points {pts!r}.")
        out.append({"label": label, "points": pts})
    return out, notes


def shape_rows(
    item_id: str, task: str, rater: str, kind: str, shapes: Sequence[Mapping], source: str = "human"
) -> list[dict]:
    """Annotation rows for :meth:`LabelStore.append` from normalised shapes.

    A polygon row holds its bounding box in ``x, y, w, h``; a point row its position in
    ``x, y`` with ``w = h = 0``; both keep ``attributes={"points": [[x, y], ...]}``. No shapes
    records "nothing here" as one row with ``label`` NULL (like an empty box submission).
    """
    rows = []
    for shape in shapes:
        pts = [[float(x), float(y)] for x, y in shape["points"]]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        rows.append(
            {
                "item_id": item_id,
                "task": task,
                "rater": rater,
                "kind": kind,
                "label": shape["label"],
                "x": min(xs),
                "y": min(ys),
                "w": max(xs) - min(xs),
                "h": max(ys) - min(ys),
                "attributes": {"points": pts},
                "source": source,
            }  # fmt: skip
        )
    if not rows:
        rows = [{"item_id": item_id, "task": task, "rater": rater, "kind": kind, "source": source}]
    return rows


def rows_to_shapes(rows: pd.DataFrame) -> list[dict]:
    """Shapes ``[{"label", "points"}, ...]`` from store rows of one submission (inverse of :func:`shape_rows`)."""
    out = []
    for label, attrs, kind, x, y in zip(rows["label"], rows["attributes"], rows["kind"], rows["x"], rows["y"], strict=True):  # fmt: skip
        if kind not in _KINDS or label is None or (isinstance(label, float) and math.isnan(label)):
            continue
        attrs = json.loads(attrs) if isinstance(attrs, str) else (attrs or {})
        pts = attrs.get("points") or [[float(x), float(y)]]
        out.append({"label": label, "points": [[float(a), float(b)] for a, b in pts]})
    return out


def canvas_shapes(kind: str, data: Sequence[Mapping], current=None) -> list[dict]:
    """Shapes ``[{"label", "points"}, ...]`` from ipyannotations' canvas data (image pixels).

    A closed polygon repeats its first vertex at the end (dropped here). The polygon being drawn
    (``current``, with ``points`` and ``label``) counts as closed from three points on; one or two
    points are an error.

    Examples
    --------
    >>> canvas_shapes("point", [{"label": "eye", "coordinates": (3.0, 4.0)}])
    [{'label': 'eye', 'points': [[3.0, 4.0]]}]
    """
    if kind == "point":
        return [{"label": p["label"], "points": [list(p["coordinates"])]} for p in data]
    shapes = [{"label": p["label"], "points": [list(q) for q in p["points"][:-1]]} for p in data]
    points = list(getattr(current, "points", []) or [])
    if 0 < len(points) < 3:
        raise InputError(
            f"The open polygon must have at least 3 points to be submitted. Got {len(points)}; "
            "close it by clicking its first point, or remove the points with Backspace."
        )
    if len(points) >= 3:
        shapes.append({"label": current.label, "points": [list(q) for q in points]})
    return shapes


def to_ipyannotations(kind: str, shape: Mapping) -> dict:
    """A stored shape as ipyannotations' canvas data (a polygon closed by repeating its first
    vertex); the inverse of :func:`canvas_shapes`.

    Examples
    --------
    >>> to_ipyannotations("polygon", {"label": "cat", "points": [[0, 0], [4, 0], [4, 3]]})["points"]
    [(0, 0), (4, 0), (4, 3), (0, 0)]
    """
    if kind == "point":
        return {"type": "point", "label": shape["label"], "coordinates": tuple(shape["points"][0])}
    pts = [tuple(p) for p in shape["points"]]
    return {"type": "polygon", "label": shape["label"], "points": pts + pts[:1]}


# ------------------------------------------------------------- ipyannotations fix
def detach_viewless(widget: widgets.Widget) -> list[widgets.Widget]:
    """Take widgets without a view (``ipyevents.Event``) out of every box's ``children``.

    JupyterLab 4 (ipywidgets 8) cannot display a box whose children include a widget that has
    no view: it shows "Failed to load view class 'null'" in place of the whole box. The
    detached widgets stay alive and keep working (ipyevents listens on its ``source``).

    Returns
    -------
    list of ipywidgets.Widget
        The widgets taken out, in tree order.
    """
    detached = []
    children = getattr(widget, "children", None)
    if children is None:
        return detached
    keep = []
    for child in children:
        if getattr(child, "_view_name", None) is None:
            detached.append(child)
        else:
            detached.extend(detach_viewless(child))
            keep.append(child)
    if len(keep) != len(children):
        widget.children = tuple(keep)
    return detached


@functools.cache
def _ipyannotations():
    """ipyannotations' annotators with a canvas that maps clicks to the full-size image."""
    try:
        from ipyannotations.images import annotator as ipa
        from ipyannotations.images.canvases.point import PointAnnotationCanvas
        from ipyannotations.images.canvases.polygon import PolygonAnnotationCanvas
        from traitlets import observe
    except ImportError as exc:  # pragma: no cover - ipyannotations is a dependency
        raise ImportError(
            "Polygons and points need ipyannotations: pip install 'ipyannotations>=0.5.1'"
        ) from exc

    def true_size(base):
        class Canvas(base):
            # the image on the canvas is a resized copy: clicks map to the original's pixels
            true_size = None

            @observe("image_contrast", "image_brightness")
            def _display_image(self, *change):
                super()._display_image(*change)
                if self.true_size is not None and self.current_image is not None:
                    self.original_width, self.original_height = self.true_size

        Canvas.__name__ = Canvas.__qualname__ = f"TrueSize{base.__name__}"
        return Canvas

    class Polygons(ipa.PolygonAnnotator):
        CanvasClass = true_size(PolygonAnnotationCanvas)

    class Points(ipa.PointAnnotator):
        CanvasClass = true_size(PointAnnotationCanvas)

    return {"polygon": Polygons, "point": Points}


# ------------------------------------------------------------------ the widgets
def shape_keymap(n_classes: int) -> list[dict]:
    """The key map of the polygon and point annotators: ``1``-``9`` class, ``Enter`` submit,
    ``Backspace`` remove the last point, ``E`` edit mode, ``S`` skip, ``Z`` undo, ``←`` back."""
    return _keys.keymap(
        [{"key": "Backspace", "action": "remove_point", "label": "Remove the last point"},
         {"key": "ArrowLeft", "action": "back", "label": "Back"},
         {"key": "e", "action": "edit", "label": "Edit mode (drag points)"}],
        [{"key": str(d), "action": "class", "args": [d], "label": "Pick a class"}
         for d in range(1, min(n_classes, 9) + 1)],
    )  # fmt: skip


class _ShapeAnnotator(SessionAccess, widgets.VBox):
    kind = "polygon"

    def __init__(
        self,
        images: ImageSet,
        classes: Sequence[str],
        *,
        rater: str | None = None,
        store: LabelStore,
        task: str | None = None,
        item_ids: Iterable[str] | None = None,
        roles: Sequence[str] | None = None,
        canvas_size: tuple[int, int] = (640, 480),
    ):
        self.classes = tuple(check_names(classes, "classes"))
        self.task = task if task is not None else f"{self.kind}s"
        if not isinstance(self.task, str) or not self.task.strip():
            raise InputError(f"`task` must be a non-empty string. Got {task!r} instead.")
        ok = (isinstance(canvas_size, Sequence) and len(canvas_size) == 2
              and all(isinstance(v, int) and v >= 64 for v in canvas_size))  # fmt: skip
        if not ok:
            raise InputError(
                f"`canvas_size` must be (width, height), ints >= 64. Got {canvas_size!r} instead."
            )
        self.canvas_size = (int(canvas_size[0]), int(canvas_size[1]))
        self.keymap = shape_keymap(len(self.classes))
        self.session = Session(images, store, rater, [self.task], item_ids, roles, self.keymap)
        # a store without the polygon/point task kinds keeps them as "box" (their x, y, w, h)
        store.register_task(
            self.task, self.classes, self.kind if self.kind in TASK_KINDS else "box"
        )
        super().__init__()
        self.add_class("labelwidgets")
        self.shapes = self._load_shapes()

        self.annotator = _ipyannotations()[self.kind](
            canvas_size=self.canvas_size, options=list(self.classes)
        )
        self.annotator.add_class("lw-shape-annotator")
        self.detached = detach_viewless(self.annotator)  # the JupyterLab 4 fix
        # the focus widget below handles the keys; theirs would submit twice
        self.annotator.event_watcher.watched_events = []
        self.canvas = self.annotator.canvas
        self.annotator.on_submit(lambda data: self.guard(self._from_annotator, data))
        self.annotator.submit_button.description = "Submit ⏎"
        self.annotator.skip_button.description = "Skip (S)"
        self.annotator.undo_button.description = "Point (⌫)"
        self.annotator.undo_button.tooltip = "Remove the last point drawn (Backspace)"
        for b in (self.annotator.submit_button, self.annotator.skip_button, self.annotator.undo_button):
            b.layout.width = "auto"  # never cut a label
        self.back_button = widgets.Button(description="Back (←)", icon="arrow-left")
        self.undo_submit_button = widgets.Button(description="Undo submit (Z)", icon="undo")
        self.back_button.on_click(lambda _b: self.guard(self.back))
        self.undo_submit_button.on_click(lambda _b: self.guard(self.undo))
        self.progress_bar = widgets.IntProgress(min=0, max=max(1, len(self.queue)))
        self.progress_text = widgets.HTML()
        self.header = widgets.HTML()
        self.status_line = widgets.HTML()
        self.focus_keys = FocusKeys(self.keymap, _keys.help_text(self.keymap), self._on_key)
        self._image_widget: widgets.Image | None = None
        self.children = [
            widgets.HBox([self.progress_bar, self.progress_text]),
            self.header,
            self.annotator,
            widgets.HBox([self.back_button, self.undo_submit_button]),
            self.status_line,
            self.focus_keys,
        ]
        self._refresh()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.queue)} items, classes={list(self.classes)}, "
                f"task={self.task!r}, rater={self.rater!r})")  # fmt: skip

    # ------------------------------------------------------------------ queue
    status = property(lambda self: self.session.status, doc="The status line, ``{text, level}``.")

    def _load_shapes(self) -> dict[str, list[dict]]:
        """This rater's current shapes per item of the queue (skipped items map to ``[]``)."""
        cur = self.store.current(task=self.task, rater=self.rater)
        cur = cur[cur["item_id"].isin(self.queue)]
        return {item: rows_to_shapes(rows) for item, rows in cur.groupby("item_id", sort=False)}

    def drawn(self) -> list[dict]:
        """The shapes on the canvas now (``[{"label", "points"}, ...]``, image pixels); see
        :func:`canvas_shapes`."""
        return canvas_shapes(self.kind, self.canvas.data, getattr(self.canvas, "current_polygon", None))

    # -------------------------------------------------------------- actions
    def guard(self, fn, *args):
        """Run a button or key handler: a bad input becomes the status, never a dead widget."""
        try:
            return fn(*args)
        except InputError as exc:
            self.say(str(exc), "error")
        except Exception as exc:  # an internal error: logged with its traceback, shown
            log.error("labelwidgets handler failed:\n%s", traceback.format_exc())
            self.say(f"Internal error: {type(exc).__name__}: {exc}. Please report this with the log.", "error")
        return None

    def submit(self, shapes: Sequence[Mapping] | None = None) -> str:
        """Commit the current item's shapes and advance; the Submit button calls this.

        Parameters
        ----------
        shapes : list of dict or None, default=None
            ``[{"label": ..., "points": [[x, y], ...]}, ...]`` in pixels of the EXIF-corrected
            image (a point may be ``{"label", "x", "y"}``); None submits what is drawn on the
            canvas. An empty list records that the image holds nothing to mark.

        Returns
        -------
        str
            The submission id (the rows are committed when this returns).
        """
        item = self.session.require_item("submit")
        if shapes is None:
            shapes = self.drawn()
        width, height = self.images.size(item)
        clean, notes = normalize_shapes(shapes, self.kind, self.classes, width, height)
        text = f"Saved {item}. " + " ".join(notes) if notes else None
        sid = self.session.commit(
            item, lambda i: self.store.append(shape_rows(i, self.task, self.rater, self.kind, clean)),
            text=text,
        )  # fmt: skip
        self.shapes[item] = clean
        self._refresh()
        return sid

    def skip(self, reason: str | None = None) -> str:
        """Record a skip for the current item (no shape) and advance."""
        sid = self.session.skip(reason=reason)
        self.shapes[self.session.history[-1][1]] = []
        self._refresh()
        return sid

    def back(self) -> None:
        """Go to the previous item; its submitted shapes load for editing."""
        self.session.back()
        self._refresh()

    def go_to(self, index: int) -> None:
        """Show the item at ``index`` of the queue (``len(queue)`` shows the end screen)."""
        self.session.go_to(index)
        self._refresh()

    def undo(self) -> str | None:
        """Retract the last submission made here and show its item again."""
        retraction = self.session.undo()
        if retraction is not None:
            self.shapes = self._load_shapes()
        self._refresh()
        return retraction

    def say(self, text: str, level: str = "info") -> None:
        """Show a message in the status line."""
        self.session.say(text, level)
        self._paint_status()

    def select_class(self, label: str) -> None:
        """Make ``label`` the class of the next shape (like the dropdown or keys 1-9)."""
        if label not in self.classes:
            raise InputError(f"`label` must be one of {list(self.classes)}. Got {label!r} instead.")
        self.annotator.class_selector.value = label

    def click(self, x: float, y: float) -> None:
        """Click the canvas at image pixel ``(x, y)``, as the mouse does (adds a point or vertex).

        The click lands on the nearest canvas pixel, as a mouse click would, so on a
        downscaled image the point recorded may differ from ``(x, y)`` by less than one canvas
        pixel; :meth:`submit` with explicit shapes records exact coordinates.
        """
        width, height = self.images.size(self.current_item) if self.current_item else (0, 0)
        if not (0 <= x <= width and 0 <= y <= height):
            raise InputError(
                f"(x, y) must lie inside the image (0..{width} x 0..{height}). Got ({x}, {y})."
            )
        cx, cy = self.canvas.image_to_canvas_coordinates((x, y))
        self.canvas.on_click(cx, cy)

    def _from_annotator(self, data) -> None:
        # ipyannotations calls its submit callbacks with its data, or None for Skip
        if data is None:
            self.skip()
        else:
            self.submit()

    # ------------------------------------------------------------- keyboard
    def press(self, key: str, shift: bool = False, ctrl: bool = False):
        """Act as if ``key`` were pressed with the widget focused (errors go to the status)."""
        entry = _keys.lookup(self.keymap, key, shift, ctrl)
        return None if entry is None else self.guard(self._key_action, entry)

    def _on_key(self, key: str) -> None:
        entry = next((e for e in self.keymap if e["key"] == key), None)
        if entry is not None:
            self.guard(self._key_action, entry)

    def _key_action(self, entry: dict):
        action = entry["action"]
        if action == "class":
            n = entry["args"][0]
            self.select_class(self.classes[n - 1])
        elif action == "remove_point":
            if self.canvas._undo_queue:
                self.annotator.undo()
            else:
                self.say("Nothing drawn to remove on this image.")
        elif action == "edit" and hasattr(self.annotator, "edit_button"):
            self.annotator.edit_button.value = not self.annotator.edit_button.value
        elif action in ("submit", "skip", "back", "undo"):
            return getattr(self, action)()
        return None

    # -------------------------------------------------------------- display
    def _display(self, item_id: str) -> Display:
        """The image resized (up or down) to fill the canvas: ipyannotations draws an image at
        its own size, and maps clicks through the size it is told (``true_size``)."""
        img = self.images.load(item_id)
        scale = min(self.canvas_size[0] / img.width, self.canvas_size[1] / img.height)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
        buf = io.BytesIO()
        img.resize(size, resample).save(buf, format="JPEG", quality=90)
        return Display(buf.getvalue(), "jpeg", size[0], size[1], (scale, scale))

    def _refresh(self) -> None:
        while True:
            item = self.current_item
            if item is None:
                break
            try:
                shown = self._display(item)
            except OSError as exc:
                self.session.drop_unshowable(item, str(exc))
                continue
            self.session.mark_shown(item)
            self._show(item, shown)
            break
        if self.current_item is None:
            self.annotator.layout.display = "none"
        n, done = len(self.queue), len(self.done)
        with self.progress_bar.hold_sync():
            self.progress_bar.max = max(1, n)
            self.progress_bar.value = done
        self.progress_text.value = f"<b>{done} / {n}</b> done by {html.escape(self.rater)}"
        if self.current_item is None:
            self.header.value = f"<h4>{html.escape(self.session.end_text())}</h4>"
        else:
            fields = " · ".join(f"{html.escape(str(c))}: {html.escape(str(v))}"
                                for c, v in self.images.metadata(self.current_item).items())  # fmt: skip
            self.header.value = (
                f"<b>{html.escape(self.current_item)}</b> &nbsp; item {self.index + 1} of {n}"
                + (f" &nbsp; <span class='lw-field'>{fields}</span>" if fields else "")
            )
        self._paint_status()

    def _paint_status(self) -> None:
        s = self.session.status
        self.status_line.value = (
            f"<div class='lw-status lw-{s['level']}'>{html.escape(s['text'])}</div>"
        )

    def _show(self, item_id: str, shown) -> None:
        self.annotator.layout.display = None
        previous = self._image_widget
        self._image_widget = widgets.Image(value=shown.data, format=shown.format)
        self.canvas.true_size = self.images.size(item_id)
        self.annotator.display(self._image_widget)
        self.canvas._undo_queue.clear()  # undo steps of the previous image must not reach this one
        if hasattr(self.annotator, "edit_button"):
            self.annotator.edit_button.value = False
        self.annotator.data = [to_ipyannotations(self.kind, s) for s in self.shapes.get(item_id, [])]
        if previous is not None:
            previous.close()

    def close(self) -> None:
        """Close the widget, its canvas and its listeners."""
        parts = getattr(self, "detached", []) + [getattr(self, "annotator", None), getattr(self, "focus_keys", None)]
        for w in [getattr(self, "_image_widget", None), *parts]:
            if w is not None:
                w.close()
        super().close()


class PolygonAnnotator(_ShapeAnnotator):
    """Draw polygons on images (segmentation), class from a predefined list, one submit per image.

    Click to add vertices; click the first vertex (drawn in pink) to close a polygon, or submit
    with three or more points open and it is closed for you. The class of the polygon being drawn
    follows the dropdown (or keys 1-9). Each polygon is one ``kind="polygon"`` row: ``label``,
    ``x, y, w, h`` its bounding box, ``attributes={"points": [[x, y], ...]}`` in pixels of the
    EXIF-corrected image. Previously submitted polygons load for editing (``Edit`` drags vertices).

    Parameters
    ----------
    images : ImageSet
        The items.
    classes : sequence of str
        The allowed labels.
    rater : str or None, default=None
        Who labels (default: the OS user).
    store : LabelStore
        Where submissions go (required).
    task : str or None, default=None
        Task name in the store (default: ``"polygons"``).
    item_ids : iterable of str or None, default=None
        Restrict the queue (default: the rater's assignments if any, else every item).
    roles : sequence of str or None, default=None
        Assignment roles that feed the queue.
    canvas_size : (int, int), default=(640, 480)
        Canvas size in screen pixels; the image is resized to fill it.

    Examples
    --------
    >>> seg = PolygonAnnotator(images, ["cat", "dog"], rater="alice", store=store)  # doctest: +SKIP
    >>> seg.submit([{"label": "cat", "points": [[10, 10], [60, 12], [40, 50]]}])  # doctest: +SKIP
    """

    kind = "polygon"


class PointAnnotator(_ShapeAnnotator):
    """Click points on images (keypoints, counting), class from a predefined list.

    Each point is one ``kind="point"`` row: ``label``, ``x, y`` its position (``w = h = 0``)
    and ``attributes={"points": [[x, y]]}`` in pixels of the EXIF-corrected image.

    Parameters
    ----------
    images : ImageSet
        The items.
    classes : sequence of str
        The allowed labels.
    rater : str or None, default=None
        Who labels (default: the OS user).
    store : LabelStore
        Where submissions go (required).
    task : str or None, default=None
        Task name in the store (default: ``"points"``).
    item_ids : iterable of str or None, default=None
        Restrict the queue (default: the rater's assignments if any, else every item).
    roles : sequence of str or None, default=None
        Assignment roles that feed the queue.
    canvas_size : (int, int), default=(640, 480)
        Canvas size in screen pixels; the image is resized to fill it.

    Examples
    --------
    >>> pts = PointAnnotator(images, ["eye", "nose"], rater="alice", store=store)  # doctest: +SKIP
    >>> pts.submit([{"label": "eye", "x": 31, "y": 40}])  # doctest: +SKIP
    """

    kind = "point"
