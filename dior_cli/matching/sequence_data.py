"""One sequence of one class, preprocessed, as the MOTS metrics consume it.

Conventions (the same as TrackEval 1.3.0 after its dataset preprocessing):

* Frames are indexed ``0 .. num_frames - 1``; every per-frame list has ``num_frames`` items.
* ``gt_ids[t]`` / ``pred_ids[t]`` hold the track ids present in frame ``t`` (int64, 1-D, no
  repeats inside a frame). Ids are relabelled to be contiguous: ground-truth ids lie in
  ``0 .. num_gt_ids - 1`` and predicted ids in ``0 .. num_pred_ids - 1``.
* ``similarity[t][i, j]`` (float64, shape ``(G_t, P_t)``) is the mask IoU between the
  ``i``-th ground-truth detection and the ``j``-th predicted detection of frame ``t``, in
  ``[0, 1]``; rows follow ``gt_ids[t]`` and columns follow ``pred_ids[t]``.
* ``num_gt_dets`` / ``num_pred_dets`` are the total number of detections over all frames.

All arrays are stored C-contiguous: the HOTA alignment score is reproduced bit for bit, and
numpy's summation order depends on memory layout.

Besides the dataclass, this module holds :class:`FrameLayout`, the flattened view of a
sequence that the metric modules share (all frames concatenated, no Python loop per frame);
:meth:`SequenceData.from_layout` builds a sequence from that view directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

_TRACKEVAL_KEYS = (
    "num_timesteps",
    "gt_ids",
    "tracker_ids",
    "similarity_scores",
    "num_gt_ids",
    "num_tracker_ids",
    "num_gt_dets",
    "num_tracker_dets",
)


def _as_ids(values: Any, what: str, frame: int) -> np.ndarray:
    """Return ``values`` as a C-contiguous int64 vector, or raise ValueError naming the frame."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"frame {frame}: {what} must be 1-D, got shape {arr.shape}")
    if arr.dtype != np.int64:
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"frame {frame}: {what} must have an integer dtype, got {arr.dtype}")
        arr = arr.astype(np.int64)
    return np.ascontiguousarray(arr)


