"""Train and predict one torch image classifier (the teacher and the students of the loop).

:class:`Classifier` is a scikit-learn estimator over an ImageSet and an ``item_id, label``
DataFrame. Images are loaded once, converted to RGB and resized to ``image_size`` (by default
about their own size, see :func:`default_image_size`); training runs a budget of epochs read from
the number of labels (:func:`default_epochs`) and stops early when the loss on held-out labels
stops improving (:func:`validation_split`). Training draws
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
#: ``image_size=None`` keeps the images' own size within these bounds (pixels).
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 64
#: ``epochs=None``: enough epochs to draw about this many training images, within
#: [MIN_EPOCHS, MAX_EPOCHS] (a few labels get many passes, a large pool a few).
TARGET_DRAWS, MIN_EPOCHS, MAX_EPOCHS = 10_000, 5, 100
#: ``epochs=None`` holds out ``validation_fraction`` only of classes with this many items.
MIN_CLASS_TO_VALIDATE = 10
HISTORY_COLUMNS = ["epoch", "loss", "train_accuracy", "val_loss", "val_accuracy", "lr"]


def resolve_device(device=None) -> str:
    """``device`` as given, else ``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    if device is not None:
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


#: ``n_threads=None``: images up to this side train and predict on one CPU thread.
ONE_THREAD_MAX_SIZE = 64


def thread_count(device: str, n_threads: int | None, image_size: int) -> int | None:
    """Torch CPU threads for a fit or a prediction; None leaves torch's setting alone.

    ``n_threads`` when given; else one thread in test mode or for images of at most
    :data:`ONE_THREAD_MAX_SIZE` pixels (on such small convolutions torch's worker threads
    mostly wait for each other: a 32-pixel CNN step took 0.09 s on one thread and 0.29 s on two
    on a loaded 2-core machine; the workshop's training 75 s against 209 s); on CUDA, None.
    """
    if str(device).startswith("cuda"):
        return None
    if n_threads is not None:
        return int(n_threads)
    if test_mode() or image_size <= ONE_THREAD_MAX_SIZE:
        return TEST_MODE_THREADS
    return None


@contextmanager
def cpu_threads(threads: int | None):
    """Run torch on ``threads`` CPU threads (restored after); None changes nothing."""
    import torch

    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def initial_weights(init, net, classes) -> dict:
    """The weights a fit starts from: ``init``'s, checked against the network and classes."""
    fitted = getattr(init, "model_", None)
    if fitted is None or not callable(getattr(fitted, "state_dict", None)):
        raise InputError(
            f"`init` must be a fitted Classifier (or None). Got {type(init).__name__} "
            f"{'without trained weights' if fitted is None else ''} instead."
        )
    if list(init.classes_) != list(classes):
        raise InputError(
            f"`init` must have the classes being fitted {list(classes)}. Got a Classifier of "
            f"{list(init.classes_)} instead."
        )
    state = fitted.state_dict()
    own = net.state_dict()
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        raise InputError(
            f"`init` must be the same network as `model`. Got a {type(fitted).__name__} whose "
            f"weights do not fit {type(net).__name__} instead."
        )
    return {k: v.detach().to("cpu").clone() for k, v in state.items()}


