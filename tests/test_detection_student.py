"""The noisy-student loop for detection: real YOLO training in test mode (2 epochs, 96 px)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from labelwidgets._validate import InputError
from labelwidgets.training.detection_student import (
    HISTORY_COLUMNS,
    PSEUDO_COLUMNS,
    DetectionNoisyStudent,
    holdout_split,
    pseudo_label_quality,
)

CLASSES = ["circle", "square", "triangle"]
# A 2-epoch YOLO's confidences start near its initial class bias (about 3e-4 to 4e-3): this
# threshold lets its guesses through, so the loop's mechanics run without a trained teacher.
TINY = 1e-6


# ------------------------------------------------------------------ pure helpers
def test_holdout_split_keeps_every_class_in_training():
    df = pd.DataFrame({"item_id": [f"i{k:02d}" for k in range(20)],
                       "label": ["cat"] * 17 + ["dog"] * 3})  # fmt: skip
    for seed in range(5):
        held = holdout_split(df, 0.2, random_state=seed)
        assert len(held) == 3 and held == sorted(held)  # 4 wanted, but cats cap at floor(0.2 * 17)
        assert set(df.set_index("item_id").loc[held, "label"]) == {"cat"}  # 3 dogs < 1 / 0.2
    assert holdout_split(df, 0.2, 0) == holdout_split(df.sample(frac=1, random_state=1), 0.2, 0)
    assert holdout_split(df, 0.0) == []
    with pytest.raises(InputError, match=r"`holdout_fraction` must be a number in \[0, 1\)"):
        holdout_split(df, 1.0)


def test_pseudo_label_quality_matches_same_class_boxes_at_iou_half():
    truth = pd.DataFrame({"item_id": ["a", "a", "b"], "label": ["cat", "dog", "cat"],
                          "x": [0, 50, 0], "y": [0, 50, 0], "w": [10, 10, 10], "h": [10, 10, 10]})
    pseudo = pd.DataFrame({"item_id": ["a", "a", "a", "c", "b"],
                           "label": ["cat", "cat", "cat", "cat", None],
                           "x": [1, 50, 0, 0, np.nan], "y": [1, 50, 0, 0, np.nan],
                           "w": [10, 10, 10, 10, np.nan], "h": [10, 10, 10, 10, np.nan],
                           "confidence": [0.9, 0.8, 0.7, 0.9, np.nan]})  # fmt: skip
    precision, recall = pseudo_label_quality(pseudo, truth)
    # on a: the first cat matches (IoU 0.68), the second is the wrong class on the dog, the
    # third duplicates the matched cat; c is not covered by truth; b has no pseudo box
    assert precision == pytest.approx(1 / 3) and recall == pytest.approx(1 / 3)  # 1 of a's 2 + b's 1
    assert np.isnan(pseudo_label_quality(pseudo.iloc[:0], truth)[0])


# ------------------------------------------------------------------ data
@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    from labelwidgets.datasets import make_small_objects

    images, truth = make_small_objects(tmp_path_factory.mktemp("shapes"), 20, size=96,
                                       n_objects=(1, 2), object_size=(0.2, 0.3), random_state=1)  # fmt: skip
    return images, truth


def test_make_small_objects_draws_known_small_boxes(shapes, tmp_path):
    from labelwidgets.datasets import make_small_objects

    images, truth = shapes
    assert len(images) == 20 and set(truth["item_id"]) <= set(images.item_ids)
    assert truth.groupby("item_id").size().between(1, 2).all()
    assert ((truth["x"] >= 0) & (truth["x"] + truth["w"] <= 96)).all()
    assert truth["w"].between(0.2 * 96 - 1, 0.3 * 96 + 1).all() and set(truth["label"]) <= set(CLASSES)
    again_images, again = make_small_objects(tmp_path, 20, size=96, n_objects=(1, 2),
                                             object_size=(0.2, 0.3), random_state=1)  # fmt: skip
    pd.testing.assert_frame_equal(again, truth)
    assert np.array_equal(np.asarray(again_images.load(again_images.item_ids[0])),
                          np.asarray(images.load(images.item_ids[0])))  # fmt: skip
    with pytest.raises(InputError, match=r"`classes` must be a non-empty subset of \['circle'"):
        make_small_objects(tmp_path, 1, classes=["star"])


# ------------------------------------------------------------------ bad input (no training)
def test_bad_input_gets_clear_errors(shapes, tmp_path):
    images, truth = shapes
    ns = DetectionNoisyStudent(verbose=False)
    no_boxes = pd.DataFrame({"item_id": images.item_ids[:3], "label": None, "x": np.nan,
                             "y": np.nan, "w": np.nan, "h": np.nan})  # fmt: skip
    with pytest.raises(InputError, match="`boxes` must hold at least one labelled box.*Got 3 image"):
        ns.fit(images, no_boxes)
    with pytest.raises(InputError, match="`boxes` must hold at least one labelled box"):
        ns.fit(images, truth.iloc[:0])
    boxes = truth[truth["item_id"].isin(images.item_ids[:10])]
    missing = sorted(set(CLASSES) - set(boxes["label"]))  # make sure one class has no box
    one_less = boxes[boxes["label"] != "triangle"]
    with pytest.raises(InputError, match=r"at least one human box.*Got none for \['triangle'\]"):
        clone(ns).set_params(classes=CLASSES).fit(images, one_less)
    assert not missing or missing == ["triangle"]
    with pytest.raises(InputError, match=r"labels must be among `classes` \['circle'\]"):
        clone(ns).set_params(classes=["circle"]).fit(images, boxes)
    with pytest.raises(InputError, match="`images` must be an ImageSet"):
        ns.fit(np.zeros((3, 8, 8)), boxes)
    with pytest.raises(InputError, match=r"`boxes` must have columns \['item_id', 'label'"):
        ns.fit(images, boxes.drop(columns="w"))
    with pytest.raises(InputError, match="must be on items of `images`.*'nowhere.png'"):
        ns.fit(images, pd.concat([boxes, boxes.iloc[:1].assign(item_id="nowhere.png")]))
    with pytest.raises(InputError, match="`holdout` must hold boxes on items of `images` that"):
        ns.fit(images, boxes, holdout=boxes)
    for params, match in (
        ({"threshold": 0}, r"`threshold` must be a number in \(0, 1\]. Got 0"),
        ({"rounds": -1}, "`rounds` must be an integer >= 0"),
        ({"empty_images": "keep"}, r"`empty_images` must be one of \['drop', 'background'\]"),
        ({"model": "yolov8n.pt"}, "model YAML that ultralytics ships"),
        ({"student_model": "yolov8n-cls.yaml", "student_init": "scratch"}, "must be a detect layout"),
        ({"student_augment": {"rotation": 9}}, r"`augment` keys must be among"),
        ({"holdout_fraction": 1}, r"`holdout_fraction` must be a number in \[0, 1\)"),
        ({"student_init": "imagenet"}, r"`student_init` must be one of \['teacher', 'scratch'\]"),
        ({"student_model": "yolo11n.yaml"}, "`student_model` must equal `model` when student_init="),
    ):
        with pytest.raises((InputError, ValueError), match=match):
            clone(ns).set_params(**params).fit(images, boxes)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="`work_dir` must be new, empty, or a folder an earlier"):
        clone(ns).set_params(work_dir=foreign).fit(images, boxes)
    assert (foreign / "notes.txt").read_text() == "mine" and len(list(foreign.iterdir())) == 1


@pytest.mark.train
def test_a_student_starts_from_the_teachers_weights():
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from labelwidgets._offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics.nn.tasks import DetectionModel

    from labelwidgets.training._weights import ultralytics_yaml
    from labelwidgets.training.detector import _noisy_trainer

    layout = str(ultralytics_yaml("yolov8n.yaml", task="detect"))
    teacher = DetectionModel(layout, nc=3, verbose=False).state_dict()
    teacher = {k: v + 0.5 if v.is_floating_point() else v for k, v in teacher.items()}

    def built(init):
        trainer = object.__new__(_noisy_trainer(0.0, 0, init))
        trainer.args = SimpleNamespace()
        trainer.data = {"nc": 3, "channels": 3, "names": dict(enumerate(CLASSES))}
        return trainer.get_model(cfg=layout, verbose=False).state_dict()

    assert all(torch.equal(built(teacher)[k], teacher[k]) for k in teacher)
    assert not all(torch.equal(built(None)[k], teacher[k]) for k in teacher)  # random init
    headless = {k: v for k, v in teacher.items() if not k.startswith("model.22.")}
    with pytest.raises(InputError, match="`init_weights` must be the state dict of the same model"):
        built(headless)


def test_get_params_and_clone():
    ns = DetectionNoisyStudent(rounds=1, threshold=0.3, student_model="yolo11n.yaml",
                               student_init="scratch",
                               student_augment={"mosaic": 1.0, "noise": 0.1})  # fmt: skip
    params = ns.get_params()
    assert params["rounds"] == 1 and params["threshold"] == 0.3
    assert params["student_model"] == "yolo11n.yaml" and params["empty_images"] == "drop"
    twin = clone(ns)
    assert twin is not ns and twin.get_params() == params
    assert not hasattr(twin, "history_")


# ------------------------------------------------------------------ the loop (real training)
@pytest.fixture(scope="module")
def fitted(shapes, tmp_path_factory):
    pytest.importorskip("ultralytics")
    images, truth = shapes
    labelled = images.item_ids[:10]
    boxes = truth[truth["item_id"].isin(labelled)]
    holdout = truth[truth["item_id"].isin(images.item_ids[10:13])]
    work = tmp_path_factory.mktemp("work") / "rounds"
    ns = DetectionNoisyStudent(rounds=2, threshold=TINY, max_boxes=5, classes=CLASSES,
                               batch=8, work_dir=work, verbose=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # boxes clipped at the border by augmentation
        ns.fit(images, boxes, holdout=holdout, truth=truth)
    return ns, images, truth, boxes, holdout, work


@pytest.mark.train
def test_fit_runs_rounds_and_fills_history(fitted):
    ns, images, truth, boxes, holdout, work = fitted
    h = ns.history_
    assert list(h.columns) == HISTORY_COLUMNS
    assert h["round"].tolist() == [0, 1, 2] and ns.n_rounds_ == 2
    assert ns.model_names_ == ["yolov8n-r0", "yolov8n-r1", "yolov8n-r2"] == h["model"].tolist()
    assert h["epochs"].tolist() == [2, 2, 2]  # test mode
    for col in ("precision", "recall", "map50", "map50_95"):
        assert h[col].between(0, 1).all(), col
    assert h["n_labeled_images"].eq(10).all() and h["n_labeled_boxes"].eq(len(boxes)).all()
    assert h.loc[0, "n_pseudo_boxes"] == 0 and np.isnan(h.loc[0, "pseudo_precision"])
    pool = set(images.item_ids) - set(boxes["item_id"]) - set(holdout["item_id"])
    assert ns.holdout_ids_ == sorted(holdout["item_id"].unique())
    for r in (1, 2):
        frame = ns.pseudo_labels_[ns.pseudo_labels_["round"] == r]
        assert set(frame["item_id"]) == pool  # every pool image, never a held-out one
        found = frame.dropna(subset=["label"])
        assert h.loc[r, "n_pseudo_boxes"] == len(found) > 0
        assert (found["confidence"] >= TINY).all() and found.groupby("item_id").size().max() <= 5
        assert h.loc[r, "n_train_images"] == 10 + found["item_id"].nunique()
        assert h.loc[r, "pseudo_precision"] >= 0 and h.loc[r, "pseudo_recall"] >= 0
        assert set(frame["model"]) == {ns.model_names_[r - 1]}  # the teacher of that round
    assert list(ns.pseudo_labels_.columns) == PSEUDO_COLUMNS
    assert set(ns.curves_["round"]) == {0, 1, 2} and "train_box_loss" in ns.curves_
    assert (work / "round-0" / "detector.safetensors").is_file()  # a given work_dir is kept
    fig = ns.plot_history()
    assert len(fig.axes) == 2 and fig.axes[1].get_xlabel() == "round (0 = teacher)"


@pytest.mark.train
def test_pseudo_labels_are_written_in_one_transaction(fitted, store):
    ns, images, *_ = fitted
    store.add_items(images)
    assert store.labels(task="boxes").empty  # fit wrote nothing
    sids = ns.write_pseudo_labels(store, task="boxes")
    log = store.annotations()
    trained = ns.pseudo_labels_[ns.pseudo_labels_["trained"]]
    assert len(log) == len(trained) and set(log["submission_id"]) == set(sids)
    assert len(sids) == trained.groupby(["round", "item_id"]).ngroups
    assert log["created_at"].nunique() == 1  # one append_many call: one transaction, one time
    assert set(log["source"]) == {"pseudo"} and set(log["kind"]) == {"box"}
    for r in (1, 2):
        rows = log[log["round"] == r]
        assert set(rows["model"]) == set(rows["rater"]) == {ns.model_names_[r - 1]}
        expect = trained[trained["round"] == r].sort_values(["item_id", "confidence"])
        got = rows.sort_values(["item_id", "confidence"])
        assert got["label"].tolist() == expect["label"].tolist()
        np.testing.assert_allclose(got["confidence"], expect["confidence"])
    assert store.tasks().set_index("task").loc["boxes", "kind"] == "box"
    with pytest.raises(InputError, match=r"`rounds` must be among \[1, 2\]. Got \[3\]"):
        ns.write_pseudo_labels(store, rounds=[3])
    store.register_task("shape", CLASSES)
    with pytest.raises(InputError, match="`task` must be a box task whose classes include"):
        ns.write_pseudo_labels(store, task="shape")


@pytest.mark.train
def test_the_final_model_saves_and_loads_without_pickle(fitted, tmp_path):
    from safetensors import safe_open

    from labelwidgets.training import load_detector

    ns, images, *_ = fitted
    path = ns.save(tmp_path / "student.safetensors")
    with safe_open(str(path), "pt") as f:
        config = json.loads(f.metadata()["labelwidgets"])
    assert config["name"] == "yolov8n-r2" and config["classes"] == CLASSES
    assert config["imgsz"] == ns.imgsz_ == 96
    ids = images.item_ids[:4]
    ours = ns.predict(images, ids, conf=TINY)
    assert len(ours.dropna(subset=["label"])) > 0
    from labelwidgets.training import predict_boxes

    pd.testing.assert_frame_equal(predict_boxes(load_detector(path), images, ids, conf=TINY,
                                                batch=8), ours)  # fmt: skip
    teacher = ns.save(tmp_path / "teacher.safetensors", round=0)
    assert json.loads(safe_open(str(teacher), "pt").metadata()["labelwidgets"])["name"] == "yolov8n-r0"
    with pytest.raises(InputError, match=r"`round` must be an integer in \[0, 2\]"):
        ns.save(tmp_path / "x.safetensors", round=5)


@pytest.mark.train
def test_store_input_few_shot_class_background_and_zero_rounds(shapes, store):
    """Boxes read from a store; a class boxed in 2 images trains; rounds=0 is the teacher."""
    images, truth = shapes
    store.add_items(images)
    labelled = images.item_ids[:8]
    rows = truth[truth["item_id"].isin(labelled)]
    few = truth[truth["label"] == "triangle"]["item_id"].unique()[:2]  # the new class: 2 images
    rows = rows[(rows["label"] != "triangle")]
    rows = pd.concat([rows, truth[truth["item_id"].isin(few)]]).drop_duplicates()
    for item_id, group in rows.groupby("item_id"):
        store.submit_boxes(item_id, "boxes", group[["x", "y", "w", "h", "label"]].to_dict("records"),
                           "alice")  # fmt: skip
    ns = DetectionNoisyStudent(rounds=1, threshold=TINY, max_boxes=3, classes=CLASSES,
                               empty_images="background", batch=8, verbose=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ns.fit(images, store)
    n_labelled = rows["item_id"].nunique()
    held = ns.holdout_ids_
    assert 0 < len(held) <= round(0.2 * n_labelled) and not set(held) & set(few)  # both stay
    assert ns.history_["n_labeled_images"].iloc[0] == n_labelled - len(held)
    assert ns.history_["map50"].between(0, 1).all() and ns.classes_ == CLASSES
    zero = clone(ns).set_params(rounds=0).fit(images, store)
    assert zero.n_rounds_ == 0 and zero.pseudo_labels_.empty and zero.student_ is zero.teacher_
    pd.testing.assert_frame_equal(zero.predict(images, images.item_ids[:3], conf=TINY),
                                  ns.predict(images, images.item_ids[:3], conf=TINY, round=0))  # fmt: skip
