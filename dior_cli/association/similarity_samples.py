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
    """Cosine similarities of all same-class pairs of observations sharing a frame (subsampled).

    When there are more than ``_MAX_DIFFERENT_PAIRS`` pairs, the subset is drawn first (the
    indices ``rng.choice(values, k, replace=False)`` would pick, with the same draws) and only
    those pairs are computed: memory holds the sample, not every pair of a long sequence.
    """
    order = np.lexsort((class_ids, frames))
    key = frames[order] * 16 + class_ids[order]
    bounds = np.flatnonzero(np.diff(key)) + 1
    groups = [g for g in np.split(order, bounds) if g.size >= 2]
    sizes = np.array([g.size for g in groups], dtype=np.int64)  # (G,)
    pairs = sizes * (sizes - 1) // 2  # (G,) pairs of each group, in np.triu_indices order
    total = int(pairs.sum())
    if total <= _MAX_DIFFERENT_PAIRS:
        samples = [_upper_pairs(embeddings, g) for g in groups]
        return (np.concatenate(samples) if samples else np.zeros(0)).astype(np.float64)
    pick = rng.choice(total, _MAX_DIFFERENT_PAIRS, replace=False)  # (S,) global pair indices, in sample order
    by_pair = np.argsort(pick, kind="stable")
    offsets = np.cumsum(pairs) - pairs  # (G,) first global pair index of each group
    group_of = np.searchsorted(offsets, pick[by_pair], side="right") - 1  # (S,) group of each sorted pick
    values = None
    starts = np.flatnonzero(np.diff(group_of, prepend=-1))  # first sorted pick of each group with picks
    for lo, hi in zip(starts.tolist(), np.append(starts[1:], group_of.size).tolist()):
        g = int(group_of[lo])
        upper = _upper_pairs(embeddings, groups[g])  # (pairs[g],)
        if values is None:
            values = np.empty(_MAX_DIFFERENT_PAIRS, dtype=upper.dtype)
        values[by_pair[lo:hi]] = upper[pick[by_pair[lo:hi]] - offsets[g]]
    return values.astype(np.float64)


def _upper_pairs(embeddings: np.ndarray, group: np.ndarray) -> np.ndarray:
    """``(g (g - 1) / 2,)`` cosines of the rows ``group`` with each other, in ``np.triu_indices`` order."""
    # two gathers, not rows @ rows.T: numpy sends a product of an array with its own transpose to
    # a symmetric kernel (syrk) whose rounding differs from gemm's by an ulp; the thresholds read
    # from these must not depend on how the sample was drawn
    return (embeddings[group] @ embeddings[group].T)[np.triu_indices(group.size, k=1)]


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
