"""DiorNet on tiny inputs: training losses, empty frames, equality with torchvision's Mask R-CNN
at the TA identity start, and the streaming API against a per-window reference computed from the
network's parts (``tests/model/window_reference.py``) with TA active."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

from dior_cli.errors import ConfigError
from dior_cli.model.network import DiorNet
from tests.model.tiny import HEIGHT, WIDTH, empty_target, make_clip, make_target, tiny_config
from tests.model.window_reference import activate_temporal_attention, reference_detect

LOSSES = {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg", "loss_emb"}
DETECTION_KEYS = ("boxes", "labels", "scores", "masks")


@pytest.fixture(scope="module")
def model() -> DiorNet:
    torch.manual_seed(0)
    return DiorNet(tiny_config())


def two_objects() -> dict:
    return make_target([[10, 20, 60, 100], [80, 30, 150, 110]], labels=[1, 2], identities=[0, 3])


def test_training_returns_finite_losses_and_backpropagates(model):
    model.train()
    model.zero_grad()
    losses = model([make_clip(1)], [two_objects()])
    assert set(losses) == LOSSES
    assert all(math.isfinite(value.item()) for value in losses.values())
    assert losses["loss_emb"].item() > 0
    sum(losses.values()).backward()
    for name, module in [("TA", model.temporal.levels["0"].w2), ("embedding", model.embedding_head.fc[1]), ("identity", model.embedding_head.identity_classifier)]:
        assert module.weight.grad is not None and bool(module.weight.grad.abs().sum() > 0), name


def test_a_frame_without_objects_gives_zero_box_mask_and_embedding_losses(model):
    model.train()
    model.zero_grad()
    losses = model([make_clip(2)], [empty_target()])
    for key in ("loss_box_reg", "loss_mask", "loss_emb"):
        assert losses[key].item() == 0.0, key
    assert all(value.grad_fn is not None for value in losses.values())
    sum(losses.values()).backward()


def test_a_batch_mixing_empty_and_unlabelled_frames_trains(model):
    model.train()
    unlabelled = make_target([[5, 5, 70, 90]], labels=[2], identities=[-1])
    losses = model([make_clip(3), make_clip(4)], [empty_target(), unlabelled])
    assert losses["loss_emb"].item() == 0.0  # no RoI with a known identity
    assert losses["loss_mask"].item() > 0
    sum(losses.values()).backward()


def test_training_puts_frame_t_at_the_centre(model):
    """At the TA identity start the RPN must see exactly frame t's FPN features."""
    seen = {}
    handle = model.rpn.register_forward_pre_hook(lambda _module, args: seen.update(features=args[1]))
    clip = make_clip(14)
    try:
        model.train()
        model([clip], [two_objects()])
    finally:
        handle.remove()
    model.eval()
    with torch.no_grad():
        expected = model.encode([clip[1]])[0].features
    for name, level in expected.items():
        torch.testing.assert_close(seen["features"][name].detach(), level, atol=1e-4, rtol=1e-4)


def test_bad_inputs_are_refused(model):
    model.train()
    with pytest.raises(ValueError, match="clip 0"):
        model([torch.rand(3, HEIGHT, WIDTH)], [empty_target()])
    with pytest.raises(ValueError, match="one target dict per clip"):
        model([make_clip()])
    bad = two_objects()
    bad["labels"] = torch.tensor([1, 3])
    with pytest.raises(ValueError, match="labels"):
        model([make_clip()], [bad])


def torchvision_twin(model: DiorNet) -> MaskRCNN:
    """Plain torchvision Mask R-CNN with DiorNet's config and its shared weights."""
    config = model.config
    reference = MaskRCNN(
        resnet_fpn_backbone(backbone_name=config.backbone, weights=None, trainable_layers=config.trainable_backbone_layers),
        num_classes=config.num_classes,
        min_size=config.min_size,
        max_size=config.max_size,
        box_score_thresh=config.box_score_thresh,
        box_nms_thresh=config.box_nms_thresh,
        box_detections_per_img=config.box_detections_per_img,
        rpn_pre_nms_top_n_test=config.rpn_pre_nms_top_n_test,
        rpn_post_nms_top_n_test=config.rpn_post_nms_top_n_test,
    )
    result = reference.load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == []
    assert {key.split(".")[0] for key in result.unexpected_keys} == {"temporal", "embedding_head"}
    return reference.eval()


@pytest.fixture(scope="module")
def active_model() -> DiorNet:
    """A tiny DiorNet whose TA mixes in the neighbours (see ``tests.model.window_reference``)."""
    torch.manual_seed(0)
    return activate_temporal_attention(DiorNet(tiny_config()), seed=1).eval()


def count_backbone_frames(model: DiorNet) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    """``(calls, handle)``: ``calls`` grows by the batch size of every backbone call until ``handle.remove()``."""
    calls: list[int] = []
    handle = model.backbone.register_forward_pre_hook(lambda _module, args: calls.append(int(args[0].shape[0])))
    return calls, handle


@pytest.fixture(scope="module")
def eval_run(active_model) -> dict:
    """One clip through the streaming API, with the backbone frames of each phase."""
    model = active_model
    clip = make_clip(5)
    calls, handle = count_backbone_frames(model)
    try:
        with torch.no_grad():
            frames = [model.encode([frame])[0] for frame in clip]
            encoded = sum(calls)
            streamed = model.detect(*frames)
            detected = sum(calls) - encoded
            batch = model([clip])[0]
            forwarded = sum(calls) - encoded - detected
    finally:
        handle.remove()
    return {"clip": clip, "frames": frames, "streamed": streamed, "batch": batch, "counts": (encoded, detected, forwarded)}


