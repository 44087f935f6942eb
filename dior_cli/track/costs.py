"""Association costs between one frame's detections and tracks (DIOR eq. 6 and 7).

``C = 2 - IoM(m_i, mask of track j at its last frame) - max_k cos(e_i, stack_j[k])``; on
masks alone (no embeddings) ``C = 1 - IoM``. Embeddings are L2-normalised, so a dot
product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def max_cosine(det_embeddings: np.ndarray, stacks: Sequence[np.ndarray]) -> np.ndarray:
    """Largest cosine similarity between each detection and each track's feature stack.

    Args:
        det_embeddings: ``(N, D)`` unit rows.
        stacks: ``M`` arrays ``(K_j, D)`` of unit rows, ``K_j >= 1``.

    Returns:
        ``(N, M)`` float64.
    """
    n, m = det_embeddings.shape[0], len(stacks)
    if n == 0 or m == 0:
        return np.zeros((n, m))
    stacked = np.concatenate(stacks)  # (sum K_j, D)
    starts = np.cumsum([0] + [len(s) for s in stacks[:-1]])  # (M,) first row of each stack
    cosines = det_embeddings.astype(np.float64) @ stacked.T.astype(np.float64)  # (N, sum K_j)
    return np.maximum.reduceat(cosines, starts, axis=1)  # (N, M)


def association_cost(iom: np.ndarray, similarity: np.ndarray | None) -> np.ndarray:
    """DIOR's cost ``2 - IoM - similarity``, or ``1 - IoM`` without appearance: ``(N, M)``."""
    if similarity is None:
        return 1.0 - iom
    return 2.0 - iom - similarity
