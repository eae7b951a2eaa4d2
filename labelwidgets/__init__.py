"""labelwidgets: Jupyter widgets for building image datasets: label, vote, train and audit.

``import labelwidgets as lw`` is cheap: every name below is imported on first use (PEP 562), so
``import labelwidgets.voting`` (or ``.store``, ``.formats``, ``.slices``, ``.training``) never
loads a widget library. See ``docs/ARCHITECTURE.md`` for the layers.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute); modules are imported when a name is first used
_EXPORTS = {
    # core and data
    "InputError": ("._validate", "InputError"),
    "MultiLabel": ("._tasks", "MultiLabel"),
    "ImageSet": (".images", "ImageSet"),
    "LabelStore": (".store", "LabelStore"),
    # logic
    "export_crops": (".crops", "export_crops"),
    "SimulatedRater": (".datasets", "SimulatedRater"),
    "demo_tasks": (".datasets", "demo_tasks"),
    "demo_truth": (".datasets", "demo_truth"),
    "load_demo": (".datasets", "load_demo"),
    "make_demo": (".datasets", "make_demo"),
    "class_balance": (".slices", "class_balance"),
    "detection_slice_report": (".slices", "detection_slice_report"),
    "slice_frame": (".slices", "slice_frame"),
    "slice_report": (".slices", "slice_report"),
    "plot_slices": (".slices", "plot"),
    "NoisyStudent": (".training", "NoisyStudent"),
    "DetectionNoisyStudent": (".training", "DetectionNoisyStudent"),
    "Classifier": (".training", "Classifier"),
    "cross_val_probabilities": (".training", "cross_val_probabilities"),
    "predict_to_store": (".training", "predict_to_store"),
    "uncertainty": (".active", "uncertainty"),
    "uncertainty_order": (".active", "uncertainty_order"),
    "agreement": (".voting", "agreement"),
    "assign": (".voting", "assign"),
    "cohen_kappa": (".voting", "cohen_kappa"),
    "confusion": (".voting", "confusion"),
    "finished": (".voting", "finished"),
    "krippendorff_alpha": (".voting", "krippendorff_alpha"),
    "label_issues": (".voting", "label_issues"),
    "plot_confusion": (".voting", "plot_confusion"),
    "plot_rater_quality": (".voting", "plot_rater_quality"),
    "rater_quality": (".voting", "rater_quality"),
    "resolve": (".voting", "resolve"),
    # widgets
    "BoxAnnotator": (".boxes", "BoxAnnotator"),
    "MultiTaskTagger": (".tagging", "MultiTaskTagger"),
    "PointAnnotator": (".polygons", "PointAnnotator"),
    "PolygonAnnotator": (".polygons", "PolygonAnnotator"),
    "ReviewQueue": (".review", "ReviewQueue"),
    "TiebreakQueue": (".tiebreak", "TiebreakQueue"),
}
_SUBMODULES = ("formats", "voting", "training", "slices", "store", "images", "crops", "datasets")

__all__ = sorted([*_EXPORTS, "formats"])


def __getattr__(name: str):
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        value = getattr(importlib.import_module(module, __name__), attr)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'labelwidgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
