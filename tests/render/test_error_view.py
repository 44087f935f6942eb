"""The error view of ``dior render --gt`` on a hand-made sequence whose errors are known:
a false positive in frame 2, a miss in frame 3, an ID switch in frame 4, and a prediction
inside an ignore region in frame 1 (removed by the evaluation, so not a false positive)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.evaluate.stage import EvaluateOptions
from dior_cli.evaluate.stage import run as evaluate
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.masks import encode
from dior_cli.records import MotsRows
from dior_cli.render.colours import FALSE_POSITIVE, MISS, SWITCH, track_colour

H, W, T, GREY = 60, 100, 6, 100
LEFT = (slice(10, 31), slice(10, 26))  # gt 2001's box: rows 10-30, cols 10-25
RIGHT = (slice(10, 31), slice(60, 76))  # gt 2002's box
FP_BOX = (slice(40, 56), slice(35, 51))
IGNORE_BOX = (slice(40, 59), slice(80, 100))
INSIDE_IGNORE = (slice(42, 56), slice(82, 98))


def _rect(box) -> dict:
    mask = np.zeros((H, W), np.uint8)
    mask[box] = 1
    return encode(mask)


def _rows(entries) -> MotsRows:
    frame, obj, cls, rles = zip(*[(t, i, c, _rect(b)) for t, i, c, b in entries])
    return MotsRows(frame=list(frame), obj_id=list(obj), class_id=list(cls), rles=list(rles))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("errors")
    gt = [(t, 2001, 2, LEFT) for t in range(T)] + [(t, 2002, 2, RIGHT) for t in range(T)] + [(1, 10000, 10, IGNORE_BOX)]
    pred = (
        [(t, 2001, 2, LEFT) for t in range(4)] + [(t, 2005, 2, LEFT) for t in (4, 5)]  # switch at 4
        + [(t, 2002, 2, RIGHT) for t in range(T) if t != 3]  # miss at 3
        + [(2, 2009, 2, FP_BOX)]  # false positive at 2
        + [(1, 2010, 2, INSIDE_IGNORE)]  # inside the ignore region: not counted
    )
    gt.sort(key=lambda e: e[0])
    pred.sort(key=lambda e: e[0])
    write_mots_txt(root / "gt" / "s.txt", _rows(gt), frame_base=0)
    write_mots_txt(root / "pred" / "s.txt", _rows(pred), frame_base=0)
    (root / "s").mkdir()
    for t in range(T):
        cv2.imwrite(str(root / "s" / f"{t:06d}.png"), np.full((H, W, 3), GREY, np.uint8))
    result = CliRunner().invoke(app, ["render", str(root / "pred" / "s.txt"), "--frames", str(root / "s"), "--gt", str(root / "gt"),
                                      "--out-dir", str(root / "out"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    frames = [cv2.cvtColor(cv2.imread(str(root / "out" / f"{t:06d}.png")), cv2.COLOR_BGR2RGB) for t in range(T)]
    return root, summary, frames


def _px(image, y, x):
    return tuple(int(v) for v in image[y, x])


def _has(image, colour) -> bool:
    return bool(np.any(np.all(image[:H] == np.asarray(colour, np.uint8), axis=-1)))


def test_counts_match_the_hand_count_and_dior_evaluate(case):
    root, summary, frames = case
    # 6 + 5 matches, the one extra box, the one dropped box, the one change of partner
    assert summary["counts"] == {"tp": 11, "fp": 1, "miss": 1, "idsw": 1}
    doc = evaluate(EvaluateOptions(gt=root / "gt", pred=root / "pred", workers=1))
    ped = doc["per_sequence"]["s"]["pedestrian"]
    assert (ped["CLR_TP"], ped["CLR_FP"], ped["CLR_FN"], ped["IDSW"]) == (11, 1, 1, 1)


def test_frames_get_a_counter_strip(case):
    _, _, frames = case
    for image in frames:
        assert image.shape == (H + 24, W, 3)
        assert np.any(image[H:] != GREY)  # text on the strip


def test_false_positive_outlined_red_only_in_frame_2(case):
    _, _, frames = case
    assert _px(frames[2], 47, 35) == FALSE_POSITIVE  # left edge of the extra box
    assert [t for t in range(T) if _has(frames[t], FALSE_POSITIVE)] == [2]  # frame 1's box in the ignore region is no FP


def test_miss_outlined_yellow_only_in_frame_3(case):
    _, _, frames = case
    assert _px(frames[3], 20, 60) == MISS  # left edge of gt 2002
    assert [t for t in range(T) if _has(frames[t], MISS)] == [3]


def test_switch_flagged_orange_only_in_frame_4(case):
    _, _, frames = case
    assert _px(frames[4], 20, 10) == SWITCH  # left edge of pred 2005 over gt 2001
    assert [t for t in range(T) if _has(frames[t], SWITCH)] == [4]
    # frame 5 keeps pred 2005: a true positive in its own colour, no second switch
    assert _px(frames[5], 20, 10) == track_colour(2005)


def test_true_positives_filled_in_their_track_colour(case):
    _, _, frames = case
    for t, obj_id in ((0, 2001), (3, 2001), (5, 2005)):
        expected = tuple(int(np.rint((GREY + c) / 2)) for c in track_colour(obj_id))
        assert _px(frames[t], 22, 17) == expected
    expected = tuple(int(np.rint((GREY + c) / 2)) for c in track_colour(2002))
    assert _px(frames[0], 22, 67) == expected
    assert _px(frames[3], 22, 67) == (GREY, GREY, GREY)  # the missed gt is outlined, not filled


def test_bad_options_exit_1_naming_the_problem(case, tmp_path):
    root, _, _ = case
    base = ["render", str(root / "pred"), "--frames", str(root / "s")]
    result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "v.mp4"), "--out-dir", str(tmp_path / "d")])
    assert result.exit_code == 1 and "not both" in result.output
    result = CliRunner().invoke(app, [*base, "--seq", "nope", "--out-dir", str(tmp_path / "d")])
    assert result.exit_code == 1 and "nope.txt" in result.output


def test_overlapping_ground_truth_is_refused_with_a_message(tmp_path):
    """Matching needs disjoint gt masks (as dior evaluate refuses them): exit 1, the file and frame named."""
    gt = [(0, 2001, 2, LEFT), (0, 2002, 2, (slice(20, 40), slice(15, 30)))]  # share pixels in frame 0
    write_mots_txt(tmp_path / "gt" / "s.txt", _rows(gt), frame_base=0)
    write_mots_txt(tmp_path / "pred" / "s.txt", _rows([(0, 2001, 2, LEFT)]), frame_base=0)
    (tmp_path / "s").mkdir()
    cv2.imwrite(str(tmp_path / "s" / "000000.png"), np.full((H, W, 3), GREY, np.uint8))
    result = CliRunner().invoke(app, ["render", str(tmp_path / "pred" / "s.txt"), "--frames", str(tmp_path / "s"),
                                      "--gt", str(tmp_path / "gt"), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "overlap in frame 0" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
