"""Files laid out exactly as the tools people use write them, read to the same boxes.

Each builder follows the tool's own writer (the source named in its docstring): CVAT's exports
(datumaro's VOC, YOLO and COCO converters), Roboflow's export folders, labelme's JSON and its
``labelme2voc.py``, LabelImg's ``pascal_voc_io.py`` / ``yolo_io.py``, and ultralytics' own
``Results.save_txt``, ``check_det_dataset`` and ``convert_coco``. The same boxes exported by
one tool to VOC, YOLO and COCO must read to identical DataFrames (to 1e-6 px).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SHARED_TESTDATA
from PIL import Image

from labelwidgets.formats import (
    from_coco,
    from_labelme,
    from_voc,
    from_yolo,
    to_coco,
    to_labelme,
    to_yolo,
)

CLASSES = ["cat", "dog"]
# sizes whose pixel fractions are exact in 6 decimals, so "%.6f" YOLO files are exact too
IMAGES = {"a.jpg": (400, 250), "b.jpg": (500, 200), "c.jpg": (250, 400)}
TRUTH = [  # item, label, x, y, w, h (continuous pixels); c.jpg has no objects
    ("a.jpg", "cat", 174.0, 23.0, 175.0, 80.0),
    ("a.jpg", "dog", 0.0, 100.5, 64.5, 149.5),
    ("b.jpg", "dog", 10.0, 20.0, 490.0, 180.0),
]
CORE = ["item_id", "width", "height", "kind", "label", "x", "y", "w", "h"]


def _images(folder: Path, names=IMAGES) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        Image.new("RGB", IMAGES[name], (40 * k, 90, 160)).save(folder / name)


def _objects_of(name: str):
    return [t for t in TRUTH if t[0] == name]


def _core(df: pd.DataFrame) -> pd.DataFrame:
    out = df[CORE].sort_values(["item_id", "x"], na_position="last").reset_index(drop=True)
    out = out.astype({"width": int, "height": int, "x": float, "y": float, "w": float, "h": float})
    out["label"] = out["label"].astype(object).where(out["label"].notna(), None)
    return out


def _truth() -> pd.DataFrame:
    rows = [(i, *IMAGES[i], "box", lab, x, y, w, h) for i, lab, x, y, w, h in TRUTH]
    rows.append(("c.jpg", *IMAGES["c.jpg"], "box", None, np.nan, np.nan, np.nan, np.nan))
    return _core(pd.DataFrame(rows, columns=CORE))


def _same(*frames: pd.DataFrame) -> None:
    want = _truth()
    for df in frames:
        got = _core(df)
        pd.testing.assert_frame_equal(
            got.drop(columns=["x", "y", "w", "h"]), want.drop(columns=["x", "y", "w", "h"]),
            check_dtype=False,
        )  # fmt: skip
        diff = np.abs(got[["x", "y", "w", "h"]].to_numpy() - want[["x", "y", "w", "h"]].to_numpy())
        assert np.nanmax(diff) <= 1e-6


# ------------------------------------------------------------------------------------ CVAT
def cvat_voc(root: Path) -> Path:
    """CVAT "PASCAL VOC 1.1": datumaro ``VocConverter`` (``_write_xml_bbox`` writes
    ``str(x)``, ``str(x + w)`` of float corners; ``<depth>`` empty; source ``Unknown``)."""
    _images(root / "JPEGImages")
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "default.txt").write_text("a\nb\nc\n")
    (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\ncat:::\ndog:::\n")
    for name, (w, h) in IMAGES.items():
        objects = "".join(
            f"<object><name>{lab}</name><truncated>0</truncated><occluded>0</occluded>"
            f"<difficult>0</difficult><bndbox><xmin>{float(x)}</xmin><ymin>{float(y)}</ymin>"
            f"<xmax>{float(x + bw)}</xmax><ymax>{float(y + bh)}</ymax></bndbox><attributes>"
            "<attribute><name>rotation</name><value>0.0</value></attribute></attributes></object>"
            for _, lab, x, y, bw, bh in _objects_of(name)
        )
        (root / "Annotations" / name.replace(".jpg", ".xml")).write_text(
            f"<annotation><folder></folder><filename>{name}</filename><source><database>Unknown"
            "</database><annotation>Unknown</annotation><image>Unknown</image></source><size>"
            f"<width>{w}</width><height>{h}</height><depth></depth></size><segmented>0"
            f"</segmented>{objects}</annotation>"
        )
    return root


def cvat_yolo(root: Path) -> Path:
    """CVAT "YOLO 1.1": datumaro ``YoloConverter`` (``obj.data`` with the ``data/`` prefix,
    ``train.txt`` naming ``data/obj_train_data/<image>``, labels "%.6f" beside images)."""
    _images(root / "obj_train_data")
    (root / "obj.names").write_text("".join(f"{c}\n" for c in CLASSES))
    (root / "train.txt").write_text("".join(f"data/obj_train_data/{n}\n" for n in IMAGES))
    (root / "obj.data").write_text(
        "classes = 2\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n"
    )
    for name, (w, h) in IMAGES.items():
        lines = "".join(
            f"{CLASSES.index(lab)} {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} "
            f"{bw / w:.6f} {bh / h:.6f}\n"
            for _, lab, x, y, bw, bh in _objects_of(name)
        )
        (root / "obj_train_data" / name.replace(".jpg", ".txt")).write_text(lines)
    return root / "obj.data"


def cvat_coco(root: Path) -> Path:
    """CVAT "COCO 1.0": datumaro ``CocoConverter`` (license 0, empty urls, ``date_captured``
    0, categories from 1, ``attributes`` with ``occluded`` and ``rotation``)."""
    _images(root / "images")
    images = [
        {"id": k, "width": w, "height": h, "file_name": n, "license": 0, "flickr_url": "",
         "coco_url": "", "date_captured": 0}
        for k, (n, (w, h)) in enumerate(IMAGES.items(), start=1)
    ]  # fmt: skip
    ids = {n: k for k, n in enumerate(IMAGES, start=1)}
    annotations = [
        {"id": k, "image_id": ids[n], "category_id": CLASSES.index(lab) + 1, "segmentation": [],
         "area": bw * bh, "bbox": [x, y, bw, bh], "iscrowd": 0,
         "attributes": {"occluded": False, "rotation": 0.0}}
        for k, (n, lab, x, y, bw, bh) in enumerate(TRUTH, start=1)
    ]  # fmt: skip
    doc = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"contributor": "", "date_created": "", "description": "", "url": "",
                 "version": "", "year": ""},
        "categories": [{"id": k, "name": c, "supercategory": ""}
                       for k, c in enumerate(CLASSES, start=1)],
        "images": images, "annotations": annotations,
    }  # fmt: skip
    (root / "annotations").mkdir(parents=True)
    path = root / "annotations" / "instances_default.json"
    path.write_text(json.dumps(doc))
    return path


def test_cvat_voc_yolo_and_coco_exports_read_to_the_same_boxes(tmp_path):
    voc = from_voc(cvat_voc(tmp_path / "voc"))
    yolo = from_yolo(cvat_yolo(tmp_path / "yolo"))
    coco = from_coco(cvat_coco(tmp_path / "coco"))
    _same(voc, yolo, coco)
    # CVAT's VOC and COCO say the same box: xmin=174, xmax=349 and x=174, w=175
    first = voc[voc["label"] == "cat"].iloc[0]
    assert (first["x"], first["w"]) == (174.0, 175.0)
    assert Path(voc["path"][0]).parent.name == "JPEGImages"  # the images were found
    assert voc["attributes"][0]["rotation"] == 0.0 and coco["attributes"][0]["occluded"] is False
    assert from_yolo(tmp_path / "yolo")["split"].eq("train").all()  # the folder works too


# -------------------------------------------------------------------------------- Roboflow
def roboflow_voc(root: Path) -> Path:
    """Roboflow "Pascal VOC": images and XML side by side per split, integer corners in the
    order xmin, xmax, ymin, ymax, ``<path>`` the file name, database ``roboflow.com``."""
    _images(root / "train")
    for name, (w, h) in IMAGES.items():
        objects = "".join(
            f"<object><name>{lab}</name><pose>Unspecified</pose><truncated>0</truncated>"
            f"<difficult>0</difficult><occluded>0</occluded><bndbox><xmin>{x:g}</xmin>"
            f"<xmax>{x + bw:g}</xmax><ymin>{y:g}</ymin><ymax>{y + bh:g}</ymax></bndbox></object>"
            for _, lab, x, y, bw, bh in _objects_of(name)
        )
        (root / "train" / name.replace(".jpg", ".xml")).write_text(
            f"<annotation><folder></folder><filename>{name}</filename><path>{name}</path><source>"
            f"<database>roboflow.com</database></source><size><width>{w}</width><height>{h}"
            f"</height><depth>3</depth></size><segmented>0</segmented>{objects}</annotation>"
        )
    return root / "train"


def roboflow_yolo(root: Path) -> Path:
    """Roboflow "YOLOv8": ``data.yaml`` naming splits ``../train/images`` (which ultralytics
    resolves by dropping ``../``), ``nc``, ``names`` and a ``roboflow`` block."""
    splits = {"train": ["a.jpg", "b.jpg"], "valid": ["c.jpg"]}
    for split, names in splits.items():
        _images(root / split / "images", names)
        (root / split / "labels").mkdir(parents=True)
        for name in names:
            w, h = IMAGES[name]
            (root / split / "labels" / name.replace(".jpg", ".txt")).write_text("".join(
                f"{CLASSES.index(lab)} {(x + bw / 2) / w} {(y + bh / 2) / h} {bw / w} {bh / h}\n"
                for _, lab, x, y, bw, bh in _objects_of(name)
            ))  # fmt: skip
    (root / "test" / "images").mkdir(parents=True)
    (root / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 2\n"
        "names: ['cat', 'dog']\n\nroboflow:\n  workspace: pets\n  project: pets-abc12\n"
        "  version: 3\n  license: CC BY 4.0\n"
        "  url: https://universe.roboflow.com/pets/pets-abc12/dataset/3\n"
    )
    return root


def roboflow_coco(root: Path) -> Path:
    """Roboflow "COCO": ``train/_annotations.coco.json`` beside the images; category 0 is the
    workspace (supercategory ``none``), ids from 0, ``extra.name`` the uploaded file name."""
    _images(root / "train")
    doc = {
        "info": {"year": "2026", "version": "3", "description": "Exported from roboflow.com"},
        "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/",
                      "name": "CC BY 4.0"}],
        "categories": [{"id": 0, "name": "pets", "supercategory": "none"}]
        + [{"id": k, "name": c, "supercategory": "pets"} for k, c in enumerate(CLASSES, 1)],
        "images": [
            {"id": k, "license": 1, "file_name": n, "height": h, "width": w,
             "date_captured": "2026-11-01T10:00:00+00:00", "extra": {"name": f"IMG_{k}.jpg"}}
            for k, (n, (w, h)) in enumerate(IMAGES.items())
        ],
        "annotations": [
            {"id": k, "image_id": list(IMAGES).index(n), "category_id": CLASSES.index(lab) + 1,
             "bbox": [x, y, bw, bh], "area": bw * bh, "segmentation": [], "iscrowd": 0}
            for k, (n, lab, x, y, bw, bh) in enumerate(TRUTH)
        ],
    }  # fmt: skip
    path = root / "train" / "_annotations.coco.json"
    path.write_text(json.dumps(doc))
    return path


def test_roboflow_voc_yolo_and_coco_exports_read_to_the_same_boxes(tmp_path):
    coco_path = roboflow_coco(tmp_path / "coco")
    voc = from_voc(roboflow_voc(tmp_path / "voc"))
    yolo = from_yolo(roboflow_yolo(tmp_path / "yolo"))
    coco = from_coco(coco_path)
    _same(voc, yolo, coco)
    assert yolo.drop_duplicates("item_id").set_index("item_id")["split"].to_dict() == {
        "a.jpg": "train", "b.jpg": "train", "c.jpg": "val",
    }  # fmt: skip
    assert voc["image_attributes"][0]["source"] == {"database": "roboflow.com"}
    # ids from 0 and the workspace category 0 (no annotations) survive a round trip
    out = json.loads(to_coco(coco, tmp_path / "again.json").read_text())
    original = json.loads(coco_path.read_text())
    assert out["categories"] == original["categories"]
    assert [im["id"] for im in out["images"]] == [0, 1, 2]
    assert out["images"][0]["extra"] == {"name": "IMG_0.jpg"}
    assert [a["id"] for a in out["annotations"]] == [0, 1, 2]


def test_ultralytics_resolves_roboflow_and_our_data_yaml_as_we_do(tmp_path):
    utils = pytest.importorskip("ultralytics.data.utils", reason="ultralytics is not installed")
    root = roboflow_yolo(tmp_path / "rf")
    config = utils.check_det_dataset(str(root / "data.yaml"), autodownload=False)
    assert Path(config["train"]) == (root / "train" / "images").resolve()
    assert Path(config["val"]) == (root / "valid" / "images").resolve()
    ours = from_yolo(root)
    data_yaml = to_yolo(ours, tmp_path / "ours", CLASSES)
    moved = tmp_path / "moved"
    data_yaml.parent.rename(moved)  # no absolute path inside: the folder still trains
    config = utils.check_det_dataset(str(moved / "data.yaml"), autodownload=False)
    assert Path(config["train"]) == (moved / "images" / "train").resolve()
    assert config["names"] == dict(enumerate(CLASSES))
    _same(from_yolo(moved))


# --------------------------------------------------------------------------------- labelme
def labelme_folder(root: Path) -> Path:
    """labelme 5.x ``LabelFile.save``: one JSON beside each image, rectangles as two corner
    points (drawn in any direction), ``imageData`` null."""
    _images(root)
    for name, (w, h) in IMAGES.items():
        shapes = [
            {"label": lab, "points": [[x + bw, y + bh], [x, y]] if k % 2 else [[x, y], [x + bw, y + bh]],
             "group_id": None, "description": "", "shape_type": "rectangle", "flags": {},
             "mask": None}
            for k, (_, lab, x, y, bw, bh) in enumerate(_objects_of(name))
        ]  # fmt: skip
        doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": name,
               "imageData": None, "imageHeight": h, "imageWidth": w}  # fmt: skip
        (root / name.replace(".jpg", ".json")).write_text(json.dumps(doc, indent=2))
    return root


def labelme2voc(labelme: Path, out: Path) -> Path:
    """labelme's ``examples/bbox_detection/labelme2voc.py``: corners ``str(float)`` as in the
    JSON (sorted), empty ``<pose/>``, ``<truncated/>``, ``<difficult/>``, ``<segmented/>``,
    ``<database/>``, height before width, images re-saved to ``JPEGImages/``."""
    _images(out / "JPEGImages")
    (out / "Annotations").mkdir(parents=True)
    for path in sorted(labelme.glob("*.json")):
        doc = json.loads(path.read_text())
        objects = ""
        for shape in doc["shapes"]:
            (x1, y1), (x2, y2) = shape["points"]
            xmin, xmax = sorted([x1, x2])
            ymin, ymax = sorted([y1, y2])
            objects += (
                f"<object><name>{shape['label']}</name><pose/><truncated/><difficult/><bndbox>"
                f"<xmin>{float(xmin)}</xmin><ymin>{float(ymin)}</ymin><xmax>{float(xmax)}</xmax>"
                f"<ymax>{float(ymax)}</ymax></bndbox></object>"
            )
        (out / "Annotations" / f"{path.stem}.xml").write_text(
            f"<annotation><folder/><filename>{path.stem}.jpg</filename><database/><annotation/>"
            f"<image/><size><height>{doc['imageHeight']}</height><width>{doc['imageWidth']}"
            f"</width><depth>3</depth></size><segmented/>{objects}</annotation>"
        )
    return out


def test_labelme_json_and_labelme2voc_read_to_the_same_boxes(tmp_path):
    folder = labelme_folder(tmp_path / "lm")
    from_json = from_labelme(folder)
    from_xml = from_voc(labelme2voc(folder, tmp_path / "voc"))
    _same(from_json, from_xml)
    assert Path(from_json["path"][0]) == folder / "a.jpg"


def test_labelme_round_trip_keeps_shapes_groups_and_flags(tmp_path):
    folder = labelme_folder(tmp_path / "lm")
    doc = json.loads((folder / "a.json").read_text())
    doc["flags"] = {"blurry": True}
    doc["shapes"] += [
        {"label": "cat", "points": [[10, 10], [30, 12], [20, 40]], "group_id": 4,
         "description": "ear", "shape_type": "polygon", "flags": {"occluded": True}, "mask": None},
        {"label": "cat", "points": [[50, 50], [60, 50], [55, 70]], "group_id": 4,
         "description": "ear", "shape_type": "polygon", "flags": {"occluded": True}, "mask": None},
        {"label": "dog", "points": [[5, 6]], "group_id": None, "description": "",
         "shape_type": "point", "flags": {}, "mask": None},
    ]  # fmt: skip
    (folder / "a.json").write_text(json.dumps(doc))
    df = from_labelme(folder)
    a = df[df["item_id"] == "a.jpg"].reset_index(drop=True)
    assert a["kind"].tolist() == ["box", "box", "polygon", "point"]
    two_parts = a["attributes"][2]
    assert two_parts["extra_parts"] == [[[50.0, 50.0], [60.0, 50.0], [55.0, 70.0]]]
    assert a[["x", "y", "w", "h"]].iloc[2].tolist() == [10, 10, 50, 60]  # covers both parts
    assert a["image_attributes"][0] == {"flags": {"blurry": True}}
    out = to_labelme(df, tmp_path / "out")
    written = json.loads((out / "a.json").read_text())
    assert written["imagePath"] == Path("../lm/a.jpg").as_posix() and written["imageData"] is None
    assert [s["shape_type"] for s in written["shapes"]] == [
        "rectangle", "rectangle", "polygon", "polygon", "point",
    ]  # fmt: skip
    assert written["shapes"][2]["group_id"] == written["shapes"][3]["group_id"] == 4
    back = from_labelme(out)
    pd.testing.assert_frame_equal(back, df)
    (folder / "b.json").write_text((folder / "b.json").read_text().replace("rectangle", "circle"))
    with pytest.raises(ValueError, match=r"b\.json, shapes\[0\]: `shape_type` must be one of"):
        from_labelme(folder)


# -------------------------------------------------------------------------------- LabelImg
LABELIMG = SHARED_TESTDATA / "labelimg"


@pytest.mark.skipif(not LABELIMG.is_dir(), reason=f"LabelImg test files not found at {LABELIMG}")
def test_labelimg_voc_and_its_yolo_export_agree(tmp_path):
    """LabelImg's own VOC files, and the YOLO files its ``YOLOWriter`` makes of the same boxes
    (``classes.txt`` beside the images, "%d %.6f %.6f %.6f %.6f")."""
    voc = from_voc(LABELIMG)
    folder = tmp_path / "yolo"
    folder.mkdir()
    classes: list[str] = []
    for xml in sorted(LABELIMG.glob("*.xml")):
        root = ET.parse(xml).getroot()
        image = LABELIMG / root.findtext("filename")
        (folder / image.name).symlink_to(image)
        w, h = int(root.findtext("size/width")), int(root.findtext("size/height"))
        lines = []
        for obj in root.findall("object"):
            xmin, ymin, xmax, ymax = (int(obj.findtext(f"bndbox/{t}"))
                                      for t in ("xmin", "ymin", "xmax", "ymax"))  # fmt: skip
            name = obj.findtext("name")
            if name not in classes:
                classes.append(name)
            lines.append("%d %.6f %.6f %.6f %.6f\n" % (  # noqa: UP031 (LabelImg's own format)
                classes.index(name), (xmin + xmax) / 2 / w, (ymin + ymax) / 2 / h,
                (xmax - xmin) / w, (ymax - ymin) / h))  # fmt: skip
        (folder / f"{image.stem}.txt").write_text("".join(lines))
    (folder / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    yolo = from_yolo(folder)
    a, b = _core(voc), _core(yolo)
    pd.testing.assert_frame_equal(a[["item_id", "label"]], b[["item_id", "label"]])
    tolerance = 1e-6 * np.array([a["width"], a["height"], a["width"], a["height"]]).T
    assert (np.abs(a[["x", "y", "w", "h"]].to_numpy() - b[["x", "y", "w", "h"]].to_numpy())
            <= tolerance + 1e-9).all()  # "%.6f" is the precision of LabelImg's YOLO files


# ------------------------------------------------------------------------------ ultralytics
def test_ultralytics_prediction_files_read_with_confidence_and_track_ids(tmp_path):
    """Label files written by ultralytics' own ``Results.save_txt`` (``save_conf``, tracking)."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    results = pytest.importorskip("ultralytics.engine.results", reason="ultralytics missing")
    w, h = IMAGES["a.jpg"]
    root = tmp_path / "pred"
    _images(root / "images" / "train", ["a.jpg"])
    boxes = [(x, y, x + bw, y + bh, CLASSES.index(lab)) for _, lab, x, y, bw, bh in _objects_of("a.jpg")]
    tracked = torch.tensor([[*b[:4], k + 5, 0.9 - 0.1 * k, b[4]] for k, b in enumerate(boxes)])
    result = results.Results(np.zeros((h, w, 3), np.uint8), path="a.jpg",
                             names=dict(enumerate(CLASSES)), boxes=tracked)  # fmt: skip
    label = root / "labels" / "train" / "a.txt"
    result.save_txt(label, save_conf=True)
    (root / "data.yaml").write_text(yaml.safe_dump({"train": "images/train", "val": "images/train",
                                                    "names": CLASSES}))  # fmt: skip
    df = from_yolo(root)
    assert len(label.read_text().splitlines()[0].split()) == 7
    assert df["kind"].tolist() == ["box", "box"]
    assert df["confidence"].tolist() == pytest.approx([0.9, 0.8])
    assert [a["track_id"] for a in df["attributes"]] == [5, 6]
    want = np.array([[x, y, bw, bh] for _, _, x, y, bw, bh in _objects_of("a.jpg")])
    assert np.abs(df[["x", "y", "w", "h"]].to_numpy() - want).max() < 0.5 / 1e4 * w  # "%g"


