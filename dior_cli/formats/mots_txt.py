"""MOTS txt: ``frame obj_id class_id height width rle`` per line, the format of
KITTI-MOTS ``instances_txt``, MOTS20 ``gt.txt`` and every MOTS tracker's output.

Frame numbers in the file start at ``frame_base`` (0 for KITTI-MOTS, 1 for MOTS20);
records hold 0-based frames, and the base is applied here only. ``obj_id`` is
``class_id * 1000 + k``; 10000 marks an ignore region (class 10). RLE is COCO compressed,
column-major. Blank lines are skipped; everything else must be a valid line.

:func:`iter_mots_txt` reads a file as a stream of line blocks (what :func:`read_mots_txt`
collects), :func:`mots_txt_writer` writes one as rows come; both hold one block at a time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.masks import first_rle_problem, make_rle, rle_problem
from dior_cli.records import MOTS_CLASSES, MotsRows
from dior_cli.formats.atomic import atomic_write

_FIELD_NAMES = ("frame", "object id", "class id", "height", "width")


def read_text_lines(path: Path) -> list[str]:
    """Read a text file as lines, naming the line of any byte that is not UTF-8."""
    if not path.is_file():
        raise InputNotFound("file does not exist" if not path.exists() else "is not a file", path=path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(f"not UTF-8 text (byte {exc.start})", path=path, line=line) from None
    return text.splitlines()


def parse_mots_line(
    line: str,
    frame_base: int,
    *,
    classes: Iterable[int] = MOTS_CLASSES,
    allow_score: bool = False,
    check_rle: bool = True,
) -> tuple[int, int, int, int, int, str, float | None]:
    """Parse and check one line; raise ``ValueError`` with a message (no location).

    Returns ``(frame, obj_id, class_id, height, width, counts, score)`` with a 0-based
    frame; ``score`` is the optional seventh field when ``allow_score``, else ``None``.
    ``check_rle=False`` leaves the RLE check to the caller (who checks a whole file at once
    with :func:`dior_cli.masks.first_rle_problem`).
    """
    fields = line.split()
    expected = "6 or 7" if allow_score else "6"
    if len(fields) not in ((6, 7) if allow_score else (6,)):
        raise ValueError(f"expected {expected} space-separated fields (frame id class height width rle), got {len(fields)}")
    numbers = []
    for name, text in zip(_FIELD_NAMES, fields[:5]):
        try:
            numbers.append(int(text))
        except ValueError:
            raise ValueError(f"{name} is not an integer: {text[:40]!r}") from None
    file_frame, obj_id, class_id, height, width = numbers
    frame = file_frame - frame_base
    if frame < 0:
        raise ValueError(f"frame {file_frame} is before the first frame ({frame_base}) of this format")
    if class_id not in classes:
        allowed = ", ".join(str(c) for c in sorted(classes))
        raise ValueError(f"unknown class {class_id} (expected one of {allowed}: 1 car, 2 pedestrian, 10 ignore)")
    if obj_id < 0:
        raise ValueError(f"negative object id {obj_id}")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size {height}x{width} is not positive")
    counts = fields[5]
    if check_rle and (problem := rle_problem(counts, height, width)):
        raise ValueError(problem)
    score = None
    if len(fields) == 7:
        try:
            score = float(fields[6])
        except ValueError:
            raise ValueError(f"score is not a number: {fields[6][:40]!r}") from None
        if not np.isfinite(score):
            raise ValueError(f"score is not finite: {fields[6]!r}")
    return frame, obj_id, class_id, height, width, counts, score


_READ_BYTES = 1 << 22  # bytes read at a time when streaming a file (4 MiB)
_BLOCK_LINES = 8192  # lines per block handed out by iter_mots_txt


def iter_text_lines(path: Path):
    """``(line number, line)`` of a UTF-8 text file read ``_READ_BYTES`` at a time (the lines of
    :func:`read_text_lines`, numbered from 1, with the same error for a byte that is not UTF-8)."""
    if not path.is_file():
        raise InputNotFound("file does not exist" if not path.exists() else "is not a file", path=path)
    number, offset, newlines = 0, 0, 0
    carry = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_READ_BYTES)
            data = carry + block
            cut = len(data) if not block else data.rfind(b"\n") + 1  # whole lines only, but at the end
            chunk, carry = data[:cut], data[cut:]
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = newlines + chunk[: exc.start].count(b"\n") + 1
                raise FormatError(f"not UTF-8 text (byte {offset + exc.start})", path=path, line=line) from None
            for line in text.splitlines():  # chunks end after a newline, so no line break is split
                number += 1
                yield number, line
            offset += len(chunk)
            newlines += chunk.count(b"\n")
            if not block:
                return


@dataclass(frozen=True)
class MotsBlock:
    """Consecutive valid lines of a MOTS txt file (:func:`iter_mots_txt`).

    Attributes:
        frame, obj_id, class_id: ``(K,)`` int64, frames 0-based.
        counts: the ``K`` RLE counts strings (``None`` with ``keep_masks=False``).
        line: ``(K,)`` int64 line numbers (from 1; blank lines are skipped and never in a block).
        image_size: ``(height, width)`` of every mask.
    """

    frame: np.ndarray
    obj_id: np.ndarray
    class_id: np.ndarray
    counts: list[str] | None
    line: np.ndarray
    image_size: tuple[int, int]

    def rows(self) -> MotsRows:
        height, width = self.image_size
        return MotsRows(frame=self.frame, obj_id=self.obj_id, class_id=self.class_id,
                        rles=[make_rle(c, height, width) for c in self.counts])


class _FramesOutOfOrder(Exception):
    """A frame smaller than the one before: the duplicate check needs every (frame, id) seen."""


def iter_mots_txt(
    path: str | os.PathLike,
    frame_base: int,
    *,
    image_size: tuple[int, int] | None = None,
    num_frames: int | None = None,
    classes: Iterable[int] = MOTS_CLASSES,
    keep_masks: bool = True,
):
    """Read and validate a MOTS txt file as a stream of :class:`MotsBlock` (the checks and messages of
    :func:`read_mots_txt`; an RLE that does not decode is reported once every line has been read,
    so a field error anywhere comes first). Memory holds one block, plus the ``(frame, id)`` pairs
    of the current frame when frames never decrease (of every frame otherwise: the file is then read
    a second time from its start, before anything has been handed out past the first out-of-order line).
    """
    try:
        yield from _mots_blocks(Path(path), frame_base, image_size, num_frames, tuple(classes), keep_masks, ordered=True)
    except _FramesOutOfOrder as restart:
        yield from _mots_blocks(Path(path), frame_base, image_size, num_frames, tuple(classes), keep_masks, ordered=False,
                                skip_lines=restart.args[0])


def _mots_blocks(path: Path, frame_base: int, image_size, num_frames, classes, keep_masks: bool, *, ordered: bool, skip_lines: int = 0):
    """The blocks of :func:`iter_mots_txt`; ``ordered``: keep only the current frame's ids (raise
    ``_FramesOutOfOrder(lines handed out)`` at a smaller frame); ``skip_lines``: lines already handed
    out by an ``ordered`` pass (checked again, not handed out again)."""
    seen: dict[tuple[int, int], int] = {}
    columns: tuple[list, ...] = ([], [], [], [], [])  # frame, obj_id, class_id, counts, line
    rle_problem = None  # (line, message) of the first RLE that does not decode
    handed = 0  # lines handed out in blocks
    current = -1

    def block():
        nonlocal rle_problem, handed
        frame, obj_id, class_id, counts, line = columns
        fresh = [k for k, n in enumerate(line) if n > skip_lines] if skip_lines else None
        if rle_problem is None:
            size = image_size
            bad = first_rle_problem(counts, [size[0]] * len(counts), [size[1]] * len(counts))
            if bad is not None:
                rle_problem = (line[bad[0]], bad[1])
        out = MotsBlock(frame=np.asarray(frame, np.int64), obj_id=np.asarray(obj_id, np.int64),
                        class_id=np.asarray(class_id, np.int64), counts=list(counts) if keep_masks else None,
                        line=np.asarray(line, np.int64), image_size=tuple(image_size))
        if fresh is not None and len(fresh) < len(line):
            keep = np.asarray(fresh, dtype=np.int64)
            out = MotsBlock(frame=out.frame[keep], obj_id=out.obj_id[keep], class_id=out.class_id[keep],
                            counts=None if out.counts is None else [out.counts[k] for k in fresh], line=out.line[keep],
                            image_size=out.image_size)
        for column in columns:
            column.clear()
        handed += len(out.line)
        return out

    for number, line in iter_text_lines(path):
        if not line.strip():
            continue
        try:
            frame, obj_id, class_id, height, width, counts, _ = parse_mots_line(line, frame_base, classes=classes, check_rle=False)
        except ValueError as exc:
            raise FormatError(str(exc), path=path, line=number) from None
        if image_size is None:
            image_size = (height, width)
        elif (height, width) != tuple(image_size):
            raise FormatError(
                f"mask size {height}x{width} differs from the sequence's {image_size[0]}x{image_size[1]}",
                path=path, line=number,
            )
        if num_frames is not None and frame >= num_frames:
            raise FormatError(
                f"frame {frame + frame_base} is past the sequence's last frame {num_frames - 1 + frame_base}",
                path=path, line=number,
            )
        if ordered and frame != current:
            if frame < current:
                raise _FramesOutOfOrder(handed)
            seen.clear()  # frames never decrease: an id of an earlier frame cannot come back
            current = frame
        first = seen.setdefault((frame, obj_id), number)
        if first != number:
            raise FormatError(
                f"object id {obj_id} appears twice in frame {frame + frame_base} (first on line {first})",
                path=path, line=number,
            )
        for column, value in zip(columns, (frame, obj_id, class_id, counts, number)):
            column.append(value)
        if len(columns[0]) >= _BLOCK_LINES:
            out = block()
            if len(out.line):
                yield out
    if columns[0]:
        out = block()
        if len(out.line):
            yield out
    if rle_problem is not None:
        raise FormatError(rle_problem[1], path=path, line=rle_problem[0])


def read_mots_txt(
    path: str | os.PathLike,
    frame_base: int,
    *,
    image_size: tuple[int, int] | None = None,
    num_frames: int | None = None,
    classes: Iterable[int] = MOTS_CLASSES,
) -> MotsRows:
    """Read and validate a MOTS txt file (every line of :func:`iter_mots_txt`).

    Args:
        path: the file.
        frame_base: the number of the first frame in the file (0 KITTI-MOTS, 1 MOTS20).
        image_size: ``(height, width)`` every line must have; when ``None``, every line
            must agree with the first.
        num_frames: when given, frames must be below it (0-based).
        classes: the class ids allowed.

    Raises:
        FormatError naming the file and line: wrong field count, non-numeric field,
        negative frame, unknown class, RLE that does not decode or disagrees with the
        line's size, a size that differs from the others, a frame past the sequence,
        an object id used twice in one frame.
    """
    parts = [b.rows() for b in iter_mots_txt(path, frame_base, image_size=image_size, num_frames=num_frames, classes=classes)]
    if not parts:
        return MotsRows.empty()
    return MotsRows(frame=np.concatenate([p.frame for p in parts]), obj_id=np.concatenate([p.obj_id for p in parts]),
                    class_id=np.concatenate([p.class_id for p in parts]), rles=[r for p in parts for r in p.rles])


def format_mots_lines(rows: MotsRows, frame_base: int) -> str:
    """The text of a MOTS txt file for ``rows`` (row order kept, one line each)."""
    return format_mots_columns(rows.frame, rows.obj_id, rows.class_id, rows.rles, frame_base)


def format_mots_columns(frames, obj_ids, class_ids, rles, frame_base: int) -> str:
    """The MOTS txt lines of rows given as columns (``(K,)`` int arrays and ``K`` RLEs), one each."""
    parts = []
    for frame, obj_id, class_id, rle in zip(np.asarray(frames).tolist(), np.asarray(obj_ids).tolist(), np.asarray(class_ids).tolist(), rles):
        height, width = rle["size"]
        parts.append(f"{frame + frame_base} {obj_id} {class_id} {height} {width} {rle['counts']}\n")
    return "".join(parts)


def write_mots_txt(path: str | os.PathLike, rows: MotsRows, frame_base: int) -> None:
    """Write ``rows`` as MOTS txt with frames numbered from ``frame_base``, atomically."""
    with mots_txt_writer(path, frame_base) as write:
        write(rows.frame, rows.obj_id, rows.class_id, rows.rles)


@contextlib.contextmanager
def mots_txt_writer(path: str | os.PathLike, frame_base: int):
    """Stream a MOTS txt file atomically: yields ``write(frames, obj_ids, class_ids, rles)``, which
    appends those rows' lines (as :func:`format_mots_lines`); the file appears complete at the end."""
    if frame_base < 0:
        raise ValueError(f"frame_base must be >= 0, got {frame_base}")
    with atomic_write(path, "w") as handle:
        yield lambda frames, obj_ids, class_ids, rles: handle.write(format_mots_columns(frames, obj_ids, class_ids, rles, frame_base))
