"""DIOR's long-term re-ID (DIOR sec. 3.4): join finished tracklets across long occlusions.

Two tracklets ``p`` and ``q`` of the same class may be joined when they do not overlap in
time (``p`` ends before ``q`` starts), ``q`` starts at most ``max_gap_frames`` frames after
``p`` ends (N2 = 1 s in the paper; the gap is counted from the last frame of ``p`` to the first
frame of ``q``, both 0-based), and the cosine similarity of their appearances exceeds
``min_similarity`` (theta_1). A tracklet's appearance is the normalised mean of its
detections' embeddings. Pairs are joined best first (highest similarity, then smallest gap,
then lowest ids); each tracklet gets at most one successor and one predecessor, so a chain is
a time-ordered sequence of tracklets and never overlaps itself. A chain takes the id of its
first tracklet.

Only pairs inside the time window can ever join, so candidates come from a sorted sweep
(:func:`window_pairs`): per class, tracklets sorted by first frame, and for each tracklet the
ones starting within ``[last + 1, last + max_gap_frames]`` found by binary search. Work and
memory grow with the number of tracklets times the number starting in one window, never with
its square, and embeddings are read in row chunks (a memory-mapped file is never copied whole).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dior_cli.association.grouping import RunningGroupSums, group_sums

_CHUNK_VALUES = 1 << 20  # float64 values gathered per pass of pair scoring (8 MB)


@dataclass(frozen=True)
class Join:
    """One link made: ``later`` continues ``earlier``."""

    earlier: int
    later: int
    similarity: float
    gap_frames: int


@dataclass(frozen=True)
class TrackletSpans:
    """Per tracklet (sorted object ids): class, first and last frame (0-based), all ``(T,)`` int64."""

    ids: np.ndarray
    class_id: np.ndarray
    first: np.ndarray
    last: np.ndarray


def tracklet_spans(obj_ids: np.ndarray, frames: np.ndarray, class_ids: np.ndarray) -> tuple[TrackletSpans, np.ndarray]:
    """Group rows by object id; return the spans and each row's tracklet index ``(N,)``.

    A tracklet's class is the class of its last row in row order (rows of one id share a class).
    """
    ids, index = np.unique(obj_ids, return_inverse=True)  # (T,), (N,)
    index = index.reshape(-1)
    order = np.lexsort((frames, index))  # by tracklet, then frame
    starts = np.searchsorted(index[order], np.arange(ids.size))  # (T,) first sorted row of each tracklet
    ends = np.append(starts[1:], order.size) - 1  # (T,) last sorted row
    first = np.asarray(frames)[order[starts]].astype(np.int64)
    last = np.asarray(frames)[order[ends]].astype(np.int64)
    cls = np.zeros(ids.size, np.int64)
    cls[index] = class_ids  # the last write per tracklet wins, as before
    return TrackletSpans(ids=ids.astype(np.int64), class_id=cls, first=first, last=last), index


def tracklet_appearance(index: np.ndarray, embeddings: np.ndarray, num_tracklets: int, rows: np.ndarray | None = None) -> np.ndarray:
    """``(T, D)`` float64: the L2-normalised mean embedding of each tracklet.

    Args:
        index: ``(R,)`` tracklet index of each selected row.
        embeddings: ``(N, D)`` unit rows (may be a memory map; read in chunks).
        num_tracklets: T.
        rows: ``(R,)`` which rows of ``embeddings`` the ``index`` entries belong to (``None``: all, R = N).
    """
    sums = group_sums(index, embeddings, num_tracklets, rows=rows)  # (T, D) float64
    norms = np.linalg.norm(sums, axis=1, keepdims=True)  # (T, 1)
    sums /= np.where(norms > 0, norms, 1.0)  # in place: one (T, D) array at a time
    return sums


def window_pairs(first: np.ndarray, last: np.ndarray, class_id: np.ndarray, max_gap_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(p, q)`` of one class with ``1 <= first[q] - last[p] <= max_gap_frames``.

    A sorted sweep: per class, tracklets sorted by first frame; the later partners of ``p`` are
    a contiguous run of that order, found by binary search. Returns ``(p (P,), q (P,))``
    int64 tracklet indices sorted by ``p``, then ``q``.
    """
    ps, qs = [], []
    for cls in np.unique(class_id).tolist():
        members = np.flatnonzero(class_id == cls)  # (k,)
        by_first = members[np.argsort(first[members], kind="stable")]  # (k,)
        starts = first[by_first]  # (k,) sorted
        lo = np.searchsorted(starts, last[members] + 1, side="left")  # (k,)
        hi = np.searchsorted(starts, last[members] + max_gap_frames, side="right")  # (k,)
        counts = np.maximum(hi - lo, 0)
        if counts.sum() == 0:
            continue
        p = np.repeat(members, counts)  # (P_c,)
        offsets = np.arange(p.size) - np.repeat(np.cumsum(counts) - counts, counts)  # (P_c,) position inside each run
        q = by_first[np.repeat(lo, counts) + offsets]
        ps.append(p)
        qs.append(q)
    if not ps:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    p, q = np.concatenate(ps), np.concatenate(qs)
    order = np.lexsort((q, p))
    return p[order].astype(np.int64), q[order].astype(np.int64)


