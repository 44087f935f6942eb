"""``dior train``: fit the DIOR network on MOTS data, on one device or many (``torchrun``).

One step reads ``batch`` three-frame clips per process, sums the six losses
(``loss_classifier``, ``loss_box_reg``, ``loss_mask``, ``loss_objectness``,
``loss_rpn_box_reg``, ``loss_emb``), and takes an optimizer step (SGD, or AdamW for training from scratch) with the learning rate of
``TrainConfig.learning_rate`` (linear warm-up, then step decay).

Exact resume: everything random in step ``i`` is a pure function of the seed and ``i``:
the samples of step ``i`` come from the epoch's seeded permutation (``StepSampler``), the
augmentation of a sample from (seed, epoch, sample index), and the anchor / proposal samplers
draw from the run's own ``torch.Generator`` (``DiorNet.set_sampling_generator``), seeded from
(seed, i, rank) before the step; torch's global generator is left alone. So a run resumed
from ``RUN/checkpoints/last.pt`` (weights, optimizer and loss-scaler state, step) takes the
very steps the uninterrupted run would have taken.

Host synchronisation: a step reads its losses back once (one stacked copy, also used for the
finiteness check). The weight checksum (the sum of |weights| over all parameters) is computed
only with several processes, where it shows a rank whose weights drifted from the others.

Files (rank 0 writes all of them; other ranks write nothing):

    RUN/train_log.jsonl           one JSON object per step (losses, lr, seconds; each rank's
                                  weight checksum with several processes)
                                  and per validation ({"validation": ...})
    RUN/checkpoints/last.pt       every checkpoint_every steps, at the end and on Ctrl-C
    RUN/weights/final.pt          the trained model (no optimizer state) at the end
    RUN/val/step_<i>/             validation detections, tracks and metrics (with --val)

Several processes: ``torchrun --nproc-per-node N -m dior_cli train ...`` wraps the model in
DistributedDataParallel (NCCL on CUDA, gloo on CPU); each rank takes every N-th sample of
the epoch's permutation.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dior_cli import __version__
from dior_cli.config import TrainConfig
from dior_cli.console import console, note
from dior_cli.devices import pick_device
from dior_cli.errors import ConfigError, FormatError
from dior_cli.formats.atomic import atomic_write
from dior_cli.model.config import ModelConfig

LOSS_NAMES = ("loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg", "loss_emb")


@dataclass(frozen=True)
class TrainOptions:
    """``dior train``'s inputs (see the CLI for their meaning and defaults)."""

    data: Path
    out: Path
    train: TrainConfig
    model: dict[str, Any]
    sequences: tuple[str, ...] | None = None
    seqmap: Path | None = None
    init: str = "coco"
    resume: bool = False
    val: Path | None = None
    device: str = "auto"


