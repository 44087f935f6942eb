"""The dior command line: start-up, version, inspect, and exit code 1 for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli import __version__
from dior_cli.cli import app
from dior_cli.masks import encode
from tests.conftest import KITTI_TXT, VTEST, require

runner = CliRunner()


def test_help_does_not_import_torch():
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from typer.testing import CliRunner\n"
        "from dior_cli.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(int('torch' in sys.modules), int('cv2' in sys.modules), time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "0", "dior --help imported torch"
    assert out[1] == "0", "dior --help imported OpenCV"
    assert float(out[2]) < 5.0  # a generous bound: torch alone takes several seconds to import


def test_console_script_help_and_version():
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "dior_cli", "-h"], capture_output=True, text=True)
    assert result.returncode == 0 and "inspect" in result.stdout
    version = subprocess.run([sys.executable, "-m", "dior_cli", "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"dior {__version__}"
    assert time.perf_counter() - start < 20


def test_inspect_real_kitti_folder_json():
    root = require(KITTI_TXT.parent)
    result = runner.invoke(app, ["inspect", str(root), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    names = [s["name"] for s in doc["sequences"]]
    assert names == sorted(p.stem for p in KITTI_TXT.glob("*.txt"))
    assert doc["sequences"][0]["num_frames"] == 154 and doc["sequences"][0]["length_source"] == "annotations"


def test_inspect_video():
    result = runner.invoke(app, ["inspect", str(require(VTEST)), "--json"])
    assert result.exit_code == 0
    (seq,) = json.loads(result.stdout)["sequences"]
    assert (seq["num_frames"], seq["fps"], seq["image_size"]) == (795, 10.0, [576, 768])


def test_inspect_mots_txt_counts_ids():
    result = runner.invoke(app, ["inspect", str(require(KITTI_TXT / "0012.txt")), "--json"])
    doc = json.loads(result.stdout)
    lines = [l.split() for l in (KITTI_TXT / "0012.txt").read_text().splitlines()]
    assert doc["rows"] == len(lines)
    assert doc["ignore_rows"] == sum(l[2] == "10" for l in lines)
    assert doc["ids_per_class"]["pedestrian"] == len({l[1] for l in lines if l[2] == "2"})


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: None, "path does not exist"),
        (lambda p: p.write_text("0 1001 1 4 4\n"), "line 1: expected 6"),
        (lambda p: p.write_text(f"0 1001 1 4 4 {encode(np.ones((4, 4)))['counts']}\n0 1001 1 4 4 {encode(np.ones((4, 4)))['counts']}\n"), "line 2: object id 1001 appears twice"),
    ],
)
def test_user_mistakes_exit_1_without_traceback(tmp_path, make, fragment):
    path = tmp_path / "seq.txt"
    make(path)
    result = subprocess.run([sys.executable, "-m", "dior_cli", "inspect", str(path)], capture_output=True, text=True)
    assert result.returncode == 1
    assert fragment in result.stderr and str(path) in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr + result.stdout


def test_not_a_video_exits_1(tmp_path):
    path = tmp_path / "movie.avi"
    path.write_bytes(b"RIFF garbage")
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 1 and "not a video" in result.output


def test_config_command_prints_defaults_and_checks_files(tmp_path):
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0 and "n1_seconds: 0.2" in result.stdout
    result = runner.invoke(app, ["config", "--set", "track.n1_seconds=0.5"])
    assert result.exit_code == 0 and "n1_seconds: 0.5" in result.stdout
    bad = tmp_path / "c.yaml"
    bad.write_text("track:\n  nope: 1\n")
    result = runner.invoke(app, ["config", "--config", str(bad)])
    assert result.exit_code == 1 and "unknown key track.nope" in result.output
