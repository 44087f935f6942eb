"""``dior infer --detections``: embed detections made elsewhere instead of detecting.

For every sequence of the source (split by rank under torchrun, as the network path):

1. read the sequence's detections from each set (``formats.external_detections``: MOTS txt,
   KITTI-MOTS PNGs, dior JSON or MOTChallenge boxes, frames checked against the source's frames);
2. drop detections scoring below ``--score-thresh`` when it is given;
3. fuse the sets frame by frame (``fusion``: IoM-NMS per class, then pixel-disjoint masks,
   higher score wins; a single set goes through the same steps);
4. keep the ``--max-dets`` best of each frame when it is given;
5. stream the frames; detections that came as boxes (MOT box files; fused on their filled boxes)
   get masks from the frame by the box -> mask step (``box_to_mask``, the method per class
   recorded in ``mask_source``), and the frame's masks are made pixel-disjoint again, higher
   score winning (a box mask left empty is dropped and counted); then every detection is
   embedded with the chosen encoder:
   ``osnet`` (the default: OSNet x0.25 on the box crop of the frame, no training needed) or
   ``dior`` (the DIOR embedding head on F_tem with the given mask as its spatial attention);
6. append each frame's detections and embedding rows to ``DETS/<seq>.json`` + ``DETS/<seq>.npy``
   as the frames go (``formats.sequence_outputs``: atomic, and a sequence interrupted half-way
   is redone); ``producer`` records the encoder, its weights, every detections file with its
   format and sha256, and the fusion settings.

The given detections themselves are read and fused whole before the frames stream (they are
the input); what is produced per frame is never gathered.

Nothing is filtered silently: class-10 ignore rows, detections below the score threshold,
suppressed, emptied and capped detections are all counted in the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dior_cli import __version__
from dior_cli.console import note, track_progress
from dior_cli.errors import ConfigError, FormatError
from dior_cli.formats.external_detections import MOT_BOXES, DetectionSource, ExternalDetections, locate, read_external_detections
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.formats.sequence_outputs import SequenceOutputs, skip_finished
from dior_cli.fusion import DEFAULT_IOM_THRESH, fuse_sets
from dior_cli.records import Detections
from dior_cli.infer.encoders import load_encoder
from dior_cli.runtime import rank_and_world

if TYPE_CHECKING:
    from dior_cli.infer.options import InferOptions

ENCODERS = ("osnet", "dior")
DEFAULT_ENCODER = "osnet"


def run_given(options: InferOptions) -> dict[str, Any]:
    """Fuse and embed the given detections of every sequence this process handles.

    Files are located for every sequence, and each sequence's detections are read and fused,
    before torch and the encoder are loaded: bad input fails fast.
    """
    encoder_name, iom_thresh = _check_options(options)
    sequences = [s for s in discover_sequences(options.source) if s.frames_path is not None or s.layout == "video"]
    if not sequences:
        raise FormatError("holds no sequence with frames", path=options.source)
    single = len(sequences) == 1
    # Every set must cover every sequence: find all files before any work starts.
    sources = {seq.name: [locate(d, seq.name, single_sequence=single) for d in options.detections] for seq in sequences}
    rank, world = rank_and_world()
    summary: dict[str, Any] = {"schema": "dior.infer-summary/v1", "out": str(options.out), "device": None,
                               "encoder": encoder_name, "weights": None, "rank": rank, "world_size": world,
                               "detections": [str(d) for d in options.detections], "sequences": {}}
    encoder = None
    for seq in sequences[rank::world]:
        json_path, npy_path = options.out / f"{seq.name}.json", options.out / f"{seq.name}.npy"
        if skip_finished(json_path, npy_path, options.overwrite):
            summary["sequences"][seq.name] = {"skipped": "outputs exist (use --overwrite)"}
            continue
        prepared = prepare_sequence(seq, sources[seq.name], options, iom_thresh)
        if encoder is None:  # the first sequence to embed loads torch and the encoder
            from dior_cli.devices import pick_device

            device = pick_device(options.device)
            encoder = load_encoder(encoder_name, options.weights, device, options.batch)
            summary.update(device=str(device), weights=encoder.weights)
        summary["sequences"][seq.name] = embed_and_write(prepared, encoder, json_path, npy_path)
    return summary


def _check_options(options: InferOptions) -> tuple[str, float]:
    encoder = options.encoder or DEFAULT_ENCODER
    if encoder not in ENCODERS:
        raise ConfigError(f"--encoder must be one of {', '.join(ENCODERS)}, not {encoder!r}")
    if encoder == "dior" and options.weights is None:
        raise ConfigError("--encoder dior needs --weights: a dior checkpoint .pt, or coco (torchvision's COCO weights; "
                          "their embedding head is untrained, so appearance is random)")
    iom_thresh = DEFAULT_IOM_THRESH if options.fusion_iom is None else options.fusion_iom
    if not 0.0 <= iom_thresh <= 1.0:
        raise ConfigError(f"--fusion-iom must be in [0, 1] (1 turns NMS off), got {iom_thresh}")
    if options.frame_base is not None and options.frame_base < 0:
        raise ConfigError(f"--frame-base must be 0 or more, got {options.frame_base}")
    if options.score_thresh is not None and not 0.0 <= options.score_thresh <= 1.0:
        raise ConfigError(f"--score-thresh must be in [0, 1], got {options.score_thresh}")
    if options.max_dets is not None and options.max_dets < 1:
        raise ConfigError(f"--max-dets must be at least 1, got {options.max_dets}")
    if options.batch < 1:
        raise ConfigError(f"--batch must be at least 1, got {options.batch}")
    return encoder, iom_thresh


@dataclass(frozen=True, eq=False)
class PreparedSequence:
    """One sequence's given detections, read and fused, ready to embed."""

    seq: SequenceInfo
    frames: Any  # the source's frame stream (ImageFolderSource or VideoSource)
    num_frames: int
    sets: list[ExternalDetections]
    fused: Detections
    counts: dict[str, Any]
    settings: dict[str, Any]
    start: float
    fps: float | None = None


