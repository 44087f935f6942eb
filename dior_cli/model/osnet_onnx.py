"""Fill dior's OSNet x0.25 from the upstream ONNX export, at load time.

The export (deep-person-reid's ``osnet_x0_25_msmt17``, opset 12) folded each BatchNorm into the
convolution before it, so those weights carry generated names (``onnx::Conv_1083``); their
meaning comes from the *node* that consumes them, whose name is the module scope
(``/conv2/conv2.0/conv3/conv/Conv``). The scope becomes the exporter's module path
(``conv2.0.conv3.conv``; a scope repeated for a reused module, ``fc1_2``, is the same module
``fc1``), which ``dior_name`` maps onto dior's own names (``conv2.0.expand``). Checks on the way:
where the exporter kept a readable initializer name it must equal the derived path; each conv's
kernel, stride, padding and groups must equal dior's layer's; a module reached twice (the gate
shared by the four streams) must use the same tensors; every parameter of dior's network must be
filled exactly once with the right shape. Any failure is a ``FormatError`` naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from dior_cli.errors import FormatError
from dior_cli.model.onnx_file import OnnxGraph, read_onnx

STREAMS = "abcd"  # the exporter's conv2a..conv2d = dior's streams 0..3 (1..4 lite convs)

# exporter module path -> dior module path; the first matching rule wins.
RULES = [
    (r"conv1\.conv", "conv1"),
    (r"conv5\.conv", "conv5"),
    (r"fc\.0", "fc"),
    (r"fc\.1", "fc_bn"),
    (r"(conv\d)\.(\d)\.conv1\.conv", r"\1.\2.reduce"),
    (r"(conv\d)\.(\d)\.conv3\.conv", r"\1.\2.expand"),
    (r"(conv\d)\.(\d)\.downsample\.conv", r"\1.\2.shortcut"),
    (r"(conv\d)\.(\d)\.gate\.(fc[12])", r"\1.\2.gate.\3"),
    (r"(conv\d)\.(\d)\.0\.conv", r"\1.\2.conv"),  # transition: 1x1 conv (+ BN) + ReLU, then avg-pool
]
LITE_CONV = re.compile(r"(conv\d)\.(\d)\.conv2([abcd])(?:\.(\d))?\.conv([12])")
PARAMS = {"Conv": ("weight", "bias"), "Gemm": ("weight", "bias"),
          "BatchNormalization": ("weight", "bias", "running_mean", "running_var")}


def dior_name(export_path: str) -> str | None:
    """dior's module path for the exporter's (``conv3.1.conv2c.2.conv2`` -> ``conv3.1.streams.2.2.depthwise``); None if no rule fits."""
    match = LITE_CONV.fullmatch(export_path)
    if match:
        stage, block, stream, step, part = match.groups()
        return f"{stage}.{block}.streams.{STREAMS.index(stream)}.{step or 0}.{'pointwise' if part == '1' else 'depthwise'}"
    for pattern, replacement in RULES:
        if re.fullmatch(pattern, export_path):
            return re.sub(pattern, replacement, export_path)
    return None


def export_path(node_name: str) -> str:
    """The module path in a node's scope name: ``/conv2/conv2.0/conv2b/conv2b.1/conv1/Conv`` ->
    ``conv2.0.conv2b.1.conv1`` (a child of a container is named ``<container>.<index>``, so it
    replaces its parent's segment; ``_N`` marks the N-th reuse of one module)."""
    segments: list[str] = []
    for part in node_name.strip("/").split("/")[:-1]:
        part = re.sub(r"_\d+$", "", part)
        if segments and part.startswith(segments[-1] + "."):
            segments[-1] = part
        else:
            segments.append(part)
    return ".".join(segments)


def osnet_state_dict(model: torch.nn.Module, path: str | Path) -> dict[str, torch.Tensor]:
    """``model``'s state dict (an ``OSNet``) filled from the ONNX file at ``path``, every tensor checked."""
    graph = read_onnx(path)
    return state_from_graph(model, graph)


def state_from_graph(model: torch.nn.Module, graph: OnnxGraph) -> dict[str, torch.Tensor]:
    path = graph.path
    modules = dict(model.named_modules())
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    sources: dict[str, str] = {}  # dior parameter -> initializer it came from
    for node in graph.nodes:
        if node.op not in PARAMS:
            continue
        scope = export_path(node.name)
        target = dior_name(scope)
        if target is None or target not in modules:
            raise FormatError(f"node {node.name}: no module of dior's OSNet x0.25 matches the exported {scope!r}; "
                              f"this is not the OSNet x0.25 export dior reads", path=path)
        _check_attributes(node.name, node.op, node.attrs, modules[target], path)
        for input_name, param in zip(node.inputs[1:], PARAMS[node.op]):
            key = f"{target}.{param}"
            if not input_name.startswith("onnx::") and input_name != f"{scope}.{param}":
                raise FormatError(f"node {node.name}: initializer {input_name!r} does not match the scope-derived name {scope}.{param!r}", path=path)
            if key in sources:
                if sources[key] != input_name:
                    raise FormatError(f"{key}: the reused module {scope} reads {input_name}, earlier {sources[key]}", path=path)
                continue
            if input_name not in graph.initializers:
                raise FormatError(f"node {node.name}: input {input_name!r} is not an initializer", path=path)
            value = torch.from_numpy(np.array(graph.initializers[input_name], dtype=np.float32))
            if key not in expected or value.shape != expected[key].shape:
                want = list(expected[key].shape) if key in expected else "(absent)"
                raise FormatError(f"node {node.name}: {input_name} {list(value.shape)} does not fit {key} {want}", path=path)
            state[key] = value
            sources[key] = input_name
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros_like(value)  # a counter used only when training
    missing = sorted(set(expected) - set(state))
    if missing:
        raise FormatError(f"the file fills no value for {len(missing)} parameter(s) of OSNet x0.25 ({', '.join(missing[:3])}...): "
                          f"not the OSNet x0.25 export dior reads", path=path)
    return {key: state[key] for key in expected}


def _check_attributes(node_name: str, op: str, attrs: dict, module: torch.nn.Module, path: Path) -> None:
    if op == "Conv":
        want = {"kernel_shape": list(module.kernel_size), "strides": list(module.stride),
                "pads": list(module.padding) * 2, "group": module.groups, "dilations": list(module.dilation)}
        got = {key: attrs.get(key, default) for key, default in (("kernel_shape", None), ("strides", [1, 1]), ("pads", [0, 0, 0, 0]),
                                                                 ("group", 1), ("dilations", [1, 1]))}
        if got != want:
            raise FormatError(f"node {node_name}: conv attributes {got} differ from dior's layer {want}", path=path)
    elif op == "Gemm" and (attrs.get("transB") != 1 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
        raise FormatError(f"node {node_name}: expected y = x W^T + b, got Gemm attributes {attrs}", path=path)
    elif op == "BatchNormalization" and abs(attrs.get("epsilon", 1e-5) - module.eps) > 1e-9:
        raise FormatError(f"node {node_name}: BatchNorm epsilon {attrs.get('epsilon')} differs from dior's {module.eps}", path=path)
