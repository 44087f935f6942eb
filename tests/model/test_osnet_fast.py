"""The fused CPU inference path of OSNet (``dior_cli.model.osnet_fast``): same outputs as
onnxruntime on the original export whatever the thread split, weights changed in place are
used, failures fall back to the eager layers, training never takes it."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort  # the test extra's independent reference
import pytest
import torch

from dior_cli.model import osnet_fast
from dior_cli.model.osnet import EMBEDDING_DIM, load_osnet
from tests.conftest import REPO, require

ONNX = REPO.parent / "shared" / "weights" / "osnet_x0_25_msmt17.onnx"


@pytest.fixture()
def osnet():
    require(ONNX)
    return load_osnet()


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    """7 normalised-looking crops, (7, 3, 256, 128) float32 (an odd count: uneven thread parts)."""
    return np.random.default_rng(3).normal(size=(7, 3, 256, 128)).astype(np.float32)


def onnxruntime_outputs(inputs: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(ONNX), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"images": inputs})[0]  # (N, 512)


def close_to(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """float32 agreement as in test_osnet: 1e-4 of each row's largest output."""
    return bool((np.abs(ours - theirs).max(axis=1) <= 1e-4 * np.abs(theirs).max(axis=1)).all())


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fast_path_matches_onnxruntime_at_any_thread_split(osnet, inputs, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            ours = osnet(torch.from_numpy(inputs)).numpy()
        assert torch.get_num_threads() == threads  # the split hands the caller's thread count back
    finally:
        torch.set_num_threads(before)
    assert osnet.fast_path_state == "on"
    assert ours.shape == (len(inputs), EMBEDDING_DIM)
    assert close_to(ours, onnxruntime_outputs(inputs))


def test_weights_changed_in_place_are_packed_again(osnet, inputs):
    """With conv1's weights and bias zeroed, every input gives the same output (by hand: the
    first layer's output is 0 everywhere); a stale packed copy would keep them apart."""
    x = torch.from_numpy(inputs[:4])
    with torch.inference_mode():
        before = osnet(x)
    assert osnet.fast_path_state == "on"
    assert (before[0] - before[1]).abs().max() > 1e-2
    with torch.no_grad():
        osnet.conv1.weight.zero_()
        osnet.conv1.bias.zero_()
    with torch.inference_mode():
        after = osnet(x)
    assert (after - after[0]).abs().max() <= 1e-5


def test_a_failing_fused_op_falls_back_to_the_eager_layers(osnet, inputs, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated oneDNN failure")

    monkeypatch.setattr(osnet_fast.FastRunner, "forward_one_thread", broken)
    with torch.inference_mode():
        ours = osnet(torch.from_numpy(inputs)).numpy()
    assert osnet.fast_path_state.startswith("off: the fused ops failed (simulated")
    assert close_to(ours, onnxruntime_outputs(inputs))


def test_a_torch_without_the_fused_ops_uses_the_eager_layers(osnet, inputs, monkeypatch):
    monkeypatch.setattr(osnet_fast, "fused_ops_available", lambda: False)
    with torch.inference_mode():
        ours = osnet(torch.from_numpy(inputs[:2])).numpy()
    assert osnet.fast_path_state.startswith("off: this torch has no oneDNN")
    assert close_to(ours, onnxruntime_outputs(inputs[:2]))


def test_training_and_autograd_never_take_the_fast_path(osnet, inputs):
    out = osnet(torch.from_numpy(inputs[:2]))  # grad enabled (what dior adapt's loop does, in eval mode)
    assert out.requires_grad
    assert not hasattr(osnet, "fast_path_state")
    out.sum().backward()
    assert osnet.conv1.weight.grad is not None and osnet.conv1.weight.grad.abs().sum() > 0


def test_pickling_drops_the_packed_weights(osnet, inputs):
    import copy

    with torch.inference_mode():
        expected = osnet(torch.from_numpy(inputs[:2]))
    clone = copy.deepcopy(osnet)
    assert not hasattr(clone, "fast_runner")
    with torch.inference_mode():
        again = clone(torch.from_numpy(inputs[:2]))
    assert clone.fast_path_state == "on" and (again - expected).abs().max() <= 1e-4
