"""``dior adapt`` end to end on a tiny written sequence (6 frames, two walkers), with the shipped
OSNet x0.25 (skipped without it) and one optimiser step per training step.

The output folder is a detections folder like any other: the detections copied byte for byte,
new embeddings whose hash record verifies against them, and a checkpoint that loads into
``OSNet`` and reproduces the written embeddings through ``embed_crops`` (what ``dior infer``
runs); ``dior track`` reads the folder. Bad input fails with exit code 1 and a message.
"""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dior_cli.adapt.stage import AdaptOptions, run
from dior_cli.cli import app
from dior_cli.config import AdaptConfig
from dior_cli.formats.detections_json import DetectionsFile, read_detections, write_detections
from dior_cli.formats.embeddings import read_embeddings, write_embeddings
from dior_cli.masks import encode
from dior_cli.model.osnet import OSNet
from dior_cli.model.osnet_crops import embed_crops
from dior_cli.records import Detections
from dior_cli.track.stage import TrackOptions
from dior_cli.track.stage import run as track
from tests.conftest import REPO, require

ONNX = REPO.parent / "shared" / "weights" / "osnet_x0_25_msmt17.onnx"
H, W, T = 96, 160, 6
TINY = AdaptConfig(intra_steps=1, inter_steps=1, batch_identities=2, max_per_frame=2)


def write_sequence(root, walkers: int = 2):
    (root / "frames").mkdir(parents=True)
    frame, boxes, rles = [], [], []
    for t in range(T):
        image = np.full((H, W, 3), 120, np.uint8)
        for k in range(walkers):
            x, y = 20 + 4 * t + 70 * k, 30
            image[y : y + 40, x : x + 16] = (200, 40, 40) if k == 0 else (40, 40, 200)
            mask = np.zeros((H, W), bool)
            mask[y : y + 40, x : x + 16] = True
            frame.append(t)
            boxes.append([x, y, x + 16, y + 40])
            rles.append(encode(mask))
        cv2.imwrite(str(root / "frames" / f"{t:06d}.png"), image[:, :, ::-1])
    dets = DetectionsFile(sequence="walk", image_size=(H, W), num_frames=T, fps=10.0, frame_base=0,
                          detections=Detections(frame=np.asarray(frame), class_id=np.full(len(frame), 2), score=np.ones(len(frame)),
                                                bbox_xyxy=np.asarray(boxes, np.float64), rles=rles))
    (root / "dets").mkdir()
    sha = write_detections(root / "dets" / "walk.json", dets)
    vectors = np.eye(len(frame), 8, dtype=np.float32) + 0.1  # any unit rows: the input embeddings are only reported
    write_embeddings(root / "dets" / "walk.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True), root / "dets" / "walk.json", sha)
    return dets


@pytest.fixture(scope="module")
def adapted(tmp_path_factory):
    require(ONNX)
    root = tmp_path_factory.mktemp("adapt")
    write_sequence(root)
    summary = run(AdaptOptions(dets=root / "dets", frames=root / "frames", out=root / "adapted", weights=str(ONNX), device="cpu", config=TINY))
    return root, summary


def test_outputs_are_a_detections_folder(adapted):
    root, summary = adapted
    s = summary["sequences"]["walk"]
    assert s["intra"]["steps"] == 1 and s["inter"]["steps"] == 1 and s["detections"] == 2 * T
    assert (root / "adapted" / "walk.json").read_bytes() == (root / "dets" / "walk.json").read_bytes()
    dets = read_detections(root / "adapted" / "walk.json")
    e = read_embeddings(root / "adapted" / "walk.npy", dets, root / "adapted" / "walk.json")
    assert e.verified_by == "sha256" and e.vectors.shape == (2 * T, 512)
    np.testing.assert_allclose(np.linalg.norm(e.vectors, axis=1), 1.0, atol=1e-5)
    tracks = track(TrackOptions(dets=root / "adapted", out=root / "tracks"))
    assert (root / "tracks" / "walk.txt").is_file() and tracks["sequences"]["walk"]["tracks"] == 2


def test_checkpoint_reproduces_the_embeddings(adapted):
    root, _ = adapted
    state = torch.load(io.BytesIO((root / "adapted" / "walk.osnet.pt").read_bytes()), weights_only=True)
    assert state["schema"] == "dior.adapted-osnet/v1" and state["sequence"] == "walk"
    assert state["settings"]["intra_steps"] == 1 and len(state["base_weights"]["sha256"]) == 64
    model = OSNet()
    model.load_state_dict(state["state_dict"])
    model.eval()
    dets = read_detections(root / "adapted" / "walk.json")
    written = np.load(root / "adapted" / "walk.npy")
    image = cv2.cvtColor(cv2.imread(str(root / "frames" / "000003.png")), cv2.COLOR_BGR2RGB)
    rows = np.flatnonzero(dets.detections.frame == 3)
    np.testing.assert_allclose(embed_crops(model, image, dets.detections.bbox_xyxy[rows]), written[rows], atol=1e-5)
    before = np.load(root / "dets" / "walk.npy")
    assert not np.allclose(written[:, :8], before)  # new embeddings, not the input's


def test_finished_sequences_are_skipped(adapted):
    root, _ = adapted
    again = run(AdaptOptions(dets=root / "dets", frames=root / "frames", out=root / "adapted", weights=str(ONNX), device="cpu", config=TINY))
    assert "skipped" in again["sequences"]["walk"]


runner = CliRunner()


def test_cli_errors_exit_1(tmp_path):
    require(ONNX)
    write_sequence(tmp_path / "one", walkers=1)  # one detection per frame: no intra-frame negatives
    result = runner.invoke(app, ["adapt", str(tmp_path / "one" / "dets"), "--frames", str(tmp_path / "one" / "frames"),
                                 "--reid-weights", str(ONNX), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no frame holds two detections" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["adapt", str(tmp_path / "one" / "dets"), "--frames", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "missing" in result.output
    result = runner.invoke(app, ["adapt", str(tmp_path / "one" / "dets"), "--frames", str(tmp_path / "one" / "frames"), "--set", "intra_steps=-1"])
    assert result.exit_code == 1 and "intra_steps" in result.output


def test_summary_is_json(adapted):
    _, summary = adapted
    assert json.loads(json.dumps(summary))["schema"] == "dior.adapt-summary/v1"
