"""`labelwidgets demo`: builds the demo folder and the JupyterLab command (dry run)."""

from __future__ import annotations

import subprocess
import sys

from labelwidgets.__main__ import main


def test_demo_dry_run_prepares_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABELWIDGETS_TEST_MODE", "1")
    folder = tmp_path / "demo"
    assert main(["demo", str(folder), "--no-browser", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (folder / "01_multitask_tagging.ipynb").exists()
    assert (folder / ".labelwidgets" / "demo" / "metadata.csv").exists()
    assert len(list((folder / ".labelwidgets" / "demo" / "shapes").glob("*.jpg"))) == 120
    assert "jupyter lab" in out and "--ip=127.0.0.1" in out and "--no-browser" in out
    first = "00_workshop.ipynb" if (folder / "00_workshop.ipynb").exists() else "01_multitask_tagging.ipynb"
    assert first in out
    # a notebook the user edited is never overwritten by a second run
    (folder / "01_multitask_tagging.ipynb").write_text("{}")
    main(["demo", str(folder), "--no-browser", "--dry-run"])
    assert (folder / "01_multitask_tagging.ipynb").read_text() == "{}"


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "labelwidgets", "demo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "workshop notebook" not in out.stderr and "folder" in out.stdout
