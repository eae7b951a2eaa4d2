"""Noisy-student self-training (Xie et al. 2020) for image classification.

The loop: train a teacher on the human labels; the teacher, un-noised, predicts the unlabelled
pool; pseudo-labels at or above ``threshold`` are kept and balanced per class; a student of equal
or larger capacity is trained on human + pseudo labels *with noise* (RandAugment-style
augmentation, dropout, stochastic depth); the student becomes the teacher; repeat.

Pseudo-labels are **hard** by default (the teacher's top class, one-hot): they are what the label
store records and what a human confirms or corrects, and on scikit-learn's digits they did as
well as soft ones (``soft=True`` trains on the teacher's full probability vectors instead).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .classifier import Classifier, _check_positive_int, _classes, proba_frame
from .data import check_images, check_labels, item_ids_of, load_images
from .models import model_name

__all__ = ["NoisyStudent", "balance_pseudo_labels", "per_class_accuracy"]

HISTORY_COLUMNS = [
    "round", "model", "n_labeled", "n_pseudo", "n_train", "val_accuracy", "pseudo_accuracy",
]  # fmt: skip
PSEUDO_COLUMNS = ["round", "item_id", "label", "confidence", "kept", "copies", "model"]


def balance_pseudo_labels(labels, confidence, classes) -> np.ndarray:
    """Indices of the pseudo-labels to train on, balanced per class.

    Every class that has pseudo-labels gets the same number of training rows: the median of
    the per-class counts (rounded up). Larger classes keep their most confident pseudo-labels;
    smaller ones repeat theirs, most confident first. Ties in confidence keep the input order.

    Parameters
    ----------
    labels : array-like of str
        The pseudo-label of each kept item.
    confidence : array-like of float
        The teacher's confidence in each.
    classes : sequence of str
        The class list (classes without pseudo-labels get none).

    Returns
    -------
    numpy.ndarray
        Indices into ``labels``; an index appears once per copy.
    """
    labels = np.asarray(labels, dtype=object)
    confidence = np.asarray(confidence, dtype=float)
    groups = [np.flatnonzero(labels == c) for c in classes]
    counts = [len(g) for g in groups if len(g)]
    if not counts:
        return np.zeros(0, dtype=int)
    target = int(np.ceil(np.median(counts)))
    out = []
    for g in groups:
        if not len(g):
            continue
        ranked = g[np.argsort(-confidence[g], kind="stable")]
        out.append(np.resize(ranked, target))
    return np.sort(np.concatenate(out), kind="stable")


def per_class_accuracy(predictions: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per true class: ``label, n, correct, accuracy`` (plus an ``all`` row).

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``item_id, label`` (e.g. from ``predict``).
    truth : pandas.DataFrame
        ``item_id, label``; only items present in both are counted.
    """
    truth = check_labels(truth, "truth")
    merged = truth.merge(
        check_labels(predictions, "predictions"), on="item_id", suffixes=("", "_pred")
    )
    merged["correct"] = merged["label"] == merged["label_pred"]
    out = (
        merged.groupby("label").agg(n=("correct", "size"), correct=("correct", "sum")).reset_index()
    )
    total = pd.DataFrame(
        {"label": ["all"], "n": [len(merged)], "correct": [merged["correct"].sum()]}
    )
    out = pd.concat([out, total], ignore_index=True)
    out["accuracy"] = out["correct"] / out["n"].where(out["n"] > 0)
    return out