class Classifier(BaseEstimator):
    """A torch image classifier trained with noise (augmentation, dropout, stochastic depth).

    A scikit-learn estimator: ``__init__`` stores the parameters, :meth:`fit` validates, trains
    and returns ``self``; ``get_params``, ``set_params`` and :func:`sklearn.base.clone` work.

    The defaults fit a CPU and read the data: images keep about their own size (between 16 and
    64 pixels), the number of epochs follows the number of labels, and training stops when the
    loss on a held-out tenth of the labels (of classes with 10 or more) stops improving.

    Parameters
    ----------
    model : str, torch.nn.Module or callable, default="small_cnn"
        ``"tiny_cnn"``, ``"small_cnn"``, ``"wide_cnn"``, ``"resnet18"`` (untrained), a module or
        a factory ``n_classes -> nn.Module``; see :func:`~labelwidgets.training.build_model`.
    image_size : int or None, default=None
        Images are resized to ``image_size`` x ``image_size``. None: the median longest side of
        the training images, clipped to [:data:`MIN_IMAGE_SIZE`, :data:`MAX_IMAGE_SIZE`] = [16,
        64]: small images stay small (25x25 faces train at 25, 8x8 digits at 16, where the
        network's two stride-2 stages still leave a 4x4 map) and photos shrink to 64.
    epochs : int or None, default=None
        None: a budget from the data, enough epochs to draw about :data:`TARGET_DRAWS` training
        images (at least :data:`MIN_EPOCHS`, at most :data:`MAX_EPOCHS`: a few labels get many
        passes, a large set a few), stopped early when the validation loss has not improved
        for ``patience`` epochs; the weights of the best epoch are kept. An int: exactly that
        many epochs, every label trained on. Both under a one-cycle schedule; an epoch is one
        pass over the training set but at least :data:`MIN_STEPS_PER_EPOCH` batches; in test
        mode at most :data:`TEST_MODE_STEPS` steps in all.
    batch_size : int, default=32
        Images per optimiser step.
    lr : float, default=0.003
        Peak learning rate of AdamW.
    weight_decay : float, default=0.0005
        AdamW weight decay.
    noise : bool, default=True
        Augment training images (:class:`~labelwidgets.training.augment.BatchNoise`).
        Dropout and stochastic depth are part of the network and stay on in training.
    magnitude : float, default=0.5
        Augmentation strength in ``[0, 1]``. 0.5 did best on the digits benchmark (0.37 and 0.7
        did worse at 16 pixels; at 8 pixels 0.3 did worse too: small images want no gentler
        noise).
    flips : bool, default=False
        Also flip training images horizontally (right for photos, wrong for digits and text).
    validation_fraction : float, default=0.1
        With ``epochs=None``: the share of each class held out (not trained on) to measure the
        validation loss, from classes with at least :data:`MIN_CLASS_TO_VALIDATE` items only
        (with fewer, every label is worth more to training). Nothing held out: no early stop.
    patience : int, default=5
        With ``epochs=None``: stop after this many epochs without a better validation loss.
    classes : sequence of str or None, default=None
        The class list (output order); default: the sorted labels seen in ``fit``.
    random_state : int, default=0
        Seed of the validation split, weight initialisation, batch order, noise and dropout.
    device : str or None, default=None
        ``"cpu"``, ``"cuda"``, ...; default CUDA when present, else the CPU.
    n_threads : int or None, default=None
        Torch CPU threads while fitting and predicting. None: one thread for images of at most
        64 pixels and in test mode (small convolutions gain nothing from more on a few cores;
        see :func:`thread_count`), torch's own setting otherwise.
    init : Classifier or None, default=None
        None: a seeded random start. A fitted ``Classifier`` of the same network and classes:
        start from its weights (fine-tuning; what ``NoisyStudent(student_init="teacher")`` does).
    verbose : bool, default=True
        Show a tqdm progress bar over epochs (notebook-aware).

    Attributes
    ----------
    classes_ : list of str
        Class names, in output order.
    model_ : torch.nn.Module
        The trained network (on ``device_``, in ``eval()`` mode).
    image_size_ : int
        The image size used.
    n_epochs_ : int
        Epochs run.
    best_epoch_ : int
        The epoch whose weights were kept (the last one with a fixed ``epochs``).
    history_ : pandas.DataFrame
        One row per epoch: ``epoch, loss, train_accuracy, val_loss, val_accuracy, lr``
        (``val_*`` NaN without a validation split).
    device_ : str
        Where the network lives.

    Examples
    --------
    >>> Classifier(model="tiny_cnn").get_params()["epochs"] is None
    True
    >>> clf = Classifier().fit(images, labels)  # doctest: +SKIP
    >>> clf.predict(images)                     # doctest: +SKIP
    """

    def __init__(
        self,
        model="small_cnn",
        image_size: int | None = None,
        epochs: int | None = None,
        batch_size: int = 32,
        lr: float = 0.003,
        weight_decay: float = 0.0005,
        noise: bool = True,
        magnitude: float = 0.5,
        flips: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 5,
        classes=None,
        random_state: int = 0,
        device=None,
        n_threads: int | None = None,
        init=None,
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
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.classes = classes
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.init = init
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if self.image_size is not None:
            check_positive_int(self.image_size, "image_size")
        if self.epochs is not None:
            check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_fraction(self.lr, "lr", 0.0, 10.0)
        check_fraction(self.weight_decay, "weight_decay", 0.0, 1.0, closed_low=True)
        check_fraction(self.magnitude, "magnitude", 0.0, 1.0, closed_low=True)
        check_fraction(self.validation_fraction, "validation_fraction", 0.0, 0.5)
        check_positive_int(self.patience, "patience")
        if self.n_threads is not None:
            check_positive_int(self.n_threads, "n_threads")
        check_positive_int(self.random_state, "random_state", minimum=0)

    def fit(self, images, labels, sample_weight=None) -> Classifier:
        """Train on the labelled items of ``images``.

        Parameters
        ----------
        images : ImageSet, ArrayImages or numpy.ndarray
            The images; only those with a label are used.
        labels : pandas.DataFrame
            ``item_id, label`` (one class per item), or ``item_id, class, probability`` (a
            class distribution per item, in the long format that
            :func:`~labelwidgets.training.cross_val_probabilities` returns).
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
        self.image_size_ = self.image_size or default_image_size(images, ids)
        x = load_images(images, ids, self.image_size_)
        val = np.zeros(len(ids), dtype=bool)
        if self.epochs is None:
            val = validation_split(targets.argmax(axis=1), self.validation_fraction,
                                   self.random_state)  # fmt: skip
        train = np.flatnonzero(~val)
        held = (x[np.flatnonzero(val)], targets[val]) if val.any() else None
        return self._train(x[train], targets[train], classes,
                           None if weights is None else weights[train], held)  # fmt: skip

    def _train(self, x, targets, classes, weights=None, held=None) -> Classifier:
        """Train on ``uint8`` images ``(n, 3, s, s)`` and targets ``(n, k)``.

        ``held`` is the validation pair for early stopping (``epochs=None``); without it a
        fixed number of epochs runs under a one-cycle schedule.
        """
        import torch
        from tqdm.auto import tqdm

        from .augment import BatchNoise

        self.classes_ = list(classes)
        self.device_ = resolve_device(self.device)
        n, k = len(x), len(self.classes_)
        size = n if weights is None else max(1, round(float(np.sum(weights))))  # rows per pass
        batch = min(self.batch_size, size)
        steps = max(math.ceil(size / batch), MIN_STEPS_PER_EPOCH)
        early = self.epochs is None and held is not None
        epochs = self.epochs or default_epochs(steps * batch)
        if test_mode():
            epochs = max(1, min(epochs, TEST_MODE_STEPS // steps))
        targets = torch.as_tensor(np.array(targets, dtype=np.float32))
        seed = int(self.random_state)
        rows, best, best_state, waited = [], math.inf, None, 0
        threads = thread_count(self.device_, self.n_threads, x.shape[-1])
        with torch.random.fork_rng(devices=[]), cpu_threads(threads):
            torch.manual_seed(seed)
            if self.device_.startswith("cuda"):
                torch.cuda.manual_seed_all(seed)
            net = build_model(self.model, k)
            if self.init is not None:
                net.load_state_dict(initial_weights(self.init, net, self.classes_))
            net = net.to(self.device_)
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
                    yb = targets[b].to(self.device_)
                    logits = net((xb - 0.5) / 0.25)
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
                row = {"epoch": epoch, "loss": total / seen, "train_accuracy": correct / seen,
                       "val_loss": np.nan, "val_accuracy": np.nan,
                       "lr": optimiser.param_groups[0]["lr"]}  # fmt: skip
                if early:
                    net.eval()
                    proba = self._forward(net, held[0])
                    y_val = torch.as_tensor(np.asarray(held[1], dtype=np.float64))
                    val_loss = float(-(y_val * torch.log(proba.clamp_min(1e-12))).sum(1).mean())
                    row["val_loss"] = val_loss
                    row["val_accuracy"] = float((proba.argmax(1) == y_val.argmax(1)).double().mean())
                    if val_loss < best - 1e-4:
                        best, waited = val_loss, 0
                        best_state = {n_: t.detach().clone() for n_, t in net.state_dict().items()}
                        self.best_epoch_ = epoch
                    else:
                        waited += 1
                rows.append(row)
                bar.set_postfix(loss=f"{row['loss']:.3f}", val_loss=f"{row['val_loss']:.3f}")
                if early and waited >= self.patience:
                    break
            bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            self.best_epoch_ = len(rows)
        net.eval()
        self.model_ = net
        self.n_epochs_ = len(rows)
        self.history_ = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
        return self

    def _forward(self, net, x, batch_size: int = 256):
        """Softmax probabilities of ``net`` (in eval mode) on ``uint8`` images, as float64."""
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size].to(self.device_).float().div_(255)
                out.append(torch.softmax(net((xb - 0.5) / 0.25), dim=1).double().cpu())
        return torch.cat(out) if out else torch.zeros((0, len(self.classes_)), dtype=torch.float64)

    # -------------------------------------------------------------- predict
    def _predict_tensor(self, x) -> np.ndarray:
        self.model_.eval()
        with cpu_threads(thread_count(self.device_, self.n_threads, self.image_size_)):
            return self._forward(self.model_, x).numpy()

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities, one row per item of ``images`` (columns: ``classes_``)."""
        check_is_fitted(self)
        images = check_images(images)
        return self._predict_tensor(load_images(images, item_ids_of(images), self.image_size_))

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
                  "classes": list(self.classes_), "image_size": int(self.image_size_)}  # fmt: skip
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
        clf.image_size_ = config["image_size"]
        clf.device_ = resolve_device(device)
        clf.model_ = net.to(clf.device_).eval()
        return clf


