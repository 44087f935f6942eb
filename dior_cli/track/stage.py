"""``dior track``: detections (+ embeddings) in, MOTS txt + link files out.

For every ``DETS/<seq>.json`` (with ``<seq>.npy`` when present): run the online tracker
frame by frame, optionally DIOR's long-term re-ID (``--offline-reid``), make each frame's
masks disjoint (higher score wins), and write ``TRACKS/<seq>.txt`` (frames numbered from
the detections file's ``frame_base``) and ``TRACKS/<seq>.json`` (the ``det_id`` of every
line, and every track's span).

A folder with no ``<seq>.json`` but ``<seq>.txt`` files is read as MOTS txt masks from
another tracker or segmenter (:mod:`dior_cli.formats.mots_detections`: ids dropped, scores
from an optional 7th column, else 1): masks only, no frames needed; its frames are numbered
from ``frame_base`` and its fps must be given (MOTS txt has none). The default output folder
is then ``tracks/<DETS name>/`` beside DETS, so that sets of one dataset (PointTrack's
``car/`` and ``person/``) do not meet.

Finished sequences are skipped unless ``overwrite``; the link file records the settings
and the input's sha256, and a skipped sequence whose settings differ says so.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import __version__
from dior_cli.association.long_term import StreamingLinker, link_tracklets
from dior_cli.config import ReidConfig, TrackConfig, seconds_to_frames
from dior_cli.console import note, track_progress
from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.detections_json import (DetectionsFile, DetectionStream, NotStreamable, frames_in_order,
                                              list_detection_files, read_detections)
from dior_cli.formats.embeddings import open_embedding_rows, read_embeddings
from dior_cli.formats.mots_detections import list_mots_txt_files, read_mots_txt_detections
from dior_cli.formats.mots_txt import mots_txt_writer
from dior_cli.formats.tracks_json import TrackSummary, summarise_track_arrays, track_links_writer
from dior_cli.masks import area, make_disjoint
from dior_cli.records import Detections
from dior_cli.rerun import skipped_entry
from dior_cli.track.gates import TrackGates, streamed_frames, track_gates
from dior_cli.track.tracker import OnlineTracker

MOTS_TXT_INPUT, DETECTIONS_INPUT = "mots-txt", "dior-json"


@dataclass(frozen=True)
class TrackOptions:
    """``dior track``'s inputs.

    Attributes:
        dets: folder of ``<seq>.json`` (+ ``<seq>.npy``), or of ``<seq>.txt`` MOTS txt masks.
        out: output folder; ``None`` = ``tracks/`` beside ``dets`` (MOTS txt: ``tracks/<dets name>/``).
        offline_reid: run DIOR's long-term re-ID after the online pass.
        fps: frames per second overriding the detections files' (needed when they say null,
            and for MOTS txt).
        overwrite: redo sequences whose outputs exist.
        masks_only: ignore embeddings even when present.
        retrieval: run short-term retrieval (off only for ablations).
        frame_base: number of the first frame in MOTS txt input (0 KITTI-MOTS, 1 MOTS20);
            unused for dior JSON, which records its own.
        track: tracker settings; ``reid``: re-ID settings.
    """

    dets: Path
    out: Path | None = None
    offline_reid: bool = False
    fps: float | None = None
    overwrite: bool = False
    masks_only: bool = False
    retrieval: bool = True
    frame_base: int = 0
    track: TrackConfig = field(default_factory=TrackConfig)
    reid: ReidConfig = field(default_factory=ReidConfig)


def run(options: TrackOptions) -> dict[str, Any]:
    """Track every sequence of ``options.dets``; return a summary document."""
    dets_dir = Path(options.dets)
    if not dets_dir.is_dir():
        raise InputNotFound("detections folder does not exist" if not dets_dir.exists() else "is not a folder", path=dets_dir)
    if options.fps is not None and options.fps <= 0:
        raise ConfigError(f"--fps must be positive, got {options.fps}")
    files, kind = list_detection_files(dets_dir), DETECTIONS_INPUT
    if not files:
        files, kind = list_mots_txt_files(dets_dir), MOTS_TXT_INPUT
        if not files:
            raise FormatError("holds no <seq>.json detections files (dior infer) and no <seq>.txt MOTS txt files", path=dets_dir)
        _check_mots_txt_options(dets_dir, options)
    out = Path(options.out) if options.out is not None else default_out(dets_dir, kind)
    summary: dict[str, Any] = {"schema": "dior.track-summary/v1", "out": str(out), "input": kind, "sequences": {}}
    for path in files:
        txt, links = out / f"{path.stem}.txt", out / f"{path.stem}.json"
        if not options.overwrite and txt.is_file() and links.is_file():
            summary["sequences"][path.stem] = skipped_entry(links, recorded_settings(options, kind), path)
            continue
        summary["sequences"][path.stem] = track_file(path, txt, links, options, kind)
    return summary


def default_out(dets_dir: Path, kind: str) -> Path:
    """``tracks/`` beside DETS; for MOTS txt input ``tracks/<DETS name>/`` (sets of one dataset stay apart)."""
    return dets_dir.parent / "tracks" / dets_dir.name if kind == MOTS_TXT_INPUT else dets_dir.parent / "tracks"


def _check_mots_txt_options(dets_dir: Path, options: TrackOptions) -> None:
    """MOTS txt carries no frame rate and no embeddings: refuse what needs them, before any work."""
    if options.fps is None:
        raise ConfigError(f"{dets_dir} holds MOTS txt, which gives no frame rate: pass --fps (10 for KITTI-MOTS, "
                          "seqinfo.ini's frameRate for MOTS20); it converts n1_seconds to frames")
    if options.offline_reid:
        raise ConfigError(f"{dets_dir} holds MOTS txt masks without embeddings, and --offline-reid compares appearance: "
                          "embed them first (dior infer FRAMES --detections DIR), then dior track the result")
    if options.frame_base < 0:
        raise ConfigError(f"--frame-base must be 0 or more, got {options.frame_base}")


def recorded_settings(options: TrackOptions, kind: str) -> dict[str, Any]:
    """What shaped a sequence's tracks, as recorded in its link file (``producer["settings"]``)."""
    settings: dict[str, Any] = {"masks_only": options.masks_only, "offline_reid": options.offline_reid, "fps": options.fps,
                                "retrieval": options.retrieval, **{f"track.{k}": v for k, v in dataclasses.asdict(options.track).items()}}
    if options.offline_reid:
        settings.update({"reid.n2_seconds": options.reid.n2_seconds, "reid.theta_1": options.reid.theta_1,
                         "reid.theta_1_gate": options.reid.theta_1_gate, "reid.theta_1_sigma": options.reid.theta_1_sigma})
    if kind == MOTS_TXT_INPUT:
        settings["frame_base"] = options.frame_base
    return settings


