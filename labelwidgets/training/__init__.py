"""Training: torch classifiers, RandAugment-style noise and the noisy-student loop.

Heavy dependencies (torch, torchvision, ultralytics) are imported when a model is built or
trained, not when this package is imported.
"""

from ._yolo_cls import YoloClassifier
from .augment import BatchNoise
from .classifier import Classifier
from .crossval import cross_val_probabilities
from .data import ArrayImages
from .detection_student import DetectionNoisyStudent
from .detector import (
    TrainedDetector,
    load_detector,
    predict_boxes,
    save_detector,
    train_detector,
    write_predictions,
)
from .models import MODELS, build_model
from .noisy_student import NoisyStudent, balance_pseudo_labels, per_class_accuracy
from .stream import StreamReport, predict_to_store, predicted_items

__all__ = [
    "ArrayImages",
    "BatchNoise",
    "Classifier",
    "DetectionNoisyStudent",
    "MODELS",
    "NoisyStudent",
    "StreamReport",
    "TrainedDetector",
    "balance_pseudo_labels",
    "build_model",
    "cross_val_probabilities",
    "load_detector",
    "per_class_accuracy",
    "predict_boxes",
    "predict_to_store",
    "predicted_items",
    "save_detector",
    "train_detector",
    "write_predictions",
    "YoloClassifier",
]
