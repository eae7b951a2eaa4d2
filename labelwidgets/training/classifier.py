"""Train and predict one torch image classifier (the teacher and the students of the loop).

:class:`Classifier` is a scikit-learn-style estimator over an ImageSet and an
``item_id, label`` DataFrame. Images are loaded once, converted to RGB and resized to
``image_size`` (see :func:`labelwidgets.training.data.load_images`); training draws
RandAugment-style noise per image (:class:`~labelwidgets.training.augment.BatchNoise`) and uses
the network's dropout and stochastic depth; prediction is un-noised (``eval()`` mode).

Runs on the CPU by default and on CUDA when it is present (``device=None``). Training is
seeded: the same ``random_state`` gives the same weights on the same machine and device.
With ``LABELWIDGETS_TEST_MODE=1`` in the environment (tests and notebooks in CI), every fit runs
at most :data:`TEST_MODE_STEPS` optimiser steps (whole epochs, at least one) on
:data:`TEST_MODE_THREADS` CPU thread: a budget of steps rather than of epochs, so that a small
network still learns something, and one thread because on a small shared CPU torch's worker
threads mostly wait for each other (a 32-pixel CNN step took 0.09 s on one thread and 0.29 s on
two on this project's 2-core machine).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import pandas as pd

from .._offline import test_mode
from .data import check_images, check_labels, item_ids_of, load_images
from .models import build_model, model_name

__all__ = ["Classifier", "TEST_MODE_EPOCHS", "TEST_MODE_STEPS", "test_mode", "resolve_device"]

#: Epochs of every ultralytics fit when ``LABELWIDGETS_TEST_MODE`` is set.
TEST_MODE_EPOCHS = 2
#: Optimiser steps of every torch fit when ``LABELWIDGETS_TEST_MODE`` is set (whole epochs).
TEST_MODE_STEPS = 400
#: Torch CPU threads of fits and predictions when ``LABELWIDGETS_TEST_MODE`` is set.
TEST_MODE_THREADS = 1
#: An epoch is one pass over the training set, but at least this many batches, so that a
#: handful of labels still gets enough optimiser steps.
MIN_STEPS_PER_EPOCH = 10


def resolve_device(device=None) -> str:
    """``device`` as given, else ``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    if device is not None:
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextmanager
def cpu_threads(device: str):
    """Run torch on :data:`TEST_MODE_THREADS` CPU threads in test mode (restored after)."""
    import torch

    if not test_mode() or str(device).startswith("cuda"):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(TEST_MODE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Got {value!r} instead.")
    return int(value)


class Classifier:
    """A torch image classifier trained with noise (augmentation, dropout, stochastic depth).

    Parameters
    ----------
    model : str, torch.nn.Module or callable, default="small_cnn"
        ``"small_cnn"``, ``"wide_cnn"``, ``"resnet18"`` (untrained), a module or a factory
        ``n_classes -> nn.Module``; see :func:`~labelwidgets.training.models.build_model`.
    image_size : int, default=64
        Images are resized to ``image_size`` x ``image_size``.
    epochs : int, default=30
        Passes over the training set (each at least ``MIN_STEPS_PER_EPOCH`` batches); in test
        mode no more than fit in :data:`TEST_MODE_STEPS` steps.
    batch_size : int, default=64
        Images per optimiser step.
    lr : float, default=0.003
        Peak learning rate of AdamW under a one-cycle schedule.
    weight_decay : float, default=0.0005
        AdamW weight decay.
    noise : bool, default=True
        Augment training images (:class:`~labelwidgets.training.augment.BatchNoise`).
        Dropout and stochastic depth are part of the network and stay on in training.
    magnitude : float, default=0.5
        Augmentation strength in ``[0, 1]``.
    flips : bool, default=False
        Also flip training images horizontally (right for photos, wrong for digits and text).
    classes : sequence of str, optional
        The class list (output order); default: the sorted labels seen in ``fit``.
    random_state : int, default=0
        Seed of weight initialisation, batch order, noise and dropout.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ...; default CUDA when present, else the CPU.
    verbose : bool, default=True
        Show a tqdm progress bar over epochs (notebook-aware).

    Attributes
    ----------
    classes_ : list of str
        Class names, in output order.
    model_ : torch.nn.Module
        The trained network (on ``device_``, in ``eval()`` mode).
    history_ : pandas.DataFrame
        One row per epoch: ``epoch, loss, train_accuracy, lr``.
    device_ : str
        Where the network lives.

    Examples
    --------
    >>> clf = Classifier(image_size=32, epochs=5).fit(images, labels)  # doctest: +SKIP
    >>> clf.predict(images)                                            # doctest: +SKIP
    """

    def __init__(
        self,
        model="small_cnn",
        image_size: int = 64,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 0.003,
        weight_decay: float = 0.0005,
        noise: bool = True,
        magnitude: float = 0.5,
        flips: bool = False,
        classes=None,
        random_state: int = 0,
        device=None,
        verbose: bool = True,
    ):
        self.model = model
        self.image_size = image_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.noise = noise
        self.magnitude = magnitude
        self.flips = flips
        self.classes = classes
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def __repr__(self) -> str:
        return (
            f"Classifier(model={model_name(self.model)!r}, image_size={self.image_size}, "
            f"epochs={self.epochs}, random_state={self.random_state})"
        )

    # ------------------------------------------------------------------ fit
    def _validate(self) -> None:
        _check_positive_int(self.image_size, "image_size")
        _check_positive_int(self.epochs, "epochs")
        _check_positive_int(self.batch_size, "batch_size")
        if not (isinstance(self.lr, int | float) and self.lr > 0):
            raise ValueError(f"`lr` must be a number > 0. Got {self.lr!r} instead.")
        if not 0 <= self.magnitude <= 1:
            raise ValueError(f"`magnitude` must be in [0, 1]. Got {self.magnitude!r} instead.")

    def fit(self, images, labels) -> Classifier:
        """Train on the labelled items of ``images``.

        Parameters
        ----------
        images : ImageSet, ArrayImages or numpy.ndarray
            The images; only those with a label are used.
        labels : pandas.DataFrame
            Columns ``item_id, label``.

        Returns
        -------
        Classifier
            ``self``, trained.
        """
        self._validate()
        images = check_images(images)
        labels = check_labels(labels)
        known = set(item_ids_of(images))
        labels = labels[labels["item_id"].isin(known)]
        if labels.empty:
            raise ValueError(
                "`labels` must label at least one item of `images`. Got no label for any of "
                f"its {len(known)} items instead."
            )
        classes = _classes(self.classes, labels["label"])
        x = load_images(images, list(labels["item_id"]), self.image_size)
        targets = np.eye(len(classes), dtype=np.float32)[
            [classes.index(c) for c in labels["label"]]
        ]
        return self._fit_tensors(x, targets, classes)

    def _fit_tensors(self, x, targets, classes, desc: str = "train") -> Classifier:
        """Train on a ``uint8`` tensor ``(n, 3, s, s)`` and target distributions ``(n, k)``."""
        import torch
        from tqdm.auto import tqdm

        from .augment import BatchNoise

        self._validate()
        self.classes_ = list(classes)
        self.device_ = resolve_device(self.device)
        n, k = len(x), len(self.classes_)
        batch = min(self.batch_size, n)
        steps = max(math.ceil(n / batch), MIN_STEPS_PER_EPOCH)
        epochs = self.epochs
        if test_mode():
            epochs = max(1, min(epochs, TEST_MODE_STEPS // steps))
        targets = torch.as_tensor(np.asarray(targets, dtype=np.float32))
        seed = int(self.random_state)
        rows = []
        with torch.random.fork_rng(devices=[]), cpu_threads(self.device_):
            torch.manual_seed(seed)
            if self.device_.startswith("cuda"):
                torch.cuda.manual_seed_all(seed)
            net = build_model(self.model, k).to(self.device_)
            noise = (
                BatchNoise(magnitude=self.magnitude, flips=self.flips, seed=seed)
                if self.noise
                else None
            )
            order = torch.Generator().manual_seed(seed)
            optimiser = torch.optim.AdamW(
                net.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimiser, max_lr=self.lr, total_steps=epochs * steps, pct_start=0.15
            )
            bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not self.verbose,
                       leave=False)  # fmt: skip
            for epoch in bar:
                net.train()
                need = steps * batch
                idx = torch.cat(
                    [torch.randperm(n, generator=order) for _ in range(math.ceil(need / n))]
                )
                total, correct, seen = 0.0, 0, 0
                for step in range(steps):
                    b = idx[step * batch : (step + 1) * batch]
                    xb = x[b].to(self.device_).float().div_(255)
                    if noise is not None:
                        xb = noise(xb)
                    xb = (xb - 0.5) / 0.25
                    yb = targets[b].to(self.device_)
                    logits = net(xb)
                    if step == 0 and epoch == 1 and logits.shape[-1] != k:
                        raise ValueError(
                            f"`model` must output one logit per class ({k}). Got "
                            f"{logits.shape[-1]} outputs instead."
                        )
                    loss = -(yb * torch.log_softmax(logits, dim=1)).sum(1).mean()
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    schedule.step()
                    total += float(loss.detach()) * len(b)
                    correct += int((logits.argmax(1) == yb.argmax(1)).sum())
                    seen += len(b)
                rows.append({"epoch": epoch, "loss": total / seen, "train_accuracy": correct / seen,
                             "lr": schedule.get_last_lr()[0]})  # fmt: skip
                bar.set_postfix(loss=f"{total / seen:.3f}")
            bar.close()
        net.eval()
        self.model_ = net
        self.history_ = pd.DataFrame(rows, columns=["epoch", "loss", "train_accuracy", "lr"])
        return self

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(
                "This Classifier is not fitted yet. Call `fit(images, labels)` first."
            )

    def _predict_tensors(self, x, batch_size: int = 256) -> np.ndarray:
        import torch

        self._check_fitted()
        self.model_.eval()
        out = []
        with torch.no_grad(), cpu_threads(self.device_):
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size].to(self.device_).float().div_(255)
                out.append(torch.softmax(self.model_((xb - 0.5) / 0.25), dim=1).double().cpu())
        if not out:
            return np.zeros((0, len(self.classes_)))
        return torch.cat(out).numpy()

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities, one row per item of ``images`` (columns: ``classes_``)."""
        self._check_fitted()
        images = check_images(images)
        return self._predict_tensors(load_images(images, item_ids_of(images), self.image_size))

    def predict(self, images) -> pd.DataFrame:
        """The most likely class per item: ``item_id, label, confidence``."""
        proba = self.predict_proba(check_images(images))
        return proba_frame(item_ids_of(check_images(images)), proba, self.classes_)


def proba_frame(item_ids, proba: np.ndarray, classes) -> pd.DataFrame:
    """``item_id, label, confidence`` from a probability matrix (ties: the first class)."""
    best = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
    return pd.DataFrame(
        {
            "item_id": list(item_ids),
            "label": [classes[i] for i in best],
            "confidence": proba[np.arange(len(best)), best] if len(best) else np.zeros(0),
        }
    )


def _classes(classes, seen: pd.Series) -> list[str]:
    if classes is None:
        return sorted(set(seen))
    classes = [str(c) for c in classes]
    unknown = sorted(set(seen) - set(classes))
    if unknown:
        raise ValueError(
            f"`labels` must only use the classes in `classes` ({classes}). Got {unknown!r} "
            "instead; add them to `classes`."
        )
    missing = [c for c in classes if c not in set(seen)]
    if missing:
        raise ValueError(
            f"Every class in `classes` must have at least one labelled item. Got none for "
            f"{missing!r}; label a few examples of it or drop it from `classes`."
        )
    return classes
