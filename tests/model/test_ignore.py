"""Ignore regions in training: anchors/proposals mostly inside one are neither positives nor negatives.

Expected labels are derived by hand from box geometry (IoU with the real box, intersection over
the candidate's own area with the ignore box), not from the code under test.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork

from dior_cli.model.ignore import intersection_over_area
from dior_cli.model.network import DiorNet
from dior_cli.model.parts import build_roi_heads, build_rpn
from tests.model.tiny import HEIGHT, WIDTH, make_clip, make_target, tiny_config

GT = [0.0, 0.0, 100.0, 100.0]
IGNORE = [190.0, 190.0, 300.0, 300.0]
# Candidates (40 x 40 = 1600 px² unless said) and their hand-derived fate with GT and IGNORE:
CANDIDATES = [
    [0.0, 0.0, 100.0, 100.0],  # 0: IoU 1 with GT -> positive
    [200.0, 200.0, 240.0, 240.0],  # 1: fully inside IGNORE (1600/1600 = 1) -> ignored
    [400.0, 400.0, 440.0, 440.0],  # 2: far from everything -> negative
    [290.0, 200.0, 330.0, 240.0],  # 3: 10 x 40 = 400/1600 = 0.25 inside -> still negative
    [270.0, 200.0, 310.0, 240.0],  # 4: 30 x 40 = 1200/1600 = 0.75 inside -> ignored
    [280.0, 200.0, 320.0, 240.0],  # 5: 20 x 40 = 800/1600 = 0.5 inside (the threshold is inclusive) -> ignored
]


def target(ignore: list[list[float]] | None, gt: list[list[float]] = (GT,), label: int = 2) -> dict:
    values = {
        "boxes": torch.tensor(gt, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.full((len(gt),), label, dtype=torch.int64),
        "masks": torch.zeros((len(gt), 500, 500), dtype=torch.uint8),  # not read by the sampling
    }
    if ignore is not None:
        values["ignore_boxes"] = torch.tensor(ignore, dtype=torch.float32).reshape(-1, 4)
    return values


def rpn_labels(ignore: list[list[float]] | None, gt: list[list[float]] = (GT,)) -> list[float]:
    rpn = build_rpn(tiny_config(), channels=256)
    labels, _ = rpn.assign_targets_to_anchors([torch.tensor(CANDIDATES)], [target(ignore, gt)])
    return labels[0].tolist()


def test_intersection_over_candidate_area_by_hand():
    overlap = intersection_over_area(torch.tensor(CANDIDATES + [[5.0, 5.0, 5.0, 9.0]]), torch.tensor([IGNORE, GT]))
    expected = torch.tensor([[0, 1], [1, 0], [0, 0], [0.25, 0], [0.75, 0], [0.5, 0], [0, 0]])  # last: zero-area candidate
    torch.testing.assert_close(overlap, expected)


def test_rpn_anchors_inside_an_ignore_region_are_not_negatives():
    assert rpn_labels(None) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # torchvision's: anchor 0 positive, the rest below 0.3 IoU
    assert rpn_labels([IGNORE]) == [1.0, -1.0, 0.0, 0.0, -1.0, -1.0]


def test_rpn_positive_inside_an_ignore_region_stays_positive_and_empty_ignore_changes_nothing():
    assert rpn_labels([[-10.0, -10.0, 120.0, 120.0]]) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # covers anchor 0 (the GT) entirely
    assert rpn_labels([]) == rpn_labels(None)


def test_rpn_ignore_applies_on_a_frame_without_objects():
    assert rpn_labels([IGNORE], gt=[]) == [0.0, -1.0, 0.0, 0.0, -1.0, -1.0]


def sampled(ignore: list[list[float]] | None, gt: list[list[float]] = (GT,)) -> dict[tuple[float, ...], int]:
    """RoI heads' sampled proposals (hand-made, all kept since 64 > their number) -> label."""
    heads = build_roi_heads(tiny_config(), channels=256)  # 64 samples per image, at most 16 positive
    proposals, _, labels, _ = heads.select_training_samples([torch.tensor(CANDIDATES)], [target(ignore, gt)])
    assert heads._ignore_boxes is None  # the batch's ignore boxes are not kept past the call
    return {tuple(box): label for box, label in zip(proposals[0].tolist(), labels[0].tolist())}


def test_roi_proposals_inside_an_ignore_region_are_not_sampled():
    c = [tuple(box) for box in CANDIDATES]
    assert sampled(None) == {c[0]: 2, c[1]: 0, c[2]: 0, c[3]: 0, c[4]: 0, c[5]: 0}  # GT appended as a proposal = c[0]
    assert sampled([IGNORE]) == {c[0]: 2, c[2]: 0, c[3]: 0}


