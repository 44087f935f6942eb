"""MOTChallenge box tracks for evaluation: ``gt/gt.txt`` and tracker files of MOT15/16/17/20,
read as TrackEval 1.3.0's ``MotChallenge2DBox`` reads them.

One line per box, columns (1-based, as in the MOTChallenge papers)::

    frame, id, x, y, w, h, col7, col8, ...

- ``frame`` counts from 1; records hold 0-based frames. ``id`` is the track id (a whole
  number >= 0).
- ``x, y`` is the top-left corner and ``w, h`` the size, in pixels: the box spans
  ``[x, x + w) x [y, y + h)``. Boxes are not clipped to the frame (TrackEval does not).
- Ground truth: ``col7`` flags rows to ignore (0; 1 or -1 = consider); ``col8`` is the class
  (MOT16/17/20: 1 pedestrian ... 13 crowd, :data:`MOT_CLASSES`; MOT15 files hold -1 or world
  coordinates there, so it is not read as a class for MOT15). Later columns (visibility,
  world coordinates) are checked to be numbers and not used.
- Tracker files: ``col7`` is the confidence (no metric uses it); a ``col8``, where present,
  is a class and must not exceed 1 (TrackEval refuses other classes).

Separators: commas or whitespace (TrackEval sniffs them); a trailing separator is allowed
and blank lines are skipped. Where TrackEval truncates or fails with a traceback, dior
refuses the line and names it: a field that is not a number, too few columns, a frame or
id that is not a whole number, a negative id, a negative or non-finite box, a frame
outside the sequence, an id twice in one frame, an unknown ground-truth class.

Ground truth with only 7 columns (``frame,id,x,y,w,h,flag``, e.g. MOT15's TUD-Campus) has
no class column: TrackEval refuses it, dior reads every row as a pedestrian
(``num_columns`` is 7) and the caller says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.errors import FormatError
from dior_cli.formats.mots_txt import read_text_lines

MOT_CLASSES = {
    "pedestrian": 1, "person_on_vehicle": 2, "car": 3, "bicycle": 4, "motorbike": 5, "non_mot_vehicle": 6,
    "static_person": 7, "distractor": 8, "occluder": 9, "occluder_on_ground": 10, "occluder_full": 11,
    "reflection": 12, "crowd": 13,
}
MOT_PEDESTRIAN = MOT_CLASSES["pedestrian"]
FRAME_BASE = 1  # every MOTChallenge file counts frames from 1
_GT_COLUMNS = 7  # frame, id, x, y, w, h, flag
_TRACKER_COLUMNS = 6  # frame, id, x, y, w, h (the confidence is not used)
_NAMES = ("frame", "id", "x", "y", "w", "h", "column 7", "column 8")


@dataclass(frozen=True, eq=False)
class BoxTracks:
    """The boxes of one file, in file order (row order decides TrackEval's tie-breaks).

    Attributes:
        frame: ``(N,)`` int64, 0-based.
        obj_id: ``(N,)`` int64 track ids as in the file.
        xywh: ``(N, 4)`` float64 ``[x, y, w, h]`` in pixels (top-left corner, size).
        class_id: ``(N,)`` int64 MOTChallenge class (:data:`MOT_CLASSES`); 1 where the file
            has no class column.
        considered: ``(N,)`` bool, ground truth's column 7 != 0; all True for trackers.
        line: ``(N,)`` int64 1-based line numbers (row numbers for boxes made from masks).
        num_columns: the fewest columns of a line (ground truth: every line's); 0 when empty.
    """

    frame: np.ndarray
    obj_id: np.ndarray
    xywh: np.ndarray
    class_id: np.ndarray
    considered: np.ndarray
    line: np.ndarray
    num_columns: int = 0

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    @classmethod
    def empty(cls) -> BoxTracks:
        ints = np.zeros(0, np.int64)
        return cls(ints, ints, np.zeros((0, 4)), ints, np.zeros(0, bool), ints)


def looks_like_box_file(path: str | os.PathLike) -> bool:
    """True when the first non-empty line is a MOT box line: comma-separated, or at least
    7 whitespace-separated numbers (a MOTS txt line has 6 fields ending in an RLE string)."""
    first = _first_line(Path(path))
    if first is None:
        return False
    fields = _split(first)
    return "," in first or (len(fields) >= _GT_COLUMNS and all(is_number(f) for f in fields))


def looks_like_mots_txt(path: str | os.PathLike) -> bool:
    """True when the first non-empty line has MOTS txt's shape (6 fields, the last not a number)."""
    first = _first_line(Path(path))
    return first is not None and _is_mots_line(first)


def last_frame(path: str | os.PathLike) -> int:
    """The largest frame number in a box file (as written, 1-based; 0 when it has no line),
    from the first field of each line; full checks happen when the file is read for use."""
    path = Path(path)
    last = 0
    for number, text in enumerate(read_text_lines(path), start=1):
        fields = _split(text)
        if not fields:
            continue
        try:
            frame = float(fields[0])
        except ValueError:
            raise FormatError(f"frame is not a number: {fields[0][:40]!r}", path=path, line=number) from None
        if not (np.isfinite(frame) and frame == round(frame)):
            raise FormatError(f"frame is not a whole number: {fields[0][:40]!r}", path=path, line=number)
        last = max(last, int(frame))
    return last


def read_box_ground_truth(path: str | os.PathLike, *, num_frames: int, class_column: bool) -> BoxTracks:
    """Ground truth of one sequence (see the module docstring).

    ``class_column``: read column 8 as the class and check it is one of :data:`MOT_CLASSES`
    (MOT16/17/20); False for MOT15, whose column 8 is not a class (every row is a pedestrian).
    Every line must have the same number of columns, at least 7.
    """
    path = Path(path)
    table, lines, widths = _read_table(path, _GT_COLUMNS, "frame,id,x,y,w,h,flag")
    if widths.size and np.any(widths != widths[0]):
        bad = int(np.flatnonzero(widths != widths[0])[0])
        raise FormatError(f"has {widths[bad]} columns where line {lines[0]} has {widths[0]}", path=path, line=int(lines[bad]))
    has_classes = bool(widths.size) and int(widths[0]) >= 8
    flags = _whole_numbers(table[:, 6], lines, path, "column 7 (the consider flag)")
    if class_column and has_classes:
        classes = _whole_numbers(table[:, 7], lines, path, "column 8 (the class)")
        unknown = np.flatnonzero(~np.isin(classes, list(MOT_CLASSES.values())))
        if unknown.size:
            i = int(unknown[0])
            raise FormatError(
                f"class {table[i, 7]:g} in column 8 is not a MOTChallenge class (1..13); MOT15 ground truth has no classes "
                "there: use --benchmark mot15", path=path, line=int(lines[i]),
            )
    else:
        classes = np.full(len(table), MOT_PEDESTRIAN, dtype=np.int64)
    return _tracks(path, table, lines, num_frames, classes, flags != 0, widths)


def read_box_tracker(path: str | os.PathLike, *, num_frames: int) -> BoxTracks:
    """A tracker's boxes for one sequence (see the module docstring); lines need 6 columns or more."""
    path = Path(path)
    table, lines, widths = _read_table(path, _TRACKER_COLUMNS, "frame,id,x,y,w,h,conf")
    has_class = widths >= 8  # (N,)
    classes = np.ones(len(table), dtype=np.int64)
    if np.any(has_class):
        classes[has_class] = _whole_numbers(table[has_class, 7], lines[has_class], path, "column 8 (the class)")
        bad = np.flatnonzero(classes > MOT_PEDESTRIAN)
        if bad.size:
            i = int(bad[0])
            raise FormatError(
                f"column 8 (the class) is {classes[i]}: MOTChallenge box evaluation is for pedestrians only "
                "(class 1, or -1 / absent), as in TrackEval", path=path, line=int(lines[i]),
            )
    return _tracks(path, table, lines, num_frames, classes, np.ones(len(table), bool), widths)


def _tracks(path: Path, table: np.ndarray, lines: np.ndarray, num_frames: int, classes: np.ndarray,
            considered: np.ndarray, widths: np.ndarray) -> BoxTracks:
    """Check frames, ids and boxes of a parsed table ``(N, 8)`` and build the record."""
    frames = _whole_numbers(table[:, 0], lines, path, "frame")
    outside = np.flatnonzero((frames < FRAME_BASE) | (frames >= num_frames + FRAME_BASE))
    if outside.size:
        i = int(outside[0])
        raise FormatError(
            f"frame {frames[i]} is outside the sequence (frames {FRAME_BASE}..{num_frames - 1 + FRAME_BASE})",
            path=path, line=int(lines[i]),
        )
    ids = _whole_numbers(table[:, 1], lines, path, "id")
    negative = np.flatnonzero(ids < 0)
    if negative.size:
        raise FormatError(f"negative track id {ids[negative[0]]}", path=path, line=int(lines[negative[0]]))
    xywh = np.ascontiguousarray(table[:, 2:6])  # (N, 4)
    bad = np.flatnonzero(~np.isfinite(xywh).all(axis=1) | (xywh[:, 2] < 0) | (xywh[:, 3] < 0))
    if bad.size:
        i = int(bad[0])
        raise FormatError(f"box x,y,w,h = {', '.join(f'{v:g}' for v in xywh[i])} is not finite or has a negative size", path=path, line=int(lines[i]))
    frame = frames - FRAME_BASE
    _refuse_repeated_ids(path, frame, ids, lines)
    return BoxTracks(frame, ids, xywh, classes, np.asarray(considered, bool), lines, int(widths.min()) if widths.size else 0)


def _refuse_repeated_ids(path: Path, frame: np.ndarray, ids: np.ndarray, lines: np.ndarray) -> None:
    """TrackEval refuses an id used twice in one frame; name both lines."""
    if frame.size < 2:
        return
    order = np.lexsort((lines, ids, frame))  # (N,) by frame, then id, then line
    same = np.flatnonzero((frame[order][1:] == frame[order][:-1]) & (ids[order][1:] == ids[order][:-1]))
    if same.size:
        first, second = order[same[0]], order[same[0] + 1]
        raise FormatError(
            f"id {ids[second]} appears twice in frame {frame[second] + FRAME_BASE} (first on line {lines[first]})",
            path=path, line=int(lines[second]),
        )


def _read_table(path: Path, min_columns: int, expected: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse every non-blank line: ``(table (N, 8) float64, NaN where a line is shorter;
    line numbers (N,); column counts (N,))``. Every field must be a number.

    A file whose lines all have one separator and one column count is parsed in one numpy
    call; any other file, or any problem, goes line by line (which names the bad line)."""
    lines = read_text_lines(path)
    uniform = _parse_uniform(lines, min_columns)
    return uniform if uniform is not None else _parse_each(path, lines, min_columns, expected)


def _parse_uniform(lines: list[str], min_columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The fast path of :func:`_read_table`, or ``None`` where the file is not uniform or not valid."""
    numbers = [n for n, text in enumerate(lines, start=1) if text.strip()]
    rows = [lines[n - 1].strip() for n in numbers]
    if not rows:
        return np.zeros((0, 8)), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if "," in rows[0]:
        rows = [r[:-1] if r.endswith(",") else r for r in rows]
        width = rows[0].count(",") + 1
        if any(r.count(",") != width - 1 for r in rows):
            return None
        tokens = ",".join(rows).split(",")
    else:
        tokens = " ".join(rows).split()
        width = len(rows[0].split())
        if len(tokens) != width * len(rows) or any(len(r.split()) != width for r in rows):
            return None
    if width < min_columns:
        return None
    try:
        values = np.array(tokens, dtype=np.float64).reshape(len(rows), width)  # (N, C)
    except ValueError:
        return None
    table = np.full((len(rows), 8), np.nan)
    table[:, : min(width, 8)] = values[:, :8]
    if not np.isfinite(values[:, :8]).all():
        return None
    return table, np.array(numbers, dtype=np.int64), np.full(len(rows), width, dtype=np.int64)


def _parse_each(path: Path, lines: list[str], min_columns: int, expected: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The line-by-line path of :func:`_read_table`: the first bad line raises FormatError."""
    rows: list[list[float]] = []
    numbers: list[int] = []
    widths: list[int] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if _is_mots_line(text):
            raise FormatError("is MOTS txt (frame id class height width rle), not MOT boxes: score the masks' boxes with --boxes", path=path, line=number)
        fields = _split(text)
        if len(fields) < min_columns:
            raise FormatError(f"expected at least {min_columns} comma-separated columns ({expected}), got {len(fields)}", path=path, line=number)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            column = next(i for i, f in enumerate(fields) if not is_number(f))
            name = _NAMES[column] if column < len(_NAMES) else f"column {column + 1}"
            raise FormatError(f"{name} is not a number: {fields[column][:40]!r}", path=path, line=number) from None
        head = values[:8]
        if not np.isfinite(head).all():
            column = next(i for i, v in enumerate(head) if not np.isfinite(v))
            raise FormatError(f"{_NAMES[column]} is not finite: {fields[column]!r}", path=path, line=number)
        rows.append(head + [np.nan] * (8 - len(head)))
        numbers.append(number)
        widths.append(len(fields))
    table = np.array(rows, dtype=np.float64).reshape(-1, 8)
    return table, np.array(numbers, dtype=np.int64), np.array(widths, dtype=np.int64)


def _whole_numbers(values: np.ndarray, lines: np.ndarray, path: Path, what: str) -> np.ndarray:
    """``values`` (N,) float64 as int64, refusing any that is not a whole number."""
    bad = np.flatnonzero(values != np.round(values))
    if bad.size:
        raise FormatError(f"{what} is not a whole number: {values[bad[0]]!r}", path=path, line=int(lines[bad[0]]))
    return values.astype(np.int64)


def _split(line: str) -> list[str]:
    """Fields of a comma- or whitespace-separated line; one trailing separator is allowed."""
    if "," not in line:
        return line.split()
    fields = [f.strip() for f in line.split(",")]
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def _is_mots_line(line: str) -> bool:
    fields = line.split()
    return "," not in line and len(fields) == 6 and not is_number(fields[5])


def _first_line(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    return line.rstrip("\n")
    except OSError:
        return None
    return None


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
