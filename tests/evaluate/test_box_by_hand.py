"""Box IoU against TrackEval's own function and by hand; the MOTChallenge preprocessing on a
hand-made frame whose counts are derived below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dior_cli.evaluate.boxes import box_iou, mask_boxes
from dior_cli.evaluate.stage import EvaluateOptions, run
from dior_cli.masks import encode
from dior_cli.records import MotsRows


def test_box_iou_by_hand():
    gt = np.array([[0, 0, 10, 10], [0, 0, 0, 5]], float)  # a 10x10 box and a zero-width one
    pred = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [10, 0, 5, 5], [20, 20, 1, 1]], float)
    expected = np.array([[50 / 150, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])  # half overlap, equal, touching, apart
    assert np.array_equal(box_iou(gt, pred), expected)
    assert box_iou(np.zeros((0, 4)), pred).shape == (0, 4) and box_iou(gt, np.zeros((0, 4))).shape == (2, 0)


def test_box_iou_is_bit_identical_to_trackeval():
    trackeval = pytest.importorskip("trackeval")
    rng = np.random.default_rng(3)
    gt = np.concatenate([rng.uniform(0, 200, (40, 2)), rng.uniform(0, 80, (40, 2))], axis=1)
    pred = np.concatenate([gt[:25] + rng.normal(0, 3, (25, 4)).clip(-2, 2), rng.uniform(0, 120, (15, 4))])
    pred[:3, 2:] = 0.0  # zero-size boxes
    pred[3] = gt[3]  # identical
    pred[4, 0] = gt[4, 0] + gt[4, 2]  # touching on the right edge
    reference = trackeval.datasets._base_dataset._BaseDataset._calculate_box_ious(gt.copy(), pred.copy(), box_format="xywh")
    ours = box_iou(gt, pred)
    assert ours.dtype == np.float64 and np.array_equal(ours, reference)


def test_mask_boxes_are_tobbox_with_exclusive_right_edge():
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:7] = True  # rows 1..3, columns 2..6
    other = np.zeros((6, 8), bool)
    other[0, 0] = True
    rows = MotsRows(frame=[0, 0, 1], obj_id=[2001, 1001, 2001], class_id=[2, 1, 2], rles=[encode(mask), encode(other), encode(np.zeros((6, 8), bool))])
    boxes, not_scored = mask_boxes(rows)
    assert not_scored == 1  # the car
    assert boxes.xywh.tolist() == [[2, 1, 5, 3], [0, 0, 0, 0]]  # x + w = 7: one past the last column; empty mask: zeros
    assert boxes.frame.tolist() == [0, 1] and boxes.obj_id.tolist() == [2001, 2001] and boxes.class_id.tolist() == [1, 1]


def _sequence(root: Path, gt_lines: list[str], pred_lines: list[str], length: int = 2) -> tuple[Path, Path]:
    folder = root / "gt" / "SEQ"
    (folder / "gt").mkdir(parents=True)
    (folder / "gt" / "gt.txt").write_text("".join(ln + "\n" for ln in gt_lines))
    (folder / "seqinfo.ini").write_text(f"[Sequence]\nname=SEQ\nimDir=img1\nframeRate=25\nseqLength={length}\nimWidth=640\nimHeight=480\nimExt=.jpg\n")
    (root / "pred").mkdir()
    (root / "pred" / "SEQ.txt").write_text("".join(ln + "\n" for ln in pred_lines))
    return folder, root / "pred"


# Frame 1: a pedestrian (id 1), a distractor (class 8, id 2), a pedestrian flagged 0 (id 3) and a
# car (class 3, id 4); the tracker puts one box exactly on each of them.
GT = ["1,1,0,0,10,20,1,1,1.0", "1,2,100,0,10,20,1,8,1.0", "1,3,200,0,10,20,0,1,1.0", "1,4,300,0,10,20,1,3,1.0"]
PRED = ["1,7,0,0,10,20,0.9,-1,-1,-1", "1,8,100,0,10,20,0.9,-1,-1,-1", "1,9,200,0,10,20,0.9,-1,-1,-1", "1,5,300,0,10,20,0.9,-1,-1,-1"]


def test_mot17_preprocessing_by_hand(tmp_path):
    """MOT17: the box on the distractor is removed; gt keeps only pedestrian 1 (3 is flagged 0,
    4 is a car), so the boxes on 3 and 4 are false positives: TP 1, FP 2, FN 0, MOTA = (1 - 0 - 2) / 1."""
    gt, pred = _sequence(tmp_path, GT, PRED)
    doc = run(EvaluateOptions(gt=gt, pred=pred, benchmark="mot17", workers=1))
    m = doc["per_sequence"]["SEQ"]["pedestrian"]
    assert (m["CLR_TP"], m["CLR_FP"], m["CLR_FN"], m["IDSW"]) == (1, 2, 0, 0)
    assert m["MOTA"] == -1.0 and m["IDF1"] == pytest.approx(2 / 4) and m["FP_per_frame"] == 1.0  # 2 FP over 2 frames


def test_mot15_has_no_preprocessing_by_hand(tmp_path):
    """MOT15: no class filtering, nothing removed; only the row flagged 0 leaves the ground truth:
    gt 1, 2, 4 matched (TP 3), the box on 3 is a false positive."""
    gt, pred = _sequence(tmp_path, GT, PRED)
    doc = run(EvaluateOptions(gt=gt, pred=pred, benchmark="mot15", workers=1))
    m = doc["per_sequence"]["SEQ"]["pedestrian"]
    assert (m["CLR_TP"], m["CLR_FP"], m["CLR_FN"]) == (3, 1, 0)
    assert m["MOTA"] == pytest.approx(2 / 3) and m["HOTA"] == pytest.approx(np.sqrt(3 / 4))  # DetA 3/4, AssA 1


def test_mot20_also_removes_non_mot_vehicle_matches(tmp_path):
    """Class 6 (non_mot_vehicle) is a distractor for MOT20 only: the box on it is removed there."""
    gt_lines = ["1,1,0,0,10,20,1,1,1.0", "1,2,100,0,10,20,1,6,1.0"]
    pred_lines = ["1,7,0,0,10,20,0.9", "1,8,100,0,10,20,0.9"]
    gt, pred = _sequence(tmp_path, gt_lines, pred_lines)
    fps = {b: run(EvaluateOptions(gt=gt, pred=pred, benchmark=b, workers=1))["combined"]["pedestrian"]["CLR_FP"] for b in ("mot17", "mot20")}
    assert fps == {"mot17": 1, "mot20": 0}
