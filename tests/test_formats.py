"""Round trips and error messages of the VOC and COCO readers and writers (YOLO: test_formats_yolo)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_TESTDATA
from PIL import Image

from labelwidgets._validate import InputError
from labelwidgets.formats import from_coco, from_voc, to_coco, to_voc
from labelwidgets.formats._common import image_size, prepare

LABELIMG = SHARED_TESTDATA / "labelimg"
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
    return make_boxes(tmp_path)


def make_boxes(tmp_path) -> pd.DataFrame:
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
            # LabelImg's corners are continuous: x = xmin, w = xmax - xmin (as its YOLO writer)
            assert [row.x, row.y, row.x + row.w, row.y + row.h] == corners
        assert rows["width"][0] == int(root.findtext("size/width"))
        assert rows["height"][0] == int(root.findtext("size/height"))
        assert Path(rows["path"][0]) == xml.with_name(name)  # the recorded path does not exist
        assert rows["image_attributes"][0] == {
            "segmented": 0, "source": {"database": "Unknown"}, "depth": 3,
        }  # fmt: skip
    assert len(df) == 51
    devkit = from_voc(LABELIMG, corners="devkit")
    assert np.allclose(devkit["x"], df["x"] - 1) and np.allclose(devkit["w"], df["w"] + 1)


@needs_labelimg
def test_to_voc_writes_the_labelimg_corners_back(tmp_path):
    to_voc(from_voc(LABELIMG), tmp_path)
    for xml in sorted(LABELIMG.glob("*.xml")):
        original, written = ET.parse(xml).getroot(), ET.parse(tmp_path / xml.name).getroot()
        for tag in ("filename", "size/width", "size/height", "size/depth", "segmented",
                    "source/database"):  # fmt: skip
            assert written.findtext(tag) == original.findtext(tag)
        pairs = zip(original.findall("object"), written.findall("object"), strict=True)
        for a, b in pairs:
            for tag in ("name", "pose", "truncated", "difficult", "bndbox/xmin", "bndbox/ymin",
                        "bndbox/xmax", "bndbox/ymax"):  # fmt: skip
                assert b.findtext(tag) == a.findtext(tag), (xml.name, tag)


def test_voc_round_trip_is_exact(boxes, tmp_path):
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
    for col in ("x", "y", "w", "h"):
        assert np.abs(got[col] - want[col]).max() < 1e-9, col
    text = (out / "a.xml").read_text()
    assert "<xmin>3.25</xmin>" in text and "<xmax>23.25</xmax>" in text and "<xmin>0</xmin>" in text
    empty = back[back["item_id"] == "empty.jpg"]
    assert len(empty) == 1 and empty["label"].isna().all()
    rot = back[back["item_id"] == "rot.jpg"].iloc[0]
    assert (rot["width"], rot["height"]) == (40, 60)
    again = from_voc(to_voc(back, tmp_path / "voc2"))
    pd.testing.assert_frame_equal(again.drop(columns="path"), back.drop(columns="path"))


def test_voc_devkit_corners_are_one_based_integers(boxes, tmp_path):
    out = to_voc(boxes, tmp_path / "voc", corners="devkit")
    obj = ET.parse(out / "a.xml").getroot().find("object")
    assert [obj.findtext(f"bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")] == [
        "4", "6", "23", "15",
    ]  # round(3.25) + 1, round(4.5) + 1, round(23.25), round(15.25)
    back = _objects(from_voc(out, corners="devkit")).sort_values(["item_id", "x"])
    want = _objects(boxes).sort_values(["item_id", "x"])
    assert np.abs(back["x"].to_numpy() - want["x"].to_numpy()).max() <= 0.5
    assert (back[["x", "y", "w", "h"]] % 1 == 0).all().all()
    with pytest.raises(InputError, match=r"`corners` must be one of \['continuous', 'devkit'\]"):
        from_voc(out, corners="pascal")


def test_voc_attributes_round_trip(boxes, tmp_path):
    back = from_voc(to_voc(boxes, tmp_path / "out"))
    attrs = {(r.item_id, r.label, round(r.x)): r.attributes for r in _objects(back).itertuples()}
    assert attrs[("a.jpg", "frill", 3)] == {"truncated": True, "difficult": False}
    assert attrs[("a.jpg", "frill", 0)] == {
        "truncated": False, "difficult": False, "occluded": True, "note": "x",
    }  # fmt: skip
    assert attrs[("sub/b.png", "goldEmbroidery", 10)] == {"truncated": False, "difficult": True}
    text = (tmp_path / "out" / "a.xml").read_text()
    assert "<occluded>1</occluded>" in text and "<name>note</name>" in text


def test_voc_keeps_segmented_pose_and_source(tmp_path):
    xml = tmp_path / "in" / "000005.xml"
    xml.parent.mkdir()
    xml.write_text(
        "<annotation><folder>VOC2007</folder><filename>000005.jpg</filename><source>"
        "<database>The VOC2007 Database</database><annotation>PASCAL VOC2007</annotation>"
        "<image>flickr</image><flickrid>325991873</flickrid></source><owner><flickrid>"
        "archintent louisville</flickrid><name>?</name></owner><size><width>500</width>"
        "<height>375</height><depth>3</depth></size><segmented>1</segmented><object>"
        "<name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>"
        "<bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox>"
        "</object></annotation>"
    )
    df = from_voc(xml)
    assert df["attributes"][0]["pose"] == "Rear"
    out = ET.parse(to_voc(df, tmp_path / "out") / "000005.xml").getroot()
    assert out.findtext("segmented") == "1"
    assert out.findtext("object/pose") == "Rear"
    assert {c.tag: c.text for c in out.find("source")} == {
        "database": "The VOC2007 Database", "annotation": "PASCAL VOC2007", "image": "flickr",
        "flickrid": "325991873",
    }  # fmt: skip
    assert out.findtext("owner/flickrid") == "archintent louisville"
    pd.testing.assert_frame_equal(from_voc(tmp_path / "out").drop(columns="path"),
                                  df.drop(columns="path"))  # fmt: skip


def test_from_voc_reads_float_corners(tmp_path):
    xml = tmp_path / "f.xml"
    xml.write_text(
        "<annotation><filename>f.jpg</filename><size><width>100</width><height>80</height>"
        "<depth>3</depth></size><object><name>red</name><bndbox><xmin>10.4</xmin>"
        "<ymin>5.5</ymin><xmax>30.25</xmax><ymax>40.75</ymax></bndbox></object></annotation>"
    )
    row = from_voc(xml).iloc[0]
    assert (row["x"], row["y"]) == pytest.approx((10.4, 5.5))
    assert (row["x"] + row["w"], row["y"] + row["h"]) == pytest.approx((30.25, 40.75))
    assert row["attributes"] == {"truncated": False, "difficult": False}
    written = ET.parse(to_voc(from_voc(xml), tmp_path / "out") / "f.xml").getroot()
    corners = [written.findtext(f"object/bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")]
    assert [float(c) for c in corners] == pytest.approx([10.4, 5.5, 30.25, 40.75])


def test_voc_refuses_two_files_for_one_image_and_control_characters(boxes, tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.xml", "copy.xml"):
        (folder / name).write_text(
            "<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height>"
            "</size></annotation>"
        )
    with pytest.raises(InputError, match=r"a\.xml' and '.*copy\.xml' both name 'a\.jpg'"):
        from_voc(folder)
    bad = boxes.copy()
    bad.loc[1, "label"] = "red\x07"
    with pytest.raises(InputError, match=r"`label` must not contain control characters"):
        to_voc(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_from_voc_errors_name_the_file_and_element(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<annotation>\n<filename>a.jpg</filename>\n<object>\n</annotation>\n")
    with pytest.raises(InputError, match=r"bad\.xml, line 4, column 2: the file must be well-formed"):
        from_voc(bad)
    bad.write_text(
        "<annotation><filename>a.jpg</filename><size><width>9</width><height>9</height></size>"
        "<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>oops</xmax>"
        "<ymax>3</ymax></bndbox></object></annotation>"
    )
    with pytest.raises(
        InputError, match=r"bad\.xml, <object> 1 <bndbox> <xmax>: .* a finite number\. Got 'oops'"
    ):
        from_voc(bad)
    bad.write_text("<annotation><filename>a.jpg</filename><size><width>9</width>"
                   "<height>9</height></size><object><bndbox/></object></annotation>")  # fmt: skip
    with pytest.raises(InputError, match=r"<object> 1 <name>: `<name>` must be present"):
        from_voc(bad)
    bad.write_text("<annotation><filename>a.jpg</filename><size><width>9</width>"
                   "<height>9</height></size><object><name>x</name><truncated>maybe</truncated>"
                   "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"
                   "</object></annotation>")  # fmt: skip
    with pytest.raises(InputError, match=r"<truncated>` must be 0 or 1\. Got 'maybe'"):
        from_voc(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds none"):
        from_voc(tmp_path / "empty")


def test_to_voc_writes_rectangle_polygons_as_boxes_and_refuses_others(boxes, tmp_path):
    poly = boxes.assign(kind="box")
    poly.loc[0, "kind"] = "polygon"
    poly.loc[0, "attributes"] = json.dumps({"points": [[2, 3], [12, 3], [12, 9], [2, 9]]})
    back = from_voc(to_voc(poly, tmp_path / "rect"))
    row = back[(back["item_id"] == "a.jpg") & (back["x"] == 2)].iloc[0]
    assert [row.x, row.y, row.w, row.h] == [2, 3, 10, 6]
    poly.loc[0, "attributes"] = json.dumps({"points": [[1, 1], [5, 1], [5, 5]]})
    with pytest.raises(
        InputError, match=r"`kind` must be 'box' \(or a polygon that is an axis-aligned"
    ):
        to_voc(poly, tmp_path / "tri")


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
    return make_shapes(boxes)


def make_shapes(boxes) -> pd.DataFrame:
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




# ------------------------------------------------------------- COCO keeps what it reads
def _coco_document(tmp_path) -> Path:
    """A COCO file as the COCO datasets write one: ids with gaps, url/license, a two-part
    polygon, a crowd RLE, a person outline with keypoints, and an image without objects."""
    doc = {
        "info": {"description": "COCO 2017 Dataset", "year": 2017},
        "licenses": [{"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4,
                      "name": "Attribution License"}],
        "images": [
            {"license": 4, "file_name": "000000397133.jpg", "coco_url":
             "http://images.cocodataset.org/val2017/000000397133.jpg", "height": 427,
             "width": 640, "date_captured": "2013-11-14 17:02:52", "flickr_url":
             "http://farm7.staticflickr.com/6116/6255196340_da26cf2c9e_z.jpg", "id": 397133},
            {"license": 1, "file_name": "000000037777.jpg", "height": 230, "width": 352,
             "id": 37777},
        ],
        "annotations": [
            {"segmentation": [[10.5, 10, 60, 10, 60, 40], [100, 100, 140, 100, 140, 150, 100, 150]],
             "area": 2750.0, "iscrowd": 0, "image_id": 397133, "bbox": [10.5, 10, 129.5, 140],
             "category_id": 44, "id": 82445},
            {"segmentation": {"counts": [272, 2, 4, 4, 4, 4, 2, 9, 1, 2, 16, 43, 143, 24],
                              "size": [427, 640]},
             "area": 102.0, "iscrowd": 1, "image_id": 397133, "bbox": [0, 0, 10, 30],
             "category_id": 1, "id": 900100397133},
            {"segmentation": [[200, 100, 260, 100, 260, 220, 200, 220]], "num_keypoints": 2,
             "area": 7200.0, "iscrowd": 0, "keypoints": [230, 120, 2, 231, 125, 1, 0, 0, 0],
             "image_id": 397133, "bbox": [200, 100, 60, 120], "category_id": 1, "id": 183020},
        ],
        "categories": [
            {"supercategory": "person", "id": 1, "name": "person",
             "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2], [1, 3]]},
            {"supercategory": "kitchen", "id": 44, "name": "bottle"},
            {"supercategory": "kitchen", "id": 90, "name": "toothbrush"},
        ],
    }
    path = tmp_path / "instances_val2017.json"
    path.write_text(json.dumps(doc))
    return path


def test_coco_round_trip_keeps_ids_urls_and_categories(tmp_path):
    source = _coco_document(tmp_path)
    df = from_coco(source)
    assert df["image_id"].tolist() == [397133] * 3 + [37777]
    assert df["category_id"].tolist()[:3] == [44, 1, 1] and df["category_id"].isna().iloc[3]
    assert df["image_attributes"][0]["coco_url"].endswith("000000397133.jpg")
    out = json.loads(to_coco(df, tmp_path / "out.json").read_text())
    original = json.loads(source.read_text())
    assert out["categories"] == original["categories"]  # 1, 44, 90: gaps, keypoints, skeleton
    assert out["licenses"] == original["licenses"] and out["info"] == original["info"]
    for mine, theirs in zip(out["images"], original["images"], strict=True):
        assert {k: mine[k] for k in theirs} == theirs  # id, license, coco_url, flickr_url, ...
    assert [a["id"] for a in out["annotations"]] == [82445, 900100397133, 183020]
    assert [a["category_id"] for a in out["annotations"]] == [44, 1, 1]
    renumbered = json.loads(to_coco(df, tmp_path / "new.json", ["person", "bottle"],
                                    renumber=True).read_text())  # fmt: skip
    assert [c["id"] for c in renumbered["categories"]] == [1, 2]
    assert [im["id"] for im in renumbered["images"]] == [1, 2]
    assert [a["category_id"] for a in renumbered["annotations"]] == [2, 1, 1]


def test_coco_multi_part_polygon_crowd_rle_and_keypoints_round_trip(tmp_path):
    df = from_coco(_coco_document(tmp_path))
    two_parts, crowd, person = df.iloc[0], df.iloc[1], df.iloc[2]
    assert two_parts["kind"] == "polygon" and len(two_parts["attributes"]["extra_parts"]) == 1
    assert crowd["kind"] == "box" and crowd["attributes"]["iscrowd"] == 1
    assert person["kind"] == "polygon" and person["attributes"]["keypoints"][:3] == [230, 120, 2]
    out = json.loads(to_coco(df, tmp_path / "out.json").read_text())["annotations"]
    original = json.loads(_coco_document(tmp_path).read_text())["annotations"]
    # every part kept; bbox and area cover both parts (the file's own bbox says so too)
    assert out[0]["segmentation"] == [[float(v) for v in ring] for ring in original[0]["segmentation"]]
    assert out[0]["bbox"] == original[0]["bbox"]
    assert out[0]["area"] == pytest.approx(0.5 * 49.5 * 30 + 40 * 50)
    # the crowd region stays an RLE with iscrowd 1; its area is the mask's pixel count
    assert out[1]["segmentation"] == original[1]["segmentation"] and out[1]["iscrowd"] == 1
    assert out[1]["area"] == sum(original[1]["segmentation"]["counts"][1::2])
    assert "attributes" not in out[1]
    # keypoints stay with the outline
    assert out[2]["keypoints"] == original[2]["keypoints"] and out[2]["num_keypoints"] == 2
    assert out[2]["segmentation"] == [[float(v) for v in original[2]["segmentation"][0]]]
    back = from_coco(tmp_path / "out.json")
    pd.testing.assert_frame_equal(back.drop(columns="path"), df.drop(columns="path"))


def test_coco_compressed_rle_area_matches_pycocotools():
    from labelwidgets.formats._coco_read import rle_area

    mask_utils = pytest.importorskip("pycocotools.mask", reason="pycocotools is not installed")
    rng = np.random.default_rng(1)
    for _ in range(5):
        mask = np.asfortranarray((rng.random((37, 23)) > 0.6).astype(np.uint8))
        rle = mask_utils.encode(mask)
        text = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        assert rle_area(text) == int(mask_utils.area(rle)) == int(mask.sum())


def test_coco_box_polygon_exports_to_voc_as_a_box(tmp_path):
    doc = json.loads(_coco_document(tmp_path).read_text())
    doc["annotations"] = [doc["annotations"][2]]  # the person, a 4-point rectangle outline
    doc["annotations"][0].pop("keypoints")
    path = tmp_path / "rect.json"
    path.write_text(json.dumps(doc))
    voc = from_voc(to_voc(from_coco(path), tmp_path / "voc"))
    row = voc.dropna(subset=["label"]).iloc[0]
    assert (row["label"], row["x"], row["y"], row["w"], row["h"]) == ("person", 200, 100, 60, 120)
