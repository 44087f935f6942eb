"""CLEAR MOT metrics (MOTA, MOTP, ...) with the exact semantics of TrackEval 1.3.0.

Rules reproduced here (a frame is *active* when it has both gt and predictions; TrackEval
skips the other frames after counting their FN or FP, without touching its tracking state):

* Matching, per active frame: a pair can match only if ``similarity >= 0.5 - eps``. Among
  those, a Hungarian assignment maximises ``1000 * continues + similarity``, where
  ``continues`` marks the pair (gt, pred) that was matched in the previous *active* frame.
* IDSW: a matched gt whose last match (at any earlier time) was another pred id.
* Frag: per gt id, the number of times it becomes tracked after not being tracked in the
  previous active frame, minus one (gaps made of frames without any prediction or without
  any gt do not interrupt a track).
* MT / PT / ML: per gt id, matched frames over present frames ``> 0.8`` / ``>= 0.2`` /
  the rest; ids never present count as ML.
* MOTP from the summed similarity of the matches (summed in TrackEval's order).
* A sequence without predictions or without gt returns TrackEval's early result: only the
  FN (and ML) or the FP count, ``MLR = 1`` and every other field 0 (``CLR_Frames`` too).

The matching itself lives in :mod:`dior_cli.matching.clear_matching` (``dior render --gt``
draws the same matches).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from dior_cli.matching.clear_matching import match_entries
from dior_cli.matching.sequence_data import SequenceData

INT_FIELDS = ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "CLR_Frames")
FLOAT_FIELDS = (
    "MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR", "sMOTA",
    "CLR_F1", "FP_per_frame", "MOTAL", "MOTP_sum",
)  # fmt: skip
FIELDS = FLOAT_FIELDS + INT_FIELDS
SUMMED_FIELDS = INT_FIELDS + ("MOTP_sum",)

Result = dict[str, Any]


def compute_clear(seq: SequenceData) -> Result:
    """CLEAR fields of one sequence, identical to ``trackeval.metrics.CLEAR().eval_sequence``.

    Integer fields are Python ints, float fields Python floats.
    """
    res: Result = {f: 0 for f in INT_FIELDS}
    if seq.num_pred_dets == 0 or seq.num_gt_dets == 0:
        # TrackEval's early return: no derived field is computed.
        res.update({f: 0.0 for f in FLOAT_FIELDS})
        if seq.num_pred_dets == 0:
            res["CLR_FN"] = seq.num_gt_dets
            res["ML"] = seq.num_gt_ids
        else:
            res["CLR_FP"] = seq.num_pred_dets
        res["MLR"] = 1.0
        return {f: res[f] for f in FIELDS}

    lay = seq.layout
    idx = match_entries(seq)  # (M,)
    frame, g, p = lay.ent_frame[idx], lay.ent_g[idx], lay.ent_p[idx]  # (M,) each
    n_match = idx.size
    res["CLR_TP"] = n_match
    res["CLR_FN"] = lay.gt.size - n_match
    res["CLR_FP"] = lay.pred.size - n_match
    res["MOTP_sum"] = lay.frame_sum_in_order(frame, lay.sim[idx])

    # IDSW and Frag from each gt id's matches in time order.
    order = np.argsort(g, kind="stable")  # (M,) by gt id, then frame
    g_s, p_s = g[order], p[order]
    rank = (np.cumsum(lay.active) - 1)[frame[order]]  # (M,) index among active frames
    same_gt = g_s[1:] == g_s[:-1]  # (M-1,)
    res["IDSW"] = int(np.count_nonzero(same_gt & (p_s[1:] != p_s[:-1])))
    res["Frag"] = int(np.count_nonzero(same_gt & (rank[1:] != rank[:-1] + 1)))

    present = np.bincount(lay.gt, minlength=seq.num_gt_ids).astype(np.float64)  # (Ng,)
    matched = np.bincount(g, minlength=seq.num_gt_ids).astype(np.float64)  # (Ng,)
    ratio = matched[present > 0] / present[present > 0]
    res["MT"] = int(np.count_nonzero(ratio > 0.8))
    res["PT"] = int(np.count_nonzero(ratio >= 0.2)) - res["MT"]
    res["ML"] = seq.num_gt_ids - res["MT"] - res["PT"]
    res["CLR_Frames"] = seq.num_frames
    return _finalise(res)


def _finalise(res: Result) -> Result:
    """Derived fields from the counts and ``MOTP_sum`` (TrackEval's formulas and guards)."""
    tp, fn, fp, idsw = res["CLR_TP"], res["CLR_FN"], res["CLR_FP"], res["IDSW"]
    n_ids = res["MT"] + res["ML"] + res["PT"]
    gt_dets = max(1.0, tp + fn)
    res["MTR"] = res["MT"] / max(1.0, n_ids)
    res["MLR"] = res["ML"] / max(1.0, n_ids)
    res["PTR"] = res["PT"] / max(1.0, n_ids)
    res["CLR_Re"] = tp / gt_dets
    res["CLR_Pr"] = tp / max(1.0, tp + fp)
    res["MODA"] = (tp - fp) / gt_dets
    res["MOTA"] = (tp - fp - idsw) / gt_dets
    res["MOTP"] = res["MOTP_sum"] / max(1.0, tp)
    res["sMOTA"] = (res["MOTP_sum"] - fp - idsw) / gt_dets
    res["CLR_F1"] = tp / max(1.0, tp + 0.5 * fn + 0.5 * fp)
    res["FP_per_frame"] = fp / max(1.0, res["CLR_Frames"])
    log_idsw = float(np.log10(idsw)) if idsw > 0 else idsw
    res["MOTAL"] = (tp - fp - log_idsw) / gt_dets
    out = {f: float(res[f]) for f in FLOAT_FIELDS}
    out.update({f: int(res[f]) for f in INT_FIELDS})
    return out


def combine_clear(per_sequence: Sequence[Result]) -> Result:
    """Combine sequences as ``CLEAR().combine_sequences``: counts and ``MOTP_sum`` summed,
    derived fields recomputed."""
    if not per_sequence:
        raise ValueError("combine_clear needs at least one sequence result")
    return _finalise({f: sum(r[f] for r in per_sequence) for f in SUMMED_FIELDS})
