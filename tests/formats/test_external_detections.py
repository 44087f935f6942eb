"""Detections from other detectors: MOTS txt, KITTI-MOTS PNG folders and dior JSON, checked against the source."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.errors import AlignmentError, ConfigError, FormatError, InputNotFound
from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.external_detections import DIOR_JSON, KITTI_PNG, MOTS_TXT, locate, read_external_detections
from dior_cli.formats.layouts import discover_sequences
from dior_cli.formats.seqinfo import SeqInfo, write_seqinfo
from dior_cli.masks import decode, encode
from dior_cli.records import Detections

H, W = 24, 32
runner = CliRunner()


def rect(y0: int, y1: int, x0: int, x1: int, size: tuple[int, int] = (H, W)) -> np.ndarray:
    mask = np.zeros(size, dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def line(frame: int, class_id: int, mask: np.ndarray, score: float | None = None, obj_id: int | None = None) -> str:
    rle = encode(mask)
    obj_id = class_id * 1000 + 1 if obj_id is None else obj_id
    text = f"{frame} {obj_id} {class_id} {mask.shape[0]} {mask.shape[1]} {rle['counts']}"
    return text if score is None else f"{text} {score}"


def write_frames(folder: Path, count: int, ext: str = "png", first: int = 0) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i + first:06d}.{ext}"), np.full((H, W, 3), 40 * i, np.uint8))


@pytest.fixture
def kitti(tmp_path) -> Path:
    """A KITTI-MOTS root with one sequence 0002 of 3 frames (numbered from 0)."""
    write_frames(tmp_path / "kitti" / "images" / "0002", 3)
    return tmp_path / "kitti"


@pytest.fixture
def mots20(tmp_path) -> Path:
    """A MOTS20 sequence folder MOTS20-02 with 3 frames (numbered from 1)."""
    folder = tmp_path / "mots" / "train" / "MOTS20-02"
    write_seqinfo(folder / "seqinfo.ini", SeqInfo(name="MOTS20-02", num_frames=3, fps=30.0, image_size=(H, W)))
    write_frames(folder / "img1", 3, ext="jpg", first=1)
    return folder


@pytest.fixture
def frames_folder(tmp_path) -> Path:
    write_frames(tmp_path / "clip", 3)
    return tmp_path / "clip"


@pytest.fixture
def video(tmp_path) -> Path:
    path = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (W, H))
    for i in range(3):
        writer.write(np.full((H, W, 3), 40 * i, np.uint8))
    writer.release()
    return path


def read(source: Path, dets: Path, frame_base: int | None = None):
    """Read the detections of the source's only sequence as ``dior infer`` does."""
    (seq,) = discover_sequences(source)
    found = locate(dets, seq.name, single_sequence=True)
    base = seq.frame_base if frame_base is None else frame_base
    return read_external_detections(found, sequence=seq.name, num_frames=len(seq.open_frames()), image_size=seq.image_size, frame_base=base)


