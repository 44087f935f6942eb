"""Dense optical flow for short-term evidence (ReMOTS sec. 2.3): warp a mask from frame
t-1 to frame t and compare it with the mask observed at t.

Flow is OpenCV's Farneback, computed at reduced resolution (``scale``) on grey images and
scaled back up. The warp is backward: for every pixel of frame t, the flow from t to t-1
says where it came from, and the mask of t-1 is sampled there (nearest neighbour), so the
warped mask has no holes.
"""

from __future__ import annotations

import cv2
import numpy as np


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


def warp_mask(previous_mask: np.ndarray, flow_to_previous: np.ndarray) -> np.ndarray:
    """Move a ``(H, W)`` mask of frame t-1 into frame t with :func:`backward_flow`'s output."""
    height, width = previous_mask.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x = grid_x + flow_to_previous[..., 0]
    map_y = grid_y + flow_to_previous[..., 1]
    warped = cv2.remap(previous_mask.astype(np.uint8), map_x, map_y, interpolation=cv2.INTER_NEAREST,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped.astype(bool)
