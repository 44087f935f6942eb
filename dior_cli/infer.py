"""``dior infer``: detect, segment and embed every frame of every sequence of a source.

Frames are streamed. Each frame's backbone + FPN features are computed exactly once and kept
for the (at most three) windows that need them: the window of frame t is (t-1, t, t+1); the
first frame's window is (1, 0, 1) and the last frame's (T-2, T-1, T-2). Kept detections (score >= threshold, at most
``max_dets`` per frame) are pasted at full resolution, thresholded at 0.5 and RLE-encoded;
their embeddings are stacked row by row. Outputs per sequence: ``DETS/<seq>.json`` and
``DETS/<seq>.npy`` (formats in README), both written atomically at the end.

Which path runs:

- no ``--weights`` (or an ONNX file, or ``yolox``): the detector path of a fresh install,
  YOLOX-nano boxes, box -> mask and OSNet embeddings (``dior_cli.infer_detector``);
- ``--weights coco`` or a dior checkpoint: the DIOR network above. Its embedding head is used
  for appearance only when it was trained (a checkpoint written by ``dior train`` after at least
  one step); COCO weights and untrained checkpoints get OSNet embeddings of their boxes
  instead, and dior says so (``--appearance`` overrides); ``producer["appearance"]`` records which;
- ``--detections``: the network does not detect; the given detection sets are fused and
  embedded instead (``dior_cli.infer_given``).

Several processes (``torchrun --nproc-per-node N -m dior_cli infer ...``) split the
sequences by rank: process r takes sequences r, r + N, ... and is their only writer.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import __version__
from dior_cli.console import note, track_progress
from dior_cli.devices import pick_device
from dior_cli.errors import ConfigError, FormatError
from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.embeddings import write_embeddings
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.masks import encode
from dior_cli.records import Detections, concat_detections

DEFAULT_SCORE_THRESH = 0.5  # the network path's --score-thresh
DEFAULT_MAX_DETS = 100  # the network path's --max-dets


@dataclass(frozen=True)
class InferOptions:
    """``dior infer``'s inputs (see the CLI for their meaning and defaults)."""

    source: Path
    out: Path
    weights: str | None = None  # None: coco for the network path, the shipped OSNet for --encoder osnet
    device: str = "auto"
    score_thresh: float | None = None  # None: 0.5 for the network path, no threshold for given detections
    max_dets: int | None = None  # None: 100 for the network path, no cap for given detections
    batch: int = 1
    overwrite: bool = False
    mask_thresh: float = 0.5
    detections: tuple[Path, ...] = ()  # given detection sets (folders or, for one sequence, files)
    encoder: str | None = None  # osnet or dior; None: osnet with detections, dior (the network) without
    frame_base: int | None = None  # first frame number of given MOTS txt / PNG names; None: the source's
    fusion_iom: float | None = None  # IoM-NMS threshold for given detections; None: fusion.DEFAULT_IOM_THRESH
    fps: float | None = None  # frames per second to record; None: the source's (video header, seqinfo.ini, KITTI 10)
    appearance: str = "auto"  # DIOR network path: auto (its head if trained, else OSNet), network, osnet
    reid_weights: str | None = None  # the OSNet ONNX file; None: found through dior_cli.weights
    detector: Any = None  # infer_detector.DetectorSettings for the detector path; None: its defaults

    @property
    def uses_detector(self) -> bool:
        """The YOLOX path: no DIOR weights named (or an ONNX detector file) and no given detections."""
        return not self.detections and (self.weights is None or self.weights == "yolox" or str(self.weights).endswith(".onnx"))

    def fps_for(self, seq: SequenceInfo) -> float | None:
        return seq.fps if self.fps is None else self.fps

    @property
    def network_score_thresh(self) -> float:
        return DEFAULT_SCORE_THRESH if self.score_thresh is None else self.score_thresh

    @property
    def network_max_dets(self) -> int:
        return DEFAULT_MAX_DETS if self.max_dets is None else self.max_dets


def run(options: InferOptions) -> dict[str, Any]:
    """Infer every sequence of ``options.source`` handled by this process; return a summary."""
    if options.fps is not None and not options.fps > 0:
        raise ConfigError(f"--fps must be positive, got {options.fps}")
    if options.detections:
        from dior_cli.infer_given import run_given

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
    mine, rank, world = _my_sequences(options)
    device = pick_device(options.device)
    model, weights_name, weights_sha = load_model(options.weights or "coco", device)
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
        if not options.overwrite and json_path.is_file() and npy_path.is_file():
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
    rank, world = _rank_and_world()
    return sequences[rank::world], rank, world


