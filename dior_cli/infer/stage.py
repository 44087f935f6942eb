"""``dior infer``: detect, segment and embed every frame of every sequence of a source.

Frames are streamed. Each frame's backbone + FPN features are computed exactly once and kept
for the (at most three) windows that need them: the window of frame t is (t-1, t, t+1); the
first frame's window is (1, 0, 1) and the last frame's (T-2, T-1, T-2). Kept detections (score >= threshold, at most
``max_dets`` per frame) are pasted at full resolution, thresholded at 0.5 and RLE-encoded;
their embeddings are stacked row by row. Outputs per sequence: ``DETS/<seq>.json`` and
``DETS/<seq>.npy`` (formats in README), streamed: each frame's rows are appended to temporary
files as soon as the frame is done (``formats.sequence_outputs``), renamed into place when the
sequence ends. Memory holds a frame's results, whatever the video's length.

Resuming: a sequence whose ``.json``, ``.npy`` and ``.npy.json`` all exist is skipped (unless
``--overwrite``). A sequence that was interrupted (an error, Ctrl-C, a killed process) has no
final files from this run; its temporary files are removed (at once, or when the next run
reaches the sequence) and it is redone from its first frame.

Mask post-processing (network path) stays on the device: only each box's region is pasted
and thresholded there, and a frame's masks are encoded in one batch (``mask_paste``).

Which path runs:

- no ``--weights`` (or an ONNX file, or ``yolox``): the detector path of a fresh install,
  YOLOX-nano boxes, box -> mask and OSNet embeddings (``dior_cli.infer.detector``);
- ``--weights coco`` or a dior checkpoint: the DIOR network above. Its embedding head is used
  for appearance only when it was trained (a checkpoint written by ``dior train`` after at least
  one step); COCO weights and untrained checkpoints get OSNet embeddings of their boxes
  instead, and dior says so (``--appearance`` overrides); ``producer["appearance"]`` records which;
- ``--detections``: the network does not detect; the given detection sets are fused and
  embedded instead (``dior_cli.infer.given``).

Several processes (``torchrun --nproc-per-node N -m dior_cli infer ...``) split the
sequences by rank: process r takes sequences r, r + N, ... and is their only writer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import __version__
from dior_cli.console import note, track_progress
from dior_cli.devices import pick_device
from dior_cli.errors import ConfigError, FormatError
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.formats.sequence_outputs import SequenceOutputs, skip_finished
from dior_cli.infer.options import InferOptions
from dior_cli.records import Detections
from dior_cli.runtime import autocast, load_network, rank_and_world
from dior_cli.sliding_window import sliding_window

__all__ = ["InferOptions", "infer_sequence", "run", "run_detector", "sliding_window"]

def run(options: InferOptions) -> dict[str, Any]:
    """Infer every sequence of ``options.source`` handled by this process; return a summary."""
    if options.fps is not None and not options.fps > 0:
        raise ConfigError(f"--fps must be positive, got {options.fps}")
    if options.detections:
        from dior_cli.infer.given import run_given

        return run_given(options)
    if options.uses_detector:
        return run_detector(options)
    import torch

    given_only = {"--encoder osnet": options.encoder == "osnet", "--frame-base": options.frame_base is not None,
                  "--fusion-iom": options.fusion_iom is not None}
    for flag, used in given_only.items():
        if used:
            raise ConfigError(f"{flag} applies to given detections: add --detections (without it the DIOR network detects and embeds)")
    if options.encoder not in (None, "dior"):
        raise ConfigError(f"--encoder must be osnet or dior, not {options.encoder!r}")
    if options.appearance not in APPEARANCE_CHOICES:
        raise ConfigError(f"--appearance must be one of {', '.join(APPEARANCE_CHOICES)}, not {options.appearance!r}")
    if options.batch < 1 or options.network_max_dets < 1:
        raise ConfigError("--batch and --max-dets must be at least 1")
    if not 0 <= options.network_score_thresh <= 1:
        raise ConfigError(f"--score-thresh must be in [0, 1], got {options.network_score_thresh}")
    if not 0 < options.mask_thresh <= 1:
        raise ConfigError(f"the mask threshold must be in (0, 1], got {options.mask_thresh}")
    mine, rank, world = _my_sequences(options)
    device = pick_device(options.device)
    model, weights_name, weights_sha = load_network(options.weights or "coco", device)
    model.set_thresholds(score_thresh=options.network_score_thresh, detections_per_img=options.network_max_dets)
    osnet, appearance = _appearance(options, weights_name, device)
    summary: dict[str, Any] = {"schema": "dior.infer-summary/v1", "out": str(options.out), "device": str(device),
                               "weights": weights_name, "appearance": appearance, "rank": rank, "world_size": world,
                               "sequences": {}}
    producer = {"dior_version": __version__, "weights": weights_name, "weights_sha256": weights_sha, "appearance": appearance}
    if osnet is not None:
        producer.update(encoder="osnet", encoder_weights=osnet[1], encoder_weights_sha256=osnet[2])
    for seq in mine:
        json_path, npy_path = options.out / f"{seq.name}.json", options.out / f"{seq.name}.npy"
        if skip_finished(json_path, npy_path, options.overwrite):
            summary["sequences"][seq.name] = {"skipped": "outputs exist (use --overwrite)"}
            continue
        with torch.inference_mode():
            summary["sequences"][seq.name] = infer_sequence(model, seq, json_path, npy_path, options, device, producer=producer,
                                                            osnet=None if osnet is None else osnet[0])
    return summary


APPEARANCE_CHOICES = ("auto", "network", "osnet")


def _my_sequences(options: InferOptions) -> tuple[list[SequenceInfo], int, int]:
    """The source's sequences with frames that this process (rank r of N) handles: r, r + N, ..."""
    sequences = [s for s in discover_sequences(options.source) if s.frames_path is not None or s.layout == "video"]
    if not sequences:
        raise FormatError("holds no sequence with frames", path=options.source)
    rank, world = rank_and_world()
    return sequences[rank::world], rank, world


