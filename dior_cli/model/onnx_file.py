"""Read an ONNX file's graph and weights, so that dior's own torch networks can load upstream files.

dior runs its own implementation of each architecture; an ONNX export is only where the
trained numbers live. ``read_onnx`` gives the initializers (name -> numpy array) and the nodes
in graph order (op type, scope name, inputs, outputs, attributes), which is all a loader needs
to map tensors onto its own modules by the node that consumes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli.errors import FormatError, InputNotFound


@dataclass(frozen=True)
class OnnxNode:
    """One graph node: ``op`` (``Conv``), ``name`` (the exporter's module scope), inputs, outputs, attributes."""

    op: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OnnxGraph:
    """An ONNX file's weights and nodes (``inputs`` / ``outputs``: name -> shape, ``None`` for a symbolic dim)."""

    path: Path
    initializers: dict[str, np.ndarray]
    nodes: list[OnnxNode]
    inputs: dict[str, tuple[int | None, ...]]
    outputs: dict[str, tuple[int | None, ...]]

    def nodes_of(self, op: str) -> list[OnnxNode]:
        return [node for node in self.nodes if node.op == op]


def read_onnx(path: str | os.PathLike) -> OnnxGraph:
    """Parse ``path`` with the ``onnx`` package; a missing or malformed file names itself."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    if not path.is_file():
        raise InputNotFound("ONNX file does not exist", path=path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, ValueError, ... for a bad file
        raise FormatError(f"cannot be read as an ONNX model ({type(exc).__name__}: {str(exc)[:200]})", path=path) from None
    graph = model.graph
    initializers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    nodes = [OnnxNode(node.op_type, node.name, tuple(node.input), tuple(node.output),
                      {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}) for node in graph.node]
    # Constant nodes carry small tensors too (some exporters put weights there).
    for node in nodes:
        if node.op == "Constant" and "value" in node.attrs:
            initializers.setdefault(node.outputs[0], numpy_helper.to_array(node.attrs["value"]))

    def shapes(values) -> dict[str, tuple[int | None, ...]]:
        return {v.name: tuple(d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim)
                for v in values if v.name not in initializers}

    return OnnxGraph(path, initializers, nodes, shapes(graph.input), shapes(graph.output))
