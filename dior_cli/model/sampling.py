"""Balanced positive / negative sampling of anchors (RPN) and proposals (RoI heads), drawn from an
explicit ``torch.Generator``.

torchvision's ``BalancedPositiveNegativeSampler`` draws from torch's global generator, so exact
resume would need the global generator re-seeded before every step. This sampler takes its
randomness from ``generator`` instead (the training loop owns one per run and seeds it per
step); with ``generator=None`` it draws from the global generator like torchvision's.

The rule, per image, on the labels of its candidates (``>= 1`` positive, ``0`` negative,
``-1`` neither): keep ``min(#positives, int(batch_size_per_image * positive_fraction))``
positives and ``min(#negatives, batch_size_per_image - kept positives)`` negatives, each a
uniformly random subset. The result is the pair of ``uint8`` masks torchvision's heads expect.
"""

from __future__ import annotations

import torch
from torch import Tensor


class SeededBalancedSampler:
    """Callable like torchvision's sampler: ``labels_per_image -> (positive masks, negative masks)``.

    Args:
        batch_size_per_image: candidates kept per image (positives and negatives together).
        positive_fraction: largest share of positives among them.
        generator: a CPU ``torch.Generator``; ``None`` draws from torch's global generator.
    """

    def __init__(self, batch_size_per_image: int, positive_fraction: float, generator: torch.Generator | None = None) -> None:
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction
        self.generator = generator

    def __call__(self, labels_per_image: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        positive_masks, negative_masks = [], []
        for labels in labels_per_image:  # (N,) per image
            positive = torch.nonzero(labels >= 1).flatten()  # (P,) candidate indices
            negative = torch.nonzero(labels == 0).flatten()  # (Q,)
            num_positive = min(positive.numel(), int(self.batch_size_per_image * self.positive_fraction))
            num_negative = min(negative.numel(), self.batch_size_per_image - num_positive)
            positive_masks.append(self._mask(labels, positive, num_positive))
            negative_masks.append(self._mask(labels, negative, num_negative))
        return positive_masks, negative_masks

    def _mask(self, labels: Tensor, candidates: Tensor, count: int) -> Tensor:
        """``(N,)`` uint8: 1 at ``count`` of ``candidates`` chosen uniformly at random."""
        if self.generator is None:
            order = torch.randperm(candidates.numel(), device=candidates.device)
        else:
            order = torch.randperm(candidates.numel(), generator=self.generator).to(candidates.device)
        mask = torch.zeros_like(labels, dtype=torch.uint8)
        mask[candidates[order[:count]]] = 1
        return mask