def test_roi_positive_inside_an_ignore_region_stays_positive_and_empty_ignore_changes_nothing():
    c = [tuple(box) for box in CANDIDATES]
    assert sampled([[-10.0, -10.0, 120.0, 120.0]]) == {c[0]: 2, c[1]: 0, c[2]: 0, c[3]: 0, c[4]: 0, c[5]: 0}
    assert sampled([]) == sampled(None)
    assert sampled([IGNORE], gt=[]) == {c[0]: 0, c[2]: 0, c[3]: 0}  # frame without objects: only negatives, none in the region


# ----------------------------------------------------------------------------- DiorNet.forward


@pytest.fixture(scope="module")
def model() -> DiorNet:
    torch.manual_seed(0)
    return DiorNet(tiny_config()).train()


def objects() -> dict:
    return make_target([[10, 20, 60, 100], [80, 30, 150, 110]], labels=[1, 2], identities=[0, 3])


def with_ignore(values: dict, boxes: list[list[float]]) -> dict:
    masks = torch.zeros((len(boxes), HEIGHT, WIDTH), dtype=torch.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        masks[k, int(y1) : int(y2), int(x1) : int(x2)] = 1
    return {**values, "ignore_boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "ignore_masks": masks}


def losses_of(model, targets, seed: int = 7) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {key: value.detach() for key, value in model([make_clip(1)], targets).items()}


def test_without_ignore_regions_losses_are_torchvisions_bit_for_bit(model):
    reference = copy.deepcopy(model)
    reference.rpn.__class__ = RegionProposalNetwork  # the plain torchvision modules, same weights
    reference.roi_heads.__class__ = RoIHeads
    expected = losses_of(reference, [objects()])
    for targets in ([objects()], [with_ignore(objects(), [])]):
        got = losses_of(model, targets)
        assert set(got) == set(expected)
        for key in expected:
            assert torch.equal(got[key], expected[key]), key


def test_ignore_boxes_are_scaled_like_boxes_before_the_heads(model):
    seen = []
    original = model.rpn.assign_targets_to_anchors
    model.rpn.assign_targets_to_anchors = lambda anchors, targets: (seen.append(targets), original(anchors, targets))[1]
    try:
        losses = model([make_clip(1)], [with_ignore(objects(), [[10, 20, 60, 100], [100, 0, 160, 40]])])
    finally:
        del model.rpn.assign_targets_to_anchors
    scaled = seen[0][0]
    # 120 x 160 frames resize to min_size 128: height 128, width floor(160 * 128 / 120) = 170.
    ratio = torch.tensor([170 / 160, 128 / 120, 170 / 160, 128 / 120])
    torch.testing.assert_close(scaled["ignore_boxes"], torch.tensor([[10, 20, 60, 100], [100, 0, 160, 40]]) * ratio)
    torch.testing.assert_close(scaled["ignore_boxes"][0], scaled["boxes"][0])  # the same box as the first object
    assert all(math.isfinite(value.item()) for value in losses.values())
    sum(losses.values()).backward()


def test_an_ignore_region_changes_the_sampled_negatives(model):
    """A frame covered by ignore regions apart from its objects: fewer negatives, a different loss."""
    plain = losses_of(model, [objects()])
    ignored = losses_of(model, [with_ignore(objects(), [[0, 0, 80, 120], [80, 0, 160, 120]])])
    assert not torch.equal(plain["loss_objectness"], ignored["loss_objectness"])
    assert torch.equal(plain["loss_emb"], ignored["loss_emb"])  # computed on the ground truth only


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"ignore_boxes": torch.zeros(2, 3)}, r"ignore_boxes expected shape \(M, 4\)"),
        ({"ignore_boxes": torch.tensor([[5, 5, 5, 9]], dtype=torch.float32)}, "x2 > x1"),
        ({"ignore_boxes": torch.tensor([[1, 1, 5, 9]])}, "float xyxy"),
        ({"ignore_masks": torch.zeros(1, HEIGHT, WIDTH, dtype=torch.uint8)}, "without ignore_boxes"),
        ({"ignore_boxes": torch.tensor([[1.0, 1, 5, 9]]), "ignore_masks": torch.zeros(2, HEIGHT, WIDTH, dtype=torch.uint8)}, r"ignore_masks expected shape \(1, 120, 160\)"),
    ],
)
def test_bad_ignore_targets_are_refused(model, extra, match):
    with pytest.raises(ValueError, match=match):
        model([make_clip(1)], [{**objects(), **extra}])
