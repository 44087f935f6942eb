"""The torch device a stage runs on, from ``--device auto|cpu|cuda`` and torchrun's ``LOCAL_RANK``."""

from __future__ import annotations

import os

from dior_cli.errors import ConfigError


def pick_device(requested: str):
    """``torch.device`` for ``--device``: ``auto`` takes CUDA when available; under torchrun a
    CUDA process takes ``cuda:LOCAL_RANK`` (and makes it current). Unknown names and ``cuda``
    without a GPU are a ``ConfigError``."""
    import torch

    if requested not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, not {requested!r}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cpu":
        return torch.device("cpu")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    return device
