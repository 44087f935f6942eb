"""The MediaPipe selfie segmenter: person-vs-background probability for one RGB crop.

The upstream file is ``selfie_segmentation.tflite`` (MediaPipe, Apache-2.0; registry entry
``selfie_segmentation`` in ``dior_cli.weights``), read at load time by OpenCV's DNN module
(``cv2.dnn.readNetFromTFLite``); nothing is converted or stored. The landscape variant
(``selfie_segmentation_landscape.tflite``, input 144x256) loads too when passed as an explicit
path; its input size is found by probing the network.

Network contract (TFLite, NHWC): input ``[1, h, w, 3]`` float32 RGB scaled to [0, 1]
(``[1, 256, 256, 3]``, or ``[1, 144, 256, 3]`` for landscape), output ``[1, h, w, 1]``, the
probability that a pixel belongs to a person. OpenCV's importer exposes it as NCHW
(``(1, 3, h, w)`` in, ``(1, 1, h, w)`` out). It was made for people near the camera; on a crop
around a small person it often returns (almost) nothing.

This module only runs the network: cutting crops around boxes, thresholding and pasting masks
back into the frame live in ``dior_cli.box_to_mask``.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from dior_cli.errors import FormatError
from dior_cli import weights

NETWORK_NAME = "selfie_segmentation"  # the registry key in dior_cli.weights
INPUT_SIZES = ((256, 256), (144, 256))  # [h, w] of the square and the landscape model, probed in this order


class SelfieSegmenter:
    """One loaded selfie segmenter; ``probability`` maps an RGB crop to a per-pixel person probability.

    Holds the OpenCV network (not thread-safe: use one object per thread). Stateless between
    calls, so one object serves any number of sequences.
    """

    def __init__(self, net: "cv2.dnn.Net", input_size: tuple[int, int], path: Path) -> None:
        self.net = net
        self.input_size = input_size  # [h, w] of the network's input
        self.path = path

    def probability(self, crop_rgb: np.ndarray) -> np.ndarray:
        """Person probability of every pixel of ``crop_rgb``.

        Args:
            crop_rgb: ``(h, w, 3)`` uint8 RGB, any size of at least 1x1.

        Returns:
            ``(h, w)`` float32 in [0, 1], the network's output resized back to the crop
            (bilinear).
        """
        if crop_rgb.ndim != 3 or crop_rgb.shape[2] != 3 or crop_rgb.shape[0] < 1 or crop_rgb.shape[1] < 1:
            raise ValueError(f"probability expects an (h, w, 3) crop, got shape {crop_rgb.shape}")
        h, w = crop_rgb.shape[:2]
        net_h, net_w = self.input_size
        interpolation = cv2.INTER_AREA if h >= net_h and w >= net_w else cv2.INTER_LINEAR
        resized = cv2.resize(crop_rgb, (net_w, net_h), interpolation=interpolation)  # (net_h, net_w, 3)
        prob = self.network_probability(resized.astype(np.float32) / 255.0)  # (net_h, net_w)
        return cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)  # (h, w)

    def network_probability(self, rgb01: np.ndarray) -> np.ndarray:
        """``(net_h, net_w, 3)`` float32 RGB in [0, 1] -> ``(net_h, net_w)`` float32 probability (no resizing)."""
        if rgb01.shape != (*self.input_size, 3):
            raise ValueError(f"network_probability expects {(*self.input_size, 3)}, got {rgb01.shape}")
        blob = np.ascontiguousarray(rgb01.transpose(2, 0, 1)[None])  # (1, 3, net_h, net_w)
        self.net.setInput(blob)
        out = self.net.forward()  # (1, 1, net_h, net_w)
        if out.shape != (1, 1, *self.input_size):
            raise ValueError(f"output shape {tuple(out.shape)} (NCHW) for a {self.input_size[0]}x{self.input_size[1]} input")
        return np.clip(out[0, 0], 0.0, 1.0)


def load_selfie_segmenter(explicit: str | os.PathLike | None = None) -> SelfieSegmenter:
    """Find the selfie segmenter's file (``weights.resolve``: ``--weights``, ``$DIOR_WEIGHTS``, the
    user cache, ``../shared/weights``) and load it.

    Raises:
        InputNotFound: no file (the message names every place searched, or the explicit path).
        FormatError: the file is not a TFLite network with the selfie segmenter's input and
            output (the message names the file).
    """
    located = weights.resolve(NETWORK_NAME, explicit, allow_download=False)
    return read_selfie_segmenter(located.path)


def read_selfie_segmenter(path: str | os.PathLike) -> SelfieSegmenter:
    """Load ``path`` with OpenCV and check its contract by probing it with a grey image."""
    path = Path(path)
    try:
        net = cv2.dnn.readNetFromTFLite(str(path))
    except cv2.error as exc:
        raise FormatError(f"cannot be read as a TFLite network by OpenCV ({_first_line(exc)})", path=path) from None
    if net.empty():
        raise FormatError("OpenCV read no layers from this TFLite file", path=path)
    failures = []
    for size in INPUT_SIZES:
        segmenter = SelfieSegmenter(net, size, path)
        try:
            prob = segmenter.network_probability(np.full((*size, 3), 0.5, dtype=np.float32))
        except (cv2.error, ValueError) as exc:
            failures.append(f"{size[0]}x{size[1]}: {_first_line(exc)}")
            continue
        if np.isfinite(prob).all():
            return segmenter
        failures.append(f"{size[0]}x{size[1]}: non-finite output")
    raise FormatError("is not a selfie segmenter: it takes neither a [1, 256, 256, 3] nor a [1, 144, 256, 3] input "
                      f"giving a one-channel map of the same size ({'; '.join(failures)})", path=path)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]
