"""Training on several processes (``torchrun``): where this process stands, and what the ranks share.

This process's rank and the world size come from :func:`dior_cli.runtime.rank_and_world`.
With one process (``world == 1``) every function here is a no-op or returns its input, so the
step loop calls them unconditionally. Several processes use NCCL on CUDA and gloo on the CPU;
the model is wrapped in DistributedDataParallel, which averages the gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Placement:
    """This process among the training's processes.

    Attributes:
        device: the ``torch.device`` it trains on.
        rank: its index, 0 to ``world - 1``; rank 0 writes every file and prints.
        world: the number of processes.
    """

    device: Any
    rank: int
    world: int

    @property
    def writes(self) -> bool:
        """Whether this process writes the run's files (rank 0)."""
        return self.rank == 0


def init_process_group(device) -> None:
    import torch.distributed as dist

    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def destroy_process_group() -> None:
    import torch.distributed as dist

    dist.destroy_process_group()


def wrap_ddp(model, device):
    """``model`` in DistributedDataParallel (on its CUDA device, or the CPU with gloo)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def mean_over_ranks(values: dict[str, float], world: int, device) -> dict[str, float]:
    """Each value averaged over the ranks (itself with one process)."""
    if world == 1:
        return values
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return {name: float(v) / world for name, v in zip(values, tensor.tolist())}


def checksums_over_ranks(model, world: int, device) -> list[float]:
    """Every rank's sum of |weights| (float64): equal entries mean the ranks hold the same model."""
    import torch

    with torch.no_grad():
        local = torch.stack([p.detach().double().abs().sum() for p in model.parameters()]).sum().reshape(1)
    if world == 1:
        return local.tolist()
    import torch.distributed as dist

    gathered = [torch.zeros_like(local) for _ in range(world)]
    dist.all_gather(gathered, local.to(device))
    return torch.cat(gathered).tolist()  # one read-back for all ranks


def barrier(world: int) -> None:
    """Wait for every rank (nothing with one process)."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
