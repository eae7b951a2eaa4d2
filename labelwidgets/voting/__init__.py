"""Voting: assignment, resolution (majority or Dawid-Skene), agreement, rater quality, label errors.

The workflow: :func:`assign` gives every item to two raters (or more); each labels their queue
in a :class:`~labelwidgets.MultiTaskTagger`; :func:`resolve` turns the store's votes into one
label per item and task under a policy; items whose two votes differ wait, under the
``"tiebreak"`` policy, for a third rater in a :class:`labelwidgets.TiebreakQueue` (a widget,
so it lives in the widget layer, not here); :func:`agreement` reports
how far the raters agree (percent agreement, Cohen's kappa, Krippendorff's alpha, Gwet's AC1,
with bootstrap intervals); :func:`rater_quality` estimates each rater's accuracy, confusion
matrix and speed; :func:`label_issues` ranks labelled items by how likely they are wrong,
from a model's out-of-sample probabilities; :func:`finished` gives the items whose every task
is decided, and what the others still need.

With ``resolve(..., method="dawid_skene")`` a single-label task is resolved by a Dawid-Skene
model instead of vote counts (see :func:`resolve`); the rules below are those of the default
``method="majority"``.

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

Modules: ``_assign`` (:func:`assign`), ``_resolve`` (:func:`resolve`, single- and multi-label
votes), ``_dawid_skene`` (the EM fit), ``_votes`` (its read-only ``votes`` dicts), ``_boxes``
(box matching and resolution), ``_agreement`` (kappa, alpha, AC1, intervals, the agreement
table, confusion), ``_quality`` (:func:`rater_quality`), ``_issues`` (:func:`label_issues`),
``_finished`` (:func:`finished`), ``_common`` (constants, input checks, the policy rule).
"""

from ._agreement import agreement, cohen_kappa, confusion, krippendorff_alpha, plot_confusion
from ._assign import assign
from ._boxes import match_boxes
from ._common import METHODS, POLICIES, RESOLVED_COLUMNS, STATUSES
from ._finished import NEEDS, Finished, finished
from ._issues import label_issues
from ._quality import plot_rater_quality, rater_quality
from ._resolve import resolve
from ._votes import Votes

__all__ = [
    "NEEDS",
    "Finished",
    "METHODS",
    "POLICIES",
    "RESOLVED_COLUMNS",
    "STATUSES",
    "Votes",
    "agreement",
    "assign",
    "cohen_kappa",
    "confusion",
    "finished",
    "krippendorff_alpha",
    "label_issues",
    "match_boxes",
    "plot_confusion",
    "plot_rater_quality",
    "rater_quality",
    "resolve",
]
