"""TrackEval 1.3.0's per-class preprocessing of one MOTS sequence (KittiMOTS, MOTSChallenge).

Per class: keep that class's ground-truth objects and predictions; TrackEval matches them per
frame by Hungarian assignment on IoU >= 0.5 - eps and removes every *unmatched* prediction
with more than half (+ eps) of its area inside the frame's ignore regions; ids are relabelled
to 0..n-1 in increasing order of the original id. Rows keep file order inside a frame.

No assignment is needed to know which predictions go, because a prediction that could match
never has more than half of its area inside an ignore region: ground-truth masks (objects and
ignore regions) are disjoint (``dior evaluate`` refuses them otherwise), and IoU(p, g) >= 1/2
means ``|p & g| >= |p | g| / 2 >= |p| / 2``, so at most half of ``p`` lies outside ``g``, in
the ignore regions or elsewhere. In floating point: both fractions are ratios of pixel counts
(below 2**31), which lie either at 1/2 or at least 2**-31 away from it, far more than eps.
So the removed predictions are exactly those more than half inside ignore regions, matched or
not, and this module needs no solver.
"""

from __future__ import annotations

import numpy as np

from dior_cli.matching.frame_pairs import SequencePairs
from dior_cli.matching.sequence_data import FrameLayout, SequenceData
from dior_cli.records import MotsRows

_EPS = float(np.finfo("float").eps)
_IGNORE_FRACTION = 0.5


def class_sequence(gt: MotsRows, pred: MotsRows, pairs: SequencePairs, class_id: int) -> SequenceData:
    """The preprocessed sequence of ``class_id`` (see the module docstring)."""
    return class_sequence_flat(gt, pred, pairs, class_id)[0]


def class_sequence_with_rows(
    gt: MotsRows, pred: MotsRows, pairs: SequencePairs, class_id: int
) -> tuple[SequenceData, list[np.ndarray], list[np.ndarray]]:
    """:func:`class_sequence`, plus the original rows behind each frame's ids.

    Returns ``(seq, gt_rows, pred_rows)``: ``gt_rows[t]`` ``(G_t,)`` and ``pred_rows[t]``
    ``(P_t,)`` are the row indices into ``gt`` / ``pred`` of ``seq.gt_ids[t]`` /
    ``seq.pred_ids[t]``, position for position (predictions removed inside ignore regions
    are absent from ``pred_rows``).
    """
    seq, gt_rows, pred_rows = class_sequence_flat(gt, pred, pairs, class_id)
    lay = seq.layout
    per_gt = [gt_rows[lay.gt_off[t] : lay.gt_off[t + 1]] for t in range(lay.num_frames)]
    per_pred = [pred_rows[lay.pred_off[t] : lay.pred_off[t + 1]] for t in range(lay.num_frames)]
    return seq, per_gt, per_pred


def class_sequence_flat(
    gt: MotsRows, pred: MotsRows, pairs: SequencePairs, class_id: int
) -> tuple[SequenceData, np.ndarray, np.ndarray]:
    """:func:`class_sequence` and the rows behind its detections, frame by frame:
    ``gt_rows`` ``(N_g,)`` and ``pred_rows`` ``(N_p,)`` in the order of ``seq.layout``."""
    g_cls = gt.class_id[pairs.gt_rows] == class_id  # (G,)
    p_cls = pred.class_id[pairs.pred_rows] == class_id  # (P,)
    _, row, col = pairs.entry_rows  # (E,) each
    in_class = g_cls[row] & p_cls[col]  # (E,)
    keep = p_cls & ~(pairs.in_ignore > _IGNORE_FRACTION + _EPS)  # (P,) see the module docstring
    kept_entries = in_class & keep[col]  # (E,)
    num_frames = pairs.num_frames
    gt_frame = np.repeat(np.arange(num_frames), np.diff(pairs.gt_off))  # (G,)
    pred_frame = np.repeat(np.arange(num_frames), np.diff(pairs.pred_off))  # (P,)
    gt_rows, pred_rows = pairs.gt_rows[g_cls], pairs.pred_rows[keep]
    gt_unique, gt_ids = np.unique(gt.obj_id[gt_rows], return_inverse=True)
    pred_unique, pred_ids = np.unique(pred.obj_id[pred_rows], return_inverse=True)
    layout = FrameLayout(
        np.bincount(gt_frame[g_cls], minlength=num_frames),
        np.bincount(pred_frame[keep], minlength=num_frames),
        gt_ids.ravel(), pred_ids.ravel(), pairs.iou[kept_entries],
    )
    return SequenceData.from_layout(layout, gt_unique.size, pred_unique.size), gt_rows, pred_rows
