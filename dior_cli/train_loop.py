"""The training's step loop: read a batch, take an optimizer step, log, checkpoint, validate.

Everything the loop works with is built once by :func:`dior_cli.train.run` and handed over
as one :class:`TrainingRun`. Rank 0 writes the log, the checkpoints and the final weights;
the other ranks only step (see :mod:`dior_cli.train_distributed`).

Per step, the losses are read back from the device once (one stacked copy, also used for
the finiteness check); the weight checksum is computed only with several processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dior_cli import __version__, train_state
from dior_cli.config import TrainConfig
from dior_cli.console import console
from dior_cli.errors import FormatError
from dior_cli.train_distributed import Placement, barrier, checksums_over_ranks, mean_over_ranks
from dior_cli.train_log import append_log
from dior_cli.train_progress import TrainProgress
from dior_cli.train_sampler import StepSampler, step_batches, step_seed

LOSS_NAMES = ("loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg", "loss_emb")


@dataclass(frozen=True)
class TrainingRun:
    """What the step loop works with (built by :func:`dior_cli.train.run`).

    Attributes:
        config: the train settings (schedule, checkpoint and validation intervals, seed).
        out: the run folder (``train_log.jsonl``, ``checkpoints/``, ``weights/``).
        data: the training data root (named in errors).
        model: the bare ``DiorNet``: checkpoints, checksums and validation use it.
        trained: what takes the steps: ``model`` itself, or it wrapped in DDP with several processes.
        dataset: the ``MotsClipDataset``.
        sampler: which samples each step reads on this rank.
        optimizer: the optimizer over the trainable parameters.
        scaler: the loss scaler (enabled with mixed precision only).
        use_amp: whether steps run under float16 autocast (CUDA with ``mixed_precision``).
        sampling: the ``torch.Generator`` of the model's anchor / proposal samplers, seeded per step.
        place: this process's device, rank and the world size.
        start_step: the step the loop starts from (0, or the resumed checkpoint's).
        run_info: what the checkpoints and the summary record about the run (data, samples, ...).
        validate: with ``--val``: called with the step on rank 0, returns that validation's
            result (the model is left in eval mode; the loop switches it back); else ``None``.
    """

    config: TrainConfig
    out: Path
    data: Path
    model: Any
    trained: Any
    dataset: Any
    sampler: StepSampler
    optimizer: Any
    scaler: Any
    use_amp: bool
    sampling: Any
    place: Placement
    start_step: int
    run_info: dict[str, Any]
    validate: Callable[[int], dict] | None = None

    @property
    def log_path(self) -> Path:
        return self.out / "train_log.jsonl"

    @property
    def checkpoint_path(self) -> Path:
        return train_state.checkpoint_path(self.out)


def train_steps(run: TrainingRun) -> dict[str, Any]:
    """Step from ``run.start_step`` to ``config.iterations``; return the summary (schema
    ``dior.train-summary/v1``). On Ctrl-C rank 0 saves ``last.pt`` (when a step was taken) and re-raises."""
    cfg, place = run.config, run.place
    step = run.start_step
    last: dict[str, float] = {}
    validations: list[dict] = []
    started = time.perf_counter()
    dropped = 0
    try:
        with TrainProgress(cfg.iterations, run.start_step, enabled=place.writes) as progress:
            batches = step_batches(run.dataset, run.sampler, run.start_step, cfg.iterations, cfg.workers)
            while step < cfg.iterations:
                last, lr, dropped_now = _take_step(run, step, batches)
                dropped += dropped_now
                step += 1
                progress.advance(step, last, lr)
                if place.writes and (step % cfg.checkpoint_every == 0 or step == cfg.iterations):
                    _save(run, step)
                if run.validate is not None and (step % cfg.val_every == 0 or step == cfg.iterations):
                    if place.writes:
                        validations.append(run.validate(step))
                        run.model.train()
                    barrier(place.world)
    except KeyboardInterrupt:
        if place.writes and step > run.start_step:
            _save(run, step)
            console.print(f"interrupted at step {step}; saved {run.checkpoint_path} (continue with --resume)")
        raise
    final = None
    if place.writes:
        from dior_cli.model.checkpoint import save_checkpoint

        final = save_checkpoint(run.out / "weights" / "final.pt", run.model, extra={**run.run_info, "steps": step, "dior_version": __version__})
    return {"schema": "dior.train-summary/v1", "out": str(run.out), "device": str(place.device), "world_size": place.world,
            "steps": step, "resumed_from": run.start_step, "seconds": round(time.perf_counter() - started, 2),
            "last_losses": last, "objects_dropped_by_augmentation": dropped, "checkpoint": str(run.checkpoint_path),
            "weights": None if final is None else str(final), "validation": validations, **run.run_info}


def _take_step(run: TrainingRun, step: int, batches: Iterator[tuple[list, list]]) -> tuple[dict[str, float], float, int]:
    """One optimizer step (0-based ``step``) on the next of ``batches``; logs it on rank 0.

    Returns the losses averaged over the ranks (plus their sum ``loss``), the learning rate
    used and the number of objects the augmentation dropped from this batch.
    """
    import torch

    cfg, device = run.config, run.place.device
    tick = time.perf_counter()
    clips, targets = next(batches)
    dropped = sum(int(t.pop("num_dropped")) + int(t.pop("num_dropped_ignore")) for t in targets)
    clips = [clip.to(device) for clip in clips]  # B x (3, 3, H, W)
    targets = [{k: v.to(device) for k, v in target.items()} for target in targets]
    data_seconds = time.perf_counter() - tick
    run.sampling.manual_seed(step_seed(cfg.seed, step, run.place.rank))  # the anchor / proposal samplers draw from it
    lr = cfg.learning_rate(step)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast(device.type, dtype=torch.float16, enabled=run.use_amp):
        losses = run.trained(clips, targets)
    total = sum(losses[name] for name in LOSS_NAMES)
    local = dict(zip(LOSS_NAMES, torch.stack([losses[name].detach().float() for name in LOSS_NAMES]).tolist()))  # the one read-back
    if not all(math.isfinite(value) for value in local.values()):
        raise FormatError(f"step {step}: the loss is not finite ({local}); lower train.lr or check the data", path=run.data)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(total).backward()
    if cfg.clip_grad_norm > 0:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_([p for g in run.optimizer.param_groups for p in g["params"]], cfg.clip_grad_norm)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    values = mean_over_ranks(local, run.place.world, device)
    last = {**values, "loss": sum(values.values())}
    checksums = {"weights_checksum_per_rank": checksums_over_ranks(run.model, run.place.world, device)} if run.place.world > 1 else {}
    if run.place.writes:
        memory = {"peak_memory_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)} if device.type == "cuda" else {}
        append_log(run.log_path, {"step": step + 1, "epoch": run.sampler.epoch_of(step), "lr": lr, **last,
                                  "seconds": round(time.perf_counter() - tick, 4), "data_seconds": round(data_seconds, 4),
                                  **checksums, **memory})
    return last, lr, dropped


def _save(run: TrainingRun, step: int) -> None:
    train_state.save(run.checkpoint_path, run.model, run.optimizer, run.scaler, run.config, step, run.run_info)
