"""Map the tensors of a YOLOX-nano ONNX export onto dior's ``YoloxNano``.

The export names most weights with numbers (``1178``) and nodes generically (``Conv_41``), so
names cannot say which tensor is which. The graph's structure can: the exporter writes nodes
in the order the upstream model ran them, and dior's network runs its convolutions in the
same order. ``state_dict_from_onnx`` pairs the k-th ``Conv`` node of the graph with the k-th
convolution dior's forward calls, and checks, for every pair, before anything is loaded:

- kernel, stride, padding, groups, dilation, weight shape and the presence of a bias;
- the data flow: the convolution whose output (after its SiLU, where it has one) feeds this
  one is the same in both graphs (``None`` where the input comes from a concat, a sum, a
  pool, an upsample or the image);
- where the exporter kept a readable name (``head.cls_preds.1.weight``) it names the module
  dior puts it in (``head.levels.1.cls_pred.weight``);
- the graph's other structure: one image input with 3 channels, an output of 85 numbers
  per cell, the Focus stem's sub-image order, the SPP pool sizes and two 2x upsamplings;
- every parameter of dior's network is filled exactly once, and every Conv tensor of the
  graph is used.

Anything that differs is a ``FormatError`` naming the file and the first difference.
"""

from __future__ import annotations

import os
import re

import numpy as np
import torch
from torch import nn

from dior_cli.errors import FormatError
from dior_cli.model.onnx_file import OnnxGraph, OnnxNode, read_onnx
from dior_cli.model.yolox import FOCUS_OFFSETS, OUTPUTS_PER_CELL, SPP_KERNELS, ConvAct, YoloxNano

TRACE_INPUT_HW = (64, 64)  # a small input for tracing dior's own call order (any multiple of 32 works)
READABLE_NAME = re.compile(r"head\.(cls|reg|obj)_preds\.(\d+)\.(weight|bias)")


