"""Dataset layout discovery and frame sources on fixtures and real data."""

from __future__ import annotations

import tracemalloc
import types

import cv2
import numpy as np
import pytest

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.layouts import discover_sequences
from dior_cli.formats.mots_txt import read_mots_txt
from tests.builders import mots20_fixture_from_kitti
from tests.conftest import KITTI_TXT, MOT17_MINI, VTEST, require


@pytest.fixture
def mots20_root(tmp_path):
    """MOTS20 layout from KITTI pedestrians: two train sequences and one test sequence."""
    root = tmp_path / "MOTS20"
    a = mots20_fixture_from_kitti(root, require(KITTI_TXT / "0017.txt"), "MOTS20-90", num_images=3)
    b = mots20_fixture_from_kitti(root, require(KITTI_TXT / "0012.txt"), "MOTS20-91")
    c = mots20_fixture_from_kitti(root, require(KITTI_TXT / "0000.txt"), "MOTS20-92", split="test")
    return root, {"MOTS20-90": a, "MOTS20-91": b, "MOTS20-92": c}


def test_mots20_layout_is_discovered_with_lengths(mots20_root):
    root, built = mots20_root
    seqs = {s.name: s for s in discover_sequences(root)}
    assert set(seqs) == {"MOTS20-90", "MOTS20-91", "MOTS20-92"}
    # KITTI 0012 ends at frame 77, 0000 at 153 (0-based): seqLength 78 and 154, no images. 0017 ends at 144
    # (seqLength 145) but MOTS20-90 holds only its first 3 images: the images present decide its length.
    assert seqs["MOTS20-90"].num_frames == 3 and seqs["MOTS20-91"].num_frames == 78 and seqs["MOTS20-92"].num_frames == 154
    assert seqs["MOTS20-90"].length_source == "images"
    for s in seqs.values():
        assert s.layout == "mots20" and s.frame_base == 1 and s.fps == 10.0
    assert seqs["MOTS20-91"].length_source == seqs["MOTS20-92"].length_source == "seqinfo.ini"
    assert seqs["MOTS20-90"].split == "train" and seqs["MOTS20-92"].split == "test"
    assert seqs["MOTS20-90"].image_size == (370, 1224)
    assert seqs["MOTS20-90"].gt_txt is not None and seqs["MOTS20-90"].frames_path is not None
    assert any("holds 3 images but seqinfo.ini says seqLength=145" in n for n in seqs["MOTS20-90"].notes)
    # A split folder, a sequence folder and --split give the same sequences.
    assert [s.name for s in discover_sequences(root / "train")] == ["MOTS20-90", "MOTS20-91"]
    assert [s.name for s in discover_sequences(root, split="test")] == ["MOTS20-92"]
    assert [s.name for s in discover_sequences(root / "train" / "MOTS20-91")] == ["MOTS20-91"]


def test_mots20_frame_base_converts_both_ways(mots20_root):
    root, built = mots20_root
    folder, kept, _ = built["MOTS20-90"]
    gt_path = folder / "gt" / "gt.txt"
    first_file_frame = int(gt_path.read_text().split(" ", 1)[0])
    rows = read_mots_txt(gt_path, frame_base=1)
    assert first_file_frame == int(kept.frame[0]) + 1  # the file counts from 1
    assert rows.frame[0] == kept.frame[0]  # reading with base 1 gives KITTI's 0-based frames back
    np.testing.assert_array_equal(rows.frame, kept.frame)
    assert rows.rles == kept.rles
    assert set(rows.class_id.tolist()) <= {2, 10}


def test_mots20_frames_stream_in_order(mots20_root):
    root, _ = mots20_root
    seq = discover_sequences(root / "train" / "MOTS20-90")[0]
    frames = list(seq.open_frames())
    assert [f for f, _ in frames] == [0, 1, 2]
    assert frames[1][1].shape == (370, 1224, 3) and frames[1][1].dtype == np.uint8
    assert abs(int(frames[1][1][0, 0, 0]) - 37) <= 2  # the value written for the second image (JPEG)


def test_kitti_layout_from_txt_only():
    seqs = discover_sequences(require(KITTI_TXT.parent))
    assert [s.name for s in seqs] == sorted(p.stem for p in KITTI_TXT.glob("*.txt"))
    by_name = {s.name: s for s in seqs}
    assert by_name["0000"].num_frames == 154 and by_name["0000"].length_source == "annotations"
    assert by_name["0019"].image_size == (374, 1238)
    assert all(s.frame_base == 0 and s.fps == 10.0 for s in seqs)


