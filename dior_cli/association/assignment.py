"""Gated Hungarian assignment: the minimum-cost one-to-one matching among allowed pairs."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

_FORBIDDEN = 1e6  # far above any sum of allowed costs (each is at most 2)


def gated_hungarian(cost: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Match rows to columns minimising total cost, using only ``allowed`` pairs.

    Args:
        cost: ``(N, M)`` float costs.
        allowed: ``(N, M)`` bool gate.

    Returns:
        ``(rows, cols)``: int64 arrays of equal length, matched pairs in row order. A
        forbidden pair is never returned; as many allowed pairs as possible are matched
        before cost is considered.
    """
    if cost.size == 0 or not allowed.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    gated = np.where(allowed, cost, _FORBIDDEN)  # (N, M)
    rows, cols = linear_sum_assignment(gated)
    keep = allowed[rows, cols]
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)
