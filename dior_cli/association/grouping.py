"""Group-bys over rows without one boolean mask per group: sorted keys and ``reduceat``."""

from __future__ import annotations

import numpy as np

_CHUNK_VALUES = 1 << 20  # float64 values per pass (8 MB of temporaries)


def group_sums(index: np.ndarray, values: np.ndarray, num_groups: int, *, rows: np.ndarray | None = None) -> np.ndarray:
    """``(G, D)`` float64: the sum of the rows of each group.

    Args:
        index: ``(R,)`` group (0..G-1) of each selected row.
        values: ``(N, D)`` rows; read in chunks, so a memory map is never copied whole.
        num_groups: G.
        rows: ``(R,)`` which rows of ``values`` ``index`` describes (``None``: all, R = N).
    """
    index = np.asarray(index, dtype=np.int64)
    dim = values.shape[1]
    sums = np.zeros((num_groups, dim))
    step = max(1, _CHUNK_VALUES // max(dim, 1))
    for start in range(0, index.size, step):
        part = index[start : start + step]  # (k,)
        order = np.argsort(part, kind="stable")  # rows of one group together, in row order
        picked = np.arange(start, start + part.size) if rows is None else rows[start : start + part.size]
        chunk = np.asarray(values[picked[order]], dtype=np.float64)  # (k, D), gathered already grouped
        groups, first = np.unique(part[order], return_index=True)  # (g,), (g,)
        sums[groups] += np.add.reduceat(chunk, first, axis=0)  # (g, D)
    return sums
