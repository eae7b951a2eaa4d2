"""The one place for input checks and the one error type for what the user gave (core layer).

Every check raises :class:`InputError` with one template: "`<name>` must be <constraint>. Got
<value!r> instead." plus the fix when there is one. Widgets show an ``InputError``'s message in
their status line; any other exception is an internal error (logged with its traceback).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = [
    "InputError",
    "RESERVED_COLUMNS",
    "check_choice",
    "check_name",
    "check_names",
    "check_positive_int",
    "check_fraction",
    "check_columns",
    "name_key",
]

#: Columns of ``LabelStore.table()`` and ``ImageSet.items`` that a task may not be named after.
RESERVED_COLUMNS = ("item_id", "path", "width", "height")


class InputError(ValueError):
    """A value the user gave is not allowed; the message names it and what would be allowed.

    A subclass of :class:`ValueError`, so ``except ValueError`` still catches it.
    """


def _control_chars(text: str) -> list[str]:
    """The control characters (Unicode category Cc, NUL included) in ``text``."""
    return sorted({c for c in text if unicodedata.category(c) == "Cc"})


def check_name(value, what: str = "name") -> str:
    """``value`` as a name: a non-empty string without NUL or other control characters.

    SQLite stores control characters and then fails filtered reads on them, and no annotation
    file format can hold them, so they are refused at write time.

    Examples
    --------
    >>> check_name("rose", "option")
    'rose'
    >>> check_name("ro\\x00se", "option")
    Traceback (most recent call last):
    ...
    labelwidgets._validate.InputError: `option` must not contain control characters. Got 'ro\\x00se' (holding '\\x00') instead.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"`{what}` must be a non-empty string. Got {value!r} instead.")
    bad = _control_chars(value)
    if bad:
        raise InputError(
            f"`{what}` must not contain control characters. Got {value!r} (holding "
            f"{''.join(bad)!r}) instead."
        )
    return value


def name_key(name: str) -> str:
    """The form under which two names count as the same: NFKC, case-folded, stripped."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def check_names(values, what: str = "classes") -> list[str]:
    """``values`` as a list of distinct names (class names, options, attributes).

    Names that differ only by case, surrounding spaces or Unicode normalisation (``"Cat"``,
    ``"cat "``, ``"ｃａｔ"``) are refused: a rater cannot tell them apart and exported files
    would merge or split them unpredictably.

    Raises
    ------
    InputError
        Naming ``what``, the bad values and what is allowed.

    Examples
    --------
    >>> check_names(["cat", "dog"])
    ['cat', 'dog']
    >>> check_names(["cat", "Cat"])
    Traceback (most recent call last):
    ...
    labelwidgets._validate.InputError: `classes` must be distinct names, ignoring case, surrounding spaces and Unicode normalisation. Got ['cat', 'Cat'] as one name instead.
    """
    if (
        isinstance(values, str)
        or not isinstance(values, Sequence | np.ndarray | pd.Index)
        or not len(values)
    ):
        raise InputError(f"`{what}` must be a non-empty list of names. Got {values!r} instead.")
    names = list(values)
    bad = [v for v in names if not isinstance(v, str) or not v.strip()]
    if bad:
        raise InputError(f"`{what}` must hold non-empty strings. Got {bad!r} instead.")
    for name in names:
        check_name(name, what)
    repeated = sorted({v for v in names if names.count(v) > 1})
    if repeated:
        raise InputError(f"`{what}` must be unique. Got {repeated!r} more than once.")
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name_key(name), []).append(name)
    clash = next((g for g in groups.values() if len(g) > 1), None)
    if clash:
        raise InputError(
            f"`{what}` must be distinct names, ignoring case, surrounding spaces and Unicode "
            f"normalisation. Got {clash!r} as one name instead."
        )
    return names


def check_choice(value, allowed: Sequence, what: str):
    """``value`` if it is one of ``allowed``, else an :class:`InputError` naming both."""
    try:
        ok = value in allowed
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        raise InputError(f"`{what}` must be one of {list(allowed)}. Got {value!r} instead.")
    return value


def check_positive_int(value, what: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InputError(f"`{what}` must be an integer >= {minimum}. Got {value!r} instead.")
    return int(value)


def check_fraction(
    value,
    what: str,
    low: float = 0.0,
    high: float = 1.0,
    *,
    closed_low: bool = False,
    closed_high: bool = True,
) -> float:
    """``value`` as a float in ``(low, high]``; ``closed_low`` / ``closed_high`` pick the ends.

    Examples
    --------
    >>> check_fraction(0.95, "ci", closed_high=False)
    0.95
    >>> check_fraction(1, "ci", closed_high=False)
    Traceback (most recent call last):
    ...
    labelwidgets._validate.InputError: `ci` must be a number in (0, 1). Got 1 instead.
    """
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= low if closed_low else value > low)
    ok = ok and (value <= high if closed_high else value < high)
    if not ok:
        interval = f"{'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"
        raise InputError(f"`{what}` must be a number in {interval}. Got {value!r} instead.")
    return float(value)


def check_columns(df, required: Sequence[str], what: str = "df") -> None:
    """Raise an :class:`InputError` naming the missing columns of ``df``."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"`{what}` must be a pandas DataFrame. Got {type(df).__name__!r} instead.")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"`{what}` must have columns {list(required)}. Missing {missing}; got "
            f"{list(df.columns)} instead."
        )
