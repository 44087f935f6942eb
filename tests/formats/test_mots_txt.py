"""MOTS txt: real KITTI-MOTS ground truth round trips; bad lines name file and line."""

from __future__ import annotations


import numpy as np
import pytest

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.mots_txt import read_mots_txt, write_mots_txt
from dior_cli.masks import area, encode
from tests.conftest import KITTI_TXT, kitti_gt_files, require


@pytest.mark.parametrize("name", [p.name for p in kitti_gt_files()] or ["0000.txt"])
def test_real_kitti_gt_round_trips_unchanged(name, tmp_path):
    path = require(KITTI_TXT / name)
    original_lines = [l.split(" ") for l in path.read_text().splitlines() if l.strip()]
    rows = read_mots_txt(path, frame_base=0)
    # The record holds exactly the file's values (independently parsed here).
    assert len(rows) == len(original_lines)
    np.testing.assert_array_equal(rows.frame, [int(l[0]) for l in original_lines])
    np.testing.assert_array_equal(rows.obj_id, [int(l[1]) for l in original_lines])
    np.testing.assert_array_equal(rows.class_id, [int(l[2]) for l in original_lines])
    assert [r["counts"] for r in rows.rles] == [l[5] for l in original_lines]
    assert (rows.class_id == 10).any(), "KITTI-MOTS ground truth has ignore regions"
    assert set(rows.obj_id[rows.class_id == 10].tolist()) == {10000}
    # write -> read gives the same rows and the same bytes
    out = tmp_path / name
    write_mots_txt(out, rows, frame_base=0)
    again = read_mots_txt(out, frame_base=0)
    np.testing.assert_array_equal(again.frame, rows.frame)
    np.testing.assert_array_equal(again.obj_id, rows.obj_id)
    np.testing.assert_array_equal(again.class_id, rows.class_id)
    assert again.rles == rows.rles
    assert out.read_text() == path.read_text()


def test_frame_base_shifts_both_ways(tmp_path):
    rle = encode(np.eye(4, dtype=bool))
    line = f"1 2001 2 4 4 {rle['counts']}\n"
    path = tmp_path / "a.txt"
    path.write_text(line)
    rows = read_mots_txt(path, frame_base=1)
    assert rows.frame.tolist() == [0]  # file frame 1 is dior frame 0
    write_mots_txt(tmp_path / "b.txt", rows, frame_base=1)
    assert (tmp_path / "b.txt").read_text() == line
    write_mots_txt(tmp_path / "c.txt", rows, frame_base=0)
    assert (tmp_path / "c.txt").read_text().startswith("0 2001 2 ")


def test_empty_file_gives_empty_rows(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("")
    rows = read_mots_txt(path, 0)
    assert len(rows) == 0 and rows.frame.shape == (0,) and rows.image_size is None
    assert [len(r) for r in rows.rows_by_frame(3)] == [0, 0, 0]


GOOD = encode(np.pad(np.ones((2, 2), bool), 1))["counts"]  # a 4x4 mask


@pytest.mark.parametrize(
    ("lines", "bad_line", "fragment"),
    [
        ([f"0 1001 1 4 4 {GOOD}", "0 1002 1 4 4"], 2, "expected 6"),
        ([f"0 1001 1 4 4 {GOOD} extra"], 1, "expected 6"),
        ([f"x 1001 1 4 4 {GOOD}"], 1, "frame is not an integer"),
        ([f"0 1001 1 4.5 4 {GOOD}"], 1, "height is not an integer"),
        (["0 1001 1 4 4 zz"], 1, "outside COCO's alphabet"),
        (["0 1001 1 4 4 0i0"], 1, "cover"),
        ([f"0 1001 1 4 5 {GOOD}"], 1, "cover"),  # RLE is 4x4, line says 4x5
        ([f"0 1001 1 4 4 {GOOD}", f"1 1001 1 5 4 {encode(np.ones((5, 4), bool))['counts']}"], 2, "differs"),
        ([f"0 7001 7 4 4 {GOOD}"], 1, "unknown class 7"),
        ([f"0 1001 1 4 4 {GOOD}", f"0 1001 1 4 4 {GOOD}"], 2, "appears twice in frame 0"),
        ([f"-1 1001 1 4 4 {GOOD}"], 1, "before the first frame"),
        ([f"0 -5 1 4 4 {GOOD}"], 1, "negative object id"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, lines, bad_line, fragment):
    path = tmp_path / "seq.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as info:
        read_mots_txt(path, frame_base=0)
    assert info.value.line == bad_line
    assert fragment in info.value.message
    assert str(path) in str(info.value) and f"line {bad_line}" in str(info.value)


def test_frame_zero_in_a_one_based_file_is_negative(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(f"0 2001 2 4 4 {GOOD}\n")
    with pytest.raises(FormatError, match="before the first frame"):
        read_mots_txt(path, frame_base=1)


def test_frame_past_sequence_end(tmp_path):
    path = tmp_path / "seq.txt"
    path.write_text(f"5 1001 1 4 4 {GOOD}\n")
    with pytest.raises(FormatError, match="past the sequence's last frame 4"):
        read_mots_txt(path, 0, num_frames=5)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "seq.txt"
    path.write_bytes(f"0 1001 1 4 4 {GOOD}\n".encode() + b"\xff\xfe\n")
    with pytest.raises(FormatError) as info:
        read_mots_txt(path, 0)
    assert info.value.line == 2


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFound):
        read_mots_txt(tmp_path / "nope.txt", 0)


def test_masks_of_real_lines_have_positive_area():
    path = require(KITTI_TXT / "0000.txt")
    rows = read_mots_txt(path, 0)
    areas = area(list(rows.rles))  # 418 masks: more than pycocotools takes in one call
    assert areas.shape == (len(rows),) and (areas > 0).all()
