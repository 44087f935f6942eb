"""Samples of appearance similarity that ReMOTS reads its thresholds from (sec. 2.3, 2.5):
pairs known to be different identities (same class, same frame: distinct objects after NMS and
fusion) and pairs assumed to be one identity (two observations of one tracklet). Used by
``dior reid`` (thresholds) and ``dior adapt`` (theta_short between its training steps).

Embeddings are ``(N, D)`` unit rows (anything indexable by a row array gives the same);
similarities are cosines, float64.
"""

from __future__ import annotations

import numpy as np

_MAX_DIFFERENT_PAIRS = 200_000  # similarity samples kept for the statistics (random subset)
_PAIRS_PER_TRACKLET = 64


def different_identity_similarities(frames: np.ndarray, class_ids: np.ndarray, embeddings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cosine similarities of all same-class pairs of observations sharing a frame (subsampled)."""
    order = np.lexsort((class_ids, frames))
    key = frames[order] * 16 + class_ids[order]
    bounds = np.flatnonzero(np.diff(key)) + 1
    samples = []
    for group in np.split(order, bounds):
        if group.size < 2:
            continue
        sims = embeddings[group] @ embeddings[group].T  # (g, g)
        samples.append(sims[np.triu_indices(group.size, k=1)])
    values = np.concatenate(samples) if samples else np.zeros(0)
    if values.size > _MAX_DIFFERENT_PAIRS:
        values = rng.choice(values, _MAX_DIFFERENT_PAIRS, replace=False)
    return values.astype(np.float64)


def same_identity_similarities(labels: np.ndarray, embeddings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cosine similarities of pairs inside each tracklet (up to a fixed number per tracklet)."""
    samples = []
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for group in np.split(order, bounds):
        n = group.size
        if n < 2:
            continue
        if n * (n - 1) // 2 <= _PAIRS_PER_TRACKLET:
            i, j = np.triu_indices(n, k=1)
        else:
            i = rng.integers(0, n, _PAIRS_PER_TRACKLET)
            j = (i + rng.integers(1, n, _PAIRS_PER_TRACKLET)) % n  # never i itself
        samples.append(np.einsum("kd,kd->k", embeddings[group[i]], embeddings[group[j]]))
    return np.concatenate(samples).astype(np.float64) if samples else np.zeros(0)
