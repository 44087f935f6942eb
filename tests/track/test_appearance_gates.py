"""Appearance gates read from the data (issue 15): the intra-frame statistic against a hand
derivation and a plain numpy reference, the sample it reads, the rule, and a constructed
sequence whose embeddings are far less similar than OSNet's (same identity about 0.4,
different about 0), which the fixed gates (cosine >= 0.8 without overlap, retrieval >= 0.6)
break and the auto gates track.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.association.thresholds import (
    MIN_GATE_PAIRS,
    MIN_GATE_STD,
    IntraFrameStatistics,
    appearance_gate,
    first_frames_blocks,
    intra_frame_statistics,
    resolve_gate,
)
from dior_cli.cli import app
from dior_cli.config import FIXED_MATCH_MAX_COST, FIXED_RETRIEVAL_MIN_SIMILARITY, FIXED_THETA_1, ReidConfig, TrackConfig
from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.embeddings import write_embeddings
from dior_cli.masks import bbox_xyxy, encode
from dior_cli.records import Detections
from dior_cli.reid.stage import ReidOptions
from dior_cli.reid.stage import run as reid
from dior_cli.track.stage import TrackOptions
from dior_cli.track.stage import run as track
from tests.track.test_scenarios import ids_by_identity

H, W = 30, 60


# --- the statistic ----------------------------------------------------------------------------


def test_statistic_by_hand():
    # block 1: e1, e2, e1 -> cosines 0 (e1.e2), 1 (e1.e1), 0 (e2.e1); a single row gives no pair;
    # block 2: two rows at 60 degrees -> 0.5. All pairs: 0, 1, 0, 0.5: mean 0.375,
    # variance (0 + 1 + 0 + 0.25) / 4 - 0.375^2 = 0.171875.
    e1, e2 = [1.0, 0.0], [0.0, 1.0]
    blocks = [np.array([e1, e2, e1]), np.array([e1]), np.array([e1, [0.5, np.sqrt(0.75)]])]
    stats = intra_frame_statistics(iter(blocks))
    assert stats.pairs == 4 and stats.blocks == 2
    assert stats.mean == pytest.approx(0.375, abs=1e-12)
    assert stats.std == pytest.approx(np.sqrt(0.171875), abs=1e-12)


def test_statistic_matches_numpy_on_every_pair():
    rng = np.random.default_rng(3)
    blocks = []
    for n in [5, 1, 0, 12, 2, 30, 7]:
        x = rng.standard_normal((n, 24)) + 0.8  # a shared component: mean cosine well above 0
        blocks.append((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32) if n else np.zeros((0, 24), np.float32))
    pairs = [float(np.dot(b[i].astype(np.float64), b[j].astype(np.float64))) for b in blocks for i, j in itertools.combinations(range(len(b)), 2)]
    stats = intra_frame_statistics(blocks)
    assert stats.pairs == len(pairs) == 10 + 66 + 1 + 435 + 21
    assert stats.mean == pytest.approx(np.mean(pairs), abs=1e-9)
    assert stats.std == pytest.approx(np.std(pairs), abs=1e-9)
    assert stats.mean > 0.3
    # the same pairs split into other blocks: the same numbers
    assert intra_frame_statistics(reversed(blocks)).mean == pytest.approx(stats.mean, abs=1e-12)


def test_statistic_of_nothing():
    stats = intra_frame_statistics([np.zeros((1, 4)), np.zeros((0, 4))])
    assert (stats.pairs, stats.blocks) == (0, 0) and np.isnan(stats.mean)
    assert appearance_gate(stats, 3.0) is None


def test_sample_is_the_first_frames_with_a_same_class_pair_and_reads_no_further():
    e = np.eye(4)
    frames = [
        (np.array([1]), e[:1]),  # one detection: no pair
        (np.array([1, 2]), e[:2]),  # two classes, one each: no pair
        (np.array([1, 2, 1, 2, 2]), e[[0, 1, 2, 3, 0]]),  # car block rows 0, 2; pedestrian rows 1, 3, 4
        (np.array([2, 2]), e[[1, 2]]),
        (np.array([1, 1]), e[[0, 3]]),  # never read with max_frames = 2
    ]
    read = []

    def lazy():
        for k, frame in enumerate(frames):
            read.append(k)
            yield frame

    blocks = list(first_frames_blocks(lazy(), max_frames=2))
    assert [b.tolist() for b in blocks] == [e[[0, 2]].tolist(), e[[1, 3, 0]].tolist(), e[[1, 2]].tolist()]
    assert read == [0, 1, 2, 3]


# --- the rule ---------------------------------------------------------------------------------


def test_gate_is_mean_plus_k_std_with_a_floor_on_std_and_enough_pairs():
    assert appearance_gate(IntraFrameStatistics(0.45, 0.1, 500, 50), 3.0) == pytest.approx(0.75)
    assert appearance_gate(IntraFrameStatistics(0.0, 0.0, 500, 50), 4.0) == pytest.approx(4 * MIN_GATE_STD)  # degenerate std
    assert appearance_gate(IntraFrameStatistics(0.9, 0.1, 500, 50), 3.0) == 1.0  # never above a cosine's range
    assert appearance_gate(IntraFrameStatistics(0.45, 0.1, 500, 50), 3.0, ceiling=0.6) == 0.6
    assert appearance_gate(IntraFrameStatistics(0.45, 0.1, MIN_GATE_PAIRS - 1, 5), 3.0) is None


def test_a_number_given_wins_then_auto_then_fixed():
    stats = IntraFrameStatistics(0.1, 0.05, 100, 10)
    assert resolve_gate(0.9, "auto", 0.6, stats, 2.0).similarity == 0.9 and resolve_gate(0.9, "auto", 0.6, stats, 2.0).source == "set"
    auto = resolve_gate(None, "auto", 0.6, stats, 2.0)
    assert (auto.similarity, auto.source) == (pytest.approx(0.2), "auto")
    assert resolve_gate(None, "fixed", 0.6, stats, 2.0).similarity == 0.6
    few = resolve_gate(None, "auto", 0.6, IntraFrameStatistics(0.1, 0.05, 3, 1), 2.0)
    assert (few.similarity, few.source) == (0.6, "fixed")
    # never above the fixed value: OSNet-like (0.45 + 3.5 * 0.1 = 0.8 > 0.6) and a broad
    # distribution (a briefly trained head: 0 + 3.5 * 0.49 > 1) both keep the fixed gate
    for stats in (IntraFrameStatistics(0.45, 0.1, 500, 50), IntraFrameStatistics(0.0, 0.49, 500, 50)):
        capped = resolve_gate(None, "auto", 0.6, stats, 3.5)
        assert (capped.similarity, capped.source) == (0.6, "auto-capped")


# --- a constructed sequence with low-similarity embeddings ------------------------------------

IDENTITIES = 8
SAME = 0.4  # cosine between two detections of one identity, about
SLOTS = [(x, y) for y in (2, 16) for x in (0, 15, 30, 45)]  # identity k sits at SLOTS[k]


def rect(x: int, y: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y : y + 12, x : x + 6] = True
    return mask


def low_similarity_sequence(folder: Path, name: str = "s") -> tuple[list, np.ndarray]:
    """Eight pedestrians in two rows, 10 frames at 10 fps. Identity 0 is missed in frame 5 and is
    back in frame 6 at x + 7 (no overlap with its last mask: only retrieval can take it);
    identity 4 jumps to x + 7 in frame 5 without a miss (no overlap: only appearance can match).

    Embeddings: ``sqrt(SAME) e_k + sqrt(1 - SAME) n`` normalised, ``n`` a fresh random unit
    vector in 54 other dimensions: same identity ~0.4, different ~0 (std ~0.08).
    """
    rng = np.random.default_rng(11)
    script = []
    for t in range(10):
        for k, (x, y) in enumerate(SLOTS):
            if k == 0 and t == 5:
                continue
            moved = (k == 0 and t >= 6) or (k == 4 and t >= 5)
            script.append((t, k, rect(x + 7 if moved else x, y)))
    dim = 64
    vectors = []
    for _, k, _ in script:
        noise = rng.standard_normal(dim - 10)
        v = np.zeros(dim)
        v[k] = np.sqrt(SAME)
        v[10:] = np.sqrt(1 - SAME) * noise / np.linalg.norm(noise)
        vectors.append(v / np.linalg.norm(v))
    vectors = np.array(vectors)
    rles = [encode(m) for _, _, m in script]
    dets = Detections(frame=[s[0] for s in script], class_id=np.full(len(script), 2), score=np.full(len(script), 0.9),
                      bbox_xyxy=bbox_xyxy(rles).reshape(-1, 4), rles=rles)
    path = folder / f"{name}.json"
    digest = write_detections(path, DetectionsFile(sequence=name, image_size=(H, W), num_frames=10, fps=10.0, frame_base=0, detections=dets))
    write_embeddings(folder / f"{name}.npy", vectors, path, digest)
    return [(t, k, 2, m) for t, k, m in script], vectors


def reference_statistics(script: list, vectors: np.ndarray) -> tuple[float, float]:
    """Mean and std of the cosines of every same-frame pair, with plain numpy (all 10 frames have pairs)."""
    frames = np.array([s[0] for s in script])
    cosines = [vectors[i] @ vectors[j] for t in np.unique(frames) for i, j in itertools.combinations(np.flatnonzero(frames == t), 2)]
    return float(np.mean(cosines)), float(np.std(cosines))


@pytest.fixture
def low(tmp_path):
    (tmp_path / "dets").mkdir()
    return low_similarity_sequence(tmp_path / "dets")


def test_constructed_embeddings_are_as_described(low):
    script, vectors = low
    ids = np.array([s[1] for s in script])
    cos = vectors @ vectors.T
    same = cos[(ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)]
    different = cos[ids[:, None] != ids[None, :]]
    assert abs(same.mean() - SAME) < 0.03 and abs(different.mean()) < 0.02 and 0.05 < different.std() < 0.12
    frames = np.array([s[0] for s in script])
    for k, back in ((0, 6), (4, 5)):  # where each comes back / jumps: its best cosine with what its track holds
        first = np.flatnonzero((ids == k) & (frames == back))[0]
        before = np.flatnonzero((ids == k) & (frames < back))
        assert cos[first, before].max() < FIXED_RETRIEVAL_MIN_SIMILARITY < 2 - FIXED_MATCH_MAX_COST  # fixed gates must refuse


def test_fixed_gates_break_the_low_similarity_sequence(tmp_path, low):
    script, _ = low
    summary = track(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "fixed", overwrite=True,
                                 track=TrackConfig(appearance_gates="fixed")))["sequences"]["s"]
    gates = summary["appearance_gates"]
    assert (gates["match_max_cost"], gates["retrieval_min_similarity"]) == (FIXED_MATCH_MAX_COST, FIXED_RETRIEVAL_MIN_SIMILARITY)
    assert gates["sources"] == {"match_max_cost": "fixed", "retrieval_min_similarity": "fixed"} and gates["intra_frame"] is None
    ids = ids_by_identity(tmp_path / "fixed", "s", script)
    assert len(set(ids[0])) == 2 and len(set(ids[4])) == 2  # the miss and the jump each start a new track
    assert all(len(set(ids[k])) == 1 for k in range(IDENTITIES) if k not in (0, 4))


def test_auto_gates_track_the_low_similarity_sequence(tmp_path, low):
    script, vectors = low
    summary = track(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "auto", overwrite=True))["sequences"]["s"]
    gates, cfg = summary["appearance_gates"], TrackConfig()
    mean, std = reference_statistics(script, vectors)
    assert gates["mode"] == "auto" and gates["sources"] == {"match_max_cost": "auto", "retrieval_min_similarity": "auto"}
    assert gates["intra_frame"]["pairs"] == 9 * 28 + 21  # 28 pairs in each full frame, 21 in frame 5
    assert gates["intra_frame"]["mean"] == pytest.approx(mean, abs=1e-6) and gates["intra_frame"]["std"] == pytest.approx(std, abs=1e-6)
    assert gates["match_no_overlap_cosine"] == pytest.approx(mean + cfg.match_gate_sigma * std, abs=1e-5)
    assert gates["retrieval_min_similarity"] == pytest.approx(mean + cfg.retrieval_gate_sigma * std, abs=1e-5)
    assert summary["retrieved"] == 1
    ids = ids_by_identity(tmp_path / "auto", "s", script)
    assert all(len(set(ids[k])) == 1 for k in range(IDENTITIES))
    assert len({ids[k][0] for k in range(IDENTITIES)}) == IDENTITIES


def test_numbers_given_override_the_auto_gates_and_are_reported(tmp_path, low):
    script, _ = low
    result = CliRunner().invoke(app, ["track", str(tmp_path / "dets"), "--out", str(tmp_path / "t"), "--json",
                                      "--set", "retrieval_min_similarity=0.6", "--set", "track.match_max_cost=1.2"])
    assert result.exit_code == 0, result.output
    gates = json.loads(result.stdout)["sequences"]["s"]["appearance_gates"]
    assert gates["sources"] == {"match_max_cost": "set", "retrieval_min_similarity": "set"}
    assert (gates["match_max_cost"], gates["retrieval_min_similarity"]) == (1.2, 0.6)
    ids = ids_by_identity(tmp_path / "t", "s", script)
    assert len(set(ids[0])) == 2 and len(set(ids[4])) == 2  # the fixed values, given as numbers, break it the same way


def test_too_few_pairs_fall_back_to_the_fixed_gates(tmp_path):
    dets = tmp_path / "dets"
    dets.mkdir()
    script = [(t, k, 2, rect(15 * k, 2)) for t in range(3) for k in range(3)]  # 3 pairs a frame, 9 in all
    rles = [encode(m) for *_, m in script]
    d = Detections(frame=[s[0] for s in script], class_id=np.full(9, 2), score=np.full(9, 0.9), bbox_xyxy=bbox_xyxy(rles).reshape(-1, 4), rles=rles)
    digest = write_detections(dets / "s.json", DetectionsFile(sequence="s", image_size=(H, W), num_frames=3, fps=10.0, frame_base=0, detections=d))
    write_embeddings(dets / "s.npy", np.eye(8)[[s[1] for s in script]], dets / "s.json", digest)
    gates = track(TrackOptions(dets=dets, out=tmp_path / "t", overwrite=True, offline_reid=True))["sequences"]["s"]["appearance_gates"]
    assert gates["intra_frame"]["pairs"] == 9 < MIN_GATE_PAIRS
    assert gates["sources"] == {"match_max_cost": "fixed", "retrieval_min_similarity": "fixed", "theta_1": "fixed"}
    assert (gates["match_max_cost"], gates["retrieval_min_similarity"], gates["theta_1"]) == (FIXED_MATCH_MAX_COST, FIXED_RETRIEVAL_MIN_SIMILARITY, FIXED_THETA_1)


def test_offline_reid_and_dior_reid_read_theta_1_from_the_data(tmp_path, low):
    script, vectors = low
    mean, std = reference_statistics(script, vectors)
    expected = mean + ReidConfig().theta_1_sigma * std
    # theta_1 is fixed unless asked (a lowered theta_1 joins look-alikes over long videos: README)
    default = track(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "tracks0", overwrite=True, offline_reid=True))["sequences"]["s"]["appearance_gates"]
    assert (default["sources"]["theta_1"], default["theta_1"]) == ("fixed", FIXED_THETA_1)
    gates = track(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "tracks", overwrite=True, offline_reid=True,
                               reid=ReidConfig(theta_1_gate="auto")))["sequences"]["s"]["appearance_gates"]
    assert gates["sources"]["theta_1"] == "auto" and gates["theta_1"] == pytest.approx(expected, abs=1e-5)
    # dior reid --method dior reads it from the track lines: every detection is tracked here, so the same pairs
    refined = reid(ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / "refined", overwrite=True,
                               config=ReidConfig(method="dior", theta_1_gate="auto")))["sequences"]["s"]
    assert refined["theta_1_gate"]["source"] == "auto" and refined["theta_1"] == pytest.approx(expected, abs=1e-6)
    fixed = reid(ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / "refined2", overwrite=True,
                             config=ReidConfig(method="dior", theta_1_gate="fixed")))["sequences"]["s"]
    assert (fixed["theta_1"], fixed["theta_1_gate"]["source"]) == (FIXED_THETA_1, "fixed")
    given = reid(ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / "refined3", overwrite=True,
                             config=ReidConfig(method="dior", theta_1=0.9)))["sequences"]["s"]
    assert (given["theta_1"], given["theta_1_gate"]["source"]) == (0.9, "set")
