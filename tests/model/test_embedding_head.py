"""Spatial attention + embedding head: shapes, unit rows, the shared mask head, loss_emb (linear and cosine)."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads

from dior_cli.model.embedding_head import IdentityClassifier, SpatialAttentionEmbeddingHead, adacos_scale
from dior_cli.model.network import DiorNet
from tests.model.tiny import tiny_config


def make_head(num_identities: int = 4) -> SpatialAttentionEmbeddingHead:
    torch.manual_seed(0)
    return SpatialAttentionEmbeddingHead(MaskRCNNHeads(256, [256] * 4, 1), fc_dim=64, embedding_dim=32, num_identities=num_identities)


def rois(k: int = 5) -> torch.Tensor:
    return torch.randn(k, 256, 14, 14, generator=torch.Generator().manual_seed(k))  # (K, C, 14, 14)


def test_embeddings_are_unit_rows_and_beta_is_in_zero_one():
    head = make_head()
    features = rois()
    embeddings = head(features)
    assert embeddings.shape == (5, 32)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(5))
    beta = head.spatial_attention(features)
    assert beta.shape == (5, 1, 14, 14)
    assert bool(((beta > 0) & (beta < 1)).all())


def test_reusing_the_mask_branch_output_gives_the_same_embeddings():
    head = make_head()
    features = rois()
    assert torch.equal(head(features, head.mask_head(features)), head(features))


def test_no_rois_gives_an_empty_matrix():
    head = make_head()
    assert head(rois(0)).shape == (0, 32)


def test_mask_head_is_shared_with_the_roi_heads_and_learns_from_loss_emb():
    model = DiorNet(tiny_config())
    assert model.embedding_head.mask_head is model.roi_heads.mask_head
    assert not any(key.startswith("embedding_head.mask_head") for key in model.state_dict())  # one name per weight
    head = model.embedding_head
    loss = head.identity_loss(head(rois(3)), torch.tensor([0, 1, -1]))
    loss.backward()
    shared_weight = model.roi_heads.mask_head[0][0].weight
    assert shared_weight.grad is not None and bool(shared_weight.grad.abs().sum() > 0)


def test_identity_loss_is_cross_entropy_over_known_identities():
    head = make_head(num_identities=4)
    embeddings = head(rois(3))
    loss = head.identity_loss(embeddings, torch.tensor([2, -1, 0]))
    logits = head.identity_classifier(embeddings[[0, 2]])
    expected = -(torch.log_softmax(logits, dim=1)[0, 2] + torch.log_softmax(logits, dim=1)[1, 0]) / 2
    torch.testing.assert_close(loss, expected)
    assert math.isfinite(loss.item())


@pytest.mark.parametrize("num_identities, identities", [(4, [-1, -1, -1]), (0, [1, 2, 3]), (4, [])])
def test_identity_loss_is_an_exact_zero_with_a_grad_fn_when_nothing_is_labelled(num_identities, identities):
    head = make_head(num_identities)
    embeddings = head(rois(len(identities)))
    loss = head.identity_loss(embeddings, torch.tensor(identities, dtype=torch.int64))
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()


def test_identity_out_of_range_is_refused():
    head = make_head(num_identities=4)
    with pytest.raises(ValueError, match="identities"):
        head.identity_loss(head(rois(2)), torch.tensor([4, 0]))


def _head_with_weights(classifier: IdentityClassifier) -> SpatialAttentionEmbeddingHead:
    """A head with D = 2 and two identities whose classifier rows are (3, 0) and (0, 2), bias (1, -1)."""
    head = SpatialAttentionEmbeddingHead(MaskRCNNHeads(256, [256] * 1, 1), conv_layers=1, fc_dim=8, embedding_dim=2,
                                         num_identities=2, classifier=classifier)
    with torch.no_grad():
        head.identity_classifier.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 2.0]]))
        head.identity_classifier.bias.copy_(torch.tensor([1.0, -1.0]))
    return head


def test_cosine_logits_are_the_scale_times_the_cosine_with_unit_prototypes():
    """By hand: e = (0.6, 0.8); unit prototypes (1, 0) and (0, 1): cosines 0.6 and 0.8, logits 6 and 8
    at s = 10 (the bias is not used), so the loss for identity 1 is ln(1 + e^-2); the linear form
    gives W e + b = (2.8, 0.6)."""
    embedding = torch.tensor([[0.6, 0.8]])
    cosine = _head_with_weights(IdentityClassifier(kind="cosine", scale=10.0))
    torch.testing.assert_close(cosine.identity_logits(embedding), torch.tensor([[6.0, 8.0]]))
    torch.testing.assert_close(cosine.identity_loss(embedding, torch.tensor([1])), torch.tensor(math.log(1 + math.exp(-2))))
    linear = _head_with_weights(IdentityClassifier(kind="linear"))
    torch.testing.assert_close(linear.identity_logits(embedding), torch.tensor([[2.8, 0.6]]))


@pytest.mark.parametrize(("learned", "scale_trains"), [(True, True), (False, False)])
def test_cosine_scale_learns_only_when_asked_and_the_bias_never(learned, scale_trains):
    head = _head_with_weights(IdentityClassifier(kind="cosine", scale=4.0, learned=learned))
    assert head.identity_logit_scale.requires_grad is scale_trains and not head.identity_classifier.bias.requires_grad
    head.identity_loss(torch.tensor([[0.6, 0.8], [1.0, 0.0]]), torch.tensor([0, 0])).backward()
    assert (head.identity_logit_scale.grad is not None) is scale_trains
    assert head.identity_classifier.bias.grad is None and head.identity_classifier.weight.grad is not None
    linear = _head_with_weights(IdentityClassifier(kind="linear"))
    assert not linear.identity_logit_scale.requires_grad and linear.identity_classifier.bias.requires_grad


def test_default_scale_is_adacos_for_the_number_of_identities():
    assert adacos_scale(24) == pytest.approx(math.sqrt(2) * math.log(23))  # AdaCos eq. 14: sqrt(2) ln(C - 1)
    assert adacos_scale(2) > 0  # C - 1 = 1 would give s = 0: floored at ln 2
    head = make_head(num_identities=4)
    assert head.identity_logit_scale.item() == pytest.approx(math.sqrt(2) * math.log(3))


def test_checkpoints_without_the_scale_key_still_load(tmp_path):
    """Checkpoints from before the cosine classifier have no identity_logit_scale: it is filled in."""
    from dior_cli.model.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = DiorNet(tiny_config())
    path = save_checkpoint(tmp_path / "old.pt", model)
    payload = torch.load(path, weights_only=True)
    del payload["state_dict"]["embedding_head.identity_logit_scale"]
    torch.save(payload, path)
    loaded, _ = load_checkpoint(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    payload["state_dict"]["embedding_head.something_else"] = torch.zeros(1)  # control: other stray keys are still refused
    torch.save(payload, path)
    with pytest.raises(Exception, match="unexpected embedding_head.something_else"):
        load_checkpoint(path)
