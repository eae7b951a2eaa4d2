"""Several raters labelling at once, as separate processes, on one SQLite file or PostgreSQL.

Each worker process opens its own LabelStore and submits answers one transaction at a time;
the parent then counts rows: none lost, none doubled, every (process, i) exactly once. The
PostgreSQL tests each create a fresh database ``lw_<uuid>`` and drop it afterwards.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from labelwidgets.store import LabelStore
from labelwidgets.voting import assign


def _worker(url: str, proc: int, n: int, out_dir: str, barrier, items=None) -> None:
    """Submit ``n`` answers (or one per assigned item) as rater ``r<proc>``; save the ids."""
    store = LabelStore(url)
    rater = f"r{proc:02d}"
    if items == "assigned":
        todo = store.assignments(rater=rater)["item_id"].tolist()
    else:
        todo = [f"p{proc:02d}-{i:05d}" for i in range(n)]
    barrier.wait(timeout=120)  # everyone writes at the same time
    sids = [
        store.submit(
            item,
            {"shape": ("circle", "square")[i % 2]},
            rater,
            attributes={"shape": {"proc": proc, "i": i}},
        )  # fmt: skip
        for i, item in enumerate(todo)
    ]
    Path(out_dir, f"sids-{proc:02d}.txt").write_text("\n".join(sids))
    store.close()


def run_workers(url: str, n_procs: int, n: int, out_dir: Path, items=None) -> list[str]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(n_procs)
    procs = [ctx.Process(target=_worker, args=(url, p, n, str(out_dir), barrier, items))
             for p in range(n_procs)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * n_procs
    return [
        s
        for p in range(n_procs)
        for s in (out_dir / f"sids-{p:02d}.txt").read_text().split("\n")
        if s
    ]


def check_rows(store: LabelStore, sids: list[str], n_procs: int, n: int) -> None:
    log = store.annotations()
    assert len(log) == n_procs * n == len(sids)
    assert log["submission_id"].is_unique and log["annotation_id"].is_unique
    assert set(log["submission_id"]) == set(sids)
    expected = {f"p{p:02d}-{i:05d}" for p in range(n_procs) for i in range(n)}
    assert set(log["item_id"]) == expected and log["item_id"].is_unique
    assert (log["rater"] == "r" + log["item_id"].str[1:3]).all()
    attrs = pd.DataFrame([json.loads(a) for a in log["attributes"]])
    assert (attrs["proc"] == log["item_id"].str[1:3].astype(int)).all()
    assert (attrs["i"] == log["item_id"].str[4:].astype(int)).all()


@pytest.mark.parametrize("n", [500, 1000])
def test_sqlite_two_processes(tmp_path, n):
    url = str(tmp_path / "labels.db")
    LabelStore(url).close()  # schema first, as a notebook would
    sids = run_workers(url, 2, n, tmp_path)
    check_rows(LabelStore(url), sids, 2, n)


def _child_code(url: str) -> str:
    return textwrap.dedent(
        f"""
        import sys, time
        from labelwidgets.store import LabelStore
        store = LabelStore({url!r})
        sid = store.submit("killed-item", {{"shape": "circle"}}, "ann")
        sys.stdout.write(sid + "\\n")
        sys.stdout.flush()
        time.sleep(600)
        """
    )


def submit_then_sigkill(url: str) -> str:
    child = subprocess.Popen(
        [sys.executable, "-c", _child_code(url)], stdout=subprocess.PIPE, text=True
    )
    try:
        sid = child.stdout.readline().strip()
        child.send_signal(signal.SIGKILL)  # no clean shutdown: no commit-on-exit, no close()
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert len(sid) == 32
    return sid


def test_sqlite_sigkill_after_submit_keeps_row(tmp_path):
    url = str(tmp_path / "labels.db")
    sid = submit_then_sigkill(url)
    log = LabelStore(url).annotations()
    assert log["submission_id"].tolist() == [sid]
    assert log["label"].tolist() == ["circle"]


# ---------------------------------------------------------------------------- PostgreSQL
# `postgres_url` (tests/conftest.py): a fresh database per test on 127.0.0.1:5432, dropped after.
@pytest.mark.postgres
def test_postgres_ten_processes(tmp_path, postgres_url):
    sids = run_workers(postgres_url, 10, 100, tmp_path)
    store = LabelStore(postgres_url)
    check_rows(store, sids, 10, 100)
    store.close()


@pytest.mark.postgres
def test_postgres_team_mode_assignments(tmp_path, postgres_url):
    n_procs, per_rater = 20, 200
    raters = [f"r{p:02d}" for p in range(n_procs)]
    store = LabelStore(postgres_url)
    items = [f"img-{i:05d}" for i in range(n_procs * per_rater // 2)]
    store.add_items(pd.DataFrame({"item_id": items, "path": items}))
    plan = assign(items, raters, per_item=2, random_state=0, store=store)
    sids = run_workers(postgres_url, n_procs, 0, tmp_path, items="assigned")
    log = store.annotations()
    assert len(log) == len(plan) == n_procs * per_rater == len(sids)
    assert log["submission_id"].is_unique and set(log["submission_id"]) == set(sids)
    done = set(zip(log["item_id"], log["rater"], strict=True))
    assert done == set(zip(plan["item_id"], plan["rater"], strict=True))  # exactly the assignments
    assert (log.groupby("item_id")["rater"].nunique() == 2).all()
    store.close()


@pytest.mark.postgres
def test_postgres_sigkill_after_submit_keeps_row(postgres_url):
    LabelStore(postgres_url).close()
    sid = submit_then_sigkill(postgres_url)
    store = LabelStore(postgres_url)
    assert store.annotations()["submission_id"].tolist() == [sid]
    store.close()
