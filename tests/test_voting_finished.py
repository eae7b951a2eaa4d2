"""finished(): the decided items with provenance, what the others need, and the exporter hook."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labelwidgets import InputError
from labelwidgets.formats import from_coco, to_coco, to_voc, to_yolo
from labelwidgets.store import LabelStore
from labelwidgets.voting import NEEDS, finished

BOX = {"label": "cell", "x": 10.0, "y": 12.0, "w": 20.0, "h": 16.0}


@pytest.fixture()
def store(tmp_path):
    """Six items, a single-label and a box task, votes in every state."""
    paths = []
    for i in range(6):
        path = tmp_path / "img" / f"p{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (64, 48), (i * 30, 90, 120)).save(path)
        paths.append(str(path))
    s = LabelStore(tmp_path / "f.db")
    s.add_items(pd.DataFrame({"item_id": [f"img/p{i}.png" for i in range(6)], "path": paths,
                              "width": 64, "height": 48}))  # fmt: skip
    s.register_task("shape", ["circle", "square"])
    s.register_task("cells", ["cell"], kind="box")
    shifted = dict(BOX, x=12.0)

    def vote(item, rater, shape, boxes):
        s.submit(f"img/p{item}.png", {"shape": shape}, rater)
        s.submit_boxes(f"img/p{item}.png", "cells", boxes, rater)

    # p0: both tasks agreed -> finished
    vote(0, "ann", "circle", [BOX])
    vote(0, "bob", "circle", [shifted])
    # p1: shape disputed (needs tiebreak), boxes agreed (no objects)
    vote(1, "ann", "circle", [])
    vote(1, "bob", "square", [])
    # p2: one vote only -> needs a second vote
    vote(2, "ann", "square", [BOX])
    # p3: shape tiebroken by cy (2 of 3), boxes agreed -> finished
    vote(3, "ann", "square", [BOX])
    vote(3, "bob", "circle", [BOX])
    s.submit("img/p3.png", {"shape": "square"}, "cy")
    # p4: shape agreed, box disputed
    vote(4, "ann", "circle", [BOX])
    vote(4, "bob", "circle", [])
    # p5: no votes
    return s


def test_finished_and_open(store):
    done = finished(store)
    assert done.item_ids == ["img/p0.png", "img/p3.png"]
    assert done.tasks == {"shape": "single", "cells": "box"}
    lab = done.labels.set_index(["item_id", "task"])
    assert list(done.labels.columns) == ["item_id", "task", "label", "status", "method", "n_votes",
                                         "votes", "confidence"]  # fmt: skip
    assert lab.loc[("img/p3.png", "shape"), "label"] == "square"
    assert lab.loc[("img/p3.png", "shape"), "status"] == "tiebroken"
    assert lab.loc[("img/p3.png", "shape"), "n_votes"] == 3
    assert lab.loc[("img/p0.png", "cells"), "label"] == [dict(BOX, x=11.0)]  # the mean box
    assert (done.labels["method"] == "majority").all() and done.labels["confidence"].isna().all()
    needs = done.open.set_index(["item_id", "task"])["needs"].astype(str).to_dict()
    assert needs == {
        ("img/p1.png", "shape"): "tiebreak",
        ("img/p2.png", "shape"): "second vote",
        ("img/p2.png", "cells"): "second vote",
        ("img/p4.png", "cells"): "tiebreak",
        ("img/p5.png", "shape"): "first vote",
        ("img/p5.png", "cells"): "first vote",
    }
    assert list(done.open["needs"].cat.categories) == list(NEEDS)
    assert done.open.set_index(["item_id", "task"]).loc[("img/p5.png", "shape"), "n_votes"] == 0


def test_finished_policies_and_task_subset(store):
    shape_only = finished(store, tasks=["shape"])
    assert shape_only.item_ids == ["img/p0.png", "img/p3.png", "img/p4.png"]
    discard = finished(store, tasks="shape", policy="discard")
    assert discard.open.set_index("item_id").loc["img/p1.png", "needs"] == "discarded"
    neutral = finished(store, tasks="shape", policy="neutral", neutral_label="unsure")
    lab = neutral.labels.set_index("item_id")
    assert lab.loc["img/p1.png", "label"] == "unsure" and "img/p1.png" in neutral.item_ids


def test_finished_dawid_skene(store):
    # add raters so that Dawid-Skene has overlaps to learn from
    for i, shape in enumerate(["circle", "square", "square", "square", "circle", "circle"]):
        store.submit(f"img/p{i}.png", {"shape": shape}, "dan")
    done = finished(store, tasks=["shape"], method="dawid_skene", threshold=0.5)
    assert set(done.labels["method"]) == {"dawid_skene"}
    assert done.labels["confidence"].between(0.5, 1).all()
    strict = finished(store, tasks=["shape"], method="dawid_skene", threshold=1.0)
    assert len(strict.item_ids) < len(done.item_ids)
    assert set(strict.open["needs"].astype(str)) <= {"tiebreak", "first vote"}
    mixed = finished(store, method="dawid_skene", threshold=0.5)  # boxes: the majority rule
    methods = mixed.labels.groupby("task")["method"].unique().map(list).to_dict()
    assert methods == {"cells": ["majority"], "shape": ["dawid_skene"]}


def test_exporters_take_the_finished_boxes(store, tmp_path):
    done = finished(store)
    boxes = done.annotations("cells")
    assert list(boxes.columns) == ["item_id", "path", "width", "height", "task", "kind", "label",
                                   "x", "y", "w", "h"]  # fmt: skip
    assert boxes["item_id"].tolist() == ["img/p0.png", "img/p3.png"]
    coco = from_coco(to_coco(boxes, tmp_path / "out" / "coco.json", classes=["cell"]))
    assert sorted(coco["item_id"]) == ["img/p0.png", "img/p3.png"]
    assert np.allclose(coco.sort_values("item_id")[["x", "y", "w", "h"]].to_numpy(),
                       [[11, 12, 20, 16], [10, 12, 20, 16]])  # fmt: skip
    voc = to_voc(boxes, tmp_path / "voc")
    assert sorted(p.name for p in voc.rglob("*.xml")) == ["p0.xml", "p3.xml"]
    yolo = to_yolo(boxes, tmp_path / "yolo", classes=["cell"], copy_images=False)
    assert len(list((yolo.parent / "labels").rglob("*.txt"))) == 2
    # only(): the filter any exporter input can go through
    raw = store.labels(task="cells").merge(store.items()[["item_id", "path"]], on="item_id")
    assert set(done.only(raw)["item_id"]) == {"img/p0.png", "img/p3.png"}
    shapes = done.annotations("shape")
    assert shapes["label"].tolist() == ["circle", "square"]
    table = done.table()
    assert table["item_id"].tolist() == ["img/p0.png", "img/p3.png"]
    assert table["shape"].tolist() == ["circle", "square"] and "path" in table.columns


def test_finished_from_votes_frame():
    votes = pd.DataFrame({"item_id": ["a", "a", "b", "b", "c"], "task": "shape",
                          "rater": ["ann", "bob", "ann", "bob", "ann"],
                          "label": ["circle", "circle", "circle", "square", "square"]})  # fmt: skip
    done = finished(votes)
    assert done.item_ids == ["a"] and done.items is None
    with pytest.raises(InputError, match="`items` must be known to export files"):
        done.annotations("shape")
    items = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "path": ["a.png", "b.png", "c.png",
                                                                     "d.png"]})  # fmt: skip
    with_items = finished(votes, items=items)
    assert with_items.open.set_index("item_id").loc["d", "needs"] == "first vote"


def test_finished_errors(store):
    with pytest.raises(InputError, match=r"`method` must be one of \['majority', 'dawid_skene'\]"):
        finished(store, method="glad")
    with pytest.raises(InputError, match=r"`tasks` must be one of \['shape', 'cells'\]. Got 'size'"):
        finished(store, tasks=["size"])
    with pytest.raises(InputError, match="LabelStore or a labels DataFrame"):
        finished({"a": 1})
    with pytest.raises(InputError, match=r"`task` must be one of \['shape', 'cells'\]"):
        finished(store).annotations("size")
