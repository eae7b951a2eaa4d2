"""Assignment: every item to ``per_item`` distinct raters, load balanced, seeded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ._common import ROLES, _check_choice


def assign(
    item_ids: Iterable[str],
    raters: Sequence[str],
    per_item: int = 2,
    random_state: int | None = 0,
    store=None,
    role: str = "primary",
) -> pd.DataFrame:
    """Give every item to ``per_item`` distinct raters, balancing the load.

    The raters are dealt in rounds: each round is a random permutation of all raters, and
    each item takes the next ``per_item`` raters of the deal, skipping (for now) a rater it
    already has. So after any number of items the raters' counts differ by at most 1, the
    rater pairs vary from item to item, and the same seed gives the same assignment.

    Parameters
    ----------
    item_ids : iterable of str
        The items, in queue order (kept in the output). Must be non-empty and unique.
    raters : sequence of str
        Rater names; at least ``per_item`` distinct names.
    per_item : int, default=2
        Raters per item.
    random_state : int or None, default=0
        Seed of the deal (``numpy.random.default_rng``).
    store : LabelStore or None, default=None
        When given, the rows are appended to its assignments; rows the store already holds
        (same item, rater and role) are not written again, so re-running a notebook cell
        with the same seed changes nothing.
    role : {"primary", "tiebreak", "review"}, default="primary"
        The role written with each row.

    Returns
    -------
    pandas.DataFrame
        ``item_id, rater, role``, ``per_item`` rows per item, in item order.

    Examples
    --------
    >>> assign(["a", "b", "c"], ["ann", "bob", "cy"], random_state=0)["rater"].value_counts().tolist()
    [2, 2, 2]
    """
    ids = [str(i) for i in (item_ids if not isinstance(item_ids, str) else [item_ids])]
    if not ids:
        raise ValueError("`item_ids` must hold at least one item. Got none.")
    dup = sorted({i for i, c in pd.Series(ids).value_counts().items() if c > 1})
    if dup:
        raise ValueError(f"`item_ids` must be unique. Got {dup[:5]!r} more than once.")
    if isinstance(raters, str) or not isinstance(raters, Sequence):
        raise TypeError(f"`raters` must be a list of rater names. Got {raters!r} instead.")
    raters = list(raters)
    bad = [r for r in raters if not isinstance(r, str) or not r.strip()]
    if bad:
        raise ValueError(f"`raters` must be non-empty strings. Got {bad!r} instead.")
    if len(set(raters)) != len(raters):
        raise ValueError(f"`raters` must be unique. Got {raters!r} instead.")
    if isinstance(per_item, bool) or not isinstance(per_item, int | np.integer) or per_item < 1:
        raise ValueError(f"`per_item` must be a positive integer. Got {per_item!r} instead.")
    if len(raters) < per_item:
        raise ValueError(
            f"`raters` must hold at least `per_item`={per_item} names. Got {raters!r} instead; "
            "add raters or lower per_item."
        )
    _check_choice(role, ROLES, "role")
    rng = np.random.default_rng(random_state)
    deal: list[int] = []  # raters left in the current round
    chosen_all = np.empty((len(ids), per_item), dtype=np.int64)
    for i in range(len(ids)):  # per item, but O(per_item * n_raters) each: fine for assignment
        chosen: list[int] = []
        while len(chosen) < per_item:
            if not deal:
                deal = rng.permutation(len(raters)).tolist()
            pos = next(p for p, r in enumerate(deal) if r not in chosen)  # always exists
            chosen.append(deal.pop(pos))
        chosen_all[i] = chosen
    out = pd.DataFrame(
        {
            "item_id": np.repeat(np.array(ids, dtype=object), per_item),
            "rater": np.array(raters, dtype=object)[chosen_all.ravel()],
            "role": role,
        }
    )
    if store is not None:
        have = store.assignments()
        seen = set(zip(have["item_id"], have["rater"], have["role"], strict=True))
        new = [k not in seen for k in zip(out["item_id"], out["rater"], out["role"], strict=True)]
        store.assign(out[new])
    return out
