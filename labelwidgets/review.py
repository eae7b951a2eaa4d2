"""The label review queue: the labels a model finds most likely wrong, for a reviewer to check.

:func:`labelwidgets.voting.label_issues` ranks labelled items by how likely their label is
wrong and gives the model's suggested label. :class:`ReviewQueue` opens them in the tagger,
most likely wrong first: the label under review is selected, the suggestion is starred (★) and
both are named under the header. ``Enter`` keeps the selection (confirm); typing the number of
another option and ``Enter`` corrects it. Either way the answer is a new submission of the
reviewer whose ``attributes`` record the review, per task::

    {"review": {"was": "square", "suggested": "triangle", "probability": 0.62,
                "score": 0.05, "decision": "corrected"}}

(``probability``: the model's probability of its suggestion; ``score``: the label quality of
the label under review; ``decision``: ``"confirmed"`` when the answer is the label under
review, else ``"corrected"``). Nothing is overwritten: the log keeps the first label. The
review is the reviewer's answer, so it replaces the reviewer's own earlier answer on the item
(a rater reviewing their own labels) and is one more answer otherwise: ``store.table()`` (the
newest answer wins) shows the corrected label, ``resolve()`` counts it as another vote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._tasks import MultiLabel, OptionCounts
from ._validate import InputError, check_columns, check_name, check_positive_int
from .store import LabelStore, default_rater
from .tagging import MultiTaskTagger

__all__ = ["ReviewQueue", "ReviewPlan", "review_plan", "review_record", "reviewed_items"]


class ReviewPlan(NamedTuple):
    """What a review queue shows: :func:`review_plan`'s result."""

    item_ids: list[str]
    """The items to review, most likely wrong first."""
    tasks: list[str]
    """The tasks under review, in order of first appearance."""
    suggestions: pd.DataFrame
    """``item_id, task, label, confidence, model``: the model's suggestion per (item, task)."""
    current: dict[str, dict[str, str]]
    """``{item_id: {task: label under review}}``."""
    details: dict[str, dict[str, dict]]
    """``{item_id: {task: {"was", "suggested", "probability", "score"}}}``."""


