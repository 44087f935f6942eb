"""A sequence's ground truth against its predictions, frame by frame, from mask intervals.

What TrackEval 1.3.0 computes per frame with pycocotools, for all frames at once:

* the mask IoU of every ground-truth object (class 1 or 2) with every prediction of its
  frame, ``intersection / (area_a + area_b - intersection)`` in float64 (0 when they do
  not intersect), the very division pycocotools makes, so the values are bit-identical;
* the fraction of each prediction's area inside its frame's ignore regions (class 10):
  ``intersection with their union / area``; ignore regions never overlap each other or an
  object (:func:`first_overlap_frame` refuses ground truth where they do), so the
  intersection with their union is the sum of the intersections with each.

Only the pairs that intersect are stored (every other IoU is an exact 0), so memory grows with
the overlapping pairs, not with ``G_t * P_t``. Conventions: frames ``0 .. T-1`` (or the frames
of one block of a sequence, see :mod:`dior_cli.evaluate.stage`); inside a frame rows keep file
order. Masks of frame ``t``
are laid end to end as pixel intervals ``t * h * w + index`` (see
:mod:`~dior_cli.matching.mask_runs`); the ground-truth masks of a frame are disjoint, so
after one sort they are a list of disjoint intervals and every intersection comes from
two binary searches (predictions may overlap each other: each of their intervals is
searched on its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dior_cli.matching.mask_runs import MaskRuns, decode_counts
from dior_cli.records import IGNORE, MotsRows

_DENSE_ENTRIES_PER_PAIR = 8  # sum intersections over the dense blocks when they are at most this many per interval pair


@dataclass(frozen=True, eq=False)
class RowIds:
    """The columns of MOTS rows that matching reads, without their RLE strings: ``frame``,
    ``obj_id`` and ``class_id``, ``(N,)`` int64 each (0-based frames, file order)."""

    frame: np.ndarray
    obj_id: np.ndarray
    class_id: np.ndarray

    def __len__(self) -> int:
        return int(self.frame.size)


@dataclass(frozen=True, eq=False)
class SequencePairs:
    """Ground-truth objects against predictions, every frame, shared by every class.

    Attributes:
        num_frames: T.
        gt_rows: ``(G,)`` ground-truth rows of objects (no ignore regions), frame by frame,
            file order inside a frame; frame ``t``'s are ``gt_rows[gt_off[t]:gt_off[t+1]]``.
        gt_off: ``(T+1,)``.
        pred_rows: ``(P,)`` prediction rows, likewise; ``pred_off`` ``(T+1,)``.
        ent_row, ent_col: ``(E,)`` the pairs that intersect: positions in ``gt_rows`` and
            ``pred_rows`` (same frame), sorted by (row, col), i.e. frame by frame, row-major.
        iou: ``(E,)`` float64, their IoU (every other pair of a frame has IoU 0).
        in_ignore: ``(P,)`` float64, fraction of each prediction (in ``pred_rows`` order)
            inside its frame's ignore regions.
    """

    num_frames: int
    gt_rows: np.ndarray
    gt_off: np.ndarray
    pred_rows: np.ndarray
    pred_off: np.ndarray
    ent_row: np.ndarray
    ent_col: np.ndarray
    iou: np.ndarray
    in_ignore: np.ndarray

    def pred_rows_in(self, t: int) -> np.ndarray:
        """``(P_t,)`` prediction rows of frame ``t``, file order."""
        return self.pred_rows[self.pred_off[t] : self.pred_off[t + 1]]

    def iou_block(self, t: int) -> np.ndarray:
        """``(G_t, P_t)`` dense IoU of frame ``t`` (rows ``gt_rows``, columns ``pred_rows`` of the frame)."""
        block = np.zeros((int(self.gt_off[t + 1] - self.gt_off[t]), int(self.pred_off[t + 1] - self.pred_off[t])))
        here = (self.ent_row >= self.gt_off[t]) & (self.ent_row < self.gt_off[t + 1])
        block[self.ent_row[here] - self.gt_off[t], self.ent_col[here] - self.pred_off[t]] = self.iou[here]
        return block


@dataclass(frozen=True, eq=False)
class SequenceMasks:
    """One side of a sequence (ground truth or predictions): its rows and their decoded masks.

    ``rows`` are :class:`~dior_cli.records.MotsRows` or :class:`RowIds` (no RLE strings).
    """

    rows: MotsRows | RowIds
    runs: MaskRuns

    @classmethod
    def of(cls, rows: MotsRows) -> SequenceMasks:
        """Decode the masks of ``rows``."""
        return cls(rows, runs_of(rows))

    @cached_property
    def intervals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every mask's intervals laid out frame after frame (``frame * h * w + index``),
        sorted by start: ``start``, ``end`` (K,) int64 and the row each comes from."""
        offset = self.rows.frame[self.runs.owner] * self.runs.pixels  # (K,)
        start = self.runs.start + offset
        order = np.argsort(start, kind="stable")
        return start[order], self.runs.end[order] + offset[order], self.runs.owner[order]


