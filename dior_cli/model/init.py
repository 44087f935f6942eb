"""``dior train --init coco|imagenet|none|PATH``: the weights a training run starts from.

- ``coco``: torchvision's COCO Mask R-CNN (``dior_cli.model.coco``; the paper's start). Needs
  backbone resnet50 with ``backbone_norm`` "frozen_bn".
- ``imagenet``: torchvision's ImageNet ResNet (``IMAGENET1K_V1`` of the config's backbone) for
  the backbone body only (``backbone.body.*``; its ``fc`` classifier is dropped); FPN, RPN,
  heads, temporal attention and embedding head keep their random initialisation. Needs
  ``backbone_norm`` "frozen_bn" (the weights carry BatchNorm statistics).
- ``none``: the model's random initialisation, training from scratch. Needs
  ``trainable_backbone_layers`` 5 (frozen random stages would never learn); "group_norm" is
  recommended (with "frozen_bn" the backbone has no normalisation at all).
- anything else: a DIOR checkpoint file whose ``model_config`` equals the training's, except
  the inference-only settings in ``INFERENCE_ONLY_KEYS``; its weights are copied, its training
  state is not (that is ``--resume``'s job).

Downloads go to torchvision's cache, ``<torch.hub.get_dir()>/checkpoints/<file>``; offline, a
missing file is an ``InputNotFound`` naming the URL and the place to copy it to.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor
from torchvision.models import ResNet18_Weights, ResNet50_Weights

from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.model.network import DiorNet

INIT_CHOICES = ("coco", "imagenet", "none")  # anything else is a checkpoint path
IMAGENET_WEIGHTS = {"resnet18": ResNet18_Weights.IMAGENET1K_V1, "resnet50": ResNet50_Weights.IMAGENET1K_V1}
IMAGENET_DROPPED = ("fc.weight", "fc.bias")  # the ImageNet classifier, absent from the FPN backbone body
INFERENCE_ONLY_KEYS = frozenset({"box_score_thresh", "box_nms_thresh", "box_detections_per_img", "rpn_pre_nms_top_n_test", "rpn_post_nms_top_n_test"})
"""Config keys a checkpoint given to ``--init PATH`` may differ in: they only filter detections at inference."""
BODY_PREFIX = "backbone.body."


def initialise(model: DiorNet, init: str) -> str:
    """Fill ``model`` (freshly built from the training config) with the ``init`` weights.

    Args:
        model: the model to train; its ``config`` is the training's.
        init: "coco", "imagenet", "none" or the path of a DIOR checkpoint.

    Returns:
        A one-line note for the user: where the weights came from and what stays untrained.

    Raises:
        ConfigError: the config does not suit ``init`` (see the module docstring).
        InputNotFound: weights not cached and not downloadable, or no such checkpoint file.
        FormatError: a cached or given file that does not hold the expected weights.
    """
    if init == "coco":
        return _init_coco(model)
    if init == "imagenet":
        return _init_imagenet(model)
    if init == "none":
        return _init_none(model)
    return _init_checkpoint(model, Path(init))


# ------------------------------------------------------------------------------- coco


def _init_coco(model: DiorNet) -> str:
    from dior_cli.model.coco import fetch_coco_state_dict, load_coco_state_dict

    config = model.config
    if config.backbone != "resnet50" or config.backbone_norm != "frozen_bn":
        raise ConfigError(
            f"--init coco needs model.backbone=resnet50 and model.backbone_norm=frozen_bn (the COCO weights' layers), "
            f"the training config has {config.backbone} with {config.backbone_norm}; use --init imagenet or --init none instead"
        )
    try:
        state_dict = fetch_coco_state_dict()
    except InputNotFound as exc:  # its advice names dior infer's option; training's is --init
        raise InputNotFound(exc.message.replace("--weights PATH", "--init PATH"), path=exc.path) from None
    report = load_coco_state_dict(model, state_dict)
    return f"started from torchvision's COCO Mask R-CNN ({len(report.loaded)} tensors; car/person rows for labels 1/2); {report.note}"


# --------------------------------------------------------------------------- imagenet


def imagenet_url(backbone: str) -> str:
    """torchvision's URL of the ImageNet weights (IMAGENET1K_V1) of ``backbone``."""
    return IMAGENET_WEIGHTS[backbone].url


