"""Reading annotation rows into typed DataFrames fast, through the store's own database driver.

The SQLite path uses the standard library's ``sqlite3`` (the same SQLite library as the store's
writers: a second copy of SQLite in the process, as ADBC and connectorx link, can delete the
store's ``-wal``/``-shm`` files when it closes and lose committed writes). Rows are fetched in
chunks and turned into Arrow arrays column by column (no ``DataFrame.from_records``, no per-row
Python work beyond the driver's own), timestamps are parsed by Arrow, and ``annotation_id``
ranges bound every read so that a view can read only the rows it has not seen.

PostgreSQL streams the rows with ``COPY ... TO STDOUT`` (CSV, parsed by Arrow's CSV reader) on
the store's psycopg connection.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from ._schema import ANNOTATION_COLUMNS, FLOAT_COLUMNS, TEXT_COLUMNS, TIME_DTYPE, _typed

_CHUNK = 100_000


def annotation_filter(
    task: str | None = None, rater: str | None = None, sources: Sequence[str] | None = None
) -> tuple[str, dict]:
    """SQL ``AND ...`` conditions (named parameters) for a view's task, rater and sources."""
    sql, params = [], {}
    if task is not None:
        sql.append("task = :task")
        params["task"] = task
    if rater is not None:
        sql.append("rater = :rater")
        params["rater"] = rater
    if sources is not None:
        names = [f"source{k}" for k in range(len(sources))]
        sql.append(f"source IN ({', '.join(':' + n for n in names)})" if names else "0 = 1")
        params.update(zip(names, sources, strict=True))
    return "".join(f" AND {s}" for s in sql), params


def read_annotations(
    engine: sa.Engine, where: str = "", params: dict | None = None, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Annotation rows matching ``WHERE 1 = 1 <where>`` in ``annotation_id`` order, typed.

    ``where`` is SQL text with named parameters (``:name``) given in ``params``.
    """
    columns = list(columns or ANNOTATION_COLUMNS)
    sql = (
        f"SELECT {', '.join(columns)} FROM annotations WHERE 1 = 1{where} ORDER BY annotation_id"
    )
    if engine.dialect.name == "postgresql":
        return _read_postgres(engine, sql, params or {}, columns)
    return _read_dbapi(engine, sql, params or {}, columns)


def _read_dbapi(engine: sa.Engine, sql: str, params: dict, columns: list[str]) -> pd.DataFrame:
    chunks: list[list[pa.Array]] = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql, params)
        while rows := cur.fetchmany(_CHUNK):
            chunks.append([_arrow(col, values) for col, values in zip(columns, zip(*rows, strict=True), strict=True)])
            del rows
        cur.close()
    finally:
        raw.close()
    if not chunks:
        return _typed(pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}))
    arrays = [pa.chunked_array([chunk[k] for chunk in chunks]) for k in range(len(columns))]
    return _frame(columns, arrays)


def _arrow(col: str, values: tuple) -> pa.Array:
    if col in TEXT_COLUMNS:
        return pa.array(values, pa.large_string())
    if col in FLOAT_COLUMNS:
        return pa.array(values, pa.float64())
    if col in ("annotation_id", "round"):
        return pa.array(values, pa.int64())
    if col == "created_at":
        return _times(values)
    return pa.array(values)


def _times(values: tuple) -> pa.Array:
    """SQLite's ISO text (SQLAlchemy writes naive UTC) or datetimes, as UTC microseconds."""
    first = next((v for v in values if v is not None), None)
    if not isinstance(first, str):
        return pa.array(values, pa.timestamp("us", "UTC"))
    text = pa.array(values, pa.string())
    try:
        return pc.assume_timezone(pc.cast(text, pa.timestamp("us")), "UTC")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # offsets or other ISO forms
        parsed = pd.to_datetime(pd.Series(text), utc=True, format="ISO8601").astype(TIME_DTYPE)
        return pa.array(parsed)


def _frame(columns: list[str], arrays: list[pa.ChunkedArray]) -> pd.DataFrame:
    data = {}
    for col, arr in zip(columns, arrays, strict=True):
        if col in TEXT_COLUMNS:
            data[col] = pd.Series(pd.arrays.ArrowStringArray(arr.cast(pa.large_string())), copy=False)
        elif col == "round":
            data[col] = pd.Series(arr.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        elif col == "created_at":
            data[col] = pd.Series(arr.to_pandas()).astype(TIME_DTYPE)
        else:
            data[col] = pd.Series(arr.to_numpy())
    return _typed(pd.DataFrame(data, copy=False))


# --------------------------------------------------------------------------- PostgreSQL
_PG_TYPES = {
    **{c: pa.large_string() for c in TEXT_COLUMNS},
    **{c: pa.float64() for c in FLOAT_COLUMNS},
    "annotation_id": pa.int64(),
    "round": pa.int64(),
    "created_at": pa.int64(),  # microseconds since the epoch, exact
}


def _read_postgres(engine: sa.Engine, sql: str, params: dict, columns: list[str]) -> pd.DataFrame:
    from pyarrow import csv

    # COPY takes no bind parameters: let psycopg quote them into the statement
    select = ", ".join(
        "(extract(epoch FROM created_at) * 1000000)::bigint AS created_at" if c == "created_at" else c
        for c in columns
    )
    sql = sql.replace(f"SELECT {', '.join(columns)} FROM", f"SELECT {select} FROM", 1)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        query = _psycopg_sql(sql, params)
        buf = io.BytesIO()
        with conn.cursor() as cur:
            cur.execute("SET LOCAL extra_float_digits = 3")
            with cur.copy(f"COPY ({query.as_string(conn)}) TO STDOUT (FORMAT csv, NULL '\\N')") as copy:
                for block in copy:
                    buf.write(block)
        conn.rollback()
    finally:
        raw.close()
    if not buf.tell():
        return _typed(pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}))
    buf.seek(0)
    table = csv.read_csv(
        buf,
        read_options=csv.ReadOptions(column_names=columns),
        parse_options=csv.ParseOptions(newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            column_types={c: _PG_TYPES[c] for c in columns},
            null_values=["\\N"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    del buf  # the CSV text is not needed once parsed (peak memory)
    arrays = []
    for col in columns:
        arr = table[col]
        if col == "created_at":
            arr = arr.cast(pa.timestamp("us", "UTC"))
        arrays.append(arr)
    return _frame(columns, arrays)


def _psycopg_sql(sql: str, params: dict):
    """``:name`` parameters quoted as literals by psycopg (COPY cannot bind them)."""
    from psycopg import sql as psql

    parts: list = []
    rest = sql
    for name in sorted(params, key=len, reverse=True):
        rest = rest.replace(f":{name}", f"\x00{name}\x00")
    for k, piece in enumerate(rest.split("\x00")):
        parts.append(psql.Literal(params[piece]) if k % 2 else psql.SQL(piece))
    return psql.Composed(parts)


def max_id(conn: sa.Connection) -> int:
    """The highest ``annotation_id`` (0 for an empty log)."""
    return int(conn.exec_driver_sql("SELECT max(annotation_id) FROM annotations").scalar() or 0)


def ids_array(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)
