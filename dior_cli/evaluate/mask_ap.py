"""COCO-style mask AP of detections against MOTS ground truth (validation during ``dior train``).

Every ``(sequence, frame)`` is one COCO image; a detection is matched only within its own
frame. Numbers are those of pycocotools' ``COCOeval`` with ``iouType="segm"`` and its
defaults: IoU thresholds 0.50:0.05:0.95, 101 recall points, area range "all", at most
``max_detections`` (100) detections per frame and class, highest scores first.

- ``AP`` is the mean precision over the ten IoU thresholds, ``AP50`` and ``AP75`` at one;
  each per class (car, pedestrian), and the mean over the classes that have ground truth.
- A class with no ground truth has ``None`` for its numbers (``null`` in JSON), not 0: no
  ground truth means no recall to measure. The mean is ``None`` when no class has any.
- An ignore region (MOTS class 10) becomes a crowd annotation (``iscrowd=1``) of *each*
  class, so a car or pedestrian detection lying inside it is matched to it and counted
  neither as a true nor as a false positive (COCO matches a detection to a crowd region
  when the part of the detection inside the region, over the detection's area, reaches
  the IoU threshold; real objects are preferred).

Conventions: frames are 0-based in both inputs; class ids are MOTS ones (1 car,
2 pedestrian, 10 ignore); masks are COCO RLE dicts with ``str`` counts. Areas and boxes come
from :mod:`dior_cli.masks` (the only user of pycocotools' *mask* API); the evaluation itself
hands those RLE dicts to pycocotools' ``COCO``/``COCOeval``, imported inside
:func:`mask_average_precision`
so importing this module stays cheap. This module does not import torch.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dior_cli.errors import AlignmentError
from dior_cli.masks import area, bbox_xyxy
from dior_cli.records import (
    CLASS_NAMES,
    DETECTION_CLASSES,
    IGNORE,
    Detections,
    MotsRows,
)

MAX_DETECTIONS = 100
"""Most detections per frame and class that count (COCO's default)."""


@dataclass(frozen=True)
class ClassAp:
    """Mask AP numbers of one class (or their mean over classes); ``None`` = no ground truth.

    Attributes:
        ap: mean over IoU thresholds 0.50:0.05:0.95 of the 101-point interpolated precision.
        ap50: the same at IoU 0.5 only.
        ap75: the same at IoU 0.75 only.
        num_ground_truth: objects (ignore regions not counted).
        num_detections: detections given (before the ``max_detections`` cut).
    """

    ap: float | None
    ap50: float | None
    ap75: float | None
    num_ground_truth: int
    num_detections: int

    def to_dict(self) -> dict[str, float | int | None]:
        """``{"AP", "AP50", "AP75", "num_ground_truth", "num_detections"}``, JSON-ready (``None`` stays ``None``)."""
        return {"AP": self.ap, "AP50": self.ap50, "AP75": self.ap75, "num_ground_truth": self.num_ground_truth, "num_detections": self.num_detections}


@dataclass(frozen=True)
class MaskAp:
    """Mask AP per class name (``car``, ``pedestrian``) and the mean over classes with ground truth."""

    per_class: dict[str, ClassAp]
    mean: ClassAp

    def to_dict(self) -> dict:
        """The mean's numbers at the top (``AP``, ``AP50``, ``AP75``, counts) and ``per_class``
        ``{"car": {...}, "pedestrian": {...}}`` with the same keys; JSON-ready (``None`` stays ``None``)."""
        return {**self.mean.to_dict(), "per_class": {name: value.to_dict() for name, value in self.per_class.items()}}


def mask_average_precision(ground_truth: Mapping[str, MotsRows], detections: Mapping[str, Detections], *,
                           max_detections: int = MAX_DETECTIONS) -> MaskAp:
    """COCO mask AP of ``detections`` against ``ground_truth``, both keyed by sequence name.

    Args:
        ground_truth: per sequence, its MOTS rows (0-based frames, classes 1, 2, 10).
        detections: per sequence, its detections (0-based frames, classes 1 and 2); give
            ``Detections.empty()`` for a sequence with none.
        max_detections: most detections per frame and class that count.

    Raises:
        AlignmentError: the two mappings name different sequences, a detection has a class
            other than 1 or 2, or masks of one sequence differ in size.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if max_detections < 1:
        raise ValueError(f"max_detections must be at least 1, got {max_detections}")
    names = _check_sequences(detections, ground_truth)
    images, image_ids = _images(names, detections, ground_truth)
    categories = [{"id": c, "name": CLASS_NAMES[c]} for c in DETECTION_CLASSES]
    gt_annotations = _ground_truth_annotations(names, ground_truth, image_ids)
    dt_annotations = _detection_annotations(names, detections, image_ids)
    per_class_counts = {
        c: (sum(1 for a in gt_annotations if a["category_id"] == c and not a["iscrowd"]), sum(1 for a in dt_annotations if a["category_id"] == c))
        for c in DETECTION_CLASSES
    }
    precision = None
    if images:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            coco_gt, coco_dt = COCO(), COCO()
            coco_gt.dataset = {"images": images, "categories": categories, "annotations": gt_annotations}
            coco_dt.dataset = {"images": images, "categories": categories, "annotations": dt_annotations}
            coco_gt.createIndex()
            coco_dt.createIndex()
            evaluator = COCOeval(coco_gt, coco_dt, iouType="segm")
            evaluator.params.imgIds = [image["id"] for image in images]
            evaluator.params.catIds = list(DETECTION_CLASSES)
            evaluator.params.maxDets = [max_detections]  # one entry: evaluate() sorts the list
            evaluator.evaluate()
            evaluator.accumulate()
        precision = evaluator.eval["precision"][:, :, :, 0, -1]  # (T, R, K): area "all", max_detections
        thresholds = evaluator.params.iouThrs  # (T,)
    per_class = {}
    for k, class_id in enumerate(DETECTION_CLASSES):
        num_gt, num_dt = per_class_counts[class_id]
        if precision is None:
            per_class[CLASS_NAMES[class_id]] = ClassAp(None, None, None, num_gt, num_dt)
            continue
        curve = precision[:, :, k]  # (T, R)
        per_class[CLASS_NAMES[class_id]] = ClassAp(
            ap=_mean_valid(curve),
            ap50=_mean_valid(curve[np.isclose(thresholds, 0.5)]),
            ap75=_mean_valid(curve[np.isclose(thresholds, 0.75)]),
            num_ground_truth=num_gt,
            num_detections=num_dt,
        )
    return MaskAp(per_class=per_class, mean=_mean_over_classes(list(per_class.values())))


def _check_sequences(detections: Mapping[str, Detections], ground_truth: Mapping[str, MotsRows]) -> list[str]:
    missing = sorted(set(ground_truth) - set(detections))
    extra = sorted(set(detections) - set(ground_truth))
    if missing:
        raise AlignmentError(f"no detections given for sequence {', '.join(missing)} (pass Detections.empty() for a sequence with none)",
                             sequence=missing[0])
    if extra:
        raise AlignmentError(f"detections for sequence {', '.join(extra)}, which has no ground truth", sequence=extra[0])
    for name in sorted(detections):
        bad = np.flatnonzero(~np.isin(detections[name].class_id, DETECTION_CLASSES))
        if bad.size:
            raise AlignmentError(f"detection has class {int(detections[name].class_id[bad[0]])}; mask AP takes classes 1 (car) and 2 (pedestrian)",
                                 sequence=name, row=int(bad[0]))
    return sorted(ground_truth)


def _images(names: list[str], detections: Mapping[str, Detections], ground_truth: Mapping[str, MotsRows]) -> tuple[list[dict], dict[tuple[str, int], int]]:
    """One COCO image per ``(sequence, frame)`` that has ground truth or detections, ids from 1."""
    images, image_ids = [], {}
    for name in names:
        rows, dets = ground_truth[name], detections[name]
        sizes = {tuple(r["size"]) for r in rows.rles} | {tuple(r["size"]) for r in dets.rles}
        if len(sizes) > 1:
            raise AlignmentError(f"masks of one sequence differ in size: {sorted(sizes)} (ground truth and detections must be of one video)", sequence=name)
        if not sizes:
            continue
        height, width = sizes.pop()
        for frame in sorted(set(rows.frame.tolist()) | set(dets.frame.tolist())):
            image_ids[(name, frame)] = len(images) + 1
            images.append({"id": len(images) + 1, "height": height, "width": width})
    return images, image_ids


def _ground_truth_annotations(names: list[str], ground_truth: Mapping[str, MotsRows], image_ids: dict) -> list[dict]:
    """Objects as annotations of their class; each ignore region as a crowd annotation of every class."""
    annotations: list[dict] = []
    for name in names:
        rows = ground_truth[name]
        areas, boxes = area(list(rows.rles)), bbox_xyxy(list(rows.rles))  # (N,), (N, 4)
        for i, (frame, class_id) in enumerate(zip(rows.frame.tolist(), rows.class_id.tolist())):
            crowd = class_id == IGNORE
            for category in (DETECTION_CLASSES if crowd else (class_id,)):
                annotations.append(_annotation(len(annotations) + 1, image_ids[(name, frame)], category, rows.rles[i], areas[i], boxes[i], iscrowd=int(crowd)))
    return annotations


def _detection_annotations(names: list[str], detections: Mapping[str, Detections], image_ids: dict) -> list[dict]:
    annotations: list[dict] = []
    for name in names:
        dets = detections[name]
        areas, boxes = area(list(dets.rles)), bbox_xyxy(list(dets.rles))  # (N,), (N, 4)
        for i, (frame, class_id, score) in enumerate(zip(dets.frame.tolist(), dets.class_id.tolist(), dets.score.tolist())):
            annotation = _annotation(len(annotations) + 1, image_ids[(name, frame)], class_id, dets.rles[i], areas[i], boxes[i], iscrowd=0)
            annotation["score"] = float(score)
            annotations.append(annotation)
    return annotations


def _annotation(ann_id: int, image_id: int, category: int, rle: dict, pixels: int, box: np.ndarray, iscrowd: int) -> dict:
    x1, y1, x2, y2 = (float(v) for v in box)
    return {"id": ann_id, "image_id": image_id, "category_id": int(category), "segmentation": rle, "area": float(pixels),
            "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": iscrowd}


def _mean_valid(values: np.ndarray) -> float | None:
    """Mean of the entries that are not -1 (COCO's "no ground truth"), or ``None`` if there are none."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else None


def _mean_over_classes(classes: list[ClassAp]) -> ClassAp:
    def mean(field: str) -> float | None:
        values = [getattr(c, field) for c in classes if getattr(c, field) is not None]
        return float(np.mean(values)) if values else None

    return ClassAp(ap=mean("ap"), ap50=mean("ap50"), ap75=mean("ap75"),
                   num_ground_truth=sum(c.num_ground_truth for c in classes), num_detections=sum(c.num_detections for c in classes))
