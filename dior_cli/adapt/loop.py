"""The fine-tuning loop of ``dior adapt``: Adam on the batch-hard triplet loss, seeded.

The encoder stays in eval mode while it trains: OSNet's convolutions carry their BatchNorm
folded in (:mod:`dior_cli.model.osnet`) and its embedding BatchNorm keeps its running
statistics, so a batch of a dozen crops from one video never rewrites them. Every step draws
its batch from ``rng`` (a ``numpy`` generator), so a run is reproducible given the seed, the
settings and the thread count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dior_cli.adapt.augment import AugmentSettings, box_view, strong_view
from dior_cli.adapt.loss import batch_hard_triplet_loss
from dior_cli.adapt.sampling import Batch
from dior_cli.console import console, progress_enabled
from dior_cli.model.osnet_crops import normalise


@dataclass(frozen=True)
class LoopSettings:
    """Optimiser settings of one training step (see ``AdaptConfig``)."""

    steps: int
    lr: float
    weight_decay: float
    margin: float


@dataclass(frozen=True)
class LoopResult:
    steps: int
    seconds: float
    losses: tuple[float, ...]  # per step
    anchors: tuple[int, ...]  # anchors with a positive and a negative, per step


def batch_images(contexts: np.ndarray, batch: Batch, crop_size: tuple[int, int], rng: np.random.Generator,
                 augment: AugmentSettings) -> torch.Tensor:
    """``(B, 3, h, w)`` normalised network input of a batch's views."""
    views = np.stack([strong_view(contexts[r], crop_size, rng, augment) if s else box_view(contexts[r], crop_size)
                      for r, s in zip(batch.rows.tolist(), batch.strong.tolist())])  # (B, h, w, 3)
    return normalise(views)


def train_steps(model: torch.nn.Module, contexts: np.ndarray, sampler: Callable[[np.random.Generator], Batch],
                settings: LoopSettings, rng: np.random.Generator, *, crop_size: tuple[int, int],
                augment: AugmentSettings = AugmentSettings(), description: str = "adapt") -> LoopResult:
    """Run ``settings.steps`` optimiser steps on ``model`` (in place)."""
    device = next(model.parameters()).device
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    losses, anchors = [], []
    start = time.perf_counter()
    with _LossProgress(description, settings.steps) as progress:
        for step in range(settings.steps):
            batch = sampler(rng)
            images = batch_images(contexts, batch, crop_size, rng, augment).to(device)  # (B, 3, h, w)
            features = F.normalize(model(images), dim=1)  # (B, 512)
            loss, used = batch_hard_triplet_loss(features, torch.as_tensor(batch.labels, device=device),
                                                 torch.as_tensor(batch.groups, device=device), settings.margin)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            anchors.append(used)
            progress.advance(step + 1, float(np.mean(losses[-10:])))
    for p in model.parameters():
        p.requires_grad_(False)
    return LoopResult(settings.steps, time.perf_counter() - start, tuple(losses), tuple(anchors))


class _LossProgress:
    """A progress line with the step count, elapsed and remaining time and the mean loss of the last 10 steps."""

    def __init__(self, description: str, total: int) -> None:
        self.description, self.total = description, total
        self._progress = None

    def __enter__(self) -> _LossProgress:
        if progress_enabled() and self.total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                                      TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("loss {task.fields[loss]}"),
                                      console=console, transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, loss="-")
        return self

    def advance(self, step: int, loss: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, loss=f"{loss:.4f}")

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
