"""ReMOTS merging, which compares each cluster with its temporal neighbours only, equals the
merging defined over every pair (ReMOTS eq. 3 with its constraints, as `dior_cli.reid.merge`
states them), computed here densely.

The reference recomputes, at every step, the distance of every pair of live clusters:
infinite when the classes differ, when any member range of one intersects any member range
of the other, or when the two clusters' closest members are more than ``max_gap`` apart;
else centroid (``||m_a - m_b||^2 / 2``) or average (``1 - S_a . S_b / (n_a n_b)``) linkage.
The closest pair (ties: lower indices first) merges, the survivor being the lower index,
until the closest is farther than the cut. Random cases make all three constraints bind.
"""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli.reid.merge import Tracklet, cluster_history


def dense_merging(tracklets, max_gap, max_distance, linkage):
    clusters = {i: {"cls": t.class_id, "ranges": [(int(t.frames[0]), int(t.frames[-1]))], "sum": t.embedding_sum.astype(np.float64),
                    "n": t.count, "members": [i]} for i, t in enumerate(tracklets)}

    def distance(a, b):
        if a["cls"] != b["cls"]:
            return np.inf
        gaps = []
        for s1, e1 in a["ranges"]:
            for s2, e2 in b["ranges"]:
                if s1 <= e2 and s2 <= e1:
                    return np.inf  # the ranges intersect
                gaps.append(s2 - e1 if s2 > e1 else s1 - e2)
        if min(gaps) > max_gap:
            return np.inf
        if linkage == "centroid":
            d = a["sum"] / a["n"] - b["sum"] / b["n"]
            return float(d @ d / 2.0)
        return float(1.0 - a["sum"] @ b["sum"] / (a["n"] * b["n"]))

    merges = []
    while True:
        alive = sorted(clusters)
        best = min(((distance(clusters[i], clusters[j]), i, j) for k, i in enumerate(alive) for j in alive[k + 1 :]), default=None)
        if best is None or not best[0] <= max_distance:
            break
        d, i, j = best
        a, b = clusters[i], clusters.pop(j)
        merges.append((min(a["members"]), min(b["members"]), d))
        a["ranges"] += b["ranges"]
        a["sum"] = a["sum"] + b["sum"]
        a["n"] += b["n"]
        a["members"] += b["members"]
    labels = np.zeros(len(tracklets), np.int64)
    for c in clusters.values():
        labels[c["members"]] = min(c["members"])
    return labels, merges


def random_tracklets(seed: int) -> list[Tracklet]:
    rng = np.random.default_rng(seed)
    looks = rng.normal(size=(int(rng.integers(1, 4)), 4))
    out = []
    for _ in range(int(rng.integers(2, 16))):
        who = int(rng.integers(looks.shape[0]))
        start, length = int(rng.integers(0, 60)), int(rng.integers(1, 8))
        frames = np.arange(start, start + length)
        e = looks[who] + 0.5 * rng.normal(size=(length, 4))
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        out.append(Tracklet(class_id=1 + int(rng.random() < 0.2), frames=frames, embedding_sum=e.sum(0), count=length))
    return out


@pytest.mark.parametrize("linkage", ["centroid", "average"])
@pytest.mark.parametrize("seed", range(25))
def test_neighbour_merging_equals_dense_definition(seed, linkage):
    tracklets = random_tracklets(seed)
    rng = np.random.default_rng(1000 + seed)
    max_gap, max_distance = int(rng.integers(1, 15)), float(rng.uniform(0.1, 0.9))
    expected_labels, expected_merges = dense_merging(tracklets, max_gap, max_distance, linkage)
    labels, history = cluster_history(tracklets, max_gap_frames=max_gap, max_distance=max_distance, linkage=linkage)
    assert labels.tolist() == expected_labels.tolist()
    assert [(m.a, m.b) for m in history] == [(a, b) for a, b, _ in expected_merges]
    assert np.allclose([m.distance for m in history], [d for _, _, d in expected_merges], rtol=0, atol=1e-12)


def test_random_merging_cases_merge_and_refuse():
    """The cases are not trivial: most merge something, and most leave more than one cluster."""
    results = [dense_merging(random_tracklets(s), 8, 0.5, "centroid") for s in range(25)]
    assert sum(len(m) > 0 for _, m in results) >= 15
    assert sum(len(set(labels.tolist())) > 1 for labels, _ in results) >= 15
