"""DiorNet: Mask R-CNN with temporal attention on the FPN and an SA embedding head (DIOR fig. 2).

Data flow for a clip (frames t-1, t, t+1):

    transform -> backbone+FPN (shared, per frame) -> TA per level -> F_tem
    F_tem -> RPN -> RoI heads (box, mask)          -> detections of frame t
    F_tem -> mask RoI pooler -> SA embedding head  -> one unit embedding per detection

Conventions:
- Images are float RGB in [0, 1], ``(3, H, W)``; a clip is ``(3, 3, H, W)`` ordered
  (t-1, t, t+1), all three frames of one size. At a sequence's first/last frame the caller
  repeats the frame itself as its missing neighbour.
- Boxes are ``xyxy`` pixels; outputs are in the original frame's coordinates.
- ``label`` is the model's class index (0 background, 1 car, 2 pedestrian); see
  ``config.LABEL_TO_CLASS`` for the MOTS class id.

Training computes ``loss_emb`` on the ground-truth boxes of frame t (RoI-aligned from F_tem
with the mask pooler), because torchvision's ``RoIHeads.forward`` does not expose which
ground truth each sampled proposal matched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.transform import resize_boxes

from dior_cli.model.config import ModelConfig
from dior_cli.model.embedding_head import UNKNOWN_IDENTITY, IdentityClassifier, SpatialAttentionEmbeddingHead, add_missing_scale
from dior_cli.model.parts import build_backbone, build_roi_heads, build_rpn, build_transform
from dior_cli.model.temporal_attention import TemporalAttentionFPN


@dataclass(frozen=True, eq=False)
class FrameFeatures:
    """One frame after transform + backbone + FPN, ready to be a clip's t-1, t or t+1.

    Attributes:
        features: FPN level ('0'..'3', 'pool') -> ``(1, C, h, w)``.
        taps: FPN level -> ``(1, 3, h, w)``, the temporal attention's W1 taps of this frame
            (computed once here, reused by the three windows that contain the frame).
        image_size: ``(h, w)`` of the resized frame inside the padded network input.
        padded_size: ``(H, W)`` of the padded network input (a multiple of 32).
        original_size: ``(H, W)`` of the frame as given.
    """

    features: dict[str, Tensor]
    taps: dict[str, Tensor]
    image_size: tuple[int, int]
    padded_size: tuple[int, int]
    original_size: tuple[int, int]


class DiorNet(nn.Module):
    """The DIOR network, built from a ``ModelConfig`` (see the module docstring for conventions).

    ``identity_classifier`` chooses the form of ``loss_emb``'s classifier (training's
    ``train.emb_classifier``); it changes no state-dict key and nothing at inference.
    """

    def __init__(self, config: ModelConfig | None = None, identity_classifier: IdentityClassifier | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else ModelConfig()
        self.transform = build_transform(self.config)
        self.backbone = build_backbone(self.config)
        channels = self.backbone.out_channels
        self.temporal = TemporalAttentionFPN(channels)
        self.rpn = build_rpn(self.config, channels)
        self.roi_heads = build_roi_heads(self.config, channels)
        self.embedding_head = SpatialAttentionEmbeddingHead(
            self.roi_heads.mask_head,
            in_channels=channels,
            mask_channels=self.config.head_channels,
            conv_channels=self.config.head_channels,
            conv_layers=self.config.embedding_conv_layers,
            pool_size=self.config.embedding_pool_size,
            fc_dim=self.config.embedding_fc_dim,
            embedding_dim=self.config.embedding_dim,
            num_identities=self.config.num_identities,
            classifier=identity_classifier,
        )

    # ----------------------------------------------------------------- batch API
    def forward(
        self, clips: Sequence[Tensor], targets: Sequence[dict[str, Tensor]] | None = None
    ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        """Train on, or detect in, B clips.

        Args:
            clips: B tensors ``(3, 3, H, W)`` (frames t-1, t, t+1; float RGB in [0, 1]).
            targets: training only, one dict per clip for frame t: ``boxes (N, 4)`` float xyxy,
                ``labels (N,)`` int64 (1 car, 2 pedestrian), ``masks (N, H, W)`` uint8 and
                optionally ``identities (N,)`` int64 (-1 = unknown; missing = all unknown),
                ``ignore_boxes (M, 4)`` float xyxy ignore regions (MOTS class 10) and
                ``ignore_masks (M, H, W)`` uint8 (validated, not used by the losses). Anchors and
                proposals mostly inside an ignore box are neither positives nor negatives
                (rule in ``dior_cli.model.ignore``). All in the clip's original pixels.

        Returns:
            Training: ``loss_classifier``, ``loss_box_reg``, ``loss_mask``, ``loss_objectness``,
            ``loss_rpn_box_reg``, ``loss_emb`` (scalars). Eval: per clip, as ``detect``; each
            frame is encoded on its own, so results equal ``encode`` frame by frame + ``detect``
            exactly (batched convolutions may differ in the last float bits).
        """
        _check_clips(clips)
        if not self.training:  # one frame per encode call: bitwise the streaming path
            return [self.detect(*[self.encode([frame])[0] for frame in clip]) for clip in clips]
        if targets is None or len(targets) != len(clips):
            raise ValueError(f"training needs one target dict per clip ({len(clips)}), got {None if targets is None else len(targets)}")
        _check_targets(targets, clips, self.config.num_classes)

        batch = len(clips)
        centre, targets = self.transform([clip[1] for clip in clips], list(targets))  # (B, 3, Hp, Wp)
        targets = [_resize_ignore_boxes(target, tuple(clip.shape[-2:]), size) for target, clip, size in zip(targets, clips, centre.image_sizes)]
        neighbours, _ = self.transform([clip[0] for clip in clips] + [clip[2] for clip in clips])  # (2B, 3, Hp, Wp)
        frames = torch.cat([neighbours.tensors[:batch], centre.tensors, neighbours.tensors[batch:]])  # (3B, 3, Hp, Wp)
        features = self.backbone(frames)  # level -> (3B, C, h, w), time-major
        stacked = {name: level.unflatten(0, (3, batch)).permute(1, 2, 0, 3, 4) for name, level in features.items()}  # (B, C, 3, h, w)
        fused, _ = self.temporal(stacked)  # level -> (B, C, h, w)

        proposals, rpn_losses = self.rpn(centre, fused, targets)
        _, roi_losses = self.roi_heads(fused, proposals, centre.image_sizes, targets)
        loss_emb = self._embedding_loss(fused, targets, centre.image_sizes)
        return {**roi_losses, **rpn_losses, "loss_emb": loss_emb}

    def set_thresholds(self, *, score_thresh: float | None = None, detections_per_img: int | None = None) -> None:
        """Change the inference filters of the box head; ``config`` follows, so checkpoints record them.

        Args:
            score_thresh: detections scoring at or below this are dropped.
            detections_per_img: most detections kept per frame.
        """
        changes = {}
        if score_thresh is not None:
            changes["box_score_thresh"] = score_thresh
        if detections_per_img is not None:
            changes["box_detections_per_img"] = detections_per_img
        self.config = dataclasses.replace(self.config, **changes)  # validates the values
        self.roi_heads.score_thresh = self.config.box_score_thresh
        self.roi_heads.detections_per_img = self.config.box_detections_per_img

    # ------------------------------------------------------------- streaming API
    def encode(self, images: Sequence[Tensor]) -> list[FrameFeatures]:
        """Transform and run backbone + FPN once per frame.

        Args:
            images: frames ``(3, H, W)`` float RGB in [0, 1]; frames of one call are padded
                together, so pass frames of one size (one video) per call.

        Returns:
            One ``FrameFeatures`` per frame, in order.
        """
        for i, image in enumerate(images):
            if image.dim() != 3 or image.shape[0] != 3:
                raise ValueError(f"image {i}: expected (3, H, W), got {tuple(image.shape)}")
        image_list, _ = self.transform(list(images))  # tensors (N, 3, Hp, Wp)
        features = self.backbone(image_list.tensors)  # level -> (N, C, h, w)
        padded = (int(image_list.tensors.shape[-2]), int(image_list.tensors.shape[-1]))
        taps = self.temporal.taps(features)  # level -> (N, 3, h, w)
        return [
            FrameFeatures(
                features={name: level[i : i + 1] for name, level in features.items()},  # (1, C, h, w)
                taps={name: level[i : i + 1] for name, level in taps.items()},  # (1, 3, h, w)
                image_size=(int(image_list.image_sizes[i][0]), int(image_list.image_sizes[i][1])),
                padded_size=padded,
                original_size=(int(image.shape[-2]), int(image.shape[-1])),
            )
            for i, image in enumerate(images)
        ]

    def detect(self, prev: FrameFeatures, cur: FrameFeatures, nxt: FrameFeatures, paste_masks: bool = True) -> dict[str, Tensor]:
        """Detect, segment and embed the objects of frame ``cur`` (eval mode only).

        Returns:
            ``boxes (K, 4)`` float xyxy in original pixels, ``labels (K,)`` int64, ``scores (K,)``,
            ``masks (K, 1, H, W)`` probabilities pasted into the original frame, and
            ``embeddings (K, D)`` unit rows, computed on the final boxes. With ``paste_masks=False``,
            ``masks`` are the mask head's ``(K, 1, M, M)`` probabilities over each box instead
            (``dior_cli.mask_paste`` pastes only the box region, on the device).
        """
        if self.training:
            raise RuntimeError("DiorNet.detect runs in eval mode; call model.eval() first")
        for name, frame in (("prev", prev), ("nxt", nxt)):
            if frame.padded_size != cur.padded_size:
                raise ValueError(f"{name} frame has input size {frame.padded_size}, cur has {cur.padded_size}: a clip's frames must share one size")
        fused, _ = self.temporal.fuse(prev.features, cur.features, nxt.features, (prev.taps, cur.taps, nxt.taps))  # level -> (1, C, h, w)
        anchor_ref = fused["0"].new_empty(()).expand(1, 3, *cur.padded_size)  # (1, 3, Hp, Wp) without memory: the anchor generator reads only the shape
        images = ImageList(anchor_ref, [cur.image_size])

        proposals, _ = self.rpn(images, fused)
        with _capture_output(self.roi_heads.mask_roi_pool) as rois, _capture_output(self.roi_heads.mask_head) as mask_features:
            detections, _ = self.roi_heads(fused, proposals, images.image_sizes)
        detection = detections[0]
        if rois.output.shape[0] != detection["boxes"].shape[0]:
            raise RuntimeError("mask RoI features do not align with the detections")
        # The mask branch already pooled F_tem on the final boxes: reuse F_i and phi_1's trunk.
        detection["embeddings"] = self.embedding_head(rois.output, mask_features.output)  # (K, D)
        small_masks = None if paste_masks else detection.pop("masks")  # (K, 1, M, M) box-relative probabilities
        result = self.transform.postprocess(detections, images.image_sizes, [cur.original_size])[0]
        if small_masks is not None:
            result["masks"] = small_masks
        return result

    def complete_state_dict(self, state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
        """``state_dict`` with the keys that checkpoints of older dior versions lack added at this
        model's values (only ``embedding_head.identity_logit_scale``, unused by what trained them)."""
        return add_missing_scale(state_dict, self.embedding_head, "embedding_head.")

    def set_sampling_generator(self, generator: torch.Generator | None) -> None:
        """Draw the training's anchor and proposal samples (RPN, RoI heads) from ``generator``
        (a CPU generator the caller owns and seeds); ``None``: torch's global generator."""
        self.rpn.fg_bg_sampler.generator = generator
        self.roi_heads.fg_bg_sampler.generator = generator

    # ----------------------------------------------------------------- internals
    def _embedding_loss(self, features: dict[str, Tensor], targets: list[dict[str, Tensor]], image_sizes: list[tuple[int, int]]) -> Tensor:
        """``loss_emb`` on the ground-truth boxes (already in transformed coordinates) of frame t."""
        boxes = [target["boxes"] for target in targets]  # B x (N_b, 4)
        identities = torch.cat([_identities_of(target) for target in targets])  # (K,)
        rois = self.roi_heads.mask_roi_pool(features, boxes, image_sizes)  # (K, C, 14, 14)
        embeddings = self.embedding_head(rois)  # (K, D)
        return self.embedding_head.identity_loss(embeddings, identities)


