"""Bars of a slice report: one panel per slicing column, intervals, overall score, flags."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .._validate import InputError, check_choice
from ._encoding import as_list
from ._report import check_report


class ReportFigure(Figure):
    """The figure :func:`plot` returns: a matplotlib Figure that shows itself in Jupyter.

    IPython registers its Figure formatter only once pyplot is set up; before that a bare
    Figure displays as ``<Figure size ...>``. ``_repr_png_`` fills that gap (a registered
    formatter takes precedence, so the image never shows twice).
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def _panel(ax, rows: pd.DataFrame, title: str, metric: str, color: str, highlight: str) -> None:
    """One column's bars: scores, interval error bars, the overall line, flagged slices."""
    x = np.arange(len(rows))
    score = rows["score"].to_numpy(float)
    low = np.nan_to_num(score - rows["ci_low"].to_numpy(float), nan=0.0).clip(0)
    high = np.nan_to_num(rows["ci_high"].to_numpy(float) - score, nan=0.0).clip(0)
    flagged = rows["flagged"].to_numpy(bool)
    ax.bar(x, np.nan_to_num(score), color=np.where(flagged, highlight, color),
           yerr=[low, high], capsize=3, ecolor="0.25")  # fmt: skip
    overall = rows["overall"].iloc[0] if len(rows) else np.nan
    if not (isinstance(overall, float) and math.isnan(overall)):
        ax.axhline(overall, color="0.2", linestyle="--", linewidth=1)
    ax.set_xticks(x, [f"{v}\nn={n}" for v, n in zip(rows["value"], rows["n"], strict=True)])
    for label, flag in zip(ax.get_xticklabels(), flagged, strict=True):
        if flag:
            label.set_color(highlight)
            label.set_fontweight("bold")
    if len(rows) > 6:
        ax.tick_params(axis="x", labelrotation=90)
    ax.set_title(title)
    ax.set_ylabel(metric)
    ax.set_ylim(0, max(1.0, float(np.nanmax(score + high, initial=0.0))) * 1.05)


def plot(
    report: pd.DataFrame,
    metric: str | None = None,
    columns: str | Sequence[str] | None = None,
    panel_size: tuple[float, float] = (4.0, 3.2),
    color: str = "tab:blue",
    highlight: str = "tab:red",
):
    """Bars of a slice report: one panel per column, with intervals and the overall score.

    Parameters
    ----------
    report : pandas.DataFrame
        A :func:`slice_report` or :func:`detection_slice_report` result.
    metric : str or None, default=None
        The metric to draw; None takes the report's first metric.
    columns : str or sequence of str or None, default=None
        Slicing columns to draw, one panel each; None draws all of them.
    panel_size : (float, float), default=(4.0, 3.2)
        Width and height of one panel, in inches.
    color : str, default="tab:blue"
        Colour of the bars of slices that are not flagged.
    highlight : str, default="tab:red"
        Colour of flagged slices (their tick labels are drawn in bold too).

    Returns
    -------
    ReportFigure
        A matplotlib Figure that is not registered with pyplot (no global state; Jupyter shows
        it when it is the value of a cell). Each bar is the slice's score, its error bar the
        interval, the dashed line the overall score; tick labels give each slice's ``n``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    check_report(report)
    metrics = list(dict.fromkeys(report["metric"]))
    if not metrics:
        raise InputError("`report` must have at least one row. Got an empty report.")
    metric = check_choice(metrics[0] if metric is None else metric, metrics, "metric")
    all_columns = list(dict.fromkeys(report["column"]))
    columns = all_columns if columns is None else as_list(columns, "columns")
    for col in columns:
        check_choice(col, all_columns, "columns")

    fig = ReportFigure(figsize=(panel_size[0] * len(columns), panel_size[1]), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    for ax, col in zip(axes, columns, strict=True):
        rows = report[(report["column"] == col) & (report["metric"] == metric)]
        _panel(ax, rows, col, metric, color, highlight)
    fig.legend(
        handles=[
            Patch(color=color, label="slice"),
            Patch(color=highlight, label="flagged"),
            Line2D([], [], color="0.2", linestyle="--", linewidth=1, label="overall"),
        ],
        loc="outside upper center",
        ncols=3,
        fontsize="small",
        frameon=False,
    )
    return fig
