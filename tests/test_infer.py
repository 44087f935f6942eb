"""`dior infer`: sliding window over streamed frames, aligned outputs, clear errors, torchrun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.formats.detections_json import read_detections
from dior_cli.formats.embeddings import read_embeddings
from dior_cli.model.network import DiorNet
from dior_cli.sliding_window import sliding_window
from tests.conftest import cut_video, require
from tests.model.tiny import tiny_config
from tests.model.window_reference import activate_temporal_attention, reference_detect, window_of

runner = CliRunner()


@pytest.fixture(scope="module")
def vtest20(tmp_path_factory) -> Path:
    """The first 20 frames of the real vtest.avi, as a video (MJPG AVI)."""
    return cut_video(20, tmp_path_factory.mktemp("video") / "vtest20.avi")


def test_infer_real_video_writes_valid_aligned_outputs(checkpoint, vtest20, tmp_path):
    out = tmp_path / "dets"
    result = runner.invoke(app, ["infer", str(vtest20), "--out", str(out), "--weights", str(checkpoint), "--score-thresh", "0.0",
                                 "--max-dets", "5", "--device", "cpu", "--appearance", "network", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sequences"]["vtest20"]["frames"] == 20
    dets = read_detections(out / "vtest20.json")  # validates schema, RLEs, sizes
    assert (dets.num_frames, dets.fps, dets.frame_base, dets.image_size) == (20, 10.0, 0, (576, 768))
    assert dets.producer["weights"] == str(checkpoint) and len(dets.producer["weights_sha256"]) == 64
    assert dets.producer["appearance"] == "network"
    d = dets.detections
    assert len(d) > 0 and set(np.unique(d.class_id).tolist()) <= {1, 2}
    assert max(len(rows) for rows in d.rows_by_frame(20)) <= 5
    emb = read_embeddings(out / "vtest20.npy", dets, out / "vtest20.json")
    assert emb.verified_by == "sha256" and emb.vectors.shape == (len(d), 32)
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1, atol=1e-4)
    # boxes lie inside the image
    assert (d.bbox_xyxy[:, [0, 2]] <= 768 + 1e-3).all() and (d.bbox_xyxy[:, [1, 3]] <= 576 + 1e-3).all()
    # a re-run skips the finished sequence
    again = runner.invoke(app, ["infer", str(vtest20), "--out", str(out), "--weights", str(checkpoint), "--json"])
    assert "skipped" in json.loads(again.stdout)["sequences"]["vtest20"]


def test_an_untrained_head_is_not_used_for_appearance_osnet_embeds_instead(checkpoint, tmp_path):
    """The tiny checkpoint was never trained (no steps recorded): auto gives OSNet's 512-d rows, equal to OSNet on each box."""
    from dior_cli.formats.frames import VideoSource
    from dior_cli.model.osnet import load_osnet
    from dior_cli.model.osnet_crops import embed_crops
    from tests.model.test_osnet import ONNX

    require(ONNX)
    video = cut_video(3, tmp_path / "vtest3.avi")
    out = tmp_path / "dets"
    result = runner.invoke(app, ["infer", str(video), "--out", str(out), "--weights", str(checkpoint), "--score-thresh", "0.0",
                                 "--max-dets", "3", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["appearance"] == "osnet"
    assert "never trained" in result.stderr and "OSNet" in result.stderr
    dets = read_detections(out / "vtest3.json")
    assert dets.producer["appearance"] == "osnet" and dets.producer["encoder_weights"].endswith("osnet_x0_25_msmt17.onnx")
    emb = read_embeddings(out / "vtest3.npy", dets, out / "vtest3.json").vectors
    d = dets.detections
    assert emb.shape == (len(d), 512) and len(d) > 0
    osnet = load_osnet(ONNX)
    for frame, image in VideoSource(video, 3):
        rows = d.rows_by_frame(3)[frame]
        np.testing.assert_allclose(emb[rows], embed_crops(osnet, image, d.bbox_xyxy[rows]), atol=1e-5)


class _CountingModel:
    """Wraps a DiorNet to record which frames each detection window used."""

    def __init__(self, model: DiorNet) -> None:
        self.model = model
        self.windows: list[tuple[int, int, int]] = []
        self.frame_of: dict[int, int] = {}  # id(FrameFeatures) -> frame index

    def encode(self, images):
        features = self.model.encode(images)
        for image, feats in zip(images, features):
            self.frame_of[id(feats)] = int(image[0, 0, 0].item() * 255 + 0.5)  # the index painted into pixel (0, 0)
        return features

    def detect(self, prev, cur, nxt):
        self.windows.append((self.frame_of[id(prev)], self.frame_of[id(cur)], self.frame_of[id(nxt)]))
        return self.model.detect(prev, cur, nxt)


@pytest.mark.parametrize(("num_frames", "batch"), [(1, 1), (2, 1), (7, 1), (7, 3), (6, 4)])
def test_sliding_window_encodes_each_frame_once_and_repeats_neighbours(num_frames, batch):
    torch.manual_seed(0)
    model = DiorNet(tiny_config()).eval()
    spy = _CountingModel(model)
    backbone_frames: list[int] = []
    handle = model.backbone.register_forward_pre_hook(lambda _module, args: backbone_frames.append(int(args[0].shape[0])))
    frames = []
    for t in range(num_frames):
        image = np.random.default_rng(t).integers(0, 255, (60, 80, 3), dtype=np.uint8)
        image[0, 0, 0] = t
        frames.append((t, image))
    try:
        with torch.inference_mode():
            out = list(sliding_window(spy, iter(frames), batch, torch.device("cpu")))
    finally:
        handle.remove()
    assert [frame for frame, _, _ in out] == list(range(num_frames))
    assert sum(backbone_frames) == num_frames  # each frame through the backbone exactly once
    assert max(backbone_frames) <= batch
    assert spy.windows == [window_of(t, num_frames) for t in range(num_frames)]


@pytest.mark.parametrize("num_frames", [1, 3])
def test_streamed_detections_equal_the_per_window_reference(num_frames):
    """Every frame's result, first and last included, equals the network's parts run on that frame's
    own window (t-1, t, t+1; an edge repeats its neighbour), with TA active so a wrong window shows."""
    torch.manual_seed(1)
    model = activate_temporal_attention(DiorNet(tiny_config()), seed=2).eval()
    rng = np.random.default_rng(3)
    frames = [(t, rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)) for t in range(num_frames)]
    images = [torch.from_numpy(image).permute(2, 0, 1).float() / 255 for _, image in frames]  # (3, H, W) in [0, 1]
    with torch.inference_mode():
        streamed = {t: result for t, result, _ in sliding_window(model, iter(frames), 2, torch.device("cpu"))}
    assert sorted(streamed) == list(range(num_frames))
    for t in range(num_frames):
        expected = reference_detect(model, torch.stack([images[i] for i in window_of(t, num_frames)]))
        assert expected["boxes"].shape[0] > 0
        for key in ("boxes", "scores", "labels", "masks", "embeddings"):
            torch.testing.assert_close(streamed[t][key], expected[key], atol=1e-4, rtol=1e-4, msg=f"frame {t}: {key}")


def test_bad_sources_exit_1(checkpoint, tmp_path):
    not_video = tmp_path / "clip.mp4"
    not_video.write_bytes(b"\x00" * 100)
    result = runner.invoke(app, ["infer", str(not_video), "--weights", str(checkpoint), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "not a video" in result.output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["infer", str(tmp_path / "empty"), "--weights", str(checkpoint), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "matches no known layout" in result.output
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "000.png"), np.zeros((40, 60, 3), np.uint8))
    (frames / "001.png").write_bytes(b"broken")
    result = runner.invoke(app, ["infer", str(frames), "--weights", str(checkpoint), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "001.png" in result.output and "frame 1" in result.output
    assert not (tmp_path / "o" / "frames.json").exists()  # nothing half-written
    result = runner.invoke(app, ["infer", str(frames), "--weights", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "missing.pt" in result.output
    result = runner.invoke(app, ["infer", str(frames), "--weights", str(checkpoint), "--device", "tpu"])
    assert result.exit_code == 1 and "--device" in result.output


def test_torchrun_two_processes_split_sequences(checkpoint, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    root = tmp_path / "kitti"
    for name, seed in (("0001", 1), ("0002", 2)):
        (root / "images" / name).mkdir(parents=True)
        rng = np.random.default_rng(seed)
        for t in range(3):
            cv2.imwrite(str(root / "images" / name / f"{t:06d}.png"), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    logs = tmp_path / "logs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [torchrun, "--nproc-per-node", "2", "--log-dir", str(logs), "--redirects", "3", "-m", "dior_cli", "infer", str(root),
         "--weights", str(checkpoint), "--out", str(tmp_path / "dets"), "--device", "cpu", "--score-thresh", "0.0",
         "--appearance", "network", "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = [json.loads(p.read_text()) for p in sorted(logs.rglob("stdout.log"))]
    assert sorted(s["rank"] for s in summaries) == [0, 1]
    handled = [name for s in summaries for name in s["sequences"]]
    assert sorted(handled) == ["0001", "0002"]  # each sequence by exactly one process
    for name in ("0001", "0002"):
        dets = read_detections(tmp_path / "dets" / f"{name}.json")
        assert dets.num_frames == 3 and dets.fps == 10.0
        read_embeddings(tmp_path / "dets" / f"{name}.npy", dets, tmp_path / "dets" / f"{name}.json")
