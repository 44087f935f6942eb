"""ReMOTS merging of short-term tracklets (ReMOTS sec. 2.5, eq. 3): constrained agglomerative
clustering, centroid linkage by default.

Each tracklet is a node; clusters are merged closest pair first until the closest allowed
pair is farther than ``max_distance``. A cluster's appearance is its *centroid*, the mean
``m = S / n`` of its observations' unit embeddings (``S`` their sum, ``n`` their number: each
observation weighs the same, so a long tracklet counts more than a short one). Linkages:

- ``"centroid"`` (the default, the paper's "centroid linkage criteria"): the squared Euclidean
  distance of the two centroids, halved, ``||m_a - m_b||^2 / 2``. It is in cosine units: for
  two single observations it is exactly ``1 - cos``, eq. 3's distance, so the cut
  ``1 - theta_merge`` keeps its meaning. This is the centroid linkage scipy implements
  (``scipy.cluster.hierarchy.linkage(points, "centroid")`` reports ``||m_a - m_b||``, a
  monotone function of ours, so the merge order is the same; with equally long tracklets it
  is scipy's clustering of the tracklet means exactly). It is not ``1 - cos`` of the
  *normalised* means: that has no reference implementation, and it hides how spread out a
  cluster is. Merges are not monotone in distance (centroid linkage can merge a pair closer
  than an earlier one), as in scipy.
- ``"average"``: the mean pairwise cosine distance of the observations,
  ``1 - (S_a . S_b) / (n_a n_b)``: eq. 3's tracklet distance kept for clusters (average
  linkage over observations, scipy's ``"average"`` when every tracklet is one observation).

Constraints (eq. 3, held for clusters as the infinite entries of the paper's matrix propagate
through the linkage update): the distance is infinite when the classes differ, when any
tracklet of one cluster overlaps in time with any tracklet of the other (*temporal ranges*
``[first frame, last frame]`` that intersect, not only a shared frame: two interleaved
tracklets never merge), or when the two clusters' closest tracklets are more than
``max_gap_frames`` apart (first frame of the later minus last frame of the earlier).

The gap constraint is checked between the two clusters, not between every pair of their
tracklets: the literal reading (every tracklet pair within theta_t) would cap an identity's
whole time span at about theta_t plus its tracklets' lengths, so a person occluded twice
could never become one track. A cluster's tracklets never overlap, so a cluster is a
time-ordered chain of disjoint ranges.

Only pairs whose time spans come within ``max_gap_frames`` of each other can ever merge, so
each cluster is compared with its temporal neighbours only: the work grows with the number
of tracklets times their temporal density, not with the square of the number of tracklets.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

import numpy as np

LINKAGES = ("centroid", "average")
Linkage = Literal["centroid", "average"]


@dataclass(frozen=True)
class Tracklet:
    """A short-term tracklet: class, its frames (0-based, sorted, unique) and summed unit embeddings."""

    class_id: int
    frames: np.ndarray
    embedding_sum: np.ndarray
    count: int


@dataclass(frozen=True)
class Merge:
    """One merge: clusters labelled ``a`` and ``b`` (first-tracklet indices) at ``distance``."""

    a: int
    b: int
    distance: float


@dataclass
class _Cluster:
    class_id: int
    ranges: np.ndarray  # (R, 2) int64 [first, last] frame of each member tracklet, sorted, disjoint
    embedding_sum: np.ndarray  # (D,): the tracklet's own sum (any float dtype) until a merge, then float64
    count: int
    label: int  # smallest tracklet index in the cluster
    version: int = 0
    alive: bool = True


def cluster_tracklets(tracklets: list[Tracklet], *, max_gap_frames: int, max_distance: float,
                      linkage: Linkage = "centroid") -> tuple[np.ndarray, int]:
    """Cluster tracklets; return ``(label per tracklet (K,), number of merges)``.

    Labels are the index of the cluster's first tracklet (in input order).
    """
    labels, history = cluster_history(tracklets, max_gap_frames=max_gap_frames, max_distance=max_distance, linkage=linkage)
    return labels, len(history)


def cluster_history(tracklets: list[Tracklet], *, max_gap_frames: int, max_distance: float,
                    linkage: Linkage = "centroid") -> tuple[np.ndarray, list[Merge]]:
    """As :func:`cluster_tracklets`, with the merges made, in order."""
    if linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {LINKAGES}, got {linkage!r}")
    k = len(tracklets)
    clusters = [
        _Cluster(int(t.class_id), np.array([[t.frames[0], t.frames[-1]]], dtype=np.int64),
                 np.asarray(t.embedding_sum), int(t.count), i)  # no float64 copy per tracklet: see _sum64
        for i, t in enumerate(tracklets)
    ]
    distance_of = _DISTANCES[linkage]
    neighbours = _temporal_neighbours(tracklets, max_gap_frames)
    heap: list[tuple[float, int, int, int, int]] = []

    def push(a: int, b: int) -> None:
        ca, cb = clusters[a], clusters[b]
        distance = distance_of(ca, cb) if _allowed(ca, cb, max_gap_frames) else np.inf
        if distance <= max_distance:
            lo, hi = (a, b) if a < b else (b, a)
            heapq.heappush(heap, (distance, lo, hi, clusters[lo].version, clusters[hi].version))

    for a in range(k):
        for b in neighbours[a]:
            if a < b:
                push(a, b)
    parent = np.arange(k)  # union-find: a merged cluster points to the one it joined
    history: list[Merge] = []
    while heap:
        distance, a, b, version_a, version_b = heapq.heappop(heap)
        ca, cb = clusters[a], clusters[b]
        if not (ca.alive and cb.alive) or ca.version != version_a or cb.version != version_b:
            continue  # stale entry: one side changed since it was pushed
        history.append(Merge(ca.label, cb.label, float(distance)))
        # merge b into a
        ranges = np.concatenate([ca.ranges, cb.ranges])
        ca.ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
        ca.embedding_sum = _sum64(ca) + _sum64(cb)
        cb.embedding_sum = np.zeros(0)  # the absorbed cluster's sum is no longer needed
        ca.count += cb.count
        ca.label = min(ca.label, cb.label)
        ca.version += 1
        cb.alive = False
        parent[b] = a
        neighbours[a] = (neighbours[a] | neighbours[b]) - {a, b}
        for c in neighbours[b] - {a}:
            neighbours[c].discard(b)
            neighbours[c].add(a)
        for c in neighbours[a]:
            if clusters[c].alive:
                push(a, c)
    root = np.array([_find(parent, i) for i in range(k)], dtype=np.int64)
    return np.array([clusters[r].label for r in root.tolist()], dtype=np.int64), history


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = int(parent[i])
    return i


def _sum64(cluster: _Cluster) -> np.ndarray:
    """The cluster's embedding sum in float64 (converted on use for an unmerged tracklet, so that
    memory holds one float32 sum per tracklet instead of a float64 copy; the values are the same)."""
    total = cluster.embedding_sum
    return total if total.dtype == np.float64 else total.astype(np.float64)


def _centroid_distance(a: _Cluster, b: _Cluster) -> float:
    """``||m_a - m_b||^2 / 2`` with ``m = S / n``."""
    difference = _sum64(a) / a.count - _sum64(b) / b.count  # (D,)
    return float(difference @ difference / 2.0)


def _average_distance(a: _Cluster, b: _Cluster) -> float:
    """Mean pairwise ``1 - cos`` of the observations: ``1 - S_a . S_b / (n_a n_b)``."""
    return float(1.0 - _sum64(a) @ _sum64(b) / (a.count * b.count))


_DISTANCES = {"centroid": _centroid_distance, "average": _average_distance}


def _allowed(a: _Cluster, b: _Cluster, max_gap_frames: int) -> bool:
    """Same class, no overlapping member ranges, and the closest members within the gap."""
    if a.class_id != b.class_id:
        return False
    ranges = np.concatenate([a.ranges, b.ranges])  # (R, 2)
    side = np.concatenate([np.zeros(len(a.ranges), bool), np.ones(len(b.ranges), bool)])
    order = np.argsort(ranges[:, 0], kind="stable")
    ranges, side = ranges[order], side[order]
    gaps = ranges[1:, 0] - ranges[:-1, 1]  # (R-1,) frames from one range's end to the next one's start
    if (gaps < 1).any():
        return False  # two ranges intersect (members of one cluster never do)
    across = side[1:] != side[:-1]  # consecutive ranges from different clusters
    return bool(gaps[across].min() <= max_gap_frames)


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
