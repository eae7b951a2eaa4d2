"""Pascal VOC XML, as LabelImg, CVAT, labelme and Roboflow write and read it: one file per image.

Corners follow those tools by default (``corners="continuous"``): a box ``x, y, w, h`` (pixels
of the EXIF-corrected image, top-left origin) is ``xmin = x``, ``xmax = x + w``, written as the
exact number (``13``, ``174.5``) and read back as ``x = xmin``, ``w = xmax - xmin``. CVAT
exports one box as VOC ``xmin=174, xmax=349`` and as COCO ``x=174, w=175``; LabelImg's YOLO
writer computes ``w = (xmax - xmin) / width``. ``corners="devkit"`` applies the PASCAL VOC
devkit's 1-based inclusive rule instead (``x = xmin - 1``, ``w = xmax - xmin + 1``; written as
rounded integers), for files made for the original VOC evaluation code.

Attributes: ``pose``, ``truncated``, ``difficult`` and ``occluded`` are VOC elements; any other
attribute goes into CVAT's ``<attributes><attribute><name/><value/></attribute></attributes>``
block (values as JSON), so every attribute round-trips. Image-level ``segmented``, ``source``,
``owner``, ``depth`` and LabelImg's ``verified`` come back in ``image_attributes``. VOC holds
boxes only: a polygon that is an axis-aligned rectangle (as some converters store boxes) is
written as its box; other polygons and points are refused (export them with
:func:`~labelwidgets.formats.to_coco` or :func:`~labelwidgets.formats.to_yolo`).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape

import pandas as pd

from .._validate import InputError, check_choice
from ._common import frame, group_images, image_attributes, prepare, sidecar_path
from ._export import ExportFolder
from ._voc_read import _FALSE, _FLAGS, _TRUE, read_one, xml_files

__all__ = ["to_voc", "from_voc", "CORNERS"]

#: The corner rules: ``"continuous"`` (LabelImg, CVAT, labelme, Roboflow) and ``"devkit"``.
CORNERS = ("continuous", "devkit")
# characters XML 1.0 cannot hold (the C0 controls but tab, newline and carriage return)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_voc(
    df: pd.DataFrame, out_dir: str | os.PathLike, corners: str = "continuous"
) -> Path:
    """Write one Pascal VOC XML file per image, as LabelImg and CVAT write them.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``item_id, path, label, x, y, w, h``; optional ``width, height`` (read from
        the image, EXIF-corrected, where absent), ``kind`` (``"box"``, or ``"polygon"`` when
        the polygon is an axis-aligned rectangle), ``attributes`` (dict or JSON text) and
        ``image_attributes`` (as :func:`from_voc` returns them). A row whose ``label`` is
        missing stands for an image without objects (an XML file with no ``<object>``).
    out_dir : str or path-like
        Folder to write into (created). It must be new, empty, or an earlier ``to_voc``
        export (which is replaced: files it wrote and no longer needs are removed). Item
        ``a/b.jpg`` is written to ``out_dir/a/b.xml`` with ``<filename>b.jpg</filename>``; an
        id without a file suffix (``"42"``) is written to ``42.xml`` with the image's own file
        name in ``<filename>``, which is what :func:`from_voc` reads back as the id.
    corners : {"continuous", "devkit"}, default="continuous"
        ``"continuous"``: ``xmin = x``, ``xmax = x + w``, exact (LabelImg, CVAT, labelme,
        Roboflow). ``"devkit"``: the PASCAL devkit's 1-based inclusive integers,
        ``xmin = round(x) + 1``, ``xmax = round(x + w)``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    InputError
        On missing columns, a row that is not a box, a box without positive size, an item id
        that is not a relative path, two items that would share one XML file, text XML cannot
        hold, or an ``out_dir`` holding files this package did not write.
    """
    check_choice(corners, CORNERS, "corners")
    data = prepare(df)
    folder = ExportFolder(out_dir, "voc")
    labels, kinds = data["label"].tolist(), data["kind"].tolist()
    attrs = data["attributes"].tolist()
    xs, ys, ws, hs = (data[c].tolist() for c in ("x", "y", "w", "h"))
    files: dict[PurePosixPath, str] = {}
    planned: dict[PurePosixPath, str] = {}
    extras = image_attributes(data)
    for image in group_images(data):
        rel, xml_rel = sidecar_path(image.item_id, ".xml", files)
        filename = rel.name if rel.suffix else Path(image.path).name
        where = f"item {image.item_id!r}"
        extra = extras[image.first]
        parts = [
            _head(
                _xml(Path(image.path).parent.name, "folder", where),
                _xml(filename, "item_id", where), _xml(image.path, "path", where),
                image.width, image.height, extra, where,
            )
        ]  # fmt: skip
        for i in image.rows:
            box = (xs[i], ys[i], ws[i], hs[i])
            if kinds[i] != "box":
                box = _rectangle(attrs[i].get("points") if kinds[i] == "polygon" else None)
                if box is None:
                    raise InputError(
                        f"`kind` must be 'box' (or a polygon that is an axis-aligned rectangle) "
                        f"for Pascal VOC, which holds boxes only. Got {kinds[i]!r} in row {i} "
                        f"({where}) instead; export polygons and points with to_coco or to_yolo."
                    )
            parts.append(_object_xml(labels[i], box, attrs[i], corners, f"row {i} ({where})"))
        parts.append("</annotation>\n")
        planned[xml_rel] = "".join(parts)
    folder.write_all(planned)
    return Path(out_dir)


def _xml(text, what: str, where: str) -> str:
    """``text`` escaped for XML; refuses characters XML 1.0 cannot hold."""
    text = str(text)
    if text.isalnum():  # most labels and file names: nothing to check or escape
        return text
    bad = _NOT_XML.search(text)
    if bad:
        raise InputError(
            f"`{what}` must not contain control characters, which XML cannot hold. Got "
            f"{text!r} (holding {bad.group()!r}) for {where} instead."
        )
    return escape(text)


def _head(folder, filename, path, width, height, extra: dict, where: str) -> str:
    verified = ' verified="yes"' if extra.get("verified") else ""
    source = extra.get("source") if isinstance(extra.get("source"), dict) else {}
    source = source or {"database": "Unknown"}
    lines = [
        f"<annotation{verified}>",
        f"\t<folder>{folder}</folder>",
        f"\t<filename>{filename}</filename>",
        f"\t<path>{path}</path>",
        _block("source", source, where),
    ]
    if isinstance(extra.get("owner"), dict) and extra["owner"]:
        lines.append(_block("owner", extra["owner"], where))
    depth = extra.get("depth", 3)
    segmented = extra.get("segmented", 0)
    lines += [
        f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n"
        f"\t\t<depth>{_xml(depth, 'depth', where)}</depth>\n\t</size>",
        f"\t<segmented>{_xml(segmented, 'segmented', where)}</segmented>\n",
    ]
    return "\n".join(lines)


def _block(tag: str, fields: dict, where: str) -> str:
    inner = "".join(
        f"\t\t<{_tag(k, where)}>{_xml(v, tag, where)}</{_tag(k, where)}>\n"
        for k, v in fields.items()
    )
    return f"\t<{tag}>\n{inner}\t</{tag}>"


def _tag(name, where: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][\w.-]*", str(name)):
        raise InputError(f"An XML element name must be a word. Got {name!r} for {where} instead.")
    return str(name)


def _rectangle(points) -> tuple[float, float, float, float] | None:
    """``(x, y, w, h)`` of a 4-point polygon (5 when closed) that is an axis-aligned rectangle."""
    if not points:
        return None
    pts = [tuple(p) for p in points]
    if len(pts) == 5 and pts[0] == pts[-1]:
        pts = pts[:4]
    xs, ys = sorted({p[0] for p in pts}), sorted({p[1] for p in pts})
    if len(pts) != 4 or len(xs) != 2 or len(ys) != 2:
        return None
    if {(x, y) for x in xs for y in ys} != set(pts):
        return None
    # consecutive corners share an x or a y: a rectangle, not a bow tie
    if not all(a[0] == b[0] or a[1] == b[1] for a, b in zip(pts, pts[1:] + pts[:1], strict=True)):
        return None
    return xs[0], ys[0], xs[1] - xs[0], ys[1] - ys[0]


def _object_xml(label: str, box, attrs: dict, corners: str, where: str) -> str:
    x, y, w, h = box
    if corners == "devkit":
        xmin, ymin = _round(x) + 1, _round(y) + 1
        lo_hi = (xmin, ymin, max(_round(x + w), xmin), max(_round(y + h), ymin))
    else:
        lo_hi = (x, y, x + w, y + h)
    xmin, ymin, xmax, ymax = (_number_text(v) for v in lo_hi)
    pose = _xml(attrs.get("pose", "Unspecified"), "attributes['pose']", where)
    flags = {k: _flag_out(attrs[k], k) for k in _FLAGS if k in attrs}
    lines = [
        "\t<object>",
        f"\t\t<name>{_xml(label, 'label', where)}</name>",
        f"\t\t<pose>{pose}</pose>",
        f"\t\t<truncated>{flags.get('truncated', 0)}</truncated>",
        f"\t\t<difficult>{flags.get('difficult', 0)}</difficult>",
    ]
    if "occluded" in flags:
        lines.append(f"\t\t<occluded>{flags['occluded']}</occluded>")
    lines.append(
        f"\t\t<bndbox>\n\t\t\t<xmin>{xmin}</xmin>\n\t\t\t<ymin>{ymin}</ymin>\n"
        f"\t\t\t<xmax>{xmax}</xmax>\n\t\t\t<ymax>{ymax}</ymax>\n\t\t</bndbox>"
    )
    others = {k: v for k, v in attrs.items() if k not in (*_FLAGS, "pose", "points")}
    if others:
        lines.append("\t\t<attributes>")
        for key, value in others.items():
            lines.append(
                f"\t\t\t<attribute>\n\t\t\t\t<name>{_xml(key, 'attribute name', where)}</name>\n"
                f"\t\t\t\t<value>{escape(json.dumps(value))}</value>\n\t\t\t</attribute>"
            )
        lines.append("\t\t</attributes>")
    lines.append("\t</object>\n")
    return "\n".join(lines)


def _number_text(value: float) -> str:
    """The exact number: ``13`` for an integral value, else Python's shortest float text."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _flag_out(value, key: str) -> int:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE | _FALSE:
            return int(text in _TRUE)
        raise InputError(
            f"`attributes[{key!r}]` must be a boolean (or 0/1, 'true'/'false'). Got {value!r} instead."
        )
    return int(bool(value))