def test_to_yolo_matches_ultralytics_convert_coco(tmp_path):
    """ultralytics' ``convert_coco`` leaves crowd regions out and joins multi-part polygons;
    ``to_yolo`` of the same file writes the same outlines."""
    converter = pytest.importorskip("ultralytics.data.converter", reason="ultralytics missing")
    doc = json.loads(cvat_coco(tmp_path / "coco").read_text())
    doc["annotations"][0]["segmentation"] = [[174, 23, 260, 23, 260, 60], [300, 70, 349, 70, 349, 103]]
    doc["annotations"][1]["segmentation"] = [[0, 100.5, 64.5, 100.5, 64.5, 250, 0, 250]]
    doc["annotations"][2].update(iscrowd=1, segmentation={"size": [200, 500], "counts": [0, 10]})
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "instances_default.json").write_text(json.dumps(doc))
    converter.convert_coco(str(tmp_path / "ann"), str(tmp_path / "converted"), use_segments=True,
                           cls91to80=False)  # fmt: skip
    theirs = tmp_path / "converted" / "labels" / "default"
    df = from_coco(tmp_path / "ann" / "instances_default.json")
    to_yolo(df, tmp_path / "ours", CLASSES, copy_images=False)
    ours = tmp_path / "ours" / "labels" / "train"
    assert (theirs / "b.txt").read_text() == (ours / "b.txt").read_text() == ""  # crowd left out
    for a, b in zip((ours / "a.txt").read_text().splitlines(),
                    (theirs / "a.txt").read_text().splitlines(), strict=True):  # fmt: skip
        mine, other = np.array(a.split(), float), np.array(b.split(), float)
        assert mine[0] == other[0] and mine.shape == other.shape
        assert np.abs(mine - other).max() < 1e-5  # "%g" keeps 6 significant digits


