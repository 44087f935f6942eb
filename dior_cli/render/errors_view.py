"""Per-frame CLEAR outcome of every row, for the error view of ``dior render --gt``.

It runs the evaluation's own matching (:mod:`dior_cli.matching`: the per-frame pairing,
the per-class preprocessing and :func:`~dior_cli.matching.clear_matching.clear_matches`),
so what the frames show is what
``dior evaluate`` counts: matches at IoU >= 0.5 with TrackEval's preference for the previous
frame's partner, predictions removed inside ignore regions (not false positives), and an ID
switch on the frame where a gt is matched to another prediction than at its previous match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dior_cli.matching.class_sequence import class_sequence_with_rows
from dior_cli.matching.clear_matching import clear_matches
from dior_cli.matching.frame_pairs import pair_frames
from dior_cli.records import IGNORE, MotsRows


@dataclass
class FrameErrors:
    """One frame's rows by outcome (row indices into the gt / prediction rows).

    Attributes:
        matches: ``(gt_row, pred_row, is_switch)`` of each true positive.
        false_positives: prediction rows left unmatched.
        misses: gt rows left unmatched.
        ignored: prediction rows removed inside ignore regions (neither TP nor FP).
        ignore_regions: gt rows of class 10.
        switches_from: for each switching gt row, the pred id it was matched to before.
    """

    matches: list[tuple[int, int, bool]] = field(default_factory=list)
    false_positives: list[int] = field(default_factory=list)
    misses: list[int] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    ignore_regions: list[int] = field(default_factory=list)
    switches_from: dict[int, int] = field(default_factory=dict)

    @property
    def switches(self) -> int:
        return sum(1 for _, _, s in self.matches if s)


def frame_errors(gt: MotsRows, pred: MotsRows, num_frames: int, class_ids: tuple[int, ...]) -> list[FrameErrors]:
    """The outcome of every row of every frame ``0..num_frames-1``, over ``class_ids``.

    Prediction rows of classes not evaluated appear in no list.
    """
    frames = pair_frames(gt, pred, num_frames)
    out = [FrameErrors() for _ in range(num_frames)]
    for t, rows in enumerate(gt.rows_by_frame(num_frames)):
        out[t].ignore_regions = [int(r) for r in rows if gt.class_id[r] == IGNORE]
    for class_id in class_ids:
        seq, gt_rows, pred_rows = class_sequence_with_rows(gt, pred, frames, class_id)
        frame, gi, pi, switch = clear_matches(seq)  # (M,) each
        matched_gt: list[set[int]] = [set() for _ in range(num_frames)]
        matched_pred: list[set[int]] = [set() for _ in range(num_frames)]
        last_pred: dict[int, int] = {}  # gt row's obj_id -> pred obj_id of its latest match
        for t, g, p, s in zip(frame.tolist(), gi.tolist(), pi.tolist(), switch.tolist()):
            g_row, p_row = int(gt_rows[t][g]), int(pred_rows[t][p])
            out[t].matches.append((g_row, p_row, bool(s)))
            gt_id = int(gt.obj_id[g_row])
            if s and gt_id in last_pred:
                out[t].switches_from[g_row] = last_pred[gt_id]
            last_pred[gt_id] = int(pred.obj_id[p_row])
            matched_gt[t].add(g)
            matched_pred[t].add(p)
        for t in range(num_frames):
            out[t].misses += [int(r) for k, r in enumerate(gt_rows[t]) if k not in matched_gt[t]]
            out[t].false_positives += [int(r) for k, r in enumerate(pred_rows[t]) if k not in matched_pred[t]]
            frame_preds = frames.pred_rows_in(t)
            of_class = frame_preds[pred.class_id[frame_preds] == class_id]
            kept = set(pred_rows[t].tolist())
            out[t].ignored += [int(r) for r in of_class if int(r) not in kept]
    return out
