"""Task definitions (core layer): the options of each task and the checks on one item's answers.

A task is a name and its predefined options; ``MultiLabel(options)`` marks a task whose answer is
any subset of its options. Widgets, the store and the demo data share these definitions; nothing
here imports a widget library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from ._validate import RESERVED_COLUMNS, InputError, check_name, check_names

__all__ = ["MultiLabel", "normalize_tasks", "normalize_answers", "normalize_suggestions", "task_kind",
           "toggle", "suggestion_record", "answers_from_rows", "OptionCounts"]


class MultiLabel(tuple):
    """Options of a multi-label task: any subset may be chosen (``MultiLabel(["red", "white"])``)."""

    def __new__(cls, options: Iterable[str]):
        return super().__new__(cls, options)

    def __repr__(self) -> str:
        return f"MultiLabel({list(self)!r})"


def normalize_tasks(
    tasks: Mapping[str, Sequence[str]], reserved: Iterable[str] = ()
) -> dict[str, tuple[str, ...]]:
    """Check a task spec; return ``{task: options}`` with multi-label tasks as :class:`MultiLabel`.

    Parameters
    ----------
    tasks : mapping
        Task name -> list of options, or ``MultiLabel(options)``.
    reserved : iterable of str, default=()
        Further names a task may not take, e.g. the metadata columns of the images, since
        ``LabelStore.table()`` puts tasks and metadata side by side. ``item_id``, ``path``,
        ``width`` and ``height`` are always reserved.

    Raises
    ------
    InputError
        For a spec that is not a mapping, a task without options, a reserved or clashing task
        name, an option that is not a non-empty string, or options that differ only by case,
        surrounding spaces or Unicode normalisation.

    Examples
    --------
    >>> normalize_tasks({"shape": ["circle", "square"], "color": MultiLabel(["red", "blue"])})
    {'shape': ('circle', 'square'), 'color': MultiLabel(['red', 'blue'])}
    >>> normalize_tasks({"path": ["a", "b"]})
    Traceback (most recent call last):
    ...
    labelwidgets._validate.InputError: Task names must not be a column of the table ['height', 'item_id', 'path', 'width']. Got 'path' instead; rename the task.
    """
    if not isinstance(tasks, Mapping) or not tasks:
        raise InputError(
            "`tasks` must be a non-empty dict of task name -> list of options or MultiLabel(options). "
            f"Got {tasks!r} instead."
        )
    taken = sorted(set(RESERVED_COLUMNS) | set(reserved))
    check_names(list(tasks), "task names")
    out = {}
    for name, options in tasks.items():
        check_name(name, "task name")
        if name in taken:
            raise InputError(
                f"Task names must not be a column of the table {taken}. Got {name!r} instead; "
                "rename the task."
            )
        if isinstance(options, str) or not isinstance(options, list | tuple):
            raise InputError(
                f"`tasks[{name!r}]` must be a list of options or MultiLabel(options). "
                f"Got {options!r} ({type(options).__name__}) instead."
            )
        check_names(options, f"tasks[{name!r}]")
        out[name] = MultiLabel(options) if isinstance(options, MultiLabel) else tuple(options)
    return out


def task_kind(options: Sequence[str]) -> str:
    """``"multi"`` for a :class:`MultiLabel` task, else ``"single"`` (the store's task kinds)."""
    return "multi" if isinstance(options, MultiLabel) else "single"


def normalize_answers(tasks: Mapping[str, Sequence[str]], answers: Mapping) -> dict:
    """Check one item's answers against the tasks; multi-label answers become sorted-by-option lists.

    Every single-label task needs an answer; a multi-label task may be answered with ``[]``.
    """
    if not isinstance(answers, Mapping):
        raise InputError(f"`answers` must be a dict of task -> option(s). Got {answers!r} instead.")
    unknown = [t for t in answers if t not in tasks]
    if unknown:
        raise InputError(f"`answers` names unknown tasks {unknown!r}; the tasks are {list(tasks)}.")
    out = {}
    for task, options in tasks.items():
        value = answers.get(task)
        if isinstance(options, MultiLabel):
            chosen = [] if value is None else ([value] if isinstance(value, str) else list(value))
            bad = [v for v in chosen if v not in options]
            if bad:
                raise InputError(f"`{task}` must be a subset of {list(options)}. Got {bad!r} instead.")
            out[task] = [o for o in options if o in chosen]
        else:
            if value is None:
                raise InputError(f"`{task}` must be answered: one of {list(options)}. Got no answer.")
            if value not in options:
                raise InputError(f"`{task}` must be one of {list(options)}. Got {value!r} instead.")
            out[task] = value
    return out


def normalize_suggestions(tasks: Mapping[str, Sequence[str]], suggestions: pd.DataFrame | None) -> dict:
    """``{item_id: {task: label or [labels]}}`` from a DataFrame ``item_id, task, label``.

    Optional columns ``confidence`` and ``model`` are kept for the record (``{item: {task:
    {"confidence", "model"}}}`` under the ``"_meta"`` key of each item).
    """
    if suggestions is None or len(suggestions) == 0:
        return {}
    missing = {"item_id", "task", "label"} - set(suggestions.columns)
    if missing:
        raise InputError(
            f"`suggestions` must have columns ['item_id', 'task', 'label']. Missing {sorted(missing)}; "
            f"got {list(suggestions.columns)}."
        )
    out: dict[str, dict] = {}
    for row in suggestions.itertuples(index=False):
        if row.task not in tasks:
            raise InputError(
                f"`suggestions` task must be one of {list(tasks)}. Got {row.task!r} instead."
            )
        options = tasks[row.task]
        if row.label not in options:
            raise InputError(
                f"`suggestions` label for task {row.task!r} must be one of {list(options)}. "
                f"Got {row.label!r} instead."
            )
        item = out.setdefault(row.item_id, {"_meta": {}})
        if isinstance(options, MultiLabel):
            item.setdefault(row.task, []).append(row.label)
        else:
            item[row.task] = row.label
        item["_meta"][row.task] = {
            "confidence": None if pd.isna(getattr(row, "confidence", None)) else float(row.confidence),
            "model": getattr(row, "model", None),
        }
    return out


def toggle(options: Sequence[str], chosen, option: str):
    """The answer after clicking ``option``: a multi-label task toggles it in the sorted list
    ``chosen``; a single-label task takes it.

    Examples
    --------
    >>> toggle(MultiLabel(["red", "green"]), ["green"], "red")
    ['red', 'green']
    >>> toggle(("in", "out"), "in", "out")
    'out'
    """
    if option not in options:
        raise InputError(f"`option` must be one of {list(options)}. Got {option!r} instead.")
    if isinstance(options, MultiLabel):
        now = set(chosen or []) ^ {option}
        return [o for o in options if o in now]
    return option


def suggestion_record(suggested: Mapping | None, answers: Mapping) -> dict | None:
    """Per task, whether the rater accepted a model's suggestion (stored in ``attributes``).

    ``suggested`` is one item of :func:`~labelwidgets._tasks.normalize_suggestions`.
    """
    if not suggested:
        return None
    record = {}
    for task, meta in suggested["_meta"].items():
        value = suggested[task]
        same = sorted(value) == sorted(answers[task]) if isinstance(value, list) else value == answers[task]
        record[task] = {"suggested": value, "accepted": bool(same),
                        "suggestion_model": meta["model"], "suggestion_confidence": meta["confidence"]}  # fmt: skip
    return record


def answers_from_rows(rows: pd.DataFrame, tasks: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """One rater's answers per item from their current rows (``store.current(rater=...)``):
    ``{item_id: {task: label or [labels]}}``; a skipped task is left out (a skipped item maps
    to ``{}``), a multi-label task answered "none of these" is ``[]``.

    Examples
    --------
    >>> rows = pd.DataFrame({"item_id": ["a", "a", "a", "b"], "task": ["shape", "colors", "colors", "shape"],
    ...                      "kind": ["label", "label", "label", "skip"], "label": ["o", "red", "blue", None]})
    >>> answers_from_rows(rows, {"shape": ["o", "x"], "colors": MultiLabel(["red", "blue"])})
    {'a': {'shape': 'o', 'colors': ['red', 'blue']}, 'b': {}}
    """
    rows = rows[rows["task"].isin(list(tasks)).to_numpy()]
    answers: dict[str, dict] = {}
    for (item, task), group in rows.groupby(["item_id", "task"], sort=False):
        entry = answers.setdefault(item, {})
        if (group["kind"] == "skip").any():
            continue
        labels = group["label"].dropna().tolist()
        multi = isinstance(tasks[task], MultiLabel)
        entry[task] = labels if multi else (labels[0] if labels else None)
    return answers


class OptionCounts:
    """How often each option of each task was chosen, kept up to date answer by answer.

    Examples
    --------
    >>> counts = OptionCounts({"shape": ["o", "x"]}, [{"shape": "o"}])
    >>> counts.replace({"shape": "o"}, {"shape": "x"})
    >>> counts.lists()
    {'shape': [0, 1]}
    """

    def __init__(self, tasks: Mapping[str, Sequence[str]], answers: Iterable[Mapping] = ()):
        self.tasks = tasks
        self.n = {(t, o): 0 for t, opts in tasks.items() for o in opts}
        for answer in answers:
            self._add(answer, 1)

    def _add(self, answer: Mapping, sign: int) -> None:
        for task, value in answer.items():
            for option in value if isinstance(value, list) else [value]:
                if (task, option) in self.n:
                    self.n[(task, option)] += sign

    def replace(self, old: Mapping, new: Mapping) -> None:
        """Count ``new`` instead of ``old`` (one item's answers before and after)."""
        self._add(old, -1)
        self._add(new, 1)

    def lists(self) -> dict[str, list[int]]:
        """``{task: [count per option]}`` in option order."""
        return {t: [self.n[(t, o)] for o in opts] for t, opts in self.tasks.items()}

    def frame(self) -> pd.DataFrame:
        """``task, option, n``."""
        return pd.DataFrame([{"task": t, "option": o, "n": self.n[(t, o)]}
                             for t, opts in self.tasks.items() for o in opts])  # fmt: skip
