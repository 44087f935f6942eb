"""`dior track` on a folder of MOTS txt: masks from another tracker or segmenter, no frames needed.

Scenarios on 30x60 frames, expected ids by hand: the tracker gives its own ids
(class_id * 1000 + k, k from 1 in order of appearance), whatever ids the file had.
At --fps 10, N1 = 0.2 s = 2 frames.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.masks import encode
from tests.conftest import DATA, KITTI_TXT, require
from tests.track.test_scenarios import H, W, box

runner = CliRunner()
POINTTRACK_PERSON = DATA / "pointtrack_kitti_mots_test" / "person"


def mots_line(frame: int, obj_id: int, class_id: int, mask: np.ndarray, score: float | None = None) -> str:
    rle = encode(mask)
    return f"{frame} {obj_id} {class_id} {H} {W} {rle['counts']}" + ("" if score is None else f" {score}") + "\n"


def track_json(*args: str) -> dict:
    result = runner.invoke(app, ["track", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def masks(tmp_path) -> Path:
    """Frames 1-4 (a MOTS20-style file): a car moving right under id 1007, a pedestrian standing
    under id 2003, and an ignore region in frame 2."""
    folder = tmp_path / "seg"
    folder.mkdir()
    lines = [mots_line(t, 1007, 1, box(10 + 2 * t)) for t in range(1, 5)] + [mots_line(t, 2003, 2, box(40)) for t in range(1, 5)]
    lines.append(mots_line(2, 10000, 10, box(25, w=3)))
    (folder / "a.txt").write_text("".join(lines))
    return folder


def test_ids_are_the_trackers_and_frames_keep_their_numbers(masks, tmp_path):
    summary = track_json(str(masks), "--fps", "10", "--frame-base", "1", "--out", str(tmp_path / "tracks"))
    s = summary["sequences"]["a"]
    assert summary["input"] == "mots-txt"
    assert (s["tracks"], s["tracked_detections"], s["detections"], s["ignore_rows_skipped"], s["appearance"]) == (2, 8, 8, 1, False)
    text = (tmp_path / "tracks" / "a.txt").read_text().splitlines()
    assert sorted({(int(line.split()[0]), line.split()[1]) for line in text}) == [(t, i) for t in range(1, 5) for i in ("1001", "2001")]
    rows = read_mots_txt(tmp_path / "tracks" / "a.txt", 1)
    links = read_track_links(tmp_path / "tracks" / "a.json", len(rows))
    assert links.frame_base == 1 and links.detections_file == "a.txt" and links.fps == 10.0
    assert links.producer["input_format"] == "mots-txt"


def test_a_score_column_gates_new_tracks(tmp_path):
    folder = tmp_path / "seg"
    folder.mkdir()
    lines = [mots_line(t, 1, 1, box(10), 0.9) for t in range(3)] + [mots_line(t, 2, 1, box(40), 0.3) for t in range(3)]
    (folder / "b.txt").write_text("".join(lines))
    s = track_json(str(folder), "--fps", "10", "--out", str(tmp_path / "tracks"))["sequences"]["b"]
    assert (s["tracks"], s["tracked_detections"]) == (1, 3)  # 0.3 < new_track_score 0.5: the second never starts


def test_default_out_keeps_sets_of_one_dataset_apart(masks):
    summary = track_json(str(masks), "--fps", "10", "--frame-base", "1")
    assert Path(summary["out"]) == masks.parent / "tracks" / "seg" and (masks.parent / "tracks" / "seg" / "a.txt").is_file()


def test_fps_is_required(masks):
    result = runner.invoke(app, ["track", str(masks), "--frame-base", "1"])
    assert result.exit_code == 1 and "gives no frame rate: pass --fps" in " ".join(result.output.split())


def test_offline_reid_needs_embeddings(masks):
    result = runner.invoke(app, ["track", str(masks), "--fps", "10", "--frame-base", "1", "--offline-reid"])
    assert result.exit_code == 1 and "--offline-reid compares appearance" in " ".join(result.output.split())


def test_a_frame_before_the_base_names_the_line(masks):
    result = runner.invoke(app, ["track", str(masks), "--fps", "10", "--frame-base", "2"])
    assert result.exit_code == 1 and "a.txt, line 1: frame 1 is before the first frame (2)" in " ".join(result.output.split())


def test_real_ground_truth_masks_are_all_kept(tmp_path):
    """Tracking KITTI-MOTS 0012's own masks (ids stripped, score 1): every object mask becomes a track
    line with its mask unchanged (ground truth is disjoint, so nothing moves), as TrackEval counts it."""
    source = tmp_path / "gt"
    source.mkdir()
    shutil.copy(require(KITTI_TXT / "0012.txt"), source / "0012.txt")
    s = track_json(str(source), "--fps", "10", "--out", str(tmp_path / "tracks"))["sequences"]["0012"]
    gt = read_mots_txt(source / "0012.txt", 0)
    objects = gt[gt.class_id != 10]
    assert s["ignore_rows_skipped"] == len(gt) - len(objects) and s["tracked_detections"] == len(objects)
    tracks = read_mots_txt(tmp_path / "tracks" / "0012.txt", 0)
    assert sorted(zip(tracks.frame.tolist(), [r["counts"] for r in tracks.rles])) == sorted(zip(objects.frame.tolist(), [r["counts"] for r in objects.rles]))
    result = runner.invoke(app, ["evaluate", "--gt", str(source), "--pred", str(tmp_path / "tracks"), "--json", "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    combined = json.loads(result.stdout)["combined"]
    for cls in ("car", "pedestrian"):
        n = int((objects.class_id == {"car": 1, "pedestrian": 2}[cls]).sum())
        assert (combined[cls]["CLR_TP"], combined[cls]["CLR_FN"], combined[cls]["CLR_FP"]) == (n, 0, 0)


def test_real_pointtrack_segmentations(tmp_path):
    """PointTrack's person masks of two test sequences, one of them an empty file."""
    source = tmp_path / "person"
    source.mkdir()
    for name in ("0001.txt", "0007.txt"):
        shutil.copy(require(POINTTRACK_PERSON / name), source / name)
    summary = track_json(str(source), "--fps", "10", "--out", str(tmp_path / "tracks"))["sequences"]
    assert summary["0001"]["detections"] == 0 and (tmp_path / "tracks" / "0001.txt").read_text() == ""
    given = read_mots_txt(source / "0007.txt", 0)
    tracks = read_mots_txt(tmp_path / "tracks" / "0007.txt", 0)
    assert summary["0007"]["detections"] == len(given) and len(tracks) == summary["0007"]["tracked_detections"] <= len(given)
    assert set(tracks.frame.tolist()) <= set(given.frame.tolist()) and set(tracks.class_id.tolist()) == {2}
    assert all(2001 <= i < 3000 for i in tracks.obj_id.tolist())
