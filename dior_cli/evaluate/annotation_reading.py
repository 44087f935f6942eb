"""Reading one sequence's ground truth or predictions for evaluation, masks decoded once.

A MOTS txt file whose every line is canonical (``frame id class height width counts``,
single spaces, unsigned integers, ``\\n`` line ends, no blank line) is parsed with one regular
expression over the whole file and checked with numpy: the rules of
:func:`dior_cli.formats.mots_txt.read_mots_txt` (classes 1, 2, 10; frames from
``frame_base`` and below ``num_frames``; one image size; no object id twice in a frame;
counts that decode), applied to all lines at once. Any other file, or any line that breaks
a rule, goes to the general reader (:func:`dior_cli.formats.eval_layouts.read_annotation_rows`),
which reads every valid variant and names the file and line of every error. Instance-PNG
folders always take that reader.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dior_cli.formats.eval_layouts import read_annotation_rows
from dior_cli.matching.frame_pairs import SequenceMasks
from dior_cli.matching.mask_runs import MaskRuns, RleProblem, decode_counts
from dior_cli.records import CAR, IGNORE, PEDESTRIAN, MotsRows

_LINE = re.compile(r"([0-9]{1,9}) ([0-9]{1,9}) ([0-9]{1,2}) ([0-9]{1,6}) ([0-9]{1,6}) ([0-o]+)")
_CLASSES = (CAR, PEDESTRIAN, IGNORE)


def read_masks(path: Path, frame_base: int, *, num_frames: int, image_size: tuple[int, int] | None = None,
               sequence: str | None = None) -> SequenceMasks:
    """The rows of one sequence (as ``read_annotation_rows`` returns them) with their decoded masks.

    Raises the general reader's errors (FormatError naming the file and line, InputNotFound).
    """
    fast = _read_canonical(Path(path), frame_base, num_frames, image_size) if Path(path).is_file() else None
    if fast is not None:
        return fast
    rows = read_annotation_rows(path, frame_base, num_frames=num_frames, image_size=image_size, sequence=sequence)
    return SequenceMasks.of(rows)


def _read_canonical(path: Path, frame_base: int, num_frames: int, image_size: tuple[int, int] | None) -> SequenceMasks | None:
    """Rows and masks of a canonical, valid file; ``None`` for anything else."""
    try:
        text = path.read_bytes().decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    lines = _LINE.findall(text)
    if not lines:
        return None if text else SequenceMasks(MotsRows.empty(), MaskRuns.empty())
    columns = list(zip(*lines))
    covered = sum(sum(map(len, column)) for column in columns) + 6 * len(lines)  # fields, 5 spaces and a newline each
    if covered != len(text) + (not text.endswith("\n")) or text.count("\n") != len(lines) - (not text.endswith("\n")):
        return None  # some line is not canonical (or is blank)
    numbers = np.array(columns[:5], dtype=np.int64)  # (5, N)
    frame, obj_id, class_id, height, width = numbers
    frame = frame - frame_base
    size = (int(height[0]), int(width[0])) if image_size is None else tuple(image_size)
    valid = (
        (frame >= 0).all() and (frame < num_frames).all() and np.isin(class_id, _CLASSES).all()
        and size[0] > 0 and size[1] > 0 and (height == size[0]).all() and (width == size[1]).all()
    )
    if not valid or np.unique(frame * (int(obj_id.max()) + 1) + obj_id).size != frame.size:
        return None
    counts = columns[5]
    try:
        runs = decode_counts(counts, *size)
    except RleProblem:
        return None
    h, w = size
    rows = MotsRows(frame=frame, obj_id=obj_id, class_id=class_id, rles=[{"size": [h, w], "counts": c} for c in counts])
    return SequenceMasks(rows, runs)
