"""Box sequences for the metrics, as TrackEval 1.3.0's ``MotChallenge2DBox`` builds them.

Similarity: the box IoU (:func:`box_iou`) of every ground-truth row and every prediction of
a frame, both in file order. Then, per frame:

- MOT16, MOT17, MOT20 (TrackEval's preprocessing): when the frame has both ground truth and
  predictions, every ground-truth row (every class, rows flagged 0 included) is matched to
  the predictions by Hungarian assignment on IoU (below 0.5 counts as 0; a pair is a match
  when its score is above 0); predictions matched to a *distractor* row are removed
  (person_on_vehicle, static_person, distractor, reflection; MOT20 also non_mot_vehicle).
  Ground truth kept: pedestrians (class 1) whose column 7 is not 0.
- MOT15: no preprocessing (TrackEval turns it off for MOT15): every ground-truth row whose
  column 7 is not 0 is kept, whatever its column 8, and no prediction is removed.

There are no crowd ignore regions: rows of crowd (13) and the other non-distractor classes
are not ground truth, so a prediction on them is a false positive, as in TrackEval. Ids are
relabelled to 0..n-1 in increasing order; row order is kept throughout (the Hungarian
solver breaks ties by position). The result is the :class:`SequenceData` the mask path
builds too, so HOTA, CLEAR and Identity are the same code for masks and boxes.

Boxes of masks (``dior evaluate --boxes``): :func:`mask_boxes`, pycocotools ``toBbox``
semantics: ``x, y`` are the first pixel column and row of the mask, ``w, h`` the number of
columns and rows it spans, so ``x + w`` is exclusive (one past the last pixel column).
"""

from __future__ import annotations

import numpy as np
from dior_cli.matching.assignment import linear_sum_assignment

from dior_cli.matching.sequence_data import SequenceData
from dior_cli.formats.mot_box_tracks import MOT_CLASSES, MOT_PEDESTRIAN, BoxTracks
from dior_cli.masks import bbox_xyxy
from dior_cli.records import PEDESTRIAN, MotsRows

_EPS = float(np.finfo("float").eps)
_MATCH_IOU = 0.5
_DISTRACTORS = ("person_on_vehicle", "static_person", "distractor", "reflection")
DISTRACTOR_CLASSES = {
    "mot15": (),
    "mot16": tuple(MOT_CLASSES[c] for c in _DISTRACTORS),
    "mot17": tuple(MOT_CLASSES[c] for c in _DISTRACTORS),
    "mot20": tuple(MOT_CLASSES[c] for c in (*_DISTRACTORS, "non_mot_vehicle")),
}
PREPROCESSED = ("mot16", "mot17", "mot20")


def describe_preprocessing(benchmark: str) -> str:
    """One sentence saying what :func:`box_sequence` does for ``benchmark``."""
    if benchmark not in PREPROCESSED:
        return "box IoU; no preprocessing (TrackEval skips it for MOT15): every ground-truth row with column 7 != 0 is a pedestrian"
    names = [name for name, cid in MOT_CLASSES.items() if cid in DISTRACTOR_CLASSES[benchmark]]
    return (
        f"box IoU; predictions matched (IoU >= 0.5) to {', '.join(names)} ground truth are removed; "
        "ground truth scored: pedestrians (class 1) with column 7 != 0"
    )


