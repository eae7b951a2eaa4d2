"""Streamed predictions into the store: the rows the package writes, resume, progress, errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch", reason="the train extra (torch) is not installed")

from labelwidgets._validate import InputError  # noqa: E402
from labelwidgets.active import write_probabilities  # noqa: E402
from labelwidgets.store import LabelStore  # noqa: E402
from labelwidgets.training import ArrayImages, Classifier, NoisyStudent  # noqa: E402
from labelwidgets.training.detector import prediction_submissions  # noqa: E402
from labelwidgets.training.stream import (  # noqa: E402
    BatchImages,
    label_rows,
    predict_to_store,
    predicted_items,
)

pytestmark = pytest.mark.train

#: The columns two writes of the same predictions must agree on (ids and times differ).
SAME = ["item_id", "task", "rater", "kind", "label", "x", "y", "w", "h", "attributes", "source",
        "model", "round", "confidence"]  # fmt: skip


def pool(n=90, size=12, seed=0):
    """Random colour images: ``ArrayImages`` and labels for the first 30."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    images = ArrayImages(arr, [f"i{k:03d}" for k in range(n)])
    first = images.item_ids[:30]
    labels = pd.DataFrame({"item_id": first, "label": (["red", "blue", "green"] * 10)[: len(first)]})
    return images, labels


@pytest.fixture(scope="module")
def fitted():
    images, labels = pool()
    # classes not in name order: the rows must still follow each writer's tie and order rules
    clf = Classifier(model="tiny_cnn", image_size=12, epochs=1, classes=["red", "blue", "green"],
                     verbose=False).fit(images, labels)  # fmt: skip
    return clf, images


def rows_of(store, **where):
    log = store.annotations()
    for key, value in where.items():
        log = log[log[key] == value]
    return log.sort_values(["item_id", "annotation_id"])[SAME].reset_index(drop=True)


