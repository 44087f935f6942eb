"""Object ids past 999 tracks of a class: they round-trip through MOTS txt; a KITTI PNG refuses them, saying why."""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli.errors import FormatError
from dior_cli.formats.kitti_png import read_kitti_png_folder, write_kitti_png_folder
from dior_cli.formats.mots_txt import read_mots_txt, write_mots_txt
from dior_cli.masks import encode
from dior_cli.records import CAR, PEDESTRIAN, MotsRows, class_of_obj_id, mots_obj_id, track_number


def test_ids_written_out_by_hand():
    # records.mots_obj_id's rule: 100000 * (k // 1000) + class * 1000 + k % 1000
    assert [mots_obj_id(CAR, k) for k in (1, 999, 1000, 1001, 2500)] == [1001, 1999, 101000, 101001, 201500]
    assert [mots_obj_id(PEDESTRIAN, k) for k in (1, 999, 1000)] == [2001, 2999, 102000]
    ks = np.arange(1, 5000)
    for cls in (CAR, PEDESTRIAN):
        ids = np.array([mots_obj_id(cls, int(k)) for k in ks])
        assert len(set(ids.tolist())) == ks.size  # unique within the class
        np.testing.assert_array_equal(track_number(ids), ks)
        assert (class_of_obj_id(ids) == cls).all()
    cars = {mots_obj_id(CAR, k) for k in range(1, 5000)}
    assert cars.isdisjoint(mots_obj_id(PEDESTRIAN, k) for k in range(1, 5000))  # never another class's id


def _rows_with_many_tracks(num_tracks: int, height: int = 4, width: int = 5):
    """One frame per track k (so masks never overlap), alternating cars and pedestrians."""
    mask = np.zeros((height, width), bool)
    mask[1:3, 1:4] = True
    classes = np.where(np.arange(num_tracks) % 2 == 0, CAR, PEDESTRIAN)
    ks = np.arange(num_tracks) // 2 + 1  # 1, 1, 2, 2, ...
    ids = [mots_obj_id(int(c), int(k)) for c, k in zip(classes, ks)]
    return MotsRows(frame=np.arange(num_tracks), obj_id=ids, class_id=classes, rles=[encode(mask)] * num_tracks)


def test_ids_past_999_round_trip_through_mots_txt(tmp_path):
    rows = _rows_with_many_tracks(2600)  # k up to 1300 per class
    assert int(rows.obj_id.max()) > 65535
    write_mots_txt(tmp_path / "s.txt", rows, frame_base=1)
    back = read_mots_txt(tmp_path / "s.txt", 1)
    np.testing.assert_array_equal(back.obj_id, rows.obj_id)
    np.testing.assert_array_equal(back.class_id, rows.class_id)
    np.testing.assert_array_equal(back.frame, rows.frame)
    np.testing.assert_array_equal(track_number(back.obj_id), np.arange(2600) // 2 + 1)


def test_png_writer_refuses_ids_past_999_and_says_what_to_use(tmp_path):
    rows = _rows_with_many_tracks(2002)  # the 1000th car is frame 1998
    with pytest.raises(FormatError) as info:
        write_kitti_png_folder(tmp_path / "s", rows, num_frames=2002, image_size=(4, 5))
    message = str(info.value)
    assert "101000" in message and "track 1000 of class 1" in message and "999 tracks per class" in message
    assert "MOTS txt" in message and info.value.frame == 1998
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_png_writer_refuses_an_id_of_another_class(tmp_path):
    mask = np.zeros((4, 5), bool)
    mask[0, 0] = True
    rows = MotsRows(frame=[0], obj_id=[2001], class_id=[CAR], rles=[encode(mask)])
    with pytest.raises(FormatError, match="not class_id \\* 1000 \\+ instance"):
        write_kitti_png_folder(tmp_path / "s", rows, num_frames=1, image_size=(4, 5))


def test_999_tracks_per_class_still_fit_a_png(tmp_path):
    rows = _rows_with_many_tracks(1998)  # k = 999 at most
    write_kitti_png_folder(tmp_path / "s", rows, num_frames=1998, image_size=(4, 5))
    back = read_kitti_png_folder(tmp_path / "s")
    np.testing.assert_array_equal(back.obj_id, rows.obj_id)
    np.testing.assert_array_equal(back.class_id, rows.class_id)
