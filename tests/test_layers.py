"""The layers hold: logic and data modules load no widget library, the top level exports lazily."""

import subprocess
import sys

import pytest

WIDGET_LIBRARIES = ("ipywidgets", "ipyevents", "anywidget", "jupyter_bbox_widget", "ipyannotations")
HEAVY = ("torch", "torchvision", "ultralytics", "ray")

LOGIC_MODULES = [
    "labelwidgets",
    "labelwidgets._validate",
    "labelwidgets._tasks",
    "labelwidgets._geometry",
    "labelwidgets.store",
    "labelwidgets.images",
    "labelwidgets.formats",
    "labelwidgets.voting",
    "labelwidgets.slices",
    "labelwidgets.training",
    "labelwidgets.crops",
    "labelwidgets.datasets",
    "labelwidgets.detect",
    "labelwidgets.active",
    "labelwidgets.training.stream",
    "labelwidgets.training._ray",
]


def _loaded_after_import(module: str) -> set[str]:
    code = (
        f"import sys, {module}\n"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", LOGIC_MODULES)
def test_logic_module_loads_no_widget_library(module):
    loaded = _loaded_after_import(module)
    assert not loaded & set(WIDGET_LIBRARIES), f"{module} loaded {sorted(loaded & set(WIDGET_LIBRARIES))}"
    assert not loaded & set(HEAVY), f"{module} loaded {sorted(loaded & set(HEAVY))} at import time"


def test_top_level_exports_resolve_lazily():
    import labelwidgets as lw

    for name in lw.__all__:
        assert getattr(lw, name) is not None, name
    assert lw.MultiTaskTagger.__module__ == "labelwidgets.tagging"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lw.nope  # noqa: B018
