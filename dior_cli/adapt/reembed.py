"""Embeddings with an adapted encoder.

- :func:`embed_box_views`: from the context crops in memory (the plain box view of each
  detection), for the short-term tracker between the training steps;
- :func:`embed_detections`: from the frames, through ``dior_cli.model.osnet_crops.embed_crops``,
  exactly as ``dior infer`` embeds (same crops, resizing and normalisation), for the output.

Both return ``(N, 512)`` float32 unit rows, row ``i`` for detection ``i``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from dior_cli.adapt.augment import box_view
from dior_cli.console import track_progress
from dior_cli.model.osnet import EMBEDDING_DIM
from dior_cli.model.osnet_crops import embed_crops, normalise
from dior_cli.association.short_term import rows_by_frame


def embed_box_views(model: torch.nn.Module, contexts: np.ndarray, crop_size: tuple[int, int], batch: int = 64) -> np.ndarray:
    """Embeddings of the plain box views of ``contexts`` ``(N, Hc, Wc, 3)``."""
    device = next(model.parameters()).device
    model.eval()
    rows = [np.zeros((0, EMBEDDING_DIM), np.float32)]
    with torch.inference_mode():
        for start in range(0, len(contexts), batch):
            views = np.stack([box_view(c, crop_size) for c in contexts[start : start + batch]])  # (b, h, w, 3)
            rows.append(F.normalize(model(normalise(views).to(device)), dim=1).cpu().numpy())
    return np.concatenate(rows).astype(np.float32)


def embed_detections(model: torch.nn.Module, images: Iterable[tuple[int, np.ndarray]], frames: np.ndarray, boxes_xyxy: np.ndarray,
                     *, total: int | None = None, description: str = "re-embed") -> np.ndarray:
    """Embeddings of every detection, cut from its frame as ``dior infer`` does.

    Raises:
        ValueError: the frames ran out before the last detection's frame.
    """
    out = np.zeros((frames.size, EMBEDDING_DIM), np.float32)
    by_frame = rows_by_frame(frames)
    last = max(by_frame, default=-1)
    if last < 0:
        return out
    model.eval()
    for frame, image in track_progress(images, description, total=total):
        rows = by_frame.get(frame)
        if rows is not None:
            out[rows] = embed_crops(model, image, boxes_xyxy[rows])
        if frame >= last:
            return out
    raise ValueError(f"the frames end before frame {last}, which has detections")
