"""The ``votes`` column of :func:`~labelwidgets.voting.resolve` for single-label tasks.

One dict rater -> label per (item, task) would cost a Python dict per item: at a million
items that is most of ``resolve``'s time. But the votes take few distinct forms (two or three
of ten raters, five classes: some thousands), so the items are grouped by *vote pattern* with
integer arithmetic, one dict is built per pattern, and every item of a pattern points at it.
Shared dicts must not change, so they are :class:`Votes`: read-only dicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# float64 holds every integer up to 2**53 exactly
_EXACT = 2**53


class Votes(dict):
    """A read-only dict rater -> answer, shared by every row of ``resolve()`` with the same votes.

    It is a ``dict`` for every read (``==``, ``in``, ``items()``, ``json.dumps``, pickling);
    any change raises ``TypeError``. ``dict(votes)`` or ``votes.copy()`` gives an editable copy.
    """

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError(
            "`votes` dicts returned by resolve() must stay unchanged (rows with the same votes "
            f"share one). Got a change to {dict(self)!r}; edit a copy instead: dict(votes)."
        )

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):
        return type(self), (dict(self),)


def _first_of(codes: np.ndarray, size: int) -> np.ndarray:
    """Position of the first occurrence of each code ``0 .. size - 1`` (every code occurs)."""
    first = np.empty(size, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


def _patterns(grid: np.ndarray, base: int) -> np.ndarray:
    """Number the distinct rows of ``grid`` (values in ``0 .. base - 1``) from 0.

    Rows are read as numbers in base ``base``: through a lookup table when the number space is
    small, through a sort when it fits int64, column by column otherwise.
    """
    n_rows, width = grid.shape
    space = base**width  # a Python int: no overflow
    if space < 2**62:
        sig = grid[:, 0].copy()
        for j in range(1, width):
            sig *= base
            sig += grid[:, j]
        if space <= 8 * n_rows + (1 << 16):
            seen = np.zeros(space, dtype=bool)
            seen[sig] = True
            return (np.cumsum(seen) - 1)[sig]
        return np.unique(sig, return_inverse=True)[1].reshape(-1)
    pattern = grid[:, 0]
    for j in range(1, width):
        pattern = np.unique(pattern * base + grid[:, j], return_inverse=True)[1].reshape(-1)
    return pattern


def rater_order(rater_names) -> tuple[np.ndarray, np.ndarray]:
    """The rater names sorted, and each rater code's rank in that order."""
    by_name = np.argsort(np.asarray(rater_names, dtype=str), kind="stable")
    rank_of = np.empty(len(by_name), dtype=np.int64)
    rank_of[by_name] = np.arange(len(by_name))
    return np.asarray(rater_names, dtype=object)[by_name], rank_of


def digits_fit(n_raters: int, n_labels: int) -> bool:
    """Whether a key's votes fit one exact float64 number (see :func:`patterns`)."""
    return (n_labels + 1) ** n_raters <= _EXACT


def patterns(key, n, rater_c, rank_of, lab, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Number the keys by their votes: keys with the same (rater rank -> label) share a pattern.

    With few raters and labels (:func:`digits_fit`) a key's votes are one number whose digit
    ``rank`` (base ``n_labels + 1``) is the rater's label + 1, 0 for no vote: a sum over the
    key's votes, so a weighted count gives it without grouping the rows. Otherwise the votes go
    into a keys x slots grid, sorted within each key, whose rows are numbered.

    Parameters
    ----------
    key : numpy.ndarray of int
        Each vote's key ``0 .. K - 1``; a rater votes at most once per key.
    n : numpy.ndarray of int
        Votes per key.
    rater_c, lab : numpy.ndarray of int
        Each vote's rater code and label code.
    rank_of : numpy.ndarray of int
        Each rater code's rank (:func:`rater_order`).
    n_labels : int
        How many labels there are.

    Returns
    -------
    pattern : numpy.ndarray of int
        Each key's pattern ``0 .. P - 1``.
    codes : numpy.ndarray of int, shape (P, width)
        Each pattern's votes as codes ``rank * n_labels + label`` in rank order, padded with
        ``n_raters * n_labels``.
    """
    n_raters = len(rank_of)
    empty = n_raters * n_labels
    vote = rater_c * n_labels + lab
    if digits_fit(n_raters, n_labels):
        base = n_labels + 1
        weight = np.outer(np.power(float(base), rank_of), np.arange(1, base))  # rater code x label
        sig = np.bincount(key, weights=weight.ravel()[vote], minlength=len(n))
        pattern, sig_u = pd.factorize(sig.astype(np.int64))
        sig_u = np.asarray(sig_u, dtype=np.int64)
        step = max(1, (1 << 22) // n_raters)  # decode in blocks: at most 4M digits at once
        blocks = [_decode(sig_u[i : i + step], n_raters, n_labels)
                  for i in range(0, len(sig_u), step)]  # fmt: skip
        width = max(b.shape[1] for b in blocks)
        codes = np.concatenate(
            [np.pad(b, ((0, 0), (0, width - b.shape[1])), constant_values=empty) for b in blocks]
        )
        return pattern.astype(np.int64, copy=False), codes
    order = np.argsort(key, kind="stable")
    ks = key[order]
    width = int(n.max())
    slot = np.arange(len(ks)) - (np.cumsum(n) - n)[ks]
    grid = np.full(len(n) * width, empty, dtype=np.int64)
    ranked = (rank_of[:, None] * n_labels + np.arange(n_labels)).ravel()  # vote -> rank code
    grid[ks * width + slot] = ranked[vote[order]]
    grid = grid.reshape(len(n), width)
    grid.sort(axis=1)
    pattern = _patterns(grid, empty + 1)
    return pattern, grid[_first_of(pattern, int(pattern.max()) + 1)]


def _decode(sig_u: np.ndarray, n_raters: int, n_labels: int) -> np.ndarray:
    """Pattern numbers back to rows of vote codes, sorted, padded with ``n_raters * n_labels``."""
    empty = n_raters * n_labels
    digits = (sig_u[:, None] // (n_labels + 1) ** np.arange(n_raters, dtype=np.int64)) % (
        n_labels + 1
    )
    codes = np.where(digits > 0, np.arange(n_raters) * n_labels + digits - 1, empty)
    codes.sort(axis=1)
    return codes[:, : int((digits > 0).sum(axis=1).max())]


def dicts(codes: np.ndarray, names: np.ndarray, labs: np.ndarray) -> np.ndarray:
    """One :class:`Votes` rater -> label per row of :func:`patterns` codes, raters in rank
    order (the dicts of all rows with m votes are built together by map/zip)."""
    n_labels = len(labs)
    size = (codes != len(names) * n_labels).sum(axis=1)
    made = np.empty(len(codes), dtype=object)
    for m in np.unique(size):
        at = np.flatnonzero(size == m)
        cols = [zip(names[codes[at, j] // n_labels], labs[codes[at, j] % n_labels], strict=True)
                for j in range(m)]  # fmt: skip
        part = np.empty(len(at), dtype=object)
        part[:] = list(map(Votes, zip(*cols, strict=True)))
        made[at] = part
    return made
