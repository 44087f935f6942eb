"""Making a frame's prediction masks disjoint (``--resolve-overlaps``).

Finding the first overlapping pair (for the error message) works on decoded intervals, in
:func:`dior_cli.matching.frame_pairs.first_overlapping_pair`; the preprocessing TrackEval
applies before its metrics (IoU, ignore regions, per-class matching) is in
:mod:`dior_cli.matching`, shared with ``dior render --gt``.
"""

from __future__ import annotations

from dior_cli.masks import make_disjoint
from dior_cli.records import MotsRows


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
