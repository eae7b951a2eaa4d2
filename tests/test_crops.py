"""Fixed-size geometry and crop export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labelwidgets._geometry import fit_box
from labelwidgets._validate import InputError
from labelwidgets.crops import export_crops, safe_filename

W, H = 120, 90


# ------------------------------------------------------------------------ fit_box
@pytest.mark.parametrize(
    ("cx", "cy", "expected"),
    [
        (60, 45, (44.0, 29.0)),  # inside: centred
        (3, 45, (0.0, 29.0)),  # left border
        (118, 45, (88.0, 29.0)),  # right border
        (60, 1, (44.0, 0.0)),  # top border
        (60, 89.5, (44.0, 58.0)),  # bottom border
        (-50, 200, (0.0, 58.0)),  # outside a corner
    ],
)
def test_fit_box_shifts_never_shrinks(cx, cy, expected):
    x, y = fit_box(cx, cy, 32, 32, W, H)
    assert (x, y) == expected
    assert 0 <= x <= W - 32 and 0 <= y <= H - 32


def test_fit_box_refuses_boxes_larger_than_the_image():
    with pytest.raises(
        ValueError, match=r"must fit inside the image \(120 x 90 pixels\)\. Got 32 x 100"
    ):
        fit_box(10, 10, 32, 100, W, H)
    with pytest.raises(ValueError, match=r"`w` must be a positive finite number\. Got 0"):
        fit_box(10, 10, 0, 10, W, H)
    assert fit_box(np.float64(5), np.int64(5), 120, 90, W, H) == (0.0, 0.0)  # exactly the image


def test_safe_filename_keeps_names_inside_the_folder():
    assert safe_filename("../../etc/passwd") == "_etc_passwd"
    assert safe_filename("a/b\\c") == "a_b_c"
    assert safe_filename("gold embroidery") == "gold embroidery"
    assert safe_filename("..") == "_"
    assert safe_filename("été") == "été"


# ------------------------------------------------------------------------- crops
def _gradient(path: Path, size=(W, H), orientation=None) -> str:
    """An image whose red channel is 2*x and green channel 2*y: a crop shows where it came from."""
    xs, ys = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
    pixels = np.stack([2 * xs, 2 * ys, np.full_like(xs, 128)], axis=-1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(path, exif=exif, quality=100)
    else:
        image.save(path)
    return str(path)


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "path", "label", "x", "y", "w", "h"])


def test_fixed_size_crops_at_all_four_borders(tmp_path):
    path = _gradient(tmp_path / "img" / "scene.png")
    df = _frame([
        ("scene.png", path, "left", 0, 40, 6, 6),
        ("scene.png", path, "right", 116, 40, 4, 4),
        ("scene.png", path, "top", 50, 0, 8, 3),
        ("scene.png", path, "bottom", 50, 85, 8, 5),
        ("scene.png", path, "corner", 117, 87, 3, 3),
        ("scene.png", path, "middle", 50, 40, 10, 10),
    ])  # fmt: skip
    out = export_crops(df, tmp_path / "crops", size=(32, 24))
    assert len(out) == 6
    windows = {r.label: (r.x, r.y, r.w, r.h) for r in out.itertuples()}
    assert windows == {
        "left": (0, 31, 32, 24), "right": (88, 30, 32, 24), "top": (38, 0, 32, 24),
        "bottom": (38, 66, 32, 24), "corner": (88, 66, 32, 24), "middle": (39, 33, 32, 24),
    }  # fmt: skip
    for row in out.itertuples():
        with Image.open(row.path) as crop:
            assert crop.size == (32, 24) and crop.mode == "RGB"
            pixels = np.asarray(crop, dtype=float)
        # the crop's content is the window's content (JPEG: within a few levels)
        assert abs(pixels[..., 0].mean() - 2 * (row.x + 15.5)) < 3
        assert abs(pixels[..., 1].mean() - 2 * (row.y + 11.5)) < 3
    assert sorted(Path(p).name for p in out["path"]) == [
        "scene_bottom_0.jpg", "scene_corner_0.jpg", "scene_left_0.jpg",
        "scene_middle_0.jpg", "scene_right_0.jpg", "scene_top_0.jpg",
    ]  # fmt: skip


def test_crops_without_size_are_the_boxes_and_n_counts_per_image_and_label(tmp_path):
    a = _gradient(tmp_path / "a.png")
    b = _gradient(tmp_path / "sub" / "b.png")
    df = _frame([
        ("a.png", a, "red", 10.2, 20.6, 30.0, 15.0),
        ("a.png", a, "red", 50, 50, 10, 10),
        ("a.png", a, "frill", 0, 0, 5, 5),
        ("sub/b.png", b, "red", 100, 80, 40, 40),  # partly outside: clipped
    ])  # fmt: skip
    out = export_crops(df, tmp_path / "crops")
    names = [Path(p).relative_to(tmp_path / "crops").as_posix() for p in out["path"]]
    assert names == ["a_red_0.jpg", "a_red_1.jpg", "a_frill_0.jpg", "sub/b_red_0.jpg"]
    assert out[["x", "y", "w", "h"]].values.tolist() == [
        [10, 21, 30, 15], [50, 50, 10, 10], [0, 0, 5, 5], [100, 80, 20, 10],
    ]  # fmt: skip
    for row in out.itertuples():
        with Image.open(row.path) as crop:
            assert crop.size == (row.w, row.h)


def test_crops_follow_exif_orientation(tmp_path):
    # stored 120 x 90 on its side (orientation 6): upright it is 90 x 120
    path = _gradient(tmp_path / "rot.jpg", orientation=6)
    out = export_crops(
        _frame([("rot.jpg", path, "x", 0, 100, 20, 20)]), tmp_path / "c", size=(16, 16)
    )
    assert out[["x", "y", "w", "h"]].values.tolist() == [[2, 102, 16, 16]]
    with Image.open(path) as raw:
        from PIL import ImageOps

        expected = np.asarray(ImageOps.exif_transpose(raw).crop((2, 102, 18, 118)), dtype=float)
    with Image.open(out["path"][0]) as crop:
        got = np.asarray(crop, dtype=float)
    assert got.shape == (16, 16, 3)
    assert np.abs(got - expected).mean() < 3
    # rotating 90 degrees clockwise turns the stored rows into columns: green varies along x now
    assert got[:, -1, 1].mean() < got[:, 0, 1].mean()


def test_unsafe_labels_stay_inside_the_folder(tmp_path):
    path = _gradient(tmp_path / "a.png")
    out = export_crops(_frame([("a.png", path, "../../evil/x", 1, 1, 5, 5)]), tmp_path / "crops")
    written = Path(out["path"][0])
    assert written.parent == tmp_path / "crops"
    assert written.name == "a__evil_x_0.jpg"
    assert out["label"][0] == "../../evil/x"


def test_export_crops_from_a_store(store, tmp_path):
    a = _gradient(tmp_path / "a.png")
    store.add_items(pd.DataFrame({"item_id": ["a.png"], "path": [a], "width": [W], "height": [H]}))
    store.register_task("parts", ["frill", "red"], kind="box")
    store.register_task("other", ["red"], kind="box")
    store.submit_boxes("a.png", "parts", [
        {"x": 5, "y": 5, "w": 10, "h": 10, "label": "frill"},
        {"x": 100, "y": 70, "w": 30, "h": 30, "label": "red"},
    ], rater="alice")  # fmt: skip
    store.submit_boxes("a.png", "other", [{"x": 1, "y": 1, "w": 4, "h": 4, "label": "red"}], "bob")
    store.submit("a.png", {"shape": "circle"}, rater="alice")  # a label row: not a box
    out = export_crops(store, tmp_path / "crops", size=(20, 20), task="parts")
    assert sorted(Path(p).name for p in out["path"]) == ["a_frill_0.jpg", "a_red_0.jpg"]
    assert out.set_index("label").loc["red", ["x", "y", "w", "h"]].tolist() == [100, 70, 20, 20]
    assert len(export_crops(store, tmp_path / "all", size=(20, 20))) == 3


def test_export_crops_errors(tmp_path):
    path = _gradient(tmp_path / "a.png")
    ok = _frame([("a.png", path, "x", 1, 1, 5, 5)])
    with pytest.raises(ValueError, match=r"`size` must fit inside every image\. Got \(200, 20\)"):
        export_crops(ok, tmp_path / "c", size=(200, 20))
    with pytest.raises(
        ValueError, match=r"`size` must be None or \(width, height\) positive integers"
    ):
        export_crops(ok, tmp_path / "c", size=(10.5, 20))
    with pytest.raises(ValueError, match=r"A box must overlap its image \(120 x 90 pixels\)"):
        export_crops(_frame([("a.png", path, "x", 500, 1, 5, 5)]), tmp_path / "c")
    with pytest.raises(ValueError, match=r"must have columns .*Missing \['h'\]"):
        export_crops(ok.drop(columns="h"), tmp_path / "c")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"`path` must name an image that decodes.*broken\.jpg"):
        export_crops(
            _frame([("b.jpg", str(tmp_path / "broken.jpg"), "x", 1, 1, 5, 5)]), tmp_path / "c"
        )
    with pytest.raises(
        ValueError, match=r"`store_or_df` must be a LabelStore or a pandas DataFrame"
    ):
        export_crops([1, 2], tmp_path / "c")


def test_crops_manifest_maps_every_file_back_to_its_item_and_label(tmp_path):
    a = _gradient(tmp_path / "a.png")
    b = _gradient(tmp_path / "other" / "a.jpg")  # same stem as a.png
    long_label = "a very long label " * 30
    df = _frame([
        ("a.png", a, "a/b", 1, 1, 5, 5),
        ("a.png", a, "a:b", 2, 2, 5, 5),  # differs from "a/b" only where a file name cannot
        ("a.png", a, "Cat", 3, 3, 5, 5),
        ("a.png", a, "cat", 4, 4, 5, 5),  # differs only by case
        ("a.jpg", b, "a/b", 5, 5, 5, 5),  # another image with the same stem
        ("a.png", a, long_label, 6, 6, 5, 5),
    ])  # fmt: skip
    out = export_crops(df, tmp_path / "crops")
    keys = zip(out["item_id"], out["label"], strict=True)
    names = dict(zip(keys, (Path(p).name for p in out["path"]),
                     strict=True))  # fmt: skip
    assert [names["a.png", lab] for lab in ("a/b", "a:b", "Cat", "cat")] == [
        "a_a_b_0.jpg", "a_a_b_1.jpg", "a_Cat_0.jpg", "a_cat_1.jpg",
    ]  # fmt: skip
    assert names["a.jpg", "a/b"] == "a_a_b_2.jpg"  # counted on across images of one stem
    assert len({n.casefold() for n in names.values()}) == len(df)  # unique, even ignoring case
    long_name = names["a.png", long_label]
    assert len(long_name.encode()) < 255 and long_name.startswith("a_a very long label")
    manifest = pd.read_csv(tmp_path / "crops" / "crops.csv")
    assert manifest.columns.tolist() == [
        "file", "item_id", "label", "x", "y", "w", "h", "box_x", "box_y", "box_w", "box_h",
    ]  # fmt: skip
    assert sorted(manifest["label"]) == sorted(df["label"])  # the exact labels, not the names
    assert sorted(manifest["file"]) == sorted(names.values())
    boxes = df.set_index(["item_id", "label"])[["x", "y"]]
    for row in manifest.itertuples():
        assert [row.box_x, row.box_y] == boxes.loc[(row.item_id, row.label)].tolist()
    pd.testing.assert_frame_equal(out.drop(columns="path"), manifest, check_dtype=False)
    assert all((tmp_path / "crops" / f).is_file() for f in manifest["file"])


def test_safe_filename_cuts_long_names_with_a_hash():
    one, two = safe_filename("x" * 300 + "1"), safe_filename("x" * 300 + "2")
    assert one != two and len(one.encode()) == len(two.encode()) == 96
    assert safe_filename("é" * 200).encode("utf-8").decode("utf-8")  # never cut mid-character


def test_export_crops_refuses_control_characters_before_writing(tmp_path):
    path = _gradient(tmp_path / "a.png")
    with pytest.raises(InputError, match=r"`label` must not contain control characters"):
        export_crops(_frame([("a.png", path, "red\x1b[0m", 1, 1, 5, 5)]), tmp_path / "c")
    assert not (tmp_path / "c").exists()