@contextlib.contextmanager
def _capture_output(module: nn.Module) -> Iterator[types.SimpleNamespace]:
    """Record ``module``'s output (``.output``) for the duration of the ``with`` block."""
    captured = types.SimpleNamespace(output=None)

    def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
        captured.output = output

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def _identities_of(target: dict[str, Tensor]) -> Tensor:
    """``(N,)`` int64 identities of a target; all unknown (-1) when it has none."""
    if "identities" in target:
        return target["identities"].to(torch.int64)
    return torch.full((target["boxes"].shape[0],), UNKNOWN_IDENTITY, dtype=torch.int64, device=target["boxes"].device)


def _resize_ignore_boxes(target: dict[str, Tensor], original_size: tuple[int, int], new_size: tuple[int, int]) -> dict[str, Tensor]:
    """``target`` with ``ignore_boxes`` scaled like the transform scales ``boxes`` (original -> resized [h, w])."""
    if "ignore_boxes" not in target:
        return target
    return {**target, "ignore_boxes": resize_boxes(target["ignore_boxes"], list(original_size), list(new_size))}


def _check_clips(clips: Sequence[Tensor]) -> None:
    if len(clips) == 0:
        raise ValueError("expected at least one clip")
    for i, clip in enumerate(clips):
        if not isinstance(clip, Tensor) or clip.dim() != 4 or clip.shape[:2] != (3, 3) or not clip.is_floating_point():
            shape = tuple(clip.shape) if isinstance(clip, Tensor) else type(clip).__name__
            raise ValueError(f"clip {i}: expected a float tensor (3, 3, H, W) = (t-1, t, t+1) x RGB, got {shape}")