def runs_of(rows: MotsRows) -> MaskRuns:
    """Decode every mask of ``rows`` (ValueError if a counts string does not decode)."""
    if len(rows) == 0:
        return MaskRuns.empty()
    height, width = rows.image_size
    return decode_counts([r["counts"] for r in rows.rles], height, width)


def first_overlap_frame(masks: SequenceMasks) -> int | None:
    """The first frame in which two masks of one side share a pixel, or ``None``."""
    start, end, _ = masks.intervals
    clash = np.flatnonzero(end[:-1] > start[1:])  # sorted by start: overlap iff one runs into the next
    return None if clash.size == 0 else int(start[clash[0] + 1] // max(masks.runs.pixels, 1))


def first_overlapping_pair(masks: SequenceMasks, frame: int) -> tuple[int, int, int] | None:
    """The first two rows of ``frame`` (in file order: the lower row first, then the lower
    partner) whose masks share pixels, as ``(row_a, row_b, shared pixels)``; ``None`` if none."""
    start, end, owner = masks.intervals
    lo, hi = np.searchsorted(start, [frame * masks.runs.pixels, (frame + 1) * masks.runs.pixels])
    start, end, owner = start[lo:hi], end[lo:hi], owner[lo:hi]  # (K_t,) sorted by start
    reach = np.searchsorted(start, end, side="left")  # (K_t,) past the last interval starting before each end
    count = reach - np.arange(start.size) - 1  # (K_t,) later intervals that start inside each one
    if not count.any():
        return None
    first = np.repeat(np.arange(start.size), count)  # (J,)
    second = np.arange(first.size) - np.repeat(np.cumsum(count) - count, count) + first + 1  # (J,)
    pixels = np.minimum(end[first], end[second]) - start[second]  # (J,) > 0
    a, b = np.minimum(owner[first], owner[second]), np.maximum(owner[first], owner[second])  # (J,)
    key = a * (int(owner.max()) + 1) + b
    pairs, inverse = np.unique(key, return_inverse=True)
    shared = np.bincount(inverse.ravel(), weights=pixels)
    k = 0  # pairs are sorted by (row_a, row_b)
    return int(pairs[k] // (int(owner.max()) + 1)), int(pairs[k] % (int(owner.max()) + 1)), int(shared[k])


def pair_frames(gt: MotsRows | SequenceMasks, pred: MotsRows | SequenceMasks, num_frames: int) -> SequencePairs:
    """IoU of objects and predictions and the ignore fraction of predictions, every frame.

    ``gt`` / ``pred``: the rows, or the rows with their decoded masks when the caller has
    them. Predictions may overlap each other; ground-truth masks (objects and ignore
    regions) must not, as TrackEval requires.

    Raises:
        ValueError: two ground-truth masks of a frame share a pixel (the message names the
            frame), or the two sides have masks of different image sizes.
    """
    gt_masks = gt if isinstance(gt, SequenceMasks) else SequenceMasks.of(gt)
    pred_masks = pred if isinstance(pred, SequenceMasks) else SequenceMasks.of(pred)
    clash = first_overlap_frame(gt_masks)
    if clash is not None:
        raise ValueError(f"ground-truth masks overlap in frame {clash} (0-based): IoU with predictions is undefined")
    gt, pred, gt_runs, pred_runs = gt_masks.rows, pred_masks.rows, gt_masks.runs, pred_masks.runs
    if len(gt) and len(pred) and (gt_runs.height, gt_runs.width) != (pred_runs.height, pred_runs.width):
        raise ValueError(f"ground truth is {(gt_runs.height, gt_runs.width)} [h, w] but predictions are "
                         f"{(pred_runs.height, pred_runs.width)}: masks cannot be compared")
    is_object = gt.class_id != IGNORE  # (N_gt,)
    gt_rows, gt_off, gt_pos = _by_frame(gt.frame, num_frames, is_object)
    pred_rows, pred_off, pred_pos = _by_frame(pred.frame, num_frames, np.ones(len(pred), dtype=bool))
    ignored = np.zeros(pred_rows.size, dtype=np.float64)  # (P,) pixels inside ignore regions
    ent_row = ent_col = np.zeros(0, dtype=np.int64)
    inter = np.zeros(0, dtype=np.float64)
    if len(gt) and len(pred):
        g_start, g_end, g_row = gt_masks.intervals
        p_start, p_end, p_row = pred_masks.intervals
        lo = np.searchsorted(g_end, p_start, side="right")  # (K_p,) first gt interval ending after the start
        hi = np.searchsorted(g_start, p_end, side="left")  # (K_p,) past the last one starting before the end
        count = hi - lo
        p_of = np.repeat(np.arange(p_start.size), count)  # (J,) pred interval of each overlapping pair
        g_of = np.arange(p_of.size) - np.repeat(np.cumsum(count) - count, count) + lo[p_of]  # (J,)
        pixels = (np.minimum(g_end[g_of], p_end[p_of]) - np.maximum(g_start[g_of], p_start[p_of])).astype(np.float64)
        g_position = gt_pos[g_row[g_of]]  # (J,) place in gt_rows; -1 = ignore region
        p_position = pred_pos[p_row[p_of]]  # (J,) place in pred_rows
        to_ignore = g_position < 0
        if to_ignore.any():
            ignored = np.bincount(p_position[to_ignore], weights=pixels[to_ignore], minlength=ignored.size)
            to_object = ~to_ignore
            g_position, p_position, pixels = g_position[to_object], p_position[to_object], pixels[to_object]
        ent_row, ent_col, inter = _sum_by_pair(g_position, p_position, pixels, gt_off, pred_off)
    # pycocotools: 0 without intersection, else i / (a + b - i)
    area_g = gt_runs.area[gt_rows[ent_row]].astype(np.float64)
    area_p = pred_runs.area[pred_rows[ent_col]].astype(np.float64)
    iou = inter / (area_g + area_p - inter)
    some = np.flatnonzero(ignored > 0)  # pycocotools' ioa: i / area of the prediction
    in_ignore = np.zeros_like(ignored)
    in_ignore[some] = ignored[some] / pred_runs.area[pred_rows[some]]
    return SequencePairs(num_frames, gt_rows, gt_off, pred_rows, pred_off, ent_row, ent_col, iou, in_ignore)


def _sum_by_pair(g_position: np.ndarray, p_position: np.ndarray, pixels: np.ndarray, gt_off: np.ndarray,
                 pred_off: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels ``(J,)`` of interval pairs summed per (gt position, pred position) pair: the
    pairs ``(E,)`` sorted by (row, col) and their intersections (exact: whole numbers).

    Where the frames' dense blocks are small next to ``J``, the sum runs over the block
    entries (``np.bincount``); otherwise over the sorted pair keys.
    """
    if pixels.size == 0:
        none = np.zeros(0, dtype=np.int64)
        return none, none.copy(), np.zeros(0, dtype=np.float64)
    n_gt, n_pred = np.diff(gt_off), np.diff(pred_off)  # (T,)
    dense_size = int(np.dot(n_gt, n_pred))
    if dense_size <= _DENSE_ENTRIES_PER_PAIR * pixels.size:
        ent_off = np.concatenate(([0], np.cumsum(n_gt * n_pred)))  # (T+1,)
        gt_frame = np.repeat(np.arange(n_gt.size), n_gt)  # (G,)
        # where each gt row's block row starts, less its frame's first prediction: entry = that + pred position
        row_base = ent_off[gt_frame] + (np.arange(gt_frame.size) - gt_off[gt_frame]) * n_pred[gt_frame] - pred_off[gt_frame]  # (G,)
        summed = np.bincount(row_base[g_position] + p_position, weights=pixels, minlength=dense_size)  # (E_dense,)
        hit = np.flatnonzero(summed > 0)  # (E,) frame-major, row-major
        frame = np.searchsorted(ent_off, hit, side="right") - 1
        local = hit - ent_off[frame]
        row = local // np.maximum(n_pred[frame], 1)
        return gt_off[frame] + row, pred_off[frame] + local - row * n_pred[frame], summed[hit]
    width = int(pred_off[-1]) + 1
    keys, inverse = np.unique(g_position * width + p_position, return_inverse=True)  # (E,) sorted
    summed = np.bincount(inverse.ravel(), weights=pixels, minlength=keys.size)
    return keys // width, keys % width, summed


def _by_frame(frame: np.ndarray, num_frames: int, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with ``keep`` grouped by frame in file order: ``rows`` (M,), ``offsets`` (T+1,)
    and ``position`` (N,) of every row in ``rows`` (-1 where not kept)."""
    chosen = np.flatnonzero(keep)
    rows = chosen[np.argsort(frame[chosen], kind="stable")]  # (M,)
    offsets = np.searchsorted(frame[rows], np.arange(num_frames + 1))  # (T+1,)
    position = np.full(frame.size, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    return rows, offsets, position
