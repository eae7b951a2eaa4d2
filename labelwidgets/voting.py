"""Two-rater voting: assignment, resolution policies, agreement statistics and the tiebreak queue.

The workflow: :func:`assign` gives every item to two raters; each labels their queue in a
:class:`~labelwidgets.tagging.MultiTaskTagger`; :func:`resolve` turns the store's votes into one
label per item and task under a policy; items whose two votes differ wait, under the
``"tiebreak"`` policy, for a third rater in a :class:`TiebreakQueue`; :func:`agreement` reports
how far the raters agree (percent agreement, Cohen's kappa, Krippendorff's alpha).

Resolution rules (one (item, task) with ``n`` raters; every rater counts once, with their latest
answer):

* ``n == 1``: ``single`` (the one vote is the label).
* all votes equal: ``agreed``.
* otherwise, by ``policy``: ``"discard"`` -> ``discarded`` (label None); ``"neutral"`` ->
  ``neutral`` (label ``neutral_label``); ``"tiebreak"`` -> ``needs_tiebreak`` (label None) while
  ``n == 2``, and with ``n >= 3`` the label that holds a strict majority (more than ``n / 2``
  votes: two of three) -> ``tiebroken``; without one (all three differ) the ``fallback`` policy
  decides (``discarded`` or ``neutral``).

A status describes the votes that exist: a third vote that dissents from two agreeing raters
gives ``tiebroken`` with their label.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from .tagging import MultiTaskTagger

__all__ = [
    "assign",
    "resolve",
    "cohen_kappa",
    "krippendorff_alpha",
    "agreement",
    "confusion",
    "plot_confusion",
    "TiebreakQueue",
    "STATUSES",
    "POLICIES",
]

STATUSES = ("agreed", "tiebroken", "discarded", "neutral", "needs_tiebreak", "single")
POLICIES = ("discard", "neutral", "tiebreak")
FALLBACKS = ("discard", "neutral")
ROLES = ("primary", "tiebreak", "review")
RESOLVED_COLUMNS = ["item_id", "task", "label", "status", "n_votes", "votes"]
_REQUIRED = ("item_id", "task", "rater", "label")
_AGREED, _TIEBROKEN, _DISCARDED, _NEUTRAL, _NEEDS, _SINGLE = range(6)
# the single-label vote counts use a dense items x labels table up to this many cells
_DENSE_LIMIT = 1 << 26


def _check_choice(value, allowed: Sequence[str], name: str):
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}. Got {value!r} instead.")
    return value


# ---------------------------------------------------------------------------- assignment
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
        When given, the rows are appended to its assignments.
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
        store.assign(out)
    return out


# ---------------------------------------------------------------------------- resolution
def _validate_labels(labels) -> pd.DataFrame:
    if not isinstance(labels, pd.DataFrame):
        raise TypeError(
            f"`labels` must be a pandas DataFrame such as store.labels(). Got {type(labels).__name__!r} instead."
        )
    missing = [c for c in _REQUIRED if c not in labels.columns]
    if missing:
        raise ValueError(
            f"`labels` must have columns {list(_REQUIRED)}. Missing {missing}; "
            f"got {list(labels.columns)} instead."
        )
    if "kind" in labels.columns:  # accept store.current() too: skips and retractions are no votes
        keep = ~labels["kind"].isin(["skip", "retract"]).to_numpy()
        if not keep.all():
            labels = labels[keep]
    return labels


def _task_kinds(tasks) -> dict[str, str]:
    if tasks is None:
        return {}
    if isinstance(tasks, pd.DataFrame):
        if not {"task", "kind"} <= set(tasks.columns):
            raise ValueError(
                f"`tasks` must have columns ['task', 'kind'] (store.tasks()). Got {list(tasks.columns)} instead."
            )
        kinds = dict(zip(tasks["task"], tasks["kind"], strict=True))
    elif isinstance(tasks, Mapping):
        kinds = {t: ("multi" if type(v).__name__ == "MultiLabel" else v) if not isinstance(v, str) else v
                 for t, v in tasks.items()}  # fmt: skip
        kinds = {t: (k if isinstance(k, str) else "single") for t, k in kinds.items()}
    else:
        raise TypeError(
            f"`tasks` must be store.tasks(), a dict task -> kind, or None. Got {tasks!r} instead."
        )
    for task, kind in kinds.items():
        _check_choice(kind, ("single", "multi", "box"), f"tasks[{task!r}]")
    return kinds


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)


def _group_sizes(codes: np.ndarray, size: int) -> np.ndarray:
    """Rows per code (dense when small, else through a sort)."""
    if size <= _DENSE_LIMIT:
        return np.bincount(codes, minlength=size)[codes]
    _, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    return counts[inverse]


def _latest(frame: pd.DataFrame, multi_row: np.ndarray) -> np.ndarray:
    """Rows to keep when a rater answered an (item, task) more than once: the latest answer.

    The latest is the row with the greatest ``created_at`` (ties and a missing column: the
    later row of the frame). When ``submission_id`` exists, every row of that row's submission
    is kept (a multi-label answer or a set of boxes); otherwise only that row.
    """
    keep = np.ones(len(frame), dtype=bool)
    sub = frame.loc[multi_row, ["item_id", "task", "rater"]].copy()
    sub["_pos"] = np.flatnonzero(multi_row)
    if "created_at" in frame.columns:
        sub["_t"] = pd.to_datetime(
            frame["created_at"].to_numpy()[multi_row], utc=True, format="mixed"
        )
        sub = sub.sort_values(["_t", "_pos"], kind="stable")
    last = sub.groupby(["item_id", "task", "rater"], sort=False)["_pos"].transform("last")
    if "submission_id" in frame.columns:
        sid = frame["submission_id"].to_numpy()
        winner = sid[last.to_numpy()]
        drop = sub["_pos"].to_numpy()[sid[sub["_pos"].to_numpy()] != winner]
    else:
        drop = sub["_pos"].to_numpy()[sub["_pos"].to_numpy() != last.to_numpy()]
    keep[drop] = False
    return keep


def resolve(
    labels: pd.DataFrame,
    policy: str = "tiebreak",
    neutral_label: str = "neutral",
    fallback: str = "discard",
    iou: float = 0.5,
    tasks=None,
    votes: bool = True,
) -> pd.DataFrame:
    """One label per (item, task) from several raters' votes, under a disagreement policy.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes, one row per label or box: ``store.labels()`` (columns ``item_id, task, rater,
        label``; ``kind``, ``x, y, w, h``, ``submission_id``, ``created_at`` when present).
        ``store.current()`` works too: its skip rows are ignored, and its "none" answers
        (``label`` missing) count as a rater who chose no option / drew no box. Model rows
        count as raters: pass ``store.labels(source="human")`` to leave them out.
    policy : {"discard", "neutral", "tiebreak"}, default="tiebreak"
        What a disagreement becomes (see the module docstring for the full rule).
    neutral_label : str, default="neutral"
        The label of ``neutral`` items (the class of disputed boxes).
    fallback : {"discard", "neutral"}, default="discard"
        With ``policy="tiebreak"``, the outcome when three or more votes have no strict majority.
    iou : float, default=0.5
        Box tasks: the least intersection over union at which two raters' boxes are the same
        object.
    tasks : pandas.DataFrame, dict or None, default=None
        Each task's kind, ``store.tasks()`` or ``{task: "single" | "multi" | "box"}``. A task
        not named is inferred: ``box`` when its rows are boxes (``kind == "box"``), ``multi``
        when a rater has several rows in one submission (several rows per (item, rater) when
        there is no ``submission_id``), else ``single``.
    votes : bool, default=True
        Add the ``votes`` column (one dict per row: the only per-row Python objects built;
        ``False`` skips them for speed).

    Returns
    -------
    pandas.DataFrame
        ``item_id, task, label, status, n_votes, votes``, one row per (item, task) that has
        a vote, tasks in order of first appearance, items in order of first appearance within
        a task. ``label`` is a string (single), a sorted list (multi) or a list of box dicts
        ``label, x, y, w, h`` (box), None for ``discarded`` and ``needs_tiebreak``.
        ``status`` is categorical over :data:`STATUSES`. ``votes`` maps rater -> their answer
        (label, sorted list or list of boxes), raters in name order.

    Notes
    -----
    **Repeated votes.** Each rater counts once per (item, task): with their latest answer. The
    store's views already hold only current answers; in a raw frame with repeats the row (or,
    given ``submission_id``, the submission) with the greatest ``created_at`` wins, ties going
    to the later row.

    **Multi-label tasks** agree *per option*: every rater of the item answers yes or no for
    each option (no = not chosen); an option's votes resolve by the rule above, and the item is
    ``agreed`` when every option is unanimous. Otherwise the item as a whole follows the
    policy: ``discarded``; ``neutral`` with label ``[neutral_label]``; ``needs_tiebreak`` with
    two raters; with three or more, ``tiebroken`` when every option has a strict majority
    (label: the options with a yes majority), else the fallback.

    **Box tasks** (a Python loop per (item, task); only the single-label path is vectorised):
    the raters, in name order, are matched greedily: each rater's boxes are paired with the
    objects found so far by descending IoU (ties: earlier object, then earlier box), a pair
    counting when IoU >= ``iou``; unmatched boxes start new objects. An object's IoU is taken
    against the mean of its boxes. Each object then gets one vote per rater: the label of their
    box, or "absent". An object is kept when all raters drew it with the same label; the kept
    box is the **mean of the matched boxes' coordinates** (of the boxes with the winning
    label). The item is ``agreed`` when every object is unanimous; otherwise ``discarded``;
    ``neutral`` (agreed boxes keep their label, every disputed object becomes one box of class
    ``neutral_label`` at the mean of its boxes); ``needs_tiebreak`` with two raters; with three
    or more, ``tiebroken`` when every object has a strict majority (label or absent), else the
    fallback.

    Examples
    --------
    >>> votes = pd.DataFrame({"item_id": ["a", "a", "b", "b"], "task": "shape",
    ...                       "rater": ["ann", "bob"] * 2,
    ...                       "label": ["circle", "circle", "circle", "square"]})
    >>> resolve(votes, policy="neutral")[["item_id", "label", "status"]]
      item_id    label   status
    0       a   circle   agreed
    1       b  neutral  neutral
    """
    labels = _validate_labels(labels)
    _check_choice(policy, POLICIES, "policy")
    _check_choice(fallback, FALLBACKS, "fallback")
    if not isinstance(neutral_label, str) or not neutral_label:
        raise ValueError(
            f"`neutral_label` must be a non-empty string. Got {neutral_label!r} instead."
        )
    if isinstance(iou, bool) or not isinstance(iou, int | float) or not 0 < iou <= 1:
        raise ValueError(f"`iou` must be a number in (0, 1]. Got {iou!r} instead.")
    kinds = _task_kinds(tasks)
    if len(labels) == 0:
        return _empty_resolved(votes)
    rule = _Rule(policy, neutral_label, fallback)

    item_c, item_u = _codes(labels["item_id"])
    task_c, task_u = _codes(labels["task"])
    rater_c, rater_u = _codes(labels["rater"])
    if (item_c < 0).any() or (task_c < 0).any() or (rater_c < 0).any():
        raise ValueError("`labels` must have no missing item_id, task or rater.")
    n_items, n_tasks, n_raters = len(item_u), len(task_u), len(rater_u)
    vote_key = (item_c * n_tasks + task_c) * n_raters + rater_c
    multi_row = _group_sizes(vote_key, n_items * n_tasks * n_raters) > 1

    # the kind of every task: given, else inferred
    row_kind = labels["kind"].to_numpy() if "kind" in labels.columns else None
    task_kind = []
    for t, name in enumerate(task_u):
        kind = kinds.get(name)
        if kind is None:
            in_task = task_c == t
            if row_kind is not None and (row_kind[in_task] == "box").any():
                kind = "box"
            elif multi_row[in_task].any():
                rows = in_task & multi_row
                if "submission_id" in labels.columns:
                    sub = labels.loc[rows, ["item_id", "rater", "submission_id"]]
                    kind = "multi" if sub.duplicated().any() else "single"
                else:
                    kind = "multi"
            else:
                kind = "single"
        task_kind.append(kind)
    kind_of_row = np.array([("single", "multi", "box").index(k) for k in task_kind], dtype=np.int8)[
        task_c
    ]

    keep = np.ones(len(labels), dtype=bool)
    if "submission_id" not in labels.columns:  # multi-label / box rows cannot be told apart
        multi_row = multi_row & (kind_of_row == 0)
    if multi_row.any():  # a rater answered twice: keep the latest answer
        keep = _latest(labels, multi_row)
        single_dup = multi_row & keep & (kind_of_row == 0)
        if single_dup.any():  # several rows of one submission on a single-label task: the last
            dup_key = vote_key[single_dup]
            pos = np.flatnonzero(single_dup)
            last = pd.Series(pos).groupby(dup_key).transform("last").to_numpy()
            keep[pos[pos != last]] = False

    parts = []
    for code, kind in enumerate(("single", "multi", "box")):
        rows = keep & (kind_of_row == code)
        if not rows.any():
            continue
        if kind == "single":
            lab_c, lab_u = _codes(labels["label"])
            rows &= lab_c >= 0  # a missing label is no vote
            if not rows.any():
                continue
            cols = (item_c, task_c, rater_c, lab_c, np.arange(len(labels)))
            if not rows.all():
                cols = tuple(c[rows] for c in cols)
            parts.append(
                _resolve_single(*cols, labels, n_tasks, task_u, rater_u, lab_u, rule, votes)
            )
        elif kind == "multi":
            parts.append(_resolve_multi(labels[rows], rule, votes))
        else:
            parts.append(_resolve_boxes(labels[rows], rule, iou, votes))
    if not parts:
        return _empty_resolved(votes)
    out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    if len(parts) > 1:  # tasks in order of first appearance
        order = {name: i for i, name in enumerate(task_u)}
        out = out.iloc[np.argsort(out["task"].map(order).to_numpy(), kind="stable")]
        out = out.reset_index(drop=True)
    return out


class _Rule:
    """The policy as numbers: status codes from vote counts."""

    def __init__(self, policy: str, neutral_label: str, fallback: str):
        self.policy, self.neutral_label, self.fallback = policy, neutral_label, fallback

    def status(self, n: np.ndarray, unanimous: np.ndarray, decided: np.ndarray) -> np.ndarray:
        """Status codes from the number of raters, unanimity and whether a majority decides.

        ``decided`` means every disputed question has a strict majority (used only when
        ``n >= 3`` under the tiebreak policy).
        """
        fallback = _DISCARDED if self.fallback == "discard" else _NEUTRAL
        if self.policy == "discard":
            disputed = _DISCARDED
        elif self.policy == "neutral":
            disputed = _NEUTRAL
        else:
            disputed = np.where(n == 2, _NEEDS, np.where(decided, _TIEBROKEN, fallback))
        out = np.where(unanimous, _AGREED, disputed)
        return np.where(n == 1, _SINGLE, out).astype(np.int8)


def _status_column(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(STATUSES))


def _empty_resolved(votes: bool) -> pd.DataFrame:
    cols = RESOLVED_COLUMNS if votes else RESOLVED_COLUMNS[:-1]
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out["status"] = _status_column(np.array([], dtype=np.int8))
    out["n_votes"] = out["n_votes"].astype(np.int64)
    return out


def _resolve_single(item_c, task_c, rater_c, lab, row, labels, n_tasks, task_u, rater_u, lab_u,
                    rule: _Rule, votes: bool) -> pd.DataFrame:  # fmt: skip
    """Vectorised resolution of single-label votes: integer codes, row-aligned; ``row`` is
    each vote's position in ``labels`` (item ids are taken from there, keeping their dtype)."""
    key, key_u = pd.factorize(item_c * n_tasks + task_c)
    key = key.astype(np.int64, copy=False)
    n_keys, n_labels = len(key_u), len(lab_u)
    n = np.bincount(key, minlength=n_keys)
    if n_keys * n_labels <= _DENSE_LIMIT:
        counts = np.bincount(key * n_labels + lab, minlength=n_keys * n_labels)
        counts = counts.reshape(n_keys, n_labels)
        top = counts.argmax(axis=1)
        top_count = counts[np.arange(n_keys), top]
    else:  # many labels: count (key, label) pairs through a sort
        pair, pair_n = np.unique(key * n_labels + lab, return_counts=True)
        pair_key = pair // n_labels
        best = np.lexsort((-pair_n, pair_key))
        first = best[np.r_[True, pair_key[best][1:] != pair_key[best][:-1]]]
        top = (pair % n_labels)[first]
        top_count = pair_n[first]
    status = rule.status(n, top_count == n, 2 * top_count > n)
    label = lab_u[top]
    label[status == _NEUTRAL] = rule.neutral_label
    label[(status == _DISCARDED) | (status == _NEEDS)] = None
    first_row = np.empty(n_keys, dtype=np.int64)
    first_row[key[::-1]] = row[::-1]  # the first vote of each key
    key_u = np.asarray(key_u, dtype=np.int64)
    out = {
        "item_id": labels["item_id"].array.take(first_row),
        "task": pd.Categorical.from_codes(key_u % n_tasks, categories=task_u).astype(object)
        if n_tasks > 1
        else labels["task"].array.take(first_row),
        "label": pd.Series(label, dtype=object),
        "status": _status_column(status),
        "n_votes": n,
    }
    if votes:
        out["votes"] = _dicts_by_key(key, n, rater_c, rater_u, lab, lab_u)
    return pd.DataFrame(out)


