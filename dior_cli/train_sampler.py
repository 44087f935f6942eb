"""Which samples each training step reads, and the step's seed: pure functions of (seed, step, rank).

Exact resume rests on this module: a run continued from step ``i`` reads the very samples,
in the very order, that the uninterrupted run would have read (see :mod:`dior_cli.train`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from dior_cli.errors import ConfigError


class StepSampler:
    """The sample indices of every step, a pure function of (seed, step, rank).

    Epoch ``e`` orders the ``num_samples`` samples by a permutation seeded with ``seed + e``,
    repeats its head so it divides evenly among ``world`` ranks, and gives rank ``r`` every
    ``world``-th sample from ``r``. Each rank's share is cut into steps of ``batch`` samples
    (a short remainder is dropped, so every step has ``batch`` samples on every rank).
    The current epoch's order is kept between calls (a cache: it changes no result).
    """

    def __init__(self, num_samples: int, batch: int, *, seed: int, rank: int = 0, world: int = 1) -> None:
        if num_samples < 1:
            raise ConfigError("the training data holds no annotated frame")
        per_rank = math.ceil(num_samples / world)
        if per_rank < batch:
            raise ConfigError(f"train.batch={batch} is more than the {per_rank} sample(s) each of {world} process(es) gets per epoch")
        self.num_samples, self.batch, self.seed, self.rank, self.world = num_samples, batch, seed, rank, world
        self.steps_per_epoch = per_rank // batch
        self._cache: tuple[int, list[int]] | None = None

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def indices(self, step: int) -> list[int]:
        """The ``batch`` sample indices this rank reads at ``step``."""
        import torch

        epoch, k = divmod(step, self.steps_per_epoch)
        if self._cache is None or self._cache[0] != epoch:
            order = torch.randperm(self.num_samples, generator=torch.Generator().manual_seed(self.seed + epoch)).tolist()
            total = math.ceil(self.num_samples / self.world) * self.world
            order = (order * (total // len(order) + 1))[:total]
            self._cache = (epoch, order[self.rank :: self.world])
        return self._cache[1][k * self.batch : (k + 1) * self.batch]


def step_batches(dataset: Any, sampler: StepSampler, start: int, stop: int, workers: int) -> Iterator[Any]:
    """Yield the collated batch ``(clips, targets)`` of every step from ``start`` to ``stop``,
    loading ahead with ``workers`` processes; each epoch's loader is made after
    ``dataset.set_epoch`` so the workers see the epoch (the augmentation depends on it)."""
    from torch.utils.data import DataLoader

    from dior_cli.data.clips import collate_clips

    step = start
    while step < stop:
        epoch = sampler.epoch_of(step)
        last = min(stop, (epoch + 1) * sampler.steps_per_epoch)
        dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_sampler=[sampler.indices(s) for s in range(step, last)], num_workers=workers,
                            collate_fn=collate_clips)
        yield from loader
        step = last


def step_seed(seed: int, step: int, rank: int) -> int:
    """The seed of the anchor / proposal samplers' generator at ``step`` on ``rank``."""
    return (seed * 1_000_003 + step * 7919 + rank) % (2**63)