def imagenet_weights_path(backbone: str) -> Path:
    """Where torchvision caches them: ``<torch.hub.get_dir()>/checkpoints/<file of the URL>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(imagenet_url(backbone)).path)


def fetch_imagenet_state_dict(backbone: str, progress: bool = False) -> dict[str, Tensor]:
    """The ImageNet ResNet state dict from the torch cache, downloading it (torchvision's way) if absent.

    Raises:
        InputNotFound: not cached and the download failed (e.g. offline); names URL and cache file.
        FormatError: the cached file cannot be read.
    """
    path = imagenet_weights_path(backbone)
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch.load raises many kinds (zip, pickle, EOF) for a truncated or foreign file
            raise FormatError(f"cached ImageNet weights cannot be read ({type(exc).__name__}); delete the file to download it again", path=path) from None
    url = imagenet_url(backbone)
    try:
        return torch.hub.load_state_dict_from_url(url, model_dir=str(path.parent), map_location="cpu", progress=progress, check_hash=True, weights_only=True)
    except Exception as exc:  # URLError/OSError offline, RuntimeError on a hash mismatch
        raise InputNotFound(
            f"ImageNet {backbone} weights are not in the torch cache and could not be downloaded ({type(exc).__name__}: {exc}); "
            f"download {url} and copy it to this place, or use --init none",
            path=path,
        ) from None


def load_imagenet_state_dict(model: DiorNet, state_dict: dict[str, Tensor]) -> int:
    """Copy an ImageNet ResNet state dict into ``model.backbone.body``; returns the tensors copied.

    The classifier (``fc.*``) and BatchNorm batch counters are dropped. Every other key must map
    onto a body key of the same shape, and every body key must be filled; otherwise a
    ``FormatError`` is raised and the model is left untouched.
    """
    _require_frozen_bn(model, "imagenet")
    body = {key[len(BODY_PREFIX) :]: value for key, value in model.state_dict().items() if key.startswith(BODY_PREFIX)}
    kept = {key: value for key, value in state_dict.items() if key not in IMAGENET_DROPPED and not key.endswith(".num_batches_tracked")}
    missing = [key for key in body if key not in kept]
    unexpected = [key for key in kept if key not in body]
    wrong = [key for key in kept if key in body and tuple(kept[key].shape) != tuple(body[key].shape)]
    if missing or unexpected or wrong:
        raise FormatError(f"not torchvision's ImageNet {model.config.backbone} weights: missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}")
    model.backbone.body.load_state_dict(kept)
    return len(kept)


def _init_imagenet(model: DiorNet) -> str:
    _require_frozen_bn(model, "imagenet")
    count = load_imagenet_state_dict(model, fetch_imagenet_state_dict(model.config.backbone))
    return f"started the {model.config.backbone} backbone from torchvision's ImageNet weights ({count} tensors); FPN, RPN, box/mask heads and embedding head are random"


def _require_frozen_bn(model: DiorNet, init: str) -> None:
    if model.config.backbone_norm != "frozen_bn":
        raise ConfigError(f"--init {init} needs model.backbone_norm=frozen_bn (the weights carry BatchNorm statistics), the training config has {model.config.backbone_norm}")


# ------------------------------------------------------------------------------- none


def _init_none(model: DiorNet) -> str:
    layers = model.config.trainable_backbone_layers
    if layers != 5:
        raise ConfigError(f"--init none trains from scratch: set model.trainable_backbone_layers=5 (it is {layers}; frozen random backbone stages would never learn)")
    if model.config.backbone_norm == "frozen_bn":
        return "training from scratch (random weights); the backbone has no normalisation (frozen_bn is an identity without weights): model.backbone_norm=group_norm is recommended"
    return "training from scratch (random weights, GroupNorm backbone)"


# ------------------------------------------------------------------------- checkpoint


def _init_checkpoint(model: DiorNet, path: Path) -> str:
    from dior_cli.model.checkpoint import load_checkpoint

    if not path.is_file():
        raise InputNotFound(f"--init takes {', '.join(INIT_CHOICES)} or a dior checkpoint file, and this file does not exist", path=path)
    source, meta = load_checkpoint(path)
    ours, theirs = model.config.to_dict(), source.config.to_dict()
    differences = [f"{key} {theirs[key]!r} (training: {ours[key]!r})" for key in ours if key not in INFERENCE_ONLY_KEYS and ours[key] != theirs[key]]
    if differences:
        raise ConfigError(f"--init {path}: the checkpoint's model config differs from the training's: {'; '.join(differences)}")
    model.load_state_dict(source.state_dict())
    step = (meta.get("train_state") or {}).get("step")
    return f"started from the weights of {path}" + ("" if step is None else f" (step {step}; optimizer state not taken: use --resume to continue a run)")
