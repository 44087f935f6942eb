"""``cluster_tracklets`` (ReMOTS eq. 3 merging) against scipy's hierarchical clustering, and its
constraints on cases worked by hand.

Reference: on constraint-free cases (one class, pairwise disjoint temporal ranges, a gap limit
that never binds) every tracklet has the same number ``n`` of observations, so weighing
clusters by observations (dior) equals weighing them by tracklets (scipy):

- ``linkage="centroid"`` is scipy's ``linkage(means, "centroid")`` on the tracklet means, whose
  heights ``h`` are ``||m_a - m_b||``: dior's distance is ``h^2 / 2``;
- ``linkage="average"`` is scipy's ``linkage(D, "average")`` on eq. 3's matrix ``D`` (mean
  pairwise ``1 - cos`` of the two tracklets' observations).

dior stops when the closest allowed pair is farther than ``max_distance``; scipy's merges are
replayed in order up to the first one above it, and both partitions must be equal.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import squareform

from dior_cli.reid.merge import Tracklet, cluster_history, cluster_tracklets


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def disjoint_tracklets(rng: np.random.Generator, k: int, n: int, dim: int, spread: float):
    """``k`` tracklets of ``n`` observations around a few prototypes, frames ``[20 i, 20 i + n)``."""
    prototypes = rng.standard_normal((3, dim))
    observations = []
    tracklets = []
    for i in range(k):
        centre = prototypes[rng.integers(0, 3)]
        obs = unit(centre + spread * rng.standard_normal((n, dim)))  # (n, D)
        observations.append(obs)
        tracklets.append(Tracklet(class_id=2, frames=np.arange(20 * i, 20 * i + n), embedding_sum=obs.sum(0), count=n))
    return tracklets, observations


def partition(labels) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), set()).add(i)
    return {frozenset(g) for g in groups.values()}


def scipy_partition(z: np.ndarray, k: int, height_limit: float) -> tuple[set[frozenset[int]], int]:
    """Replay scipy's merges up to the first one higher than ``height_limit``."""
    members = {i: {i} for i in range(k)}
    merges = 0
    for r, (a, b, height, _) in enumerate(z):
        if height > height_limit:
            break
        members[k + r] = members.pop(int(a)) | members.pop(int(b))
        merges += 1
    return {frozenset(m) for m in members.values()}, merges


BIG_GAP = 10**6


