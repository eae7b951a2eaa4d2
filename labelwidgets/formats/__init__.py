"""Annotation files in and out: Pascal VOC, YOLO (detection and segmentation), COCO and labelme.

Every function works on a long DataFrame with columns ``item_id, path, label, x, y, w, h``
(boxes in pixels of the EXIF-corrected image, top-left origin), optional ``width, height``,
``kind`` (``"box"``, ``"polygon"``, ``"point"``; points in ``attributes["points"]``) and
``attributes``, such as ``LabelStore.labels()`` joined with ``LabelStore.items()``. Readers
return the same columns (plus what their format keeps, e.g. ``image_attributes``); an image
without objects is one row whose ``label`` is missing. Files are read and written as the
tools people label with read and write them (LabelImg, CVAT, Roboflow, labelme, ultralytics);
folder exports never write outside their folder nor remove a file they did not write.
"""

from .coco import from_coco, to_coco
from .labelme import from_labelme, to_labelme
from .voc import from_voc, to_voc
from .yolo import from_yolo, to_yolo

__all__ = [
    "to_voc", "from_voc", "to_yolo", "from_yolo", "to_coco", "from_coco",
    "to_labelme", "from_labelme",
]  # fmt: skip
