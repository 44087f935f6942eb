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

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dior_cli.matching.frame_pairs import RowIds, SequencePairs
from dior_cli.matching.sequence_data import FrameLayout, SequenceData
from dior_cli.records import MotsRows

_EPS = float(np.finfo("float").eps)
_IGNORE_FRACTION = 0.5


@dataclass(frozen=True, eq=False)
class ClassPiece:
    """One class of a run of consecutive frames, preprocessed, before ids are relabelled.

    Attributes:
        n_gt, n_pred: ``(T_b,)`` detections kept per frame.
        gt_obj, pred_obj: ``(G,)`` / ``(P,)`` original object ids, frame by frame, file order.
        ent_row, ent_col: ``(E,)`` positions in ``gt_obj`` / ``pred_obj`` of the pairs that
            intersect, sorted by (row, col); ``sim`` ``(E,)`` their IoU.
        gt_rows, pred_rows: ``(G,)`` / ``(P,)`` the rows (of the rows given) behind each detection.
    """

    n_gt: np.ndarray
    n_pred: np.ndarray
    gt_obj: np.ndarray
    pred_obj: np.ndarray
    ent_row: np.ndarray
    ent_col: np.ndarray
    sim: np.ndarray
    gt_rows: np.ndarray
    pred_rows: np.ndarray


def class_sequence(gt: MotsRows | RowIds, pred: MotsRows | RowIds, pairs: SequencePairs, class_id: int) -> SequenceData:
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
    gt: MotsRows | RowIds, pred: MotsRows | RowIds, pairs: SequencePairs, class_id: int
) -> tuple[SequenceData, np.ndarray, np.ndarray]:
    """:func:`class_sequence` and the rows behind its detections, frame by frame:
    ``gt_rows`` ``(N_g,)`` and ``pred_rows`` ``(N_p,)`` in the order of ``seq.layout``."""
    piece = class_piece(gt, pred, pairs, class_id)
    return assemble([piece]), piece.gt_rows, piece.pred_rows


def class_piece(gt: MotsRows | RowIds, pred: MotsRows | RowIds, pairs: SequencePairs, class_id: int) -> ClassPiece:
    """The frames of ``pairs`` for ``class_id``, preprocessed (ids not yet relabelled)."""
    g_cls = gt.class_id[pairs.gt_rows] == class_id  # (G,)
    p_cls = pred.class_id[pairs.pred_rows] == class_id  # (P,)
    keep = p_cls & ~(pairs.in_ignore > _IGNORE_FRACTION + _EPS)  # (P,) see the module docstring
    kept_entries = g_cls[pairs.ent_row] & keep[pairs.ent_col]  # (E,)
    num_frames = pairs.num_frames
    gt_rows, pred_rows = pairs.gt_rows[g_cls], pairs.pred_rows[keep]
    new_row = np.cumsum(g_cls) - 1  # (G,) position among the kept gt
    new_col = np.cumsum(keep) - 1  # (P,)
    gt_frame = np.repeat(np.arange(num_frames), np.diff(pairs.gt_off))  # (G,)
    pred_frame = np.repeat(np.arange(num_frames), np.diff(pairs.pred_off))  # (P,)
    return ClassPiece(
        n_gt=np.bincount(gt_frame[g_cls], minlength=num_frames), n_pred=np.bincount(pred_frame[keep], minlength=num_frames),
        gt_obj=gt.obj_id[gt_rows], pred_obj=pred.obj_id[pred_rows],
        ent_row=new_row[pairs.ent_row[kept_entries]], ent_col=new_col[pairs.ent_col[kept_entries]], sim=pairs.iou[kept_entries],
        gt_rows=gt_rows, pred_rows=pred_rows,
    )


def assemble(pieces: Sequence[ClassPiece]) -> SequenceData:
    """The sequence made of consecutive pieces (in frame order), ids relabelled to 0..n-1 in
    increasing order of the original id over the whole sequence."""
    gt_base = np.cumsum([0] + [p.gt_obj.size for p in pieces[:-1]])
    pred_base = np.cumsum([0] + [p.pred_obj.size for p in pieces[:-1]])
    gt_unique, gt_ids = np.unique(_join([p.gt_obj for p in pieces]), return_inverse=True)
    pred_unique, pred_ids = np.unique(_join([p.pred_obj for p in pieces]), return_inverse=True)
    layout = FrameLayout(
        _join([p.n_gt for p in pieces]), _join([p.n_pred for p in pieces]), gt_ids.ravel(), pred_ids.ravel(),
        _join([p.ent_row.astype(np.int64) + b for p, b in zip(pieces, gt_base)]),
        _join([p.ent_col.astype(np.int64) + b for p, b in zip(pieces, pred_base)]),
        _join([p.sim for p in pieces], np.float64),
    )
    return SequenceData.from_layout(layout, gt_unique.size, pred_unique.size)


def _join(parts: list[np.ndarray], dtype: type = np.int64) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