def test_at_the_identity_start_detections_equal_torchvision_mask_rcnn(model):
    reference = torchvision_twin(model)
    clip = make_clip(5)
    model.eval()
    with torch.no_grad():
        theirs = reference([clip[1]])[0]
        ours = model([clip])[0]
    assert ours["boxes"].shape[0] > 0  # score threshold 0: random weights still detect
    for key in DETECTION_KEYS:
        assert torch.equal(ours[key], theirs[key]), key


def test_streaming_encodes_each_frame_once_and_matches_the_per_window_reference(active_model, eval_run):
    assert eval_run["counts"] == (3, 0, 3)  # detect never runs the backbone; eval forward encodes each frame once
    expected = reference_detect(active_model, eval_run["clip"])
    assert expected["boxes"].shape[0] > 0
    for key in (*DETECTION_KEYS, "embeddings"):
        torch.testing.assert_close(eval_run["streamed"][key], expected[key], atol=1e-4, rtol=1e-4, msg=key)
        torch.testing.assert_close(eval_run["batch"][key], expected[key], atol=1e-4, rtol=1e-4, msg=key)


def test_the_neighbours_matter_once_ta_is_active(active_model, eval_run):
    """With the frames in another order the window is another one: the reference would notice a mix-up."""
    clip = eval_run["clip"]
    swapped = reference_detect(active_model, clip[[0, 1, 0]])
    assert not torch.allclose(swapped["scores"], eval_run["streamed"]["scores"], atol=1e-3)


def test_eval_outputs_are_in_original_coordinates_with_unit_embeddings(eval_run):
    out = eval_run["streamed"]
    k = out["boxes"].shape[0]
    assert out["masks"].shape == (k, 1, HEIGHT, WIDTH) and out["embeddings"].shape == (k, 32)
    assert bool((out["boxes"][:, [0, 2]] <= WIDTH).all() and (out["boxes"][:, [1, 3]] <= HEIGHT).all())
    assert bool(((out["masks"] >= 0) & (out["masks"] <= 1)).all())
    torch.testing.assert_close(out["embeddings"].norm(dim=1), torch.ones(k))
    assert out["labels"].dtype == torch.int64 and bool(((out["labels"] >= 1) & (out["labels"] <= 2)).all())


def test_embeddings_are_those_of_the_final_boxes(active_model, eval_run):
    """The eval shortcut (reusing the mask branch's RoI pass) equals pooling the boxes afresh."""
    model = active_model
    frames, out = eval_run["frames"], eval_run["streamed"]
    cur = frames[1]
    scale = torch.tensor([cur.image_size[1] / WIDTH, cur.image_size[0] / HEIGHT] * 2)
    with torch.no_grad():
        fused, _ = model.temporal({name: torch.stack([f.features[name] for f in frames], dim=2) for name in cur.features})
        rois = model.roi_heads.mask_roi_pool(fused, [out["boxes"] * scale], [cur.image_size])
        expected = model.embedding_head(rois)
    torch.testing.assert_close(out["embeddings"], expected, atol=1e-4, rtol=1e-4)


def test_no_detections_gives_correctly_shaped_empty_outputs():
    model = DiorNet(tiny_config(box_score_thresh=0.999)).eval()
    with torch.no_grad():
        out = model([make_clip(7)])[0]
    assert out["boxes"].shape == (0, 4) and out["masks"].shape == (0, 1, HEIGHT, WIDTH) and out["embeddings"].shape == (0, 32)


def test_batched_encode_matches_single_frames_to_float_tolerance(model):
    model.eval()
    clip = make_clip(11)[:2]
    with torch.no_grad():
        together = model.encode(list(clip))
        alone = [model.encode([frame])[0] for frame in clip]
    for a, b in zip(together, alone):
        assert (a.image_size, a.padded_size, a.original_size) == (b.image_size, b.padded_size, b.original_size)
        for name in a.features:
            torch.testing.assert_close(a.features[name], b.features[name], atol=1e-4, rtol=1e-4)


def test_detect_refuses_training_mode_and_mixed_sizes(model):
    with torch.no_grad():
        small = model.encode([torch.rand(3, HEIGHT, WIDTH)])[0]
        large = model.encode([torch.rand(3, 2 * HEIGHT, WIDTH)])[0]
        model.train()
        with pytest.raises(RuntimeError, match="eval"):
            model.detect(small, small, small)
        model.eval()
        with pytest.raises(ValueError, match="one size"):
            model.detect(large, small, small)


def test_set_thresholds_filters_detections_and_updates_the_config():
    model = DiorNet(tiny_config()).eval()
    model.set_thresholds(score_thresh=0.4, detections_per_img=3)
    assert (model.config.box_score_thresh, model.config.box_detections_per_img) == (0.4, 3)
    with torch.no_grad():
        out = model([make_clip(13)])[0]
    assert out["boxes"].shape[0] <= 3 and bool((out["scores"] > 0.4).all())
    with pytest.raises(ConfigError):
        model.set_thresholds(score_thresh=1.5)
