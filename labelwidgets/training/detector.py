"""Object detectors with ultralytics YOLO, offline: train on the store's boxes, predict, write back.

:func:`train_detector` exports the boxes with :func:`labelwidgets.formats.to_yolo`, builds the
model from its YAML (never hub weights), trains on the CPU unless CUDA is there, shows one
progress bar step per epoch and returns a :class:`TrainedDetector` with the per-epoch losses and
precision/recall. :func:`predict_boxes` turns a model's detections into the store's long table
and :func:`write_predictions` records them as ``source="model"`` (or ``"pseudo"``) rows.

Augmentation, as a user would tick it (``augment=``):

=================  ==========================  ===============================================
option             ultralytics argument        meaning
=================  ==========================  ===============================================
``degrees=30``     ``degrees``                 rotation by up to +-30 degrees (boxes become
                                               the bounding box of the rotated box)
``fliplr=0.5``     ``fliplr``                  horizontal flip with probability 0.5
``flipud=0.0``     ``flipud``                  vertical flip with probability 0.0
``brightness=.3``  ``hsv_v``                   brightness (HSV value) gain in +-30 %
``noise=0.03``     (none: added here)          Gaussian pixel noise, standard deviation 0.03 of
                                               the 0-1 range, per training batch, seeded
=================  ==========================  ===============================================

ultralytics has no noise augmentation (its optional albumentations step blurs and changes
contrast with probability 0.01): noise is added by a :class:`DetectionTrainer` subclass in
``preprocess_batch``, after ultralytics' own augmentation, on training batches only. Options
left out of ``augment`` are off; any other ultralytics augmentation argument (``mosaic``,
``scale``, ``translate``, ``hsv_h``, ``hsv_s``, ``shear``, ``perspective``, ``mixup``,
``copy_paste``) may be given too and keeps ultralytics' default when not.

Weights: ultralytics saves ``best.pt`` / ``last.pt`` as pickles (the model class, its optimizer,
training arguments): loading one runs whatever code the file names, and even a file that
``torch.load(..., weights_only=True)`` accepts can carry a model dict whose ``activation`` string
ultralytics passes to ``eval``. :func:`train_detector` therefore also writes
``detector.safetensors`` (:func:`save_detector`): the tensors, and a JSON config (the name of the
model YAML that ultralytics ships, the class names, the image size, the model name) that
:func:`load_detector` checks key by key before it rebuilds the network from ultralytics' own
YAML. Loading any other file is an explicit ``trust=True``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._offline import test_mode
from .._validate import InputError, check_choice, check_columns, check_names
from ..detect import boxes_from_result
from ._weights import read_weights, save_weights, ultralytics_yaml

__all__ = [
    "train_detector",
    "predict_boxes",
    "write_predictions",
    "prediction_submissions",
    "load_detector",
    "save_detector",
    "augment_args",
    "training_boxes",
    "TrainedDetector",
    "AUGMENT_DEFAULTS",
]

#: The augmentation ``train_detector`` uses when ``augment`` is None.
AUGMENT_DEFAULTS = {"degrees": 30.0, "fliplr": 0.5, "brightness": 0.3, "noise": 0.03}
_USER_OPTIONS = {
    "degrees": "degrees",
    "fliplr": "fliplr",
    "flipud": "flipud",
    "brightness": "hsv_v",
}
_PASS_THROUGH = (
    "mosaic", "scale", "translate", "hsv_h", "hsv_s", "hsv_v", "shear", "perspective", "mixup",
    "copy_paste",
)  # fmt: skip
_HISTORY_COLUMNS = {
    "epoch": "epoch",
    "train/box_loss": "train_box_loss",
    "train/cls_loss": "train_cls_loss",
    "train/dfl_loss": "train_dfl_loss",
    "val/box_loss": "val_box_loss",
    "val/cls_loss": "val_cls_loss",
    "val/dfl_loss": "val_dfl_loss",
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "map50",
    "metrics/mAP50-95(B)": "map50_95",
}


# --------------------------------------------------------------------------- pure helpers
def augment_args(augment: Mapping | None) -> tuple[dict, float]:
    """Map the user-level augmentation options to ultralytics ``train`` arguments.

    Parameters
    ----------
    augment : mapping or None
        Keys ``degrees`` (0-180), ``fliplr``, ``flipud`` (probabilities), ``brightness``
        (0-1, the +- fraction), ``noise`` (standard deviation on the 0-1 scale) and any of
        ultralytics' own augmentation arguments. None means :data:`AUGMENT_DEFAULTS`.

    Returns
    -------
    (dict, float)
        The ultralytics arguments (the four user-level options always present, 0 when off)
        and the noise standard deviation.

    Examples
    --------
    >>> augment_args({"degrees": 30, "brightness": 0.3})
    ({'degrees': 30.0, 'fliplr': 0.0, 'flipud': 0.0, 'hsv_v': 0.3}, 0.0)
    """
    augment = dict(AUGMENT_DEFAULTS if augment is None else augment)
    allowed = [*_USER_OPTIONS, "noise", *_PASS_THROUGH]
    unknown = [k for k in augment if k not in allowed]
    if unknown:
        raise ValueError(f"`augment` keys must be among {allowed}. Got {unknown!r} instead.")
    if "brightness" in augment and "hsv_v" in augment:
        raise ValueError(
            "`augment` must give `brightness` or `hsv_v`, not both (they are the same)."
        )
    limits = {"degrees": 180.0, "fliplr": 1.0, "flipud": 1.0, "brightness": 1.0, "noise": 1.0}
    for key, value in augment.items():
        top = limits.get(key, math.inf)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= top
        if not ok:
            raise ValueError(
                f"`augment['{key}']` must be a number in [0, {top:g}]. Got {value!r} instead."
            )
    args = {target: float(augment.get(option, 0.0)) for option, target in _USER_OPTIONS.items()}
    args.update({k: float(v) for k, v in augment.items() if k in _PASS_THROUGH})
    return args, float(augment.get("noise", 0.0))


def training_boxes(
    store, task: str = "boxes", source: str | Sequence[str] = "human"
) -> pd.DataFrame:
    """The boxes to train on: per item, the most recent current submission for ``task``.

    Returns the long table ``item_id, path, width, height, label, x, y, w, h`` that the
    format writers take; an item whose latest submission has no boxes is one row with
    ``label`` missing (a background image). Skipped items are left out.
    """
    cur = store.current(task=task, source=source)
    cur = cur[cur["kind"] == "box"]
    if cur.empty:
        raise ValueError(
            f"The store must hold boxes for task {task!r} from source {source!r} to train on. "
            "Got none; label some images with BoxAnnotator first."
        )
    last = cur.groupby("item_id")["annotation_id"].transform("max")
    sids = set(cur.loc[cur["annotation_id"] == last, "submission_id"])
    cur = cur[cur["submission_id"].isin(sids)]
    items = store.items()[["item_id", "path", "width", "height"]]
    df = cur[["item_id", "label", "x", "y", "w", "h"]].merge(items, on="item_id", how="left")
    return df[["item_id", "path", "width", "height", "label", "x", "y", "w", "h"]].reset_index(
        drop=True
    )


def _imgsz(df: pd.DataFrame) -> int:
    """The smallest multiple of 32 that holds the longest image side, in [64, 640]."""
    side = int(max(df["width"].max(), df["height"].max()))
    return int(min(640, max(64, math.ceil(side / 32) * 32)))


def read_history(results_csv: str | os.PathLike) -> pd.DataFrame:
    """ultralytics' ``results.csv`` as tidy columns (``epoch``, losses, precision, recall, mAP)."""
    raw = pd.read_csv(results_csv)
    raw.columns = [c.strip() for c in raw.columns]
    keep = {k: v for k, v in _HISTORY_COLUMNS.items() if k in raw.columns}
    return raw[list(keep)].rename(columns=keep).astype({"epoch": int})


