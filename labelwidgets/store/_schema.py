"""The store's tables, its fixed column lists and the dtypes every view returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

TASK_KINDS = ("single", "multi", "box", "polygon", "point")
SOURCES = ("human", "folder", "model", "pseudo")
KINDS = ("label", "box", "skip", "retract", "polygon", "point")
ROLES = ("primary", "tiebreak", "review")

_metadata = sa.MetaData()

items_table = sa.Table(
    "items",
    _metadata,
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("metadata", sa.Text, nullable=False, default="{}"),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
)

annotations_table = sa.Table(
    "annotations",
    _metadata,
    sa.Column("annotation_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Text, nullable=False, index=True),
    sa.Column("item_id", sa.Text, nullable=False, index=True),
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("rater", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("label", sa.Text),
    sa.Column("x", sa.Float),
    sa.Column("y", sa.Float),
    sa.Column("w", sa.Float),
    sa.Column("h", sa.Float),
    sa.Column("attributes", sa.Text),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("model", sa.Text),
    sa.Column("round", sa.Integer),
    sa.Column("confidence", sa.Float),
    sa.Column("retracts", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_annotations_rater", "rater", "annotation_id"),
)

assignments_table = sa.Table(
    "assignments",
    _metadata,
    sa.Column("assignment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Text, nullable=False, index=True),
    sa.Column("rater", sa.Text, nullable=False, index=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

tasks_table = sa.Table(
    "tasks",
    _metadata,
    sa.Column("task_row", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: The store's own record of its layout: ``schema_version`` is checked whenever a store opens.
meta_table = sa.Table(
    "labelwidgets_meta",
    _metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
#: The layout this package writes and reads (raised when a change needs a migration).
SCHEMA_VERSION = 1

ANNOTATION_COLUMNS = [c.name for c in annotations_table.columns]
LABEL_COLUMNS = [
    "item_id", "task", "rater", "kind", "label", "x", "y", "w", "h", "attributes",
    "source", "model", "round", "confidence", "submission_id", "created_at",
]  # fmt: skip


TEXT_COLUMNS = ["submission_id", "item_id", "task", "rater", "kind", "label", "attributes",
                "source", "model", "retracts"]  # fmt: skip
FLOAT_COLUMNS = ["x", "y", "w", "h", "confidence"]
TIME_DTYPE = "datetime64[us, UTC]"


def _utc(series: pd.Series) -> pd.Series:
    """Timestamps as UTC-aware datetimes (SQLite gives ISO text, PostgreSQL aware datetimes)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
    else:
        series = pd.to_datetime(series, utc=True, format="ISO8601")
    return series.astype(TIME_DTYPE)


def _typed(log: pd.DataFrame) -> pd.DataFrame:
    """Fixed dtypes for the log columns, whatever the database driver returned.

    Text columns are pandas ``str`` (missing values NaN), coordinates and confidence
    ``float64``, ``round`` nullable ``Int64``, ``annotation_id`` ``int64`` and ``created_at``
    UTC microseconds, so that every read path (a full read, an incremental one, SQLite or
    PostgreSQL, an empty log) returns the same dtypes.
    """
    log = log.copy(deep=False)  # copy-on-write: the caller's frame is not changed
    for col in log.columns:
        if col in FLOAT_COLUMNS:
            if log[col].dtype != np.float64:
                log[col] = pd.to_numeric(log[col], errors="coerce").astype(np.float64)
        elif col in TEXT_COLUMNS:
            if log[col].dtype != "str":
                log[col] = log[col].astype("str")
        elif col == "round":
            log[col] = pd.to_numeric(log[col], errors="coerce").astype("Int64")
        elif col == "annotation_id":
            log[col] = log[col].astype(np.int64)
        elif col == "created_at":
            log[col] = _utc(log[col])
    return log


def _outward(frame: pd.DataFrame) -> pd.DataFrame:
    """A view as the store returns it: a text column with no value at all holds ``None``.

    Inside, text columns are always ``str``; out, a column without any value (``retracts`` in
    ``current()``, ``model`` before any prediction) is ``object`` with ``None``, as the store's
    views have always returned it, so ``value is None`` checks keep working.
    """
    empty = [
        c for c in frame.columns
        if c in TEXT_COLUMNS and frame[c].dtype == "str" and not frame[c].notna().any()
    ]  # fmt: skip
    if not empty:
        return frame
    frame = frame.copy(deep=False)
    for col in empty:
        frame[col] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame
