"""``dior run``: the whole job in one command, through the stages' own files.

``dior run SOURCE --out RUN`` is exactly::

    dior infer SOURCE --out RUN/dets            # YOLOX-nano + box masks + OSNet by default
    dior track RUN/dets --out RUN/tracks --offline-reid
    dior render RUN/tracks --frames SOURCE --seq <seq> --out RUN/render/<seq>.mp4   # per sequence

Each stage reads the previous stage's files and writes its own folder, so any stage can be
re-run alone afterwards, and a re-run of ``dior run`` skips what is finished unless
``overwrite``. The summary gives, per sequence, the tracks, detections per frame, seconds per
stage and where the video is.

This module is an orchestrator above the stages: it calls their ``run`` functions in order and
nothing else of theirs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dior_cli.config import ReidConfig, TrackConfig
from dior_cli.console import console


@dataclass(frozen=True)
class RunOptions:
    """``dior run``'s inputs: where, plus the options each stage takes (see the CLI for meanings and defaults).

    Attributes:
        source: a video, a folder of frames or a dataset root.
        out: the run folder (``dets/``, ``tracks/``, ``render/`` inside).
        infer: ``dior_cli.infer.options.InferOptions`` fields other than ``source``, ``out`` and ``overwrite``.
        offline_reid: DIOR long-term re-ID after the online tracker (``dior track --offline-reid``).
        render: write a video per sequence.
        trail: frames of past centres drawn per track in the video.
    """

    source: Path
    out: Path
    infer: dict[str, Any] = field(default_factory=dict)
    offline_reid: bool = True
    render: bool = True
    trail: int = 10
    overwrite: bool = False
    track: TrackConfig = field(default_factory=TrackConfig)
    reid: ReidConfig = field(default_factory=ReidConfig)


def run(options: RunOptions) -> dict[str, Any]:
    """Infer, track and render every sequence of ``options.source``; return one summary."""
    from dior_cli.infer.options import InferOptions
    from dior_cli.infer.stage import run as run_infer
    from dior_cli.render import stage as render_stage
    from dior_cli.track import stage as track_stage

    dets, tracks, videos = options.out / "dets", options.out / "tracks", options.out / "render"
    _check_frame_rates(options)
    seconds: dict[str, float] = {}

    console.print("[bold]1/3 infer[/]: detect, segment, embed")
    tick = time.perf_counter()
    inferred = run_infer(InferOptions(source=options.source, out=dets, overwrite=options.overwrite, **options.infer))
    seconds["infer"] = time.perf_counter() - tick

    console.print("[bold]2/3 track[/]" + (" + long-term re-ID" if options.offline_reid else ""))
    tick = time.perf_counter()
    tracked = track_stage.run(track_stage.TrackOptions(dets=dets, out=tracks, offline_reid=options.offline_reid,
                                                       overwrite=options.overwrite, track=options.track, reid=options.reid))
    seconds["track"] = time.perf_counter() - tick

    rendered: dict[str, Any] = {}
    if options.render:
        console.print("[bold]3/3 render[/]")
        tick = time.perf_counter()
        for name in tracked["sequences"]:
            video = videos / f"{name}.mp4"
            if not options.overwrite and _finished_video(videos, name):
                rendered[name] = {"skipped": "video exists (use --overwrite)", "out": str(_finished_video(videos, name))}
                continue
            rendered[name] = render_stage.run(render_stage.RenderOptions(tracks=tracks, frames=options.source, out=video, seq=name,
                                                                         trail=options.trail))
        seconds["render"] = time.perf_counter() - tick
    return {
        "schema": "dior.run-summary/v1", "source": str(options.source), "out": str(options.out),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "sequences": {name: _sequence_summary(name, inferred, tracked, rendered) for name in inferred["sequences"]},
        "infer": inferred, "track": tracked, "render": rendered,
    }


def _check_frame_rates(options: RunOptions) -> None:
    """The tracker's durations need an fps: refuse before any work when a sequence has none and ``--fps`` is not given."""
    from dior_cli.errors import ConfigError
    from dior_cli.formats.layouts import discover_sequences

    if options.infer.get("fps") is not None:
        return
    unknown = [seq.name for seq in discover_sequences(options.source) if seq.fps is None]
    if unknown:
        raise ConfigError(f"the frame rate of {', '.join(unknown)} is unknown (a folder of images has none): pass --fps, "
                          "the frames per second the images were taken at", path=options.source)


def _finished_video(folder: Path, name: str) -> Path | None:
    """The video an earlier run wrote for ``name`` (``.mp4``, or ``.avi`` where OpenCV lacked mp4v)."""
    for suffix in (".mp4", ".avi"):
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    return None


def _sequence_summary(name: str, inferred: dict, tracked: dict, rendered: dict) -> dict[str, Any]:
    i, t, r = inferred["sequences"].get(name, {}), tracked["sequences"].get(name, {}), rendered.get(name, {})
    frames = i.get("frames")
    return {
        "frames": frames, "detections": i.get("detections"),
        "detections_per_frame": round(i["detections"] / frames, 2) if frames else None,
        "tracks": t.get("tracks"), "reid_joins": t.get("reid_joins"),
        "infer_seconds": i.get("seconds"), "infer_stage_seconds": i.get("stage_seconds"),
        "video": r.get("out"), "skipped": [stage for stage, s in (("infer", i), ("track", t), ("render", r)) if "skipped" in s],
    }
