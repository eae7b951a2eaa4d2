"""Pascal VOC XML, as LabelImg writes it: one file per image, 1-based integer corners.

A box ``x, y, w, h`` (pixels of the EXIF-corrected image, top-left origin) is written as
``xmin = x + 1``, ``ymin = y + 1``, ``xmax = x + w``, ``ymax = y + h`` rounded to the nearest
integer (DESIGN.md), and read back as ``x = xmin - 1``, ``w = xmax - xmin + 1``; float corners
written by other tools are read as they are. A round trip is exact to the integer pixel.

Attributes: ``pose``, ``truncated``, ``difficult`` and ``occluded`` are VOC elements; any other
attribute goes into CVAT's ``<attributes><attribute><name/><value/></attribute></attributes>``
block (values as JSON), so every attribute round-trips. VOC holds boxes only: polygon and
point rows are refused (export them with :func:`~labelwidgets.formats.to_coco` or
:func:`~labelwidgets.formats.to_yolo`).
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape

import pandas as pd

from ._common import (
    existing_image,
    frame,
    group_images,
    image_size,
    item_relpath,
    malformed,
    no_objects,
    prepare,
)

__all__ = ["to_voc", "from_voc"]

_FLAGS = ("truncated", "difficult", "occluded")
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}


def to_voc(df: pd.DataFrame, out_dir: str | os.PathLike) -> Path:
    """Write one LabelImg-compatible Pascal VOC XML file per image.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``item_id, path, label, x, y, w, h``; optional ``width, height`` (read from
        the image, EXIF-corrected, where absent), ``kind`` (``"box"`` only) and
        ``attributes`` (dict or JSON text). A row whose ``label`` is missing stands for an
        image without objects (an XML file with no ``<object>``).
    out_dir : str or path-like
        Folder to write into (created). Item ``a/b.jpg`` is written to ``out_dir/a/b.xml``
        with ``<filename>b.jpg</filename>``; existing files of the same name are replaced.
        An id without a file suffix (``"42"``) is written to ``42.xml`` with the image's own
        file name in ``<filename>``, which is what :func:`from_voc` reads back as the id.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    ValueError
        On missing columns, a row that is not a box, a box without positive size, an item id
        that is not a relative path, or two items that would share one XML file.
    """
    data = prepare(df)
    out = Path(out_dir)
    labels, kinds, attrs = data["label"].tolist(), data["kind"].tolist(), data["attributes"]
    xs, ys, ws, hs = (data[c].tolist() for c in ("x", "y", "w", "h"))
    files: dict[PurePosixPath, str] = {}
    planned: list[tuple[Path, str]] = []
    for image in group_images(data):
        rel = item_relpath(image.item_id)
        xml_rel = rel.with_suffix(".xml") if rel.suffix else rel.with_name(rel.name + ".xml")
        if xml_rel in files:
            raise ValueError(
                f"Every item must map to its own XML file. Items {files[xml_rel]!r} and "
                f"{image.item_id!r} both map to {str(xml_rel)!r}; give them distinct stems."
            )
        files[xml_rel] = image.item_id
        filename = rel.name if rel.suffix else Path(image.path).name
        parts = [
            _HEAD.format(
                folder=escape(Path(image.path).parent.name),
                filename=escape(filename),
                path=escape(image.path),
                width=image.width,
                height=image.height,
            )
        ]
        for i in image.rows:
            if kinds[i] != "box":
                raise ValueError(
                    f"`kind` must be 'box' for Pascal VOC, which holds boxes only. Got "
                    f"{kinds[i]!r} in row {i} (item {image.item_id!r}) instead; export polygons "
                    "and points with to_coco or to_yolo."
                )
            parts.append(_object_xml(labels[i], xs[i], ys[i], ws[i], hs[i], attrs[i]))
        parts.append("</annotation>\n")
        planned.append((out / xml_rel, "".join(parts)))
    out.mkdir(parents=True, exist_ok=True)
    made: set[Path] = set()
    for target, text in planned:  # written once every image has been checked
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_text(text, encoding="utf-8")
    return out


_HEAD = """<annotation>
\t<folder>{folder}</folder>
\t<filename>{filename}</filename>
\t<path>{path}</path>
\t<source>
\t\t<database>Unknown</database>
\t</source>
\t<size>
\t\t<width>{width}</width>
\t\t<height>{height}</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
"""


def _object_xml(label: str, x: float, y: float, w: float, h: float, attrs: dict) -> str:
    xmin, ymin = _round(x) + 1, _round(y) + 1
    xmax, ymax = max(_round(x + w), xmin), max(_round(y + h), ymin)
    pose = escape(str(attrs.get("pose", "Unspecified")))
    flags = {k: _flag_out(attrs[k], k) for k in _FLAGS if k in attrs}
    lines = [
        "\t<object>",
        f"\t\t<name>{escape(label)}</name>",
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
    others = {k: v for k, v in attrs.items() if k not in (*_FLAGS, "pose")}
    if others:
        lines.append("\t\t<attributes>")
        for key, value in others.items():
            lines.append(
                f"\t\t\t<attribute>\n\t\t\t\t<name>{escape(str(key))}</name>\n"
                f"\t\t\t\t<value>{escape(json.dumps(value))}</value>\n\t\t\t</attribute>"
            )
        lines.append("\t\t</attributes>")
    lines.append("\t</object>\n")
    return "\n".join(lines)


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _flag_out(value, key: str) -> int:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE | _FALSE:
            return int(text in _TRUE)
        raise ValueError(
            f"`attributes[{key!r}]` must be a boolean (or 0/1, 'true'/'false'). Got {value!r} instead."
        )
    return int(bool(value))


def from_voc(source: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read Pascal VOC XML files (LabelImg, CVAT, the VOC datasets).

    Parameters
    ----------
    source : str, path-like, or iterable of them
        A folder (every ``*.xml`` below it, sorted), one XML file, or a list of XML files.

    Returns
    -------
    pandas.DataFrame
        One row per ``<object>`` (an image without objects gives one row with ``label``
        missing): ``item_id, path, width, height, kind, label, x, y, w, h, attributes``.
        ``item_id`` is the XML file's folder relative to ``source`` joined with
        ``<filename>``; ``path`` is ``<path>`` if that file exists, else the file named
        ``<filename>`` beside the XML, else ``<path>`` as written. ``attributes`` holds
        ``truncated`` and ``difficult`` (bool), and ``occluded``, ``pose`` (other than
        ``Unspecified``) and CVAT ``<attributes>`` where present.

    Raises
    ------
    ValueError
        If a file is not well-formed XML (naming its line and column), or an element is
        missing or malformed (naming the file and the element), or no XML file is found.
    """
    rows: list[tuple] = []
    for xml_path, rel_parent in _xml_files(source):
        _read_one(xml_path, rel_parent, rows)
    return frame(rows)


