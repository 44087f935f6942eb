"""OSNet x0.25: the omni-scale person re-identification network (Zhou et al., ICCV 2019), for
``--encoder osnet``; and the loader of its shipped weights.

Written from the paper's description and from the graph of the ONNX export in
``../shared/weights/osnet_x0_25_msmt17.onnx`` (deep-person-reid's model zoo, trained on
MSMT17). Inference only: the export folded every convolution's BatchNorm into the
convolution's bias, and so does this network (a conv here is conv + folded BN); only the
embedding's BatchNorm1d after the fully connected layer stays a BatchNorm.

Input ``(N, 3, 256, 128)`` float RGB, ImageNet mean/std normalised (``INPUT_SIZE`` is
``[h, w]``); output ``(N, 512)`` after a ReLU, *not* L2-normalised (``embed_crops`` in
``dior_cli.model.osnet_crops`` does that). Layout (x0.25 widths 16, 64, 96, 128)::

    conv1   7x7 conv stride 2 + ReLU, 3x3 max-pool stride 2        (N, 16, 64, 32)
    conv2   2 omni-scale blocks, transition (1x1 conv, 2x2 avg-pool) (N, 64, 32, 16)
    conv3   2 omni-scale blocks, transition                        (N, 96, 16, 8)
    conv4   2 omni-scale blocks                                     (N, 128, 16, 8)
    conv5   1x1 conv + ReLU, global average pool                    (N, 128)
    fc      linear 128 -> 512, BatchNorm1d, ReLU                    (N, 512)

An omni-scale block (paper figure 4) reduces to a quarter of its output width with a 1x1
conv, runs four streams of 1, 2, 3 and 4 "lite 3x3" convolutions (1x1 pointwise without
bias, then 3x3 depthwise, then ReLU: receptive fields 3, 5, 7, 9), weighs each stream per
channel with one aggregation gate shared by the four streams (global pool, 1x1 conv to
width/16, ReLU, 1x1 conv back, sigmoid), sums them, expands with a 1x1 conv and adds the
input (through a 1x1 projection when widths differ) before a final ReLU.

Weights are read at load time from the upstream ONNX file (``dior_cli.model.osnet_onnx``); no
converted copy is stored anywhere. ``dior_cli.weights`` finds the file.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = (256, 128)  # [h, w] of the network's input crops
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, for pixels scaled to [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
EMBEDDING_DIM = 512
WIDTHS_X025 = (16, 64, 96, 128)  # conv1, conv2, conv3, conv4 output channels of OSNet x0.25
GATE_REDUCTION = 16


def conv1x1(in_channels: int, out_channels: int, *, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias)


class LiteConv3x3(nn.Module):
    """1x1 pointwise conv (no bias), 3x3 depthwise conv (BN folded into its bias), ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pointwise = conv1x1(channels, channels, bias=False)
        self.depthwise = nn.Conv2d(channels, channels, kernel_size=3, padding=1, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        return F.relu(self.depthwise(self.pointwise(x)), inplace=True)


class AggregationGate(nn.Module):
    """Per-channel weights in (0, 1) from a stream's global average (a squeeze-excitation gate)."""

    def __init__(self, channels: int, reduction: int = GATE_REDUCTION) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = conv1x1(channels, hidden)
        self.fc2 = conv1x1(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        pooled = x.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
        weights = torch.sigmoid(self.fc2(F.relu(self.fc1(pooled), inplace=True)))  # (N, C, 1, 1)
        return x * weights


class OmniScaleBlock(nn.Module):
    """Residual bottleneck with four streams of 1..4 lite 3x3 convs fused by a shared gate."""

    def __init__(self, in_channels: int, out_channels: int, num_streams: int = 4) -> None:
        super().__init__()
        mid = out_channels // 4
        self.reduce = conv1x1(in_channels, mid)
        self.streams = nn.ModuleList(nn.Sequential(*[LiteConv3x3(mid) for _ in range(depth)]) for depth in range(1, num_streams + 1))
        self.gate = AggregationGate(mid)
        self.expand = conv1x1(mid, out_channels)
        self.shortcut = conv1x1(in_channels, out_channels) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W) -> (N, C_out, H, W)
        reduced = F.relu(self.reduce(x), inplace=True)  # (N, C_out/4, H, W)
        fused = self.gate(self.streams[0](reduced))  # (N, C_out/4, H, W)
        for stream in self.streams[1:]:
            fused += self.gate(stream(reduced))
        out = self.expand(fused)  # (N, C_out, H, W)
        out += self.shortcut(x)
        return F.relu(out, inplace=True)


class Transition(nn.Module):
    """1x1 conv + ReLU, then 2x2 average pooling that halves height and width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = conv1x1(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H/2, W/2)
        return F.avg_pool2d(F.relu(self.conv(x), inplace=True), kernel_size=2, stride=2)


class OSNet(nn.Module):
    """OSNet for inference: ``(N, 3, 256, 128)`` normalised RGB crops -> ``(N, 512)`` features.

    Args:
        widths: output channels of conv1, conv2, conv3, conv4 (x0.25: 16, 64, 96, 128).
        embedding_dim: size of the fully connected embedding (512).
    """

    def __init__(self, widths: tuple[int, int, int, int] = WIDTHS_X025, embedding_dim: int = EMBEDDING_DIM) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        self.conv1 = nn.Conv2d(3, c1, kernel_size=7, stride=2, padding=3)
        self.conv2 = nn.Sequential(OmniScaleBlock(c1, c2), OmniScaleBlock(c2, c2), Transition(c2))
        self.conv3 = nn.Sequential(OmniScaleBlock(c2, c3), OmniScaleBlock(c3, c3), Transition(c3))
        self.conv4 = nn.Sequential(OmniScaleBlock(c3, c4), OmniScaleBlock(c4, c4))
        self.conv5 = conv1x1(c4, c4)
        self.fc = nn.Linear(c4, embedding_dim)
        self.fc_bn = nn.BatchNorm1d(embedding_dim)
        # channels-last: about 2x the CPU throughput of NCHW for these thin 1x1 and depthwise convs (oneDNN)
        self.to(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, 256, 128)`` -> ``(N, 512)``. For inference on the CPU (eval mode, no autograd,
        float32) this runs the fused kernels of ``dior_cli.model.osnet_fast`` (same arithmetic,
        verified against the eager layers on first use, which they fall back to on any failure)."""
        if not self.training and not torch.is_grad_enabled() and images.device.type == "cpu" and images.dtype == torch.float32:
            from dior_cli.model.osnet_fast import fast_forward

            out = fast_forward(self, images, self.eager_forward)
            if out is not None:
                return out
        return self.eager_forward(images)

    def eager_forward(self, images: torch.Tensor) -> torch.Tensor:
        """The plain layer-by-layer forward (training, autograd, any device)."""
        x = images.contiguous(memory_format=torch.channels_last)  # (N, 3, 256, 128), stored NHWC
        x = F.relu(self.conv1(x), inplace=True)  # (N, 16, 128, 64)
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)  # (N, 16, 64, 32)
        x = self.conv2(x)  # (N, 64, 32, 16)
        x = self.conv3(x)  # (N, 96, 16, 8)
        x = self.conv4(x)  # (N, 128, 16, 8)
        x = F.relu(self.conv5(x), inplace=True)  # (N, 128, 16, 8)
        pooled = x.mean(dim=(2, 3))  # (N, 128)
        return F.relu(self.fc_bn(self.fc(pooled)))  # (N, 512)

    def __getstate__(self) -> dict:
        """Pickled / deep-copied without the fast path's packed weights (rebuilt on first use)."""
        state = self.__dict__.copy()
        state.pop("fast_runner", None)
        state.pop("fast_path_state", None)
        return state


# --- loading ----------------------------------------------------------------------------------


def load_osnet(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> OSNet:
    """OSNet x0.25 with the upstream weights read from the ONNX export, in eval mode on ``device``.

    Args:
        path: the ONNX file (``--weights``); ``None`` finds ``osnet_x0_25_msmt17.onnx`` through
            ``dior_cli.weights`` ($DIOR_WEIGHTS, the user cache, ``../shared/weights``).
        device: where the model goes.

    Raises:
        InputNotFound: the file does not exist, or no place searched has it (all are named).
        FormatError: the file is not the OSNet x0.25 export (a tensor or layer does not fit).
    """
    from dior_cli.model.osnet_onnx import osnet_state_dict

    located = locate_osnet(path)
    model = OSNet()
    model.load_state_dict(osnet_state_dict(model, located.path))
    return model.to(device).eval()


def locate_osnet(path: str | os.PathLike | None = None):
    """Where the OSNet file is (``dior_cli.weights.Located``): ``path`` itself, or the registry's search."""
    from dior_cli.weights import resolve

    return resolve("osnet_x0_25", path)
