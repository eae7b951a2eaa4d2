"""Label store speed: submit latency, and views over a 1,000,000-row annotation log.

Run: ``python benchmarks/store.py [--rows 1000000] [--repeats 3] [--new 1000]``. Prints median
and p95 (milliseconds) of:

- submit -> committed (SQLite);
- the first ``labels()`` and ``table()`` of a fresh LabelStore object on a generated log of
  ``--rows`` rows (50,000 items x 5 tasks, a multi-label and a box task among them, 2 of 20
  raters per item, model predictions, edits, undos and skips), SQLite and PostgreSQL;
- a repeat call after ``--new`` new submissions (about one in ten an undo) written by another
  process;
- the old full read (every call reads the whole log; ``_store_legacy.py``) as the peer, with
  the ratio;
- the peak RSS of the process that read the views (each measured in a fresh process).

PostgreSQL is measured on ``LABELWIDGETS_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
in a fresh database that is dropped afterwards; it is skipped, saying why, when unreachable.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_log import COLUMNS, TASKS, annotation_rows  # noqa: E402

from labelwidgets.store import LabelStore  # noqa: E402

POSTGRES = os.environ.get("LABELWIDGETS_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _stats(name: str, seconds: list[float], peer: list[float] | None = None) -> None:
    ms = np.array(seconds) * 1000
    line = f"{name:<52} median {np.median(ms):9.1f} ms   p95 {np.percentile(ms, 95):9.1f} ms   (n={len(ms)})"
    if peer:
        line += f"   {np.median(peer) / np.median(seconds):6.1f}x faster than the old full read"
    print(line, flush=True)


def submit_latency(folder: Path, n: int) -> None:
    store = LabelStore(folder / "latency.db")
    answers = {"variety": "rose", "color": ["red", "white"], "place": "outdoors"}
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        store.submit(f"item{i}", answers, rater="alice")  # returns after COMMIT (synchronous=FULL)
        times.append(time.perf_counter() - t0)
    _stats("submit -> committed (SQLite, 4 rows)", times)
    store.close()


# ------------------------------------------------------------------------------ building
def build(url: str, rows: int) -> int:
    """Write the generated log; returns the number of annotation rows."""
    items, log = annotation_rows(rows)
    store = LabelStore(url)
    store.add_items(items)
    for task, (kind, options) in TASKS.items():
        store.register_task(task, options, kind=kind)
    if store.dialect == "sqlite":
        store.close()
        con = sqlite3.connect(url, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            f"INSERT INTO annotations ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", log
        )
        con.execute("COMMIT")
        con.close()
    else:
        raw = store.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.cursor() as cur, cur.copy(f"COPY annotations ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in log:
                    copy.write_row((*row[:-1], row[-1] + "+00"))
            conn.commit()
            conn.execute("ANALYZE annotations")
            conn.commit()
        finally:
            raw.close()
        store.close()
    return len(log)


# ------------------------------------------------------------------- measured in children
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_reads(url: str, repeats: int) -> dict:
    out: dict = {"labels": [], "table": []}
    for _ in range(repeats):
        for name in ("labels", "table"):
            store = LabelStore(url)
            t0 = time.perf_counter()
            frame = getattr(store, name)()
            out[name].append(time.perf_counter() - t0)
            out[f"{name}_rows"] = len(frame)
            store.close()
            del frame, store
    out["peak_mb"] = _peak_mb()
    return out


def repeat_reads(url: str, rounds: int, new: int) -> dict:
    store = LabelStore(url)
    store.labels(), store.table()
    out: dict = {"labels": [], "table": [], "written": [], "unchanged": []}
    ctx = mp.get_context("spawn")
    for r in range(rounds):
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            out["written"].append(pool.submit(write_new, url, new, r).result())
        for name in ("labels", "table"):
            t0 = time.perf_counter()
            getattr(store, name)()
            out[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.labels()
        out["unchanged"].append(time.perf_counter() - t0)
    fresh = LabelStore(url)
    out["equal"] = fresh.labels().equals(store.labels()) and fresh.table().equals(store.table())
    out["peak_mb"] = _peak_mb()
    return out


def legacy_reads(url: str, repeats: int) -> dict:
    from _store_legacy import LegacyViews

    out: dict = {"labels": [], "table": []}
    for _ in range(repeats):
        for name in ("labels", "table"):
            views = LegacyViews(LabelStore(url))
            t0 = time.perf_counter()
            getattr(views, name)()
            out[name].append(time.perf_counter() - t0)
    out["peak_mb"] = _peak_mb()
    return out


def write_new(url: str, n: int, seed: int) -> int:
    """``n`` submissions from another process: answers, edits, boxes, and about 10% undos."""
    rng = np.random.default_rng(1000 + seed)
    store = LabelStore(url)
    items = store.items()["item_id"].to_numpy()
    subs, undo = [], []
    for k in range(n):
        item, rater = str(items[rng.integers(len(items))]), f"rater{rng.integers(20):02d}"
        if k % 10 == 9 and subs:
            undo.append(k)
            continue
        if k % 4 == 3:
            subs.append([{"item_id": item, "task": "objects", "rater": rater, "kind": "box", "label": "bee",
                          "x": 1.5, "y": 2.5, "w": 30.0, "h": 20.0}])  # fmt: skip
        else:
            subs.append([{"item_id": item, "task": t, "rater": rater, "kind": "label", "label": lab}
                         for t, lab in (("variety", "rose"), ("place", "indoors"), ("color", "red"),
                                        ("color", "white"))])  # fmt: skip
    sids = []
    for start in range(0, len(subs), 50):  # 50 submissions a transaction, as a busy team commits
        sids += store.append_many(subs[start : start + 50])
    for k in range(len(undo)):
        store.retract(sids[(k * 37) % len(sids)])
    store.close()
    return len(subs) + len(undo)


def measure(label: str, url: str, repeats: int, rounds: int, new: int, legacy: int) -> None:
    ctx = mp.get_context("spawn")

    def child(fn, *args):
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            return pool.submit(fn, *args).result()

    first = child(first_reads, url, repeats)
    old = child(legacy_reads, url, legacy) if legacy else None
    again = child(repeat_reads, url, rounds, new)
    for name in ("labels", "table"):
        _stats(f"{label}: first {name}() -> {first[f'{name}_rows']:,} rows", first[name], old and old[name])
    if old:
        for name in ("labels", "table"):
            _stats(f"{label}: old full read {name}()", old[name])
    for name in ("labels", "table"):
        _stats(f"{label}: {name}() after {again['written'][0]:,} new submissions", again[name],
               old and old[name])  # fmt: skip
    _stats(f"{label}: labels() with nothing new", again["unchanged"])
    print(f"{label}: peak RSS first reads {first['peak_mb']:,.0f} MB, incremental process "
          f"{again['peak_mb']:,.0f} MB" + (f", old full read {old['peak_mb']:,.0f} MB" if old else "")
          + f"; incremental == fresh full read: {again['equal']}", flush=True)  # fmt: skip


def _postgres_db() -> tuple[str, object] | None:
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except Exception as exc:  # no driver or no server: say so and go on
        print(f"PostgreSQL skipped: {POSTGRES} is not reachable ({exc})")
        return None
    name = f"lw_bench_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES.rsplit("/", 1)[0] + "/" + name, (admin, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="first reads, each on a fresh store")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of new submissions")
    parser.add_argument("--new", type=int, default=1000, help="new submissions per round")
    parser.add_argument("--legacy", type=int, default=1, help="old full reads (0: skip the peer)")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.submits:
            submit_latency(Path(tmp), args.submits)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url, cleanup = str(Path(tmp) / "big.db"), None
            else:
                made = _postgres_db()
                if made is None:
                    continue
                url, cleanup = made
            t0 = time.perf_counter()
            n = build(url, args.rows)
            print(f"{backend}: wrote {n:,} annotation rows in {time.perf_counter() - t0:.1f} s", flush=True)
            try:
                measure(backend, url, args.repeats, args.rounds, args.new, args.legacy)
            finally:
                if cleanup:
                    admin, name = cleanup
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    admin.close()


if __name__ == "__main__":
    main()
