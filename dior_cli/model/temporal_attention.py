"""Temporal attention (TA, DIOR sec. 3.1): fuse the features of frames t-1, t, t+1 into F_tem.

Equations (1) and (2) of the paper, per FPN level:

    alpha_tau = softmax_tau(W1[x_{t-1}, x_t, x_{t+1}])        per pixel, over the 3 frames
    F_tem     = W2[x_t (+) sum_tau alpha_tau * x_tau]         (+) = concatenation in time

W1 is a 3x3x3 convolution to one channel (a logit per frame and pixel), W2 a (2, 1, 1)
convolution that mixes the centre frame with the attention-weighted sum. W2 starts as the
identity on the centre frame (F_tem == x_t exactly), so a network initialised from
Mask R-CNN weights behaves exactly like Mask R-CNN until TA is trained.

Layout: the time axis is dim 2, ordered (t-1, t, t+1), i.e. ``(B, C, 3, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CENTRE = 1  # index of frame t on the time axis (t-1, t, t+1)


class TemporalAttention(nn.Module):
    """TA for one feature level: ``(B, C, 3, H, W)`` -> ``F_tem (B, C, H, W)`` and ``alpha (B, 1, 3, H, W)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.w1 = nn.Conv3d(channels, 1, kernel_size=3, padding=1)
        self.w2 = nn.Conv3d(channels, channels, kernel_size=(2, 1, 1))
        self.reset_to_identity()

    @torch.no_grad()
    def reset_to_identity(self) -> None:
        """Set W2 so that F_tem equals the centre frame's features exactly (W1 keeps its init)."""
        channels = self.w2.out_channels
        self.w2.weight.zero_()  # (C_out, C_in, 2, 1, 1)
        self.w2.weight[:, :, 0, 0, 0] = torch.eye(channels, dtype=self.w2.weight.dtype, device=self.w2.weight.device)  # slot 0 = x_t; slot 1 (weighted sum) = 0
        self.w2.bias.zero_()

    def forward(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """Fuse three frames' features.

        Args:
            frames: ``(B, C, 3, H, W)``, time ordered (t-1, t, t+1).

        Returns:
            ``(fused, alpha)``: ``fused`` is F_tem ``(B, C, H, W)``; ``alpha`` the TA maps
            ``(B, 1, 3, H, W)``, summing to 1 over the time axis at every pixel.
        """
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise ValueError(f"TemporalAttention expects (B, C, 3, H, W), got {tuple(frames.shape)}")
        return self.fuse(frames[:, :, 0], frames[:, :, 1], frames[:, :, 2])

    def taps(self, frame: Tensor) -> Tensor:
        """W1's three temporal taps applied to one frame: ``(B, C, H, W)`` -> ``(B, 3, H, W)``.

        Tap k is the contribution of this frame to the logit of the frame k - 1 steps earlier
        in time; a frame's taps depend on that frame alone, so a sliding window can compute
        them once per frame and reuse them in the three windows that contain the frame.
        """
        kernels = self.w1.weight[0].permute(1, 0, 2, 3)  # (3 taps, C, 3, 3)
        return F.conv2d(frame, kernels, padding=1)

    def fuse(self, previous: Tensor, current: Tensor, following: Tensor,
             taps: tuple[Tensor, Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """The same as :meth:`forward` on three ``(B, C, H, W)`` maps, without stacking them.

        W1 and W2 are applied as 2D convolutions with their own weights: the 3x3x3 W1 is, for
        each frame, one 3x3 convolution to 3 channels (one per temporal tap), summed across
        frames with the time padding of the 3D convolution; the (2, 1, 1) W2 is two 1x1
        convolutions, on x_t and on the weighted sum. Same parameters, same result up to
        float summation order (exactly x_t at the identity start), far fewer copies.
        ``taps``: the three frames' :meth:`taps`, when already computed.
        """
        if taps is None:
            taps = (self.taps(previous), self.taps(current), self.taps(following))
        y_prev, y_cur, y_next = taps  # (B, 3, H, W) each
        bias = self.w1.bias.view(1, 1, 1, 1)
        logits = torch.stack(
            [
                y_prev[:, 1:2] + y_cur[:, 2:3],  # tau = t-1 (frame t-2 is zero padding)
                y_prev[:, 0:1] + y_cur[:, 1:2] + y_next[:, 2:3],  # tau = t
                y_cur[:, 0:1] + y_next[:, 1:2],  # tau = t+1 (frame t+2 is zero padding)
            ],
            dim=2,
        ) + bias.unsqueeze(2)  # (B, 1, 3, H, W)
        alpha = torch.softmax(logits, dim=2)  # (B, 1, 3, H, W)
        weighted = alpha[:, :, 0] * previous  # (B, C, H, W)
        weighted.addcmul_(alpha[:, :, 1], current).addcmul_(alpha[:, :, 2], following)
        on_current = self.w2.weight[:, :, 0]  # (C, C, 1, 1)
        on_weighted = self.w2.weight[:, :, 1]  # (C, C, 1, 1)
        fused = F.conv2d(current, on_current, self.w2.bias).add_(F.conv2d(weighted, on_weighted))  # (B, C, H, W)
        return fused, alpha


class TemporalAttentionFPN(nn.Module):
    """One ``TemporalAttention`` per FPN level, keyed like the FPN outputs ('0'..'3', 'pool')."""

    def __init__(self, channels: int, level_names: tuple[str, ...] = ("0", "1", "2", "3", "pool")) -> None:
        super().__init__()
        self.levels = nn.ModuleDict({name: TemporalAttention(channels) for name in level_names})

    def forward(self, frames: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Fuse every level.

        Args:
            frames: level name -> ``(B, C, 3, h, w)`` (time ordered t-1, t, t+1).

        Returns:
            ``(fused, alpha)``: level -> F_tem ``(B, C, h, w)``; level -> alpha ``(B, 1, 3, h, w)``.
        """
        if set(frames) != set(self.levels):
            raise ValueError(f"TemporalAttentionFPN expects levels {sorted(self.levels)}, got {sorted(frames)}")
        fused: dict[str, Tensor] = {}
        alpha: dict[str, Tensor] = {}
        for name, features in frames.items():  # keep the FPN's level order
            fused[name], alpha[name] = self.levels[name](features)
        return fused, alpha

    def taps(self, frame: dict[str, Tensor]) -> dict[str, Tensor]:
        """Every level's W1 taps of one frame: level -> ``(B, 3, h, w)``."""
        return {name: self.levels[name].taps(level) for name, level in frame.items()}

    def fuse(self, previous: dict[str, Tensor], current: dict[str, Tensor], following: dict[str, Tensor],
             taps: tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]] | None = None) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """:meth:`forward` on three frames' level dicts ``(B, C, h, w)`` each, without stacking
        them; ``taps``: the three frames' :meth:`taps` when already computed."""
        if set(current) != set(self.levels):
            raise ValueError(f"TemporalAttentionFPN expects levels {sorted(self.levels)}, got {sorted(current)}")
        fused: dict[str, Tensor] = {}
        alpha: dict[str, Tensor] = {}
        for name in current:
            level_taps = None if taps is None else (taps[0][name], taps[1][name], taps[2][name])
            fused[name], alpha[name] = self.levels[name].fuse(previous[name], current[name], following[name], level_taps)
        return fused, alpha
