"""Keep every library offline: nothing may download weights, fonts or data at run time."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["prepare_ultralytics", "config_dir", "test_mode"]


def test_mode() -> bool:
    """Whether ``LABELWIDGETS_TEST_MODE`` asks for small, fast runs (tests, CI, nbval)."""
    return os.environ.get("LABELWIDGETS_TEST_MODE", "").lower() not in ("", "0", "false", "no")


def config_dir() -> Path:
    """Where labelwidgets keeps tool configuration (``$LABELWIDGETS_HOME`` or ``~/.labelwidgets``)."""
    root = Path(os.environ.get("LABELWIDGETS_HOME", Path.home() / ".labelwidgets"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def prepare_ultralytics() -> Path:
    """Set ultralytics up to make zero network attempts; call before ``import ultralytics``.

    Sets ``YOLO_OFFLINE=1`` and ``YOLO_CONFIG_DIR`` (unless already set) and puts matplotlib's
    DejaVuSans where ultralytics looks for ``Arial.ttf``, so that plotting never fetches a font.

    Returns
    -------
    pathlib.Path
        The ultralytics configuration directory.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    cfg = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir() / "ultralytics")))
    fonts = cfg / "Ultralytics"
    fonts.mkdir(parents=True, exist_ok=True)
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = fonts / name
        if not target.exists():
            shutil.copyfile(dejavu, target)
    return cfg
