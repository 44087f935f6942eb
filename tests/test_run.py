"""``dior run`` on a real video: a cut of vtest.avi in, real tracks of the people and a watchable video out."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli import weights as weights_module
from dior_cli.cli import app
from dior_cli.formats.detections_json import read_detections
from dior_cli.formats.embeddings import read_embeddings
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.masks import has_overlap
from tests.conftest import REPO, cut_video, require

runner = CliRunner()
FRAMES = 12
SHARED_WEIGHTS = REPO.parent / "shared" / "weights"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The first 12 frames of vtest.avi (768x576, 10 fps, people walking) as an MJPG .avi."""
    return cut_video(FRAMES, tmp_path_factory.mktemp("video") / "vtest12.avi")


@pytest.fixture(scope="module")
def run_folder(clip, tmp_path_factory):
    for name in ("yolox_nano.onnx", "osnet_x0_25_msmt17.onnx", "selfie_segmentation.tflite"):
        require(SHARED_WEIGHTS / name)
    out = tmp_path_factory.mktemp("run") / "RUN"
    result = runner.invoke(app, ["run", str(clip), "--out", str(out), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout), result.stderr


def _centre_step(a, b) -> float:
    """Distance between the centres of boxes ``a`` and ``b`` (xyxy), over their mean height."""
    step = np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
    return float(step / ((a[3] - a[1] + b[3] - b[1]) / 2))


def test_run_writes_each_stage_file_and_a_summary(run_folder):
    out, summary, stderr = run_folder
    seq = summary["sequences"]["vtest12"]
    assert seq["frames"] == FRAMES and seq["detections"] > 0 and seq["tracks"] > 0
    assert seq["detections_per_frame"] == pytest.approx(seq["detections"] / FRAMES, abs=0.01)
    assert set(summary["seconds"]) == {"infer", "track", "render"}
    assert set(seq["infer_stage_seconds"]) == {"detector", "masks", "embeddings"}
    assert seq["video"] == str(out / "render" / "vtest12.mp4")
    assert "ran 1 sequence(s)" in stderr and "vtest12: " in stderr
    dets = read_detections(out / "dets" / "vtest12.json")
    assert dets.producer["detector"] == "yolox_nano" and dets.producer["encoder"] == "osnet"
    assert (dets.fps, dets.num_frames, dets.image_size) == (10.0, FRAMES, (576, 768))
    d = dets.detections
    assert set(np.unique(d.class_id).tolist()) <= {1, 2} and (d.class_id == 2).sum() >= 3 * FRAMES  # vtest shows many people
    assert {e["mask_source"] for e in d.extras} <= {"selfie", "grabcut", "ellipse", "box"}
    emb = read_embeddings(out / "dets" / "vtest12.npy", dets, out / "dets" / "vtest12.json")
    assert emb.vectors.shape == (len(d), 512) and emb.verified_by == "sha256"


def test_people_keep_one_track_through_the_clip(run_folder):
    """Several pedestrian tracks span (nearly) the whole clip, and a track's detector boxes (found through the link
    file) move smoothly: from one frame to the next (0.1 s) the centre moves less than half the box's height, which a
    walking person does (about 0.25 here) and a jump to another person in this video would not."""
    out, _, _ = run_folder
    rows = read_mots_txt(out / "tracks" / "vtest12.txt", frame_base=0)
    for frame in range(FRAMES):
        assert not has_overlap([rows.rles[i] for i in np.flatnonzero(rows.frame == frame)])  # TrackEval rejects overlaps
    links = read_track_links(out / "tracks" / "vtest12.json", num_lines=len(rows))
    boxes = read_detections(out / "dets" / "vtest12.json").detections.bbox_xyxy[np.array(links.lines)]
    long_tracks = 0
    for obj in np.unique(rows.obj_id[rows.class_id == 2]):
        mine = np.flatnonzero(rows.obj_id == obj)
        order = mine[np.argsort(rows.frame[mine])]
        if len(order) >= FRAMES - 2:
            long_tracks += 1
            steps = [_centre_step(boxes[a], boxes[b]) for a, b in zip(order[:-1], order[1:]) if rows.frame[b] - rows.frame[a] == 1]
            assert max(steps) < 0.5, f"track {obj} jumps: centre steps / box height {np.round(steps, 2).tolist()}"
    assert long_tracks >= 3


def test_the_video_can_be_watched(run_folder):
    out, _, _ = run_folder
    capture = cv2.VideoCapture(str(out / "render" / "vtest12.mp4"))
    assert capture.isOpened()
    frames = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames += 1
        assert frame.shape == (576, 768, 3)
    assert frames == FRAMES


def test_a_second_run_skips_what_is_finished(run_folder, clip):
    out, _, _ = run_folder
    result = runner.invoke(app, ["run", str(clip), "--out", str(out), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    seq = json.loads(result.stdout)["sequences"]["vtest12"]
    assert seq["skipped"] == ["infer", "track", "render"]


def test_missing_weights_name_the_file_and_every_place_searched(clip, tmp_path, monkeypatch):
    monkeypatch.setattr(weights_module, "search_places", lambda: [weights_module.Place("$DIOR_WEIGHTS", tmp_path / "empty")])
    result = runner.invoke(app, ["run", str(clip), "--out", str(tmp_path / "RUN"), "--device", "cpu"])
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "yolox_nano.onnx" in message and str(tmp_path / "empty" / "yolox_nano.onnx") in message
    assert "Traceback" not in result.output
