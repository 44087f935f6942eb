"""Views of a detection for training: the plain box, and a strong augmentation of it (ReMOTS
sec. 2.2: a positive that "dramatically changes the pixel content without altering identity").

Both take a context crop (:mod:`dior_cli.adapt.crops`) ``(Hc, Wc, 3)`` uint8 RGB and return a
``crop_size`` ``[h, w]`` uint8 RGB view. The strong view applies, in this order, each with
its own random draw from ``rng``:

1. crop jitter: a window of ``(1 + s_h) h x (1 + s_w) w`` context pixels, ``s`` uniform in
   ``[-jitter, jitter]``, centred ``[-jitter, jitter]`` box sizes off the box centre (kept in
   the context crop), resized to ``[h, w]``;
2. mirror left-right with ``flip_prob``;
3. colour: brightness, contrast and saturation each scaled by a factor in ``[1 - colour, 1 + colour]``;
4. Gaussian blur with ``blur_prob``, sigma uniform in ``[0.1, blur_sigma]`` pixels;
5. random erasing with ``erase_prob``: a rectangle of 2-20 % of the view's area, aspect 0.3-3.3,
   filled with uniform noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSettings:
    """Strengths of the strong augmentation (see the module docstring)."""

    jitter: float = 0.08
    flip_prob: float = 0.5
    colour: float = 0.3
    blur_prob: float = 0.5
    blur_sigma: float = 1.5
    erase_prob: float = 0.5


def box_view(context: np.ndarray, crop_size: tuple[int, int]) -> np.ndarray:
    """The box alone: the central ``crop_size`` window of the context crop, ``(h, w, 3)``."""
    ch, cw = context.shape[:2]
    h, w = crop_size
    top, left = (ch - h) // 2, (cw - w) // 2
    return np.ascontiguousarray(context[top : top + h, left : left + w])


def strong_view(context: np.ndarray, crop_size: tuple[int, int], rng: np.random.Generator,
                settings: AugmentSettings = AugmentSettings()) -> np.ndarray:
    """A strongly augmented view ``(h, w, 3)`` uint8 (see the module docstring)."""
    h, w = crop_size
    ch, cw = context.shape[:2]
    jitter = settings.jitter
    win_h = int(np.clip(round(h * (1 + rng.uniform(-jitter, jitter))), 8, ch))
    win_w = int(np.clip(round(w * (1 + rng.uniform(-jitter, jitter))), 4, cw))
    cy = ch / 2 + rng.uniform(-jitter, jitter) * h
    cx = cw / 2 + rng.uniform(-jitter, jitter) * w
    top = int(np.clip(round(cy - win_h / 2), 0, ch - win_h))
    left = int(np.clip(round(cx - win_w / 2), 0, cw - win_w))
    view = cv2.resize(context[top : top + win_h, left : left + win_w], (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < settings.flip_prob:
        view = view[:, ::-1]
    view = _colour(view.astype(np.float32), rng, settings.colour)  # (h, w, 3) float 0..255
    if rng.random() < settings.blur_prob:
        view = cv2.GaussianBlur(view, (0, 0), sigmaX=float(rng.uniform(0.1, settings.blur_sigma)))
    if rng.random() < settings.erase_prob:
        _erase(view, rng)
    return np.clip(np.rint(view), 0, 255).astype(np.uint8)


def _colour(view: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, 3)
    view = view * brightness
    view = (view - view.mean()) * contrast + view.mean()
    grey = view @ np.array([0.299, 0.587, 0.114], np.float32)  # (h, w) luma
    return (view - grey[..., None]) * saturation + grey[..., None]


def _erase(view: np.ndarray, rng: np.random.Generator) -> None:
    h, w = view.shape[:2]
    for _ in range(10):  # a few tries to fit the rectangle
        area = rng.uniform(0.02, 0.2) * h * w
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
        eh, ew = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
        if 0 < eh < h and 0 < ew < w:
            y, x = int(rng.integers(0, h - eh)), int(rng.integers(0, w - ew))
            view[y : y + eh, x : x + ew] = rng.uniform(0, 255, (eh, ew, 3))
            return