def pair_similarity(appearance: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``(P,)`` cosine similarity of each pair's unit appearances, in chunks of pairs."""
    out = np.empty(p.size)
    step = max(1, _CHUNK_VALUES // max(appearance.shape[1], 1))
    for s in range(0, p.size, step):
        out[s : s + step] = np.einsum("kd,kd->k", appearance[p[s : s + step]], appearance[q[s : s + step]])
    return out


def link_tracklets(
    obj_ids: np.ndarray,
    frames: np.ndarray,
    class_ids: np.ndarray,
    embeddings: np.ndarray,
    *,
    max_gap_frames: int,
    min_similarity: float,
) -> tuple[np.ndarray, list[Join]]:
    """Re-link tracklets; return the new object id of every detection and the joins made.

    Args:
        obj_ids: ``(N,)`` object id of each tracked detection (0 = untracked, left alone).
        frames: ``(N,)`` 0-based frames.
        class_ids: ``(N,)`` classes.
        embeddings: ``(N, D)`` unit rows (a memory map is read in chunks, never copied whole).
        max_gap_frames: largest ``first frame of q - last frame of p``.
        min_similarity: theta_1; a pair must be strictly more similar than this.
    """
    obj_ids = np.asarray(obj_ids)
    tracked = np.flatnonzero(obj_ids > 0)  # (R,)
    if np.unique(obj_ids[tracked]).size < 2:
        return obj_ids.copy(), []
    spans, index = tracklet_spans(obj_ids[tracked], np.asarray(frames)[tracked], np.asarray(class_ids)[tracked])
    appearance = tracklet_appearance(index, embeddings, spans.ids.size, rows=tracked)  # (T, D)

    p, q = window_pairs(spans.first, spans.last, spans.class_id, max_gap_frames)  # (P,)
    similarity = pair_similarity(appearance, p, q)  # (P,)
    new_id, joins = join_best_first(spans, p, q, similarity, min_similarity)
    relinked = obj_ids.copy()
    relinked[tracked] = new_id[index]
    return relinked, joins


def join_best_first(spans: TrackletSpans, p: np.ndarray, q: np.ndarray, similarity: np.ndarray,
                    min_similarity: float) -> tuple[np.ndarray, list[Join]]:
    """Join candidate pairs ``(p, q)`` (tracklet indices, ``q`` after ``p``) best first; return the
    new id of each tracklet ``(T,)`` (its chain's first) and the joins made."""
    keep = similarity > min_similarity
    p, q, similarity = p[keep], q[keep], similarity[keep]
    gap = spans.first[q] - spans.last[p]  # (P,) frames from p's end to q's start
    order = np.lexsort((q, p, gap, -similarity))  # best first
    successor = np.full(spans.ids.size, -1)
    predecessor = np.full(spans.ids.size, -1)
    joins = []
    for k in order.tolist():
        a, b = p[k], q[k]
        if successor[a] == -1 and predecessor[b] == -1:
            successor[a], predecessor[b] = b, a
            joins.append(Join(int(spans.ids[a]), int(spans.ids[b]), float(similarity[k]), int(gap[k])))
    return chain_heads(successor, predecessor, spans.ids), joins


class StreamingLinker:
    """:func:`link_tracklets` fed one frame at a time, for a sequence too long to hold: the same
    joins, bit for bit, from per-tracklet summaries.

    Per tracklet it keeps its class, first and last frame and (while its rows come in) the running
    sum of its embeddings; once the tracklet is ended (:meth:`end_all_but`) and summed, its unit
    appearance joins a pool, its pairs with the pooled tracklets that end inside its window are
    scored, and pooled tracklets that no later tracklet can pair with are dropped. Memory: the
    tracklets alive or within ``max_gap_frames`` of one, the candidate pairs above theta_1, and
    four numbers per tracklet.

    Args: as :func:`link_tracklets`; ``dim`` is D.
    """

    def __init__(self, *, max_gap_frames: int, min_similarity: float, dim: int) -> None:
        self.max_gap_frames, self.min_similarity = int(max_gap_frames), float(min_similarity)
        self._sums = RunningGroupSums(dim)
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._class: dict[int, int] = {}
        self._last_row: dict[int, int] = {}  # index of its last row among the tracked rows
        self._rows = 0  # tracked rows seen
        self._frame = -1  # the latest frame added
        self._open: set[int] = set()  # may still get rows
        self._ended: set[int] = set()  # no more rows, waiting for their sums
        self._pool: dict[int, np.ndarray] = {}  # complete tracklets that later ones may still pair with: unit (D,) float64
        self._pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (p ids, q ids, similarity) above theta_1

    def add(self, frame: int, obj_ids: np.ndarray, class_ids: np.ndarray, embeddings: np.ndarray) -> None:
        """One frame's rows (in row order): ``(K,)`` object ids (0 = untracked, ignored), classes and ``(K, D)`` rows."""
        self._frame = int(frame)
        tracked = np.flatnonzero(np.asarray(obj_ids) > 0)
        if tracked.size == 0:
            return
        ids = np.asarray(obj_ids)[tracked]
        for k, (obj_id, cls) in enumerate(zip(ids.tolist(), np.asarray(class_ids)[tracked].tolist())):
            if obj_id not in self._open:
                if obj_id in self._first:
                    raise RuntimeError(f"tracklet {obj_id} got a row after it was ended")
                self._open.add(obj_id)
                self._first[obj_id] = int(frame)
            self._last[obj_id] = int(frame)
            self._class[obj_id] = cls  # the last row's class, as link_tracklets
            self._last_row[obj_id] = self._rows + k
        self._rows += tracked.size
        self._sums.add(ids, np.asarray(embeddings)[tracked])

    def end_all_but(self, live: set[int]) -> None:
        """Every tracklet not in ``live`` gets no more rows (the tracker has terminated it)."""
        ended = self._open - live
        if ended:
            self._open -= ended
            self._ended |= ended
        self._complete()

    def finish(self) -> tuple[dict[int, int], list[Join]]:
        """End every tracklet; return ``{old id: new id}`` (ids that change only) and the joins."""
        self._sums.flush_all()
        self.end_all_but(set())
        ids = np.array(sorted(self._first), dtype=np.int64)  # (T,)
        spans = TrackletSpans(ids=ids, class_id=np.array([self._class[i] for i in ids.tolist()], dtype=np.int64),
                              first=np.array([self._first[i] for i in ids.tolist()], dtype=np.int64),
                              last=np.array([self._last[i] for i in ids.tolist()], dtype=np.int64))
        if self._pairs:
            p_ids, q_ids, similarity = (np.concatenate(column) for column in zip(*self._pairs))
        else:
            p_ids = q_ids = np.zeros(0, np.int64)
            similarity = np.zeros(0)
        new_id, joins = join_best_first(spans, np.searchsorted(ids, p_ids), np.searchsorted(ids, q_ids), similarity, self.min_similarity)
        return {int(a): int(b) for a, b in zip(ids.tolist(), new_id.tolist()) if a != b}, joins

    def _complete(self) -> None:
        """Pool the ended tracklets whose rows are all summed; score their pairs; drop what no later tracklet can use."""
        ready = sorted(i for i in self._ended if self._last_row[i] < self._sums.flushed)
        if not ready:
            return
        self._ended.difference_update(ready)
        sums = np.stack([self._sums.sums.pop(i) for i in ready])  # (k, D)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)  # (k, 1)
        sums /= np.where(norms > 0, norms, 1.0)
        self._pool.update(zip(ready, sums))
        pool_ids = np.array(list(self._pool), dtype=np.int64)  # (M,)
        pool_last = np.array([self._last[i] for i in pool_ids.tolist()], dtype=np.int64)
        pool_class = np.array([self._class[i] for i in pool_ids.tolist()], dtype=np.int64)
        for q in ready:
            gaps = self._first[q] - pool_last
            p = pool_ids[(gaps >= 1) & (gaps <= self.max_gap_frames) & (pool_class == self._class[q])]
            if p.size == 0:
                continue
            stack = np.stack([self._pool[i] for i in p.tolist()] + [self._pool[q]])  # (k + 1, D)
            similarity = pair_similarity(stack, np.arange(p.size), np.full(p.size, p.size))  # (k,)
            keep = similarity > self.min_similarity
            if keep.any():
                self._pairs.append((p[keep], np.full(int(keep.sum()), q, dtype=np.int64), similarity[keep]))
        # a pooled p is needed while a tracklet not yet complete (or one still to start, after the
        # latest frame) may start in (last_p, last_p + gap]
        never = np.iinfo(np.int64).max
        waiting = np.sort(np.array([self._first[i] for i in self._open | self._ended] + [never], dtype=np.int64))
        next_start = waiting[np.searchsorted(waiting, pool_last, side="right")]  # (M,) first start after each p's end
        needed = (pool_last + self.max_gap_frames > self._frame) | (next_start <= pool_last + self.max_gap_frames)
        for i in pool_ids[~needed].tolist():
            del self._pool[i]


def chain_heads(successor: np.ndarray, predecessor: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``(T,)``: the id of the first tracklet of each tracklet's chain."""
    new_id = ids.copy()
    for head in np.flatnonzero(predecessor == -1).tolist():
        node = successor[head]
        while node != -1:
            new_id[node] = ids[head]
            node = successor[node]
    return new_id
