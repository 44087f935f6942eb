"""Reading one sequence's ground truth or predictions for evaluation, masks decoded once.

A MOTS txt file whose every line is canonical (``frame id class height width counts``,
single spaces, unsigned integers, ``\\n`` line ends, no blank line) is parsed with numpy on
its bytes (no Python string per line) and checked with the rules of
:func:`dior_cli.formats.mots_txt.read_mots_txt` (classes 1, 2, 10; frames from
``frame_base`` and below ``num_frames``; one image size; no object id twice in a frame;
counts that decode), applied to all lines at once. Any other file, or any line that breaks a
rule, goes to the general reader (:func:`dior_cli.formats.eval_layouts.read_annotation_rows`),
which reads every valid variant and names the file and line of every error. Instance-PNG
folders always take that reader.

Two ways to read:

* :func:`read_masks`: the whole file at once.
* :class:`MaskStream`: a canonical file whose lines come in frame order (non-decreasing
  frames: what trackers and datasets write), read ``chunk_bytes`` at a time and handed out
  frame block by frame block, so memory holds one block of masks, whatever the length of
  the sequence. It raises :class:`NotStreamable` as soon as the file turns out not to be
  canonical, valid or in frame order; the caller then reads the whole file with
  :func:`read_masks` (which names the problem, or reads the file as it is).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.matching.frame_pairs import RowIds, SequenceMasks
from dior_cli.matching.mask_runs import MaskRuns, RleProblem, decode_count_bytes
from dior_cli.records import CAR, IGNORE, PEDESTRIAN, MotsRows

_CLASSES = (CAR, PEDESTRIAN, IGNORE)
_MAX_DIGITS = np.array([9, 9, 2, 6, 6])  # frame, object id, class, height, width
CHUNK_BYTES = 1 << 19  # bytes read at a time by MaskStream (512 KiB: some 50 MB of decoded masks and pairs per block)


class NotStreamable(Exception):
    """The file cannot be streamed (not canonical, not valid, or not in frame order)."""


@dataclass(frozen=True, eq=False)
class TextRows(RowIds):
    """Rows read from MOTS txt bytes: ``frame``, ``obj_id``, ``class_id`` ``(N,)`` and, to make
    their RLE dicts only when asked (:meth:`mots_rows`), where each counts string lies:
    ``segments`` = ``(bytes, starts (n,), ends (n,))`` for consecutive runs of rows."""

    size: tuple[int, int] = (0, 0)
    segments: tuple[tuple[bytes, np.ndarray, np.ndarray], ...] = ()

    def mots_rows(self) -> MotsRows:
        """The same rows as :class:`~dior_cli.records.MotsRows` (RLE dicts made here)."""
        h, w = self.size
        counts = [data[a:b].decode("ascii") for data, starts, ends in self.segments for a, b in zip(starts.tolist(), ends.tolist())]
        return MotsRows(frame=self.frame, obj_id=self.obj_id, class_id=self.class_id,
                        rles=[{"size": [h, w], "counts": c} for c in counts])


def as_mots_rows(rows: MotsRows | RowIds) -> MotsRows:
    """``rows`` with their RLE dicts (``MotsRows`` as they are; ``TextRows`` converted)."""
    if isinstance(rows, MotsRows):
        return rows
    if isinstance(rows, TextRows):
        return rows.mots_rows()
    raise TypeError(f"rows without RLE strings: {type(rows).__name__}")


def masks_image_size(masks: SequenceMasks) -> tuple[int, int] | None:
    """``(height, width)`` of a side's masks, ``None`` when it has no rows."""
    return None if len(masks.rows) == 0 else (masks.runs.height, masks.runs.width)


def read_masks(path: Path, frame_base: int, *, num_frames: int, image_size: tuple[int, int] | None = None,
               sequence: str | None = None) -> SequenceMasks:
    """The rows of one sequence (file order) with their decoded masks.

    Raises the general reader's errors (FormatError naming the file and line, InputNotFound).
    """
    path = Path(path)
    fast = _read_canonical(path, frame_base, num_frames, image_size) if path.is_file() else None
    if fast is not None:
        return fast
    from dior_cli.formats.eval_layouts import read_annotation_rows  # the general reader (and PNG folders)

    rows = read_annotation_rows(path, frame_base, num_frames=num_frames, image_size=image_size, sequence=sequence)
    return SequenceMasks.of(rows)


