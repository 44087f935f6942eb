"""The embedding of every track line, without copying the embeddings file.

Line ``i`` of a tracks file came from detection ``det_ids[i]``; its embedding is row
``det_ids[i]`` of the detections' ``(N, D)`` embeddings (a read-only memory map). A
:class:`LineEmbeddings` gathers only the rows a computation asks for, so a refinement never
holds a second ``(lines, D)`` copy of the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_CHUNK_VALUES = 1 << 22  # float64 values gathered per pass of :func:`row_dots`


class LineEmbeddings:
    """``(L, D)`` float32 rows, indexable like an array: ``lines[index]`` is ``vectors[det_ids[index]]``.

    Args:
        vectors: ``(N, D)`` unit rows of the detections (array or memory map).
        det_ids: ``(L,)`` int64, the detection of each line, all in ``[0, N)``.
    """

    def __init__(self, vectors: np.ndarray, det_ids: np.ndarray) -> None:
        self.vectors = vectors
        self.det_ids = np.asarray(det_ids, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.det_ids.size), int(self.vectors.shape[1]))

    def __len__(self) -> int:
        return int(self.det_ids.size)

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self.vectors[self.det_ids[index]])


def row_dots(embeddings: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(K,)`` dot product of rows ``a[k]`` and ``b[k]`` of ``embeddings``, gathered in chunks."""
    out = np.empty(np.asarray(a).size)
    step = max(1, _CHUNK_VALUES // max(int(embeddings.shape[1]), 1))
    for s in range(0, out.size, step):
        out[s : s + step] = np.einsum("kd,kd->k", embeddings[a[s : s + step]], embeddings[b[s : s + step]])
    return out
