"""``dior infer`` with no DIOR checkpoint: a COCO box detector, box -> mask, OSNet appearance.

This is what a fresh install runs (``dior infer video.mp4``, ``dior run video.mp4``), with three
upstream networks that need no training and are found through ``dior_cli.weights``:

1. **YOLOX-nano** (``dior_cli.model.yolox``, COCO) finds boxes on frames letterboxed to
   ``input_size`` pixels on the long side. COCO ``person`` becomes MOTS pedestrian (2); COCO
   ``car`` becomes MOTS car (1), and so do the COCO classes listed in ``vehicles`` beyond car
   (``bus``, ``truck``, ``motorcycle``; default none of them: KITTI-MOTS and MOTS20 annotate cars
   and people only, so a bus tracked as a "car" is a false positive there). Every other class is
   dropped and counted.
2. **Box -> mask** (``dior_cli.box_to_mask``) makes each box a mask by the method chosen for its
   class, then the frame's masks are made pixel-disjoint, the higher score winning. A detection
   whose mask is left with no pixel is dropped and counted (``masks_emptied``). Each detection
   records the method that made its mask in ``mask_source``.
3. **OSNet x0.25** (``dior_cli.model.osnet``) embeds every detection's box crop: 512-d unit rows.

Outputs are the usual ``DETS/<seq>.json`` + ``<seq>.npy``, streamed (each batch of frames is
appended as soon as it is done: ``formats.sequence_outputs``); ``producer`` names the three
networks, their files and sha256, and the settings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import __version__
from dior_cli.console import track_progress
from dior_cli.errors import ConfigError, FormatError
from dior_cli.formats.layouts import SequenceInfo
from dior_cli.formats.sequence_outputs import SequenceOutputs
from dior_cli.records import CAR, PEDESTRIAN, Detections, concat_detections

COCO_IDS = {"person": 0, "car": 2, "motorcycle": 3, "bus": 5, "truck": 7}  # COCO 80-class indices
COCO_PERSON, COCO_CAR = "person", "car"
EXTRA_VEHICLES = ("bus", "truck", "motorcycle")  # COCO classes --vehicles may add to MOTS car
DEFAULT_INPUT_SIZE = 960  # long side, pixels: the recall/time choice of benchmarks/detector_input_size.py
DEFAULT_SCORE_THRESH = 0.25  # obj x cls of YOLOX (where its recall was measured); tracks start only at track.new_track_score (0.5)
DEFAULT_NMS_IOU = 0.45  # class-wise, as YOLOX's own demo
DEFAULT_MAX_DETS = 100
DEFAULT_BATCH = 4  # frames per detector forward on the CPU


@dataclass(frozen=True)
class DetectorSettings:
    """The detector path's settings (see ``dior infer --help`` for units and defaults)."""

    input_size: int = DEFAULT_INPUT_SIZE
    score_thresh: float = DEFAULT_SCORE_THRESH
    nms_iou: float = DEFAULT_NMS_IOU
    max_dets: int = DEFAULT_MAX_DETS
    vehicles: tuple[str, ...] = ()
    mask_methods: dict[int, str] = field(default_factory=dict)  # MOTS class -> box_to_mask method; empty: its defaults
    batch: int = DEFAULT_BATCH

    def check(self) -> None:
        if self.input_size < 32:
            raise ConfigError(f"--input-size must be at least 32 pixels, got {self.input_size}")
        if not 0.0 <= self.score_thresh <= 1.0:
            raise ConfigError(f"--score-thresh must be in [0, 1], got {self.score_thresh}")
        if self.max_dets < 1 or self.batch < 1:
            raise ConfigError("--max-dets and --batch must be at least 1")
        unknown = [v for v in self.vehicles if v not in EXTRA_VEHICLES]
        if unknown:
            raise ConfigError(f"--vehicles takes {', '.join(EXTRA_VEHICLES)} (added to car), not {', '.join(unknown)}")

    def coco_to_mots(self) -> dict[int, int]:
        """COCO class index -> MOTS class id for the classes kept."""
        names = {COCO_PERSON: PEDESTRIAN, COCO_CAR: CAR, **{name: CAR for name in self.vehicles}}
        return {COCO_IDS[name]: mots for name, mots in names.items()}


