"""torchvision Mask R-CNN parts, composed with torchvision's own defaults.

Each builder returns a fresh torchvision module configured from a ``ModelConfig``; the
hyper-parameters not in the config are Mask R-CNN's (torchvision ``MaskRCNN.__init__``), so
the module names and shapes match ``maskrcnn_resnet50_fpn`` and its COCO weights load by name.
No weights are downloaded here: the backbone starts random (``dior_cli.model.init`` or
``--weights coco`` or a DIOR checkpoint fills it).

The RPN and RoI heads are torchvision's with one change for training: anchors/proposals mostly
inside a target's ``ignore_boxes`` are neither positives nor negatives (``dior_cli.model.ignore``),
and their balanced samplers draw from an explicit generator (``dior_cli.model.sampling``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

from dior_cli.model.config import ModelConfig
from dior_cli.model.ignore import IgnoreAwareRoIHeads, IgnoreAwareRPN
from dior_cli.model.sampling import SeededBalancedSampler

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ROI_LEVELS = ("0", "1", "2", "3")  # FPN levels the RoI poolers read ('pool' feeds only the RPN)
ANCHOR_SIZES = ((32,), (64,), (128,), (256,), (512,))  # one size per FPN level, pixels
ANCHOR_RATIOS = ((0.5, 1.0, 2.0),) * len(ANCHOR_SIZES)
MASK_ROI_SIZE = 14  # side of the mask (and embedding) RoI features
GROUP_NORM_GROUPS = 32  # groups of the "group_norm" backbone (fewer where a layer has fewer channels)


class SingleSizeTransform(GeneralizedRCNNTransform):
    """torchvision's transform with its one ``min_size``: in training it takes that size without
    the random pick torchvision makes among several sizes, so torch's global generator is left alone."""

    def torch_choice(self, k: list[int]) -> int:
        if len(k) != 1:
            raise ValueError(f"expected one min_size, got {list(k)}")
        return k[0]


def build_transform(config: ModelConfig) -> GeneralizedRCNNTransform:
    """Normalise with ImageNet mean/std, resize to min/max size, pad to a multiple of 32."""
    return SingleSizeTransform(config.min_size, config.max_size, list(IMAGENET_MEAN), list(IMAGENET_STD))


def build_backbone(config: ModelConfig) -> BackboneWithFPN:
    """ResNet + FPN, outputs '0'..'3' and 'pool', ``config.fpn_channels`` (256) channels each.

    The ResNet's normalisation is ``config.backbone_norm``: "frozen_bn" (torchvision's
    FrozenBatchNorm2d, what COCO/ImageNet weights expect; an identity until weights are loaded)
    or "group_norm" (trainable GroupNorm, see ``group_norm``; for training from scratch). The
    first ``5 - config.trainable_backbone_layers`` stages are frozen either way.
    """
    backbone = resnet_fpn_backbone(
        backbone_name=config.backbone,
        weights=None,
        norm_layer=backbone_norm_layer(config.backbone_norm),
        trainable_layers=config.trainable_backbone_layers,
    )
    if config.fpn_channels != backbone.out_channels:  # torchvision's builder fixes 256: swap in a narrower FPN
        in_channels = [block.in_channels for block in backbone.fpn.inner_blocks.modules() if isinstance(block, nn.Conv2d)]
        backbone.fpn = FeaturePyramidNetwork(in_channels, config.fpn_channels, extra_blocks=LastLevelMaxPool())
        backbone.out_channels = config.fpn_channels
    return backbone


def backbone_norm_layer(name: str) -> Callable[[int], nn.Module]:
    """The ``norm_layer`` torchvision's ResNet builders take for a ``ModelConfig.backbone_norm`` name."""
    layers = {"frozen_bn": FrozenBatchNorm2d, "group_norm": group_norm}
    if name not in layers:
        raise ValueError(f"unknown backbone norm {name!r}; expected one of {', '.join(layers)}")
    return layers[name]


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm over ``channels`` with 32 groups, or the largest divisor of 32 that divides ``channels``."""
    return nn.GroupNorm(math.gcd(GROUP_NORM_GROUPS, channels), channels)


def build_rpn(config: ModelConfig, channels: int) -> IgnoreAwareRPN:
    """Mask R-CNN's RPN: 3 anchors per location on each FPN level (ignore-region aware in training)."""
    anchors = AnchorGenerator(ANCHOR_SIZES, ANCHOR_RATIOS)
    rpn = IgnoreAwareRPN(
        anchors,
        RPNHead(channels, anchors.num_anchors_per_location()[0]),
        fg_iou_thresh=0.7,
        bg_iou_thresh=0.3,
        batch_size_per_image=256,
        positive_fraction=0.5,
        pre_nms_top_n={"training": config.rpn_pre_nms_top_n_train, "testing": config.rpn_pre_nms_top_n_test},
        post_nms_top_n={"training": config.rpn_post_nms_top_n_train, "testing": config.rpn_post_nms_top_n_test},
        nms_thresh=0.7,
    )
    rpn.fg_bg_sampler = SeededBalancedSampler(256, 0.5)
    return rpn


def build_roi_heads(config: ModelConfig, channels: int) -> IgnoreAwareRoIHeads:
    """Mask R-CNN's box and mask heads over ``config.num_classes`` labels (ignore-region aware in training)."""
    box_pool = MultiScaleRoIAlign(featmap_names=list(ROI_LEVELS), output_size=7, sampling_ratio=2)
    heads = IgnoreAwareRoIHeads(
        box_pool,
        TwoMLPHead(channels * 7**2, config.box_head_dim),
        FastRCNNPredictor(config.box_head_dim, config.num_classes),
        fg_iou_thresh=0.5,
        bg_iou_thresh=0.5,
        batch_size_per_image=config.box_batch_size_per_image,
        positive_fraction=0.25,
        bbox_reg_weights=None,
        score_thresh=config.box_score_thresh,
        nms_thresh=config.box_nms_thresh,
        detections_per_img=config.box_detections_per_img,
        mask_roi_pool=MultiScaleRoIAlign(featmap_names=list(ROI_LEVELS), output_size=MASK_ROI_SIZE, sampling_ratio=2),
        mask_head=MaskRCNNHeads(channels, [config.head_channels] * 4, 1),
        mask_predictor=MaskRCNNPredictor(config.head_channels, config.head_channels, config.num_classes),
    )
    heads.fg_bg_sampler = SeededBalancedSampler(config.box_batch_size_per_image, 0.25)
    return heads
