"""The picture of a self-training loop, shared by the classification and detection students."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def plot_rounds(curves: pd.DataFrame, history: pd.DataFrame, *, loss: str, loss_label: str,
                scores: Sequence[tuple[str, str]], count: str, count_label: str, ylabel: str,
                legend: str = "lower right", axes=None):  # fmt: skip
    """Learning curves per round (left) and the scores of every round (right).

    Parameters
    ----------
    curves : pandas.DataFrame
        ``round, model, epoch`` and the ``loss`` column, one row per epoch of every round.
    history : pandas.DataFrame
        One row per round: ``round``, the ``scores`` columns and the ``count`` column.
    loss, loss_label : str
        The column of ``curves`` drawn on the left, and its axis label.
    scores : sequence of (column, matplotlib style)
        The columns of ``history`` drawn on the right (those with a value).
    count, count_label : str
        A column of ``history`` drawn as grey bars relative to its largest value, and its legend.
    ylabel, legend : str
        The right panel's axis label and legend place.
    axes : sequence of two matplotlib Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    else:
        fig = axes[0].figure
    left, right = axes
    for (_, name), curve in curves.groupby(["round", "model"], sort=True):
        left.plot(curve["epoch"], curve[loss], marker=".", label=name)
    left.set(xlabel="epoch", ylabel=loss_label, title="learning curve per round")
    left.legend(fontsize="small")
    h = history
    for column, style in scores:
        if h[column].notna().any():
            right.plot(h["round"], h[column], style, label=column)
    right.bar(h["round"], h[count] / max(int(h[count].max()), 1), alpha=0.2, color="grey",
              label=count_label)
    right.set(xlabel="round (0 = teacher)", ylabel=ylabel, title="teacher vs students",
              ylim=(0, 1.02), xticks=list(h["round"]))
    right.legend(fontsize="small", loc=legend)
    fig.tight_layout()
    return fig
