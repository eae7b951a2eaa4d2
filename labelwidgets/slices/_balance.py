"""Representation: how each true class is spread over the slices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validate import check_columns
from ._encoding import check_by, encode_labels, slicings

BALANCE_COLUMNS = ["column", "value", "label", "n", "count", "share", "overall", "ratio"]


def class_balance(
    df: pd.DataFrame,
    y_true: str = "label",
    *,
    by: str | Sequence[str],
    intersections: bool = False,
) -> pd.DataFrame:
    """Representation: the share of each true class in every slice, against the whole.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per item.
    y_true : str, default="label"
        Column of true labels; rows where it is missing are left out.
    by : str or sequence of str
        Slicing columns (required, keyword-only); a missing value is a slice of its own.
    intersections : bool, default=False
        Also slice by every pair of ``by`` columns.

    Returns
    -------
    pandas.DataFrame
        One row per (column, value, label), every class in every slice (zero counts
        included), with columns :data:`BALANCE_COLUMNS`: ``n`` (labelled rows of the slice),
        ``count`` (of them, rows of the class), ``share = count / n``, ``overall`` (the
        class's share of all labelled rows) and ``ratio = share / overall``. A ratio below 1
        means the class is under-represented in the slice; it also equals the slice's share of
        the class divided by the slice's share of all rows.

    Examples
    --------
    >>> df = pd.DataFrame({"label": list("aabb"), "camera": ["x", "x", "x", "y"]})
    >>> class_balance(df, by="camera")[["value", "label", "count", "share", "ratio"]]
      value label  count     share     ratio
    0     x     a      2  0.666667  1.333333
    1     x     b      1  0.333333  0.666667
    2     y     a      0  0.000000  0.000000
    3     y     b      1  1.000000  2.000000
    """
    check_columns(df, [y_true], "df")
    by = check_by(df, by)
    t_all, _, classes = encode_labels(df[y_true], df[y_true])
    valid = t_all >= 0
    t = t_all[valid]
    k = len(classes)
    overall = np.bincount(t, minlength=k) / max(len(t), 1)
    frames = []
    for column, codes_all, values in slicings(df, by, intersections):
        s_count = len(values)
        codes = codes_all[valid]
        count = np.bincount(codes * k + t, minlength=s_count * k).reshape(s_count, k)
        n = count.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = count / n[:, None]
        frames.append(
            pd.DataFrame(
                {
                    "column": column,
                    "value": np.repeat(values, k),
                    "label": np.tile(classes, s_count),
                    "n": np.repeat(n, k),
                    "count": count.ravel(),
                    "share": share.ravel(),
                    "overall": np.tile(overall, s_count),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = out["share"] / out["overall"]
    return out[BALANCE_COLUMNS]
