"""Resolution: one label per (item, task) from several raters' votes, under a policy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import InputError, check_fraction, check_positive_int
from . import _votes
from ._boxes import _resolve_boxes
from ._common import (
    _AGREED,
    _DISCARDED,
    _ESTIMATED,
    _NEEDS,
    _NEUTRAL,
    _SINGLE,
    _TIEBROKEN,
    FALLBACKS,
    METHODS,
    POLICIES,
    _check_choice,
    _codes,
    _empty_resolved,
    _latest,
    _Rule,
    _status_column,
    _task_kinds,
    _validate_labels,
)
from ._dawid_skene import fit_dawid_skene

# the single-label vote counts use a dense items x labels table up to this many cells
_DENSE_LIMIT = 1 << 26


def _repeated(item_c, task_c, rater_c, n_items: int, n_tasks: int, n_raters: int):
    """Rows of the (item, task) pairs where some rater has several rows, and the rows per
    pair ``item * n_tasks + task`` when they were counted on the way (else None).

    That is every row of a rater who answered twice, plus the other raters' rows of the same
    pairs (they are single rows, which every use of this mask keeps as they are). With few
    raters the test is one weighted count: a pair's sum of ``2 ** rater`` has as many one bits
    as the pair has rows exactly when no rater repeats (a repeat carries). Otherwise the
    (item, task, rater) rows are counted.
    """
    size = n_items * n_tasks
    pair = item_c * n_tasks + task_c if n_tasks > 1 else item_c
    if size <= _DENSE_LIMIT and hasattr(np, "bitwise_count"):
        n = np.bincount(pair, minlength=size)
        if (int(n.max()) << n_raters) < 1 << 53:  # float64 sums of powers of two stay exact
            bits = np.bincount(pair, weights=np.ldexp(1.0, rater_c), minlength=size)
            clash = np.bitwise_count(bits.astype(np.int64)) < n
            return (clash[pair] if clash.any() else np.zeros(len(pair), dtype=bool)), n
    code = pair * n_raters + rater_c
    if size * n_raters <= _DENSE_LIMIT:
        return np.bincount(code, minlength=size * n_raters)[code] > 1, None
    _, inverse, counts = np.unique(code, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)] > 1, None


def resolve(
    labels: pd.DataFrame,
    policy: str = "tiebreak",
    neutral_label: str = "neutral",
    fallback: str = "discard",
    iou: float = 0.5,
    tasks=None,
    votes: bool = True,
    *,
    method: str = "majority",
    threshold: float = 0.9,
    n_iter: int = 100,
    tol: float = 1e-5,
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
        What a disagreement becomes (the full rule: the docstring of :mod:`labelwidgets.voting`).
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
        Add the ``votes`` column (``False`` leaves it out).
    method : {"majority", "dawid_skene"}, default="majority"
        ``"majority"``: the vote counts decide (the rule of :mod:`labelwidgets.voting`).
        ``"dawid_skene"``: every single-label task gets a Dawid-Skene model (one confusion
        matrix per rater, estimated by EM from all the task's votes) and each item the label of
        highest posterior; see Notes. Single-label tasks only: a multi-label or box task
        raises (resolve those with ``"majority"``).
    threshold : float, default=0.9
        ``"dawid_skene"`` only: the least posterior at which a label is decided; an item below
        it goes to ``policy``.
    n_iter : int, default=100
        ``"dawid_skene"`` only: the most EM iterations per task.
    tol : float, default=1e-5
        ``"dawid_skene"`` only: EM stops when its lower bound per vote grows by less.

    Returns
    -------
    pandas.DataFrame
        ``item_id, task, label, status, n_votes, votes``, one row per (item, task) that has
        a vote, tasks in order of first appearance, items in order of first appearance within
        a task; with ``method="dawid_skene"`` also ``confidence`` (the posterior of the
        chosen label, whether or not it reached ``threshold``). ``label`` is a string (single), a sorted list (multi) or a list of box dicts
        ``label, x, y, w, h`` (box), None for ``discarded`` and ``needs_tiebreak``.
        ``status`` is categorical over :data:`STATUSES`. ``votes`` maps rater -> their answer
        (label, sorted list or list of boxes), raters in name order. On single-label tasks it
        is a read-only dict (:class:`~labelwidgets.voting.Votes`) shared by every row with the
        same votes, which keeps a million rows fast; ``dict(votes)`` gives an editable copy.

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

    **Dawid-Skene** (``method="dawid_skene"``) learns from the whole task how often each rater
    gives each answer for each true class, and weighs every vote by it: a careful rater
    outvotes a careless one, and a rater who always confuses two classes is read accordingly.
    The fit matches crowd-kit's ``DawidSkene`` (the same labels and posteriors to 1e-6 for
    the same ``n_iter`` and ``tol``), over distinct vote patterns, so it is fast. Posterior
    ties go to the class first in name order. The status of an item: its posterior reaches
    ``threshold`` -> ``agreed`` (two or more votes, all for the chosen label), ``single``
    (one vote), ``estimated`` (some votes dissent); below ``threshold`` -> ``needs_tiebreak``
    (policy ``"tiebreak"``: another vote is needed, however many it has), ``discarded`` or
    ``neutral``. ``fallback`` plays no part. Each task needs votes from two raters or more.

    *When it beats majority:* three or more raters per item, or raters of unequal skill who
    overlap across items (rotating pairs drawn from a team): their disagreements show who is
    reliable, so a good rater wins a two-against-one dispute with two poor ones, and a
    near-random rater's votes count for almost nothing. *When it cannot:* the same two raters
    on every item. Their agreements are explained equally well whoever is the careless one,
    so a two-vote disagreement stays close to a coin toss between the two answers (only the
    class priors and confusion patterns tilt it): keep ``threshold`` high and let a third
    rater decide those items.

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
    _check_choice(method, METHODS, "method")
    ds = None
    if method == "dawid_skene":
        ds = {
            "threshold": check_fraction(threshold, "threshold", closed_low=True),
            "n_iter": check_positive_int(n_iter, "n_iter", minimum=0),
            "tol": check_fraction(tol, "tol", high=np.inf),
        }
    if not isinstance(neutral_label, str) or not neutral_label:
        raise ValueError(
            f"`neutral_label` must be a non-empty string. Got {neutral_label!r} instead."
        )
    if isinstance(iou, bool) or not isinstance(iou, int | float) or not 0 < iou <= 1:
        raise ValueError(f"`iou` must be a number in (0, 1]. Got {iou!r} instead.")
    kinds = _task_kinds(tasks)
    if ds is not None:
        _check_options(labels, tasks)
    if len(labels) == 0:
        return _empty_resolved(votes, confidence=ds is not None)
    rule = _Rule(policy, neutral_label, fallback)

    item_c, item_u = _codes(labels["item_id"], names=False)
    task_c, task_u = _codes(labels["task"])
    rater_c, rater_u = _codes(labels["rater"])
    if (item_c < 0).any() or (task_c < 0).any() or (rater_c < 0).any():
        raise ValueError("`labels` must have no missing item_id, task or rater.")
    n_items, n_tasks, n_raters = len(item_u), len(task_u), len(rater_u)
    multi_row, n_pair = _repeated(item_c, task_c, rater_c, n_items, n_tasks, n_raters)

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
    if ds is not None:
        other = [(name, kind) for name, kind in zip(task_u, task_kind, strict=True) if kind != "single"]
        if other:
            raise InputError(
                f"`method` 'dawid_skene' resolves single-label tasks only. Got task "
                f"{other[0][0]!r} of kind {other[0][1]!r} instead; resolve it with "
                "method='majority' (filter `labels` by task)."
            )

    keep = np.ones(len(labels), dtype=bool)
    if "submission_id" not in labels.columns:  # multi-label / box rows cannot be told apart
        multi_row = multi_row & (kind_of_row == 0)
    if multi_row.any():  # a rater answered twice: keep the latest answer
        keep = _latest(labels, multi_row)
        single_dup = multi_row & keep & (kind_of_row == 0)
        if single_dup.any():  # several rows of one submission on a single-label task: the last
            dup_key = ((item_c * n_tasks + task_c) * n_raters + rater_c)[single_dup]
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
            cols = (item_c, task_c, rater_c, lab_c, None, n_pair)  # row None: every row
            if not rows.all():
                cols = (*(c[rows] for c in cols[:4]), np.flatnonzero(rows), None)
            parts.append(
                _resolve_single(*cols, labels, item_u, task_u, rater_u, lab_u, rule, votes, ds)
            )
        elif kind == "multi":
            parts.append(_resolve_multi(labels[rows], rule, votes))
        else:
            parts.append(_resolve_boxes(labels[rows], rule, iou, votes))
    if not parts:
        return _empty_resolved(votes, confidence=ds is not None)
    out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    if n_tasks > 1:  # tasks in order of first appearance (stable: items keep their order)
        order = {name: i for i, name in enumerate(task_u)}
        out = out.iloc[np.argsort(out["task"].map(order).to_numpy(), kind="stable")]
        out = out.reset_index(drop=True)
    return out


def _keys(item_c, task_c, n_items, n_tasks, n_pair=None):
    """Number the (item, task) pairs of the votes 0..K-1: tasks in order of first appearance
    (task codes are), items in order of first appearance within a task. Returns each vote's
    key, each key's first vote and votes per key (``n_pair``: votes per pair, when known)."""
    pair = item_c * n_tasks + task_c if n_tasks > 1 else item_c
    size = n_items * n_tasks
    if size > _DENSE_LIMIT:  # through a sort
        uniq, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
        order = np.lexsort((first, uniq % n_tasks))
        rank = np.empty(len(uniq), dtype=np.int64)
        rank[order] = np.arange(len(uniq))
        key = rank[inverse.reshape(-1)]
        return key, first[order], np.bincount(key, minlength=len(uniq))
    first = np.full(size, len(pair), dtype=np.int64)
    first[pair[::-1]] = np.arange(len(pair) - 1, -1, -1)
    present = np.flatnonzero(first < len(pair))
    order = present[np.lexsort((first[present], present % n_tasks))]
    code = np.empty(size, dtype=np.int64)
    code[order] = np.arange(len(order))
    key = code[pair]
    n = np.bincount(key, minlength=len(order)) if n_pair is None else n_pair[order]
    return key, first[order], n


