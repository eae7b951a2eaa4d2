"""Active learning: which items to label next, from a model's class probabilities.

Probabilities come as a long DataFrame ``item_id, class, probability`` (one row per item and
class: what a cross-validated classifier or a model's predictions give), or as a 2-D array
(one row per item). The scores are the three classic uncertainty measures (Settles, *Active
Learning Literature Survey*, 2009); higher always means more uncertain:

* ``"least_confidence"``: ``1 - p_max``;
* ``"margin"``: ``1 - (p_first - p_second)``, the two highest probabilities;
* ``"entropy"``: ``-sum_k p_k log p_k`` (natural log; ``0 log 0 = 0``).

:func:`uncertainty_order` turns the scores into a queue order, the most uncertain first: the
order a tagger shows items in when it learns from a model in the loop.

Predictions in the store
------------------------
A model's predictions for a single-label task live in the label store as ``source="model"``
rows (:func:`write_probabilities`): per item one ``kind="label"`` row whose ``label`` is the
most probable class, ``confidence`` its probability, ``rater`` and ``model`` the model's name,
and ``attributes["probabilities"]`` the whole distribution ``{class: probability}``.
:func:`stored_uncertainty` reads them back: the latest prediction per item and task counts;
margin and entropy need the stored distribution, least confidence works from ``confidence``
alone (rows written by other tools). ``MultiTaskTagger(..., order="uncertainty")`` orders its
queue this way and re-orders the items not yet shown each time the rater moves on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._tasks import MultiLabel
from ._validate import InputError, check_choice, check_columns, check_name

__all__ = ["UNCERTAINTY_METHODS", "ORDERS", "probability_matrix", "uncertainty",
           "uncertainty_order", "rank_items", "write_probabilities", "stored_uncertainty",
           "UncertaintyRank", "predictions_version"]  # fmt: skip

UNCERTAINTY_METHODS = ("least_confidence", "margin", "entropy")
#: The queue orders a tagger takes: ``"uncertainty"`` is least confidence.
ORDERS = {"uncertainty": "least_confidence", **{m: m for m in UNCERTAINTY_METHODS}}
#: How far an item's probabilities may sum from 1.
SUM_TOLERANCE = 1e-3


def probability_matrix(probabilities: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A long probability frame as a matrix, checked.

    Parameters
    ----------
    probabilities : pandas.DataFrame
        Columns ``item_id, class, probability``: one row per item and class, every item with
        every class, probabilities in [0, 1] summing to 1 per item (within 1e-3; the matrix
        is rescaled to sum to 1 exactly).

    Returns
    -------
    item_ids : numpy.ndarray of object
        The items, in order of first appearance.
    classes : numpy.ndarray of object
        The classes, in name order.
    matrix : numpy.ndarray, shape (n_items, n_classes)

    Raises
    ------
    InputError
        Naming the bad values: a missing column, a probability that is not a number in
        [0, 1], an (item, class) given twice, an item without some class, an item whose
        probabilities do not sum to 1.

    Examples
    --------
    >>> probs = pd.DataFrame({"item_id": ["a", "a", "b", "b"], "class": ["cat", "dog"] * 2,
    ...                       "probability": [0.9, 0.1, 0.4, 0.6]})
    >>> items, classes, matrix = probability_matrix(probs)
    >>> items.tolist(), classes.tolist(), matrix.tolist()
    (['a', 'b'], ['cat', 'dog'], [[0.9, 0.1], [0.4, 0.6]])
    """
    check_columns(probabilities, ["item_id", "class", "probability"], "probabilities")
    if probabilities.empty:
        raise InputError("`probabilities` must hold at least one row. Got an empty frame instead.")
    try:
        p = pd.to_numeric(probabilities["probability"]).to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"`probability` must hold numbers in [0, 1]. Got {exc} instead."
        ) from None
    bad = ~(np.isfinite(p) & (p >= 0) & (p <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"`probability` must be a number in [0, 1]. Got {float(p[i])!r} for item "
            f"{probabilities['item_id'].iloc[i]!r}, class {probabilities['class'].iloc[i]!r} "
            "instead."
        )
    if probabilities["item_id"].isna().any() or probabilities["class"].isna().any():
        raise InputError("`probabilities` must have no missing item_id or class.")
    item_c, item_u = pd.factorize(probabilities["item_id"])
    class_c, class_u = pd.factorize(probabilities["class"])
    by_name = np.argsort(np.asarray(class_u, dtype=str), kind="stable")
    rank = np.empty(len(class_u), dtype=np.int64)
    rank[by_name] = np.arange(len(class_u))
    class_c = rank[class_c]
    classes = np.asarray(class_u, dtype=object)[by_name]
    n_items, n_classes = len(item_u), len(classes)
    cell = item_c.astype(np.int64) * n_classes + class_c
    count = np.bincount(cell, minlength=n_items * n_classes).reshape(n_items, n_classes)
    if (count > 1).any():
        i, k = np.argwhere(count > 1)[0]
        raise InputError(
            f"`probabilities` must hold one row per (item_id, class). Got {int(count[i, k])} rows "
            f"for item {item_u[i]!r}, class {classes[k]!r} instead."
        )
    if (count == 0).any():
        i = int(np.flatnonzero((count == 0).any(axis=1))[0])
        missing = classes[count[i] == 0].tolist()
        raise InputError(
            f"`probabilities` must give every item a probability for every class "
            f"{classes.tolist()}. Got item {item_u[i]!r} without {missing} instead."
        )
    matrix = np.zeros(n_items * n_classes)
    matrix[cell] = p
    matrix = matrix.reshape(n_items, n_classes)
    sums = matrix.sum(axis=1)
    off = np.abs(sums - 1) > SUM_TOLERANCE
    if off.any():
        shown = {str(item_u[i]): round(float(sums[i]), 6) for i in np.flatnonzero(off)[:5]}
        raise InputError(
            f"`probabilities` of each item must sum to 1 (within {SUM_TOLERANCE:g}). Got sums "
            f"{shown} ({int(off.sum())} items) instead; pass a model's softmax output."
        )
    return np.asarray(item_u, dtype=object), classes, matrix / sums[:, None]


def _scores(matrix: np.ndarray, method: str) -> np.ndarray:
    if method == "least_confidence":
        return 1.0 - matrix.max(axis=1)
    if method == "margin":
        if matrix.shape[1] < 2:
            return np.zeros(len(matrix))
        top2 = np.sort(matrix, axis=1)[:, -2:]
        return 1.0 - (top2[:, 1] - top2[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(matrix > 0, np.log(matrix), 0.0)
    return -np.sum(matrix * logs, axis=1)


def uncertainty(probabilities, method: str = "least_confidence"):
    """How uncertain a model is about each item (higher: more uncertain).

    Parameters
    ----------
    probabilities : pandas.DataFrame or numpy.ndarray
        A long frame ``item_id, class, probability`` (checked as in
        :func:`probability_matrix`), or an array (n_items, n_classes) of rows summing to 1.
    method : {"least_confidence", "margin", "entropy"}, default="least_confidence"
        The score (see the module docstring).

    Returns
    -------
    pandas.Series or numpy.ndarray
        For a frame: a float Series indexed by ``item_id`` (order of first appearance), named
        after ``method``; for an array: an array of scores.

    Examples
    --------
    >>> probs = pd.DataFrame({"item_id": ["a", "a", "b", "b"], "class": ["cat", "dog"] * 2,
    ...                       "probability": [0.9, 0.1, 0.5, 0.5]})
    >>> uncertainty(probs, "margin").round(3).to_dict()
    {'a': 0.2, 'b': 1.0}
    """
    check_choice(method, UNCERTAINTY_METHODS, "method")
    if isinstance(probabilities, np.ndarray):
        matrix = probabilities.astype(float, copy=False)
        if matrix.ndim != 2 or not len(matrix) or not np.isfinite(matrix).all():
            raise InputError(
                "`probabilities` must be a 2-D array of finite numbers, one row per item. Got "
                f"an array of shape {probabilities.shape} instead."
            )
        sums = matrix.sum(axis=1)
        if (matrix < 0).any() or (np.abs(sums - 1) > SUM_TOLERANCE).any():
            raise InputError(
                "`probabilities` rows must be non-negative and sum to 1. Got row sums "
                f"{np.unique(sums.round(6))[:5].tolist()} instead."
            )
        return _scores(matrix / sums[:, None], method)
    items, _, matrix = probability_matrix(probabilities)
    return pd.Series(_scores(matrix, method), index=pd.Index(items, name="item_id"), name=method)


def uncertainty_order(
    probabilities: pd.DataFrame,
    method: str = "least_confidence",
    item_ids: Iterable[str] | None = None,
) -> list[str]:
    """Item ids in the order to label them: the most uncertain first.

    Parameters
    ----------
    probabilities : pandas.DataFrame
        ``item_id, class, probability`` (a model's predictions for the unlabelled items).
    method : {"least_confidence", "margin", "entropy"}, default="least_confidence"
        The uncertainty score.
    item_ids : iterable of str or None, default=None
        The items to order (a tagger's queue). Items without probabilities follow the scored
        ones, in the order given. None: the items of ``probabilities``.

    Returns
    -------
    list of str
        Scored items by decreasing uncertainty (ties: the order of ``item_ids``, else of
        ``probabilities``), then the unscored ones.

    Examples
    --------
    >>> probs = pd.DataFrame({"item_id": ["a", "a", "b", "b"], "class": ["cat", "dog"] * 2,
    ...                       "probability": [0.9, 0.1, 0.5, 0.5]})
    >>> uncertainty_order(probs, item_ids=["c", "a", "b"])
    ['b', 'a', 'c']
    """
    scores = uncertainty(probabilities, method)
    return rank_items(scores, scores.index.tolist() if item_ids is None else item_ids)


def rank_items(scores: pd.Series, item_ids: Iterable[str]) -> list[str]:
    """``item_ids`` by decreasing score; items without a score follow in the order given.

    Ties keep the order of ``item_ids``. ``scores`` is indexed by item id (NaN: no score).

    Examples
    --------
    >>> rank_items(pd.Series({"a": 0.1, "b": 0.7}), ["c", "a", "b"])
    ['b', 'a', 'c']
    """
    ids = [item_ids] if isinstance(item_ids, str) else list(item_ids)
    values = scores.reindex(pd.Index(ids, dtype=object)).to_numpy(dtype=float)
    scored = np.flatnonzero(~np.isnan(values))
    ranked = scored[np.argsort(-values[scored], kind="stable")]
    rest = np.flatnonzero(np.isnan(values))
    return [ids[i] for i in np.concatenate([ranked, rest])]


def probability_rows(items, classes, matrix, task: str, model: str,
                     round: int | None = None) -> list[dict]:  # fmt: skip
    """Store rows of a model's predictions, one per item (what :func:`write_probabilities` writes).

    ``items``, ``classes`` and ``matrix`` as :func:`probability_matrix` returns them: ``label`` is
    the most probable class (ties to the first), ``confidence`` its probability and
    ``attributes["probabilities"]`` the whole distribution.
    """
    names = [str(c) for c in classes]
    top = np.asarray(matrix).argmax(axis=1)
    return [
        {"item_id": str(item), "task": task, "rater": model, "kind": "label", "source": "model",
         "label": names[k], "confidence": float(p[k]), "model": model, "round": round,
         "attributes": {"probabilities": dict(zip(names, p.tolist(), strict=True))}}
        for item, k, p in zip(items, top, matrix, strict=True)
    ]  # fmt: skip


def write_probabilities(
    store, task: str, probabilities: pd.DataFrame, model: str, round: int | None = None
) -> str:
    """Record a model's predictions for ``task`` in the store, with each item's distribution.

    One ``source="model"`` row per item, all in one submission (one transaction): ``label``
    the most probable class (ties: the first in name order), ``confidence`` its probability,
    ``rater`` and ``model`` the model's name, ``round`` as given, and
    ``attributes["probabilities"]`` the whole distribution ``{class: probability}``. A newer
    call for the same item replaces it in the current views (the log keeps every call).

    Parameters
    ----------
    store : LabelStore
        Where the rows go; the items must be in it (``images.to_store(store)``).
    task : str
        A single-label task. When it is registered in the store, every class must be one of
        its options.
    probabilities : pandas.DataFrame
        ``item_id, class, probability``, checked as in :func:`probability_matrix`.
    model : str
        The model's name (the rows' ``rater`` and ``model``).
    round : int or None, default=None
        The training round, for the record.

    Returns
    -------
    str
        The submission id (``store.retract`` it to withdraw the predictions).

    Raises
    ------
    InputError
        Bad probabilities, a class that is not an option of the registered task, a bad name.
    """
    check_name(task, "task")
    check_name(model, "model")
    items, classes, matrix = probability_matrix(probabilities)
    defined = store.tasks()
    options = defined.loc[defined["task"] == task, "options"]
    if len(options):
        unknown = sorted({str(c) for c in classes} - set(options.iloc[-1]))
        if unknown:
            raise InputError(
                f"`probabilities` classes must be options of task {task!r} {options.iloc[-1]}. "
                f"Got {unknown} instead."
            )
    rows = probability_rows(items, classes, matrix, task, model, round)
    return store.append(rows)


def _parsed(values) -> list:
    """JSON texts (or dicts, or missing values) as Python objects; unreadable ones as None."""
    texts = [v if isinstance(v, str) else "null" for v in values]
    try:
        out = json.loads("[" + ",".join(texts) + "]")  # one parse for the column
    except ValueError:
        out = []
        for text in texts:
            try:
                out.append(json.loads(text))
            except ValueError:
                out.append(None)
    return [v if isinstance(v, dict) else out[i] for i, v in enumerate(values)]


def _distributions(attributes) -> tuple[np.ndarray, np.ndarray]:
    """The ``attributes["probabilities"]`` of each row as a zero-padded matrix, and which rows
    hold one (numbers >= 0, finite, summing to 1 within the tolerance; rescaled to 1)."""
    found = [a.get("probabilities") if isinstance(a, dict) else None for a in _parsed(attributes)]
    found = [list(d.values()) if isinstance(d, dict) else [] for d in found]
    width = max([len(v) for v in found] or [0]) or 1
    ok = np.array([len(v) > 0 for v in found], dtype=bool)
    try:  # one conversion for the whole column
        matrix = np.array([v + [0.0] * (width - len(v)) for v in found], dtype=float)
    except (TypeError, ValueError):  # some row holds a non-number: fill row by row
        matrix = np.zeros((len(found), width))
        for i, values in enumerate(found):
            try:
                matrix[i, : len(values)] = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                ok[i] = False
    matrix = matrix.reshape(len(found), width)
    sums = matrix.sum(axis=1)
    ok &= np.isfinite(matrix).all(axis=1) & (matrix >= 0).all(axis=1)
    ok &= np.abs(sums - 1) <= SUM_TOLERANCE
    matrix[ok] /= sums[ok, None]
    return matrix, ok


def stored_uncertainty(
    rows: pd.DataFrame, method: str = "least_confidence", tasks: Sequence[str] | None = None
) -> pd.Series:
    """Each item's uncertainty from the model predictions among ``rows`` (a store's rows).

    Per (item, task) the latest ``source="model"`` label row counts (highest
    ``annotation_id``, whichever model wrote it). Its score comes from
    ``attributes["probabilities"]`` when that holds a distribution; without one, least
    confidence is ``1 - confidence`` and margin and entropy are unknown. An item's score is its
    highest over ``tasks`` (the task the model is least sure of decides). Rows that hold
    neither are ignored rather than refused: they may come from any tool, and the order must
    not fail a rater's submit.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``store.current(source="model")`` (any rows of the store's columns; others are ignored).
    method : {"least_confidence", "margin", "entropy"}, default="least_confidence"
        The score (see the module docstring).
    tasks : sequence of str or None, default=None
        The single-label tasks to read (None: every task of ``rows``).

    Returns
    -------
    pandas.Series
        Score per scored item, indexed by ``item_id`` (sorted), named after ``method``.

    Examples
    --------
    >>> rows = pd.DataFrame({"annotation_id": [1, 2, 3], "item_id": ["a", "b", "a"],
    ...     "task": "shape", "kind": "label", "source": "model", "label": ["o", "x", "x"],
    ...     "confidence": [0.9, 0.6, 0.8],
    ...     "attributes": [None, None, '{"probabilities": {"o": 0.2, "x": 0.8}}']})
    >>> stored_uncertainty(rows, "margin").round(3).to_dict()
    {'a': 0.4}
    >>> stored_uncertainty(rows).round(3).to_dict()
    {'a': 0.2, 'b': 0.4}
    """
    check_choice(method, UNCERTAINTY_METHODS, "method")
    check_columns(rows, ["annotation_id", "item_id", "task", "kind", "source", "label",
                         "confidence", "attributes"], "rows")  # fmt: skip
    keep = (rows["source"] == "model") & (rows["kind"] == "label") & rows["label"].notna()
    if tasks is not None:
        keep &= rows["task"].isin(list(tasks))
    latest = rows[keep.to_numpy()].sort_values("annotation_id", kind="stable")
    latest = latest.drop_duplicates(["item_id", "task"], keep="last")
    matrix, full = _distributions(latest["attributes"].tolist())  # zero padding changes no score
    score = np.full(len(latest), np.nan)
    score[full] = _scores(matrix[full], method)
    if method == "least_confidence":
        conf = pd.to_numeric(latest["confidence"], errors="coerce").to_numpy(dtype=float)
        top = ~full & np.isfinite(conf) & (conf >= 0) & (conf <= 1)
        score[top] = 1.0 - conf[top]
    per_item = pd.Series(score, index=pd.Index(latest["item_id"], dtype=object))
    out = per_item.dropna().groupby(level=0).max()
    out.index.name = "item_id"
    return out.rename(method)


def predictions_version(store) -> int | None:
    """The id of the newest ``source="model"`` annotation in ``store`` (None: there is none).

    Predictions, and retractions of them, only ever add rows with higher ids, so the same
    version means the same current predictions: a cheap check before reading them again.
    """
    return store.predictions_version()


class UncertaintyRank:
    """The ranking a tagger re-orders its queue with, from the predictions in the store.

    ``UncertaintyRank(order, tasks)(store)`` returns ``rank(item_ids) -> item_ids`` by
    decreasing :func:`stored_uncertainty` over the single-label ``tasks`` of the store's
    current ``source="model"`` rows; items without a prediction follow in the order given
    (:func:`rank_items`). The predictions are read and scored again only when
    :func:`predictions_version` changed since the last call (a tagger asks at every step;
    predictions change once per model run).

    Parameters
    ----------
    order : {"uncertainty", "least_confidence", "margin", "entropy"}
        A key of :data:`ORDERS` (``"uncertainty"`` is least confidence).
    tasks : dict
        Task name -> options (multi-label tasks are left out).

    Attributes
    ----------
    scores : pandas.Series or None
        The scores of the last read, indexed by ``item_id``.
    """

    def __init__(self, order: str, tasks: Mapping[str, Sequence[str]]):
        check_choice(order, [*ORDERS], "order")
        self.method = ORDERS[order]
        self.tasks = [name for name, opts in tasks.items() if not isinstance(opts, MultiLabel)]
        self.scores: pd.Series | None = None
        self._version = None

    def __call__(self, store):
        """``rank(item_ids)`` by the newest predictions in ``store`` (a LabelStore)."""
        version = predictions_version(store)
        if self.scores is None or version != self._version:
            self.scores = stored_uncertainty(store.current(source="model"), self.method, self.tasks)
            self._version = version
        scores = self.scores
        return lambda item_ids: rank_items(scores, item_ids)
