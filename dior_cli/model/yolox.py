"""YOLOX-nano: the COCO object detector of ``dior infer`` without a DIOR checkpoint (Ge et al.,
"YOLOX: Exceeding YOLO Series in 2021"), dior's own implementation, and its loader.

The trained numbers are read at load time from the upstream ONNX export
(``yolox_nano.onnx``, found through ``dior_cli.weights``); ``dior_cli.model.yolox_onnx`` maps
that graph's tensors onto this network. Inference only: the export folded every BatchNorm
into its convolution's bias, and so does this network (a ``ConvAct`` is conv + folded BN +
SiLU). ``dior_cli.model.yolox_detector`` turns images into boxes.

Input ``(N, 3, H, W)`` float32 **BGR** pixels in 0..255, no normalisation; ``H`` and ``W``
multiples of 32 (the export was traced at 416x416; the network is fully convolutional).
Output ``(N, A, 85)``, ``A = sum(H/s * W/s for s in 8, 16, 32)`` cells, strides 8, 16, 32 one
after the other, each grid row-major (cell index ``y * W/s + x``). Per cell: ``dx, dy, log w,
log h`` (raw, in units of the stride; see ``decode_boxes``), objectness, 80 COCO class scores
(the last 81 already through a sigmoid). Layout at width 0.25 / depth 0.33, with every 3x3
convolution after the stem depthwise separable (shapes for a ``(N, 3, H, W)`` input)::

    backbone (CSPDarknet)
      stem    Focus: 2x2 space-to-depth, 3x3 conv 12 -> 16            (N, 16, H/2, W/2)
      dark2   separable 3x3 s2 -> 32, CSP block (1 bottleneck)        (N, 32, H/4, W/4)
      dark3   separable 3x3 s2 -> 64, CSP block (3)                   (N, 64, H/8, W/8)    C3
      dark4   separable 3x3 s2 -> 128, CSP block (3)                  (N, 128, H/16, W/16) C4
      dark5   separable 3x3 s2 -> 256, SPP (5, 9, 13), CSP (1, no shortcut)
                                                                      (N, 256, H/32, W/32) C5
    neck (PAFPN): top-down (1x1 lateral, 2x nearest upsample, concat, CSP), then bottom-up
      (separable 3x3 s2, concat, CSP)          -> P3 (N, 64, H/8, W/8), P4 (N, 128, ...), P5 (N, 256, ...)
    head (decoupled, one per level): 1x1 stem -> 64; two separable 3x3 then a 1x1 to 80 class
      logits; two other separable 3x3 then 1x1 to 4 box numbers and 1x1 to 1 objectness logit

The forward runs the convolutions in the order the upstream model does (the order of the
ONNX graph), which is what the loader relies on. Weights and activations are stored
channels-last (NHWC); the input may come in either layout.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 80  # COCO
OUTPUTS_PER_CELL = 4 + 1 + NUM_CLASSES  # box, objectness, classes
STRIDES = (8, 16, 32)  # of P3, P4, P5 in input pixels
STAGE_WIDTHS = (16, 32, 64, 128, 256)  # channels after stem, dark2..dark5 (YOLOX's 64..1024 x 0.25)
STAGE_DEPTHS = (1, 3, 3, 1)  # bottlenecks in the CSP blocks of dark2..dark5 (3, 9, 9, 3 x 0.33)
HEAD_WIDTH = 64  # YOLOX's 256 x 0.25
SPP_KERNELS = (5, 9, 13)  # max-pool windows of the SPP bottleneck, stride 1, "same" padding
# The Focus stem's four sub-images in channel order, as (row offset, column offset) of each 2x2 cell.
FOCUS_OFFSETS = ((0, 0), (1, 0), (0, 1), (1, 1))
INPUT_MULTIPLE = 32  # H and W of the input must be multiples of the largest stride


class ConvAct(nn.Module):
    """Conv (BatchNorm folded into its bias) + SiLU; "same" padding for odd kernels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W) -> (N, C_out, H/stride, W/stride)
        return F.silu(self.conv(x), inplace=True)


