"""Images for training: the ImageSet interface, an in-memory adapter, and batch loading.

Training reads images through one interface, whatever holds them: an object with an ``items``
DataFrame (column ``item_id``) and ``load(item_id)`` returning a PIL image. ``ImageSet`` has
it; :class:`ArrayImages` gives it to a NumPy array (scikit-learn's digits, for instance), so
arrays and image files go through the same code path (:func:`load_images`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from .._validate import InputError, check_columns
from ..images import _scaled, to_rgb

__all__ = ["ArrayImages", "check_images", "load_images", "check_labels", "training_targets"]


class ArrayImages:
    """A NumPy array of images behind the ``ImageSet`` interface.

    Parameters
    ----------
    images : array-like of shape (n, height, width) or (n, height, width, channels)
        Grey (no channel axis or 1 channel), RGB (3) or RGBA (4) images. ``uint8`` values are
        used as they are; any other dtype is scaled linearly from the array's own
        ``[min, max]`` to ``[0, 255]``.
    item_ids : sequence of str, optional
        One id per image; default ``"img00000"``, ``"img00001"``, ...

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> digits = ArrayImages(load_digits().images)
    >>> digits.load("img00000").size
    (8, 8)
    """

    def __init__(self, images, item_ids=None):
        arr = np.asarray(images)
        if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[3] not in (1, 3, 4)):
            raise ValueError(
                "`images` must be an array of shape (n, height, width) or (n, height, width, "
                f"1|3|4). Got shape {arr.shape!r} instead."
            )
        if arr.dtype != np.uint8:
            arr = _scaled(arr)
        if arr.ndim == 4 and arr.shape[3] == 1:
            arr = arr[..., 0]
        ids = (
            [f"img{i:05d}" for i in range(len(arr))]
            if item_ids is None
            else [str(i) for i in item_ids]
        )
        if len(ids) != len(arr) or len(set(ids)) != len(ids):
            raise ValueError(
                f"`item_ids` must hold {len(arr)} distinct ids, one per image. Got {len(ids)} ids "
                f"({len(set(ids))} distinct) instead."
            )
        self._arrays = arr
        self._index = {item_id: i for i, item_id in enumerate(ids)}
        self.items = pd.DataFrame({"item_id": ids, "width": arr.shape[2], "height": arr.shape[1]})

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        return f"ArrayImages(n={len(self)}, shape={self._arrays.shape[1:]})"

    @property
    def item_ids(self) -> list[str]:
        return list(self.items["item_id"])

    def subset(self, item_ids) -> ArrayImages:
        """The images with these ids, in this order."""
        ids = [str(i) for i in item_ids]
        return ArrayImages(self._arrays[[self._index[i] for i in ids]], ids)

    def load(self, item_id: str) -> Image.Image:
        """The image as a PIL RGB image."""
        try:
            arr = self._arrays[self._index[str(item_id)]]
        except KeyError:
            raise KeyError(
                f"`item_id` must be one of the array's ids. Got {item_id!r} instead."
            ) from None
        return to_rgb(arr)


def check_images(images, name: str = "images"):
    """Accept an ImageSet-like object (``items`` with ``item_id``, ``load``) or an array."""
    if isinstance(images, np.ndarray):
        return ArrayImages(images)
    items = getattr(images, "items", None)
    if callable(items):
        items = items()
    if (
        not isinstance(items, pd.DataFrame)
        or "item_id" not in items
        or not callable(getattr(images, "load", None))
    ):
        raise InputError(
            f"`{name}` must be an ImageSet (or an object with an `items` DataFrame holding "
            f"`item_id` and a `load(item_id)` method) or a NumPy array of images. Got "
            f"{type(images).__name__} instead."
        )
    return images


def item_ids_of(images) -> list[str]:
    items = images.items() if callable(images.items) else images.items
    return [str(i) for i in items["item_id"]]


def load_images(images, item_ids, image_size: int):
    """Load, convert to RGB and resize images into one ``uint8`` tensor ``(n, 3, size, size)``.

    Any PIL mode (grey, palette, RGBA, 16-bit) is converted to RGB and any size is resized
    (bilinear, aspect ratio not kept) to ``image_size`` x ``image_size``.
    """
    import torch

    out = torch.empty((len(item_ids), 3, image_size, image_size), dtype=torch.uint8)
    for i, item_id in enumerate(item_ids):
        img = to_rgb(images.load(item_id)).resize((image_size, image_size), Image.Resampling.BILINEAR)
        out[i] = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
    return out


def check_labels(labels, name: str = "labels") -> pd.DataFrame:
    """A clean ``item_id, label`` DataFrame (string ids and labels, missing labels dropped)."""
    check_columns(labels, ["item_id", "label"], name)
    out = labels.loc[labels["label"].notna(), ["item_id", "label"]].copy()
    out["item_id"] = out["item_id"].astype(str)
    out["label"] = out["label"].astype(str)
    dup = out["item_id"].duplicated(keep=False)
    if dup.any():
        clash = out[dup].groupby("item_id")["label"].nunique()
        if (clash > 1).any():
            raise InputError(
                f"`{name}` must give one label per item. Got several for "
                f"{sorted(clash[clash > 1].index)[:5]!r} instead; resolve votes first "
                "(labelwidgets.voting.resolve)."
            )
        out = out.drop_duplicates("item_id")
    return out.reset_index(drop=True)


def check_probabilities(probabilities, name: str = "labels") -> pd.DataFrame:
    """A clean long ``item_id, class, probability`` table: one distribution per item.

    Probabilities must be finite, in ``[0, 1]`` and sum to 1 per item (within 1e-4).
    """
    check_columns(probabilities, ["item_id", "class", "probability"], name)
    out = probabilities[["item_id", "class", "probability"]].copy()
    out["item_id"] = out["item_id"].astype(str)
    out["class"] = out["class"].astype(str)
    p = pd.to_numeric(out["probability"], errors="coerce").astype(float)
    bad = out.loc[~(np.isfinite(p) & (p >= 0) & (p <= 1)), "probability"]
    if len(bad):
        raise InputError(
            f"`{name}['probability']` must hold numbers in [0, 1]. Got {bad.iloc[0]!r} instead."
        )
    out["probability"] = p
    if out.duplicated(["item_id", "class"]).any():
        twice = out.loc[out.duplicated(["item_id", "class"]), ["item_id", "class"]].iloc[0]
        raise InputError(
            f"`{name}` must give each (item_id, class) once. Got {tuple(twice)!r} more than once."
        )
    sums = out.groupby("item_id", sort=False)["probability"].sum()
    off = sums[(sums - 1).abs() > 1e-4]
    if len(off):
        raise InputError(
            f"`{name}` must give each item probabilities that sum to 1. Got {off.iloc[0]:.6g} "
            f"for {off.index[0]!r} instead."
        )
    return out.reset_index(drop=True)


def check_classes(classes, seen) -> list[str]:
    """The class list: ``classes`` checked against the labels ``seen``, or their sorted set."""
    from .._validate import check_names

    seen = set(seen)
    if classes is None:
        return sorted(seen)
    classes = check_names([str(c) for c in classes], "classes")
    unknown = sorted(seen - set(classes))
    if unknown:
        raise InputError(
            f"`labels` must only use the classes in `classes` ({classes}). Got {unknown!r} "
            "instead; add them to `classes`."
        )
    missing = [c for c in classes if c not in seen]
    if missing:
        raise InputError(
            f"Every class in `classes` must have at least one labelled item. Got none for "
            f"{missing!r}; label a few examples of it or drop it from `classes`."
        )
    return classes


def training_targets(labels, item_ids, classes=None, sample_weight=None):
    """What a classifier trains on: item ids, target distributions, classes and weights.

    Parameters
    ----------
    labels : pandas.DataFrame
        ``item_id, label`` (hard labels) or ``item_id, class, probability`` (a distribution
        per item, long format).
    item_ids : sequence of str
        The items that exist (those of the images); labels of other items are ignored.
    classes : sequence of str or None, default=None
        The output order; default the sorted classes seen.
    sample_weight : array-like or None, default=None
        One weight >= 0 per item of ``labels`` in order of first appearance.

    Returns
    -------
    (list of str, numpy.ndarray, list of str, numpy.ndarray or None)
        Item ids, targets ``(n, k)`` as ``float32``, classes, weights (None when not given).
    """
    soft = isinstance(labels, pd.DataFrame) and {"class", "probability"} <= set(labels.columns)
    if soft:
        table = check_probabilities(labels)
        order = list(pd.unique(table["item_id"]))
    else:
        table = check_labels(labels)
        order = list(table["item_id"])
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=float).ravel()
        if len(weights) != len(order) or not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise InputError(
                f"`sample_weight` must hold {len(order)} finite numbers >= 0, one per item of "
                f"`labels`. Got {len(weights)} values (min {weights.min() if len(weights) else None!r}) "
                "instead."
            )
    known = set(item_ids)
    keep = np.array([i in known for i in order], dtype=bool)
    if weights is not None:
        keep &= weights > 0
    ids = [i for i, k in zip(order, keep, strict=True) if k]
    if not ids:
        raise InputError(
            "`labels` must label at least one item of `images`. Got no label for any of its "
            f"{len(known)} items instead."
        )
    if soft:
        table = table[table["item_id"].isin(set(ids))]
        classes = check_classes(classes, table.loc[table["probability"] > 0, "class"])
        unknown = sorted(set(table["class"]) - set(classes))
        if unknown:
            raise InputError(
                f"`labels['class']` must only hold the classes {classes}. Got {unknown!r} instead."
            )
        wide = table.pivot(index="item_id", columns="class", values="probability")
        targets = wide.reindex(index=ids, columns=classes).fillna(0.0).to_numpy(np.float32)
    else:
        table = table.set_index("item_id").loc[ids]
        classes = check_classes(classes, table["label"])
        index = {c: i for i, c in enumerate(classes)}
        targets = np.eye(len(classes), dtype=np.float32)[[index[c] for c in table["label"]]]
    return ids, targets, classes, None if weights is None else weights[keep]
