"""The wide "metadata table": one row per item, one column per task, from the current rows.

:func:`task_cells` turns current rows into one cell per (item, task); :class:`TableView` keeps the
cells of a store's table and, after a refresh of its current rows, recomputes only the items whose
rows changed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._views import Codes, CurrentView, _winners

_MISSING = np.nan


def task_cells(cur: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, tuple[str, pd.Series]]:
    """Per task: its kind and the cells of the items that have one (index ``item_id``).

    A cell holds the label (single), the sorted list of labels (multi; "none of these" is an
    empty list) or the list of ``{label, x, y, w, h}`` dicts (boxes, polygons, points) of the most
    recent current submission for that (item, task) across raters.
    """
    cur = cur[(cur["kind"] != "skip").to_numpy()]
    if len(cur):
        cur = cur[_winners(_codes(cur), cur["submission_id"])]
    out = {}
    tasks = set(cur["task"].unique()) | set(kinds)
    by_task = dict(list(cur.groupby("task", sort=False))) if len(cur) else {}
    for task in sorted(tasks):
        rows = by_task.get(task, cur.iloc[:0])
        kind = kinds.get(task, "box" if (rows["kind"] == "box").any() else "single")
        labelled = rows[rows["label"].notna().to_numpy()]
        if kind == "single":
            col = labelled.drop_duplicates("item_id", keep="last").set_index("item_id")["label"]
        elif kind == "multi":
            chosen = labelled.sort_values(["item_id", "label"], kind="stable")
            col = _lists(chosen["item_id"], chosen["label"].to_numpy(dtype=object))
            answered = pd.Index(rows["item_id"].unique())
            col = col.reindex(answered)
            empty = col.isna().to_numpy()
            if empty.any():
                values = col.to_numpy(dtype=object, copy=True)
                for k in np.flatnonzero(empty):
                    values[k] = []
                col = pd.Series(values, index=answered)
        else:
            boxes = [
                {"label": lab, "x": x, "y": y, "w": w, "h": h}
                for lab, x, y, w, h in zip(
                    labelled["label"].tolist(), labelled["x"].tolist(), labelled["y"].tolist(),
                    labelled["w"].tolist(), labelled["h"].tolist(), strict=True,
                )
            ]  # fmt: skip
            order = np.argsort(labelled["item_id"].to_numpy(dtype=object), kind="stable")
            col = _lists(labelled["item_id"].take(order), np.array(boxes + [None], dtype=object)[:-1][order])
        col.index.name = "item_id"
        out[task] = (kind, col)
    return out


def _codes(cur: pd.DataFrame) -> np.ndarray:
    codes = Codes()
    return (codes.encode("item_id", cur["item_id"]) << 16) | codes.encode("task", cur["task"])


def _lists(item_ids: pd.Series, values: np.ndarray) -> pd.Series:
    """Consecutive values of the same (sorted) item id gathered into lists."""
    ids = item_ids.to_numpy(dtype=object)
    if not len(ids):
        return pd.Series([], index=pd.Index([], dtype="str"), dtype=object)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    lists = [list(part) for part in np.split(values, starts[1:])]
    out = np.empty(len(lists), dtype=object)
    out[:] = lists
    return pd.Series(out, index=pd.Index(ids[starts], dtype="str"))


class TableView:
    """The cells of one table (a rater, a set of sources), kept up to date with its view."""

    def __init__(self):
        self.version = -1
        self.view: CurrentView | None = None  # the view the cells follow (a new one: rebuild)
        self.items_key = None
        self.kinds: dict[str, str] | None = None
        self.items: pd.DataFrame | None = None
        self.cells: dict[str, np.ndarray] = {}
        self.task_kinds: dict[str, str] = {}
        self.columns: dict[str, pd.Series] = {}

    def frame(self, view: CurrentView, codes, items: pd.DataFrame, items_key, kinds: dict[str, str]):
        changed = view.changed_since(self.version) if view is self.view else None
        rebuild = (
            self.items_key != items_key or self.kinds != kinds or changed is None
            or set(self.task_kinds) - set(kinds)  # a task without a definition: its kind may change
        )  # fmt: skip
        if rebuild:
            self._build(view.rows.frame, items, kinds)
        elif len(changed):
            self._update(view, codes, codes.items(changed), kinds)
        self.version, self.items_key, self.kinds = view.version, items_key, dict(kinds)
        self.view = view
        return self._assemble()

    def _build(self, cur: pd.DataFrame, items: pd.DataFrame, kinds) -> None:
        self.items = items.reset_index(drop=True)
        self.cells, self.task_kinds, self.columns = {}, {}, {}
        index = pd.Index(self.items["item_id"])
        for task, (kind, col) in task_cells(cur, kinds).items():
            values = np.full(len(index), _MISSING, dtype=object)
            pos = index.get_indexer(col.index)
            ok = pos >= 0
            values[pos[ok]] = col.to_numpy(dtype=object)[ok]
            self.cells[task], self.task_kinds[task] = values, kind

    def _update(self, view: CurrentView, codes, item_ids: pd.Index, kinds) -> None:
        index = pd.Index(self.items["item_id"])
        pos = index.get_indexer(item_ids)
        pos = pos[pos >= 0]
        if not len(pos):
            return
        rows = view.rows
        mine = rows.select(rows.item_mask(codes.item_codes(item_ids)))
        cells = task_cells(mine, kinds)
        if set(cells) - set(self.cells) or any(kind != self.task_kinds[t] for t, (kind, _) in cells.items()):
            self._build(rows.frame, self.items, kinds)
            return
        for task, (_, col) in cells.items():
            values = self.cells[task]
            values[pos] = _MISSING
            where = index.get_indexer(col.index)
            ok = where >= 0
            values[where[ok]] = col.to_numpy(dtype=object)[ok]
            self.columns.pop(task, None)

    def _assemble(self) -> pd.DataFrame:
        out = self.items.copy(deep=False)
        for task in sorted(self.cells):
            if task not in self.columns:
                values = self.cells[task]
                present = ~pd.isna(values)
                if not present.any():
                    self.columns[task] = pd.Series([None] * len(values), dtype=object)
                elif self.task_kinds[task] == "single":
                    self.columns[task] = pd.Series(values, dtype="str")
                else:
                    self.columns[task] = pd.Series(values.copy(), dtype=object)
            col = self.columns[task]
            if col.dtype == object and self.task_kinds[task] != "single":
                fresh = _fresh(col.to_numpy(), boxes=self.task_kinds[task] != "multi")
                col = pd.Series(fresh, dtype=object)  # the lists (and dicts) are the caller's too
            out[task] = col
        return out


def _fresh(values: np.ndarray, boxes: bool) -> np.ndarray:
    """New lists (and box dicts) for the cells, so that changing one never reaches the cache."""
    out = np.empty(len(values), dtype=object)
    if boxes:
        out[:] = [[b.copy() for b in v] if type(v) is list else v for v in values.tolist()]
    else:
        out[:] = [v.copy() if type(v) is list else v for v in values.tolist()]
    return out
