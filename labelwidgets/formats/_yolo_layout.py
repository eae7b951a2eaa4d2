"""Finding a YOLO dataset's layout: its root, class names and splits (private).

ultralytics / Roboflow ``data.yaml``, CVAT "YOLO 1.1" ``obj.data`` (darknet) and LabelImg's
``classes.txt``. Every path is resolved as its tool resolves it and must lie inside the
dataset folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import yaml

from .._validate import InputError
from ._common import malformed

SPLITS = ("train", "val", "test")
_CVAT_SPLITS = {"train": "train", "valid": "val", "val": "val", "test": "test"}


class Layout(NamedTuple):
    """A dataset folder as read: its root, class names and ``(split, entry path)`` pairs."""

    root: Path
    config: Path
    names: list[str]
    splits: list[tuple[str, Path]]
    side_by_side: bool  # labels beside the images (CVAT, LabelImg), not under labels/


def find_layout(source: Path) -> Layout:
    if source.is_file() and source.name == "obj.data":
        return _cvat_layout(source)
    if source.is_dir():
        if (source / "obj.data").is_file():
            return _cvat_layout(source / "obj.data")
        yamls = [source / "data.yaml"] if (source / "data.yaml").is_file() else sorted(
            p for e in ("*.yaml", "*.yml") for p in source.glob(e)
        )
        if len(yamls) == 1:
            return _yaml_layout(yamls[0], source)
        if not yamls and (source / "classes.txt").is_file():
            names = _names_file(source / "classes.txt")
            return Layout(source.resolve(), source / "classes.txt", names, [("train", source.resolve())], True)
        raise InputError(
            f"`source` must be a YOLO folder holding data.yaml (ultralytics, Roboflow), obj.data "
            f"(CVAT YOLO 1.1) or classes.txt (LabelImg). Got {str(source)!r}, which holds "
            f"{[p.name for p in yamls] or 'none of them'}."
        )
    if source.is_file() and source.suffix in (".yaml", ".yml"):
        return _yaml_layout(source, source.parent)
    raise InputError(
        f"`source` must be a YOLO folder or its data.yaml / obj.data. Got {str(source)!r}."
    )


def _yaml_layout(yaml_path: Path, folder: Path) -> Layout:
    try:
        config = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise InputError(f"{yaml_path}, {where}: the file must be valid YAML ({exc}).") from exc
    if not isinstance(config, dict):
        raise malformed(yaml_path, "top level", "data.yaml", "a mapping", config)
    names = config.get("names")
    if isinstance(names, dict) and sorted(names) == list(range(len(names))):
        names = [names[k] for k in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise malformed(
            yaml_path, "names", "names", "a list of class names or a mapping {0: name, ...}", names
        )
    home = folder.resolve()
    root = _yaml_root(config.get("path"), home, yaml_path)
    splits = []
    for split in SPLITS:
        value = config.get(split)
        for entry in [] if value is None else value if isinstance(value, list) else [value]:
            text = str(entry)
            path = (root / text).resolve()
            if not path.exists() and text.startswith("../"):  # as ultralytics: Roboflow's ../train
                path = (root / text[3:]).resolve()
            check_inside(path, home, yaml_path, split, text)
            splits.append((split, path))
    return Layout(home, yaml_path, names, splits, False)


def _yaml_root(value, home: Path, yaml_path: Path) -> Path:
    """The folder splits are relative to: ``path`` when it lies inside the dataset folder."""
    if value in (None, ""):
        return home
    given = Path(str(value))
    if given.is_absolute() and not given.exists():
        return home  # written elsewhere and moved here with its folder
    root = (given if given.is_absolute() else home / given).resolve()
    check_inside(root, home, yaml_path, "path", str(value))
    return root


def check_inside(path: Path, home: Path, config: Path, key: str, value: str) -> None:
    if path != home and home not in path.parents:
        raise InputError(
            f"{config}, {key}: `{key}` must name a folder or file inside the dataset folder "
            f"{str(home)!r}. Got {value!r}, which is {str(path)!r}; a dataset is read from its "
            "own folder only (remove the line or move the data inside)."
        )


def _cvat_layout(obj_data: Path) -> Layout:
    home = obj_data.parent.resolve()
    fields = {}
    for n, line in enumerate(obj_data.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise malformed(obj_data, f"line {n}", "a line", "'key = value'", line)
        fields[key.strip()] = value.strip()
    if "names" not in fields:
        raise malformed(obj_data, "names", "names", "present (names = data/obj.names)", None)
    names = _names_file(_darknet_path(fields["names"], home, obj_data, "names"))
    splits = [
        (_CVAT_SPLITS[key], _darknet_path(value, home, obj_data, key))
        for key, value in fields.items()
        if key in _CVAT_SPLITS
    ]
    return Layout(home, obj_data, names, splits, True)


def _darknet_path(value: str, home: Path, config: Path, key: str) -> Path:
    """A darknet path: relative to the folder the archive is unpacked into as ``data/``."""
    path = (home / value).resolve()
    if not path.exists() and value.startswith("data/"):
        path = (home / value[5:]).resolve()
    check_inside(path, home, config, key, value)
    return path


def _names_file(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"`names` must name an existing class-name file. Got {str(path)!r}.")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or not all(names):
        raise malformed(path, "file", "the class names", "one non-empty name per line", names)
    return names


