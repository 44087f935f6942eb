"""HOTA (Luiten et al., IJCV 2020) with the exact semantics of TrackEval 1.3.0.

For one sequence:

1. *Global alignment.* In every frame each similarity is normalised like an IoU over the
   frame's row and column sums, ``s / (col_sum + row_sum - s)`` (0 where that denominator is
   not above machine epsilon), and accumulated per (gt id, pred id) pair. The alignment
   score of a pair is ``acc / (gt_count + pred_count - acc)``.
2. *Per-frame matching.* One Hungarian assignment per frame maximises
   ``alignment * similarity``; it does not depend on alpha. A matched pair counts as a true
   positive at threshold ``alpha`` when ``similarity >= alpha - eps``.
3. *Scores* per alpha in ``ALPHAS`` (0.05, 0.10, ..., 0.95): DetA/DetRe/DetPr from the TP,
   FN and FP counts, AssA/AssRe/AssPr from how often each pair was matched, LocA as the mean
   similarity of the true positives, HOTA = sqrt(DetA * AssA), OWTA = sqrt(DetRe * AssA).

Only frames where some gt or prediction has more than one positive score need the Hungarian
solver; elsewhere the positive entries are the matching. Every float is computed in the
same floating-point order as TrackEval, so the results are bit-identical: the alignment
scores (the solver sees identical matrices and breaks ties identically), the LocA sums (per
frame, then over frames, see ``_loca_sums``), the association sums (numpy's pairwise
``np.sum`` over TrackEval's dense id-pair layout, see ``_association``; beyond ``_DENSE_SUM``
id pairs that layout is skipped and these may differ in the last bit) and the combination
over sequences (Python ``sum`` in sequence order).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from dior_cli.matching.assignment import linear_sum_assignment

from dior_cli.matching.sequence_data import FrameLayout, SequenceData

EPS = float(np.finfo("float").eps)
ALPHAS = np.arange(0.05, 0.99, 0.05)  # (19,) TrackEval's thresholds, same float values
ALPHAS.flags.writeable = False
_THRESHOLDS = ALPHAS - EPS  # (19,) strictly increasing; match counts at alpha a iff sim >= this
_N = ALPHAS.size
_DENSE_PAIRS = 1 << 22  # up to this many (gt id, pred id) pairs, index them densely
_DENSE_SUM = 1 << 23  # up to this many pairs, sum association terms in TrackEval's layout

COUNT_FIELDS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
ARRAY_FIELDS = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA")
SCALAR_FIELDS = ("HOTA(0)", "LocA(0)", "HOTALocA(0)")
FIELDS = ARRAY_FIELDS + COUNT_FIELDS + SCALAR_FIELDS

Result = dict[str, Any]


def _frame_normalised_similarity(lay: FrameLayout) -> np.ndarray:
    """(E,) ``s / (col_sum + row_sum - s)`` per frame, bit-identical to TrackEval.

    TrackEval sums the rows and columns of each dense frame block with numpy. A row or column
    with at most two non-zero values has the same sum in any order of addition (adding an
    exact zero changes nothing), so those sums come from ``np.bincount`` over the stored
    entries. Frames where some row or column holds three or more are rebuilt densely, grouped
    by shape, and each group is reduced as a (F, G, P) stack: numpy sums every row and column
    of a stack in the same order as it does for a single (G, P) frame.
    """
    out = np.zeros_like(lay.sim)  # (E,)
    if lay.sim.size == 0:
        return out
    row_sum = np.bincount(lay.ent_row, weights=lay.sim, minlength=lay.gt.size)  # (N_g,)
    col_sum = np.bincount(lay.ent_col, weights=lay.sim, minlength=lay.pred.size)  # (N_p,)
    denom = col_sum[lay.ent_col] + row_sum[lay.ent_row] - lay.sim  # (E,)
    ok = denom > 0 + EPS
    out[ok] = lay.sim[ok] / denom[ok]
    nonzero = lay.sim != 0
    crowded = np.zeros(lay.num_frames, dtype=bool)  # (T,) frames that need numpy's own order
    crowded[lay.gt_frame[np.bincount(lay.ent_row[nonzero], minlength=lay.gt.size) > 2]] = True
    crowded[lay.pred_frame[np.bincount(lay.ent_col[nonzero], minlength=lay.pred.size) > 2]] = True
    used = np.flatnonzero(crowded)
    if used.size == 0:
        return out
    shape_key = lay.n_gt[used] * (int(lay.n_pred.max()) + 1) + lay.n_pred[used]  # (T',)
    order = np.argsort(shape_key, kind="stable")
    bounds = np.flatnonzero(np.diff(shape_key[order])) + 1
    for group in np.split(used[order], bounds):
        stack = np.stack([lay.frame_block(lay.sim, int(t)) for t in group])  # (F, G, P), C-contiguous
        denom = stack.sum(1)[:, None, :] + stack.sum(2)[:, :, None] - stack  # (F, G, P)
        good = denom > 0 + EPS
        iou = np.zeros_like(stack)
        iou[good] = stack[good] / denom[good]
        for f, t in enumerate(group.tolist()):
            lo, hi = int(lay.ent_off[t]), int(lay.ent_off[t + 1])
            out[lo:hi] = iou[f][lay.ent_row[lo:hi] - lay.gt_off[t], lay.ent_col[lo:hi] - lay.pred_off[t]]
    return out


def _matches(
    seq: SequenceData, gt_count: np.ndarray, pred_count: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Matched pairs that count at the lowest alpha, in TrackEval's order (frame by frame,
    ascending gt row inside a frame): gt id (M,), pred id (M,), similarity (M,), frame (M,).

    ``gt_count`` (Ng,) and ``pred_count`` (Np,) are the detections per id, as floats.
    """
    lay = seq.layout
    n_pred_ids = seq.num_pred_ids

    pair = lay.ent_g * n_pred_ids + lay.ent_p  # (E,) flat (gt id, pred id) index
    n_pairs = seq.num_gt_ids * n_pred_ids
    if n_pairs > _DENSE_PAIRS:  # many ids: number only the pairs that occur
        pair = np.unique(pair, return_inverse=True)[1].ravel()
        n_pairs = int(pair.max()) + 1 if pair.size else 0
    # Sequential per-pair accumulation in frame order, as TrackEval's `+=` loop (its other
    # entries add exact zeros).
    potential = np.bincount(pair, weights=_frame_normalised_similarity(lay), minlength=n_pairs)
    pot = potential[pair]  # (E,)
    alignment = pot / (gt_count[lay.ent_g] + pred_count[lay.ent_p] - pot)  # (E,)
    score = alignment * lay.sim  # (E,) absent entries: alignment * 0 = 0 in TrackEval

    # Zero-score pairs never count: score 0 implies similarity below the lowest alpha.
    positive = score > 0
    conflict = lay.frames_with_conflicts(positive)  # (T,)
    picked = [np.flatnonzero(positive & ~conflict[lay.ent_frame])]  # entry indices
    for t in np.flatnonzero(conflict).tolist():
        block = lay.frame_block(score, t)  # (G_t, P_t)
        rows, cols = linear_sum_assignment(-block)
        found = lay.entries_at(t, rows, cols)  # absent entries have similarity 0: never a match
        picked.append(found[found >= 0])
    idx = np.sort(np.concatenate(picked))  # (M',) frame-major, row order inside a frame
    idx = idx[lay.sim[idx] >= _THRESHOLDS[0]]
    return lay.ent_g[idx], lay.ent_p[idx], lay.sim[idx], lay.ent_frame[idx]


