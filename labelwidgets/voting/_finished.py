"""The finished dataset: the items whose every task has a decided label, and what the rest need."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validate import InputError, check_choice, check_columns
from ._common import METHODS, _validate_labels
from ._resolve import resolve

#: What an open (item, task) still needs, in the order of the ``needs`` categories.
NEEDS = ("first vote", "second vote", "tiebreak", "discarded")
FINISHED_COLUMNS = ["item_id", "task", "label", "status", "method", "n_votes", "votes",
                    "confidence"]  # fmt: skip
OPEN_COLUMNS = ["item_id", "task", "needs", "status", "n_votes", "votes"]
_KINDS = ("single", "multi", "box")


@dataclass(frozen=True)
class Finished:
    """The output of :func:`finished`.

    Attributes
    ----------
    labels : pandas.DataFrame
        One row per (finished item, task): ``item_id, task, label, status, method, n_votes,
        votes, confidence`` (``method``: the rule that decided; ``confidence``: the
        Dawid-Skene posterior, NaN under the majority rule). Items in ``items`` order (else
        order of first appearance), tasks in ``tasks`` order.
    open : pandas.DataFrame
        One row per undecided (item, task) of the other items: ``item_id, task, needs,
        status, n_votes, votes``; ``needs`` is categorical over :data:`NEEDS`.
    items : pandas.DataFrame or None
        The items table (``store.items()`` or the ``items`` passed), None when not known.
    tasks : dict
        Task -> kind (``"single"``, ``"multi"``, ``"box"``) of the tasks required.
    """

    labels: pd.DataFrame
    open: pd.DataFrame
    items: pd.DataFrame | None
    tasks: dict

    @property
    def item_ids(self) -> list:
        """The finished items, in order."""
        return list(pd.unique(self.labels["item_id"]))

    def only(self, df: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``df`` (any frame with ``item_id``) that belong to finished items.

        The hook for exporters and training: ``to_coco(done.only(frame), ...)``.
        """
        check_columns(df, ["item_id"], "df")
        return df[df["item_id"].isin(self.item_ids).to_numpy()].reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """Wide: one row per finished item, ``item_id`` (``path, width, height`` and metadata
        when the items are known) and one column per task holding its decided label."""
        wide = self.labels.pivot(index="item_id", columns="task", values="label")
        wide = wide.reindex(index=pd.Index(self.item_ids, name="item_id"),
                            columns=[t for t in self.tasks if t in set(self.labels["task"])])  # fmt: skip
        wide.columns.name = None
        out = wide.reset_index()
        if self.items is not None:
            meta = self.items.drop(columns=["added_at"], errors="ignore")
            out = meta.merge(out, on="item_id", how="inner")
        return out

    def annotations(self, task: str) -> pd.DataFrame:
        """The finished labels of one task as the exporters (``to_voc``, ``to_yolo``,
        ``to_coco``) and ``export_crops`` take them.

        A box task gives one row per decided box, ``item_id, path, width, height, task, kind,
        label, x, y, w, h`` (``kind`` is ``"box"``), and one row with ``label`` None for a
        finished item without objects. A single-label task gives ``item_id, path, width,
        height, task, label``. Needs the items (a store, or ``items=``) for the paths.
        """
        check_choice(task, list(self.tasks), "task")
        if self.items is None:
            raise InputError(
                "`items` must be known to export files. Got None instead; call "
                "finished(store, ...) or finished(labels, items=store.items())."
            )
        rows = self.labels[(self.labels["task"] == task).to_numpy()]
        meta = self.items[["item_id", "path", "width", "height"]]
        kind = self.tasks[task]
        if kind == "multi":
            raise InputError(
                f"`task` must be a box or single-label task to export. Got {task!r}, a "
                "multi-label task, instead; use table() for its label lists."
            )
        if kind == "single":
            out = rows[["item_id", "task", "label"]]
            return meta.merge(out, on="item_id", how="inner")[
                ["item_id", "path", "width", "height", "task", "label"]
            ]
        records = []
        for item, boxes in zip(rows["item_id"], rows["label"], strict=True):
            if not boxes:
                records.append({"item_id": item, "label": None})
            for box in boxes or []:
                records.append({"item_id": item, **box})
        boxes = pd.DataFrame.from_records(
            records, columns=["item_id", "label", "x", "y", "w", "h"]
        ).astype({"x": float, "y": float, "w": float, "h": float})
        boxes["label"] = boxes["label"].astype(object)
        boxes.insert(1, "task", task)
        boxes.insert(2, "kind", "box")
        out = meta.merge(boxes, on="item_id", how="inner")
        order = {item: i for i, item in enumerate(self.item_ids)}
        out = out.iloc[np.argsort(out["item_id"].map(order).to_numpy(), kind="stable")]
        return out[["item_id", "path", "width", "height", "task", "kind", "label",
                    "x", "y", "w", "h"]].reset_index(drop=True)  # fmt: skip