class SeparableConv(nn.Sequential):
    """Depthwise ``k x k`` ConvAct (carrying the stride), then pointwise 1x1 ConvAct."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, stride: int = 1) -> None:
        super().__init__(
            ConvAct(in_channels, in_channels, kernel_size, stride=stride, groups=in_channels),
            ConvAct(in_channels, out_channels, 1),
        )


class Focus(nn.Module):
    """Space-to-depth: each 2x2 cell's four pixels become channels (``FOCUS_OFFSETS`` order), then a 3x3 ConvAct."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvAct(4 * in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C_out, H/2, W/2)
        cells = [x[:, :, dy::2, dx::2] for dy, dx in FOCUS_OFFSETS]  # 4 x (N, C, H/2, W/2)
        return self.conv(torch.cat(cells, dim=1))  # (N, 4C, H/2, W/2) -> (N, C_out, H/2, W/2)


class Bottleneck(nn.Module):
    """1x1 ConvAct, separable 3x3; plus the input when ``shortcut``. Width unchanged."""

    def __init__(self, channels: int, *, shortcut: bool) -> None:
        super().__init__()
        self.reduce = ConvAct(channels, channels, 1)
        self.spatial = SeparableConv(channels, channels, 3)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        y = self.spatial(self.reduce(x))
        return x + y if self.shortcut else y


class CSPBlock(nn.Module):
    """Cross-stage partial block: two 1x1 branches of half the output width, bottlenecks on
    the first, concatenation (bottleneck branch first), 1x1 merge."""

    def __init__(self, in_channels: int, out_channels: int, *, depth: int, shortcut: bool = True) -> None:
        super().__init__()
        hidden = out_channels // 2
        self.main = ConvAct(in_channels, hidden, 1)
        self.bypass = ConvAct(in_channels, hidden, 1)
        self.bottlenecks = nn.Sequential(*[Bottleneck(hidden, shortcut=shortcut) for _ in range(depth)])
        self.merge = ConvAct(2 * hidden, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W) -> (N, C_out, H, W)
        main = self.main(x)  # (N, C_out/2, H, W)
        bypass = self.bypass(x)  # (N, C_out/2, H, W)
        return self.merge(torch.cat([self.bottlenecks(main), bypass], dim=1))


class SPPBottleneck(nn.Module):
    """1x1 ConvAct to half width, concat of it and its stride-1 "same" max-pools (5, 9, 13), 1x1 ConvAct."""

    def __init__(self, in_channels: int, out_channels: int, kernels: tuple[int, ...] = SPP_KERNELS) -> None:
        super().__init__()
        hidden = in_channels // 2
        self.reduce = ConvAct(in_channels, hidden, 1)
        self.pools = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernels)
        self.merge = ConvAct(hidden * (len(kernels) + 1), out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C_in, H, W) -> (N, C_out, H, W)
        x = self.reduce(x)  # (N, C_in/2, H, W)
        return self.merge(torch.cat([x, *(pool(x) for pool in self.pools)], dim=1))  # (N, 4 C_in/2, H, W) -> (N, C_out, H, W)


class CSPDarknet(nn.Module):
    """Backbone: ``(N, 3, H, W)`` -> C3 ``(N, 64, H/8, W/8)``, C4 ``(N, 128, H/16, W/16)``, C5 ``(N, 256, H/32, W/32)``."""

    def __init__(self, widths: tuple[int, ...] = STAGE_WIDTHS, depths: tuple[int, ...] = STAGE_DEPTHS) -> None:
        super().__init__()
        w0, w2, w3, w4, w5 = widths
        d2, d3, d4, d5 = depths
        self.stem = Focus(3, w0)
        self.dark2 = nn.Sequential(SeparableConv(w0, w2, stride=2), CSPBlock(w2, w2, depth=d2))
        self.dark3 = nn.Sequential(SeparableConv(w2, w3, stride=2), CSPBlock(w3, w3, depth=d3))
        self.dark4 = nn.Sequential(SeparableConv(w3, w4, stride=2), CSPBlock(w4, w4, depth=d4))
        self.dark5 = nn.Sequential(SeparableConv(w4, w5, stride=2), SPPBottleneck(w5, w5), CSPBlock(w5, w5, depth=d5, shortcut=False))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.dark2(self.stem(images))  # (N, 32, H/4, W/4)
        c3 = self.dark3(x)  # (N, 64, H/8, W/8)
        c4 = self.dark4(c3)  # (N, 128, H/16, W/16)
        c5 = self.dark5(c4)  # (N, 256, H/32, W/32)
        return c3, c4, c5


