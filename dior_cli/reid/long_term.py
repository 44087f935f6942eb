"""DIOR's long-term re-ID (DIOR sec. 3.4): join finished tracklets across long occlusions.

Two tracklets ``p`` and ``q`` of the same class may be joined when they do not overlap in
time (``p`` ends before ``q`` starts), ``q`` starts at most ``max_gap_frames`` frames after
``p`` ends (N2 = 1 s in the paper), and the cosine similarity of their appearances exceeds
``min_similarity`` (theta_1). A tracklet's appearance is the normalised mean of its
detections' embeddings. Pairs are joined best first; each tracklet gets at most one
successor and one predecessor, so a chain is a time-ordered sequence of tracklets and never
overlaps itself. A chain takes the id of its first tracklet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Join:
    """One link made: ``later`` continues ``earlier``."""

    earlier: int
    later: int
    similarity: float
    gap_frames: int


def tracklet_appearance(obj_ids: np.ndarray, embeddings: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``(T, D)``: the L2-normalised mean embedding of each id in ``ids``."""
    index = np.searchsorted(ids, obj_ids)  # ids is sorted; every obj_id is in it
    sums = np.zeros((ids.size, embeddings.shape[1]))
    np.add.at(sums, index, embeddings.astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms > 0, norms, 1.0)


def link_tracklets(
    obj_ids: np.ndarray,
    frames: np.ndarray,
    class_ids: np.ndarray,
    embeddings: np.ndarray,
    *,
    max_gap_frames: int,
    min_similarity: float,
) -> tuple[np.ndarray, list[Join]]:
    """Re-link tracklets; return the new object id of every detection and the joins made.

    Args:
        obj_ids: ``(N,)`` object id of each tracked detection (0 = untracked, left alone).
        frames: ``(N,)`` 0-based frames.
        class_ids: ``(N,)`` classes.
        embeddings: ``(N, D)`` unit rows.
        max_gap_frames: largest ``first frame of q - last frame of p``.
        min_similarity: theta_1; a pair must be strictly more similar than this.
    """
    tracked = obj_ids > 0
    ids = np.unique(obj_ids[tracked])  # (T,)
    if ids.size < 2:
        return obj_ids.copy(), []
    index = np.searchsorted(ids, obj_ids[tracked])
    first = np.full(ids.size, np.iinfo(np.int64).max)
    last = np.full(ids.size, -1)
    np.minimum.at(first, index, frames[tracked])
    np.maximum.at(last, index, frames[tracked])
    cls = np.zeros(ids.size, np.int64)
    cls[index] = class_ids[tracked]
    appearance = tracklet_appearance(obj_ids[tracked], embeddings[tracked], ids)  # (T, D)

    similarity = appearance @ appearance.T  # (T, T) [p, q]
    gap = first[None, :] - last[:, None]  # (T, T) frames from p's end to q's start
    candidate = (cls[:, None] == cls[None, :]) & (gap >= 1) & (gap <= max_gap_frames) & (similarity > min_similarity)
    p_idx, q_idx = np.nonzero(candidate)
    order = np.lexsort((q_idx, p_idx, gap[p_idx, q_idx], -similarity[p_idx, q_idx]))  # best first
    successor = np.full(ids.size, -1)
    predecessor = np.full(ids.size, -1)
    joins = []
    for k in order:
        p, q = p_idx[k], q_idx[k]
        if successor[p] == -1 and predecessor[q] == -1:
            successor[p], predecessor[q] = q, p
            joins.append(Join(int(ids[p]), int(ids[q]), float(similarity[p, q]), int(gap[p, q])))

    new_id = ids.copy()
    for head in np.flatnonzero(predecessor == -1):
        node = successor[head]
        while node != -1:
            new_id[node] = ids[head]
            node = successor[node]
    relinked = obj_ids.copy()
    relinked[tracked] = new_id[index]
    return relinked, joins
