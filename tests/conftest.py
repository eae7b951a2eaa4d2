"""Shared fixtures: an isolated environment, demo data, PostgreSQL, and the real-browser harness."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"
POSTGRES_URL = os.environ.get("LABELWIDGETS_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

os.environ.setdefault("LABELWIDGETS_TEST_MODE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """A demo folder built once per test session (120 shapes in test mode, plus the photos)."""
    from labelwidgets.datasets import make_demo

    return make_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite store."""
    from labelwidgets.store import LabelStore

    s = LabelStore(tmp_path / "labels.db")
    yield s
    s.close()


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database on 127.0.0.1:5432 (dropped afterwards)."""
    psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    admin = POSTGRES_URL
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {admin}: {exc}")
    name = f"lw_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.rsplit("/", 1)[0] + "/" + name
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


# ----------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's) driven by Playwright."""
    from browser_harness import CHROMIUM, Browser

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: .ci/run must install it")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a fresh folder."""
    from browser_harness import LabServer

    server = LabServer(tmp_path_factory.mktemp("lab"), app="lab")
    yield server
    server.stop()


@pytest.fixture
def notebook_page(lab, browser):
    """Open a notebook in the lab: ``page = notebook_page("name.ipynb")``."""
    from browser_harness import NotebookPage

    pages = []

    def _open(name: str, server=None, **kwargs):
        page = NotebookPage(server or lab, browser, name, **kwargs)
        pages.append(page)
        return page

    yield _open
    for page in pages:
        page.close()
