"""Out-of-sample class probabilities for labelled items, by stratified k-fold cross-validation.

Confident learning (cleanlab's ``find_label_issues``) ranks labelled items by how likely their
label is wrong, from probabilities that a model gave *without having trained on them*: a model
scoring its own training items has memorised their labels, errors included.
:func:`cross_val_probabilities` provides those probabilities in the long format that
:func:`labelwidgets.voting.label_issues` takes: ``item_id, class, probability``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._validate import InputError, check_positive_int
from .data import check_classes, check_images, check_labels, item_ids_of

__all__ = ["cross_val_probabilities"]


def cross_val_probabilities(
    estimator, images, labels, cv: int = 5, random_state: int = 0
) -> pd.DataFrame:
    """Each labelled item's class probabilities from a model that never trained on it.

    The labelled items are split into ``cv`` folds stratified by label (scikit-learn's
    ``StratifiedKFold`` with ``shuffle=True``); for each fold a fresh
    :func:`~sklearn.base.clone` of ``estimator`` is fitted on the other folds and predicts
    the fold. Every clone is given ``classes`` (the sorted labels) when it takes that
    parameter, so all folds share one class order.

    Parameters
    ----------
    estimator : estimator
        An unfitted estimator with ``fit(images, labels)``, ``predict_proba(images)`` and
        ``get_params``, such as :class:`~labelwidgets.training.Classifier`.
    images : ImageSet, ArrayImages or numpy.ndarray
        The images; only the labelled ones are used.
    labels : pandas.DataFrame
        ``item_id, label``, one label per item (e.g. ``store.labels(task=...)`` after
        resolving votes). Every class needs at least 2 labelled items, so that each fold's
        training part holds every class.
    cv : int, default=5
        Number of folds, from 2 to the number of labelled items.
    random_state : int, default=0
        Seed of the fold assignment (the estimator keeps its own ``random_state``).

    Returns
    -------
    pandas.DataFrame
        ``item_id, class, probability``: one row per labelled item and class, items in the
        order of ``labels``, classes sorted; each item's probabilities sum to 1.

    Examples
    --------
    >>> from labelwidgets.training import Classifier
    >>> from labelwidgets.voting import label_issues
    >>> proba = cross_val_probabilities(Classifier(), images, labels, cv=5)  # doctest: +SKIP
    >>> label_issues(labels, proba).head()                                 # doctest: +SKIP
    """
    from sklearn.model_selection import StratifiedKFold

    for method in ("get_params", "set_params", "fit", "predict_proba"):
        if not callable(getattr(estimator, method, None)):
            raise InputError(
                "`estimator` must be a scikit-learn-style estimator with get_params, "
                "fit(images, labels) and predict_proba(images), such as Classifier(). Got "
                f"{type(estimator).__name__} (without {method}) instead."
            )
    check_positive_int(random_state, "random_state", minimum=0)
    images = check_images(images)
    labels = check_labels(labels)
    labels = labels[labels["item_id"].isin(set(item_ids_of(images)))].reset_index(drop=True)
    n = len(labels)
    if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or not 2 <= cv <= max(n, 2):
        raise InputError(
            f"`cv` must be an integer from 2 to the number of labelled items ({n}). Got {cv!r} "
            "instead."
        )
    classes = check_classes(None, labels["label"])
    counts = labels["label"].value_counts()
    few = counts[counts < 2]
    if len(few):
        raise InputError(
            "Every class must have at least 2 labelled items, so that each fold trains on it. "
            f"Got {({c: int(k) for c, k in few.items()})} instead; label more examples of it or leave it out."
        )
    y = labels["label"].to_numpy()
    folds = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=int(random_state))
    proba = np.zeros((n, len(classes)))
    with warnings.catch_warnings():
        # a class with fewer items than folds is expected here: it is in every training part
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        splits = list(folds.split(np.zeros(n), y))
    for train, test in splits:
        model = clone(estimator)
        if "classes" in model.get_params(deep=False):
            model.set_params(classes=classes)
        model.fit(images, labels.iloc[train])
        got = _predict_items(model, images, list(labels["item_id"].iloc[test]))
        own = list(getattr(model, "classes_", classes))
        for j, c in enumerate(own):
            proba[test, classes.index(c)] = got[:, j]
    return pd.DataFrame(
        {
            "item_id": np.repeat(labels["item_id"].to_numpy(object), len(classes)),
            "class": np.tile(np.asarray(classes, dtype=object), n),
            "probability": proba.ravel(),
        }
    )


def _predict_items(model, images, item_ids) -> np.ndarray:
    """``model.predict_proba`` for these items only (all items when ``images`` has no subset)."""
    if callable(getattr(images, "subset", None)):
        return np.asarray(model.predict_proba(images.subset(item_ids)))
    proba = np.asarray(model.predict_proba(images))
    position = {item_id: i for i, item_id in enumerate(item_ids_of(images))}
    return proba[[position[i] for i in item_ids]]
