"""Temporal attention: shapes, the identity start, and hand-derived fusions."""

from __future__ import annotations

import pytest
import torch

from dior_cli.model.temporal_attention import TemporalAttention, TemporalAttentionFPN


def frames(batch: int = 2, channels: int = 8, height: int = 5, width: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, channels, 3, height, width, generator=torch.Generator().manual_seed(seed))


def test_shapes_and_alpha_is_a_distribution_over_time():
    x = frames()  # (B, C, 3, H, W)
    fused, alpha = TemporalAttention(8)(x)
    assert fused.shape == (2, 8, 5, 6)
    assert alpha.shape == (2, 1, 3, 5, 6)
    assert bool(((alpha > 0) & (alpha < 1)).all())
    torch.testing.assert_close(alpha.sum(dim=2), torch.ones(2, 1, 5, 6))


def test_starts_as_the_centre_frame_exactly():
    x = frames(seed=1)
    fused, _ = TemporalAttention(8)(x)
    assert torch.equal(fused, x[:, :, 1])


def test_uniform_attention_gives_the_mean_of_the_three_frames():
    ta = TemporalAttention(4)
    with torch.no_grad():
        ta.w1.weight.zero_()
        ta.w1.bias.zero_()  # equal logits -> alpha = 1/3 everywhere
        ta.w2.weight.zero_()
        ta.w2.weight[:, :, 1, 0, 0] = torch.eye(4)  # output = the weighted sum only
    x = frames(channels=4, seed=2)
    fused, alpha = ta(x)
    torch.testing.assert_close(alpha, torch.full_like(alpha, 1 / 3))
    torch.testing.assert_close(fused, (x[:, :, 0] + x[:, :, 1] + x[:, :, 2]) / 3)


def test_attention_follows_the_logits_per_pixel():
    ta = TemporalAttention(1)
    with torch.no_grad():  # logit = value of the pixel itself in that frame (centre tap of the 3x3x3 kernel)
        ta.w1.weight.zero_()
        ta.w1.weight[0, 0, 1, 1, 1] = 1.0
        ta.w1.bias.zero_()
    x = torch.zeros(1, 1, 3, 1, 1)
    x[0, 0, :, 0, 0] = torch.tensor([0.0, 0.0, 2.0])
    _, alpha = ta(x)
    expected = torch.softmax(torch.tensor([0.0, 0.0, 2.0]), dim=0)
    torch.testing.assert_close(alpha[0, 0, :, 0, 0], expected)


def test_parameter_count_per_level():
    c = 256
    assert sum(p.numel() for p in TemporalAttention(c).parameters()) == (c * 27 + 1) + (c * c * 2 + c)


def test_fpn_wrapper_keeps_levels_and_refuses_others():
    ta = TemporalAttentionFPN(8)
    assert list(ta.levels) == ["0", "1", "2", "3", "pool"]
    inputs = {name: frames(height=16 >> i, width=16 >> i, seed=i) for i, name in enumerate(["0", "1", "2", "3", "pool"])}
    fused, alpha = ta(inputs)
    assert list(fused) == list(inputs)
    for name, x in inputs.items():
        assert torch.equal(fused[name], x[:, :, 1])
        assert alpha[name].shape == (2, 1, 3, *x.shape[-2:])
    with pytest.raises(ValueError, match="levels"):
        ta({"0": inputs["0"]})
    with pytest.raises(ValueError, match=r"\(B, C, 3, H, W\)"):
        TemporalAttention(8)(torch.zeros(1, 8, 2, 4, 4))


def test_two_dimensional_evaluation_equals_the_3d_convolutions():
    """forward/fuse compute W1 and W2 as 2D convolutions; the modules' own Conv3d give the reference."""
    torch.manual_seed(3)
    ta = TemporalAttention(16).eval()
    torch.nn.init.normal_(ta.w2.weight, std=0.2)  # leave the identity start: a general W2
    frames = torch.randn(2, 16, 3, 9, 11)  # (B, C, 3, H, W)
    with torch.no_grad():
        alpha_ref = torch.softmax(ta.w1(frames), dim=2)  # Conv3d W1 with its time padding
        weighted = (alpha_ref * frames).sum(dim=2)
        fused_ref = ta.w2(torch.stack([frames[:, :, 1], weighted], dim=2)).squeeze(2)
        fused, alpha = ta(frames)
        taps = tuple(ta.taps(frames[:, :, k]) for k in range(3))
        fused_cached, _ = ta.fuse(frames[:, :, 0], frames[:, :, 1], frames[:, :, 2], taps)
    torch.testing.assert_close(alpha, alpha_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused, fused_ref, rtol=1e-5, atol=1e-5)
    assert torch.equal(fused, fused_cached)
