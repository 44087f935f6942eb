"""dior's HOTA / CLEAR / Identity against TrackEval 1.3.0 (the reference) on random sequences.

Every field must be equal bit for bit (``==``, NaN equal to NaN), per sequence, combined
over sequences and averaged over classes. The generator aims at the fragile spots: exact 0s,
similarities at and one ulp around the thresholds (0.5, 0.5 - eps, every HOTA alpha and
alpha - eps), coarse values that tie, duplicated tracks (identical rows or columns, so the
Hungarian solver meets exact ties), dense overlaps (many frames need the solver), gaps,
frames without gt or predictions and sequences empty on one or both sides.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

trackeval = pytest.importorskip("trackeval")

from dior_cli.evaluate.clear import combine_clear, compute_clear  # noqa: E402
from dior_cli.evaluate.combine import (  # noqa: E402
    class_average_clear,
    class_average_hota,
    class_average_identity,
)
from dior_cli.evaluate.hota import combine_hota, compute_hota  # noqa: E402
from dior_cli.evaluate.identity import combine_identity, compute_identity  # noqa: E402
from dior_cli.matching.sequence_data import SequenceData  # noqa: E402

EPS = np.finfo(float).eps
ALPHAS = np.arange(0.05, 0.99, 0.05)
EDGE_VALUES = np.unique(
    np.clip(
        np.concatenate(
            [
                [0.0, 1.0, 0.5, 0.5 - EPS, 0.5 - EPS / 2, 0.2, 0.8, 1e-300, 5e-324, EPS, EPS / 2],
                np.nextafter([0.5, 0.5, 0.5 - EPS, 0.2, 0.8], [0.0, 1.0, 0.0, 1.0, 1.0]),
                ALPHAS,
                ALPHAS - EPS,
                np.nextafter(ALPHAS - EPS, 0.0),
                np.nextafter(ALPHAS, 1.0),
            ]
        ),
        0.0,
        1.0,
    )
)
COARSE_VALUES = np.array([0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0])

# PRINT_CONFIG False: CLEAR and Identity otherwise print their config on construction.
METRICS = {
    "HOTA": (trackeval.metrics.HOTA(), compute_hota, combine_hota, class_average_hota),
    "CLEAR": (
        trackeval.metrics.CLEAR({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
        compute_clear,
        combine_clear,
        class_average_clear,
    ),
    "Identity": (
        trackeval.metrics.Identity({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
        compute_identity,
        combine_identity,
        class_average_identity,
    ),
}


# --------------------------------------------------------------------------------------
# random sequences


def _draw(rng: np.random.Generator, palette: str, size) -> np.ndarray:
    if palette == "mixed":
        parts = [_draw(rng, p, size) for p in ("uniform", "coarse", "edge")]
        which = rng.integers(0, 3, size)
        return np.choose(which, parts)
    if palette == "uniform":
        return rng.random(size)
    return rng.choice(COARSE_VALUES if palette == "coarse" else EDGE_VALUES, size)


def _presence(rng: np.random.Generator, n_tracks: int, n_frames: int) -> np.ndarray:
    """(n_tracks, n_frames) bool: one span per track, with random gaps inside it."""
    out = np.zeros((n_tracks, n_frames), dtype=bool)
    gap = rng.choice([0.0, 0.1, 0.35])
    for k in range(n_tracks):
        start = rng.integers(0, n_frames)
        stop = rng.integers(start + 1, n_frames + 1)
        out[k, start:stop] = rng.random(stop - start) >= gap
    return out


def random_sequence(rng: np.random.Generator) -> SequenceData:
    """A random sequence of one class (see the module docstring for what it stresses)."""
    n_frames = int(rng.choice([0, 1, 2, 5, 12, 25, 40], p=[0.03, 0.07, 0.1, 0.2, 0.3, 0.2, 0.1]))
    n_gt = int(rng.choice([0, 1, 2, 4, 7], p=[0.08, 0.15, 0.25, 0.3, 0.22]))
    n_pred = int(rng.choice([0, 1, 2, 4, 8, 11], p=[0.08, 0.12, 0.2, 0.25, 0.25, 0.1]))
    palette = str(rng.choice(["uniform", "coarse", "edge", "mixed"]))
    noise = float(rng.choice([0.0, 0.1, 0.4, 0.9]))  # chance of a stray overlap
    if n_frames == 0:
        n_gt = n_pred = 0
    gt_on = _presence(rng, n_gt, n_frames)
    pred_on = _presence(rng, n_pred, n_frames)
    # which gt track each pred track follows, per frame (-1: none); switches now and then
    follow = np.where(rng.random((n_pred, 1)) < 0.8, rng.integers(0, max(n_gt, 1), (n_pred, 1)), -1)
    follow = np.repeat(follow, n_frames, axis=1)
    for k in range(n_pred):
        if n_gt and n_frames and rng.random() < 0.4:
            cut = rng.integers(0, n_frames)
            follow[k, cut:] = rng.integers(-1, n_gt)
    # twins: a track that copies another's presence and similarities (exact ties)
    gt_twin = {k: int(rng.integers(0, k)) for k in range(1, n_gt) if rng.random() < 0.15}
    pred_twin = {k: int(rng.integers(0, k)) for k in range(1, n_pred) if rng.random() < 0.15}
    for k, j in gt_twin.items():
        gt_on[k] = gt_on[j]
    for k, j in pred_twin.items():
        pred_on[k] = pred_on[j]
        follow[k] = follow[j]
    # frames wiped on one side
    for t in range(n_frames):
        r = rng.random()
        if r < 0.05:
            gt_on[:, t] = False
        elif r < 0.1:
            pred_on[:, t] = False

    full = np.zeros((n_gt, n_pred))
    gt_frames, pred_frames, sim_frames = [], [], []
    for t in range(n_frames):
        # similarity between all tracks for this frame, then restricted to the present ones
        full = np.where(rng.random((n_gt, n_pred)) < noise, _draw(rng, palette, (n_gt, n_pred)), 0.0)
        hi = _draw(rng, palette, (n_gt, n_pred))
        tracked = follow[:, t][None, :] == np.arange(n_gt)[:, None]
        full = np.where(tracked, np.maximum(hi, rng.choice([0.0, 0.5, 0.7])), full)
        for k, j in gt_twin.items():
            full[k] = full[j]
        for k, j in pred_twin.items():
            full[:, k] = full[:, j]
        gi = rng.permutation(np.flatnonzero(gt_on[:, t]))
        pi = rng.permutation(np.flatnonzero(pred_on[:, t]))
        gt_frames.append(gi)
        pred_frames.append(pi)
        sim_frames.append(full[np.ix_(gi, pi)])

    def relabel(frames):
        present = np.unique(np.concatenate(frames)) if frames else np.zeros(0, int)
        lookup = np.zeros(max(int(present.max()) + 1, 1) if present.size else 1, np.int64)
        lookup[present] = np.arange(present.size)
        return [lookup[f] for f in frames], present.size

    gt_frames, n_gt_ids = relabel(gt_frames)
    pred_frames, n_pred_ids = relabel(pred_frames)
    return SequenceData.from_frames(gt_frames, pred_frames, sim_frames, n_gt_ids, n_pred_ids)


# --------------------------------------------------------------------------------------
# comparison


def assert_same(metric, ours: dict, ref: dict, where: str, atol: float = 0.0) -> None:
    """Every field equal bit for bit; with ``atol`` > 0, float fields only within ``atol``."""
    assert set(ours) == set(ref), f"{where}: fields differ: {set(ours) ^ set(ref)}"
    int_fields = set(metric.integer_fields) | set(metric.integer_array_fields)
    for field, want in ref.items():
        got = ours[field]
        assert np.shape(got) == np.shape(want), f"{where} {field}: shape {np.shape(got)}"
        if field in int_fields or atol == 0.0:
            same = np.array_equal(np.asarray(got, float), np.asarray(want, float), equal_nan=True)
            assert same, f"{where} {field}: {got!r} != {want!r}"
        else:
            np.testing.assert_allclose(
                np.asarray(got, float), np.asarray(want, float), rtol=0, atol=atol,
                equal_nan=True, err_msg=f"{where} {field}",
            )  # fmt: skip


def check_sequences(seqs: list[SequenceData], where: str, classes: int = 2) -> None:
    """Per sequence, combined per class (sequences dealt round-robin), class-averaged."""
    for name, (ref_metric, compute, combine, class_average) in METRICS.items():
        ours = [compute(s) for s in seqs]
        refs = [ref_metric.eval_sequence(s.to_trackeval()) for s in seqs]
        for i, (o, r) in enumerate(zip(ours, refs)):
            assert_same(ref_metric, o, r, f"{where} seq {i} {name}")
        ours_cls, refs_cls = [], []
        for c in range(classes):
            idx = range(c, len(seqs), classes)
            if not idx:
                continue
            ours_cls.append(combine([ours[i] for i in idx]))
            refs_cls.append(ref_metric.combine_sequences({f"s{i}": refs[i] for i in idx}))
            assert_same(ref_metric, ours_cls[-1], refs_cls[-1], f"{where} class {c} {name}")
        refs_dict = {f"c{i}": r for i, r in enumerate(refs_cls)}
        for ignore in (False, True):
            with warnings.catch_warnings():  # TrackEval's np.mean of no class warns
                warnings.simplefilter("ignore", RuntimeWarning)
                want = ref_metric.combine_classes_class_averaged(refs_dict, ignore_empty_classes=ignore)
            got = class_average(ours_cls, ignore_empty_classes=ignore)
            assert_same(ref_metric, got, want, f"{where} class average ignore={ignore} {name}")


# --------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("seed", range(30))
def test_random_sequences_match_trackeval(seed):
    rng = np.random.default_rng(seed)
    seqs = [random_sequence(rng) for _ in range(8)]
    check_sequences(seqs, f"seed {seed}", classes=2)


def test_empty_sides_and_empty_classes_match_trackeval():
    def seq(gt, pred, sims):
        return SequenceData.from_frames([np.array(g, np.int64) for g in gt],
                                        [np.array(p, np.int64) for p in pred], sims)  # fmt: skip

    nothing = seq([[], [], []], [[], [], []], [np.zeros((0, 0))] * 3)
    no_frames = seq([], [], [])
    gt_only = seq([[0], [0, 1], []], [[], [], []], [np.zeros((1, 0)), np.zeros((2, 0)), np.zeros((0, 0))])
    pred_only = seq([[], []], [[0, 1], [1]], [np.zeros((0, 2)), np.zeros((0, 1))])
    some = seq([[0], [0], []], [[0], [], [0]], [np.array([[0.9]]), np.zeros((1, 0)), np.zeros((0, 1))])
    # class 0: only empty sequences -> an empty class; class 1: one side empty; class 2: normal
    check_sequences([nothing, gt_only, some, no_frames, pred_only], "empty sides", classes=3)
    check_sequences([nothing, no_frames], "all empty", classes=2)
    check_sequences([gt_only], "gt only", classes=1)
    check_sequences([pred_only], "pred only", classes=1)


def test_long_dense_sequences_match_trackeval():
    """Longer sequences with many overlapping objects: most frames need the solver."""
    rng = np.random.default_rng(2024)
    seqs = []
    for _ in range(3):
        n_frames, n_gt, n_pred = 60, 12, 16
        gt_frames, pred_frames, sims = [], [], []
        for _t in range(n_frames):
            g = np.sort(rng.choice(n_gt, rng.integers(0, n_gt + 1), replace=False))
            p = rng.permutation(rng.choice(n_pred, rng.integers(0, n_pred + 1), replace=False))
            s = np.where(rng.random((g.size, p.size)) < 0.5, rng.random((g.size, p.size)), 0.0)
            gt_frames.append(g)
            pred_frames.append(p)
            sims.append(s)
        seqs.append(SequenceData.from_frames(gt_frames, pred_frames, sims, n_gt, n_pred))
    check_sequences(seqs, "dense", classes=1)


def test_sparse_pair_indexing_matches_trackeval(monkeypatch):
    """HOTA numbers (gt id, pred id) pairs sparsely when there are many ids; force that path."""
    from dior_cli.evaluate import hota

    monkeypatch.setattr(hota, "_DENSE_PAIRS", 0)
    rng = np.random.default_rng(99)
    check_sequences([random_sequence(rng) for _ in range(12)], "sparse pairs", classes=1)


def test_identity_by_groups_of_ids_matches_trackeval(monkeypatch):
    """With many ids the identity matching is solved per connected group of agreeing ids
    instead of on one dense matrix; force that path on random and many-id sequences."""
    from dior_cli.evaluate import identity

    monkeypatch.setattr(identity, "_DENSE_AGREEMENT", 0)
    rng = np.random.default_rng(17)
    check_sequences([random_sequence(rng) for _ in range(12)], "identity groups", classes=1)


def test_many_ids_match_trackeval():
    """Enough ids that TrackEval's dense association sums (np.sum, pairwise) recurse."""
    rng = np.random.default_rng(5)
    n_frames, n_gt, n_pred = 80, 40, 55
    g_span = np.sort(rng.integers(0, n_frames, (n_gt, 2)), axis=1)
    p_span = np.sort(rng.integers(0, n_frames, (n_pred, 2)), axis=1)
    follow = rng.integers(0, n_gt, n_pred)
    gt_frames, pred_frames, sims = [], [], []
    for t in range(n_frames):
        g = rng.permutation(np.flatnonzero((g_span[:, 0] <= t) & (t <= g_span[:, 1])))
        p = rng.permutation(np.flatnonzero((p_span[:, 0] <= t) & (t <= p_span[:, 1])))
        s = np.where(rng.random((g.size, p.size)) < 0.05, rng.random((g.size, p.size)) * 0.5, 0.0)
        s = np.where(follow[p][None, :] == g[:, None], 0.3 + 0.7 * rng.random(s.shape), s)
        gt_frames.append(g)
        pred_frames.append(p)
        sims.append(s)
    seq = SequenceData.from_frames(gt_frames, pred_frames, sims, n_gt, n_pred)
    check_sequences([seq, seq], "many ids", classes=1)


