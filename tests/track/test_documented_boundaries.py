"""The documented boundaries of the online tracker's N1 and of DIOR's long-term re-ID N2, and
where theta_1's default comes from.

N1 (``OnlineTracker`` docstring): a track last matched in frame ``L`` can be matched up to frame
``L + n1_frames`` (``n1_frames - 1`` missed frames) and no later. N2 (``link_tracklets``, README):
the gap is counted from the last frame of the earlier tracklet to the first frame of the later
one, not start to start. Each case sits exactly on the boundary and one frame past it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dior_cli.association.long_term import link_tracklets
from dior_cli.config import FIXED_THETA_1, ReidConfig
from dior_cli.masks import encode
from dior_cli.track.tracker import OnlineTracker



def square() -> dict:
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 1
    return encode(mask)


def run_gap(n1_frames: int, missed: int, use_appearance: bool) -> tuple[list[int], int]:
    """One object seen in frame 0, missing in frames 1..missed, seen again in frame missed + 1.

    Returns the object ids given in the two frames where it is seen and the retrieval count.
    """
    tracker = OnlineTracker(n1_frames=n1_frames, use_appearance=use_appearance)
    embedding = np.array([[1.0, 0.0]]) if use_appearance else None
    rle = square()
    ids = [int(tracker.step(0, [rle], np.array([1]), np.array([1.0]), embedding)[0])]
    for frame in range(1, missed + 1):
        tracker.step(frame, [], np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 2)) if use_appearance else None)
    ids.append(int(tracker.step(missed + 1, [rle], np.array([1]), np.array([1.0]), embedding)[0]))
    return ids, tracker.retrieved


@pytest.mark.parametrize("use_appearance", [True, False])
@pytest.mark.parametrize("n1_frames", [2, 3, 6])
def test_a_track_is_retrieved_after_n1_minus_1_missed_frames_and_not_after_n1(n1_frames, use_appearance):
    ids, retrieved = run_gap(n1_frames, n1_frames - 1, use_appearance)  # seen again in frame L + n1
    assert ids == [1001, 1001] and retrieved == 1
    ids, retrieved = run_gap(n1_frames, n1_frames, use_appearance)  # seen again in frame L + n1 + 1
    assert ids == [1001, 1002] and retrieved == 0


@pytest.mark.parametrize("use_appearance", [True, False])
def test_n1_of_one_frame_bridges_no_gap(use_appearance):
    assert run_gap(1, 0, use_appearance) == ([1001, 1001], 0)  # consecutive frames: ordinary matching
    assert run_gap(1, 1, use_appearance) == ([1001, 1002], 0)


def link(first_p: int, last_p: int, first_q: int, last_q: int, max_gap_frames: int) -> int:
    """Joins made between two same-class tracklets with identical appearance."""
    frames = np.array([*range(first_p, last_p + 1), *range(first_q, last_q + 1)])
    obj_ids = np.array([1001] * (last_p - first_p + 1) + [1002] * (last_q - first_q + 1))
    embeddings = np.tile([1.0, 0.0], (frames.size, 1))
    _, joins = link_tracklets(obj_ids, frames, np.ones(frames.size, np.int64), embeddings,
                              max_gap_frames=max_gap_frames, min_similarity=0.7)
    return len(joins)


def test_n2_is_counted_from_the_end_of_one_tracklet_to_the_start_of_the_next():
    # p covers frames 0..20, q starts at 30: start to start is 30 frames, end to start 10.
    assert link(0, 20, 30, 35, max_gap_frames=10) == 1  # exactly on the boundary: joined
    assert link(0, 20, 31, 35, max_gap_frames=10) == 0  # one frame further: not joined
    assert link(0, 20, 30, 35, max_gap_frames=9) == 0


def test_theta_1_is_not_attributed_to_the_paper():
    """DIOR sec. 3.4 names theta_1 but gives no value (papers/dior.md): the fixed 0.7 is dior's own
    default, and unset (the default) theta_1 is read from the data."""
    field = next(f for f in dataclasses.fields(ReidConfig) if f.name == "theta_1")
    assert field.default is None and FIXED_THETA_1 == 0.7 and "0.7" in field.metadata["help"]
    assert field.metadata["source"] is None
    assert "own default" in field.metadata["help"] and "no value" in field.metadata["help"]
