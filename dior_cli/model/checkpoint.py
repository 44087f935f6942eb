"""Self-describing DIOR checkpoints: one file rebuilds its model.

A checkpoint is a plain dict of primitives and tensors (``torch.load(path, weights_only=True)``
reads it, no pickled classes)::

    {"format": "dior.checkpoint/v1",
     "model_config": ModelConfig.to_dict(),
     "label_to_class": {1: 1, 2: 2},          # model label -> MOTS class id
     "state_dict": {name: tensor},
     "train_state": dict | None,              # optimizer, epoch, ... (train stage's business)
     "extra": dict | None,                    # free-form provenance (data, command line, ...)
     "dior_version": "0.1.0"}

Writes are atomic (temporary file in the target folder, then rename). Reading problems raise
``InputNotFound`` / ``FormatError`` naming the file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from dior_cli import __version__
from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.atomic import atomic_write
from dior_cli.model.config import LABEL_TO_CLASS, ModelConfig
from dior_cli.model.network import DiorNet

FORMAT = "dior.checkpoint/v1"


def save_checkpoint(
    path: str | os.PathLike,
    model: DiorNet,
    *,
    train_state: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Write ``model`` (config, class map, weights) and optional training state to ``path``.

    ``train_state`` and ``extra`` must hold only tensors and primitives so the file stays
    loadable with ``weights_only=True``. Returns the path written.
    """
    payload = {
        "format": FORMAT,
        "model_config": model.config.to_dict(),
        "label_to_class": dict(LABEL_TO_CLASS),
        "state_dict": model.state_dict(),
        "train_state": train_state,
        "extra": extra,
        "dior_version": __version__,
    }
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[DiorNet, dict[str, Any]]:
    """Rebuild the model stored in ``path``.

    Returns:
        ``(model, meta)``: the model on ``map_location`` in eval mode, and every entry of the
        file except ``state_dict`` (format, model_config, label_to_class, train_state, extra,
        dior_version).
    """
    payload = read_checkpoint(path, map_location)
    try:
        config = ModelConfig.from_dict(payload["model_config"])
    except ConfigError as exc:
        raise FormatError(f"bad model_config: {exc.message}", path=path) from None
    model = DiorNet(config)
    state_dict = model.complete_state_dict(payload["state_dict"])  # older checkpoints lack a few keys
    expected = model.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    wrong = [key for key in expected if key in state_dict and tuple(state_dict[key].shape) != tuple(expected[key].shape)]
    if missing or unexpected or wrong:
        raise FormatError(
            f"weights do not fit the model its config describes: missing {_few(missing)}, unexpected {_few(unexpected)}, wrong shape {_few(wrong)}",
            path=path,
        )
    model.load_state_dict(state_dict)
    meta = {key: value for key, value in payload.items() if key != "state_dict"}
    return model.to(map_location).eval(), meta


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate the top level of a checkpoint file (weights not yet applied)."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound("checkpoint file does not exist", path=path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load raises many kinds (zip, pickle, EOF, Runtime) for a bad file
        raise FormatError(f"cannot be read as a PyTorch checkpoint ({type(exc).__name__}: {str(exc)[:200]})", path=path) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise FormatError(f"is not a dior checkpoint (format {found!r}, expected {FORMAT!r}); for torchvision's COCO weights use --weights coco", path=path)
    for key, kind in (("model_config", dict), ("label_to_class", dict), ("state_dict", dict)):
        if not isinstance(payload.get(key), kind):
            raise FormatError(f"entry {key!r} is missing or not a {kind.__name__}", path=path)
    not_tensors = [str(key) for key, value in payload["state_dict"].items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise FormatError(f"state_dict entries that are not tensors: {_few(not_tensors)}", path=path)
    if payload["label_to_class"] != dict(LABEL_TO_CLASS):
        raise FormatError(f"label_to_class {payload['label_to_class']} differs from this dior's {dict(LABEL_TO_CLASS)}", path=path)
    return payload


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (recorded beside outputs as provenance)."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound("file does not exist", path=path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _few(keys: list[str], limit: int = 3) -> str:
    if not keys:
        return "none"
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more