def _check_targets(targets: Sequence[dict[str, Tensor]], clips: Sequence[Tensor], num_classes: int) -> None:
    for i, (target, clip) in enumerate(zip(targets, clips)):
        missing = {"boxes", "labels", "masks"} - set(target)
        if missing:
            raise ValueError(f"target {i}: missing {', '.join(sorted(missing))}")
        n = target["boxes"].shape[0]
        height, width = clip.shape[-2:]
        expected = {"boxes": (n, 4), "labels": (n,), "masks": (n, height, width), "identities": (n,)}
        for key, shape in expected.items():
            if key in target and tuple(target[key].shape) != shape:
                raise ValueError(f"target {i}: {key} expected shape {shape}, got {tuple(target[key].shape)}")
        labels = target["labels"]
        if labels.dtype != torch.int64 or bool(((labels < 1) | (labels >= num_classes)).any()):
            raise ValueError(f"target {i}: labels must be int64 in [1, {num_classes - 1}]")
        boxes = target["boxes"]
        if not boxes.is_floating_point() or bool((boxes[:, 2:] <= boxes[:, :2]).any()):
            raise ValueError(f"target {i}: boxes must be float xyxy with x2 > x1 and y2 > y1")
        _check_ignore(i, target, height, width)


def _check_ignore(i: int, target: dict[str, Tensor], height: int, width: int) -> None:
    """Validate the optional ``ignore_boxes (M, 4)`` / ``ignore_masks (M, H, W)`` of target ``i``."""
    if "ignore_masks" in target and "ignore_boxes" not in target:
        raise ValueError(f"target {i}: ignore_masks given without ignore_boxes (the ignore rule uses the boxes)")
    if "ignore_boxes" not in target:
        return
    ignore_boxes = target["ignore_boxes"]
    if ignore_boxes.dim() != 2 or ignore_boxes.shape[1] != 4:
        raise ValueError(f"target {i}: ignore_boxes expected shape (M, 4), got {tuple(ignore_boxes.shape)}")
    if not ignore_boxes.is_floating_point() or bool((ignore_boxes[:, 2:] <= ignore_boxes[:, :2]).any()):
        raise ValueError(f"target {i}: ignore_boxes must be float xyxy with x2 > x1 and y2 > y1")
    if "ignore_masks" in target:
        expected = (ignore_boxes.shape[0], height, width)
        if tuple(target["ignore_masks"].shape) != expected:
            raise ValueError(f"target {i}: ignore_masks expected shape {expected}, got {tuple(target['ignore_masks'].shape)}")
