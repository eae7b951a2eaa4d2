"""Command line.

``labelwidgets demo [FOLDER]`` builds the demo data, copies the notebooks and opens JupyterLab on
the workshop notebook. ``labelwidgets serve --store STORE --rater NAME`` starts a Voila page that
shows only that rater's tagger against the store (an SQLite file or a PostgreSQL URL), for raters
who do not write code; the teacher's notebook sees the labels arrive in the same store.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FIRST = ("00_workshop.ipynb", "01_multitask_tagging.ipynb")


def _run(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> int:
    """Run a server in the foreground; stop it (and its kernels) when this process is stopped."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env)

    def _stop(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return proc.wait()
    except (KeyboardInterrupt, SystemExit):
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def demo(folder: Path, port: int | None, open_browser: bool, dry_run: bool = False) -> int:
    """Build the demo in ``folder`` and start JupyterLab showing the workshop notebook."""
    from .datasets import make_demo

    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["LABELWIDGETS_HOME"] = str(folder / ".labelwidgets")
    root = make_demo()
    print(f"demo images in {root}")
    if not NOTEBOOKS.is_dir():
        raise SystemExit(f"notebooks not found at {NOTEBOOKS}: run from a clone of the labelwidgets repository")
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        target = folder / nb.name
        if not target.exists():  # never overwrite a notebook the user has worked in
            shutil.copy(nb, target)
    shutil.copy(NOTEBOOKS / "nbval_sanitize.cfg", folder / "nbval_sanitize.cfg")
    first = next((name for name in FIRST if (folder / name).exists()), "")
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={folder}", "--ip=127.0.0.1"]
    if first:  # the printed address and "/" open the notebook itself, not the Launcher
        cmd.append(f"--LabApp.default_url=/lab/tree/{first}")
    if port:
        cmd.append(f"--port={port}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    print("starting:", " ".join(cmd))
    if dry_run:
        return 0
    return _run(cmd, cwd=folder)


# ------------------------------------------------------------------------ serve
def load_tasks(path: str | os.PathLike | None, store) -> dict:
    """The tasks of a rater page: from a JSON or YAML file, else the label tasks of the store.

    The file maps task names to options: ``{"shape": ["circle", "square"], "colors":
    {"multi": ["red", "green"]}}`` (``multi``: any subset may be chosen).
    """
    from ._tasks import MultiLabel
    from ._validate import InputError

    if path is None:
        defined = store.tasks()
        defined = defined[defined["kind"].isin(["single", "multi"])]
        if defined.empty:
            raise InputError(
                "The store must define label tasks when no tasks file is given. Got none; pass "
                "--tasks FILE (JSON or YAML: task -> options) or run a tagger on the store once."
            )
        return {
            t: MultiLabel(o) if k == "multi" else list(o)
            for t, k, o in zip(defined["task"], defined["kind"], defined["options"], strict=True)
        }
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        spec = yaml.safe_load(text)
    else:
        spec = json.loads(text)
    if not isinstance(spec, dict):
        raise InputError(f"The tasks file must hold a mapping of task -> options. Got {spec!r} instead.")
    out = {}
    for task, options in spec.items():
        if isinstance(options, dict):
            if set(options) != {"multi"}:
                raise InputError(
                    f"Task {task!r} must map to a list of options or {{'multi': [...]}}. "
                    f"Got {options!r} instead."
                )
            out[task] = MultiLabel(options["multi"])
        else:
            out[task] = options
    return out


def load_images(source: str | os.PathLike | None, store):
    """The images of a rater page: a folder, a CSV file, else the items already in the store."""
    from .images import ImageSet

    if source is not None:
        source = Path(source)
        if source.is_dir():
            return ImageSet.from_folder(source, progress=False)
        return ImageSet.from_csv(source, progress=False)
    items = store.items().drop(columns=["added_at", "width", "height"])
    return ImageSet.from_dataframe(items, progress=False)


def rater_page(config: dict):
    """What the Voila page of ``labelwidgets serve`` shows: a title and one rater's tagger.

    ``config`` holds ``store`` (path or URL), ``rater``, ``tasks`` (file or None), ``images``
    (folder, CSV or None) and ``cwd`` (where relative paths are resolved).
    """
    from IPython.display import HTML, display

    from .store import LabelStore
    from .tagging import MultiTaskTagger

    os.chdir(config.get("cwd") or os.getcwd())
    store = LabelStore(config["store"])
    tasks = load_tasks(config.get("tasks"), store)
    images = load_images(config.get("images"), store)
    tagger = MultiTaskTagger(images, tasks, rater=config["rater"], store=store)
    display(HTML(
        f"<h2 style='margin:4px 0'>Labeling as {html.escape(tagger.rater)}</h2>"
        f"<p style='margin:0 0 8px 0'>{len(tagger.queue)} items in your queue; every answer is "
        f"saved to {html.escape(repr(store))} when you submit it.</p>"
    ))  # fmt: skip
    return tagger


def serve(args: argparse.Namespace) -> int:
    """Write the rater page into a private folder and start Voila on it."""
    import importlib.util

    from .store import LabelStore

    if importlib.util.find_spec("voila") is None:
        raise SystemExit("labelwidgets serve needs Voila: pip install 'labelwidgets[serve]' (or voila>=0.5.13)")

    store_url = args.store
    if "://" not in store_url:  # a file: checked here, so the page never starts on a typo
        path = Path(store_url).resolve()
        if not path.exists():
            raise SystemExit(f"--store must be an existing store file or a database URL. Got {store_url!r}.")
        store_url = str(path)
    store = LabelStore(store_url)
    try:
        tasks = load_tasks(args.tasks, store)
    finally:
        store.close()
    config = {
        "store": store_url, "rater": args.rater, "cwd": os.getcwd(),
        "tasks": str(Path(args.tasks).resolve()) if args.tasks else None,
        "images": str(Path(args.images).resolve()) if args.images else None,
    }  # fmt: skip
    import nbformat

    folder = Path(tempfile.mkdtemp(prefix="labelwidgets-serve-"))
    page = folder / f"label-{secrets.token_hex(4)}.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "import json\nfrom labelwidgets.__main__ import rater_page\n"
        f"rater_page(json.loads({json.dumps(config)!r}))"
    )]  # fmt: skip
    nbformat.write(nb, page)
    token = "" if args.no_token else (args.token or secrets.token_urlsafe(16))
    cmd = [sys.executable, "-m", "voila", str(page), f"--port={args.port}", f"--Voila.ip={args.ip}",
           "--theme=light", "--strip_sources=True", f"--Voila.token={token}"]  # fmt: skip
    if not args.open_browser:
        cmd.append("--no-browser")
    url = f"http://{args.ip}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"rater page for {args.rater} on {url} (tasks: {', '.join(tasks)})")
    if args.dry_run:
        shutil.rmtree(folder)
        print("starting:", " ".join(cmd))
        return 0
    try:
        return _run(cmd, cwd=folder)
    finally:
        page.unlink(missing_ok=True)  # only what we wrote
        folder.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labelwidgets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="build demo data and open the workshop notebook in JupyterLab")
    d.add_argument("folder", nargs="?", default="labelwidgets-demo", help="where to put it (default: %(default)s)")
    d.add_argument("--port", type=int, default=None)
    d.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    d.add_argument("--dry-run", action="store_true", help="prepare the folder, print the command, do not start")
    s = sub.add_parser("serve", help="a page (Voila) showing one rater's tagger against a store")
    s.add_argument("--store", required=True, help="SQLite file or database URL (postgresql://...)")
    s.add_argument("--rater", required=True, help="who labels on this page")
    s.add_argument("--tasks", default=None, help="JSON/YAML file of task -> options (default: the store's tasks)")
    s.add_argument("--images", default=None, help="image folder or CSV (default: the store's items)")
    s.add_argument("--port", type=int, default=8866)
    s.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    s.add_argument("--token", default=None, help="access token (default: a random one, printed)")
    s.add_argument("--no-token", action="store_true", help="no token (only on a trusted network)")
    s.add_argument("--no-browser", dest="open_browser", action="store_false", help="do not open a web browser")
    s.add_argument("--dry-run", action="store_true", help="check the store and tasks, print the command")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return demo(Path(args.folder), args.port, not args.no_browser, args.dry_run)


if __name__ == "__main__":
    raise SystemExit(main())
