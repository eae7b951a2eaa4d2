"""A real browser against a real JupyterLab: the harness every widget's browser test uses.

``LabServer`` starts JupyterLab (or Notebook 7) on 127.0.0.1 with a token, in a folder of its
own, with every Jupyter/IPython/matplotlib directory inside that folder and news fetching off.
``Browser`` is headless Debian Chromium driven by Playwright (never a downloaded browser).
``NotebookPage`` opens a notebook, runs all cells, and checks that no widget failed to render.
The pytest fixtures in ``conftest.py`` (``lab``, ``browser``, ``notebook_page``) wrap these.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

CHROMIUM = os.environ.get("LABELWIDGETS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
ERROR_TEXTS = (
    "Error displaying widget",
    "Click to show javascript error",
    "Failed to load view class",
)
# Page errors that the app raises on an empty notebook too, so not ours to fail on:
# Notebook 7.6 throws this while loading its settings (seen with no widget and no user settings;
# tests/test_browser_tagger.py::test_notebook7_baseline_error keeps checking that it is upstream).
UPSTREAM_JS_ERRORS = {"notebook": ("Cannot read properties of undefined (reading 'schema')",)}
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("LABELWIDGETS_ARTIFACTS", REPO / "artifacts"))
# LABELWIDGETS_README_SHOTS=1: the screenshots the README shows are also written to docs/screenshots
README_SHOTS = REPO / "docs" / "screenshots"


def readme_shot(page, name: str, locator: str | None = None) -> Path:
    """Save a screenshot to the artifacts (and, with LABELWIDGETS_README_SHOTS=1, to the README's)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target = page.locator(locator).first if locator else page
    target.screenshot(path=str(path))
    if os.environ.get("LABELWIDGETS_README_SHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, README_SHOTS / f"{name}.png")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(home: Path, app: str = "lab") -> dict:
    """Environment that keeps Jupyter, IPython, matplotlib and ultralytics inside ``home``."""
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / ".jupyter",
        "JUPYTER_RUNTIME_DIR": home / ".jupyter" / "runtime",
        "JUPYTER_DATA_DIR": home / ".jupyter" / "data",
        "JUPYTERLAB_SETTINGS_DIR": home / ".jupyter" / "lab" / "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / ".jupyter" / "lab" / "workspaces",
        "IPYTHONDIR": home / ".ipython",
        "MPLCONFIGDIR": home / ".mplconfig",
        "LABELWIDGETS_HOME": home / ".labelwidgets",
    }
    for key, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    env.setdefault("LABELWIDGETS_TEST_MODE", "1")
    env["YOLO_OFFLINE"] = "1"
    # every cell stays in the DOM (no virtual scrolling), so prompts and outputs can be read
    tracker = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    if app != "lab":  # Notebook 7 lacks these plugins; their settings would break its start
        return env
    # no news, no update checks: nothing covers the page and nothing leaves the machine
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return env


class LabServer:
    """A JupyterLab server on 127.0.0.1 serving ``root``."""

    def __init__(self, root: Path, app: str = "lab"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.app = app
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.env = jupyter_env(self.root / ".home", app)
        self.log = open(self.root / f"jupyter-{app}.log", "wb")  # noqa: SIM115 - closed in stop()
        cmd = [
            sys.executable, "-m", "jupyter", app, "--no-browser", "--ip=127.0.0.1",
            f"--port={self.port}", f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root}", "--ServerApp.disable_check_xsrf=True", "--allow-root",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True",
        ]  # fmt: skip
        if app != "lab":
            cmd = [c for c in cmd if not c.startswith("--LabApp.")]
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=self.env, stdout=self.log, stderr=self.log
        )
        self._wait()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter {self.app} exited: see {self.root / f'jupyter-{self.app}.log'}"
                )
            try:
                with urllib.request.urlopen(
                    f"{self.base}/api/status?token={self.token}", timeout=2
                ):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"jupyter {self.app} did not answer on {self.base} within {timeout} s")

    def url(self, notebook: str) -> str:
        """The address that opens ``notebook`` (relative to the root) in this app."""
        if self.app == "lab":
            return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"
        return f"{self.base}/notebooks/{notebook}?token={self.token}"

    def write_notebook(self, name: str, cells: list[str]) -> str:
        """Write a notebook of code cells into the root; return its name."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nbformat.write(nb, self.root / name)
        return name

    def copy_in(self, path: Path) -> str:
        """Copy a file (e.g. a notebook of ``notebooks/``) into the root; return its name."""
        shutil.copy(path, self.root / Path(path).name)
        return Path(path).name

    def stop(self) -> None:
        """Stop the server and every kernel it started (also when a test failed)."""
        _stop(self.proc)
        self.log.close()


def _stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate a server and its children (kernels), killing what does not stop in time."""
    if proc.poll() is not None:
        return
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:  # a kernel its server did not stop
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue


