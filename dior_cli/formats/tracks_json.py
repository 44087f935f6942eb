"""Track link files ``<seq>.json``, written beside ``<seq>.txt`` (MOTS txt).

```
{"schema": "dior.tracks/v1", "sequence": "0002", "detections_file": "0002.json",
 "detections_sha256": "...", "frame_base": 0, "num_frames": 233, "fps": 10.0,
 "lines": [17, 18, 20, ...],
 "tracks": [{"obj_id": 1001, "class_id": 1, "first_frame": 0, "last_frame": 40, "num_detections": 41}],
 "producer": {"stage": "track", "dior_version": "...", ...}}
```
``lines[i]`` is the ``det_id`` of line ``i + 1`` of the txt, so nothing downstream ever
re-matches masks to find where a track came from. Frames here are 0-based.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.atomic import write_text_atomic
from dior_cli.records import MotsRows

SCHEMA = "dior.tracks/v1"


@dataclass(frozen=True)
class TrackSummary:
    obj_id: int
    class_id: int
    first_frame: int
    last_frame: int
    num_detections: int


@dataclass(frozen=True)
class TrackLinks:
    """What a link file says (see the module docstring)."""

    sequence: str
    detections_file: str
    detections_sha256: str | None
    frame_base: int
    num_frames: int
    fps: float | None
    lines: list[int]
    tracks: list[TrackSummary]
    producer: dict = field(default_factory=dict)


def write_track_links(path: str | os.PathLike, links: TrackLinks) -> None:
    doc = {
        "schema": SCHEMA,
        "sequence": links.sequence,
        "detections_file": links.detections_file,
        "detections_sha256": links.detections_sha256,
        "frame_base": links.frame_base,
        "num_frames": links.num_frames,
        "fps": links.fps,
        "lines": links.lines,
        "tracks": [t.__dict__ for t in links.tracks],
        "producer": links.producer,
    }
    write_text_atomic(path, json.dumps(doc, separators=(",", ":")) + "\n")


def read_track_links(path: str | os.PathLike, num_lines: int | None = None) -> TrackLinks:
    """Read a link file; ``num_lines`` (the txt's line count) must match its ``lines``."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound("track link file does not exist", path=path)
    try:
        doc = json.loads(path.read_bytes())
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"schema must be {SCHEMA!r}")
        lines = [int(v) for v in doc["lines"]]
        tracks = [TrackSummary(**t) for t in doc["tracks"]]
        links = TrackLinks(
            sequence=str(doc["sequence"]), detections_file=str(doc["detections_file"]), detections_sha256=doc["detections_sha256"],
            frame_base=int(doc["frame_base"]), num_frames=int(doc["num_frames"]), fps=doc["fps"], lines=lines, tracks=tracks,
            producer=doc.get("producer", {}),
        )
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise FormatError(f"is not a valid track link file ({type(exc).__name__}: {exc})", path=path) from None
    if num_lines is not None and len(lines) != num_lines:
        raise FormatError(f"maps {len(lines)} lines but its MOTS txt has {num_lines}", path=path)
    return links


def summarise_tracks(rows: MotsRows) -> list[TrackSummary]:
    """Each object's class, first and last frame (0-based) and number of lines, by increasing id.

    One sort groups the rows (``np.unique(..., return_inverse=True)``); the class is that of
    the object's first line in file order. Linear in the number of lines, whatever the number of ids.
    """
    ids, index, counts = np.unique(rows.obj_id, return_inverse=True, return_counts=True)  # (T,), (N,), (T,)
    if ids.size == 0:
        return []
    index = index.reshape(-1)
    by_frame = np.lexsort((rows.frame, index))  # by object, then frame
    starts = np.cumsum(counts) - counts  # (T,) first sorted row of each object
    first_frame = rows.frame[by_frame[starts]]
    last_frame = rows.frame[by_frame[starts + counts - 1]]
    first_line = np.argsort(index, kind="stable")[starts]  # (T,) each object's first line in file order
    class_id = rows.class_id[first_line]
    return [TrackSummary(obj_id=o, class_id=c, first_frame=a, last_frame=b, num_detections=n)
            for o, c, a, b, n in zip(ids.tolist(), class_id.tolist(), first_frame.tolist(), last_frame.tolist(), counts.tolist())]
