"""Exports never delete or write outside their folder, never follow a link, never remove a file
they did not write (a manifest lists what they wrote), and refuse a folder they did not write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from labelwidgets._validate import InputError
from labelwidgets.crops import export_crops
from labelwidgets.formats import to_coco, to_labelme, to_voc, to_yolo
from labelwidgets.formats._export import MANIFEST

CLASSES = ["cat", "dog"]


@pytest.fixture
def library(tmp_path) -> Path:
    """A user's photo library: photos that nothing may ever delete."""
    folder = tmp_path / "Photos"
    folder.mkdir()
    for k in range(3):
        Image.new("RGB", (60, 40), (50 * k, 80, 120)).save(folder / f"IMG_{k}.jpg")
    return folder


@pytest.fixture
def boxes(library) -> pd.DataFrame:
    rows = [(f"IMG_{k}.jpg", str(library / f"IMG_{k}.jpg"), CLASSES[k % 2], 5.0, 6.0, 20.0, 10.0)
            for k in range(3)]  # fmt: skip
    return pd.DataFrame(rows, columns=["item_id", "path", "label", "x", "y", "w", "h"])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


EXPORTERS = {
    "yolo": lambda df, out: to_yolo(df, out, CLASSES),
    "voc": lambda df, out: to_voc(df, out),
    "labelme": lambda df, out: to_labelme(df, out),
    "crops": lambda df, out: export_crops(df, out),
}


def test_to_yolo_never_deletes_through_a_linked_images_folder(boxes, library, tmp_path):
    before = _snapshot(library)
    out = tmp_path / "export"
    to_yolo(boxes, out, CLASSES)
    # the user replaces images/ with a link to their photo library, then exports again
    for path in sorted((out / "images").rglob("*"), key=lambda p: -len(p.parts)):
        path.unlink() if path.is_file() else path.rmdir()
    (out / "images").rmdir()
    (out / "images").symlink_to(library, target_is_directory=True)
    with pytest.raises(InputError, match=r"never writes through a link.*images"):
        to_yolo(boxes.iloc[:1], out, CLASSES)
    # labels only: the old images listed in the manifest lie behind the link, so stay
    to_yolo(boxes.iloc[:1], out, CLASSES, copy_images=False)
    assert _snapshot(library) == before  # nothing deleted, nothing written
    assert (out / "images").is_symlink() and (out / "labels/train/IMG_0.txt").is_file()


def test_exports_refuse_a_folder_they_did_not_write(boxes, library, tmp_path):
    before = _snapshot(library)
    for name, export in EXPORTERS.items():
        with pytest.raises(InputError, match=r"`out_dir` must be a new or empty folder, or one "
                           r"labelwidgets exported into .*Photos.*IMG_0\.jpg"):  # fmt: skip
            export(boxes, library)
        assert _snapshot(library) == before, name
    other = tmp_path / "yolo"
    to_yolo(boxes, other, CLASSES)
    with pytest.raises(InputError, match=r"must not hold another kind of export.*'yolo' export"):
        to_voc(boxes, other)


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_a_re_export_removes_only_what_the_last_one_wrote(name, boxes, tmp_path):
    out = tmp_path / name
    EXPORTERS[name](boxes, out)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["kind"] == name and manifest["files"]
    first = set(manifest["files"])
    assert first == {p.relative_to(out).as_posix() for p in out.rglob("*")
                     if p.is_file() and p.name != MANIFEST}  # fmt: skip
    (out / "notes.txt").write_text("mine")  # the user's own file in the export folder
    EXPORTERS[name](boxes.iloc[1:], out)
    second = set(json.loads((out / MANIFEST).read_text())["files"])
    assert second < first  # IMG_0's files are gone ...
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == (
        second | {MANIFEST, "notes.txt"}
    )  # ... and nothing else was touched
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_exports_never_overwrite_a_file_they_did_not_write_nor_follow_a_link(name, boxes, tmp_path):
    out = tmp_path / name
    EXPORTERS[name](boxes.iloc[1:], out)
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    # a link where a listed file was: removing or writing through it would reach outside
    victim = out / manifest[0]
    victim.unlink()
    victim.symlink_to(outside)
    with pytest.raises(InputError, match=r"never writes through a link"):
        EXPORTERS[name](boxes, out)
    victim.unlink()
    EXPORTERS[name](boxes.iloc[2:], out)  # the link gone, a stale listed file is simply missing
    assert outside.read_text() == "keep"
    # a file the export did not write, where this export would write, is not overwritten
    fresh = tmp_path / f"{name}2"
    EXPORTERS[name](boxes.iloc[2:], fresh)
    files = set(json.loads((fresh / MANIFEST).read_text())["files"])
    EXPORTERS[name](boxes, tmp_path / "probe")
    planned = set(json.loads((tmp_path / "probe" / MANIFEST).read_text())["files"]) - files
    target = fresh / sorted(planned)[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("user's own")
    with pytest.raises(InputError, match=r"must not replace a file it did not write"):
        EXPORTERS[name](boxes, fresh)
    assert target.read_text() == "user's own"


def test_to_coco_refuses_a_link_and_writes_whole_files(boxes, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    link = tmp_path / "coco.json"
    link.symlink_to(outside)
    with pytest.raises(InputError, match=r"`path` must name a regular file to write.*link"):
        to_coco(boxes, link, CLASSES)
    assert outside.read_text() == "{}"
    target = tmp_path / "real.json"
    to_coco(boxes, target, CLASSES)
    assert json.loads(target.read_text())["images"][0]["file_name"] == "IMG_0.jpg"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".real")] == []  # no temp


def test_a_failed_export_writes_nothing(boxes, tmp_path):
    bad = boxes.copy()
    bad.loc[2, "label"] = "bird"  # not in classes: found while planning, before any write
    with pytest.raises(InputError, match=r"`label` must be one of"):
        to_yolo(bad, tmp_path / "out", CLASSES)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert os.listdir(tmp_path) == ["Photos"] or "out" not in os.listdir(tmp_path)
