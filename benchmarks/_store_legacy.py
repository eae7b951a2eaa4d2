"""The store's views as they were before incremental reads (main at 4fac477).

The peer that benchmarks/store.py measures the new views against, in the same run: every call
reads the whole log through ``cursor.fetchall`` and ``DataFrame.from_records``. Benchmark code
only; nothing in the package imports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from labelwidgets.store import LABEL_COLUMNS, annotations_table, items_table, tasks_table


class LegacyViews:
    """``labels()``, ``table()``, ``current()`` of the old store, on a LabelStore's engine."""

    def __init__(self, store):
        self.engine, self.dialect = store.engine, store.dialect

    def _read(self, query) -> pd.DataFrame:
        if self.dialect == "sqlite":
            # straight through the DB-API cursor: SQLAlchemy's per-row type processing (datetime
            # parsing above all) costs ten times more than the query on large logs
            sql = str(query.compile(self.engine, compile_kwargs={"literal_binds": True}))
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(sql)
                cols = [d[0] for d in cur.description]
                df = pd.DataFrame.from_records(cur.fetchall(), columns=cols)
                cur.close()
            finally:
                raw.close()
            return df
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    def tasks(self) -> pd.DataFrame:
        """The latest definition of every task: ``task, kind, options``."""
        df = self._read(sa.select(tasks_table).order_by(tasks_table.c.task_row))
        df = df.drop_duplicates("task", keep="last")
        df["options"] = [json.loads(o) for o in df["options"]]
        return df[["task", "kind", "options"]].reset_index(drop=True)

    def items(self) -> pd.DataFrame:
        """All items: ``item_id, path, width, height``, metadata columns, ``added_at``."""
        df = self._read(sa.select(items_table))
        meta = pd.DataFrame.from_records(
            [json.loads(m) for m in df["metadata"]], index=df.index
        )
        meta = meta[[c for c in meta.columns if c not in df.columns]]
        out = pd.concat([df.drop(columns=["metadata", "added_at"]), meta], axis=1)
        out["added_at"] = _utc(df["added_at"])
        return out.sort_values("item_id", kind="stable").reset_index(drop=True)

    def current(
        self,
        task: str | None = None,
        rater: str | None = None,
        source: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of the current submission per (item, task, rater), skips included.

        The current submission is the one with the highest ``annotation_id`` among those not
        retracted; ``retract`` rows themselves never appear.
        """
        t = annotations_table
        query = sa.select(t).order_by(t.c.annotation_id)
        if task is not None:
            query = query.where(t.c.task == task)
        if rater is not None:
            query = query.where(t.c.rater == rater)
        if source is not None:
            sources = [source] if isinstance(source, str) else list(source)
            query = query.where(t.c.source.in_(sources))
        return current_rows(self._read(query))

    def labels(
        self,
        task: str | None = None,
        rater: str | None = None,
        source: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Current answers, one row per label or box (skips and "none" answers left out).

        Columns: ``item_id, task, rater, kind, label, x, y, w, h, attributes, source, model,
        round, confidence, submission_id, created_at``.
        """
        df = self.current(task=task, rater=rater, source=source)
        df = df[df["kind"].isin(["label", "box", "polygon", "point"]) & df["label"].notna()]
        return df[LABEL_COLUMNS].reset_index(drop=True)

    def table(self, rater: str | None = None, source: str | Sequence[str] | None = None):
        """The wide "metadata table": one row per item, one column per task.

        ``path``, ``width``, ``height`` and the metadata columns come first. A task column
        holds the label (single), a sorted list of labels (multi) or a list of box dicts
        (box). With several raters, the most recent current answer wins; pass ``rater`` or
        :func:`labelwidgets.voting.resolve` for another rule. Items without an answer hold
        ``None`` (single) or an empty cell.
        """
        items = self.items().drop(columns=["added_at"])
        cur = self.current(rater=rater, source=source)
        cur = cur[cur["kind"] != "skip"]
        defined = self.tasks()
        kinds = dict(zip(defined["task"], defined["kind"], strict=True))
        out = items.set_index("item_id")
        if len(cur):
            # the most recent submission per (item, task) across raters
            last = cur.groupby(["item_id", "task"])["annotation_id"].transform("max")
            sids = cur.loc[cur["annotation_id"] == last, "submission_id"]
            cur = cur[cur["submission_id"].isin(sids)]
        for task in sorted(set(cur["task"]) | set(kinds)):
            rows = cur[cur["task"] == task]
            kind = kinds.get(task, "box" if (rows["kind"] == "box").any() else "single")
            if kind == "single":
                col = rows.dropna(subset=["label"]).groupby("item_id")["label"].last()
            elif kind == "multi":
                chosen = rows.dropna(subset=["label"]).sort_values(["item_id", "label"])
                col = chosen.groupby("item_id")["label"].agg(list)
                answered = pd.Index(rows["item_id"].unique())  # "none of these" is an empty list
                col = col.reindex(answered).map(lambda v: v if isinstance(v, list) else [])
            else:  # boxes, polygons, points: their bounding boxes (points are w = h = 0)
                boxes = rows.dropna(subset=["label"])
                col = boxes.groupby("item_id").apply(
                    lambda g: g[["label", "x", "y", "w", "h"]].to_dict("records"),
                    include_groups=False,
                )
            out[task] = col.reindex(out.index) if len(col) else None
        return out.reset_index()


def current_rows(log: pd.DataFrame) -> pd.DataFrame:
    """The current submission's rows per (item, task, rater) of an annotation log.

    Pure function behind :meth:`LabelStore.current`: drops retracted submissions and retract
    rows, then keeps, per (item, task, rater), the rows of the submission with the highest
    ``annotation_id``.
    """
    if log.empty:
        return _typed(log)
    retracted = log.loc[log["kind"] == "retract", "retracts"].dropna().unique()
    live = log[(log["kind"] != "retract") & ~log["submission_id"].isin(retracted)]
    live = live.sort_values("annotation_id", kind="stable")
    key = live.groupby(["item_id", "task", "rater"], sort=False).ngroup().to_numpy()
    sids = live["submission_id"].to_numpy()
    # rows are in write order, so the last submission id per key is the current one
    winner = pd.Series(sids).groupby(key).last()
    keep = sids == winner.to_numpy()[key]
    return _typed(live[keep].reset_index(drop=True))


def _typed(log: pd.DataFrame) -> pd.DataFrame:
    """Fixed dtypes for the log columns, whatever the database driver returned."""
    log = log.copy()
    for col in ("x", "y", "w", "h", "confidence"):
        if log[col].dtype != float:
            log[col] = pd.to_numeric(log[col], errors="coerce").astype(float)
    log["round"] = pd.to_numeric(log["round"], errors="coerce").astype("Int64")
    log["created_at"] = _utc(log["created_at"])
    return log



def _utc(series: pd.Series) -> pd.Series:
    """Timestamps as UTC-aware datetimes (SQLite gives ISO text, PostgreSQL aware datetimes)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
    return pd.to_datetime(series, utc=True, format="ISO8601")


