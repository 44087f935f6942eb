"""The different-identity sample is drawn before the pairs are computed (issue 14): it must be
exactly what computing every pair and then ``rng.choice(values, k, replace=False)`` gives (numpy
itself is the reference), and leave the generator in the same state."""

from __future__ import annotations

import numpy as np

from dior_cli.association import similarity_samples
from dior_cli.association.similarity_samples import different_identity_similarities


def _every_pair_then_choice(frames, class_ids, embeddings, rng, limit):
    values = []
    for f in np.unique(frames):
        for c in np.unique(class_ids):
            rows = np.flatnonzero((frames == f) & (class_ids == c))
            if rows.size >= 2:
                sims = embeddings[rows] @ embeddings[rows].T
                values.append(sims[np.triu_indices(rows.size, k=1)])
    values = np.concatenate(values)
    return (rng.choice(values, limit, replace=False) if values.size > limit else values).astype(np.float64)


def test_sample_drawn_first_equals_sampling_every_pair(monkeypatch):
    data = np.random.default_rng(0)
    frames = data.integers(0, 30, 600)
    class_ids = data.integers(1, 3, 600)
    embeddings = data.normal(size=(600, 8)).astype(np.float32)
    for limit in (50, 3000, 10**6):  # sampled, sampled, every pair
        monkeypatch.setattr(similarity_samples, "_MAX_DIFFERENT_PAIRS", limit)
        ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
        got = different_identity_similarities(frames, class_ids, embeddings, ours)
        expected = _every_pair_then_choice(frames, class_ids, embeddings, theirs, limit)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.float64 and ours.integers(0, 10**9) == theirs.integers(0, 10**9)