def _concat(parts: Sequence[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if len(parts) else np.zeros(0, dtype=dtype)


@dataclass(frozen=True, eq=False)
class SequenceData:
    """Everything TrackEval's HOTA, CLEAR and Identity metrics read for one sequence and class.

    Construction validates and normalises the inputs (ids to int64, similarities to float64,
    all C-contiguous); any inconsistency raises ``ValueError`` naming the frame and the
    expected and actual shapes or values. A similarity of size 0 is accepted with any shape
    for a frame without ground truth or without predictions and is reshaped to ``(G_t, P_t)``.
    Instances compare by identity (they hold arrays).
    """

    num_frames: int
    gt_ids: list[np.ndarray]  # per frame (G_t,) int64
    pred_ids: list[np.ndarray]  # per frame (P_t,) int64
    similarity: list[np.ndarray]  # per frame (G_t, P_t) float64
    num_gt_ids: int
    num_pred_ids: int
    num_gt_dets: int
    num_pred_dets: int

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("num_frames", "num_gt_ids", "num_pred_ids", "num_gt_dets", "num_pred_dets"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
            set_(self, name, int(value))
        t_count = self.num_frames
        for name in ("gt_ids", "pred_ids", "similarity"):
            if len(getattr(self, name)) != t_count:
                raise ValueError(
                    f"{name} must have one entry per frame: expected {t_count}, "
                    f"got {len(getattr(self, name))}"
                )

        gt_ids = [_as_ids(a, "gt_ids", t) for t, a in enumerate(self.gt_ids)]
        pred_ids = [_as_ids(a, "pred_ids", t) for t, a in enumerate(self.pred_ids)]
        sims = []
        for t, (g, p, s) in enumerate(zip(gt_ids, pred_ids, self.similarity)):
            s = np.asarray(s, dtype=np.float64)
            expected = (g.shape[0], p.shape[0])
            if s.shape != expected:
                if s.size == 0 and expected[0] * expected[1] == 0:
                    s = s.reshape(expected)
                else:
                    raise ValueError(
                        f"frame {t}: similarity must have shape (num gt, num pred) = "
                        f"{expected}, got {s.shape}"
                    )
            sims.append(np.ascontiguousarray(s))
        set_(self, "gt_ids", gt_ids)
        set_(self, "pred_ids", pred_ids)
        set_(self, "similarity", sims)

        layout = FrameLayout.from_frames(gt_ids, pred_ids, sims)
        self._check_ids(layout.gt, layout.gt_frame, self.num_gt_ids, "gt_ids", "num_gt_ids")
        self._check_ids(
            layout.pred, layout.pred_frame, self.num_pred_ids, "pred_ids", "num_pred_ids"
        )
        bad = np.flatnonzero(~((layout.sim >= 0.0) & (layout.sim <= 1.0)))
        if bad.size:
            t = int(layout.ent_frame[bad[0]])
            raise ValueError(
                f"frame {t}: similarity values must lie in [0, 1], got {layout.sim[bad[0]]!r}"
            )
        if layout.gt.size != self.num_gt_dets:
            raise ValueError(
                f"num_gt_dets: expected {layout.gt.size} (sum of gt_ids sizes), "
                f"got {self.num_gt_dets}"
            )
        if layout.pred.size != self.num_pred_dets:
            raise ValueError(
                f"num_pred_dets: expected {layout.pred.size} (sum of pred_ids sizes), "
                f"got {self.num_pred_dets}"
            )
        set_(self, "_layout", layout)

    @classmethod
    def from_layout(cls, layout: FrameLayout, num_gt_ids: int, num_pred_ids: int) -> SequenceData:
        """Build from a flat :class:`FrameLayout` without per-frame work (the evaluation's path).

        The same checks as the constructor, vectorised; the per-frame lists ``gt_ids``,
        ``pred_ids`` and ``similarity`` are made from the layout on first access.
        """
        seq = object.__new__(cls)
        set_ = object.__setattr__
        set_(seq, "num_frames", layout.num_frames)
        set_(seq, "num_gt_ids", int(num_gt_ids))
        set_(seq, "num_pred_ids", int(num_pred_ids))
        set_(seq, "num_gt_dets", int(layout.gt.size))
        set_(seq, "num_pred_dets", int(layout.pred.size))
        cls._check_ids(layout.gt, layout.gt_frame, seq.num_gt_ids, "gt_ids", "num_gt_ids")
        cls._check_ids(layout.pred, layout.pred_frame, seq.num_pred_ids, "pred_ids", "num_pred_ids")
        bad = np.flatnonzero(~((layout.sim >= 0.0) & (layout.sim <= 1.0)))
        if bad.size:
            raise ValueError(f"frame {int(layout.ent_frame[bad[0]])}: similarity values must lie in [0, 1], got {layout.sim[bad[0]]!r}")
        set_(seq, "_layout", layout)
        return seq

    def __getattr__(self, name: str) -> Any:
        """Per-frame lists of an instance built by :meth:`from_layout`, split from the layout once."""
        if name not in ("gt_ids", "pred_ids", "similarity") or "_layout" not in self.__dict__:
            raise AttributeError(name)
        lay = self.__dict__["_layout"]
        object.__setattr__(self, "gt_ids", [lay.gt[lay.gt_off[t] : lay.gt_off[t + 1]] for t in range(lay.num_frames)])
        object.__setattr__(self, "pred_ids", [lay.pred[lay.pred_off[t] : lay.pred_off[t + 1]] for t in range(lay.num_frames)])
        blocks = [lay.frame_block(lay.sim, t) for t in range(lay.num_frames)]
        object.__setattr__(self, "similarity", blocks)
        return self.__dict__[name]

    @staticmethod
    def _check_ids(ids: np.ndarray, frame_of: np.ndarray, n_ids: int, what: str, count: str):
        """ids (N,), frame_of (N,): every id in [0, n_ids) and no id twice in one frame."""
        bad = np.flatnonzero((ids < 0) | (ids >= n_ids))
        if bad.size:
            raise ValueError(
                f"frame {int(frame_of[bad[0]])}: {what} must lie in [0, {count}={n_ids}), "
                f"got {int(ids[bad[0]])}"
            )
        if ids.size > 1:
            key = np.sort(frame_of * max(n_ids, 1) + ids)  # (N,) unique per (frame, id)
            dup = np.flatnonzero(key[1:] == key[:-1])
            if dup.size:
                t, i = divmod(int(key[dup[0]]), max(n_ids, 1))
                raise ValueError(f"frame {t}: {what} contains id {i} more than once")

    @property
    def layout(self) -> FrameLayout:
        """The flattened view of all frames shared by the metrics (built once)."""
        return self._layout  # type: ignore[attr-defined]

    @classmethod
    def from_frames(
        cls,
        gt_ids: Sequence[Any],
        pred_ids: Sequence[Any],
        similarity: Sequence[Any],
        num_gt_ids: int | None = None,
        num_pred_ids: int | None = None,
    ) -> SequenceData:
        """Build from per-frame lists, counting frames and detections.

        ``num_gt_ids`` / ``num_pred_ids`` default to ``max id + 1`` (0 when there is none).
        """
        gts = [np.asarray(g) for g in gt_ids]
        preds = [np.asarray(p) for p in pred_ids]

        def n_ids(arrs: list[np.ndarray]) -> int:
            sizes = [a for a in arrs if a.size]
            return int(max(int(a.max()) for a in sizes)) + 1 if sizes else 0

        return cls(
            num_frames=len(gts),
            gt_ids=gts,
            pred_ids=preds,
            similarity=list(similarity),
            num_gt_ids=n_ids(gts) if num_gt_ids is None else num_gt_ids,
            num_pred_ids=n_ids(preds) if num_pred_ids is None else num_pred_ids,
            num_gt_dets=sum(a.size for a in gts),
            num_pred_dets=sum(a.size for a in preds),
        )

    @classmethod
    def from_trackeval(cls, data: Mapping[str, Any]) -> SequenceData:
        """Build from TrackEval's preprocessed sequence dict (extra keys are ignored)."""
        missing = [k for k in _TRACKEVAL_KEYS if k not in data]
        if missing:
            raise ValueError(f"TrackEval sequence dict lacks keys: {', '.join(missing)}")
        return cls(
            num_frames=data["num_timesteps"],
            gt_ids=list(data["gt_ids"]),
            pred_ids=list(data["tracker_ids"]),
            similarity=list(data["similarity_scores"]),
            num_gt_ids=data["num_gt_ids"],
            num_pred_ids=data["num_tracker_ids"],
            num_gt_dets=data["num_gt_dets"],
            num_pred_dets=data["num_tracker_dets"],
        )

    def to_trackeval(self) -> dict[str, Any]:
        """The dict TrackEval's ``eval_sequence`` takes (lists are copied, arrays shared)."""
        return {
            "num_timesteps": self.num_frames,
            "gt_ids": list(self.gt_ids),
            "tracker_ids": list(self.pred_ids),
            "similarity_scores": list(self.similarity),
            "num_gt_ids": self.num_gt_ids,
            "num_tracker_ids": self.num_pred_ids,
            "num_gt_dets": self.num_gt_dets,
            "num_tracker_dets": self.num_pred_dets,
        }


class FrameLayout:
    """All frames of a sequence concatenated, with only the non-zero similarities stored.

    Notation: T frames, N_g = total gt detections, N_p = total predicted detections. A gt
    *detection* index is a position in the concatenated ``gt`` vector (frame-major). The
    similarity of frame ``t`` is the dense ``(G_t, P_t)`` block TrackEval holds; the layout
    keeps its non-zero entries only (E of them over the sequence), each as the detection
    indices of its row and column and its value, sorted frame-major and row-major inside a
    frame, so sorting entry indices sorts them as TrackEval's ``linear_sum_assignment`` output
    is. Every metric treats an absent entry as the exact zero of the dense block
    (:meth:`frame_block` rebuilds a block where a solver needs it); memory grows with the
    overlapping pairs, not with ``G_t * P_t``.
    """

    def __init__(self, n_gt: np.ndarray, n_pred: np.ndarray, gt: np.ndarray, pred: np.ndarray,
                 ent_row: np.ndarray, ent_col: np.ndarray, sim: np.ndarray):
        """From flat arrays: ``n_gt`` / ``n_pred`` (T,) detections per frame, ``gt`` (N_g,) and
        ``pred`` (N_p,) ids frame by frame, and the entries: ``ent_row`` (E,) gt detection index,
        ``ent_col`` (E,) pred detection index of the same frame, ``sim`` (E,) their similarity,
        sorted by (row, col) (see the class docstring). Zero values may be among them."""
        self.num_frames = int(np.asarray(n_gt).size)
        self.n_gt = np.asarray(n_gt, dtype=np.int64)  # (T,)
        self.n_pred = np.asarray(n_pred, dtype=np.int64)  # (T,)
        self.gt_off = np.concatenate(([0], np.cumsum(self.n_gt)))  # (T+1,)
        self.pred_off = np.concatenate(([0], np.cumsum(self.n_pred)))  # (T+1,)
        self.gt = np.ascontiguousarray(gt, dtype=np.int64)  # (N_g,) gt id of each gt detection
        self.pred = np.ascontiguousarray(pred, dtype=np.int64)  # (N_p,) pred id of each pred detection
        self.ent_row = np.ascontiguousarray(ent_row, dtype=np.int64)  # (E,)
        self.ent_col = np.ascontiguousarray(ent_col, dtype=np.int64)  # (E,)
        self.sim = np.ascontiguousarray(sim, dtype=np.float64)  # (E,)
        if self.gt.size != self.gt_off[-1] or self.pred.size != self.pred_off[-1]:
            raise ValueError(
                f"flat layout: {self.gt.size} gt ids and {self.pred.size} pred ids do not fit "
                f"{self.gt_off[-1]} and {self.pred_off[-1]} from the per-frame counts"
            )
        if not (self.ent_row.size == self.ent_col.size == self.sim.size):
            raise ValueError(f"flat layout: {self.ent_row.size} rows, {self.ent_col.size} columns and {self.sim.size} similarities")
        frames = np.arange(self.num_frames)
        self.gt_frame = np.repeat(frames, self.n_gt)  # (N_g,)
        self.pred_frame = np.repeat(frames, self.n_pred)  # (N_p,)
        if self.sim.size:
            bad = (self.ent_row < 0) | (self.ent_row >= self.gt.size) | (self.ent_col < 0) | (self.ent_col >= self.pred.size)
            if bad.any() or (self.gt_frame[self.ent_row] != self.pred_frame[self.ent_col]).any():
                raise ValueError("flat layout: an entry's row and column are not detections of one frame")
            key = self.ent_row * max(self.pred.size, 1) + self.ent_col  # (E,)
            if (key[1:] <= key[:-1]).any():
                raise ValueError("flat layout: entries must be sorted by (row, column), each once")
        self.ent_frame = self.gt_frame[self.ent_row]  # (E,)
        self.ent_off = np.searchsorted(self.ent_frame, np.arange(self.num_frames + 1))  # (T+1,)

    @classmethod
    def from_dense(cls, n_gt: np.ndarray, n_pred: np.ndarray, gt: np.ndarray, pred: np.ndarray, dense: np.ndarray) -> FrameLayout:
        """From every frame's dense ``(G_t, P_t)`` block row-major, frame by frame, ``dense``
        (sum of G_t * P_t,): its non-zero values are kept (NaN counts as non-zero)."""
        n_gt = np.asarray(n_gt, dtype=np.int64)
        n_pred = np.asarray(n_pred, dtype=np.int64)
        dense = np.asarray(dense, dtype=np.float64)
        sizes = n_gt * n_pred  # (T,)
        if dense.size != int(sizes.sum()):
            raise ValueError(f"flat layout: {dense.size} similarities do not fit {int(sizes.sum())} from the per-frame counts")
        hit = np.flatnonzero(dense != 0)  # (E,)
        frame = np.searchsorted(np.cumsum(sizes), hit, side="right")  # (E,)
        local = hit - (np.cumsum(sizes) - sizes)[frame]  # (E,) row-major index inside the frame
        width = n_pred[frame]
        row = local // np.maximum(width, 1)
        gt_off = np.concatenate(([0], np.cumsum(n_gt)))
        pred_off = np.concatenate(([0], np.cumsum(n_pred)))
        return cls(n_gt, n_pred, gt, pred, gt_off[frame] + row, pred_off[frame] + local - row * width, dense[hit])

    @classmethod
    def from_frames(cls, gt_ids: list[np.ndarray], pred_ids: list[np.ndarray], sims: list[np.ndarray]) -> FrameLayout:
        """From per-frame lists: ids (G_t,) / (P_t,) and similarity blocks (G_t, P_t)."""
        n = len(gt_ids)
        return cls.from_dense(
            np.fromiter((a.shape[0] for a in gt_ids), np.int64, n),
            np.fromiter((a.shape[0] for a in pred_ids), np.int64, n),
            _concat(gt_ids, np.int64),
            _concat(pred_ids, np.int64),
            _concat([s.ravel() for s in sims], np.float64),
        )

    @cached_property
    def ent_g(self) -> np.ndarray:
        """(E,) gt id of each entry."""
        return self.gt[self.ent_row]

    @cached_property
    def ent_p(self) -> np.ndarray:
        """(E,) pred id of each entry."""
        return self.pred[self.ent_col]

    @cached_property
    def active(self) -> np.ndarray:
        """(T,) bool: the frame has both gt and predictions (TrackEval skips the others)."""
        return (self.n_gt > 0) & (self.n_pred > 0)

    def frames_with_conflicts(self, candidate: np.ndarray) -> np.ndarray:
        """(T,) bool: frames where a gt row or a pred column has more than one candidate.

        ``candidate`` (E,) bool marks the entries that can take part in a match. In a frame
        without conflicts the candidates form a matching by themselves, so every optimal
        assignment of that frame contains exactly them plus zero-score filler pairs.
        """
        rows = np.bincount(self.ent_row[candidate], minlength=self.gt.size)  # (N_g,)
        cols = np.bincount(self.ent_col[candidate], minlength=self.pred.size)  # (N_p,)
        out = np.zeros(self.num_frames, dtype=bool)
        out[self.gt_frame[rows > 1]] = True
        out[self.pred_frame[cols > 1]] = True
        return out

    def frame_block(self, values: np.ndarray, t: int) -> np.ndarray:
        """(G_t, P_t) dense block of frame ``t`` of the per-entry ``values`` (E,): the entries'
        values in their places, zeros (``False``) elsewhere."""
        lo, hi = int(self.ent_off[t]), int(self.ent_off[t + 1])
        block = np.zeros((int(self.n_gt[t]), int(self.n_pred[t])), dtype=values.dtype)
        block[self.ent_row[lo:hi] - self.gt_off[t], self.ent_col[lo:hi] - self.pred_off[t]] = values[lo:hi]
        return block

    def entries_at(self, t: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Entry indices (K,) of the places ``(rows, cols)`` (K,) of frame ``t``'s block, -1
        where the block holds an absent (zero) entry."""
        lo, hi = int(self.ent_off[t]), int(self.ent_off[t + 1])
        width = max(int(self.n_pred[t]), 1)
        keys = (self.ent_row[lo:hi] - self.gt_off[t]) * width + (self.ent_col[lo:hi] - self.pred_off[t])  # (E_t,) sorted
        wanted = np.asarray(rows, dtype=np.int64) * width + np.asarray(cols, dtype=np.int64)  # (K,)
        if keys.size == 0:
            return np.full(wanted.size, -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)  # (K,)
        return np.where(keys[at] == wanted, lo + at, -1)

    def frame_sum_in_order(self, frame: np.ndarray, values: np.ndarray) -> float:
        """Sum ``values`` (M,) frame by frame, each frame left to right, then over frames.

        This is the order of TrackEval's ``res[...] += sum(similarity[rows, cols])`` loop
        (``np.bincount`` and ``np.cumsum`` both add sequentially), so the result is
        bit-identical provided the items of each frame come in TrackEval's (row) order.
        ``frame`` (M,) holds each item's frame.
        """
        if values.size == 0:
            return 0.0
        per_frame = np.bincount(frame, weights=values, minlength=self.num_frames)  # (T,)
        return float(np.cumsum(per_frame)[-1])
