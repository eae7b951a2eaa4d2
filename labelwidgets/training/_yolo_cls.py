"""Ultralytics YOLO classification as a scikit-learn estimator (:class:`YoloClassifier`).

The network is built from ultralytics' own yaml (no weights are downloaded) and trained on an
ImageFolder layout written to a temporary folder: ``train/<k>/<i>.png`` and ``val/<k>/...``
(folders named by class index, so any class name works; the validation folder repeats a
sample of the training images, because ultralytics needs one and the loop measures accuracy on
its own). Ultralytics supplies the noise: its RandAugment, random erasing and colour jitter,
head dropout, and flips only with ``flips=True``. Labels are hard here (an image folder holds one
class per image: a distribution trains on its top class), and an integer ``sample_weight`` is
written as that many copies of the file (other weights are rounded, at least one copy).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._validate import check_positive_int
from ._weights import ultralytics_yaml
from .classifier import TEST_MODE_EPOCHS, proba_frame, resolve_device, test_mode
from .data import check_images, item_ids_of, load_images, training_targets

__all__ = ["YoloClassifier"]


def _import_yolo():
    from .._offline import prepare_ultralytics

    prepare_ultralytics()
    try:
        from ultralytics import YOLO
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "model='yolov8n-cls' needs ultralytics. Install it with "
            "`pip install 'labelwidgets[train]'`."
        ) from exc
    return YOLO


class YoloClassifier(BaseEstimator):
    """An ultralytics classification model trained on images and ``item_id, label`` tables.

    Same interface as :class:`~labelwidgets.training.Classifier` (``fit``, ``predict_proba``,
    ``predict``), so it can be the teacher or the student of
    :class:`~labelwidgets.training.NoisyStudent`.

    Parameters
    ----------
    model : str, default="yolov8n-cls"
        An ultralytics classification config name that ultralytics ships (``.yaml`` is
        appended when missing).
    image_size : int, default=64
        Training and prediction image size.
    epochs : int, default=30
        Training epochs (at most ``TEST_MODE_EPOCHS`` in test mode).
    batch_size : int, default=64
        Images per batch.
    lr : float, default=0.003
        Initial learning rate (AdamW).
    classes : sequence of str or None, default=None
        The class list (output order); default the sorted labels seen in ``fit``.
    random_state : int, default=0
        Seed of ultralytics' training and of the validation sample.
    device : str or None, default=None
        ``"cpu"`` or ``"cuda"``; default CUDA when present.
    verbose : bool, default=True
        Kept for the common interface (ultralytics trains quietly here).
    flips : bool, default=False
        Horizontal flips in ultralytics' augmentation.
    """

    def __init__(self, model="yolov8n-cls", image_size=64, epochs=30, batch_size=64, lr=0.003,
                 classes=None, random_state=0, device=None, verbose=True, flips=False):  # fmt: skip
        self.model = model
        self.image_size = image_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.classes = classes
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.flips = flips

    def fit(self, images, labels, sample_weight=None) -> YoloClassifier:
        """Train on the labelled items of ``images`` (see ``Classifier.fit``)."""
        check_positive_int(self.image_size, "image_size")
        check_positive_int(self.epochs, "epochs")
        images = check_images(images)
        ids, targets, classes, weights = training_targets(
            labels, item_ids_of(images), self.classes, sample_weight
        )
        copies = None if weights is None else np.maximum(1, np.round(weights)).astype(int)
        x = load_images(images, ids, self.image_size)
        return self._train(x, np.asarray(targets).argmax(axis=1), classes, copies)

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities, one row per item of ``images`` (columns: ``classes_``)."""
        check_is_fitted(self)
        images = check_images(images)
        return self._predict_tensor(load_images(images, item_ids_of(images), self.image_size))

    def predict(self, images) -> pd.DataFrame:
        """The most likely class per item: ``item_id, label, confidence``."""
        images = check_images(images)
        return proba_frame(item_ids_of(images), self.predict_proba(images), self.classes_)

    def _write_folder(self, root: Path, x, labels, copies=None) -> None:
        from PIL import Image

        rng = np.random.default_rng(self.random_state)
        val = set()  # a fifth of each class (at least one image): ultralytics needs every class
        for k in sorted(set(labels)):
            members = np.flatnonzero(labels == k)
            val.update(rng.choice(members, size=max(1, len(members) // 5), replace=False).tolist())
        for i, (img, k) in enumerate(zip(x, labels, strict=True)):
            pil = Image.fromarray(img.permute(1, 2, 0).numpy())
            for split in ("train", "val") if i in val else ("train",):
                folder = root / split / f"{k:03d}"
                folder.mkdir(parents=True, exist_ok=True)
                n = 1 if copies is None or split == "val" else int(copies[i])
                for c in range(n):
                    pil.save(folder / (f"{i:06d}.png" if c == 0 else f"{i:06d}-{c}.png"))

    def _train(self, x, labels, classes, copies=None) -> YoloClassifier:
        YOLO = _import_yolo()
        self.classes_ = list(classes)
        self.device_ = resolve_device(self.device)
        epochs = min(self.epochs, TEST_MODE_EPOCHS) if test_mode() else self.epochs
        name = self.model if str(self.model).endswith(".yaml") else f"{self.model}.yaml"
        yaml_path = ultralytics_yaml(name, task="classify")
        self._tmp = tempfile.TemporaryDirectory(prefix="labelwidgets-yolo-cls-")
        root = Path(self._tmp.name)
        self._write_folder(root / "data", x, labels, copies)
        net = YOLO(str(yaml_path), task="classify")
        net.train(
            data=str(root / "data"), epochs=epochs, imgsz=self.image_size,
            batch=min(self.batch_size, len(x)), lr0=self.lr, optimizer="AdamW",
            seed=int(self.random_state), deterministic=True, workers=0,
            device="0" if self.device_.startswith("cuda") else "cpu",
            project=str(root / "runs"), name="train", exist_ok=True,
            fliplr=0.5 if self.flips else 0.0, dropout=0.2, plots=False, verbose=False,
            amp=False, pretrained=False,
        )  # fmt: skip
        self.model_ = net
        self._order = self._class_order(net)
        results = Path(net.trainer.save_dir) / "results.csv"
        curve = pd.read_csv(results) if results.exists() else pd.DataFrame()
        curve.columns = [c.strip() for c in curve.columns]
        self.history_ = pd.DataFrame(
            {
                "epoch": curve.get("epoch", pd.Series(range(1, epochs + 1))).astype(int),
                "loss": curve.get("train/loss", pd.Series([np.nan] * epochs)),
                "train_accuracy": np.nan,
                "lr": curve.get("lr/pg0", pd.Series([np.nan] * epochs)),
            }
        )
        return self

    def _class_order(self, net) -> np.ndarray:
        # ultralytics numbers classes by sorted folder name; folders are class indices
        names = net.names
        return np.array([int(names[i]) for i in range(len(names))])

    def _predict_tensor(self, x, batch_size: int = 256) -> np.ndarray:
        from PIL import Image

        out = np.zeros((len(x), len(self.classes_)))
        for start in range(0, len(x), batch_size):
            batch = [
                Image.fromarray(img.permute(1, 2, 0).numpy())
                for img in x[start : start + batch_size]
            ]
            results = self.model_.predict(batch, imgsz=self.image_size, verbose=False,
                                          device="0" if self.device_.startswith("cuda") else "cpu")  # fmt: skip
            for j, res in enumerate(results):
                out[start + j, self._order] = res.probs.data.cpu().numpy()
        return out