def _source(source, items):
    """Votes, task kinds (None when unknown) and items of a store or a labels frame."""
    if hasattr(source, "current") and hasattr(source, "tasks"):  # a LabelStore
        labels = source.current(source="human")
        defined = source.tasks()
        store_items = source.items() if items is None else items
        return labels, defined, store_items
    if isinstance(source, pd.DataFrame):
        return _validate_labels(source), None, items
    raise InputError(
        "`source` must be a LabelStore or a labels DataFrame (store.current()). Got "
        f"{type(source).__name__!r} instead."
    )


def finished(
    source,
    tasks: Iterable[str] | None = None,
    method: str = "majority",
    threshold: float = 0.9,
    policy: str = "tiebreak",
    neutral_label: str = "neutral",
    fallback: str = "discard",
    iou: float = 0.5,
    items: pd.DataFrame | None = None,
) -> Finished:
    """The finished dataset in one call: items whose every task has a decided label.

    A label is *decided* when :func:`resolve` gives it status ``agreed``, ``tiebroken``,
    ``neutral`` (the policy's class) or, under Dawid-Skene, ``estimated`` or ``single`` (a
    posterior at or above ``threshold``). Under the majority rule a single vote is not
    decided: the item needs a second vote.

    Parameters
    ----------
    source : LabelStore or pandas.DataFrame
        A store (its current human votes, task definitions and items are read), or votes
        (``store.current(source="human")`` keeps "none of these" answers).
    tasks : iterable of str or None, default=None
        The tasks every finished item must have decided. None: every task of the store
        (``store.tasks()``; polygon and point tasks, which are not voted on, are left out), or
        every task of the votes.
    method : {"majority", "dawid_skene"}, default="majority"
        How single-label tasks are resolved; multi-label and box tasks always use the majority
        rule (the ``method`` column says which decided).
    threshold : float, default=0.9
        Dawid-Skene: the least posterior of a decided label.
    policy : {"discard", "neutral", "tiebreak"}, default="tiebreak"
        Passed to :func:`resolve`.
    neutral_label : str, default="neutral"
        Passed to :func:`resolve`.
    fallback : {"discard", "neutral"}, default="discard"
        Passed to :func:`resolve`.
    iou : float, default=0.5
        Passed to :func:`resolve` (box tasks).
    items : pandas.DataFrame or None, default=None
        ``item_id, path, width, height`` (``store.items()``): every item, so items without
        votes are listed as open, and the paths :meth:`Finished.annotations` needs. Default:
        the store's items, or (votes given) only the items with votes.

    Returns
    -------
    Finished
        ``labels`` (the finished items' decided labels with provenance), ``open`` (what each
        other item still needs per task: a ``first vote``, a ``second vote``, a ``tiebreak``,
        or nothing more as it was ``discarded``), and helpers for exporters: ``only(df)``,
        ``annotations(task)``, ``table()``.

    Examples
    --------
    >>> votes = pd.DataFrame({"item_id": ["a", "a", "b", "b", "c"], "task": "shape",
    ...                       "rater": ["ann", "bob"] * 2 + ["ann"],
    ...                       "label": ["circle", "circle", "circle", "square", "square"]})
    >>> done = finished(votes)
    >>> done.item_ids
    ['a']
    >>> done.open[["item_id", "needs"]]
      item_id        needs
    0       b     tiebreak
    1       c  second vote
    """
    check_choice(method, METHODS, "method")
    labels, defined, items = _source(source, items)
    if items is not None:
        check_columns(items, ["item_id"], "items")
    if defined is not None:
        kinds = {t: k for t, k in zip(defined["task"], defined["kind"], strict=True) if k in _KINDS}
    else:
        kinds = {}
    voted = [t for t in pd.unique(labels["task"])] if len(labels) else []
    known = list(dict.fromkeys([*kinds, *voted]))
    if tasks is None:
        wanted = list(kinds) if defined is not None else voted
    else:
        wanted = [tasks] if isinstance(tasks, str) else list(tasks)
        for task in wanted:
            check_choice(task, known, "tasks")
    if not wanted:
        raise InputError("`tasks` must name at least one task. Got none (no task has votes).")
    bad = [t for t in wanted if defined is not None and t in set(defined["task"]) and t not in kinds]
    if bad:
        raise InputError(
            f"`tasks` must be single-label, multi-label or box tasks. Got {bad!r} (polygon or "
            "point tasks) instead."
        )
    labels = labels[labels["task"].isin(wanted).to_numpy()]
    task_arg = defined[defined["task"].isin(wanted).to_numpy()] if defined is not None else None
    common = {"policy": policy, "neutral_label": neutral_label, "fallback": fallback, "iou": iou,
              "tasks": task_arg}  # fmt: skip
    resolved = resolve(labels, **common)
    resolved["method"] = "majority"
    resolved["confidence"] = np.nan
    if method == "dawid_skene" and len(resolved):
        resolved_kind = _kinds_of(resolved)
        single = [t for t in wanted if resolved_kind.get(t) == "single"]
        if single:
            ds = resolve(labels[labels["task"].isin(single).to_numpy()], method="dawid_skene",
                         threshold=threshold, **common)  # fmt: skip
            ds["method"] = "dawid_skene"
            resolved = pd.concat(
                [resolved[~resolved["task"].isin(single).to_numpy()], ds], ignore_index=True
            )
    for task, kind in _kinds_of(resolved).items():
        kinds.setdefault(task, kind)
    return _split(resolved, wanted, kinds, items)


