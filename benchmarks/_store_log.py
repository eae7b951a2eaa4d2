"""A generated annotation log of any size, shaped like a team's project (benchmarks/store.py).

50,000 items x 5 tasks x 2 raters (of a team of 20) give about 1,000,000 rows: every rater submits
the three single-label tasks and the multi-label task in one submission and the boxes in another;
a model predicts ``variety`` and boxes for every item; a quarter of the answers are edited, some
edits and box submissions are undone (retract rows), and a few items are skipped.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

TASKS = {
    "variety": ("single", ["daisy", "tulip", "rose", "sunflower", "dandelion"]),
    "place": ("single", ["indoors", "outdoors"]),
    "quality": ("single", ["good", "blurry", "dark"]),
    "color": ("multi", ["red", "white", "yellow", "pink", "purple"]),
    "objects": ("box", ["flower", "bee", "leaf"]),
}
ROWS_PER_ITEM = 20  # about, with the proportions below

# annotation columns in table order, without annotation_id
COLUMNS = [
    "submission_id", "item_id", "task", "rater", "kind", "label", "x", "y", "w", "h", "attributes",
    "source", "model", "round", "confidence", "retracts", "created_at",
]  # fmt: skip


def items_frame(n_items: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"img{k:06d}.jpg" for k in range(n_items)]
    return pd.DataFrame(
        {"item_id": ids, "path": [f"/data/{i}" for i in ids], "width": 640, "height": 480,
         "camera": rng.choice(["a", "b", "c"], n_items), "lighting": rng.choice(["day", "night"], n_items),
         "split": rng.choice(["train", "val"], n_items, p=[0.8, 0.2])}
    )  # fmt: skip


def annotation_rows(rows: int, seed: int = 0) -> tuple[pd.DataFrame, list[tuple]]:
    """Items and about ``rows`` annotation tuples (``COLUMNS`` order), in write order."""
    rng = np.random.default_rng(seed)
    n_items = max(1, rows // ROWS_PER_ITEM)
    items = items_frame(n_items, seed)
    raters = [f"rater{k:02d}" for k in range(20)]
    opts = {t: o for t, (_, o) in TASKS.items()}

    def sid() -> str:
        return rng.bytes(16).hex()

    def tag_rows(item, rater, source="human", model=None, rnd=None, conf=None):
        s = sid()
        out = [(s, item, t, rater, "label", opts[t][rng.integers(len(opts[t]))], None, None, None, None,
                None, source, model, rnd, conf, None) for t in ("variety", "place", "quality")]  # fmt: skip
        colors = [c for c in opts["color"] if rng.random() < 0.4]
        attrs = json.dumps({"color": {"accepted": True}}) if rng.random() < 0.1 else None
        out += [(s, item, "color", rater, "label", c, None, None, None, None, attrs, source, model,
                 rnd, conf, None) for c in colors or [None]]  # fmt: skip
        return out

    def box_rows(item, rater, source="human", model=None, rnd=None):
        s = sid()
        n = rng.integers(0, 4)
        if n == 0:
            return [(s, item, "objects", rater, "box", None, None, None, None, None, None, source,
                     model, rnd, None, None)]  # fmt: skip
        out = []
        for _ in range(n):
            x, y = rng.uniform(0, 500, 2).round(1)
            w, h = rng.uniform(5, 140, 2).round(1)
            conf = round(float(rng.uniform(0.3, 1)), 3) if source == "model" else None
            attrs = json.dumps({"occluded": True}) if rng.random() < 0.05 else None
            out.append((s, item, "objects", rater, "box", opts["objects"][rng.integers(3)], float(x),
                        float(y), float(w), float(h), attrs, source, model, rnd, conf, None))  # fmt: skip
        return out

    def shuffled(subs: list[list[tuple]]) -> list[list[tuple]]:
        return [subs[k] for k in rng.permutation(len(subs))]

    pairs = [(item, rater) for item in items["item_id"]
             for rater in map(str, rng.choice(raters, 2, replace=False))]  # fmt: skip
    first = shuffled([tag_rows(i, r) for i, r in pairs] + [box_rows(i, r) for i, r in pairs])
    model = shuffled(
        [[(*row[:13], 0, 0.9, None) for row in tag_rows(i, "model-v1", "model", "net-v1", 0)][:1]
         for i in items["item_id"]]
        + [box_rows(i, "model-v1", "model", "yolo-v1", 0) for i in items["item_id"]]
    )
    edited = [pairs[k] for k in np.flatnonzero(rng.random(len(pairs)) < 0.25)]
    edits = shuffled([tag_rows(i, r) for i, r in edited])
    undo = [sub for sub in edits if rng.random() < 0.1]
    undo += [sub for sub in first if sub[0][2] == "objects" and rng.random() < 0.02]
    retracts = []
    for sub in undo:
        keys = dict.fromkeys((row[1], row[2], row[3], row[11]) for row in sub)
        s = sid()
        retracts.append([(s, i, t, r, "retract", None, None, None, None, None, None, src, None, None,
                          None, sub[0][0]) for i, t, r, src in keys])  # fmt: skip
    skips = [[(s, i, t, "rater99", "skip", None, None, None, None, None, '{"reason": "blurry"}',
               "human", None, None, None, None) for t in TASKS]
             for i in items["item_id"][rng.random(n_items) < 0.02] for s in [sid()]]  # fmt: skip
    subs = first + model + edits + shuffled(retracts + skips)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    out: list[tuple] = []
    for k, sub in enumerate(subs):
        if len(out) >= rows:
            break
        when = (start + timedelta(seconds=0.7 * k)).strftime("%Y-%m-%d %H:%M:%S.%f")
        out.extend((*row, when) for row in sub)
    return items, out
