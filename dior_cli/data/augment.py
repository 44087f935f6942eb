"""Clip-consistent augmentation: one draw of parameters, applied alike to all three frames.

A clip is ``(3, 3, H, W)`` float RGB in [0, 1] (frames t-1, t, t+1); its masks are
``(N, H, W)`` uint8 (objects of frame t) and ``(M, H, W)`` uint8 (ignore regions). Every
frame of a clip and every mask gets the same geometry, and every frame the same colour map,
so the temporal attention sees the motion of the data, never a motion the augmentation made.

Steps, in this order:

1. Horizontal flip with probability ``flip_prob``.
2. Zoom by one factor ``s`` drawn uniformly from ``scale_range`` on a canvas that keeps the
   frame's ``(H, W)``: for ``s > 1`` a random ``(H, W)`` window of the enlarged frame is
   kept, for ``s < 1`` the shrunk frame is placed at a random position on a black canvas.
   (A plain resize would be undone by the network's own resize to ``model.min_size``; a
   zoom changes the objects' size in the network's input.) Frames are sampled bilinearly,
   masks take the input pixel under each sample, on one sampling grid, so masks stay on
   their pixels; the cost is that of the output, whatever the factor.
3. Colour jitter with factors drawn uniformly from ``[1 - x, 1 + x]``: brightness (multiply),
   contrast (blend with the mean grey of the whole clip, so the map is the same per-pixel
   function for all three frames), saturation (blend with each pixel's grey, ITU-R 601
   weights), then a hue shift drawn from ``[-hue, hue]`` (fraction of a turn of the colour
   wheel). Values are clamped to [0, 1].

Randomness comes only from the ``torch.Generator`` passed in: :meth:`ClipAugment.draw` takes
exactly 8 uniform numbers from it whatever the settings, so the same generator state gives
the same augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dior_cli.errors import ConfigError

_GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale
_DRAWS = 8  # uniform numbers taken from the generator per clip


@dataclass(frozen=True)
class AugmentParams:
    """One clip's augmentation.

    Attributes:
        flip: mirror left-right.
        scale: zoom factor (1 = none).
        anchor_y, anchor_x: in [0, 1), where the kept window (zoom in) or the placed frame
            (zoom out) sits: 0 = top/left edge, towards 1 = bottom/right edge.
        brightness, contrast, saturation: multiplicative factors (1 = unchanged).
        hue: shift as a fraction of a turn, in [-0.5, 0.5] (0 = unchanged).
    """

    flip: bool = False
    scale: float = 1.0
    anchor_y: float = 0.0
    anchor_x: float = 0.0
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0


class ClipAugment:
    """Flip, zoom and colour jitter, identical for the three frames of a clip and its masks.

    Args:
        flip_prob: probability of a horizontal flip, in [0, 1] (default 0.5).
        scale_range: ``(low, high)`` zoom factors, ``0 < low <= high`` (default (0.8, 1.2):
            objects up to 20 % smaller or larger; (1, 1) turns zoom off).
        brightness: brightness factor drawn from ``[1 - b, 1 + b]``, ``b`` in [0, 1) (default 0.2).
        contrast: contrast factor from ``[1 - c, 1 + c]``, ``c`` in [0, 1) (default 0.2).
        saturation: saturation factor from ``[1 - s, 1 + s]``, ``s`` in [0, 1) (default 0.2).
        hue: hue shift from ``[-h, h]`` turns of the colour wheel, ``h`` in [0, 0.5] (default 0: off).
    """

    def __init__(self, flip_prob: float = 0.5, scale_range: tuple[float, float] = (0.8, 1.2), brightness: float = 0.2,
                 contrast: float = 0.2, saturation: float = 0.2, hue: float = 0.0) -> None:
        low, high = (float(v) for v in scale_range)
        if not 0.0 <= flip_prob <= 1.0:
            raise ConfigError(f"augmentation flip_prob must be in [0, 1], got {flip_prob}")
        if not 0.0 < low <= high:
            raise ConfigError(f"augmentation scale_range must satisfy 0 < low <= high, got ({low}, {high})")
        for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"augmentation {name} must be in [0, 1), got {value}")
        if not 0.0 <= hue <= 0.5:
            raise ConfigError(f"augmentation hue must be in [0, 0.5], got {hue}")
        self.flip_prob = float(flip_prob)
        self.scale_range = (low, high)
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.saturation = float(saturation)
        self.hue = float(hue)

    def __repr__(self) -> str:
        return (f"ClipAugment(flip_prob={self.flip_prob}, scale_range={self.scale_range}, brightness={self.brightness}, "
                f"contrast={self.contrast}, saturation={self.saturation}, hue={self.hue})")

    def draw(self, generator: torch.Generator) -> AugmentParams:
        """Draw one clip's parameters: always exactly 8 uniform numbers from ``generator``."""
        u = torch.rand(_DRAWS, generator=generator, dtype=torch.float64).tolist()
        low, high = self.scale_range
        return AugmentParams(
            flip=u[0] < self.flip_prob,
            scale=low + (high - low) * u[1],
            anchor_y=u[2],
            anchor_x=u[3],
            brightness=1.0 + self.brightness * (2.0 * u[4] - 1.0),
            contrast=1.0 + self.contrast * (2.0 * u[5] - 1.0),
            saturation=1.0 + self.saturation * (2.0 * u[6] - 1.0),
            hue=self.hue * (2.0 * u[7] - 1.0),
        )

    def __call__(self, clip: Tensor, masks: Tensor, ignore_masks: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """Draw parameters from ``generator`` and apply them (see :func:`apply_augment`)."""
        return apply_augment(self.draw(generator), clip, masks, ignore_masks)


def apply_augment(params: AugmentParams, clip: Tensor, masks: Tensor, ignore_masks: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Apply ``params`` to a clip ``(3, 3, H, W)`` and its masks ``(N, H, W)``, ``(M, H, W)``.

    Returns new tensors of the same shapes and dtypes; a mask may become empty (zoomed out of
    the frame), which the caller handles.
    """
    if clip.dim() != 4 or clip.shape[:2] != (3, 3):
        raise ValueError(f"clip: expected (3, 3, H, W), got {tuple(clip.shape)}")
    size = (int(clip.shape[-2]), int(clip.shape[-1]))
    for name, m in (("masks", masks), ("ignore_masks", ignore_masks)):
        if m.dim() != 3 or tuple(m.shape[-2:]) != size:
            raise ValueError(f"{name}: expected (K, {size[0]}, {size[1]}), got {tuple(m.shape)}")
    if params.flip:
        clip, masks, ignore_masks = clip.flip(-1), masks.flip(-1), ignore_masks.flip(-1)
    if params.scale != 1.0:
        clip = _zoom_frames(clip, params)
        masks = _zoom_masks(masks, params)
        ignore_masks = _zoom_masks(ignore_masks, params)
    clip = _jitter_colour(clip, params)
    return clip, masks, ignore_masks


def _zoom_frames(clip: Tensor, params: AugmentParams) -> Tensor:
    """Zoom ``(F, 3, H, W)`` float frames by ``params.scale`` on their own canvas, bilinearly (see :func:`_sampling`)."""
    height, width = clip.shape[-2:]
    source_y, inside_y = _sampling(height, params.anchor_y, params.scale)  # (H,), (H,)
    source_x, inside_x = _sampling(width, params.anchor_x, params.scale)  # (W,), (W,)
    # grid_sample's normalised coordinates (align_corners=False): -1 and 1 are the outer pixel edges
    grid_y = (2.0 * source_y / height - 1.0).to(clip.dtype)  # (H,)
    grid_x = (2.0 * source_x / width - 1.0).to(clip.dtype)  # (W,)
    grid = torch.stack(torch.broadcast_tensors(grid_x[None, :], grid_y[:, None]), dim=-1)  # (H, W, 2) as (x, y)
    out = F.grid_sample(clip, grid.to(clip.device).expand(clip.shape[0], -1, -1, -1), mode="bilinear", padding_mode="border", align_corners=False)
    inside = (inside_y[:, None] & inside_x[None, :]).to(clip.device)  # (H, W)
    return out * inside  # (F, 3, H, W), black outside the zoomed frame


def _zoom_masks(masks: Tensor, params: AugmentParams) -> Tensor:
    """Zoom ``(K, H, W)`` uint8 masks like :func:`_zoom_frames`, taking the input pixel under each sample."""
    height, width = masks.shape[-2:]
    source_y, inside_y = _sampling(height, params.anchor_y, params.scale)
    source_x, inside_x = _sampling(width, params.anchor_x, params.scale)
    rows = source_y.floor().long().clamp_(0, height - 1).to(masks.device)  # (H,) pixel i holds [i, i + 1)
    cols = source_x.floor().long().clamp_(0, width - 1).to(masks.device)  # (W,)
    inside = (inside_y[:, None] & inside_x[None, :]).to(device=masks.device, dtype=masks.dtype)  # (H, W)
    return masks[:, rows][:, :, cols] * inside  # (K, H, W)


def _sampling(length: int, anchor: float, scale: float) -> tuple[Tensor, Tensor]:
    """Where each output pixel samples the input along one axis, and whether that is inside it.

    The zoomed frame spans ``length * scale`` pixels with its first edge at
    ``offset = anchor * length * (1 - scale)`` on the canvas (a crop when ``scale > 1``, a
    border when ``scale < 1``). Output pixel centre ``p`` (pixel units, edges at integers)
    samples the input at ``(p - offset) / scale``; samples outside ``[0, length)`` are black.

    Returns ``(source (L,) float64, inside (L,) bool)``.
    """
    offset = anchor * length * (1.0 - scale)
    source = (torch.arange(length, dtype=torch.float64) + 0.5 - offset) / scale  # (L,)
    return source, (source >= 0) & (source < length)


def _jitter_colour(clip: Tensor, params: AugmentParams) -> Tensor:
    """Brightness, contrast, saturation, hue: one per-pixel colour map for the whole clip ``(3, 3, H, W)``."""
    if (params.brightness, params.contrast, params.saturation, params.hue) == (1.0, 1.0, 1.0, 0.0):
        return clip
    clip = (clip * params.brightness).clamp_(0.0, 1.0)  # a new tensor: the caller's clip is never changed
    if params.contrast != 1.0:
        mean_grey = _grey(clip).mean()  # scalar over the three frames
        clip.sub_(mean_grey).mul_(params.contrast).add_(mean_grey).clamp_(0.0, 1.0)
    if params.saturation != 1.0:
        grey = _grey(clip)  # (3, 1, H, W)
        clip.sub_(grey).mul_(params.saturation).add_(grey).clamp_(0.0, 1.0)
    if params.hue != 0.0:
        from torchvision.transforms.functional import adjust_hue

        clip = adjust_hue(clip, params.hue)
    return clip


def _grey(clip: Tensor) -> Tensor:
    """Luma of ``(F, 3, H, W)`` RGB as ``(F, 1, H, W)``."""
    weights = torch.tensor(_GREY_WEIGHTS, dtype=clip.dtype, device=clip.device)  # (3,)
    return torch.einsum("fchw,c->fhw", clip, weights).unsqueeze(1)  # (F, 1, H, W)