# --------------------------------------------------------------------------- result
@dataclass
class TrainedDetector:
    """What :func:`train_detector` returns.

    Attributes
    ----------
    weights : pathlib.Path
        ultralytics' ``best.pt``, a pickle: ``load_detector(weights, trust=True)`` runs any code
        it names, so only for this file, which your own training wrote.
    state_dict : pathlib.Path
        ``detector.safetensors``: the tensors and a checked JSON config; load it with
        :func:`load_detector` (nothing in it can run).
    history : pandas.DataFrame
        One row per epoch: ``epoch, train_box_loss, train_cls_loss, train_dfl_loss,
        val_box_loss, val_cls_loss, val_dfl_loss, precision, recall, map50, map50_95``.
    classes : list of str
        Class names in class-id order.
    name : str
        The model name written into the store with its predictions.
    data_yaml : pathlib.Path
        The YOLO dataset the model was trained on.
    """

    weights: Path
    state_dict: Path
    history: pd.DataFrame
    classes: list[str]
    name: str
    data_yaml: Path
    _model: object = field(default=None, repr=False)

    def model(self):
        """The trained ultralytics YOLO model (loaded once)."""
        if self._model is None:
            self._model = load_detector(self.state_dict)
        return self._model

    def plot(self, ax=None):
        """Per-epoch losses (left axis) and precision/recall (right axis); returns the figure."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 3.5))
        else:
            fig = ax.figure
        h = self.history
        for col in ("train_box_loss", "train_cls_loss", "train_dfl_loss"):
            if col in h:
                ax.plot(
                    h["epoch"],
                    h[col],
                    marker="o",
                    label=col.replace("train_", "").replace("_", " "),
                )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("training loss")
        right = ax.twinx()
        for col, style in (("precision", "--"), ("recall", ":"), ("map50", "-.")):
            if col in h:
                right.plot(h["epoch"], h[col], style, color="black", label=col)
        right.set_ylim(0, 1)
        right.set_ylabel("precision / recall / mAP50")
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="center right")
        ax.set_title(f"{self.name}: {len(h)} epoch(s)")
        fig.tight_layout()
        return fig


# --------------------------------------------------------------------------- training
def _noisy_trainer(std: float, seed: int, init: Mapping | None = None):
    """A DetectionTrainer that adds seeded Gaussian noise to every training batch.

    ``init``, a state dict of the same layout and classes, replaces the random initial weights.
    """
    import torch
    from ultralytics.models.yolo.detect import DetectionTrainer

    class NoisyDetectionTrainer(DetectionTrainer):
        noise_std = std
        _generator = torch.Generator().manual_seed(seed)

        def preprocess_batch(self, batch):
            batch = super().preprocess_batch(batch)
            if self.noise_std > 0:
                img = batch["img"]
                noise = torch.randn(img.shape, generator=self._generator, dtype=img.dtype)
                batch["img"] = (img + self.noise_std * noise.to(img.device)).clamp_(0, 1)
            return batch

        def get_model(self, cfg=None, weights=None, verbose=True):
            model = super().get_model(cfg=cfg, weights=weights, verbose=verbose)
            if init is not None:
                try:
                    model.load_state_dict(dict(init))
                except RuntimeError as exc:
                    raise InputError(
                        "`init_weights` must be the state dict of the same model layout with the "
                        f"same classes. Got tensors that do not fit: {str(exc)[:300]}"
                    ) from exc
            return model

    return NoisyDetectionTrainer


def train_detector(
    store_or_df,
    classes: Sequence[str],
    out_dir: str | os.PathLike,
    model: str = "yolov8n.yaml",
    epochs: int | None = None,
    imgsz: int | None = None,
    augment: Mapping | None = None,
    random_state: int = 0,
    task: str = "boxes",
    source: str | Sequence[str] = "human",
    val_fraction: float = 0.2,
    batch: int = 16,
    device: str | None = None,
    name: str | None = None,
    progress: bool = True,
    val: bool = True,
    init_weights: Mapping | None = None,
) -> TrainedDetector:
    """Train a YOLO detector on the store's boxes, offline.

    Parameters
    ----------
    store_or_df : LabelStore or pandas.DataFrame
        A store (boxes of ``task`` from ``source``, the latest submission per item, see
        :func:`training_boxes`) or a long table ``item_id, path, label, x, y, w, h``, with an
        optional ``split`` column (``"train"`` or ``"val"`` per item) that replaces
        ``val_fraction``.
    classes : sequence of str
        Class names; class id ``k`` is ``classes[k]``.
    out_dir : str or path-like
        Folder for the YOLO dataset (``data/``), ultralytics' run (``run/``) and
        ``detector.safetensors``.
    model : str, default="yolov8n.yaml"
        The name of a detection model YAML that ultralytics ships (``yolov8n.yaml``,
        ``yolo11n.yaml``, ...), read from ultralytics' package (never from the working folder);
        built from scratch, never downloaded.
    epochs : int or None, default=None
        Training epochs (default 50, or 2 when ``LABELWIDGETS_TEST_MODE`` is set).
    imgsz : int or None, default=None
        Training image size (default: the longest image side rounded up to a multiple of 32,
        between 64 and 640).
    augment : mapping or None, default=None
        Augmentation options (see the module docstring); None means
        ``dict(degrees=30, fliplr=0.5, brightness=0.3, noise=0.03)``; ``{}`` turns them off.
    random_state : int, default=0
        Seed of the train/val split, ultralytics' training and the noise.
    task : str, default="boxes"
        The box task to read from a store.
    source : str or sequence of str, default="human"
        Which rows of a store to train on.
    val_fraction : float, default=0.2
        Fraction of images held out for validation (with fewer than 5 images, or when the
        table has a ``split`` column, it is not used: with no ``val`` image the training
        images validate too).
    batch : int, default=16
        Batch size.
    device : str or None, default=None
        ``"cpu"``, ``"0"`` (first GPU), ...; default the first GPU when CUDA is available,
        else the CPU.
    name : str or None, default=None
        Model name for the store (default: the YAML's stem, e.g. ``"yolov8n"``).
    progress : bool, default=True
        Show a progress bar with one step per epoch.
    val : bool, default=True
        Validate after every epoch and keep the best epoch's weights (ultralytics' ``val``).
        False validates the last epoch only and keeps it: faster, and the validation images
        never choose the weights (``history`` then has metrics in its last row only).
    init_weights : mapping or None, default=None
        Tensors to start from instead of a random initialisation: the state dict of a model of
        the same layout and classes (e.g. ``yolo.model.state_dict()`` of a trained detector,
        as a noisy student starts from its teacher).

    Returns
    -------
    TrainedDetector
    """
    from tqdm.auto import tqdm

    from .._offline import prepare_ultralytics
    from ..formats import to_yolo

    classes = check_names(classes, "classes")
    ultra_args, noise = augment_args(augment)
    if epochs is None:
        epochs = 2 if test_mode() else 50
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an integer >= 1. Got {epochs!r} instead.")
    yaml_path = ultralytics_yaml(model, task="detect")
    if isinstance(store_or_df, pd.DataFrame):
        df = store_or_df
    else:
        df = training_boxes(store_or_df, task=task, source=source)
    out = Path(out_dir).resolve()
    n_images = df["item_id"].nunique()
    fraction = val_fraction if n_images >= 5 and "split" not in df.columns else 0.0
    data_yaml = to_yolo(df, out / "data", classes, val_fraction=fraction, random_state=random_state)
    if imgsz is None:
        sizes = df if {"width", "height"} <= set(df.columns) else None
        imgsz = _imgsz(sizes) if sizes is not None and sizes["width"].notna().all() else 640

    prepare_ultralytics()
    import torch
    from ultralytics import YOLO

    if device is None:
        device = "0" if torch.cuda.is_available() else "cpu"
    yolo = YOLO(str(yaml_path))
    bar = tqdm(
        total=epochs, desc=f"Training {Path(model).stem}", unit="epoch", disable=not progress
    )

    def on_epoch(trainer) -> None:
        metrics = dict(trainer.metrics or {})
        if isinstance(trainer.tloss, Mapping):  # running mean of the epoch's losses
            metrics.update({f"train/{k}": float(v) for k, v in trainer.tloss.items()})
        bar.set_postfix(
            box_loss=f"{metrics.get('train/box_loss', float('nan')):.3f}",
            precision=f"{metrics.get('metrics/precision(B)', 0.0):.2f}",
            recall=f"{metrics.get('metrics/recall(B)', 0.0):.2f}",
        )
        if bar.n < epochs:  # ultralytics calls this once more after its final validation
            bar.update(1)

    yolo.add_callback("on_fit_epoch_end", on_epoch)
    try:
        yolo.train(
            trainer=_noisy_trainer(noise, random_state, init_weights),
            data=str(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch, device=device,
            workers=0, seed=random_state, deterministic=True, project=str(out), name="run",
            exist_ok=True, verbose=False, plots=False, amp=device != "cpu", val=bool(val),
            **ultra_args,
        )  # fmt: skip
    finally:
        bar.close()
    save_dir = Path(yolo.trainer.save_dir)
    weights = save_dir / "weights" / "best.pt"
    name = name or Path(model).stem
    state = save_detector(yolo, out / "detector.safetensors", imgsz=imgsz, name=name)
    return TrainedDetector(
        weights=weights, state_dict=state, history=read_history(save_dir / "results.csv"),
        classes=classes, name=name, data_yaml=data_yaml,
    )  # fmt: skip


def save_detector(model, path, *, imgsz: int | None = None, name: str | None = None) -> Path:
    """Write a YOLO detector as ``.safetensors``: its tensors and a checked JSON config.

    Parameters
    ----------
    model : ultralytics.YOLO
        A detector built from a model YAML that ultralytics ships (as :func:`train_detector`
        and :func:`load_detector` make them).
    path : str or path-like
        The file to write; must end with ``.safetensors``.
    imgsz : int or None, default=None
        The image size to predict at (default: the model's own, else 640).
    name : str or None, default=None
        The model name written into the store with its predictions (default: the YAML's stem).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    net = getattr(model, "model", None)
    yaml = getattr(net, "yaml", None)
    if not isinstance(yaml, Mapping) or not hasattr(net, "state_dict"):
        raise InputError(
            f"`model` must be an ultralytics YOLO detector. Got {type(model).__name__} instead."
        )
    layout = Path(str(yaml.get("yaml_file", ""))).name
    ultralytics_yaml(layout, task="detect")
    names = net.names
    classes = [names[i] for i in range(len(names))] if isinstance(names, Mapping) else list(names)
    if imgsz is None:
        imgsz = getattr(model, "overrides", {}).get("imgsz") or 640
    config = {
        "format": "labelwidgets.detector", "version": 1, "model": layout,
        "classes": [str(c) for c in classes], "imgsz": int(imgsz),
        "name": name or Path(layout).stem,
    }  # fmt: skip
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    return save_weights(path, tensors, config)


def load_detector(path: str | os.PathLike, *, trust: bool = False):
    """An ultralytics YOLO detector from ``detector.safetensors``, without running any code.

    The file's JSON config is checked key by key (the name of a detection YAML that ultralytics
    ships, class names, image size, model name; nothing else), the network is built from
    ultralytics' own YAML and the tensors are loaded into it, shapes checked.

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` file written by :func:`train_detector` or :func:`save_detector`.
    trust : bool, default=False
        Also load any other file with ``ultralytics.YOLO(path)``, such as ultralytics' own
        ``best.pt``. Those files are pickles: loading one runs whatever code its author put in
        it, with your permissions (delete files, read keys, send data away), and ultralytics
        evaluates the ``activation`` string of the model dict inside. Pass ``trust=True`` only
        for a file you made yourself or got from someone you trust as much as the code you
        install.

    Returns
    -------
    ultralytics.YOLO
    """
    from .._offline import prepare_ultralytics

    prepare_ultralytics()
    path = Path(path)
    if path.suffix != ".safetensors":
        if not trust:
            raise InputError(
                f"`path` must be a .safetensors file written by train_detector or "
                f"save_detector. Got {str(path)!r} instead. Other model files (ultralytics' "
                "best.pt, any .pt) are pickles that can run code when loaded: pass trust=True "
                "only for a file you made or got from someone you trust."
            )
        if not path.is_file():
            raise InputError(f"`path` must be an existing file. Got {str(path)!r} instead.")
        from ultralytics import YOLO

        return YOLO(str(path))
    config, tensors = read_weights(path, "detector")
    yaml_path = ultralytics_yaml(config["model"], task="detect")
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    classes = config["classes"]
    net = DetectionModel(str(yaml_path), nc=len(classes), verbose=False)
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    if got != expected:
        wrong = sorted(set(got) ^ set(expected)) or [k for k in got if got[k] != expected[k]]
        raise InputError(
            f"`path` must hold the tensors of a {config['model']} with {len(classes)} classes. "
            f"Got {str(path)!r}, whose tensors differ (first: {wrong[:3]}) instead."
        )
    net.load_state_dict(tensors)
    net.names = dict(enumerate(classes))
    net.eval()
    yolo = YOLO(str(yaml_path), task="detect")
    net.args, net.task = yolo.model.args, "detect"
    yolo.model = net
    yolo.overrides["imgsz"] = config["imgsz"]
    yolo.model_name = config["name"]
    return yolo


# --------------------------------------------------------------------------- prediction
def predict_boxes(
    model,
    images,
    item_ids: Iterable[str] | None = None,
    conf: float = 0.25,
    batch: int = 16,
    max_det: int = 300,
) -> pd.DataFrame:
    """Detect boxes on images; one row per box, in pixels of the EXIF-corrected images.

    Parameters
    ----------
    model : ultralytics.YOLO, TrainedDetector, or path
        A model, a training result, or a weights file (see :func:`load_detector`).
    images : ImageSet
        Where the images come from.
    item_ids : iterable of str or None, default=None
        Which items (default: all of ``images``).
    conf : float, default=0.25
        Minimum confidence.
    batch : int, default=16
        Images per forward pass.
    max_det : int, default=300
        At most this many boxes per image (the most confident).

    Returns
    -------
    pandas.DataFrame
        ``item_id, label, x, y, w, h, confidence``; an image without detections is one row
        with ``label`` missing, so that :func:`write_predictions` records "nothing found".
    """
    if isinstance(model, TrainedDetector):
        model = model.model()
    elif isinstance(model, str | os.PathLike):
        model = load_detector(model)
    if not (0 <= conf <= 1):
        raise ValueError(f"`conf` must be in [0, 1]. Got {conf!r} instead.")
    ids = list(images.item_ids if item_ids is None else item_ids)
    imgsz = getattr(model, "overrides", {}).get("imgsz")
    rows = []
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        pictures = [images.load(i) for i in chunk]
        kwargs = {"conf": conf, "verbose": False, "max_det": max_det}
        if imgsz:
            kwargs["imgsz"] = imgsz
        results = model.predict(pictures, **kwargs)
        for item_id, result in zip(chunk, results, strict=True):
            found = boxes_from_result(result)
            if not found:
                rows.append({"item_id": item_id, "label": None})
            rows.extend({"item_id": item_id, **b} for b in found)
    columns = ["item_id", "label", "x", "y", "w", "h", "confidence"]
    out = pd.DataFrame(rows, columns=columns)
    for col in ("x", "y", "w", "h", "confidence"):
        out[col] = out[col].astype(float)
    return out


def prediction_submissions(
    df: pd.DataFrame,
    model_name: str,
    source: str = "model",
    task: str = "boxes",
    round: int | None = None,
) -> list[list[dict]]:
    """The store rows of predicted boxes: one submission (a list of rows) per item.

    Parameters are those of :func:`write_predictions`; an item whose only row has ``label``
    missing becomes one ``kind="box"`` row without a label ("nothing found").
    """
    check_choice(source, ("model", "pseudo"), "source")
    check_columns(df, ["item_id", "label", "x", "y", "w", "h"], "df")
    base = {"task": task, "rater": model_name, "kind": "box", "source": source,
            "model": model_name, "round": None if round is None else int(round)}  # fmt: skip
    submissions = []
    for item_id, rows in df.groupby("item_id", sort=False):
        found = rows.dropna(subset=["label"])
        boxes = [
            {**base, "item_id": str(item_id), "label": r["label"], "x": float(r["x"]),
             "y": float(r["y"]), "w": float(r["w"]), "h": float(r["h"]),
             "confidence": None if pd.isna(r.get("confidence", np.nan)) else float(r["confidence"])}
            for r in found.to_dict("records")
        ]  # fmt: skip
        submissions.append(boxes or [{**base, "item_id": str(item_id)}])
    return submissions


def write_predictions(
    store,
    df: pd.DataFrame,
    model_name: str,
    source: str = "model",
    task: str = "boxes",
    round: int | None = None,
) -> list[str]:
    """Record predicted boxes in the store: one submission per item, all in one transaction.

    Parameters
    ----------
    store : LabelStore
        Where to write (``store.append_many``: every item's boxes are committed, or none).
    df : pandas.DataFrame
        ``item_id, label, x, y, w, h`` and optional ``confidence`` (as from
        :func:`predict_boxes`); a row with ``label`` missing records "nothing found".
    model_name : str
        Written as ``rater`` and ``model``.
    source : {"model", "pseudo"}, default="model"
        ``"pseudo"`` for pseudo-labels a student trains on.
    task : str, default="boxes"
        The box task (registered with the predicted labels when the store does not know it).
    round : int or None, default=None
        The self-training round, for pseudo-labels.

    Returns
    -------
    list of str
        The submission ids, in item order.
    """
    submissions = prediction_submissions(df, model_name, source=source, task=task, round=round)
    if task not in set(store.tasks()["task"]):
        labels = sorted(df["label"].dropna().unique().tolist())
        store.register_task(task, labels, kind="box")
    return store.append_many(submissions) if submissions else []
