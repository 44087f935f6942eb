"""``--weights coco``: start DiorNet from torchvision's COCO ``maskrcnn_resnet50_fpn``.

Backbone, FPN, RPN, box head and mask head copy by name (DiorNet uses torchvision's module
names). The class-specific outputs (91 COCO categories) are cut to DiorNet's labels::

    label 0 background <- COCO 0,  label 1 car <- COCO 3 (car),  label 2 pedestrian <- COCO 1 (person)

for ``roi_heads.box_predictor.cls_score`` (one row per class), ``...bbox_pred`` (four rows per
class) and ``roi_heads.mask_predictor.mask_fcn_logits`` (one channel per class). Temporal
attention is set to its identity start (so detections equal COCO Mask R-CNN's) and the
embedding head keeps its fresh initialisation: appearance embeddings are untrained.

The file is torchvision's own: ``<torch hub dir>/checkpoints/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth``,
downloaded by torchvision on first use when the machine is online.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.model.network import DiorNet

COCO_WEIGHTS_URL = MaskRCNN_ResNet50_FPN_Weights.COCO_V1.url
COCO_NUM_CLASSES = 91
COCO_IDS_BY_LABEL = (0, 3, 1)  # DiorNet label -> COCO category id: background, car, person
ROWS_PER_CLASS = {  # class-specific tensors -> rows per class along dim 0
    "roi_heads.box_predictor.cls_score.weight": 1,
    "roi_heads.box_predictor.cls_score.bias": 1,
    "roi_heads.box_predictor.bbox_pred.weight": 4,
    "roi_heads.box_predictor.bbox_pred.bias": 4,
    "roi_heads.mask_predictor.mask_fcn_logits.weight": 1,
    "roi_heads.mask_predictor.mask_fcn_logits.bias": 1,
}
NEW_MODULES = ("temporal.", "embedding_head.")  # DiorNet's own modules, absent from Mask R-CNN
UNTRAINED_NOTE = "appearance embeddings are untrained (COCO has no embedding head); train before relying on re-identification"


@dataclass(frozen=True)
class CocoLoadReport:
    """What ``load_coco_state_dict`` did.

    Attributes:
        loaded: DiorNet keys filled from the COCO weights.
        sliced: of those, the class-specific keys cut to (background, car, person).
        new_keys: DiorNet keys with no COCO counterpart (temporal attention, embedding head),
            left at their initialisation.
        ignored: COCO keys without meaning here (BatchNorm batch counters of an unfrozen backbone).
        note: what the user should know about the resulting model.
    """

    loaded: tuple[str, ...]
    sliced: tuple[str, ...]
    new_keys: tuple[str, ...]
    ignored: tuple[str, ...]
    note: str = UNTRAINED_NOTE


def coco_file_name() -> str:
    """torchvision's file name for the COCO Mask R-CNN weights."""
    return os.path.basename(urlparse(COCO_WEIGHTS_URL).path)


def coco_weights_path() -> Path:
    """Where torchvision caches the COCO weights: ``<torch.hub.get_dir()>/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / coco_file_name()


def fetch_coco_state_dict(progress: bool = False) -> dict[str, Tensor]:
    """The COCO state dict from the torch cache, downloading it (torchvision's way) if absent.

    Raises:
        InputNotFound: not cached and the download failed (e.g. offline); the message names
            the file, its place in the cache and ``--weights PATH``.
        FormatError: the cached file cannot be read.
    """
    path = coco_weights_path()
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file
            raise FormatError(f"cached COCO weights cannot be read ({type(exc).__name__}); delete the file to download it again", path=path) from None
    try:
        return torch.hub.load_state_dict_from_url(
            COCO_WEIGHTS_URL, model_dir=str(path.parent), map_location="cpu", progress=progress, check_hash=True, weights_only=True
        )
    except Exception as exc:  # URLError/OSError offline, RuntimeError on a hash mismatch
        raise InputNotFound(
            f"COCO weights {coco_file_name()} are not in the torch cache and could not be downloaded "
            f"({type(exc).__name__}: {exc}); copy the file to this place (from {COCO_WEIGHTS_URL}) "
            "or pass a DIOR checkpoint with --weights PATH",
            path=path,
        ) from None


def load_coco_weights(model: DiorNet, progress: bool = False) -> CocoLoadReport:
    """``fetch_coco_state_dict`` then ``load_coco_state_dict``."""
    return load_coco_state_dict(model, fetch_coco_state_dict(progress))


def load_coco_state_dict(model: DiorNet, state_dict: dict[str, Tensor]) -> CocoLoadReport:
    """Load torchvision COCO Mask R-CNN weights into a resnet50 DiorNet (see module docstring).

    The model is checked before anything is copied: a missing, unexpected or misshapen key
    (other than DiorNet's own new modules) raises ``FormatError`` and leaves it untouched.
    """
    if model.config.backbone != "resnet50":
        raise ConfigError(f"--weights coco needs backbone resnet50, the model has {model.config.backbone}")
    mapped = {key: _cut_classes(key, value) if key in ROWS_PER_CLASS else value for key, value in state_dict.items()}
    own = model.state_dict()
    ignored = tuple(key for key in mapped if key not in own and key.endswith(".num_batches_tracked"))
    for key in ignored:
        del mapped[key]
    new_keys = tuple(key for key in own if key.startswith(NEW_MODULES))
    missing = [key for key in own if key not in mapped and not key.startswith(NEW_MODULES)]
    unexpected = [key for key in mapped if key not in own or key.startswith(NEW_MODULES)]
    wrong = [key for key in mapped if key in own and tuple(mapped[key].shape) != tuple(own[key].shape)]
    if missing or unexpected or wrong:
        raise FormatError(
            f"not torchvision's COCO maskrcnn_resnet50_fpn weights: missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}"
        )
    model.load_state_dict(mapped, strict=False)
    for level in model.temporal.levels.values():
        level.reset_to_identity()
    return CocoLoadReport(
        loaded=tuple(mapped),
        sliced=tuple(key for key in mapped if key in ROWS_PER_CLASS),
        new_keys=new_keys,
        ignored=ignored,
    )


def _cut_classes(key: str, value: Tensor) -> Tensor:
    """Keep the rows of (background, car, person) in DiorNet's label order."""
    rows = ROWS_PER_CLASS[key]
    if value.shape[0] != COCO_NUM_CLASSES * rows:
        raise FormatError(f"{key}: expected {COCO_NUM_CLASSES * rows} rows (91 COCO classes), got {value.shape[0]}")
    per_class = value.unflatten(0, (COCO_NUM_CLASSES, rows))  # (91, rows, ...)
    return per_class[list(COCO_IDS_BY_LABEL)].flatten(0, 1).clone()  # (3 * rows, ...)
