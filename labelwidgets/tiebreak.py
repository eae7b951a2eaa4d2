"""The tiebreak queue: a tagger over the items whose two votes disagree, for a third rater."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ._validate import InputError, check_name
from ._validate import check_choice as _check_choice
from .store import LabelStore
from .tagging import MultiTaskTagger
from .voting import resolve
from .voting._common import FALLBACKS

__all__ = ["TiebreakQueue"]


def _tiebreak_items(
    resolved: pd.DataFrame, task_names: Sequence[str], rater: str
) -> dict[str, list[str]]:
    """``{item_id: [disputed tasks]}`` of the items waiting for a tiebreak that ``rater`` has
    not voted on (a third rater must be a new one), in the order of ``resolved``."""
    need = resolved[(resolved["status"] == "needs_tiebreak").to_numpy()
                    & resolved["task"].isin(list(task_names)).to_numpy()]  # fmt: skip
    out: dict[str, list[str]] = {}
    for item, task, votes in zip(need["item_id"], need["task"], need["votes"], strict=True):
        if rater not in votes:
            out.setdefault(item, []).append(task)
    return out


def _votes_text(votes: Mapping[str, Mapping]) -> str:
    parts = []
    for task, by_rater in votes.items():
        shown = ", ".join(
            f"{r}: {', '.join(v) if isinstance(v, list) else v}" for r, v in by_rater.items()
        )
        parts.append(f"{task} ({shown})")
    return " · ".join(parts)


class TiebreakQueue(MultiTaskTagger):
    """The items whose two votes disagree, for a third rater: a tagger over those items.

    The queue is every item whose resolution under the ``"tiebreak"`` policy is
    ``needs_tiebreak`` for at least one of ``tasks`` and that ``rater`` has not voted on,
    in the order of ``images``.
    Each such item is assigned to ``rater`` with role ``"tiebreak"`` (once). The rater
    answers every task of ``tasks`` through the tagger's own ``submit`` / ``skip`` /
    ``back``; a third answer on a task that was already agreed leaves its label unchanged.
    The earlier votes are hidden (a blind third opinion) unless ``show_votes=True``; the
    line under the header always names the disputed tasks (:meth:`note`).

    Parameters
    ----------
    images : ImageSet
        The items.
    tasks : dict
        Task name -> options (or ``MultiLabel(options)``), as for the tagger.
    rater : str
        The third rater.
    store : LabelStore
        The store holding the first two votes; the third goes there too.
    show_votes : bool, default=False
        Show the earlier votes under the header.
    fallback : {"discard", "neutral"}, default="discard"
        Passed to :func:`resolve` (it does not change which items need a tiebreak).
    source : str, sequence of str or None, default="human"
        Which votes count (``store.current(source=...)``: "none of these" answers count).
    max_size : int, default=768
        Longest side of the displayed image in pixels.
    min_size : int, default=384
        Smaller images are enlarged by a whole factor.

    Notes
    -----
    The earlier order ``TiebreakQueue(images, store, tasks, rater=...)`` is still accepted.

    Attributes
    ----------
    disputed : dict
        ``{item_id: [tasks that need the tiebreak]}`` for the queue's items.
    votes : dict
        ``{item_id: {task: {rater: answer}}}``: the earlier votes of the disputed tasks.
    """

    def __init__(self, images, tasks, *legacy, rater: str | None = None,
                 store: LabelStore | None = None, show_votes: bool = False,
                 fallback: str = "discard", source="human", max_size: int = 768,
                 min_size: int = 384):  # fmt: skip
        if isinstance(tasks, LabelStore):  # the earlier order (images, store, tasks, rater)
            store, tasks = tasks, (legacy[0] if legacy else None)
            rater = legacy[1] if len(legacy) > 1 else rater
        elif legacy:
            raise InputError(
                "TiebreakQueue takes (images, tasks, *, rater, store). Got extra positional "
                f"arguments {legacy!r} instead; pass rater= and store= by name."
            )
        if not isinstance(store, LabelStore):
            raise InputError(
                f"`store` must be a LabelStore. Got {type(store).__name__!r} instead; "
                "pass the store that holds the first two votes."
            )
        _check_choice(fallback, FALLBACKS, "fallback")
        if not isinstance(rater, str) or not rater.strip():
            raise InputError(f"`rater` must be a non-empty string. Got {rater!r} instead.")
        check_name(rater, "rater")
        resolved = resolve(store.current(source=source), policy="tiebreak",
                           fallback=fallback, tasks=store.tasks())  # fmt: skip
        names = list(tasks) if isinstance(tasks, Mapping) else []
        self.show_votes = bool(show_votes)
        self.disputed = _tiebreak_items(resolved, names, rater)
        need = resolved[resolved["item_id"].isin(list(self.disputed)).to_numpy()]
        self.votes = {}
        for item, task, votes in zip(need["item_id"], need["task"], need["votes"], strict=True):
            if task in self.disputed[item]:
                self.votes.setdefault(item, {})[task] = votes
        ids = [i for i in images.item_ids if i in self.disputed]  # in the image set's order
        earlier = store.assignments(rater=rater)
        have = set(earlier.loc[earlier["role"] == "tiebreak", "item_id"])
        new = [i for i in ids if i not in have]
        if new:
            store.assign(pd.DataFrame({"item_id": new, "rater": rater, "role": "tiebreak"}))
        super().__init__(images, tasks, rater=rater, store=store, item_ids=ids,
                         max_size=max_size, min_size=min_size)  # fmt: skip

    def note(self, item_id: str) -> str:
        """"Tiebreak for <tasks>", with the earlier votes when ``show_votes`` is set."""
        text = "Tiebreak for " + ", ".join(self.disputed.get(item_id, []))
        if self.show_votes:
            return f"{text}. Earlier votes: {_votes_text(self.votes.get(item_id, {}))}"
        return f"{text} (earlier votes hidden)"
