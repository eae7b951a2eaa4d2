"""Noisy-student self-training (Xie et al. 2020) for image classification.

The loop: train a teacher on the human labels; the teacher, un-noised, predicts the unlabelled
pool; pseudo-labels at or above ``threshold`` are kept and balanced per class; a student of equal
or larger capacity is trained on human + pseudo labels *with noise* (RandAugment-style
augmentation, dropout, stochastic depth); the student becomes the teacher; repeat.

Pseudo-labels are **hard** by default (the teacher's top class, one-hot): they are what the label
store records and what a human confirms or corrects, and on scikit-learn's digits they did as
well as soft ones (``soft=True`` trains on the teacher's full probability vectors instead).

:class:`NoisyStudent` is a scikit-learn estimator around two others, the teacher and the student
(a :class:`~labelwidgets.training.Classifier` by default): every round fits a fresh
:func:`sklearn.base.clone` of them through their public ``fit`` and ``predict_proba``. ``fit``
writes nothing anywhere; :meth:`NoisyStudent.write_pseudo_labels` records the pseudo-labels in a
label store, one transaction per round.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .._validate import InputError, check_choice, check_fraction, check_name, check_positive_int
from ._plots import plot_rounds
from .classifier import Classifier, proba_frame
from .data import check_classes, check_images, check_labels, item_ids_of
from .models import model_name

__all__ = ["NoisyStudent", "balance_pseudo_labels", "per_class_accuracy"]

HISTORY_COLUMNS = [
    "round", "model", "n_labeled", "n_pseudo", "n_train", "val_accuracy", "pseudo_accuracy",
    "seconds",
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


def pseudo_label_rows(item_ids, labels, confidences, task: str, models, round: int) -> list[dict]:
    """Store rows of pseudo-labels, one per item (what ``write_pseudo_labels`` writes).

    ``models`` is one model name for all rows or one per row (the teacher that produced each).
    """
    ids = [str(i) for i in item_ids]
    names = [models] * len(ids) if isinstance(models, str) else list(models)
    return [
        {"item_id": item_id, "task": task, "rater": model, "kind": "label", "label": str(label),
         "source": "pseudo", "model": model, "round": round, "confidence": float(conf)}
        for item_id, label, conf, model in zip(ids, labels, confidences, names, strict=True)
    ]


def pseudo_label_rounds(store, task: str, classes, kind: str, n_rounds: int, rounds) -> list[int]:
    """The rounds whose pseudo-labels to write, after checking the store and ``task``.

    ``task`` is registered (``kind``, options ``classes``) when the store does not know it;
    a known task must be of ``kind`` and offer every class.
    """
    check_name(task, "task")
    if not callable(getattr(store, "append_many", None)):
        raise InputError(f"`store` must be a LabelStore. Got {type(store).__name__} instead.")
    available = list(range(1, n_rounds + 1))
    wanted = available if rounds is None else list(rounds)
    bad = [r for r in wanted if r not in available]
    if bad:
        raise InputError(f"`rounds` must be among {available}. Got {bad!r} instead.")
    known = store.tasks()
    row = known[known["task"] == task]
    if row.empty:
        store.register_task(task, list(classes), kind=kind)
        return wanted
    have, options = row.iloc[-1]["kind"], list(row.iloc[-1]["options"])
    missing = [c for c in classes if c not in options]
    if have != kind or missing:
        what = "a single-label task whose options" if kind == "single" else f"a {kind} task whose classes"
        raise InputError(
            f"`task` must be {what} include {list(classes)}. Got {task!r}, a {have} task "
            f"without {missing} instead."
        )
    return wanted


#: Where a student's training starts (``NoisyStudent(student_init=...)``).
STUDENT_INITS = ("scratch", "teacher")


class NoisyStudent(BaseEstimator):
    """Self-training with a noised student, iterated (a scikit-learn estimator).

    Parameters
    ----------
    teacher : estimator or None, default=None
        What the first model is: any estimator with ``fit(images, labels, sample_weight=None)``,
        ``predict_proba(images)`` and ``get_params`` (scikit-learn's API), such as
        :class:`~labelwidgets.training.Classifier` or
        :class:`~labelwidgets.training.YoloClassifier`. Never fitted itself: each round fits
        a :func:`~sklearn.base.clone`. None means ``Classifier(verbose=verbose)``.
    student : estimator or None, default=None
        What every later round trains (equal or larger capacity than the teacher, e.g.
        ``Classifier(model="wide_cnn")``), cloned afresh each round; None means ``teacher``.
    rounds : int, default=3
        Student generations; ``0`` trains the teacher only.
    threshold : float, default=0.7
        Keep pseudo-labels whose confidence is at least this, in ``(0, 1]``.
    balance : bool, default=True
        Balance pseudo-labels per class (see :func:`balance_pseudo_labels`); the copies become
        the students' ``sample_weight``.
    soft : bool, default=False
        Train students on the teacher's probability vectors instead of hard pseudo-labels.
    classes : sequence of str or None, default=None
        The class list; every class needs at least one human label. Default: the labels seen.
    random_state : int, default=0
        Seed; round ``r`` sets the clone's ``random_state`` to ``random_state + r``.
    student_init : {"scratch", "teacher"}, default="scratch"
        Where a student's training starts: a seeded random start, as Xie et al. train students,
        or its teacher's weights (the estimator's ``init``; fine-tuning: steadier on small data
        and short training, where a student from scratch can lose a slice its teacher had).
    verbose : bool, default=True
        A progress bar over rounds (the estimators show their own).

    Attributes
    ----------
    classes_ : list of str
        Classes in output order (each round's model is given ``classes=classes_``).
    models_ : list
        The fitted estimator of every round (``models_[0]`` is the teacher).
    teacher_, student_, model_
        The first model, the last model (``model_`` is ``student_``).
    model_names_ : list of str
        ``"<model>-r<round>"`` per round, e.g. ``"small_cnn-r0"`` for the teacher.
    n_rounds_ : int
        Student rounds actually run (fewer than ``rounds`` when the pool is empty or no
        pseudo-label reaches the threshold).
    history_ : pandas.DataFrame
        One row per round: ``round, model, n_labeled, n_pseudo`` (kept pseudo-labels),
        ``n_train`` (training rows, counting the balancing copies), ``val_accuracy`` (the
        round's model on the unlabelled items that ``truth`` covers; NaN without ``truth``) and
        ``pseudo_accuracy`` (kept pseudo-labels that agree with ``truth``) and ``seconds`` (wall
        time of the round: choosing pseudo-labels, training, predicting the pool).
    pseudo_labels_ : pandas.DataFrame
        Every candidate pseudo-label of every round: ``round, item_id, label, confidence,
        kept, copies, model`` (``model`` is the teacher that produced it).
    curves_ : pandas.DataFrame
        Learning curves of the models that keep a ``history_``: ``round, model, epoch, loss,
        ...``.

    Examples
    --------
    >>> from labelwidgets.training import Classifier
    >>> ns = NoisyStudent(Classifier(model="tiny_cnn"), Classifier(model="small_cnn"), rounds=2)
    >>> ns.get_params()["student__model"]
    'small_cnn'
    >>> ns.fit(images, labels).history_                # doctest: +SKIP
    >>> ns.write_pseudo_labels(store, task="shape")    # doctest: +SKIP
    """

    def __init__(
        self,
        teacher=None,
        student=None,
        rounds: int = 3,
        threshold: float = 0.7,
        balance: bool = True,
        soft: bool = False,
        classes=None,
        random_state: int = 0,
        student_init: str = "scratch",
        verbose: bool = True,
    ):
        self.teacher = teacher
        self.student = student
        self.rounds = rounds
        self.threshold = threshold
        self.balance = balance
        self.soft = soft
        self.classes = classes
        self.random_state = random_state
        self.student_init = student_init
        self.verbose = verbose

    # ------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        check_positive_int(self.rounds, "rounds", minimum=0)
        check_fraction(self.threshold, "threshold")
        check_positive_int(self.random_state, "random_state", minimum=0)
        check_choice(self.student_init, STUDENT_INITS, "student_init")
        for what in ("teacher", "student"):
            est = getattr(self, what)
            if est is None:
                continue
            missing = [m for m in ("get_params", "set_params", "fit", "predict_proba")
                       if not callable(getattr(est, m, None))]  # fmt: skip
            if missing:
                raise InputError(
                    f"`{what}` must be a scikit-learn-style estimator with get_params, fit(images, "
                    f"labels) and predict_proba(images), such as Classifier(model='small_cnn'). "
                    f"Got {type(est).__name__} (without {missing}) instead."
                )

    def _round_estimator(self, r: int, previous=None):
        """A fresh clone of the teacher (round 0) or the student, seeded for round ``r``."""
        base = self.teacher if r == 0 or self.student is None else self.student
        est = Classifier(verbose=self.verbose) if base is None else clone(base)
        params = est.get_params(deep=False)
        update = {"classes": list(self.classes_)} if "classes" in params else {}
        if "random_state" in params:
            update["random_state"] = int(self.random_state) + r
        if r > 0 and self.student_init == "teacher":
            if "init" not in params:
                raise InputError(
                    f"`student_init='teacher'` needs a student with an `init` parameter, such as "
                    f"Classifier. Got {type(est).__name__} instead; use student_init='scratch'."
                )
            update["init"] = previous
        return est.set_params(**update)

    def _proba(self, model, images) -> np.ndarray:
        """``model.predict_proba(images)`` with columns in ``classes_`` order."""
        proba = np.asarray(model.predict_proba(images), dtype=float)
        own = list(getattr(model, "classes_", self.classes_))
        if own == self.classes_:
            return proba
        out = np.zeros((len(proba), len(self.classes_)))
        for j, c in enumerate(own):
            if c in self.classes_:
                out[:, self.classes_.index(c)] = proba[:, j]
        return out

    def _round_model(self, round):
        check_is_fitted(self)
        if round is None:
            return self.models_[-1]
        if isinstance(round, bool) or not isinstance(round, int | np.integer) or not (
            0 <= round < len(self.models_)
        ):
            raise InputError(
                f"`round` must be an integer in [0, {len(self.models_) - 1}] (or None for the "
                f"last). Got {round!r} instead."
            )
        return self.models_[int(round)]

    # ---------------------------------------------------------------- fit
    def fit(self, images, labels, truth=None) -> NoisyStudent:
        """Train the teacher, then ``rounds`` noised students. Writes nothing anywhere.

        Parameters
        ----------
        images : ImageSet, ArrayImages or numpy.ndarray
            Every item: the labelled ones and the unlabelled pool. Any size and PIL mode.
        labels : pandas.DataFrame
            ``item_id, label`` human labels; items of ``images`` without one form the pool.
        truth : pandas.DataFrame or None, default=None
            ``item_id, label`` known answers for (some) pool items, only to fill
            ``val_accuracy`` and ``pseudo_accuracy`` in ``history_``; never trained on.

        Returns
        -------
        NoisyStudent
            ``self``, fitted.
        """
        from tqdm.auto import tqdm

        self._check_params()
        images = check_images(images)
        labels = check_labels(labels)
        all_ids = item_ids_of(images)
        labels = labels[labels["item_id"].isin(set(all_ids))].reset_index(drop=True)
        if labels.empty:
            raise InputError(
                "`labels` must label at least one item of `images`. Got no label for any of "
                f"its {len(all_ids)} items instead; label a few per class first."
            )
        self.classes_ = classes = check_classes(self.classes, labels["label"])
        truth_map = (
            {} if truth is None else dict(check_labels(truth, "truth").itertuples(index=False))
        )
        labelled = set(labels["item_id"])
        position = {item_id: i for i, item_id in enumerate(all_ids)}
        pool_ids = [i for i in all_ids if i not in labelled]
        pool_pos = np.array([position[i] for i in pool_ids], dtype=int)
        val = np.array([i in truth_map for i in pool_ids], dtype=bool)
        val_truth = np.array([truth_map[i] for i in np.asarray(pool_ids)[val]], dtype=object)

        models, names, history, pseudo, curves = [], [], [], [], []
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
            tic = time.perf_counter()
            bar.set_postfix(model="teacher" if r == 0 else f"student r{r}")
            est = self._round_estimator(r, models[-1] if models else None)
            if r == 0:
                est.fit(images, labels)
            else:
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
                    chosen = balance_pseudo_labels(best[kept_idx], conf[kept_idx], range(len(classes)))
                    copies = np.bincount(kept_idx[chosen], minlength=len(pool_ids))
                else:
                    copies = kept.astype(int)
                frame = pd.DataFrame(
                    {"round": r, "item_id": pool_ids, "label": [classes[i] for i in best],
                     "confidence": conf, "kept": kept, "copies": copies, "model": names[-1]}
                )  # fmt: skip
                pseudo.append(frame)
                n_pseudo, n_train = int(kept.sum()), len(labels) + int(copies.sum())
                scored = frame[frame["kept"] & frame["item_id"].isin(truth_map)]
                pseudo_acc = (
                    float((scored["label"] == scored["item_id"].map(truth_map)).mean())
                    if len(scored)
                    else np.nan
                )
                train, weight = self._student_labels(labels, frame, pool_proba)
                est.fit(images, train, sample_weight=weight)
            models.append(est)
            names.append(f"{_estimator_name(est)}-r{r}")
            proba = self._proba(est, images) if pool_ids else np.zeros((0, len(classes)))
            pool_proba = proba[pool_pos] if pool_ids else proba
            val_acc = np.nan
            if val.any():
                pred = np.asarray(classes, dtype=object)[pool_proba[val].argmax(axis=1)]
                val_acc = float(np.mean(pred == val_truth))
            history.append({"round": r, "model": names[-1], "n_labeled": len(labels),
                            "n_pseudo": n_pseudo, "n_train": n_train, "val_accuracy": val_acc,
                            "pseudo_accuracy": pseudo_acc,
                            "seconds": time.perf_counter() - tic})  # fmt: skip
            curve = getattr(est, "history_", None)
            if isinstance(curve, pd.DataFrame):
                curves.append(curve.assign(round=r, model=names[-1]))
        bar.close()
        self.models_, self.model_names_ = models, names
        self.n_rounds_ = len(models) - 1
        self.teacher_ = models[0]
        self.student_ = self.model_ = models[-1]
        self.history_ = pd.DataFrame(history, columns=HISTORY_COLUMNS)
        self.pseudo_labels_ = (
            pd.concat(pseudo, ignore_index=True) if pseudo else pd.DataFrame(columns=PSEUDO_COLUMNS)
        )
        self.curves_ = (
            pd.concat(curves, ignore_index=True)[["round", "model", *curves[0].columns[:-2]]]
            if curves
            else pd.DataFrame(columns=["round", "model", "epoch", "loss"])
        )
        return self

    def _student_labels(self, labels, frame, pool_proba):
        """The student's training labels (human + pseudo) and their ``sample_weight``."""
        use = frame["copies"].to_numpy() > 0
        weight = np.concatenate([np.ones(len(labels)), frame.loc[use, "copies"].to_numpy(float)])
        if not self.soft:
            return pd.concat([labels, frame.loc[use, ["item_id", "label"]]], ignore_index=True), weight
        k = len(self.classes_)
        human = np.eye(k)[[self.classes_.index(c) for c in labels["label"]]]
        ids = np.concatenate([labels["item_id"].to_numpy(object), frame.loc[use, "item_id"].to_numpy(object)])
        proba = np.vstack([human, pool_proba[use]])
        proba = proba / proba.sum(axis=1, keepdims=True)
        long = pd.DataFrame({"item_id": np.repeat(ids, k), "class": np.tile(self.classes_, len(ids)),
                             "probability": proba.ravel()})  # fmt: skip
        return long, weight

    # ------------------------------------------------------------ the store
    def write_pseudo_labels(self, store, task: str = "label", rounds=None) -> list[str]:
        """Record the kept pseudo-labels in a label store: one submission per round.

        Each round's kept pseudo-labels are written with one ``store.append`` call (one
        transaction): ``kind="label"``, ``source="pseudo"``, rater and ``model`` the teacher
        that produced them (e.g. ``"tiny_cnn-r0"``), ``round`` and ``confidence``. A human's
        answers are never touched; retracting a round's submission undoes that round.

        Parameters
        ----------
        store : LabelStore
            Where to write. ``task`` is registered (single label, options ``classes_``) when
            the store does not know it yet.
        task : str, default="label"
            The task the pseudo-labels answer.
        rounds : sequence of int or None, default=None
            Which rounds (``1..n_rounds_``); default every round.

        Returns
        -------
        list of str
            The submission id of each round written.
        """
        check_is_fitted(self)
        wanted = pseudo_label_rounds(store, task, self.classes_, "single", self.n_rounds_, rounds)
        kept = self.pseudo_labels_[self.pseudo_labels_["kept"]]
        sids = []
        for r in wanted:
            frame = kept[kept["round"] == r]
            if frame.empty:
                continue
            rows = pseudo_label_rows(frame["item_id"], frame["label"], frame["confidence"], task,
                                     frame["model"], r)
            sids.append(store.append(rows))
        return sids

    # ------------------------------------------------------------ predict
    def predict_proba(self, images, round: int | None = None) -> np.ndarray:
        """Class probabilities (columns ``classes_``) of the last model, or of ``round``'s."""
        net = self._round_model(round)
        return self._proba(net, check_images(images))

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
        check_is_fitted(self)
        out = None
        for r, name in enumerate(self.model_names_):
            table = per_class_accuracy(self.predict(images, r), truth)
            if out is None:
                out = table[["label", "n"]].copy()
            out[name] = table["accuracy"].to_numpy()
        return out

    # ------------------------------------------------------------- review
    def weakest_pseudo_labels(self, n: int = 20, kept_only: bool = False,
                              task: str = "label") -> pd.DataFrame:  # fmt: skip
        """The last round's least confident pseudo-labels, for a human to confirm or correct.

        The result plugs into the tagger as suggestions:
        ``MultiTaskTagger(images, tasks, rater=..., store=..., suggestions=ns.weakest_pseudo_labels())``;
        what the human answers is recorded as ``source="human"``.

        Parameters
        ----------
        n : int, default=20
            How many (fewer if the pool is smaller).
        kept_only : bool, default=False
            Only pseudo-labels that passed ``threshold``; by default the rejected ones (the
            teacher's least sure guesses, where a human helps most) come first.
        task : str, default="label"
            The tagger task the suggestions answer.

        Returns
        -------
        pandas.DataFrame
            ``item_id, task, label, confidence, model``, least confident first.
        """
        check_is_fitted(self)
        check_positive_int(n, "n")
        check_name(task, "task")
        frame = self.pseudo_labels_
        if frame.empty:
            return pd.DataFrame(columns=["item_id", "task", "label", "confidence", "model"])
        frame = frame[frame["round"] == frame["round"].max()]
        if kept_only:
            frame = frame[frame["kept"]]
        frame = frame.sort_values(["confidence", "item_id"], kind="stable").head(n)
        out = frame[["item_id", "label", "confidence", "model"]].copy()
        out.insert(1, "task", task)
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
        check_is_fitted(self)
        return plot_rounds(self.curves_, self.history_, loss="loss", loss_label="training loss",
                           scores=(("val_accuracy", "o-"), ("pseudo_accuracy", "s--")),
                           count="n_pseudo", count_label="pseudo-labels (relative)",
                           ylabel="accuracy", legend="lower right", axes=axes)


def _estimator_name(est) -> str:
    """The name of a round's model: its ``model`` parameter, else its class name."""
    params = est.get_params(deep=False)
    return model_name(params["model"]) if "model" in params else type(est).__name__
