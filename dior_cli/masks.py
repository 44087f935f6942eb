"""Instance masks as COCO run-length encodings: the only module that uses pycocotools.

Conventions:
- An RLE is a dict ``{"size": [height, width], "counts": str}`` with COCO's compressed,
  column-major counts (the string of a MOTS txt line). ``counts`` is kept as ``str`` so
  records serialise to JSON and MOTS txt as they are.
- Dense masks are ``(H, W)`` arrays, non-zero = inside.
- Pairwise functions take two lists of RLEs of one image size and return ``(N, M)``
  matrices computed on the run lengths, without decoding to dense arrays.
- IoM is intersection over the *smaller* of the two areas (DIOR, eq. 6; ReMOTS's NMS);
  it is 0 when either mask is empty.

pycocotools trusts its input: a counts string whose runs add up to more than
``height * width`` makes its decoder write past its buffer. Every reader therefore calls
:func:`rle_problem` on strings that come from files before anything decodes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from pycocotools import mask as _coco


class Rle(TypedDict):
    """COCO compressed RLE: ``size`` is ``[height, width]``, ``counts`` column-major."""

    size: list[int]
    counts: str


_FIRST_CHAR = 48  # '0': the alphabet of COCO's compressed counts is chr(48)..chr(111)
_LAST_CHAR = 111
_MAX_CHARS_PER_NUMBER = 6  # 30 bits: a billion pixels, far more than any image
_AREA_CHUNK = 255
_BATCH_STRINGS = 1024  # masks checked per vectorised pass (a few MB of temporaries at 1080p; faster than larger passes)


def make_rle(counts: str | bytes, height: int, width: int) -> Rle:
    """Build an RLE dict from a counts string and an image size."""
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(height), int(width)], "counts": counts}


def encode(mask: np.ndarray) -> Rle:
    """Encode one dense ``(H, W)`` mask (non-zero = inside) as an RLE."""
    if mask.ndim != 2:
        raise ValueError(f"encode expects an (H, W) mask, got shape {mask.shape}")
    fortran = np.asfortranarray(mask != 0, dtype=np.uint8)  # (H, W), column-major
    coco = _coco.encode(fortran)
    return make_rle(coco["counts"], *coco["size"])


def encode_label_image(labels: np.ndarray, values: Sequence[int] | np.ndarray) -> list[Rle]:
    """Encode, for each value ``v``, the mask ``labels == v`` of a ``(H, W)`` label image."""
    values = np.asarray(values)
    if values.size == 0:
        return []
    by_column = np.ascontiguousarray(labels.T)  # (W, H): column-major pixel order
    stacked = (by_column[None, :, :] == values[:, None, None]).view(np.uint8)  # (K, W, H), C order
    fortran = stacked.transpose(2, 1, 0)  # (H, W, K), Fortran order: a view, no copy
    return [make_rle(c["counts"], *c["size"]) for c in _coco.encode(fortran)]


def encode_box_crops(crops: Sequence[np.ndarray], origins: np.ndarray, image_size: tuple[int, int]) -> list[Rle]:
    """Encode masks given as box crops: crop ``k`` (``(h_k, w_k)`` bool) sits with its top-left
    pixel at ``origins[k] = [row, column]`` of an otherwise empty ``image_size`` ``[H, W]`` mask.

    The runs are computed from the crops alone (no full-frame array) and compressed in one
    pycocotools call; the strings equal :func:`encode` of the full masks. Crops must lie
    inside the image.
    """
    height, width = (int(v) for v in image_size)
    total = height * width
    uncompressed = []
    for crop, (row0, col0) in zip(crops, np.asarray(origins, dtype=np.int64).reshape(-1, 2)):
        crop_h, crop_w = crop.shape
        if row0 < 0 or col0 < 0 or row0 + crop_h > height or col0 + crop_w > width:
            raise ValueError(f"crop {crop.shape} at {(int(row0), int(col0))} leaves the {height}x{width} image")
        padded = np.zeros((crop_w, crop_h + 2), dtype=np.int8)  # (w, h+2): one column per row, background on both ends
        padded[:, 1:-1] = crop.T
        change = np.diff(padded, axis=1)  # (w, h+1): +1 where a run starts, -1 one past where it ends
        start_col, start_row = np.nonzero(change == 1)  # column-major order: sorted by column, then row
        end_col, end_row = np.nonzero(change == -1)
        starts = (col0 + start_col) * height + row0 + start_row  # (R,) column-major pixel index
        ends = (col0 + end_col) * height + row0 + end_row  # (R,) exclusive
        if starts.size:
            joined = ends[:-1] == starts[1:]  # a run that reaches a column's bottom and goes on at the next column's top
            starts = starts[np.concatenate(([True], ~joined))]
            ends = ends[np.concatenate((~joined, [True]))]
        edges = np.empty(2 * starts.size + 2, dtype=np.int64)
        edges[0], edges[1:-1:2], edges[2:-1:2], edges[-1] = 0, starts, ends, total
        runs = np.diff(edges)  # background, foreground, background, ... (COCO starts with background)
        if runs.size > 1 and runs[-1] == 0:
            runs = runs[:-1]  # the last run is foreground: COCO writes no empty background after it
        uncompressed.append({"size": [height, width], "counts": runs.tolist()})
    if not uncompressed:
        return []
    return [make_rle(c["counts"], height, width) for c in _coco.frPyObjects(uncompressed, height, width)]


def decode(rle: Rle) -> np.ndarray:
    """Decode one RLE to a dense ``(H, W)`` uint8 mask with values 0/1."""
    return _coco.decode([_coco_obj(rle)])[:, :, 0]


def decode_many(rles: Sequence[Rle]) -> np.ndarray:
    """Decode masks of one size to a dense ``(H, W, N)`` uint8 stack (Fortran order)."""
    if len(rles) == 0:
        raise ValueError("decode_many needs at least one mask (the image size comes from them)")
    _check_same_size(rles, rles[:1])
    return _coco.decode([_coco_obj(r) for r in rles])


def area(rles: Sequence[Rle]) -> np.ndarray:
    """Pixel count of each mask: ``(N,)`` int64."""
    if len(rles) == 0:
        return np.zeros(0, dtype=np.int64)
    objs = [_coco_obj(r) for r in rles]
    # pycocotools 2.0.x overflows on more than 255 masks per call: ask in chunks.
    chunks = [np.asarray(_coco.area(objs[i : i + _AREA_CHUNK]), dtype=np.int64).reshape(-1) for i in range(0, len(objs), _AREA_CHUNK)]
    return np.concatenate(chunks)


def bbox_xyxy(rles: Sequence[Rle]) -> np.ndarray:
    """Tight boxes ``(N, 4)`` float64 as ``[x1, y1, x2, y2]`` in pixels (x2 = x1 + width).

    An empty mask gives ``[0, 0, 0, 0]``.
    """
    if len(rles) == 0:
        return np.zeros((0, 4), dtype=np.float64)
    xywh = np.asarray(_coco.toBbox([_coco_obj(r) for r in rles]), dtype=np.float64).reshape(-1, 4)
    xywh[:, 2:] += xywh[:, :2]
    return xywh


def box_pixel_ranges(boxes_xyxy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The pixels a box covers: ``(N, 4)`` int64 ``[c0, r0, c1, r1]``, rows r0..r1-1 and columns c0..c1-1.

    Pixel ``(r, c)`` is the square ``[c, c+1) x [r, r+1)``; a box covers the pixels whose centre
    ``(c + 0.5, r + 0.5)`` lies inside it, and at least the one pixel its top-left corner falls
    in (so a thin box is never empty). Ranges are clipped to the image ``[h, w]``.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    height, width = image_size
    lo = np.ceil(boxes[:, :2] - 0.5).astype(np.int64)  # first covered column, row
    hi = np.ceil(boxes[:, 2:] - 0.5).astype(np.int64)  # one past the last
    thin = hi <= lo  # no pixel centre inside: take the pixel of the top-left corner
    corner = np.floor(boxes[:, :2]).astype(np.int64)
    lo, hi = np.where(thin, corner, lo), np.where(thin, corner + 1, hi)
    limits = np.array([width, height])
    lo = np.clip(lo, 0, limits - 1)
    hi = np.clip(hi, lo + 1, limits)
    return np.concatenate([lo, hi], axis=1)


def box_rles(boxes_xyxy: np.ndarray, image_size: tuple[int, int]) -> list[Rle]:
    """Each box as a filled rectangle mask of ``image_size`` ``[h, w]`` (pixels of ``box_pixel_ranges``)."""
    height, width = image_size
    rles = []
    for c0, r0, c1, r1 in box_pixel_ranges(boxes_xyxy, image_size):
        mask = np.zeros((height, width), dtype=bool)
        mask[r0:r1, c0:c1] = True
        rles.append(encode(mask))
    return rles


def iou_matrix(a: Sequence[Rle], b: Sequence[Rle]) -> np.ndarray:
    """Intersection over union between every mask of ``a`` and of ``b``: ``(N, M)`` float64.

    Computed by pycocotools exactly as TrackEval does, so scores built on it match the
    official evaluator bit for bit.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    _check_same_size(a, b)
    crowd = np.zeros(len(b), dtype=np.uint8)
    out = _coco.iou([_coco_obj(r) for r in a], [_coco_obj(r) for r in b], crowd)
    return np.asarray(out, dtype=np.float64).reshape(len(a), len(b))


