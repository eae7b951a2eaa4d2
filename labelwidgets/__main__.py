"""Command line: ``labelwidgets demo`` builds the demo data, copies the notebooks, opens JupyterLab."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FIRST = ("00_workshop.ipynb", "01_multitask_tagging.ipynb")


def demo(folder: Path, port: int | None, open_browser: bool, dry_run: bool = False) -> int:
    """Build the demo in ``folder`` and start JupyterLab on the workshop notebook."""
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
    cmd = [sys.executable, "-m", "jupyter", "lab", first, f"--ServerApp.root_dir={folder}", "--ip=127.0.0.1"]
    if port:
        cmd.append(f"--port={port}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    print("starting:", " ".join(cmd))
    if dry_run:
        return 0
    return subprocess.call(cmd, cwd=folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labelwidgets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="build demo data and open the workshop notebook in JupyterLab")
    d.add_argument("folder", nargs="?", default="labelwidgets-demo", help="where to put it (default: %(default)s)")
    d.add_argument("--port", type=int, default=None)
    d.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    d.add_argument("--dry-run", action="store_true", help="prepare the folder, print the command, do not start")
    args = parser.parse_args(argv)
    return demo(Path(args.folder), args.port, not args.no_browser, args.dry_run)


if __name__ == "__main__":
    raise SystemExit(main())
