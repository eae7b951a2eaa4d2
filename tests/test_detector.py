"""Detector training, prediction and write-back with ultralytics, offline, on the demo shapes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from labelwidgets._validate import InputError
from labelwidgets.training.detector import (
    AUGMENT_DEFAULTS,
    augment_args,
    load_detector,
    predict_boxes,
    read_history,
    save_detector,
    train_detector,
    training_boxes,
    write_predictions,
)

CLASSES = ["circle", "square", "triangle"]


# ------------------------------------------------------------------ pure helpers
def test_augment_args_map_user_options_to_ultralytics():
    args, noise = augment_args(None)
    assert args == {"degrees": 30.0, "fliplr": 0.5, "flipud": 0.0, "hsv_v": 0.3}
    assert noise == AUGMENT_DEFAULTS["noise"]
    off, none = augment_args({})
    assert off == {"degrees": 0.0, "fliplr": 0.0, "flipud": 0.0, "hsv_v": 0.0} and none == 0.0
    args, _ = augment_args({"degrees": 10, "mosaic": 0.0, "scale": 0.2})
    assert args["degrees"] == 10.0 and args["mosaic"] == 0.0 and args["scale"] == 0.2


@pytest.mark.parametrize(
    ("augment", "match"),
    [
        ({"rotation": 30}, r"`augment` keys must be among \['degrees'"),
        ({"degrees": 200}, r"`augment\['degrees'\]` must be a number in \[0, 180\]. Got 200"),
        ({"noise": -0.1}, r"`augment\['noise'\]` must be a number in \[0, 1\]"),
        ({"fliplr": True}, r"`augment\['fliplr'\]` must be a number"),
        ({"brightness": 0.3, "hsv_v": 0.2}, "`brightness` or `hsv_v`, not both"),
    ],
)
def test_augment_args_refuse_bad_options(augment, match):
    with pytest.raises(ValueError, match=match):
        augment_args(augment)


def test_training_boxes_takes_the_latest_submission_per_item(store, tmp_path):
    items = pd.DataFrame(
        {"item_id": ["a", "b", "c"], "path": [str(tmp_path / f"{i}.jpg") for i in "abc"],
         "width": [50, 50, 50], "height": [40, 40, 40]}
    )  # fmt: skip
    store.add_items(items)
    box = {"x": 1.0, "y": 2.0, "w": 10.0, "h": 5.0, "label": "circle"}
    store.submit_boxes("a", "boxes", [box], "alice")
    store.submit_boxes("a", "boxes", [{**box, "label": "square"}], "bob")  # later: wins
    store.submit_boxes("b", "boxes", [], "alice")  # "no objects": a background image
    store.skip("c", "alice", ["boxes"])
    store.submit_boxes("c", "boxes", [box], "yolo", source="model", model="yolo")
    df = training_boxes(store)
    assert df["item_id"].tolist() == ["a", "b"]
    assert df.loc[0, "label"] == "square" and pd.isna(df.loc[1, "label"])
    assert df.loc[0, ["path", "width", "height"]].tolist() == [str(tmp_path / "a.jpg"), 50, 40]
    with pytest.raises(ValueError, match="must hold boxes for task 'other'"):
        training_boxes(store, task="other")


def test_train_detector_refuses_hub_weights_and_bad_epochs(tmp_path):
    df = pd.DataFrame({"item_id": ["a"], "path": ["a.jpg"], "label": ["circle"],
                       "x": [1.0], "y": [1.0], "w": [2.0], "h": [2.0]})  # fmt: skip
    with pytest.raises(InputError, match="model YAML that ultralytics ships.*Got 'yolov8n.pt'"):
        train_detector(df, CLASSES, tmp_path, model="yolov8n.pt")
    own = tmp_path / "yolov8n.yaml"  # a YAML of one's own (its `activation` would be eval'd)
    own.write_text("activation: __import__('os').getcwd()\n")
    with pytest.raises(InputError, match="a path or a YAML of your own is not accepted"):
        train_detector(df, CLASSES, tmp_path, model=str(own))
    with pytest.raises(ValueError, match="`epochs` must be an integer >= 1. Got 0"):
        train_detector(df, CLASSES, tmp_path, epochs=0)


def test_write_predictions_records_model_rows(store):
    store.add_items(pd.DataFrame({"item_id": ["a", "b"], "path": ["a.jpg", "b.jpg"]}))
    pred = pd.DataFrame(
        {"item_id": ["a", "a", "b"], "label": ["circle", "square", None],
         "x": [1.0, 5.0, np.nan], "y": [2.0, 6.0, np.nan], "w": [3.0, 7.0, np.nan],
         "h": [4.0, 8.0, np.nan], "confidence": [0.9, 0.4, np.nan]}
    )  # fmt: skip
    sids = write_predictions(store, pred, "yolov8n-r1", source="pseudo", round=1)
    assert len(sids) == 2
    log = store.annotations()
    assert set(log["rater"]) == {"yolov8n-r1"} and set(log["model"]) == {"yolov8n-r1"}
    assert set(log["source"]) == {"pseudo"} and set(log["round"]) == {1}
    assert log["confidence"].tolist()[:2] == [0.9, 0.4]
    assert log.loc[log["item_id"] == "b", "label"].isna().all()  # "nothing found" is recorded
    assert store.tasks().set_index("task").loc["boxes", "kind"] == "box"
    with pytest.raises(
        ValueError, match=r"`source` must be one of \['model', 'pseudo'\]. Got 'human'"
    ):
        write_predictions(store, pred, "m", source="human")


@pytest.mark.train
def test_noise_trainer_adds_seeded_noise_in_range():
    torch = pytest.importorskip("torch")
    pytest.importorskip("ultralytics")
    from labelwidgets._offline import prepare_ultralytics

    prepare_ultralytics()
    from labelwidgets.training.detector import _noisy_trainer

    def run(std, seed):
        trainer = object.__new__(_noisy_trainer(std, seed))
        trainer.device = torch.device("cpu")
        trainer.args = SimpleNamespace(multi_scale=0.0)
        img = torch.full((2, 3, 32, 32), 128, dtype=torch.uint8)
        return trainer.preprocess_batch({"img": img})["img"]

    clean = run(0.0, 0)
    assert torch.allclose(clean, torch.full_like(clean, 128 / 255))
    noisy = run(0.1, 0)
    assert float(noisy.min()) >= 0 and float(noisy.max()) <= 1
    assert abs(float((noisy - clean).std()) - 0.1) < 0.01
    assert torch.equal(noisy, run(0.1, 0)) and not torch.equal(noisy, run(0.1, 1))


# ------------------------------------------------------------------ real training (CPU, seconds)
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("ultralytics")
    from labelwidgets.datasets import demo_truth, load_demo, make_demo

    root = make_demo(tmp_path_factory.mktemp("demo"), n_shapes=24)
    images = load_demo("shapes", root=root, n_shapes=24)
    truth = demo_truth("shapes", root=root)
    paths = dict(zip(images.items["item_id"], images.items["path"], strict=True))
    rows = [
        {"item_id": r.item_id, "path": paths[r.item_id], "width": 96, "height": 96, **b}
        for r in truth.itertuples()
        for b in r.boxes
    ]
    out = tmp_path_factory.mktemp("detector")
    result = train_detector(pd.DataFrame(rows), CLASSES, out, epochs=2, batch=8, progress=False)
    return result, images


@pytest.mark.train
def test_train_detector_returns_history_and_weights(trained):
    result, _images = trained
    h = result.history
    assert h["epoch"].tolist() == [1, 2]
    for col in (
        "train_box_loss",
        "train_cls_loss",
        "train_dfl_loss",
        "precision",
        "recall",
        "map50",
    ):
        assert col in h and h[col].notna().all()
    assert h.equals(read_history(result.weights.parent.parent / "results.csv"))
    assert result.weights.name == "best.pt" and result.weights.is_file()
    assert result.name == "yolov8n" and result.classes == CLASSES
    data = (result.data_yaml.parent / "data.yaml").read_text()
    assert "images/val" in data  # 20 % of the 24 images validate
    fig = result.plot()
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "epoch"


@pytest.mark.train
def test_saved_detector_round_trips_to_identical_predictions(trained, tmp_path):
    result, images = trained
    assert result.state_dict.name == "detector.safetensors"
    from safetensors import safe_open

    with safe_open(str(result.state_dict), "pt") as f:  # tensors + a JSON config, nothing else
        config = json.loads(f.metadata()["labelwidgets"])
    assert config == {"format": "labelwidgets.detector", "version": 1, "model": "yolov8n.yaml",
                      "classes": CLASSES, "imgsz": 96, "name": "yolov8n"}  # fmt: skip
    ids = images.item_ids[:4]
    ours = predict_boxes(result, images, ids, conf=0.0, max_det=5)
    again = save_detector(result.model(), tmp_path / "again.safetensors", name="yolov8n")
    assert again.read_bytes() == result.state_dict.read_bytes()
    pd.testing.assert_frame_equal(predict_boxes(again, images, ids, conf=0.0, max_det=5), ours)
    # ultralytics' own best.pt (a pickle, loaded only with trust=True) predicts the same boxes
    theirs = predict_boxes(load_detector(result.weights, trust=True), images, ids, conf=0.0,
                           max_det=5)  # fmt: skip
    assert list(ours.columns) == ["item_id", "label", "x", "y", "w", "h", "confidence"]
    assert len(ours) == len(theirs) and set(ours["item_id"]) == set(ids)
    pd.testing.assert_frame_equal(ours, theirs, atol=1e-3, rtol=0, check_exact=False)


@pytest.mark.train
def test_predictions_go_back_into_the_store_and_pre_draw(trained, store):
    from labelwidgets.boxes import BoxAnnotator

    result, images = trained
    ids = images.item_ids[:3]
    model = result.model()
    pred = predict_boxes(model, images, ids, conf=0.0, max_det=2)
    assert (pred.groupby("item_id").size() <= 2).all()
    assert ((pred["x"] >= 0) & (pred["x"] + pred["w"] <= 96 + 1e-6)).all()
    write_predictions(store, pred, result.name)
    labels = store.labels(task="boxes", source="model")
    assert len(labels) == len(pred.dropna(subset=["label"])) and set(labels["rater"]) == {"yolov8n"}
    # a YOLO model as BoxAnnotator's detector: its boxes are pre-drawn and written as model rows
    ann = BoxAnnotator(images, classes=CLASSES, rater="alice", store=store, detector=model,
                       detector_options={"conf": 0.0, "max_det": 3}, item_ids=images.item_ids[3:5])  # fmt: skip
    assert ann.detector_name == "yolov8n"
    drawn = ann.boxes
    assert 1 <= len(drawn) <= 3 and all(b.get("model") for b in drawn)
    ann.submit()
    human = store.labels(task="boxes", source="human")
    assert len(human) == len(drawn) and set(human["rater"]) == {"alice"}
    reviews = [json.loads(a)["review"] for a in human["attributes"]]
    assert all(r["verdict"] == "accepted" for r in reviews)  # submitted as drawn


# ------------------------------------------------------------------ hostile model files
class _Payload:
    """Pickled, it asks the loader to create ``marker``: what a hostile checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def _safetensors_with_config(path, config):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, dtype=np.float32)}, str(path),
              metadata={"labelwidgets": json.dumps(config)})  # fmt: skip
    return path


