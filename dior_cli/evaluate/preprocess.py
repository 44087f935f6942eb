"""Overlapping masks in a sequence: naming the first pair (for the error message) and making
a frame's predictions disjoint (``--resolve-overlaps``).

The preprocessing TrackEval applies before its metrics (IoU, ignore regions, per-class
matching) is in :mod:`dior_cli.matching`, shared with ``dior render --gt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dior_cli.masks import Rle, has_overlap, intersection_matrix, make_disjoint
from dior_cli.records import MotsRows


@dataclass(frozen=True)
class Overlap:
    """Two masks of one frame that share pixels (rows index the file's rows)."""

    frame: int
    row_a: int
    row_b: int
    pixels: int


def find_overlap(rles: list[Rle], rows: np.ndarray, frame: int) -> Overlap | None:
    """The first pair of masks among ``rows`` that share a pixel, or ``None``."""
    if not has_overlap([rles[i] for i in rows]):
        return None
    inter = intersection_matrix([rles[i] for i in rows], [rles[i] for i in rows])  # (K, K)
    np.fill_diagonal(inter, 0)
    hits = np.argwhere(np.triu(inter) > 0)
    if hits.size == 0:
        return None
    a, b = hits[0]
    return Overlap(frame, int(rows[a]), int(rows[b]), int(inter[a, b]))


def resolve_overlaps(pred: MotsRows, num_frames: int) -> tuple[MotsRows, int]:
    """Make each frame's prediction masks disjoint, earlier lines winning; pixels moved."""
    rles = list(pred.rles)
    moved = 0
    for rows in pred.rows_by_frame(num_frames):
        if len(rows) < 2:
            continue
        fixed, n = make_disjoint([rles[i] for i in rows])  # priority: file order
        moved += n
        for i, rle in zip(rows, fixed):
            rles[i] = rle
    return MotsRows(frame=pred.frame, obj_id=pred.obj_id, class_id=pred.class_id, rles=rles), moved
