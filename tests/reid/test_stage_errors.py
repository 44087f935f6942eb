"""`dior reid` refuses mismatched inputs with a message naming the file, and works from the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.errors import AlignmentError, InputNotFound
from dior_cli.reid.stage import ReidOptions, run
from dior_cli.track.stage import TrackOptions, run as track
from tests.track.test_scenarios import box, write_sequence


@pytest.fixture
def tracked(tmp_path):
    """Two cars, one of them occluded in frames 4-7: longer than N1 (two tracklets online), a
    gap of 5 frames, within theta_t = 0.5 s and N2 = 1 s at 10 fps."""
    (tmp_path / "dets").mkdir()
    script = [(t, 1, 1, box(10)) for t in range(14) if not 4 <= t <= 7] + [(t, 2, 1, box(40)) for t in range(14)]
    write_sequence(tmp_path / "dets", "s", script, 14)
    track(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "tracks"))
    return tmp_path


@pytest.mark.parametrize("method", ["remots", "dior"])
def test_cli_refines_and_rejoins(tracked, method):
    result = CliRunner().invoke(app, ["reid", str(tracked / "tracks"), "--dets", str(tracked / "dets"), "--method", method, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["sequences"]["s"]
    assert summary["tracks_in"] == 3 and summary["tracks_out"] == 2  # the occluded car's two tracklets are one again
    ids = [line.split()[1] for line in (tracked / "refined" / "s.txt").read_text().splitlines()]
    assert sorted(set(ids)) == ["1001", "1002"]


def test_missing_link_file(tracked):
    (tracked / "tracks" / "s.json").unlink()
    with pytest.raises(InputNotFound, match="link file s.json"):
        run(ReidOptions(tracks=tracked / "tracks", dets=tracked / "dets"))


def test_stale_detections(tracked):
    doc = json.loads((tracked / "dets" / "s.json").read_text())
    doc["producer"] = {"note": "re-inferred"}
    (tracked / "dets" / "s.json").write_text(json.dumps(doc))
    with pytest.raises(AlignmentError, match="another version of s.json"):
        run(ReidOptions(tracks=tracked / "tracks", dets=tracked / "dets"))


def test_missing_embeddings(tracked):
    (tracked / "dets" / "s.npy").unlink()
    result = CliRunner().invoke(app, ["reid", str(tracked / "tracks"), "--dets", str(tracked / "dets")])
    assert result.exit_code == 1 and "needs embeddings" in result.output


def test_bad_method_and_missing_folder(tracked):
    runner = CliRunner()
    result = runner.invoke(app, ["reid", str(tracked / "tracks"), "--dets", str(tracked / "dets"), "--method", "magic"])
    assert result.exit_code == 1 and "reid.method must be one of remots, dior" in result.output
    result = runner.invoke(app, ["reid", str(tracked / "nothing"), "--dets", str(tracked / "dets")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_tampered_line_is_refused(tracked):
    links = json.loads((tracked / "tracks" / "s.json").read_text())
    links["lines"][0] = 10_000
    (tracked / "tracks" / "s.json").write_text(json.dumps(links))
    with pytest.raises(AlignmentError, match="line 1 names det_id 10000"):
        run(ReidOptions(tracks=tracked / "tracks", dets=tracked / "dets"))
    links["lines"][0] = links["lines"][-1]  # a real detection, but of the last frame
    (tracked / "tracks" / "s.json").write_text(json.dumps(links))
    with pytest.raises(AlignmentError, match="does not match the frame and class"):
        run(ReidOptions(tracks=tracked / "tracks", dets=tracked / "dets"))
