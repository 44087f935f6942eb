"""Dense optical flow for short-term evidence (ReMOTS sec. 2.3): warp a mask from frame
t-1 to frame t and compare it with the mask observed at t.

Flow is OpenCV's Farneback, computed at reduced resolution (``scale``) on grey images and
scaled back up. The warp is backward: for every pixel of frame t, the flow from t to t-1
says where it came from, and the mask of t-1 is sampled there (nearest neighbour), so the
warped mask has no holes.

Per frame pair, the sampling maps are built once and all of frame t-1's masks are warped
together (:func:`warp_masks`): painted into one label image, moved by one ``remap``, and each
re-encoded from its box plus the flow's reach, never from a full frame per mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from dior_cli.errors import AlignmentError
from dior_cli.masks import Rle, bbox_xyxy, box_pixel_ranges, decode, encode, encode_box_crops, has_overlap

_MAX_LABELS = np.iinfo(np.uint16).max  # masks per label image (label 0 is background)


def backward_flow(previous_rgb: np.ndarray, current_rgb: np.ndarray, scale: float = 0.5) -> np.ndarray:
    """Flow from ``current`` to ``previous``: ``(H, W, 2)`` float32 (dx, dy) in full-resolution pixels.

    Args:
        previous_rgb, current_rgb: ``(H, W, 3)`` uint8 frames t-1 and t.
        scale: resolution factor at which the flow is computed (0 < scale <= 1).
    """
    if not 0 < scale <= 1:
        raise ValueError(f"flow scale must be in (0, 1], got {scale}")
    height, width = current_rgb.shape[:2]
    small = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    cur = cv2.resize(cv2.cvtColor(current_rgb, cv2.COLOR_RGB2GRAY), small, interpolation=cv2.INTER_AREA)
    prev = cv2.resize(cv2.cvtColor(previous_rgb, cv2.COLOR_RGB2GRAY), small, interpolation=cv2.INTER_AREA)
    flow = cv2.calcOpticalFlowFarneback(cur, prev, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.2, flags=0)  # (h, w, 2) at low resolution
    flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)  # (H, W, 2)
    flow[..., 0] *= width / small[0]
    flow[..., 1] *= height / small[1]
    return flow


def sampling_maps(flow_to_previous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(map_x, map_y)``, each ``(H, W)`` float32: where pixel ``(y, x)`` of frame t samples frame t-1."""
    height, width = flow_to_previous.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] + flow_to_previous[..., 0]  # (H, W)
    map_y = np.arange(height, dtype=np.float32)[:, None] + flow_to_previous[..., 1]  # (H, W)
    return map_x, map_y


def _remap(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return cv2.remap(image, maps[0], maps[1], interpolation=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_mask(previous_mask: np.ndarray, flow_to_previous: np.ndarray) -> np.ndarray:
    """Move a ``(H, W)`` mask of frame t-1 into frame t with :func:`backward_flow`'s output."""
    return _remap(previous_mask.astype(np.uint8), sampling_maps(flow_to_previous)).astype(bool)


def check_frame_size(image_size: tuple[int, int], rles: Sequence[Rle], *, sequence: str | None, frame: int) -> None:
    """Refuse a frame whose ``[h, w]`` differs from the masks' (the tracks were made on other frames)."""
    if rles and tuple(image_size) != (int(rles[0]["size"][0]), int(rles[0]["size"][1])):
        mask_h, mask_w = (int(v) for v in rles[0]["size"])
        raise AlignmentError(f"the frame is {image_size[1]}x{image_size[0]} (width x height) but the tracks' masks are "
                             f"{mask_w}x{mask_h}: --frames must be the frames the tracks were made on", sequence=sequence, frame=frame)


def warp_masks(rles: Sequence[Rle], flow_to_previous: np.ndarray) -> list[Rle]:
    """Move masks of frame t-1 into frame t: the same masks as ``encode(warp_mask(decode(r), flow))``.

    Disjoint masks (as in tracks) are painted into one ``(H, W)`` uint16 label image, warped by
    one ``remap``, and each is encoded from the region its pixels can reach: its box grown by
    the largest flow in the frame plus a pixel of rounding. Overlapping masks are warped one
    by one (the label image cannot hold them).
    """
    if not rles:
        return []
    height, width = flow_to_previous.shape[:2]
    maps = sampling_maps(flow_to_previous)
    if len(rles) > _MAX_LABELS or has_overlap(rles):
        return [encode(_remap(decode(r), maps)) for r in rles]
    boxes = box_pixel_ranges(bbox_xyxy(rles), (height, width))  # (K, 4) [c0, r0, c1, r1] of each source mask
    labels = np.zeros((height, width), np.uint16)  # (H, W) 0 = background, k + 1 = mask k
    for k, (rle, (b_c0, b_r0, b_c1, b_r1)) in enumerate(zip(rles, boxes)):
        inside = decode(rle)[b_r0:b_r1, b_c0:b_c1].view(bool)  # (h_k, w_k): the mask's pixels all lie in its box
        np.copyto(labels[b_r0:b_r1, b_c0:b_c1], np.uint16(k + 1), where=inside)
    warped = _remap(labels, maps)  # (H, W)
    reach = int(np.ceil(max(float(flow_to_previous.max()), -float(flow_to_previous.min()), 0.0))) + 2
    c0 = np.clip(boxes[:, 0] - reach, 0, width)
    r0 = np.clip(boxes[:, 1] - reach, 0, height)
    c1 = np.clip(boxes[:, 2] + reach, 0, width)
    r1 = np.clip(boxes[:, 3] + reach, 0, height)
    crops = [warped[r0[k] : r1[k], c0[k] : c1[k]] == k + 1 for k in range(len(rles))]  # (h_k, w_k) bool each
    return encode_box_crops(crops, np.stack([r0, c0], axis=1), (height, width))

