"""--weights coco: torchvision's COCO Mask R-CNN keys map into DiorNet; offline gives InputNotFound."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.model import coco
from dior_cli.model.config import ModelConfig
from dior_cli.model.network import DiorNet
from tests.model.tiny import tiny_config

FILE_NAME = "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
COCO_PERSON, COCO_CAR = 1, 3


@pytest.fixture(scope="module")
def coco_like_state() -> dict[str, torch.Tensor]:
    """torchvision's key names and shapes, with class rows filled with their COCO id."""
    state = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91).state_dict()
    with torch.no_grad():
        for c in range(91):
            state["roi_heads.box_predictor.cls_score.weight"][c] = c
            state["roi_heads.box_predictor.cls_score.bias"][c] = 1000 + c
            for j in range(4):
                state["roi_heads.box_predictor.bbox_pred.weight"][4 * c + j] = c + j / 10
                state["roi_heads.box_predictor.bbox_pred.bias"][4 * c + j] = 1000 + c + j / 10
            state["roi_heads.mask_predictor.mask_fcn_logits.weight"][c] = c
            state["roi_heads.mask_predictor.mask_fcn_logits.bias"][c] = 1000 + c
    return state


def small_resnet50() -> DiorNet:
    return DiorNet(ModelConfig(embedding_dim=16, embedding_fc_dim=16))


def test_weights_path_is_torchvisions_cache_file():
    assert torchvision.models.detection.MaskRCNN_ResNet50_FPN_Weights.COCO_V1.url.endswith("/" + FILE_NAME)
    assert coco.coco_weights_path() == Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME


def test_coco_keys_load_and_car_person_rows_land_on_labels_1_2(coco_like_state):
    model = small_resnet50()
    report = coco.load_coco_state_dict(model, coco_like_state)
    own = model.state_dict()
    assert set(report.new_keys) == {key for key in own if key.startswith(("temporal.", "embedding_head."))}
    assert any(k.startswith("temporal.") for k in report.new_keys) and any(k.startswith("embedding_head.") for k in report.new_keys)
    assert set(report.loaded) | set(report.new_keys) == set(own)  # nothing else missing
    assert all(key.endswith("num_batches_tracked") for key in report.ignored)  # nothing else unexpected
    assert "untrained" in report.note
    assert len(report.sliced) == 6

    order = torch.tensor([0, COCO_CAR, COCO_PERSON], dtype=torch.float32)  # labels 0 bg, 1 car, 2 pedestrian
    torch.testing.assert_close(own["roi_heads.box_predictor.cls_score.weight"][:, 0], order)
    torch.testing.assert_close(own["roi_heads.box_predictor.cls_score.bias"], 1000 + order)
    bbox = own["roi_heads.box_predictor.bbox_pred.weight"][:, 0].reshape(3, 4)
    torch.testing.assert_close(bbox, order[:, None] + torch.arange(4) / 10)
    torch.testing.assert_close(own["roi_heads.box_predictor.bbox_pred.bias"].reshape(3, 4), 1000 + order[:, None] + torch.arange(4) / 10)
    torch.testing.assert_close(own["roi_heads.mask_predictor.mask_fcn_logits.weight"][:, 0, 0, 0], order)
    torch.testing.assert_close(own["roi_heads.mask_predictor.mask_fcn_logits.bias"], 1000 + order)
    for key in ("backbone.body.layer4.2.conv3.weight", "backbone.fpn.layer_blocks.3.0.weight", "rpn.head.cls_logits.weight", "roi_heads.mask_head.3.0.weight"):
        assert torch.equal(own[key], coco_like_state[key]), key
    features = torch.randn(1, 256, 3, 4, 4)
    assert torch.equal(model.temporal.levels["2"](features)[0], features[:, :, 1])  # TA still at its identity start


def test_wrong_state_or_backbone_is_refused(coco_like_state):
    model = small_resnet50()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    partial = {key: value for key, value in coco_like_state.items() if not key.startswith("rpn.")}
    with pytest.raises(FormatError, match="missing"):
        coco.load_coco_state_dict(model, partial)
    assert all(torch.equal(model.state_dict()[key], value) for key, value in before.items())  # untouched
    with pytest.raises(ConfigError, match="resnet50"):
        coco.load_coco_state_dict(DiorNet(tiny_config()), coco_like_state)


def test_offline_without_the_file_is_input_not_found_naming_file_and_option(empty_hub):
    with pytest.raises(InputNotFound) as caught:
        coco.fetch_coco_state_dict()
    message = str(caught.value)
    assert FILE_NAME in message and "--weights PATH" in message
    assert str(empty_hub / "hub" / "checkpoints") in message
    assert not (empty_hub / "hub" / "checkpoints" / FILE_NAME).exists()


def test_a_cached_file_is_used_without_downloading(empty_hub):
    path = coco.coco_weights_path()
    path.parent.mkdir(parents=True)
    torch.save({"rpn.head.conv.0.0.bias": torch.arange(3.0)}, path)
    state = coco.fetch_coco_state_dict()
    assert torch.equal(state["rpn.head.conv.0.0.bias"], torch.arange(3.0))
    path.write_bytes(b"half a download")
    with pytest.raises(FormatError, match=FILE_NAME):
        coco.fetch_coco_state_dict()
