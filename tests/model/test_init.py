"""dior train --init coco|imagenet|none|PATH: each start, its config checks and its offline errors.

There is no internet here: downloads are made to fail, and the weights files are built with
torchvision's own key names and shapes (torchvision's ResNet / Mask R-CNN with random weights).
"""

from __future__ import annotations


import pytest
import torch
import torchvision

from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.model import coco
from dior_cli.model.checkpoint import save_checkpoint
from dior_cli.model.config import ModelConfig
from dior_cli.model.init import fetch_imagenet_state_dict, imagenet_weights_path, initialise, load_imagenet_state_dict
from dior_cli.model.network import DiorNet
from tests.model.tiny import tiny_config

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's ImageNet ResNet-18 (IMAGENET1K_V1)
RESNET18_URL = "https://download.pytorch.org/models/" + RESNET18_FILE


def state_of(model: DiorNet) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in model.state_dict().items()}


# ------------------------------------------------------------------------------ imagenet


@pytest.fixture(scope="module")
def imagenet_resnet18() -> torchvision.models.ResNet:
    """torchvision's ResNet-18 with BatchNorm statistics that are not the identity (as trained weights have)."""
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for module in resnet.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    return resnet.eval()


def test_imagenet_weights_fill_the_backbone_body_and_compute_torchvisions_features(imagenet_resnet18):
    torch.manual_seed(1)
    model = DiorNet(tiny_config())
    before = state_of(model)
    count = load_imagenet_state_dict(model, imagenet_resnet18.state_dict())
    assert count == len(imagenet_resnet18.state_dict()) - 2 - 20  # all but fc.weight/bias and the 20 BatchNorms' num_batches_tracked
    after = model.state_dict()
    for key in ("conv1.weight", "bn1.running_var", "layer3.1.conv2.weight", "layer4.0.downsample.1.bias"):
        assert torch.equal(after["backbone.body." + key], imagenet_resnet18.state_dict()[key]), key
    assert all(torch.equal(after[key], value) for key, value in before.items() if not key.startswith("backbone.body."))  # FPN and heads untouched
    image = torch.rand(1, 3, 64, 96)
    r = imagenet_resnet18
    with torch.no_grad():
        expected = r.layer4(r.layer3(r.layer2(r.layer1(r.maxpool(r.relu(r.bn1(r.conv1(image))))))))  # (1, 512, 2, 3)
        got = model.backbone.body(image)["3"]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_imagenet_init_downloads_through_the_torch_cache(empty_hub, imagenet_resnet18):
    path = imagenet_weights_path("resnet18")
    assert path == empty_hub / "hub" / "checkpoints" / RESNET18_FILE
    path.parent.mkdir(parents=True)
    torch.save(imagenet_resnet18.state_dict(), path)  # as if torchvision had downloaded it
    model = DiorNet(tiny_config())
    note = initialise(model, "imagenet")
    assert "ImageNet" in note and "resnet18" in note
    assert torch.equal(model.state_dict()["backbone.body.layer2.0.conv1.weight"], imagenet_resnet18.state_dict()["layer2.0.conv1.weight"])


def test_imagenet_offline_names_the_url_and_the_cache_file(empty_hub):
    with pytest.raises(InputNotFound) as caught:
        initialise(DiorNet(tiny_config()), "imagenet")
    message = str(caught.value)
    assert RESNET18_URL in message and str(empty_hub / "hub" / "checkpoints" / RESNET18_FILE) in message
    assert imagenet_weights_path("resnet50").name == "resnet50-0676ba61.pth"  # ResNet50_Weights.IMAGENET1K_V1's file


def test_imagenet_bad_files_and_configs_are_refused(empty_hub, imagenet_resnet18):
    path = imagenet_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a download")
    with pytest.raises(FormatError, match=RESNET18_FILE):
        fetch_imagenet_state_dict("resnet18")
    model = DiorNet(tiny_config())
    before = state_of(model)
    resnet50_like = {key: value for key, value in imagenet_resnet18.state_dict().items() if not key.startswith("layer4.")}
    with pytest.raises(FormatError, match="missing.*layer4"):
        load_imagenet_state_dict(model, resnet50_like)
    assert all(torch.equal(model.state_dict()[key], value) for key, value in before.items())  # untouched
    with pytest.raises(ConfigError, match="backbone_norm=frozen_bn"):
        initialise(DiorNet(tiny_config(backbone_norm="group_norm")), "imagenet")


