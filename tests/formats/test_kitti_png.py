"""KITTI-MOTS instance PNGs: real ground truth written as PNG reads back as the same masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dior_cli.errors import FormatError
from dior_cli.formats.kitti_png import read_kitti_png_folder, write_kitti_png_folder
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.masks import decode, encode
from dior_cli.records import MotsRows
from tests.conftest import KITTI_TXT, kitti_gt_files, require


def _by_key(rows: MotsRows) -> dict[tuple[int, int], tuple[int, str]]:
    return {(int(f), int(o)): (int(c), r["counts"]) for f, o, c, r in zip(rows.frame, rows.obj_id, rows.class_id, rows.rles)}


@pytest.mark.parametrize("name", [p.name for p in kitti_gt_files()] or ["0000.txt"])
def test_real_kitti_gt_survives_png(name, tmp_path):
    rows = read_mots_txt(require(KITTI_TXT / name), 0)
    num_frames = rows.num_frames_annotated
    folder = tmp_path / name.removesuffix(".txt")
    write_kitti_png_folder(folder, rows, num_frames, rows.image_size)
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == num_frames and pngs[0].name == "000000.png"
    # The first frame's PNG holds exactly the txt's ids at the txt's pixels (checked densely).
    labels = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16
    for row in rows.rows_by_frame(num_frames)[0]:
        assert (labels[decode(rows.rles[row]).astype(bool)] == rows.obj_id[row]).all()
    back = read_kitti_png_folder(folder, 0)
    # Same objects, classes and masks (RLE of the same mask is the same string).
    assert _by_key(back) == _by_key(rows)


def test_frames_without_objects_get_a_blank_png(tmp_path):
    mask = np.zeros((6, 8), bool)
    mask[1:3, 2:5] = True
    rows = MotsRows(frame=[2], obj_id=[2005], class_id=[2], rles=[encode(mask)])
    write_kitti_png_folder(tmp_path / "s", rows, num_frames=4, image_size=(6, 8))
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [f"00000{i}.png" for i in range(4)]
    back = read_kitti_png_folder(tmp_path / "s")
    assert back.frame.tolist() == [2] and back.obj_id.tolist() == [2005] and back.class_id.tolist() == [2]
    np.testing.assert_array_equal(decode(back.rles[0]), mask)


def test_png_write_is_all_or_nothing(tmp_path):
    a = np.zeros((4, 4), bool)
    a[:2] = True
    rows = MotsRows(frame=[0, 1, 1], obj_id=[1001, 1001, 1002], class_id=[1, 1, 1], rles=[encode(a), encode(a), encode(a)])
    with pytest.raises(ValueError, match="masks overlap"):
        write_kitti_png_folder(tmp_path / "s", rows, num_frames=2, image_size=(4, 4))
    assert list(tmp_path.iterdir()) == []  # no folder, no temporary left behind


@pytest.mark.parametrize(("value", "fragment"), [(3001, "pixel value 3001"), (10001, "pixel value 10001")])
def test_unknown_pixel_class_names_the_file(tmp_path, value, fragment):
    labels = np.zeros((4, 4), np.uint16)
    labels[0, 0] = value
    cv2.imwrite(str(tmp_path / "000000.png"), labels)
    with pytest.raises(FormatError) as info:
        read_kitti_png_folder(tmp_path)
    assert fragment in info.value.message and info.value.path.endswith("000000.png")


def test_unreadable_png_and_bad_name(tmp_path):
    (tmp_path / "000000.png").write_bytes(b"not a png")
    with pytest.raises(FormatError, match="cannot be read"):
        read_kitti_png_folder(tmp_path)
    (tmp_path / "000000.png").unlink()
    cv2.imwrite(str(tmp_path / "frame_a.png"), np.zeros((2, 2), np.uint16))
    with pytest.raises(FormatError, match="not a frame number"):
        read_kitti_png_folder(tmp_path)


def test_png_frame_past_the_sequence_names_the_file(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i + 1:06d}.png"), np.zeros((4, 4), np.uint16))
    assert len(read_kitti_png_folder(tmp_path, 1, num_frames=3)) == 0
    with pytest.raises(FormatError, match="frame 3 is past the sequence's last frame 2") as info:
        read_kitti_png_folder(tmp_path, 1, num_frames=2)
    assert info.value.path.endswith("000003.png")
