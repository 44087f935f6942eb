"""MOTChallenge box files as detections (``formats.mot_boxes``) and boxes as pixels (``masks.box_pixel_ranges``)."""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli.errors import AlignmentError, FormatError
from dior_cli.formats.external_detections import MOT_BOXES, locate, read_external_detections
from dior_cli.formats.mot_box_tracks import looks_like_box_file
from dior_cli.formats.mot_boxes import read_mot_boxes
from dior_cli.masks import area, box_pixel_ranges, box_rles, decode
from tests.conftest import DATA, MOT17_MINI, require

TUD = DATA / "mot_box_gt" / "TUD-Campus"


def write(tmp_path, text: str, name: str = "det.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_box_pixels_are_those_whose_centre_is_inside():
    # [0.5, 0.5, 2.5, 1.5]: column centres 0.5, 1.5, 2.5 -> 0.5 and 1.5 inside (2.5 is the open edge); row centre 0.5 inside.
    np.testing.assert_array_equal(box_pixel_ranges(np.array([[0.5, 0.5, 2.5, 1.5]]), (4, 4)), [[0, 0, 2, 1]])
    # a box with no pixel centre inside keeps the pixel of its top-left corner
    np.testing.assert_array_equal(box_pixel_ranges(np.array([[2.6, 1.1, 2.9, 1.2]]), (4, 4)), [[2, 1, 3, 2]])
    # clipped to the image [h, w] = [4, 6]
    np.testing.assert_array_equal(box_pixel_ranges(np.array([[-3.0, -1.0, 9.0, 2.0]]), (4, 6)), [[0, 0, 6, 2]])
    rle = box_rles(np.array([[1.0, 1.0, 4.0, 3.0]]), (4, 6))[0]
    expected = np.zeros((4, 6), dtype=bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(decode(rle), expected)
    assert int(area([rle])[0]) == 6


def test_tud_campus_public_detections_are_read_with_their_scores_mapped_onto_0_1(tmp_path):
    path = require(TUD / "det" / "det.txt")
    table = np.loadtxt(path, delimiter=",")  # an independent parse of the same file
    boxes = read_mot_boxes(path, num_frames=71, image_size=(480, 640))
    assert len(boxes.frame) == len(table)
    np.testing.assert_array_equal(boxes.frame, table[:, 0].astype(int) - 1)
    expected = np.stack([table[:, 2], table[:, 3], table[:, 2] + table[:, 4], table[:, 3] + table[:, 5]], axis=1)
    np.testing.assert_allclose(boxes.bbox_xyxy, np.clip(expected, 0, [640, 480, 640, 480]))
    low, high = table[:, 6].min(), table[:, 6].max()
    assert boxes.rescaled == (low, high) and low < 1 < high  # ACF confidences, not probabilities
    np.testing.assert_allclose(boxes.score, (table[:, 6] - low) / (high - low))
    assert np.argsort(boxes.score, kind="stable").tolist() == np.argsort(table[:, 6], kind="stable").tolist()
    assert (boxes.class_id == 2).all()


def test_mot17_ground_truth_keeps_pedestrians_to_consider_only():
    path = require(MOT17_MINI / "train" / "MOT17-05-FRCNN" / "gt" / "gt.txt")
    table = np.loadtxt(path, delimiter=",")
    wanted = (table[:, 7] == 1) & (table[:, 6] != 0)
    assert 0 < wanted.sum() < len(table)  # the cut file has both kinds
    boxes = read_mot_boxes(path, num_frames=int(table[:, 0].max()), image_size=(480, 640))
    assert len(boxes.frame) == wanted.sum() and boxes.skipped == (~wanted).sum()
    assert (boxes.score == 1).all()


def test_scores_already_in_0_1_and_gt_flags_are_kept_as_they_are(tmp_path):
    det = write(tmp_path, "1,-1,10,10,5,8,0.9\n2,-1,12,11,5,8,0.25\n")
    boxes = read_mot_boxes(det, num_frames=2, image_size=(40, 40))
    np.testing.assert_array_equal(boxes.score, [0.9, 0.25])
    assert boxes.rescaled is None
    gt15 = write(tmp_path, "1,1,10,10,5,8,-1\n1,2,20,10,5,8,-1\n", "gt.txt")  # MOT15 ground truth: -1 flags
    np.testing.assert_array_equal(read_mot_boxes(gt15, num_frames=1, image_size=(40, 40)).score, [1.0, 1.0])


@pytest.mark.parametrize("text, kind, message, line", [
    ("1,-1,10,10,5,8\n", FormatError, "at least 7 comma-separated fields", 1),
    ("1,-1,10,10,5,8,0.5\n2,-1,1,1,x,2,0.5\n", FormatError, "'x' is not a number", 2),
    ("1,-1,10,10,5,8,0.5\n0,-1,1,1,2,2,0.5\n", FormatError, "before the first frame", 2),
    ("1,-1,10,10,5,8,0.5\n9,-1,1,1,2,2,0.5\n", AlignmentError, "past the source's last frame 3", 2),
    ("1,-1,10,10,0,8,0.5\n", FormatError, "box size 0x8 is not positive", 1),
    ("1,-1,100,10,5,8,0.5\n", AlignmentError, "lies outside the 40x40 frame", 1),
    ("1,-1,10,10,5,8,0.5\n1,-1,10,10,5,8,0.5,1\n", FormatError, "has 8 fields where line 1 has 7", 2),
])
def test_bad_lines_name_the_file_and_line(tmp_path, text, kind, message, line):
    path = write(tmp_path, text)
    with pytest.raises(kind, match=message) as error:
        read_mot_boxes(path, num_frames=3, image_size=(40, 40))
    assert error.value.line == line and error.value.path == str(path)


def test_mot_box_sets_are_found_and_read_as_filled_boxes(tmp_path):
    seq = tmp_path / "TUD-Like"
    (seq / "det").mkdir(parents=True)
    (seq / "det" / "det.txt").write_text("1,-1,1,1,3,2,0.8\n2,-1,2,1,3,2,0.6\n")
    source = locate(seq, "TUD-Like", single_sequence=True)
    assert source.kind == MOT_BOXES and source.path == seq / "det" / "det.txt"
    assert looks_like_box_file(seq / "det" / "det.txt")
    mots = write(tmp_path, "0 2001 2 4 6 " + "6" * 0 + "\n", "mots.txt")
    assert not looks_like_box_file(mots)
    got = read_external_detections(source, sequence="TUD-Like", num_frames=2, image_size=(4, 6), frame_base=None)
    assert got.masks_from_boxes and len(got.detections) == 2
    np.testing.assert_array_equal(got.detections.frame, [0, 1])
    mask = decode(got.detections.rles[0])
    assert mask[1:3, 1:4].all() and mask.sum() == 6
    assert got.detections.extras[0]["mask_source"] == "box" and got.detections.extras[1]["origin"] == {"set": 0, "line": 2}
