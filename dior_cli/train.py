"""``dior train``: fit the DIOR network on MOTS data, on one device or many (``torchrun``).

One step reads ``batch`` three-frame clips per process, sums the six losses
(``loss_classifier``, ``loss_box_reg``, ``loss_mask``, ``loss_objectness``,
``loss_rpn_box_reg``, ``loss_emb``), and takes an optimizer step (SGD, or AdamW for training from scratch) with the learning rate of
``TrainConfig.learning_rate`` (linear warm-up, then step decay). ``loss_emb``'s identity
classifier is linear or a scaled cosine one (``train.emb_classifier``; see
:mod:`dior_cli.model.embedding_head`).

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

The modules, one job each: this one builds the run (data, model, optimizer; fresh or resumed)
and hands it to the step loop (:mod:`dior_cli.train_loop`); which samples a step reads
(:mod:`dior_cli.train_sampler`), the processes (:mod:`dior_cli.train_distributed`), the
progress line (:mod:`dior_cli.train_progress`), ``last.pt`` and resuming
(:mod:`dior_cli.train_state`), the log (:mod:`dior_cli.train_log`), and validation
(:mod:`dior_cli.train_validation`).

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

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dior_cli import train_state
from dior_cli.config import TrainConfig
from dior_cli.console import console, note
from dior_cli.devices import pick_device
from dior_cli.errors import ConfigError
from dior_cli.model.config import ModelConfig
from dior_cli.runtime import rank_and_world
from dior_cli.train_distributed import Placement, destroy_process_group, init_process_group, wrap_ddp
from dior_cli.train_log import append_log, trim_log
from dior_cli.train_loop import TrainingRun, train_steps
from dior_cli.train_sampler import StepSampler


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


def run(options: TrainOptions) -> dict[str, Any]:
    """Train; return a summary (steps, time, last losses, files written, validation)."""
    rank, world = rank_and_world()
    device = pick_device(options.device)
    if world > 1:
        init_process_group(device)
    try:
        return train_steps(_build(options, Placement(device=device, rank=rank, world=world)))
    finally:
        if world > 1:
            destroy_process_group()


def _build(options: TrainOptions, place: Placement) -> TrainingRun:
    """Data, model (fresh from ``--init`` or resumed), optimizer and loss scaler of the run."""
    import torch

    from dior_cli.data.clips import ClipAugment, MotsClipDataset
    from dior_cli.model.embedding_head import IdentityClassifier
    from dior_cli.model.network import DiorNet

    cfg = options.train
    augment = ClipAugment(flip_prob=cfg.flip_prob, scale_range=(cfg.scale_min, cfg.scale_max), brightness=cfg.brightness,
                          contrast=cfg.contrast, saturation=cfg.saturation, hue=cfg.hue)
    dataset = MotsClipDataset(options.data, sequences=options.sequences, seqmap=options.seqmap, augment=augment, seed=cfg.seed)
    model_config = _model_config(options.model, dataset.num_identities)
    sampler = StepSampler(len(dataset), cfg.batch, seed=cfg.seed, rank=place.rank, world=place.world)
    checkpoint_path = train_state.checkpoint_path(options.out)

    torch.manual_seed(cfg.seed)
    classifier = IdentityClassifier(kind=cfg.emb_classifier, scale=cfg.emb_scale, learned=cfg.emb_scale_learned)
    model = DiorNet(model_config, identity_classifier=classifier)
    start_step, resumed_state = 0, None
    if options.resume:
        resumed_state = train_state.resume(model, checkpoint_path, cfg)
        start_step = int(resumed_state["step"])
        init_note = f"resumed from {checkpoint_path} at step {start_step}"
    else:
        train_state.refuse_existing_run(options.out)
        from dior_cli.model.init import initialise

        init_note = initialise(model, options.init)
    model.to(place.device).train()
    optimizer = _optimizer(model, cfg)
    use_amp = place.device.type == "cuda" and cfg.mixed_precision
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if resumed_state is not None:
        optimizer.load_state_dict(resumed_state["optimizer"])  # moves the state onto the parameters' device
        if resumed_state.get("scaler"):
            scaler.load_state_dict(resumed_state["scaler"])
    trained = wrap_ddp(model, place.device) if place.world > 1 else model
    if place.writes:
        note(init_note)
        trim_log(options.out / "train_log.jsonl", start_step)

    run_info = {"data": str(options.data), "sequences": list(dataset.sequences), "samples": len(dataset),
                "identities": dataset.num_identities, "world_size": place.world, "init": options.init}
    sampling = torch.Generator()  # the anchor / proposal samplers' randomness, re-seeded per step
    model.set_sampling_generator(sampling)
    validate = None if options.val is None else functools.partial(_validate, model, options, place.device)
    return TrainingRun(config=cfg, out=options.out, data=options.data, model=model, trained=trained, dataset=dataset,
                       sampler=sampler, optimizer=optimizer, scaler=scaler, use_amp=use_amp, sampling=sampling, place=place,
                       start_step=start_step, run_info=run_info, validate=validate)


def _optimizer(model, cfg: TrainConfig):
    """SGD with momentum or AdamW over the parameters that train (frozen ones are left out)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.learning_rate(0), momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.learning_rate(0), betas=(cfg.momentum, 0.999), weight_decay=cfg.weight_decay)


def _model_config(values: dict[str, Any], num_identities: int) -> ModelConfig:
    """The training's ModelConfig: the user's model: settings, with the identity count from the data."""
    values = dict(values)
    if "num_identities" in values and values["num_identities"] not in (0, num_identities):
        raise ConfigError(f"model.num_identities={values['num_identities']} but the training data has {num_identities} identities (leave it unset)")
    values["num_identities"] = num_identities
    return ModelConfig.from_dict(values)


def _validate(model, options: TrainOptions, device, step: int) -> dict:
    """Validate on ``--val`` (training's validation calls the infer, track and evaluate stages), log and print it."""
    from dior_cli.train_validation import validate

    result = validate(model, options.val, options.out / "val" / f"step_{step:07d}", device)
    append_log(options.out / "train_log.jsonl", {"step": step, "validation": result})
    console.print(f"validation at step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in result["headline"].items() if v is not None))
    return {"step": step, **result}