# ---------------------------------------------------------------------------------- coco


def test_coco_init_loads_the_mapped_coco_weights(monkeypatch):
    coco_state = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91).state_dict()
    monkeypatch.setattr(coco, "fetch_coco_state_dict", lambda progress=False: coco_state)
    model = DiorNet(ModelConfig(embedding_dim=16, embedding_fc_dim=16))
    note = initialise(model, "coco")
    assert "COCO" in note and "untrained" in note
    assert torch.equal(model.state_dict()["rpn.head.conv.0.0.weight"], coco_state["rpn.head.conv.0.0.weight"])
    assert torch.equal(model.state_dict()["roi_heads.box_predictor.cls_score.bias"], coco_state["roi_heads.box_predictor.cls_score.bias"][[0, 3, 1]])  # background, car, person


def test_coco_init_needs_resnet50_with_frozen_batchnorm():
    with pytest.raises(ConfigError, match="resnet50.*frozen_bn.*resnet18"):
        initialise(DiorNet(tiny_config()), "coco")
    with pytest.raises(ConfigError, match="backbone_norm=frozen_bn.*group_norm"):
        initialise(DiorNet(ModelConfig(embedding_dim=16, embedding_fc_dim=16, backbone_norm="group_norm")), "coco")


def test_coco_offline_points_to_the_training_option(empty_hub):
    with pytest.raises(InputNotFound) as caught:
        initialise(DiorNet(ModelConfig(embedding_dim=16, embedding_fc_dim=16)), "coco")
    message = str(caught.value)
    assert "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth" in message and "--init PATH" in message and "--weights" not in message


# ---------------------------------------------------------------------------------- none


def test_none_keeps_the_random_weights_and_recommends_group_norm():
    model = DiorNet(tiny_config(trainable_backbone_layers=5))
    before = state_of(model)
    note = initialise(model, "none")
    assert "scratch" in note and "group_norm is recommended" in note
    assert all(torch.equal(model.state_dict()[key], value) for key, value in before.items())
    assert "recommended" not in initialise(DiorNet(tiny_config(trainable_backbone_layers=5, backbone_norm="group_norm")), "none")


def test_none_refuses_frozen_random_stages():
    with pytest.raises(ConfigError, match="trainable_backbone_layers=5 .it is 3"):
        initialise(DiorNet(tiny_config(backbone_norm="group_norm")), "none")


# ---------------------------------------------------------------------------- checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(4)
    source = DiorNet(tiny_config(box_score_thresh=0.3))
    path = tmp_path_factory.mktemp("init") / "run.pt"
    save_checkpoint(path, source, train_state={"step": 120})
    return source, path


def test_a_checkpoint_with_the_same_config_gives_its_weights(checkpoint):
    source, path = checkpoint
    torch.manual_seed(5)
    model = DiorNet(tiny_config(box_detections_per_img=20))  # inference-only settings may differ
    note = initialise(model, str(path))
    assert str(path) in note and "step 120" in note
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert model.config == tiny_config(box_detections_per_img=20)  # the training's config stays


def test_a_checkpoint_with_another_config_lists_the_differences(checkpoint):
    _, path = checkpoint
    model = DiorNet(tiny_config(num_identities=7, backbone_norm="group_norm"))
    before = state_of(model)
    with pytest.raises(ConfigError) as caught:
        initialise(model, str(path))
    message = str(caught.value)
    assert "num_identities 5 (training: 7)" in message and "backbone_norm 'frozen_bn' (training: 'group_norm')" in message
    assert "box_score_thresh" not in message
    assert all(torch.equal(model.state_dict()[key], value) for key, value in before.items())


def test_missing_or_foreign_checkpoint_files_are_refused(tmp_path):
    with pytest.raises(InputNotFound, match="coco, imagenet, none or a dior checkpoint"):
        initialise(DiorNet(tiny_config()), str(tmp_path / "cocoa"))
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    with pytest.raises(FormatError, match="not a dior checkpoint"):
        initialise(DiorNet(tiny_config()), str(foreign))
