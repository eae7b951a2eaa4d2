"""Incremental store views equal a full re-read after any sequence of writes, from any writer.

A store object keeps each view's last result and reads only rows with a higher annotation_id.
The property tests drive random submits, box submits, multi-label answers, skips, undos,
resubmissions under an old submission id and writes from a second store object on the same
database, and compare every view with a fresh full read after every step.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelwidgets.store import LabelStore, current_rows

ITEMS = ["a", "b", "c"]
RATERS = ["ann", "bob"]
VARIETY = ["daisy", "rose", "tulip"]
COLORS = ["red", "white", "pink"]

# one operation: (writer, what, item, rater, payload); writer 0 is the store under test
op = st.tuples(
    st.sampled_from([0, 0, 1]),
    st.sampled_from(["submit", "submit", "multi", "boxes", "skip", "undo", "undo", "model", "reuse", "items"]),
    st.sampled_from(ITEMS),
    st.sampled_from(RATERS),
    st.integers(0, 10_000),
)

VIEWS = [
    ("current", {}),
    ("labels", {}),
    ("table", {}),
    ("current", {"rater": "ann"}),
    ("labels", {"task": "color"}),
    ("current", {"source": "model"}),
    ("labels", {"source": ["human", "pseudo"]}),
    ("table", {"rater": "bob"}),
]


def _apply(store: LabelStore, what: str, item: str, rater: str, k: int, sids: list[str]) -> None:
    if what == "submit":
        sids.append(store.submit(item, {"variety": VARIETY[k % 3], "color": [COLORS[k % 3]]}, rater))
    elif what == "multi":
        chosen = [c for i, c in enumerate(COLORS) if (k >> i) & 1]
        sids.append(store.submit(item, {"color": chosen}, rater))
    elif what == "boxes":
        boxes = [{"x": k % 7 + 0.1 * i, "y": 1.5, "w": 2, "h": 3, "label": ("cat", "dog")[i % 2]}
                 for i in range(k % 3)]  # fmt: skip
        sids.append(store.submit_boxes(item, "objects", boxes, rater))
    elif what == "skip":
        sids.append(store.skip(item, rater, ["variety", "color"], reason="blurry"))
    elif what == "undo" and sids:
        store.retract(sids[k % len(sids)])
    elif what == "model":
        sids.append(store.submit(item, {"variety": VARIETY[k % 3]}, "net", source="model", confidence=k / 1e4))
    elif what == "reuse" and sids:  # more rows under an existing submission id
        store.append([{"item_id": item, "task": "variety", "rater": rater, "kind": "label",
                       "label": VARIETY[k % 3]}], submission_id=sids[k % len(sids)])  # fmt: skip
    elif what == "items":
        store.add_items(pd.DataFrame({"item_id": [f"n{k % 5}"], "path": [f"/n{k % 5}"], "camera": ["z"]}))
        store.submit(f"n{k % 5}", {"variety": VARIETY[k % 3]}, rater)


def _same(inc: LabelStore, url: str) -> None:
    fresh = LabelStore(url, incremental=False)
    try:
        for name, kwargs in VIEWS:
            got, want = getattr(inc, name)(**kwargs), getattr(fresh, name)(**kwargs)
            pd.testing.assert_frame_equal(got, want, obj=f"{name}({kwargs})")
        log = fresh.annotations()
        pd.testing.assert_frame_equal(inc.current(), current_rows(log), obj="current_rows(annotations())")
    finally:
        fresh.close()


def _setup(url: str) -> tuple[LabelStore, LabelStore]:
    a, b = LabelStore(url), LabelStore(url)
    a.add_items(pd.DataFrame({"item_id": ITEMS, "path": [f"/{i}" for i in ITEMS], "camera": ["x", "y", "x"]}))
    a.register_task("variety", VARIETY)
    a.register_task("color", COLORS, kind="multi")
    a.register_task("objects", ["cat", "dog"], kind="box")
    return a, b


def _run(url: str, ops) -> None:
    a, b = _setup(url)
    sids: list[str] = []
    try:
        _same(a, url)
        for writer, what, item, rater, k in ops:
            _apply((a, b)[writer], what, item, rater, k, sids)
            _same(a, url)
    finally:
        a.close()
        b.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=14))
def test_incremental_views_equal_a_full_read_sqlite(ops):
    with tempfile.TemporaryDirectory() as tmp:
        _run(str(Path(tmp) / "labels.db"), ops)


@pytest.mark.postgres
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=10))
def test_incremental_views_equal_a_full_read_postgres(postgres_url, ops):
    import sqlalchemy as sa

    # one database per example: empty the tables between examples
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        for table in ("annotations", "items", "tasks", "assignments"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    engine.dispose()
    _run(postgres_url, ops)


def test_undo_of_the_current_answer_restores_the_previous_one(store):
    first = store.submit("a", {"t": "x"}, rater="r")
    assert store.labels()["label"].tolist() == ["x"]
    second = store.submit("a", {"t": "y"}, rater="r")
    assert store.labels()["label"].tolist() == ["y"]
    store.retract(second)
    assert store.labels()["label"].tolist() == ["x"]
    store.retract(first)
    assert store.labels().empty
    assert store.current().empty


def test_returned_frames_are_the_callers(store):
    store.add_items(pd.DataFrame({"item_id": ["a", "b"], "path": ["/a", "/b"]}))
    store.submit("a", {"t": "x"}, rater="r")
    store.register_task("objects", ["cat"], kind="box")
    store.submit_boxes("a", "objects", [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "cat"}], rater="r")
    labels, table, current = store.labels(), store.table(), store.current()
    table.loc[0, "objects"][0]["label"] = "dog"
    table.loc[0, "objects"].append({"label": "bird"})
    labels.loc[0, "label"] = "changed"
    labels["label"] = "gone"
    table.loc[0, "t"] = "changed"
    current.iloc[0, current.columns.get_loc("label")] = "changed"
    assert store.labels()["label"].tolist() == ["x", "cat"]
    assert store.table()["t"].tolist()[0] == "x"
    assert store.table()["objects"].tolist()[0] == [{"label": "cat", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0}]
    assert store.current()["label"].tolist() == ["x", "cat"]


def test_a_repeat_read_without_new_rows_reads_no_rows(store, monkeypatch):
    from labelwidgets.store import _views

    store.submit("a", {"t": "x"}, rater="r")
    store.labels()
    calls = []
    monkeypatch.setattr(_views, "read_annotations", lambda *a, **k: calls.append(a) or pd.DataFrame())
    assert store.labels()["label"].tolist() == ["x"]
    assert calls == []


def test_new_items_and_task_definitions_reach_the_table(store):
    store.add_items(pd.DataFrame({"item_id": ["a"], "path": ["/a"], "camera": ["x"]}))
    store.submit("a", {"t": "x"}, rater="r")
    assert store.table().columns.tolist() == ["item_id", "path", "width", "height", "camera", "t"]
    store.add_items(pd.DataFrame({"item_id": ["0"], "path": ["/0"], "light": ["day"]}))
    store.register_task("c", ["red", "white"], kind="multi")
    store.submit("0", {"c": ["white", "red"]}, rater="r")
    table = store.table()
    assert table["item_id"].tolist() == ["0", "a"]
    assert table["c"].tolist()[0] == ["red", "white"] and pd.isna(table["c"].tolist()[1])
    assert table["light"].tolist()[0] == "day"
    pd.testing.assert_frame_equal(table, LabelStore(store.url.split("///", 1)[1], incremental=False).table())


# ------------------------------------------------------------------ other processes
def _writer(url: str, n: int, seed: int) -> None:
    """Submissions, edits and undos from another process."""
    store = LabelStore(url)
    sids = []
    for i in range(n):
        item = f"i{(i * 7 + seed) % 40}"
        sids.append(store.submit(item, {"variety": VARIETY[i % 3], "color": COLORS[: i % 3]}, f"p{seed}"))
        if i % 5 == 4:
            store.retract(sids[-2])
        if i % 9 == 0:
            store.submit_boxes(item, "objects", [{"x": i, "y": 1, "w": 2, "h": 2, "label": "cat"}], f"p{seed}")
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_views_see_rows_written_by_other_processes(tmp_path, backend, request):
    url = str(tmp_path / "labels.db") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    store, _ = _setup(url)
    store.add_items(pd.DataFrame({"item_id": [f"i{k}" for k in range(40)], "path": "/x"}))
    ctx = mp.get_context("spawn")
    for round_ in range(3):
        procs = [ctx.Process(target=_writer, args=(url, 30, round_ * 2 + p)) for p in range(2)]
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):  # read while they write
            store.labels()
            store.table()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0, 0]
        _same(store, url)
    assert len(store.labels()) > 0
    store.close()


def _child(url: str) -> str:
    return textwrap.dedent(
        f"""
        import sys, time
        from labelwidgets.store import LabelStore
        store = LabelStore({url!r})
        for i in range(5):
            store.submit(f"pre{{i}}", {{"t": "x"}}, "w")
        # the store's own reads, then its reader connections closed, as the lost writes needed
        store.labels(); store.table(); store.current(rater="w"); store.annotations()
        store.engine.dispose()
        for i in range(20):
            sid = store.submit(f"post{{i}}", {{"t": "y"}}, "w")
            sys.stdout.write(sid + "\\n")
            sys.stdout.flush()
        store.labels()
        time.sleep(600)
        """
    )


def test_reads_never_lose_committed_writes_when_the_process_dies(tmp_path):
    """The reader must not delete the store's -wal/-shm files (a second SQLite copy would)."""
    url = str(tmp_path / "labels.db")
    watcher = LabelStore(url)  # a reader in this process too
    child = subprocess.Popen([sys.executable, "-c", _child(url)], stdout=subprocess.PIPE, text=True)
    try:
        sids = []
        while len(sids) < 20:
            line = child.stdout.readline().strip()
            assert line, "the writer process stopped early"
            sids.append(line)
            watcher.labels()
        child.send_signal(signal.SIGKILL)  # no clean shutdown, no checkpoint
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    watcher.close()
    log = LabelStore(url).annotations()
    assert set(sids) <= set(log["submission_id"])
    assert len(log) == 25
    assert len(LabelStore(url).labels()) == 25


