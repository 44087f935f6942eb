"""COCO compressed RLE masks decoded to their foreground pixel intervals, all at once.

Conventions:

* Pixels of an ``[h, w]`` image are numbered column-major (``index = column * h + row``),
  as COCO's run lengths count them.
* A mask is a set of disjoint half-open intervals ``[start, end)`` of pixel indices, in
  increasing order; an empty mask has none.
* Counts strings are COCO's compressed alphabet ``'0'..'o'``: each number is 5-bit groups,
  least significant first, ``0x20`` = another group follows, ``0x10`` in the last group =
  negative; from the fourth number on, each is stored as the difference to the number two
  before it (pycocotools' ``rleFrString``).

Every string of a file is decoded in a few numpy passes over the concatenated characters,
in slices of ``_BATCH_CHARS`` characters so temporaries stay small. Nothing
decodes to dense masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

_FIRST_CHAR = 48  # '0'
_LAST_CHAR = 111  # 'o'
_MAX_CHARS_PER_NUMBER = 6  # 30 bits: more than any image has pixels
_BATCH_CHARS = 1 << 18  # characters decoded per numpy pass (temporaries of a few MB)
# value of a number's final 5-bit group, sign included (0x10), by character - '0'
_SIGNED_FINAL_GROUP = np.array([g - 32 if g & 0x10 else g for g in range(32)], dtype=np.int64)


class RleProblem(ValueError):
    """A counts string that does not decode to a mask of its size; ``index`` is its position."""

    def __init__(self, index: int):
        super().__init__(f"RLE counts #{index} do not decode to a mask of the given size")
        self.index = index


@dataclass(frozen=True, eq=False)
class MaskRuns:
    """The foreground intervals of ``N`` masks of one image size.

    Attributes:
        height, width: image size ``[h, w]`` in pixels.
        area: ``(N,)`` int64 pixels of each mask.
        start, end: ``(K,)`` int64 interval bounds (column-major pixel index, ``end``
            exclusive), mask by mask, increasing inside a mask.
        owner: ``(K,)`` int64 mask of each interval (non-decreasing).
    """

    height: int
    width: int
    area: np.ndarray
    start: np.ndarray
    end: np.ndarray
    owner: np.ndarray

    @property
    def pixels(self) -> int:
        """``h * w``: the stride between frames when intervals of several frames are laid end to end."""
        return self.height * self.width

    def __len__(self) -> int:
        return int(self.area.size)

    @classmethod
    def empty(cls, height: int = 0, width: int = 0) -> MaskRuns:
        none = np.zeros(0, dtype=np.int64)
        return cls(height, width, none, none, none.copy(), none.copy())


def decode_counts(counts: Sequence[str], height: int, width: int) -> MaskRuns:
    """Decode COCO compressed counts strings of ``[height, width]`` masks to intervals.

    Raises:
        RleProblem: naming the first string (by position) that has a character outside
            the alphabet, ends inside a number, holds a number of more than 30 bits or a
            negative run, or whose runs do not add up to ``height * width``.
    """
    n = len(counts)
    lengths = np.fromiter(map(len, counts), dtype=np.int64, count=n)  # (S,)
    try:
        raw = np.frombuffer("".join(counts).encode("ascii"), dtype=np.uint8)  # (L,)
    except UnicodeEncodeError:
        raise RleProblem(next(i for i, c in enumerate(counts) if not c.isascii())) from None
    return decode_count_bytes(raw, lengths, height, width)


def decode_count_bytes(raw: np.ndarray, lengths: np.ndarray, height: int, width: int) -> MaskRuns:
    """:func:`decode_counts` of strings given as their characters laid end to end, ``raw``
    ``(L,)`` uint8, and their lengths ``(S,)`` (what a file holds, without making strings)."""
    pixels = int(height) * int(width)
    n = int(lengths.size)
    if n == 0:
        return MaskRuns.empty(int(height), int(width))
    ends = np.cumsum(lengths)  # (S,) chars up to each string
    cuts = np.searchsorted(ends, np.arange(_BATCH_CHARS, int(ends[-1]), _BATCH_CHARS), side="right").tolist()  # sorted
    bounds = [0, *sorted({c for c in cuts if 0 < c < n}), n]
    char_at = np.concatenate(([0], ends))
    parts = [_decode_slice(raw[char_at[lo] : char_at[hi]], lengths[lo:hi], pixels, lo) for lo, hi in zip(bounds[:-1], bounds[1:])]
    if len(parts) == 1:
        only = parts[0]
        return MaskRuns(int(height), int(width), only.area, only.start, only.end, only.owner)
    offsets = np.cumsum([0] + [len(p.area) for p in parts[:-1]])
    return MaskRuns(
        int(height), int(width),
        np.concatenate([p.area for p in parts]),
        np.concatenate([p.start for p in parts]),
        np.concatenate([p.end for p in parts]),
        np.concatenate([p.owner + o for p, o in zip(parts, offsets)]),
    )


def _decode_slice(raw: np.ndarray, lengths: np.ndarray, pixels: int, first_index: int) -> MaskRuns:
    """Decode one slice of strings (see :func:`decode_counts`): characters ``raw`` (L,) of
    strings of ``lengths`` (S,); indices in errors are offset by ``first_index``."""
    n = int(lengths.size)
    if pixels == 0:  # an image without pixels: only empty strings describe its masks
        if lengths.any():
            raise RleProblem(first_index + int(np.argmax(lengths > 0)))
        none = np.zeros(0, dtype=np.int64)
        return MaskRuns(0, 0, np.zeros(n, dtype=np.int64), none, none.copy(), none.copy())
    if not lengths.all():
        raise RleProblem(first_index + int(np.argmin(lengths)))
    last_char = np.cumsum(lengths) - 1  # (S,)
    chars = raw - np.uint8(_FIRST_CHAR)  # (L,) uint8, in 0..63 for the alphabet (below '0' wraps past 63); 0x20 = another group follows
    if chars.max() > _LAST_CHAR - _FIRST_CHAR:
        outside = chars > _LAST_CHAR - _FIRST_CHAR  # (L,)
        raise RleProblem(first_index + int(np.searchsorted(last_char, np.argmax(outside))))
    final = chars < 0x20  # (L,) last character of a number
    if not final[last_char].all():
        raise RleProblem(first_index + int(np.argmin(final[last_char])))
    ends = np.flatnonzero(final)  # (R,) last character of each number
    last_number = np.searchsorted(ends, last_char)  # (S,)
    first_number = np.concatenate(([0], last_number[:-1] + 1))  # (S,)
    values = _SIGNED_FINAL_GROUP[chars[ends]]  # (R,) exact for one-character numbers
    inner = np.flatnonzero(~final) if ends.size < chars.size else ends[:0]  # (L',) characters of longer numbers other than their last
    if inner.size:
        number = inner - np.arange(inner.size)  # (L',) the number each belongs to: finals before it
        number_start = np.where(number > 0, ends[number - 1] + 1, 0)  # (L',) its first character
        top_shift = 5 * (ends[number] - number_start)  # (L',) shift of the number's final group
        if top_shift.max() >= 5 * _MAX_CHARS_PER_NUMBER:
            bad = number[np.argmax(top_shift >= 5 * _MAX_CHARS_PER_NUMBER)]
            raise RleProblem(first_index + int(np.searchsorted(last_number, bad)))
        values[number] = _SIGNED_FINAL_GROUP[chars[ends[number]]] << top_shift  # same value for each char of a number
        lower = (chars[inner] & 0x1F).astype(np.int64) << (5 * (inner - number_start))  # (L',)
        np.add.at(values, number, lower)
    runs = _undo_differences(values, first_number)
    if (runs < 0).any():
        raise RleProblem(first_index + int(np.searchsorted(last_number, np.argmax(runs < 0))))
    position = np.cumsum(runs)  # (R,) end of each run; string s covers [s * pixels, (s + 1) * pixels)
    covered = np.diff(position[last_number], prepend=0)  # (S,)
    if (covered != pixels).any():
        raise RleProblem(first_index + int(np.argmax(covered != pixels)))
    per_string = (last_number - first_number + 1) // 2  # (S,) foreground runs of each string
    fg, owner = _odd_positions(first_number, per_string)  # (K',) foreground runs, their strings
    length = runs[fg]
    cumulative = np.cumsum(length)  # (K',) foreground pixels up to each run, over all strings
    area = np.diff(np.concatenate(([0], cumulative))[np.cumsum(per_string)], prepend=0)  # (S,)
    if not length.all():  # drop empty runs (they would read as overlaps)
        keep = length > 0
        fg, owner, length = fg[keep], owner[keep], length[keep]
    end = position[fg] - owner * pixels  # strings are laid end to end: remove the offset
    return MaskRuns(0, 0, area, end - length, end, owner)


def _odd_positions(first: np.ndarray, per_string: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global indices of the numbers at local positions 1, 3, 5... of each string (foreground
    runs) and the string of each, ``(K',)`` both: ``first`` (S,) each string's first
    number, ``per_string`` (S,) how many such positions it has."""
    skip = np.cumsum(per_string) - per_string  # (S,) foreground runs before each string
    offset = np.repeat(first + 1 - 2 * skip, per_string)  # (K',)
    return offset + 2 * np.arange(offset.size), np.repeat(np.arange(first.size), per_string)


