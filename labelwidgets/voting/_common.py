"""Shared pieces of the voting package: constants, input checks, the policy rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._validate import check_choice

STATUSES = ("agreed", "tiebroken", "discarded", "neutral", "needs_tiebreak", "single", "estimated")
POLICIES = ("discard", "neutral", "tiebreak")
METHODS = ("majority", "dawid_skene")
FALLBACKS = ("discard", "neutral")
ROLES = ("primary", "tiebreak", "review")
RESOLVED_COLUMNS = ["item_id", "task", "label", "status", "n_votes", "votes"]
_REQUIRED = ("item_id", "task", "rater", "label")
_AGREED, _TIEBROKEN, _DISCARDED, _NEUTRAL, _NEEDS, _SINGLE, _ESTIMATED = range(7)


def _check_choice(value, allowed: Sequence[str], name: str):
    return check_choice(value, allowed, name)


def _validate_labels(labels) -> pd.DataFrame:
    if not isinstance(labels, pd.DataFrame):
        raise TypeError(
            f"`labels` must be a pandas DataFrame such as store.labels(). Got {type(labels).__name__!r} instead."
        )
    missing = [c for c in _REQUIRED if c not in labels.columns]
    if missing:
        raise ValueError(
            f"`labels` must have columns {list(_REQUIRED)}. Missing {missing}; "
            f"got {list(labels.columns)} instead."
        )
    if "kind" in labels.columns:  # accept store.current() too: skips and retractions are no votes
        keep = ~labels["kind"].isin(["skip", "retract"]).to_numpy()
        if not keep.all():
            labels = labels[keep]
    return labels


def _task_kinds(tasks) -> dict[str, str]:
    if tasks is None:
        return {}
    if isinstance(tasks, pd.DataFrame):
        if not {"task", "kind"} <= set(tasks.columns):
            raise ValueError(
                f"`tasks` must have columns ['task', 'kind'] (store.tasks()). Got {list(tasks.columns)} instead."
            )
        kinds = dict(zip(tasks["task"], tasks["kind"], strict=True))
    elif isinstance(tasks, Mapping):
        kinds = {t: ("multi" if type(v).__name__ == "MultiLabel" else v) if not isinstance(v, str) else v
                 for t, v in tasks.items()}  # fmt: skip
        kinds = {t: (k if isinstance(k, str) else "single") for t, k in kinds.items()}
    else:
        raise TypeError(
            f"`tasks` must be store.tasks(), a dict task -> kind, or None. Got {tasks!r} instead."
        )
    for task, kind in kinds.items():
        _check_choice(kind, ("single", "multi", "box"), f"tasks[{task!r}]")
    return kinds


def _codes(values: pd.Series, names: bool = True) -> tuple[np.ndarray, object]:
    """Integer codes (-1: missing) in order of first appearance, and the distinct values.

    The distinct values come as an object array, or with ``names=False`` as an array of the
    column's own dtype (no Python string per value: a million item ids stay in Arrow).
    Arrow-backed strings are encoded by pyarrow itself, and a column holding one value (a
    single task) is recognised without hashing.
    """
    if getattr(values.dtype, "storage", None) in ("pyarrow", "pyarrow_numpy"):
        import pyarrow as pa
        import pyarrow.compute as pc

        data = pa.array(values.array)
        if (
            len(data)
            and data.null_count == 0
            and data[len(data) // 2] == data[-1] == data[0]  # cheap hint before the full test
            and pc.all(pc.equal(data, data[0])).as_py()
        ):
            codes, uniques = np.zeros(len(data), dtype=np.int64), data[:1]
        else:
            encoded = pc.dictionary_encode(data)
            if isinstance(encoded, pa.ChunkedArray):  # one memo table: chunks share the order
                encoded = encoded.combine_chunks()
            codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
            codes, uniques = codes.astype(np.int64), encoded.dictionary
        if names:
            return codes, np.asarray(uniques.to_pylist(), dtype=object)
        return codes, pd.array(uniques, dtype=values.dtype)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = codes.astype(np.int64, copy=False)
    if names:
        return codes, np.asarray(uniques, dtype=object)
    return codes, pd.array(uniques, dtype=values.dtype)


def _latest(frame: pd.DataFrame, multi_row: np.ndarray) -> np.ndarray:
    """Rows to keep when a rater answered an (item, task) more than once: the latest answer.

    The latest is the row with the greatest ``created_at`` (ties and a missing column: the
    later row of the frame). When ``submission_id`` exists, every row of that row's submission
    is kept (a multi-label answer or a set of boxes); otherwise only that row.
    """
    keep = np.ones(len(frame), dtype=bool)
    sub = frame.loc[multi_row, ["item_id", "task", "rater"]].copy()
    sub["_pos"] = np.flatnonzero(multi_row)
    if "created_at" in frame.columns:
        sub["_t"] = pd.to_datetime(
            frame["created_at"].to_numpy()[multi_row], utc=True, format="mixed"
        )
        sub = sub.sort_values(["_t", "_pos"], kind="stable")
    last = sub.groupby(["item_id", "task", "rater"], sort=False)["_pos"].transform("last")
    if "submission_id" in frame.columns:
        sid = frame["submission_id"].to_numpy()
        winner = sid[last.to_numpy()]
        drop = sub["_pos"].to_numpy()[sid[sub["_pos"].to_numpy()] != winner]
    else:
        drop = sub["_pos"].to_numpy()[sub["_pos"].to_numpy() != last.to_numpy()]
    keep[drop] = False
    return keep


class _Rule:
    """The policy as numbers: status codes from vote counts."""

    def __init__(self, policy: str, neutral_label: str, fallback: str):
        self.policy, self.neutral_label, self.fallback = policy, neutral_label, fallback

    def status(self, n: np.ndarray, unanimous: np.ndarray, decided: np.ndarray) -> np.ndarray:
        """Status codes from the number of raters, unanimity and whether a majority decides.

        ``decided`` means every disputed question has a strict majority (used only when
        ``n >= 3`` under the tiebreak policy).
        """
        fallback = _DISCARDED if self.fallback == "discard" else _NEUTRAL
        disputed = {"discard": _DISCARDED, "neutral": _NEUTRAL, "tiebreak": fallback}
        out = np.full(len(n), disputed[self.policy], dtype=np.int8)
        if self.policy == "tiebreak":
            out[decided] = _TIEBROKEN
            out[n == 2] = _NEEDS
        out[unanimous] = _AGREED
        out[n == 1] = _SINGLE
        return out


def _status_column(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(STATUSES))


def _empty_resolved(votes: bool, confidence: bool = False) -> pd.DataFrame:
    cols = RESOLVED_COLUMNS if votes else RESOLVED_COLUMNS[:-1]
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out["status"] = _status_column(np.array([], dtype=np.int8))
    out["n_votes"] = out["n_votes"].astype(np.int64)
    if confidence:
        out["confidence"] = pd.Series(dtype=float)
    return out


def _infer_kind(task_rows: pd.DataFrame, repeated: np.ndarray) -> str:
    """A task's kind from its rows (``repeated``: the rater has several rows for the item)."""
    if "kind" in task_rows.columns and (task_rows["kind"] == "box").any():
        return "box"
    if not repeated.any():
        return "single"
    if "submission_id" not in task_rows.columns:
        return "multi"
    sub = task_rows.loc[repeated, ["item_id", "rater", "submission_id"]]
    return "multi" if sub.duplicated().any() else "single"