def _majority(group, lab, n, lab_u, rule: _Rule) -> tuple[np.ndarray, np.ndarray]:
    """Status code and label of each group from its votes (``group``, ``lab`` row-aligned;
    ``n`` votes per group)."""
    n_groups, n_labels = len(n), len(lab_u)
    if n_groups * n_labels <= _DENSE_LIMIT:
        counts = np.bincount(group * n_labels + lab, minlength=n_groups * n_labels)
        counts = counts.reshape(n_groups, n_labels)
        top = counts.argmax(axis=1)
        top_count = counts[np.arange(n_groups), top]
    else:  # many labels: count (group, label) pairs through a sort
        pair, pair_n = np.unique(group * n_labels + lab, return_counts=True)
        pair_group = pair // n_labels
        best = np.lexsort((-pair_n, pair_group))
        head = best[np.r_[True, pair_group[best][1:] != pair_group[best][:-1]]]
        top = (pair % n_labels)[head]
        top_count = pair_n[head]
    status = rule.status(n, top_count == n, 2 * top_count > n)
    label = lab_u[top]
    label[status == _NEUTRAL] = rule.neutral_label
    label[(status == _DISCARDED) | (status == _NEEDS)] = None
    return status, label


def _resolve_single(item_c, task_c, rater_c, lab, row, n_pair, labels, item_u, task_u, rater_u,
                    lab_u, rule: _Rule, votes: bool, ds: dict | None = None) -> pd.DataFrame:  # fmt: skip
    """Vectorised resolution of single-label votes: integer codes, row-aligned; ``row`` is
    each vote's position in ``labels`` (item ids are taken from there, keeping their dtype),
    None when the votes are all of its rows; ``n_pair`` the votes per (item, task) code pair
    when known; ``item_u`` the item ids of the item codes, in the column's dtype.

    The keys (item, task) are grouped by vote pattern when the patterns are cheap to find or
    the ``votes`` dicts need them anyway: the majority is then decided once per pattern (a few
    thousand, typically, for a million items).
    """
    n_tasks, n_raters, n_labels = len(task_u), len(rater_u), len(lab_u)
    key_task = None  # the task code of each key, when there are several tasks
    if row is None and n_tasks == 1:  # the item codes number all items by first appearance
        key = item_c
        n = np.bincount(key, minlength=len(item_u)) if n_pair is None else n_pair
        item_ids = item_u
        task_col = labels["task"].array[:1].take(np.zeros(len(n), dtype=np.intp))
    else:
        key, first, n = _keys(item_c, task_c, len(item_u), n_tasks, n_pair)
        key_task = task_c[first]
        first_row = first if row is None else row[first]
        item_ids = labels["item_id"].array.take(first_row)
        task_col = (
            pd.Categorical.from_codes(task_c[first], categories=task_u).astype(object)
            if n_tasks > 1
            else labels["task"].array.take(first_row)
        )
    if votes or _votes.digits_fit(n_raters, n_labels):
        names, rank_of = _votes.rater_order(rater_u)
        pattern, codes = _votes.patterns(key, n, rater_c, rank_of, lab, n_labels)
        voted = codes != n_raters * n_labels
        r, c = np.nonzero(voted)
        status, label = _majority(r, codes[r, c] % n_labels, voted.sum(axis=1), lab_u, rule)
        status, label = status[pattern], label[pattern]
    elif ds is None:
        status, label = _majority(key, lab, n, lab_u, rule)
    confidence = None
    if ds is not None:
        status, label, confidence = _dawid_skene(
            key, n, rater_c, lab, key_task, task_u, rater_u, lab_u, rule, ds
        )
    out = {
        "item_id": item_ids,
        "task": task_col,
        "label": pd.Series(label, dtype=object),
        "status": _status_column(status),
        "n_votes": n,
    }
    if votes:
        out["votes"] = _votes.dicts(codes, names, np.asarray(lab_u, dtype=object))[pattern]
    if confidence is not None:
        out["confidence"] = confidence
    return pd.DataFrame(out, copy=False)  # every column is new: nothing to copy


