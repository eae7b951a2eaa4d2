"""Label store speed: submit -> committed latency (SQLite), and building views from 1M rows.

Run: ``python benchmarks/store.py [--rows 1000000] [--submits 500]``. Prints median and p95.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from labelwidgets.store import LabelStore, annotations_table


def _stats(name: str, seconds: list[float]) -> None:
    ms = np.array(seconds) * 1000
    print(f"{name:<42} median {np.median(ms):8.2f} ms   p95 {np.percentile(ms, 95):8.2f} ms   (n={len(ms)})")


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


def big_views(folder: Path, rows: int, repeats: int) -> None:
    store = LabelStore(folder / "big.db")
    rng = np.random.default_rng(0)
    n_items = rows // 8  # 2 raters x 2 tasks x ~2 submissions per item
    store.add_items(pd.DataFrame({"item_id": [f"i{k}" for k in range(n_items)],
                                  "path": [f"/d/i{k}.jpg" for k in range(n_items)],
                                  "camera": rng.choice(["a", "b", "c"], n_items)}))  # fmt: skip
    store.register_task("variety", ["daisy", "tulip", "rose"])
    store.register_task("place", ["indoors", "outdoors"])
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    item = rng.integers(0, n_items, rows)
    task = rng.choice(["variety", "place"], rows)
    labels = np.where(task == "variety", rng.choice(["daisy", "tulip", "rose"], rows),
                      rng.choice(["indoors", "outdoors"], rows))  # fmt: skip
    raters = rng.choice(["alice", "bob"], rows)
    batch = []
    with store._write() as conn:
        for k in range(rows):
            batch.append({"submission_id": uuid.UUID(int=k).hex, "item_id": f"i{item[k]}", "task": task[k],
                          "rater": raters[k], "kind": "label", "label": labels[k], "source": "human",
                          "created_at": now})  # fmt: skip
            if len(batch) == 50_000:
                conn.execute(annotations_table.insert(), batch)
                batch = []
        if batch:
            conn.execute(annotations_table.insert(), batch)
    print(f"(loaded {rows:,} annotation rows in {time.perf_counter() - t0:.1f} s)")
    for name, fn in [("labels()", store.labels), ("table()", store.table)]:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        _stats(f"{name} from {rows:,} rows -> {len(out):,} rows", times)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--submits", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        submit_latency(Path(tmp), args.submits)
        big_views(Path(tmp), args.rows, args.repeats)


if __name__ == "__main__":
    main()
