"""``dior track``: detections (+ embeddings) in, MOTS txt + link files out.

For every ``DETS/<seq>.json`` (with ``<seq>.npy`` when present): run the online tracker
frame by frame, optionally DIOR's long-term re-ID (``--offline-reid``), make each frame's
masks disjoint (higher score wins), and write ``TRACKS/<seq>.txt`` (frames numbered from
the detections file's ``frame_base``) and ``TRACKS/<seq>.json`` (the ``det_id`` of every
line, and every track's span). Finished sequences are skipped unless ``overwrite``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import __version__
from dior_cli.config import ReidConfig, TrackConfig, seconds_to_frames
from dior_cli.console import note, track_progress
from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.detections_json import DetectionsFile, list_detection_files, read_detections
from dior_cli.formats.embeddings import read_embeddings
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.formats.tracks_json import TrackLinks, summarise_tracks, write_track_links
from dior_cli.masks import area, make_disjoint
from dior_cli.records import MotsRows
from dior_cli.reid.long_term import link_tracklets
from dior_cli.track.tracker import OnlineTracker


@dataclass(frozen=True)
class TrackOptions:
    """``dior track``'s inputs.

    Attributes:
        dets: folder of ``<seq>.json`` (+ ``<seq>.npy``).
        out: output folder; ``None`` = ``tracks/`` beside ``dets``.
        offline_reid: run DIOR's long-term re-ID after the online pass.
        fps: frames per second overriding the detections files' (needed when they say null).
        overwrite: redo sequences whose outputs exist.
        masks_only: ignore embeddings even when present.
        retrieval: run short-term retrieval (off only for ablations).
        track: tracker settings; ``reid``: re-ID settings.
    """

    dets: Path
    out: Path | None = None
    offline_reid: bool = False
    fps: float | None = None
    overwrite: bool = False
    masks_only: bool = False
    retrieval: bool = True
    track: TrackConfig = field(default_factory=TrackConfig)
    reid: ReidConfig = field(default_factory=ReidConfig)


def run(options: TrackOptions) -> dict[str, Any]:
    """Track every sequence of ``options.dets``; return a summary document."""
    dets_dir = Path(options.dets)
    if not dets_dir.is_dir():
        raise InputNotFound("detections folder does not exist" if not dets_dir.exists() else "is not a folder", path=dets_dir)
    files = list_detection_files(dets_dir)
    if not files:
        raise FormatError("holds no <seq>.json detections files", path=dets_dir)
    out = Path(options.out) if options.out is not None else dets_dir.parent / "tracks"
    if options.fps is not None and options.fps <= 0:
        raise ConfigError(f"--fps must be positive, got {options.fps}")
    summary: dict[str, Any] = {"schema": "dior.track-summary/v1", "out": str(out), "sequences": {}}
    for path in files:
        txt, links = out / f"{path.stem}.txt", out / f"{path.stem}.json"
        if not options.overwrite and txt.is_file() and links.is_file():
            summary["sequences"][path.stem] = {"skipped": "outputs exist (use --overwrite)"}
            continue
        summary["sequences"][path.stem] = track_file(path, txt, links, options)
    return summary


def track_file(path: Path, txt: Path, links_path: Path, options: TrackOptions) -> dict[str, Any]:
    """Track one detections file and write its outputs; return its summary."""
    start = time.perf_counter()
    dets = read_detections(path)
    fps = options.fps if options.fps is not None else dets.fps
    if fps is None:
        raise ConfigError(f"{path}: the detections file gives no fps; pass --fps")
    embeddings = None
    npy = path.with_suffix(".npy")
    if npy.is_file() and not options.masks_only:
        loaded = read_embeddings(npy, dets, path)
        for text in loaded.notes:
            note(text)
        embeddings = loaded.vectors
    elif not options.masks_only:
        note(f"{path.stem}: no {npy.name}; tracking on masks alone (cost 1 - IoM)")
    if options.offline_reid and embeddings is None:
        raise ConfigError(f"{path}: --offline-reid compares appearance and needs embeddings ({npy.name})")
    obj_ids, tracker = associate(dets, embeddings, fps, options)
    joins = []
    if options.offline_reid:
        d = dets.detections
        obj_ids, joins = link_tracklets(
            obj_ids, d.frame, d.class_id, embeddings,
            max_gap_frames=seconds_to_frames(options.reid.n2_seconds, fps), min_similarity=options.reid.theta_1,
        )
    rows, line_det_ids, moved, emptied = tracks_to_rows(dets, obj_ids)
    write_mots_txt(txt, rows, dets.frame_base)
    tracks = summarise_tracks(rows)
    write_track_links(links_path, TrackLinks(
        sequence=dets.sequence, detections_file=path.name, detections_sha256=dets.sha256, frame_base=dets.frame_base,
        num_frames=dets.num_frames, fps=fps, lines=line_det_ids, tracks=tracks,
        producer={"stage": "track", "dior_version": __version__, "appearance": embeddings is not None,
                  "offline_reid": options.offline_reid},
    ))
    return {
        "detections": len(dets.detections),
        "tracked_detections": len(line_det_ids),
        "tracks": len(tracks),
        "appearance": embeddings is not None,
        "retrieved": tracker.retrieved,
        "reid_joins": len(joins),
        "overlap_pixels_moved": moved,
        "masks_emptied_by_overlap": emptied,
        "frames": dets.num_frames,
        "fps": fps,
        "seconds": round(time.perf_counter() - start, 3),
    }


def associate(dets: DetectionsFile, embeddings: np.ndarray | None, fps: float, options: TrackOptions) -> tuple[np.ndarray, OnlineTracker]:
    """Run the online tracker over the sequence; ``(N,)`` object id per detection (0 = none)."""
    cfg = options.track
    tracker = OnlineTracker(
        n1_frames=seconds_to_frames(cfg.n1_seconds, fps), stack_first=cfg.stack_first, stack_recent=cfg.stack_recent,
        match_min_iom=cfg.match_min_iom, match_min_similarity=cfg.match_min_similarity, match_max_cost=cfg.match_max_cost,
        retrieval_min_similarity=cfg.retrieval_min_similarity, retrieval_min_iom=cfg.retrieval_min_iom,
        new_track_score=cfg.new_track_score, use_appearance=embeddings is not None, use_retrieval=options.retrieval,
    )
    d = dets.detections
    obj_ids = np.zeros(len(d), dtype=np.int64)
    for frame, rows in track_progress(list(enumerate(d.rows_by_frame(dets.num_frames))), dets.sequence, unit="frames"):
        if rows.size == 0:
            tracker.step(frame, [], np.zeros(0, np.int64), np.zeros(0), None if embeddings is None else embeddings[:0])
            continue
        obj_ids[rows] = tracker.step(frame, [d.rles[i] for i in rows], d.class_id[rows], d.score[rows],
                                     None if embeddings is None else embeddings[rows])
    tracker.finish()
    return obj_ids, tracker


def tracks_to_rows(dets: DetectionsFile, obj_ids: np.ndarray) -> tuple[MotsRows, list[int], int, int]:
    """MOTS rows of the tracked detections, frame by frame, ids increasing within a frame.

    Masks of a frame are made disjoint (higher score keeps shared pixels); a mask left
    empty is not written. Returns the rows, the ``det_id`` of each row, the pixels moved
    and the number of masks emptied.
    """
    d = dets.detections
    frames, ids, classes, rles, det_ids = [], [], [], [], []
    moved = emptied = 0
    for rows in d.rows_by_frame(dets.num_frames):
        rows = rows[obj_ids[rows] > 0]
        if rows.size == 0:
            continue
        rows = rows[np.argsort(obj_ids[rows], kind="stable")]
        masks, n = make_disjoint([d.rles[i] for i in rows], d.score[rows])
        moved += n
        keep = area(masks) > 0 if n else np.ones(rows.size, bool)
        emptied += int((~keep).sum())
        for k in np.flatnonzero(keep):
            i = rows[k]
            frames.append(int(d.frame[i]))
            ids.append(int(obj_ids[i]))
            classes.append(int(d.class_id[i]))
            rles.append(masks[k])
            det_ids.append(int(i))
    return MotsRows(frame=frames, obj_id=ids, class_id=classes, rles=rles), det_ids, moved, emptied
