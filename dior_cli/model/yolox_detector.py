"""Boxes from images with YOLOX-nano: letterbox, one batched forward, decode, class-wise NMS.

Conventions: images are RGB ``uint8`` arrays ``(H, W, 3)`` (what dior's frame sources
yield); sizes are ``[h, w]``; boxes are ``x1, y1, x2, y2`` in pixels of the *original* image
(continuous coordinates: the image spans ``[0, w] x [0, h]``), clipped to it. ``coco_class``
is the COCO index of the 80-class list (0 person, 2 car, 5 bus, 7 truck), not dior's MOTS
class id; the stage maps one to the other.

The network sees a letterbox: the image scaled by ``scale = min(H_in / h, W_in / w)`` (bilinear),
put at the top-left of an ``(H_in, W_in)`` canvas of grey 114, converted to BGR 0..255. The
input size comes from the long side (``network_input_hw``): for a 768x576 frame at long
side 960, ``scale = 1.25`` and the input is ``[736, 960]`` (576 * 1.25 = 720, rounded up to a
multiple of 32). A box in input pixels maps back by dividing by ``scale``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch
from torchvision.ops import batched_nms

from dior_cli.model.yolox import INPUT_MULTIPLE, NUM_CLASSES, OUTPUTS_PER_CELL, STRIDES, YoloxNano

DEFAULT_LONG_SIDE = 960  # input pixels of the long image side (benchmarks/RESULTS.md, "YOLOX-nano input size")
DEFAULT_SCORE_THRESHOLD = 0.25  # objectness x class score
DEFAULT_NMS_IOU = 0.45  # class-wise: boxes of different classes never suppress each other
DEFAULT_MAX_DETECTIONS = 300  # per image, the best-scoring after NMS
PERSON_AND_VEHICLES = (0, 2, 5, 7)  # COCO person, car, bus, truck
DEFAULT_BATCH_SIZE = 4  # images of one size per forward
LETTERBOX_PAD_VALUE = 114


@dataclass(frozen=True)
class FrameBoxes:
    """The detections of one image: ``boxes_xyxy`` (K, 4) float64 original-image pixels,
    ``scores`` (K,) float64 objectness x class score, ``coco_class`` (K,) int64; best score first."""

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    coco_class: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.scores)
        if self.boxes_xyxy.shape != (k, 4) or self.scores.shape != (k,) or self.coco_class.shape != (k,):
            raise ValueError(f"FrameBoxes wants boxes (K, 4), scores (K,), coco_class (K,); got "
                             f"{self.boxes_xyxy.shape}, {self.scores.shape}, {self.coco_class.shape}")
        if self.boxes_xyxy.dtype != np.float64 or self.scores.dtype != np.float64 or self.coco_class.dtype != np.int64:
            raise ValueError(f"FrameBoxes wants float64, float64, int64; got {self.boxes_xyxy.dtype}, "
                             f"{self.scores.dtype}, {self.coco_class.dtype}")

    def __len__(self) -> int:
        return len(self.scores)


# --- pure steps (tests call these directly) --------------------------------------------------


def network_input_hw(image_hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``[h, w]`` of the network input for an image of ``image_hw``: the long side becomes
    ``long_side`` rounded up to a multiple of 32, the short side is scaled by the same factor and
    rounded up to a multiple of 32 (so the letterbox pads only the short side, by < 32 pixels)."""
    h, w = image_hw
    if h <= 0 or w <= 0 or long_side <= 0:
        raise ValueError(f"image size {image_hw} and long side {long_side} must be positive")
    factor = long_side / max(h, w)

    def up(x: float) -> int:
        return max(INPUT_MULTIPLE, math.ceil(round(x, 6) / INPUT_MULTIPLE) * INPUT_MULTIPLE)

    return up(h * factor), up(w * factor)


