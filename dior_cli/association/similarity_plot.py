"""Similarity histograms (ReMOTS Figures 4 and 5), drawn with OpenCV, for ``dior reid --plot``
and ``dior adapt --plot``.

``threshold_figure`` (reid): panel 1, the different-identity similarities (same frame) with
theta_short; panel 2, those against the same-identity ones (within tracklets), with theta_merge.
``separation_figure`` (adapt): both populations before and after adapting the encoder.
Bars are normalised per population so both are visible whatever their sizes; ``overlap`` is
the area the two normalised histograms share (0: apart, 1: the same distribution).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from dior_cli.formats.atomic import write_bytes_atomic

_W, _H, _MARGIN = 640, 300, 40
_DIFFERENT = (60, 60, 220)  # BGR red
_SAME = (60, 170, 60)  # BGR green
_LINE = (30, 30, 30)


def threshold_figure(different: np.ndarray, same: np.ndarray, theta_short: float, theta_merge: float, title: str, bins: int = 50) -> np.ndarray:
    """A ``(2 * 300, 640, 3)`` BGR image with both panels."""
    top = _panel([(different, _DIFFERENT)], bins, [(theta_short, f"theta_short {theta_short:.3f}")],
                 f"{title}: different identities (same frame), n={different.size}")
    bottom = _panel([(different, _DIFFERENT), (same, _SAME)], bins, [(theta_merge, f"theta_merge {theta_merge:.3f}")],
                    f"red: different (n={different.size}), green: same tracklet (n={same.size})")
    return np.vstack([top, bottom])


def overlap(different: np.ndarray, same: np.ndarray, bins: int = 50) -> float | None:
    """Shared area of the two histograms (``bins`` equal bins on [-1, 1], each summing to 1); ``None`` if one is empty."""
    if different.size == 0 or same.size == 0:
        return None
    edges = np.linspace(-1.0, 1.0, bins + 1)
    p = np.histogram(np.clip(different, -1, 1), bins=edges)[0] / different.size
    q = np.histogram(np.clip(same, -1, 1), bins=edges)[0] / same.size
    return float(np.minimum(p, q).sum())


def separation_figure(before: tuple[np.ndarray, np.ndarray] | None, after: tuple[np.ndarray, np.ndarray], theta_short: float,
                      title: str, bins: int = 50) -> np.ndarray:
    """``(different, same)`` similarities before (``None``: no input embeddings) and after
    adaptation, as a ``(2 * 300, 640, 3)`` BGR image; theta_short marks both panels."""
    panels = []
    for name, pair in (("before", before), ("after", after)):
        if pair is None:
            panels.append(_panel([], bins, [], f"{title} {name}: no input embeddings (<seq>.npy) to compare"))
            continue
        different, same = pair
        shared = overlap(different, same, bins)
        shared_text = "n/a" if shared is None else f"{shared:.3f}"
        panels.append(_panel([(different, _DIFFERENT), (same, _SAME)], bins, [(theta_short, f"theta_short {theta_short:.3f}")],
                             f"{title} {name}: different n={different.size} (red), same tracklet n={same.size} (green), "
                             f"overlap {shared_text}"))
    return np.vstack(panels)


def write_threshold_plot(path: str | os.PathLike, image: np.ndarray) -> None:
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    write_bytes_atomic(path, png.tobytes())


def _panel(populations, bins: int, lines, caption: str) -> np.ndarray:
    image = np.full((_H, _W, 3), 255, np.uint8)
    plot_w, plot_h = _W - 2 * _MARGIN, _H - 2 * _MARGIN
    edges = np.linspace(-1.0, 1.0, bins + 1)
    bar_w = plot_w / bins
    for values, colour in populations:
        if values.size == 0:
            continue
        counts, _ = np.histogram(values, bins=edges)
        heights = counts / counts.max()
        for i, h in enumerate(heights):
            x0 = int(_MARGIN + i * bar_w)
            cv2.rectangle(image, (x0, int(_H - _MARGIN - h * plot_h)), (int(x0 + bar_w) - 1, _H - _MARGIN), colour, 1)
    cv2.line(image, (_MARGIN, _H - _MARGIN), (_W - _MARGIN, _H - _MARGIN), _LINE, 1)
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        x = int(_MARGIN + (tick + 1) / 2 * plot_w)
        cv2.putText(image, f"{tick:g}", (x - 10, _H - _MARGIN + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, _LINE, 1)
    for value, label in lines:
        x = int(_MARGIN + (np.clip(value, -1, 1) + 1) / 2 * plot_w)
        cv2.line(image, (x, _MARGIN), (x, _H - _MARGIN), _LINE, 2)
        cv2.putText(image, label, (min(x + 4, _W - 150), _MARGIN + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _LINE, 1)
    cv2.putText(image, caption, (_MARGIN, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _LINE, 1)
    cv2.putText(image, "cosine similarity", (_W // 2 - 50, _H - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, _LINE, 1)
    return image