def assert_same_rows(ours, theirs):
    assert len(ours) == len(theirs) > 0
    pd.testing.assert_frame_equal(ours.drop(columns=["confidence", "attributes"]),
                                  theirs.drop(columns=["confidence", "attributes"]))  # fmt: skip
    np.testing.assert_allclose(ours["confidence"].astype(float), theirs["confidence"].astype(float),
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    for a, b in zip(ours["attributes"], theirs["attributes"], strict=True):
        if pd.isna(a) or pd.isna(b):  # a missing value (None or NaN, as the store's dtype holds it)
            assert pd.isna(a) and pd.isna(b)
            continue
        pa, pb = json.loads(a)["probabilities"], json.loads(b)["probabilities"]
        assert list(pa) == list(pb)  # same classes, same (name) order
        np.testing.assert_allclose(list(pa.values()), list(pb.values()), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ the rows
def test_model_rows_are_those_of_write_probabilities(fitted, tmp_path):
    clf, images = fitted
    ids = images.item_ids[30:]
    theirs = LabelStore(tmp_path / "theirs.db")
    proba = clf.predict_proba(images.subset(ids))
    long = pd.DataFrame({"item_id": np.repeat(ids, 3), "class": np.tile(clf.classes_, len(ids)),
                         "probability": proba.ravel()})  # fmt: skip
    write_probabilities(theirs, "colour", long, "tiny_cnn", round=2)
    ours = LabelStore(tmp_path / "ours.db")
    report = predict_to_store(clf, images, ours, "colour", item_ids=ids, round=2, batch_size=16,
                              progress=False)  # fmt: skip
    assert (report.n_items, report.n_predicted, report.n_rows, report.n_batches) == (60, 60, 60, 4)
    assert report.model == "tiny_cnn" and report.kind == "classify" and report.n_already == 0
    assert_same_rows(rows_of(ours), rows_of(theirs))
    # one submission (one transaction) per batch of 16
    assert ours.annotations().groupby("submission_id", sort=False).size().tolist() == [16, 16, 16, 12]
    assert ours.tasks().set_index("task").loc["colour", "options"] == ["red", "blue", "green"]


def test_pseudo_rows_are_those_of_write_pseudo_labels(tmp_path):
    images, labels = pool()
    ns = NoisyStudent(Classifier(model="tiny_cnn", image_size=12, epochs=1, verbose=False),
                      rounds=1, threshold=0.01, balance=False, verbose=False).fit(images, labels)  # fmt: skip
    theirs = LabelStore(tmp_path / "theirs.db")
    ns.write_pseudo_labels(theirs, task="colour")  # round 1: the teacher's labels, all kept
    ours = LabelStore(tmp_path / "ours.db")
    report = predict_to_store(ns.models_[0], images, ours, "colour", source="pseudo", round=1,
                              model_name=ns.model_names_[0], item_ids=images.item_ids[30:],
                              batch_size=25, progress=False)  # fmt: skip
    assert report.n_predicted == 60 and report.model == "tiny_cnn-r0"
    assert_same_rows(rows_of(ours), rows_of(theirs))
    # a fitted NoisyStudent predicts with its last model, under that model's name
    last = predict_to_store(ns, images, ours, "colour", source="pseudo", round=2,
                            item_ids=images.item_ids[30:40], progress=False)  # fmt: skip
    assert last.model == "tiny_cnn-r1" and last.n_predicted == 10


def test_label_rows_tie_rules():
    model = label_rows(["a"], [[0.5, 0.5]], ["zebra", "ant"], "t", "m")[0]
    pseudo = label_rows(["a"], [[0.5, 0.5]], ["zebra", "ant"], "t", "m", "pseudo")[0]
    assert model["label"] == "ant" and list(model["attributes"]["probabilities"]) == ["ant", "zebra"]
    assert pseudo["label"] == "zebra" and "attributes" not in pseudo
    assert label_rows([], np.zeros((0, 2)), ["a", "b"], "t", "m") == []
    with pytest.raises(InputError, match="must sum to 1"):
        label_rows(["a"], [[0.2, 0.2]], ["a", "b"], "t", "m")


def test_prediction_submissions_match_submit_boxes(store):
    found = pd.DataFrame({"item_id": ["a", "a", "b"], "label": ["cat", "dog", None],
                          "x": [1.0, 2.0, np.nan], "y": [1.0, 2.0, np.nan], "w": [3.0, 4.0, np.nan],
                          "h": [3.0, 4.0, np.nan], "confidence": [0.9, 0.4, np.nan]})  # fmt: skip
    subs = prediction_submissions(found, "yolo", "pseudo", "boxes", 3)
    assert [len(s) for s in subs] == [2, 1]
    ours = LabelStore(store.url)
    ours.append_many(subs)
    other = LabelStore(store.url.replace("labels.db", "other.db"))
    for item, boxes in (("a", found.iloc[:2]), ("b", found.iloc[:0])):
        other.submit_boxes(item, "boxes", boxes.to_dict("records"), "yolo", source="pseudo",
                           model="yolo", round=3)  # fmt: skip
    assert_same_rows(rows_of(ours), rows_of(other))


# ------------------------------------------------------------------ detection
@pytest.fixture(scope="module")
def detector_file(tmp_path_factory):
    pytest.importorskip("ultralytics")
    from labelwidgets._offline import prepare_ultralytics
    from labelwidgets.training._weights import ultralytics_yaml
    from labelwidgets.training.detector import save_detector

    prepare_ultralytics()
    from ultralytics import YOLO

    yolo = YOLO(str(ultralytics_yaml("yolov8n.yaml", task="detect")))  # untrained, from yaml
    return save_detector(yolo, tmp_path_factory.mktemp("det") / "det.safetensors", imgsz=64,
                         name="yolov8n")  # fmt: skip


@pytest.mark.parametrize("conf", [0.0, 1.0], ids=["boxes", "nothing-found"])
def test_detection_rows_are_those_of_write_predictions(detector_file, tmp_path, conf):
    from labelwidgets.training import load_detector, predict_boxes, write_predictions

    images, _ = pool(n=12, size=32)
    theirs = LabelStore(tmp_path / "theirs.db")
    found = predict_boxes(load_detector(detector_file), images, conf=conf, max_det=2)
    write_predictions(theirs, found, "yolov8n", source="pseudo", task="boxes", round=1)
    ours = LabelStore(tmp_path / "ours.db")
    report = predict_to_store(detector_file, images, ours, "boxes", source="pseudo", round=1,
                              conf=conf, max_det=2, batch_size=5, progress=False)  # fmt: skip
    assert report.kind == "detect" and report.model == "yolov8n" and report.n_predicted == 12
    assert report.n_batches == 3 and report.n_rows == len(found)
    assert_same_rows(rows_of(ours), rows_of(theirs))
    log = ours.annotations()
    assert log["submission_id"].nunique() == 12  # one submission per item, as write_predictions
    if conf == 1.0:  # nothing above 1: every item recorded as "nothing found"
        assert log["label"].isna().all() and len(log) == 12
    else:
        assert log["label"].notna().all() and (log.groupby("item_id").size() == 2).all()
    assert ours.tasks().set_index("task").loc["boxes", "kind"] == "box"


# ------------------------------------------------------------------ resume
class Flaky:
    """The images of ``images``, until the disk 'fails' after ``fail_after`` loads."""

    def __init__(self, images, fail_after):
        self.items, self._images, self.fail_after, self.loads = images.items, images, fail_after, 0

    def load(self, item_id):
        self.loads += 1
        if self.loads > self.fail_after:
            raise OSError(f"input/output error reading {item_id}")
        return self._images.load(item_id)


def test_a_crash_resumes_where_it_stopped_and_each_item_ends_once(fitted, store):
    clf, images = fitted
    with pytest.raises(OSError, match="input/output error"):
        predict_to_store(clf, Flaky(images, fail_after=40), store, "colour", batch_size=16,
                         source="pseudo", round=1, progress=False)  # fmt: skip
    # batches 1 and 2 were committed; batch 3 failed while loading: none of its rows are in
    assert len(store.annotations()) == 32
    assert predicted_items(store, "colour", "tiny_cnn", "pseudo", 1) == set(images.item_ids[:32])
    loads = Flaky(images, fail_after=10**6)
    report = predict_to_store(clf, loads, store, "colour", batch_size=16, source="pseudo",
                              round=1, progress=False)  # fmt: skip
    assert (report.n_already, report.n_predicted) == (32, 58) and loads.loads == 58
    log = store.annotations()
    assert len(log) == 90 and log["item_id"].value_counts().eq(1).all()
    # another round, source or model is another run: nothing of it is done yet
    assert predicted_items(store, "colour", "tiny_cnn", "pseudo", 2) == set()
    assert predicted_items(store, "colour", "tiny_cnn", "model", 1) == set()
    assert predicted_items(store, "colour", "other", "pseudo", 1) == set()
    again = predict_to_store(clf, images, store, "colour", source="pseudo", round=1,
                             progress=False)  # fmt: skip
    assert (again.n_already, again.n_predicted, again.n_batches) == (90, 0, 0)
    # a retracted batch counts as not predicted: only its items run again
    first = log.loc[log["item_id"] == images.item_ids[0], "submission_id"].iloc[0]
    store.retract(first)
    assert predicted_items(store, "colour", "tiny_cnn", "pseudo", 1,
                           item_ids=images.item_ids[:20]) == set(images.item_ids[16:20])  # fmt: skip
    redo = predict_to_store(clf, images, store, "colour", source="pseudo", round=1, progress=False)
    assert redo.n_predicted == 16
    current = store.current(task="colour", source="pseudo")
    assert len(current) == 90 and current["item_id"].is_unique


def test_resume_on_postgresql(fitted, postgres_url):
    clf, images = fitted
    pg = LabelStore(postgres_url)
    try:
        with pytest.raises(OSError):
            predict_to_store(clf, Flaky(images, fail_after=20), pg, "colour", batch_size=8,
                             progress=False)  # fmt: skip
        assert len(pg.annotations()) == 16
        report = predict_to_store(clf, images, pg, "colour", batch_size=8, progress=False)
        assert (report.n_already, report.n_predicted) == (16, 74)
        assert pg.annotations()["item_id"].value_counts().eq(1).all()
    finally:
        pg.close()


def test_batches_hold_one_batch_of_images(fitted, store, monkeypatch):
    import labelwidgets.training.stream as stream

    clf, images = fitted
    sizes = []

    class Counting(BatchImages):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sizes.append(len(self))

    monkeypatch.setattr(stream, "BatchImages", Counting)
    predict_to_store(clf, images, store, "colour", batch_size=32, progress=False)
    assert sizes == [32, 32, 26]


# ------------------------------------------------------------------ progress
def test_progress_bar_counts_images_per_second(fitted, store, capsys):
    clf, images = fitted
    predict_to_store(clf, images, store, "colour", item_ids=images.item_ids[:50], progress=False)
    assert capsys.readouterr().err == ""
    predict_to_store(clf, images, store, "colour", progress=True)
    err = capsys.readouterr().err
    assert "predict tiny_cnn" in err and "90/90" in err and "img/s" in err
    assert "50/90" in err  # the resumed run starts the bar at the items already done


# ------------------------------------------------------------------ bad input
def test_bad_input_errors(fitted, store, monkeypatch):
    clf, images = fitted
    call = dict(progress=False)
    with pytest.raises(InputError, match=r"`engine` must be one of \['local', 'ray'\]. Got 'spark'"):
        predict_to_store(clf, images, store, "colour", engine="spark", **call)
    with pytest.raises(InputError, match=r"`source` must be one of \['model', 'pseudo'\]. Got 'human'"):
        predict_to_store(clf, images, store, "colour", source="human", **call)
    with pytest.raises(InputError, match="`batch_size` must be an integer >= 1. Got 0"):
        predict_to_store(clf, images, store, "colour", batch_size=0, **call)
    with pytest.raises(InputError, match=r"`item_ids` must be items of `images`. Got 1 unknown, e.g. \['nope'\]"):
        predict_to_store(clf, images, store, "colour", item_ids=["i000", "nope"], **call)
    with pytest.raises(InputError, match="`store` must be a LabelStore. Got str"):
        predict_to_store(clf, images, "labels.db", "colour", **call)
    with pytest.raises(InputError, match="must be fitted.*unfitted Classifier"):
        predict_to_store(Classifier(), images, store, "colour", **call)
    with pytest.raises(InputError, match="`model` must be a fitted classifier.*Got dict"):
        predict_to_store({}, images, store, "colour", **call)
    with pytest.raises(InputError, match="existing .safetensors file.*'best.pt'.*pickles"):
        predict_to_store("best.pt", images, store, "colour", **call)
    with pytest.raises(InputError, match="`images` must be an ImageSet"):
        predict_to_store(clf, [1, 2], store, "colour", **call)
    store.register_task("shapes", ["red"], kind="box")
    with pytest.raises(InputError, match="`task` must be a single-label task whose options include"):
        predict_to_store(clf, images, store, "shapes", **call)
    store.register_task("colour2", ["red", "blue"], kind="single")
    with pytest.raises(InputError, match=r"Got 'colour2', a single task without \['green'\]"):
        predict_to_store(clf, images, store, "colour2", **call)
    assert store.annotations().empty
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(InputError, match=r'needs Ray Data.*pip install "labelwidgets\[cluster\]"'):
        predict_to_store(clf, images, store, "colour", engine="ray", **call)


def test_a_path_that_is_not_a_labelwidgets_file_is_refused(tmp_path, fitted, store):
    from safetensors.numpy import save_file

    clf, images = fitted
    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(plain))
    with pytest.raises(InputError, match="whose header names format None"):
        predict_to_store(plain, images, store, "colour", progress=False)
    saved = clf.save(tmp_path / "clf.safetensors")  # a classifier file loads and predicts
    report = predict_to_store(saved, images, store, "colour", progress=False)
    assert report.n_predicted == 90 and report.model == "tiny_cnn"