def letterbox(image_rgb: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """``(canvas, scale)``: ``canvas`` (H_in, W_in, 3) uint8 **BGR**, the image resized by ``scale``
    (bilinear) at its top-left, grey 114 elsewhere."""
    h, w = image_rgb.shape[:2]
    in_h, in_w = input_hw
    scale = min(in_h / h, in_w / w)
    new_h, new_w = min(in_h, max(1, round(h * scale))), min(in_w, max(1, round(w * scale)))
    canvas = np.full((in_h, in_w, 3), LETTERBOX_PAD_VALUE, dtype=np.uint8)
    resized = image_rgb if (new_h, new_w) == (h, w) else cv2.resize(image_rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[:new_h, :new_w] = resized[:, :, ::-1]  # RGB -> BGR
    return canvas, scale


def cell_grid(
    input_hw: tuple[int, int], strides: Sequence[int] = STRIDES, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cells of the output in order: ``xy`` (A, 2) column and row index of each cell in its
    level's grid, and ``stride`` (A, 1) in input pixels; levels one after the other, row-major."""
    h, w = input_hw
    xy, stride = [], []
    for s in strides:
        rows, cols = torch.meshgrid(torch.arange(h // s, device=device), torch.arange(w // s, device=device), indexing="ij")
        xy.append(torch.stack([cols, rows], dim=-1).reshape(-1, 2))  # (h/s * w/s, 2): x = column, y = row
        stride.append(torch.full((xy[-1].shape[0], 1), s, device=device))
    return torch.cat(xy).float(), torch.cat(stride).float()


def decode_boxes(raw: torch.Tensor, input_hw: tuple[int, int], strides: Sequence[int] = STRIDES) -> torch.Tensor:
    """Box numbers of the raw output (N, A, 85) -> boxes (N, A, 4) ``x1, y1, x2, y2`` in input pixels.

    For a cell at column ``gx``, row ``gy`` of the grid of stride ``s``: centre
    ``((dx + gx) * s, (dy + gy) * s)``, size ``(exp(log w) * s, exp(log h) * s)``.
    """
    xy, stride = cell_grid(input_hw, strides, raw.device)  # (A, 2), (A, 1)
    if raw.ndim != 3 or raw.shape[1] != xy.shape[0] or raw.shape[2] < 4:
        raise ValueError(f"raw YOLOX output for input {input_hw} must be (N, {xy.shape[0]}, {OUTPUTS_PER_CELL}), got {tuple(raw.shape)}")
    raw = raw.float()
    centre = (raw[..., 0:2] + xy) * stride  # (N, A, 2)
    half_size = torch.exp(raw[..., 2:4]) * stride / 2  # (N, A, 2)
    return torch.cat([centre - half_size, centre + half_size], dim=-1)  # (N, A, 4)


def select_detections(
    boxes_xyxy: torch.Tensor,
    objectness: torch.Tensor,
    class_scores: torch.Tensor,
    *,
    image_hw: tuple[int, int],
    scale: float = 1.0,
    classes: Sequence[int] | None = PERSON_AND_VEHICLES,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
    max_detections: int = DEFAULT_MAX_DETECTIONS,
) -> FrameBoxes:
    """The detections of one image from its decoded cells.

    ``boxes_xyxy`` (A, 4) input pixels, ``objectness`` (A,), ``class_scores`` (A, 80) in [0, 1].
    Each cell takes its best class over all 80 (YOLOX's rule) and the score objectness x that
    class's score; cells below ``score_threshold`` or of a class not in ``classes`` (``None``:
    all) go. Boxes are divided by ``scale`` into original pixels and clipped to ``image_hw``;
    a box left with no area (it lay in the letterbox padding) goes. Then class-wise NMS at
    ``nms_iou`` and the ``max_detections`` best, best first.
    """
    best_score, label = class_scores.float().max(dim=1)  # (A,), (A,)
    score = objectness.float() * best_score  # (A,)
    keep = score >= score_threshold
    if classes is not None:
        keep &= torch.isin(label, torch.as_tensor(list(classes), device=label.device, dtype=label.dtype))
    boxes, score, label = boxes_xyxy[keep].float() / scale, score[keep], label[keep]  # (K, 4) original pixels
    h, w = image_hw
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, score, label = boxes[has_area], score[has_area], label[has_area]
    order = batched_nms(boxes, score, label, nms_iou)[:max_detections]  # best score first
    return FrameBoxes(
        boxes_xyxy=boxes[order].cpu().double().numpy().reshape(-1, 4),
        scores=score[order].cpu().double().numpy().reshape(-1),
        coco_class=label[order].cpu().long().numpy().reshape(-1),
    )


# --- the detector ------------------------------------------------------------------------------


class YoloxDetector:
    """YOLOX-nano boxes for batches of RGB frames.

    Args:
        model: a loaded ``YoloxNano`` (``load_yolox``); it is run on its own device.
        long_side: input pixels of the image's long side (``network_input_hw``); ignored when
            ``input_hw`` is given.
        input_hw: a fixed ``[h, w]`` input (multiples of 32) for every image, e.g. ``(416, 416)``
            as the ONNX export; ``None`` derives it from ``long_side`` per image size.
        score_threshold: least objectness x class score kept.
        nms_iou: IoU above which a box suppresses a lower-scored one of the same class.
        max_detections: most boxes per image.
        classes: COCO class indices kept (``None``: all 80).
        batch_size: most images of one size per forward.
        half: fp16 autocast; ``None`` = on CUDA only.
    """

    def __init__(
        self,
        model: YoloxNano,
        *,
        long_side: int = DEFAULT_LONG_SIDE,
        input_hw: tuple[int, int] | None = None,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        nms_iou: float = DEFAULT_NMS_IOU,
        max_detections: int = DEFAULT_MAX_DETECTIONS,
        classes: Sequence[int] | None = PERSON_AND_VEHICLES,
        batch_size: int = DEFAULT_BATCH_SIZE,
        half: bool | None = None,
    ) -> None:
        if input_hw is not None and (len(input_hw) != 2 or any(v <= 0 or v % INPUT_MULTIPLE for v in input_hw)):
            raise ValueError(f"input_hw must be two positive multiples of {INPUT_MULTIPLE}, got {input_hw}")
        if classes is not None and any(not 0 <= c < NUM_CLASSES for c in classes):
            raise ValueError(f"COCO classes are 0..{NUM_CLASSES - 1}, got {list(classes)}")
        if batch_size < 1 or max_detections < 1 or long_side < INPUT_MULTIPLE:
            raise ValueError(f"batch_size, max_detections must be >= 1 and long_side >= {INPUT_MULTIPLE}")
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.long_side = long_side
        self.input_hw = None if input_hw is None else (int(input_hw[0]), int(input_hw[1]))
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.max_detections = max_detections
        self.classes = None if classes is None else tuple(int(c) for c in classes)
        self.batch_size = batch_size
        self.half = self.device.type == "cuda" if half is None else half

    @classmethod
    def load(cls, weights: str | None = None, device: str | torch.device = "cpu", **settings) -> YoloxDetector:
        """``YoloxDetector(load_yolox(weights, device), **settings)``."""
        from dior_cli.model.yolox_onnx import load_yolox

        return cls(load_yolox(weights, device), **settings)

    def input_hw_for(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """``[h, w]`` of the network input for an image of ``image_hw``."""
        return self.input_hw or network_input_hw(image_hw, self.long_side)

    @torch.inference_mode()
    def detect(self, images: Sequence[np.ndarray]) -> list[FrameBoxes]:
        """One ``FrameBoxes`` per image, in order. Images of one size share forwards."""
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) == 0:
                raise ValueError(f"image {i}: expected an RGB uint8 (H, W, 3) array, got {image.dtype} {image.shape}")
        results: list[FrameBoxes | None] = [None] * len(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_size.setdefault(image.shape[:2], []).append(i)
        for image_hw, indices in by_size.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                for i, boxes in zip(chunk, self._detect_same_size([images[i] for i in chunk], image_hw)):
                    results[i] = boxes
        return results  # type: ignore[return-value]

    def _detect_same_size(self, images: list[np.ndarray], image_hw: tuple[int, int]) -> list[FrameBoxes]:
        input_hw = self.input_hw_for(image_hw)
        canvases, scales = zip(*(letterbox(image, input_hw) for image in images))
        batch = torch.from_numpy(np.stack(canvases)).to(self.device)  # (N, H_in, W_in, 3) uint8 BGR
        batch = batch.permute(0, 3, 1, 2).float()  # (N, 3, H_in, W_in) 0..255, channels-last memory
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.half and self.device.type == "cuda"):
            raw = self.model(batch)  # (N, A, 85)
        raw = raw.float()
        boxes = decode_boxes(raw, input_hw)  # (N, A, 4) input pixels
        return [
            select_detections(boxes[n], raw[n, :, 4], raw[n, :, 5:], image_hw=image_hw, scale=scales[n],
                              classes=self.classes, score_threshold=self.score_threshold,
                              nms_iou=self.nms_iou, max_detections=self.max_detections)
            for n in range(len(images))
        ]