def default_image_size(images, item_ids) -> int:
    """The median longest side of these images, clipped to [MIN_IMAGE_SIZE, MAX_IMAGE_SIZE].

    Read from the ``width`` and ``height`` columns of ``images.items`` when they are there,
    else from the images themselves (at most 100, evenly spread).
    """
    items = images.items() if callable(images.items) else images.items
    sides = None
    if {"width", "height"} <= set(items.columns):
        rows = items.set_index(items["item_id"].astype(str)).loc[list(item_ids)]
        sides = rows[["width", "height"]].max(axis=1).to_numpy(dtype=float)
        sides = None if np.isnan(sides).any() else sides
    if sides is None:
        step = max(1, len(item_ids) // 100)
        sides = np.array([max(images.load(i).size) for i in list(item_ids)[::step]], dtype=float)
    return int(np.clip(round(float(np.median(sides))), MIN_IMAGE_SIZE, MAX_IMAGE_SIZE))


def default_epochs(draws_per_epoch: int) -> int:
    """Epochs that draw about :data:`TARGET_DRAWS` images, within [MIN_EPOCHS, MAX_EPOCHS].

    Examples
    --------
    >>> default_epochs(500), default_epochs(1280), default_epochs(50_000)
    (20, 8, 5)
    """
    return int(np.clip(math.ceil(TARGET_DRAWS / draws_per_epoch), MIN_EPOCHS, MAX_EPOCHS))


def validation_split(labels, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of held-out items: ``fraction`` of each class (at least one), seeded.

    Only classes with at least :data:`MIN_CLASS_TO_VALIDATE` items give any: with fewer, every
    label is worth more to training than to measuring.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < MIN_CLASS_TO_VALIDATE:
            continue
        take = max(1, int(round(fraction * len(members))))
        mask[rng.choice(members, size=take, replace=False)] = True
    return mask


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
