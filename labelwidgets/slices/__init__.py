"""Slice-based evaluation: metrics per metadata slice, with confidence intervals, flags and plots.

A model can look good overall and fail on a group of items: one camera, night images, the items
one rater labeled, or the items whose label is a pseudo label. :func:`slice_report` computes each
metric on every value of every slicing column (and, on request, on pairs of columns) and compares
it with the score on the whole data.

Everything is computed from per-slice counts (``numpy.bincount`` over integer codes), never with
a Python loop over rows: a slice's accuracy, precision, recall and F1 follow from its true
positives and its true and predicted class totals. Bootstrap intervals resample each slice's
confusion counts with one multinomial draw per replicate, which is the same distribution as
resampling the slice's rows with replacement, at a cost that does not grow with the rows.

The package, by concern: ``_encoding`` (labels and slice values to integer codes), ``_metrics``
(metric names to scores from counts), ``_intervals`` (Wilson and bootstrap), ``_report``
(:func:`slice_report`, :func:`differences` and the one routine that lays out report rows),
``_balance`` (:func:`class_balance`), ``_store`` (:func:`slice_frame`), ``_detection``
(:func:`detection_slice_report`) and ``_plot`` (:func:`plot`).

Functions
---------
slice_report
    One row per (column, value, metric): score, interval, overall score, gap and flag.
class_balance
    Representation: the share of each true class in every slice against the whole.
differences
    The ``MetricFrame.difference()`` summary of a report (between groups or to overall).
slice_frame
    Join the store's item metadata and labels with predictions, ready for :func:`slice_report`.
detection_slice_report
    Per-slice precision and recall of boxes at an IoU threshold.
wilson_interval
    The Wilson score interval of a proportion.
plot
    A matplotlib figure, one panel per slicing column.
"""

from __future__ import annotations

from ._balance import BALANCE_COLUMNS, class_balance
from ._detection import detection_slice_report
from ._intervals import wilson_interval
from ._plot import ReportFigure, plot
from ._report import REPORT_COLUMNS, differences, slice_report
from ._store import slice_frame

__all__ = [
    "REPORT_COLUMNS",
    "BALANCE_COLUMNS",
    "slice_report",
    "class_balance",
    "differences",
    "slice_frame",
    "detection_slice_report",
    "wilson_interval",
    "plot",
    "ReportFigure",
]