class AppServer:
    """Another app on 127.0.0.1 (Voila, marimo, ``labelwidgets serve``): any command whose
    ``{port}`` is filled in, answered at ``ready_path`` once it is up."""

    def __init__(self, root: Path, cmd: list[str], ready_path: str = "/", name: str = "app",
                 env: dict | None = None, timeout: float = 120):  # fmt: skip
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.name = name
        self.env = env if env is not None else jupyter_env(self.root / ".home", app=name)
        self.log_path = self.root / f"{name}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [c.format(port=self.port) for c in cmd], cwd=self.root, env=self.env,
            stdout=self.log, stderr=self.log,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"{name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + ready_path, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers (e.g. 403 without a token): it is up
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"{name} did not answer on {self.base} within {timeout} s")

    def stop(self) -> None:
        _stop(self.proc)
        if not self.log.closed:
            self.log.close()


def assert_page_ok(page, root: str = "body") -> None:
    """Fail on a widget that did not render or any JavaScript error (any app, not only Lab)."""
    text = page.locator(root).first.inner_text()
    bad = [t for t in ERROR_TEXTS if t in text]
    assert not bad, f"widget errors on the page: {bad}"
    assert not page.js_errors, f"JavaScript errors: {page.js_errors}"


class Browser:
    """Headless Debian Chromium through Playwright."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        if not Path(CHROMIUM).exists():
            raise FileNotFoundError(
                f"Chromium must be installed at {CHROMIUM!r} (apt-get install chromium chromium-driver)."
            )
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )

    def new_page(self, width: int = 1400, height: int = 1000):
        page = self.browser.new_page(viewport={"width": width, "height": height})
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(f"{exc}\n{exc.stack}"))
        return page

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


class NotebookPage:
    """One notebook open in the browser."""

    def __init__(
        self,
        server: LabServer,
        browser: Browser,
        notebook: str,
        width: int = 1400,
        height: int = 1000,
    ):
        self.server = server
        self.page = browser.new_page(width, height)
        self.page.goto(server.url(notebook))
        self.page.wait_for_selector(".jp-Notebook", timeout=60_000)
        self.wait_kernel_idle()

    def wait_kernel_idle(self, timeout: float = 120) -> None:
        """Wait until the kernel status says idle (ready to run)."""
        # both apps show the execution state in a toolbar item's title/text
        deadline = time.time() + timeout
        while time.time() < deadline:
            busy = self.page.locator(
                ".jp-Notebook .jp-Cell .jp-InputPrompt:has-text('[*]')"
            ).count()
            status = self.page.locator(".jp-Notebook-ExecutionIndicator").first
            state = status.get_attribute("data-status") if status.count() else "idle"
            if busy == 0 and state in ("idle", None):
                return
            time.sleep(0.3)
        raise TimeoutError("the kernel stayed busy")

    def run_all(self, timeout: float = 300) -> None:
        """Clear the saved outputs, run every cell (Run > Run All Cells), wait for the last one."""
        self.menu("Edit", "Clear Outputs of All Cells")
        wait_for(
            lambda: all(p.strip() in ("[ ]:", "") for p in self._prompts()),
            message="saved outputs cleared",
        )
        for _attempt in range(3):  # a menu click is now and then lost while Lab is still settling
            self.menu("Run", "Run All Cells")
            try:
                wait_for(lambda: any(p.strip() not in ("[ ]:", "") for p in self._prompts()) or None,
                         timeout=15, message="a cell started")  # fmt: skip
                break
            except TimeoutError:
                self.page.keyboard.press("Escape")
        else:
            self.screenshot("run-all-not-started")
            raise TimeoutError("Run All Cells started no cell after three clicks")
        deadline = time.time() + timeout
        while time.time() < deadline:
            prompts = self._prompts()
            if prompts and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts):
                return
            time.sleep(0.5)
        self.screenshot("run-all-timeout")
        raise TimeoutError(f"cells still running after {timeout} s: prompts {prompts}")

    def _prompts(self) -> list[str]:
        return self.page.locator(
            ".jp-Notebook .jp-Cell.jp-CodeCell .jp-InputPrompt"
        ).all_inner_texts()

    def menu(self, menu: str, item: str) -> None:
        """Click ``item`` in the main menu ``menu`` (works in JupyterLab and Notebook 7)."""
        self.page.locator(".jp-Notebook").first.click()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text=item).first.click()

    def assert_widgets_ok(self) -> None:
        """Fail on any widget that did not render, any JS error box, any Python traceback."""
        text = self.page.locator(".jp-Notebook").inner_text()
        bad = [t for t in ERROR_TEXTS if t in text]
        assert not bad, f"widget errors on the page: {bad}"
        tracebacks = self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        for i in range(tracebacks.count()):
            out = tracebacks.nth(i).inner_text()
            assert "Traceback" not in out and "Error" not in out.splitlines()[0], out[:2000]
        known = UPSTREAM_JS_ERRORS.get(self.server.app, ())
        ours = [e for e in self.page.js_errors if not any(e.startswith(k) for k in known)]
        assert not ours, f"JavaScript errors: {ours}"

    def screenshot(self, name: str, locator: str | None = None) -> Path:
        """Save a PNG under the artifacts folder; return its path."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        if locator:
            self.page.locator(locator).first.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=False)
        return path

    def close(self) -> None:
        self.page.close()


