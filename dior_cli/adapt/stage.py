"""``dior adapt``: fine-tune OSNet on each sequence's own detections, then re-embed them
(ReMOTS sec. 2.2-2.4, no ground truth used).

Per sequence of ``DETS`` (``<seq>.json`` detections; the frames from ``--frames``):

1. intra-frame training, ``intra_steps`` steps (:class:`dior_cli.adapt.sampling.IntraFrameSampler`);
   with ``--train-data``, every batch is half such triplets and half ground-truth triplets of a
   labelled dataset (:mod:`dior_cli.adapt.labelled`, ReMOTS's 1:1 mix);
2. short-term tracklets (:mod:`dior_cli.association.short_term`) from the step-1 encoder's
   embeddings, flow-warped mask IoU and ``theta_short`` = mean + ``short_term_sigma_k`` std
   of the step-1 intra-frame similarities;
3. inter-short-tracklet training, ``inter_steps`` steps (:class:`~dior_cli.adapt.sampling.InterTrackletSampler`);
4. every detection re-embedded from its frame as ``dior infer`` embeds it.

Writes ``ADAPTED/<seq>.osnet.pt`` (the adapted encoder: ``state_dict`` of
:class:`dior_cli.model.osnet.OSNet` with the sequence, the base weights' sha256 and the
settings), ``ADAPTED/<seq>.npy`` + ``.npy.json`` (new embeddings with their hash record) and,
last, ``ADAPTED/<seq>.json``, a byte-for-byte copy of the detections (so tracks made from
``DETS`` match ``ADAPTED`` too). ``ADAPTED`` is a detections folder like any other.
Sequences whose three outputs exist are skipped unless ``overwrite``. With ``plot``, also
``ADAPTED/<seq>.separation.png``: same-frame (different identity) against same-short-tracklet
similarities with the input embeddings and with the adapted ones (ReMOTS Figs. 4-5); the
summary's ``histogram_overlap`` gives the two histograms' shared area before and after.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dior_cli import __version__
from dior_cli.adapt.crops import cut_context_crops
from dior_cli.adapt.labelled import LabelledSampler, LabelledViews, MixedSampler, StackedContexts, read_labelled_views
from dior_cli.adapt.loop import LoopResult, LoopSettings, train_steps
from dior_cli.adapt.reembed import embed_box_views, embed_detections
from dior_cli.adapt.sampling import InterTrackletSampler, IntraFrameSampler, frame_groups
from dior_cli.config import AdaptConfig
from dior_cli.console import note
from dior_cli.errors import AlignmentError, ConfigError, DiorError, FormatError, InputNotFound
from dior_cli.formats.atomic import write_bytes_atomic
from dior_cli.formats.detections_json import DetectionsFile, list_detection_files, read_detections
from dior_cli.formats.embeddings import read_embeddings, write_embeddings
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.model.osnet import INPUT_SIZE
from dior_cli.association.similarity_plot import overlap, separation_figure, write_threshold_plot
from dior_cli.association.similarity_samples import different_identity_similarities, same_identity_similarities
from dior_cli.association.short_term import flow_pairs, short_term_tracklets
from dior_cli.association.thresholds import theta_short

CHECKPOINT_SCHEMA = "dior.adapted-osnet/v1"
Images = Callable[[], Iterable[tuple[int, np.ndarray]]]  # a fresh pass over (frame, RGB image)


@dataclass(frozen=True)
class AdaptOptions:
    """``dior adapt``'s inputs (see the CLI for their meaning)."""

    dets: Path
    frames: Path
    out: Path | None = None
    weights: str | None = None
    device: str = "auto"
    overwrite: bool = False
    train_data: Path | None = None  # a labelled dataset mixed 1:1 into step 1 (dior_cli.adapt.labelled)
    plot: bool = False  # also write ADAPTED/<seq>.separation.png (similarities before / after)
    config: AdaptConfig = field(default_factory=AdaptConfig)


@dataclass(frozen=True)
class AdaptResult:
    """What adapting one sequence did; ``embeddings`` ``(N, 512)`` are the new ones."""

    embeddings: np.ndarray
    intra: LoopResult
    inter: LoopResult
    theta_short: float
    short_term_tracklets: int
    short_term_links: int
    tracklet_of: np.ndarray  # (N,) short-term tracklet label of each detection (step 2)


