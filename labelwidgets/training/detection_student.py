"""Noisy-student self-training for object detection, on ultralytics YOLO built from YAML.

The loop (Xie et al. 2020, as :class:`~labelwidgets.training.NoisyStudent` runs it for
classes): a **teacher** YOLO trains on the human boxes; the teacher, un-noised, predicts boxes
on the unlabelled images; boxes at or above ``threshold`` become **pseudo-labels**; a
**student** trains on human + pseudo boxes **with strong noise** (mosaic, HSV, flips, rotation,
scale, and the package's Gaussian pixel noise); the student becomes the next teacher.

Decisions a detection loop has to make, and the ones taken here:

- **Images where no box reaches the threshold** are *dropped* from the student's training by
  default (``empty_images="drop"``): a teacher that misses objects would otherwise teach the
  student that they are background. ``empty_images="background"`` trains on them as
  background images (right when the pool has many truly empty images and the teacher finds
  objects well). A pseudo-labelled image's objects that the teacher missed are background for
  the student either way (YOLO has no "ignore" regions).
- **Held-out split**: ``history_`` scores every round with ultralytics' validation on images
  nobody trains on: ``holdout`` boxes you give, or else ``holdout_fraction`` of the labelled
  images, drawn so that every class keeps most of its labelled images (a class with few
  labelled images keeps all of them). Training validates on the last epoch only
  (``train_detector(..., val=False)``): the held-out images never choose the weights.
- **A student starts from its teacher's weights** by default (``student_init="teacher"``) and
  trains a few epochs on human + pseudo boxes. Xie et al. train every student from scratch,
  which needs about the teacher's epochs again on many more images: hours on a CPU for a YOLO
  without pretrained weights. ``student_init="scratch"`` does that (and allows a larger
  ``student_model``).
- **Classes**: every class needs at least one human box in a training image; a class seen
  in only a handful of images works (the few-shot case: a new class, boxed a few times, that
  the pseudo-labels fill in on the rest of the pool).
- **Files**: each round is a YOLO dataset and an ultralytics run under ``work_dir`` (a folder
  you give, which must be new, empty, or an earlier run's) or under a temporary folder that
  ``fit`` removes when done. The fitted models stay in memory; :meth:`save` writes one as
  safetensors (nothing pickled), :func:`~labelwidgets.training.load_detector` reads it back.

``fit`` writes nothing to a label store; :meth:`DetectionNoisyStudent.write_pseudo_labels` is
the explicit step that records the pseudo-labels (``source="pseudo"``) in one transaction.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._offline import test_mode
from .._validate import (
    InputError,
    check_choice,
    check_columns,
    check_fraction,
    check_positive_int,
)
from ..slices._detection import _match_boxes
from ._plots import plot_rounds
from ._weights import ultralytics_yaml
from .detector import (
    AUGMENT_DEFAULTS,
    augment_args,
    predict_boxes,
    prediction_submissions,
    save_detector,
    train_detector,
    training_boxes,
)
from .noisy_student import pseudo_label_rounds

__all__ = ["DetectionNoisyStudent", "STUDENT_AUGMENT", "holdout_split", "pseudo_label_quality"]

#: The students' noise when ``student_augment`` is None: ultralytics' mosaic, HSV jitter,
#: flips, rotation, scale and translation, plus Gaussian pixel noise.
STUDENT_AUGMENT = {
    "mosaic": 1.0, "hsv_h": 0.015, "hsv_s": 0.7, "brightness": 0.4, "fliplr": 0.5,
    "flipud": 0.5, "degrees": 15.0, "scale": 0.5, "translate": 0.1, "noise": 0.05,
}  # fmt: skip
HISTORY_COLUMNS = [
    "round", "model", "epochs", "n_labeled_images", "n_labeled_boxes", "n_pseudo_images",
    "n_pseudo_boxes", "n_train_images", "precision", "recall", "map50", "map50_95",
    "pseudo_precision", "pseudo_recall", "seconds",
]  # fmt: skip
PSEUDO_COLUMNS = [
    "round", "item_id", "label", "x", "y", "w", "h", "confidence", "model", "trained",
]  # fmt: skip
_BOX_COLUMNS = ["item_id", "label", "x", "y", "w", "h"]
_MARKER = ".labelwidgets-detection-student"


# --------------------------------------------------------------------------- pure helpers
def holdout_split(boxes: pd.DataFrame, fraction: float, random_state: int = 0) -> list[str]:
    """The labelled images to hold out for scoring, keeping every class in training.

    Images are visited in a seeded random order (of the sorted item ids) and held out while
    fewer than ``round(fraction * n_images)`` are, provided that no class then has more than
    ``floor(fraction * n)`` of its ``n`` images held out. A class boxed in fewer than
    ``1 / fraction`` images is therefore never held out, and every class keeps at least one
    training image.

    Parameters
    ----------
    boxes : pandas.DataFrame
        ``item_id, label`` (a row with ``label`` missing is a background image).
    fraction : float
        In ``[0, 1)``.
    random_state : int, default=0
        Seed of the order.

    Returns
    -------
    list of str
        The held-out item ids, sorted.

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": list("abcdefghijkl"), "label": ["cat"] * 10 + ["dog"] * 2})
    >>> held = holdout_split(df, 0.2)
    >>> len(held), df.set_index("item_id").loc[held, "label"].tolist()
    (2, ['cat', 'cat'])
    """
    fraction = check_fraction(fraction, "holdout_fraction", closed_low=True, closed_high=False)
    ids = sorted(boxes["item_id"].astype(str).unique())
    target = round(fraction * len(ids))
    if not target:
        return []
    found = boxes.dropna(subset=["label"])
    per_item = found.groupby("item_id")["label"].agg(lambda s: sorted(set(s))).to_dict()
    cap = {c: int(np.floor(fraction * n)) for c, n in found.groupby("label")["item_id"].nunique().items()}
    used = dict.fromkeys(cap, 0)
    held = []
    for k in np.random.default_rng(random_state).permutation(len(ids)):
        item = ids[k]
        labels = per_item.get(item, [])
        if all(used[c] < cap[c] for c in labels):
            held.append(item)
            for c in labels:
                used[c] += 1
            if len(held) == target:
                break
    return sorted(held)


def pseudo_label_quality(pseudo: pd.DataFrame, truth: pd.DataFrame, iou: float = 0.5):
    """Precision and recall of pseudo-label boxes against known boxes, on the items truth covers.

    A pseudo box is right when it matches a true box of the same class at IoU >= ``iou``
    (greedy, most confident first, as in the PASCAL VOC and COCO evaluations).

    Parameters
    ----------
    pseudo : pandas.DataFrame
        ``item_id, label, x, y, w, h, confidence`` (rows with ``label`` missing are ignored).
    truth : pandas.DataFrame
        ``item_id, label, x, y, w, h``; only items present here are scored.
    iou : float, default=0.5
        The overlap a match needs.

    Returns
    -------
    (float, float)
        Precision (NaN without pseudo boxes on covered items) and recall (NaN without true
        boxes on the items that have pseudo-labels).
    """
    covered = set(truth["item_id"].astype(str))
    pred = pseudo.dropna(subset=["label"])
    pred = pred[pred["item_id"].astype(str).isin(covered)].reset_index(drop=True)
    scored_items = set(pseudo["item_id"].astype(str)) & covered
    true = truth.dropna(subset=["label"])
    true = true[true["item_id"].astype(str).isin(scored_items)].reset_index(drop=True)
    matched = _match_boxes(true, pred, iou, class_aware=True) if len(pred) else np.zeros(0, bool)
    precision = float(matched.mean()) if len(pred) else float("nan")
    recall = float(matched.sum() / len(true)) if len(true) else float("nan")
    return precision, recall


def _check_box_table(df, what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(
            f"`{what}` must be a pandas DataFrame with columns {_BOX_COLUMNS} (or a LabelStore "
            f"for `boxes`). Got {type(df).__name__} instead."
        )
    check_columns(df, _BOX_COLUMNS, what)
    out = df[_BOX_COLUMNS].copy()
    out["item_id"] = out["item_id"].astype(str)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- the estimator
class DetectionNoisyStudent(BaseEstimator):
    """Noisy-student self-training for YOLO detectors (a scikit-learn estimator).

    Parameters
    ----------
    model : str, default="yolov8n.yaml"
        The teacher's layout: a detection model YAML that ultralytics ships (``yolov8n.yaml``,
        ``yolo11n.yaml``, ...), built from scratch, never downloaded.
    student_model : str or None, default=None
        The students' layout (equal or larger, e.g. ``"yolov8s.yaml"``); None means ``model``.
    rounds : int, default=2
        Student generations; ``0`` trains the teacher only.
    threshold : float, default=0.5
        Predicted boxes with confidence at or above this become pseudo-labels, in ``(0, 1]``.
    max_boxes : int, default=100
        At most this many pseudo boxes per image (the most confident).
    epochs : int or None, default=None
        The teacher's training epochs (default 100, or 2 when ``LABELWIDGETS_TEST_MODE`` is
        set).
    student_epochs : int or None, default=None
        Every student's epochs (default: ``epochs``).
    student_init : {"teacher", "scratch"}, default="teacher"
        A student starts from its teacher's weights (it needs far fewer epochs, which is what
        makes the loop affordable on a CPU; the layouts must then be the same), or from a
        random initialisation as in Xie et al. (2020), which needs about as many epochs as the
        teacher.
    imgsz : int or None, default=None
        Training and prediction image size (default: the longest image side rounded up to a
        multiple of 32, between 64 and 640).
    teacher_augment : mapping or None, default=None
        The teacher's augmentation (see :func:`~labelwidgets.training.detector.augment_args`);
        None means :data:`~labelwidgets.training.detector.AUGMENT_DEFAULTS`.
    student_augment : mapping or None, default=None
        The students' noise; None means :data:`STUDENT_AUGMENT` (mosaic, HSV, flips, rotation,
        scale, translation, pixel noise 0.05).
    empty_images : {"drop", "background"}, default="drop"
        What a student does with a pool image on which no box reaches ``threshold``: leave it
        out, or train on it as a background image (see the module docstring).
    holdout_fraction : float, default=0.2
        Without ``holdout`` in :meth:`fit`, the fraction of labelled images held out to score
        each round (see :func:`holdout_split`); ``0`` trains on every label and leaves the
        metrics in ``history_`` missing.
    classes : sequence of str or None, default=None
        The class list (class id ``k`` is ``classes[k]``); every class needs a human box in a
        training image. Default: the labels seen, sorted.
    batch : int, default=16
        Training and prediction batch size.
    device : str or None, default=None
        ``"cpu"``, ``"0"``, ...; default the first GPU when CUDA is available, else the CPU.
    work_dir : str, path-like or None, default=None
        Where the rounds' YOLO datasets and runs go (``round-0/``, ``round-1/``, ...). It must
        be new, empty, or a folder an earlier ``fit`` wrote; None uses a temporary folder that
        ``fit`` removes.
    random_state : int, default=0
        Seed of the held-out split and of training; round ``r`` trains with
        ``random_state + r``.
    verbose : bool, default=True
        Progress bars (rounds, and epochs of each training).

    Attributes
    ----------
    classes_ : list of str
        Class names in class-id order.
    models_ : list of ultralytics.YOLO
        Every round's model (``models_[0]`` is the teacher), loaded from its safetensors file.
    teacher_, student_, model_
        The first model and the last (``model_`` is ``student_``).
    model_names_ : list of str
        ``"<layout>-r<round>"``, e.g. ``"yolov8n-r0"`` for the teacher.
    n_rounds_ : int
        Student rounds actually run (fewer than ``rounds`` when the pool is empty or no box
        reaches ``threshold``).
    imgsz_ : int
        The image size used.
    holdout_ids_ : list of str
        The held-out images that score the rounds (never trained on, never pseudo-labelled).
    history_ : pandas.DataFrame
        One row per round: ``round, model, epochs, n_labeled_images, n_labeled_boxes``
        (human, held-out images excluded), ``n_pseudo_images`` (pool images the student
        trained on: with pseudo boxes, or as background), ``n_pseudo_boxes, n_train_images,
        precision, recall, map50, map50_95`` (ultralytics' validation of the round's model on
        the held-out images),
        ``pseudo_precision, pseudo_recall`` (the pseudo-labels the round trained on against
        ``truth``, IoU 0.5, same class; NaN without ``truth``) and ``seconds``.
    pseudo_labels_ : pandas.DataFrame
        Every pseudo box of every round: ``round, item_id, label, x, y, w, h, confidence,
        model, trained``; an image with no box at or above ``threshold`` is one row with
        ``label`` missing (``trained`` says whether it was trained on as background).
    curves_ : pandas.DataFrame
        Per-epoch training losses of each round (``round, model, epoch, ...``).

    Examples
    --------
    >>> ns = DetectionNoisyStudent(rounds=1, threshold=0.4)
    >>> ns.get_params()["student_augment"] is None
    True
    >>> ns.fit(images, boxes, truth=truth).history_       # doctest: +SKIP
    >>> ns.write_pseudo_labels(store, task="boxes")      # doctest: +SKIP
    """

    def __init__(
        self,
        model: str = "yolov8n.yaml",
        student_model: str | None = None,
        rounds: int = 2,
        threshold: float = 0.5,
        max_boxes: int = 100,
        epochs: int | None = None,
        student_epochs: int | None = None,
        student_init: str = "teacher",
        imgsz: int | None = None,
        teacher_augment: Mapping | None = None,
        student_augment: Mapping | None = None,
        empty_images: str = "drop",
        holdout_fraction: float = 0.2,
        classes=None,
        batch: int = 16,
        device: str | None = None,
        work_dir: str | os.PathLike | None = None,
        random_state: int = 0,
        verbose: bool = True,
    ):
        self.model = model
        self.student_model = student_model
        self.rounds = rounds
        self.threshold = threshold
        self.max_boxes = max_boxes
        self.epochs = epochs
        self.student_epochs = student_epochs
        self.student_init = student_init
        self.imgsz = imgsz
        self.teacher_augment = teacher_augment
        self.student_augment = student_augment
        self.empty_images = empty_images
        self.holdout_fraction = holdout_fraction
        self.classes = classes
        self.batch = batch
        self.device = device
        self.work_dir = work_dir
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_positive_int(self.rounds, "rounds", minimum=0)
        check_fraction(self.threshold, "threshold")
        check_fraction(self.holdout_fraction, "holdout_fraction", closed_low=True, closed_high=False)
        for what in ("epochs", "student_epochs", "imgsz"):
            if getattr(self, what) is not None:
                check_positive_int(getattr(self, what), what)
        check_positive_int(self.max_boxes, "max_boxes")
        check_positive_int(self.batch, "batch")
        check_positive_int(self.random_state, "random_state", minimum=0)
        check_choice(self.empty_images, ("drop", "background"), "empty_images")
        check_choice(self.student_init, ("teacher", "scratch"), "student_init")
        if self.student_init == "teacher" and self.student_model not in (None, self.model):
            raise InputError(
                f"`student_model` must equal `model` when student_init='teacher' (a student starts "
                f"from its teacher's weights). Got {self.student_model!r} and {self.model!r}; pass "
                "student_init='scratch' for a different student layout."
            )
        ultralytics_yaml(self.model, task="detect")
        if self.student_model is not None:
            ultralytics_yaml(self.student_model, task="detect")
        augment_args(self.teacher_augment)
        augment_args(STUDENT_AUGMENT if self.student_augment is None else self.student_augment)

    def _check_data(self, images, boxes, holdout, truth, task):
        items = getattr(images, "items", None)
        if not isinstance(items, pd.DataFrame) or "path" not in items.columns:
            raise InputError(
                "`images` must be an ImageSet (image files with a `path` per item: YOLO trains "
                f"on files), e.g. ImageSet.from_folder(...). Got {type(images).__name__} instead."
            )
        if not isinstance(boxes, pd.DataFrame) and callable(getattr(boxes, "current", None)):
            boxes = training_boxes(boxes, task=task, source="human")
        boxes = _check_box_table(boxes, "boxes")
        known = set(items["item_id"].astype(str))
        strangers = sorted(set(boxes["item_id"]) - known)
        if strangers:
            raise InputError(
                f"`boxes` must be on items of `images`. Got {len(strangers)} item(s) that are "
                f"not, e.g. {strangers[:3]!r}."
            )
        found = boxes.dropna(subset=["label"])
        if found.empty:
            raise InputError(
                "`boxes` must hold at least one labelled box to train a teacher on. Got "
                f"{boxes['item_id'].nunique()} image(s) and no box; draw some boxes first "
                "(BoxAnnotator) or pass the task that holds them."
            )
        seen = sorted(found["label"].astype(str).unique())
        if self.classes is None:
            classes = seen
        else:
            classes = [str(c) for c in self.classes]
            unknown = sorted(set(seen) - set(classes))
            if unknown:
                raise InputError(
                    f"`boxes` labels must be among `classes` {classes}. Got {unknown!r} too; add "
                    "them to `classes`."
                )
        hold_df = None
        if holdout is not None:
            hold_df = _check_box_table(holdout, "holdout")
            strangers = sorted(set(hold_df["item_id"]) - known)
            overlap = sorted(set(hold_df["item_id"]) & set(boxes["item_id"]))
            if strangers or overlap:
                raise InputError(
                    "`holdout` must hold boxes on items of `images` that `boxes` does not label. "
                    f"Got {strangers[:3]!r} (not in images) and {overlap[:3]!r} (labelled)."
                )
            unknown = sorted(set(hold_df["label"].dropna()) - set(classes))
            if unknown:
                raise InputError(
                    f"`holdout` labels must be among the classes {classes}. Got {unknown!r}."
                )
        truth_df = None if truth is None else _check_box_table(truth, "truth")
        return items, boxes, classes, hold_df, truth_df

    # ------------------------------------------------------------ files
    def _work_folder(self) -> tuple[Path, bool]:
        """The folder for the rounds' files, and whether ``fit`` made it (and removes it)."""
        if self.work_dir is None:
            return Path(tempfile.mkdtemp(prefix="labelwidgets-detection-student-")), True
        given = Path(self.work_dir)
        if given.is_symlink() or (given.exists() and not given.is_dir()):
            raise InputError(f"`work_dir` must be a folder, not a link. Got {str(given)!r} instead.")
        root = given.resolve()
        if root.exists() and any(root.iterdir()) and not (root / _MARKER).is_file():
            raise InputError(
                f"`work_dir` must be new, empty, or a folder an earlier fit wrote. Got "
                f"{str(root)!r}, which holds other files; give a new folder (or None for a "
                "temporary one)."
            )
        root.mkdir(parents=True, exist_ok=True)
        (root / _MARKER).write_text("written by labelwidgets DetectionNoisyStudent.fit\n")
        return root, False

    # ---------------------------------------------------------------- fit
    def fit(self, images, boxes, holdout=None, truth=None, task: str = "boxes"):
        """Train the teacher, then ``rounds`` noised students. Writes nothing to a store.

        Parameters
        ----------
        images : ImageSet
            Every image: the labelled ones, the unlabelled pool and the held-out ones.
        boxes : pandas.DataFrame or LabelStore
            Human boxes ``item_id, label, x, y, w, h`` (a row with ``label`` missing marks an
            image checked to hold no object), or a store whose current human boxes of ``task``
            are read. Images of ``images`` without a row form the pool.
        holdout : pandas.DataFrame or None, default=None
            Boxes on images of ``images`` kept apart to score every round (never trained on,
            never pseudo-labelled); default ``holdout_fraction`` of the labelled images.
        truth : pandas.DataFrame or None, default=None
            Known boxes on (some) pool images, only to score the pseudo-labels in
            ``history_``; never trained on.
        task : str, default="boxes"
            The box task, when ``boxes`` is a store.

        Returns
        -------
        DetectionNoisyStudent
            ``self``, fitted.
        """
        from tqdm.auto import tqdm

        self._check_params()
        items, boxes, classes, hold_df, truth_df = self._check_data(
            images, boxes, holdout, truth, task
        )
        held = (
            sorted(hold_df["item_id"].unique())
            if hold_df is not None
            else holdout_split(boxes, self.holdout_fraction, self.random_state)
        )
        train_human = boxes[~boxes["item_id"].isin(set(held))]
        if hold_df is None:
            hold_df = boxes[boxes["item_id"].isin(set(held))]
        no_box = [c for c in classes if c not in set(train_human["label"].dropna())]
        if no_box:
            raise InputError(
                f"Every class must have at least one human box in a training image. Got none for "
                f"{no_box!r}; box a few examples of them (or leave them out of `classes`)."
            )
        if not held:
            warnings.warn(
                "No labelled image could be held out (too few, or holdout_fraction=0), so the "
                "rounds are not scored: precision, recall and mAP in history_ are missing. Pass "
                "`holdout` boxes to score them.",
                UserWarning,
                stacklevel=2,
            )
        self.classes_ = classes
        labelled, held_set = set(boxes["item_id"]), set(held)
        ids = items["item_id"].astype(str).tolist()
        pool = [i for i in ids if i not in labelled and i not in held_set]
        table = items.assign(item_id=items["item_id"].astype(str)).set_index("item_id")
        if self.imgsz is not None:
            self.imgsz_ = int(self.imgsz)
        else:
            side = max(int(table["width"].max()), int(table["height"].max()))
            self.imgsz_ = int(min(640, max(64, int(np.ceil(side / 32)) * 32)))
        teacher_epochs = self.epochs or (2 if test_mode() else 100)
        student_epochs = self.student_epochs or teacher_epochs
        rounds = self.rounds if pool else 0
        if not pool and self.rounds > 0:
            warnings.warn(
                "The unlabelled pool is empty (every image of `images` is labelled or held out), "
                "so only the teacher was trained (n_rounds_=0).",
                UserWarning,
                stacklevel=2,
            )

        def located(df: pd.DataFrame, split: str) -> pd.DataFrame:
            rows = df.merge(table[["path", "width", "height"]], left_on="item_id",
                            right_index=True, how="left")  # fmt: skip
            return rows.assign(split=split)

        human_rows = located(train_human, "train")
        val_rows = located(hold_df, "val") if held else None
        root, temporary = self._work_folder()
        models, names, history, pseudo, curves = [], [], [], [], []
        bar = tqdm(range(rounds + 1), desc="detection noisy student", unit="round",
                   disable=not self.verbose)  # fmt: skip
        try:
            frame = None
            for r in bar:
                tic = time.perf_counter()
                bar.set_postfix(model="teacher" if r == 0 else f"student r{r}")
                train = human_rows
                quality = (np.nan, np.nan)
                if r > 0:
                    frame = self._pseudo_frame(models[-1], names[-1], images, pool, r)
                    if frame["label"].notna().sum() == 0:
                        warnings.warn(
                            f"No box of round {r} reached `threshold`={self.threshold}; stopped "
                            f"after round {r - 1}. Lower the threshold or train the teacher longer.",
                            UserWarning,
                            stacklevel=2,
                        )
                        break
                    pseudo.append(frame)
                    used = frame[frame["trained"]]
                    train = pd.concat([human_rows, located(used[_BOX_COLUMNS], "train")],
                                      ignore_index=True)  # fmt: skip
                    if truth_df is not None:
                        quality = pseudo_label_quality(used, truth_df)
                layout = self.model if r == 0 or self.student_model is None else self.student_model
                data = train if val_rows is None else pd.concat([train, val_rows], ignore_index=True)
                result = train_detector(
                    data, classes, root / f"round-{r}", model=layout,
                    epochs=teacher_epochs if r == 0 else student_epochs, imgsz=self.imgsz_,
                    augment=self._augment(r), random_state=int(self.random_state) + r,
                    batch=self.batch, device=self.device, name=f"{Path(layout).stem}-r{r}",
                    progress=self.verbose, val=False, init_weights=self._init(models, r),
                )  # fmt: skip
                models.append(result.model())
                names.append(result.name)
                last = result.history.iloc[-1]
                history.append({
                    "round": r, "model": result.name, "epochs": int(last["epoch"]),
                    "n_labeled_images": train_human["item_id"].nunique(),
                    "n_labeled_boxes": int(train_human["label"].notna().sum()),
                    "n_pseudo_images": 0 if r == 0 else int(used["item_id"].nunique()),
                    "n_pseudo_boxes": 0 if r == 0 else int(used["label"].notna().sum()),
                    "n_train_images": int(train["item_id"].nunique()),
                    **{k: float(last[k]) if held else np.nan
                       for k in ("precision", "recall", "map50", "map50_95")},
                    "pseudo_precision": quality[0], "pseudo_recall": quality[1],
                    "seconds": time.perf_counter() - tic,
                })  # fmt: skip
                curves.append(result.history.assign(round=r, model=result.name))
        finally:
            bar.close()
            if temporary:
                shutil.rmtree(root, ignore_errors=True)
        self.holdout_ids_ = list(held)
        self.models_, self.model_names_ = models, names
        self.n_rounds_ = len(models) - 1
        self.teacher_ = models[0]
        self.student_ = self.model_ = models[-1]
        self.history_ = pd.DataFrame(history, columns=HISTORY_COLUMNS)
        self.pseudo_labels_ = (
            pd.concat(pseudo, ignore_index=True) if pseudo else pd.DataFrame(columns=PSEUDO_COLUMNS)
        )
        curve = pd.concat(curves, ignore_index=True)
        self.curves_ = curve[["round", "model", *[c for c in curve.columns if c not in ("round", "model")]]]
        return self

    def _init(self, models: list, r: int):
        """The weights round ``r`` starts from: its teacher's (a copy), or None (random)."""
        if r == 0 or self.student_init == "scratch":
            return None
        return {k: v.detach().clone() for k, v in models[-1].model.state_dict().items()}

    def _augment(self, r: int):
        if r == 0:
            return AUGMENT_DEFAULTS if self.teacher_augment is None else self.teacher_augment
        return STUDENT_AUGMENT if self.student_augment is None else self.student_augment

    def _pseudo_frame(self, teacher, name: str, images, pool: list[str], r: int) -> pd.DataFrame:
        """The teacher's boxes on the pool at or above ``threshold``, un-noised."""
        # one row per box, and one row with `label` missing per image where none reached it
        pred = predict_boxes(teacher, images, pool, conf=self.threshold, batch=self.batch,
                            max_det=self.max_boxes)  # fmt: skip
        trained = pred["label"].notna() | (self.empty_images == "background")
        out = pred.assign(round=r, model=name, trained=trained.to_numpy())
        return out[PSEUDO_COLUMNS].reset_index(drop=True)

    # ------------------------------------------------------------ the store
    def write_pseudo_labels(self, store, task: str = "boxes", rounds=None) -> list[str]:
        """Record the pseudo-labels the students trained on, in one transaction.

        One submission per image and round (the image's boxes, or "no objects" for an image
        trained on as background), all written by one ``store.append_many`` call: every row
        or none. Rows have ``kind="box"``, ``source="pseudo"``, rater and ``model`` the teacher
        that produced them (e.g. ``"yolov8n-r0"``), ``round`` and ``confidence``. Human boxes
        are never touched; retracting a submission undoes one image of one round.

        Parameters
        ----------
        store : LabelStore
            Where to write. ``task`` is registered (a box task with options ``classes_``) when
            the store does not know it yet.
        task : str, default="boxes"
            The box task.
        rounds : sequence of int or None, default=None
            Which rounds (``1..n_rounds_``); default every round.

        Returns
        -------
        list of str
            The submission ids, round by round, in item order.
        """
        check_is_fitted(self)
        wanted = pseudo_label_rounds(store, task, self.classes_, "box", self.n_rounds_, rounds)
        frame = self.pseudo_labels_[self.pseudo_labels_["trained"].astype(bool)]
        submissions = []
        for r in wanted:
            rows = frame[frame["round"] == r]
            if not rows.empty:
                name = rows["model"].iloc[0]
                submissions += prediction_submissions(rows, name, source="pseudo", task=task, round=r)
        return store.append_many(submissions) if submissions else []

    # ------------------------------------------------------------ models
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

    def predict(self, images, item_ids=None, conf: float = 0.25, round: int | None = None):
        """Boxes of the last model (or ``round``'s; 0 = teacher), as :func:`predict_boxes`."""
        model = self._round_model(round)
        return predict_boxes(model, images, item_ids, conf=conf, batch=self.batch)

    def save(self, path, round: int | None = None) -> Path:
        """Write the last model (or ``round``'s) as ``.safetensors``: tensors and a JSON config.

        Read it back with :func:`~labelwidgets.training.load_detector` (nothing in the file can
        run code).
        """
        check_is_fitted(self)
        r = len(self.models_) - 1 if round is None else round
        model = self._round_model(r)
        return save_detector(model, path, imgsz=self.imgsz_, name=self.model_names_[int(r)])

    # -------------------------------------------------------------- plots
    def plot_history(self, axes=None):
        """Training loss per round (left) and held-out mAP, precision, recall per round (right).

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, optional
            Where to draw; default a new figure.

        Returns
        -------
        matplotlib.figure.Figure
        """
        check_is_fitted(self)
        scores = (("map50", "o-"), ("map50_95", "o:"), ("precision", "s--"), ("recall", "^--"),
                  ("pseudo_precision", "x-."))  # fmt: skip
        return plot_rounds(self.curves_, self.history_, loss="train_box_loss",
                           loss_label="training box loss", scores=scores, count="n_pseudo_boxes",
                           count_label="pseudo boxes (relative)", ylabel="held-out score",
                           legend="upper left", axes=axes)
