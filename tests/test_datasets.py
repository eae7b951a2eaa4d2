"""The demo data writes into its own folder only, and rebuilds remove only its own images."""

from __future__ import annotations

import pytest

from labelwidgets._validate import InputError
from labelwidgets.datasets import make_demo


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "shapes").mkdir()
    mine = tmp_path / "shapes" / "holiday.jpg"
    mine.write_bytes(b"not the demo's")
    with pytest.raises(InputError, match="holds other files"):
        make_demo(tmp_path, n_shapes=4)
    assert mine.read_bytes() == b"not the demo's"


def test_a_rebuild_removes_only_the_demo_images(tmp_path):
    root = make_demo(tmp_path / "demo", n_shapes=6)
    assert len(list((root / "shapes").glob("*.jpg"))) == 6
    keep = root / "shapes" / "notes.txt"
    keep.write_text("mine")
    make_demo(root, n_shapes=3)                 # other settings: the generated images are rebuilt
    assert sorted(p.name for p in (root / "shapes").glob("*.jpg")) == ["0000.jpg", "0001.jpg", "0002.jpg"]
    assert keep.read_text() == "mine"
    link = tmp_path / "link"
    link.symlink_to(root)
    with pytest.raises(InputError, match="not a link"):
        make_demo(link, n_shapes=3, overwrite=True)