@dataclass
class BoxPipeline:
    """The three networks, loaded once and shared by every sequence."""

    detector: Any  # dior_cli.model.yolox_detector.YoloxDetector
    osnet: Any
    segmenter: Any  # the selfie segmenter, or None when no class uses it
    settings: DetectorSettings
    producer: dict[str, Any]


def load_pipeline(settings: DetectorSettings, *, detector_weights: str | None, reid_weights: str | None, device) -> BoxPipeline:
    """Find and load YOLOX-nano, OSNet and (when a class uses it) the selfie segmenter."""
    from dior_cli.box_to_mask import DEFAULT_METHODS
    from dior_cli.model.osnet import load_osnet, locate_osnet
    from dior_cli.model.yolox_onnx import load_yolox
    from dior_cli.model.yolox_detector import YoloxDetector
    from dior_cli.weights import resolve, sha256_file

    settings.check()
    detector_file, osnet_file = resolve("yolox_nano", detector_weights), locate_osnet(reid_weights)
    kept = settings.coco_to_mots()
    detector = YoloxDetector(load_yolox(detector_file.path, device=device), long_side=settings.input_size,
                             score_threshold=settings.score_thresh, nms_iou=settings.nms_iou, max_detections=settings.max_dets,
                             classes=tuple(sorted(kept)), batch_size=settings.batch)
    methods = {**DEFAULT_METHODS, **settings.mask_methods}
    segmenter = None
    producer_masks: dict[str, Any] = {"methods": {str(k): v for k, v in sorted(methods.items())}}
    if "selfie" in methods.values():
        from dior_cli.model.selfie import load_selfie_segmenter
        from dior_cli.weights import resolve

        selfie_file = resolve("selfie_segmentation")
        segmenter = load_selfie_segmenter(selfie_file.path)
        producer_masks.update(segmenter=str(selfie_file.path), segmenter_sha256=sha256_file(selfie_file.path),
                              segmenter_runtime=segmenter.runtime)  # litert where installed, else opencv
    producer = {
        "dior_version": __version__, "detector": "yolox_nano", "weights": str(detector_file.path),
        "weights_sha256": sha256_file(detector_file.path), "encoder": "osnet", "encoder_weights": str(osnet_file.path),
        "encoder_weights_sha256": sha256_file(osnet_file.path), "box_to_mask": producer_masks,
        "settings": {"input_size": settings.input_size, "score_thresh": settings.score_thresh, "nms_iou": settings.nms_iou,
                     "max_dets": settings.max_dets,
                     "classes": {name: kept[index] for name, index in COCO_IDS.items() if index in kept}},
    }
    return BoxPipeline(detector, load_osnet(osnet_file.path, device=device), segmenter, settings, producer)


def infer_sequence(pipeline: BoxPipeline, seq: SequenceInfo, json_path: Path, npy_path: Path, *, fps: float | None) -> dict[str, Any]:
    """Detect, mask and embed every frame of ``seq``; write ``<seq>.json`` + ``<seq>.npy``; return its summary."""
    from dior_cli.box_to_mask import DEFAULT_METHODS, BoxMasker

    start = time.perf_counter()
    masker = BoxMasker(methods={**DEFAULT_METHODS, **pipeline.settings.mask_methods}, segmenter=pipeline.segmenter)
    to_mots = pipeline.settings.coco_to_mots()
    counts = {"boxes": 0, "masks_emptied": 0, "mask_fell_back": 0}
    seconds = {"detector": 0.0, "masks": 0.0, "embeddings": 0.0}
    methods_used: dict[str, int] = {}
    num_frames, image_size = 0, seq.image_size
    frames = seq.open_frames()
    with SequenceOutputs(json_path, npy_path, dim=512) as out:
        for batch in _batches(track_progress(frames, seq.name, total=len(frames)), pipeline.settings.batch):
            num_frames, image_size = _detect_batch(pipeline, masker, to_mots, batch, out, counts, seconds, methods_used)
        if num_frames == 0:
            raise FormatError("sequence has no frames", path=seq.frames_path, sequence=seq.name)
        out.finish(sequence=seq.name, image_size=tuple(image_size), num_frames=num_frames, fps=fps, frame_base=seq.frame_base,
                   producer=pipeline.producer)
        rows = out.rows
    total = time.perf_counter() - start
    return {"frames": num_frames, "detections": rows, "seconds": round(total, 2),
            "frames_per_second": round(num_frames / total, 2) if total > 0 else None,
            "stage_seconds": {k: round(v, 2) for k, v in seconds.items()}, "counts": counts, "mask_sources": methods_used}


