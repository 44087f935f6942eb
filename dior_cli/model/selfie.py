"""The MediaPipe selfie segmenter: person-vs-background probability for one RGB crop.

The upstream file is ``selfie_segmentation.tflite`` (MediaPipe, Apache-2.0; registry entry
``selfie_segmentation`` in ``dior_cli.weights``), read at load time by OpenCV's DNN module
(``cv2.dnn.readNetFromTFLite``); nothing is converted or stored. The landscape variant
(``selfie_segmentation_landscape.tflite``, input 144x256) loads too when passed as an explicit
path; its input size is found by probing the network.

Runtime (``RUNTIMES``): OpenCV always reads the file and checks its contract. Where the TFLite
runtime ``ai-edge-litert`` is installed (optional; the ``test`` extra has it), ``runtime="auto"``
(the default) runs the network through it instead (XNNPACK kernels, the same number of threads
as OpenCV's ``cv2.getNumThreads()``): about 2.5x faster than OpenCV's DNN on this network
(``python benchmarks/box_to_mask_davis.py`` times both). Before it is used its output on a
probe image must agree with OpenCV's to ``RUNTIME_TOLERANCE``; otherwise OpenCV runs it.
``runtime="opencv"`` or ``"litert"`` force one (``"litert"`` fails when it is missing).

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
RUNTIMES = ("auto", "opencv", "litert")
RUNTIME_TOLERANCE = 1e-3  # max |LiteRT - OpenCV| probability on the probe image for LiteRT to be used


class SelfieSegmenter:
    """One loaded selfie segmenter; ``probability`` maps an RGB crop to a per-pixel person probability.

    Holds the OpenCV network (not thread-safe: use one object per thread). Stateless between
    calls, so one object serves any number of sequences.
    """

    def __init__(self, net: "cv2.dnn.Net", input_size: tuple[int, int], path: Path, interpreter=None) -> None:
        self.net = net
        self.input_size = input_size  # [h, w] of the network's input
        self.path = path
        self.interpreter = interpreter  # an ai_edge_litert Interpreter, or None: OpenCV runs the network

    @property
    def runtime(self) -> str:
        """``"litert"`` or ``"opencv"``: what runs the network."""
        return "opencv" if self.interpreter is None else "litert"

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
        if self.interpreter is not None:
            return np.clip(_litert_forward(self.interpreter, rgb01), 0.0, 1.0)
        return self.opencv_probability(rgb01)

    def opencv_probability(self, rgb01: np.ndarray) -> np.ndarray:
        """``network_probability`` through OpenCV's DNN module, whatever ``runtime`` is."""
        blob = np.ascontiguousarray(rgb01.transpose(2, 0, 1)[None], dtype=np.float32)  # (1, 3, net_h, net_w)
        self.net.setInput(blob)
        out = self.net.forward()  # (1, 1, net_h, net_w)
        if out.shape != (1, 1, *self.input_size):
            raise ValueError(f"output shape {tuple(out.shape)} (NCHW) for a {self.input_size[0]}x{self.input_size[1]} input")
        return np.clip(out[0, 0], 0.0, 1.0)


def load_selfie_segmenter(explicit: str | os.PathLike | None = None, runtime: str = "auto") -> SelfieSegmenter:
    """Find the selfie segmenter's file (``weights.resolve``: ``--weights``, ``$DIOR_WEIGHTS``, the
    user cache, ``../shared/weights``) and load it.

    Raises:
        InputNotFound: no file (the message names every place searched, or the explicit path).
        FormatError: the file is not a TFLite network with the selfie segmenter's input and
            output (the message names the file).
    """
    located = weights.resolve(NETWORK_NAME, explicit, allow_download=False)
    return read_selfie_segmenter(located.path, runtime)


def read_selfie_segmenter(path: str | os.PathLike, runtime: str = "auto") -> SelfieSegmenter:
    """Load ``path`` with OpenCV, check its contract by probing it with a grey image, and pick the
    runtime (module docstring)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    segmenter = _read_with_opencv(Path(path))
    if runtime == "opencv":
        return segmenter
    interpreter, why_not = _litert_interpreter(segmenter)
    if interpreter is None:
        if runtime == "litert":
            raise FormatError(f"cannot run it with ai-edge-litert: {why_not}", path=segmenter.path)
        return segmenter
    return SelfieSegmenter(segmenter.net, segmenter.input_size, segmenter.path, interpreter)


def _read_with_opencv(path: Path) -> SelfieSegmenter:
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


def _probe_image(input_size: tuple[int, int]) -> np.ndarray:
    """A smooth colour pattern with a bright ellipse, ``(h, w, 3)`` float32 in [0, 1] (not a person:
    it only has to make the network's layers work on varied values)."""
    h, w = input_size
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    blob = (((rows - h / 2) / (h / 3)) ** 2 + ((cols - w / 2) / (w / 5)) ** 2 <= 1).astype(np.float32)
    return np.clip(np.stack([rows / h, cols / w, 0.3 + 0.6 * blob], axis=-1), 0.0, 1.0)


def _litert_interpreter(segmenter: SelfieSegmenter):
    """``(interpreter, None)`` when ai-edge-litert runs the file and agrees with OpenCV on a probe,
    else ``(None, reason)``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None, "ai-edge-litert is not installed (pip install ai-edge-litert)"
    try:
        interpreter = Interpreter(model_path=str(segmenter.path), num_threads=max(cv2.getNumThreads(), 1))
        interpreter.allocate_tensors()
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        if tuple(inp["shape"]) != (1, *segmenter.input_size, 3) or tuple(out["shape"]) != (1, *segmenter.input_size, 1):
            return None, f"its input {list(inp['shape'])} / output {list(out['shape'])} are not [1, h, w, 3] / [1, h, w, 1]"
        probe = _probe_image(segmenter.input_size)
        difference = float(np.abs(_litert_forward(interpreter, probe) - segmenter.opencv_probability(probe)).max())
    except (RuntimeError, ValueError, cv2.error) as exc:
        return None, _first_line(exc)
    if not difference <= RUNTIME_TOLERANCE:
        return None, f"its output differs from OpenCV's by {difference:.2e} on the probe image"
    return interpreter, None


def _litert_forward(interpreter, rgb01: np.ndarray) -> np.ndarray:
    """``(h, w, 3)`` float32 RGB in [0, 1] -> ``(h, w)`` float32, through the TFLite interpreter."""
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.set_tensor(inp["index"], np.ascontiguousarray(rgb01, dtype=np.float32)[None])  # (1, h, w, 3)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])[0, :, :, 0]  # (h, w)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]
