"""ReMOTS merging of short-term tracklets (ReMOTS sec. 2.5): constrained agglomerative
clustering with centroid linkage.

Each tracklet is a node; the distance between two clusters is the mean pairwise cosine
distance of their observations, ``1 - (S_a . S_b) / (n_a n_b)`` with ``S`` the sum of a
cluster's unit embeddings and ``n`` its size (centroid linkage gives exactly that mean). The
distance is infinite when the classes differ, when the clusters share a frame, or when
their closest observations are more than ``max_gap_frames`` apart; the constraints are
checked on the merged clusters at every step, so a cluster never holds two observations of
one frame. Merging stops when the closest pair is farther than ``max_distance``.

Only pairs whose time spans come within ``max_gap_frames`` of each other can ever merge, so
each cluster is compared with its temporal neighbours only: the work grows with the number
of tracklets times their temporal density, not with the square of the number of tracklets.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tracklet:
    """A short-term tracklet: class, its frames (sorted, unique) and summed unit embeddings."""

    class_id: int
    frames: np.ndarray
    embedding_sum: np.ndarray
    count: int


@dataclass
class _Cluster:
    class_id: int
    frames: np.ndarray
    embedding_sum: np.ndarray
    count: int
    version: int = 0
    alive: bool = True


def cluster_tracklets(tracklets: list[Tracklet], *, max_gap_frames: int, max_distance: float) -> tuple[np.ndarray, int]:
    """Cluster tracklets; return ``(label per tracklet (K,), number of merges)``.

    Labels are the index of the cluster's first tracklet (in input order).
    """
    k = len(tracklets)
    clusters = [_Cluster(t.class_id, np.asarray(t.frames), np.asarray(t.embedding_sum, dtype=np.float64), t.count) for t in tracklets]
    neighbours = _temporal_neighbours(tracklets, max_gap_frames)
    heap: list[tuple[float, int, int, int, int]] = []
    for a in range(k):
        for b in neighbours[a]:
            if a < b:
                _push(heap, clusters, a, b, max_gap_frames, max_distance)
    parent = np.arange(k)  # union-find: a merged cluster points to the one it joined
    merges = 0
    while heap:
        distance, a, b, version_a, version_b = heapq.heappop(heap)
        ca, cb = clusters[a], clusters[b]
        if not (ca.alive and cb.alive) or ca.version != version_a or cb.version != version_b:
            continue  # stale entry: one side changed since it was pushed
        # merge b into a
        ca.frames = np.union1d(ca.frames, cb.frames)
        ca.embedding_sum = ca.embedding_sum + cb.embedding_sum
        ca.count += cb.count
        ca.version += 1
        cb.alive = False
        parent[b] = a
        merges += 1
        neighbours[a] = (neighbours[a] | neighbours[b]) - {a, b}
        for c in neighbours[b] - {a}:
            neighbours[c].discard(b)
            neighbours[c].add(a)
        for c in neighbours[a]:
            if clusters[c].alive:
                _push(heap, clusters, a, c, max_gap_frames, max_distance)
    root = np.array([_find(parent, i) for i in range(k)], dtype=np.int64)
    first_of: dict[int, int] = {}
    for i, r in enumerate(root.tolist()):
        first_of.setdefault(r, i)  # label a cluster by its first tracklet
    return np.array([first_of[r] for r in root.tolist()], dtype=np.int64), merges


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = int(parent[i])
    return i


def _push(heap: list, clusters: list[_Cluster], a: int, b: int, max_gap_frames: int, max_distance: float) -> None:
    ca, cb = clusters[a], clusters[b]
    distance = _distance(ca, cb, max_gap_frames)
    if distance <= max_distance:
        lo, hi = (a, b) if a < b else (b, a)
        heapq.heappush(heap, (distance, lo, hi, clusters[lo].version, clusters[hi].version))


def _distance(a: _Cluster, b: _Cluster, max_gap_frames: int) -> float:
    """Mean pairwise cosine distance, or ``inf`` when a constraint forbids the merge."""
    if a.class_id != b.class_id:
        return np.inf
    gap = _closest_gap(a.frames, b.frames)
    if gap == 0 or gap > max_gap_frames:
        return np.inf  # a shared frame, or too far apart in time
    return float(1.0 - a.embedding_sum @ b.embedding_sum / (a.count * b.count))


def _closest_gap(x: np.ndarray, y: np.ndarray) -> int:
    """Smallest ``|x_i - y_j|`` between two sorted frame arrays (0 = a shared frame)."""
    if x.size > y.size:
        x, y = y, x
    pos = np.searchsorted(y, x)  # (|x|,)
    after = np.abs(y[np.minimum(pos, y.size - 1)] - x)
    before = np.abs(x - y[np.maximum(pos - 1, 0)])
    return int(min(after.min(), before.min()))


def _temporal_neighbours(tracklets: list[Tracklet], max_gap_frames: int) -> list[set[int]]:
    """For each tracklet, the same-class tracklets whose spans come within ``max_gap_frames``."""
    k = len(tracklets)
    neighbours: list[set[int]] = [set() for _ in range(k)]
    if k < 2:
        return neighbours
    first = np.array([t.frames[0] for t in tracklets])
    last = np.array([t.frames[-1] for t in tracklets])
    classes = np.array([t.class_id for t in tracklets])
    order = np.argsort(first, kind="stable")  # sweep by start frame
    for rank, a in enumerate(order):
        # later-starting tracklets that start before a's end + gap
        stop = np.searchsorted(first[order], last[a] + max_gap_frames, side="right")
        for b in order[rank + 1 : stop]:
            if classes[b] == classes[a]:
                neighbours[a].add(int(b))
                neighbours[int(b)].add(int(a))
    return neighbours
