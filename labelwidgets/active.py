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
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ._validate import InputError, check_choice, check_columns

__all__ = ["UNCERTAINTY_METHODS", "probability_matrix", "uncertainty", "uncertainty_order"]

UNCERTAINTY_METHODS = ("least_confidence", "margin", "entropy")
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
    if item_ids is None:
        ids = scores.index.tolist()
    else:
        ids = [item_ids] if isinstance(item_ids, str) else list(item_ids)
    values = scores.reindex(pd.Index(ids, dtype=object)).to_numpy()
    scored = np.flatnonzero(~np.isnan(values))
    ranked = scored[np.argsort(-values[scored], kind="stable")]
    rest = np.flatnonzero(np.isnan(values))
    return [ids[i] for i in np.concatenate([ranked, rest])]
