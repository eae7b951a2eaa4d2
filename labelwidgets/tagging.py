"""Multi-task tagging: several label tasks per image, answered from predefined options by keyboard.

Keys (with the mouse over the widget): ``1``-``9`` pick an option of the active task (a
single-label pick then moves to the next task), ``Tab`` / arrows move between tasks, ``Enter``
submits and advances, ``Backspace`` goes back, ``S`` skips, ``Z`` undoes the last submit.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

import ipywidgets as widgets
import pandas as pd

from ._session import LabelingSession
from ._tasks import MultiLabel, normalize_answers, normalize_suggestions, normalize_tasks
from .images import ImageSet
from .store import LabelStore

__all__ = ["MultiTaskTagger"]


class MultiTaskTagger(LabelingSession):
    """Label several tasks per image from predefined options, by mouse or keyboard.

    Parameters
    ----------
    images : ImageSet
        The items to label.
    tasks : dict
        Task name -> list of options (one answer) or ``MultiLabel(options)`` (any subset).
    rater : str or None, default=None
        Who labels (default: the OS user).
    store : LabelStore or None, default=None
        Where answers are committed (default: ``LabelStore("labels.db")``).
    suggestions : pandas.DataFrame or None, default=None
        Model answers (``item_id, task, label``, optional ``confidence, model``) pre-selected
        for the rater to confirm or correct. Whether each was accepted is recorded in the
        submission's ``attributes`` (``suggested``, ``accepted``, ``suggestion_model``,
        ``suggestion_confidence``); the rows stay ``source="human"``.
    item_ids : iterable of str or None, default=None
        Restrict the queue (default: the rater's assignments if any, else every item).
    roles : sequence of str or None, default=None
        Assignment roles that feed the queue.
    max_size : int, default=640
        Longest side of the displayed image in pixels.

    Examples
    --------
    >>> tagger = MultiTaskTagger(images, {"variety": ["daisy", "rose"],
    ...                                   "color": MultiLabel(["red", "white"])},
    ...                          rater="alice", store=store)  # doctest: +SKIP
    >>> tagger.submit({"variety": "rose", "color": ["red"]})  # doctest: +SKIP
    """

    _keys_help = (
        "Keys (mouse over the widget): <b>1-9</b> pick · <b>Tab</b>/<b>↑↓</b> change task · "
        "<b>Enter</b> submit · <b>Backspace</b> back · <b>S</b> skip · <b>Z</b> undo"
    )

    def __init__(
        self,
        images: ImageSet,
        tasks: Mapping[str, Sequence[str]],
        rater: str | None = None,
        store: LabelStore | None = None,
        suggestions: pd.DataFrame | None = None,
        item_ids: Iterable[str] | None = None,
        roles: Sequence[str] | None = None,
        max_size: int = 640,
    ):
        self.tasks = normalize_tasks(tasks)
        self.suggestions = normalize_suggestions(self.tasks, suggestions)
        store = store if store is not None else LabelStore("labels.db")
        for name, options in self.tasks.items():
            store.register_task(name, options, "multi" if isinstance(options, MultiLabel) else "single")
        self.max_size = max_size
        self.active = 0
        self.selection: dict = {}
        super().__init__(images, store, rater, list(self.tasks), item_ids=item_ids, roles=roles)
        self.answers = self._load_answers()
        self._recount()
        self.image = widgets.Image(format="jpeg", layout=widgets.Layout(max_width=f"{max_size}px"))
        self._buttons: dict[str, list[widgets.Button]] = {}
        self._task_labels: dict[str, widgets.HTML] = {}
        rows = []
        for t, (name, options) in enumerate(self.tasks.items()):
            label = widgets.HTML(layout=widgets.Layout(width="130px", flex="0 0 130px"))
            buttons = []
            for i, option in enumerate(options):
                b = widgets.Button(layout=widgets.Layout(width="auto", flex="0 0 auto"), tooltip=f"key {i + 1}")
                b.add_class("lw-option")
                b.on_click(lambda _b, name=name, option=option, t=t: self.guard(self._click, t, name, option))
                buttons.append(b)
            self._buttons[name], self._task_labels[name] = buttons, label
            rows.append(widgets.HBox([label, *buttons], layout=widgets.Layout(flex_flow="row wrap", align_items="center")))
        self.tasks_box = widgets.VBox(rows, layout=widgets.Layout(flex="1 1 420px", min_width="420px"))
        self.children = [
            widgets.HBox([self.progress_bar, self.progress_text]),
            self.header,
            widgets.HBox(
                [self.image, self.tasks_box],
                layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap"),
            ),
            self._action_bar(),
            self.status,
            self.keys_help,
        ]
        self._refresh()

    def __repr__(self) -> str:
        return f"MultiTaskTagger({len(self.queue)} items, tasks={list(self.tasks)}, rater={self.rater!r})"

    # ---------------------------------------------------------------- state
    def _load_answers(self) -> dict[str, dict]:
        """This rater's current answers per item (skipped items map to ``{}``)."""
        cur = self.store.current(rater=self.rater)
        cur = cur[cur["task"].isin(list(self.tasks)) & cur["item_id"].isin(self.queue)]
        answers: dict[str, dict] = {}
        for (item, task), rows in cur.groupby(["item_id", "task"], sort=False):
            entry = answers.setdefault(item, {})
            if (rows["kind"] == "skip").any():
                continue
            labels = rows["label"].dropna().tolist()
            entry[task] = labels if isinstance(self.tasks[task], MultiLabel) else (labels[0] if labels else None)
        return answers

    def _after_undo(self, item_id: str) -> None:
        self.answers = self._load_answers()
        self._recount()

    def _initial_selection(self, item_id: str) -> dict:
        earlier = self.answers.get(item_id)
        if earlier:
            base = dict(earlier)
        else:
            base = {k: v for k, v in self.suggestions.get(item_id, {}).items() if k != "_meta"}
        return {
            name: set(base.get(name) or []) if isinstance(opts, MultiLabel) else base.get(name)
            for name, opts in self.tasks.items()
        }

    def counts(self) -> pd.DataFrame:
        """How often this rater chose each option so far: ``task, option, n``."""
        return pd.DataFrame(
            [{"task": t, "option": o, "n": self._counts[(t, o)]} for t, opts in self.tasks.items() for o in opts]
        )

    def _recount(self) -> None:
        self._counts = {(t, o): 0 for t, opts in self.tasks.items() for o in opts}
        for answer in self.answers.values():
            self._count(answer, 1)

    def _count(self, answer: dict, sign: int) -> None:
        for task, value in answer.items():
            for option in value if isinstance(value, list) else [value]:
                if (task, option) in self._counts:
                    self._counts[(task, option)] += sign

    def _set_answer(self, item: str, answer: dict) -> None:
        self._count(self.answers.get(item, {}), -1)
        self.answers[item] = answer
        self._count(answer, 1)

    # -------------------------------------------------------------- actions
    def select(self, task: str, option: str) -> None:
        """Pick ``option`` for ``task`` (toggles it in a multi-label task), like its button."""
        if task not in self.tasks:
            raise ValueError(f"`task` must be one of {list(self.tasks)}. Got {task!r} instead.")
        options = self.tasks[task]
        if option not in options:
            raise ValueError(f"`option` for {task!r} must be one of {list(options)}. Got {option!r} instead.")
        if isinstance(options, MultiLabel):
            self.selection[task] = set(self.selection[task]) ^ {option}
        else:
            self.selection[task] = option
        self._paint_tasks()

    def _click(self, t: int, task: str, option: str) -> None:
        self.active = t
        self.select(task, option)

    def submit(self, answers: Mapping | None = None) -> str:
        """Commit answers for the current item and advance; the Submit button calls this.

        Parameters
        ----------
        answers : dict or None, default=None
            Task -> option (or list of options); None submits what is selected on screen.

        Returns
        -------
        str
            The submission id (the rows are committed when this returns).
        """
        item = self._require_item("submit")
        if answers is None:
            answers = {k: sorted(v) if isinstance(v, set) else v for k, v in self.selection.items()}
        clean = normalize_answers(self.tasks, answers)
        sid = self.store.submit(item, clean, self.rater, attributes=self._suggestion_record(item, clean))
        self._set_answer(item, clean)
        self._committed(sid, item)
        return sid

    def _suggestion_record(self, item: str, answers: dict) -> dict | None:
        suggested = self.suggestions.get(item)
        if not suggested:
            return None
        record = {}
        for task, meta in suggested["_meta"].items():
            value = suggested[task]
            same = sorted(value) == answers[task] if isinstance(value, list) else value == answers[task]
            record[task] = {"suggested": value, "accepted": bool(same),
                            "suggestion_model": meta["model"], "suggestion_confidence": meta["confidence"]}  # fmt: skip
        return record

    def _forget(self, item_id: str) -> None:
        self._set_answer(item_id, {})

    # -------------------------------------------------------------- display
    def _show_item(self, item_id: str | None) -> None:
        self.active = 0
        if item_id is None:
            self.image.layout.display = "none"
            self.tasks_box.layout.display = "none"
            return
        self.image.layout.display = None
        self.tasks_box.layout.display = None
        shown = self._image_for(item_id)
        with self.image.hold_sync():
            self.image.format = shown.format
            self.image.value = shown.data
        self.selection = self._initial_selection(item_id)
        self._paint_tasks()

    def _display_image(self, item_id: str):
        return self.images.display(item_id, max_size=self.max_size)

    def _paint_tasks(self) -> None:
        counts = self._counts
        suggested = self.suggestions.get(self.current_item or "", {})
        for t, (name, options) in enumerate(self.tasks.items()):
            chosen = self.selection.get(name)
            active = t == self.active
            marker = "▶ " if active else ""
            kind = " <small>(any)</small>" if isinstance(options, MultiLabel) else ""
            self._task_labels[name].value = (
                f"<span style='font-weight:{'bold' if active else 'normal'}'>{marker}"
                f"{html.escape(name)}{kind}</span>"
            )
            for i, (b, option) in enumerate(zip(self._buttons[name], options, strict=True)):
                on = option in chosen if isinstance(chosen, set) else chosen == option
                hint = " ★" if name in suggested and option in (
                    suggested[name] if isinstance(suggested[name], list) else [suggested[name]]
                ) else ""
                b.description = f"{i + 1}. {option} ({counts[(name, option)]}){hint}"
                b.button_style = "primary" if on else ""

    # ------------------------------------------------------------- keyboard
    def _handle_key(self, key: str, shift: bool = False, ctrl: bool = False) -> None:
        names = list(self.tasks)
        if self._common_key(key, ctrl):
            return
        if key in ("Tab", "ArrowDown", "ArrowRight"):
            step = -1 if (key == "Tab" and shift) else 1
            self.active = (self.active + step) % len(names)
            self._paint_tasks()
        elif key in ("ArrowUp", "ArrowLeft"):
            self.active = (self.active - 1) % len(names)
            self._paint_tasks()
        elif key.isdigit() and key != "0" and self.current_item is not None:
            task = names[self.active]
            options = self.tasks[task]
            n = int(key)
            if n > len(options):
                raise ValueError(f"Key {key} has no option in task {task!r}: it has {len(options)}.")
            self.select(task, options[n - 1])
            if not isinstance(options, MultiLabel) and self.active < len(names) - 1:
                self.active += 1
                self._paint_tasks()