def state_dict_from_onnx(graph: OnnxGraph, model: YoloxNano) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` filled from ``graph``'s initializers (checks in the module docstring)."""
    _check_io(graph)
    _check_focus(graph)
    _check_pools_and_upsampling(graph)
    ours = conv_call_order(model)
    theirs = _onnx_convs(graph)
    if len(theirs) != len(ours):
        _fail(graph, f"has {len(theirs)} Conv nodes, dior's YOLOX-nano has {len(ours)} convolutions")
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for index, ((name, conv, producer), (node, onnx_producer)) in enumerate(zip(ours, theirs)):
        where = f"Conv node {node.name or index} (convolution {index}, dior's {name})"
        _check_conv_attributes(graph, node, conv, where)
        if producer != onnx_producer:
            _fail(graph, f"{where} reads the output of convolution {onnx_producer}, dior's reads {producer}")
        for suffix, tensor_name in zip(("weight", "bias"), node.inputs[1:3]):
            _check_readable_name(graph, tensor_name, f"{name}.{suffix}", where)
            if tensor_name in used:
                _fail(graph, f"{where} reuses tensor {tensor_name!r}, which another convolution already took")
            used.add(tensor_name)
            state[f"{name}.{suffix}"] = torch.from_numpy(np.array(graph.initializers[tensor_name], dtype=np.float32))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing or set(state) - set(expected):
        _fail(graph, f"does not fill dior's YOLOX-nano exactly: missing {missing[:3]}, extra {sorted(set(state) - set(expected))[:3]}")
    return state


def conv_call_order(model: nn.Module) -> list[tuple[str, nn.Conv2d, int | None]]:
    """dior's convolutions in the order its forward calls them: ``(module path, conv, producer)``,
    where ``producer`` is the index of the convolution whose output (after its SiLU, for a
    ``ConvAct``) is this one's input, ``None`` when it is anything else."""
    units: dict[nn.Module, tuple[str, nn.Conv2d]] = {}
    inside_conv_act: set[nn.Module] = set()
    for name, module in model.named_modules():
        if isinstance(module, ConvAct):
            units[module] = (f"{name}.conv", module.conv)
            inside_conv_act.add(module.conv)
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and module not in inside_conv_act:
            units[module] = (name, module)
    order: list[tuple[str, nn.Conv2d, int | None]] = []
    made_by: dict[int, int] = {}  # id(output tensor) -> convolution index
    keep_alive: list[torch.Tensor] = []  # ids stay unique while the tensors live

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        name, conv = units[module]
        order.append((name, conv, made_by.get(id(inputs[0]))))
        made_by[id(output)] = len(order) - 1
        keep_alive.extend((inputs[0], output))

    handles = [module.register_forward_hook(record) for module in units]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, *TRACE_INPUT_HW, device=next(model.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    return order


def _onnx_convs(graph: OnnxGraph) -> list[tuple[OnnxNode, int | None]]:
    """The graph's Conv nodes in order, each with the index of the Conv whose (activated) output it reads."""
    convs = graph.nodes_of("Conv")
    index_of_output = {node.outputs[0]: i for i, node in enumerate(convs)}
    # A conv's unit output is Mul(x, Sigmoid(x)) where a SiLU follows it, else its own output.
    sigmoid_of = {node.outputs[0]: node.inputs[0] for node in graph.nodes if node.op == "Sigmoid"}
    unit_output = dict(index_of_output)
    for node in graph.nodes:
        if node.op == "Mul" and len(node.inputs) == 2:
            a, b = node.inputs
            for x, gate in ((a, b), (b, a)):
                if x in index_of_output and sigmoid_of.get(gate) == x:
                    unit_output[node.outputs[0]] = index_of_output[x]
    result = []
    for node in convs:
        if len(node.inputs) < 2 or any(name not in graph.initializers for name in node.inputs[1:]):
            _fail(graph, f"Conv node {node.name} takes its weights from another node, not from an initializer")
        result.append((node, unit_output.get(node.inputs[0])))
    return result


def _check_conv_attributes(graph: OnnxGraph, node: OnnxNode, conv: nn.Conv2d, where: str) -> None:
    weight = graph.initializers[node.inputs[1]]
    kernel = tuple(node.attrs.get("kernel_shape", weight.shape[2:]))
    pads = tuple(node.attrs.get("pads", (0, 0, 0, 0)))
    found = {
        "weight shape": tuple(weight.shape),
        "kernel": kernel,
        "stride": tuple(node.attrs.get("strides", (1, 1))),
        "pads": pads,
        "groups": int(node.attrs.get("group", 1)),
        "dilation": tuple(node.attrs.get("dilations", (1, 1))),
        "bias": len(node.inputs) > 2 and node.inputs[2] != "",
    }
    ph, pw = conv.padding
    wanted = {
        "weight shape": tuple(conv.weight.shape),
        "kernel": tuple(conv.kernel_size),
        "stride": tuple(conv.stride),
        "pads": (ph, pw, ph, pw),
        "groups": conv.groups,
        "dilation": tuple(conv.dilation),
        "bias": conv.bias is not None,
    }
    for key, value in wanted.items():
        if found[key] != value:
            _fail(graph, f"{where} has {key} {found[key]}, dior's has {value}")
    if found["bias"] and tuple(graph.initializers[node.inputs[2]].shape) != (conv.out_channels,):
        _fail(graph, f"{where} has bias shape {graph.initializers[node.inputs[2]].shape}, dior's has ({conv.out_channels},)")


def _check_readable_name(graph: OnnxGraph, tensor_name: str, dior_name: str, where: str) -> None:
    match = READABLE_NAME.fullmatch(tensor_name)
    if match:
        branch, level, kind = match.groups()
        expected = f"head.levels.{level}.{branch}_pred.{kind}"
        if dior_name != expected:
            _fail(graph, f"{where}: the exporter's {tensor_name!r} would go into {dior_name}, not {expected}")


def _check_io(graph: OnnxGraph) -> None:
    if len(graph.inputs) != 1:
        _fail(graph, f"has inputs {list(graph.inputs)}, a YOLOX export has one image input")
    (input_shape,) = graph.inputs.values()
    if len(input_shape) != 4 or input_shape[1] != 3:
        _fail(graph, f"input has shape {input_shape}, a YOLOX export takes (N, 3, H, W) images")
    if len(graph.outputs) != 1 or [len(s) for s in graph.outputs.values()] != [3] or list(graph.outputs.values())[0][2] != OUTPUTS_PER_CELL:
        _fail(graph, f"has outputs {graph.outputs}, a YOLOX-nano export gives one (N, cells, {OUTPUTS_PER_CELL}) tensor")


def _check_focus(graph: OnnxGraph) -> None:
    """The first Conv reads a Concat of four stride-2 slices of the image, in ``FOCUS_OFFSETS`` order."""
    producers = {out: node for node in graph.nodes for out in node.outputs}
    convs = graph.nodes_of("Conv")
    concat = producers.get(convs[0].inputs[0]) if convs else None
    if concat is None or concat.op != "Concat" or len(concat.inputs) != 4:
        _fail(graph, "does not start with the Focus stem (four image slices concatenated before the first Conv)")
    offsets = []
    for tensor in concat.inputs:
        start = {2: None, 3: None}
        while tensor in producers and producers[tensor].op == "Slice":
            node = producers[tensor]
            starts, _, axes, steps = (graph.initializers.get(name) for name in node.inputs[1:5])
            if any(v is None for v in (starts, axes, steps)) or list(steps) != [2] or int(axes[0]) not in start:
                _fail(graph, f"Slice node {node.name} is not a stride-2 row or column slice of the Focus stem")
            start[int(axes[0])] = int(starts[0])
            tensor = node.inputs[0]
        offsets.append((start[2], start[3]))
    if tuple(offsets) != FOCUS_OFFSETS:
        _fail(graph, f"Focus stem takes the 2x2 sub-images in (row, column) order {offsets}, dior's in {list(FOCUS_OFFSETS)}")


def _check_pools_and_upsampling(graph: OnnxGraph) -> None:
    pools = [(tuple(n.attrs.get("kernel_shape", ())), tuple(n.attrs.get("strides", ())), tuple(n.attrs.get("pads", ())))
             for n in graph.nodes_of("MaxPool")]
    wanted = [((k, k), (1, 1), (k // 2,) * 4) for k in SPP_KERNELS]
    if pools != wanted:
        _fail(graph, f"has MaxPool nodes (kernel, stride, pads) {pools}, dior's SPP has {wanted}")
    resizes = graph.nodes_of("Resize")
    for node in resizes:
        scales = graph.initializers.get(node.inputs[2]) if len(node.inputs) > 2 else None
        if node.attrs.get("mode") not in (b"nearest", "nearest") or scales is None or list(scales) != [1, 1, 2, 2]:
            _fail(graph, f"Resize node {node.name} is not a 2x nearest upsampling")
    if len(resizes) != 2:
        _fail(graph, f"has {len(resizes)} Resize nodes, dior's neck upsamples twice")


def _fail(graph: OnnxGraph, message: str) -> None:
    raise FormatError(f"is not the YOLOX-nano export dior reads: {message}", path=graph.path)


def load_yolox(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> YoloxNano:
    """YOLOX-nano with the weights of the upstream ONNX file, in eval mode on ``device``.

    Args:
        path: an ONNX export of YOLOX-nano; ``None`` finds ``yolox_nano.onnx`` through
            ``dior_cli.weights`` (``$DIOR_WEIGHTS``, the user cache, ``../shared/weights``).
        device: where the model goes.

    Raises:
        InputNotFound: the file does not exist (for the default: every place searched).
        FormatError: the file is not ONNX, or not a YOLOX-nano graph (the message names the
            file and the first thing that differs).
    """
    from dior_cli.weights import resolve

    located = resolve("yolox_nano", path)
    model = YoloxNano()
    model.load_state_dict(state_dict_from_onnx(read_onnx(located.path), model))
    return model.to(device).eval()