def run_detector(options: InferOptions) -> dict[str, Any]:
    """The detector path (``dior_cli.infer_detector``) over every sequence this process handles."""
    from dior_cli.infer_detector import DetectorSettings, infer_sequence as detect_sequence, load_pipeline

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
        if not options.overwrite and json_path.is_file() and npy_path.is_file():
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
    """Run the sliding window over one sequence and write its detections and embeddings.

    With ``osnet``, the rows of ``<seq>.npy`` are OSNet embeddings of each detection's box crop
    instead of the network's head (whose embeddings are then discarded).
    """
    start = time.perf_counter()
    parts: list[Detections] = []
    vectors: list[np.ndarray] = []
    num_frames = 0
    image_size = seq.image_size
    frames = seq.open_frames()
    recent: dict[int, np.ndarray] = {}  # frame -> image, kept until the frame is detected (OSNet needs the pixels)

    def remembered(stream):
        for index, image in stream:
            if osnet is not None:
                recent[index] = image
            yield index, image

    for frame, result, shape in sliding_window(model, remembered(track_progress(frames, seq.name, total=len(frames))), options.batch, device):
        num_frames = frame + 1
        image_size = shape
        dets, emb = _to_records(frame, result, options.mask_thresh)
        if osnet is not None:
            from dior_cli.model.osnet_crops import embed_crops

            emb = embed_crops(osnet, recent.pop(frame), dets.bbox_xyxy)
        parts.append(dets)
        vectors.append(emb)
    if num_frames == 0:
        raise FormatError("sequence has no frames", path=seq.frames_path, sequence=seq.name)
    detections = concat_detections(parts)
    embedding_dim = 512 if osnet is not None else model.config.embedding_dim
    stacked = np.concatenate([np.zeros((0, embedding_dim), np.float32), *vectors]).astype(np.float32)
    dets_file = DetectionsFile(sequence=seq.name, image_size=tuple(image_size), num_frames=num_frames, fps=options.fps_for(seq),
                               frame_base=seq.frame_base, detections=detections, producer=producer)
    digest = write_detections(json_path, dets_file)
    write_embeddings(npy_path, stacked, json_path, digest)
    seconds = time.perf_counter() - start
    return {"frames": num_frames, "detections": len(detections), "seconds": round(seconds, 2),
            "frames_per_second": round(num_frames / seconds, 2) if seconds > 0 else None}


def sliding_window(model, frames, batch: int, device, step=None):
    """Yield ``(frame, detections dict, (height, width))`` for every frame, in order.

    ``step(frame, prev, cur, nxt) -> dict of tensors`` is what is computed for each window;
    the default is ``model.detect(prev, cur, nxt)`` (``infer_given`` embeds given boxes instead).
    Frames are encoded (transform + backbone + FPN) in batches of ``batch``; frame t is
    detected as soon as frame t+1 is encoded (or the stream ends), and a frame's features
    are dropped once frame t+1 no longer needs them as its predecessor: at most
    ``batch + 2`` frames' features are alive at any time, whatever the video's length.
    """
    import torch

    window: deque = deque()  # (frame index, FrameFeatures, (h, w)) of consecutive frames
    next_frame = 0  # the next frame to detect

    def encode(pending: list[tuple[int, np.ndarray]]) -> None:
        images = [torch.from_numpy(img).to(device).permute(2, 0, 1).float().div_(255) for _, img in pending]  # (3, H, W)
        with _autocast(device):
            features = model.encode(images)
        window.extend((index, feats, img.shape[:2]) for (index, img), feats in zip(pending, features))

    def detect_ready(final: bool):
        nonlocal next_frame
        while window and (window[-1][0] > next_frame or (final and window[-1][0] == next_frame)):
            by_index = {index: feats for index, feats, _ in window}
            cur = by_index[next_frame]
            # the first and last frames repeat their neighbour (a one-frame video: the frame itself)
            prev = by_index.get(next_frame - 1, by_index.get(next_frame + 1, cur))
            nxt = by_index.get(next_frame + 1, by_index.get(next_frame - 1, cur))
            if step is None:
                with _autocast(device):
                    result = model.detect(prev, cur, nxt)
            else:
                result = step(next_frame, prev, cur, nxt)
            shape = next(s for index, _, s in window if index == next_frame)
            yield next_frame, {k: (v.float() if v.is_floating_point() else v).cpu() for k, v in result.items()}, shape
            next_frame += 1
            while window[0][0] < next_frame - 1:
                window.popleft()

    pending: list[tuple[int, np.ndarray]] = []
    for index, image in frames:
        pending.append((index, image))
        if len(pending) == batch:
            encode(pending)
            pending = []
            yield from detect_ready(final=False)
    if pending:
        encode(pending)
    yield from detect_ready(final=True)


def _to_records(frame: int, result: dict, mask_thresh: float) -> tuple[Detections, np.ndarray]:
    """One frame's network output as Detections rows and their embeddings."""
    from dior_cli.model.config import LABEL_TO_CLASS

    labels = result["labels"].numpy()
    keep = np.isin(labels, list(LABEL_TO_CLASS))
    masks = (result["masks"][keep][:, 0] >= mask_thresh).numpy()  # (K, H, W) bool
    rles = [encode(m) for m in masks]
    class_ids = np.array([LABEL_TO_CLASS[int(label)] for label in labels[keep]], dtype=np.int64)
    dets = Detections(
        frame=np.full(len(rles), frame), class_id=class_ids, score=result["scores"][keep].numpy().astype(np.float64),
        bbox_xyxy=result["boxes"][keep].numpy().astype(np.float64).reshape(-1, 4), rles=rles,
    )
    return dets, result["embeddings"][keep].numpy().astype(np.float32)


def load_model(weights: str, device):
    """The network for ``--weights``: ``coco`` (torchvision's COCO Mask R-CNN mapped into
    DIOR, appearance untrained) or a dior checkpoint path. Returns (model, name, sha256)."""
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


def _autocast(device):
    import contextlib

    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (torchrun sets RANK / WORLD_SIZE)."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is not in 0..WORLD_SIZE-1 ({world})")
    return rank, world
