"""Crops of a sequence's detections with a margin of context, cut once and kept in memory.

A *context crop* of a detection is its box widened by ``CONTEXT`` of the box's width and
height on each side, resampled to ``context_size(crop_size)`` pixels (``[h, w]``) by an
affine warp (bilinear; pixels outside the frame are mid-grey). The box itself then fills
the central ``crop_size`` window exactly, so the plain view (:func:`box_view`) is the box
resized to ``crop_size``, and augmentations can shift and scale the window into the margin.
Memory: ``3 * h * w * (1 + 2 CONTEXT)^2`` bytes per detection, 124 KB at 256x128.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from dior_cli.console import track_progress

CONTEXT = 0.0625  # fraction of the box's width (height) added left and right (top and bottom)
GREY = (124, 116, 104)  # RGB fill outside the frame: about the ImageNet mean


def context_size(crop_size: tuple[int, int]) -> tuple[int, int]:
    """``[h, w]`` of a context crop for network crops of ``crop_size`` ``[h, w]``."""
    h, w = crop_size
    return int(round(h * (1 + 2 * CONTEXT))), int(round(w * (1 + 2 * CONTEXT)))


def cut_context_crops(images: Iterable[tuple[int, np.ndarray]], frames: np.ndarray, boxes_xyxy: np.ndarray,
                      crop_size: tuple[int, int], *, total: int | None = None, description: str = "crops") -> np.ndarray:
    """The context crop of every detection: ``(N, Hc, Wc, 3)`` uint8 RGB.

    Args:
        images: ``(frame, RGB (H, W, 3) uint8)`` in frame order (a frame source).
        frames: ``(N,)`` 0-based frame of each detection.
        boxes_xyxy: ``(N, 4)`` pixels, ``x2``/``y2`` exclusive.
        crop_size: ``[h, w]`` of the network's crops.

    Raises:
        ValueError: the frames ran out before the last detection's frame.
    """
    ch, cw = context_size(crop_size)
    out = np.empty((frames.size, ch, cw, 3), np.uint8)  # (N, Hc, Wc, 3)
    if frames.size == 0:
        return out
    rows_of: dict[int, list[int]] = {}
    for i, f in enumerate(frames.tolist()):
        rows_of.setdefault(int(f), []).append(i)
    last = max(rows_of)
    for frame, image in track_progress(images, description, total=total):
        for i in rows_of.get(frame, ()):
            out[i] = _warp_box(image, boxes_xyxy[i], (ch, cw))
        if frame >= last:
            return out
    raise ValueError(f"the frames end before frame {last}, which has detections")


def _warp_box(image: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    x0, y0 = x1 - CONTEXT * bw, y1 - CONTEXT * bh
    sx, sy = size[1] / (bw * (1 + 2 * CONTEXT)), size[0] / (bh * (1 + 2 * CONTEXT))
    matrix = np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy]])  # frame pixels -> crop pixels
    return cv2.warpAffine(image, matrix, (size[1], size[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=GREY)