@pytest.mark.postgres
def test_postgres_rows_that_commit_late_are_read(postgres_url):
    """PostgreSQL hands out ids before commit: a lower id can commit after a higher one."""
    import sqlalchemy as sa

    store = LabelStore(postgres_url)
    other = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    store.submit("a", {"t": "x"}, rater="r")
    assert len(store.labels()) == 1
    with other.connect() as slow:
        tx = slow.begin()
        slow.exec_driver_sql(
            "INSERT INTO annotations (submission_id, item_id, task, rater, kind, label, source, created_at)"
            f" VALUES ('{uuid.uuid4().hex}', 'late', 't', 'r', 'label', 'z', 'human', now())"
        )
        store.submit("b", {"t": "y"}, rater="r")  # a higher id, committed first
        assert sorted(store.labels()["item_id"]) == ["a", "b"]
        tx.commit()
    assert sorted(store.labels()["item_id"]) == ["a", "b", "late"]
    pd.testing.assert_frame_equal(store.labels(), LabelStore(postgres_url, incremental=False).labels())
    other.dispose()
    store.close()


def test_many_views_evict_the_oldest_and_stay_right(store):
    store.add_items(pd.DataFrame({"item_id": ["a"], "path": ["/a"]}))
    store.submit("a", {"t": "x"}, rater="r0")
    assert store.table(rater="r0")["t"].tolist() == ["x"]
    for k in range(40):  # more views than a store keeps
        store.current(rater=f"r{k}")
        store.labels(task="t", rater=f"r{k}")
    store.submit("a", {"t": "y"}, rater="r0")
    assert store.table(rater="r0")["t"].tolist() == ["y"]
    assert store.labels(rater="r0")["label"].tolist() == ["y"]
    assert len(store._views) <= 16
