"""labelwidgets: Jupyter widgets for building image datasets: label, vote, train and audit."""

from .datasets import SimulatedRater, demo_tasks, demo_truth, load_demo, make_demo
from .images import ImageSet
from .store import LabelStore
from .tagging import MultiLabel, MultiTaskTagger

__version__ = "0.1.0"

__all__ = [
    "ImageSet",
    "LabelStore",
    "MultiLabel",
    "MultiTaskTagger",
    "SimulatedRater",
    "demo_tasks",
    "demo_truth",
    "load_demo",
    "make_demo",
]
