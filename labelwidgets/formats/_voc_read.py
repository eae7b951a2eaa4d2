"""Reading Pascal VOC XML files, one image each (private; :func:`~labelwidgets.formats.from_voc`)."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from .._validate import InputError
from ._common import existing_image, files_below, image_size, malformed, no_objects

_FLAGS = ("truncated", "difficult", "occluded")
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}


def xml_files(source) -> list[tuple[Path, str, Path | None]]:
    """``(xml file, its folder relative to the annotation root, image folder or None)``."""
    if isinstance(source, str | os.PathLike):
        root = Path(source)
        if root.is_dir():
            images = None
            if (root / "Annotations").is_dir():
                root = root / "Annotations"
            if root.name == "Annotations" and (root.parent / "JPEGImages").is_dir():
                images = root.parent / "JPEGImages"
            files = files_below(root, (".xml",))
            if not files:
                raise InputError(
                    f"`source` must be a folder holding VOC *.xml files. Got {str(root)!r}, "
                    "which holds none."
                )
            cut = len(str(root)) + 1
            return [(f, os.path.dirname(f)[cut:].replace(os.sep, "/"), images) for f in files]
        sources = [root]
    else:
        sources = [Path(s) for s in source]
    for path in sources:
        if not path.is_file():
            raise InputError(
                f"`source` must be a folder or existing XML files. Got {str(path)!r} instead."
            )
    return [(p, "", None) for p in sources]


def read_one(xml_path: Path, rel_parent: str, images, devkit: bool, rows) -> str:
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise InputError(
            f"{xml_path}, line {line}, column {column}: the file must be well-formed XML ({exc})."
        ) from exc
    if root.tag != "annotation":
        raise malformed(xml_path, "root element", "root element", "<annotation>", f"<{root.tag}>")
    filename = _text(root, "filename", xml_path, "<annotation>")
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    item_id = f"{rel_parent}/{name}" if rel_parent else name
    recorded = root.findtext("path")
    beside = os.path.dirname(xml_path) if images is None else os.path.join(images, rel_parent)
    path = existing_image(recorded.strip() if recorded else None, beside, name)
    width, height = _size(root, xml_path, path)
    extra = _image_fields(root, xml_path)
    objects = root.findall("object")
    if not objects:
        rows.append((*no_objects(item_id, path, width, height), extra))
    shift = 1.0 if devkit else 0.0
    for k, obj in enumerate(objects, start=1):
        label, box, attrs = _object(obj)
        if box is None:  # something is off: read it again slowly, to name it
            label, box, attrs = _object_checked(obj, xml_path, f"<object> {k}")
        xmin, ymin, xmax, ymax = box
        rows.append(
            (item_id, path, width, height, "box", label, xmin - shift, ymin - shift,
             xmax - xmin + shift, ymax - ymin + shift, attrs, extra)
        )  # fmt: skip
    return item_id


_FLAG_VALUES = {"0": False, "1": True, "false": False, "true": True, "no": False, "yes": True,
                "": False}  # fmt: skip


def _object(obj: ET.Element):
    """``(label, (xmin, ymin, xmax, ymax), attributes)`` in one pass; box None when malformed."""
    label = box = None
    attrs: dict = {"truncated": False, "difficult": False}
    for child in obj:
        tag = child.tag
        if tag == "name":
            label = (child.text or "").strip()
        elif tag == "bndbox":
            box = child
        elif tag in _FLAGS:
            value = _FLAG_VALUES.get((child.text or "").strip().lower())
            if value is None:
                return None, None, None
            attrs[tag] = value
        elif tag == "pose":
            pose = (child.text or "").strip()
            if pose and pose != "Unspecified":
                attrs["pose"] = pose
        elif tag == "attributes":
            return None, None, None  # CVAT attributes: the careful path
    if not label or box is None:
        return None, None, None
    try:
        corners = (float(box.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))
        xmin, ymin, xmax, ymax = corners
    except (TypeError, ValueError):
        return None, None, None
    if not math.isfinite(xmin + ymin + xmax + ymax) or xmax < xmin or ymax < ymin:
        return None, None, None
    return label, (xmin, ymin, xmax, ymax), attrs


def _object_checked(obj: ET.Element, xml_path: Path, where: str):
    """:func:`_object`, element by element, raising an error that names the bad one."""
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
    return label, (xmin, ymin, xmax, ymax), _attributes(fields, xml_path, where)


def _image_fields(root: ET.Element, xml_path: Path) -> dict:
    extra: dict = {}
    if root.get("verified") == "yes":
        extra["verified"] = True
    segmented = (root.findtext("segmented") or "").strip()
    if segmented:
        if segmented not in ("0", "1"):
            raise malformed(xml_path, "<segmented>", "<segmented>", "0 or 1", segmented)
        extra["segmented"] = int(segmented)
    for tag in ("source", "owner"):
        element = root.find(tag)
        if element is not None and len(element):
            extra[tag] = {child.tag: (child.text or "").strip() for child in element}
    depth = (root.findtext("size/depth") or "").strip()
    if depth.isdigit():
        extra["depth"] = int(depth)
    return extra


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
