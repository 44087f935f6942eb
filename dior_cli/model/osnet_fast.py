"""Fast CPU inference for ``dior_cli.model.osnet.OSNet``: the same arithmetic, fewer and fused kernels.

Used by ``OSNet.forward`` when it runs for inference on the CPU (eval mode, no autograd:
``torch.inference_mode()`` or ``torch.no_grad()``, float32); training, autograd and other
devices keep the plain eager layers. Measured with ``python benchmarks/embed_speed.py``
(results in benchmarks/RESULTS.md, section embed_speed: as fast as onnxruntime on a loaded
machine, where the eager layers fall to a fifth of its speed; on a quiet machine only ~10 %
faster than the eager layers, about half onnxruntime's speed). Three changes, each measured in
paired runs against onnxruntime:

1. **oneDNN convolutions with fused post-ops**: every convolution goes through
   ``torch.ops.mkldnn._convolution_pointwise`` with its ReLU fused (``conv1``, the block's
   reduction, the depthwise step of each lite conv, the transitions, ``conv5``), and the
   block's expansion fuses the residual add and the final ReLU (``.binary``, ``add`` then
   ``relu``), so no separate ReLU / add passes over the tensors.
2. **Weights packed once** into oneDNN's blocked layout (``_reorder_convolution_weight``,
   for a reference batch of ``PACK_BATCH`` crops; the packed layout serves any batch size)
   instead of on every call. The packed copy is remembered per convolution together with the
   weight's storage pointer and version counter, so a weight changed in place (``dior adapt``
   fine-tunes the encoder, then re-embeds) is packed again before it is used.
3. **Batch split across threads**: with ``T = torch.get_num_threads() > 1`` threads, the
   batch is cut into ``T`` parts run at once on ``T`` Python threads with one torch thread
   each (the heavy kernels release the GIL). The network is made of many small kernels
   (about 190 convolutions and as many element-wise steps per forward); running each one on
   ``T`` OpenMP threads costs a barrier per kernel, which is slow on a loaded machine, while
   ``T`` independent single-thread streams need no barrier. Results do not depend on the
   split: each crop's output is computed from that crop alone.

Robustness: the first fast call on a model also runs the plain eager network on the first
crop and compares (``VERIFY_TOLERANCE``); if the fused ops are missing, raise, or disagree, the
model keeps the eager path for the rest of its life (``fast_path_state`` says which, and why).
"""

from __future__ import annotations

import threading
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PACK_BATCH = 32  # batch size the packed weight layout is chosen for (any batch runs with it)
VERIFY_TOLERANCE = 1e-3  # max |fast - eager| on the raw (N, 512) outputs (float32 rounding is ~1e-4 on outputs up to ~20)
MIN_CROPS_PER_THREAD = 2  # smaller batches run on one thread


def fused_ops_available() -> bool:
    """Whether this torch build has the oneDNN fused convolution ops the fast path needs."""
    try:
        return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
                and hasattr(torch.ops.mkldnn, "_reorder_convolution_weight"))
    except (AttributeError, RuntimeError):
        return False


