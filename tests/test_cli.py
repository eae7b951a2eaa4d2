"""The command line: ``labelwidgets demo`` (the workshop notebook itself) and ``labelwidgets serve``
(a rater page). Every test that starts a server stops it and its kernels, also on failure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from browser_harness import _free_port, _stop

from labelwidgets.__main__ import load_tasks, main, rater_page
from labelwidgets._tasks import MultiLabel
from labelwidgets._validate import InputError
from labelwidgets.datasets import load_demo
from labelwidgets.store import LabelStore


def test_demo_dry_run_prepares_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABELWIDGETS_TEST_MODE", "1")
    folder = tmp_path / "demo"
    assert main(["demo", str(folder), "--no-browser", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (folder / "01_multitask_tagging.ipynb").exists()
    assert (folder / ".labelwidgets" / "demo" / "metadata.csv").exists()
    assert len(list((folder / ".labelwidgets" / "demo" / "shapes").glob("*.jpg"))) == 120
    assert "jupyter lab" in out and "--ip=127.0.0.1" in out and "--no-browser" in out
    assert "--LabApp.default_url=/lab/tree/00_workshop.ipynb" in out  # the notebook, not the Launcher
    # a notebook the user edited is never overwritten by a second run
    (folder / "01_multitask_tagging.ipynb").write_text("{}")
    main(["demo", str(folder), "--no-browser", "--dry-run"])
    assert (folder / "01_multitask_tagging.ipynb").read_text() == "{}"


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "labelwidgets", "serve", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--store" in out.stdout and "--rater" in out.stdout


def test_demo_opens_the_workshop_notebook_and_stops_cleanly(tmp_path):
    """`labelwidgets demo` prints (and "/" redirects to) the workshop notebook's address; stopping
    the command stops JupyterLab and its kernels too."""
    port = _free_port()
    env = {**os.environ, "JUPYTER_TOKEN": "demo-test", "LABELWIDGETS_TEST_MODE": "1",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}  # fmt: skip
    folder = tmp_path / "demo"
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labelwidgets", "demo", str(folder), "--no-browser", f"--port={port}"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        children = []
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(240):
                try:
                    urllib.request.urlopen(f"{base}/api/status?token=demo-test", timeout=2)
                    break
                except OSError:
                    assert proc.poll() is None, log_path.read_text()[-2000:]
                    time.sleep(0.5)
            else:
                raise AssertionError("the demo server did not answer: " + log_path.read_text()[-2000:])
            children = psutil.Process(proc.pid).children(recursive=True)
            printed = re.findall(r"http://127\.0\.0\.1:\d+(\S*)", log_path.read_text())
            assert printed and all(p.startswith("/lab/tree/00_workshop.ipynb?token=") for p in printed)
            with urllib.request.urlopen(f"{base}/?token=demo-test") as r:  # follows the redirect
                assert r.url.split("?")[0] == f"{base}/lab/tree/00_workshop.ipynb"
            with urllib.request.urlopen(f"{base}/api/contents/00_workshop.ipynb?token=demo-test&content=0") as r:
                assert json.load(r)["type"] == "notebook"
            assert (folder / ".labelwidgets" / "demo" / "truth.csv").exists()
        finally:
            _stop(proc)
    assert children and not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


# ------------------------------------------------------------------ serve
def test_load_tasks_from_files_and_store(tmp_path, store):
    (tmp_path / "t.json").write_text(json.dumps({"shape": ["circle", "square"], "colors": {"multi": ["red", "blue"]}}))
    (tmp_path / "t.yaml").write_text("shape: [circle, square]\ncolors:\n  multi: [red, blue]\n")
    for name in ("t.json", "t.yaml"):
        tasks = load_tasks(tmp_path / name, store)
        assert tasks == {"shape": ["circle", "square"], "colors": MultiLabel(["red", "blue"])}
        assert isinstance(tasks["colors"], MultiLabel)
    with pytest.raises(InputError, match="The store must define label tasks"):
        load_tasks(None, store)
    store.register_task("shape", ["circle", "square"], "single")
    store.register_task("colors", ["red", "blue"], "multi")
    store.register_task("boxes", ["car"], "box")  # not a tagger task
    assert load_tasks(None, store) == {"shape": ["circle", "square"], "colors": MultiLabel(["red", "blue"])}
    (tmp_path / "bad.json").write_text(json.dumps({"colors": {"any": ["red"]}}))
    with pytest.raises(InputError, match=r"must map to a list of options or \{'multi': \[...\]\}"):
        load_tasks(tmp_path / "bad.json", store)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="must hold a mapping of task -> options"):
        load_tasks(tmp_path / "list.json", store)


def test_serve_dry_run_checks_store_and_tasks(tmp_path, capsys):
    with pytest.raises(SystemExit, match="must be an existing store file or a database URL"):
        main(["serve", "--store", str(tmp_path / "missing.db"), "--rater", "ann", "--dry-run"])
    db = tmp_path / "s.db"
    LabelStore(db).register_task("shape", ["circle", "square"])
    assert main(["serve", "--store", str(db), "--rater", "ann", "--dry-run", "--token", "t0k"]) == 0
    out = capsys.readouterr().out
    assert "rater page for ann on http://127.0.0.1:8866/?token=t0k (tasks: shape)" in out
    assert "-m voila" in out and "--Voila.ip=127.0.0.1" in out and "--strip_sources=True" in out
    assert not list(tmp_path.glob("*.ipynb"))  # nothing written beside the user's files


@pytest.mark.postgres
def test_rater_page_on_postgresql(postgres_url, demo_root, tmp_path, monkeypatch):
    """The page's widget against a PostgreSQL store, images taken from the store's items."""
    monkeypatch.chdir(tmp_path)
    shapes = load_demo("shapes", root=demo_root).subset(load_demo("shapes", root=demo_root).item_ids[:3])
    teacher = LabelStore(postgres_url)
    shapes.to_store(teacher)
    teacher.register_task("shape", ["circle", "square", "triangle"])
    tagger = rater_page({"store": postgres_url, "rater": "pat", "cwd": str(tmp_path)})
    assert tagger.queue == shapes.item_ids
    tagger.press("2"), tagger.press("Enter")
    got = teacher.labels(rater="pat")  # the teacher sees the label arrive
    assert got[["item_id", "label"]].values.tolist() == [[shapes.item_ids[0], "square"]]
    tagger.close()
    teacher.close()


def test_run_stops_its_child_on_sigterm(tmp_path):
    """The CLI's foreground runner passes a stop on to the server it started."""
    code = (
        "import sys; from labelwidgets.__main__ import _run; "
        "_run([sys.executable, '-c', 'import time; time.sleep(60)'])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(100):
            children = psutil.Process(proc.pid).children()
            if children:
                break
            time.sleep(0.1)
        assert children
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    psutil.wait_procs(children, timeout=10)
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