def run(options: AdaptOptions) -> dict[str, Any]:
    """Adapt every sequence of ``options.dets``; return a summary document."""
    dets_dir = Path(options.dets)
    if not dets_dir.is_dir():
        raise InputNotFound("detections folder does not exist" if not dets_dir.exists() else "is not a folder", path=dets_dir)
    files = list_detection_files(dets_dir)
    if not files:
        raise FormatError("holds no <seq>.json detections (dior infer writes them)", path=dets_dir)
    out = Path(options.out) if options.out is not None else dets_dir.parent / "adapted"
    if out.resolve() == dets_dir.resolve():
        raise ConfigError(f"--out {out} is the detections folder itself; give another folder")
    sources = frame_sources(Path(options.frames), [f.stem for f in files])
    from dior_cli.devices import pick_device
    from dior_cli.model.osnet import load_osnet, locate_osnet

    device = pick_device(options.device)
    from dior_cli.weights import sha256_file

    base = locate_osnet(options.weights)
    base_weights = {"path": str(base.path), "sha256": sha256_file(base.path)}
    summary: dict[str, Any] = {"schema": "dior.adapt-summary/v1", "out": str(out), "device": str(device),
                               "base_weights": str(base.path), "sequences": {}}
    labelled = None
    if options.train_data is not None:
        cfg = options.config
        labelled = read_labelled_views(options.train_data, INPUT_SIZE, identities=cfg.train_data_identities,
                                       views=cfg.train_data_views, rng=np.random.default_rng(cfg.sampling_seed))
        for line in labelled.notes:
            note(f"--train-data: {line}")
        summary["train_data"] = {"path": str(options.train_data), "sequences": list(labelled.sequences),
                                 "identities": labelled.identities, "views": int(len(labelled.labels)), "notes": list(labelled.notes)}
    for path in files:
        seq = path.stem
        targets = [out / f"{seq}.osnet.pt", out / f"{seq}.npy", out / f"{seq}.json"]
        if not options.overwrite and all(t.is_file() for t in targets):
            summary["sequences"][seq] = {"skipped": "outputs exist (use --overwrite)"}
            continue
        summary["sequences"][seq] = adapt_file(path, sources[seq], out, load_osnet(base.path, device), options.config,
                                               base_weights=base_weights, labelled=labelled, plot=options.plot)
    return summary