class FastRunner:
    """The packed weights of one ``OSNet`` and the fused forward over them (one per model instance).

    Not part of the model's state: ``state_dict`` and checkpoints never see it.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.packed: dict[int, tuple[int, int, torch.Tensor]] = {}  # id(conv) -> (data_ptr, version, packed weight)
        self.lock = threading.Lock()  # packing happens on worker threads

    # --- one convolution ----------------------------------------------------------------------

    def weight(self, conv: nn.Conv2d, channels_in: int, height: int, width: int) -> torch.Tensor:
        """``conv``'s weight in oneDNN's blocked layout, packed again when it changed since."""
        w = conv.weight
        key, stamp = id(conv), (w.data_ptr(), w._version)
        with self.lock:
            entry = self.packed.get(key)
            if entry is None or entry[:2] != stamp:
                packed = torch.ops.mkldnn._reorder_convolution_weight(
                    w.detach(), list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups,
                    [PACK_BATCH, channels_in, height, width])
                entry = (*stamp, packed)
                self.packed[key] = entry
        return entry[2]

    def conv(self, conv: nn.Conv2d, x: torch.Tensor, post: str = "none") -> torch.Tensor:
        """``post(conv(x))`` in one oneDNN call; ``post`` is ``"none"`` or ``"relu"``. x: (N, C, H, W) channels-last."""
        _, c, h, w = x.shape
        return torch.ops.mkldnn._convolution_pointwise(x, self.weight(conv, c, h, w), conv.bias, list(conv.padding), list(conv.stride),
                                                       list(conv.dilation), conv.groups, post, [], "")

    def conv_add_relu(self, conv: nn.Conv2d, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``relu(conv(x) + residual)`` in one oneDNN call."""
        _, c, h, w = x.shape
        return torch.ops.mkldnn._convolution_pointwise.binary(x, residual, self.weight(conv, c, h, w), conv.bias, list(conv.padding),
                                                              list(conv.stride), list(conv.dilation), conv.groups, "add", 1.0,
                                                              "relu", [], "")

    # --- the network --------------------------------------------------------------------------

    def block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """One ``OmniScaleBlock``: (N, C_in, H, W) -> (N, C_out, H, W), channels-last."""
        reduced = self.conv(block.reduce, x, "relu")  # (N, C_out/4, H, W)
        gate = block.gate
        fused = None
        for stream in block.streams:
            y = reduced
            for lite in stream:
                y = self.conv(lite.depthwise, self.conv(lite.pointwise, y), "relu")  # (N, C_out/4, H, W)
            pooled = y.mean(dim=(2, 3), keepdim=True)  # (N, C_out/4, 1, 1)
            weights = torch.sigmoid(gate.fc2(F.relu(gate.fc1(pooled))))  # (N, C_out/4, 1, 1)
            fused = y * weights if fused is None else fused.addcmul_(y, weights)
        residual = x if isinstance(block.shortcut, nn.Identity) else self.conv(block.shortcut, x)  # (N, C_out, H, W)
        return self.conv_add_relu(block.expand, fused, residual)

    def forward_one_thread(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, 256, 128) -> (N, 512) on the calling thread."""
        m = self.model
        x = images.contiguous(memory_format=torch.channels_last)  # (N, 3, 256, 128), stored NHWC
        x = self.conv(m.conv1, x, "relu")  # (N, 16, 128, 64)
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)  # (N, 16, 64, 32)
        for stage in (m.conv2, m.conv3, m.conv4):
            for layer in stage:
                if hasattr(layer, "streams"):
                    x = self.block(layer, x)
                else:  # Transition: 1x1 conv + ReLU, 2x2 average pool
                    x = F.avg_pool2d(self.conv(layer.conv, x, "relu"), kernel_size=2, stride=2)
        x = self.conv(m.conv5, x, "relu")  # (N, 128, 16, 8)
        pooled = x.mean(dim=(2, 3))  # (N, 128)
        return F.relu(m.fc_bn(m.fc(pooled)))  # (N, 512)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, 256, 128) -> (N, 512), the batch split over ``torch.get_num_threads()`` threads."""
        threads = min(torch.get_num_threads(), len(images) // MIN_CROPS_PER_THREAD)
        if threads <= 1:
            return self.forward_one_thread(images)
        parts = torch.tensor_split(images, threads)  # T views of about N/T crops
        results: list[Any] = [None] * threads

        def work(k: int) -> None:
            try:
                torch.set_num_threads(1)
                with torch.inference_mode():
                    results[k] = self.forward_one_thread(parts[k])
            except BaseException as exc:  # handed to the caller below
                results[k] = exc

        outer = torch.get_num_threads()
        workers = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(1, threads)]
        try:
            for worker in workers:
                worker.start()
            torch.set_num_threads(1)
            work(0)
            for worker in workers:
                worker.join()
        finally:
            torch.set_num_threads(outer)  # the caller's thread count, for the detector and everything after
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return torch.cat(results)  # (N, 512)


def fast_forward(model: nn.Module, images: torch.Tensor, eager) -> torch.Tensor | None:
    """``model(images)`` through the fast path, or ``None`` where it does not apply or has failed
    (the caller then runs ``eager(images)``). The first call verifies against ``eager`` on one crop."""
    state = getattr(model, "fast_path_state", "untried")
    if state.startswith("off") or len(images) == 0:
        return None
    if state == "untried":
        if not fused_ops_available():
            model.fast_path_state = "off: this torch has no oneDNN fused convolution ops"
            return None
        model.fast_runner = FastRunner(model)
        try:
            probe = images[:1]
            difference = float((model.fast_runner.forward_one_thread(probe) - eager(probe)).abs().max())
        except RuntimeError as exc:
            model.fast_path_state = f"off: the fused ops failed ({str(exc).splitlines()[0][:160]})"
            return None
        if not difference <= VERIFY_TOLERANCE:
            model.fast_path_state = f"off: fused output differs from eager by {difference:.2e}"
            return None
        model.fast_path_state = "on"
    try:
        return model.fast_runner.forward(images)
    except RuntimeError as exc:
        model.fast_path_state = f"off: the fused ops failed ({str(exc).splitlines()[0][:160]})"
        return None
