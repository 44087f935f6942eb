"""The streamed long-term linker (``dior track --offline-reid`` on a stream) makes the joins of
:func:`link_tracklets` on the whole sequence, bit for bit, on random tracklets."""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli.association.long_term import StreamingLinker, link_tracklets


def _sequence(rng: np.random.Generator):
    frames_total, dim, count = int(rng.integers(40, 200)), int(rng.choice([4, 32, 600])), int(rng.integers(2, 60))
    first = rng.integers(0, frames_total, count)
    last = np.minimum(first + rng.integers(0, 30, count), frames_total - 1)
    classes = rng.integers(1, 3, count)
    looks = rng.normal(size=(max(count // 2, 1), dim))
    look = rng.integers(0, len(looks), count)
    rows = []
    for k in range(count):
        for f in range(first[k], last[k] + 1):
            if f in (first[k], last[k]) or rng.random() < 0.8:
                rows.append((f, 1000 * classes[k] + k + 1, classes[k], looks[look[k]]))
    for _ in range(int(rng.integers(0, 20))):  # untracked rows
        rows.append((int(rng.integers(0, frames_total)), 0, int(rng.integers(1, 3)), rng.normal(size=dim)))
    rows.sort(key=lambda r: r[0])
    frames = np.array([r[0] for r in rows])
    obj_ids = np.array([r[1] for r in rows])
    class_ids = np.array([r[2] for r in rows])
    vectors = np.array([r[3] for r in rows]) + 0.4 * rng.normal(size=(len(rows), dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return frames_total, frames, obj_ids, class_ids, vectors


@pytest.mark.parametrize("seed", range(12))
def test_streamed_joins_equal_the_whole_sequence_joins(seed):
    rng = np.random.default_rng(seed)
    frames_total, frames, obj_ids, class_ids, vectors = _sequence(rng)
    gap, theta = int(rng.integers(1, 40)), float(rng.uniform(0.0, 0.8))
    expected, expected_joins = link_tracklets(obj_ids, frames, class_ids, vectors, max_gap_frames=gap, min_similarity=theta)
    linker = StreamingLinker(max_gap_frames=gap, min_similarity=theta, dim=vectors.shape[1])
    last_frame = {int(i): int(frames[obj_ids == i].max()) for i in np.unique(obj_ids[obj_ids > 0])}
    for f in range(frames_total):
        rows = np.flatnonzero(frames == f)
        linker.add(f, obj_ids[rows], class_ids[rows], vectors[rows])
        linker.end_all_but({i for i, last in last_frame.items() if last > f and int(frames[obj_ids == i].min()) <= f})
    mapping, joins = linker.finish()
    got = np.array([mapping.get(int(i), int(i)) if i else 0 for i in obj_ids])
    np.testing.assert_array_equal(got, expected)
    assert [(j.earlier, j.later, j.similarity, j.gap_frames) for j in joins] == \
        [(j.earlier, j.later, j.similarity, j.gap_frames) for j in expected_joins]


def test_a_row_after_its_tracklet_ended_is_refused():
    linker = StreamingLinker(max_gap_frames=5, min_similarity=0.5, dim=2)
    linker.add(0, np.array([1001]), np.array([1]), np.array([[1.0, 0.0]], np.float32))
    linker.end_all_but(set())
    with pytest.raises(RuntimeError, match="after it was ended"):
        linker.add(1, np.array([1001]), np.array([1]), np.array([[1.0, 0.0]], np.float32))
