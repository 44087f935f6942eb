"""Mask AP on cases small enough to derive by hand.

COCO's AP is the mean, over 101 recall points 0, 0.01, ..., 1, of the best precision
reached at that recall or beyond (0 where the recall is never reached), averaged over the
IoU thresholds 0.50, 0.55, ..., 0.95. pycocotools adds 2.2e-16 to precision denominators,
hence ``approx``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dior_cli.errors import AlignmentError
from dior_cli.evaluate.mask_ap import mask_average_precision
from dior_cli.masks import encode
from dior_cli.records import Detections, MotsRows

SIZE = (40, 60)  # (height, width) of every test frame


def box_mask(x1: int, y1: int, x2: int, y2: int) -> dict:
    """RLE of the filled rectangle columns x1..x2-1, rows y1..y2-1."""
    mask = np.zeros(SIZE, np.uint8)
    mask[y1:y2, x1:x2] = 1
    return encode(mask)


def gt(*rows: tuple[int, int, int, dict]) -> MotsRows:
    """Ground truth from ``(frame, obj_id, class_id, rle)`` tuples."""
    return MotsRows(frame=[r[0] for r in rows], obj_id=[r[1] for r in rows], class_id=[r[2] for r in rows], rles=[r[3] for r in rows])


def dets(*rows: tuple[int, int, float, dict]) -> Detections:
    """Detections from ``(frame, class_id, score, rle)`` tuples."""
    if not rows:
        return Detections.empty()
    return Detections(frame=[r[0] for r in rows], class_id=[r[1] for r in rows], score=[r[2] for r in rows],
                      bbox_xyxy=np.zeros((len(rows), 4)), rles=[r[3] for r in rows])


CAR_A = box_mask(0, 0, 10, 10)  # 100 pixels
CAR_B = box_mask(30, 20, 40, 30)  # 100 pixels, far from A
PED = box_mask(45, 5, 50, 20)


def test_one_perfect_detection_is_ap_1():
    result = mask_average_precision({"s": gt((0, 1001, 1, CAR_A))}, {"s": dets((0, 1, 0.9, CAR_A))})
    car = result.per_class["car"]
    assert (car.ap, car.ap50, car.ap75) == (pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0))
    assert (car.num_ground_truth, car.num_detections) == (1, 1)


def test_false_positive_above_true_positive_halves_precision_everywhere():
    # ranked FP (0.9) then TP (0.8): recall 1 is first reached at precision 1/2, so every
    # recall point has best precision 1/2 at every IoU threshold.
    result = mask_average_precision({"s": gt((0, 1001, 1, CAR_A))}, {"s": dets((0, 1, 0.9, CAR_B), (0, 1, 0.8, CAR_A))})
    car = result.per_class["car"]
    assert (car.ap, car.ap50, car.ap75) == (pytest.approx(0.5), pytest.approx(0.5), pytest.approx(0.5))


def test_true_positive_then_false_positive_with_two_objects():
    # two objects, TP (0.9) then FP (0.8): precision 1 up to recall 0.5, recall 1 never
    # reached -> 51 of the 101 recall points (0.00..0.50) have precision 1.
    result = mask_average_precision({"s": gt((0, 1001, 1, CAR_A), (0, 1002, 1, CAR_B))}, {"s": dets((0, 1, 0.9, CAR_A), (0, 1, 0.8, box_mask(15, 0, 20, 5)))})
    assert result.per_class["car"].ap == pytest.approx(51 / 101)
    assert result.per_class["car"].ap50 == pytest.approx(51 / 101)


def test_partial_overlap_counts_only_up_to_its_iou():
    # a 9x9 detection inside a 10x10 object: IoU 81/100 = 0.81 >= 0.50 .. 0.80 (7 of the 10 thresholds)
    result = mask_average_precision({"s": gt((0, 1001, 1, CAR_A))}, {"s": dets((0, 1, 0.9, box_mask(0, 0, 9, 9)))})
    car = result.per_class["car"]
    assert (car.ap, car.ap50, car.ap75) == (pytest.approx(0.7), pytest.approx(1.0), pytest.approx(1.0))


def test_detection_inside_ignore_region_is_neither_true_nor_false_positive():
    region = box_mask(20, 0, 60, 40)  # holds CAR_B and PED
    truth = {"s": gt((0, 1001, 1, CAR_A), (0, 10000, 10, region))}
    ignored = dets((0, 1, 0.95, CAR_B), (0, 2, 0.9, PED), (0, 1, 0.5, CAR_A))
    result = mask_average_precision(truth, {"s": ignored})
    assert result.per_class["car"].ap == pytest.approx(1.0)  # would be 0.5 if CAR_B were a false positive
    assert result.per_class["pedestrian"].ap is None  # no pedestrian ground truth; the region is not one
    assert result.per_class["car"].num_ground_truth == 1
    # the same detections without the region: CAR_B is a false positive above the true one
    plain = mask_average_precision({"s": gt((0, 1001, 1, CAR_A))}, {"s": ignored})
    assert plain.per_class["car"].ap == pytest.approx(0.5)


def test_class_without_ground_truth_is_none_and_the_mean_skips_it():
    result = mask_average_precision({"s": gt((0, 1001, 1, CAR_A))}, {"s": dets((0, 1, 0.9, CAR_A), (0, 2, 0.9, PED))})
    assert result.per_class["pedestrian"].ap is None and result.per_class["pedestrian"].ap50 is None
    assert result.per_class["pedestrian"].num_detections == 1
    assert result.mean.ap == pytest.approx(1.0)
    decoded = json.loads(json.dumps(result.to_dict()))
    assert decoded["per_class"]["pedestrian"]["AP"] is None and decoded["per_class"]["car"]["AP"] == pytest.approx(1.0)
    assert decoded["AP"] == pytest.approx(1.0) and decoded["num_detections"] == 2
    assert set(decoded) == {"AP", "AP50", "AP75", "num_ground_truth", "num_detections", "per_class"}


def test_mean_averages_the_classes_with_ground_truth():
    # car: perfect (1.0); pedestrian: FP above TP (0.5) -> mean 0.75
    truth = {"s": gt((0, 1001, 1, CAR_A), (0, 2001, 2, PED))}
    found = dets((0, 1, 0.9, CAR_A), (0, 2, 0.9, box_mask(20, 30, 25, 38)), (0, 2, 0.8, PED))
    result = mask_average_precision(truth, {"s": found})
    assert result.per_class["pedestrian"].ap == pytest.approx(0.5)
    assert result.mean.ap == pytest.approx(0.75)
    assert result.mean.num_ground_truth == 2 and result.mean.num_detections == 3


def test_no_detections_is_zero_and_no_ground_truth_at_all_is_none():
    assert mask_average_precision({"s": gt((0, 1001, 1, CAR_A))}, {"s": dets()}).per_class["car"].ap == 0.0
    empty = mask_average_precision({"s": MotsRows.empty()}, {"s": dets()})
    assert empty.mean.ap is None and empty.per_class["car"].ap is None


def test_detections_match_only_inside_their_own_sequence_and_frame():
    # sequence b has no object in frame 0; a detection there with A's mask is a false positive
    # ranked above the true positive of sequence a -> 0.5. Same for another frame of a.
    truth = {"a": gt((0, 1001, 1, CAR_A)), "b": gt((3, 1001, 1, CAR_B))}
    result = mask_average_precision(truth, {"a": dets((0, 1, 0.8, CAR_A)), "b": dets((0, 1, 0.9, CAR_A), (3, 1, 0.7, CAR_B))})
    # ranked: FP 0.9, TP 0.8 (recall 1/2, precision 1/2), TP 0.7 (recall 1, precision 2/3)
    # best precision at recall >= r: 2/3 for every r -> AP = 2/3
    assert result.per_class["car"].ap == pytest.approx(2 / 3)
    wrong_frame = mask_average_precision({"a": gt((0, 1001, 1, CAR_A))}, {"a": dets((1, 1, 0.9, CAR_A), (0, 1, 0.8, CAR_A))})
    assert wrong_frame.per_class["car"].ap == pytest.approx(0.5)


def test_max_detections_keeps_the_highest_scores_per_frame():
    # with one detection per frame allowed, the FP (0.9) hides the TP (0.8): AP 0
    found = dets((0, 1, 0.9, CAR_B), (0, 1, 0.8, CAR_A))
    assert mask_average_precision({"s": gt((0, 1001, 1, CAR_A))}, {"s": found}, max_detections=1).per_class["car"].ap == 0.0


def test_mismatched_inputs_are_alignment_errors():
    truth = {"s": gt((0, 1001, 1, CAR_A))}
    with pytest.raises(AlignmentError, match="no detections given for sequence s"):
        mask_average_precision(truth, {})
    with pytest.raises(AlignmentError, match="sequence t"):
        mask_average_precision(truth, {"s": dets(), "t": dets()})
    with pytest.raises(AlignmentError, match="class 10"):
        mask_average_precision(truth, {"s": dets((0, 10, 0.9, CAR_A))})
    other_size = encode(np.ones((20, 20), np.uint8))
    with pytest.raises(AlignmentError, match="differ in size"):
        mask_average_precision(truth, {"s": dets((0, 1, 0.9, other_size))})
