"""Drawing primitives on RGB ``(H, W, 3)`` uint8 frames, all in place.

Masks are dense ``(H, W)`` arrays (non-zero = inside), decoded one frame at a time.
Fills are alpha blends (``out = (1 - alpha) * frame + alpha * colour``, rounded); outlines,
hatching, labels and trails are drawn in their exact colour, so tests and eyes can tell
them apart from fills.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from dior_cli.render.colours import IGNORE, TEXT

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4
STRIP_HEIGHT = 24  # pixels, even so that an even frame stays even


def mask_window(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice] | None:
    """The rows and columns of the smallest box holding every set pixel of ``mask`` (H, W),
    widened by ``pad`` pixels on each side and clipped to the frame; ``None`` for an empty mask.

    The drawing functions work inside this window only: a frame's masks are usually a small
    part of it, and blending or tracing the whole frame per object dominated rendering time."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    return (slice(max(int(rows[0]) - pad, 0), min(int(rows[-1]) + 1 + pad, height)),
            slice(max(int(cols[0]) - pad, 0), min(int(cols[-1]) + 1 + pad, width)))


def blend(image: np.ndarray, mask: np.ndarray, colour: Sequence[int], alpha: float) -> None:
    """Blend ``colour`` into the pixels of ``image`` (H, W, 3) where ``mask`` (H, W) is set."""
    window = mask_window(mask)
    if window is None:
        return
    inside = mask[window].astype(bool)  # (h, w), the mask's bounding box
    patch = image[window]  # (h, w, 3), a view into image
    pixels = patch[inside].astype(np.float32)  # (K, 3)
    mixed = (1.0 - alpha) * pixels + alpha * np.asarray(colour, np.float32)[None, :]
    patch[inside] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def outline(image: np.ndarray, mask: np.ndarray, colour: Sequence[int], thickness: int = 2) -> None:
    """Draw the outer contours of ``mask`` (H, W) on ``image`` in ``colour``."""
    window = mask_window(mask, pad=1)  # one background pixel around the mask, as the whole frame would give
    if window is None:
        return
    rows, cols = window
    patch = np.ascontiguousarray(mask[window], dtype=np.uint8)  # (h, w)
    contours, _ = cv2.findContours(patch, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=(cols.start, rows.start))
    cv2.drawContours(image, contours, -1, tuple(int(c) for c in colour), thickness)


def hatch(image: np.ndarray, mask: np.ndarray, spacing: int = 8) -> None:
    """An ignore region: grey diagonal hatching inside ``mask`` (H, W) and a grey outline."""
    window = mask_window(mask)
    if window is None:
        return
    rows, cols = window
    r, c = np.mgrid[rows, cols]  # (h, w) each, frame coordinates
    lines = ((r + c) % spacing == 0) & mask[window].astype(bool)  # (h, w)
    image[window][lines] = IGNORE
    outline(image, mask, IGNORE, thickness=1)


def label(image: np.ndarray, text: str, top_centre: tuple[int, int], colour: Sequence[int]) -> None:
    """A filled box with ``text`` whose bottom sits 3 px above ``top_centre`` = (x, y).

    The box is moved inside the image when it would leave it (an object at the top edge).
    """
    (w, h), base = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
    height, width = image.shape[:2]
    x0 = int(np.clip(top_centre[0] - w // 2 - 2, 0, max(width - w - 4, 0)))
    y1 = int(np.clip(top_centre[1] - 3, h + base + 2, height - 1))
    y0 = y1 - h - base - 2
    cv2.rectangle(image, (x0, y0), (x0 + w + 4, y1), tuple(int(c) for c in colour), thickness=-1)
    cv2.putText(image, text, (x0 + 2, y1 - base), FONT, FONT_SCALE, TEXT, 1, cv2.LINE_AA)


def trail(image: np.ndarray, centres: Sequence[tuple[float, float]], colour: Sequence[int]) -> None:
    """A polyline through past centres (x, y), oldest first, ending in a dot."""
    if not centres:
        return
    points = np.rint(np.asarray(centres, np.float64)).astype(np.int32).reshape(-1, 1, 2)  # (K, 1, 2)
    colour = tuple(int(c) for c in colour)
    if len(points) > 1:
        cv2.polylines(image, [points], isClosed=False, color=colour, thickness=2, lineType=cv2.LINE_AA)
    cv2.circle(image, tuple(int(v) for v in points[-1, 0]), 3, colour, thickness=-1)


def counter_strip(width: int, text: str) -> np.ndarray:
    """A dark ``(STRIP_HEIGHT, width, 3)`` band with ``text`` in white, to put under a frame;
    the font shrinks (down to 0.25) so that the text fits a narrow frame."""
    strip = np.full((STRIP_HEIGHT, width, 3), 32, np.uint8)
    scale = 0.45
    text_width = cv2.getTextSize(text, FONT, scale, 1)[0][0]
    if text_width > width - 12:
        scale = max(0.25, scale * (width - 12) / text_width)
    cv2.putText(strip, text, (6, STRIP_HEIGHT - 8), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def pad_even(image: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) with one black row and/or column added to make both sizes even.

    Video codecs want even sizes (KITTI frames have 375 rows); padding keeps every pixel,
    where a codec would crop or refuse.
    """
    height, width = image.shape[:2]
    pad_h, pad_w = height % 2, width % 2
    if not pad_h and not pad_w:
        return image
    return cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
