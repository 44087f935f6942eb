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
:func:`track_links_writer` writes the file as its lines come (the same bytes as
:func:`write_track_links`); ``read_track_links(..., as_array=True)`` reads ``lines`` into an
int64 array without one Python int per line.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.atomic import atomic_write
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
    """Write a link file atomically (the bytes of :func:`track_links_writer` given every line at once)."""
    with track_links_writer(path, sequence=links.sequence, detections_file=links.detections_file,
                            detections_sha256=links.detections_sha256, frame_base=links.frame_base, num_frames=links.num_frames,
                            fps=links.fps) as writer:
        writer.add_lines(links.lines)
        writer.finish(links.tracks, links.producer)


class TrackLinksWriter:
    """Writes one link file as its lines become known (from :func:`track_links_writer`): compact JSON,
    the fields in the order of the module docstring, byte for byte ``json.dumps(doc, separators=(",", ":"))``."""

    def __init__(self, handle: IO, header: dict) -> None:
        self._handle = handle
        self._first = True
        self.finished = False
        handle.write(json.dumps({"schema": SCHEMA, **header}, separators=(",", ":"))[:-1] + ',"lines":[')

    def add_lines(self, det_ids) -> None:
        """Append the ``det_id`` of the next txt lines (a sequence of ints or an int array)."""
        values = det_ids.tolist() if isinstance(det_ids, np.ndarray) else det_ids
        if len(values):
            self._handle.write(("" if self._first else ",") + ",".join(str(int(v)) for v in values))
            self._first = False

    def finish(self, tracks: list[TrackSummary], producer: dict) -> None:
        """Close ``lines`` and write ``tracks`` and ``producer``."""
        self._handle.write('],"tracks":' + json.dumps([t.__dict__ for t in tracks], separators=(",", ":"))
                           + ',"producer":' + json.dumps(producer, separators=(",", ":")) + "}\n")
        self.finished = True


@contextlib.contextmanager
def track_links_writer(path: str | os.PathLike, *, sequence: str, detections_file: str, detections_sha256: str | None,
                       frame_base: int, num_frames: int, fps: float | None) -> Iterator[TrackLinksWriter]:
    """Stream a link file: the header now, lines as they come, tracks and producer at
    :meth:`TrackLinksWriter.finish`; atomic (nothing replaces ``path`` unless ``finish`` ran)."""
    header = {"sequence": sequence, "detections_file": detections_file, "detections_sha256": detections_sha256,
              "frame_base": frame_base, "num_frames": num_frames, "fps": fps}
    with atomic_write(path, "w") as handle:
        writer = TrackLinksWriter(handle, header)
        yield writer
        if not writer.finished:
            raise RuntimeError(f"{path}: link file left unfinished")


_LINES_KEY = b'"lines":['


def _plain_integers(segment: bytes) -> bool:
    """Whether ``segment`` is ``int,int,...`` in JSON's integer grammar (``-?(0|[1-9][0-9]*)``) or
    empty; checked on the bytes as arrays (a regex would keep a stack entry per element)."""
    if not segment:
        return True
    if segment.translate(None, b"0123456789,-"):
        return False
    chars = np.frombuffer(segment, dtype=np.uint8)
    commas = np.flatnonzero(chars == ord(","))
    starts = np.concatenate(([0], commas + 1))  # (L,) first byte of each element
    ends = np.append(commas, chars.size)  # (L,) one past its last byte
    if (ends <= starts).any():
        return False  # an empty element
    minus = chars == ord("-")
    signed = minus[starts]
    if int(minus.sum()) != int(signed.sum()):
        return False  # a minus sign that does not start its element
    digits = starts + signed  # (L,) first digit of each element
    if (digits >= ends).any():
        return False  # a sign without digits
    return not ((chars[digits] == ord("0")) & (ends - digits > 1)).any()  # no leading zeros


def _fast_lines(data: bytes) -> tuple[dict, np.ndarray] | None:
    """``(doc without lines, lines (L,) int64)`` when ``lines`` is a list of plain JSON integers
    (what dior writes), parsed without one Python int per line; ``None`` otherwise."""
    at = data.find(_LINES_KEY)
    if at < 0:
        return None
    start = at + len(_LINES_KEY)
    end = data.find(b"]", start)
    if end < 0 or not _plain_integers(data[start:end]):
        return None
    try:
        doc = json.loads(data[:start] + data[end:])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("lines") != []:
        return None
    segment = data[start:end]
    lines = np.fromstring(segment, dtype=np.int64, sep=",") if segment else np.zeros(0, np.int64)
    if lines.size != (segment.count(b",") + 1 if segment else 0):
        return None
    return doc, lines


def read_track_links(path: str | os.PathLike, num_lines: int | None = None, *, as_array: bool = False) -> TrackLinks:
    """Read a link file; ``num_lines`` (the txt's line count) must match its ``lines``.

    ``as_array``: ``lines`` as an ``(L,)`` int64 array, parsed without one Python int per line
    when the file holds plain integers (as dior writes it); a list of ints otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFound("track link file does not exist", path=path)
    try:
        data = path.read_bytes()
        fast = _fast_lines(data) if as_array else None
        doc = json.loads(data) if fast is None else fast[0]
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"schema must be {SCHEMA!r}")
        if fast is not None:
            lines = fast[1]
        else:
            lines = [int(v) for v in doc["lines"]]
            lines = np.asarray(lines, dtype=np.int64).reshape(-1) if as_array else lines
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
    """Each object's class, first and last frame (0-based) and number of lines, by increasing id
    (:func:`summarise_track_arrays` of the rows' columns)."""
    return summarise_track_arrays(rows.frame, rows.obj_id, rows.class_id)


def summarise_track_arrays(frame: np.ndarray, obj_id: np.ndarray, class_id: np.ndarray) -> list[TrackSummary]:
    """Each object's class, first and last frame (0-based) and number of lines, by increasing id.

    Args: the ``(N,)`` int columns of the lines, in file order.

    One sort groups the rows (``np.unique(..., return_inverse=True)``); the class is that of
    the object's first line in file order. Linear in the number of lines, whatever the number of ids.
    """
    frame, obj_id, class_id = (np.asarray(v, dtype=np.int64).reshape(-1) for v in (frame, obj_id, class_id))
    ids, index, counts = np.unique(obj_id, return_inverse=True, return_counts=True)  # (T,), (N,), (T,)
    if ids.size == 0:
        return []
    index = index.reshape(-1)
    by_frame = np.lexsort((frame, index))  # by object, then frame
    starts = np.cumsum(counts) - counts  # (T,) first sorted row of each object
    first_frame = frame[by_frame[starts]]
    last_frame = frame[by_frame[starts + counts - 1]]
    first_line = np.argsort(index, kind="stable")[starts]  # (T,) each object's first line in file order
    classes = class_id[first_line]
    return [TrackSummary(obj_id=o, class_id=c, first_frame=a, last_frame=b, num_detections=n)
            for o, c, a, b, n in zip(ids.tolist(), classes.tolist(), first_frame.tolist(), last_frame.tolist(), counts.tolist())]
