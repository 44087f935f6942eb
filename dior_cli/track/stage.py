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
from dior_cli.association.long_term import link_tracklets
from dior_cli.config import ReidConfig, TrackConfig, seconds_to_frames
from dior_cli.console import note, track_progress
from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.detections_json import DetectionsFile, list_detection_files, read_detections
from dior_cli.formats.embeddings import read_embeddings
from dior_cli.formats.mots_detections import list_mots_txt_files, read_mots_txt_detections
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.formats.tracks_json import TrackLinks, summarise_tracks, write_track_links
from dior_cli.masks import area, make_disjoint
from dior_cli.records import MotsRows
from dior_cli.rerun import skipped_entry
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
        settings.update({"reid.n2_seconds": options.reid.n2_seconds, "reid.theta_1": options.reid.theta_1})
    if kind == MOTS_TXT_INPUT:
        settings["frame_base"] = options.frame_base
    return settings


def _read_input(path: Path, options: TrackOptions, kind: str) -> tuple[DetectionsFile, int]:
    """The detections of one sequence and the ignore rows skipped (MOTS txt only)."""
    if kind == MOTS_TXT_INPUT:
        return read_mots_txt_detections(path, frame_base=options.frame_base, fps=options.fps)
    return read_detections(path), 0


def track_file(path: Path, txt: Path, links_path: Path, options: TrackOptions, kind: str = DETECTIONS_INPUT) -> dict[str, Any]:
    """Track one detections file (dior JSON or MOTS txt) and write its outputs; return its summary."""
    start = time.perf_counter()
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
                  "offline_reid": options.offline_reid, "input_format": kind, "input_sha256": dets.sha256,
                  "settings": recorded_settings(options, kind)},
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
        **({"ignore_rows_skipped": ignore_skipped} if kind == MOTS_TXT_INPUT else {}),
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
    and the number of masks emptied. Per-row fields are gathered as arrays, one frame's
    index array at a time (no Python object per row beyond its mask).
    """
    d = dets.detections
    kept, rles = [], []
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
        kept.append(rows[keep])
        rles.extend(m for m, k in zip(masks, keep.tolist()) if k)
    det_ids = np.concatenate(kept) if kept else np.zeros(0, np.int64)  # (L,)
    rows_out = MotsRows(frame=d.frame[det_ids], obj_id=obj_ids[det_ids], class_id=d.class_id[det_ids], rles=rles)
    return rows_out, det_ids.tolist(), moved, emptied
