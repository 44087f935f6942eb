"""Identity metrics (IDF1, IDR, IDP; Ristani et al. 2016) as in TrackEval 1.3.0.

A gt id and a pred id *agree* in a frame when their similarity is ``>= 0.5`` (no epsilon
here, unlike CLEAR). The ids are matched one-to-one over the whole sequence so that the
number of agreeing frames of matched pairs (IDTP) is maximal; IDFN and IDFP are the gt and
predicted detections left over.

TrackEval solves this as a min-cost assignment on a ``(Ng + Np)``-square matrix with dummy
rows and columns; its optimal cost is ``num_gt_dets + num_pred_dets - 2 * IDTP`` for every
optimal assignment, so solving the maximum-weight matching on the (much smaller) agreement
matrix of the ids that agree at least once gives the same integers.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from dior_cli.matching.assignment import linear_sum_assignment

from dior_cli.matching.sequence_data import SequenceData

THRESHOLD = 0.5
INT_FIELDS = ("IDTP", "IDFN", "IDFP")
FLOAT_FIELDS = ("IDF1", "IDR", "IDP")
FIELDS = FLOAT_FIELDS + INT_FIELDS

Result = dict[str, Any]


def _max_agreement(seq: SequenceData) -> int:
    """IDTP: the maximum total agreement of a one-to-one matching of gt and pred ids."""
    lay = seq.layout
    agree = lay.sim >= THRESHOLD  # (E,)
    if not agree.any():
        return 0
    n_pred_ids = seq.num_pred_ids
    pairs, counts = np.unique(lay.ent_g[agree] * n_pred_ids + lay.ent_p[agree], return_counts=True)
    gts, g_idx = np.unique(pairs // n_pred_ids, return_inverse=True)  # (R,), (U,)
    preds, p_idx = np.unique(pairs % n_pred_ids, return_inverse=True)  # (C,), (U,)
    if gts.size == pairs.size and preds.size == pairs.size:
        return int(counts.sum())  # each id agrees with one other id only
    g_idx, p_idx = g_idx.ravel(), p_idx.ravel()
    if gts.size * preds.size <= _DENSE_AGREEMENT:
        return _solve(g_idx, p_idx, counts, gts.size, preds.size)
    # Many ids: the matching splits over the connected groups of ids that agree with each
    # other (a matching's total is the sum over groups), each solved on its own small matrix.
    group = _connected_groups(g_idx, p_idx + gts.size, gts.size + preds.size)[g_idx]  # (U,) group of each pair
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    total = 0
    for part in np.split(order, bounds):
        if part.size == 1:
            total += int(counts[part[0]])
            continue
        rows, row_idx = np.unique(g_idx[part], return_inverse=True)
        cols, col_idx = np.unique(p_idx[part], return_inverse=True)
        total += _solve(row_idx.ravel(), col_idx.ravel(), counts[part], rows.size, cols.size)
    return total


_DENSE_AGREEMENT = 1 << 22  # up to this many (gt id, pred id) cells, solve one dense matrix


def _solve(rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, n_rows: int, n_cols: int) -> int:
    """Maximum total of a one-to-one matching on the ``(n_rows, n_cols)`` matrix holding
    ``counts`` (U,) at ``(rows, cols)`` (U,) and 0 elsewhere."""
    weights = np.zeros((n_rows, n_cols))  # (R, C) agreeing frames per pair
    weights[rows, cols] = counts
    picked_rows, picked_cols = linear_sum_assignment(weights, maximize=True)
    return int(round(weights[picked_rows, picked_cols].sum()))


def _connected_groups(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """(n,) a group label per node of the graph with edges ``(a, b)`` (U,) each: nodes share a
    label exactly when a path joins them (labels are the smallest node of the group)."""
    label = np.arange(n)
    while True:  # min-label propagation with pointer jumping: a few rounds for small groups
        low = np.minimum(label[a], label[b])  # (U,)
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # jump to the label's label
        if np.array_equal(new, label):
            return label
        label = new


def compute_identity(seq: SequenceData) -> Result:
    """Identity fields of one sequence, identical to ``Identity().eval_sequence``."""
    if seq.num_pred_dets == 0:
        res: Result = {"IDTP": 0, "IDFN": seq.num_gt_dets, "IDFP": 0}
    elif seq.num_gt_dets == 0:
        res = {"IDTP": 0, "IDFN": 0, "IDFP": seq.num_pred_dets}
    else:
        idtp = _max_agreement(seq)
        res = {"IDTP": idtp, "IDFN": seq.num_gt_dets - idtp, "IDFP": seq.num_pred_dets - idtp}
    return _finalise(res)


def _finalise(res: Result) -> Result:
    """IDR, IDP and IDF1 from the counts (TrackEval's formulas and guards).

    TrackEval's early returns leave these at 0, which the formulas give as well.
    """
    tp, fn, fp = (int(res[f]) for f in INT_FIELDS)
    out: Result = {
        "IDF1": tp / max(1.0, tp + 0.5 * fp + 0.5 * fn),
        "IDR": tp / max(1.0, tp + fn),
        "IDP": tp / max(1.0, tp + fp),
    }
    out.update(IDTP=tp, IDFN=fn, IDFP=fp)
    return out


def combine_identity(per_sequence: Sequence[Result]) -> Result:
    """Combine sequences as ``Identity().combine_sequences``: counts summed, ratios recomputed."""
    if not per_sequence:
        raise ValueError("combine_identity needs at least one sequence result")
    return _finalise({f: sum(r[f] for r in per_sequence) for f in INT_FIELDS})
