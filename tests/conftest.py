"""Shared fixtures: where the real data lives, and small builders used across tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))
KITTI_TXT = DATA / "kitti_mots" / "instances_txt"
VTEST = DATA / "video" / "vtest.avi"
MOT17_MINI = DATA / "mot17_mini"


def require(path: Path) -> Path:
    """Skip the calling test when real data at ``path`` is absent (a plain clone)."""
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set DIOR_DATA to the shared data folder)")
    return path


def cut_video(frames: int, out: Path) -> Path:
    """The first ``frames`` frames of the real vtest.avi (768x576, 10 fps) written to ``out`` as an MJPG .avi."""
    import cv2

    capture = cv2.VideoCapture(str(require(VTEST)))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    assert writer.isOpened()
    for _ in range(frames):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()
    return out


def kitti_gt_files() -> list[Path]:
    return sorted(KITTI_TXT.glob("*.txt")) if KITTI_TXT.is_dir() else []


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def kitti_txt_dir() -> Path:
    return require(KITTI_TXT)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A small randomly initialised DIOR checkpoint (resnet18, 32-d embeddings; tests/model/tiny.py)."""
    import torch

    from dior_cli.model.checkpoint import save_checkpoint
    from dior_cli.model.network import DiorNet
    from tests.model.tiny import tiny_config

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    save_checkpoint(path, DiorNet(tiny_config()))
    return path
