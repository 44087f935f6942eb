"""ModelConfig.backbone_norm: frozen BatchNorm (pretrained weights) or GroupNorm (from scratch)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from dior_cli.errors import ConfigError
from dior_cli.model.checkpoint import load_checkpoint, save_checkpoint
from dior_cli.model.config import ModelConfig
from dior_cli.model.network import DiorNet
from dior_cli.model.parts import group_norm
from tests.model.tiny import make_clip, make_target, tiny_config


def norm_layers(model: DiorNet) -> list[nn.Module]:
    return [m for m in model.backbone.body.modules() if isinstance(m, (nn.GroupNorm, FrozenBatchNorm2d, nn.BatchNorm2d))]


def test_default_is_frozen_batchnorm():
    assert ModelConfig().backbone_norm == "frozen_bn"
    layers = norm_layers(DiorNet(tiny_config()))
    assert len(layers) == 20  # resnet18: bn1 + 4 stages x 2 blocks x 2 + 3 downsample BNs
    assert all(type(m) is FrozenBatchNorm2d for m in layers)


def test_group_norm_replaces_every_backbone_norm_with_32_groups():
    layers = norm_layers(DiorNet(tiny_config(backbone_norm="group_norm")))
    assert len(layers) == 20 and all(type(m) is nn.GroupNorm for m in layers)
    assert {(m.num_groups, m.num_channels) for m in layers} == {(32, 64), (32, 128), (32, 256), (32, 512)}


@pytest.mark.parametrize(("channels", "groups"), [(64, 32), (2048, 32), (16, 16), (48, 16), (24, 8), (3, 1)])
def test_group_norm_uses_fewer_groups_when_channels_are_few(channels, groups):
    layer = group_norm(channels)
    assert (layer.num_groups, layer.num_channels) == (groups, channels)


def test_unknown_norm_is_a_config_error():
    with pytest.raises(ConfigError, match="backbone_norm must be one of frozen_bn, group_norm"):
        ModelConfig(backbone_norm="batch_norm")
    with pytest.raises(ConfigError, match="backbone_norm must be of type"):
        ModelConfig.from_dict({"backbone_norm": 1})


def test_group_norm_from_scratch_trains_every_backbone_stage():
    torch.manual_seed(0)
    model = DiorNet(tiny_config(backbone_norm="group_norm", trainable_backbone_layers=5)).train()
    assert all(p.requires_grad for p in model.backbone.parameters())
    target = make_target([[10, 20, 60, 100], [80, 30, 150, 110]], labels=[1, 2], identities=[0, 3])
    sum(model([make_clip(1)], [target]).values()).backward()
    for name in ("conv1.weight", "bn1.weight", "layer1.0.bn1.bias", "layer4.1.conv2.weight"):
        grad = dict(model.backbone.body.named_parameters())[name].grad
        assert grad is not None and bool(grad.abs().sum() > 0), name


@pytest.mark.parametrize(("norm", "expected"), [("frozen_bn", {"conv1", "layer1"}), ("group_norm", {"conv1", "bn1", "layer1"})])  # FrozenBN has no parameters
def test_fewer_trainable_layers_freeze_the_first_stages_with_either_norm(norm, expected):
    body = DiorNet(tiny_config(backbone_norm=norm, trainable_backbone_layers=3)).backbone.body
    frozen = {name.split(".")[0] for name, p in body.named_parameters() if not p.requires_grad}
    assert frozen == expected


def test_group_norm_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = DiorNet(tiny_config(backbone_norm="group_norm"))
    with torch.no_grad():
        model.backbone.body.bn1.weight.mul_(3.0)
    loaded, meta = load_checkpoint(save_checkpoint(tmp_path / "gn.pt", model))
    assert meta["model_config"]["backbone_norm"] == "group_norm" and loaded.config == model.config
    assert torch.equal(loaded.backbone.body.bn1.weight, model.backbone.body.bn1.weight)


def test_a_checkpoint_written_before_backbone_norm_existed_still_loads(tmp_path):
    torch.manual_seed(2)
    model = DiorNet(tiny_config())
    path = save_checkpoint(tmp_path / "new.pt", model)
    payload = torch.load(path, weights_only=True)
    del payload["model_config"]["backbone_norm"]  # what an older dior wrote
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    loaded, meta = load_checkpoint(old)
    assert "backbone_norm" not in meta["model_config"]
    assert loaded.config.backbone_norm == "frozen_bn" and loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
