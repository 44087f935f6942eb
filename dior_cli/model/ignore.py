"""Ignore regions in training: anchors and proposals mostly inside one are neither positives nor negatives.

MOTS marks crowds, far-away or truncated objects as ignore regions (class 10). Training targets
may carry them as ``ignore_boxes (M, 4)`` float xyxy, in the same (network input) pixels as
``boxes`` by the time the RPN and RoI heads see them (``DiorNet.forward`` rescales them).

The rule, applied after torchvision's own matching and before its balanced sampler:

    a candidate box (an RPN anchor or a RoI proposal) that torchvision labelled background
    (IoU below the low threshold with every ground-truth box) becomes "ignored" (label -1,
    which ``BalancedPositiveNegativeSampler`` skips) when
        max over ignore boxes of  area(candidate ∩ ignore box) / area(candidate)  >= 0.5

Positives are never changed (an anchor matched to a real object stays positive even inside an
ignore region), and candidates torchvision already ignores (between thresholds) stay ignored.
Without ``ignore_boxes`` (or with M = 0) the labels, and so the random sampling, are exactly
torchvision's. The overlap is computed on boxes, not on the ignore masks.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork

IGNORE_OVERLAP = 0.5
"""Fraction of a candidate box's area that must lie inside one ignore box for it to be ignored."""
IGNORED_LABEL = -1  # torchvision's "neither positive nor negative" label, skipped by its sampler


def intersection_over_area(candidates: Tensor, regions: Tensor) -> Tensor:
    """``(N, M)`` area of ``candidates[n] ∩ regions[m]`` divided by the area of ``candidates[n]``.

    Args:
        candidates: ``(N, 4)`` xyxy boxes; a degenerate (zero-area) candidate gets 0.
        regions: ``(M, 4)`` xyxy boxes.
    """
    top_left = torch.max(candidates[:, None, :2], regions[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(candidates[:, None, 2:], regions[None, :, 2:])  # (N, M, 2)
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)  # (N, M)
    area = (candidates[:, 2:] - candidates[:, :2]).clamp(min=0).prod(dim=1)  # (N,)
    return torch.where(area[:, None] > 0, inter / area[:, None].clamp(min=torch.finfo(inter.dtype).tiny), torch.zeros_like(inter))


def ignore_negatives_in_regions(labels: Tensor, candidates: Tensor, ignore_boxes: Tensor | None, threshold: float = IGNORE_OVERLAP) -> Tensor:
    """Relabel as ignored (-1) the negatives (label 0) whose box lies mostly inside an ignore box.

    Args:
        labels: ``(N,)`` torchvision labels (RPN: float 1/0/-1; RoI heads: int64 class/0/-1).
        candidates: ``(N, 4)`` xyxy anchors or proposals, in the same pixels as ``ignore_boxes``.
        ignore_boxes: ``(M, 4)`` xyxy ignore regions, or None.

    Returns:
        ``labels`` itself when nothing changes, else a relabelled copy.
    """
    if ignore_boxes is None or ignore_boxes.shape[0] == 0 or candidates.shape[0] == 0:
        return labels
    overlap = intersection_over_area(candidates, ignore_boxes.to(candidates)).amax(dim=1)  # (N,)
    inside = (labels == 0) & (overlap >= threshold)  # (N,)
    if not bool(inside.any()):
        return labels
    relabelled = labels.clone()
    relabelled[inside] = IGNORED_LABEL
    return relabelled


class IgnoreAwareRPN(RegionProposalNetwork):
    """torchvision's RPN whose anchor labels honour ``targets[i]["ignore_boxes"]`` (module docstring)."""

    def assign_targets_to_anchors(self, anchors: list[Tensor], targets: list[dict[str, Tensor]]) -> tuple[list[Tensor], list[Tensor]]:
        labels, matched_gt_boxes = super().assign_targets_to_anchors(anchors, targets)
        labels = [
            ignore_negatives_in_regions(labels_per_image, anchors_per_image, target.get("ignore_boxes"))
            for labels_per_image, anchors_per_image, target in zip(labels, anchors, targets)
        ]
        return labels, matched_gt_boxes


class IgnoreAwareRoIHeads(RoIHeads):
    """torchvision's RoI heads whose proposal labels honour ``targets[i]["ignore_boxes"]`` (module docstring).

    torchvision's ``select_training_samples`` calls ``assign_targets_to_proposals`` without the
    targets, so the ignore boxes of the current batch are held on the module for that call only.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ignore_boxes: list[Tensor | None] | None = None

    def select_training_samples(self, proposals: list[Tensor], targets: list[dict[str, Tensor]] | None):
        self._ignore_boxes = None if targets is None else [target.get("ignore_boxes") for target in targets]
        try:
            return super().select_training_samples(proposals, targets)
        finally:
            self._ignore_boxes = None

    def assign_targets_to_proposals(self, proposals: list[Tensor], gt_boxes: list[Tensor], gt_labels: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        matched_idxs, labels = super().assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        if self._ignore_boxes is not None:
            labels = [
                ignore_negatives_in_regions(labels_per_image, proposals_per_image, ignore)
                for labels_per_image, proposals_per_image, ignore in zip(labels, proposals, self._ignore_boxes)
            ]
        return matched_idxs, labels