def test_association_sum_fallback_is_close(monkeypatch):
    """Above `_DENSE_SUM` id pairs AssA/AssRe/AssPr skip TrackEval's dense layout: the sums
    may then differ in the last bits only."""
    from dior_cli.evaluate import hota

    monkeypatch.setattr(hota, "_DENSE_SUM", 0)
    rng = np.random.default_rng(3)
    seqs = [random_sequence(rng) for _ in range(12)]
    ref_metric = METRICS["HOTA"][0]
    refs = [ref_metric.eval_sequence(s.to_trackeval()) for s in seqs]
    ours = [compute_hota(s) for s in seqs]
    for i, (o, r) in enumerate(zip(ours, refs)):
        assert_same(ref_metric, o, r, f"fallback seq {i}", atol=1e-12)
    combined = ref_metric.combine_sequences({f"s{i}": r for i, r in enumerate(refs)})
    assert_same(ref_metric, combine_hota(ours), combined, "fallback combined", atol=1e-12)


_VALUES = st.sampled_from([0.0, 0.0, 0.0, 0.3, 0.5, 0.5 - EPS, float(np.nextafter(0.5, 0)), 0.7, 1.0])


@st.composite
def small_sequences(draw) -> SequenceData:
    n_frames = draw(st.integers(0, 6))
    gt_frames, pred_frames, sims = [], [], []
    for _ in range(n_frames):
        g = draw(st.lists(st.integers(0, 3), max_size=4, unique=True))
        p = draw(st.lists(st.integers(0, 4), max_size=5, unique=True))
        values = draw(st.lists(_VALUES, min_size=len(g) * len(p), max_size=len(g) * len(p)))
        gt_frames.append(np.array(g, np.int64))
        pred_frames.append(np.array(p, np.int64))
        sims.append(np.array(values, float).reshape(len(g), len(p)))

    def relabel(frames):
        present = sorted({int(i) for f in frames for i in f})
        lookup = {v: k for k, v in enumerate(present)}
        return [np.array([lookup[int(i)] for i in f], np.int64) for f in frames], len(present)

    gt_frames, n_gt = relabel(gt_frames)
    pred_frames, n_pred = relabel(pred_frames)
    return SequenceData.from_frames(gt_frames, pred_frames, sims, n_gt, n_pred)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(small_sequences(), min_size=1, max_size=3))
def test_hypothesis_small_sequences_match_trackeval(seqs):
    check_sequences(seqs, "hypothesis", classes=2)


def test_trackeval_dict_round_trip():
    rng = np.random.default_rng(7)
    for _ in range(10):
        seq = random_sequence(rng)
        back = SequenceData.from_trackeval(seq.to_trackeval())
        assert back.num_frames == seq.num_frames
        for a, b in zip(back.similarity, seq.similarity):
            assert np.array_equal(a, b)
        assert back.to_trackeval().keys() == seq.to_trackeval().keys()
