"""``dior reid``: refine finished tracks offline, re-linking tracklets by appearance.

Reads ``TRACKS/<seq>.txt`` with its link file ``TRACKS/<seq>.json`` (which detection each line
came from) and the detections ``DETS/<seq>.json`` with their embeddings ``DETS/<seq>.npy``;
writes ``REFINED/<seq>.txt`` and ``REFINED/<seq>.json`` in the same formats, every input line
once, with the same mask, under its new id. Methods: ``remots`` (the default; ReMOTS
merging with thresholds read from the data; with ``--frames``, short-term tracklets from
ReMOTS's short-term tracker, or, with ``short_term = "cut"``, the input tracks cut on
optical-flow and appearance evidence) and ``dior`` (DIOR's long-term re-ID, as
``dior track --offline-reid``).

Finished sequences are skipped unless ``overwrite``; each link file records the settings and
the sha256 of the input tracks, and a skipped sequence whose settings differ says so.
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
from dior_cli.config import ReidConfig, seconds_to_frames
from dior_cli.console import note, track_progress
from dior_cli.errors import AlignmentError, ConfigError, FormatError, InputNotFound
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.masks import iou_matrix
from dior_cli.records import MotsRows
from dior_cli.association.flow import backward_flow, check_frame_size, warp_masks
from dior_cli.reid.gates import long_term_theta_1
from dior_cli.reid.track_lines import line_embeddings, read_track_lines, write_refined
from dior_cli.association.similarity_plot import threshold_figure, write_threshold_plot
from dior_cli.reid.remots import refine_remots, track_links
from dior_cli.association.short_term import flow_pairs
from dior_cli.association.thresholds import histogram
from dior_cli.rerun import file_sha256, skipped_entry


@dataclass(frozen=True)
class ReidOptions:
    """``dior reid``'s inputs (see the CLI for their meaning)."""

    tracks: Path
    dets: Path
    out: Path | None = None
    frames: Path | None = None
    plot: bool = False
    overwrite: bool = False
    config: ReidConfig = field(default_factory=ReidConfig)


def run(options: ReidOptions) -> dict[str, Any]:
    """Refine every sequence in ``options.tracks``; return a summary document."""
    tracks_dir = Path(options.tracks)
    if not tracks_dir.is_dir():
        raise InputNotFound("tracks folder does not exist" if not tracks_dir.exists() else "is not a folder", path=tracks_dir)
    if not Path(options.dets).is_dir():
        raise InputNotFound("detections folder does not exist", path=options.dets)
    txts = sorted(tracks_dir.glob("*.txt"))
    if not txts:
        raise FormatError("holds no <seq>.txt tracks", path=tracks_dir)
    out = Path(options.out) if options.out is not None else tracks_dir.parent / "refined"
    sources = _frame_sources(options.frames, [p.stem for p in txts]) if options.frames is not None else {}
    summary: dict[str, Any] = {"schema": "dior.reid-summary/v1", "method": options.config.method, "out": str(out), "sequences": {}}
    for txt in txts:
        if not options.overwrite and (out / txt.name).is_file() and (out / f"{txt.stem}.json").is_file():
            summary["sequences"][txt.stem] = skipped_entry(out / f"{txt.stem}.json", recorded_settings(options), txt)
            continue
        summary["sequences"][txt.stem] = refine_file(txt, out, options, sources.get(txt.stem))
    return summary


def recorded_settings(options: ReidOptions) -> dict[str, Any]:
    """What shaped a sequence's refined tracks, as recorded in its link file (``producer["settings"]``)."""
    return {**{f"reid.{k}": v for k, v in dataclasses.asdict(options.config).items()},
            "frames": None if options.frames is None else str(options.frames)}


