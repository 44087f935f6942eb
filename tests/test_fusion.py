"""Fusion of detection sets (ReMOTS sec. 2.1): IoM-NMS, then pixel-disjoint masks, on hand-made masks.

Masks are rectangles on a 20x20 frame, so every area, intersection, IoU and IoM below is
worked out by hand from the rectangles' sides.
"""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli.fusion import DEFAULT_IOM_THRESH, FusionCounts, fuse_frame, fuse_sets, nms_by_iom
from dior_cli.masks import decode, encode, iom_matrix, iou_matrix
from dior_cli.records import CAR, PEDESTRIAN, Detections

SIZE = (20, 20)


def rect(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Dense (20, 20) mask, ones on rows y0..y1-1 and columns x0..x1-1."""
    mask = np.zeros(SIZE, dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def dets(masks: list[np.ndarray], scores: list[float], classes: list[int] | None = None, frames: list[int] | None = None,
         tag: str = "") -> Detections:
    n = len(masks)
    return Detections(
        frame=frames or [0] * n, class_id=classes or [PEDESTRIAN] * n, score=scores,
        bbox_xyxy=np.zeros((n, 4)), rles=[encode(m) for m in masks], extras=[{"name": f"{tag}{i}"} for i in range(n)],
    )


def dense(d: Detections) -> np.ndarray:
    return np.stack([decode(r) for r in d.rles]) if len(d) else np.zeros((0, *SIZE), np.uint8)


def test_small_mask_inside_a_big_one_is_suppressed_although_iou_is_low():
    big, small = rect(0, 10, 0, 10), rect(2, 5, 2, 5)  # 100 px and 9 px, small entirely inside big
    d = dets([big, small], [0.9, 0.8])
    # by hand: intersection 9, union 100 -> IoU 0.09; min area 9 -> IoM 1.0
    assert iou_matrix(d.rles[:1], d.rles[1:])[0, 0] == pytest.approx(0.09)
    assert iom_matrix(d.rles[:1], d.rles[1:])[0, 0] == pytest.approx(1.0)
    fused, counts = fuse_frame(d)
    assert [e["name"] for e in fused.extras] == ["0"]  # IoU-NMS at 0.5 would have kept both
    assert fused.score.tolist() == [0.9]
    np.testing.assert_array_equal(dense(fused)[0], big)  # the survivor is untouched
    assert counts == FusionCounts(inputs=2, suppressed=1, kept=1)


def test_a_higher_scoring_small_mask_suppresses_the_big_one():
    d = dets([rect(0, 10, 0, 10), rect(2, 5, 2, 5)], [0.6, 0.95])
    fused, counts = fuse_frame(d)
    assert [e["name"] for e in fused.extras] == ["1"] and fused.score.tolist() == [0.95]
    assert counts.suppressed == 1


def test_survivors_are_disjoint_and_the_higher_score_wins_contested_pixels():
    a, b = rect(0, 10, 0, 10), rect(0, 10, 7, 17)  # overlap: 10 rows x 3 columns = 30 px; IoM = 30/100 = 0.3
    fused, counts = fuse_frame(dets([a, b], [0.6, 0.9]))
    assert [e["name"] for e in fused.extras] == ["1", "0"]  # decreasing score
    assert fused.score.tolist() == [0.9, 0.6]  # scores carried
    masks = dense(fused)
    np.testing.assert_array_equal(masks[0], b)  # the winner keeps every pixel
    np.testing.assert_array_equal(masks[1], rect(0, 10, 0, 7))  # the loser gives up columns 7..9
    assert masks.sum(axis=0).max() == 1  # disjoint
    np.testing.assert_array_equal(fused.bbox_xyxy, [[7, 0, 17, 10], [0, 0, 7, 10]])  # boxes of the clipped masks
    assert counts == FusionCounts(inputs=2, pixels_reassigned=30, kept=2)


def test_a_mask_covered_by_survivors_is_emptied_and_counted_and_iom_equal_to_the_threshold_is_kept():
    a, b = rect(0, 10, 0, 10), rect(0, 10, 10, 20)
    c = rect(4, 6, 8, 12)  # 2x4 = 8 px: 4 in a, 4 in b -> IoM 0.5 with each, not above the threshold
    assert DEFAULT_IOM_THRESH == 0.5
    fused, counts = fuse_frame(dets([a, b, c], [0.9, 0.8, 0.7]))
    assert [e["name"] for e in fused.extras] == ["0", "1"]
    assert counts == FusionCounts(inputs=3, suppressed=0, emptied=1, pixels_reassigned=8, kept=2)


def test_nms_is_per_class_by_default_then_pixels_are_shared_across_classes():
    car, person = rect(0, 10, 0, 10), rect(2, 5, 2, 5)  # IoM 1, person scores higher
    d = dets([car, person], [0.9, 0.95], classes=[CAR, PEDESTRIAN])
    fused, counts = fuse_frame(d)
    assert fused.class_id.tolist() == [PEDESTRIAN, CAR] and counts.suppressed == 0
    masks = dense(fused)
    assert masks[0].sum() == 9 and masks[1].sum() == 100 - 9 and masks.sum(axis=0).max() == 1
    agnostic, counts = fuse_frame(d, per_class=False)
    assert agnostic.class_id.tolist() == [PEDESTRIAN] and counts.suppressed == 1


def test_threshold_one_turns_nms_off_but_keeps_masks_disjoint():
    fused, counts = fuse_frame(dets([rect(0, 10, 0, 10), rect(2, 5, 2, 5)], [0.9, 0.8]), iom_thresh=1.0)
    assert counts.suppressed == 0 and counts.emptied == 1 and fused.score.tolist() == [0.9]  # the inner mask loses every pixel to the outer one


def test_ties_go_to_the_earlier_set():
    same = rect(3, 8, 3, 8)
    first, second = dets([same], [0.7], tag="first"), dets([same], [0.7], tag="second")
    fused, _ = fuse_sets([first, second], num_frames=1)
    assert [e["name"] for e in fused.extras] == ["first0"]
    fused, _ = fuse_sets([second, first], num_frames=1)
    assert [e["name"] for e in fused.extras] == ["second0"]


def test_frames_do_not_interact_and_empty_frames_stay_empty():
    mask = rect(0, 10, 0, 10)
    one = dets([mask, mask], [0.9, 0.8], frames=[0, 2], tag="a")
    two = dets([mask], [0.5], frames=[2], tag="b")
    fused, counts = fuse_sets([one, two], num_frames=4)
    assert fused.frame.tolist() == [0, 2]  # frame 1 and 3 had nothing; b0 is suppressed by a1 in frame 2
    assert [e["name"] for e in fused.extras] == ["a0", "a1"]
    assert [len(rows) for rows in fused.rows_by_frame(4)] == [1, 0, 1, 0]
    assert counts == FusionCounts(inputs=3, suppressed=1, kept=2)


def test_no_detections_at_all():
    fused, counts = fuse_sets([Detections.empty(), Detections.empty()], num_frames=5)
    assert len(fused) == 0 and fused.bbox_xyxy.shape == (0, 4)
    assert counts == FusionCounts()
    fused, counts = fuse_sets([], num_frames=2)
    assert len(fused) == 0 and counts.kept == 0
    assert nms_by_iom([], np.zeros(0), np.zeros(0), 0.5).shape == (0,)


def test_empty_input_masks_are_dropped_and_counted():
    fused, counts = fuse_frame(dets([np.zeros(SIZE, np.uint8), rect(0, 2, 0, 2)], [0.99, 0.5]))
    assert [e["name"] for e in fused.extras] == ["1"]
    assert counts == FusionCounts(inputs=2, empty_input=1, kept=1)


def test_counts_add_up():
    total = FusionCounts(inputs=3, suppressed=1, kept=2) + FusionCounts(inputs=2, emptied=1, pixels_reassigned=5, kept=1)
    assert total.as_dict() == {"inputs": 5, "empty_input": 0, "suppressed": 1, "emptied": 1, "pixels_reassigned": 5, "kept": 3}


def test_frames_outside_the_sequence_are_refused():
    with pytest.raises(ValueError, match="frames must be in 0..1"):
        fuse_sets([dets([rect(0, 2, 0, 2)], [0.5], frames=[2])], num_frames=2)