def _ready(value) -> bool:
    """Truthiness that also works for DataFrames: None, False, 0 and empty things are not ready."""
    if value is None or value is False:
        return False
    if getattr(value, "empty", False):  # pandas objects refuse bool()
        return False
    if hasattr(value, "shape"):
        return True
    return bool(value)


def wait_for(condition, timeout: float = 30, interval: float = 0.25, message: str = "condition"):
    """Poll ``condition()`` until it returns something ready (see ``_ready``); return it."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = condition()
        if _ready(last):
            return last
        time.sleep(interval)
    raise TimeoutError(f"{message} not met within {timeout} s (last value: {last!r})")


def busy_then_killed(db: Path, pid: int, status, act, on_busy=None) -> str:
    """Make a widget's kernel busy, then kill it; return what the widget's status line says.

    Another writer holds the SQLite store's write lock (as a teammate's long transaction would),
    so the kernel's next commit waits inside the kernel and no ack comes. ``act()`` is what the
    rater does meanwhile; once ``status`` (a locator) says the kernel is busy, ``on_busy()`` runs,
    the kernel process is killed and the status must say the kernel is gone.
    """
    blocker = sqlite3.connect(db, timeout=5, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        act()
        wait_for(lambda: "kernel is busy" in status.inner_text(), timeout=15, message="busy message")
        if on_busy is not None:
            on_busy()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: "kernel is gone" in status.inner_text(), timeout=30, message="gone message")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    return status.inner_text()
