"""MOTChallenge box files as detections: ``det.txt`` / ``gt.txt`` of MOT15/16/17/20.

One line per box, comma-separated (whitespace is accepted too)::

    frame, id, x, y, w, h, score [, class | x3d, visibility | y3d, z3d]

- ``frame`` counts from 1 in every MOTChallenge file (``frame_base`` says otherwise);
  records hold 0-based frames.
- ``x, y`` is the top-left corner and ``w, h`` the size in pixels, so the box is
  ``[x, y, x + w, y + h]`` in dior's ``bbox_xyxy``; boxes are clipped to the frame and a box
  with nothing left inside the frame is an error naming its line.
- ``id`` is -1 in detection files and a track id in ground truth; dior ignores it.
- ``score``: a detector's confidence (MOT17's Faster R-CNN: 0-1; MOT15's ACF: about 0-130;
  DPM: negative too), or in ground truth a flag (1 or -1 consider, 0 ignore). Where some
  score lies outside [0, 1], the file's scores are mapped linearly onto [0, 1]
  (``(s - min) / (max - min)``, which keeps their order; ``raw_score`` keeps each one) and the
  reader says so.
- Ground truth of MOT16/17/20 has a class in column 8 (1 pedestrian, 2 person on vehicle,
  7 static person, 8 distractor, 12 reflection, ...) and column 7 flags rows to ignore (0).
  When column 8 holds classes (a whole number >= 1 on every line), only class-1 rows with a
  non-zero flag are detections, the others are counted in ``skipped``; such rows' scores are 1.
  MOT15 files (``-1`` in columns 8-10, or only 7 columns) are all pedestrians.

Every box is a pedestrian (MOTS class 2): MOTChallenge annotates people only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.errors import AlignmentError, FormatError
from dior_cli.formats.mot_box_tracks import is_number
from dior_cli.formats.mots_txt import read_text_lines
from dior_cli.records import PEDESTRIAN

MOT_PEDESTRIAN = 1  # MOT16/17/20 ground truth class 1


@dataclass(frozen=True, eq=False)
class MotBoxes:
    """One MOT box file's detections, validated.

    Attributes:
        frame: ``(N,)`` 0-based frames.
        bbox_xyxy: ``(N, 4)`` float64 boxes clipped to the frame.
        score: ``(N,)`` in [0, 1] (see the module docstring for the mapping).
        raw_score: ``(N,)`` the file's own column 7.
        line: ``(N,)`` 1-based line numbers.
        skipped: ground-truth rows that are not pedestrians to consider (column 8 != 1 or column 7 == 0).
        rescaled: the (min, max) mapped onto [0, 1], or ``None`` when the scores were already in it.
        sha256: digest of the file's bytes.
    """

    frame: np.ndarray
    bbox_xyxy: np.ndarray
    score: np.ndarray
    raw_score: np.ndarray
    line: np.ndarray
    skipped: int
    rescaled: tuple[float, float] | None
    sha256: str

    @property
    def class_id(self) -> np.ndarray:
        return np.full(len(self.frame), PEDESTRIAN, dtype=np.int64)


def read_mot_boxes(path: Path, *, num_frames: int, image_size: tuple[int, int], frame_base: int = 1) -> MotBoxes:
    """Read and check ``path`` against a sequence of ``num_frames`` frames of ``image_size`` ``[h, w]``."""
    lines = read_text_lines(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    numbers: list[list[float]] = []
    line_numbers: list[int] = []
    width = None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        fields = text.replace(",", " ").split()
        if len(fields) < 7:
            raise FormatError(f"expected at least 7 comma-separated fields (frame,id,x,y,w,h,score), got {len(fields)}", path=path, line=number)
        if width is not None and len(fields) != width:
            raise FormatError(f"has {len(fields)} fields where line {line_numbers[0]} has {width}", path=path, line=number)
        width = len(fields)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not is_number(f))
            raise FormatError(f"field {bad[:40]!r} is not a number", path=path, line=number) from None
        if not np.isfinite(values).all():
            raise FormatError("a field is not finite", path=path, line=number)
        numbers.append(values)
        line_numbers.append(number)
    table = np.array(numbers, dtype=np.float64).reshape(-1, width or 7)
    rows = np.array(line_numbers, dtype=np.int64)
    skipped = 0
    has_classes = table.shape[1] >= 8 and len(table) and np.all(table[:, 7] >= 1) and np.all(table[:, 7] == np.round(table[:, 7]))
    if has_classes:  # MOT16/17/20 ground truth: pedestrians to consider only
        keep = (table[:, 7] == MOT_PEDESTRIAN) & (table[:, 6] != 0)
        skipped = int((~keep).sum())
        table, rows = table[keep], rows[keep]
    frame_numbers = table[:, 0]
    bad = np.flatnonzero(frame_numbers != np.round(frame_numbers))
    if bad.size:
        raise FormatError(f"frame {frame_numbers[bad[0]]} is not a whole number", path=path, line=int(rows[bad[0]]))
    frame = frame_numbers.astype(np.int64) - frame_base
    early = np.flatnonzero(frame < 0)
    if early.size:
        raise FormatError(f"frame {frame_numbers[early[0]]:.0f} is before the first frame ({frame_base}); MOTChallenge files count from 1 "
                          "(use --frame-base for another base)", path=path, line=int(rows[early[0]]))
    late = np.flatnonzero(frame >= num_frames)
    if late.size:
        raise AlignmentError(f"frame {frame_numbers[late[0]]:.0f} is past the source's last frame {num_frames - 1 + frame_base}",
                             path=path, line=int(rows[late[0]]))
    x, y, w, h = table[:, 2], table[:, 3], table[:, 4], table[:, 5]
    flat = np.flatnonzero((w <= 0) | (h <= 0))
    if flat.size:
        raise FormatError(f"box size {w[flat[0]]:g}x{h[flat[0]]:g} is not positive", path=path, line=int(rows[flat[0]]))
    height, width_px = image_size
    boxes = np.stack([np.clip(x, 0, width_px), np.clip(y, 0, height), np.clip(x + w, 0, width_px), np.clip(y + h, 0, height)], axis=1)
    outside = np.flatnonzero((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
    if outside.size:
        raise AlignmentError(f"box [{x[outside[0]]:g}, {y[outside[0]]:g}, {w[outside[0]]:g}, {h[outside[0]]:g}] lies outside the "
                             f"{width_px}x{height} frame", path=path, line=int(rows[outside[0]]))
    raw = table[:, 6].copy()
    score, rescaled = _scores(raw, ground_truth=bool(has_classes))
    return MotBoxes(frame, boxes, score, raw, rows, skipped, rescaled, digest)


def _scores(raw: np.ndarray, *, ground_truth: bool) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Scores in [0, 1]: ground truth and MOT15-style ``-1`` flags give 1; out-of-range confidences are mapped linearly."""
    if ground_truth or (raw.size and np.all(raw == -1)):
        return np.ones_like(raw), None
    if raw.size == 0 or (raw.min() >= 0 and raw.max() <= 1):
        return raw.copy(), None
    low, high = float(raw.min()), float(raw.max())
    if high == low:
        return np.ones_like(raw), (low, high)
    return (raw - low) / (high - low), (low, high)
