"""Predictions over a pool, streamed into the store: flat memory, a progress bar, crash-resume.

:func:`predict_to_store` reads the pool's images a batch at a time, predicts them (a classifier's
``predict_proba`` or a detector's boxes) and writes each batch's rows with
``LabelStore.append_many``: one transaction per batch, so a batch is in the store entirely or not
at all. It holds one batch of decoded images (and the next, decoded by a prefetch thread while
the model runs) and one batch of predictions; of the rest it keeps counts. Memory therefore stays
flat as the pool grows. A tqdm bar (notebook-aware) counts images and shows images per second.

**Resume.** Before it starts, one query finds the items that already hold a prediction of this
model for this task, source and round (:func:`predicted_items`: label or box rows whose
submission is not retracted); they are not predicted again. A run that died after 40,000 of
100,000 images restarts at the first batch it had not committed, and every item ends with exactly
one prediction of that (model, task, source, round).

**Rows.** What the rest of the package reads, row for row:

* classification, ``source="model"``: as :func:`labelwidgets.active.write_probabilities`: one
  ``kind="label"`` row per item, ``label`` the most probable class (ties: the first in name
  order), ``confidence`` its probability, ``attributes["probabilities"]`` the distribution; one
  submission per batch (write_probabilities writes one per call);
* classification, ``source="pseudo"``: as :meth:`NoisyStudent.write_pseudo_labels
  <labelwidgets.training.NoisyStudent.write_pseudo_labels>`: the model's top class (ties: the
  first in the model's class order) and its confidence, no attributes; one submission per batch.
  Every prediction is written, whatever its confidence: filter on ``confidence`` when training
  a student (a threshold here would leave low-confidence items unrecorded, and a resumed run
  would predict them again);
* detection: as :func:`labelwidgets.training.write_predictions`: one submission per item, one
  ``kind="box"`` row per box, and an item without detections recorded as "nothing found" (one
  box row with ``label`` missing).

``engine="ray"`` runs the same batches on Ray Data (:mod:`labelwidgets.training._ray`): actors
that each build the model once and write their batches to the store themselves.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._validate import InputError, check_choice, check_fraction, check_name, check_positive_int

__all__ = [
    "ENGINES",
    "StreamReport",
    "Predictor",
    "predict_to_store",
    "predicted_items",
    "label_rows",
]

#: Where the prediction step runs.
ENGINES = ("local", "ray")
#: The sources a prediction is written with.
PREDICTION_SOURCES = ("model", "pseudo")
#: Item ids per ``IN (...)`` clause when the store is asked which items of a batch are done.
_IN_CHUNK = 900


# --------------------------------------------------------------------------- report
@dataclass
class StreamReport:
    """What :func:`predict_to_store` did: counts and times only, never the predictions.

    Attributes
    ----------
    model, task, source, round, engine
        The prediction run's identity (``model`` is the name written into the store).
    kind : {"classify", "detect"}
        What the model predicts.
    n_items : int
        Items asked for.
    n_already : int
        Of those, items the store already held a prediction of this run for (resume): not
        predicted again.
    n_predicted : int
        Items predicted and written by this call.
    n_rows : int
        Annotation rows written (a detection item writes one row per box, at least one).
    n_batches : int
        Batches committed (one transaction each).
    seconds : float
        Wall time of the whole call (the resume query included).
    batch_seconds : list of float
        Wall time of each committed batch (read, predict, write), in order; with
        ``engine="ray"`` each actor's time for its batch.
    batch_sizes : list of int
        Images in each committed batch.
    """

    model: str
    task: str
    source: str
    round: int | None
    engine: str
    kind: str
    n_items: int = 0
    n_already: int = 0
    n_predicted: int = 0
    n_rows: int = 0
    n_batches: int = 0
    seconds: float = 0.0
    batch_seconds: list = field(default_factory=list, repr=False)
    batch_sizes: list = field(default_factory=list, repr=False)

    @property
    def images_per_second(self) -> float:
        """Predicted images per second of wall time (NaN when nothing was predicted)."""
        return self.n_predicted / self.seconds if self.n_predicted and self.seconds else np.nan

    def add_batch(self, n_images: int, n_rows: int, seconds: float) -> None:
        """Count one committed batch."""
        self.n_predicted += int(n_images)
        self.n_rows += int(n_rows)
        self.n_batches += 1
        self.batch_seconds.append(float(seconds))
        self.batch_sizes.append(int(n_images))


# --------------------------------------------------------------------------- pure row builders
def label_rows(item_ids, proba, classes, task: str, model: str, source: str = "model",
               round: int | None = None) -> list[dict]:  # fmt: skip
    """A classifier's predictions as store rows (one per item), as the package writes them.

    ``source="model"``: the rows of :func:`labelwidgets.active.write_probabilities` (the
    distribution is checked and ordered by :func:`labelwidgets.active.probability_matrix`:
    classes in name order, rows rescaled to sum to 1; ``label`` the most probable class, ties to
    the first in name order; ``attributes["probabilities"]`` the distribution).
    ``source="pseudo"``: the rows of ``NoisyStudent.write_pseudo_labels`` (``label`` the top
    class in ``classes`` order, ties to the first; ``confidence`` its probability; no
    attributes).

    Parameters
    ----------
    item_ids : sequence of str
        One id per row of ``proba``.
    proba : array-like, shape (n_items, n_classes)
        Class probabilities, columns in ``classes`` order.
    classes : sequence of str
        The model's classes.
    task, model : str
        The task answered; the model's name (``rater`` and ``model`` of the rows).
    source : {"model", "pseudo"}, default="model"
    round : int or None, default=None

    Returns
    -------
    list of dict

    Examples
    --------
    >>> rows = label_rows(["a"], [[0.25, 0.75]], ["dog", "cat"], "pet", "cnn", "pseudo", 1)
    >>> rows[0]["label"], rows[0]["confidence"], rows[0]["source"], rows[0]["round"]
    ('cat', 0.75, 'pseudo', 1)
    """
    from ..active import probability_matrix, probability_rows
    from .noisy_student import pseudo_label_rows

    ids = [str(i) for i in item_ids]
    proba = np.asarray(proba, dtype=float).reshape(len(ids), len(classes))
    if source == "pseudo":
        best = proba.argmax(axis=1) if len(ids) else np.zeros(0, dtype=int)
        names = [str(c) for c in classes]
        return pseudo_label_rows(ids, [names[k] for k in best], proba[np.arange(len(ids)), best],
                                 task, model, round)
    if not ids:
        return []
    long = pd.DataFrame({"item_id": np.repeat(np.asarray(ids, dtype=object), len(classes)),
                         "class": np.tile(np.asarray([str(c) for c in classes], dtype=object),
                                          len(ids)),
                         "probability": proba.ravel()})  # fmt: skip
    return probability_rows(*probability_matrix(long), task, model, round)


# --------------------------------------------------------------------------- resume
def predicted_items(store, task: str, model: str, source: str = "model", round: int | None = None,
                    item_ids=None) -> set[str]:  # fmt: skip
    """Items that hold a prediction of ``model`` for ``task``, ``source`` and ``round``.

    One query: distinct ``item_id`` of ``label`` and ``box`` rows with this ``model``, ``task``,
    ``source`` and ``round`` (``round=None`` matches rows without a round) whose submission was
    not retracted. This is what :func:`predict_to_store` skips on a resumed run.

    Parameters
    ----------
    store : LabelStore
    task, model : str
    source : {"model", "pseudo"}, default="model"
    round : int or None, default=None
    item_ids : iterable of str or None, default=None
        Only among these (an indexed lookup per batch, as the Ray workers do before they write).

    Returns
    -------
    set of str
    """
    import sqlalchemy as sa

    from ..store import annotations_table as t

    def query(part=None):
        # a retraction row carries the item ids of the submission it cancels, so a batch's
        # lookup reads the item_id index only, never the whole log
        retracted = sa.select(t.c.retracts).where(t.c.kind == "retract",
                                                  t.c.retracts.is_not(None))  # fmt: skip
        where = [t.c.task == task, t.c.model == model, t.c.source == source,
                 t.c.kind.in_(["label", "box"]),
                 t.c.round.is_(None) if round is None else t.c.round == int(round)]  # fmt: skip
        if part is not None:
            retracted = retracted.where(t.c.item_id.in_(part))
            where.append(t.c.item_id.in_(part))
        where.append(t.c.submission_id.not_in(retracted))
        return sa.select(t.c.item_id).distinct().where(*where)

    found: set[str] = set()
    with store.engine.connect() as conn:
        if item_ids is None:
            found.update(conn.execute(query()).scalars())
            return found
        ids = [str(i) for i in item_ids]
        for start in range(0, len(ids), _IN_CHUNK):
            found.update(conn.execute(query(ids[start : start + _IN_CHUNK])).scalars())
    return found


# --------------------------------------------------------------------------- images of a batch
class BatchImages:
    """The decoded images of one batch behind the ImageSet interface (``items``, ``load``).

    Built in a prefetch thread while the model predicts the batch before; holds only this
    batch's images.
    """

    def __init__(self, images, item_ids, load=None):
        load = images.load if load is None else load
        self.items = pd.DataFrame({"item_id": list(item_ids)})
        self._images = {i: load(i) for i in item_ids}

    def __len__(self) -> int:
        return len(self._images)

    def load(self, item_id):
        """The decoded image (PIL)."""
        return self._images[item_id]


# --------------------------------------------------------------------------- the model
def _weights_format(path: Path) -> str | None:
    """The ``format`` named in a labelwidgets ``.safetensors`` header (nothing else is read)."""
    from safetensors import safe_open

    from ._weights import CONFIG_KEY

    try:
        with safe_open(str(path), "pt", device="cpu") as f:
            raw = (f.metadata() or {}).get(CONFIG_KEY)
        return json.loads(raw).get("format") if raw else None
    except Exception as exc:  # safetensors raises its own types for a file it cannot read
        raise InputError(
            f"`model` must be a model, or a .safetensors file written by labelwidgets. Got "
            f"{str(path)!r}, which safetensors cannot read ({exc})."
        ) from None


def load_model(model):
    """A ready model from what the user gave: a path to a labelwidgets ``.safetensors`` file
    (a classifier or a detector; nothing in it runs), a TrainedDetector, or the model itself."""
    from .detector import TrainedDetector

    if isinstance(model, TrainedDetector):
        return model.model()
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if path.suffix != ".safetensors" or not path.is_file():
            raise InputError(
                f"`model` as a path must be an existing .safetensors file written by "
                f"Classifier.save or save_detector. Got {str(path)!r} instead (other model files "
                "are pickles that can run code; load them yourself if you trust them)."
            )
        fmt = _weights_format(path)
        if fmt == "labelwidgets.detector":
            from .detector import load_detector

            return load_detector(path)
        if fmt == "labelwidgets.classifier":
            from .classifier import Classifier

            return Classifier.load(path, verbose=False)
        raise InputError(
            f"`model` must be a .safetensors file written by Classifier.save or save_detector. "
            f"Got {str(path)!r}, whose header names format {fmt!r}."
        )
    return model


def model_kind(model) -> str:
    """``"detect"`` for an ultralytics detector, ``"classify"`` for anything with
    ``predict_proba`` and ``classes_``; else an :class:`InputError`."""
    if getattr(model, "task", None) == "detect" and callable(getattr(model, "predict", None)):
        return "detect"
    if callable(getattr(model, "predict_proba", None)):
        if getattr(model, "classes_", None) is None:
            raise InputError(
                f"`model` must be fitted (its `classes_` name the probability columns). Got an "
                f"unfitted {type(model).__name__} instead; call fit first."
            )
        return "classify"
    raise InputError(
        "`model` must be a fitted classifier with predict_proba (Classifier, NoisyStudent, "
        "YoloClassifier), an ultralytics YOLO detector, a TrainedDetector, or a .safetensors file "
        f"written by Classifier.save or save_detector. Got {type(model).__name__} instead."
    )


def default_model_name(model, kind: str) -> str:
    """The name a model's predictions are written under (their ``rater`` and ``model``).

    A NoisyStudent: its last model's name (``"small_cnn-r2"``); an estimator: its ``model``
    parameter (``"tiny_cnn"``) or class name; a detector: its ``model_name``, weights or YAML
    stem (``"yolov8n"``).
    """
    if kind == "detect":
        from ..detect import detector_name

        return detector_name(model)
    names = getattr(model, "model_names_", None)
    if names:
        return str(names[-1])
    from .noisy_student import _estimator_name

    return _estimator_name(model) if callable(getattr(model, "get_params", None)) else type(
        model
    ).__name__


def model_classes(model, kind: str) -> list[str]:
    """Class names in the model's output order."""
    if kind == "detect":
        names = model.names
        return [str(names[i]) for i in range(len(names))] if isinstance(names, dict) else [
            str(n) for n in names
        ]
    return [str(c) for c in model.classes_]