def intersection_matrix(a: Sequence[Rle], b: Sequence[Rle]) -> np.ndarray:
    """Pixels shared by every mask of ``a`` and of ``b``: ``(N, M)`` int64, exact."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.int64)
    ratio = ioa_matrix(a, b)  # (N, M) |a ∩ b| / |a|
    return np.rint(ratio * area(a)[:, None]).astype(np.int64)


def ioa_matrix(a: Sequence[Rle], b: Sequence[Rle]) -> np.ndarray:
    """Intersection over the area of each mask of ``a``: ``(N, M)`` float64 (0 for empty ``a``).

    Computed by pycocotools as TrackEval does for "inside an ignore region" tests.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    _check_same_size(a, b)
    crowd = np.ones(len(b), dtype=np.uint8)  # "crowd" b: pycocotools divides by |a|
    out = _coco.iou([_coco_obj(r) for r in a], [_coco_obj(r) for r in b], crowd)
    return np.asarray(out, dtype=np.float64).reshape(len(a), len(b))


def iom_matrix(a: Sequence[Rle], b: Sequence[Rle]) -> np.ndarray:
    """Intersection over the smaller area (IoM): ``(N, M)`` float64 in [0, 1].

    ``I / min(|a|, |b|)`` is the larger of ``I / |a|`` and ``I / |b|``, so two
    intersection-over-area passes give it exactly, with no area computation; 0 when
    either mask is empty.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    return np.maximum(ioa_matrix(a, b), ioa_matrix(b, a).T)


def merge(rles: Sequence[Rle], intersect: bool = False) -> Rle:
    """Union (or intersection) of masks of one size as a single RLE."""
    if len(rles) == 0:
        raise ValueError("merge needs at least one mask")
    _check_same_size(rles, rles[:1])
    coco = _coco.merge([_coco_obj(r) for r in rles], intersect=int(intersect))
    return make_rle(coco["counts"], *coco["size"])


def has_overlap(rles: Sequence[Rle]) -> bool:
    """Whether any two of the masks share a pixel (one union, no pairwise work)."""
    if len(rles) < 2:
        return False
    return int(area([merge(rles)])[0]) != int(area(rles).sum())


def make_disjoint(rles: Sequence[Rle], priority: Sequence[float] | np.ndarray | None = None) -> tuple[list[Rle], int]:
    """Give every pixel claimed by several masks to the highest-priority one.

    Args:
        rles: masks of one image size.
        priority: one number per mask, higher wins; ``None`` means earlier in the list
            wins. Ties go to the earlier mask.

    Returns:
        The masks with contested pixels removed from the losers (untouched masks are the
        same objects as given), and the number of pixels removed in total. Works on the
        run lengths (unions, intersections, complements): nothing is decoded.
    """
    out = list(rles)
    if not has_overlap(out):
        return out, 0
    inter = intersection_matrix(out, out)  # (N, N)
    np.fill_diagonal(inter, 0)
    involved = inter.any(axis=1)  # (N,)
    if not involved.any():
        return out, 0
    if priority is None:
        order = np.arange(len(out))
    else:
        order = np.argsort(-np.asarray(priority, dtype=np.float64), kind="stable")
    claimed: Rle | None = None  # union of the masks already placed, as given
    moved = 0
    for i in order:
        if not involved[i]:
            continue  # overlaps nobody: cannot lose or take pixels
        mask = out[i]
        if claimed is not None:
            lost = int(area([merge([mask, claimed], intersect=True)])[0])
            if lost:
                moved += lost
                out[i] = merge([mask, complement(claimed)], intersect=True)
        claimed = mask if claimed is None else merge([claimed, mask])
    return out, moved


def rle_problem(counts: str, height: int, width: int) -> str | None:
    """Say what is wrong with a compressed counts string, or ``None`` if it decodes cleanly.

    Checks the alphabet, that the last number is complete, that every run is
    non-negative, and that the runs cover exactly ``height * width`` pixels.
    """
    if height < 0 or width < 0:
        return f"negative image size {height}x{width}"
    total = height * width
    if counts == "":
        return None if total == 0 else f"empty RLE counts for a {height}x{width} mask"
    runs = _decode_runs(counts)
    if isinstance(runs, str):
        return runs
    if (runs < 0).any():
        return "RLE counts decode to a negative run length"
    covered = int(runs.sum())
    if covered != total:
        return f"RLE counts cover {covered} pixels, but a {height}x{width} mask has {total}"
    return None


def _decode_runs(counts: str) -> np.ndarray | str:
    """The run lengths ``(R,)`` int64 of a non-empty counts string, or what stops decoding."""
    try:
        raw = np.frombuffer(counts.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return "RLE counts contain non-ASCII characters"
    if raw.min() < _FIRST_CHAR or raw.max() > _LAST_CHAR:
        return "RLE counts contain characters outside COCO's alphabet ('0'..'o')"
    chars = raw.astype(np.int64) - _FIRST_CHAR  # (L,)
    continues = (chars & 0x20) != 0  # (L,) another 5-bit group follows
    if continues[-1]:
        return "RLE counts end in the middle of a number"
    ends = np.flatnonzero(~continues)  # (R,) last character of each number
    starts = np.concatenate(([0], ends[:-1] + 1))  # (R,)
    n_chars = ends - starts + 1  # (R,)
    if n_chars.max() > _MAX_CHARS_PER_NUMBER:
        return "RLE counts hold a number too large for any image"
    position = np.arange(chars.size) - np.repeat(starts, n_chars)  # (L,) group index in its number
    values = np.add.reduceat((chars & 0x1F) << (5 * position), starts)  # (R,)
    negative = (chars[ends] & 0x10) != 0
    values = values - np.where(negative, 1 << (5 * n_chars), 0)
    runs = values.copy()  # runs after index 2 are stored as differences to the run two back
    runs[2::2] = np.cumsum(values[2::2])
    runs[1::2] = np.cumsum(values[1::2])
    return runs


def complement(rle: Rle) -> Rle:
    """The mask of every pixel *not* in ``rle`` (same size), computed on the runs."""
    height, width = rle["size"]
    if rle["counts"] == "":
        return rle
    runs = _decode_runs(rle["counts"])
    if isinstance(runs, str):
        raise ValueError(runs)
    flipped = runs[1:] if runs[0] == 0 else np.concatenate(([0], runs))  # runs start with background
    coco = _coco.frPyObjects({"size": [height, width], "counts": flipped.tolist()}, height, width)
    return make_rle(coco["counts"], height, width)


def first_rle_problem(counts: Sequence[str], heights: Sequence[int], widths: Sequence[int]) -> tuple[int, str] | None:
    """Check many counts strings at once: ``(index, problem)`` of the first bad one, or ``None``.

    The same checks as :func:`rle_problem`, vectorised over all strings (a file's worth of
    masks costs a few numpy passes instead of a few per mask).
    """
    n = len(counts)
    if n == 0:
        return None
    if n > _BATCH_STRINGS:  # bound the temporary arrays: check in slices
        for start in range(0, n, _BATCH_STRINGS):
            stop = start + _BATCH_STRINGS
            found = first_rle_problem(counts[start:stop], heights[start:stop], widths[start:stop])
            if found is not None:
                return start + found[0], found[1]
        return None
    heights = np.asarray(heights, dtype=np.int64)
    widths = np.asarray(widths, dtype=np.int64)
    lengths = np.fromiter((len(c) for c in counts), dtype=np.int64, count=n)  # (S,)
    try:
        raw = np.frombuffer("".join(counts).encode("ascii"), dtype=np.uint8)  # (L,)
    except UnicodeEncodeError:
        raw = None
    bad = (heights < 0) | (widths < 0) | ((lengths == 0) & (heights * widths != 0))  # (S,)
    if raw is None:
        bad |= np.fromiter((not c.isascii() for c in counts), dtype=bool, count=n)
    elif raw.size:
        bad |= _batch_run_problems(raw, lengths, heights * widths)
    hits = np.flatnonzero(bad)
    if hits.size == 0:
        return None
    i = int(hits[0])
    return i, rle_problem(counts[i], int(heights[i]), int(widths[i])) or "RLE counts do not decode"


def _batch_run_problems(raw: np.ndarray, lengths: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """``(S,)`` bool: which strings of the concatenated ``raw`` fail to decode to ``totals`` pixels.

    Per character only uint8/bool passes; per number (R, about one per character) a few
    int64 passes: 5-bit groups are joined only for the rare numbers of several characters,
    and the runs stored as differences (every run after the third, to the run two back) are
    recovered by one cumulative sum per parity of the global number index, restarted where
    each string's two chains begin.
    """
    n = lengths.size
    bad = np.zeros(n, dtype=bool)
    nonempty = lengths > 0  # (S,)
    string_end = np.cumsum(lengths) - 1  # (S,) last character of each string (of the previous one when empty)
    outside = (raw < _FIRST_CHAR) | (raw > _LAST_CHAR)  # (L,)
    if outside.any():
        bad[np.searchsorted(string_end, np.flatnonzero(outside))] = True
    chars = raw - np.uint8(_FIRST_CHAR)  # (L,) uint8; wrapped values belong to strings already marked bad
    number_ends = chars < 0x20  # (L,) no continuation bit: a number's last character
    ends_at = string_end[nonempty]  # (S',)
    bad[np.flatnonzero(nonempty)[~number_ends[ends_at]]] = True  # a string ending in the middle of a number
    number_ends[ends_at] = True  # never let a number run into the next string
    ends = np.flatnonzero(number_ends)  # (R,) last character of each number
    first_number = np.searchsorted(ends, string_end - lengths + 1)  # (S,) index of each string's first number
    per_string = np.searchsorted(ends, string_end, side="right") - first_number  # (S,) numbers of each string (0 if empty)
    last = chars[ends].astype(np.int64)  # (R,) the most significant group of each number
    n_chars = np.diff(ends, prepend=-1)  # (R,)
    values = (last & 0x1F) - ((last & 0x10) << 1)  # (R,) exact for one-character numbers (sign-extended 5 bits)
    multi = np.flatnonzero(n_chars > 1)  # (R'',) the rare longer numbers
    if multi.size:
        if (n_chars[multi] > _MAX_CHARS_PER_NUMBER).any():
            bad[np.searchsorted(first_number, multi[n_chars[multi] > _MAX_CHARS_PER_NUMBER], side="right") - 1] = True
        width = np.minimum(n_chars[multi], _MAX_CHARS_PER_NUMBER)
        top = last[multi]
        value = (top & 0x1F) << (5 * (width - 1))
        for k in range(1, _MAX_CHARS_PER_NUMBER):  # lower groups, least significant first in the string
            has = width > k
            if not has.any():
                break
            group = chars[ends[multi[has]] - k].astype(np.int64) & 0x1F
            value[has] += group << (5 * (width[has] - 1 - k))
        value -= np.where(top & 0x10, np.left_shift(np.int64(1), 5 * width), 0)
        values[multi] = value
    index_in_string = np.arange(ends.size) - np.repeat(first_number, per_string)  # (R,)
    runs = np.empty_like(values)
    for parity in (0, 1):  # chains of one string share the parity of their global index
        chain = values[parity::2]
        restart = index_in_string[parity::2] <= 2  # index 0 alone, 1 and 2 start the two chains
        total = np.cumsum(chain)
        before = (total - chain)[restart]  # running sum before each restart
        runs[parity::2] = total - before[np.cumsum(restart) - 1]
    negative = runs < 0
    if negative.any():
        bad[np.searchsorted(first_number, np.flatnonzero(negative), side="right") - 1] = True
    strings = np.flatnonzero(nonempty)
    covered = np.add.reduceat(runs, first_number[strings]) if strings.size else np.zeros(0, np.int64)  # (S',)
    bad[strings[covered != totals[strings]]] = True
    return bad


def _coco_obj(rle: Rle) -> Rle:
    """pycocotools takes our dicts as they are (it encodes ``str`` counts itself)."""
    return rle


def _check_same_size(a: Sequence[Rle], b: Sequence[Rle]) -> None:
    sizes = {tuple(r["size"]) for r in a} | {tuple(r["size"]) for r in b}
    if len(sizes) > 1:
        raise ValueError(f"masks of different image sizes cannot be compared: {sorted(sizes)}")
