"""labelwidgets: Jupyter widgets for building image datasets: label, vote, train and audit."""

from . import formats
from .boxes import BoxAnnotator
from .crops import export_crops
from .datasets import SimulatedRater, demo_tasks, demo_truth, load_demo, make_demo
from .images import ImageSet
from .polygons import PointAnnotator, PolygonAnnotator
from .slices import class_balance, detection_slice_report, slice_frame, slice_report
from .slices import plot as plot_slices
from .store import LabelStore
from .tagging import MultiLabel, MultiTaskTagger
from .training import NoisyStudent
from .voting import (
    TiebreakQueue,
    agreement,
    assign,
    cohen_kappa,
    confusion,
    krippendorff_alpha,
    plot_confusion,
    resolve,
)

__version__ = "0.1.0"

__all__ = [
    "BoxAnnotator",
    "ImageSet",
    "LabelStore",
    "MultiLabel",
    "MultiTaskTagger",
    "NoisyStudent",
    "PointAnnotator",
    "PolygonAnnotator",
    "SimulatedRater",
    "TiebreakQueue",
    "agreement",
    "assign",
    "class_balance",
    "cohen_kappa",
    "confusion",
    "demo_tasks",
    "demo_truth",
    "detection_slice_report",
    "export_crops",
    "formats",
    "krippendorff_alpha",
    "load_demo",
    "make_demo",
    "plot_confusion",
    "plot_slices",
    "resolve",
    "slice_frame",
    "slice_report",
]
