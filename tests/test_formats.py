"""Round trips and error messages of the VOC, YOLO and COCO readers and writers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from labelwidgets.formats import from_coco, from_voc, from_yolo, to_coco, to_voc, to_yolo
from labelwidgets.formats._common import image_size, prepare

LABELIMG = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "labelimg"
needs_labelimg = pytest.mark.skipif(
    not LABELIMG.is_dir(), reason=f"LabelImg test files not found at {LABELIMG}"
)
CLASSES = ["frill", "red", "goldEmbroidery"]


def _save(path: Path, size, color, orientation: int | None = None) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image.paste((255, 255, 255), (2, 2, 12, 8))
    if orientation is None:
        image.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(path, exif=exif)
    return str(path)


@pytest.fixture
def boxes(tmp_path) -> pd.DataFrame:
    """Four images (one in a sub-folder, one stored on its side with EXIF orientation 6, one
    without objects) and float boxes in the upright frame; no width/height columns."""
    root = tmp_path / "src"
    a = _save(root / "a.jpg", (64, 48), (200, 30, 30))
    b = _save(root / "sub" / "b.png", (80, 60), (30, 200, 30))
    rot = _save(root / "rot.jpg", (60, 40), (30, 30, 200), orientation=6)  # upright: 40 x 60
    empty = _save(root / "empty.jpg", (50, 50), (90, 90, 90))
    rows = [
        ("a.jpg", a, "frill", 3.25, 4.5, 20.0, 10.75, {"truncated": True}),
        ("a.jpg", a, "red", 30.0, 20.0, 33.5, 27.25, None),
        ("a.jpg", a, "frill", 0.0, 0.0, 64.0, 48.0, '{"occluded": true, "note": "x"}'),
        ("sub/b.png", b, "goldEmbroidery", 10.1, 12.9, 40.3, 30.7, {"difficult": True}),
        ("rot.jpg", rot, "red", 5.0, 35.0, 30.0, 20.0, None),
        ("rot.jpg", rot, "frill", 1.5, 2.5, 20.0, 30.0, None),
        ("empty.jpg", empty, None, np.nan, np.nan, np.nan, np.nan, None),
    ]
    return pd.DataFrame(
        rows, columns=["item_id", "path", "label", "x", "y", "w", "h", "attributes"]
    )


def _objects(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["label"].notna()].reset_index(drop=True)


# ------------------------------------------------------------------ shared behaviour
def test_prepare_reads_exif_corrected_sizes(boxes):
    data = prepare(boxes)
    sizes = data.drop_duplicates("item_id").set_index("item_id")[["width", "height"]]
    assert sizes.loc["rot.jpg"].tolist() == [40, 60]
    assert sizes.loc["a.jpg"].tolist() == [64, 48]
    assert image_size(boxes["path"][4]) == (40, 60)


def test_prepare_refuses_missing_columns_and_bad_boxes(boxes):
    with pytest.raises(ValueError, match=r"must have columns .*Missing \['w'\]"):
        prepare(boxes.drop(columns=["w"]))
    bad = boxes.copy()
    bad.loc[1, "w"] = 0
    with pytest.raises(ValueError, match=r"positive `w, h`.*row 1 \(item 'a.jpg'\)"):
        prepare(bad)
    with pytest.raises(ValueError, match=r"`kind` must be one of \['box', 'polygon', 'point'\]"):
        prepare(boxes.assign(kind="label"))
    with pytest.raises(ValueError, match=r"`attributes` must be a dict or the JSON text"):
        prepare(boxes.assign(attributes="[1, 2]"))


# ---------------------------------------------------------------------------- VOC
@needs_labelimg
def test_from_voc_reads_exactly_the_labelimg_boxes():
    df = from_voc(LABELIMG)
    for xml in sorted(LABELIMG.glob("*.xml")):
        root = ET.parse(xml).getroot()
        name = root.findtext("filename")
        rows = df[df["item_id"] == name].reset_index(drop=True)
        objects = root.findall("object")
        assert len(rows) == len(objects) > 0
        for row, obj in zip(rows.itertuples(), objects, strict=True):
            corners = [int(obj.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")]
            assert row.label == obj.findtext("name")
            assert [row.x + 1, row.y + 1, row.x + row.w, row.y + row.h] == corners
        assert rows["width"][0] == int(root.findtext("size/width"))
        assert rows["height"][0] == int(root.findtext("size/height"))
        assert Path(rows["path"][0]) == xml.with_name(name)  # the recorded path does not exist
    assert len(df) == 51


@needs_labelimg
def test_to_voc_writes_the_labelimg_corners_back(tmp_path):
    to_voc(from_voc(LABELIMG), tmp_path)
    for xml in sorted(LABELIMG.glob("*.xml")):
        original, written = ET.parse(xml).getroot(), ET.parse(tmp_path / xml.name).getroot()
        for tag in ("filename", "size/width", "size/height", "size/depth", "segmented"):
            assert written.findtext(tag) == original.findtext(tag)
        pairs = zip(original.findall("object"), written.findall("object"), strict=True)
        for a, b in pairs:
            for tag in ("name", "pose", "truncated", "difficult", "bndbox/xmin", "bndbox/ymin",
                        "bndbox/xmax", "bndbox/ymax"):  # fmt: skip
                assert b.findtext(tag) == a.findtext(tag), (xml.name, tag)


def test_voc_round_trip_to_the_integer_pixel(boxes, tmp_path):
    out = to_voc(boxes, tmp_path / "voc")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xml")) == [
        "a.xml", "empty.xml", "rot.xml", "sub/b.xml",
    ]  # fmt: skip
    back = from_voc(out)
    assert sorted(back["item_id"].unique()) == ["a.jpg", "empty.jpg", "rot.jpg", "sub/b.png"]
    want = _objects(boxes).sort_values(["item_id", "x"]).reset_index(drop=True)
    got = _objects(back).sort_values(["item_id", "x"]).reset_index(drop=True)
    assert got["item_id"].tolist() == want["item_id"].tolist()
    assert got["label"].tolist() == want["label"].tolist()
    for col in ("x", "y"):
        assert np.abs(got[col] - want[col]).max() <= 0.5
    for far, near in (("x", "w"), ("y", "h")):
        assert np.abs((got[far] + got[near]) - (want[far] + want[near])).max() <= 0.5
    assert (got[["x", "y", "w", "h"]] % 1 == 0).all().all()  # integer corners
    empty = back[back["item_id"] == "empty.jpg"]
    assert len(empty) == 1 and empty["label"].isna().all()
    rot = back[back["item_id"] == "rot.jpg"].iloc[0]
    assert (rot["width"], rot["height"]) == (40, 60)
    # integer boxes come back exactly, and a second round trip changes nothing
    again = from_voc(to_voc(back, tmp_path / "voc2"))
    pd.testing.assert_frame_equal(again.drop(columns="path"), back.drop(columns="path"))


def test_voc_attributes_round_trip(boxes, tmp_path):
    back = from_voc(to_voc(boxes, tmp_path))
    attrs = {(r.item_id, r.label, round(r.x)): r.attributes for r in _objects(back).itertuples()}
    assert attrs[("a.jpg", "frill", 3)] == {"truncated": True, "difficult": False}
    assert attrs[("a.jpg", "frill", 0)] == {
        "truncated": False, "difficult": False, "occluded": True, "note": "x",
    }  # fmt: skip
    assert attrs[("sub/b.png", "goldEmbroidery", 10)] == {"truncated": False, "difficult": True}
    text = (tmp_path / "a.xml").read_text()
    assert "<occluded>1</occluded>" in text and "<name>note</name>" in text


def test_from_voc_reads_float_corners(tmp_path):
    xml = tmp_path / "f.xml"
    xml.write_text(
        "<annotation><filename>f.jpg</filename><size><width>100</width><height>80</height>"
        "<depth>3</depth></size><object><name>red</name><bndbox><xmin>10.4</xmin>"
        "<ymin>5.5</ymin><xmax>30.25</xmax><ymax>40.75</ymax></bndbox></object></annotation>"
    )
    row = from_voc(xml).iloc[0]
    assert (row["x"], row["y"]) == pytest.approx((9.4, 4.5))
    assert (row["x"] + row["w"], row["y"] + row["h"]) == pytest.approx((30.25, 40.75))
    assert row["attributes"] == {"truncated": False, "difficult": False}
    written = ET.parse(to_voc(from_voc(xml), tmp_path / "out") / "f.xml").getroot()
    corners = [written.findtext(f"object/bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")]
    assert corners == ["10", "6", "30", "41"]  # 1-based integers, each within half a pixel


def test_from_voc_errors_name_the_file_and_element(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<annotation>\n<filename>a.jpg</filename>\n<object>\n</annotation>\n")
    with pytest.raises(
        ValueError, match=r"bad\.xml, line 4, column 2: the file must be well-formed"
    ):
        from_voc(bad)
    bad.write_text(
        "<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height></size>"
        "<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>oops</xmax>"
        "<ymax>3</ymax></bndbox></object></annotation>"
    )
    with pytest.raises(
        ValueError, match=r"bad\.xml, <object> 1 <bndbox> <xmax>: .* a finite number\. Got 'oops'"
    ):
        from_voc(bad)
    bad.write_text("<annotation><filename>a.jpg</filename><size><width>9</width>"
                   "<height>9</height></size><object><bndbox/></object></annotation>")  # fmt: skip
    with pytest.raises(ValueError, match=r"<object> 1 <name>: `<name>` must be present"):
        from_voc(bad)
    bad.write_text("<annotation><filename>a.jpg</filename><size><width>9</width>"
                   "<height>9</height></size><object><name>x</name><truncated>maybe</truncated>"
                   "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"
                   "</object></annotation>")  # fmt: skip
    with pytest.raises(ValueError, match=r"<truncated>` must be 0 or 1\. Got 'maybe'"):
        from_voc(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds none"):
        from_voc(tmp_path / "empty")


def test_to_voc_refuses_polygons(boxes, tmp_path):
    poly = boxes.assign(kind="box")
    poly.loc[0, "kind"] = "polygon"
    poly.loc[0, "attributes"] = json.dumps({"points": [[1, 1], [5, 1], [5, 5]]})
    with pytest.raises(
        ValueError, match=r"`kind` must be 'box' for Pascal VOC.*'polygon' in row 0"
    ):
        to_voc(poly, tmp_path)


# --------------------------------------------------------------------------- YOLO
def test_yolo_round_trip_within_1e6_of_the_image(boxes, tmp_path):
    split = boxes.assign(split=["train"] * 3 + ["val"] + ["train"] * 3)
    data_yaml = to_yolo(split, tmp_path / "yolo", CLASSES)
    config = yaml.safe_load(data_yaml.read_text())
    assert config == {
        "path": str((tmp_path / "yolo").resolve()), "train": "images/train",
        "val": "images/val", "names": {0: "frill", 1: "red", 2: "goldEmbroidery"},
    }  # fmt: skip
    root = tmp_path / "yolo"
    assert (root / "images/val/sub/b.png").is_file() and (root / "labels/val/sub/b.txt").is_file()
    assert (root / "labels/train/empty.txt").read_text() == ""
    first = (root / "labels/train/a.txt").read_text().splitlines()[0].split()
    assert first[0] == "0" and len(first) == 5
    back = from_yolo(root)
    want = _objects(boxes).sort_values(["item_id", "x"]).reset_index(drop=True)
    got = _objects(back).sort_values(["item_id", "x"]).reset_index(drop=True)
    assert got["item_id"].tolist() == want["item_id"].tolist()
    assert got["label"].tolist() == want["label"].tolist()
    assert got["kind"].eq("box").all()
    for col, side in (("x", "width"), ("w", "width"), ("y", "height"), ("h", "height")):
        assert (np.abs(got[col] - want[col]) <= 1e-6 * got[side]).all(), col
    splits = back.drop_duplicates("item_id").set_index("item_id")["split"].to_dict()
    assert splits == {
        "a.jpg": "train",
        "empty.jpg": "train",
        "rot.jpg": "train",
        "sub/b.png": "val",
    }
    assert back.loc[back["item_id"] == "empty.jpg", "label"].isna().all()


def test_to_yolo_writes_exif_rotated_images_upright(boxes, tmp_path):
    to_yolo(boxes, tmp_path, CLASSES)
    with Image.open(tmp_path / "images/train/rot.jpg") as im:
        assert im.size == (40, 60)
        assert im.getexif().get(0x0112, 1) == 1
    with Image.open(boxes["path"][0]) as src, Image.open(tmp_path / "images/train/a.jpg") as dst:
        assert src.tobytes() == dst.tobytes()  # images without rotation are copied as they are
    back = from_yolo(tmp_path)
    rot = back[back["item_id"] == "rot.jpg"].iloc[0]
    assert (rot["width"], rot["height"]) == (40, 60)


def test_to_yolo_val_fraction_is_seeded(boxes, tmp_path):
    to_yolo(boxes, tmp_path / "a", CLASSES, copy_images=False, val_fraction=0.5, random_state=3)
    to_yolo(boxes.iloc[::-1], tmp_path / "b", CLASSES, copy_images=False, val_fraction=0.5,
            random_state=3)  # fmt: skip
    val_a = sorted(p.name for p in (tmp_path / "a/labels/val").rglob("*.txt"))
    val_b = sorted(p.name for p in (tmp_path / "b/labels/val").rglob("*.txt"))
    assert len(val_a) == 2 and val_a == val_b
    with pytest.raises(ValueError, match=r"`val_fraction` must be a number in \[0, 1\)"):
        to_yolo(boxes, tmp_path / "c", CLASSES, val_fraction=1.5)


def test_from_yolo_with_items_needs_no_images(boxes, tmp_path):
    ids = boxes.assign(item_id=boxes["item_id"].str.replace(".jpg", "", regex=False))
    to_yolo(ids, tmp_path, CLASSES, copy_images=False)
    assert not any((tmp_path / "images").rglob("*.*"))
    items = prepare(ids).drop_duplicates("item_id")[["item_id", "path", "width", "height"]]
    back = from_yolo(tmp_path, items=items)
    assert sorted(back["item_id"].unique()) == ["a", "empty", "rot", "sub/b.png"]
    assert len(_objects(back)) == len(_objects(boxes))
    with pytest.raises(ValueError, match=r"a\.txt: a label file must have an image"):
        from_yolo(tmp_path, items=items[items["item_id"] != "a"])


def test_from_yolo_errors_name_the_file_and_line(boxes, tmp_path):
    to_yolo(boxes, tmp_path, CLASSES)
    label = tmp_path / "labels/train/a.txt"
    cases = [
        ("0 0.5 0.5 0.2\n", r"a\.txt, line 1: `a line` must be 'class cx cy w h' .* it has 4"),
        (
            "0 0.5 0.5 0.2 0.2\n1 0.5 x 0.2 0.2\n",
            r"a\.txt, line 2: `every field` must be a number\. Got 'x'",
        ),
        (
            "3 0.5 0.5 0.2 0.2\n",
            r"line 1: `the class id` must be an integer in \[0, 2\] \(names: \['frill'",
        ),
        ("0.5 0.5 0.5 0.2 0.2\n", r"line 1: `the class id` must be an integer"),
        ("0 0.5 0.5 0 0.2\n", r"line 1: `w and h` must be positive"),
        ("0 0.1 0.1 0.5 0.1 0.5 0.5 0.9\n", r"line 1: `a line` must be .* it has 8"),
    ]
    for text, message in cases:
        label.write_text(text)
        with pytest.raises(ValueError, match=message):
            from_yolo(tmp_path)
    label.unlink()
    (tmp_path / "labels/train/ghost.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(ValueError, match=r"ghost\.txt: a label file must have an image"):
        from_yolo(tmp_path)
    (tmp_path / "data.yaml").write_text("train: images/train\n")
    with pytest.raises(
        ValueError, match=r"data\.yaml, names: `names` must be a list of class names"
    ):
        from_yolo(tmp_path)


def test_to_yolo_refuses_unknown_classes_points_and_mixed_files(boxes, tmp_path):
    with pytest.raises(
        ValueError, match=r"`label` must be one of \['frill', 'red'\].*'goldEmbroidery' in row 3"
    ):
        to_yolo(boxes, tmp_path, ["frill", "red"])
    with pytest.raises(ValueError, match=r"`classes` must be unique"):
        to_yolo(boxes, tmp_path, ["frill", "frill"])
    mixed = boxes.assign(kind="box")
    mixed.loc[1, "kind"] = "polygon"
    mixed.loc[1, "attributes"] = json.dumps({"points": [[1, 1], [5, 1], [5, 5]]})
    with pytest.raises(ValueError, match=r"only boxes or only polygons.*item 'a\.jpg'"):
        to_yolo(mixed, tmp_path, CLASSES)
    mixed.loc[1, "kind"] = "point"
    with pytest.raises(
        ValueError, match=r"`kind` must be 'box' or 'polygon' for YOLO. Got 'point'"
    ):
        to_yolo(mixed, tmp_path, CLASSES)


def test_to_yolo_clips_boxes_partly_outside_and_refuses_boxes_outside(boxes, tmp_path):
    partly = boxes.copy()
    partly.loc[0, ["x", "w"]] = [-10.0, 20.0]
    with pytest.warns(UserWarning, match=r"1 boxes or polygons lay partly outside"):
        to_yolo(partly, tmp_path / "p", CLASSES, copy_images=False)
    row = (tmp_path / "p/labels/train/a.txt").read_text().splitlines()[0].split()
    assert float(row[1]) == pytest.approx(5 / 64) and float(row[3]) == pytest.approx(10 / 64)
    outside = boxes.copy()
    outside.loc[0, "x"] = 500.0
    with pytest.raises(ValueError, match=r"A box must overlap its image \(64 x 48 pixels\).*row 0"):
        to_yolo(outside, tmp_path / "o", CLASSES, copy_images=False)


@pytest.mark.train
def test_to_yolo_output_trains_in_ultralytics_without_dropped_images(tmp_path):
    from labelwidgets._offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO
    from ultralytics.data.utils import load_dataset_cache_file

    rows = []
    for k in range(4):
        orientation = 6 if k == 0 else None
        path = _save(tmp_path / "src" / f"img{k}.jpg", (64, 48), (40 * k, 90, 160), orientation)
        w, h = (48, 64) if k == 0 else (64, 48)  # the upright frame
        rows.append((f"img{k}.jpg", path, CLASSES[k % 3], 4.0, 6.0, w / 2, h / 2))
    df = pd.DataFrame(rows, columns=["item_id", "path", "label", "x", "y", "w", "h"])
    data_yaml = to_yolo(df, tmp_path / "ds", CLASSES, val_fraction=0.25)
    YOLO("yolov8n.yaml").train(
        data=str(data_yaml), epochs=1, imgsz=64, device="cpu", workers=0, batch=2,
        project=str(tmp_path / "runs"), name="fit", plots=False, verbose=False, amp=False,
    )  # fmt: skip
    counts = {}
    for split in ("train", "val"):
        cache = load_dataset_cache_file(tmp_path / "ds" / "labels" / f"{split}.cache")
        n_found, n_missing, n_empty, n_corrupt, n_images = cache["results"]
        counts[split] = (n_found, n_corrupt, n_images)
        assert not [m for m in cache["msgs"] if "corrupt" in m]
    assert counts == {"train": (3, 0, 3), "val": (1, 0, 1)}


# --------------------------------------------------------------------------- COCO
def test_coco_round_trip_is_exact(boxes, tmp_path):
    path = to_coco(boxes, tmp_path / "ann" / "coco.json", CLASSES)
    doc = json.loads(path.read_text())
    assert set(doc) == {"info", "licenses", "images", "annotations", "categories"}
    assert doc["categories"] == [
        {"id": 1, "name": "frill", "supercategory": ""}, {"id": 2, "name": "red", "supercategory": ""},
        {"id": 3, "name": "goldEmbroidery", "supercategory": ""},
    ]  # fmt: skip
    first = doc["annotations"][0]
    assert first["bbox"] == [3.25, 4.5, 20.0, 10.75] and first["area"] == 20.0 * 10.75
    assert {k: first[k] for k in ("id", "image_id", "category_id", "iscrowd")} == {
        "id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
    }  # fmt: skip
    rot = next(im for im in doc["images"] if im["file_name"] == "rot.jpg")
    assert (rot["width"], rot["height"]) == (40, 60)
    back = from_coco(path)
    want = prepare(boxes)
    cols = ["item_id", "path", "width", "height", "kind", "label", "x", "y", "w", "h"]
    pd.testing.assert_frame_equal(
        back[cols].astype(object), want[cols].astype(object).reset_index(drop=True)
    )
    assert back["attributes"][0] == {"truncated": True}
    assert back["attributes"][2] == {"occluded": True, "note": "x"}


def test_from_coco_errors_name_the_element(boxes, tmp_path):
    path = to_coco(boxes, tmp_path / "coco.json", CLASSES)
    doc = json.loads(path.read_text())

    def broken(change) -> Path:
        copy = json.loads(json.dumps(doc))
        change(copy)
        target = tmp_path / "broken.json"
        target.write_text(json.dumps(copy))
        return target

    with pytest.raises(ValueError, match=r"annotations\[1\]: `bbox` must be present"):
        from_coco(broken(lambda d: d["annotations"][1].pop("bbox")))
    with pytest.raises(
        ValueError,
        match=r"annotations\[0\] \(id 1\): `category_id` must be one of the category ids \[1, 2, 3\]\. Got 9",
    ):
        from_coco(broken(lambda d: d["annotations"][0].update(category_id=9)))
    with pytest.raises(ValueError, match=r"annotations\[0\] \(id 1\): `image_id` must be the id"):
        from_coco(broken(lambda d: d["annotations"][0].update(image_id=99)))
    with pytest.raises(ValueError, match=r"images\[0\]: `width` must be present"):
        from_coco(broken(lambda d: d["images"][0].pop("width")))
    with pytest.raises(ValueError, match=r"top level: `categories` must be a list"):
        from_coco(broken(lambda d: d.pop("categories")))
    with pytest.raises(ValueError, match=r"`bbox` must be a list of 4 finite numbers"):
        from_coco(broken(lambda d: d["annotations"][0].update(bbox=[1, 2, "3", 4])))
    (tmp_path / "bad.json").write_text('{"images": [\n  {"id": 1,,}\n]}')
    with pytest.raises(
        ValueError, match=r"bad\.json, line 2, column 12: the file must be valid JSON"
    ):
        from_coco(tmp_path / "bad.json")
    with pytest.raises(ValueError, match=r"`label` must be one of \['frill'\]"):
        to_coco(boxes, tmp_path / "x.json", ["frill"])


# ------------------------------------------------------------- polygons and points
@pytest.fixture
def shapes(boxes) -> pd.DataFrame:
    a, b = boxes["path"][0], boxes["path"][3]
    rows = [
        ("a.jpg", a, "polygon", "red", {"points": [[1.5, 2.25], [40.125, 3.0], [20.0, 30.5]]}),
        (
            "a.jpg",
            a,
            "polygon",
            "frill",
            {"points": [[0, 0], [64, 0], [64, 48], [0, 48]], "occluded": True},
        ),
        (
            "sub/b.png",
            b,
            "polygon",
            "goldEmbroidery",
            {"points": [[10.1, 12.9], [70.3, 15.2], [50.0, 59.9], [12.0, 40.0]]},
        ),
    ]
    df = pd.DataFrame(rows, columns=["item_id", "path", "kind", "label", "attributes"])
    return df.assign(x=np.nan, y=np.nan, w=np.nan, h=np.nan)


def test_polygons_round_trip_through_coco_exactly(shapes, tmp_path):
    path = to_coco(shapes, tmp_path / "seg.json", CLASSES)
    doc = json.loads(path.read_text())
    assert doc["annotations"][0]["segmentation"] == [[1.5, 2.25, 40.125, 3.0, 20.0, 30.5]]
    assert doc["annotations"][1]["area"] == 64 * 48
    assert doc["annotations"][0]["bbox"] == [1.5, 2.25, 38.625, 28.25]
    back = from_coco(path)
    assert back["kind"].eq("polygon").all()
    assert [a["points"] for a in back["attributes"]] == [
        [[float(v) for v in p] for p in a["points"]] for a in shapes["attributes"]
    ]
    assert back["attributes"][1]["occluded"] is True
    assert back[["x", "y", "w", "h"]].iloc[0].tolist() == [1.5, 2.25, 38.625, 28.25]


def test_polygons_round_trip_through_yolo_seg(shapes, tmp_path):
    to_yolo(shapes, tmp_path, CLASSES)
    line = (tmp_path / "labels/train/a.txt").read_text().splitlines()[0].split()
    assert line[0] == "1" and len(line) == 7
    back = from_yolo(tmp_path)
    assert back["kind"].eq("polygon").all() and back["label"].tolist() == shapes["label"].tolist()
    for got, want, w, h in zip(
        back["attributes"], shapes["attributes"], back["width"], back["height"], strict=True
    ):
        diff = np.abs(np.array(got["points"]) - np.array(want["points"], dtype=float))
        assert (diff <= 1e-6 * np.array([w, h])).all()


def test_points_round_trip_through_coco(boxes, tmp_path):
    a = boxes["path"][0]
    df = pd.DataFrame({
        "item_id": ["a.jpg", "a.jpg"], "path": [a, a], "kind": ["point", "point"],
        "label": ["red", "frill"], "x": [12.5, np.nan], "y": [7.25, np.nan],
        "w": [0.0, np.nan], "h": [0.0, np.nan],
        "attributes": [None, {"points": [[1.0, 2.0], [3.5, 4.5]]}],
    })  # fmt: skip
    doc_path = to_coco(df, tmp_path / "pts.json", CLASSES)
    ann = json.loads(doc_path.read_text())["annotations"][0]
    assert ann["keypoints"] == [12.5, 7.25, 2] and ann["area"] == 0
    back = from_coco(doc_path)
    assert back["kind"].tolist() == ["point", "point"]
    assert [a["points"] for a in back["attributes"]] == [[[12.5, 7.25]], [[1.0, 2.0], [3.5, 4.5]]]
    assert back[["x", "y", "w", "h"]].iloc[1].tolist() == [1.0, 2.0, 2.5, 2.5]


def test_prepare_refuses_bad_polygon_points(shapes):
    bad = shapes.copy()
    bad.at[0, "attributes"] = {"points": [[1, 2], [3, 4]]}
    with pytest.raises(
        ValueError,
        match=r"`attributes\['points'\]` of a 'polygon' row must be a list of at least 3",
    ):
        prepare(bad)


def test_from_yolo_reads_txt_lists_and_each_image_once(boxes, tmp_path):
    to_yolo(boxes, tmp_path, CLASSES)
    (tmp_path / "train.txt").write_text("./images/train/a.jpg\n./images/train/sub/b.png\n")
    (tmp_path / "data.yaml").write_text(
        "train: train.txt\nval: images/train\nnames: [frill, red, goldEmbroidery]\n"
    )
    back = from_yolo(tmp_path)
    splits = back.drop_duplicates("item_id").set_index("item_id")["split"].to_dict()
    assert splits == {"a.jpg": "train", "sub/b.png": "train", "rot.jpg": "val", "empty.jpg": "val"}
    assert len(back) == len(boxes)


def test_to_yolo_rewrites_labels_and_drops_stale_caches(boxes, tmp_path):
    to_yolo(boxes, tmp_path, CLASSES)
    (tmp_path / "labels" / "train.cache").write_bytes(b"stale")
    to_yolo(boxes[boxes["item_id"] != "a.jpg"], tmp_path, CLASSES)
    assert not (tmp_path / "labels" / "train.cache").exists()
    assert not (tmp_path / "labels/train/a.txt").exists()
    assert not (tmp_path / "images/train/a.jpg").exists()
    assert "a.jpg" not in set(from_yolo(tmp_path)["item_id"])


def test_to_yolo_can_rewrite_the_folder_it_read(boxes, tmp_path):
    to_yolo(boxes, tmp_path, CLASSES)
    first = from_yolo(tmp_path)
    to_yolo(first, tmp_path, CLASSES)  # the images are both the sources and the targets
    second = from_yolo(tmp_path)
    assert (tmp_path / "images/train/a.jpg").is_file()
    pd.testing.assert_frame_equal(first.drop(columns="split"), second.drop(columns="split"))