@dataclass
class Predictor:
    """One batch in, store submissions out: what the local loop and every Ray actor run.

    Holds everything but the model and the images, so that it pickles small.
    """

    kind: str
    task: str
    model_name: str
    source: str
    round: int | None
    classes: list
    conf: float = 0.25
    max_det: int = 300

    def submissions(self, model, images, item_ids) -> list[list[dict]]:
        """Predict ``item_ids`` of ``images`` and build their submissions."""
        if self.kind == "detect":
            from .detector import predict_boxes, prediction_submissions

            found = predict_boxes(model, images, item_ids, conf=self.conf, max_det=self.max_det)
            return prediction_submissions(found, self.model_name, self.source, self.task, self.round)
        proba = np.asarray(model.predict_proba(images), dtype=float)
        if proba.shape != (len(item_ids), len(self.classes)):
            raise InputError(
                f"`model.predict_proba` must return one row per image and one column per class "
                f"({len(item_ids)} x {len(self.classes)}). Got shape {proba.shape} instead."
            )
        rows = label_rows(item_ids, proba, self.classes, self.task, self.model_name, self.source,
                          self.round)  # fmt: skip
        return [rows] if rows else []


def prepare_task(store, task: str, kind: str, classes) -> None:
    """Register ``task`` when the store does not know it; check it fits the model when it does.

    A classifier's task is single-label with the model's classes as options (every class must
    be an option of a registered task); a detector's is a box task whose options are the
    model's class names.
    """
    known = store.tasks()
    row = known[known["task"] == task]
    want = "box" if kind == "detect" else "single"
    if row.empty:
        store.register_task(task, classes, kind=want)
        return
    got, options = row.iloc[-1]["kind"], list(row.iloc[-1]["options"])
    missing = [c for c in classes if c not in options] if want == "single" else []
    if got != want or missing:
        raise InputError(
            f"`task` must be a {'box' if want == 'box' else 'single-label'} task"
            + (f" whose options include {classes}" if want == "single" else "")
            + f" for this model. Got {task!r}, a {got} task"
            + (f" without {missing}" if missing else "")
            + " instead; pass another task name."
        )


