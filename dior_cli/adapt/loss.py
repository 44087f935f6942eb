"""Batch-hard triplet loss (Hermans et al. 2017) on cosine distance, negatives restricted to groups.

For every view ``i`` of a batch: its hardest positive is the view of the same label farthest
from it, its hardest negative the view of another label *in the same group* closest to it
(two views of different labels are only known to be different identities inside a group,
see :mod:`dior_cli.adapt.sampling`). With distance ``d = 1 - cos`` of unit features::

    loss = mean_i max(0, d(i, hardest positive) - d(i, hardest negative) + margin)

over the views that have both a positive and a negative.
"""

from __future__ import annotations

import torch


def batch_hard_triplet_loss(features: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, margin: float) -> tuple[torch.Tensor, int]:
    """``(loss, number of anchors used)``.

    Args:
        features: ``(B, D)`` unit rows.
        labels: ``(B,)`` int identity labels.
        groups: ``(B,)`` int negative groups.
        margin: in cosine distance (``1 - cos``) units.
    """
    distance = 1.0 - features @ features.T  # (B, B)
    same = labels[:, None] == labels[None, :]  # (B, B)
    eye = torch.eye(labels.numel(), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    negative = ~same & (groups[:, None] == groups[None, :])
    hardest_positive = torch.where(positive, distance, torch.full_like(distance, -torch.inf)).amax(dim=1)  # (B,)
    hardest_negative = torch.where(negative, distance, torch.full_like(distance, torch.inf)).amin(dim=1)  # (B,)
    usable = positive.any(dim=1) & negative.any(dim=1)
    if not bool(usable.any()):
        return features.sum() * 0.0, 0
    terms = torch.relu(hardest_positive[usable] - hardest_negative[usable] + margin)
    return terms.mean(), int(usable.sum())