def from_voc(
    source: str | os.PathLike | Iterable[str | os.PathLike], corners: str = "continuous"
) -> pd.DataFrame:
    """Read Pascal VOC XML files (LabelImg, CVAT, labelme2voc, Roboflow, the VOC datasets).

    Parameters
    ----------
    source : str, path-like, or iterable of them
        A folder (every ``*.xml`` below it, sorted), one XML file, or a list of XML files. A
        VOC dataset folder (``Annotations/`` beside ``JPEGImages/``, as the VOC datasets and
        CVAT's "PASCAL VOC 1.1" export lay it out) is read from ``Annotations/``, its images
        looked up in ``JPEGImages/``.
    corners : {"continuous", "devkit"}, default="continuous"
        ``"continuous"``: ``x = xmin``, ``w = xmax - xmin`` (LabelImg, CVAT, labelme,
        Roboflow). ``"devkit"``: the PASCAL devkit's 1-based inclusive rule, ``x = xmin - 1``,
        ``w = xmax - xmin + 1``.

    Returns
    -------
    pandas.DataFrame
        One row per ``<object>`` (an image without objects gives one row with ``label``
        missing): ``item_id, path, width, height, kind, label, x, y, w, h, attributes,
        image_attributes``. ``item_id`` is the XML file's folder relative to ``source`` (or
        to ``Annotations/``) joined with ``<filename>``; ``path`` is ``<path>`` if that file
        exists, else the file named ``<filename>`` beside the XML (or in ``JPEGImages/``),
        else ``<path>`` as written. ``attributes`` holds ``truncated`` and ``difficult``
        (bool), and ``occluded``, ``pose`` (other than ``Unspecified``) and CVAT
        ``<attributes>`` where present; ``image_attributes`` holds ``segmented``, ``source``,
        ``owner``, ``depth`` and ``verified`` where present.

    Raises
    ------
    InputError
        If a file is not well-formed XML (naming its line and column), an element is missing
        or malformed (naming the file and the element), two files name the same image
        (naming both), or no XML file is found.
    """
    check_choice(corners, CORNERS, "corners")
    devkit = corners == "devkit"
    rows: list[tuple] = []
    owner: dict[str, Path] = {}
    for xml_path, rel_parent, images in xml_files(source):
        item_id = read_one(xml_path, rel_parent, images, devkit, rows)
        if item_id in owner:
            raise InputError(
                f"Every image must have one VOC file. {str(owner[item_id])!r} and "
                f"{str(xml_path)!r} both name {item_id!r}; merge them or remove one."
            )
        owner[item_id] = xml_path
    return frame(rows, extra=["image_attributes"])