def test_kitti_layout_with_images_and_pngs(tmp_path):
    for i in range(4):
        (tmp_path / "images" / "0007").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "images" / "0007" / f"{i:06d}.png"), np.zeros((12, 20, 3), np.uint8))
    (tmp_path / "instances" / "0008").mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(tmp_path / "instances" / "0008" / f"{i:06d}.png"), np.zeros((12, 20), np.uint16))
    seqs = {s.name: s for s in discover_sequences(tmp_path)}
    assert seqs["0007"].num_frames == 4 and seqs["0007"].length_source == "images" and seqs["0007"].image_size == (12, 20)
    assert seqs["0008"].num_frames == 2 and seqs["0008"].length_source == "instance PNGs" and seqs["0008"].gt_png is not None
    with pytest.raises(InputNotFound, match="has no frames"):
        seqs["0008"].open_frames()


def test_plain_image_folder(tmp_path):
    for name in ("b.jpg", "a.jpg", "c.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((6, 9, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (seq,) = discover_sequences(tmp_path)
    assert seq.layout == "image-folder" and seq.num_frames == 3 and seq.image_size == (6, 9) and seq.fps is None
    assert [p.name for p in seq.open_frames().files] == ["a.jpg", "b.jpg", "c.png"]


def test_unreadable_frame_is_named(tmp_path):
    cv2.imwrite(str(tmp_path / "000.png"), np.zeros((6, 9, 3), np.uint8))
    (tmp_path / "001.png").write_bytes(b"broken")
    (seq,) = discover_sequences(tmp_path)
    with pytest.raises(FormatError) as info:
        list(seq.open_frames())
    assert info.value.frame == 1 and info.value.path.endswith("001.png")


def test_frame_of_another_size_is_named(tmp_path):
    cv2.imwrite(str(tmp_path / "000.png"), np.zeros((6, 9, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "001.png"), np.zeros((7, 9, 3), np.uint8))
    (seq,) = discover_sequences(tmp_path)
    with pytest.raises(FormatError, match="7x9"):
        list(seq.open_frames())


def test_real_video_is_one_sequence_streamed():
    (seq,) = discover_sequences(require(VTEST))
    assert (seq.name, seq.layout, seq.num_frames, seq.fps, seq.image_size) == ("vtest", "video", 795, 10.0, (576, 768))
    source = seq.open_frames()
    iterator = iter(source)
    assert isinstance(iterator, types.GeneratorType)  # lazy: frames come one at a time
    frame_bytes = 576 * 768 * 3
    tracemalloc.start()
    try:
        count, last = 0, -1
        for frame, image in iterator:
            assert frame == last + 1 and image.shape == (576, 768, 3)
            last, count = frame, count + 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 795
    # All frames together would be 795 * 1.3 MB = 1 GB; streaming holds a few at a time.
    assert peak < 10 * frame_bytes, f"peak traced memory {peak / 1e6:.1f} MB: frames are being kept"


def test_real_mot17_mini_layout():
    seqs = discover_sequences(require(MOT17_MINI / "train"))
    assert len(seqs) == 7 and all(s.layout == "mots20" for s in seqs)
    seq = next(s for s in seqs if s.name == "MOT17-05-FRCNN")
    assert seq.image_size == (480, 640) and seq.fps == 14.0
    images = list(seq.open_frames())
    assert len(images) == 6 and images[0][1].shape == (480, 640, 3)


def test_not_a_video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(FormatError, match="not a video"):
        discover_sequences(path)


def test_missing_path_and_unknown_layout(tmp_path):
    with pytest.raises(InputNotFound):
        discover_sequences(tmp_path / "nowhere")
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "readme.md").write_text("hi")
    with pytest.raises(FormatError, match="matches no known layout"):
        discover_sequences(tmp_path / "stuff")


def test_broken_seqinfo_names_the_key(tmp_path):
    seq = tmp_path / "MOTS20-01"
    seq.mkdir()
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=MOTS20-01\nframeRate=30\nimWidth=640\nimHeight=480\n")
    with pytest.raises(FormatError, match="has no seqLength"):
        discover_sequences(seq)
    (seq / "seqinfo.ini").write_text("[Sequence]\nseqLength=ten\nframeRate=30\nimWidth=640\nimHeight=480\n")
    with pytest.raises(FormatError, match="seqLength is not an integer"):
        discover_sequences(seq)
