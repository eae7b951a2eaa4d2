"""The YOLO writer and reader: round trips, ultralytics' line layouts, errors naming file and line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from test_formats import CLASSES, _objects, _save, make_boxes, make_shapes

from labelwidgets._validate import InputError
from labelwidgets.formats import from_yolo, to_yolo
from labelwidgets.formats._common import prepare


@pytest.fixture
def boxes(tmp_path) -> pd.DataFrame:
    return make_boxes(tmp_path)


@pytest.fixture
def shapes(boxes) -> pd.DataFrame:
    return make_shapes(boxes)


# --------------------------------------------------------------------------- YOLO
def test_yolo_round_trip_within_1e6_of_the_image(boxes, tmp_path):
    split = boxes.assign(split=["train"] * 3 + ["val"] + ["train"] * 3)
    data_yaml = to_yolo(split, tmp_path / "yolo", CLASSES)
    config = yaml.safe_load(data_yaml.read_text())
    assert config == {
        "train": "images/train", "val": "images/val",
        "names": {0: "frill", 1: "red", 2: "goldEmbroidery"},
    }  # fmt: skip  (no ``path``: ultralytics resolves the splits from the YAML's folder)
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
    to_yolo(boxes, tmp_path / "out", CLASSES)
    with Image.open(tmp_path / "out/images/train/rot.jpg") as im:
        assert im.size == (40, 60)
        assert im.getexif().get(0x0112, 1) == 1
    with Image.open(boxes["path"][0]) as src, Image.open(tmp_path / "out/images/train/a.jpg") as dst:
        assert src.tobytes() == dst.tobytes()  # images without rotation are copied as they are
    back = from_yolo(tmp_path / "out")
    rot = back[back["item_id"] == "rot.jpg"].iloc[0]
    assert (rot["width"], rot["height"]) == (40, 60)


def test_to_yolo_val_fraction_is_seeded(boxes, tmp_path):
    to_yolo(boxes, tmp_path / "a", CLASSES, copy_images=False, val_fraction=0.5, random_state=3)
    to_yolo(boxes.iloc[::-1], tmp_path / "b", CLASSES, copy_images=False, val_fraction=0.5,
            random_state=3)  # fmt: skip
    val_a = sorted(p.name for p in (tmp_path / "a/labels/val").rglob("*.txt"))
    val_b = sorted(p.name for p in (tmp_path / "b/labels/val").rglob("*.txt"))
    assert len(val_a) == 2 and val_a == val_b
    with pytest.raises(InputError, match=r"`val_fraction` must be a number in \[0, 1\)"):
        to_yolo(boxes, tmp_path / "c", CLASSES, val_fraction=1.5)


def test_from_yolo_with_items_needs_no_images(boxes, tmp_path):
    ids = boxes.assign(item_id=boxes["item_id"].str.replace(".jpg", "", regex=False))
    to_yolo(ids, tmp_path / "out", CLASSES, copy_images=False)
    assert not any((tmp_path / "out" / "images").rglob("*.*"))
    items = prepare(ids).drop_duplicates("item_id")[["item_id", "path", "width", "height"]]
    back = from_yolo(tmp_path / "out", items=items)
    assert sorted(back["item_id"].unique()) == ["a", "empty", "rot", "sub/b.png"]
    assert len(_objects(back)) == len(_objects(boxes))
    with pytest.raises(InputError, match=r"a\.txt: a label file must have an image"):
        from_yolo(tmp_path / "out", items=items[items["item_id"] != "a"])


def test_from_yolo_errors_name_the_file_and_line(boxes, tmp_path):
    to_yolo(boxes, tmp_path / "out", CLASSES)
    label = tmp_path / "out/labels/train/a.txt"
    cases = [
        ("0 0.5 0.5 0.2\n", r"a\.txt, line 1: `a line` must be 'class cx cy w h \[confidence \[track id\]\]' .* it has 4"),
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
        ("0 0.1 0.1 0.5\n", r"line 1: `a line` must be .* it has 4"),
        ("0 0.5 0.5 0.2 0.2 1.5\n", r"line 1: `the 6th field` must be a confidence in \[0, 1\]"),
        ("0 320 240 64 48\n", r"a\.txt, line 1: `the coordinates` must be normalised to \[0, 1\] "
         r"by the image size \(these look like pixels\)\. Got 320\.0"),
        ("1 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.5 0.1 0.5 0.5 1.2\n",
         r"line 2: `the last field` must be a confidence in \[0, 1\]"),
    ]
    for text, message in cases:
        label.write_text(text)
        with pytest.raises(InputError, match=message):
            from_yolo(tmp_path / "out")
    label.unlink()
    (tmp_path / "out/labels/train/ghost.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(InputError, match=r"ghost\.txt: a label file must have an image"):
        from_yolo(tmp_path / "out")
    (tmp_path / "out" / "data.yaml").write_text("train: images/train\n")
    with pytest.raises(
        InputError, match=r"data\.yaml, names: `names` must be a list of class names"
    ):
        from_yolo(tmp_path / "out")


def test_to_yolo_refuses_unknown_classes_points_and_mixed_files(boxes, tmp_path):
    with pytest.raises(
        InputError, match=r"`label` must be one of \['frill', 'red'\].*'goldEmbroidery' in row 3"
    ):
        to_yolo(boxes, tmp_path / "out", ["frill", "red"])
    with pytest.raises(InputError, match=r"`classes` must be unique"):
        to_yolo(boxes, tmp_path / "out", ["frill", "frill"])
    mixed = boxes.assign(kind="box")
    mixed.loc[1, "kind"] = "polygon"
    mixed.loc[1, "attributes"] = json.dumps({"points": [[1, 1], [5, 1], [5, 5]]})
    with pytest.raises(InputError, match=r"only boxes or only polygons.*item 'a\.jpg'"):
        to_yolo(mixed, tmp_path / "out", CLASSES)
    mixed.loc[1, "kind"] = "point"
    with pytest.raises(
        InputError, match=r"`kind` must be 'box' or 'polygon' for YOLO. Got 'point'"
    ):
        to_yolo(mixed, tmp_path / "out", CLASSES)


def test_to_yolo_clips_boxes_partly_outside_and_refuses_boxes_outside(boxes, tmp_path):
    partly = boxes.copy()
    partly.loc[0, ["x", "w"]] = [-10.0, 20.0]
    with pytest.warns(UserWarning, match=r"1 boxes or polygons lay partly outside"):
        to_yolo(partly, tmp_path / "p", CLASSES, copy_images=False)
    row = (tmp_path / "p/labels/train/a.txt").read_text().splitlines()[0].split()
    assert float(row[1]) == pytest.approx(5 / 64) and float(row[3]) == pytest.approx(10 / 64)
    outside = boxes.copy()
    outside.loc[0, "x"] = 500.0
    with pytest.raises(InputError, match=r"A box must overlap its image \(64 x 48 pixels\).*row 0"):
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


def test_polygons_round_trip_through_yolo_seg(shapes, tmp_path):
    to_yolo(shapes, tmp_path / "out", CLASSES)
    line = (tmp_path / "out/labels/train/a.txt").read_text().splitlines()[0].split()
    assert line[0] == "1" and len(line) == 7
    back = from_yolo(tmp_path / "out")
    assert back["kind"].eq("polygon").all() and back["label"].tolist() == shapes["label"].tolist()
    for got, want, w, h in zip(
        back["attributes"], shapes["attributes"], back["width"], back["height"], strict=True
    ):
        diff = np.abs(np.array(got["points"]) - np.array(want["points"], dtype=float))
        assert (diff <= 1e-6 * np.array([w, h])).all()


def test_from_yolo_reads_txt_lists_and_each_image_once(boxes, tmp_path):
    to_yolo(boxes, tmp_path / "out", CLASSES)
    (tmp_path / "out" / "train.txt").write_text("./images/train/a.jpg\n./images/train/sub/b.png\n")
    (tmp_path / "out" / "data.yaml").write_text(
        "train: train.txt\nval: images/train\nnames: [frill, red, goldEmbroidery]\n"
    )
    back = from_yolo(tmp_path / "out")
    splits = back.drop_duplicates("item_id").set_index("item_id")["split"].to_dict()
    assert splits == {"a.jpg": "train", "sub/b.png": "train", "rot.jpg": "val", "empty.jpg": "val"}
    assert len(back) == len(boxes)


def test_to_yolo_rewrites_labels_and_drops_stale_caches(boxes, tmp_path):
    to_yolo(boxes, tmp_path / "out", CLASSES)
    np.save(tmp_path / "out" / "labels" / "train.npy", np.zeros(3))  # as ultralytics saves it
    (tmp_path / "out" / "labels" / "train.npy").rename(tmp_path / "out" / "labels" / "train.cache")
    to_yolo(boxes[boxes["item_id"] != "a.jpg"], tmp_path / "out", CLASSES)
    assert not (tmp_path / "out" / "labels" / "train.cache").exists()
    assert not (tmp_path / "out/labels/train/a.txt").exists()
    assert not (tmp_path / "out/images/train/a.jpg").exists()
    assert "a.jpg" not in set(from_yolo(tmp_path / "out")["item_id"])


def test_to_yolo_can_rewrite_the_folder_it_read(boxes, tmp_path):
    to_yolo(boxes, tmp_path / "out", CLASSES)
    first = from_yolo(tmp_path / "out")
    to_yolo(first, tmp_path / "out", CLASSES)  # the images are both the sources and the targets
    second = from_yolo(tmp_path / "out")
    assert (tmp_path / "out/images/train/a.jpg").is_file()
    pd.testing.assert_frame_equal(first.drop(columns="split"), second.drop(columns="split"))


def _one_image(tmp_path, text: str, size=(640, 480)) -> pd.DataFrame:
    """A minimal ultralytics folder with one label file, read back."""
    root = tmp_path / "ds"
    _save(root / "images" / "train" / "a.jpg", size, (10, 20, 30))
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text(text)
    (root / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [cat, dog]\n")
    return from_yolo(root)


def test_save_conf_and_track_columns_are_read_as_boxes_not_polygons(tmp_path):
    # what ultralytics' Results.save_txt writes: cls cx cy w h [conf] [track id], "%g"
    df = _one_image(tmp_path, "0 0.5 0.5 0.25 0.5 0.875 3\n1 0.25 0.25 0.125 0.25 0.5 12\n")
    assert df["kind"].tolist() == ["box", "box"]
    assert df["confidence"].tolist() == [0.875, 0.5]
    assert [a["track_id"] for a in df["attributes"]] == [3, 12]
    assert df[["x", "y", "w", "h"]].iloc[0].tolist() == [240.0, 120.0, 160.0, 240.0]
    conf = _one_image(tmp_path / "c", "1 0.5 0.5 0.25 0.5 0.25\n")
    assert conf["kind"].tolist() == ["box"] and conf["confidence"].tolist() == [0.25]
    track = _one_image(tmp_path / "t", "1 0.5 0.5 0.25 0.5 7\n")  # tracking without save_conf
    assert track["attributes"][0] == {"track_id": 7} and np.isnan(track["confidence"][0])
    # a triangle among other polygons is a polygon, even with a whole-number last field
    seg = _one_image(tmp_path / "s", "0 0.1 0.1 0.5 0.1 0.3 1\n1 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n")
    assert seg["kind"].tolist() == ["polygon", "polygon"]
    assert seg["attributes"][0]["points"][2] == pytest.approx([192.0, 480.0])
    # a polygon line with an even number of fields ends with its confidence
    seg_conf = _one_image(tmp_path / "sc", "0 0.1 0.1 0.5 0.1 0.3 0.9 0.8\n")
    assert seg_conf["kind"][0] == "polygon" and seg_conf["confidence"][0] == 0.8
    assert len(seg_conf["attributes"][0]["points"]) == 3


def test_to_yolo_writes_training_labels_only(tmp_path, boxes):
    """Confidences and track ids read from predictions are not written to training labels."""
    df = _one_image(tmp_path, "0 0.5 0.5 0.25 0.5 0.875 3\n")
    to_yolo(df, tmp_path / "out", ["cat", "dog"])
    line = (tmp_path / "out/labels/train/a.txt").read_text().split()
    assert len(line) == 5


def test_data_yaml_path_outside_the_dataset_is_an_error_not_a_scan(boxes, tmp_path):
    data_yaml = to_yolo(boxes, tmp_path / "out", CLASSES, copy_images=True)
    config = yaml.safe_load(data_yaml.read_text())
    for path in ("/", "..", str(tmp_path / "src")):
        data_yaml.write_text(yaml.safe_dump({**config, "path": path}))
        with pytest.raises(InputError, match=r"data\.yaml, path: `path` must name a folder or file "
                           r"inside the dataset folder"):  # fmt: skip
            from_yolo(tmp_path / "out")
    data_yaml.write_text(yaml.safe_dump({**config, "train": "../src"}))
    with pytest.raises(InputError, match=r"train: `train` must name a folder or file inside"):
        from_yolo(tmp_path / "out")
    # a stale absolute path (the folder was written elsewhere and moved) is ignored
    data_yaml.write_text(yaml.safe_dump({**config, "path": "/nonexistent/moved/away"}))
    assert len(_objects(from_yolo(tmp_path / "out"))) == len(_objects(boxes))


def test_multi_part_polygons_join_and_crowds_stay_out(shapes, tmp_path):
    two = shapes.copy()
    two.at[0, "attributes"] = {"points": [[1, 1], [10, 1], [10, 8]],
                               "extra_parts": [[[30, 20], [40, 20], [40, 30]]]}  # fmt: skip
    two.at[1, "attributes"] = {"points": [[0, 0], [64, 0], [64, 48], [0, 48]], "iscrowd": 1}
    to_yolo(two, tmp_path / "out", CLASSES)
    lines = (tmp_path / "out/labels/train/a.txt").read_text().splitlines()
    assert len(lines) == 1  # the crowd region is left out
    values = [float(v) for v in lines[0].split()[1:]]
    points = np.array(values).reshape(-1, 2) * [64, 48]
    assert len(points) == 3 + 1 + 3 + 1  # each part, closed, joined at the closest points
    assert {tuple(np.round(p, 6)) for p in points} == {
        (1, 1), (10, 1), (10, 8), (30, 20), (40, 20), (40, 30),
    }  # fmt: skip