def _empty_result(num_gt_dets: int, num_pred_dets: int) -> Result:
    """TrackEval's early return for a sequence without predictions or without gt."""
    zeros = np.zeros(_N)
    res: Result = {f: zeros.copy() for f in ARRAY_FIELDS + COUNT_FIELDS}
    if num_pred_dets == 0:
        res["HOTA_FN"] = np.full(_N, float(num_gt_dets))
    else:
        res["HOTA_FP"] = np.full(_N, float(num_pred_dets))
    res["LocA"] = np.ones(_N)
    res["HOTA(0)"] = 0.0
    res["LocA(0)"] = 1.0
    res["HOTALocA(0)"] = 0.0
    return {f: res[f] for f in FIELDS}


def compute_hota(seq: SequenceData) -> Result:
    """HOTA fields of one sequence, identical to ``trackeval.metrics.HOTA().eval_sequence``.

    Array fields have shape (19,), one value per alpha in ``ALPHAS``; ``HOTA_TP``,
    ``HOTA_FN`` and ``HOTA_FP`` are float arrays holding whole numbers, as in TrackEval.
    """
    if seq.num_pred_dets == 0 or seq.num_gt_dets == 0:
        return _empty_result(seq.num_gt_dets, seq.num_pred_dets)

    lay = seq.layout
    n_pred_ids = seq.num_pred_ids
    gt_count = np.bincount(lay.gt, minlength=seq.num_gt_ids).astype(np.float64)  # (Ng,)
    pred_count = np.bincount(lay.pred, minlength=n_pred_ids).astype(np.float64)  # (Np,)
    g, p, sim, frame = _matches(seq, gt_count, pred_count)  # (M,) each
    # level (M,): number of alphas at which the match counts (it counts at alphas 0..level-1)
    level = np.searchsorted(_THRESHOLDS, sim, side="right")
    per_level = np.bincount(level, minlength=_N + 1)  # (20,)
    tp = per_level[::-1].cumsum()[::-1][1:].astype(np.float64)  # (19,) matches with level > a
    res: Result = {
        "HOTA_TP": tp,
        "HOTA_FN": lay.gt.size - tp,
        "HOTA_FP": lay.pred.size - tp,
    }
    loc_sum = _loca_sums(frame, sim, level, lay.num_frames)  # (19,)
    res["LocA"] = np.maximum(1e-10, loc_sum) / np.maximum(1e-10, tp)
    res.update(_association(g, p, level, per_level, tp, gt_count, pred_count))
    return _finalise(res)