def adapt_file(path: Path, frames: SequenceInfo, out: Path, model: torch.nn.Module, cfg: AdaptConfig,
               base_weights: dict[str, Any], labelled: LabelledViews | None = None, plot: bool = False) -> dict[str, Any]:
    """Adapt one sequence and write its three outputs; return its summary."""
    start = time.perf_counter()
    dets = read_detections(path)
    if frames.image_size is not None and tuple(frames.image_size) != tuple(dets.image_size):
        raise AlignmentError(f"detections are {dets.image_size[0]}x{dets.image_size[1]}, the frames of {frames.name} "
                             f"{frames.image_size[0]}x{frames.image_size[1]}", path=path)
    input_vectors = _input_embeddings(path, dets)
    source = frames.open_frames()
    result = adapt_sequence(model, dets, lambda: source, total_frames=len(source), cfg=cfg, name=dets.sequence, labelled=labelled)
    out.mkdir(parents=True, exist_ok=True)
    seq = path.stem
    state = {"schema": CHECKPOINT_SCHEMA, "dior_version": __version__, "sequence": dets.sequence, "detections_file": path.name,
             "detections_sha256": dets.sha256, "base_weights": base_weights, "settings": dataclasses.asdict(cfg),
             "train_data": None if labelled is None else list(labelled.sequences),
             "intra_losses": list(result.intra.losses), "inter_losses": list(result.inter.losses),
             "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(out / f"{seq}.osnet.pt", buffer.getvalue())
    write_embeddings(out / f"{seq}.npy", result.embeddings, out / path.name, dets.sha256)
    write_bytes_atomic(out / path.name, path.read_bytes())  # last: without it the folder holds no sequence
    before = None if input_vectors is None else _populations(dets, input_vectors, result.tracklet_of, cfg.sampling_seed)
    after = _populations(dets, result.embeddings, result.tracklet_of, cfg.sampling_seed)
    figure = None
    if plot:
        figure = out / f"{seq}.separation.png"
        write_threshold_plot(figure, separation_figure(before, after, result.theta_short, seq))
    seconds = time.perf_counter() - start
    steps = result.intra.steps + result.inter.steps
    train_seconds = result.intra.seconds + result.inter.seconds
    n = len(dets.detections)
    return {
        "detections": n, "frames": dets.num_frames,
        "intra": _loop_summary(result.intra), "inter": _loop_summary(result.inter),
        "short_term": {"theta_short": result.theta_short, "tracklets": result.short_term_tracklets, "links": result.short_term_links},
        "intra_frame_similarity_mean": {"before": _mean_or_none(before[0]) if before else None, "after": _mean_or_none(after[0])},
        "histogram_overlap": {"before": overlap(*before) if before else None, "after": overlap(*after)},
        "steps_per_second": round(steps / train_seconds, 3) if train_seconds > 0 else None,
        "seconds": round(seconds, 2), "seconds_per_1000_detections": round(1000 * seconds / n, 2) if n else None,
        "files": [str(out / f"{seq}.osnet.pt"), str(out / f"{seq}.npy"), str(out / path.name)] + ([str(figure)] if figure else []),
    }


def adapt_sequence(model: torch.nn.Module, dets: DetectionsFile, images: Images, *, cfg: AdaptConfig, total_frames: int | None = None,
                   crop_size: tuple[int, int] = INPUT_SIZE, name: str = "seq", reembed_from_frames: bool = True,
                   labelled: LabelledViews | None = None) -> AdaptResult:
    """Steps 1-4 of the module docstring on ``model`` (changed in place); nothing is written.

    Args:
        images: returns a fresh pass over the frames each time it is called.
        crop_size: ``[h, w]`` of the training crops (OSNet's 256x128; tests use smaller ones).
        reembed_from_frames: step 4 cuts crops from the frames as ``dior infer`` does
            (needs ``crop_size == INPUT_SIZE``); ``False``: embeds the plain training views.
        labelled: ground-truth views of a labelled dataset (``--train-data``, cut at
            ``crop_size``); step 1's batches then mix them 1:1 with the video's own triplets
            (ReMOTS sec. 2.2: half of ``batch_identities`` each).
    """
    rng = np.random.default_rng(cfg.sampling_seed)
    torch.manual_seed(cfg.sampling_seed)
    d = dets.detections
    groups = frame_groups(d.frame, d.class_id)
    if not groups:
        raise FormatError(f"sequence {name}: no frame holds two detections of one class; intra-frame triplets need them")
    contexts = cut_context_crops(_checked(images(), name), d.frame, d.bbox_xyxy, crop_size, total=total_frames, description=f"{name} crops")
    loop = dict(lr=cfg.learning_rate, weight_decay=cfg.adam_weight_decay, margin=cfg.margin)
    if labelled is None:
        step1_contexts, step1_sampler = contexts, IntraFrameSampler(groups, cfg.batch_identities, cfg.max_per_frame)
    else:
        own = max(cfg.batch_identities - cfg.batch_identities // 2, 2)
        other = LabelledSampler(labelled, max(cfg.batch_identities // 2, 2), cfg.max_per_frame)
        step1_contexts = StackedContexts(contexts, labelled.contexts)
        step1_sampler = MixedSampler(IntraFrameSampler(groups, own, cfg.max_per_frame), other, len(contexts))
    intra = train_steps(model, step1_contexts, step1_sampler, LoopSettings(steps=cfg.intra_steps, **loop), rng, crop_size=crop_size,
                        description=f"{name} step 1 intra-frame" + ("" if labelled is None else " + labelled"))
    step1 = embed_box_views(model, contexts, crop_size)  # (N, 512)
    t_short = theta_short(different_identity_similarities(d.frame, d.class_id, step1, rng), cfg.short_term_sigma_k)
    pairs = flow_pairs(d.frame, d.rles, _checked(images(), name), scale=cfg.short_term_flow_scale, total=total_frames,
                       description=f"{name} step 2 flow")
    tracklet_of, links = short_term_tracklets(len(d), d.class_id, step1, pairs, t_short)
    inter = train_steps(model, contexts, InterTrackletSampler(d.frame, d.class_id, tracklet_of, cfg.batch_identities, cfg.max_per_frame),
                        LoopSettings(steps=cfg.inter_steps, **loop), rng, crop_size=crop_size, description=f"{name} step 3 inter-tracklet")
    if reembed_from_frames:
        vectors = embed_detections(model, _checked(images(), name), d.frame, d.bbox_xyxy, total=total_frames, description=f"{name} re-embed")
    else:
        vectors = embed_box_views(model, contexts, crop_size)
    return AdaptResult(vectors, intra, inter, t_short, int(np.unique(tracklet_of).size), links, tracklet_of)


def _checked(images: Iterable[tuple[int, np.ndarray]], name: str):
    """The frames, with running out of them turned into a ``DiorError``."""
    try:
        yield from images
    except ValueError as exc:
        raise AlignmentError(f"sequence {name}: {exc}") from None


def _loop_summary(loop: LoopResult) -> dict[str, Any]:
    first, last = loop.losses[:10], loop.losses[-10:]
    return {"steps": loop.steps, "seconds": round(loop.seconds, 2),
            "loss_first_10": round(float(np.mean(first)), 4) if first else None,
            "loss_last_10": round(float(np.mean(last)), 4) if last else None}


def _input_embeddings(path: Path, dets: DetectionsFile) -> np.ndarray | None:
    """The input ``<seq>.npy`` (the embeddings before adaptation), or ``None`` when absent or unreadable."""
    npy = path.with_suffix(".npy")
    if not npy.is_file():
        return None
    try:
        return read_embeddings(npy, dets, path).vectors
    except DiorError as exc:  # only reported: a stale or broken input array does not stop the adaptation
        note(f"{path.stem}: the similarity before is not reported ({exc})")
        return None


def _populations(dets: DetectionsFile, vectors: np.ndarray, tracklet_of: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(different, same) similarity samples: same-frame pairs, and pairs of one short-term tracklet."""
    d = dets.detections
    rng = np.random.default_rng(seed)
    return different_identity_similarities(d.frame, d.class_id, vectors, rng), same_identity_similarities(tracklet_of, vectors, rng)


def _mean_or_none(values: np.ndarray) -> float | None:
    return round(float(values.mean()), 4) if values.size else None


def frame_sources(path: Path, names: list[str]) -> dict[str, SequenceInfo]:
    """The frames of each named sequence under ``path`` (one sequence there serves one name)."""
    if not path.exists():
        raise InputNotFound("--frames does not exist", path=path)
    sequences = discover_sequences(path)
    by_name = {s.name: s for s in sequences}
    if len(sequences) == 1 and len(names) == 1:
        return {names[0]: sequences[0]}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"--frames {path}: no frames for sequence(s) {', '.join(missing)} (found {', '.join(by_name) or 'none'})")
    return {n: by_name[n] for n in names}


def _text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def describe(summary: dict[str, Any]) -> list[str]:
    """One line per sequence for the console."""
    lines = []
    for seq, s in summary["sequences"].items():
        if "skipped" in s:
            lines.append(f"{seq}: skipped, {s['skipped']}")
            continue
        sim = s["intra_frame_similarity_mean"]
        before = "n/a" if sim["before"] is None else f"{sim['before']:.3f}"
        lines.append(
            f"{seq}: {s['detections']} detections; step 1 {s['intra']['steps']} steps (loss {s['intra']['loss_first_10']} -> "
            f"{s['intra']['loss_last_10']}), step 2 {s['short_term']['tracklets']} short-term tracklets (theta_short "
            f"{s['short_term']['theta_short']:.3f}), step 3 {s['inter']['steps']} steps (loss {s['inter']['loss_first_10']} -> "
            f"{s['inter']['loss_last_10']}); same-frame similarity {before} -> {sim['after']:.3f}, "
            f"histogram overlap {_text(s['histogram_overlap']['before'])} -> {_text(s['histogram_overlap']['after'])}; "
            f"{s['steps_per_second']} steps/s, {s['seconds']} s")
    return lines