@pytest.mark.parametrize("seed", range(40))
def test_centroid_linkage_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    k, n = int(rng.integers(2, 14)), int(rng.integers(1, 5))
    tracklets, observations = disjoint_tracklets(rng, k, n, dim=6, spread=float(rng.choice([0.3, 0.8, 2.0])))
    means = np.stack([o.mean(0) for o in observations])  # (k, D)
    z = linkage(means, method="centroid")
    max_distance = float(rng.uniform(0.02, 0.6))
    expected, merges = scipy_partition(z, k, np.sqrt(2 * max_distance))
    labels, history = cluster_history(tracklets, max_gap_frames=BIG_GAP, max_distance=max_distance, linkage="centroid")
    assert partition(labels) == expected
    assert len(history) == merges
    np.testing.assert_allclose([m.distance for m in history], z[:merges, 2] ** 2 / 2, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_average_linkage_matches_scipy(seed):
    rng = np.random.default_rng(1000 + seed)
    k, n = int(rng.integers(2, 14)), int(rng.integers(1, 5))
    tracklets, observations = disjoint_tracklets(rng, k, n, dim=6, spread=float(rng.choice([0.3, 0.8, 2.0])))
    eq3 = np.array([[np.mean(1 - observations[a] @ observations[b].T) for b in range(k)] for a in range(k)])  # (k, k)
    np.fill_diagonal(eq3, 0.0)
    z = linkage(squareform(eq3, checks=False), method="average")
    max_distance = float(rng.uniform(0.05, 1.0))
    expected, merges = scipy_partition(z, k, max_distance)
    labels, merged = cluster_tracklets(tracklets, max_gap_frames=BIG_GAP, max_distance=max_distance, linkage="average")
    assert partition(labels) == expected
    assert merged == merges


def single(frame_list, vector, class_id=2) -> Tracklet:
    frames = np.asarray(frame_list, np.int64)
    v = unit(vector)
    return Tracklet(class_id=class_id, frames=frames, embedding_sum=v * frames.size, count=int(frames.size))


def test_centroid_and_average_differ_as_worked_by_hand():
    """Unit vectors at 0, 30 and 90 degrees, one observation each, disjoint frames.

    First merge: 0 and 30 degrees, ``1 - cos 30 = 0.1340``. Their centroid is
    ``((1 + cos 30) / 2, sin 30 / 2) = (0.9330, 0.25)``; to ``(0, 1)``:
    centroid ``(0.9330^2 + 0.75^2) / 2 = 0.7165``; average ``1 - (0 + 0.5) / 2 = 0.75``.
    Cut at 0.73: centroid merges all three, average stops after one merge.
    """
    deg = np.deg2rad
    tracklets = [single([0], [1, 0]), single([2], [np.cos(deg(30)), np.sin(deg(30))]), single([4], [0, 1])]
    labels, history = cluster_history(tracklets, max_gap_frames=10, max_distance=0.73, linkage="centroid")
    assert labels.tolist() == [0, 0, 0]
    np.testing.assert_allclose([m.distance for m in history], [1 - np.cos(deg(30)), 0.716506], atol=1e-6)
    labels, merges = cluster_tracklets(tracklets, max_gap_frames=10, max_distance=0.73, linkage="average")
    assert labels.tolist() == [0, 0, 2] and merges == 1


SAME = [1.0, 0.0, 0.0]


def test_overlapping_ranges_never_merge_even_without_a_shared_frame():
    interleaved = [single([0, 2, 4], SAME), single([1, 3, 5], SAME)]
    assert cluster_tracklets(interleaved, max_gap_frames=5, max_distance=1.0)[0].tolist() == [0, 1]
    inside = [single([0, 10], SAME), single([5], SAME)]  # [5, 5] lies inside [0, 10]
    assert cluster_tracklets(inside, max_gap_frames=5, max_distance=1.0)[0].tolist() == [0, 1]
    touching = [single([0, 1, 2], SAME), single([3, 4], SAME)]  # end 2, start 3: gap 1
    assert cluster_tracklets(touching, max_gap_frames=5, max_distance=1.0)[0].tolist() == [0, 0]


def test_overlap_is_checked_against_every_member_of_a_cluster():
    """A [0, 2] and C [20, 22] may merge through B [10, 12]; D [11, 30] overlaps B only."""
    a, b, c = single([0, 1, 2], SAME), single([10, 11, 12], SAME), single([20, 21, 22], SAME)
    d = single([13, 30], SAME)  # range [13, 30] overlaps C's [20, 22]
    labels, merges = cluster_tracklets([a, b, c, d], max_gap_frames=8, max_distance=1.0)
    assert labels.tolist()[:3] == [0, 0, 0] and labels[3] == 3 and merges == 2


def test_gap_limit_in_frames_and_chains():
    a, b = single([0, 4], SAME), single([10, 12], SAME)  # gap 10 - 4 = 6 frames
    assert cluster_tracklets([a, b], max_gap_frames=5, max_distance=1.0)[0].tolist() == [0, 1]
    assert cluster_tracklets([a, b], max_gap_frames=6, max_distance=1.0)[0].tolist() == [0, 0]
    chain = [single([0, 4], SAME), single([8, 10], SAME), single([14, 20], SAME)]  # gaps 4, 4; first to last 10
    assert cluster_tracklets(chain, max_gap_frames=4, max_distance=1.0)[0].tolist() == [0, 0, 0]


def test_classes_never_merge_and_cut_threshold_holds():
    assert cluster_tracklets([single([0], SAME, 1), single([2], SAME, 2)], max_gap_frames=5, max_distance=1.0)[0].tolist() == [0, 1]
    at_60 = [single([0], [1, 0]), single([2], [0.5, np.sqrt(3) / 2])]  # 1 - cos 60 = 0.5
    assert cluster_tracklets(at_60, max_gap_frames=5, max_distance=0.49)[0].tolist() == [0, 1]
    assert cluster_tracklets(at_60, max_gap_frames=5, max_distance=0.51)[0].tolist() == [0, 0]


def test_unknown_linkage_is_refused():
    with pytest.raises(ValueError, match="linkage"):
        cluster_tracklets([single([0], SAME)], max_gap_frames=1, max_distance=1.0, linkage="single")
