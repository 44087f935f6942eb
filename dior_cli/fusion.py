"""Fuse detection sets of one sequence into one set of pixel-disjoint masks (ReMOTS sec. 2.1).

Per frame, over the union of all sets' detections:

1. **IoM-NMS.** Detections are taken in decreasing score (ties: earlier set, then earlier
   row first). A detection is suppressed when its IoM, intersection over the *smaller* of
   the two mask areas, with an already kept detection of the same class exceeds
   ``iom_thresh``. IoM instead of IoU because a small mask lying inside a big one (a
   detector's part detection, or one detector's fragment of another's object) has a low
   IoU but an IoM of 1.
2. **Disjointness.** Each pixel still claimed by several kept masks goes to the one with
   the highest score (ties as above), whatever their classes; masks left with no pixel
   are dropped (counted in ``emptied``).

Decisions the paper leaves open, made here:

- ``iom_thresh`` defaults to 0.5 (ReMOTS gives no value): two detectors' masks of one
  object share most of the smaller mask, instance masks of two different objects rarely
  share half of it. A detection is suppressed only when IoM is strictly greater, so
  ``iom_thresh = 1`` turns NMS off.
- NMS is per class by default (ReMOTS fused pedestrians only): a pedestrian in front of a
  car, whose mask lies mostly inside the car's, is not suppressed by it; step 2 then
  resolves their pixels. ``per_class=False`` makes NMS class-agnostic.
- A single set goes through the same two steps: the result is one function of the union,
  whatever the number of sets, and TrackEval rejects overlapping masks anyway.
- Detections whose mask is empty on input are dropped before NMS (``empty_input``).

Scores, classes and ``extras`` are carried through unchanged; boxes are recomputed from
the (possibly clipped) masks. No torch: this runs anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from dior_cli.masks import Rle, area, bbox_xyxy, iom_matrix, make_disjoint
from dior_cli.records import Detections, concat_detections

DEFAULT_IOM_THRESH = 0.5


@dataclass(frozen=True)
class FusionCounts:
    """What fusion did, in detections (and pixels).

    Attributes:
        inputs: detections given (all sets).
        empty_input: dropped because their mask was empty on input.
        suppressed: dropped by IoM-NMS.
        emptied: dropped because disjointness left them no pixel.
        pixels_reassigned: contested pixels removed from lower-score masks.
        kept: detections out (``inputs - empty_input - suppressed - emptied``).
    """

    inputs: int = 0
    empty_input: int = 0
    suppressed: int = 0
    emptied: int = 0
    pixels_reassigned: int = 0
    kept: int = 0

    def __add__(self, other: FusionCounts) -> FusionCounts:
        return FusionCounts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


def nms_by_iom(rles: Sequence[Rle], scores: np.ndarray, class_ids: np.ndarray, iom_thresh: float, per_class: bool = True) -> np.ndarray:
    """Greedy NMS on mask IoM: the indices kept, in decreasing score (ties: lower index first).

    Args:
        rles: K masks of one image size.
        scores: ``(K,)`` confidences.
        class_ids: ``(K,)`` MOTS classes; with ``per_class`` only masks of one class suppress each other.
        iom_thresh: a mask is suppressed when its IoM with a kept mask exceeds this.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")  # (K,)
    if len(order) == 0:
        return order.astype(np.int64)
    iom = iom_matrix(list(rles), list(rles))  # (K, K)
    rivals = iom > iom_thresh  # (K, K)
    if per_class:
        class_ids = np.asarray(class_ids)
        rivals &= class_ids[:, None] == class_ids[None, :]
    np.fill_diagonal(rivals, False)
    kept: list[int] = []
    for i in order:
        if not rivals[i, kept].any():
            kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


def fuse_frame(dets: Detections, iom_thresh: float = DEFAULT_IOM_THRESH, per_class: bool = True) -> tuple[Detections, FusionCounts]:
    """Fuse one frame's detections (rows of any number of sets, set order first).

    Returns:
        The kept detections in decreasing score, masks pixel-disjoint, boxes recomputed,
        and the counts.
    """
    n = len(dets)
    if n == 0:
        return dets, FusionCounts()
    nonempty = np.flatnonzero(area(dets.rles) > 0)  # (K',)
    candidates = dets[nonempty]
    kept = candidates[nms_by_iom(candidates.rles, candidates.score, candidates.class_id, iom_thresh, per_class)]
    disjoint, moved = make_disjoint(kept.rles)  # kept is in priority order: earlier wins
    alive = np.flatnonzero(area(disjoint) > 0)
    rles = [disjoint[i] for i in alive]
    out = Detections(
        frame=kept.frame[alive], class_id=kept.class_id[alive], score=kept.score[alive],
        bbox_xyxy=bbox_xyxy(rles).reshape(-1, 4), rles=rles, extras=[kept.extras[i] for i in alive],
    )
    counts = FusionCounts(
        inputs=n, empty_input=n - len(candidates), suppressed=len(candidates) - len(kept),
        emptied=len(kept) - len(out), pixels_reassigned=moved, kept=len(out),
    )
    return out, counts


def fuse_sets(sets: Sequence[Detections], num_frames: int, iom_thresh: float = DEFAULT_IOM_THRESH,
              per_class: bool = True) -> tuple[Detections, FusionCounts]:
    """Fuse the detection sets of one sequence frame by frame.

    Args:
        sets: one ``Detections`` per set, frames 0-based and below ``num_frames``.
        num_frames: frames in the sequence.

    Returns:
        The fused detections ordered by frame, then decreasing score (``det_id`` = row),
        and the counts summed over frames.
    """
    union = concat_detections(list(sets))  # set order first: ties go to the earlier set
    if len(union) and (union.frame.min() < 0 or union.frame.max() >= num_frames):
        raise ValueError(f"fuse_sets: frames must be in 0..{num_frames - 1}")
    parts, total = [], FusionCounts()
    for rows in union.rows_by_frame(num_frames):
        fused, counts = fuse_frame(union[rows], iom_thresh, per_class)
        parts.append(fused)
        total = total + counts
    return concat_detections(parts), total