def _dawid_skene(key, n, rater_c, lab, key_task, task_u, rater_u, lab_u, rule: _Rule, ds: dict):
    """Status codes, labels and posteriors of the keys under Dawid-Skene, one model per task.

    The keys of a task are contiguous (:func:`_keys` numbers them task by task).
    """
    n_keys = len(n)
    confidence = np.empty(n_keys)
    chosen = np.empty(n_keys, dtype=np.int64)  # label codes of lab_u
    tasks = [0] if key_task is None else np.unique(key_task)
    for t in tasks:
        if key_task is None:
            start, stop, sel = 0, n_keys, slice(None)
        else:
            in_task = np.flatnonzero(key_task == t)
            start, stop = int(in_task[0]), int(in_task[-1]) + 1
            sel = (key >= start) & (key < stop)
        fit, classes, _ = dawid_skene_codes(
            key[sel] - start, rater_c[sel], lab[sel], stop - start, lab_u, ds, task_u[t], rater_u
        )
        top = fit.posteriors.argmax(axis=1)
        confidence[start:stop] = fit.posteriors[np.arange(stop - start), top]
        chosen[start:stop] = classes[top]
    same = np.bincount(key, weights=lab == chosen[key], minlength=n_keys)
    decided = confidence >= ds["threshold"]
    codes = {"discard": _DISCARDED, "neutral": _NEUTRAL, "tiebreak": _NEEDS}
    status = np.full(n_keys, codes[rule.policy], dtype=np.int8)
    status[decided] = _ESTIMATED
    status[decided & (same == n)] = _AGREED
    status[decided & (n == 1)] = _SINGLE
    label = np.asarray(lab_u, dtype=object)[chosen]
    label[status == _NEUTRAL] = rule.neutral_label
    label[(status == _DISCARDED) | (status == _NEEDS)] = None
    return status, label, confidence


