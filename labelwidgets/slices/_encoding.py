"""Integer codes for labels and slices: everything downstream counts with ``numpy.bincount``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .._validate import InputError, check_columns


def as_list(value, what: str) -> list:
    """A column name or a list of them as a list (None: empty)."""
    if isinstance(value, str):
        return [value]
    if value is None:
        return []
    try:
        return list(value)
    except TypeError:
        raise InputError(
            f"`{what}` must be a column name or a list of column names. Got {value!r} instead."
        ) from None


def check_by(df: pd.DataFrame, by, what: str = "df") -> list[str]:
    """``by`` as a list of distinct slicing columns, at least one, all columns of ``df``."""
    columns = list(dict.fromkeys(as_list(by, "by")))
    if not columns:
        raise InputError(f"`by` must name at least one slicing column. Got {by!r} instead.")
    check_columns(df, columns, what)
    return columns


def _sorted_uniques(codes: np.ndarray, uniques) -> tuple[np.ndarray, np.ndarray]:
    """Re-number factorize codes so that the uniques are sorted (when they can be)."""
    uniques = np.asarray(uniques, dtype=object)
    if len(uniques) == 0:
        return codes, uniques
    try:
        order = np.array(sorted(range(len(uniques)), key=lambda i: uniques[i]), dtype=np.int64)
    except TypeError:  # mixed types: keep the order of first appearance
        return codes, uniques
    if (order == np.arange(len(order))).all():  # already sorted (e.g. categories)
        return codes, uniques[order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    return codes, uniques[order]


def factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (``-1`` for missing) and the values they stand for (sorted when possible).

    Examples
    --------
    >>> codes, uniques = factorize(pd.Series(["b", "a", None, "b"]))
    >>> codes.tolist(), uniques.tolist()
    ([1, 0, -1, 1], ['a', 'b'])
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniques = np.asarray(values.cat.categories, dtype=object)
        if not values.cat.ordered:
            codes, uniques = _sorted_uniques(codes, uniques)
        return codes, uniques
    codes, uniques = pd.factorize(values, sort=False)
    return _sorted_uniques(codes.astype(np.int64), uniques)


def compress(codes: np.ndarray, uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop values that no row has (unused categories, empty column pairs)."""
    counts = np.bincount(codes, minlength=len(uniques))
    observed = np.flatnonzero(counts)
    if len(observed) == len(uniques):
        return codes, uniques
    lut = np.full(len(uniques), -1, dtype=np.int64)
    lut[observed] = np.arange(len(observed))
    return lut[codes], uniques[observed]


def slice_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Slice codes over the observed values; a missing value is a slice of its own (last)."""
    codes, uniques = factorize(values)
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(uniques), codes)
        uniques = np.append(uniques, np.array([np.nan], dtype=object))
    return compress(codes, uniques)


def slicings(
    df: pd.DataFrame, by: list[str], intersections: bool
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(column name, codes, values)`` per slicing column, then per pair of columns.

    A pair is named ``"a&b"`` and its values ``"x&y"``; pairs that no row has are left out.
    """
    single = {}
    for col in by:
        single[col] = slice_codes(df[col])
        yield col, *single[col]
    if intersections:
        for a, b in itertools.combinations(by, 2):
            (ca, va), (cb, vb) = single[a], single[b]
            codes = ca * len(vb) + cb
            values = np.array([f"{x}&{y}" for x in va.tolist() for y in vb.tolist()], dtype=object)
            yield f"{a}&{b}", *compress(codes, values)


def encode_labels(
    y_true: pd.Series, y_pred: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of true and predicted labels over their union of classes (``-1`` for missing).

    The classes keep ``y_true``'s dtype and are sorted when they can be.

    Examples
    --------
    >>> t, p, classes = encode_labels(pd.Series(["cat", "dog"]), pd.Series(["owl", None]))
    >>> t.tolist(), p.tolist(), classes.tolist()
    ([0, 1], [2, -1], ['cat', 'dog', 'owl'])
    """
    t_codes, t_uni = factorize(y_true)
    p_codes, p_uni = factorize(y_pred)
    t_index = pd.Index(list(t_uni))
    p_index = pd.Index(list(p_uni))
    extra = p_index[~p_index.isin(t_index)]
    classes = t_index.append(extra) if len(extra) else t_index  # keep y_true's dtype
    try:
        classes = classes.sort_values()
    except TypeError:
        pass
    t_map = classes.get_indexer(t_index)
    p_map = classes.get_indexer(p_index)
    t = np.where(t_codes >= 0, t_map[np.maximum(t_codes, 0)] if len(t_map) else -1, -1)
    p = np.where(p_codes >= 0, p_map[np.maximum(p_codes, 0)] if len(p_map) else -1, -1)
    return t.astype(np.int64), p.astype(np.int64), classes.to_numpy()


@dataclass(frozen=True)
class Labels:
    """True and predicted class codes of the rows where both labels are present.

    ``valid`` marks those rows in the frame (None when every row has both, so no copies are
    made); ``raw_true`` and ``raw_pred`` keep their original values for callable metrics.
    """

    t: np.ndarray
    p: np.ndarray
    classes: np.ndarray
    valid: np.ndarray | None
    raw_true: np.ndarray | None = None
    raw_pred: np.ndarray | None = None

    @classmethod
    def from_frame(cls, df: pd.DataFrame, y_true: str, y_pred: str) -> Labels:
        """Encode ``df[y_true]`` and ``df[y_pred]``."""
        t, p, classes = encode_labels(df[y_true], df[y_pred])
        valid = (t >= 0) & (p >= 0)
        if valid.all():
            return cls(t, p, classes, None)
        return cls(t[valid], p[valid], classes, valid)

    def with_raw(self, y_true: pd.Series, y_pred: pd.Series) -> Labels:
        """The same labels, also holding the original values of the kept rows."""
        raw_true, raw_pred = y_true.to_numpy(), y_pred.to_numpy()
        if self.valid is not None:
            raw_true, raw_pred = raw_true[self.valid], raw_pred[self.valid]
        return replace(self, raw_true=raw_true, raw_pred=raw_pred)

    @property
    def k(self) -> int:
        """The number of classes (at least 1, so that empty data still has a shape)."""
        return max(len(self.classes), 1)

    def kept(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` (one per row of the frame) restricted to the rows with both labels."""
        return codes if self.valid is None else codes[self.valid]

    def excluded(self, codes: np.ndarray, n_slices: int) -> np.ndarray:
        """Per slice, the rows left out because a label is missing."""
        if self.valid is None:
            return np.zeros(n_slices, dtype=np.int64)
        return np.bincount(codes[~self.valid], minlength=n_slices)