def prepare_sequence(seq: SequenceInfo, sources: list[DetectionSource], options: InferOptions, iom_thresh: float) -> PreparedSequence:
    """Read every set's detections of ``seq``, apply ``--score-thresh``, fuse, apply ``--max-dets``."""
    start = time.perf_counter()
    frames = seq.open_frames()
    num_frames = len(frames)
    if num_frames == 0:
        raise FormatError("sequence has no frames", path=seq.frames_path, sequence=seq.name)
    frame_base = seq.frame_base if options.frame_base is None else options.frame_base
    image_size = seq.image_size
    if image_size is None and any(source.kind == MOT_BOXES for source in sources):
        image_size = tuple(frames.read(0).shape[:2])  # boxes are clipped and rasterised at the frames' size
    sets = [read_external_detections(source, sequence=seq.name, num_frames=num_frames, image_size=image_size,
                                     frame_base=options.frame_base if source.kind == MOT_BOXES else frame_base, set_index=k)
            for k, source in enumerate(sources)]
    for s in sets:
        if s.note:
            note(s.note)
    inputs = [s.detections for s in sets]
    below = 0
    if options.score_thresh is not None:
        below = sum(int((d.score < options.score_thresh).sum()) for d in inputs)
        inputs = [d[d.score >= options.score_thresh] for d in inputs]
    fused, counts = fuse_sets(inputs, num_frames, iom_thresh=iom_thresh)
    capped = 0
    if options.max_dets is not None:
        fused, capped = _cap_per_frame(fused, num_frames, options.max_dets)
    ignored = sum(s.ignore_skipped for s in sets)
    if ignored:
        note(f"{seq.name}: skipped {ignored} ignore-region row(s) (class 10) of the given detections: they are not detections")
    summary_counts = {"per_set": [len(s.detections) for s in sets], "ignore_skipped": ignored, "below_score": below,
                      **counts.as_dict(), "over_max_dets": capped}
    settings = {"iom_thresh": iom_thresh, "nms": "per class", "score_thresh": options.score_thresh, "max_dets": options.max_dets}
    return PreparedSequence(seq, frames, num_frames, sets, fused, summary_counts, settings, start, options.fps_for(seq))


def embed_and_write(prepared: PreparedSequence, encoder, json_path: Path, npy_path: Path) -> dict[str, Any]:
    """Stream the frames, embed every fused detection, append each frame's rows to ``<seq>.json`` +
    ``<seq>.npy``; return the sequence's summary."""
    seq, fused, num_frames = prepared.seq, prepared.fused, prepared.num_frames
    image_size = seq.image_size or next((tuple(r["size"]) for s in prepared.sets for r in s.detections.rles), None)
    frames = track_progress(_checked_frames(prepared.frames, image_size, seq), seq.name, total=num_frames)
    boxed = _box_rows(prepared)
    masked = None
    if boxed.size:
        masked = BoxMasking(fused, boxed, num_frames)
        frames = masked.stream(frames)
    producer = {
        "dior_version": __version__, "encoder": encoder.name, "weights": encoder.weights, "weights_sha256": encoder.weights_sha256,
        "detections": [{"path": str(s.source.path), "format": s.source.kind, "sha256": s.sha256, "frame_base": s.frame_base} for s in prepared.sets],
        "fusion": prepared.settings,
    }
    with SequenceOutputs(json_path, npy_path, encoder.dim) as out:
        for rows, vectors in encoder.embed_frames(frames, fused, num_frames):
            dets = fused[rows] if masked is None else masked.rows_of(rows)
            if masked is not None:
                dets, vectors = masked.drop_emptied(dets, vectors)
            out.append(dets, vectors)
        if image_size is None:
            image_size = prepared.frames.image_size  # an image folder knows its size once a frame is read
        out.finish(sequence=seq.name, image_size=tuple(image_size), num_frames=num_frames, fps=prepared.fps,
                   frame_base=seq.frame_base, producer=producer)
        rows_written = out.rows
    if masked is not None:
        prepared.counts["box_masks_emptied"] = masked.emptied
        prepared.counts["mask_sources"] = masked.methods_used
    seconds = time.perf_counter() - prepared.start
    return {
        "frames": num_frames, "detections": rows_written, "seconds": round(seconds, 2),
        "frames_per_second": round(num_frames / seconds, 2) if seconds > 0 else None, "fusion": prepared.counts,
    }


