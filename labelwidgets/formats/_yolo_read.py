"""Reading YOLO folders as the tools people use write them (private; see ``from_yolo``).

Layouts, each read as it is:

- ultralytics: ``data.yaml`` naming ``train``/``val``/``test`` folders or ``.txt`` image lists,
  labels found by replacing the last ``/images/`` of an image path with ``/labels/``;
- Roboflow: the same, with splits written as ``../train/images``, which ultralytics resolves
  by dropping the ``../`` when the path does not exist (so does this reader);
- CVAT "YOLO 1.1" (darknet): ``obj.data`` (``train = data/train.txt``, ``names =
  data/obj.names``), image lists naming ``data/obj_train_data/<image>``, labels beside images;
- LabelImg: images and labels side by side with ``classes.txt``.

Nothing outside the dataset folder is read: a ``path`` or split that points outside it is an
error naming the value.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path, PurePosixPath

import pandas as pd

from .._validate import InputError
from ._common import files_below, frame, image_size, malformed, no_objects
from ._yolo_layout import Layout, check_inside, find_layout

# ultralytics.data.utils.IMG_FORMATS (not imported: ultralytics is an optional, heavy dependency)
IMAGE_SUFFIXES = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic"}
)
#: ultralytics accepts coordinates up to 1% outside [0, 1] (``verify_image_label``); so do we
_SLACK = 0.01
_BARE_INT = re.compile(r"\+?\d+")


def label_path(image) -> str:
    """The label file ultralytics reads for ``image`` (its last ``/images/`` becomes ``/labels/``)."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(os.fspath(image).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def _label_of(image: Path, layout: Layout) -> str:
    if layout.side_by_side:
        return os.fspath(image).rsplit(".", 1)[0] + ".txt"
    return label_path(image)


def read_yolo(source, items) -> pd.DataFrame:
    layout = find_layout(Path(source))
    known = None if items is None else _items_table(items)
    rows: list[tuple] = []
    seen: set = set()  # images (or item ids) already read: each is read in its first split
    done: set[Path] = set()
    for split, entry in layout.splits:
        if entry in done:
            continue
        done.add(entry)
        _read_split(layout, split, entry, known, rows, seen)
    return frame(rows, extra=["split", "confidence"])


# ------------------------------------------------------------------------------- splits
def _items_table(items: pd.DataFrame) -> dict[str, tuple[str, str, float, float]]:
    from .yolo import image_rel  # the writer names each item's image; the reader matches it

    missing = {"item_id", "path"} - set(items.columns)
    if missing:
        raise InputError(
            f"`items` must have columns ['item_id', 'path'] (and optionally width, height). "
            f"Missing {sorted(missing)}; got {list(items.columns)} instead."
        )
    width = items["width"] if "width" in items else [math.nan] * len(items)
    height = items["height"] if "height" in items else [math.nan] * len(items)
    return {
        image_rel(str(i), str(p)).as_posix(): (str(i), str(p), w, h)
        for i, p, w, h in zip(items["item_id"], items["path"], width, height, strict=True)
    }


def _entries(layout: Layout, split: str, entry: Path, known) -> list[tuple[Path, str]]:
    """``(image path, item id)`` of every image a split names (a folder or a .txt list)."""
    if entry.suffix == ".txt" and entry.is_file():
        out = []
        for line in entry.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if not text:
                continue
            image = _listed(text, entry.parent, layout.root)
            check_inside(image.resolve(), layout.root, entry, "image", text)
            out.append((image, _listed_id(image, layout.root)))
        return out
    if entry.is_dir():
        images = files_below(entry, tuple(IMAGE_SUFFIXES))
        cut = len(str(entry)) + 1
        from_files = [(p, p[cut:].replace(os.sep, "/")) for p in images]
        if known is None:
            return from_files
        found = {rel for _, rel in from_files}
        extra = [
            (entry / rel, rel) for rel in known
            if rel not in found and os.path.isfile(_label_of(entry / rel, layout))
        ]  # fmt: skip
        return from_files + extra
    if known is not None:
        return []
    raise malformed(layout.config, split, split, "an existing folder or .txt list", str(entry))


def _listed(text: str, base: Path, home: Path) -> Path:
    if text.startswith("./"):
        return base / text[2:]
    path = Path(text)
    if path.is_absolute():
        return path
    candidate = base / text
    if not candidate.exists() and text.startswith("data/"):  # darknet's data/ prefix (CVAT)
        candidate = home / text[5:]
    return candidate


def _listed_id(image: Path, home: Path) -> str:
    """A listed image's id: its path inside ``images/<split>/`` or ``obj_<split>_data/``."""
    text = image.resolve().as_posix()
    if "/images/" in text:
        rest = text.rsplit("/images/", 1)[1]
        return rest.split("/", 1)[1] if "/" in rest else rest
    rel = PurePosixPath(text[len(home.as_posix()) + 1 :])
    if len(rel.parts) > 1 and re.fullmatch(r"obj_.+_data", rel.parts[0]):
        return PurePosixPath(*rel.parts[1:]).as_posix()
    return rel.as_posix()