def write_txt(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- MOTS txt
def test_mots_txt_rows_become_detections_with_boxes_from_masks(kitti, tmp_path):
    path = write_txt(tmp_path / "d", "0002", [line(0, 2, rect(2, 10, 3, 7), obj_id=2005), line(2, 1, rect(0, 4, 20, 32), obj_id=1001)])
    got = read(kitti, tmp_path / "d")
    d = got.detections
    assert got.source.kind == MOTS_TXT and got.source.path == path
    assert d.frame.tolist() == [0, 2] and d.class_id.tolist() == [2, 1]
    assert d.score.tolist() == [1.0, 1.0]  # no score column: every score is 1
    np.testing.assert_array_equal(d.bbox_xyxy, [[3, 2, 7, 10], [20, 0, 32, 4]])  # xyxy of the rectangles, by hand
    np.testing.assert_array_equal(decode(d.rles[0]), rect(2, 10, 3, 7))
    assert [e["origin"] for e in d.extras] == [{"set": 0, "line": 1}, {"set": 0, "line": 2}]
    assert got.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_score_column_is_used(kitti, tmp_path):
    write_txt(tmp_path / "d", "0002", [line(0, 2, rect(0, 5, 0, 5), 0.25), "", line(1, 2, rect(0, 5, 0, 5), 0.875)])
    assert read(kitti, tmp_path / "d").detections.score.tolist() == [0.25, 0.875]


@pytest.mark.parametrize(("layout", "file_frame", "expected"), [("kitti", 1, 1), ("mots20", 1, 0), ("mots20", 3, 2), ("frames_folder", 0, 0), ("video", 2, 2)])
def test_frame_numbers_follow_the_source_layout(layout, file_frame, expected, request, tmp_path):
    source = request.getfixturevalue(layout)
    name = discover_sequences(source)[0].name
    write_txt(tmp_path / "d", name, [line(file_frame, 2, rect(0, 5, 0, 5))])
    assert read(source, tmp_path / "d").detections.frame.tolist() == [expected]


def test_frame_base_overrides_the_layout(mots20, tmp_path):
    write_txt(tmp_path / "d", "MOTS20-02", [line(0, 2, rect(0, 5, 0, 5)), line(2, 2, rect(0, 5, 0, 5))])
    with pytest.raises(FormatError, match=r"before the first frame \(1\).*--frame-base") as info:
        read(mots20, tmp_path / "d")
    assert info.value.line == 1
    assert read(mots20, tmp_path / "d", frame_base=0).detections.frame.tolist() == [0, 2]


def test_ignore_rows_are_skipped_and_counted(kitti, tmp_path):
    write_txt(tmp_path / "d", "0002", [line(0, 10, rect(0, 5, 0, 5), obj_id=10000), line(0, 2, rect(6, 9, 6, 9))])
    got = read(kitti, tmp_path / "d")
    assert got.ignore_skipped == 1 and got.detections.class_id.tolist() == [2]
    assert got.detections.extras[0]["origin"]["line"] == 2


@pytest.mark.parametrize(("text", "kind", "message", "line_no"), [
    (["{ok}", "3 2001 2 24 32 {counts}"], AlignmentError, "frame 3 is past the source's last frame 2", 2),
    (["0 2001 2 24 30 {counts30}"], AlignmentError, "mask size 24x30 differs from the source's frames, 24x32", 1),
    (["{ok}", "0 3001 3 24 32 {counts}"], FormatError, "unknown class 3", 2),
    (["0 2001 2 24 32 {counts}", "1 2001 2 24 32 PPP"], FormatError, "RLE counts", 2),
    (["0 2001 2 24 32 {counts} 1.5"], FormatError, r"score 1.5 is outside \[0, 1\]", 1),
    (["0 2001 2 24 32 {counts} 0.5", "1 2001 2 24 32 {counts}"], FormatError, "line 1 has a score column", 2),
    (["0 2001 2 24 32"], FormatError, "expected 6 or 7", 1),
])
def test_bad_mots_txt_names_the_file_and_line(kitti, tmp_path, text, kind, message, line_no):
    counts = encode(rect(0, 5, 0, 5))["counts"]
    counts30 = encode(rect(0, 5, 0, 5, size=(H, 30)))["counts"]
    ok = line(0, 2, rect(0, 5, 0, 5))
    path = write_txt(tmp_path / "d", "0002", [t.format(counts=counts, counts30=counts30, ok=ok) for t in text])
    with pytest.raises(kind, match=message) as info:
        read(kitti, tmp_path / "d")
    assert info.value.path == str(path) and info.value.line == line_no


# --------------------------------------------------------------------------- PNG folders
def write_png(folder: Path, number: int, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(folder / f"{number:06d}.png"), labels.astype(np.uint16))


def test_png_folder_rows_with_the_layout_frame_base(kitti, mots20, tmp_path):
    labels = np.zeros((H, W), np.uint16)
    labels[1:4, 2:6] = 2001
    labels[10:12, 10:20] = 1003
    labels[20:24, 0:4] = 10000  # an ignore region: skipped, counted
    write_png(tmp_path / "k" / "0002", 1, labels)
    got = read(kitti, tmp_path / "k")
    assert got.source.kind == KITTI_PNG and got.ignore_skipped == 1
    d = got.detections
    assert d.frame.tolist() == [1, 1] and d.class_id.tolist() == [1, 2] and d.score.tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(d.bbox_xyxy, [[10, 10, 20, 12], [2, 1, 6, 4]])
    assert d.extras[1]["origin"] == {"set": 0, "png": "000001.png", "value": 2001}
    write_png(tmp_path / "m" / "MOTS20-02", 1, labels)  # MOTS20 PNGs count from 1
    assert read(mots20, tmp_path / "m").detections.frame.tolist() == [0, 0]


def test_png_errors_name_the_png(kitti, tmp_path):
    write_png(tmp_path / "k" / "0002", 3, np.zeros((H, W)))
    with pytest.raises(AlignmentError, match="frame 3 is past the source's last frame 2") as info:
        read(kitti, tmp_path / "k")
    assert info.value.path.endswith("000003.png")
    write_png(tmp_path / "s" / "0002", 0, np.zeros((H, W + 1)))
    with pytest.raises(AlignmentError, match="differs from 24x32") as info:
        read(kitti, tmp_path / "s")
    assert info.value.path.endswith("000000.png")
    bad = np.zeros((H, W))
    bad[0, 0] = 3001
    write_png(tmp_path / "c" / "0002", 0, bad)
    with pytest.raises(FormatError, match="pixel value 3001"):
        read(kitti, tmp_path / "c")


# --------------------------------------------------------------------------- dior JSON
def json_file(path: Path, sequence: str, frames: list[int], scores: list[float], image_size=(H, W), num_frames: int = 3) -> Path:
    masks = [rect(0, 5, 0, 5, image_size), rect(5, 9, 5, 9, image_size)][: len(frames)]
    dets = Detections(frame=frames, class_id=[2] * len(frames), score=scores, bbox_xyxy=np.zeros((len(frames), 4)),
                      rles=[encode(m) for m in masks])
    write_detections(path, DetectionsFile(sequence=sequence, image_size=image_size, num_frames=num_frames, fps=None, frame_base=0, detections=dets))
    return path


def test_dior_json_is_0_based_whatever_the_layout(mots20, tmp_path):
    (tmp_path / "j").mkdir()
    path = json_file(tmp_path / "j" / "MOTS20-02.json", "MOTS20-02", [0, 2], [0.3, 0.9])
    got = read(mots20, tmp_path / "j", frame_base=5)  # --frame-base does not apply to JSON
    assert got.source.kind == DIOR_JSON and got.frame_base is None
    d = got.detections
    assert d.frame.tolist() == [0, 2] and d.score.tolist() == [0.3, 0.9]
    np.testing.assert_array_equal(d.bbox_xyxy, [[0, 0, 5, 5], [5, 5, 9, 9]])  # from the masks, not the file's zeros
    assert got.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_dior_json_errors(kitti, tmp_path):
    (tmp_path / "a").mkdir()
    json_file(tmp_path / "a" / "0002.json", "0007", [0], [0.5])
    with pytest.raises(AlignmentError, match="holds sequence '0007'"):
        read(kitti, tmp_path / "a")
    (tmp_path / "b").mkdir()
    json_file(tmp_path / "b" / "0002.json", "0002", [0], [0.5], image_size=(H, W + 2))
    with pytest.raises(AlignmentError, match="image_size 24x34 differs"):
        read(kitti, tmp_path / "b")
    (tmp_path / "c").mkdir()
    json_file(tmp_path / "c" / "0002.json", "0002", [0, 5], [0.5, 0.5], num_frames=9)
    with pytest.raises(AlignmentError, match="frame 5 .* past the source's last frame 2") as info:
        read(kitti, tmp_path / "c")
    assert info.value.row == 1


# --------------------------------------------------------------------------- locating files
def test_locate_finds_each_kind_and_refuses_ambiguity(tmp_path):
    d = tmp_path / "d"
    (d / "0003").mkdir(parents=True)
    (d / "0001.txt").write_text("")
    (d / "0002.json").write_text("{}")
    assert locate(d, "0001", single_sequence=False).kind == MOTS_TXT
    assert locate(d, "0002", single_sequence=False).kind == DIOR_JSON
    assert locate(d, "0003", single_sequence=False).kind == KITTI_PNG
    with pytest.raises(InputNotFound, match="no detections for sequence 0004") as info:
        locate(d, "0004", single_sequence=False)
    assert info.value.sequence == "0004"
    (d / "0001.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"several detection files for sequence 0001 \(0001.txt, 0001.json\)"):
        locate(d, "0001", single_sequence=False)


def test_a_single_file_or_png_folder_serves_a_one_sequence_source(tmp_path):
    single = tmp_path / "anything.txt"
    single.write_text("")
    assert locate(single, "0002", single_sequence=True).path == single
    with pytest.raises(ConfigError, match="the source has several sequences"):
        locate(single, "0002", single_sequence=False)
    write_png(tmp_path / "pngs", 0, np.zeros((H, W)))
    assert locate(tmp_path / "pngs", "0002", single_sequence=True).kind == KITTI_PNG
    with pytest.raises(InputNotFound, match="detections path does not exist"):
        locate(tmp_path / "missing", "0002", single_sequence=True)


def test_an_empty_file_is_a_sequence_without_detections(kitti, tmp_path):
    write_txt(tmp_path / "d", "0002", [])
    got = read(kitti, tmp_path / "d")
    assert len(got.detections) == 0 and got.detections.bbox_xyxy.shape == (0, 4)


# --------------------------------------------------------------------------- through the CLI
def test_cli_missing_detections_for_a_sequence_exits_1(tmp_path):
    root = tmp_path / "kitti"
    write_frames(root / "images" / "0001", 2)
    write_frames(root / "images" / "0002", 2)
    write_txt(tmp_path / "d", "0001", [line(0, 2, rect(0, 5, 0, 5))])
    result = runner.invoke(app, ["infer", str(root), "--detections", str(tmp_path / "d"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "no detections for sequence 0002" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # refused before any sequence was written


def test_cli_frame_out_of_range_exits_1(kitti, tmp_path):
    write_txt(tmp_path / "d", "0002", [line(0, 2, rect(0, 5, 0, 5)), line(7, 2, rect(0, 5, 0, 5))])
    result = runner.invoke(app, ["infer", str(kitti), "--detections", str(tmp_path / "d"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "0002.txt, line 2" in result.output and "frame 7 is past" in result.output
    assert not (tmp_path / "out" / "0002.json").exists()


def test_cli_bad_class_exits_1(kitti, tmp_path):
    write_txt(tmp_path / "d", "0002", [line(0, 4, rect(0, 5, 0, 5))])
    result = runner.invoke(app, ["infer", str(kitti), "--detections", str(tmp_path / "d"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "unknown class 4" in result.output and "line 1" in result.output