def _read_input(path: Path, options: TrackOptions, kind: str) -> tuple[DetectionsFile, int]:
    """The detections of one sequence and the ignore rows skipped (MOTS txt only)."""
    if kind == MOTS_TXT_INPUT:
        return read_mots_txt_detections(path, frame_base=options.frame_base, fps=options.fps)
    return read_detections(path), 0


def track_file(path: Path, txt: Path, links_path: Path, options: TrackOptions, kind: str = DETECTIONS_INPUT) -> dict[str, Any]:
    """Track one detections file (dior JSON or MOTS txt) and write its outputs; return its summary.

    A dior JSON in dior's own layout (one detection per line, frames in order) is streamed: read
    twice, a batch of lines at a time (tracking, then writing), with embeddings read by row range;
    memory holds the live tracks and per-tracklet summaries, not the sequence. Any other input is
    read whole. Both give the same bytes.
    """
    start = time.perf_counter()
    if kind == DETECTIONS_INPUT:
        try:
            return _track_streamed(path, txt, links_path, options, start)
        except NotStreamable:
            pass  # another layout, or rows not in frame order: read it whole
    dets, ignore_skipped = _read_input(path, options, kind)
    fps = options.fps if options.fps is not None else dets.fps
    if fps is None:
        raise ConfigError(f"{path}: the detections file gives no fps; pass --fps")
    embeddings = None
    npy = path.with_suffix(".npy")
    if kind == DETECTIONS_INPUT and not options.masks_only:  # MOTS txt: masks only, by construction
        if npy.is_file():
            loaded = read_embeddings(npy, dets, path)
            for text in loaded.notes:
                note(text)
            embeddings = loaded.vectors
        else:
            note(f"{path.stem}: no {npy.name}; tracking on masks alone (cost 1 - IoM)")
    if options.offline_reid and embeddings is None:
        raise ConfigError(f"{path}: --offline-reid compares appearance and needs embeddings ({npy.name})")
    d = dets.detections
    gates = track_gates(options.track, options.reid, None if embeddings is None else  # appearance gates (issue 15)
                        ((d.class_id[r], embeddings[r]) for r in d.rows_by_frame(dets.num_frames)), options.offline_reid)
    obj_ids, tracker = associate(dets, embeddings, fps, options, gates)
    joins = []
    if options.offline_reid:
        obj_ids, joins = link_tracklets(
            obj_ids, d.frame, d.class_id, embeddings,
            max_gap_frames=seconds_to_frames(options.reid.n2_seconds, fps), min_similarity=gates.theta_1,
        )
    written = _write_outputs(txt, links_path, ((rows, d[rows], obj_ids[rows]) for rows in d.rows_by_frame(dets.num_frames)),
                             dets.sequence, path.name, dets.sha256, dets.frame_base, dets.num_frames, fps,
                             {**_producer(options, kind, embeddings is not None, dets.sha256), "appearance_gates": gates.report})
    return _summary(len(d), written, embeddings is not None, tracker, joins, dets.num_frames, fps, start,
                    {"appearance_gates": gates.report, **({"ignore_rows_skipped": ignore_skipped} if kind == MOTS_TXT_INPUT else {})})


