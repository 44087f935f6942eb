"""An independent per-window reference for DiorNet's detections, and a way to make TA matter.

``reference_detect`` computes one three-frame window the plain way, from the network's parts:
the three frames transformed and run through the backbone together, temporal attention
written out from DIOR eq. (1)-(2) with the 3D convolutions W1 and W2 themselves (not
``TemporalAttention.taps`` / ``fuse``, the factorised form the streaming path uses), RPN and
RoI heads on F_tem, and the embedding head run afresh on RoIs pooled at the final boxes (not
the mask branch's captured pass). Streaming (``encode`` once per frame, ``detect`` per window)
must agree with it to float tolerance.

At its identity start TA passes frame t through unchanged, so a window with wrong neighbours
gives the same detections; ``activate_temporal_attention`` gives W2 weight on the attended sum,
so the neighbours change F_tem.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.models.detection.image_list import ImageList

from dior_cli.model.network import DiorNet


@torch.no_grad()
def activate_temporal_attention(model: DiorNet, seed: int = 0) -> DiorNet:
    """Random W1 logits and a W2 that mixes x_t with the attended sum (half each, plus noise)."""
    generator = torch.Generator().manual_seed(seed)
    for level in model.temporal.levels.values():
        w1, w2 = level.w1.weight, level.w2.weight  # (1, C, 3, 3, 3), (C, C, 2, 1, 1)
        w1.copy_(torch.randn(w1.shape, generator=generator) * 0.05)
        channels = w2.shape[0]
        eye = torch.eye(channels)
        w2[:, :, 0, 0, 0] = 0.5 * eye + 0.02 * torch.randn(channels, channels, generator=generator)  # on x_t
        w2[:, :, 1, 0, 0] = 0.5 * eye + 0.02 * torch.randn(channels, channels, generator=generator)  # on sum alpha * x
    return model


def temporal_attention_by_definition(model: DiorNet, features: dict[str, Tensor]) -> dict[str, Tensor]:
    """F_tem per level from ``(3, C, h, w)`` features of (t-1, t, t+1): eq. (1) and (2) with Conv3d."""
    fused = {}
    for name, level in features.items():
        x = level.permute(1, 0, 2, 3).unsqueeze(0)  # (1, C, 3, h, w), time on dim 2
        attention = model.temporal.levels[name]
        alpha = torch.softmax(attention.w1(x), dim=2)  # (1, 1, 3, h, w), eq. (1)
        weighted = (alpha * x).sum(dim=2)  # (1, C, h, w)
        fused[name] = attention.w2(torch.stack([x[:, :, 1], weighted], dim=2)).squeeze(2)  # (1, C, h, w), eq. (2)
    return fused


@torch.no_grad()
def reference_detect(model: DiorNet, clip: Tensor) -> dict[str, Tensor]:
    """Detections of frame t of ``clip (3, 3, H, W)`` = (t-1, t, t+1), computed from the parts (eval mode)."""
    assert not model.training
    images, _ = model.transform(list(clip))  # tensors (3, 3, Hp, Wp)
    features = model.backbone(images.tensors)  # level -> (3, C, h, w)
    fused = temporal_attention_by_definition(model, features)  # level -> (1, C, h, w)
    centre = ImageList(images.tensors[1:2], [images.image_sizes[1]])
    proposals, _ = model.rpn(centre, fused)
    detections, _ = model.roi_heads(fused, proposals, centre.image_sizes)
    rois = model.roi_heads.mask_roi_pool(fused, [detections[0]["boxes"]], centre.image_sizes)  # (K, C, 14, 14)
    detections[0]["embeddings"] = model.embedding_head(rois)  # (K, D)
    return model.transform.postprocess(detections, centre.image_sizes, [tuple(clip.shape[-2:])])[0]


def window_of(t: int, num_frames: int) -> tuple[int, int, int]:
    """The frames of frame t's window: (t-1, t, t+1); a missing neighbour is the other one, or t itself."""
    prev = t - 1 if t > 0 else min(t + 1, num_frames - 1)
    nxt = t + 1 if t < num_frames - 1 else max(t - 1, 0)
    return prev, t, nxt