def _read_split(layout: Layout, split: str, entry: Path, known, rows, seen: set) -> None:
    names = layout.names
    matched: set[str] = set()
    for image, rel in _entries(layout, split, entry, known):
        lab = _label_of(image, layout)
        matched.add(lab)
        if known is None:
            key = os.path.abspath(image)
            if key in seen:
                continue  # listed in an earlier split too
            if not os.path.isfile(image):
                raise InputError(
                    f"An image named by {split!r} must exist to read its size. Got "
                    f"{str(image)!r}, which does not; pass `items=` with width and height."
                )
            seen.add(key)
            width, height = image_size(image)
            _read_labels(lab, (rel, str(image), width, height), split, names, rows)
            continue
        hit = known.get(rel)
        if hit is None:
            continue
        item_id, path, width, height = hit
        if item_id in seen:
            continue
        seen.add(item_id)
        if pd.isna(width) or pd.isna(height):
            width, height = image_size(image if os.path.isfile(image) else path)
        _read_labels(lab, (item_id, path, int(width), int(height)), split, names, rows)
    if entry.is_dir() and not layout.side_by_side:
        labels_dir = Path(label_path(entry / "x.png")).parent
        if labels_dir.is_dir():
            for orphan in sorted(set(map(str, labels_dir.rglob("*.txt"))) - matched):
                raise InputError(
                    f"{orphan}: a label file must have an image (or an item in `items`). Found "
                    f"none for it in {str(entry)!r}."
                )


# -------------------------------------------------------------------------------- lines
def _read_labels(lab: str, base: tuple, split: str, names: list[str], rows: list) -> None:
    item_id, path, width, height = base
    base = (item_id, path, int(width), int(height))
    try:
        with open(lab, encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""  # no label file: a background image for ultralytics
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, fields) for n, fields in lines if fields]
    if not lines:
        rows.append((*no_objects(*base), split, math.nan))
        return
    W, H = float(width), float(height)
    tracks = all(len(f) in (6, 7) for _, f in lines)  # ultralytics save_conf / tracking output
    n_names = len(names)
    lo, hi = -_SLACK, 1 + _SLACK
    for n, fields in lines:
        try:
            values = [float(v) for v in fields]
        except ValueError:
            bad = next(v for v in fields if not _is_number(v))
            raise malformed(lab, f"line {n}", "every field", "a number", bad) from None
        if not math.isfinite(sum(values)):  # inf - inf is nan: one sum tells
            raise malformed(lab, f"line {n}", "every field", "a finite number", " ".join(fields))
        cls = values[0]
        if not (cls.is_integer() and 0 <= cls < n_names):
            raise malformed(
                lab, f"line {n}", "the class id",
                f"an integer in [0, {n_names - 1}] (names: {names})", fields[0],
            )  # fmt: skip
        if len(values) == 5:  # the common line, inline
            shape, coords, confidence, attrs = "box", values[1:], math.nan, {}
        else:
            shape, coords, confidence, attrs = _fields(lab, n, fields, values, tracks)
        if min(coords) < lo or max(coords) > hi:
            bad = next(v for v in coords if not lo <= v <= hi)
            raise malformed(
                lab, f"line {n}", "the coordinates",
                "normalised to [0, 1] by the image size (these look like pixels)", bad,
            )  # fmt: skip
        label = names[int(cls)]
        if shape == "box":
            cx, cy, w, h = coords
            if w <= 0 or h <= 0:
                raise malformed(lab, f"line {n}", "w and h", "positive", " ".join(fields))
            box = ((cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H)
            rows.append((*base, "box", label, *box, attrs, split, confidence))
        else:
            points = [[coords[k] * W, coords[k + 1] * H] for k in range(0, len(coords), 2)]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            attrs["points"] = points
            rows.append(
                (*base, "polygon", label, min(xs), min(ys), max(xs) - min(xs),
                 max(ys) - min(ys), attrs, split, confidence)
            )  # fmt: skip


def _fields(lab: str, n: int, fields: list[str], values: list[float], tracks: bool):
    """``(shape, coordinates, confidence, attributes)`` of one line, by its field count.

    5: box. 6: box and a confidence in [0, 1] (``save_conf``), or a track id (an integer
    > 1). 7 in a file whose lines all hold 6 or 7 fields, with a confidence in [0, 1] and a
    whole-number 7th field: box, confidence, track id (ultralytics tracking); otherwise 7 or
    any odd number above: a polygon. An even number from 8: a polygon and a confidence.
    """
    count = len(values)
    if count == 5:
        return "box", values[1:], math.nan, {}
    if count == 6:
        last = values[5]
        if 0 <= last <= 1:
            return "box", values[1:5], last, {}
        if _BARE_INT.fullmatch(fields[5]):
            return "box", values[1:5], math.nan, {"track_id": int(last)}
        raise malformed(lab, f"line {n}", "the 6th field", "a confidence in [0, 1] or a track id", fields[5])
    if count == 7 and tracks and 0 <= values[5] <= 1 and _BARE_INT.fullmatch(fields[6]):
        return "box", values[1:5], values[5], {"track_id": int(values[6])}
    if count >= 7 and count % 2 == 1:
        return "polygon", values[1:], math.nan, {}
    if count >= 8:
        if not 0 <= values[-1] <= 1:
            raise malformed(lab, f"line {n}", "the last field", "a confidence in [0, 1] (a polygon line "
                            "with an even number of fields ends with one)", fields[-1])  # fmt: skip
        return "polygon", values[1:-1], values[-1], {}
    raise malformed(
        lab, f"line {n}", "a line",
        "'class cx cy w h [confidence [track id]]' or 'class x1 y1 x2 y2 x3 y3 ... "
        f"[confidence]'; it has {count} fields", " ".join(fields),
    )  # fmt: skip


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
