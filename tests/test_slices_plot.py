"""Tests of the report plot: panels, bars, intervals, flagged colours."""

from __future__ import annotations

import pytest
from slices_data import make_frame

from labelwidgets._validate import InputError
from labelwidgets.slices import plot, slice_report


def test_plot_panels_bars_and_highlights():
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    df = make_frame(n=3000, seed=12)
    report = slice_report(df, by=["camera", "lighting"], metrics=["accuracy", "f1"], n_boot=100)
    fig = plot(report)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["camera", "lighting"]
    light = fig.axes[1]
    rows = report[(report["column"] == "lighting") & (report["metric"] == "accuracy")]
    bars = light.patches
    assert [b.get_height() for b in bars] == pytest.approx(rows["score"].tolist())
    flagged = rows["flagged"].tolist()
    assert flagged[2]  # night
    expected = [to_rgba("tab:red" if f else "tab:blue") for f in flagged]
    assert [tuple(b.get_facecolor()) for b in bars] == expected
    assert any(
        line.get_ydata()[0] == pytest.approx(rows["overall"].iloc[0]) for line in light.lines
    )
    assert light.get_ylabel() == "accuracy"
    assert fig._repr_png_().startswith(b"\x89PNG")  # shows in Jupyter without pyplot
    fig = plot(report, metric="f1", columns="lighting")
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "f1"
    with pytest.raises(
        InputError, match=r"`metric` must be one of \['accuracy', 'f1'\]. Got 'auc'"
    ):
        plot(report, metric="auc")
    with pytest.raises(
        InputError, match=r"`columns` must be one of \['camera', 'lighting'\]. Got 'rater'"
    ):
        plot(report, columns=["rater"])
    with pytest.raises(InputError, match=r"`report` must have columns .*Missing \['flagged'\]"):
        plot(report.drop(columns="flagged"))
    with pytest.raises(InputError, match=r"`report` must have at least one row"):
        plot(report.iloc[:0])
