"""LabelStore: append-only writes, current-answer views, SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from labelwidgets._validate import InputError
from labelwidgets.store import LabelStore, current_rows


def _items(n=3):
    return pd.DataFrame(
        {"item_id": [f"i{k}" for k in range(n)], "path": [f"/x/i{k}.jpg" for k in range(n)],
         "width": 10, "height": 20, "camera": ["a", "b", "a"][:n], "night": [True, False, None][:n]}
    )  # fmt: skip


def _exercise(store: LabelStore):
    assert store.add_items(_items()) == 3
    assert store.add_items(_items()) == 0  # idempotent
    store.register_task("variety", ["daisy", "rose"])
    store.register_task("color", ["red", "white"], kind="multi")
    store.submit("i0", {"variety": "daisy", "color": ["red", "white"]}, rater="alice")
    store.submit("i0", {"variety": "rose", "color": []}, rater="alice")  # an edit
    store.submit("i0", {"variety": "daisy"}, rater="bob")
    mistake = store.submit("i1", {"variety": "rose"}, rater="bob")
    store.retract(mistake)
    store.skip("i2", "alice", ["variety", "color"], reason="blurry")

    labels = store.labels()
    got = sorted(zip(labels["item_id"], labels["task"], labels["rater"], labels["label"], strict=True))
    assert got == [("i0", "variety", "alice", "rose"), ("i0", "variety", "bob", "daisy")]
    log = store.annotations()
    assert len(log) == 3 + 2 + 1 + 1 + 1 + 2  # nothing deleted
    assert log["kind"].value_counts().to_dict() == {"label": 7, "retract": 1, "skip": 2}

    table = store.table(rater="alice").set_index("item_id")
    assert table.loc["i0", "variety"] == "rose"
    assert table.loc["i0", "color"] == []
    assert table.loc["i0", "camera"] == "a" and table.loc["i0", "path"] == "/x/i0.jpg"
    assert pd.isna(table.loc["i1", "variety"])
    assert store.progress("alice", ["variety", "color"]) == {"i0", "i2"}
    items = store.items()
    assert list(items.columns[:4]) == ["item_id", "path", "width", "height"]
    assert {"camera", "night"} <= set(items.columns)
    assert str(items["added_at"].dt.tz) == "UTC"


def test_sqlite_store(store):
    _exercise(store)


@pytest.mark.postgres
def test_postgres_store(postgres_url):
    s = LabelStore(postgres_url)
    try:
        _exercise(s)
    finally:
        s.close()


def test_sqlite_is_wal_and_survives_reopen(tmp_path):
    path = tmp_path / "l.db"
    s = LabelStore(path)
    s.submit("a", {"t": "x"}, rater="r")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.close()
    assert LabelStore(path).labels()["label"].tolist() == ["x"]


def test_multilabel_answer_rows_and_table_lists(store):
    store.register_task("c", ["red", "white"], kind="multi")
    store.add_items(pd.DataFrame({"item_id": ["a"], "path": ["/a"]}))
    store.submit("a", {"c": ["white", "red"]}, rater="r")
    assert sorted(store.labels()["label"]) == ["red", "white"]
    assert store.table().loc[0, "c"] == ["red", "white"]


def test_boxes_submission(store):
    store.register_task("objects", ["cat", "dog"], kind="box")
    store.add_items(pd.DataFrame({"item_id": ["a"], "path": ["/a"], "width": [100], "height": [80]}))
    store.submit_boxes("a", "objects", [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "cat",
                                        "attributes": {"occluded": True}}], rater="r")  # fmt: skip
    row = store.labels().iloc[0]
    assert (row.kind, row.label, row.x, row.y, row.w, row.h) == ("box", "cat", 1.0, 2.0, 3.0, 4.0)
    assert json.loads(row.attributes) == {"occluded": True}
    assert store.table().loc[0, "objects"] == [{"label": "cat", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0}]


def test_exports(store, tmp_path):
    store.submit("a", {"t": "x"}, rater="r")
    store.to_csv(tmp_path / "l.csv", view="labels")
    store.to_parquet(tmp_path / "l.parquet", view="annotations")
    assert pd.read_csv(tmp_path / "l.csv")["label"].tolist() == ["x"]
    assert len(pd.read_parquet(tmp_path / "l.parquet")) == 1
    with pytest.raises(ValueError, match=r"`view` must be one of \['table', 'labels'"):
        store.to_csv(tmp_path / "x.csv", view="nope")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.submit("a", {"t": "x"}, rater=""), "`rater` must be a non-empty string"),
        (lambda s: s.submit("a", {"t": "x"}, rater="r", source="robot"), r"`source` must be one of \['human'"),
        (lambda s: s.register_task("t", ["a"], kind="tree"), r"`kind` must be one of \['single'"),
        (lambda s: s.add_items(pd.DataFrame({"path": ["/a"]})), r"Missing \['item_id'\]"),
        (lambda s: s.assign(pd.DataFrame({"item_id": ["a"]})), r"Missing \['rater'\]"),
        (lambda s: s.assign(pd.DataFrame({"item_id": ["a"], "rater": ["r"], "role": ["boss"]})), "`role` must be one of"),
        (lambda s: s.retract("nope"), "`submission_id` must name a submission"),
    ],
)
def test_bad_input_names_the_value(store, call, match):
    with pytest.raises(ValueError, match=match):
        call(store)


def test_current_rows_is_pure():
    log = pd.DataFrame(
        {"annotation_id": [1, 2, 3, 4], "submission_id": ["s1", "s2", "s3", "s4"],
         "item_id": ["a"] * 4, "task": ["t"] * 4, "rater": ["r", "r", "q", "r"],
         "kind": ["label", "label", "label", "retract"], "label": ["x", "y", "z", None],
         "retracts": [None, None, None, "s2"], "x": None, "y": None, "w": None, "h": None,
         "confidence": None, "round": None, "created_at": pd.Timestamp("2026-01-01", tz="UTC")}
    )  # fmt: skip
    out = current_rows(log)
    assert sorted(zip(out["rater"], out["label"], strict=True)) == [("q", "z"), ("r", "x")]


# ------------------------------------------------------------------ the store file
def test_a_file_with_other_tables_is_refused_unless_adopted(tmp_path):
    import sqlite3

    path = tmp_path / "photos.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE photos (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match=r"holds other tables \['photos'\].*adopt=True"):
        LabelStore(path)
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("photos",)]
    LabelStore(path, adopt=True)
    LabelStore(path)  # a label store now: opens as any other


def test_the_schema_version_is_recorded_and_checked(tmp_path):
    import sqlite3

    path = tmp_path / "a.db"
    LabelStore(path)
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM labelwidgets_meta WHERE key = 'schema_version'").fetchone() == ("1",)
    con.execute("UPDATE labelwidgets_meta SET value = '2'")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="schema version '2'.*up to 1. Upgrade labelwidgets"):
        LabelStore(path)


def test_a_folder_that_cannot_be_written_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="folder .*file' cannot be created"):
        LabelStore(blocker / "labels.db")
    if os.geteuid() == 0:
        return  # root writes into read-only folders anyway; the rest needs an ordinary user
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(InputError, match="SQLite file this process can write"):
            LabelStore(ro / "labels.db")
    finally:
        ro.chmod(0o755)
