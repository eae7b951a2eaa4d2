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
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._offline import test_mode
from .._validate import InputError, check_fraction, check_positive_int
from .data import check_images, item_ids_of, load_images, training_targets
from .models import build_model

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


class Classifier(BaseEstimator):
    """A torch image classifier trained with noise (augmentation, dropout, stochastic depth).

    A scikit-learn estimator: ``__init__`` stores the parameters, :meth:`fit` validates, trains
    and returns ``self``; ``get_params``, ``set_params`` and :func:`sklearn.base.clone` work.

    Parameters
    ----------
    model : str, torch.nn.Module or callable, default="small_cnn"
        ``"tiny_cnn"``, ``"small_cnn"``, ``"wide_cnn"``, ``"resnet18"`` (untrained), a module or
        a factory ``n_classes -> nn.Module``; see :func:`~labelwidgets.training.build_model`.
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
    classes : sequence of str or None, default=None
        The class list (output order); default: the sorted labels seen in ``fit``.
    random_state : int, default=0
        Seed of weight initialisation, batch order, noise and dropout.
    device : str or None, default=None
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

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        check_positive_int(self.image_size, "image_size")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_fraction(self.lr, "lr", 0.0, 10.0)
        check_fraction(self.weight_decay, "weight_decay", 0.0, 1.0, closed_low=True)
        check_fraction(self.magnitude, "magnitude", 0.0, 1.0, closed_low=True)

    def fit(self, images, labels, sample_weight=None) -> Classifier:
        """Train on the labelled items of ``images``.

        Parameters
        ----------
        images : ImageSet, ArrayImages or numpy.ndarray
            The images; only those with a label are used.
        labels : pandas.DataFrame
            ``item_id, label`` (one class per item), or ``item_id, class, probability`` (a
            class distribution per item, in the long format :meth:`predict_proba_frame` and
            :func:`~labelwidgets.training.cross_val_probabilities` return).
        sample_weight : array-like or None, default=None
            One weight >= 0 per item, in the order the items first appear in ``labels``: an
            item of weight 2 is drawn twice as often as one of weight 1; 0 leaves it out.

        Returns
        -------
        Classifier
            ``self``, trained.
        """
        self._check_params()
        images = check_images(images)
        ids, targets, classes, weights = training_targets(
            labels, item_ids_of(images), self.classes, sample_weight
        )
        x = load_images(images, ids, self.image_size)
        return self._train(x, targets, classes, weights)

    def _train(self, x, targets, classes, weights=None) -> Classifier:
        """Train on a ``uint8`` tensor ``(n, 3, s, s)``, targets ``(n, k)`` and item weights."""
        import torch
        from tqdm.auto import tqdm

        from .augment import BatchNoise

        self.classes_ = list(classes)
        self.device_ = resolve_device(self.device)
        n, k = len(x), len(self.classes_)
        size = n if weights is None else max(1, round(float(np.sum(weights))))  # rows per pass
        batch = min(self.batch_size, size)
        steps = max(math.ceil(size / batch), MIN_STEPS_PER_EPOCH)
        epochs = self.epochs
        if test_mode():
            epochs = max(1, min(epochs, TEST_MODE_STEPS // steps))
        targets = torch.as_tensor(np.array(targets, dtype=np.float32))
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
            draw = _epoch_order(n, weights, order)
            optimiser = torch.optim.AdamW(
                net.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimiser, max_lr=self.lr, total_steps=epochs * steps, pct_start=0.15
            )
            bar = tqdm(range(1, epochs + 1), desc="train", unit="epoch", disable=not self.verbose,
                       leave=False)  # fmt: skip
            for epoch in bar:
                net.train()
                idx = draw(steps * batch)
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
                        raise InputError(
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
    def _predict_tensor(self, x, batch_size: int = 256) -> np.ndarray:
        import torch

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
        check_is_fitted(self)
        images = check_images(images)
        return self._predict_tensor(load_images(images, item_ids_of(images), self.image_size))

    def predict(self, images) -> pd.DataFrame:
        """The most likely class per item: ``item_id, label, confidence``."""
        check_is_fitted(self)
        images = check_images(images)
        return proba_frame(item_ids_of(images), self.predict_proba(images), self.classes_)

    # ---------------------------------------------------------- save / load
    def save(self, path) -> Path:
        """Write the trained network as ``.safetensors``: tensors and a checked JSON config.

        Only the named networks (``"tiny_cnn"``, ``"small_cnn"``, ``"wide_cnn"``,
        ``"resnet18"``) can be saved: the config names the layout, and :meth:`load` rebuilds
        it; nothing in the file can run code.

        Parameters
        ----------
        path : str or path-like
            The file to write; must end with ``.safetensors``.

        Returns
        -------
        pathlib.Path
        """
        from ._weights import save_weights
        from .models import MODELS

        check_is_fitted(self)
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise InputError(
                f"`model` must be one of {list(MODELS)} to be saved (a module of your own is "
                f"saved with torch's state_dict and rebuilt by your code). Got {self.model!r} "
                "instead."
            )
        config = {"format": "labelwidgets.classifier", "version": 1, "model": self.model,
                  "classes": list(self.classes_), "image_size": int(self.image_size)}  # fmt: skip
        return save_weights(path, self.model_.state_dict(), config)

    @classmethod
    def load(cls, path, device=None, verbose: bool = True) -> Classifier:
        """A fitted Classifier from a file written by :meth:`save` (nothing in it runs).

        Parameters
        ----------
        path : str or path-like
            A ``.safetensors`` file written by :meth:`save`.
        device : str or None, default=None
            Where to put the network; default CUDA when present, else the CPU.
        verbose : bool, default=True
            Stored as the returned estimator's ``verbose``.

        Returns
        -------
        Classifier
            With ``model``, ``image_size`` and ``classes`` from the file's config.
        """
        from ._weights import read_weights

        config, tensors = read_weights(path, "classifier")
        clf = cls(model=config["model"], image_size=config["image_size"],
                  classes=config["classes"], device=device, verbose=verbose)  # fmt: skip
        net = build_model(clf.model, len(config["classes"]))
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        if expected != {k: tuple(v.shape) for k, v in tensors.items()}:
            raise InputError(
                f"`path` must hold the tensors of a {config['model']} with "
                f"{len(config['classes'])} classes. Got {str(path)!r}, whose tensors differ."
            )
        net.load_state_dict(tensors)
        clf.classes_ = list(config["classes"])
        clf.device_ = resolve_device(device)
        clf.model_ = net.to(clf.device_).eval()
        return clf


def _epoch_order(n: int, weights, generator):
    """A function ``size -> indices`` drawing the training rows of one epoch.

    Every pass visits each item once, in a new random order; an integer weight is a number of
    copies (weight 2: twice per pass). Other weights draw items with replacement in proportion
    to them.
    """
    import torch

    if weights is None:
        base = torch.arange(n)
    elif np.all(weights == np.round(weights)):
        base = torch.repeat_interleave(torch.arange(n), torch.as_tensor(weights.astype(np.int64)))
    else:
        w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
        return lambda size: torch.multinomial(w, size, replacement=True, generator=generator)

    def passes(size: int):
        rounds = math.ceil(size / len(base))
        return torch.cat([base[torch.randperm(len(base), generator=generator)] for _ in range(rounds)])

    return passes


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