class NoisyStudent:
    """Self-training with a noised student, iterated (scikit-learn-style estimator).

    Parameters
    ----------
    model : str, torch.nn.Module or callable, default="small_cnn"
        The teacher: ``"small_cnn"``, ``"wide_cnn"``, ``"resnet18"`` (untrained torch networks),
        ``"yolov8n-cls"`` (ultralytics, built from its yaml), or any ``torch.nn.Module`` (or
        factory ``n_classes -> nn.Module``).
    student_model : same as ``model``, optional
        The students (equal or larger capacity, e.g. ``"wide_cnn"``); default ``model``.
    rounds : int, default=3
        Student generations; ``0`` trains the teacher only.
    threshold : float, default=0.7
        Keep pseudo-labels whose confidence is at least this, in ``(0, 1]``.
    balance : bool, default=True
        Balance pseudo-labels per class (see :func:`balance_pseudo_labels`).
    image_size : int, default=64
        Images are resized to a square of this side.
    epochs : int, default=30
        Training epochs of the teacher (and of the students unless ``student_epochs``).
    student_epochs : int, optional
        Training epochs of each student; default ``epochs``.
    batch_size : int, default=64
        Images per optimiser step.
    lr : float, default=0.003
        Peak learning rate (AdamW, one-cycle).
    magnitude : float, default=0.5
        Strength of the augmentation noise in ``[0, 1]``.
    flips : bool, default=False
        Include horizontal flips in the noise (photos yes; digits, text, arrows no).
    soft : bool, default=False
        Train students on the teacher's probability vectors instead of hard pseudo-labels.
    classes : sequence of str, optional
        The class list; every class needs at least one human label. Default: the labels seen.
    random_state : int, default=0
        Seed; round ``r`` trains with ``random_state + r``.
    store : LabelStore, optional
        Where each round's kept pseudo-labels are written (``source="pseudo"``, rater and
        ``model`` the teacher's name, ``round``, ``confidence``).
    task : str, default="label"
        The store task the pseudo-labels answer.
    device : str, optional
        Torch device; default CUDA when present, else the CPU.
    verbose : bool, default=True
        Progress bars over rounds and epochs.

    Attributes
    ----------
    classes_ : list of str
        Classes in output order.
    models_ : list
        The trained model of every round (``models_[0]`` is the teacher).
    teacher_, student_, model_
        The first model, the last model (``model_`` is ``student_``).
    model_names_ : list of str
        ``"<model>-r<round>"`` per round, e.g. ``"small_cnn-r0"`` for the teacher.
    n_rounds_ : int
        Student rounds actually run (fewer than ``rounds`` when the pool is empty or no
        pseudo-label reaches the threshold).
    history_ : pandas.DataFrame
        One row per round: ``round, model, n_labeled, n_pseudo`` (kept pseudo-labels),
        ``n_train`` (training rows after balancing), ``val_accuracy`` (the round's model on the
        unlabelled items that ``truth`` covers; NaN without ``truth``) and ``pseudo_accuracy``
        (kept pseudo-labels that agree with ``truth``).
    pseudo_labels_ : pandas.DataFrame
        Every candidate pseudo-label of every round: ``round, item_id, label, confidence,
        kept, copies, model`` (``model`` is the teacher that produced it).
    curves_ : pandas.DataFrame
        Learning curves: ``round, model, epoch, loss, train_accuracy, lr``.

    Examples
    --------
    >>> ns = NoisyStudent(rounds=2, image_size=32).fit(images, labels)  # doctest: +SKIP
    >>> ns.history_                                                      # doctest: +SKIP
    >>> ns.predict(images)                                               # doctest: +SKIP
    """

    def __init__(
        self,
        model="small_cnn",
        student_model=None,
        rounds: int = 3,
        threshold: float = 0.7,
        balance: bool = True,
        image_size: int = 64,
        epochs: int = 30,
        student_epochs: int | None = None,
        batch_size: int = 64,
        lr: float = 0.003,
        magnitude: float = 0.5,
        flips: bool = False,
        soft: bool = False,
        classes=None,
        random_state: int = 0,
        store=None,
        task: str = "label",
        device=None,
        verbose: bool = True,
    ):
        self.model = model
        self.student_model = student_model
        self.rounds = rounds
        self.threshold = threshold
        self.balance = balance
        self.image_size = image_size
        self.epochs = epochs
        self.student_epochs = student_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.magnitude = magnitude
        self.flips = flips
        self.soft = soft
        self.classes = classes
        self.random_state = random_state
        self.store = store
        self.task = task
        self.device = device
        self.verbose = verbose

    def __repr__(self) -> str:
        return (
            f"NoisyStudent(model={model_name(self.model)!r}, rounds={self.rounds}, "
            f"threshold={self.threshold}, image_size={self.image_size})"
        )

    # ------------------------------------------------------------ helpers
    def _validate(self) -> None:
        if (
            isinstance(self.rounds, bool)
            or not isinstance(self.rounds, int | np.integer)
            or self.rounds < 0
        ):
            raise ValueError(f"`rounds` must be an integer >= 0. Got {self.rounds!r} instead.")
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | float)
            or not (0 < self.threshold <= 1)
        ):
            raise ValueError(
                f"`threshold` must be a number in (0, 1]. Got {self.threshold!r} instead."
            )
        _check_positive_int(self.image_size, "image_size")
        _check_positive_int(self.epochs, "epochs")
        if self.student_epochs is not None:
            _check_positive_int(self.student_epochs, "student_epochs")
        if not isinstance(self.task, str) or not self.task:
            raise ValueError(f"`task` must be a non-empty string. Got {self.task!r} instead.")
        if self.store is not None and not callable(getattr(self.store, "submit", None)):
            raise TypeError(
                f"`store` must be a LabelStore (or None). Got {type(self.store).__name__} instead."
            )

    def _backend(self, model, epochs: int, seed: int):
        kwargs = dict(
            image_size=self.image_size, epochs=epochs, batch_size=self.batch_size, lr=self.lr,
            random_state=seed, device=self.device, verbose=self.verbose,
        )  # fmt: skip
        if isinstance(model, str) and model.startswith("yolo"):
            from ._yolo_cls import YoloClassifier

            return YoloClassifier(model=model, flips=self.flips, **kwargs)
        return Classifier(model=model, magnitude=self.magnitude, flips=self.flips, **kwargs)

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise RuntimeError(
                "This NoisyStudent is not fitted yet. Call `fit(images, labels)` first."
            )

    def _round_model(self, round):
        self._check_fitted()
        if round is None:
            return self.models_[-1]
        if not isinstance(round, int | np.integer) or not 0 <= round < len(self.models_):
            raise ValueError(
                f"`round` must be an integer in [0, {len(self.models_) - 1}] (or None for the "
                f"last). Got {round!r} instead."
            )
        return self.models_[int(round)]

    # ---------------------------------------------------------------- fit
    def fit(self, images, labels, truth=None) -> NoisyStudent:
        """Train the teacher, then ``rounds`` noised students.

        Parameters
        ----------
        images : ImageSet, ArrayImages or numpy.ndarray
            Every item: the labelled ones and the unlabelled pool. Any size and PIL mode.
        labels : pandas.DataFrame
            ``item_id, label`` human labels; items of ``images`` without one form the pool.
        truth : pandas.DataFrame, optional
            ``item_id, label`` known answers for (some) pool items, only to fill
            ``val_accuracy`` and ``pseudo_accuracy`` in ``history_``; never trained on.

        Returns
        -------
        NoisyStudent
            ``self``, fitted.
        """
        import torch
        from tqdm.auto import tqdm

        self._validate()
        images = check_images(images)
        labels = check_labels(labels)
        all_ids = item_ids_of(images)
        labels = labels[labels["item_id"].isin(set(all_ids))].reset_index(drop=True)
        if labels.empty:
            raise ValueError(
                "`labels` must label at least one item of `images`. Got no label for any of "
                f"its {len(all_ids)} items instead; label a few per class first."
            )
        classes = _classes(self.classes, labels["label"])
        truth_map = (
            {} if truth is None else dict(check_labels(truth, "truth").itertuples(index=False))
        )
        labelled = set(labels["item_id"])
        pool_ids = [i for i in all_ids if i not in labelled]
        x_lab = load_images(images, list(labels["item_id"]), self.image_size)
        x_pool = load_images(images, pool_ids, self.image_size)
        eye = np.eye(len(classes), dtype=np.float32)
        y_lab = eye[[classes.index(c) for c in labels["label"]]]
        val_ids = [i for i in pool_ids if i in truth_map]
        val_pos = [pool_ids.index(i) for i in val_ids] if val_ids else []

        self.classes_ = classes
        self.models_, self.model_names_ = [], []
        history, pseudo, curves = [], [], []
        student_model = self.model if self.student_model is None else self.student_model
        if self.store is not None:
            self._prepare_store(images, classes)

        rounds = self.rounds if pool_ids else 0
        if not pool_ids and self.rounds > 0:
            warnings.warn(
                "The unlabelled pool is empty (every item of `images` has a label), so only the "
                "teacher was trained (n_rounds_=0).",
                UserWarning,
                stacklevel=2,
            )
        bar = tqdm(range(rounds + 1), desc="noisy student", unit="round",
                   disable=not self.verbose)  # fmt: skip
        n_pseudo, n_train, pseudo_acc = 0, len(labels), np.nan
        pool_proba = np.zeros((0, len(classes)))
        for r in bar:
            if r == 0:
                net = self._backend(self.model, self.epochs, int(self.random_state))
                net._fit_tensors(x_lab, y_lab, classes, desc="teacher")
            else:
                teacher_name = self.model_names_[-1]
                conf, best = pool_proba.max(axis=1), pool_proba.argmax(axis=1)
                kept = conf >= self.threshold
                kept_idx = np.flatnonzero(kept)
                if not len(kept_idx):
                    warnings.warn(
                        f"No pseudo-label of round {r} reached `threshold`={self.threshold} "
                        f"(highest confidence {conf.max():.3f}); stopped after round {r - 1}.",
                        UserWarning,
                        stacklevel=2,
                    )
                    break
                if self.balance:
                    train_idx = balance_pseudo_labels(
                        best[kept_idx], conf[kept_idx], range(len(classes))
                    )
                    train_idx = kept_idx[train_idx]
                else:
                    train_idx = kept_idx
                copies = np.bincount(train_idx, minlength=len(pool_ids))
                frame = pd.DataFrame(
                    {"round": r, "item_id": pool_ids, "label": [classes[i] for i in best],
                     "confidence": conf, "kept": kept, "copies": copies, "model": teacher_name}
                )  # fmt: skip
                pseudo.append(frame)
                if self.store is not None:
                    self._write_pseudo(frame[frame["kept"]], teacher_name, r)
                n_pseudo, n_train = int(kept.sum()), len(labels) + len(train_idx)
                scored = frame[frame["kept"] & frame["item_id"].isin(truth_map)]
                pseudo_acc = (
                    float((scored["label"] == scored["item_id"].map(truth_map)).mean())
                    if len(scored)
                    else np.nan
                )
                targets = (
                    pool_proba[train_idx].astype(np.float32) if self.soft else eye[best[train_idx]]
                )
                x_train = torch.cat([x_lab, x_pool[torch.as_tensor(train_idx, dtype=torch.long)]])
                y_train = np.concatenate([y_lab, targets])
                epochs = self.student_epochs or self.epochs
                net = self._backend(student_model, epochs, int(self.random_state) + r)
                net._fit_tensors(x_train, y_train, classes, desc=f"student r{r}")
            name = f"{model_name(self.model if r == 0 else student_model)}-r{r}"
            self.models_.append(net)
            self.model_names_.append(name)
            pool_proba = net._predict_tensors(x_pool) if pool_ids else np.zeros((0, len(classes)))
            val_acc = np.nan
            if val_pos:
                pred = pool_proba[val_pos].argmax(axis=1)
                val_acc = float(
                    np.mean(
                        [classes[p] == truth_map[i] for p, i in zip(pred, val_ids, strict=True)]
                    )
                )
            history.append({"round": r, "model": name, "n_labeled": len(labels), "n_pseudo": n_pseudo,
                            "n_train": n_train, "val_accuracy": val_acc,
                            "pseudo_accuracy": pseudo_acc})  # fmt: skip
            curve = net.history_.copy()
            curve.insert(0, "model", name)
            curve.insert(0, "round", r)
            curves.append(curve)
        bar.close()
        self.n_rounds_ = len(self.models_) - 1
        self.teacher_ = self.models_[0]
        self.student_ = self.model_ = self.models_[-1]
        self.history_ = pd.DataFrame(history, columns=HISTORY_COLUMNS)
        self.pseudo_labels_ = (
            pd.concat(pseudo, ignore_index=True) if pseudo else pd.DataFrame(columns=PSEUDO_COLUMNS)
        )
        self.curves_ = pd.concat(curves, ignore_index=True)
        return self

    def _prepare_store(self, images, classes) -> None:
        tasks = self.store.tasks()
        if self.task not in set(tasks["task"]):
            self.store.register_task(self.task, classes, kind="single")
        items = images.items() if callable(images.items) else images.items
        if "path" in items.columns:
            self.store.add_items(items)

    def _write_pseudo(self, frame: pd.DataFrame, name: str, r: int) -> None:
        for item_id, label, conf in zip(frame["item_id"], frame["label"], frame["confidence"],
                                        strict=True):  # fmt: skip
            self.store.submit(item_id, {self.task: label}, rater=name, source="pseudo",
                              model=name, round=r, confidence=float(conf))  # fmt: skip

    # ------------------------------------------------------------ predict
    def predict_proba(self, images, round: int | None = None) -> np.ndarray:
        """Class probabilities (columns ``classes_``) of the last model, or of ``round``'s."""
        net = self._round_model(round)
        images = check_images(images)
        return net._predict_tensors(load_images(images, item_ids_of(images), self.image_size))

    def predict(self, images, round: int | None = None) -> pd.DataFrame:
        """``item_id, label, confidence`` from the last model (or ``round``'s; 0 = teacher)."""
        images = check_images(images)
        return proba_frame(item_ids_of(images), self.predict_proba(images, round), self.classes_)

    def score(self, images, truth: pd.DataFrame, round: int | None = None) -> float:
        """Accuracy on the items of ``images`` that ``truth`` (``item_id, label``) covers."""
        table = per_class_accuracy(self.predict(images, round), truth)
        return float(table.loc[table["label"] == "all", "accuracy"].iloc[0])

    def per_class_accuracy(self, images, truth: pd.DataFrame) -> pd.DataFrame:
        """Accuracy per true class for every round's model: ``label, n`` + one column per model."""
        out = None
        for r, name in enumerate(self.model_names_):
            table = per_class_accuracy(self.predict(images, r), truth)
            if out is None:
                out = table[["label", "n"]].copy()
            out[name] = table["accuracy"].to_numpy()
        return out

    # ------------------------------------------------------------- review
    def weakest_pseudo_labels(self, n: int = 20, kept_only: bool = False) -> pd.DataFrame:
        """The last round's least confident pseudo-labels, for a human to confirm or correct.

        The result plugs into the tagger as suggestions:
        ``MultiTaskTagger(images, tasks, rater, store, suggestions=ns.weakest_pseudo_labels())``;
        what the human answers is recorded as ``source="human"``.

        Parameters
        ----------
        n : int, default=20
            How many (fewer if the pool is smaller).
        kept_only : bool, default=False
            Only pseudo-labels that passed ``threshold``; by default the rejected ones (the
            teacher's least sure guesses, where a human helps most) come first.

        Returns
        -------
        pandas.DataFrame
            ``item_id, task, label, confidence, model``, least confident first.
        """
        self._check_fitted()
        _check_positive_int(n, "n")
        frame = self.pseudo_labels_
        if frame.empty:
            return pd.DataFrame(columns=["item_id", "task", "label", "confidence", "model"])
        frame = frame[frame["round"] == frame["round"].max()]
        if kept_only:
            frame = frame[frame["kept"]]
        frame = frame.sort_values(["confidence", "item_id"], kind="stable").head(n)
        out = frame[["item_id", "label", "confidence", "model"]].copy()
        out.insert(1, "task", self.task)
        return out.reset_index(drop=True)

    # -------------------------------------------------------------- plots
    def plot_history(self, axes=None):
        """Learning curves per round (left) and accuracy per round (right).

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, optional
            Where to draw; default a new figure.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        self._check_fitted()
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        else:
            fig = axes[0].figure
        left, right = axes
        for (_, name), curve in self.curves_.groupby(["round", "model"], sort=True):
            left.plot(curve["epoch"], curve["loss"], marker=".", label=name)
        left.set(xlabel="epoch", ylabel="training loss", title="learning curve per round")
        left.legend(fontsize="small")
        h = self.history_
        for column, style in (("val_accuracy", "o-"), ("pseudo_accuracy", "s--")):
            if h[column].notna().any():
                right.plot(h["round"], h[column], style, label=column)
        right.bar(h["round"], h["n_pseudo"] / max(int(h["n_pseudo"].max()), 1), alpha=0.2,
                  color="grey", label="pseudo-labels (relative)")  # fmt: skip
        right.set(xlabel="round (0 = teacher)", ylabel="accuracy", title="teacher vs students",
                  ylim=(0, 1.02), xticks=list(h["round"]))  # fmt: skip
        right.legend(fontsize="small", loc="lower right")
        fig.tight_layout()
        return fig
