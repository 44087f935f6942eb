"""From ground-truth and prediction rows to what the metrics see, as TrackEval 1.3.0 does
for its KittiMOTS and MOTSChallenge datasets.

Per frame, once for all classes: the mask IoU between every ground-truth object (class 1
or 2, file order) and every prediction (file order), and the union of the frame's ignore
regions (class 10). Per class: keep that class's rows; match ground truth to predictions
by Hungarian assignment on IoU >= 0.5; an *unmatched* prediction with more than half of its
area inside the ignore region is removed; ids are relabelled to 0..n-1 in increasing order.
Row order is kept throughout, because the Hungarian solver breaks ties by position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from dior_cli.evaluate.sequence_data import SequenceData
from dior_cli.masks import Rle, has_overlap, intersection_matrix, ioa_matrix, iou_matrix, make_disjoint, merge
from dior_cli.records import IGNORE, MotsRows

_EPS = float(np.finfo("float").eps)
_MATCH_IOU = 0.5
_IGNORE_FRACTION = 0.5


@dataclass(frozen=True)
class FramePairs:
    """One frame's rows and their IoU, shared by every class.

    Attributes:
        gt_rows: ``(G,)`` ground-truth row indices of objects (ignore rows excluded), file order.
        pred_rows: ``(P,)`` prediction row indices, file order.
        iou: ``(G, P)`` mask IoU.
        in_ignore: ``(P,)`` fraction of each prediction's area inside the frame's ignore
            regions (all 0 when it has none).
    """

    gt_rows: np.ndarray
    pred_rows: np.ndarray
    iou: np.ndarray
    in_ignore: np.ndarray


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


def pair_frames(gt: MotsRows, pred: MotsRows, num_frames: int) -> list[FramePairs]:
    """Per frame: object rows, prediction rows, their IoU and the merged ignore region."""
    gt_by_frame = gt.rows_by_frame(num_frames)
    pred_by_frame = pred.rows_by_frame(num_frames)
    frames = []
    for t in range(num_frames):
        rows = gt_by_frame[t]
        is_ignore = gt.class_id[rows] == IGNORE
        objects, ignores = rows[~is_ignore], rows[is_ignore]
        preds = pred_by_frame[t]
        pred_masks = [pred.rles[i] for i in preds]
        iou = iou_matrix([gt.rles[i] for i in objects], pred_masks)  # (G, P)
        if len(ignores) and len(preds):
            in_ignore = ioa_matrix(pred_masks, [merge([gt.rles[i] for i in ignores])])[:, 0]  # (P,)
        else:
            in_ignore = np.zeros(len(preds))
        frames.append(FramePairs(objects, preds, iou, in_ignore))
    return frames


def class_sequence(gt: MotsRows, pred: MotsRows, frames: list[FramePairs], class_id: int) -> SequenceData:
    """TrackEval's per-class preprocessing of one sequence (see the module docstring)."""
    return class_sequence_with_rows(gt, pred, frames, class_id)[0]


def class_sequence_with_rows(
    gt: MotsRows, pred: MotsRows, frames: list[FramePairs], class_id: int
) -> tuple[SequenceData, list[np.ndarray], list[np.ndarray]]:
    """:func:`class_sequence`, plus the original rows behind each frame's ids.

    Returns ``(seq, gt_rows, pred_rows)``: ``gt_rows[t]`` ``(G_t,)`` and ``pred_rows[t]``
    ``(P_t,)`` are the row indices into ``gt`` / ``pred`` of ``seq.gt_ids[t]`` /
    ``seq.pred_ids[t]``, position for position (predictions removed inside ignore regions
    are absent from ``pred_rows``).
    """
    gt_ids, pred_ids, similarity = [], [], []
    gt_rows, pred_rows = [], []
    for frame in frames:
        g_sel = gt.class_id[frame.gt_rows] == class_id  # (G,)
        p_sel = pred.class_id[frame.pred_rows] == class_id  # (P,)
        sim = frame.iou[g_sel][:, p_sel]  # (G_c, P_c)
        p_rows = frame.pred_rows[p_sel]
        unmatched = np.arange(p_rows.size)
        if sim.size:
            scores = sim.copy()
            scores[scores < _MATCH_IOU - _EPS] = -10000
            match_r, match_c = linear_sum_assignment(-scores)
            matched = scores[match_r, match_c] > 0 + _EPS
            unmatched = np.delete(unmatched, match_c[matched])
        if unmatched.size:
            inside = frame.in_ignore[p_sel][unmatched]  # (U,)
            drop = unmatched[inside > _IGNORE_FRACTION + _EPS]
            p_rows = np.delete(p_rows, drop)
            sim = np.delete(sim, drop, axis=1)
        gt_ids.append(gt.obj_id[frame.gt_rows[g_sel]])
        pred_ids.append(pred.obj_id[p_rows])
        similarity.append(sim)
        gt_rows.append(frame.gt_rows[g_sel])
        pred_rows.append(p_rows)
    gt_ids, num_gt_ids = _relabel(gt_ids)
    pred_ids, num_pred_ids = _relabel(pred_ids)
    seq = SequenceData(
        num_frames=len(frames),
        gt_ids=gt_ids,
        pred_ids=pred_ids,
        similarity=similarity,
        num_gt_ids=num_gt_ids,
        num_pred_ids=num_pred_ids,
        num_gt_dets=sum(a.size for a in gt_ids),
        num_pred_dets=sum(a.size for a in pred_ids),
    )
    return seq, gt_rows, pred_rows


def _relabel(ids_per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Map ids to 0..n-1 in increasing order of the original id."""
    unique = np.unique(np.concatenate([np.zeros(0, np.int64), *ids_per_frame]))  # (n,)
    return [np.searchsorted(unique, ids).astype(np.int64) for ids in ids_per_frame], int(unique.size)
