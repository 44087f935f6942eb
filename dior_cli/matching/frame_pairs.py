"""A sequence's ground truth against its predictions, frame by frame, from mask intervals.

What TrackEval 1.3.0 computes per frame with pycocotools, for all frames at once:

* the mask IoU of every ground-truth object (class 1 or 2) with every prediction of its
  frame, ``intersection / (area_a + area_b - intersection)`` in float64 (0 when they do
  not intersect), the very division pycocotools makes, so the values are bit-identical;
* the fraction of each prediction's area inside its frame's ignore regions (class 10):
  ``intersection with their union / area``; ignore regions never overlap each other or an
  object (:func:`first_overlap_frame` refuses ground truth where they do), so the
  intersection with their union is the sum of the intersections with each.

Conventions: frames ``0 .. T-1``; inside a frame rows keep file order. Masks of frame ``t``
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


@dataclass(frozen=True, eq=False)
class SequencePairs:
    """Ground-truth objects against predictions, every frame, shared by every class.

    Attributes:
        num_frames: T.
        gt_rows: ``(G,)`` ground-truth rows of objects (no ignore regions), frame by frame,
            file order inside a frame; frame ``t``'s are ``gt_rows[gt_off[t]:gt_off[t+1]]``.
        gt_off: ``(T+1,)``.
        pred_rows: ``(P,)`` prediction rows, likewise; ``pred_off`` ``(T+1,)``.
        iou: ``(E,)`` float64, every frame's ``(G_t, P_t)`` IoU block row-major, frame by
            frame; frame ``t``'s block starts at ``ent_off[t]``.
        ent_off: ``(T+1,)``.
        in_ignore: ``(P,)`` float64, fraction of each prediction (in ``pred_rows`` order)
            inside its frame's ignore regions.
    """

    num_frames: int
    gt_rows: np.ndarray
    gt_off: np.ndarray
    pred_rows: np.ndarray
    pred_off: np.ndarray
    iou: np.ndarray
    ent_off: np.ndarray
    in_ignore: np.ndarray

    def pred_rows_in(self, t: int) -> np.ndarray:
        """``(P_t,)`` prediction rows of frame ``t``, file order."""
        return self.pred_rows[self.pred_off[t] : self.pred_off[t + 1]]

    @cached_property
    def entry_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(frame, gt_position, pred_position)`` of every IoU entry, each ``(E,)``:
        positions index ``gt_rows`` / ``pred_rows``."""
        return _entry_positions(self.gt_off, self.pred_off, self.ent_off)


@dataclass(frozen=True, eq=False)
class SequenceMasks:
    """One side of a sequence (ground truth or predictions): its rows and their decoded masks."""

    rows: MotsRows
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
    if len(gt) and len(pred) and gt.image_size != pred.image_size:
        raise ValueError(f"ground truth is {gt.image_size} [h, w] but predictions are {pred.image_size}: masks cannot be compared")
    is_object = gt.class_id != IGNORE  # (N_gt,)
    gt_rows, gt_off, gt_pos = _by_frame(gt.frame, num_frames, is_object)
    pred_rows, pred_off, pred_pos = _by_frame(pred.frame, num_frames, np.ones(len(pred), dtype=bool))
    n_gt, n_pred = np.diff(gt_off), np.diff(pred_off)  # (T,)
    ent_off = np.concatenate(([0], np.cumsum(n_gt * n_pred)))  # (T+1,)
    inter = np.zeros(int(ent_off[-1]), dtype=np.float64)  # (E,) pixels
    ignored = np.zeros(pred_rows.size, dtype=np.float64)  # (P,) pixels inside ignore regions
    if len(gt) and len(pred):
        g_start, g_end, g_row = gt_masks.intervals
        p_start, p_end, p_row = pred_masks.intervals
        lo = np.searchsorted(g_end, p_start, side="right")  # (K_p,) first gt interval ending after the start
        hi = np.searchsorted(g_start, p_end, side="left")  # (K_p,) past the last one starting before the end
        count = hi - lo
        p_of = np.repeat(np.arange(p_start.size), count)  # (J,) pred interval of each overlapping pair
        g_of = np.arange(p_of.size) - np.repeat(np.cumsum(count) - count, count) + lo[p_of]  # (J,)
        pixels = (np.minimum(g_end[g_of], p_end[p_of]) - np.maximum(g_start[g_of], p_start[p_of])).astype(np.float64)
        # per row, then per interval: where a pair's pixels go (entry block start + gt row offset; -1 = ignore region)
        row_frame = gt.frame
        row_base = np.where(is_object, ent_off[row_frame] + (gt_pos - gt_off[row_frame]) * n_pred[row_frame], -1)  # (N_gt,)
        base = row_base[g_row][g_of]  # (J,)
        p_position = pred_pos[p_row][p_of]  # (J,) place in pred_rows
        to_ignore = base < 0
        if to_ignore.any():
            ignored = np.bincount(p_position[to_ignore], weights=pixels[to_ignore], minlength=ignored.size)
            to_object = ~to_ignore
            base, p_position, pixels = base[to_object], p_position[to_object], pixels[to_object]
        pred_col = np.arange(pred_rows.size) - np.repeat(pred_off[:-1], n_pred)  # (P,) column in its frame's block
        entry = base + pred_col[p_position]  # (J',)
        inter = np.bincount(entry, weights=pixels, minlength=inter.size)
    hit = np.flatnonzero(inter > 0)  # pycocotools: 0 without intersection, else i / (a + b - i)
    _, row_pos, col_pos = (part[hit] for part in _entry_positions(gt_off, pred_off, ent_off))
    area_g = gt_runs.area[gt_rows[row_pos]].astype(np.float64)
    area_p = pred_runs.area[pred_rows[col_pos]].astype(np.float64)
    iou = np.zeros_like(inter)
    iou[hit] = inter[hit] / (area_g + area_p - inter[hit])
    some = np.flatnonzero(ignored > 0)  # pycocotools' ioa: i / area of the prediction
    in_ignore = np.zeros_like(ignored)
    in_ignore[some] = ignored[some] / pred_runs.area[pred_rows[some]]
    return SequencePairs(num_frames, gt_rows, gt_off, pred_rows, pred_off, iou, ent_off, in_ignore)


def _entry_positions(gt_off: np.ndarray, pred_off: np.ndarray, ent_off: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(frame, gt_position, pred_position)`` (E,) each of the row-major per-frame blocks."""
    n_gt, n_pred = np.diff(gt_off), np.diff(pred_off)  # (T,) each
    frame = np.repeat(np.arange(n_gt.size), n_gt * n_pred)  # (E,)
    local = np.arange(frame.size) - ent_off[frame]  # (E,) row-major index in the frame
    width = n_pred[frame]
    row = local // np.maximum(width, 1)
    return frame, gt_off[frame] + row, pred_off[frame] + local - row * width


def _by_frame(frame: np.ndarray, num_frames: int, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with ``keep`` grouped by frame in file order: ``rows`` (M,), ``offsets`` (T+1,)
    and ``position`` (N,) of every row in ``rows`` (-1 where not kept)."""
    chosen = np.flatnonzero(keep)
    rows = chosen[np.argsort(frame[chosen], kind="stable")]  # (M,)
    offsets = np.searchsorted(frame[rows], np.arange(num_frames + 1))  # (T+1,)
    position = np.full(frame.size, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    return rows, offsets, position
