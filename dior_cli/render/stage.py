"""``dior render``: tracks drawn on their frames, as a video or PNG frames.

Each track's mask is blended in its own colour (:func:`dior_cli.render.colours.track_colour`,
stable per id), outlined, and labelled ``<obj_id> <class>`` at the mask's top; ``trail``
draws the centres of its last frames. Ignore regions (class 10) are hatched grey.

With ground truth, the frames show the evaluation instead (the matching of ``dior evaluate``,
see :mod:`dior_cli.render.errors_view`): true positives filled in their track colour, false
positives outlined red, missed ground truth outlined yellow, ID switches outlined orange and
labelled on the frame they happen, predictions removed inside ignore regions outlined grey,
and under each frame a strip counting this frame's and the running TP, FP, misses and IDSW.

Frames are streamed: one decoded frame and its masks are in memory at a time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli.console import note, track_progress
from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.eval_layouts import discover_ground_truth, read_annotation_rows
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.masks import bbox_xyxy, decode
from dior_cli.records import CAR, IGNORE, PEDESTRIAN, MotsRows
from dior_cli.render import colours, draw
from dior_cli.render.errors_view import FrameErrors, frame_errors
from dior_cli.render.writer import PngWriter, VideoWriter

CLASS_NAMES = {CAR: "car", PEDESTRIAN: "ped", IGNORE: "ignore"}
BENCHMARK_CLASS_IDS = {"kitti-mots": (CAR, PEDESTRIAN), "mots20": (PEDESTRIAN,)}
DEFAULT_FPS = 10.0
SUMMARY_SCHEMA = "dior.render-summary/v1"


@dataclass(frozen=True)
class RenderOptions:
    """What to draw and where (the CLI's options).

    Attributes:
        tracks: a ``<seq>.txt`` (MOTS txt) or a folder of them (with ``<seq>.json`` link files
            from ``dior track`` giving the frame base).
        frames: the frames (video, image folder, MOTS20 / KITTI-MOTS root).
        out: video file to write (``.mp4``; ``.avi`` on fallback).
        out_dir: folder for PNG frames instead of a video.
        gt: ground truth (any layout ``dior evaluate`` reads): draw the error view.
        seq: sequence to draw when TRACKS or the frames hold several.
        trail: frames of past centres drawn per track (0 = none).
        fps: frames per second of the video; default the frames' own, else 10.
        alpha: opacity of mask fills, 0-1.
    """

    tracks: Path
    frames: Path
    out: Path | None = None
    out_dir: Path | None = None
    gt: Path | None = None
    seq: str | None = None
    trail: int = 0
    fps: float | None = None
    alpha: float = 0.5


def run(options: RenderOptions) -> dict[str, Any]:
    """Render one sequence; returns a summary (sequence, frames, output, size, counts)."""
    if options.out is not None and options.out_dir is not None:
        raise ConfigError("give --out (a video) or --out-dir (PNG frames), not both")
    if options.trail < 0:
        raise ConfigError(f"--trail must be 0 or more frames, got {options.trail}")
    if not 0.0 <= options.alpha <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1], got {options.alpha}")
    if options.fps is not None and options.fps <= 0:
        raise ConfigError(f"--fps must be positive, got {options.fps}")
    name, txt = _pick_tracks(options.tracks, options.seq)
    info = _pick_frames(options.frames, name)
    links_path = txt.with_suffix(".json")
    links = read_track_links(links_path) if links_path.is_file() else None
    frame_base = links.frame_base if links is not None else info.frame_base
    pred = read_annotation_rows(txt, frame_base, num_frames=info.num_frames, image_size=info.image_size, sequence=name)
    errors = None
    if options.gt is not None:
        gt, benchmark = _read_gt(options.gt, name, info)
        try:
            errors = frame_errors(gt, pred, info.num_frames, BENCHMARK_CLASS_IDS[benchmark])
        except ValueError as exc:  # overlapping ground-truth masks, or masks of another size: nothing to match on
            raise FormatError(str(exc), path=options.gt, sequence=name) from None
    fps = options.fps or info.fps or (links.fps if links is not None else None)
    if fps is None:
        fps = DEFAULT_FPS
        if options.out_dir is None:
            note(f"{name}: frame rate unknown; the video plays at {DEFAULT_FPS:g} fps (set --fps)")
    if options.out_dir is not None:
        writer: VideoWriter | PngWriter = PngWriter(options.out_dir)
    else:
        out = options.out if options.out is not None else txt.parent.parent / "render" / f"{name}.mp4"
        writer = VideoWriter(out, fps)
    painter = _Painter(pred, info.num_frames, options.alpha, options.trail)
    totals = {"tp": 0, "fp": 0, "miss": 0, "idsw": 0}
    try:
        for t, image in track_progress(info.open_frames(), f"rendering {name}", total=info.num_frames):
            if errors is None:
                painter.tracks(image, t)
            else:
                image = painter.errors(image, t, errors[t], gt, totals)
            writer.write(image)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    summary: dict[str, Any] = {
        "schema": SUMMARY_SCHEMA, "sequence": name, "frames": writer.frames, "out": str(writer.path),
        "size": list(writer.size) if writer.size else None, "fps": fps, "frame_base": frame_base,
    }
    if errors is not None:
        summary["counts"] = totals
    return summary


def _pick_tracks(tracks: Path, seq: str | None) -> tuple[str, Path]:
    if not tracks.exists():
        raise InputNotFound("tracks path does not exist", path=tracks)
    if tracks.is_file():
        if tracks.suffix != ".txt":
            raise FormatError("tracks must be a <seq>.txt (MOTS txt) or a folder of them", path=tracks)
        if seq is not None and seq != tracks.stem:
            raise ConfigError(f"--seq {seq} does not match the tracks file {tracks.name}")
        return tracks.stem, tracks
    names = sorted(p.stem for p in tracks.glob("*.txt"))
    if not names:
        raise FormatError("holds no <seq>.txt tracks", path=tracks)
    if seq is not None:
        if seq not in names:
            raise InputNotFound(f"has no {seq}.txt (found {', '.join(names)})", path=tracks)
        return seq, tracks / f"{seq}.txt"
    if len(names) > 1:
        raise ConfigError(f"{tracks} holds {len(names)} sequences ({', '.join(names)}): choose one with --seq")
    return names[0], tracks / f"{names[0]}.txt"


def _pick_frames(source: Path, name: str) -> SequenceInfo:
    found = discover_sequences(source)
    by_name = [s for s in found if s.name == name]
    if by_name:
        return by_name[0]
    if len(found) == 1:
        return found[0]
    raise InputNotFound(f"has no frames for sequence {name} (found {', '.join(s.name for s in found)})", path=source)


def _read_gt(gt_root: Path, name: str, info: SequenceInfo) -> tuple[MotsRows, str]:
    """The sequence's ground truth, read as ``dior evaluate`` reads it, and its benchmark."""
    gt_set = discover_ground_truth(gt_root)
    match = [s for s in gt_set.sequences if s.name == name]
    if not match:
        raise InputNotFound(f"has no ground truth for sequence {name} (found {', '.join(s.name for s in gt_set.sequences)})", path=gt_root)
    seq = match[0]
    rows = read_annotation_rows(seq.gt_txt or seq.gt_png, gt_set.frame_base, num_frames=info.num_frames,
                                image_size=info.image_size, sequence=name)
    return rows, gt_set.benchmark


class _Painter:
    """Draws one frame at a time; holds the per-sequence trail memory (made per run)."""

    def __init__(self, pred: MotsRows, num_frames: int, alpha: float, trail: int) -> None:
        self.pred = pred
        self.by_frame = pred.rows_by_frame(num_frames)
        self.alpha = alpha
        self.trail = trail
        self.centres: dict[int, deque] = {}  # obj_id -> deque of (frame, x, y)

    def _top_and_centre(self, rows: MotsRows, row: int) -> tuple[tuple[int, int], tuple[float, float]]:
        x1, y1, x2, y2 = bbox_xyxy([rows.rles[row]])[0]
        return (int((x1 + x2) / 2), int(y1)), ((x1 + x2) / 2, (y1 + y2) / 2)

    def _trails(self, image: np.ndarray, t: int, rows: np.ndarray) -> None:
        if not self.trail:
            return
        for r in rows:
            obj_id = int(self.pred.obj_id[r])
            if self.pred.class_id[r] == IGNORE:
                continue
            _, centre = self._top_and_centre(self.pred, r)
            self.centres.setdefault(obj_id, deque(maxlen=self.trail)).append((t, *centre))
        for obj_id, points in self.centres.items():
            if points[-1][0] == t:  # the track is in this frame: its last `trail` frames' centres
                draw.trail(image, [(x, y) for f, x, y in points if t - f < self.trail], colours.track_colour(obj_id))

    def tracks(self, image: np.ndarray, t: int) -> None:
        """The plain view: every row of frame ``t`` in its track colour."""
        rows = self.by_frame[t]
        masks = {int(r): decode(self.pred.rles[r]) for r in rows}  # (H, W) each
        for r in rows:
            if self.pred.class_id[r] == IGNORE:
                draw.hatch(image, masks[int(r)])
            else:
                colour = colours.track_colour(int(self.pred.obj_id[r]))
                draw.blend(image, masks[int(r)], colour, self.alpha)
                draw.outline(image, masks[int(r)], colour, thickness=1)
        self._trails(image, t, rows)
        for r in rows:
            if self.pred.class_id[r] != IGNORE:
                top, _ = self._top_and_centre(self.pred, r)
                obj_id = int(self.pred.obj_id[r])
                draw.label(image, f"{obj_id} {CLASS_NAMES[int(self.pred.class_id[r])]}", top, colours.track_colour(obj_id))

    def errors(self, image: np.ndarray, t: int, frame: FrameErrors, gt: MotsRows, totals: dict[str, int]) -> np.ndarray:
        """The error view of frame ``t``; returns the frame with its counter strip below."""
        pred = self.pred
        for r in frame.ignore_regions:
            draw.hatch(image, decode(gt.rles[r]))
        labels: list[tuple[str, tuple[int, int], tuple[int, int, int]]] = []
        for g, p, switch in frame.matches:
            mask = decode(pred.rles[p])
            colour = colours.track_colour(int(pred.obj_id[p]))
            draw.blend(image, mask, colour, self.alpha)
            draw.outline(image, mask, colours.SWITCH if switch else colour, thickness=3 if switch else 1)
            top, _ = self._top_and_centre(pred, p)
            text = f"{int(pred.obj_id[p])} {CLASS_NAMES[int(pred.class_id[p])]}"
            if switch:
                labels.append((f"IDSW {frame.switches_from.get(g, '?')}->{int(pred.obj_id[p])}", top, colours.SWITCH))
            else:
                labels.append((text, top, colour))
        for r in frame.ignored:
            draw.outline(image, decode(pred.rles[r]), colours.IGNORE, thickness=1)
        for r in frame.false_positives:
            draw.outline(image, decode(pred.rles[r]), colours.FALSE_POSITIVE, thickness=2)
            top, _ = self._top_and_centre(pred, r)
            labels.append((f"FP {int(pred.obj_id[r])}", top, colours.FALSE_POSITIVE))
        for r in frame.misses:
            draw.outline(image, decode(gt.rles[r]), colours.MISS, thickness=2)
            top, _ = self._top_and_centre(gt, r)
            labels.append((f"miss {int(gt.obj_id[r])}", top, colours.MISS))
        self._trails(image, t, self.by_frame[t])
        for text, top, colour in labels:
            draw.label(image, text, top, colour)
        counts = {"tp": len(frame.matches), "fp": len(frame.false_positives), "miss": len(frame.misses), "idsw": frame.switches}
        for key, value in counts.items():
            totals[key] += value
        text = (
            f"frame {t}   TP {counts['tp']}  FP {counts['fp']}  miss {counts['miss']}  IDSW {counts['idsw']}"
            f"   |   so far: TP {totals['tp']}  FP {totals['fp']}  miss {totals['miss']}  IDSW {totals['idsw']}"
        )
        return np.vstack([image, draw.counter_strip(image.shape[1], text)])
