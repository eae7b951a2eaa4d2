"""Label errors: the labelled items most likely wrong, by confident learning (cleanlab)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import InputError, check_choice, check_columns
from ..active import probability_matrix

RANK_BY = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
FILTER_BY = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
             "predicted_neq_given", "low_normalized_margin", "low_self_confidence")  # fmt: skip
ISSUE_COLUMNS = ["item_id", "task", "label", "suggested_label", "suggested_probability",
                 "label_quality", "is_issue"]  # fmt: skip


def _cleanlab():
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError as exc:
        raise ImportError(
            "label_issues() needs cleanlab. Install it with: pip install 'labelwidgets[quality]' "
            "(or pip install 'cleanlab>=2.6')."
        ) from exc
    return find_label_issues, get_label_quality_scores


def _one_label_per_item(labels: pd.DataFrame, task) -> tuple[pd.DataFrame, object]:
    """``item_id, label`` with one label per item, from votes or resolved labels of one task."""
    check_columns(labels, ["item_id", "label"], "labels")
    if "task" in labels.columns:
        names = list(pd.unique(labels["task"]))
        if task is None and len(names) > 1:
            raise InputError(
                f"`task` must name one task when `labels` holds several. Got None instead; "
                f"pass one of {sorted(map(str, names))}."
            )
        task = names[0] if task is None and names else task
        if names and task not in names:
            raise InputError(
                f"`task` must be a task of `labels`: one of {sorted(map(str, names))}. Got "
                f"{task!r} instead."
            )
        labels = labels[(labels["task"] == task).to_numpy()]
    if "kind" in labels.columns:
        kinds = set(labels["kind"].dropna()) - {"label", "skip", "retract"}
        if kinds:
            raise InputError(
                f"`labels` must be class labels (kind 'label'). Got kinds {sorted(kinds)} "
                "instead; label_issues checks classification labels."
            )
        labels = labels[~labels["kind"].isin(["skip", "retract"]).to_numpy()]
    listed = []
    if labels["label"].dtype == object:  # string columns cannot hold a multi-label list
        listed = [v for v in labels["label"] if isinstance(v, list | tuple)]
    if listed:
        raise InputError(
            f"`labels` must hold one class per item. Got a multi-label answer {listed[0]!r} "
            "instead; label_issues checks single-label tasks."
        )
    df = labels.loc[labels["label"].notna().to_numpy(), ["item_id", "label"]]
    if df["item_id"].duplicated().any():  # agreeing raters give one label
        df = df.drop_duplicates()
    clash = df["item_id"][df["item_id"].duplicated()].unique()
    if len(clash):
        shown = {str(i): sorted(map(str, df.loc[df["item_id"] == i, "label"])) for i in clash[:3]}
        raise InputError(
            f"`labels` must hold one label per item. Got {len(clash)} items with several "
            f"labels ({shown}) instead; resolve the votes first: "
            "label_issues(resolve(labels), probabilities)."
        )
    if df.empty:
        raise InputError("`labels` must hold at least one labelled item. Got none.")
    return df.reset_index(drop=True), task


def label_issues(
    labels: pd.DataFrame,
    probabilities: pd.DataFrame,
    task: str | None = None,
    rank_by: str = "self_confidence",
    filter_by: str = "prune_by_noise_rate",
) -> pd.DataFrame:
    """The labelled items ranked from most to least likely wrong, with the model's suggestion.

    Confident learning (Northcutt et al., 2021) as cleanlab implements it: from out-of-sample
    class probabilities, ``cleanlab.filter.find_label_issues`` estimates how often each given
    class is really another and flags the items most likely mislabelled;
    ``cleanlab.rank.get_label_quality_scores`` scores every item.

    Parameters
    ----------
    labels : pandas.DataFrame
        One label per item: ``store.labels(task=...)`` of one rater or of agreeing raters, or
        the output of :func:`resolve` (items without a label, such as ``needs_tiebreak``, are
        left out). Columns ``item_id, label``; ``task`` (and ``kind``) when present.
    probabilities : pandas.DataFrame
        Out-of-sample model probabilities ``item_id, class, probability`` (each item's
        probabilities from a model that did not train on it, e.g. cross-validated), for every
        labelled item; rows of other items are ignored.
    task : str or None, default=None
        The task, when ``labels`` holds several.
    rank_by : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}, default="self_confidence"
        cleanlab's label quality score (``return_indices_ranked_by``).
    filter_by : str, default="prune_by_noise_rate"
        cleanlab's rule for flagging issues: one of ``"prune_by_noise_rate"``,
        ``"prune_by_class"``, ``"both"``, ``"confident_learning"``, ``"predicted_neq_given"``,
        ``"low_normalized_margin"``, ``"low_self_confidence"``.

    Returns
    -------
    pandas.DataFrame
        ``item_id, task, label, suggested_label, suggested_probability, label_quality,
        is_issue``: every labelled item, the flagged ones first in cleanlab's ranking, then the
        others by rising ``label_quality`` (ties: the order of ``labels``).
        ``suggested_label`` is the model's most probable class (ties: first in name order),
        ``suggested_probability`` its probability, ``label_quality`` cleanlab's score of the
        given label (0: surely wrong, 1: surely right).

    Raises
    ------
    InputError
        Probabilities that are not a distribution per item, labels naming a class the
        probabilities do not have, labelled items without probabilities, several labels for
        one item, an unknown ``rank_by`` or ``filter_by``.
    ImportError
        Without cleanlab (the message gives the install command).

    Examples
    --------
    >>> labels = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "label": ["cat", "cat", "dog", "dog"]})
    >>> probs = pd.DataFrame({"item_id": [i for i in "abcd" for _ in range(2)],
    ...                       "class": ["cat", "dog"] * 4,
    ...                       "probability": [0.9, 0.1, 0.05, 0.95, 0.2, 0.8, 0.1, 0.9]})
    >>> label_issues(labels, probs)[["item_id", "label", "suggested_label", "is_issue"]]
      item_id label suggested_label  is_issue
    0       b   cat             dog      True
    1       c   dog             dog     False
    2       a   cat             cat     False
    3       d   dog             dog     False
    """
    check_choice(rank_by, RANK_BY, "rank_by")
    check_choice(filter_by, FILTER_BY, "filter_by")
    given, task = _one_label_per_item(labels, task)
    items, classes, matrix = probability_matrix(probabilities)
    unknown = sorted({str(v) for v in given["label"]} - {str(c) for c in classes})
    if unknown:
        raise InputError(
            f"`label` must be one of the classes of `probabilities` {classes.tolist()}. Got "
            f"{unknown!r} instead; give the model every class the raters use."
        )
    row_of = pd.Series(np.arange(len(items)), index=pd.Index(items, dtype=object))
    rows = row_of.reindex(pd.Index(given["item_id"], dtype=object)).to_numpy()
    missing = np.isnan(rows)
    if missing.any():
        shown = given["item_id"][missing].head(5).tolist()
        raise InputError(
            f"`probabilities` must cover every labelled item. Got none for {int(missing.sum())} "
            f"items, e.g. {shown!r}; predict them out of sample (cross-validation) first."
        )
    pred = matrix[rows.astype(np.int64)]
    y = pd.Index(classes.astype(str)).get_indexer(given["label"].astype(str)).astype(np.int64)
    find_label_issues, get_label_quality_scores = _cleanlab()
    import warnings

    with warnings.catch_warnings():  # "too few examples in class k": the caller sees is_issue
        warnings.simplefilter("ignore", UserWarning)
        ranked = find_label_issues(y, pred, return_indices_ranked_by=rank_by, filter_by=filter_by,
                                   n_jobs=1)  # fmt: skip
    quality = get_label_quality_scores(y, pred, method=rank_by)
    flagged = np.zeros(len(y), dtype=bool)
    flagged[ranked] = True
    rest = np.flatnonzero(~flagged)
    order = np.concatenate([ranked, rest[np.argsort(quality[rest], kind="stable")]])
    top = pred.argmax(axis=1)
    out = pd.DataFrame(
        {
            "item_id": given["item_id"].to_numpy(dtype=object)[order],
            "task": task,
            "label": given["label"].to_numpy(dtype=object)[order],
            "suggested_label": classes[top][order],
            "suggested_probability": pred[np.arange(len(y)), top][order],
            "label_quality": quality[order],
            "is_issue": flagged[order],
        },
        columns=ISSUE_COLUMNS,
    )
    return out