def _track_streamed(path: Path, txt: Path, links_path: Path, options: TrackOptions, start: float) -> dict[str, Any]:
    """:func:`track_file` for a dior JSON read as a stream (raises ``NotStreamable`` otherwise, before writing anything)."""
    stream = DetectionStream(path)
    head = stream.header
    fps = options.fps if options.fps is not None else head["fps"]
    if fps is None:
        raise ConfigError(f"{path}: the detections file gives no fps; pass --fps")
    embeddings = None
    npy = path.with_suffix(".npy")
    if not options.masks_only:
        if npy.is_file():
            embeddings = open_embedding_rows(npy, path)
            for text in embeddings.notes:
                note(text)
        else:
            note(f"{path.stem}: no {npy.name}; tracking on masks alone (cost 1 - IoM)")
    if options.offline_reid and embeddings is None:
        raise ConfigError(f"{path}: --offline-reid compares appearance and needs embeddings ({npy.name})")
    gates = track_gates(options.track, options.reid, None if embeddings is None else streamed_frames(path, head["num_frames"], embeddings),
                        options.offline_reid)  # appearance gates (issue 15)
    tracker = make_tracker(options, fps, embeddings is not None, gates)
    linker = StreamingLinker(max_gap_frames=seconds_to_frames(options.reid.n2_seconds, fps), min_similarity=gates.theta_1,
                             dim=embeddings.shape[1]) if options.offline_reid else None
    pieces = []  # (K,) online ids of each frame, in det_id order
    usable = True  # False once a frame's rows run past the embeddings' rows (reported after the whole file is checked)
    frames = frames_in_order(stream.blocks(), head["num_frames"])
    for frame, first, frame_dets in track_progress(frames, head["sequence"], total=head["num_frames"], unit="frames"):
        rows = slice(first, first + len(frame_dets))
        usable = usable and (embeddings is None or rows.stop <= embeddings.shape[0])
        if len(pieces) >= 1024:  # one array, not an object per frame
            pieces = [np.concatenate(pieces)]
        if not usable:
            pieces.append(np.zeros(len(frame_dets), np.int64))
            continue
        vectors = None if embeddings is None else embeddings[rows]  # (K, D)
        ids = _step(tracker, frame, frame_dets, vectors)
        pieces.append(ids)
        if linker is not None:
            linker.add(frame, ids, frame_dets.class_id, vectors)
            linker.end_all_but(tracker.live_obj_ids())
    tracker.finish()
    if embeddings is not None:
        embeddings.check_against(stream.rows, stream.sha256, path)
    obj_ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)  # (N,)
    joins = []
    if linker is not None:
        mapping, joins = linker.finish()
        if mapping:  # each id to its chain's first
            unique, inverse = np.unique(obj_ids, return_inverse=True)
            obj_ids = np.array([mapping.get(u, u) for u in unique.tolist()], dtype=np.int64)[inverse.reshape(-1)]
    second = DetectionStream(path, check_rles=False)  # already checked; the sha256 below proves it is the same file
    frames = ((np.arange(first, first + len(fd)), fd, obj_ids[first : first + len(fd)])
              for _, first, fd in frames_in_order(second.blocks(), head["num_frames"]))

    def unchanged() -> None:
        if second.sha256 != stream.sha256:
            raise FormatError("changed while dior track was reading it; run dior track again", path=path)

    written = _write_outputs(txt, links_path, frames, head["sequence"], path.name, stream.sha256, head["frame_base"],
                             head["num_frames"], fps, {**_producer(options, DETECTIONS_INPUT, embeddings is not None, stream.sha256), "appearance_gates": gates.report},
                             before_rename=unchanged)
    return _summary(stream.rows, written, embeddings is not None, tracker, joins, head["num_frames"], fps, start, {"appearance_gates": gates.report})


