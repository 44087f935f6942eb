"""torchvision Mask R-CNN parts, composed with torchvision's own defaults.

Each builder returns a fresh torchvision module configured from a ``ModelConfig``; the
hyper-parameters not in the config are Mask R-CNN's (torchvision ``MaskRCNN.__init__``), so
the module names and shapes match ``maskrcnn_resnet50_fpn`` and its COCO weights load by name.
No weights are downloaded here: the backbone starts random (``--weights coco`` or a DIOR
checkpoint fills it).
"""

from __future__ import annotations

from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign

from dior_cli.model.config import ModelConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ROI_LEVELS = ("0", "1", "2", "3")  # FPN levels the RoI poolers read ('pool' feeds only the RPN)
ANCHOR_SIZES = ((32,), (64,), (128,), (256,), (512,))  # one size per FPN level, pixels
ANCHOR_RATIOS = ((0.5, 1.0, 2.0),) * len(ANCHOR_SIZES)
MASK_ROI_SIZE = 14  # side of the mask (and embedding) RoI features


def build_transform(config: ModelConfig) -> GeneralizedRCNNTransform:
    """Normalise with ImageNet mean/std, resize to min/max size, pad to a multiple of 32."""
    return GeneralizedRCNNTransform(config.min_size, config.max_size, list(IMAGENET_MEAN), list(IMAGENET_STD))


def build_backbone(config: ModelConfig) -> BackboneWithFPN:
    """ResNet + FPN (frozen BatchNorm), outputs '0'..'3' and 'pool', 256 channels each."""
    return resnet_fpn_backbone(
        backbone_name=config.backbone, weights=None, trainable_layers=config.trainable_backbone_layers
    )


def build_rpn(config: ModelConfig, channels: int) -> RegionProposalNetwork:
    """Mask R-CNN's RPN: 3 anchors per location on each FPN level."""
    anchors = AnchorGenerator(ANCHOR_SIZES, ANCHOR_RATIOS)
    return RegionProposalNetwork(
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


def build_roi_heads(config: ModelConfig, channels: int) -> RoIHeads:
    """Mask R-CNN's box and mask heads over ``config.num_classes`` labels."""
    box_pool = MultiScaleRoIAlign(featmap_names=list(ROI_LEVELS), output_size=7, sampling_ratio=2)
    return RoIHeads(
        box_pool,
        TwoMLPHead(channels * 7**2, 1024),
        FastRCNNPredictor(1024, config.num_classes),
        fg_iou_thresh=0.5,
        bg_iou_thresh=0.5,
        batch_size_per_image=config.box_batch_size_per_image,
        positive_fraction=0.25,
        bbox_reg_weights=None,
        score_thresh=config.box_score_thresh,
        nms_thresh=config.box_nms_thresh,
        detections_per_img=config.box_detections_per_img,
        mask_roi_pool=MultiScaleRoIAlign(featmap_names=list(ROI_LEVELS), output_size=MASK_ROI_SIZE, sampling_ratio=2),
        mask_head=MaskRCNNHeads(channels, [256, 256, 256, 256], 1),
        mask_predictor=MaskRCNNPredictor(256, 256, config.num_classes),
    )