def _xml_files(source) -> list[tuple[Path, PurePosixPath]]:
    if isinstance(source, str | os.PathLike):
        root = Path(source)
        if root.is_dir():
            files = sorted(root.rglob("*.xml"))
            if not files:
                raise ValueError(
                    f"`source` must be a folder holding VOC *.xml files. Got {str(root)!r}, "
                    "which holds none."
                )
            return [(f, PurePosixPath(f.parent.relative_to(root).as_posix())) for f in files]
        sources = [root]
    else:
        sources = [Path(s) for s in source]
    for path in sources:
        if not path.is_file():
            raise ValueError(
                f"`source` must be a folder or existing XML files. Got {str(path)!r} instead."
            )
    return [(p, PurePosixPath(".")) for p in sources]


def _read_one(xml_path: Path, rel_parent: PurePosixPath, rows: list[tuple]) -> None:
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise ValueError(
            f"{xml_path}, line {line}, column {column}: the file must be well-formed XML ({exc})."
        ) from exc
    if root.tag != "annotation":
        raise malformed(xml_path, "root element", "root element", "<annotation>", f"<{root.tag}>")
    filename = _text(root, "filename", xml_path, "<annotation>")
    name = PurePosixPath(filename.replace("\\", "/")).name
    item_id = str(rel_parent / name)
    recorded = root.findtext("path")
    path = existing_image(recorded.strip() if recorded else None, xml_path.parent, name)
    width, height = _size(root, xml_path, path)
    objects = root.findall("object")
    if not objects:
        rows.append(no_objects(item_id, path, width, height))
    for k, obj in enumerate(objects, start=1):
        where = f"<object> {k}"
        fields = {child.tag: child for child in obj}
        label = _text(obj, "name", xml_path, where)
        box = fields.get("bndbox")
        if box is None:
            raise malformed(xml_path, where, "<bndbox>", "present", None)
        corners = {child.tag: child.text for child in box}
        xmin, ymin, xmax, ymax = (
            _number(corners.get(t), t, xml_path, f"{where} <bndbox>")
            for t in ("xmin", "ymin", "xmax", "ymax")
        )
        for lo, hi, tag in ((xmin, xmax, "xmax"), (ymin, ymax, "ymax")):
            if hi < lo:
                raise malformed(xml_path, f"{where} <bndbox>", tag, f">= its min corner {lo:g}", hi)
        attrs = _attributes(fields, xml_path, where)
        rows.append(
            (item_id, path, width, height, "box", label, xmin - 1, ymin - 1,
             xmax - xmin + 1, ymax - ymin + 1, attrs)
        )  # fmt: skip