def _read_canonical(path: Path, frame_base: int, num_frames: int, image_size: tuple[int, int] | None) -> SequenceMasks | None:
    """Rows and masks of a canonical, valid file; ``None`` for anything else."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data:
        return SequenceMasks(RowIds(*(np.zeros(0, dtype=np.int64) for _ in range(3))), MaskRuns.empty())
    if not data.endswith(b"\n"):
        data += b"\n"
    parsed = parse_lines(data, frame_base, num_frames, image_size)
    if parsed is None or _repeats_an_id(parsed.rows):
        return None
    return parsed


def parse_lines(data: bytes, frame_base: int, num_frames: int, image_size: tuple[int, int] | None) -> SequenceMasks | None:
    """Canonical lines ``data`` (each ending in ``\\n``) checked and decoded (rows: :class:`TextRows`,
    0-based frames); ``None`` if a line is not canonical or breaks a rule (the duplicate-id
    rule is the caller's, see :func:`_repeats_an_id`)."""
    buf = np.frombuffer(data, dtype=np.uint8)  # (B,)
    newline = np.flatnonzero(buf == 10)  # (N,)
    n = newline.size
    space = np.flatnonzero(buf == 32)
    if n == 0 or space.size != 5 * n:
        return None
    line_start = np.concatenate(([0], newline[:-1] + 1))  # (N,)
    starts = np.column_stack([line_start, space.reshape(n, 5) + 1])  # (N, 6) first byte of each field
    ends = np.column_stack([space.reshape(n, 5), newline])  # (N, 6) one past its last byte
    lengths = ends - starts  # (N, 6): all > 0 puts each line's five spaces inside it
    if (lengths <= 0).any() or (lengths[:, :5] > _MAX_DIGITS).any():
        return None
    numbers = np.zeros((5, n), dtype=np.int64)
    for f in range(5):
        width = int(lengths[:, f].max())
        place = np.arange(width)  # (D,)
        valid = place[None, :] < lengths[:, f, None]  # (N, D)
        digits = buf[np.where(valid, starts[:, f, None] + place[None, :], 0)].astype(np.int64) - 48  # (N, D)
        if (valid & ((digits < 0) | (digits > 9))).any():
            return None
        value = numbers[f]
        for k in range(width):  # Horner's rule over the digit columns
            value[:] = np.where(valid[:, k], value * 10 + digits[:, k], value)
    frame, obj_id, class_id, height, width = numbers
    frame = frame - frame_base
    size = (int(height[0]), int(width[0])) if image_size is None else (int(image_size[0]), int(image_size[1]))
    valid_rows = (
        (frame >= 0).all() and (frame < num_frames).all() and np.isin(class_id, _CLASSES).all()
        and size[0] > 0 and size[1] > 0 and (height == size[0]).all() and (width == size[1]).all()
    )
    if not valid_rows:
        return None
    in_counts = np.ones(buf.size, dtype=bool)  # (B,) the counts strings: all but each line's first fields and newline
    in_counts[newline] = False
    prefix = starts[:, 5] - line_start  # (N,) bytes before each counts string
    first_of_each = np.cumsum(prefix) - prefix  # (N,)
    in_counts[np.repeat(line_start - first_of_each, prefix) + np.arange(int(first_of_each[-1] + prefix[-1]))] = False
    try:
        runs = decode_count_bytes(buf[in_counts], lengths[:, 5], *size)
    except RleProblem:
        return None
    rows = TextRows(frame=frame, obj_id=obj_id, class_id=class_id, size=size,
                    segments=((data, starts[:, 5].copy(), ends[:, 5].copy()),))
    return SequenceMasks(rows, runs)


def _repeats_an_id(rows: RowIds) -> bool:
    """Whether some object id appears twice in one frame."""
    if len(rows) < 2:
        return False
    key = np.sort(rows.frame * (int(rows.obj_id.max()) + 1) + rows.obj_id)  # (N,)
    return bool((key[1:] == key[:-1]).any())


class MaskStream:
    """One side of a sequence read a chunk at a time, handed out by frame blocks (see the
    module docstring). ``path=None`` is a side without rows."""

    def __init__(self, path: Path | None, frame_base: int, num_frames: int, image_size: tuple[int, int] | None = None,
                 chunk_bytes: int = CHUNK_BYTES):
        self.frame_base, self.num_frames, self.image_size, self.chunk_bytes = frame_base, num_frames, image_size, chunk_bytes
        self._file = None if path is None else open(path, "rb")
        self.eof = path is None
        self._carry = b""
        self._parts: list[SequenceMasks] = []  # parsed rows not yet handed out, in frame order
        self._last_frame = -1  # of the rows parsed so far

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def complete_before(self) -> int:
        """Every row of a frame before this one has been read (later lines may still hold
        the last frame read)."""
        return self.num_frames if self.eof else self._last_frame

    def buffered_bytes(self) -> int:
        """Bytes of counts strings read and not yet handed out (about what is buffered)."""
        return sum(int(p.rows.segments[0][2][-1] - p.rows.segments[0][1][0]) for p in self._parts if len(p.rows))

    def fill(self) -> None:
        """Read until a chunk's worth of rows is waiting or the file has ended."""
        while not self.eof and self.buffered_bytes() < self.chunk_bytes:
            self.read_chunk()

    def read_chunk(self) -> None:
        """Read and parse the next chunk (raises :class:`NotStreamable`)."""
        if self.eof:
            return
        data = self._file.read(self.chunk_bytes)
        if not data:
            self.eof = True
            self.close()
            data, self._carry = self._carry, b""
            if data and not data.endswith(b"\n"):
                data += b"\n"
        else:
            data = self._carry + data
            cut = data.rfind(b"\n")
            if cut < 0:  # a line longer than a chunk: read on
                self._carry = data
                return
            self._carry, data = data[cut + 1 :], data[: cut + 1]
        if not data:
            return
        parsed = parse_lines(data, self.frame_base, self.num_frames, self.image_size)
        if parsed is None:
            raise NotStreamable("not canonical or not valid")
        frame = parsed.rows.frame
        if frame[0] < self._last_frame or (frame.size > 1 and (np.diff(frame) < 0).any()):
            raise NotStreamable("lines not in frame order")
        self._last_frame = int(frame[-1])
        if self.image_size is None:
            self.image_size = parsed.rows.size
        self._parts.append(parsed)

    def take(self, t_end: int, t0: int) -> SequenceMasks:
        """The rows of frames ``t0 .. t_end-1`` (all of them read: ``t_end <= complete_before``)
        with frames counted from ``t0``; raises :class:`NotStreamable` if an id repeats in a frame."""
        taken: list[SequenceMasks] = []
        while self._parts:
            part = self._parts[0]
            k = int(np.searchsorted(part.rows.frame, t_end))
            if k == len(part.rows):
                taken.append(self._parts.pop(0))
                continue
            if k:
                head, tail = _split(part, k)
                taken.append(head)
                self._parts[0] = tail
            break
        block = _join(taken, t0, self.image_size or (0, 0))
        if _repeats_an_id(block.rows):
            raise NotStreamable("an object id twice in a frame")
        return block


def _split(part: SequenceMasks, k: int) -> tuple[SequenceMasks, SequenceMasks]:
    """Rows ``[:k]`` and ``[k:]`` of a parsed part."""
    rows, runs = part.rows, part.runs
    cut = int(np.searchsorted(runs.owner, k))
    (data, starts, ends), = rows.segments

    def piece(sel: slice, run_sel: slice, owner_shift: int) -> SequenceMasks:
        r = TextRows(frame=rows.frame[sel], obj_id=rows.obj_id[sel], class_id=rows.class_id[sel], size=rows.size,
                     segments=((data, starts[sel], ends[sel]),))
        m = MaskRuns(runs.height, runs.width, runs.area[sel], runs.start[run_sel], runs.end[run_sel], runs.owner[run_sel] - owner_shift)
        return SequenceMasks(r, m)

    return piece(slice(0, k), slice(0, cut), 0), piece(slice(k, None), slice(cut, None), k)


def _join(parts: list[SequenceMasks], t0: int, size: tuple[int, int]) -> SequenceMasks:
    """Consecutive parts as one block, frames counted from ``t0``."""
    if not parts:
        none = np.zeros(0, dtype=np.int64)
        return SequenceMasks(TextRows(frame=none, obj_id=none.copy(), class_id=none.copy(), size=size), MaskRuns.empty(*size))
    if len(parts) == 1:  # one part: no copies
        (only,) = parts
        rows = only.rows if t0 == 0 else dataclasses.replace(only.rows, frame=only.rows.frame - t0)
        return SequenceMasks(rows, only.runs)
    offsets = np.cumsum([0] + [len(p.rows) for p in parts[:-1]])
    rows = TextRows(
        frame=np.concatenate([p.rows.frame for p in parts]) - t0,
        obj_id=np.concatenate([p.rows.obj_id for p in parts]),
        class_id=np.concatenate([p.rows.class_id for p in parts]),
        size=size, segments=tuple(s for p in parts for s in p.rows.segments),
    )
    runs = MaskRuns(
        size[0], size[1],
        np.concatenate([p.runs.area for p in parts]),
        np.concatenate([p.runs.start for p in parts]),
        np.concatenate([p.runs.end for p in parts]),
        np.concatenate([p.runs.owner + o for p, o in zip(parts, offsets)]),
    )
    return SequenceMasks(rows, runs)