@pytest.mark.train
def test_a_pickled_model_file_is_refused_without_trust(tmp_path):
    import pickle

    marker = tmp_path / "payload-ran"
    hostile = tmp_path / "best.pt"
    hostile.write_bytes(pickle.dumps({"model": _Payload(marker)}))
    with pytest.raises(InputError, match=r"must be a .safetensors file.*pass trust=True only"):
        load_detector(hostile)
    with pytest.raises(InputError, match="must be a .safetensors file"):
        predict_boxes(str(hostile), images=None)
    renamed = tmp_path / "detector.safetensors"  # the same pickle under a safetensors name
    renamed.write_bytes(hostile.read_bytes())
    with pytest.raises(InputError, match="which safetensors cannot read"):
        load_detector(renamed)
    assert not marker.exists()
    pickle.loads(hostile.read_bytes())  # the payload is real: unpickling runs it
    assert marker.exists()


@pytest.mark.train
def test_an_activation_string_never_reaches_eval(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "eval-ran"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    # a dict that torch.load(weights_only=True) accepts, shaped like an ultralytics checkpoint
    plain = tmp_path / "detector.pt"
    torch.save({"model": {"yaml": {"activation": code, "nc": 3}}, "names": CLASSES}, plain)
    assert torch.load(plain, weights_only=True)["model"]["yaml"]["activation"] == code
    with pytest.raises(InputError, match="pass trust=True only for a file you made"):
        load_detector(plain)
    good = {"format": "labelwidgets.detector", "version": 1, "model": "yolov8n.yaml",
            "classes": CLASSES, "imgsz": 96, "name": "yolov8n"}  # fmt: skip
    bad_configs = [
        ({**good, "activation": code}, r"Got unknown keys \['activation'\]"),
        ({**good, "model": {"activation": code}}, "model YAML that ultralytics ships"),
        ({**good, "model": str(tmp_path / "yolov8n.yaml")}, "model YAML that ultralytics ships"),
        ({**good, "model": "yolov8n-cls.yaml"}, "must be a detect layout"),
        ({**good, "classes": "circle"}, "`classes` must be a list of names"),
        ({**good, "classes": ["a", 1]}, "`classes` must hold non-empty strings"),
        ({**good, "imgsz": "96"}, "`imgsz` must be an integer >= 32"),
        ({**good, "format": "ultralytics"}, "`format` must be 'labelwidgets.detector'"),
        ({**good, "version": 2}, "`version` must be 1"),
    ]
    (tmp_path / "yolov8n.yaml").write_text(f"activation: {code}\n")
    for i, (config, match) in enumerate(bad_configs):
        path = _safetensors_with_config(tmp_path / f"bad{i}.safetensors", config)
        with pytest.raises(InputError, match=match):
            load_detector(path)
    wrong = _safetensors_with_config(tmp_path / "wrong.safetensors", good)  # config fine, tensors not
    with pytest.raises(InputError, match="must hold the tensors of a yolov8n.yaml with 3 classes"):
        load_detector(wrong)
    assert not marker.exists()
