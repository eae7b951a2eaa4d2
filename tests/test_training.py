"""Training: models, noise, the torch classifier and the noisy-student loop (test mode: tiny)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from labelwidgets._validate import InputError  # noqa: E402
from labelwidgets.training import (  # noqa: E402
    ArrayImages,
    BatchNoise,
    Classifier,
    NoisyStudent,
    YoloClassifier,
    balance_pseudo_labels,
    build_model,
    per_class_accuracy,
)

pytestmark = pytest.mark.train

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 60, 230)}


def colour_images(n_per_class=12, size=12, classes=("red", "green", "blue"), seed=0):
    """Noisy solid-colour squares: an easy task with a known truth."""
    rng = np.random.default_rng(seed)
    arrays, ids, truth = [], [], []
    for c in classes:
        for i in range(n_per_class):
            base = np.array(COLOURS[c], dtype=float)
            img = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            arrays.append(img)
            ids.append(f"{c}-{i:02d}")
            truth.append(c)
    truth = pd.DataFrame({"item_id": ids, "label": truth})
    return ArrayImages(np.stack(arrays), ids), truth


def first_k(truth, k):
    return truth.groupby("label", sort=False).head(k).reset_index(drop=True)


FAST = dict(model="tiny_cnn", image_size=12, epochs=2, batch_size=16, verbose=False)


def fast_student(**params):
    """A noisy student whose teacher and students are the tiny, 2-epoch classifier."""
    return NoisyStudent(Classifier(**FAST), verbose=False, **params)


# ------------------------------------------------------------------ pieces
def test_batch_noise_is_seeded_and_per_image():
    x = torch.rand(8, 3, 16, 16)
    a, b = BatchNoise(magnitude=0.8, seed=1)(x), BatchNoise(magnitude=0.8, seed=1)(x)
    c = BatchNoise(magnitude=0.8, seed=2)(x)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    same = torch.rand(1, 3, 16, 16).expand(16, 3, 16, 16).contiguous()
    out = BatchNoise(magnitude=1.0, cutout=1.0, seed=0)(same)
    assert len({tuple(o.flatten()[:50].tolist()) for o in out}) > 1  # images differ
    with pytest.raises(ValueError, match="`magnitude` must be in"):
        BatchNoise(magnitude=2)


def test_build_model_names_modules_and_errors():
    x = torch.rand(2, 3, 32, 32)
    for name in ("small_cnn", "wide_cnn", "resnet18"):
        net = build_model(name, 4).eval()
        assert net(x).shape == (2, 4)
    resnet = build_model("resnet18", 3)
    assert any(type(m).__name__ == "StochasticDepth" for m in resnet.modules())
    custom = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 5))
    copy = build_model(custom, 5)
    assert copy is not custom and copy(x).shape == (2, 5)
    with pytest.raises(ValueError, match="`model` must be one of"):
        build_model("vgg", 3)


def test_array_images_interface():
    images = ArrayImages(np.arange(2 * 4 * 5, dtype=float).reshape(2, 4, 5), ["a", "b"])
    img = images.load("b")
    assert img.mode == "RGB" and img.size == (5, 4)
    assert list(images.items["item_id"]) == ["a", "b"]
    with pytest.raises(ValueError, match="`images` must be an array of shape"):
        ArrayImages(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="`item_ids` must hold 2 distinct ids"):
        ArrayImages(np.zeros((2, 4, 4)), ["a", "a"])


def test_balance_pseudo_labels_caps_and_duplicates():
    labels = ["a"] * 6 + ["b"] * 2 + ["c"] * 4
    conf = [0.9, 0.8, 0.99, 0.7, 0.75, 0.95, 0.8, 0.9, 0.9, 0.8, 0.85, 0.99]
    idx = balance_pseudo_labels(labels, conf, ["a", "b", "c", "d"])
    counts = pd.Series(np.asarray(labels)[idx]).value_counts()
    assert counts.to_dict() == {"a": 4, "b": 4, "c": 4}  # median of 6, 2, 4
    assert set(idx[np.asarray(labels)[idx] == "a"]) == {0, 1, 2, 5}  # most confident of "a"
    assert sorted(idx[np.asarray(labels)[idx] == "b"]) == [6, 6, 7, 7]
    assert len(balance_pseudo_labels([], [], ["a"])) == 0


def test_per_class_accuracy_table():
    truth = pd.DataFrame({"item_id": ["1", "2", "3", "4"], "label": ["a", "a", "b", "b"]})
    pred = pd.DataFrame({"item_id": ["1", "2", "3", "4"], "label": ["a", "b", "b", "b"]})
    table = per_class_accuracy(pred, truth).set_index("label")
    assert table.loc["a", "accuracy"] == 0.5 and table.loc["b", "accuracy"] == 1.0
    assert table.loc["all", "accuracy"] == 0.75 and table.loc["all", "n"] == 4


# -------------------------------------------------------------- classifier
def test_classifier_learns_colours_and_is_seeded():
    images, truth = colour_images()
    labels = first_k(truth, 6)
    a = Classifier(**FAST, random_state=3).fit(images, labels)
    b = Classifier(**FAST, random_state=3).fit(images, labels)
    pa, pb = a.predict_proba(images), b.predict_proba(images)
    assert np.array_equal(pa, pb)
    assert pa.shape == (36, 3) and np.allclose(pa.sum(1), 1)
    assert list(a.history_.columns) == ["epoch", "loss", "train_accuracy", "val_loss",
                                        "val_accuracy", "lr"]  # fmt: skip
    assert a.history_["val_loss"].isna().all()  # a fixed number of epochs: no validation split
    assert len(a.history_) == 2  # LABELWIDGETS_TEST_MODE caps the epochs
    pred = a.predict(images)
    assert list(pred.columns) == ["item_id", "label", "confidence"]
    assert (pred["label"] == truth["label"]).mean() > 0.6


def test_classifier_is_a_scikit_learn_estimator(tmp_path):
    clf = Classifier(**FAST)
    assert clf.get_params()["model"] == "tiny_cnn" and clf.get_params()["epochs"] == 2
    assert clf.set_params(epochs=3) is clf and clf.epochs == 3
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    assert not hasattr(clf, "model_")  # __init__ stores parameters only
    images, _ = colour_images(n_per_class=2)
    with pytest.raises(NotFittedError):
        clf.predict(images)
    with pytest.raises(NotFittedError):
        clf.save(tmp_path / "never.safetensors")


def test_classifier_sample_weight_and_soft_labels():
    images, truth = colour_images(n_per_class=4)
    labels = first_k(truth, 3)
    base = Classifier(**FAST).fit(images, labels.iloc[:6].reset_index(drop=True)).predict_proba(images)
    # weight 0 leaves an item out: the same as not giving it
    weighted = Classifier(**FAST).fit(images, labels, sample_weight=[1] * 6 + [0] * 3)
    assert np.array_equal(weighted.predict_proba(images), base)
    # a one-hot distribution per item in the long format is the same as the hard label
    classes = sorted(labels["label"].unique())
    long = pd.DataFrame([(i, c, float(c == y)) for i, y in labels.itertuples(index=False)
                         for c in classes], columns=["item_id", "class", "probability"])  # fmt: skip
    hard = Classifier(**FAST).fit(images, labels).predict_proba(images)
    assert np.array_equal(Classifier(**FAST).fit(images, long).predict_proba(images), hard)
    doubled = Classifier(**FAST).fit(images, labels, sample_weight=[2] * 9)
    assert len(doubled.history_) == 2 and not np.array_equal(doubled.predict_proba(images), hard)
    with pytest.raises(InputError, match="`sample_weight` must hold 9 finite numbers >= 0"):
        Classifier(**FAST).fit(images, labels, sample_weight=[1, -1])
    with pytest.raises(InputError, match="probabilities that sum to 1. Got 0.5"):
        Classifier(**FAST).fit(images, long.assign(probability=long["probability"] / 2))
    with pytest.raises(InputError, match=r"`labels\['probability'\]` must hold numbers in \[0, 1\]"):
        Classifier(**FAST).fit(images, long.assign(probability=-1.0))


def test_classifier_save_load_round_trip(tmp_path):
    images, truth = colour_images(n_per_class=4)
    clf = Classifier(**FAST).fit(images, first_k(truth, 2))
    path = clf.save(tmp_path / "colours.safetensors")
    loaded = Classifier.load(path, verbose=False)
    assert loaded.classes_ == clf.classes_ and loaded.image_size == 12
    assert np.array_equal(loaded.predict_proba(images), clf.predict_proba(images))
    pd.testing.assert_frame_equal(loaded.predict(images), clf.predict(images))
    custom = Classifier(**{**FAST, "model": torch.nn.Sequential(torch.nn.Flatten(),
                                                                torch.nn.LazyLinear(3))})  # fmt: skip
    custom.fit(images, first_k(truth, 2))
    with pytest.raises(InputError, match="`model` must be one of .* to be saved"):
        custom.save(tmp_path / "custom.safetensors")
    with pytest.raises(InputError, match="must end with '.safetensors'"):
        clf.save(tmp_path / "colours.pt")


def test_classifier_load_refuses_what_is_not_a_checked_config(tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    images, truth = colour_images(n_per_class=2)
    path = Classifier(**FAST).fit(images, first_k(truth, 2)).save(tmp_path / "ok.safetensors")
    tensors = load_file(path)
    good = {"format": "labelwidgets.classifier", "version": 1, "model": "tiny_cnn",
            "classes": ["blue", "green", "red"], "image_size": 12}  # fmt: skip
    for config, match in [
        ({**good, "activation": "__import__('os').getcwd()"}, r"unknown keys \['activation'\]"),
        ({**good, "model": "torch.nn.Module"}, "`model` must be one of"),
        ({**good, "image_size": 10**6}, "`image_size` must be at most 8192"),
        ({**good, "format": "labelwidgets.detector"}, "must be 'labelwidgets.classifier'"),
        ({**good, "classes": ["a", "b"]}, "must hold the tensors of a tiny_cnn with 2 classes"),
    ]:
        bad = tmp_path / "bad.safetensors"
        save_file(tensors, str(bad), metadata={"labelwidgets": json.dumps(config)})
        with pytest.raises(InputError, match=match):
            Classifier.load(bad)
    pickled = tmp_path / "model.safetensors"
    torch.save({"state_dict": tensors}, pickled)
    with pytest.raises(InputError, match="which safetensors cannot read"):
        Classifier.load(pickled)


def test_defaults_read_the_data():
    from labelwidgets.training.classifier import (
        default_epochs,
        default_image_size,
        validation_split,
    )

    for side, expected in ((8, 16), (25, 25), (40, 40), (96, 64)):
        images = ArrayImages(np.zeros((3, side, side), dtype=np.uint8))
        assert default_image_size(images, images.item_ids) == expected
    wide = ArrayImages(np.zeros((2, 20, 30), dtype=np.uint8))  # the longest side counts
    assert default_image_size(wide, wide.item_ids) == 30
    assert default_epochs(500) == 20 and default_epochs(10**6) == 5 and default_epochs(10) == 100
    labels = np.array(["a"] * 5 + ["b"] * 20 + ["c"])
    mask = validation_split(labels, 0.1, seed=0)
    assert not mask[:5].any() and mask[5:25].sum() == 2 and not mask[25]  # 10+ items only
    assert np.array_equal(mask, validation_split(labels, 0.1, seed=0))
    assert not np.array_equal(mask, validation_split(labels, 0.1, seed=1))


def test_early_stopping_keeps_the_best_epoch():
    from labelwidgets.training.classifier import default_epochs, validation_split

    images, truth = colour_images(n_per_class=10)
    rng = np.random.default_rng(0)
    noise = truth.assign(label=rng.permutation(truth["label"].to_numpy()))  # nothing to learn
    clf = Classifier(model="tiny_cnn", patience=2, verbose=False).fit(images, noise)
    h = clf.history_
    assert clf.image_size_ == 16 and clf.n_epochs_ < 100
    assert h["val_loss"].notna().all() and len(h) == clf.n_epochs_
    best = clf.best_epoch_
    assert h.loc[best - 1, "val_loss"] <= h["val_loss"].min() + 1e-4
    assert clf.n_epochs_ - best == 2 and clf.n_epochs_ < default_epochs(27 * 10)  # stopped early
    # the weights kept are the best epoch's: its validation loss is reproduced exactly
    val = validation_split(noise["label"].to_numpy(), 0.1, seed=0)
    held = noise[val]
    proba = clf.predict_proba(images.subset(held["item_id"]))
    columns = [clf.classes_.index(c) for c in held["label"]]
    loss = -np.log(proba[np.arange(len(held)), columns]).mean()
    assert loss == pytest.approx(h.loc[best - 1, "val_loss"], rel=1e-6)


# ------------------------------------------------------------ noisy student
def test_zero_rounds_is_exactly_the_teacher():
    images, truth = colour_images()
    labels = first_k(truth, 3)
    ns = fast_student(rounds=0, random_state=7).fit(images, labels)
    teacher = Classifier(random_state=7, **FAST).fit(images, labels)
    assert ns.n_rounds_ == 0 and ns.student_ is ns.teacher_
    assert np.array_equal(ns.predict_proba(images), teacher.predict_proba(images))
    pd.testing.assert_frame_equal(ns.predict(images), teacher.predict(images))
    assert ns.pseudo_labels_.empty and len(ns.history_) == 1


def test_noisy_student_is_an_estimator_that_clones_its_student():
    teacher, student = Classifier(**FAST), Classifier(**{**FAST, "model": "small_cnn"})
    ns = NoisyStudent(teacher, student, rounds=2, threshold=0.4, random_state=5, verbose=False)
    params = ns.get_params()
    assert params["teacher"] is teacher and params["student__model"] == "small_cnn"
    ns.set_params(student__epochs=1)
    assert student.epochs == 1
    assert clone(ns).get_params()["student__epochs"] == 1 and clone(ns).student is not student
    with pytest.raises(NotFittedError):
        ns.predict(np.zeros((2, 4, 4)))
    images, truth = colour_images()
    ns.fit(images, first_k(truth, 3))
    assert not hasattr(teacher, "model_") and not hasattr(student, "model_")  # never fitted
    assert ns.model_names_ == ["tiny_cnn-r0", "small_cnn-r1", "small_cnn-r2"]
    assert len({id(m) for m in ns.models_}) == 3
    assert [m.random_state for m in ns.models_] == [5, 6, 7]
    assert all(m.classes == ns.classes_ for m in ns.models_)
    assert (ns.curves_.groupby("round")["epoch"].max() <= 2).all()


def test_noisy_student_rounds_history_and_predictions():
    images, truth = colour_images()
    labels = first_k(truth, 3)
    ns = fast_student(rounds=2, threshold=0.4).fit(images, labels, truth=truth)
    h = ns.history_
    assert list(h.columns) == ["round", "model", "n_labeled", "n_pseudo", "n_train",
                               "val_accuracy", "pseudo_accuracy", "seconds"]  # fmt: skip
    assert list(h["round"]) == [0, 1, 2] and ns.n_rounds_ == 2
    assert list(h["model"]) == ["tiny_cnn-r0", "tiny_cnn-r1", "tiny_cnn-r2"]
    assert (h["n_labeled"] == 9).all() and h["val_accuracy"].notna().all()
    assert h.loc[1:, "n_pseudo"].gt(0).all() and h.loc[1:, "pseudo_accuracy"].between(0, 1).all()
    pseudo = ns.pseudo_labels_
    assert set(pseudo["round"]) == {1, 2} and len(pseudo) == 2 * 27
    assert (pseudo.loc[pseudo["kept"], "confidence"] >= 0.4).all()
    assert (pseudo.loc[~pseudo["kept"], "copies"] == 0).all()
    assert (h.loc[1:, "n_train"].to_numpy() == 9 + pseudo.groupby("round")["copies"].sum()).all()
    assert not set(pseudo["item_id"]) & set(labels["item_id"])  # only the pool
    assert ns.classes_ == ["blue", "green", "red"] and ns.model_ is ns.models_[-1]
    pred = ns.predict(images)
    assert len(pred) == 36 and set(pred["label"]) <= set(ns.classes_)
    assert ns.predict(images, round=0).equals(pd.DataFrame(ns.teacher_.predict(images)))
    table = ns.per_class_accuracy(images, truth)
    assert list(table.columns) == ["label", "n", *ns.model_names_]
    assert ns.score(images, truth, round=0) == table.iloc[-1]["tiny_cnn-r0"]
    fig = ns.plot_history()
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3
    with pytest.raises(InputError, match=r"`round` must be an integer in \[0, 2\]"):
        ns.predict(images, round=5)


def test_soft_pseudo_labels_train_the_students():
    images, truth = colour_images()
    ns = fast_student(rounds=1, threshold=0.4, soft=True).fit(images, first_k(truth, 3))
    hard = fast_student(rounds=1, threshold=0.4).fit(images, first_k(truth, 3))
    assert ns.n_rounds_ == 1 and np.allclose(ns.predict_proba(images).sum(1), 1)
    assert np.array_equal(ns.predict_proba(images, round=0), hard.predict_proba(images, round=0))
    assert not np.array_equal(ns.predict_proba(images), hard.predict_proba(images))


def test_fit_writes_nothing_and_pseudo_labels_are_one_submission_per_round(store):
    images, truth = colour_images()
    labels = first_k(truth, 3)
    ns = fast_student(rounds=2, threshold=0.4).fit(images, labels)
    assert store.annotations().empty and store.tasks().empty  # fit wrote nothing
    sids = ns.write_pseudo_labels(store, task="colour")
    log = store.annotations()
    kept = ns.pseudo_labels_[ns.pseudo_labels_["kept"]]
    assert len(sids) == 2 and log.groupby("submission_id")["round"].nunique().eq(1).all()
    assert sorted(log["submission_id"].unique()) == sorted(sids)  # one append per round
    rows = store.labels(task="colour", source="pseudo")
    assert len(rows) == len(kept) > 0
    assert set(rows["round"]) == set(kept["round"]) == {1, 2}
    assert set(rows["rater"]) == set(rows["model"]) == {"tiny_cnn-r0", "tiny_cnn-r1"}
    merged = rows.merge(kept, on=["item_id", "round"], suffixes=("", "_ns"))
    assert len(merged) == len(kept) and (merged["label"] == merged["label_ns"]).all()
    assert np.allclose(merged["confidence"], merged["confidence_ns"])
    assert store.tasks().set_index("task").loc["colour", "options"] == ["blue", "green", "red"]
    again = ns.write_pseudo_labels(store, task="colour", rounds=[2])
    assert len(again) == 1 and set(store.annotations()["submission_id"]) == {*sids, *again}
    with pytest.raises(InputError, match=r"`rounds` must be among \[1, 2\]. Got \[3\]"):
        ns.write_pseudo_labels(store, task="colour", rounds=[3])
    store.register_task("boxes", ["blue"], kind="box")
    with pytest.raises(InputError, match="must be a single-label task whose options include"):
        ns.write_pseudo_labels(store, task="boxes")
    with pytest.raises(NotFittedError):
        fast_student().write_pseudo_labels(store)


def test_weakest_pseudo_labels_are_tagger_suggestions():
    images, truth = colour_images()
    ns = fast_student(rounds=1).fit(images, first_k(truth, 3))
    weak = ns.weakest_pseudo_labels(5)
    assert list(weak.columns) == ["item_id", "task", "label", "confidence", "model"]
    assert len(weak) == 5 and weak["confidence"].is_monotonic_increasing
    assert (weak["task"] == "label").all() and (weak["model"] == "tiny_cnn-r0").all()
    kept = ns.weakest_pseudo_labels(100, kept_only=True)
    assert (kept["confidence"] >= ns.threshold).all() and len(kept) <= 27
    from labelwidgets._tasks import normalize_suggestions

    assert len(normalize_suggestions({"label": ns.classes_}, weak)) == 5


def test_few_shot_new_class_joins_the_loop():
    images, truth = colour_images()
    two = truth[truth["label"] != "blue"]
    ns = fast_student(rounds=1, threshold=0.3).fit(images, first_k(two, 3))
    assert ns.classes_ == ["green", "red"]
    labels = first_k(truth, 3)  # three examples of the new class "blue"
    ns.fit(images, labels, truth=truth)
    assert ns.classes_ == ["blue", "green", "red"]
    assert ns.predict_proba(images).shape == (36, 3)
    assert "blue" in set(ns.pseudo_labels_["label"]) | set(ns.predict(images)["label"])


def test_mixed_sizes_and_modes_from_files(tmp_path):
    from PIL import Image

    from labelwidgets.images import ImageSet

    rng = np.random.default_rng(0)
    rows = []
    for i, (mode, size) in enumerate(
        [("RGB", (30, 20)), ("L", (12, 12)), ("RGBA", (40, 40)), ("P", (25, 31)),
         ("I;16", (16, 16)), ("RGB", (64, 48)), ("L", (9, 17)), ("CMYK", (20, 20))]
    ):  # fmt: skip
        arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        if mode == "I;16":
            img = Image.fromarray(arr[..., 0].astype(np.uint16) * 200)  # 16-bit grey
        else:
            img = Image.fromarray(arr).convert(mode)
        name = f"img{i}.{'tif' if mode in ('I;16', 'CMYK') else 'png'}"
        img.save(tmp_path / name)
        rows.append({"path": str(tmp_path / name), "label": "a" if i % 2 else "b"})
    images = ImageSet.from_dataframe(pd.DataFrame(rows), path_column="path")
    assert len(images.items) == 8
    labels = images.items[["item_id"]].assign(label=[r["label"] for r in rows])
    labels.loc[[0, 1], "label"] = None  # two unlabelled
    ns = fast_student(rounds=1, threshold=0.01).fit(images, labels)
    assert len(ns.predict(images)) == 8 and ns.n_rounds_ == 1


# --------------------------------------------------------------- bad input
def test_bad_input_errors():
    images, truth = colour_images(n_per_class=4)
    labels = first_k(truth, 2)
    with pytest.raises(InputError, match="`labels` must label at least one item"):
        fast_student().fit(images, labels.iloc[:0])
    with pytest.raises(InputError, match="`labels` must label at least one item"):
        fast_student().fit(images, labels.assign(item_id="elsewhere/" + labels["item_id"]))
    with pytest.raises(InputError, match=r"Got none for \['yellow'\]"):
        fast_student(classes=["red", "green", "blue", "yellow"]).fit(images, labels)
    with pytest.raises(InputError, match="must only use the classes"):
        fast_student(classes=["red", "green"]).fit(images, labels)
    for bad in (0, -0.1, 1.5, "0.7"):
        with pytest.raises(InputError, match=r"`threshold` must be a number in \(0, 1\]"):
            fast_student(threshold=bad).fit(images, labels)
    with pytest.raises(InputError, match="`rounds` must be an integer >= 0. Got -1 instead."):
        fast_student(rounds=-1).fit(images, labels)
    with pytest.raises(InputError, match=r"`labels` must have columns \['item_id', 'label'\]"):
        fast_student().fit(images, labels.rename(columns={"label": "shape"}))
    with pytest.raises(InputError, match="`images` must be an ImageSet"):
        fast_student().fit([1, 2, 3], labels)
    with pytest.raises(InputError, match="must give one label per item"):
        fast_student().fit(images, pd.concat([labels, labels.assign(label="red")]))
    with pytest.raises(InputError, match="`student` must be a scikit-learn-style estimator"):
        NoisyStudent(student="small_cnn").fit(images, labels)
    with pytest.raises(InputError, match="`epochs` must be an integer >= 1. Got 0"):
        Classifier(epochs=0).fit(images, labels)
    with pytest.raises(NotFittedError):
        NoisyStudent().predict(images)


def test_empty_pool_trains_the_teacher_and_says_so():
    images, truth = colour_images(n_per_class=3)
    with pytest.warns(UserWarning, match="unlabelled pool is empty"):
        ns = fast_student(rounds=2).fit(images, truth)
    assert ns.n_rounds_ == 0 and len(ns.history_) == 1
    assert ns.weakest_pseudo_labels(3).empty


def test_threshold_nobody_reaches_stops_with_a_warning():
    images, truth = colour_images(n_per_class=4)
    ns = fast_student(rounds=2, threshold=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns.fit(images, first_k(truth, 1))
    if ns.n_rounds_ == 0:  # a confidence of exactly 1.0 is possible but unlikely in 2 epochs
        assert any("reached `threshold`" in str(w.message) for w in caught)
    assert ns.n_rounds_ in (0, 1, 2) and len(ns.history_) == ns.n_rounds_ + 1


def test_yolo_classification_backend(tmp_path, monkeypatch):
    pytest.importorskip("ultralytics", reason="the train extra (ultralytics) is not installed")
    monkeypatch.setenv("LABELWIDGETS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("YOLO_CONFIG_DIR", raising=False)
    images, truth = colour_images(n_per_class=5)
    yolo = YoloClassifier(image_size=32, batch_size=8, verbose=False)
    ns = NoisyStudent(yolo, rounds=1, threshold=0.01, verbose=False)
    ns.fit(images, first_k(truth, 2), truth=truth)
    assert ns.model_names_ == ["yolov8n-cls-r0", "yolov8n-cls-r1"] and ns.n_rounds_ == 1
    proba = ns.predict_proba(images)
    assert proba.shape == (15, 3) and np.allclose(proba.sum(1), 1, atol=1e-4)
    assert ns.curves_["loss"].notna().all()


def test_thread_count_small_images_train_on_one_cpu_thread(monkeypatch):
    from labelwidgets.training.classifier import thread_count

    monkeypatch.delenv("LABELWIDGETS_TEST_MODE", raising=False)
    assert thread_count("cpu", None, 32) == 1          # small convolutions: one thread
    assert thread_count("cpu", None, 224) is None      # torch's own setting
    assert thread_count("cpu", 3, 32) == 3             # what the user asked for
    assert thread_count("cuda:0", 3, 32) is None       # threads do not matter on a GPU
    monkeypatch.setenv("LABELWIDGETS_TEST_MODE", "1")
    assert thread_count("cpu", None, 224) == 1
    with pytest.raises(ValueError, match="n_threads"):
        Classifier(n_threads=0).fit(np.zeros((4, 8, 8), dtype=np.uint8),
                                    pd.DataFrame({"item_id": list("abcd"), "label": list("xyxy")}))


def test_init_starts_from_a_fitted_classifier_and_students_can_start_from_their_teacher():
    import torch

    images, truth = colour_images()
    labels = first_k(truth, 6)
    teacher = Classifier(**FAST, random_state=1).fit(images, labels)
    # next to no training (lr 1e-9): the weights are still the teacher's
    frozen = Classifier(**{**FAST, "lr": 1e-9}, init=teacher, random_state=5).fit(images, labels)
    mine = dict(frozen.model_.named_parameters())   # (batch-norm statistics move with any data)
    for k, v in teacher.model_.named_parameters():
        assert torch.allclose(v, mine[k], atol=1e-5), k
    scratch = Classifier(**{**FAST, "lr": 1e-9}, random_state=5).fit(images, labels)
    assert not np.allclose(scratch.predict_proba(images), teacher.predict_proba(images))
    # the wrong classes or an unfitted init are refused with what would work
    with pytest.raises(InputError, match="classes being fitted"):
        Classifier(**FAST, init=teacher).fit(images, labels[labels["label"] != "blue"])
    with pytest.raises(InputError, match="fitted Classifier"):
        Classifier(**FAST, init=Classifier()).fit(images, labels)
    # the loop hands each student its teacher; the teacher itself starts from scratch
    ns = fast_student(rounds=2, student_init="teacher").fit(images, labels)
    assert ns.models_[0].init is None
    assert ns.models_[1].init is ns.models_[0] and ns.models_[2].init is ns.models_[1]
    assert clone(ns).get_params()["student_init"] == "teacher"
    with pytest.raises(InputError, match="student_init"):
        fast_student(student_init="warm").fit(images, labels)
