"""The DIOR network: torchvision Mask R-CNN parts composed with temporal attention (TA) on
the FPN and a spatial-attention (SA) embedding head; checkpoints and COCO weight mapping.

Importing this package imports torch; stages that must start fast import it lazily.
"""

from dior_cli.model.checkpoint import load_checkpoint, save_checkpoint, sha256_of
from dior_cli.model.coco import coco_weights_path, fetch_coco_state_dict, load_coco_state_dict, load_coco_weights
from dior_cli.model.config import LABEL_TO_CLASS, ModelConfig
from dior_cli.model.network import DiorNet, FrameFeatures

__all__ = [
    "LABEL_TO_CLASS",
    "DiorNet",
    "FrameFeatures",
    "ModelConfig",
    "coco_weights_path",
    "fetch_coco_state_dict",
    "load_checkpoint",
    "load_coco_state_dict",
    "load_coco_weights",
    "save_checkpoint",
    "sha256_of",
]