def _loca_sums(frame: np.ndarray, sim: np.ndarray, level: np.ndarray, n_frames: int) -> np.ndarray:
    """(19,) summed similarity of the true positives per alpha, bit-identical to TrackEval.

    TrackEval adds, per frame and alpha, ``sum(similarity[rows, cols])`` (left to right over
    the frame's matches in row order, from 0) to a running total, frame by frame. Here, per
    alpha, one ``np.bincount`` over the frames of the matches that count at it does the
    per-frame sums (it adds each bin's items sequentially in input order, and the matches come
    frame-major in row order), then ``np.cumsum`` (sequential too) adds the frames in order.
    Frames without matches add an exact 0. Memory: the matches and one (19, T) table.
    """
    per_frame = np.zeros((_N, n_frames))  # (19, T)
    for a in range(_N):
        counts = level > a  # (M,) the match counts at alpha a
        if not counts.any():
            break  # level > a fails for every later alpha too
        per_frame[a] = np.bincount(frame[counts], weights=sim[counts], minlength=n_frames)
    return np.cumsum(per_frame, axis=1)[:, -1] if n_frames else np.zeros(_N)  # (19,)


def _association(
    g: np.ndarray,
    p: np.ndarray,
    level: np.ndarray,
    per_level: np.ndarray,
    tp: np.ndarray,
    gt_count: np.ndarray,
    pred_count: np.ndarray,
) -> Result:
    """AssA, AssRe and AssPr (19,) each, from the matches' gt ids, pred ids and levels (M,).

    TrackEval builds a dense ``matches_count`` (num_gt_ids, num_pred_ids) per alpha and sums
    ``matches_count * ass`` with ``np.sum`` (pairwise summation, so the grouping depends on
    where the nonzero entries lie in the dense array). The products are computed only for the
    pairs that ever match (elementwise, with TrackEval's operations: the other entries are
    exact zeros there) and scattered into a dense zero buffer of TrackEval's shape, on which
    the same ``np.sum`` runs: bit-identical results. Above ``_DENSE_SUM`` id pairs the buffer
    would be too large and the products are summed directly, which may differ from TrackEval
    in the last bit.
    """
    n_gt_ids, n_pred_ids = gt_count.size, pred_count.size
    # per (gt id, pred id) pair that matches: matches_count[a] = matches with level > a
    pairs, inverse = np.unique(g * n_pred_ids + p, return_inverse=True)  # (U,), (M,)
    hist = np.bincount(inverse.ravel() * (_N + 1) + level, minlength=pairs.size * (_N + 1))
    counts = hist.reshape(pairs.size, _N + 1)[:, ::-1].cumsum(1)[:, ::-1][:, 1:]  # (U, 19)
    counts = counts.astype(np.float64)
    gt_n = gt_count[pairs // n_pred_ids][:, None]  # (U, 1)
    pred_n = pred_count[pairs % n_pred_ids][:, None]  # (U, 1)
    products = {  # TrackEval's `matches_count * ass_x` at the matching pairs, (U, 19) each
        "AssA": counts * (counts / np.maximum(1, gt_n + pred_n - counts)),
        "AssRe": counts * (counts / np.maximum(1, gt_n)),
        "AssPr": counts * (counts / np.maximum(1, pred_n)),
    }
    out: Result = {f: np.zeros(_N) for f in products}
    if n_gt_ids * n_pred_ids > _DENSE_SUM:
        for f, prod in products.items():
            out[f] = prod.sum(0) / np.maximum(1, tp)
        return out
    buf = np.zeros(n_gt_ids * n_pred_ids)  # (Ng*Np,) dense, zero outside `pairs`
    dense = buf.reshape(n_gt_ids, n_pred_ids)  # TrackEval's shape, C-contiguous view
    for a in range(_N):
        if tp[a] == 0:  # no match at all: TrackEval sums zeros, 0 / 1 = 0
            break  # tp is non-increasing in a, so every later alpha is 0 too
        if a > 0 and per_level[a] == 0:  # same matches as alpha a - 1
            for f in products:
                out[f][a] = out[f][a - 1]
            continue
        for f, prod in products.items():
            buf[pairs] = prod[:, a]
            out[f][a] = np.sum(dense) / np.maximum(1, tp[a])
    return out


def _finalise(res: Result) -> Result:
    """Derived fields from TP/FN/FP, AssA and LocA (TrackEval's formulas and guards)."""
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    res["OWTA"] = np.sqrt(res["DetRe"] * res["AssA"])
    res["HOTA(0)"] = float(res["HOTA"][0])
    res["LocA(0)"] = float(res["LocA"][0])
    res["HOTALocA(0)"] = res["HOTA(0)"] * res["LocA(0)"]
    return {f: res[f] for f in FIELDS}


def combine_hota(per_sequence: Sequence[Result]) -> Result:
    """Combine sequences as ``HOTA().combine_sequences``: counts summed, AssA/AssRe/AssPr and
    LocA averaged weighted by ``HOTA_TP``, derived fields recomputed."""
    if not per_sequence:
        raise ValueError("combine_hota needs at least one sequence result")
    res: Result = {f: sum(r[f] for r in per_sequence) for f in COUNT_FIELDS}
    weight = np.maximum(1.0, res["HOTA_TP"])
    for f in ("AssRe", "AssPr", "AssA"):
        res[f] = sum(r[f] * r["HOTA_TP"] for r in per_sequence) / weight
    loc = sum(r["LocA"] * r["HOTA_TP"] for r in per_sequence)
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, res["HOTA_TP"])
    return _finalise(res)