def test_cvat_yolo_export_without_images_reads_with_items(tmp_path):
    """CVAT exports YOLO 1.1 without images when "save images" is off: sizes come from items."""
    obj_data = cvat_yolo(tmp_path / "yolo")
    for name in IMAGES:
        (obj_data.parent / "obj_train_data" / name).unlink()
    items = pd.DataFrame({"item_id": list(IMAGES), "path": [f"/photos/{n}" for n in IMAGES],
                          "width": [s[0] for s in IMAGES.values()],
                          "height": [s[1] for s in IMAGES.values()]})  # fmt: skip
    df = from_yolo(obj_data, items=items)
    _same(df)
    assert df["path"].str.startswith("/photos/").all()
    with pytest.raises(ValueError, match=r"An image named by 'train' must exist.*a\.jpg"):
        from_yolo(obj_data)


def test_multi_part_join_is_ultralytics_merge_multi_segment():
    converter = pytest.importorskip("ultralytics.data.converter", reason="ultralytics missing")
    from labelwidgets.formats._yolo_lines import merge_parts

    rng = np.random.default_rng(0)
    for _ in range(100):
        parts = [(rng.random((int(rng.integers(3, 8)), 2)) * 100).round(2).tolist()
                 for _ in range(int(rng.integers(2, 5)))]  # fmt: skip
        theirs = converter.merge_multi_segment([sum(p, []) for p in parts])
        assert merge_parts(parts) == np.concatenate(theirs, axis=0).tolist()