def associate(dets: DetectionsFile, embeddings: np.ndarray | None, fps: float, options: TrackOptions,
              gates: TrackGates | None = None) -> tuple[np.ndarray, OnlineTracker]:
    """Run the online tracker over a sequence held in memory; ``(N,)`` object id per detection (0 = none).

    ``gates``: the sequence's appearance gates (:func:`dior_cli.track.gates.track_gates`); None reads
    them from ``embeddings`` as :func:`track_file` does.
    """
    d = dets.detections
    by_frame = d.rows_by_frame(dets.num_frames)
    if gates is None:
        gates = track_gates(options.track, options.reid, None if embeddings is None else
                            ((d.class_id[r], embeddings[r]) for r in by_frame), options.offline_reid)
    tracker = make_tracker(options, fps, embeddings is not None, gates)
    obj_ids = np.zeros(len(d), dtype=np.int64)
    for frame, rows in track_progress(list(enumerate(by_frame)), dets.sequence, unit="frames"):
        obj_ids[rows] = _step(tracker, frame, d[rows], None if embeddings is None else embeddings[rows])
    tracker.finish()
    return obj_ids, tracker


def make_tracker(options: TrackOptions, fps: float, use_appearance: bool, gates: TrackGates) -> OnlineTracker:
    """The online tracker of ``options.track`` at ``fps``, with the sequence's appearance ``gates``."""
    cfg = options.track
    return OnlineTracker(
        n1_frames=seconds_to_frames(cfg.n1_seconds, fps), stack_first=cfg.stack_first, stack_recent=cfg.stack_recent,
        match_min_iom=cfg.match_min_iom, match_min_similarity=cfg.match_min_similarity, match_max_cost=gates.match_max_cost,
        retrieval_min_similarity=gates.retrieval_min_similarity, retrieval_min_iom=cfg.retrieval_min_iom,
        new_track_score=cfg.new_track_score, use_appearance=use_appearance, use_retrieval=options.retrieval,
    )


