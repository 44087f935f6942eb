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


def blend(image: np.ndarray, mask: np.ndarray, colour: Sequence[int], alpha: float) -> None:
    """Blend ``colour`` into the pixels of ``image`` (H, W, 3) where ``mask`` (H, W) is set."""
    inside = mask.astype(bool)  # (H, W)
    pixels = image[inside].astype(np.float32)  # (K, 3)
    mixed = (1.0 - alpha) * pixels + alpha * np.asarray(colour, np.float32)[None, :]
    image[inside] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def outline(image: np.ndarray, mask: np.ndarray, colour: Sequence[int], thickness: int = 2) -> None:
    """Draw the outer contours of ``mask`` (H, W) on ``image`` in ``colour``."""
    contours, _ = cv2.findContours(np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(image, contours, -1, tuple(int(c) for c in colour), thickness)


def hatch(image: np.ndarray, mask: np.ndarray, spacing: int = 8) -> None:
    """An ignore region: grey diagonal hatching inside ``mask`` (H, W) and a grey outline."""
    height, width = mask.shape
    rows, cols = np.mgrid[0:height, 0:width]  # (H, W) each
    lines = ((rows + cols) % spacing == 0) & mask.astype(bool)  # (H, W)
    image[lines] = IGNORE
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