# --------------------------------------------------------------------------- the entry point
def predict_to_store(
    model,
    images,
    store,
    task: str,
    *,
    item_ids=None,
    source: str = "model",
    round: int | None = None,
    model_name: str | None = None,
    batch_size: int = 256,
    conf: float = 0.25,
    max_det: int = 300,
    engine: str = "local",
    progress: bool = True,
    ray_address: str | None = None,
    workers: int | None = None,
    ray_options: dict | None = None,
) -> StreamReport:
    """Predict a pool of images into the store, batch by batch, resuming where a run stopped.

    Parameters
    ----------
    model : estimator, ultralytics YOLO, TrainedDetector, or path
        A fitted classifier with ``predict_proba(images)`` and ``classes_``
        (:class:`~labelwidgets.training.Classifier`, ``NoisyStudent``, ``YoloClassifier``), an
        ultralytics detector (a TrainedDetector, :func:`~labelwidgets.training.load_detector`'s
        YOLO), or a ``.safetensors`` file written by ``Classifier.save`` or
        :func:`~labelwidgets.training.save_detector` (nothing in it runs).
    images : ImageSet, ArrayImages or numpy.ndarray
        Where the images come from (``load(item_id)``, one at a time).
    store : LabelStore
        Where the predictions go. ``task`` is registered when the store does not know it.
    task : str
        The task predicted: a single-label task for a classifier, a box task for a detector.
    item_ids : iterable of str or None, default=None
        The pool (default: every item of ``images``), in the order to predict; repeated ids
        count once.
    source : {"model", "pseudo"}, default="model"
        ``"model"``: predictions (for review and active learning); ``"pseudo"``: pseudo-labels
        a student trains on.
    round : int or None, default=None
        The self-training round, written with every row and part of what resume matches.
    model_name : str or None, default=None
        The rows' ``rater`` and ``model``, and what resume matches; default from the model
        (:func:`default_model_name`: ``"tiny_cnn"``, ``"small_cnn-r2"``, ``"yolov8n"``).
    batch_size : int, default=256
        Images per batch: per transaction, and per prediction call (the classifier splits it
        into forward passes of its own size, a detector into passes of 16).
    conf : float, default=0.25
        Detectors: the lowest box confidence kept.
    max_det : int, default=300
        Detectors: the most boxes per image.
    engine : {"local", "ray"}, default="local"
        ``"ray"``: the batches run on Ray Data actors that write to the store themselves (see
        :mod:`labelwidgets.training._ray`); needs ``pip install "labelwidgets[cluster]"`` and,
        on a cluster of several machines, a PostgreSQL store.
    progress : bool, default=True
        A tqdm bar over images, with images per second.
    ray_address : str or None, default=None
        ``engine="ray"``: the cluster to connect to when Ray is not initialised yet (None:
        ``RAY_ADDRESS``, else a new local instance).
    workers : int or None, default=None
        ``engine="ray"``: actors (one model copy each); default one per CPU of the cluster.
    ray_options : dict or None, default=None
        ``engine="ray"``: more arguments for ``Dataset.map_batches`` per actor, such as
        ``{"num_gpus": 1}`` (default ``{"num_cpus": 1}``).

    Returns
    -------
    StreamReport
        Counts and times (``n_already`` items skipped as already predicted, ``n_predicted``,
        ``n_rows``, ``images_per_second``, ``batch_seconds``).

    Raises
    ------
    InputError
        A model that is neither a fitted classifier nor a detector, unknown item ids, a task of
        the wrong kind, bad options; ``engine="ray"`` without Ray installed, or with an SQLite
        store on a cluster whose workers cannot reach its file.

    Examples
    --------
    >>> report = predict_to_store(clf, images, store, "shape", source="pseudo",
    ...                           round=1)                        # doctest: +SKIP
    >>> report.n_predicted, round(report.images_per_second)       # doctest: +SKIP
    """
    from ..store import LabelStore
    from .data import check_images, item_ids_of

    tic = time.perf_counter()
    check_choice(engine, ENGINES, "engine")
    check_choice(source, PREDICTION_SOURCES, "source")
    check_name(task, "task")
    batch_size = check_positive_int(batch_size, "batch_size")
    max_det = check_positive_int(max_det, "max_det")
    conf = check_fraction(conf, "conf", closed_low=True)
    if round is not None:
        round = check_positive_int(round, "round", minimum=0)
    if not isinstance(store, LabelStore):
        raise InputError(f"`store` must be a LabelStore. Got {type(store).__name__} instead.")
    images = check_images(images)
    if engine == "ray":  # before any work: say at once when Ray is missing
        from ._ray import import_ray

        import_ray()
    model = load_model(model)
    kind = model_kind(model)
    name = check_name(model_name if model_name is not None else default_model_name(model, kind),
                      "model_name")  # fmt: skip
    if kind == "classify" and getattr(model, "model_names_", None) and hasattr(model, "model_"):
        inner = model.model_  # a NoisyStudent: its last model, whose classes are the loop's
        if list(getattr(inner, "classes_", [])) == list(model.classes_):
            model = inner
    classes = model_classes(model, kind)
    known = item_ids_of(images)
    ids = list(dict.fromkeys(known if item_ids is None else
                             ([item_ids] if isinstance(item_ids, str) else
                              [str(i) for i in item_ids])))  # fmt: skip
    if item_ids is not None:
        known_set = set(known)
        unknown = [i for i in ids if i not in known_set]
        if unknown:
            raise InputError(
                f"`item_ids` must be items of `images`. Got {len(unknown)} unknown, e.g. "
                f"{unknown[:3]!r}, instead."
            )
    prepare_task(store, task, kind, classes)
    predictor = Predictor(kind, task, name, source, round, classes, conf, max_det)
    report = StreamReport(model=name, task=task, source=source, round=round, engine=engine,
                          kind=kind, n_items=len(ids))  # fmt: skip
    done = predicted_items(store, task, name, source, round)
    todo = [i for i in ids if i not in done] if done else ids
    report.n_already = len(ids) - len(todo)
    del done
    from tqdm.auto import tqdm

    bar = tqdm(total=len(ids), initial=report.n_already, unit="img", desc=f"predict {name}",
               disable=not progress, smoothing=0.1)  # fmt: skip
    try:
        if engine == "ray":
            from ._ray import run_on_ray

            run_on_ray(predictor, model, images, todo, store, report, bar, batch_size=batch_size,
                       address=ray_address, workers=workers, options=ray_options)  # fmt: skip
        else:
            _run_local(predictor, model, images, todo, store, report, bar, batch_size)
    finally:
        bar.close()
    report.seconds = time.perf_counter() - tic
    return report


def _run_local(predictor, model, images, todo, store, report, bar, batch_size) -> None:
    """The local loop: decode the next batch in a thread while this one is predicted and written."""
    batches = (todo[s : s + batch_size] for s in range(0, len(todo), batch_size))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lw-prefetch") as pool:
        first = next(batches, None)
        pending = None if first is None else pool.submit(BatchImages, images, first)
        while pending is not None:
            tic = time.perf_counter()
            view = pending.result()
            following = next(batches, None)
            pending = None if following is None else pool.submit(BatchImages, images, following)
            chunk = list(view.items["item_id"])
            subs = predictor.submissions(model, view, chunk)
            store.append_many(subs)
            report.add_batch(len(chunk), sum(len(s) for s in subs), time.perf_counter() - tic)
            bar.update(len(chunk))
            del view, subs
