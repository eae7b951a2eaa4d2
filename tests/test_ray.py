"""The prediction step on Ray Data: a local Ray instance (2 CPUs) against PostgreSQL and SQLite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch", reason="the train extra (torch) is not installed")
ray = pytest.importorskip(
    "ray", reason='Ray is not installed: the cluster extra, pip install "labelwidgets[cluster]"'
)
pytest.importorskip("ray.data", reason='Ray Data is not installed: pip install "labelwidgets[cluster]"')

from PIL import Image  # noqa: E402

from labelwidgets._validate import InputError  # noqa: E402
from labelwidgets.images import ImageSet  # noqa: E402
from labelwidgets.store import LabelStore  # noqa: E402
from labelwidgets.training import ArrayImages, Classifier  # noqa: E402
from labelwidgets.training._ray import (  # noqa: E402
    BatchWriter,
    check_store_reachable,
    model_payload,
)
from labelwidgets.training.stream import Predictor, predict_to_store  # noqa: E402

pytestmark = pytest.mark.train
COLUMNS = ["item_id", "task", "rater", "kind", "label", "source", "model", "round"]


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance with 2 CPUs (shut down after the module)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """120 small PNG files, an ImageSet over them and a tiny classifier fitted on 30."""
    root = tmp_path_factory.mktemp("pool")
    rng = np.random.default_rng(0)
    for k in range(120):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / f"{k:03d}.png")
    images = ImageSet.from_folder(root, progress=False)
    labels = pd.DataFrame({"item_id": images.item_ids[:30], "label": ["red", "blue", "green"] * 10})
    clf = Classifier(model="tiny_cnn", image_size=16, epochs=1, verbose=False).fit(images, labels)
    return images, clf


def sorted_rows(store):
    log = store.annotations()
    return log.sort_values(["item_id", "annotation_id"]).reset_index(drop=True)


def test_ray_writes_to_postgresql_what_the_local_engine_writes(local_ray, folder, postgres_url,
                                                               tmp_path):  # fmt: skip
    images, clf = folder
    run = dict(source="pseudo", round=1, progress=False)
    local = LabelStore(tmp_path / "local.db")
    predict_to_store(clf, images, local, "colour", **run)
    pg = LabelStore(postgres_url)
    try:
        # a first run that stopped after 40 items (the local engine; resume spans engines)
        predict_to_store(clf, images, pg, "colour", item_ids=images.item_ids[:40], **run)
        check_store_reachable(pg, ["10.0.0.2", "10.0.0.3"], "10.0.0.1")  # PostgreSQL: any node
        report = predict_to_store(clf, images, pg, "colour", engine="ray", workers=2,
                                  batch_size=20, **run)  # fmt: skip
        assert report.engine == "ray" and report.kind == "classify"
        assert (report.n_already, report.n_predicted, report.n_rows) == (40, 80, 80)
        assert report.n_batches == 4 and sorted(report.batch_sizes) == [20, 20, 20, 20]
        ours, theirs = sorted_rows(pg), sorted_rows(local)
        assert ours["item_id"].is_unique and len(ours) == 120
        pd.testing.assert_frame_equal(ours[COLUMNS], theirs[COLUMNS])
        np.testing.assert_allclose(ours["confidence"], theirs["confidence"], rtol=1e-6)
        # one transaction per batch: 40 items from the local run (256 a batch), 4 of 20 from Ray
        assert sorted(ours.groupby("submission_id").size()) == [20, 20, 20, 20, 40]
        again = predict_to_store(clf, images, pg, "colour", engine="ray", **run)
        assert (again.n_already, again.n_predicted) == (120, 0) and len(pg.annotations()) == 120
    finally:
        pg.close()


def test_ray_on_a_local_sqlite_file_detects_in_memory_images(local_ray, tmp_path):
    pytest.importorskip("ultralytics")
    from labelwidgets._offline import prepare_ultralytics
    from labelwidgets.training import load_detector, predict_boxes, save_detector
    from labelwidgets.training._weights import ultralytics_yaml

    prepare_ultralytics()
    from ultralytics import YOLO

    yolo = YOLO(str(ultralytics_yaml("yolov8n.yaml", task="detect")))  # untrained, from yaml
    weights = save_detector(yolo, tmp_path / "det.safetensors", imgsz=64, name="yolov8n")
    rng = np.random.default_rng(1)
    images = ArrayImages(rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8))  # sent as an object
    store = LabelStore(tmp_path / "labels.db")
    report = predict_to_store(weights, images, store, "boxes", engine="ray", workers=1,
                              batch_size=4, conf=0.0, max_det=2, progress=False)  # fmt: skip
    assert (report.kind, report.model, report.n_predicted, report.n_batches) == ("detect", "yolov8n", 10, 3)
    log = store.annotations()
    assert log["submission_id"].nunique() == 10 and (log.groupby("item_id").size() == 2).all()
    expected = predict_boxes(load_detector(weights), images, conf=0.0, max_det=2)
    got = log.sort_values("annotation_id")[["item_id", "label", "x", "y", "w", "h", "confidence"]]
    got = got.sort_values(["item_id", "confidence"], ascending=[True, False]).reset_index(drop=True)
    expected = expected.sort_values(["item_id", "confidence"], ascending=[True, False]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, atol=1e-4, rtol=0)


def test_a_batch_written_twice_is_written_once(folder, store):
    images, clf = folder
    ids = images.item_ids[:8]
    predictor = Predictor("classify", "colour", "tiny_cnn", "model", 3, list(clf.classes_))
    writer = BatchWriter(predictor, model_payload(clf, "classify", "tiny_cnn"), None, store.url)
    batch = pd.DataFrame({"item_id": ids, "path": [images.path(i) for i in ids]})
    first = writer(batch)
    retry = writer(batch)  # Ray retried a batch that had been committed
    assert first[["n_items", "n_predicted", "n_rows"]].iloc[0].tolist() == [8, 8, 8]
    assert retry[["n_items", "n_predicted", "n_rows"]].iloc[0].tolist() == [8, 0, 0]
    assert len(store.annotations()) == 8


def test_a_store_ray_workers_cannot_reach_is_refused(local_ray, folder, store):
    images, clf = folder
    check_store_reachable(store, ["10.0.0.1"], "10.0.0.1")  # one node, this machine: allowed
    with pytest.raises(InputError, match=r"must be a PostgreSQL URL.*nodes \['10.0.0.2'\]"):
        check_store_reachable(store, ["10.0.0.1", "10.0.0.2"], "10.0.0.1")
    with pytest.raises(InputError, match="must be a PostgreSQL URL.*Ray Client"):
        check_store_reachable(store, [], "", client=True)
    with pytest.raises(InputError, match="in-memory SQLite store"):
        check_store_reachable(LabelStore("sqlite://"), ["10.0.0.1"], "10.0.0.1")
    with pytest.raises(InputError, match=r"PostgreSQL URL.*postgresql://user@db-host:5432/labels"):
        predict_to_store(clf, images, store, "colour", engine="ray",
                         ray_address="ray://head:10001", progress=False)  # fmt: skip
    with pytest.raises(InputError, match="`ray_options` must be a dict"):
        predict_to_store(clf, images, store, "colour", engine="ray", ray_options=["num_gpus"],
                         progress=False)  # fmt: skip
    assert store.annotations().empty
