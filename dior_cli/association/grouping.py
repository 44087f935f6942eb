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


class RunningGroupSums:
    """:func:`group_sums` fed rows as they come, keyed by any int (an object id) instead of a group
    index: the same chunks of ``_CHUNK_VALUES`` values, summed in the same order, so every sum is
    bit for bit what :func:`group_sums` gives for the concatenated rows.

    Args:
        dim: D.
    """

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        self.step = max(1, _CHUNK_VALUES // max(self.dim, 1))  # rows per chunk, as group_sums
        self.sums: dict[int, np.ndarray] = {}  # key -> (D,) float64 over the flushed rows
        self.flushed = 0  # rows summed into ``sums`` so far
        self._keys: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._buffered = 0

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Append ``(K,)`` keys and their ``(K, D)`` rows (in row order)."""
        if len(keys) == 0:
            return
        self._keys.append(np.asarray(keys, dtype=np.int64))
        self._rows.append(np.asarray(rows))
        self._buffered += len(keys)
        while self._buffered >= self.step:
            self._flush(self.step)

    def flush_all(self) -> None:
        """Sum what is buffered (the last, shorter chunk)."""
        if self._buffered:
            self._flush(self._buffered)

    def _flush(self, count: int) -> None:
        keys, rows = np.concatenate(self._keys), np.concatenate(self._rows)
        part, values = keys[:count], rows[:count]
        self._keys, self._rows = ([keys[count:]], [rows[count:]]) if count < keys.size else ([], [])
        self._buffered -= count
        order = np.argsort(part, kind="stable")  # rows of one key together, in row order
        chunk = np.asarray(values[order], dtype=np.float64)  # (k, D)
        groups, first = np.unique(part[order], return_index=True)  # (g,), (g,)
        partial = np.add.reduceat(chunk, first, axis=0)  # (g, D)
        for key, row in zip(groups.tolist(), partial):
            self.sums[key] = self.sums.get(key, np.zeros(self.dim)) + row
        self.flushed += count