def _attributes(value):
    """A row's attributes as a dict (the store keeps them as JSON text), or None."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def review_plan(
    issues: pd.DataFrame, *, only_issues: bool = True, limit: int | None = None
) -> ReviewPlan:
    """The review queue's items and suggestions from a :func:`label_issues` frame.

    Parameters
    ----------
    issues : pandas.DataFrame
        ``item_id, task, label, suggested_label`` and, when present, ``suggested_probability``,
        ``label_quality`` and ``is_issue``: the output of ``label_issues`` (several tasks'
        outputs may be concatenated). Its row order is the review order.
    only_issues : bool, default=True
        Review only the rows flagged ``is_issue`` (all rows when the column is absent).
    limit : int or None, default=None
        Review at most this many items (the first ones).

    Returns
    -------
    ReviewPlan
        Items in order of first appearance in ``issues``.

    Raises
    ------
    InputError
        A missing column, an (item, task) given twice, a missing label or suggestion.

    Examples
    --------
    >>> issues = pd.DataFrame({"item_id": ["b", "c", "a"], "task": "shape",
    ...     "label": ["o", "x", "o"], "suggested_label": ["x", "x", "o"],
    ...     "suggested_probability": [0.9, 0.8, 0.7], "label_quality": [0.1, 0.8, 0.7],
    ...     "is_issue": [True, False, False]})
    >>> plan = review_plan(issues)
    >>> plan.item_ids, plan.current, plan.details["b"]["shape"]["suggested"]
    (['b'], {'b': {'shape': 'o'}}, 'x')
    >>> review_plan(issues, only_issues=False, limit=2).item_ids
    ['b', 'c']
    """
    check_columns(issues, ["item_id", "task", "label", "suggested_label"], "issues")
    if not isinstance(only_issues, bool):
        raise InputError(f"`only_issues` must be True or False. Got {only_issues!r} instead.")
    rows = issues
    if only_issues and "is_issue" in rows.columns:
        rows = rows[rows["is_issue"].fillna(False).astype(bool).to_numpy()]
    twice = rows[rows.duplicated(["item_id", "task"])]
    if len(twice):
        raise InputError(
            "`issues` must hold one row per (item_id, task). Got "
            f"{twice[['item_id', 'task']].head(3).to_records(index=False).tolist()} more than "
            "once instead."
        )
    blank = rows[rows["label"].isna().to_numpy() | rows["suggested_label"].isna().to_numpy()]
    if len(blank):
        raise InputError(
            "`issues` must give every row a label and a suggested_label. Got none for "
            f"{blank['item_id'].head(3).tolist()} instead."
        )
    item_ids = list(dict.fromkeys(rows["item_id"]))
    if limit is not None:
        item_ids = item_ids[: check_positive_int(limit, "limit")]
        rows = rows[rows["item_id"].isin(item_ids).to_numpy()]
    probability = rows["suggested_probability"] if "suggested_probability" in rows else None
    score = rows["label_quality"] if "label_quality" in rows else None
    current: dict[str, dict] = {}
    details: dict[str, dict] = {}
    for k, (item, task, was, suggested) in enumerate(
        zip(rows["item_id"], rows["task"], rows["label"], rows["suggested_label"], strict=True)
    ):
        current.setdefault(item, {})[task] = str(was)
        details.setdefault(item, {})[task] = {
            "was": str(was), "suggested": str(suggested),
            "probability": None if probability is None else _number(probability.iloc[k]),
            "score": None if score is None else _number(score.iloc[k]),
        }  # fmt: skip
    suggestions = pd.DataFrame(
        {"item_id": rows["item_id"].to_numpy(), "task": rows["task"].to_numpy(),
         "label": rows["suggested_label"].astype(str).to_numpy(),
         "confidence": None if probability is None else probability.to_numpy(dtype=float),
         "model": "label_issues"}  # fmt: skip
    )
    tasks = list(dict.fromkeys(rows["task"]))
    return ReviewPlan(item_ids, tasks, suggestions, current, details)


def review_record(details: Mapping[str, Mapping], answers: Mapping) -> dict:
    """The ``attributes`` of a review submission: ``{task: {"review": {...}}}``.

    ``details`` is one item of :attr:`ReviewPlan.details`; ``decision`` is ``"confirmed"`` when
    the answer is the label under review, else ``"corrected"``.

    Examples
    --------
    >>> d = {"shape": {"was": "o", "suggested": "x", "probability": 0.9, "score": 0.1}}
    >>> review_record(d, {"shape": "x"})["shape"]["review"]["decision"]
    'corrected'
    >>> review_record(d, {"shape": "o"})["shape"]["review"]["decision"]
    'confirmed'
    """
    return {
        task: {"review": {**d, "decision": "confirmed" if answers.get(task) == d["was"] else "corrected"}}
        for task, d in details.items()
    }


def reviewed_items(rows: pd.DataFrame, tasks: Sequence[str]) -> set[str]:
    """Items whose current rows (one rater's) answer every task of ``tasks`` with a review
    recorded in ``attributes`` (a review queue's done items).

    Examples
    --------
    >>> rows = pd.DataFrame({"item_id": ["a", "b"], "task": "shape", "kind": "label",
    ...     "attributes": ['{"review": {"decision": "confirmed"}}', None]})
    >>> reviewed_items(rows, ["shape"])
    {'a'}
    """
    check_columns(rows, ["item_id", "task", "kind", "attributes"], "rows")
    rows = rows[(rows["kind"] == "label").to_numpy() & rows["task"].isin(list(tasks)).to_numpy()]
    marked = [isinstance(a, dict) and "review" in a for a in map(_attributes, rows["attributes"])]
    per_item = rows[np.array(marked, dtype=bool)].groupby("item_id")["task"].nunique()
    return set(per_item[per_item >= len(set(tasks))].index)


class ReviewQueue(MultiTaskTagger):
    """The labels most likely wrong, for a reviewer to confirm or correct: a tagger over them.

    The queue holds the items of ``issues`` (:func:`labelwidgets.voting.label_issues`) in its
    order, most likely wrong first, the flagged ones only by default. Each item shows the label
    under review selected and the model's suggestion starred (★); the line under the header
    names both. Enter confirms what is selected; type another option's number, then Enter, to
    correct. The answer is the reviewer's new submission with the review recorded in
    ``attributes["review"]`` (see :mod:`labelwidgets.review`); nothing is overwritten. Skip
    (``S``) leaves an item for later: nothing is stored and it comes round again. An item is
    done once the reviewer's current answer records a review, so a reopened queue resumes at the
    first item not yet reviewed, also when reviewers check their own labels.

    When the store holds assignments (a team plan), the queue's items are assigned to ``rater``
    with role ``"review"`` (once each).

    Parameters
    ----------
    images : ImageSet
        The items.
    tasks : dict
        Task name -> options; the tasks of ``issues`` are reviewed (single-label tasks).
    issues : pandas.DataFrame
        ``label_issues(...)`` output (see :func:`review_plan`).
    rater : str or None, default=None
        The reviewer (default: the OS user).
    store : LabelStore
        Where the reviews are committed (the store that holds the labels).
    only_issues : bool, default=True
        Review only the items flagged ``is_issue``.
    limit : int or None, default=None
        Review at most the first ``limit`` items.
    max_size : int, default=768
        Longest side of the displayed image in pixels.
    min_size : int, default=384
        Smaller images are enlarged by a whole factor.

    Attributes
    ----------
    plan : ReviewPlan
        The items, the labels under review and the suggestions.

    Examples
    --------
    >>> issues = lw.label_issues(store.labels(task="shape"), probabilities)  # doctest: +SKIP
    >>> ReviewQueue(images, tasks, issues, rater="ann", store=store)  # doctest: +SKIP
    """

    def __init__(self, images, tasks: Mapping[str, Sequence[str]], issues: pd.DataFrame, *,
                 rater: str | None = None, store: LabelStore, only_issues: bool = True,
                 limit: int | None = None, max_size: int = 768, min_size: int = 384):  # fmt: skip
        plan = review_plan(issues, only_issues=only_issues, limit=limit)
        if not isinstance(tasks, Mapping) or any(t not in tasks for t in plan.tasks):
            raise InputError(
                f"`tasks` must define every task of `issues` {plan.tasks}. Got "
                f"{list(tasks) if isinstance(tasks, Mapping) else tasks!r} instead."
            )
        known = set(getattr(images, "item_ids", []))
        unknown = [i for i in plan.item_ids if i not in known]
        if unknown:
            raise InputError(
                f"`issues` must name items of the image set. Got {len(unknown)} unknown items, "
                f"e.g. {unknown[:3]}, instead; pass the images the labels belong to."
            )
        multi = [t for t in plan.tasks if isinstance(tasks[t], MultiLabel)]
        if multi:
            raise InputError(f"`issues` tasks must be single-label tasks. Got multi-label {multi} "
                             "instead; label_issues checks one class per item.")  # fmt: skip
        for item, labels in plan.current.items():
            for task, label in labels.items():
                if label not in tasks[task]:
                    raise InputError(
                        f"`issues` label for task {task!r} must be one of {list(tasks[task])}. "
                        f"Got {label!r} for {item!r} instead."
                    )
        self.plan = plan
        self._review_store = store
        rater = check_name(rater if rater is not None else default_rater(), "rater")
        if isinstance(store, LabelStore) and len(store.assignments()):
            have = store.assignments(rater=rater)
            have = set(have.loc[have["role"] == "review", "item_id"])
            new = [i for i in plan.item_ids if i not in have]
            if new:
                store.assign(pd.DataFrame({"item_id": new, "rater": rater, "role": "review"}))
        super().__init__(images, {t: tasks[t] for t in plan.tasks}, rater=rater, store=store,
                         suggestions=plan.suggestions, item_ids=plan.item_ids,
                         max_size=max_size, min_size=min_size)  # fmt: skip

    def _progress(self, rater: str, tasks: Sequence[str]) -> set[str]:
        return reviewed_items(self._review_store.current(rater=rater), tasks)

    def _load_answers(self) -> None:
        """Only reviewed answers count (not the reviewer's own first labels)."""
        super()._load_answers()
        self.answers = {i: a for i, a in self.answers.items() if i in self.session.done}
        self._counts = OptionCounts(self.tasks, self.answers.values())

    def _preset(self, item_id: str) -> dict:
        return dict(self.plan.current.get(item_id, {}))

    def _record(self, item_id: str, answers: dict) -> dict:
        return review_record(self.plan.details[item_id], answers)

    def _on_skip(self, msg: dict) -> None:
        s = self.session
        item = s.require_item("skip", msg.get("item_id"))
        s.go_to(s.first_open(s.position(item) + 1))
        s.say(f"Left {item} for later: nothing stored; it comes round again.", "info")

    def note(self, item_id: str) -> str:
        """"Review <task>: labelled <label> · the model suggests <label> (p = ...)"."""
        parts = []
        for task, d in self.plan.details.get(item_id, {}).items():
            p = "" if d["probability"] is None else f" (p = {d['probability']:.2f})"
            said = "agrees" if d["suggested"] == d["was"] else f"suggests {d['suggested']}"
            parts.append(f"Review {task}: labelled {d['was']} · the model {said}{p}")
        return " · ".join(parts)
