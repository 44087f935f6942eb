"""Video sources: accepted by container name and a first frame that decodes; a text file is not a video."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.errors import FormatError
from dior_cli.formats.frames import VIDEO_EXTENSIONS, is_video_file, probe_video
from dior_cli.formats.layouts import discover_sequences
from tests.conftest import VTEST, require

runner = CliRunner()


def write_video(path, frames: int = 5, size: tuple[int, int] = (24, 32), fps: float = 12.0) -> None:
    """An MJPG .avi whose frame i is grey level 40 * i (every OpenCV build writes MJPG)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size[1], size[0]))
    assert writer.isOpened(), "this OpenCV cannot write MJPG"
    for i in range(frames):
        writer.write(np.full((*size, 3), 40 * i, np.uint8))
    writer.release()


@pytest.fixture
def text_file(tmp_path):
    """What FFmpeg's tty demuxer would turn into 640x400 frames at 25 fps."""
    path = tmp_path / "tracks.txt"
    path.write_text("0 1001 1 375 1242 abcdefgh\n" * 400)
    return path


def test_text_file_is_not_a_video(text_file):
    with pytest.raises(FormatError, match=r"is not a video file: \.txt files hold annotations") as info:
        discover_sequences(text_file)
    assert info.value.path == str(text_file)


def test_a_command_given_a_text_file_as_frames_exits_1_naming_it(text_file, tmp_path):
    (tmp_path / "tracks").mkdir()
    (tmp_path / "tracks" / "tracks.txt").write_text("")
    result = runner.invoke(app, ["render", str(tmp_path / "tracks"), "--frames", str(text_file), "--out", str(tmp_path / "v.mp4")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{text_file}: is not a video file" in " ".join(result.output.split())
    assert not (tmp_path / "v.mp4").exists()


@pytest.mark.parametrize(("name", "expected"), [("clip.MP4", True), ("clip.avi", True), ("clip.mkv", True), ("notes.txt", False),
                                                ("frame.png", False), ("clip", False), ("dets.json", False)])
def test_video_is_decided_by_the_container_name(tmp_path, name, expected):
    assert is_video_file(tmp_path / name) is expected


def test_extensions_are_lower_case_and_unique():
    assert all(e == e.lower() and e.startswith(".") for e in VIDEO_EXTENSIONS)
    assert len(set(VIDEO_EXTENSIONS)) == len(VIDEO_EXTENSIONS)


def test_an_image_given_as_a_video_points_to_its_folder(tmp_path):
    path = tmp_path / "000001.png"
    cv2.imwrite(str(path), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(FormatError, match="is an image: give the folder"):
        discover_sequences(path)


def test_video_container_without_frames_is_refused(tmp_path):
    path = tmp_path / "broken.avi"
    write_video(tmp_path / "good.avi")
    path.write_bytes((tmp_path / "good.avi").read_bytes()[:300])  # the header, no decodable frame
    with pytest.raises(FormatError, match="not a video"):
        probe_video(path)


def test_small_video_probe_and_stream(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, frames=5, size=(24, 32), fps=12.0)
    num_frames, size, fps = probe_video(path)
    assert (num_frames, size, fps) == (5, (24, 32), 12.0)
    (seq,) = discover_sequences(path)
    levels = [int(np.median(image)) for _, image in seq.open_frames()]
    assert [abs(level - 40 * i) <= 3 for i, level in enumerate(levels)] == [True] * 5  # MJPG is lossy


def test_folder_of_videos_is_one_sequence_per_video(tmp_path):
    write_video(tmp_path / "b.avi", frames=3)
    write_video(tmp_path / "a.avi", frames=4)
    (tmp_path / "readme.txt").write_text("two clips")
    seqs = discover_sequences(tmp_path)
    assert [(s.name, s.layout, s.num_frames) for s in seqs] == [("a", "video", 4), ("b", "video", 3)]


def test_folder_holding_the_real_video(tmp_path):
    video = require(VTEST)
    (tmp_path / video.name).symlink_to(video)
    (seq,) = discover_sequences(tmp_path)
    assert (seq.name, seq.layout, seq.num_frames, seq.image_size, seq.fps) == ("vtest", "video", 795, (576, 768), 10.0)