def _detect_batch(pipeline: BoxPipeline, masker, to_mots: dict[int, int], batch: list, out: SequenceOutputs, counts: dict,
                  seconds: dict, methods_used: dict) -> tuple[int, tuple[int, int]]:
    """Detect, mask and embed one batch of ``(frame, image)`` pairs and append it to ``out``;
    return the frame count so far and the frames' ``(height, width)`` (counters updated in place)."""
    from dior_cli.model.osnet_crops import embed_crops_of_frames

    parts: list[Detections] = []
    tick = time.perf_counter()
    found = pipeline.detector.detect([image for _, image in batch])
    seconds["detector"] += time.perf_counter() - tick
    kept_boxes = []
    for (frame, image), boxes in zip(batch, found):
        num_frames, image_size = frame + 1, image.shape[:2]
        class_ids = np.array([to_mots[int(c)] for c in boxes.coco_class], dtype=np.int64)
        counts["boxes"] += len(class_ids)
        tick = time.perf_counter()
        made = masker.masks_for_frame(image, boxes.boxes_xyxy, class_ids, boxes.scores)
        seconds["masks"] += time.perf_counter() - tick
        keep = np.flatnonzero(~made.empty)
        counts["masks_emptied"] += int(made.empty.sum())
        counts["mask_fell_back"] += int(made.fell_back[keep].sum())
        for k in keep:
            methods_used[made.methods[k]] = methods_used.get(made.methods[k], 0) + 1
        extras = tuple({"mask_source": made.methods[k], "coco_class": int(boxes.coco_class[k])} for k in keep)
        parts.append(Detections(frame=np.full(len(keep), frame), class_id=class_ids[keep], score=boxes.scores[keep],
                                bbox_xyxy=boxes.boxes_xyxy[keep].reshape(-1, 4), rles=[made.rles[k] for k in keep], extras=extras))
        kept_boxes.append(boxes.boxes_xyxy[keep])
    tick = time.perf_counter()
    vectors = embed_crops_of_frames(pipeline.osnet, [image for _, image in batch], kept_boxes)  # the batch's crops together
    seconds["embeddings"] += time.perf_counter() - tick
    out.append(concat_detections(parts), np.concatenate([np.zeros((0, 512), np.float32), *vectors]))
    return num_frames, image_size


def _batches(frames, size: int):
    """Consecutive ``(frame, image)`` pairs in lists of ``size`` (the last may be shorter)."""
    batch: list = []
    for item in frames:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def parse_vehicles(text: str) -> tuple[str, ...]:
    """``--vehicles bus,truck`` -> ``("bus", "truck")``; empty text -> ``()``."""
    names = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [v for v in names if v not in EXTRA_VEHICLES]
    if unknown:
        raise ConfigError(f"--vehicles takes {', '.join(EXTRA_VEHICLES)} (added to car), not {', '.join(unknown)}")
    return names


def parse_mask_methods(items: list[str]) -> dict[int, str]:
    """``["pedestrian=selfie", "car=box"]`` -> ``{2: "selfie", 1: "box"}``; methods are checked by ``BoxMasker``."""
    from dior_cli.box_to_mask import METHODS

    classes = {"car": CAR, "pedestrian": PEDESTRIAN}
    methods: dict[int, str] = {}
    for item in items:
        name, sep, method = item.partition("=")
        if not sep or name.strip() not in classes or method.strip() not in METHODS:
            raise ConfigError(f"--mask-method takes CLASS=METHOD with CLASS car or pedestrian and METHOD one of {', '.join(METHODS)}, "
                              f"got {item!r}")
        methods[classes[name.strip()]] = method.strip()
    return methods
