"""ImageSet: loading from folders, CSV and DataFrames; EXIF, modes, and what gets skipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labelwidgets.images import ImageSet, open_image


def _save(path, size=(40, 20), mode="RGB", **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, **kwargs).save(path)
    return path


def test_from_folder_recursive_with_subfolder_labels(tmp_path, store):
    tmp_path = tmp_path / "photos"
    _save(tmp_path / "rose" / "a.jpg")
    _save(tmp_path / "daisy" / "b.png")
    _save(tmp_path / "top.jpg")
    (tmp_path / "readme.txt").write_text("hi")
    (tmp_path / "rose" / "broken.jpg").write_bytes(b"not really a jpeg")
    images = ImageSet.from_folder(tmp_path, labels_from_subfolders=True, task="variety")
    assert images.item_ids == ["daisy/b.png", "rose/a.jpg", "top.jpg"]
    assert sorted(images.skipped["path"].map(lambda p: p.rsplit("/", 1)[-1])) == ["broken.jpg", "readme.txt"]
    assert images.skipped["reason"].str.len().min() > 0
    assert images.initial_labels.to_dict("records") == [
        {"item_id": "daisy/b.png", "task": "variety", "label": "daisy"},
        {"item_id": "rose/a.jpg", "task": "variety", "label": "rose"},
    ]
    images.to_store(store)
    images.to_store(store)  # the folder labels are written once
    labels = store.labels(source="folder")
    assert sorted(labels["label"]) == ["daisy", "rose"] and set(labels["rater"]) == {"folder"}


def test_exif_orientation_and_modes(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    img.save(tmp_path / "rot.jpg", exif=exif)
    _save(tmp_path / "gray16.png", mode="I;16")
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.save(tmp_path / "clear.png")
    _save(tmp_path / "pal.gif", mode="P")
    images = ImageSet.from_folder(tmp_path)
    sizes = images.items.set_index("item_id")[["width", "height"]]
    assert tuple(sizes.loc["rot.jpg"]) == (20, 40)  # upright size
    for item in images.item_ids:
        assert images.load(item).mode == "RGB"
    assert np.asarray(images.load("clear.png"))[0, 0].tolist() == [255, 255, 255]  # on white


def test_truncated_file_is_skipped(tmp_path):
    good = _save(tmp_path / "good.jpg", size=(200, 200), color=(10, 200, 30))
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:400])
    images = ImageSet.from_folder(tmp_path)
    assert images.item_ids == ["good.jpg"]
    assert "cut.jpg" in images.skipped.loc[0, "reason"]


def test_from_csv_relative_paths_metadata_and_missing_files(tmp_path):
    _save(tmp_path / "imgs" / "a.jpg")
    pd.DataFrame({"file": ["imgs/a.jpg", "imgs/missing.jpg"], "camera": ["x", "y"]}).to_csv(
        tmp_path / "items.csv", index=False
    )
    images = ImageSet.from_csv(tmp_path / "items.csv", path_column="file")
    assert images.item_ids == ["imgs/a.jpg"]
    assert images.items.loc[0, "camera"] == "x" and images.metadata_columns == ["camera"]
    assert "must be an existing file" in images.skipped.loc[0, "reason"]
    with pytest.raises(ValueError, match=r"`path_column` must name a column.*Got 'path'.*\['file', 'camera'\]"):
        ImageSet.from_csv(tmp_path / "items.csv")


def test_from_dataframe_duplicates_and_display_cache(tmp_path):
    p = _save(tmp_path / "a.jpg", size=(2000, 1000))
    images = ImageSet.from_dataframe(pd.DataFrame({"path": [str(p), str(p)], "split": ["train", "val"]}))
    assert len(images) == 1 and images.skipped.loc[0, "reason"] == "duplicate item_id"
    shown = images.display(str(p), max_size=500)
    assert shown.format == "jpeg" and shown.scale == (0.25, 0.25) and shown.data[:2] == b"\xff\xd8"
    assert (shown.width, shown.height) == (500, 250)
    assert images.display(str(p), max_size=500) is shown  # cached
    assert images.size(str(p)) == (2000, 1000) and images.metadata(str(p)) == {"split": "train"}
    with pytest.raises(KeyError, match="`item_id` must be an item of this ImageSet"):
        images.load("nope")


def test_open_image_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="must be an existing file"):
        open_image(tmp_path / "none.jpg")
    (tmp_path / "x.png").write_text("text")
    with pytest.raises(OSError, match="x.png"):
        open_image(tmp_path / "x.png")


@pytest.mark.train
def test_non_image_is_skipped_even_after_ultralytics_patches_pil(tmp_path):
    """Importing ultralytics swaps PIL.Image.open for a wrapper that tries to install pi-heif."""
    from labelwidgets._offline import prepare_ultralytics

    prepare_ultralytics()
    pytest.importorskip("ultralytics")
    (tmp_path / "x.jpg").write_text("not an image")
    images = ImageSet.from_folder(tmp_path)
    assert len(images) == 0 and "not an image file" in images.skipped.loc[0, "reason"]


def test_tiny_images_are_enlarged_by_a_whole_factor(tmp_path):
    _save(tmp_path / "tiny.png", size=(96, 64))
    images = ImageSet.from_folder(tmp_path, progress=False)
    shown = images.display("tiny.png", max_size=768, min_size=384)
    assert (shown.format, shown.width, shown.height, shown.scale) == ("png", 384, 256, (4.0, 4.0))


def test_bad_file_names_and_dangling_links_become_skipped_rows(tmp_path):
    import os

    _save(tmp_path / "good.jpg")
    bad = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not UTF-8
    _save(tmp_path / bad)
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    images = ImageSet.from_folder(tmp_path, progress=False)
    assert images.item_ids == ["good.jpg"]
    reasons = dict(zip(images.skipped["path"], images.skipped["reason"], strict=True))
    assert reasons[str(tmp_path / "caf\\xe9.jpg")].startswith("the file name is not valid UTF-8")
    assert reasons[str(tmp_path / "gone.jpg")] == "a symbolic link whose target is missing"


def test_sixteen_bit_and_float_images_are_scaled(tmp_path):
    from labelwidgets.images import to_rgb

    arr = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "deep.png")
    img = open_image(tmp_path / "deep.png")
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (0, 0, 0) and img.getpixel((1, 1)) == (255, 255, 255)
    assert to_rgb(np.full((2, 2), 0.5)).getpixel((0, 0)) == (0, 0, 0)  # flat: no range to scale


def test_images_over_the_pixel_limit_are_refused(tmp_path, monkeypatch):
    import labelwidgets.images as im

    p = _save(tmp_path / "big.png", size=(200, 100))
    monkeypatch.setattr(im, "MAX_PIXELS", 10_000)
    with pytest.raises(OSError, match=r"big.png is 200 x 100 pixels, more than the limit of 10,000"):
        open_image(p)
