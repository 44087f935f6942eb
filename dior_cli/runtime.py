"""Process and device helpers shared by the stages that run a network (infer, train).

- :func:`rank_and_world`: this process's place among torchrun's processes (``RANK`` /
  ``WORLD_SIZE``; one process: ``(0, 1)``).
- :func:`autocast`: mixed precision (float16) on CUDA, nothing on the CPU.
- :func:`load_network`: the DIOR network for ``--weights`` (``coco`` or a checkpoint path).

Nothing here holds state between calls.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dior_cli.console import note
from dior_cli.errors import ConfigError


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of this process (torchrun sets ``RANK`` / ``WORLD_SIZE``)."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is not in 0..WORLD_SIZE-1 ({world})")
    return rank, world


def autocast(device):
    """A context manager: float16 autocast on a CUDA ``device``, a no-op elsewhere."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def load_network(weights: str, device):
    """The DIOR network for ``--weights`` on ``device``, in eval mode: ``(model, name, sha256)``.

    ``coco`` is torchvision's COCO Mask R-CNN mapped into DIOR (appearance head untrained);
    anything else is the path of a dior checkpoint.
    """
    from dior_cli.model.checkpoint import load_checkpoint, sha256_of

    if weights == "coco":
        from dior_cli.model.coco import coco_weights_path, fetch_coco_state_dict, load_coco_state_dict
        from dior_cli.model.config import ModelConfig
        from dior_cli.model.network import DiorNet

        state = fetch_coco_state_dict()
        model = DiorNet(ModelConfig(backbone="resnet50"))
        report = load_coco_state_dict(model, state)
        note(report.note if hasattr(report, "note") else "COCO weights loaded; the embedding head is untrained (appearance is random)")
        path = coco_weights_path()
        name, sha = f"coco:{path.name}", sha256_of(path) if path.is_file() else None
    else:
        path = Path(weights)
        model, _meta = load_checkpoint(path)
        name, sha = str(path), sha256_of(path)
    return model.to(device).eval(), name, sha
