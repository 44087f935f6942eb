"""Spatial attention + embedding head: shapes, unit rows, the shared mask head, loss_emb."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads

from dior_cli.model.embedding_head import SpatialAttentionEmbeddingHead
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