def _dicts_by_key(key, n, rater_c, rater_u, lab, lab_u) -> np.ndarray:
    """One dict rater -> label per key (keys 0..K-1 with ``n`` rows each), raters in name order.

    The rows are sorted by (key, rater name); the dicts of all keys with the same number of
    votes are then built together by ``map(dict, zip(...))`` over column slices, so the Python
    work is the dict construction itself, not indexing per key.
    """
    rank = np.empty(len(rater_u), dtype=np.int64)
    rank[np.argsort(np.asarray(rater_u, dtype=str), kind="stable")] = np.arange(len(rater_u))
    order = np.argsort(key * len(rater_u) + rank[rater_c], kind="stable")
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    names = np.asarray(rater_u, dtype=object)[rater_c[order]]
    vals = np.asarray(lab_u, dtype=object)[lab[order]]
    out = np.empty(len(n), dtype=object)
    for m in np.unique(n):
        keys = np.flatnonzero(n == m)
        at = starts[keys]
        cols = [zip(names[at + j], vals[at + j]) for j in range(m)]  # noqa: B905
        made = np.empty(len(keys), dtype=object)
        made[:] = list(map(dict, zip(*cols)))  # noqa: B905
        out[keys] = made
    return out


def _resolve_multi(df: pd.DataFrame, rule: _Rule, votes: bool) -> pd.DataFrame:
    """Per-option resolution of multi-label votes (pandas group operations)."""
    df = df[["item_id", "task", "rater", "label"]]
    unit = ["item_id", "task"]
    raters = df.groupby(unit, sort=False)["rater"].nunique().rename("n")
    chosen = df.dropna(subset=["label"]).drop_duplicates()
    opt = chosen.groupby([*unit, "label"], sort=False).size().rename("yes").reset_index()
    opt = opt.merge(raters.reset_index(), on=unit, how="left")
    tie = rule.policy == "tiebreak"
    opt["unanimous"] = opt["yes"] == opt["n"]
    opt["in"] = opt["unanimous"] | (tie & (opt["n"] >= 3) & (2 * opt["yes"] > opt["n"]))
    opt["decided"] = opt["in"] | (2 * (opt["n"] - opt["yes"]) > opt["n"])
    per = opt.groupby(unit, sort=False).agg(
        unanimous=("unanimous", "all"), decided=("decided", "all")
    )
    res = raters.to_frame().join(per)
    res["unanimous"] = res["unanimous"].fillna(True).astype(bool)  # nobody chose anything
    res["decided"] = res["decided"].fillna(True).astype(bool)
    n = res["n"].to_numpy()
    status = rule.status(n, res["unanimous"].to_numpy(), res["decided"].to_numpy())
    kept = (
        opt[opt["in"]]
        .sort_values("label", kind="stable")
        .groupby(unit, sort=False)["label"]
        .agg(list)
    )
    kept = kept.reindex(res.index).tolist()
    label = np.empty(len(res), dtype=object)
    for i, (code, options) in enumerate(zip(status, kept, strict=True)):
        if code == _NEUTRAL:
            label[i] = [rule.neutral_label]
        elif code in (_AGREED, _TIEBROKEN, _SINGLE):
            label[i] = options if isinstance(options, list) else []
    out = res.reset_index()[unit]
    out["label"] = pd.Series(label, dtype=object, index=out.index)
    out["status"] = _status_column(status)
    out["n_votes"] = n.astype(np.int64)
    if votes:
        sets = (
            df.sort_values("label", kind="stable", na_position="first")
            .groupby([*unit, "rater"], sort=False)["label"]
            .agg(lambda s: sorted(s.dropna().unique().tolist()))
            .reset_index()
            .sort_values(["rater"], kind="stable")
        )
        by_unit = sets.groupby(unit, sort=False).apply(
            lambda g: dict(zip(g["rater"], g["label"], strict=True)), include_groups=False
        )
        out["votes"] = by_unit.reindex(pd.MultiIndex.from_frame(out[unit])).to_numpy(dtype=object)
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes ``a`` (m x 4) and ``b`` (k x 4) given as x, y, w, h."""
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(
        np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0][:, None], b[:, 0][None]), 0, None
    )
    ih = np.clip(
        np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1][:, None], b[:, 1][None]), 0, None
    )
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_boxes(boxes_by_rater: Mapping[str, Sequence[Mapping]], iou: float = 0.5) -> list[dict]:
    """Group several raters' boxes into objects by greedy IoU matching.

    Parameters
    ----------
    boxes_by_rater : mapping of rater -> list of box dicts (``label, x, y, w, h``)
        Raters are processed in name order.
    iou : float, default=0.5
        Least IoU for a box to join an object (against the mean of the object's boxes).

    Returns
    -------
    list of dict
        One dict rater -> box per object, in order of creation.
    """
    objects: list[dict] = []
    for rater in sorted(boxes_by_rater):
        boxes = list(boxes_by_rater[rater])
        if not boxes:
            continue
        xywh = np.array([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], dtype=float)
        used_obj: set[int] = set()
        used_box: set[int] = set()
        if objects:
            means = np.array([np.mean([[b["x"], b["y"], b["w"], b["h"]] for b in o.values()], axis=0)
                              for o in objects])  # fmt: skip
            m = _iou(means, xywh)
            flat = np.argsort(-m, axis=None, kind="stable")  # ties: earlier object, then box
            for o, b in zip(*np.unravel_index(flat, m.shape), strict=True):
                if m[o, b] < iou:
                    break
                if o in used_obj or b in used_box:
                    continue
                objects[o][rater] = boxes[b]
                used_obj.add(int(o))
                used_box.add(int(b))
        for b, box in enumerate(boxes):
            if b not in used_box:
                objects.append({rater: box})
    return objects


def _mean_box(boxes: Sequence[Mapping], label: str) -> dict:
    xywh = np.mean([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], axis=0)
    return {
        "label": label,
        "x": float(xywh[0]),
        "y": float(xywh[1]),
        "w": float(xywh[2]),
        "h": float(xywh[3]),
    }


def _resolve_boxes(df: pd.DataFrame, rule: _Rule, iou: float, votes: bool) -> pd.DataFrame:
    """Resolution of box votes: a Python loop per (item, task), greedy IoU matching inside."""
    rows = []
    tie = rule.policy == "tiebreak"
    for (item, task), g in df.groupby(["item_id", "task"], sort=False):
        per_rater: dict[str, list[dict]] = {}
        for rater, rg in g.groupby("rater", sort=True):
            rg = rg.dropna(subset=["label"])
            per_rater[rater] = [
                {
                    "label": r.label,
                    "x": float(r.x),
                    "y": float(r.y),
                    "w": float(r.w),
                    "h": float(r.h),
                }
                for r in rg.itertuples(index=False)
            ]
        n = len(per_rater)
        objects = match_boxes(per_rater, iou)
        agreed, majority, disputed = [], [], []
        unanimous = decided = True
        for obj in objects:
            values = [obj[r]["label"] if r in obj else None for r in per_rater]
            counts = pd.Series(values, dtype=object).value_counts(dropna=False)
            top, top_n = counts.index[0], int(counts.iloc[0])
            present = isinstance(top, str)  # None / NaN: the majority saw no object here
            if top_n == n:
                if present:
                    agreed.append(_mean_box(list(obj.values()), top))
                continue
            unanimous = False
            disputed.append(_mean_box(list(obj.values()), rule.neutral_label))
            if tie and n >= 3 and 2 * top_n > n:
                if present:
                    majority.append(_mean_box([b for b in obj.values() if b["label"] == top], top))
            else:
                decided = False
        status = int(rule.status(np.array([n]), np.array([unanimous]), np.array([decided]))[0])
        if status in (_AGREED, _SINGLE):
            label = agreed
        elif status == _TIEBROKEN:
            label = agreed + majority
        elif status == _NEUTRAL:
            label = agreed + disputed
        else:
            label = None
        rows.append({"item_id": item, "task": task, "label": label, "status": STATUSES[status],
                     "n_votes": n, "votes": per_rater})  # fmt: skip
    out = pd.DataFrame(rows, columns=RESOLVED_COLUMNS)
    out["status"] = pd.Categorical(out["status"], categories=list(STATUSES))
    out["n_votes"] = out["n_votes"].astype(np.int64)
    return out if votes else out.drop(columns=["votes"])


# ---------------------------------------------------------------------------- agreement
def _infer_kind(task_rows: pd.DataFrame, repeated: np.ndarray) -> str:
    """A task's kind from its rows (``repeated``: the rater has several rows for the item)."""
    if "kind" in task_rows.columns and (task_rows["kind"] == "box").any():
        return "box"
    if not repeated.any():
        return "single"
    if "submission_id" not in task_rows.columns:
        return "multi"
    sub = task_rows.loc[repeated, ["item_id", "rater", "submission_id"]]
    return "multi" if sub.duplicated().any() else "single"


def _task_votes(labels: pd.DataFrame, task: str, tasks=None) -> tuple[pd.DataFrame, str]:
    """Each rater's current answer per item for one task: ``item_id, rater, value``.

    ``value`` is the label (single) or the sorted tuple of chosen options (multi: the set is
    one nominal value). Box tasks raise.
    """
    labels = _validate_labels(labels)
    df = labels[(labels["task"] == task).to_numpy()]
    if df.empty:
        raise ValueError(
            f"`task` must be a task of `labels`: one of {sorted(pd.unique(labels['task']))}. "
            f"Got {task!r} instead."
        )
    repeated = df.duplicated(["item_id", "rater"], keep=False).to_numpy()
    kind = _task_kinds(tasks).get(task) or _infer_kind(df, repeated)
    if kind == "box":
        raise ValueError(
            f"`task` must be a single- or multi-label task. Got {task!r}, a box task; "
            "compare boxes with resolve(..., iou=...) instead."
        )
    if repeated.any() and (kind == "single" or "submission_id" in df.columns):
        df = df[_latest(df, repeated)]
    if kind == "single":
        df = df.dropna(subset=["label"]).drop_duplicates(["item_id", "rater"], keep="last")
        out = df[["item_id", "rater", "label"]].rename(columns={"label": "value"})
    else:
        out = (
            df.groupby(["item_id", "rater"], sort=False)["label"]
            .agg(lambda s: tuple(sorted(set(s.dropna()))))
            .rename("value")
            .reset_index()
        )
    out = out.astype({"item_id": object, "rater": object, "value": object})
    return out.reset_index(drop=True), kind


def _kappa_from_codes(a: np.ndarray, b: np.ndarray, n_values: int) -> float:
    """Cohen's kappa exactly as scikit-learn computes it (unweighted)."""
    conf = np.bincount(a * n_values + b, minlength=n_values * n_values).reshape(n_values, n_values)
    sum0, sum1 = conf.sum(axis=0), conf.sum(axis=1)
    expected = np.outer(sum0, sum1) / np.sum(sum0)
    w = np.ones((n_values, n_values), dtype=int)
    w.flat[:: n_values + 1] = 0
    denominator = np.sum(w * expected)
    if denominator == 0:  # both raters always gave the same single value
        return float("nan")
    return float(1 - np.sum(w * conf) / denominator)


def cohen_kappa(labels: pd.DataFrame, task: str, rater_a: str, rater_b: str, tasks=None) -> float:
    """Cohen's kappa of two raters on one task, over the items both answered.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``); the latest answer of each rater counts.
    task : str
        A single- or multi-label task (a multi-label answer counts as one value: the set).
    rater_a, rater_b : str
        The two raters.
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`.

    Returns
    -------
    float
        Kappa (equal to ``sklearn.metrics.cohen_kappa_score``); NaN when chance agreement is
        1 (both raters always gave the same one value).
    """
    votes, _ = _task_votes(labels, task, tasks)
    wide = _wide(votes)
    for name, rater in (("rater_a", rater_a), ("rater_b", rater_b)):
        if rater not in wide.columns:
            raise ValueError(
                f"`{name}` must be a rater of task {task!r}: one of {sorted(wide.columns)}. "
                f"Got {rater!r} instead."
            )
    both = wide[rater_a].notna() & wide[rater_b].notna()
    if not both.any():
        raise ValueError(f"Raters {rater_a!r} and {rater_b!r} share no item of task {task!r}.")
    codes, uniques = pd.factorize(pd.concat([wide.loc[both, rater_a], wide.loc[both, rater_b]]))
    half = int(both.sum())
    return _kappa_from_codes(
        codes[:half].astype(np.int64), codes[half:].astype(np.int64), len(uniques)
    )


def _wide(votes: pd.DataFrame) -> pd.DataFrame:
    """Items x raters table of values (NaN where a rater did not answer)."""
    return votes.pivot(index="item_id", columns="rater", values="value")


def krippendorff_alpha(labels: pd.DataFrame, task: str, tasks=None) -> float:
    """Krippendorff's alpha (nominal) of all raters on one task.

    Computed from the coincidence matrix: each item answered by ``m >= 2`` raters adds every
    ordered pair of its values from different raters with weight ``1 / (m - 1)``; then
    ``alpha = 1 - (n - 1) * D_o / D_e`` with ``D_o`` the off-diagonal coincidences and ``D_e``
    the off-diagonal products of the value totals. Items with one answer are left out.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``).
    task : str
        A single- or multi-label task (a multi-label answer is one value: the set).
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`.

    Returns
    -------
    float
        Alpha (equal to ``krippendorff.alpha(..., level_of_measurement="nominal")``); NaN when
        no item has two answers or only one value occurs.
    """
    votes, _ = _task_votes(labels, task, tasks)
    return _alpha_from_votes(votes)


def _alpha_from_votes(votes: pd.DataFrame) -> float:
    unit, _ = pd.factorize(votes["item_id"])
    value, uniques = pd.factorize(votes["value"])
    n_units, n_values = int(unit.max()) + 1, len(uniques)
    counts = np.bincount(unit.astype(np.int64) * n_values + value, minlength=n_units * n_values)
    counts = counts.reshape(n_units, n_values).astype(float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts, m = counts[pairable], m[pairable]
    if len(m) == 0:
        return float("nan")
    weighted = counts / (m - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    n_c = coincidence.sum(axis=0)
    n = n_c.sum()
    expected_disagreement = (n * n - np.sum(n_c * n_c)) / (n - 1)
    if expected_disagreement == 0:
        return float("nan")
    observed_disagreement = n - np.trace(coincidence)
    return float(1 - observed_disagreement / expected_disagreement)


def agreement(labels: pd.DataFrame, tasks=None) -> pd.DataFrame:
    """Agreement of every pair of raters on every single- and multi-label task.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``; pass ``source="human"`` to leave model rows out).
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`. Box tasks are left out.

    Returns
    -------
    pandas.DataFrame
        One row per (task, rater pair) sharing at least one item: ``task, rater_a, rater_b``
        (``rater_a < rater_b``), ``n_items`` (answered by both), ``percent_agreement`` (0-100),
        ``cohen_kappa``, and the task's ``krippendorff_alpha`` (all raters; the same on every row
        of a task).
    """
    labels = _validate_labels(labels)
    rows = []
    for task in pd.unique(labels["task"]):
        sub = labels[(labels["task"] == task).to_numpy()]
        kind = _task_kinds(tasks).get(task) or _infer_kind(
            sub, sub.duplicated(["item_id", "rater"], keep=False).to_numpy()
        )
        if kind == "box":
            continue
        votes, _ = _task_votes(sub, task, tasks)
        if votes.empty:
            continue
        alpha = _alpha_from_votes(votes)
        code, uniques = pd.factorize(votes["value"])
        coded = votes.assign(value=code).pivot(index="item_id", columns="rater", values="value")
        raters = sorted(coded.columns)
        for a, b in combinations(raters, 2):
            both = coded[a].notna() & coded[b].notna()
            if not both.any():
                continue
            ca = coded.loc[both, a].to_numpy(dtype=np.int64)
            cb = coded.loc[both, b].to_numpy(dtype=np.int64)
            rows.append({"task": task, "rater_a": a, "rater_b": b, "n_items": int(both.sum()),
                         "percent_agreement": 100.0 * float(np.mean(ca == cb)),
                         "cohen_kappa": _kappa_from_codes(ca, cb, len(uniques)),
                         "krippendorff_alpha": alpha})  # fmt: skip
    columns = ["task", "rater_a", "rater_b", "n_items", "percent_agreement", "cohen_kappa",
               "krippendorff_alpha"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def confusion(
    labels: pd.DataFrame,
    resolved: pd.DataFrame,
    task: str,
    statuses: Sequence[str] = ("agreed", "tiebroken"),
    tasks=None,
) -> pd.DataFrame:
    """Each rater's answers against the resolved labels, as a long table.

    Parameters
    ----------
    labels : pandas.DataFrame
        Votes (``store.labels()``).
    resolved : pandas.DataFrame
        The output of :func:`resolve`.
    task : str
        A single- or multi-label task (multi-label sets are compared whole, as tuples).
    statuses : sequence of str, default=("agreed", "tiebroken")
        Which resolved items serve as the reference.
    tasks : pandas.DataFrame, dict or None, default=None
        Task kinds, as in :func:`resolve`.

    Returns
    -------
    pandas.DataFrame
        ``rater, resolved, label, n``: how often ``rater`` answered ``label`` where the
        resolved label is ``resolved``; sorted by rater, resolved, label.
    """
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise ValueError(f"`statuses` must be drawn from {list(STATUSES)}. Got {bad!r} instead.")
    missing = [c for c in ("item_id", "task", "label", "status") if c not in resolved.columns]
    if missing:
        raise ValueError(
            f"`resolved` must be the output of resolve(). Missing columns {missing}; "
            f"got {list(resolved.columns)} instead."
        )
    votes, _ = _task_votes(labels, task, tasks)
    ref = resolved[
        (resolved["task"] == task).to_numpy() & resolved["status"].isin(list(statuses)).to_numpy()
    ]
    ref = pd.DataFrame(
        {
            "item_id": ref["item_id"].to_numpy(dtype=object),
            "resolved": [tuple(v) if isinstance(v, list) else v for v in ref["label"]],
        }  # fmt: skip
    )
    merged = votes.merge(ref, on="item_id", how="inner").rename(columns={"value": "label"})
    out = merged.groupby(["rater", "resolved", "label"], sort=True).size().rename("n").reset_index()
    return out.astype({"n": np.int64})


def plot_confusion(table: pd.DataFrame, rater: str | None = None, ax=None):
    """Heatmap of :func:`confusion` for one rater (or all raters summed).

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`confusion`.
    rater : str or None, default=None
        The rater to show; None sums all raters.
    ax : matplotlib.axes.Axes or None, default=None
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if rater is not None:
        if rater not in set(table["rater"]):
            raise ValueError(
                f"`rater` must be one of {sorted(set(table['rater']))}. Got {rater!r} instead."
            )
        table = table[table["rater"] == rater]
    grid = table.pivot_table(
        index="resolved", columns="label", values="n", aggfunc="sum", fill_value=0
    )
    names = sorted(set(grid.index) | set(grid.columns), key=str)
    grid = grid.reindex(index=names, columns=names, fill_value=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 + 0.7 * len(names), 1.0 + 0.6 * len(names)))
    ax.imshow(grid.to_numpy(), cmap="Blues")
    ax.set_xticks(range(len(names)), [str(n) for n in names], rotation=45, ha="right")
    ax.set_yticks(range(len(names)), [str(n) for n in names])
    ax.set_xlabel(f"{rater or 'all raters'}: answer")
    ax.set_ylabel("resolved label")
    top = grid.to_numpy().max() if grid.size else 0
    for i in range(len(names)):
        for j in range(len(names)):
            v = int(grid.iat[i, j])
            ax.text(
                j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black"
            )
    return ax


# ---------------------------------------------------------------------------- tiebreak queue
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


def _votes_html(votes: Mapping[str, Mapping]) -> str:
    parts = []
    for task, by_rater in votes.items():
        shown = ", ".join(
            f"{html.escape(r)}: {html.escape(', '.join(v) if isinstance(v, list) else str(v))}"
            for r, v in by_rater.items()
        )
        parts.append(f"<b>{html.escape(task)}</b> ({shown})")
    return " · ".join(parts)


class TiebreakQueue(MultiTaskTagger):
    """The items whose two votes disagree, for a third rater: a tagger over those items.

    The queue is every item whose resolution under the ``"tiebreak"`` policy is
    ``needs_tiebreak`` for at least one of ``tasks`` and that ``rater`` has not voted on.
    Each such item is assigned to ``rater`` with role ``"tiebreak"`` (once). The rater
    answers every task of ``tasks`` through the tagger's own ``submit`` / ``skip`` /
    ``back``; a third answer on a task that was already agreed leaves its label unchanged.
    The earlier votes are hidden (a blind third opinion) unless ``show_votes=True``; the
    header always names the disputed tasks.

    Parameters
    ----------
    images : ImageSet
        The items.
    store : LabelStore
        The store holding the first two votes; the third goes there too.
    tasks : dict
        Task name -> options (or ``MultiLabel(options)``), as for the tagger.
    rater : str
        The third rater.
    show_votes : bool, default=False
        Show the earlier votes in the header.
    fallback : {"discard", "neutral"}, default="discard"
        Passed to :func:`resolve` (it does not change which items need a tiebreak).
    source : str, sequence of str or None, default="human"
        Which votes count (``store.current(source=...)``: "none of these" answers count).
    max_size : int, default=640
        Longest side of the displayed image in pixels.

    Attributes
    ----------
    disputed : dict
        ``{item_id: [tasks that need the tiebreak]}`` for the queue's items.
    votes : dict
        ``{item_id: {task: {rater: answer}}}``: the earlier votes of the disputed tasks.
    """

    def __init__(self, images, store, tasks, rater, show_votes: bool = False,
                 fallback: str = "discard", source="human", max_size: int = 640):  # fmt: skip
        _check_choice(fallback, FALLBACKS, "fallback")
        if not isinstance(rater, str) or not rater.strip():
            raise ValueError(f"`rater` must be a non-empty string. Got {rater!r} instead.")
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
        known = set(images.item_ids)
        ids = [i for i in self.disputed if i in known]
        earlier = store.assignments(rater=rater)
        have = set(earlier.loc[earlier["role"] == "tiebreak", "item_id"])
        new = [i for i in ids if i not in have]
        if new:
            store.assign(pd.DataFrame({"item_id": new, "rater": rater, "role": "tiebreak"}))
        super().__init__(images, tasks, rater=rater, store=store, item_ids=ids, max_size=max_size)

    def __repr__(self) -> str:
        return f"TiebreakQueue({len(self.queue)} items, tasks={list(self.tasks)}, rater={self.rater!r})"

    def _refresh(self) -> None:
        super()._refresh()
        item = self.current_item
        if item is None:
            return
        note = "Tiebreak for " + ", ".join(html.escape(t) for t in self.disputed.get(item, []))
        if self.show_votes:
            note += ". Earlier votes: " + _votes_html(self.votes.get(item, {}))
        else:
            note += " (earlier votes hidden)"
        self.header.value = f"{self.header.value}<br><span style='color:#7a4b00'>{note}</span>"
