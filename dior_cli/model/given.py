"""Embed detections given from elsewhere with the DIOR network's embedding head.

For frame t with given boxes and masks (another detector's, or public detections):

    F_tem  = temporal.fuse(t-1, t, t+1)                       level -> (1, C, h, w)
    F_i    = mask RoI pooler(F_tem, boxes in network pixels)   (K, C, 14, 14)
    beta_i = RoIAlign(given mask, box)                         (K, 1, 14, 14) in [0, 1]
    e_i    = embedding_head(F_i, attention=beta_i)             (K, D) unit rows

The given mask takes the place of the SA map ``sigmoid(phi_1(F_i))`` (DIOR eq. 3): the
network attends to the object's own pixels as the detector segmented them. RPN, box and
mask heads are not run.

Coordinates: boxes are ``xyxy`` pixels of the original frame; they are scaled into the
network's resized frame as torchvision's ``GeneralizedRCNNTransform`` scales target boxes
(height and width ratios applied separately). Masks are ``(H, W)`` arrays of the original
frame, non-zero inside, and are RoI-aligned with the original boxes the same way torchvision
builds mask targets (``roi_align``, ``aligned=False``), so beta's bins cover the same
region as F_i's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import roi_align

from dior_cli.model.network import DiorNet, FrameFeatures
from dior_cli.model.parts import MASK_ROI_SIZE

_SAMPLING_RATIO = 2  # as the mask RoI pooler (parts.build_roi_heads)
_CROP_MARGIN = 2  # pixels kept around a box so bilinear samples near its edge read real neighbours


def mask_attention(masks: Iterable[np.ndarray], boxes_xyxy: np.ndarray, size: int = MASK_ROI_SIZE) -> Tensor:
    """RoI-align each mask on its box: ``(K, 1, size, size)`` float32 in [0, 1], on the CPU.

    Args:
        masks: K dense ``(H, W)`` masks of the original frame (non-zero = inside), consumed
            one at a time (a generator keeps one decoded mask in memory).
        boxes_xyxy: ``(K, 4)`` boxes in original pixels.
        size: output side (the mask RoI pooler's 14).

    Each mask is cut to its box plus a margin before the RoIAlign; the samples all lie
    inside the cut, so the result equals RoIAlign on the whole frame.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)  # (K, 4)
    out = torch.zeros((boxes.shape[0], 1, size, size), dtype=torch.float32)  # (K, 1, S, S)
    count = 0
    for k, mask in enumerate(masks):
        if k >= boxes.shape[0]:
            raise ValueError(f"mask_attention: more masks than the {boxes.shape[0]} boxes")
        height, width = mask.shape
        x1, y1, x2, y2 = boxes[k]
        left, top = max(0, math.floor(x1) - _CROP_MARGIN), max(0, math.floor(y1) - _CROP_MARGIN)
        right, bottom = min(width, math.ceil(x2) + _CROP_MARGIN), min(height, math.ceil(y2) + _CROP_MARGIN)
        crop = torch.from_numpy(np.ascontiguousarray(mask[top:bottom, left:right] != 0, dtype=np.float32))  # (h, w)
        box = torch.tensor([[0.0, x1 - left, y1 - top, x2 - left, y2 - top]], dtype=torch.float32)  # (1, 5) batch index + xyxy
        out[k] = roi_align(crop[None, None], box, (size, size), spatial_scale=1.0, sampling_ratio=_SAMPLING_RATIO, aligned=False)[0]
        count += 1
    if count != boxes.shape[0]:
        raise ValueError(f"mask_attention: {count} masks for {boxes.shape[0]} boxes")
    return out.clamp_(0.0, 1.0)


def given_roi_features(model: DiorNet, prev: FrameFeatures, cur: FrameFeatures, nxt: FrameFeatures, boxes_xyxy: Tensor) -> Tensor:
    """F_i of K given boxes of frame ``cur``: ``(K, C, 14, 14)``, RoI-aligned from F_tem.

    Args:
        model: the DIOR network (temporal attention and mask RoI pooler are used).
        prev, cur, nxt: the encoded frames t-1, t, t+1 (``DiorNet.encode``); at a sequence's
            ends the caller repeats a neighbour, as for ``DiorNet.detect``.
        boxes_xyxy: ``(K, 4)`` boxes in the original frame's pixels.
    """
    for name, frame in (("prev", prev), ("nxt", nxt)):
        if frame.padded_size != cur.padded_size:
            raise ValueError(f"{name} frame has input size {frame.padded_size}, cur has {cur.padded_size}: a clip's frames must share one size")
    fused, _ = model.temporal.fuse(prev.features, cur.features, nxt.features, (prev.taps, cur.taps, nxt.taps))  # level -> (1, C, h, w)
    boxes = torch.as_tensor(boxes_xyxy, dtype=torch.float32, device=cur.features["0"].device).reshape(-1, 4)  # (K, 4)
    scaled = resize_boxes(boxes, list(cur.original_size), list(cur.image_size))  # (K, 4) network pixels
    return model.roi_heads.mask_roi_pool(fused, [scaled], [cur.image_size])  # (K, C, 14, 14)


def embed_given(model: DiorNet, prev: FrameFeatures, cur: FrameFeatures, nxt: FrameFeatures, boxes_xyxy: Tensor,
                masks: Iterable[np.ndarray]) -> Tensor:
    """Embed K given detections of frame ``cur`` (eval mode): ``(K, D)`` unit rows.

    Args:
        model: the DIOR network; its temporal attention, mask RoI pooler and embedding head are used.
        prev, cur, nxt: the encoded frames t-1, t, t+1 (see ``given_roi_features``).
        boxes_xyxy: ``(K, 4)`` boxes in the original frame's pixels.
        masks: K ``(H, W)`` masks of the original frame, in box order (see ``mask_attention``).

    Returns:
        ``(K, D)`` float32 on the model's device; ``(0, D)`` when K = 0.
    """
    if model.training:
        raise RuntimeError("embed_given runs in eval mode; call model.eval() first")
    boxes = torch.as_tensor(boxes_xyxy, dtype=torch.float32).reshape(-1, 4)  # (K, 4)
    attention = mask_attention(masks, boxes.cpu().numpy())  # (K, 1, 14, 14)
    device = cur.features["0"].device
    if boxes.shape[0] == 0:
        return torch.zeros((0, model.config.embedding_dim), dtype=torch.float32, device=device)
    rois = given_roi_features(model, prev, cur, nxt, boxes)  # F_i: (K, C, 14, 14)
    return model.embedding_head(rois, attention=attention.to(device)).float()  # (K, D)