def _undo_differences(values: np.ndarray, first_number: np.ndarray) -> np.ndarray:
    """Run lengths from stored numbers: from a string's fourth number on, each is stored as
    the difference to the run two before it. Per string, the runs at local positions 1, 3,
    5... and at 2, 4, 6... are cumulative sums of the stored numbers; position 0 stands alone.

    ``values`` (R,) all strings' numbers laid end to end; ``first_number`` (S,) where each
    string starts. Each parity of the global position is one strided chain, restarting at
    each string's local positions 0, 1 and 2 (those it has): a segmented cumulative sum,
    done as one ``cumsum`` after subtracting, at each restart, what the previous segment
    added up to.
    """
    count = np.diff(first_number, append=values.size)  # (S,) numbers of each string
    local = np.arange(3)
    starts = (first_number[:, None] + local)[count[:, None] > local]  # (Q,) sorted, each position once
    runs = np.empty_like(values)
    for parity in (0, 1):
        chain = values[parity::2]  # (R/2,) strided view
        restarts = starts[starts % 2 == parity] // 2  # (Q_p,) sorted chain indices
        adjusted = chain.copy()
        segment_sums = np.add.reduceat(chain, restarts)  # (Q_p,) what each segment adds up to
        adjusted[restarts[1:]] -= segment_sums[:-1]  # the cumulative sum restarts at each of them
        runs[parity::2] = np.cumsum(adjusted)
    return runs
