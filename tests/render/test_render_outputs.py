"""What `dior render` leaves behind: a video with the usual file mode, and a --json summary with its schema."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.masks import encode
from dior_cli.records import MotsRows


@pytest.fixture
def scene(tmp_path):
    """Three 16x24 grey frames and one car track."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:06d}.png"), np.full((16, 24, 3), 90, np.uint8))
    mask = np.zeros((16, 24), bool)
    mask[4:10, 5:12] = True
    rows = MotsRows(frame=[0, 1, 2], obj_id=[1001] * 3, class_id=[1] * 3, rles=[encode(mask)] * 3)
    write_mots_txt(tmp_path / "tracks" / "frames.txt", rows, 0)
    return tmp_path


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_video_gets_the_mode_of_any_new_file(scene, umask_022):
    result = CliRunner().invoke(app, ["render", str(scene / "tracks"), "--frames", str(scene / "frames"), "--out", str(scene / "v.mp4"), "--json"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["out"]
    assert os.stat(written).st_mode & 0o777 == 0o644  # 0666 less the umask 022, as open() gives


def test_json_summary_has_a_schema(scene):
    result = CliRunner().invoke(app, ["render", str(scene / "tracks"), "--frames", str(scene / "frames"), "--out-dir", str(scene / "png"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "dior.render-summary/v1" and doc["frames"] == 3 and doc["sequence"] == "frames"