def _text(parent: ET.Element, tag: str, xml_path: Path, where: str) -> str:
    text = parent.findtext(tag)
    if text is None or not text.strip():
        raise malformed(xml_path, f"{where} <{tag}>", f"<{tag}>", "present and non-empty", text)
    return text.strip()


def _number(text: str | None, tag: str, xml_path: Path, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        if text is None or not text.strip():
            raise malformed(
                xml_path, f"{where} <{tag}>", f"<{tag}>", "present and non-empty", text
            ) from None
        value = math.nan
    if not math.isfinite(value):
        raise malformed(xml_path, f"{where} <{tag}>", f"<{tag}>", "a finite number", text)
    return value


def _size(root: ET.Element, xml_path: Path, path: str) -> tuple[int, int]:
    size = root.find("size")
    if size is not None and size.findtext("width") and size.findtext("height"):
        width = _number(size.findtext("width"), "width", xml_path, "<size>")
        height = _number(size.findtext("height"), "height", xml_path, "<size>")
        if width > 0 and height > 0:
            return int(round(width)), int(round(height))
    if Path(path).is_file():  # some files write a size of 0: the image knows
        return image_size(path)
    raise malformed(
        xml_path, "<size>", "<size>", "positive <width> and <height> (or the image beside it)", None
    )


def _attributes(fields: dict[str, ET.Element], xml_path: Path, where: str) -> dict:
    attrs: dict = {}
    pose = fields.get("pose")
    pose = (pose.text or "").strip() if pose is not None else ""
    if pose and pose != "Unspecified":
        attrs["pose"] = pose
    for key in _FLAGS:
        element = fields.get(key)
        if element is None:
            if key != "occluded":
                attrs[key] = False
            continue
        value = (element.text or "").strip().lower()
        if value not in _TRUE and value not in _FALSE:
            raise malformed(xml_path, f"{where} <{key}>", f"<{key}>", "0 or 1", element.text)
        attrs[key] = value in _TRUE
    extra = fields.get("attributes")
    for k, attribute in enumerate(extra if extra is not None else (), start=1):
        key = _text(attribute, "name", xml_path, f"{where} <attribute> {k}")
        raw = attribute.findtext("value") or ""
        try:
            attrs[key] = json.loads(raw)
        except json.JSONDecodeError:
            attrs[key] = raw  # CVAT writes plain text
    return attrs
