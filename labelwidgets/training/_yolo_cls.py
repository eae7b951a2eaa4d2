"""Ultralytics YOLO classification backend (``model="yolov8n-cls"``) for the noisy-student loop.

The network is built from ultralytics' own yaml (no weights are downloaded) and trained on an
ImageFolder layout written to a temporary folder: ``train/<k>/<i>.png`` and ``val/<k>/...``
(folders named by class index, so any class name works; the validation folder repeats a
sample of the training images, because ultralytics needs one and the loop measures accuracy on
its own). Ultralytics supplies the noise: its RandAugment, random erasing and colour jitter,
head dropout, and flips only with ``flips=True``. Pseudo-labels are hard here (an image folder
holds one class per image); balanced duplicates are written as extra files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ._weights import ultralytics_yaml
from .classifier import TEST_MODE_EPOCHS, resolve_device, test_mode

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


class YoloClassifier:
    """Train and predict an ultralytics classification model on tensors (used by NoisyStudent).

    Parameters
    ----------
    model : str, default="yolov8n-cls"
        An ultralytics classification config name (``.yaml`` is appended when missing).
    image_size, epochs, batch_size, lr, random_state, device, verbose
        As in :class:`~labelwidgets.training.Classifier`.
    flips : bool, default=False
        Horizontal flips in ultralytics' augmentation.
    """

    def __init__(self, model="yolov8n-cls", image_size=64, epochs=30, batch_size=64, lr=0.003,
                 random_state=0, device=None, verbose=True, flips=False):  # fmt: skip
        self.model = model
        self.image_size = image_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.flips = flips

    def _write_folder(self, root: Path, x, labels) -> None:
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
                pil.save(folder / f"{i:06d}.png")

    def _fit_tensors(self, x, targets, classes, desc: str = "train") -> YoloClassifier:
        YOLO = _import_yolo()
        self.classes_ = list(classes)
        self.device_ = resolve_device(self.device)
        labels = np.asarray(targets).argmax(axis=1)
        epochs = min(self.epochs, TEST_MODE_EPOCHS) if test_mode() else self.epochs
        name = self.model if str(self.model).endswith(".yaml") else f"{self.model}.yaml"
        yaml_path = ultralytics_yaml(name, task="classify")
        self._tmp = tempfile.TemporaryDirectory(prefix="labelwidgets-yolo-cls-")
        root = Path(self._tmp.name)
        self._write_folder(root / "data", x, labels)
        net = YOLO(str(yaml_path), task="classify")
        net.train(
            data=str(root / "data"), epochs=epochs, imgsz=self.image_size,
            batch=min(self.batch_size, len(x)), lr0=self.lr, optimizer="AdamW",
            seed=int(self.random_state), deterministic=True, workers=0,
            device="0" if self.device_.startswith("cuda") else "cpu",
            project=str(root / "runs"), name=desc.replace(" ", "_"), exist_ok=True,
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

    def _predict_tensors(self, x, batch_size: int = 256) -> np.ndarray:
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