def dawid_skene_codes(item, rater_c, lab, n_items: int, lab_u, ds: dict, task, rater_u):
    """Fit one task's Dawid-Skene model from global codes.

    Returns the fit, the label codes (of ``lab_u``) of its classes in name order (the fit's
    class order) and the rater codes in the fit's rater order.
    """
    rater_local, raters = pd.factorize(rater_c)
    if len(raters) < 2:
        raise InputError(
            f"`labels` must hold votes of two raters or more on task {task!r} for "
            f"method='dawid_skene'. Got only {[rater_u[r] for r in raters]!r} instead; add "
            "another rater's votes or use method='majority'."
        )
    present = np.unique(lab)
    classes = present[np.argsort(np.asarray(lab_u, dtype=object)[present].astype(str), kind="stable")]
    local = np.empty(int(present.max()) + 1, dtype=np.int64)
    local[classes] = np.arange(len(classes))
    fit = fit_dawid_skene(
        item, rater_local.astype(np.int64), local[lab], n_items, len(raters), len(classes),
        n_iter=ds["n_iter"], tol=ds["tol"],
    )  # fmt: skip
    return fit, classes, np.asarray(raters)


def _check_options(labels: pd.DataFrame, tasks) -> None:
    """With ``store.tasks()`` (options known), every vote must name a task and one of its options."""
    if not isinstance(tasks, pd.DataFrame) or "options" not in tasks.columns:
        return
    options = dict(zip(tasks["task"], tasks["options"], strict=True))
    for task in pd.unique(labels["task"]):
        if task not in options:
            raise InputError(
                f"`task` of every vote must be a task of `tasks`: one of {sorted(options)}. "
                f"Got {task!r} instead."
            )
        allowed = list(options[task])
        if not allowed:
            continue
        given = pd.unique(labels.loc[(labels["task"] == task).to_numpy(), "label"].dropna())
        bad = sorted(str(v) for v in given if v not in set(allowed))
        if bad:
            raise InputError(
                f"`label` of task {task!r} must be one of its options {allowed}. Got {bad!r} "
                "instead."
            )


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