def _step(tracker: OnlineTracker, frame: int, dets: Detections, vectors: np.ndarray | None) -> np.ndarray:
    """One frame through the tracker: ``(K,)`` object ids (0 = none)."""
    if len(dets) == 0:
        return tracker.step(frame, [], np.zeros(0, np.int64), np.zeros(0), None if vectors is None else vectors[:0])
    return tracker.step(frame, list(dets.rles), dets.class_id, dets.score, vectors)


def _write_outputs(txt: Path, links_path: Path, frames, sequence: str, detections_file: str, sha256: str | None, frame_base: int,
                   num_frames: int, fps: float, producer: dict, before_rename=None) -> dict[str, int]:
    """Write the MOTS txt and the link file from ``(det_ids (K,), Detections, final ids (K,))`` per frame, in frame order.

    A frame's tracked masks, by increasing id, are made disjoint (higher score keeps shared
    pixels); a mask left empty is not written. Both files are streamed and atomic.
    """
    moved = emptied = lines = 0
    tracks: dict[int, list[int]] = {}  # id -> [class of its first line, first frame, last frame, lines]
    with track_links_writer(links_path, sequence=sequence, detections_file=detections_file, detections_sha256=sha256,
                            frame_base=frame_base, num_frames=num_frames, fps=fps) as links:
        with mots_txt_writer(txt, frame_base) as write:
            for det_ids, dets, ids in frames:
                keep = np.flatnonzero(ids > 0)
                if keep.size == 0:
                    continue
                keep = keep[np.argsort(ids[keep], kind="stable")]
                masks, n = make_disjoint([dets.rles[i] for i in keep], dets.score[keep])
                moved += n
                nonempty = area(masks) > 0 if n else np.ones(keep.size, bool)
                emptied += int((~nonempty).sum())
                keep = keep[nonempty]
                masks = [m for m, k in zip(masks, nonempty.tolist()) if k]
                write(dets.frame[keep], ids[keep], dets.class_id[keep], masks)
                links.add_lines(det_ids[keep])
                lines += keep.size
                for part in summarise_track_arrays(dets.frame[keep], ids[keep], dets.class_id[keep]):  # frames come in order
                    entry = tracks.get(part.obj_id)
                    if entry is None:
                        tracks[part.obj_id] = [part.class_id, part.first_frame, part.last_frame, part.num_detections]
                    else:
                        entry[2], entry[3] = part.last_frame, entry[3] + part.num_detections
            if before_rename is not None:
                before_rename()
        summaries = [TrackSummary(obj_id=o, class_id=c, first_frame=a, last_frame=b, num_detections=k)
                     for o, (c, a, b, k) in sorted(tracks.items())]
        links.finish(summaries, producer)
    return {"lines": lines, "tracks": len(summaries), "moved": moved, "emptied": emptied}


def _producer(options: TrackOptions, kind: str, appearance: bool, sha256: str | None) -> dict[str, Any]:
    return {"stage": "track", "dior_version": __version__, "appearance": appearance, "offline_reid": options.offline_reid,
            "input_format": kind, "input_sha256": sha256, "settings": recorded_settings(options, kind)}


def _summary(detections: int, written: dict, appearance: bool, tracker: OnlineTracker, joins: list, frames: int, fps: float,
             start: float, extra: dict) -> dict[str, Any]:
    return {
        "detections": detections,
        "tracked_detections": written["lines"],
        "tracks": written["tracks"],
        "appearance": appearance,
        "retrieved": tracker.retrieved,
        "reid_joins": len(joins),
        "overlap_pixels_moved": written["moved"],
        "masks_emptied_by_overlap": written["emptied"],
        "frames": frames,
        "fps": fps,
        **extra,
        "seconds": round(time.perf_counter() - start, 3),
    }
