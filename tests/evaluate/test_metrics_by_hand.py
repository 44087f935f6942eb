"""Small cases worked out by hand (the derivations are in the comments), plus input checks.

Notation: TP/FN/FP detections, "IoU" the similarity of a gt/pred pair in a frame. HOTA's
alphas are 0.05, 0.10, ..., 0.95 (19 values); with IoU 0.82 a match counts at the first 16
(alpha <= 0.80) and not at 0.85, 0.90, 0.95.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dior_cli.evaluate.clear import combine_clear, compute_clear
from dior_cli.evaluate.combine import add_mots_names, class_average_clear, class_average_hota
from dior_cli.evaluate.hota import ALPHAS, combine_hota, compute_hota
from dior_cli.evaluate.identity import combine_identity, compute_identity
from dior_cli.matching.sequence_data import SequenceData

approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-12)  # noqa: E731
N_ALPHA = 19
FIRST16 = np.arange(N_ALPHA) < 16  # alphas at which an IoU of 0.82 counts


def seq(*frames) -> SequenceData:
    """Each frame is (gt ids, pred ids, IoU rows)."""
    gts = [np.array(g, np.int64) for g, _, _ in frames]
    preds = [np.array(p, np.int64) for _, p, _ in frames]
    sims = [np.array(s, float).reshape(len(g), len(p)) for g, p, s in frames]
    return SequenceData.from_frames(gts, preds, sims)


def all_metrics(s):
    return compute_hota(s), compute_clear(s), compute_identity(s)


def by_alpha(first16, last3):
    return np.where(FIRST16, first16, last3)


# 2 objects, 3 frames, each tracked by its own prediction with IoU 1.
PERFECT = seq(*[([0, 1], [0, 1], [[1, 0], [0, 1]])] * 3)
# 1 object over 4 frames: pred 0 in frames 0-1, pred 1 in frames 2-3, IoU 0.82.
SWITCH = seq(([0], [0], [[0.82]]), ([0], [0], [[0.82]]), ([0], [1], [[0.82]]), ([0], [1], [[0.82]]))
# 1 object over 6 frames: pred 0 in frames 0-2, pred 1 in frames 4-5 (IoU 0.82); in frame 3
# the object is missed while an unrelated pred 2 (IoU 0) is present.
SPLIT = seq(
    ([0], [0], [[0.82]]), ([0], [0], [[0.82]]), ([0], [0], [[0.82]]),
    ([0], [2], [[0.0]]),
    ([0], [1], [[0.82]]), ([0], [1], [[0.82]]),
)  # fmt: skip
# The same, but frame 3 has no prediction at all.
SPLIT_EMPTY_GAP = seq(
    ([0], [0], [[0.82]]), ([0], [0], [[0.82]]), ([0], [0], [[0.82]]),
    ([0], [], []),
    ([0], [1], [[0.82]]), ([0], [1], [[0.82]]),
)  # fmt: skip
# 1 object over 2 frames tracked with IoU 1 by pred 0; in frame 1 pred 1 overlaps it (IoU 0.3).
FALSE_POSITIVE = seq(([0], [0], [[1.0]]), ([0], [0, 1], [[1.0, 0.3]]))
EMPTY = seq(([], [], []), ([], [], []), ([], [], []))


def test_perfect_tracking():
    h, c, i = all_metrics(PERFECT)
    # CLEAR: 6 matches, no errors. MOTA = (6 - 0 - 0) / 6 = 1, MOTP = 6 * 1 / 6 = 1,
    # both objects tracked in 3/3 frames -> MT = 2.
    assert (c["CLR_TP"], c["CLR_FN"], c["CLR_FP"], c["IDSW"], c["Frag"]) == (6, 0, 0, 0, 0)
    assert (c["MT"], c["PT"], c["ML"], c["CLR_Frames"]) == (2, 0, 0, 3)
    for f in ("MOTA", "MODA", "MOTP", "sMOTA", "CLR_Re", "CLR_Pr", "CLR_F1", "MTR", "MOTAL"):
        assert c[f] == approx(1.0), f
    assert c["MOTP_sum"] == approx(6.0) and c["FP_per_frame"] == 0.0
    # Identity: gt k and pred k agree in all 3 frames -> IDTP = 6, IDF1 = 6 / 6 = 1.
    assert (i["IDTP"], i["IDFN"], i["IDFP"]) == (6, 0, 0)
    assert i["IDF1"] == i["IDR"] == i["IDP"] == approx(1.0)
    # HOTA: per frame the normalised IoU of (k, k) is 1 / (1 + 1 - 1) = 1, so alignment
    # 3 / (3 + 3 - 3) = 1; every match counts at every alpha: TP = 6, DetA = 1;
    # AssA = sum(3 * 3 / (3 + 3 - 3)) / 6 = 1; HOTA = sqrt(1 * 1) = 1; LocA = 1.
    assert np.array_equal(h["HOTA_TP"], np.full(N_ALPHA, 6.0))
    assert not h["HOTA_FN"].any() and not h["HOTA_FP"].any()
    for f in ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA"):
        assert h[f] == approx(np.ones(N_ALPHA)), f
    assert h["HOTA(0)"] == approx(1.0) and h["HOTALocA(0)"] == approx(1.0)


def test_one_id_switch():
    h, c, i = all_metrics(SWITCH)
    # CLEAR: 4 matches; frame 2 matches pred 1 after pred 0 -> IDSW = 1.
    # MOTA = (4 - 0 - 1) / 4 = 0.75, MODA = 4 / 4 = 1, MOTP = 4 * 0.82 / 4 = 0.82,
    # sMOTA = (3.28 - 0 - 1) / 4 = 0.57, MOTAL = (4 - 0 - log10(1)) / 4 = 1.
    # Tracked in every frame -> one tracked stretch -> Frag = 0; 4/4 > 0.8 -> MT.
    assert (c["CLR_TP"], c["CLR_FN"], c["CLR_FP"], c["IDSW"], c["Frag"], c["MT"]) == (4, 0, 0, 1, 0, 1)
    assert c["MOTA"] == approx(0.75) and c["MODA"] == approx(1.0)
    assert c["MOTP"] == approx(0.82) and c["MOTP_sum"] == approx(3.28)
    assert c["sMOTA"] == approx(0.57) and c["MOTAL"] == approx(1.0)
    # Identity: gt 0 agrees 2 frames with pred 0 and 2 with pred 1; one of them is chosen:
    # IDTP = 2, IDFN = 4 - 2, IDFP = 4 - 2; IDF1 = 2 / (2 + 1 + 1) = 0.5.
    assert (i["IDTP"], i["IDFN"], i["IDFP"]) == (2, 2, 2)
    assert i["IDF1"] == approx(0.5) and i["IDR"] == approx(0.5) and i["IDP"] == approx(0.5)
    # HOTA, alpha <= 0.80: TP 4, DetA 1. Pair (0,0) and (0,1) each matched 2 times;
    # gt 0 has 4 dets, each pred 2: AssA = (2 * 2/(4+2-2) + 2 * 2/(4+2-2)) / 4 = 0.5,
    # AssRe = (2 * 2/4 + 2 * 2/4) / 4 = 0.5, AssPr = (2 * 2/2 + 2 * 2/2) / 4 = 1,
    # HOTA = sqrt(1 * 0.5). Alpha >= 0.85: no TP, 4 FN, 4 FP, everything 0, LocA 1.
    assert np.array_equal(h["HOTA_TP"], by_alpha(4.0, 0.0))
    assert np.array_equal(h["HOTA_FN"], by_alpha(0.0, 4.0))
    assert np.array_equal(h["HOTA_FP"], by_alpha(0.0, 4.0))
    assert h["DetA"] == approx(by_alpha(1.0, 0.0))
    assert h["AssA"] == approx(by_alpha(0.5, 0.0))
    assert h["AssRe"] == approx(by_alpha(0.5, 0.0))
    assert h["AssPr"] == approx(by_alpha(1.0, 0.0))
    assert h["HOTA"] == approx(by_alpha(math.sqrt(0.5), 0.0))
    assert h["LocA"] == approx(by_alpha(0.82, 1.0))
    assert h["HOTA(0)"] == approx(math.sqrt(0.5)) and h["LocA(0)"] == approx(0.82)
    assert h["HOTALocA(0)"] == approx(0.82 * math.sqrt(0.5))


def test_split_track():
    h, c, i = all_metrics(SPLIT)
    # CLEAR: matches in frames 0-2 and 4-5 -> TP 5; frame 3 -> FN 1 and FP 1 (pred 2).
    # IDSW 1 (pred 1 after pred 0). Tracked stretches: 0-2 and 4-5 -> Frag = 2 - 1 = 1.
    # 5/6 = 0.83 > 0.8 -> MT. MOTA = (5 - 1 - 1) / 6 = 0.5, MODA = (5 - 1) / 6,
    # MOTP = 0.82, sMOTA = (4.1 - 1 - 1) / 6 = 0.35, Re = Pr = F1 = 5/6, FP/frame = 1/6,
    # MOTAL = (5 - 1 - 0) / 6.
    assert (c["CLR_TP"], c["CLR_FN"], c["CLR_FP"], c["IDSW"], c["Frag"]) == (5, 1, 1, 1, 1)
    assert (c["MT"], c["PT"], c["ML"], c["CLR_Frames"]) == (1, 0, 0, 6)
    assert c["MOTA"] == approx(0.5) and c["MODA"] == approx(4 / 6)
    assert c["MOTP"] == approx(0.82) and c["sMOTA"] == approx(0.35)
    assert c["CLR_Re"] == approx(5 / 6) and c["CLR_Pr"] == approx(5 / 6)
    assert c["CLR_F1"] == approx(5 / 6) and c["FP_per_frame"] == approx(1 / 6)
    assert c["MOTAL"] == approx(4 / 6)
    # Identity: agreement (0,0) = 3 frames, (0,1) = 2 -> IDTP 3, IDFN 6-3, IDFP 6-3.
    assert (i["IDTP"], i["IDFN"], i["IDFP"]) == (3, 3, 3)
    assert i["IDF1"] == approx(0.5)
    # HOTA, alpha <= 0.80: TP 5, FN 1, FP 1 -> DetRe = DetPr = 5/6, DetA = 5/7.
    # gt 0: 6 dets; pred 0: 3, pred 1: 2. AssA = (3 * 3/(6+3-3) + 2 * 2/(6+2-2)) / 5
    # = (1.5 + 2/3) / 5 = 13/30; AssRe = (3 * 3/6 + 2 * 2/6) / 5 = 13/30;
    # AssPr = (3 * 3/3 + 2 * 2/2) / 5 = 1. HOTA = sqrt(5/7 * 13/30), OWTA = sqrt(5/6 * 13/30).
    assert np.array_equal(h["HOTA_TP"], by_alpha(5.0, 0.0))
    assert np.array_equal(h["HOTA_FN"], by_alpha(1.0, 6.0))
    assert np.array_equal(h["HOTA_FP"], by_alpha(1.0, 6.0))
    assert h["DetA"] == approx(by_alpha(5 / 7, 0.0))
    assert h["AssA"] == approx(by_alpha(13 / 30, 0.0))
    assert h["AssRe"] == approx(by_alpha(13 / 30, 0.0))
    assert h["AssPr"] == approx(by_alpha(1.0, 0.0))
    assert h["HOTA"] == approx(by_alpha(math.sqrt(5 / 7 * 13 / 30), 0.0))
    assert h["OWTA"] == approx(by_alpha(math.sqrt(5 / 6 * 13 / 30), 0.0))
    assert h["LocA"] == approx(by_alpha(0.82, 1.0))


def test_split_track_across_a_frame_without_predictions():
    h, c, i = all_metrics(SPLIT_EMPTY_GAP)
    # TrackEval's CLEAR skips a frame without predictions (FN += 1) without resetting the
    # tracking state, so frames 2 and 4 are consecutive for Frag: one stretch, Frag = 0.
    # IDSW still 1. TP 5, FN 1, FP 0 -> MOTA = (5 - 0 - 1) / 6 = 2/3.
    assert (c["CLR_TP"], c["CLR_FN"], c["CLR_FP"], c["IDSW"], c["Frag"]) == (5, 1, 0, 1, 0)
    assert c["MOTA"] == approx(2 / 3)
    # Identity: IDTP 3, IDFN 6-3, IDFP 5-3 -> IDP = 3/5, IDF1 = 3 / (3 + 1 + 1.5) = 6/11.
    assert (i["IDTP"], i["IDFN"], i["IDFP"]) == (3, 3, 2)
    assert i["IDP"] == approx(0.6) and i["IDF1"] == approx(6 / 11)
    # HOTA, alpha <= 0.80: TP 5, FN 1, FP 0 -> DetA = 5/6; AssA = 13/30 as above.
    assert h["DetA"] == approx(by_alpha(5 / 6, 0.0))
    assert h["HOTA"] == approx(by_alpha(math.sqrt(5 / 6 * 13 / 30), 0.0))


def test_false_positive():
    h, c, i = all_metrics(FALSE_POSITIVE)
    # CLEAR: pred 1 (IoU 0.3 < 0.5) cannot match -> TP 2, FP 1. MOTA = MODA = (2 - 1) / 2,
    # MOTP = 1, sMOTA = (2 - 1 - 0) / 2, Pr = 2/3, FP/frame = 1/2.
    assert (c["CLR_TP"], c["CLR_FN"], c["CLR_FP"], c["IDSW"], c["MT"]) == (2, 0, 1, 0, 1)
    assert c["MOTA"] == approx(0.5) and c["MODA"] == approx(0.5) and c["sMOTA"] == approx(0.5)
    assert c["MOTP"] == approx(1.0) and c["CLR_Pr"] == approx(2 / 3)
    assert c["FP_per_frame"] == approx(0.5)
    # Identity: (0,0) agrees twice -> IDTP 2, IDFP 1: IDR 1, IDP 2/3, IDF1 = 2 / 2.5.
    assert (i["IDTP"], i["IDFN"], i["IDFP"]) == (2, 0, 1)
    assert i["IDR"] == approx(1.0) and i["IDP"] == approx(2 / 3) and i["IDF1"] == approx(0.8)
    # HOTA: frame 1 row sum 1.3, column sums 1 and 0.3: normalised IoU (0,0) = 1/1.3,
    # (0,1) = 0.3/1.3; with frame 0's 1: alignment (0,0) = 1.769/(2+2-1.769) = 0.79,
    # (0,1) = 0.231/(2+1-0.231) = 0.08, so pred 0 wins frame 1 (0.79*1 > 0.08*0.3).
    # Every alpha: TP 2, FP 1 -> DetA = DetPr = 2/3, DetRe 1; AssA = 2 * 2/(2+2-2) / 2 = 1;
    # HOTA = sqrt(2/3), LocA 1.
    assert np.array_equal(h["HOTA_TP"], np.full(N_ALPHA, 2.0))
    assert np.array_equal(h["HOTA_FP"], np.full(N_ALPHA, 1.0))
    assert h["DetA"] == approx(np.full(N_ALPHA, 2 / 3))
    assert h["AssA"] == approx(np.ones(N_ALPHA))
    assert h["HOTA"] == approx(np.full(N_ALPHA, math.sqrt(2 / 3)))
    assert h["LocA"] == approx(np.ones(N_ALPHA))


def test_empty_sequences():
    # Nothing at all: TrackEval's early return -> every count 0, MLR 1 (not 0/1), CLR_Frames
    # 0 (not 3), HOTA 0 with LocA 1.
    h, c, i = all_metrics(EMPTY)
    assert all(c[f] == 0 for f in c if f != "MLR") and c["MLR"] == 1.0
    assert all(v == 0 for v in i.values())
    assert not any(h[f].any() for f in ("HOTA", "DetA", "AssA", "HOTA_TP", "HOTA_FN", "HOTA_FP"))
    assert np.array_equal(h["LocA"], np.ones(N_ALPHA)) and h["LocA(0)"] == 1.0
    assert h["HOTA(0)"] == 0.0 and h["HOTALocA(0)"] == 0.0
    # Ground truth only (1 object, 2 frames): 2 FN, the object is mostly lost, MOTA 0.
    h, c, i = all_metrics(seq(([0], [], []), ([0], [], [])))
    assert (c["CLR_FN"], c["ML"], c["MLR"], c["MOTA"]) == (2, 1, 1.0, 0.0)
    assert (i["IDFN"], i["IDF1"]) == (2, 0.0)
    assert np.array_equal(h["HOTA_FN"], np.full(N_ALPHA, 2.0)) and not h["HOTA"].any()
    # Predictions only: 2 FP. The early return leaves MOTA at 0 (the formula would say -2).
    h, c, i = all_metrics(seq(([], [0], []), ([], [0], [])))
    assert (c["CLR_FP"], c["ML"], c["MLR"], c["MOTA"], c["FP_per_frame"]) == (2, 0, 1.0, 0.0, 0.0)
    assert (i["IDFP"], i["IDF1"]) == (2, 0.0)
    assert np.array_equal(h["HOTA_FP"], np.full(N_ALPHA, 2.0)) and not h["HOTA"].any()


def test_combining_sequences_and_classes():
    perfect, fp = all_metrics(PERFECT), all_metrics(FALSE_POSITIVE)
    # Sequences: TP 6 + 2, FP 0 + 1 -> MOTA = (8 - 1) / 8; MOTP_sum 6 + 2 -> MOTP 1.
    c = combine_clear([perfect[1], fp[1]])
    assert (c["CLR_TP"], c["CLR_FP"]) == (8, 1)
    assert c["MOTA"] == approx(7 / 8) and c["MOTP"] == approx(1.0)
    # HOTA: TP 8, FP 1 -> DetA 8/9; AssA = (1 * 6 + 1 * 2) / 8 = 1 -> HOTA sqrt(8/9).
    h = combine_hota([perfect[0], fp[0]])
    assert h["HOTA"] == approx(np.full(N_ALPHA, math.sqrt(8 / 9)))
    assert h["LocA"] == approx(np.ones(N_ALPHA))
    # Identity: IDTP 8, IDFP 1 -> IDF1 = 8 / 8.5.
    assert combine_identity([perfect[2], fp[2]])["IDF1"] == approx(16 / 17)
    # Class average: counts summed, ratios averaged (not recomputed): MOTA (1 + 0.5) / 2.
    avg = class_average_clear([perfect[1], fp[1]])
    assert avg["CLR_TP"] == 8 and avg["MOTA"] == approx(0.75)
    # An empty class drags the plain average down unless ignored: (1 + 0.5 + 0) / 3.
    empty = all_metrics(EMPTY)
    assert class_average_clear([perfect[1], fp[1], empty[1]])["MOTA"] == approx(0.5)
    assert class_average_clear([perfect[1], fp[1], empty[1]], ignore_empty_classes=True)[
        "MOTA"
    ] == approx(0.75)
    hav = class_average_hota([perfect[0], fp[0]])
    assert hav["HOTA"] == approx(np.full(N_ALPHA, (1 + math.sqrt(2 / 3)) / 2))
    assert np.array_equal(hav["HOTA_TP"], np.full(N_ALPHA, 8.0))


def test_mots_names():
    c = add_mots_names(compute_clear(SPLIT))
    # sMOTSA = sMOTA = 0.35, MOTSA = MOTA = 0.5, MOTSP = MOTP = 0.82, MODSA = MODA = 4/6.
    assert c["sMOTSA"] == approx(0.35) and c["MOTSA"] == approx(0.5)
    assert c["MOTSP"] == approx(0.82) and c["MODSA"] == approx(4 / 6)


def test_alphas_are_trackevals():
    assert ALPHAS.shape == (19,) and ALPHAS[0] == pytest.approx(0.05) and ALPHAS[-1] == pytest.approx(0.95)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(similarity=[np.zeros((1, 1)), np.zeros((1, 2))]), r"frame 1: similarity .* \(2, 1\), got \(1, 2\)"),
        (dict(gt_ids=[np.array([0]), np.array([0, 2])]), r"frame 1: gt_ids must lie in \[0, num_gt_ids=2\)"),
        (dict(pred_ids=[np.array([0]), np.array([-1])]), r"frame 1: pred_ids must lie"),
        (dict(gt_ids=[np.array([0]), np.array([1, 1])]), r"frame 1: gt_ids contains id 1 more than once"),
        (dict(similarity=[np.array([[1.5]]), np.zeros((2, 1))]), r"frame 0: similarity values must lie in \[0, 1\]"),
        (dict(similarity=[np.array([[np.nan]]), np.zeros((2, 1))]), r"frame 0: similarity values"),
        (dict(num_gt_dets=4), r"num_gt_dets: expected 3"),
        (dict(num_frames=3), r"gt_ids must have one entry per frame: expected 3, got 2"),
        (dict(gt_ids=[np.array([0.0]), np.array([0, 1])]), r"frame 0: gt_ids must have an integer dtype"),
    ],
)  # fmt: skip
def test_invalid_input_is_rejected(kwargs, message):
    base = dict(
        num_frames=2,
        gt_ids=[np.array([0]), np.array([0, 1])],
        pred_ids=[np.array([0]), np.array([0])],
        similarity=[np.zeros((1, 1)), np.zeros((2, 1))],
        num_gt_ids=2, num_pred_ids=1, num_gt_dets=3, num_pred_dets=2,
    )  # fmt: skip
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SequenceData(**base)


def test_empty_frames_accept_any_empty_similarity():
    s = SequenceData.from_frames([np.array([0]), np.array([], np.int64)], [[], [0]], [[], []])
    assert s.similarity[0].shape == (1, 0) and s.similarity[1].shape == (0, 1)
