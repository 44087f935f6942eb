"""ReMOTS's short-term tracker (sec. 2.3): cases worked by hand, the flow-warped IoU on a
shifted texture, and ``dior reid --frames`` with it as the default.

Hand cases give ``short_term_tracklets`` the frame pairs directly: row indices of frames t-1
and t and the warped IoU matrix; embeddings are 2-D unit vectors at given angles, so every
cosine is the cosine of an angle difference.
"""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli.config import ReidConfig
from dior_cli.masks import encode
from dior_cli.reid.remots import refine_remots
from dior_cli.association.short_term import FramePair, flow_pairs, short_term_tracklets
from dior_cli.reid.stage import ReidOptions
from dior_cli.reid.stage import run as reid
from tests.reid.test_flow import ids_of_objects, smooth_texture, write_swap_sequence


def at(*degrees: float) -> np.ndarray:
    r = np.deg2rad(np.asarray(degrees, np.float64))
    return np.stack([np.cos(r), np.sin(r)], axis=1)  # (N, 2)


def pair(frame, earlier, later, iou) -> FramePair:
    return FramePair(frame, np.asarray(earlier), np.asarray(later), np.asarray(iou, np.float64))


def test_assignment_is_global_not_greedy():
    """A (0 deg) and B (40 deg) at t-1; rows 2 (10 deg) and 3 (25 deg) at t. B's warped mask
    misses row 3 (IoU 0). Greedy by similarity would give A row 2 (cos 10 = 0.985) and leave
    B alone; the assignment links A-3 (cos 25) and B-2 (cos 30): two links."""
    e = at(0, 40, 10, 25)
    labels, links = short_term_tracklets(4, np.full(4, 2), e, [pair(1, [0, 1], [2, 3], [[0.5, 0.4], [0.3, 0.0]])], theta_short=0.5)
    assert labels.tolist() == [0, 1, 1, 0] and links == 2


def test_least_total_distance_among_allowed():
    """All IoUs > 0: A-2 + B-3 costs (1 - cos 10) + (1 - cos 15) = 0.0504; A-3 + B-2 costs
    (1 - cos 25) + (1 - cos 30) = 0.2280: the first is taken."""
    e = at(0, 40, 10, 25)
    labels, _ = short_term_tracklets(4, np.full(4, 2), e, [pair(1, [0, 1], [2, 3], [[0.1, 0.1], [0.1, 0.1]])], theta_short=0.0)
    assert labels.tolist() == [0, 1, 0, 1]


def test_theta_short_iou_and_class_gates():
    e = at(0, 60)  # cosine 0.5
    one = [pair(1, [0], [1], [[0.9]])]
    assert short_term_tracklets(2, np.full(2, 2), e, one, theta_short=0.49)[0].tolist() == [0, 0]
    assert short_term_tracklets(2, np.full(2, 2), e, one, theta_short=0.51)[0].tolist() == [0, 1]  # eq. 2
    assert short_term_tracklets(2, np.array([1, 2]), e, one, theta_short=0.0)[0].tolist() == [0, 1]  # classes differ
    no_overlap = [pair(1, [0], [1], [[0.0]])]
    assert short_term_tracklets(2, np.full(2, 2), at(0, 0), no_overlap, theta_short=0.0)[0].tolist() == [0, 1]  # eq. 1


def test_chains_across_frames_and_unmatched_rows_start_tracklets():
    """Frames 0, 1, 2 hold rows (0), (1, 2), (3): 0-1-3 chain; 2 is new at frame 1 and ends."""
    e = at(0, 5, 90, 10)
    pairs = [pair(2, [1, 2], [3], [[0.7], [0.0]]), pair(1, [0], [1, 2], [[0.8, 0.0]])]  # any order
    labels, links = short_term_tracklets(4, np.full(4, 2), e, pairs, theta_short=0.5)
    assert labels.tolist() == [0, 0, 2, 0] and links == 2


def textured_frames(shift: int):
    rng = np.random.default_rng(3)
    grey = smooth_texture(rng, 96, 128)  # (96, 128) uint8
    first = np.repeat(grey[:, :, None], 3, axis=2)
    second = np.roll(first, shift, axis=1)  # everything moves `shift` pixels right
    return first, second


def square(y: int, x: int, size: int = 24) -> np.ndarray:
    m = np.zeros((96, 128), bool)
    m[y : y + size, x : x + size] = True
    return m


def test_flow_pairs_warp_masks_onto_their_new_place():
    """A 24x24 square moves 6 px right: unwarped it would overlap its new place by IoU
    18/30 = 0.6; warped, nearly 1. A square far away gets IoU 0."""
    first, second = textured_frames(6)
    masks = [square(20, 20), square(20, 26), square(60, 90)]  # rows: t-1 object, t object, t far away
    frames = np.array([0, 1, 1])
    pairs = flow_pairs(frames, [encode(m) for m in masks], enumerate([first, second]), scale=1.0)
    assert len(pairs) == 1 and pairs[0].frame == 1
    assert pairs[0].earlier.tolist() == [0] and pairs[0].later.tolist() == [1, 2]
    assert pairs[0].iou[0, 0] > 0.85
    assert pairs[0].iou[0, 1] == 0.0


def test_flow_pairs_skip_frames_without_a_predecessor():
    first, second = textured_frames(0)
    frames = np.array([0, 2])  # nothing at frame 1: no pair
    assert flow_pairs(frames, [encode(square(10, 10))] * 2, enumerate([first, second, second])) == []


def test_refine_remots_ignores_the_input_ids():
    """Every input line has an id of its own; the tracker links the two objects' observations
    (frames 0-2, A at 0 deg, B at 90 deg) by IoU and appearance: two tracks out."""
    frames = np.array([0, 0, 1, 1, 2, 2])
    obj_ids = np.arange(2001, 2007)
    e = at(0, 90, 2, 88, 1, 91)
    iou = [[0.8, 0.0], [0.0, 0.8]]
    pairs = [pair(1, [0, 1], [2, 3], iou), pair(2, [2, 3], [4, 5], iou)]
    new_ids, report = refine_remots(frames, obj_ids, np.full(6, 2), e, max_gap_frames=5, sigma_k=3.0, frame_pairs=pairs)
    assert report.short_term == "remots" and report.short_term_links == 4 and report.short_term_tracklets == 2
    assert new_ids.tolist() == [2001, 2002, 2001, 2002, 2001, 2002]
    with pytest.raises(ValueError, match="not both"):
        refine_remots(frames, obj_ids, np.full(6, 2), e, max_gap_frames=5, sigma_k=3.0, frame_pairs=pairs, link_flow_iou=np.zeros(0))


def test_stage_default_short_term_tracker_undoes_a_swap(tmp_path):
    """The swap sequence of test_flow.py (tracks 2001/2002 trade pedestrians at frame 6): with
    --frames the short-term tracker rebuilds the tracklets from flow and appearance, so every
    object keeps one id over all frames, without any cut or merge being needed."""
    write_swap_sequence(tmp_path)
    s = reid(ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / "st",
                         frames=tmp_path / "frames" / "swap", overwrite=True, config=ReidConfig()))["sequences"]["swap"]
    assert s["short_term"] == "remots" and s["cuts_flow"] == s["cuts_appearance"] == 0
    assert s["short_term_tracklets"] == 8 and s["short_term_links"] == 8 * 11
    fixed = ids_of_objects(tmp_path, "st")
    assert all(len(ids) == 1 for ids in fixed.values()), fixed
    assert len({next(iter(ids)) for ids in fixed.values()}) == 8
