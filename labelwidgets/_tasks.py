"""Task definitions (core layer): the options of each task and the checks on one item's answers.

A task is a name and its predefined options; ``MultiLabel(options)`` marks a task whose answer is
any subset of its options. Widgets, the store and the demo data share these definitions; nothing
here imports a widget library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from ._validate import RESERVED_COLUMNS, InputError, check_name, check_names

__all__ = ["MultiLabel", "normalize_tasks", "normalize_answers", "normalize_suggestions", "task_kind"]


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
