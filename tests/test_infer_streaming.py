"""`dior infer` streams its outputs: an interrupted sequence leaves nothing half-written and is redone;
the network path's masks (pasted box region only, on the device) equal torchvision's full-frame paste."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask
from typer.testing import CliRunner

import dior_cli.infer.stage as infer
from dior_cli.cli import app
from dior_cli.formats.detections_json import read_detections
from dior_cli.formats.embeddings import read_embeddings
from dior_cli.model.network import DiorNet
from dior_cli.sliding_window import sliding_window
from tests.model.tiny import tiny_config

runner = CliRunner()


def _frames_folder(root, frames: int = 5, seed: int = 0):
    folder = root / "clip"
    folder.mkdir(parents=True)
    base = np.random.default_rng(seed).integers(0, 255, (60, 88, 3), dtype=np.uint8)
    for t in range(frames):
        cv2.imwrite(str(folder / f"{t:06d}.png"), base[:, 2 * t : 2 * t + 80])
    return folder


def _infer(source, out, checkpoint, *extra):
    return runner.invoke(app, ["infer", str(source), "--out", str(out), "--weights", str(checkpoint), "--score-thresh", "0.0",
                               "--max-dets", "4", "--device", "cpu", "--appearance", "network", "--json", *extra])


def test_an_interrupted_sequence_leaves_no_file_and_a_rerun_completes(checkpoint, tmp_path, monkeypatch):
    source, out = _frames_folder(tmp_path), tmp_path / "dets"
    real = infer.frame_records

    def failing(frame, *args, **kwargs):
        if frame == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the sequence
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(infer, "frame_records", failing)
    with pytest.raises(KeyboardInterrupt):
        infer.run(infer.InferOptions(source=source, out=out, weights=str(checkpoint), device="cpu", score_thresh=0.0, max_dets=4,
                                     appearance="network"))
    assert not out.exists() or list(out.iterdir()) == []  # no partial JSON or array, no temporary
    monkeypatch.setattr(infer, "frame_records", real)
    result = _infer(source, out, checkpoint)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sequences"]["clip"]["frames"] == 5
    dets = read_detections(out / "clip.json")
    emb = read_embeddings(out / "clip.npy", dets, out / "clip.json")
    assert dets.num_frames == 5 and emb.verified_by == "sha256" and emb.vectors.shape == (len(dets.detections), 32)
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.npy", "clip.npy.json"]


def test_a_killed_run_is_redone_and_its_leftovers_removed(checkpoint, tmp_path):
    source, out = _frames_folder(tmp_path), tmp_path / "dets"
    out.mkdir()
    leftover = out / ".clip.json.x1y2z3.tmp"
    leftover.write_text("  {\"det_id\":0")  # what a killed process leaves
    (out / "clip.json").write_text("{}")  # renamed before the kill; the array and its record never were
    (out / "clip.npy").write_bytes(b"")
    result = _infer(source, out, checkpoint)
    assert result.exit_code == 0, result.output
    assert "skipped" not in json.loads(result.stdout)["sequences"]["clip"]
    assert not leftover.exists()
    read_embeddings(out / "clip.npy", read_detections(out / "clip.json"), out / "clip.json")
    again = _infer(source, out, checkpoint)
    assert "skipped" in json.loads(again.stdout)["sequences"]["clip"]


def test_frame_records_equal_torchvisions_pasted_masks(tmp_path):
    """The same windows detected with the default full-frame paste (torchvision) and box-relative masks:
    same boxes and scores, and each RLE equals pycocotools' encoding of torchvision's pasted mask >= 0.5."""
    from dior_cli.model.config import LABEL_TO_CLASS

    torch.manual_seed(3)
    model = DiorNet(tiny_config(box_detections_per_img=8)).eval()
    rng = np.random.default_rng(5)
    frames = [(t, rng.integers(0, 255, (70, 96, 3), dtype=np.uint8)) for t in range(3)]
    device = torch.device("cpu")
    with torch.inference_mode():
        pasted = list(sliding_window(model, iter(frames), 1, device))
        unpasted = list(sliding_window(model, iter(frames), 1, device, step=infer._detect_unpasted(model, device), to_cpu=False))
    checked = 0
    for (frame, full, shape), (_, small, _) in zip(pasted, unpasted):
        dets, _emb = infer.frame_records(frame, small, tuple(shape), 0.5)
        keep = np.isin(full["labels"].numpy(), list(LABEL_TO_CLASS))
        np.testing.assert_array_equal(dets.bbox_xyxy, full["boxes"][keep].numpy().astype(np.float64))
        expected = []
        for mask in (full["masks"][keep][:, 0] >= 0.5).numpy():
            coco = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
            expected.append({"size": [int(v) for v in coco["size"]], "counts": coco["counts"].decode("ascii")})
        assert list(dets.rles) == expected
        checked += len(expected)
    assert checked > 0
