"""``LabelStore``: writes, schema checks and the views (the package docstring says what the store is)."""

from __future__ import annotations

import getpass
import json
import os
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from .._validate import InputError, check_choice, check_name
from ._read import annotation_filter, read_annotations
from ._schema import (
    ANNOTATION_COLUMNS,
    KINDS,
    LABEL_COLUMNS,
    ROLES,
    SCHEMA_VERSION,
    SOURCES,
    TASK_KINDS,
    _metadata,
    _outward,
    _utc,
    annotations_table,
    assignments_table,
    items_table,
    meta_table,
    tasks_table,
)
from ._table import TableView
from ._views import Codes, CurrentView, current_rows

_MAX_VIEWS = 16


def default_rater() -> str:
    """The OS user name, the default rater."""
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return os.environ.get("USER", "rater")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _engine_url(url: str | os.PathLike) -> str:
    text = os.fspath(url)
    if "://" not in text:
        path = Path(text).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"`url` must be a file in a folder that exists or can be created. Got {str(path)!r}, "
                f"whose folder {str(path.parent)!r} cannot be created ({exc.strerror}) instead."
            ) from exc
        return f"sqlite:///{path.resolve()}"
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        # psycopg 3 is the driver the `postgres` extra installs
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def _json_or_none(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class LabelStore:
    """Append-only store of items, annotations and assignments.

    Parameters
    ----------
    url : str or path-like, default="labels.db"
        A file path (SQLite, created if missing) or an SQLAlchemy URL such as
        ``"postgresql://user@127.0.0.1:5432/labels"``.
    echo : bool, default=False
        Log every SQL statement (SQLAlchemy's ``echo``).
    incremental : bool, default=True
        Keep each view's last result and read only the rows written since (by this or any
        other process). ``False`` reads the whole log at every call.
    adopt : bool, default=False
        An SQLite file that holds other tables and none of a label store's is refused (it is
        probably not the file you meant); ``adopt=True`` adds the store's tables to it.

    Raises
    ------
    InputError
        A file that is not a label store (see ``adopt``), a store written by a newer
        labelwidgets (its ``schema_version``), or a file or folder that cannot be written.

    Examples
    --------
    >>> store = LabelStore("labels.db")                    # doctest: +SKIP
    >>> store.submit("a.jpg", {"variety": "rose"}, rater="alice")  # doctest: +SKIP
    >>> store.labels()                                     # doctest: +SKIP
    """

    def __init__(
        self, url: str | os.PathLike = "labels.db", *, echo: bool = False, incremental: bool = True,
        adopt: bool = False,
    ):
        self.url = _engine_url(url)
        self.incremental = incremental
        self.adopt = adopt
        self._codes = Codes()
        self._views: OrderedDict[tuple, CurrentView] = OrderedDict()
        self._tables: dict[tuple, TableView] = {}
        self._cache: dict[str, tuple] = {}
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect == "sqlite":
            self.engine = sa.create_engine(
                self.url, echo=echo, connect_args={"timeout": 60, "isolation_level": None}
            )
            sa.event.listen(self.engine, "connect", _sqlite_on_connect)
            sa.event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = sa.create_engine(self.url, echo=echo, pool_pre_ping=True)
        self._create_schema()

    def _create_schema(self) -> None:
        """Create the tables if missing, after checking what the database already holds."""
        if self.dialect == "postgresql":
            # concurrent first connections must not race on CREATE TABLE
            with self.engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7142301)"))
                self._checked_schema(conn)
            return
        try:
            with self._write() as conn:
                self._checked_schema(conn)
        except sa.exc.OperationalError as exc:
            path = self.url.split("sqlite:///", 1)[-1]
            raise InputError(
                f"`url` must be an SQLite file this process can write, in a writable folder "
                f"(SQLite also writes {Path(path).name}-wal and -shm beside it). Got {path!r}: "
                f"{exc.orig} instead."
            ) from exc

    def _checked_schema(self, conn) -> None:
        ours = {t.name for t in _metadata.sorted_tables}
        existing = set(sa.inspect(conn).get_table_names())
        if self.dialect == "sqlite" and existing and not existing & ours and not self.adopt:
            raise InputError(
                f"`url` must be a label store or a new file. Got {self.url.split(':///', 1)[-1]!r}, "
                f"which holds other tables {sorted(existing)[:8]} and none of a label store's "
                f"{sorted(ours)}; pass a new file name, or adopt=True to add the store's tables to it."
            )
        _metadata.create_all(conn)
        stored = conn.execute(
            sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
        ).scalar()
        if stored is None:
            conn.execute(meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif not str(stored).isdigit() or int(stored) > SCHEMA_VERSION:
            raise InputError(
                f"The store {self!r} has schema version {stored!r}; this labelwidgets reads "
                f"versions up to {SCHEMA_VERSION}. Upgrade labelwidgets to open it."
            )

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction (committed on exit, rolled back on error)."""
        with self.engine.connect() as conn:
            conn.execution_options(labelwidgets_write=True)
            with conn.begin():
                yield conn

    def __repr__(self) -> str:
        return f"LabelStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ writes
    def add_items(self, items) -> int:
        """Add items; item ids already in the store are left as they are.

        Parameters
        ----------
        items : pandas.DataFrame or ImageSet
            Columns ``item_id``, ``path``, optional ``width``, ``height``; every other column
            is item metadata (kept as JSON, expanded again by :meth:`items`).

        Returns
        -------
        int
            The number of items that were new.
        """
        df = items if isinstance(items, pd.DataFrame) else items.items
        missing = {"item_id", "path"} - set(df.columns)
        if missing:
            raise ValueError(
                f"`items` must have columns ['item_id', 'path']. Missing {sorted(missing)}; "
                f"got columns {list(df.columns)} instead."
            )
        meta_cols = [c for c in df.columns if c not in ("item_id", "path", "width", "height")]
        meta = df[meta_cols].astype(object).where(df[meta_cols].notna(), None)
        now = _now()
        rows = [
            {
                "item_id": str(item_id),
                "path": str(path),
                "width": None if pd.isna(w) else int(w),
                "height": None if pd.isna(h) else int(h),
                "metadata": json.dumps(m, sort_keys=True, default=str),
                "added_at": now,
            }
            for item_id, path, w, h, m in zip(
                df["item_id"],
                df["path"],
                df["width"] if "width" in df else [None] * len(df),
                df["height"] if "height" in df else [None] * len(df),
                meta.to_dict("records"),
                strict=True,
            )
        ]
        if not rows:
            return 0
        insert = self._insert_ignore(items_table)
        with self._write() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(items_table)).scalar()
            for start in range(0, len(rows), 5000):
                conn.execute(insert, rows[start : start + 5000])
            after = conn.execute(sa.select(sa.func.count()).select_from(items_table)).scalar()
        return int(after - before)

    def _insert_ignore(self, table):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table).on_conflict_do_nothing()

    def register_task(self, task: str, options: Sequence[str] = (), kind: str = "single") -> None:
        """Record a task's kind and options (a no-op when unchanged; the latest definition wins).

        Parameters
        ----------
        task : str
            Task name, e.g. ``"variety"``.
        options : sequence of str, default=()
            The predefined answers (class names for a box task).
        kind : {"single", "multi", "box", "polygon", "point"}, default="single"
            One answer, a set of answers, or shapes drawn on the image.
        """
        check_name(task, "task")
        check_choice(kind, TASK_KINDS, "kind")
        options = [str(o) for o in options]
        current = self.tasks()
        row = current[current["task"] == task]
        if len(row) and row.iloc[-1]["kind"] == kind and row.iloc[-1]["options"] == options:
            return
        with self._write() as conn:
            conn.execute(
                tasks_table.insert(),
                {"task": task, "kind": kind, "options": json.dumps(options), "created_at": _now()},
            )

    def append(self, rows: Iterable[Mapping], submission_id: str | None = None) -> str:
        """Write annotation rows as one submission, in one transaction.

        Every row needs ``item_id``, ``task``, ``rater`` and ``kind``; ``source`` defaults to
        ``"human"``. ``attributes`` may be a dict (stored as JSON).

        Returns
        -------
        str
            The submission id shared by the rows.
        """
        return self.append_many([rows], [submission_id])[0]

    def append_many(
        self, submissions: Iterable[Iterable[Mapping]], submission_ids: Sequence[str | None] | None = None
    ) -> list[str]:
        """Write several submissions (each a list of rows, as for :meth:`append`) in one transaction.

        Batch writers (predictions over a pool, pseudo-labels of a round) use this: either every
        submission is committed or none is.

        Returns
        -------
        list of str
            The submission ids, in the order given.
        """
        now = _now()
        records, sids = [], []
        for i, rows in enumerate(submissions):
            given = submission_ids[i] if submission_ids is not None else None
            sid = given or uuid.uuid4().hex
            n = len(records)
            records.extend(self._record(row, sid, now) for row in rows)
            if len(records) == n:
                raise ValueError(
                    f"Each submission must hold at least one annotation row. Submission {i} has none."
                )
            sids.append(sid)
        if records:
            with self._write() as conn:
                conn.execute(annotations_table.insert(), records)
        return sids

    @staticmethod
    def _record(row: Mapping, sid: str, now: datetime) -> dict:
        rec = {c: row.get(c) for c in ANNOTATION_COLUMNS if c != "annotation_id"}
        for key in ("item_id", "task", "rater"):
            check_name(rec[key], key)
        check_choice(rec["kind"], KINDS, "kind")
        rec["source"] = rec["source"] or "human"
        check_choice(rec["source"], SOURCES, "source")
        rec["attributes"] = _json_or_none(rec["attributes"])
        rec["submission_id"] = sid
        rec["created_at"] = now
        for key in ("x", "y", "w", "h", "confidence"):
            if rec[key] is not None:
                rec[key] = float(rec[key])
        if rec["round"] is not None:
            rec["round"] = int(rec["round"])
        return rec

    def submit(
        self,
        item_id: str,
        answers: Mapping[str, str | Sequence[str] | None],
        rater: str,
        *,
        source: str = "human",
        model: str | None = None,
        round: int | None = None,
        confidence: float | None = None,
        attributes: Mapping[str, Mapping] | None = None,
    ) -> str:
        """Record one rater's answers for one item (all tasks in one transaction).

        Parameters
        ----------
        item_id : str
            The item answered.
        answers : mapping of task -> label, list of labels, or None
            A list answers a multi-label task (an empty list means "none of these", kept as one
            row with ``label`` NULL).
        rater : str
            Who answered.
        source : {"human", "folder", "model", "pseudo"}, default="human"
            Where the answer comes from.
        model, round, confidence : optional
            Provenance of model and pseudo labels.
        attributes : mapping of task -> dict, optional
            Extra JSON per task (e.g. whether a suggestion was accepted).

        Returns
        -------
        str
            The submission id.
        """
        rows = []
        for task, answer in answers.items():
            labels = list(answer) if isinstance(answer, list | tuple | set) else [answer]
            attrs = (attributes or {}).get(task)
            for label in labels or [None]:
                rows.append(
                    {"item_id": item_id, "task": task, "rater": rater, "kind": "label",
                     "label": None if label is None else str(label), "source": source,
                     "model": model, "round": round, "confidence": confidence,
                     "attributes": attrs}  # fmt: skip
                )
        return self.append(rows)

    def submit_boxes(
        self,
        item_id: str,
        task: str,
        boxes: Sequence[Mapping],
        rater: str,
        *,
        source: str = "human",
        model: str | None = None,
        round: int | None = None,
    ) -> str:
        """Record an image's boxes for a box task as one submission.

        Each box is a dict with ``x, y, w, h, label`` and optional ``attributes`` and
        ``confidence``. An empty list records "no objects" (one row with ``label`` NULL).
        """
        rows = [
            {"item_id": item_id, "task": task, "rater": rater, "kind": "box",
             "label": b["label"], "x": b["x"], "y": b["y"], "w": b["w"], "h": b["h"],
             "attributes": b.get("attributes"), "confidence": b.get("confidence"),
             "source": source, "model": model, "round": round}  # fmt: skip
            for b in boxes
        ]
        if not rows:
            rows = [{"item_id": item_id, "task": task, "rater": rater, "kind": "box",
                     "source": source, "model": model, "round": round}]  # fmt: skip
        return self.append(rows)

    def skip(
        self, item_id: str, rater: str, tasks: Sequence[str], reason: str | None = None
    ) -> str:
        """Record that ``rater`` skipped ``item_id`` (one ``skip`` row per task)."""
        attrs = {"reason": reason} if reason else None
        return self.append(
            {"item_id": item_id, "task": t, "rater": rater, "kind": "skip", "attributes": attrs}
            for t in tasks
        )

    def retract(self, submission_id: str) -> str:
        """Undo a submission by appending ``retract`` rows that name it."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    annotations_table.c.item_id,
                    annotations_table.c.task,
                    annotations_table.c.rater,
                    annotations_table.c.source,
                )
                .where(annotations_table.c.submission_id == submission_id)
                .distinct()
            ).all()
        if not rows:
            raise ValueError(
                f"`submission_id` must name a submission in the store. Got {submission_id!r}."
            )
        return self.append(
            {"item_id": r.item_id, "task": r.task, "rater": r.rater, "kind": "retract",
             "source": r.source, "retracts": submission_id}  # fmt: skip
            for r in rows
        )

    def assign(self, assignments: pd.DataFrame) -> int:
        """Append assignment rows (``item_id, rater`` and optional ``role``)."""
        missing = {"item_id", "rater"} - set(assignments.columns)
        if missing:
            raise ValueError(
                f"`assignments` must have columns ['item_id', 'rater'(, 'role')]. Missing "
                f"{sorted(missing)}; got {list(assignments.columns)} instead."
            )
        roles = assignments["role"] if "role" in assignments else ["primary"] * len(assignments)
        now = _now()
        rows = []
        for item_id, rater, role in zip(assignments["item_id"], assignments["rater"], roles, strict=True):
            check_choice(role, ROLES, "role")
            rows.append({"item_id": str(item_id), "rater": str(rater), "role": role, "created_at": now})
        if rows:
            with self._write() as conn:
                conn.execute(assignments_table.insert(), rows)
        return len(rows)

    # ------------------------------------------------------------------- views
    def _read(self, query) -> pd.DataFrame:
        """A small table (items, tasks, assignments) through the DB-API cursor."""
        sql = str(query.compile(self.engine, compile_kwargs={"literal_binds": True}))
        with self.engine.connect() as conn:
            result = conn.exec_driver_sql(sql)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def _cached(self, name: str, version_sql: str, build):
        """``build()``, read again only when ``version_sql`` (a growing count or id) changed."""
        with self.engine.connect() as conn:
            version = conn.exec_driver_sql(version_sql).scalar()
        hit = self._cache.get(name)
        if not self.incremental or hit is None or hit[0] != version:
            hit = self._cache[name] = (version, build())
        return hit[0], hit[1].copy(deep=False)

    def tasks(self) -> pd.DataFrame:
        """The latest definition of every task: ``task, kind, options``."""
        return self._cached("tasks", "SELECT max(task_row) FROM tasks", self._read_tasks)[1]

    def _read_tasks(self) -> pd.DataFrame:
        df = self._read(sa.select(tasks_table).order_by(tasks_table.c.task_row))
        df = df.drop_duplicates("task", keep="last")
        df["options"] = [json.loads(o) for o in df["options"]]
        return df[["task", "kind", "options"]].astype({"task": "str", "kind": "str"}).reset_index(drop=True)

    def items(self) -> pd.DataFrame:
        """All items: ``item_id, path, width, height``, metadata columns, ``added_at``."""
        return self._items()[1]

    def _items(self):
        # items are only ever added (insert or ignore): their count is their version
        return self._cached("items", "SELECT count(*) FROM items", self._read_items)

    def _read_items(self) -> pd.DataFrame:
        df = self._read(sa.select(items_table))
        meta = pd.DataFrame.from_records([json.loads(m) for m in df["metadata"]], index=df.index)
        meta = meta[[c for c in meta.columns if c not in df.columns]]
        out = pd.concat([df.drop(columns=["metadata", "added_at"]), meta], axis=1)
        out["added_at"] = _utc(df["added_at"])
        return out.sort_values("item_id", kind="stable").reset_index(drop=True)

    def annotations(self) -> pd.DataFrame:
        """The raw append-only log, in write order."""
        return _outward(read_annotations(self.engine))

    def assignments(self, rater: str | None = None) -> pd.DataFrame:
        """Assignments (``item_id, rater, role, created_at``), optionally for one rater."""
        query = sa.select(assignments_table).order_by(assignments_table.c.assignment_id)
        if rater is not None:
            query = query.where(assignments_table.c.rater == rater)
        df = self._read(query)
        if df.empty:
            df = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in assignments_table.columns})
        df["created_at"] = _utc(df["created_at"])
        return df.drop(columns=["assignment_id"])

    def predictions_version(self, task: str | None = None) -> int | None:
        """The id of the newest ``source="model"`` annotation (of ``task``), or None.

        Predictions, and retractions of them, only ever add rows with higher ids, so the same
        version means the same current predictions: a cheap check before reading them again.
        """
        t = annotations_table
        query = sa.select(sa.func.max(t.c.annotation_id)).where(t.c.source == "model")
        if task is not None:
            query = query.where(t.c.task == task)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def _current_view(self, task=None, rater=None, source=None) -> CurrentView | pd.DataFrame:
        """The refreshed view for these filters (a plain frame when not incremental)."""
        sources = None if source is None else ([source] if isinstance(source, str) else list(source))
        where, params = annotation_filter(task, rater, sources)
        if not self.incremental:
            return current_rows(read_annotations(self.engine, where, params))
        key = (task, rater, None if sources is None else tuple(sources))
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = CurrentView(where, params)
            while len(self._views) > _MAX_VIEWS:
                old, _ = self._views.popitem(last=False)
                self._tables.pop(old[1:], None)
        self._views.move_to_end(key)
        try:
            view.refresh(self.engine, self._codes)
        except OverflowError:  # too many raters or tasks for the key codes: read in full
            self._views.pop(key, None)
            return current_rows(read_annotations(self.engine, where, params))
        return view

    def current(
        self,
        task: str | None = None,
        rater: str | None = None,
        source: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of the current submission per (item, task, rater), skips included.

        The current submission is the one with the highest ``annotation_id`` among those not
        retracted; ``retract`` rows themselves never appear. Only the rows written since the
        last call (by any process) are read; the frame returned is the caller's to change.
        """
        view = self._current_view(task, rater, source)
        return view if isinstance(view, pd.DataFrame) else view.current()  # current_rows: outward

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
        view = self._current_view(task, rater, source)
        if isinstance(view, pd.DataFrame):
            keep = view["kind"].isin(["label", "box", "polygon", "point"]) & view["label"].notna()
            return _outward(view.loc[keep.to_numpy(), LABEL_COLUMNS].reset_index(drop=True))
        return view.label_rows()

    def table(self, rater: str | None = None, source: str | Sequence[str] | None = None):
        """The wide "metadata table": one row per item, one column per task.

        ``path``, ``width``, ``height`` and the metadata columns come first. A task column
        holds the label (single), a sorted list of labels (multi) or a list of box dicts
        (box). With several raters, the most recent current answer per (item, task) wins; pass
        ``rater`` or :func:`labelwidgets.voting.resolve` for another rule. Items without an
        answer hold ``None`` (single) or an empty cell.
        """
        items_key, items = self._items()
        items = items.drop(columns=["added_at"])
        defined = self.tasks()
        kinds = dict(zip(defined["task"], defined["kind"], strict=True))
        view = self._current_view(rater=rater, source=source)
        if isinstance(view, pd.DataFrame):
            tv = TableView()
            tv._build(view, items, kinds)
            return tv._assemble()
        key = (rater, None if source is None else (source,) if isinstance(source, str) else tuple(source))
        tv = self._tables.setdefault(key, TableView())
        return tv.frame(view, self._codes, items, items_key, kinds)

    def progress(self, rater: str, tasks: Sequence[str]) -> set[str]:
        """Item ids that ``rater`` has answered or skipped for every task in ``tasks``."""
        cur = self.current(rater=rater)
        cur = cur[cur["task"].isin(list(tasks))]
        per_item = cur.groupby("item_id")["task"].nunique()
        return set(per_item[per_item >= len(set(tasks))].index)

    # ----------------------------------------------------------------- export
    def to_csv(self, path: str | os.PathLike, view: str = "table", **kwargs) -> Path:
        """Write a view (``"table"``, ``"labels"``, ``"annotations"``, ``"items"``) to CSV."""
        df = self._view(view, **kwargs)
        df.to_csv(path, index=False)
        return Path(path)

    def to_parquet(self, path: str | os.PathLike, view: str = "table", **kwargs) -> Path:
        """Write a view (``"table"``, ``"labels"``, ``"annotations"``, ``"items"``) to Parquet."""
        df = self._view(view, **kwargs)
        df.to_parquet(path, index=False)
        return Path(path)

    def _view(self, view: str, **kwargs) -> pd.DataFrame:
        check_choice(view, ("table", "labels", "annotations", "items"), "view")
        return getattr(self, view)(**kwargs)


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_on_begin(conn) -> None:
    # writers take the lock up front, so two writers never deadlock on a lock upgrade;
    # readers stay deferred and, under WAL, never wait for a writer
    write = conn.get_execution_options().get("labelwidgets_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