class StepSampler:
    """The sample indices of every step, a pure function of (seed, step, rank).

    Epoch ``e`` orders the ``num_samples`` samples by a permutation seeded with ``seed + e``,
    repeats its head so it divides evenly among ``world`` ranks, and gives rank ``r`` every
    ``world``-th sample from ``r``. Each rank's share is cut into steps of ``batch`` samples
    (a short remainder is dropped, so every step has ``batch`` samples on every rank).
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


def run(options: TrainOptions) -> dict[str, Any]:
    """Train; return a summary (steps, time, last losses, files written, validation)."""
    import torch

    from dior_cli.data.clips import ClipAugment, MotsClipDataset
    from dior_cli.model.network import DiorNet

    rank, world = _distributed_env()
    device = pick_device(options.device)
    if world > 1:
        _init_process_group(device)
    try:
        cfg = options.train
        augment = ClipAugment(flip_prob=cfg.flip_prob, scale_range=(cfg.scale_min, cfg.scale_max), brightness=cfg.brightness,
                              contrast=cfg.contrast, saturation=cfg.saturation, hue=cfg.hue)
        dataset = MotsClipDataset(options.data, sequences=options.sequences, seqmap=options.seqmap, augment=augment, seed=cfg.seed)
        model_config = _model_config(options.model, dataset.num_identities)
        sampler = StepSampler(len(dataset), cfg.batch, seed=cfg.seed, rank=rank, world=world)
        checkpoint_path = options.out / "checkpoints" / "last.pt"

        torch.manual_seed(cfg.seed)
        model = DiorNet(model_config)
        start_step, resumed_state = 0, None
        if options.resume:
            resumed_state = _resume(model, checkpoint_path, options)
            start_step = int(resumed_state["step"])
            init_note = f"resumed from {checkpoint_path} at step {start_step}"
        else:
            _refuse_existing_run(options.out, checkpoint_path)
            from dior_cli.model.init import initialise

            init_note = initialise(model, options.init)
        model.to(device).train()
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            optimizer = torch.optim.SGD(params, lr=cfg.learning_rate(0), momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        else:
            optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate(0), betas=(cfg.momentum, 0.999), weight_decay=cfg.weight_decay)
        use_amp = device.type == "cuda" and cfg.mixed_precision
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        if resumed_state is not None:
            optimizer.load_state_dict(resumed_state["optimizer"])  # moves the state onto the parameters' device
            if resumed_state.get("scaler"):
                scaler.load_state_dict(resumed_state["scaler"])
        trained = _wrap_ddp(model, device) if world > 1 else model
        if rank == 0:
            note(init_note)
            _trim_log(options.out / "train_log.jsonl", start_step)

        run_info = {"data": str(options.data), "sequences": list(dataset.sequences), "samples": len(dataset),
                    "identities": dataset.num_identities, "world_size": world, "init": options.init}
        sampling = torch.Generator()  # the anchor / proposal samplers' randomness, re-seeded per step
        model.set_sampling_generator(sampling)
        summary = _loop(trained, model, dataset, sampler, optimizer, scaler, use_amp, options, device, rank, world, start_step, run_info, sampling)
        return summary
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _loop(trained, model, dataset, sampler, optimizer, scaler, use_amp, options, device, rank, world, start_step, run_info,
          sampling) -> dict[str, Any]:
    """The step loop; checkpoints, logs and validates on rank 0. ``sampling``: the generator of ``model``'s samplers."""
    import torch

    cfg = options.train
    log_path = options.out / "train_log.jsonl"
    step = start_step
    last: dict[str, float] = {}
    validations: list[dict] = []
    started = time.perf_counter()
    progress = _TrainProgress(cfg.iterations, start_step, enabled=rank == 0)
    dropped = 0
    try:
        with progress:
            batches = _batches(dataset, sampler, start_step, cfg.iterations, cfg.workers)
            while step < cfg.iterations:
                tick = time.perf_counter()
                clips, targets = next(batches)
                dropped += sum(int(t.pop("num_dropped")) + int(t.pop("num_dropped_ignore")) for t in targets)
                clips = [clip.to(device) for clip in clips]
                targets = [{k: v.to(device) for k, v in target.items()} for target in targets]
                data_seconds = time.perf_counter() - tick
                sampling.manual_seed(_step_seed(cfg.seed, step, rank))  # the anchor / proposal samplers draw from it
                lr = cfg.learning_rate(step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    losses = trained(clips, targets)
                total = sum(losses[name] for name in LOSS_NAMES)
                local = dict(zip(LOSS_NAMES, torch.stack([losses[name].detach().float() for name in LOSS_NAMES]).tolist()))  # the one read-back
                if not all(math.isfinite(value) for value in local.values()):
                    raise FormatError(f"step {step}: the loss is not finite ({local}); lower train.lr or check the data", path=options.data)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(total).backward()
                if cfg.clip_grad_norm > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], cfg.clip_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                step += 1
                values = _mean_over_ranks(local, world, device)
                last = {**values, "loss": sum(values.values())}
                checksums = {"weights_checksum_per_rank": _checksums_over_ranks(model, world, device)} if world > 1 else {}
                if rank == 0:
                    _append_log(log_path, {"step": step, "epoch": sampler.epoch_of(step - 1), "lr": lr, **last,
                                           "seconds": round(time.perf_counter() - tick, 4), "data_seconds": round(data_seconds, 4),
                                           **checksums,
                                           **({"peak_memory_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)} if device.type == "cuda" else {})})
                progress.advance(step, last, lr)
                if rank == 0 and (step % cfg.checkpoint_every == 0 or step == cfg.iterations):
                    _save(model, optimizer, scaler, options, step, run_info)
                if options.val is not None and (step % cfg.val_every == 0 or step == cfg.iterations):
                    if rank == 0:
                        validations.append(_validate(model, options, step, device, log_path))
                        model.train()
                    _barrier(world)
    except KeyboardInterrupt:
        if rank == 0 and step > start_step:
            _save(model, optimizer, scaler, options, step, run_info)
            console.print(f"interrupted at step {step}; saved {options.out / 'checkpoints' / 'last.pt'} (continue with --resume)")
        raise
    final = None
    if rank == 0:
        from dior_cli.model.checkpoint import save_checkpoint

        final = save_checkpoint(options.out / "weights" / "final.pt", model, extra={**run_info, "steps": step, "dior_version": __version__})
    return {"schema": "dior.train-summary/v1", "out": str(options.out), "device": str(device), "world_size": world,
            "steps": step, "resumed_from": start_step, "seconds": round(time.perf_counter() - started, 2),
            "last_losses": last, "objects_dropped_by_augmentation": dropped, "checkpoint": str(options.out / "checkpoints" / "last.pt"),
            "weights": None if final is None else str(final), "validation": validations, **run_info}


def _batches(dataset, sampler: StepSampler, start: int, stop: int, workers: int):
    """Yield the collated batch of every step from ``start`` to ``stop``, loading ahead with
    ``workers`` processes; each epoch's loader is made after ``set_epoch`` so workers see it."""
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


class _TrainProgress:
    """A rich progress line: step count, ETA and the latest losses (rank 0 on a terminal only)."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        from dior_cli.console import progress_enabled

        self.enabled = enabled and progress_enabled()
        self.total, self.start = total, start
        self._progress = None

    def __enter__(self) -> _TrainProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                      TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), console=console, transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, completed=self.start, losses="")
        return self

    def advance(self, step: int, losses: dict[str, float], lr: float) -> None:
        if self._progress is not None:
            text = f"loss {losses['loss']:.3f} (cls {losses['loss_classifier']:.3f} box {losses['loss_box_reg']:.3f} mask {losses['loss_mask']:.3f} emb {losses['loss_emb']:.3f}) lr {lr:.2g}"
            self._progress.update(self._task, completed=step, losses=text)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def _model_config(values: dict[str, Any], num_identities: int) -> ModelConfig:
    """The training's ModelConfig: the user's model: settings, with the identity count from the data."""
    values = dict(values)
    if "num_identities" in values and values["num_identities"] not in (0, num_identities):
        raise ConfigError(f"model.num_identities={values['num_identities']} but the training data has {num_identities} identities (leave it unset)")
    values["num_identities"] = num_identities
    return ModelConfig.from_dict(values)


def _refuse_existing_run(out: Path, checkpoint_path: Path) -> None:
    if checkpoint_path.is_file() or (out / "train_log.jsonl").is_file():
        raise ConfigError(f"{out} already holds a training run: continue it with --resume, or choose another --out")


def _resume(model, checkpoint_path: Path, options: TrainOptions) -> dict[str, Any]:
    """Load the weights of ``last.pt`` into ``model`` after checking it belongs to this training;
    return its training state (step, optimizer, loss scaler) for the caller to restore."""
    from dior_cli.model.checkpoint import read_checkpoint

    payload = read_checkpoint(checkpoint_path)
    state = payload.get("train_state") or {}
    if "step" not in state or "optimizer" not in state:
        raise FormatError("has no training state to resume from (a final weights file?)", path=checkpoint_path)
    if payload["model_config"] != model.config.to_dict():
        diff = sorted(k for k in set(payload["model_config"]) | set(model.config.to_dict()) if payload["model_config"].get(k) != model.config.to_dict().get(k))
        raise ConfigError(f"{checkpoint_path}: the model settings differ from this run's ({', '.join(diff)}); resume with the same config")
    saved_cfg = state.get("train_config", {})
    now_cfg = _plain(dataclasses.asdict(options.train))
    if saved_cfg != now_cfg:
        diff = sorted(k for k in set(saved_cfg) | set(now_cfg) if saved_cfg.get(k) != now_cfg.get(k))
        raise ConfigError(f"{checkpoint_path}: the train settings differ from this run's ({', '.join(diff)}); resume with the same config")
    model.load_state_dict(payload["state_dict"])
    return state


def _save(model, optimizer, scaler, options: TrainOptions, step: int, run_info: dict) -> None:
    from dior_cli.model.checkpoint import save_checkpoint

    train_state = {"step": step, "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                   "train_config": _plain(dataclasses.asdict(options.train))}
    save_checkpoint(options.out / "checkpoints" / "last.pt", model, train_state=train_state, extra={**run_info, "steps": step})


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Tuples as lists, so a config compares equal after a round trip through a checkpoint."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _trim_log(log_path: Path, step: int) -> None:
    """Keep the log entries up to ``step`` (what a resumed run continues from), atomically."""
    if not log_path.is_file():
        return
    kept = []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("step", 0) <= step:
            kept.append(line)
    with atomic_write(log_path) as handle:
        handle.write("".join(line + "\n" for line in kept))


def _append_log(log_path: Path, entry: dict) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def _step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step * 7919 + rank) % (2**63)


def _validate(model, options: TrainOptions, step: int, device, log_path: Path) -> dict:
    from dior_cli.train_validation import validate

    result = validate(model, options.val, options.out / "val" / f"step_{step:07d}", device)
    _append_log(log_path, {"step": step, "validation": result})
    console.print(f"validation at step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in result["headline"].items() if v is not None))
    return {"step": step, **result}


# ---------------------------------------------------------------- devices and processes
from dior_cli.runtime import rank_and_world as _distributed_env  # noqa: E402  (RANK / WORLD_SIZE, shared with infer)


def _init_process_group(device) -> None:
    import torch.distributed as dist

    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def _wrap_ddp(model, device):
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def _mean_over_ranks(values: dict[str, float], world: int, device) -> dict[str, float]:
    if world == 1:
        return values
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return {name: float(v) / world for name, v in zip(values, tensor.tolist())}


def _checksums_over_ranks(model, world: int, device) -> list[float]:
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


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