def run_detector(options: InferOptions) -> dict[str, Any]:
    """The detector path (``dior_cli.infer.detector``) over every sequence this process handles."""
    from dior_cli.infer.detector import DetectorSettings, infer_sequence as detect_sequence, load_pipeline

    for flag, used in {"--encoder": options.encoder is not None, "--frame-base": options.frame_base is not None,
                       "--fusion-iom": options.fusion_iom is not None}.items():
        if used:
            raise ConfigError(f"{flag} applies to given detections (--detections) or the DIOR network (--weights), "
                              "not to the YOLOX detector")
    settings = options.detector or DetectorSettings()
    if options.score_thresh is not None or options.max_dets is not None:
        from dataclasses import replace

        settings = replace(settings, **{k: v for k, v in (("score_thresh", options.score_thresh), ("max_dets", options.max_dets)) if v is not None})
    settings.check()
    mine, rank, world = _my_sequences(options)
    device = pick_device(options.device)
    detector_weights = None if options.weights in (None, "yolox") else options.weights
    pipeline = None
    summary: dict[str, Any] = {"schema": "dior.infer-summary/v1", "out": str(options.out), "device": str(device),
                               "weights": None, "detector": "yolox_nano", "appearance": "osnet", "rank": rank,
                               "world_size": world, "sequences": {}}
    for seq in mine:
        json_path, npy_path = options.out / f"{seq.name}.json", options.out / f"{seq.name}.npy"
        if skip_finished(json_path, npy_path, options.overwrite):
            summary["sequences"][seq.name] = {"skipped": "outputs exist (use --overwrite)"}
            continue
        if pipeline is None:  # loaded once, when the first sequence needs it
            pipeline = load_pipeline(settings, detector_weights=detector_weights, reid_weights=options.reid_weights, device=device)
            summary["weights"] = pipeline.producer["weights"]
        summary["sequences"][seq.name] = detect_sequence(pipeline, seq, json_path, npy_path, fps=options.fps_for(seq))
    return summary


def _appearance(options: InferOptions, weights_name: str, device):
    """For the DIOR network path: ``((osnet, path, sha256) or None, what embeds)``.

    ``auto`` uses the network's own embedding head only when it was trained (``dior train``
    records the steps it ran in the checkpoint); COCO weights and untrained heads embed with OSNet.
    """
    choice = options.appearance
    if choice == "auto":
        trained = _head_was_trained(options.weights or "coco")
        choice = "network" if trained else "osnet"
        if not trained:
            note(f"{weights_name}: the embedding head was never trained, so appearance comes from OSNet x0.25 on each box "
                 "(--appearance network forces the untrained head)")
    if choice == "network":
        return None, "network"
    from dior_cli.model.osnet import load_osnet, locate_osnet
    from dior_cli.weights import sha256_file

    located = locate_osnet(options.reid_weights)
    return (load_osnet(located.path, device=device), str(located.path), sha256_file(located.path)), "osnet"