def _box_rows(prepared: PreparedSequence) -> np.ndarray:
    """Rows of the fused detections that came from a MOT box set (their masks are still filled boxes)."""
    from_boxes = {k for k, s in enumerate(prepared.sets) if s.masks_from_boxes}
    return np.array([i for i, extra in enumerate(prepared.fused.extras) if extra.get("origin", {}).get("set") in from_boxes],
                    dtype=np.int64)


class BoxMasking:
    """Gives the box rows of one sequence's fused detections masks from their frames, as the frames stream by.

    Per frame, the box rows' masks come from ``box_to_mask.BoxMasker`` (its default method per
    class); then all the frame's masks (box rows and rows that came with masks) are made
    pixel-disjoint, the higher score winning. Rows whose mask is left empty are removed by
    ``drop_emptied`` (with their embedding rows) and counted.
    """

    def __init__(self, dets: Detections, box_rows: np.ndarray, num_frames: int) -> None:
        from dior_cli.box_to_mask import BoxMasker

        self.dets = dets
        self.rles = list(dets.rles)
        self.extras = [dict(e) for e in dets.extras]
        self.is_box = np.zeros(len(dets), dtype=bool)
        self.is_box[box_rows] = True
        self.by_frame = dets.rows_by_frame(num_frames)
        self.masker = BoxMasker()
        self.methods_used: dict[str, int] = {}
        self.emptied = 0  # rows dropped by drop_emptied

    def stream(self, frames):
        """Pass ``(frame, image)`` pairs through, masking that frame's box rows on the way."""
        from dior_cli.masks import make_disjoint

        for frame, image in frames:
            rows = self.by_frame[frame]
            boxes = rows[self.is_box[rows]]
            made = self.masker.masks_for_frame(image, self.dets.bbox_xyxy[boxes], self.dets.class_id[boxes], self.dets.score[boxes])
            for row, rle, method in zip(boxes, made.rles, made.methods):
                self.rles[row] = rle
                self.extras[row]["mask_source"] = method
                self.methods_used[method] = self.methods_used.get(method, 0) + 1
            if len(rows) > len(boxes):  # masks of other sets share the frame: one disjoint pass over all of them
                disjoint, _moved = make_disjoint([self.rles[r] for r in rows], priority=self.dets.score[rows])
                for row, rle in zip(rows, disjoint):
                    self.rles[row] = rle
            yield frame, image

    def rows_of(self, rows: np.ndarray) -> Detections:
        """The detections ``rows`` (of frames already streamed) with their new masks and ``mask_source``."""
        return Detections(frame=self.dets.frame[rows], class_id=self.dets.class_id[rows], score=self.dets.score[rows],
                          bbox_xyxy=self.dets.bbox_xyxy[rows].reshape(-1, 4), rles=[self.rles[i] for i in rows],
                          extras=tuple(self.extras[i] for i in rows))

    def drop_emptied(self, dets: Detections, vectors: np.ndarray) -> tuple[Detections, np.ndarray]:
        """``dets`` and their embedding rows without the detections whose mask was left empty (counted in ``emptied``)."""
        from dior_cli.masks import area

        keep = np.flatnonzero(area(list(dets.rles)) > 0)
        self.emptied += len(dets) - len(keep)
        return dets[keep], vectors[keep]


def _cap_per_frame(dets: Detections, num_frames: int, max_dets: int) -> tuple[Detections, int]:
    """Keep the ``max_dets`` highest-scoring detections of each frame (rows already in decreasing score per frame)."""
    keep = np.concatenate([rows[np.argsort(-dets.score[rows], kind="stable")[:max_dets]] for rows in dets.rows_by_frame(num_frames)] or [np.zeros(0, np.int64)])
    keep = np.sort(keep)
    return dets[keep], len(dets) - len(keep)


def _checked_frames(frames, image_size: tuple[int, int] | None, seq: SequenceInfo):
    """The source's ``(frame, image)`` pairs, each checked against the detections' image size."""
    for frame, image in frames:
        if image_size is not None and image.shape[:2] != tuple(image_size):
            raise FormatError(f"frame is {image.shape[0]}x{image.shape[1]}, the given detections' masks are {image_size[0]}x{image_size[1]}",
                              path=seq.frames_path, sequence=seq.name, frame=frame)
        yield frame, image
