"""DIOR's long-term linking by sorted sweep equals the definition computed densely.

The reference below is written from the definition (DIOR sec. 3.4, as the module docstring
states it), with T x T matrices and plain loops: tracklet = rows of one id; appearance = the
normalised mean of its embeddings; ``p -> q`` allowed when the classes agree and
``1 <= first(q) - last(p) <= N2`` and ``cos > theta_1``; pairs taken best first (similarity,
then gap, then ids), each tracklet at most one successor and one predecessor; a chain takes
its first tracklet's id. Random cases with several looks per identity make many candidate
pairs, ties in gap and interleaved spans; the sweep must give the same ids and joins.
"""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli.association.long_term import link_tracklets, window_pairs


def dense_reference(obj_ids, frames, class_ids, embeddings, max_gap, theta):
    ids = sorted({int(o) for o in obj_ids if o > 0})
    rows = {i: [r for r in range(obj_ids.size) if obj_ids[r] == i] for i in ids}
    first = {i: min(frames[r] for r in rows[i]) for i in ids}
    last = {i: max(frames[r] for r in rows[i]) for i in ids}
    cls = {i: class_ids[rows[i][0]] for i in ids}
    look = {}
    for i in ids:
        mean = np.mean([embeddings[r].astype(np.float64) for r in rows[i]], axis=0)
        look[i] = mean / np.linalg.norm(mean)
    candidates = []
    for p in ids:
        for q in ids:
            gap = first[q] - last[p]
            sim = float(look[p] @ look[q])
            if cls[p] == cls[q] and 1 <= gap <= max_gap and sim > theta:
                candidates.append((-sim, gap, p, q))
    successor, predecessor, joins = {}, {}, []
    for _, gap, p, q in sorted(candidates):
        if p not in successor and q not in predecessor:
            successor[p], predecessor[q] = q, p
            joins.append((p, q, gap))
    head = {}
    for i in sorted(ids, key=lambda i: first[i]):
        head[i] = head[predecessor[i]] if i in predecessor else i
    return np.array([head[o] if o > 0 else 0 for o in obj_ids.tolist()]), joins


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    num_tracklets, dim, identities = int(rng.integers(2, 40)), int(rng.integers(2, 6)), int(rng.integers(1, 5))
    looks = rng.normal(size=(identities, dim))
    frames, obj_ids, class_ids, embeddings = [], [], [], []
    for t in range(num_tracklets):
        who = int(rng.integers(identities))
        start, length = int(rng.integers(0, 120)), int(rng.integers(1, 10))
        span = np.sort(rng.choice(np.arange(start, start + length + 3), length, replace=False))  # gaps inside a tracklet too
        noisy = looks[who] + 0.6 * rng.normal(size=(length, dim))
        frames += span.tolist()
        obj_ids += [1000 * (1 + who % 2) + t + 1] * length
        class_ids += [1 + who % 2] * length
        embeddings.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    obj_ids = np.array(obj_ids)
    obj_ids[rng.random(obj_ids.size) < 0.05] = 0  # untracked rows stay 0
    order = rng.permutation(obj_ids.size)  # rows in any order
    return (obj_ids[order], np.array(frames)[order], np.array(class_ids)[order],
            np.concatenate(embeddings).astype(np.float32)[order], int(rng.integers(1, 30)), float(rng.uniform(0.0, 0.9)))


@pytest.mark.parametrize("seed", range(40))
def test_sweep_equals_dense_definition(seed):
    obj_ids, frames, class_ids, embeddings, max_gap, theta = random_case(seed)
    expected_ids, expected_joins = dense_reference(obj_ids, frames, class_ids, embeddings, max_gap, theta)
    new_ids, joins = link_tracklets(obj_ids, frames, class_ids, embeddings, max_gap_frames=max_gap, min_similarity=theta)
    assert [(j.earlier, j.later, j.gap_frames) for j in joins] == expected_joins
    assert new_ids.tolist() == expected_ids.tolist()


def test_random_cases_do_join():
    """The cases above are not trivial: most make joins, and some pairs are refused."""
    made = []
    for seed in range(40):
        obj_ids, frames, class_ids, embeddings, max_gap, theta = random_case(seed)
        made.append(len(link_tracklets(obj_ids, frames, class_ids, embeddings, max_gap_frames=max_gap, min_similarity=theta)[1]))
    assert sum(m > 0 for m in made) >= 25


def test_window_pairs_are_exactly_the_pairs_in_the_window(rng):
    first = rng.integers(0, 200, 300)
    last = first + rng.integers(0, 15, 300)
    cls = rng.integers(1, 3, 300)
    p, q = window_pairs(first, last, cls, 7)
    expected = [(a, b) for a in range(300) for b in range(300) if cls[a] == cls[b] and 1 <= first[b] - last[a] <= 7]
    assert list(zip(p.tolist(), q.tolist())) == expected
    assert len(expected) > 100


def test_memory_mapped_embeddings_are_read_in_place(tmp_path):
    """A memory map gives the same result as the array it maps."""
    obj_ids, frames, class_ids, embeddings, max_gap, theta = random_case(3)
    np.save(tmp_path / "e.npy", embeddings)
    mapped = np.load(tmp_path / "e.npy", mmap_mode="r")
    a = link_tracklets(obj_ids, frames, class_ids, embeddings, max_gap_frames=max_gap, min_similarity=theta)
    b = link_tracklets(obj_ids, frames, class_ids, mapped, max_gap_frames=max_gap, min_similarity=theta)
    assert a[0].tolist() == b[0].tolist() and a[1] == b[1]