class PAFPN(nn.Module):
    """Path-aggregation neck: top-down then bottom-up fusion of C3, C4, C5 into P3, P4, P5 (same widths)."""

    def __init__(self, widths: tuple[int, int, int] = STAGE_WIDTHS[2:], depth: int = STAGE_DEPTHS[0]) -> None:
        super().__init__()
        w3, w4, w5 = widths
        self.lateral5 = ConvAct(w5, w4, 1)
        self.top_down4 = CSPBlock(2 * w4, w4, depth=depth, shortcut=False)
        self.lateral4 = ConvAct(w4, w3, 1)
        self.top_down3 = CSPBlock(2 * w3, w3, depth=depth, shortcut=False)
        self.down3 = SeparableConv(w3, w3, stride=2)
        self.bottom_up4 = CSPBlock(2 * w3, w4, depth=depth, shortcut=False)
        self.down4 = SeparableConv(w4, w4, stride=2)
        self.bottom_up5 = CSPBlock(2 * w4, w5, depth=depth, shortcut=False)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, c3: torch.Tensor, c4: torch.Tensor, c5: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lat5 = self.lateral5(c5)  # (N, 128, H/32, W/32)
        td4 = self.top_down4(torch.cat([self.upsample(lat5), c4], dim=1))  # (N, 256, H/16, W/16) -> (N, 128, ...)
        lat4 = self.lateral4(td4)  # (N, 64, H/16, W/16)
        p3 = self.top_down3(torch.cat([self.upsample(lat4), c3], dim=1))  # (N, 128, H/8, W/8) -> (N, 64, ...)
        p4 = self.bottom_up4(torch.cat([self.down3(p3), lat4], dim=1))  # (N, 128, H/16, W/16) -> (N, 128, ...)
        p5 = self.bottom_up5(torch.cat([self.down4(p4), lat5], dim=1))  # (N, 256, H/32, W/32) -> (N, 256, ...)
        return p3, p4, p5


class HeadLevel(nn.Module):
    """The decoupled head of one level: ``(N, C, h, w)`` -> ``(N, 85, h, w)`` = box (raw), sigmoid(obj), sigmoid(cls)."""

    def __init__(self, in_channels: int, width: int = HEAD_WIDTH, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.stem = ConvAct(in_channels, width, 1)
        self.cls_convs = nn.Sequential(SeparableConv(width, width), SeparableConv(width, width))
        self.cls_pred = nn.Conv2d(width, num_classes, 1)
        self.reg_convs = nn.Sequential(SeparableConv(width, width), SeparableConv(width, width))
        self.reg_pred = nn.Conv2d(width, 4, 1)
        self.obj_pred = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (N, 64, h, w)
        cls_logits = self.cls_pred(self.cls_convs(x))  # (N, 80, h, w)
        reg_features = self.reg_convs(x)  # (N, 64, h, w)
        box = self.reg_pred(reg_features)  # (N, 4, h, w)
        obj_logit = self.obj_pred(reg_features)  # (N, 1, h, w)
        return torch.cat([box, obj_logit.sigmoid(), cls_logits.sigmoid()], dim=1)  # (N, 85, h, w)


class DecoupledHead(nn.Module):
    """One ``HeadLevel`` per pyramid level; cells of all levels concatenated: ``(N, A, 85)``."""

    def __init__(self, in_widths: tuple[int, ...] = STAGE_WIDTHS[2:]) -> None:
        super().__init__()
        self.levels = nn.ModuleList(HeadLevel(width) for width in in_widths)

    def forward(self, features: tuple[torch.Tensor, ...]) -> torch.Tensor:
        per_level = [level(x).flatten(2) for level, x in zip(self.levels, features)]  # each (N, 85, h*w), row-major cells
        return torch.cat(per_level, dim=2).transpose(1, 2)  # (N, A, 85)


class YoloxNano(nn.Module):
    """YOLOX-nano for inference: ``(N, 3, H, W)`` BGR 0..255 -> ``(N, A, 85)`` raw head output (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = CSPDarknet()
        self.neck = PAFPN()
        self.head = DecoupledHead()
        # channels-last: about 10 % faster on CPU than NCHW for these depthwise and 1x1 convolutions (oneDNN)
        self.to(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        if height % INPUT_MULTIPLE or width % INPUT_MULTIPLE:
            raise ValueError(f"YOLOX input height and width must be multiples of {INPUT_MULTIPLE}, got {height}x{width}")
        x = images.contiguous(memory_format=torch.channels_last)  # (N, 3, H, W), stored NHWC
        return self.head(self.neck(*self.backbone(x)))  # (N, A, 85)
