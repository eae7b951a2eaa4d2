"""Checks shared by the widgets and the formats: one place, one wording."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["check_names"]


def check_names(values, name: str = "classes") -> list[str]:
    """``values`` as a list of distinct, non-empty strings (class names, options, attributes).

    Raises
    ------
    ValueError
        Naming ``name``, the bad values and what is allowed.
    """
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray | pd.Index) or not len(values):
        raise ValueError(f"`{name}` must be a non-empty list of names. Got {values!r} instead.")
    names = list(values)
    bad = [v for v in names if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ValueError(f"`{name}` must hold non-empty strings. Got {bad!r} instead.")
    repeated = sorted({v for v in names if names.count(v) > 1})
    if repeated:
        raise ValueError(f"`{name}` must be unique. Got {repeated!r} more than once.")
    return names