def refine_file(txt: Path, out: Path, options: ReidOptions, frames: SequenceInfo | None) -> dict[str, Any]:
    """Refine one sequence and write its outputs; return its summary."""
    start = time.perf_counter()
    links_path = txt.with_suffix(".json")
    if not links_path.is_file():
        raise InputNotFound(f"tracks need their link file {links_path.name} (written by dior track)", path=txt)
    # streamed: masks are kept only where optical flow needs them (remots with --frames)
    rows, links = read_track_lines(txt, links_path, keep_masks=frames is not None and options.config.method != "dior")
    embeddings = line_embeddings(options.dets, links, rows, txt)
    fps = links.fps
    if fps is None:
        raise FormatError("link file gives no fps (re-run dior track with --fps)", path=links_path)
    cfg = options.config
    result: dict[str, Any] = {"method": cfg.method, "lines": len(rows), "tracks_in": int(np.unique(rows.obj_id).size)}
    if cfg.method == "dior":
        theta_1, theta_1_report = long_term_theta_1(cfg, ((rows.class_id[r], embeddings[r]) for r in rows.rows_by_frame(links.num_frames)))
        new_ids, joins = link_tracklets(rows.obj_id, rows.frame, rows.class_id, embeddings,
                                        max_gap_frames=seconds_to_frames(cfg.n2_seconds, fps), min_similarity=theta_1)
        result.update({"joins": len(joins), "theta_1": theta_1, "theta_1_gate": theta_1_report, "n2_frames": seconds_to_frames(cfg.n2_seconds, fps)})
    else:
        flow_iou = pairs = None
        if frames is not None and cfg.short_term == "remots":
            source = frames.open_frames()
            pairs = flow_pairs(rows.frame, rows.rles, source, scale=cfg.flow_scale, total=len(source), description=f"{frames.name} flow",
                               sequence=txt.stem)
        elif frames is not None:
            flow_iou = link_flow_ious(rows, frames, cfg.flow_scale, sequence=txt.stem)
        elif options.frames is None:
            note(f"{txt.stem}: no --frames: the input tracks are the short-term tracklets (no short-term tracker, no optical-flow cuts)")
        new_ids, report = refine_remots(rows.frame, rows.obj_id, rows.class_id, embeddings,
                                        max_gap_frames=seconds_to_frames(cfg.theta_t_seconds, fps), sigma_k=cfg.sigma_k,
                                        link_flow_iou=flow_iou, frame_pairs=pairs, linkage=cfg.linkage)
        result.update({
            "theta_short": report.theta_short, "theta_merge": report.theta_merge,
            "theta_t_frames": seconds_to_frames(cfg.theta_t_seconds, fps),
            "short_term_tracklets": report.short_term_tracklets, "cuts_appearance": report.cuts_appearance,
            "cuts_flow": report.cuts_flow, "merges": report.merges, "flow": frames is not None,
            "short_term": report.short_term, "short_term_links": report.short_term_links, "linkage": cfg.linkage,
            "different_identity": {"n": int(report.different.size), **histogram(report.different)},
            "same_identity": {"n": int(report.same.size), **histogram(report.same)},
        })
        if options.plot:
            plot = out / f"{txt.stem}.thresholds.png"
            write_threshold_plot(plot, threshold_figure(report.different, report.same, report.theta_short, report.theta_merge, txt.stem))
            result["plot"] = str(plot)
    write_refined(txt, out / txt.name, out / f"{txt.stem}.json", links, rows, new_ids,
                  producer={"stage": "reid", "dior_version": __version__, "method": cfg.method, "input": str(txt),
                            "input_sha256": file_sha256(txt), "settings": recorded_settings(options)})
    result["tracks_out"] = int(np.unique(new_ids).size)
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def link_flow_ious(rows: MotsRows, frames: SequenceInfo, scale: float, sequence: str | None = None) -> np.ndarray:
    """For each link of :func:`track_links` between adjacent frames, the IoU of the later mask
    with the earlier mask warped by optical flow; NaN for links across a gap.

    One flow and one label-image warp per frame (:func:`dior_cli.association.flow.warp_masks`).

    Raises:
        AlignmentError: a frame is not the size of the tracks' masks.
    """
    earlier, later = track_links(rows.frame, rows.obj_id)
    ious = np.full(earlier.size, np.nan)
    adjacent = np.flatnonzero(rows.frame[later] == rows.frame[earlier] + 1)
    by_frame: dict[int, list[int]] = {}
    for k in adjacent.tolist():
        by_frame.setdefault(int(rows.frame[later[k]]), []).append(k)
    last = max(by_frame, default=-1)
    if last < 0:
        return ious
    source = frames.open_frames()
    previous = None
    for frame, image in track_progress(source, f"{frames.name} flow", total=len(source)):
        if frame in by_frame and previous is not None:
            ks = by_frame[frame]
            later_rles = [rows.rles[later[k]] for k in ks]
            check_frame_size(image.shape[:2], later_rles, sequence=sequence or frames.name, frame=frame)
            warped = warp_masks([rows.rles[earlier[k]] for k in ks], backward_flow(previous, image, scale))
            ious[ks] = [iou_matrix([w], [r])[0, 0] for w, r in zip(warped, later_rles)]
        previous = image
        if frame >= last:
            break
    return ious


def _frame_sources(path: Path, names: list[str]) -> dict[str, SequenceInfo]:
    sequences = discover_sequences(path)
    by_name = {s.name: s for s in sequences}
    if len(sequences) == 1 and len(names) == 1:
        return {names[0]: sequences[0]}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"--frames {path}: no frames for sequence(s) {', '.join(missing)} (found {', '.join(by_name) or 'none'})")
    return {n: by_name[n] for n in names}
