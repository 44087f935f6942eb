"""Tiny DiorNet configurations and hand-made clips for CPU tests (resnet18, ~150 px frames)."""

from __future__ import annotations

import torch

from dior_cli.model.config import ModelConfig

HEIGHT, WIDTH = 120, 160


def tiny_config(**overrides) -> ModelConfig:
    """resnet18, inputs resized to 128..200 px, a small embedding, every box scoring > 0 kept (at most 8),
    few training samples (64 RoIs, so at most 16 positive masks)."""
    values = dict(
        backbone="resnet18",
        min_size=128,
        max_size=200,
        embedding_dim=32,
        embedding_fc_dim=64,
        num_identities=5,
        box_score_thresh=0.0,
        box_detections_per_img=8,
        rpn_pre_nms_top_n_test=200,
        rpn_post_nms_top_n_test=200,
        rpn_pre_nms_top_n_train=200,
        rpn_post_nms_top_n_train=200,
        box_batch_size_per_image=64,
    )
    values.update(overrides)
    return ModelConfig(**values)


def make_clip(seed: int = 0, height: int = HEIGHT, width: int = WIDTH) -> torch.Tensor:
    """A clip ``(3, 3, H, W)``: one random frame shifted by a few pixels per time step."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(3, height, width + 8, generator=generator)
    return torch.stack([base[:, :, shift : shift + width] for shift in (0, 4, 8)])  # (3 frames, 3, H, W)


def make_target(boxes: list[list[int]], labels: list[int], identities: list[int], height: int = HEIGHT, width: int = WIDTH) -> dict:
    """Frame-t target with box-shaped masks (integer pixel boxes, xyxy)."""
    masks = torch.zeros((len(boxes), height, width), dtype=torch.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        masks[k, y1:y2, x1:x2] = 1
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "masks": masks,
        "identities": torch.tensor(identities, dtype=torch.int64),
    }


def empty_target(height: int = HEIGHT, width: int = WIDTH) -> dict:
    return make_target([], [], [], height, width)
