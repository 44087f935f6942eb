"""`dior inspect` understands every folder some command reads, and says which commands read it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.data.sequences import frame_files
from dior_cli.formats.frames import list_images
from dior_cli.formats.layouts import discover_sequences
from dior_cli.masks import encode
from dior_cli.track.stage import TrackOptions, run as track
from tests.conftest import DATA, KITTI_TXT, MOT17_MINI, VTEST, require
from tests.track.test_scenarios import box, write_sequence

runner = CliRunner()
POINTTRACK = DATA / "pointtrack_kitti_mots_test"
MOT_BOXES = DATA / "mot_box_gt"


def inspect(path: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["inspect", str(path), *extra, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def commands(doc: dict) -> list[str]:
    """The command names of ``read_by`` with their first option, e.g. ``track`` or ``evaluate --gt``."""
    return [" ".join(line.split(":")[0].split()[1:]) for line in doc["read_by"]]


def test_instances_txt_folder_is_a_mots_txt_folder():
    doc = inspect(require(KITTI_TXT))
    assert doc["kind"] == "mots_txt_folder" and doc["frame_base"] == 0
    files = {Path(f["path"]).name: f for f in doc["files"]}
    assert sorted(files) == sorted(p.name for p in KITTI_TXT.glob("*.txt"))
    lines = [line.split() for line in (KITTI_TXT / "0012.txt").read_text().splitlines()]
    assert files["0012.txt"]["rows"] == len(lines) and files["0012.txt"]["ignore_rows"] == sum(f[2] == "10" for f in lines)
    assert any(c.startswith(f"track {KITTI_TXT} --fps") for c in commands(doc))
    assert f"evaluate --gt {KITTI_TXT} or --pred {KITTI_TXT}" in commands(doc)


def test_pointtrack_folder_with_empty_files():
    folder = require(POINTTRACK / "person")
    doc = inspect(folder)
    assert doc["kind"] == "mots_txt_folder" and len(doc["files"]) == len(list(folder.glob("*.txt")))
    empty = [Path(f["path"]).name for f in doc["files"] if f["rows"] == 0]
    assert empty == sorted(p.name for p in folder.glob("*.txt") if p.stat().st_size == 0)
    assert any(line.startswith(f"dior track {folder} --fps F") for line in doc["read_by"])


def test_mots_txt_with_a_score_column(tmp_path):
    mask = encode(np.ones((4, 6), bool))
    path = tmp_path / "seq.txt"
    path.write_text(f"0 1001 1 4 6 {mask['counts']} 0.9\n2 1002 2 4 6 {mask['counts']} 0.4\n1 10000 10 4 6 {mask['counts']} 1\n")
    doc = inspect(path)
    assert (doc["scores"], doc["rows"], doc["ignore_rows"], doc["per_class"], doc["last_frame"]) == (True, 3, 1, {"car": 1, "pedestrian": 1}, 2)


def test_folder_holding_one_video(tmp_path):
    video = require(VTEST)
    (tmp_path / video.name).symlink_to(video)
    doc = inspect(tmp_path)
    (seq,) = doc["sequences"]
    assert (seq["name"], seq["layout"], seq["num_frames"]) == ("vtest", "video", 795)
    assert f"infer {tmp_path}" in commands(doc) and f"render TRACKS --frames {tmp_path}" in commands(doc)
    assert not any(c.startswith("train") or c.startswith("evaluate") for c in commands(doc))  # no ground truth


@pytest.mark.parametrize(("name", "image_dir", "det", "frames", "gt_boxes"), [
    ("TUD-Campus", "img1", "det/det.txt", 71, 359), ("PETS09-S3MF1", "img", "img/det.txt", 107, 620),
])
def test_mot_box_sequences(name, image_dir, det, frames, gt_boxes):
    folder = require(MOT_BOXES / name)
    doc = inspect(folder)
    (seq,) = doc["sequences"]
    assert seq["layout"] == "mot" and seq["frame_base"] == 1 and seq["fps"] is None
    assert seq["num_frames"] == frames == len(list_images(folder / image_dir))
    assert seq["ground_truth"] == "gt/gt.txt" and seq["ground_truth_kind"] == "boxes" and seq["detections"] == det
    det_lines = [line for line in (folder / det).read_text().splitlines() if line.strip()]
    assert seq["boxes"] == {"gt": gt_boxes, "det": len(det_lines)}  # gt counts from the data's README
    assert f"evaluate --gt {folder} --pred TRACKS" in commands(doc)
    assert f"infer {folder} --detections {folder / det}" in commands(doc)
    assert not any(c.startswith("train") for c in commands(doc))  # boxes: nothing to train masks on


def test_folder_of_mot_box_sequences():
    doc = inspect(require(MOT_BOXES))
    assert [(s["name"], s["layout"]) for s in doc["sequences"]] == [("PETS09-S3MF1", "mot"), ("TUD-Campus", "mot")]


def test_mot17_mini_frame_counts_agree_everywhere():
    """inspect, infer (discover_sequences) and train's frame check agree: the images present decide."""
    root = require(MOT17_MINI / "train")
    result = runner.invoke(app, ["inspect", str(root), "--json"])
    assert result.exit_code == 0, result.output
    by_name = {s["name"]: s for s in json.loads(result.stdout)["sequences"]}
    for seq in discover_sequences(root):
        images = len(list((root / seq.name / "img1").glob("*.jpg")))
        assert by_name[seq.name]["num_frames"] == seq.num_frames == images == len(frame_files(seq))
        assert by_name[seq.name]["length_source"] == "images" and by_name[seq.name]["ground_truth_kind"] == "boxes"
    output = " ".join(result.output.split())
    assert "MOT17-05-FRCNN/img1 holds 6 images but seqinfo.ini says seqLength=837" in output


def test_detections_and_tracks_folders(tmp_path):
    dets = tmp_path / "dets"
    dets.mkdir()
    write_sequence(dets, "s", [(t, 1, 1, box(10 + t)) for t in range(4)], 4)
    track(TrackOptions(dets=dets, out=tmp_path / "tracks"))
    doc = inspect(dets)
    assert doc["kind"] == "detections_folder" and [f["detections"] for f in doc["files"]] == [4]
    assert f"track {dets}" in commands(doc) and f"reid TRACKS --dets {dets}" in commands(doc)
    doc = inspect(tmp_path / "tracks")
    assert doc["kind"] == "tracks_folder" and [(f["lines"], f["tracks"], f["made_by"]) for f in doc["files"]] == [(4, 1, "track")]
    assert f"reid {tmp_path / 'tracks'} --dets DETS" in commands(doc)
    link = inspect(tmp_path / "tracks" / "s.json")
    assert link["kind"] == "tracks" and link["from_detections"] == "s.json"


def test_table_is_not_cut_when_output_is_not_a_terminal(tmp_path):
    long = tmp_path / ("a_sequence_folder_with_a_long_name_" * 3)
    long.mkdir()
    (long / "0000.txt").write_text(f"0 1001 1 4 6 {encode(np.ones((4, 6), bool))['counts']}\n")
    result = runner.invoke(app, ["inspect", str(long)], env={"COLUMNS": ""})
    assert result.exit_code == 0, result.output
    assert str(long) in result.output  # the title and the read-by lines, whole
    assert max(len(line) for line in result.output.splitlines()) > 80
    assert "…" not in result.output
