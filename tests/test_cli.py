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


def test_demo_serves_the_workshop_notebook(tmp_path):
    """`labelwidgets demo` really starts JupyterLab on 127.0.0.1 with the notebooks and the data."""
    import json
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_TOKEN": "demo-test", "LABELWIDGETS_TEST_MODE": "1",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}  # fmt: skip
    folder = tmp_path / "demo"
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "labelwidgets", "demo", str(folder), "--no-browser", f"--port={port}"],
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{base}/api/contents/00_workshop.ipynb?token=demo-test&content=0") as r:
                    model = json.load(r)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "demo.log").read_text()[-2000:]
                time.sleep(0.5)
        else:
            raise AssertionError("the demo server did not answer: " + (tmp_path / "demo.log").read_text()[-2000:])
        assert model["type"] == "notebook"
        assert (folder / ".labelwidgets" / "demo" / "truth.csv").exists()
        assert "00_workshop.ipynb" in (tmp_path / "demo.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
