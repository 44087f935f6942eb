"""A training run's state on disk: ``RUN/checkpoints/last.pt`` to resume from, and the refusals.

``last.pt`` holds the weights and ``train_state``: the step reached, the optimizer's and the
loss scaler's state, and the train settings as a plain dict. A run resumes only with the
model and train settings it was started with (a difference is named, key by key); settings
added to ``TrainConfig`` after a checkpoint was written are compared at the value that
reproduces what that checkpoint's code did (:data:`LEGACY_TRAIN_SETTINGS`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from dior_cli.config import TrainConfig
from dior_cli.errors import ConfigError, FormatError

# Train settings that older checkpoints do not record, at the value their training used: the
# linear classifier, which reads neither emb_scale nor emb_scale_learned (taken at their defaults).
LEGACY_TRAIN_SETTINGS: dict[str, Any] = {"emb_classifier": "linear", "emb_scale": TrainConfig.emb_scale,
                                         "emb_scale_learned": TrainConfig.emb_scale_learned}


def checkpoint_path(out: Path) -> Path:
    return out / "checkpoints" / "last.pt"


def refuse_existing_run(out: Path) -> None:
    """A fresh run must not write over another: refuse a folder with a checkpoint or a log."""
    if checkpoint_path(out).is_file() or (out / "train_log.jsonl").is_file():
        raise ConfigError(f"{out} already holds a training run: continue it with --resume, or choose another --out")


def resume(model, path: Path, train: TrainConfig) -> dict[str, Any]:
    """Load the weights of ``last.pt`` at ``path`` into ``model`` after checking it belongs to
    this training; return its training state (step, optimizer, loss scaler) for the caller to restore."""
    from dior_cli.model.checkpoint import read_checkpoint

    payload = read_checkpoint(path)
    state = payload.get("train_state") or {}
    if "step" not in state or "optimizer" not in state:
        raise FormatError("has no training state to resume from (a final weights file?)", path=path)
    if payload["model_config"] != model.config.to_dict():
        diff = _differing(payload["model_config"], model.config.to_dict())
        raise ConfigError(f"{path}: the model settings differ from this run's ({', '.join(diff)}); resume with the same config")
    saved_cfg = {**LEGACY_TRAIN_SETTINGS, **state.get("train_config", {})}
    now_cfg = plain_train_config(train)
    if saved_cfg != now_cfg:
        raise ConfigError(f"{path}: the train settings differ from this run's ({', '.join(_differing(saved_cfg, now_cfg))}); resume with the same config")
    model.load_state_dict(model.complete_state_dict(payload["state_dict"]))
    return state


def save(path: Path, model, optimizer, scaler, train: TrainConfig, step: int, run_info: dict) -> None:
    """Write ``last.pt``: the weights, the training state after ``step`` steps, and ``run_info``."""
    from dior_cli.model.checkpoint import save_checkpoint

    train_state = {"step": step, "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                   "train_config": plain_train_config(train)}
    save_checkpoint(path, model, train_state=train_state, extra={**run_info, "steps": step})


def plain_train_config(train: TrainConfig) -> dict[str, Any]:
    """The settings as a dict, tuples as lists, so they compare equal after a round trip through a checkpoint."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(train).items()}


def _differing(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