def _head_was_trained(weights: str) -> bool:
    """A dior checkpoint whose ``extra["steps"]`` is at least 1 (``dior train`` writes it); never COCO."""
    if weights == "coco":
        return False
    from dior_cli.model.checkpoint import read_checkpoint

    extra = read_checkpoint(Path(weights)).get("extra") or {}
    return int(extra.get("steps", 0) or 0) >= 1


def infer_sequence(model, seq: SequenceInfo, json_path: Path, npy_path: Path, options: InferOptions, device, producer: dict,
                   osnet=None) -> dict[str, Any]:
    """Run the sliding window over one sequence, appending each frame's detections and embeddings to its outputs.

    With ``osnet``, the rows of ``<seq>.npy`` are OSNet embeddings of each detection's box crop
    instead of the network's head (whose embeddings are then discarded).
    """
    start = time.perf_counter()
    num_frames = 0
    image_size = seq.image_size
    frames = seq.open_frames()
    recent: dict[int, np.ndarray] = {}  # frame -> image, kept until the frame is detected (OSNet needs the pixels)
    seconds = {"masks": 0.0}

    def remembered(stream):
        for index, image in stream:
            if osnet is not None:
                recent[index] = image
            yield index, image

    embedding_dim = 512 if osnet is not None else model.config.embedding_dim
    stream = remembered(track_progress(frames, seq.name, total=len(frames)))
    with SequenceOutputs(json_path, npy_path, embedding_dim) as out:
        for frame, result, shape in sliding_window(model, stream, options.batch, device, step=_detect_unpasted(model, device),
                                                   to_cpu=False):
            num_frames = frame + 1
            image_size = shape
            tick = time.perf_counter()
            dets, emb = frame_records(frame, result, tuple(shape), options.mask_thresh)
            seconds["masks"] += time.perf_counter() - tick
            if osnet is not None:
                from dior_cli.model.osnet_crops import embed_crops

                emb = embed_crops(osnet, recent.pop(frame), dets.bbox_xyxy)
            out.append(dets, emb)
        if num_frames == 0:
            raise FormatError("sequence has no frames", path=seq.frames_path, sequence=seq.name)
        out.finish(sequence=seq.name, image_size=tuple(image_size), num_frames=num_frames, fps=options.fps_for(seq),
                   frame_base=seq.frame_base, producer=producer)
        rows = out.rows
    total = time.perf_counter() - start
    return {"frames": num_frames, "detections": rows, "seconds": round(total, 2),
            "frames_per_second": round(num_frames / total, 2) if total > 0 else None,
            "stage_seconds": {"masks": round(seconds["masks"], 2)}}


def _detect_unpasted(model, device):
    """The sliding window's step: ``model.detect`` with the masks left box-relative (``mask_paste`` pastes them)."""

    def step(_frame: int, prev, cur, nxt) -> dict:
        with autocast(device):
            return model.detect(prev, cur, nxt, paste_masks=False)

    return step


def frame_records(frame: int, result: dict, image_size: tuple[int, int], mask_thresh: float) -> tuple[Detections, np.ndarray]:
    """One frame's network output (tensors on the device, masks box-relative ``(K, 1, M, M)``)
    as Detections rows and their ``(K, D)`` float32 embeddings.

    Only detections of a MOTS class are kept; their masks are pasted box region only,
    thresholded at ``mask_thresh`` on the device and encoded in one batch (``mask_paste``).
    """
    from dior_cli.mask_paste import masks_to_rles
    from dior_cli.model.config import LABEL_TO_CLASS

    labels = result["labels"].cpu().numpy()
    keep = np.flatnonzero(np.isin(labels, list(LABEL_TO_CLASS)))
    index = result["labels"].new_tensor(keep)  # (K,) on the device
    boxes = result["boxes"][index].float()  # (K, 4) original pixels
    rles = masks_to_rles(result["masks"][index].float(), boxes, image_size, mask_thresh)
    class_ids = np.array([LABEL_TO_CLASS[int(label)] for label in labels[keep]], dtype=np.int64)
    dets = Detections(
        frame=np.full(len(rles), frame), class_id=class_ids, score=result["scores"][index].float().cpu().numpy().astype(np.float64),
        bbox_xyxy=boxes.cpu().numpy().astype(np.float64).reshape(-1, 4), rles=rles,
    )
    return dets, result["embeddings"][index].float().cpu().numpy().astype(np.float32)