def _kinds_of(resolved: pd.DataFrame) -> dict:
    """Each task's kind from its resolved labels (lists of dicts: box; lists: multi)."""
    out = {}
    for task, label in zip(resolved["task"], resolved["label"], strict=True):
        if task in out and label is not None:
            continue
        if isinstance(label, list):
            out[task] = "box" if label and isinstance(label[0], dict) else out.get(task, "multi")
        elif label is not None:
            out[task] = "single"
    return out


def _split(resolved: pd.DataFrame, wanted: list, kinds: dict, items) -> Finished:
    """Finished and open rows from the resolved labels of the wanted tasks."""
    status = resolved["status"].astype(str).to_numpy()
    by_ds = resolved["method"].to_numpy() == "dawid_skene"
    decided = np.isin(status, ["agreed", "tiebroken", "neutral", "estimated"]) | (
        by_ds & (status == "single")
    )
    all_items = (
        list(items["item_id"]) if items is not None else list(pd.unique(resolved["item_id"]))
    )
    grid = pd.MultiIndex.from_product([all_items, wanted], names=["item_id", "task"])
    res = resolved.set_index(["item_id", "task"])
    res["decided"] = decided
    res = res[res.index.isin(grid)]
    full = res.reindex(grid)
    done = full["decided"].fillna(False).astype(bool).groupby(level="item_id", sort=False).all()
    finished_ids = set(done[done].index)
    in_done = full.index.get_level_values("item_id").isin(finished_ids)
    lab = full[in_done].reset_index()
    lab["n_votes"] = lab["n_votes"].astype(np.int64)
    lab["status"] = pd.Categorical(lab["status"], categories=resolved["status"].cat.categories)
    labels_out = lab.reindex(columns=FINISHED_COLUMNS)
    rest = full[~in_done & ~full["decided"].fillna(False).astype(bool).to_numpy()].reset_index()
    needs = np.full(len(rest), NEEDS[0], dtype=object)  # no vote at all
    st = rest["status"].astype(object).to_numpy()
    needs[st == "single"] = NEEDS[1]
    needs[st == "needs_tiebreak"] = NEEDS[2]
    needs[st == "discarded"] = NEEDS[3]
    rest["needs"] = pd.Categorical(needs, categories=list(NEEDS))
    rest["n_votes"] = rest["n_votes"].fillna(0).astype(np.int64)
    rest["status"] = pd.Categorical(rest["status"], categories=resolved["status"].cat.categories)
    open_out = rest.reindex(columns=OPEN_COLUMNS)
    return Finished(
        labels=labels_out.reset_index(drop=True),
        open=open_out.reset_index(drop=True),
        items=items,
        tasks={t: kinds.get(t, "single") for t in wanted},
    )
