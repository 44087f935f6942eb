"""The CLEAR MOT matching of TrackEval 1.3.0 (what MOTA counts as true positives and ID switches).

Per *active* frame (one with both gt and predictions; the others are skipped without
touching the matching state): a pair can match only if ``similarity >= 0.5 - eps``; among
those, a Hungarian assignment maximises ``1000 * continues + similarity``, where
``continues`` marks the pair (gt, pred) matched in the previous active frame. An ID switch
is a matched gt whose last match (at any earlier time) had another pred id.

Only frames where some gt or prediction has more than one candidate need the solver and
the previous-match bonus; in the others the candidates are the matching whatever the bonus.
``dior evaluate`` counts these matches; ``dior render --gt`` draws them.
"""

from __future__ import annotations

import numpy as np

from dior_cli.matching.assignment import linear_sum_assignment
from dior_cli.matching.sequence_data import SequenceData

EPS = float(np.finfo("float").eps)
THRESHOLD = 0.5


def match_entries(seq: SequenceData) -> np.ndarray:
    """Entry indices (M,) of all CLEAR matches, sorted (frame order, row order in a frame)."""
    lay = seq.layout
    candidate = lay.sim >= THRESHOLD - EPS  # (E,)
    conflict = lay.frames_with_conflicts(candidate)  # (T,)
    easy = np.flatnonzero(candidate & ~conflict[lay.ent_frame])  # (M_easy,) sorted
    hard_frames = np.flatnonzero(conflict)
    if hard_frames.size == 0:
        return easy

    active_frames = np.flatnonzero(lay.active)
    # previous active frame of each hard frame (-1 for none); hard frames are active
    prev = np.searchsorted(active_frames, hard_frames)
    prev = np.where(prev > 0, active_frames[np.maximum(prev - 1, 0)], -1)
    easy_frame = lay.ent_frame[easy]  # (M_easy,) sorted
    solved: dict[int, np.ndarray] = {}
    last_pred = np.full(seq.num_gt_ids, -1, dtype=np.int64)  # pred id matched in prev frame
    for t, tp in zip(hard_frames.tolist(), prev.tolist()):
        if tp >= 0:
            before = solved.get(tp)
            if before is None:
                lo, hi = np.searchsorted(easy_frame, [tp, tp + 1])
                before = easy[lo:hi]
            last_pred[lay.ent_g[before]] = lay.ent_p[before]
        gt_t = lay.gt[lay.gt_off[t] : lay.gt_off[t + 1]]  # (G_t,)
        pred_t = lay.pred[lay.pred_off[t] : lay.pred_off[t + 1]]  # (P_t,)
        sim = lay.frame_block(lay.sim, t)  # (G_t, P_t)
        score = (last_pred[gt_t][:, None] == pred_t[None, :]) * 1000.0 + sim  # (G_t, P_t)
        score[~lay.frame_block(candidate, t)] = 0
        rows, cols = linear_sum_assignment(-score)
        keep = score[rows, cols] > 0 + EPS  # candidates only: stored entries
        solved[t] = lay.entries_at(t, rows[keep], cols[keep])
        if tp >= 0:
            last_pred[lay.ent_g[before]] = -1
    return np.sort(np.concatenate([easy, *solved.values()]))


def clear_matches(seq: SequenceData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where the CLEAR matches of :func:`compute_clear` are, for showing them.

    Returns ``(frame, gt_index, pred_index, is_switch)``, each ``(M,)``, sorted by frame:
    the match's frame, the position of its gt in ``seq.gt_ids[frame]`` and of its
    prediction in ``seq.pred_ids[frame]``, and whether it is an ID switch (its gt's
    previous match, earlier in time, had another pred id: the rule that counts ``IDSW``).
    A sequence without gt or without predictions has no matches.
    """
    if seq.num_pred_dets == 0 or seq.num_gt_dets == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), np.zeros(0, dtype=bool)
    lay = seq.layout
    idx = match_entries(seq)  # (M,)
    frame = lay.ent_frame[idx]  # (M,)
    gt_index = lay.ent_row[idx] - lay.gt_off[frame]  # (M,)
    pred_index = lay.ent_col[idx] - lay.pred_off[frame]  # (M,)
    g, p = lay.ent_g[idx], lay.ent_p[idx]  # (M,) each
    order = np.argsort(g, kind="stable")  # (M,) by gt id, then frame
    g_s, p_s = g[order], p[order]
    switch_sorted = np.zeros(idx.size, dtype=bool)
    switch_sorted[1:] = (g_s[1:] == g_s[:-1]) & (p_s[1:] != p_s[:-1])
    is_switch = np.zeros(idx.size, dtype=bool)
    is_switch[order] = switch_sorted
    return frame, gt_index, pred_index, is_switch
