"""The DIOR network's configuration: one frozen dataclass, stored inside every checkpoint.

Conventions:
- ``label`` is the model's contiguous class index: 0 background, 1 car, 2 pedestrian.
  ``LABEL_TO_CLASS`` maps it to the MOTS ``class_id`` (1 car, 2 pedestrian); the two
  happen to coincide, but code converts through the map, never by assumption.
- Sizes are in pixels of the network's input (after the resize to ``min_size``/``max_size``).
- ``to_dict()`` gives plain primitives (what a checkpoint stores); ``from_dict()`` refuses
  unknown keys and wrong types with a ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import Any, Literal

from dior_cli.errors import ConfigError

LABEL_TO_CLASS = types.MappingProxyType({1: 1, 2: 2})
"""Model label -> MOTS class id (read-only): label 1 = car (class 1), label 2 = pedestrian (class 2)."""

BACKBONES = ("resnet50", "resnet18")
BACKBONE_NORMS = ("frozen_bn", "group_norm")


@dataclass(frozen=True)
class ModelConfig:
    """Every choice needed to rebuild a ``DiorNet``; defaults follow Mask R-CNN and DIOR sec. 4.1.

    Attributes:
        backbone: ResNet depth under the FPN ("resnet50" as in the paper; "resnet18" for tests/CPU).
        num_classes: box/mask classes including background (must be 1 + len(LABEL_TO_CLASS)).
        embedding_dim: length of each L2-normalised appearance embedding (DIOR: 1024).
        num_identities: size of the identity classifier used by ``loss_emb`` (0 = no classifier).
        min_size, max_size: resize bounds of torchvision's GeneralizedRCNNTransform, pixels.
        box_score_thresh: detections scoring at or below this are dropped at inference.
        box_nms_thresh: per-class NMS IoU threshold of the box head at inference.
        box_detections_per_img: most detections kept per frame.
        rpn_pre_nms_top_n_test, rpn_post_nms_top_n_test: proposals kept per frame at inference.
        rpn_pre_nms_top_n_train, rpn_post_nms_top_n_train: proposals kept per frame in training.
        box_batch_size_per_image: proposals sampled per frame for the box loss in training
            (a quarter of them positive at most; the mask loss uses the positives).
        trainable_backbone_layers: ResNet stages left trainable (0-5; the rest are frozen, with
            random weights too unless weights are loaded: train from scratch with 5).
        backbone_norm: the ResNet's normalisation layers. "frozen_bn" (default): torchvision's
            FrozenBatchNorm2d, fixed statistics as COCO/ImageNet weights need (an identity when
            nothing is loaded). "group_norm": trainable GroupNorm with 32 groups (fewer where a
            layer has fewer channels), for training from scratch (``--init none``). Checkpoints
            written before this key existed load as "frozen_bn".
        fpn_channels: channels of every FPN level (Mask R-CNN: 256); the RPN and RoI heads read them.
        head_channels: channels of the mask head's four 3x3 convolutions and of the embedding
            head's phi_2 (Mask R-CNN: 256; COCO weights need 256). Smaller values make tiny
            CPU configurations for tests and examples.
        box_head_dim: width of the box head's two fully connected layers (Mask R-CNN: 1024).
        embedding_conv_layers: 3x3 conv layers (head_channels wide) of the embedding head's phi_2.
        embedding_pool_size: SA features (512, 14, 14) are average-pooled to this side before
            the fully connected layers (7 keeps the first FC at 25 M weights instead of 103 M).
        embedding_fc_dim: width of the hidden fully connected layer of the embedding head.
    """

    backbone: Literal["resnet50", "resnet18"] = "resnet50"
    num_classes: int = 3
    embedding_dim: int = 1024
    num_identities: int = 0
    min_size: int = 800
    max_size: int = 1333
    box_score_thresh: float = 0.05
    box_nms_thresh: float = 0.5
    box_detections_per_img: int = 100
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_test: int = 1000
    rpn_pre_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    box_batch_size_per_image: int = 512
    trainable_backbone_layers: int = 3
    backbone_norm: Literal["frozen_bn", "group_norm"] = "frozen_bn"
    fpn_channels: int = 256
    head_channels: int = 256
    box_head_dim: int = 1024
    embedding_conv_layers: int = 4
    embedding_pool_size: int = 7
    embedding_fc_dim: int = 1024

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), f.type)
            if f.type == "float":  # an int given for a float field is stored as a float
                object.__setattr__(self, f.name, float(getattr(self, f.name)))
        _require(self.backbone in BACKBONES, f"model.backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        _require(self.backbone_norm in BACKBONE_NORMS, f"model.backbone_norm must be one of {', '.join(BACKBONE_NORMS)}, got {self.backbone_norm!r}")
        _require(self.num_classes == 1 + len(LABEL_TO_CLASS), f"model.num_classes must be {1 + len(LABEL_TO_CLASS)} (background, car, pedestrian), got {self.num_classes}")
        _require(self.embedding_dim > 0 and self.embedding_fc_dim > 0, "model.embedding_dim and model.embedding_fc_dim must be positive")
        _require(self.num_identities >= 0, "model.num_identities must not be negative")
        _require(0 < self.min_size <= self.max_size, "model.min_size must be positive and at most model.max_size")
        _require(0.0 <= self.box_score_thresh < 1.0 and 0.0 < self.box_nms_thresh <= 1.0, "model.box_score_thresh must be in [0, 1) and model.box_nms_thresh in (0, 1]")
        _require(self.box_detections_per_img > 0, "model.box_detections_per_img must be positive")
        _require(min(self.rpn_pre_nms_top_n_test, self.rpn_post_nms_top_n_test, self.rpn_pre_nms_top_n_train, self.rpn_post_nms_top_n_train) > 0, "model.rpn_*_top_n_* must be positive")
        _require(self.box_batch_size_per_image > 0, "model.box_batch_size_per_image must be positive")
        _require(0 <= self.trainable_backbone_layers <= 5, "model.trainable_backbone_layers must be in 0..5")
        _require(min(self.fpn_channels, self.head_channels, self.box_head_dim) >= 8, "model.fpn_channels, model.head_channels and model.box_head_dim must be at least 8")
        _require(self.embedding_conv_layers >= 1, "model.embedding_conv_layers must be at least 1")
        _require(1 <= self.embedding_pool_size <= 14, "model.embedding_pool_size must be in 1..14 (the RoI side is 14)")

    def to_dict(self) -> dict[str, Any]:
        """The config as plain primitives (str, int, float), for checkpoints and JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Rebuild a config from ``to_dict()`` output; missing keys take their defaults.

        Raises ``ConfigError`` on unknown keys or values of the wrong type.
        """
        if not isinstance(values, dict):
            raise ConfigError(f"model config must be a mapping, got {type(values).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names), key=str)
        if unknown:
            raise ConfigError(f"unknown model config key(s) {', '.join(map(str, unknown))}; valid keys: {', '.join(names)}")
        return cls(**values)


def _check_type(name: str, value: Any, hint: str) -> None:
    """Check one field against its annotation (a string under ``from __future__ import annotations``)."""
    if hint == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:  # a Literal of names (backbone, backbone_norm), checked by value in __post_init__
        ok = isinstance(value, str)
    _require(ok, f"model.{name} must be of type {hint.split('[')[0].lower()}, got {value!r}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