def box_iou(gt_xywh: np.ndarray, pred_xywh: np.ndarray) -> np.ndarray:
    """IoU ``(G, P)`` float64 of boxes ``(G, 4)`` and ``(P, 4)``, each ``[x, y, w, h]`` in pixels."""
    a = np.asarray(gt_xywh, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(pred_xywh, dtype=np.float64).reshape(-1, 4)
    return paired_box_iou(a[:, None, :], b[None, :, :])


def paired_box_iou(a_xywh: np.ndarray, b_xywh: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` ``(..., 4)`` and ``b`` ``(..., 4)`` (``[x, y, w, h]``, broadcast
    against each other) pair by pair: shape ``(...)``, float64.

    Computed in TrackEval's floating-point order (corners ``x + w`` first, areas from the
    corners, union = area + area - intersection), so every value is bit-identical to its
    ``_calculate_box_ious``. A box of area <= eps, or a pair whose union is <= eps, has IoU 0.
    """
    a = np.asarray(a_xywh, dtype=np.float64)
    b = np.asarray(b_xywh, dtype=np.float64)
    a_lo, a_hi = a[..., :2], a[..., :2] + a[..., 2:]  # (..., 2) top-left, bottom-right (exclusive)
    b_lo, b_hi = b[..., :2], b[..., :2] + b[..., 2:]
    side = np.maximum(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo), 0)  # (..., 2)
    inter = side[..., 0] * side[..., 1]
    area_a = (a_hi[..., 0] - a_lo[..., 0]) * (a_hi[..., 1] - a_lo[..., 1])
    area_b = (b_hi[..., 0] - b_lo[..., 0]) * (b_hi[..., 1] - b_lo[..., 1])
    union = area_a + area_b - inter
    inter = np.where((area_a <= _EPS) | (area_b <= _EPS) | (union <= _EPS), 0.0, inter)
    return inter / np.where(union <= _EPS, 1.0, union)


def box_sequence(gt: BoxTracks, pred: BoxTracks, num_frames: int, benchmark: str) -> SequenceData:
    """The pedestrian sequence the metrics score (see the module docstring).

    Vectorised over the whole sequence: one IoU call for every (gt, prediction) pair of every
    frame; only frames holding a distractor row and predictions run the Hungarian matching
    (elsewhere it cannot remove anything).
    """
    if num_frames == 0:
        return SequenceData.from_frames([], [], [])
    g_order, g_count = _by_frame(gt.frame, num_frames)  # (N_g,), (T,)
    p_order, p_count = _by_frame(pred.frame, num_frames)  # (N_p,), (T,)
    g_xywh, g_class = gt.xywh[g_order], gt.class_id[g_order]
    row, col, ent_off = _frame_pairs(g_count, p_count)  # (E,), (E,), (T+1,)
    iou = paired_box_iou(g_xywh[row], pred.xywh[p_order][col])  # (E,) frame-major, row-major inside a frame
    keep_pred = np.ones(p_order.size, dtype=bool)  # (N_p,)
    keep_gt = gt.considered[g_order]  # (N_g,)
    if benchmark in PREPROCESSED:
        is_distractor = np.isin(g_class, DISTRACTOR_CLASSES[benchmark])  # (N_g,)
        frames_with = np.bincount(gt.frame[g_order][is_distractor], minlength=num_frames)[:num_frames] > 0  # (T,)
        g_off, p_off = np.concatenate(([0], np.cumsum(g_count))), np.concatenate(([0], np.cumsum(p_count)))
        for t in np.flatnonzero(frames_with & (p_count > 0)):
            block = iou[ent_off[t] : ent_off[t + 1]].reshape(g_count[t], p_count[t])  # (G_t, P_t)
            removed = _matched_to_distractors(block, is_distractor[g_off[t] : g_off[t + 1]])
            keep_pred[p_off[t] + removed] = False
        keep_gt = keep_gt & (g_class == MOT_PEDESTRIAN)
    sim = iou[keep_gt[row] & keep_pred[col]]  # (E',) still frame-major, row-major
    gt_ids, num_gt_ids = _relabel(gt.obj_id[g_order][keep_gt])
    pred_ids, num_pred_ids = _relabel(pred.obj_id[p_order][keep_pred])
    g_kept = np.bincount(gt.frame[g_order][keep_gt], minlength=num_frames)[:num_frames]  # (T,)
    p_kept = np.bincount(pred.frame[p_order][keep_pred], minlength=num_frames)[:num_frames]  # (T,)
    sims = _pieces(sim, g_kept * p_kept)
    return SequenceData.from_frames(
        _pieces(gt_ids, g_kept),
        _pieces(pred_ids, p_kept),
        [s.reshape(g, p) for s, g, p in zip(sims, g_kept.tolist(), p_kept.tolist())],
        num_gt_ids=num_gt_ids, num_pred_ids=num_pred_ids,
    )


def _pieces(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """``values`` cut into consecutive pieces of ``counts`` (T,) items: one view per frame."""
    ends = np.cumsum(counts).tolist()
    return [values[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def _by_frame(frame: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Row order by frame, file order inside a frame ``(N,)``, and rows per frame ``(T,)``."""
    order = np.argsort(frame, kind="stable")
    return order, np.bincount(frame, minlength=num_frames)[:num_frames]


def _frame_pairs(g_count: np.ndarray, p_count: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (gt, prediction) pair of every frame, frame-major then row-major: positions
    ``(E,)`` into the frame-ordered gt and prediction rows, and each frame's first pair ``(T+1,)``."""
    pairs = g_count * p_count  # (T,)
    ent_off = np.concatenate(([0], np.cumsum(pairs)))  # (T+1,)
    frame = np.repeat(np.arange(g_count.size), pairs)  # (E,)
    local = np.arange(frame.size) - ent_off[frame]  # (E,) index inside the frame's G_t x P_t block
    width = p_count[frame]
    row_in_frame = local // np.maximum(width, 1)
    g_off = np.concatenate(([0], np.cumsum(g_count)))[frame]
    p_off = np.concatenate(([0], np.cumsum(p_count)))[frame]
    return g_off + row_in_frame, p_off + local - row_in_frame * width, ent_off


def _relabel(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids ``(N,)`` mapped to 0..n-1 in increasing order (TrackEval's relabelling), and n."""
    unique, inverse = np.unique(ids, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), int(unique.size)


def _matched_to_distractors(iou: np.ndarray, is_distractor: np.ndarray) -> np.ndarray:
    """Columns of one frame's ``iou`` ``(G, P)`` matched (Hungarian, IoU >= 0.5) to a
    distractor row (``is_distractor`` ``(G,)``)."""
    scores = iou.copy()
    scores[scores < _MATCH_IOU - _EPS] = 0
    rows, cols = linear_sum_assignment(-scores)
    matched = scores[rows, cols] > 0 + _EPS
    return cols[matched][is_distractor[rows[matched]]]


def mask_boxes(rows: MotsRows) -> tuple[BoxTracks, int]:
    """The bounding boxes of the pedestrian masks (MOTS class 2) of ``rows``, as box tracks.

    Returns ``(boxes, not_scored)``: ``not_scored`` counts the rows of other classes (cars,
    ignore regions), which box evaluation (pedestrians only) does not score. An empty mask
    gives the box ``[0, 0, 0, 0]`` (IoU 0 with everything). ``line`` holds row numbers.
    """
    keep = np.flatnonzero(rows.class_id == PEDESTRIAN)  # (K,)
    xyxy = bbox_xyxy([rows.rles[i] for i in keep])  # (K, 4) x2 = x1 + w (exclusive)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)  # (K, 4) exact: whole pixels
    boxes = BoxTracks(
        frame=rows.frame[keep], obj_id=rows.obj_id[keep], xywh=np.ascontiguousarray(xywh),
        class_id=np.full(keep.size, MOT_PEDESTRIAN, dtype=np.int64), considered=np.ones(keep.size, dtype=bool),
        line=keep.astype(np.int64) + 1,
    )
    return boxes, int(len(rows) - keep.size)
