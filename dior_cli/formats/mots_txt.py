"""MOTS txt: ``frame obj_id class_id height width rle`` per line, the format of
KITTI-MOTS ``instances_txt``, MOTS20 ``gt.txt`` and every MOTS tracker's output.

Frame numbers in the file start at ``frame_base`` (0 for KITTI-MOTS, 1 for MOTS20);
records hold 0-based frames, and the base is applied here only. ``obj_id`` is
``class_id * 1000 + k``; 10000 marks an ignore region (class 10). RLE is COCO compressed,
column-major. Blank lines are skipped; everything else must be a valid line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
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


def read_mots_txt(
    path: str | os.PathLike,
    frame_base: int,
    *,
    image_size: tuple[int, int] | None = None,
    num_frames: int | None = None,
    classes: Iterable[int] = MOTS_CLASSES,
) -> MotsRows:
    """Read and validate a MOTS txt file.

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
    path = Path(path)
    classes = tuple(classes)
    frames, obj_ids, class_ids, rles, line_numbers = [], [], [], [], []
    seen: dict[tuple[int, int], int] = {}
    for number, line in enumerate(read_text_lines(path), start=1):
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
        first = seen.setdefault((frame, obj_id), number)
        if first != number:
            raise FormatError(
                f"object id {obj_id} appears twice in frame {frame + frame_base} (first on line {first})",
                path=path, line=number,
            )
        frames.append(frame)
        obj_ids.append(obj_id)
        class_ids.append(class_id)
        rles.append(make_rle(counts, height, width))
        line_numbers.append(number)
    if rles:
        size = rles[0]["size"]  # every line has this size (checked above)
        bad = first_rle_problem([r["counts"] for r in rles], [size[0]] * len(rles), [size[1]] * len(rles))
        if bad is not None:
            raise FormatError(bad[1], path=path, line=line_numbers[bad[0]])
    return MotsRows(frame=frames, obj_id=obj_ids, class_id=class_ids, rles=rles)


def format_mots_lines(rows: MotsRows, frame_base: int) -> str:
    """The text of a MOTS txt file for ``rows`` (row order kept, one line each)."""
    parts = []
    for frame, obj_id, class_id, rle in zip(rows.frame.tolist(), rows.obj_id.tolist(), rows.class_id.tolist(), rows.rles):
        height, width = rle["size"]
        parts.append(f"{frame + frame_base} {obj_id} {class_id} {height} {width} {rle['counts']}\n")
    return "".join(parts)


def write_mots_txt(path: str | os.PathLike, rows: MotsRows, frame_base: int) -> None:
    """Write ``rows`` as MOTS txt with frames numbered from ``frame_base``, atomically."""
    if frame_base < 0:
        raise ValueError(f"frame_base must be >= 0, got {frame_base}")
    with atomic_write(path, "w") as handle:
        handle.write(format_mots_lines(rows, frame_base))
