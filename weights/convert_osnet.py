"""Convert the ONNX export of OSNet x0.25 (MSMT17) into dior's ``osnet_x0_25_msmt17.pt``.

Reads the graph and initializers of ``../shared/weights/osnet_x0_25_msmt17.onnx`` with the
``onnx`` package (``pip install onnx``; not a dependency of dior) and writes the checkpoint
that ``dior_cli.model.osnet.load_osnet`` reads, atomically, then prints its sha256.

How tensors are found: the exporter folded each BatchNorm into the convolution before it, so
those weights carry generated names (``onnx::Conv_1083``); their meaning comes from the
*node* that consumes them, whose name is the module scope (``/conv2/conv2.0/conv3/conv/Conv``).
The scope becomes the exporter's module path (``conv2.0.conv3.conv``; a scope repeated for a
reused module, ``fc1_2``, is the same module ``fc1``), which is then mapped onto dior's own
names (``conv2.0.expand``) by the rules in ``dior_name``. Checks on the way: where the exporter
kept a readable initializer name it must equal the derived path; each conv's kernel, stride,
padding and groups must equal dior's layer's; a module reached twice (the gate shared by the
four streams) must use the same tensors; every parameter of dior's network must be filled
exactly once with the right shape. With ``onnxruntime`` installed, the converted network is
also run against the ONNX one on random input and the largest difference printed.

    python weights/convert_osnet.py [--onnx PATH] [--out weights/osnet_x0_25_msmt17.pt]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np
import torch

from dior_cli.formats.atomic import atomic_write
from dior_cli.model.osnet import (
    EMBEDDING_DIM,
    FORMAT,
    IMAGENET_MEAN,
    IMAGENET_STD,
    INPUT_SIZE,
    WEIGHTS_NAME,
    OSNet,
)

DEFAULT_ONNX = REPO.parent / "shared" / "weights" / "osnet_x0_25_msmt17.onnx"
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


def dior_name(export_path: str) -> str:
    """dior's module path for the exporter's (e.g. ``conv3.1.conv2c.2.conv2`` -> ``conv3.1.streams.2.2.depthwise``)."""
    match = LITE_CONV.fullmatch(export_path)
    if match:
        stage, block, stream, step, part = match.groups()
        return f"{stage}.{block}.streams.{STREAMS.index(stream)}.{step or 0}.{'pointwise' if part == '1' else 'depthwise'}"
    for pattern, replacement in RULES:
        if re.fullmatch(pattern, export_path):
            return re.sub(pattern, replacement, export_path)
    raise SystemExit(f"no rule maps the exported module {export_path!r} onto dior's OSNet; the ONNX graph is not the expected OSNet x0.25")


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


def convert(onnx_path: Path) -> dict[str, torch.Tensor]:
    """dior's OSNet state dict from the ONNX file's initializers, checked against the graph."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    tensors = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    model = OSNet()
    modules = dict(model.named_modules())
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    sources: dict[str, str] = {}  # dior parameter -> initializer it came from
    param_names = {"Conv": ("weight", "bias"), "Gemm": ("weight", "bias"),
                   "BatchNormalization": ("weight", "bias", "running_mean", "running_var")}
    for node in graph.node:
        if node.op_type not in param_names:
            continue
        path = export_path(node.name)
        target = dior_name(path)
        if target not in modules:
            raise SystemExit(f"node {node.name}: dior's OSNet has no module {target!r}")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        check_attributes(node.name, node.op_type, attrs, modules[target])
        for input_name, param in zip(node.input[1:], param_names[node.op_type]):
            key = f"{target}.{param}"
            if not input_name.startswith("onnx::") and input_name != f"{path}.{param}":
                raise SystemExit(f"node {node.name}: initializer {input_name!r} does not match the scope-derived name {path}.{param!r}")
            if key in sources:
                if sources[key] != input_name:
                    raise SystemExit(f"{key}: reused module {path} reads {input_name}, earlier {sources[key]}")
                continue
            value = torch.from_numpy(np.array(tensors[input_name], dtype=np.float32))
            if key not in expected or value.shape != expected[key].shape:
                raise SystemExit(f"node {node.name}: {input_name} {list(value.shape)} does not fit {key} {list(expected[key].shape) if key in expected else '(absent)'}")
            state[key] = value
            sources[key] = input_name
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros_like(value)  # a counter used only when training
    missing = sorted(set(expected) - set(state))
    if missing:
        raise SystemExit(f"parameters the ONNX file did not fill: {missing}")
    return {key: state[key] for key in expected}


def check_attributes(node_name: str, op_type: str, attrs: dict, module: torch.nn.Module) -> None:
    if op_type == "Conv":
        want = {"kernel_shape": list(module.kernel_size), "strides": list(module.stride),
                "pads": list(module.padding) * 2, "group": module.groups, "dilations": list(module.dilation)}
        got = {key: attrs.get(key, default) for key, default in (("kernel_shape", None), ("strides", [1, 1]), ("pads", [0, 0, 0, 0]), ("group", 1), ("dilations", [1, 1]))}
        if got != want:
            raise SystemExit(f"node {node_name}: conv attributes {got} differ from dior's layer {want}")
    elif op_type == "Gemm" and (attrs.get("transB") != 1 or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
        raise SystemExit(f"node {node_name}: expected y = x W^T + b, got Gemm attributes {attrs}")
    elif op_type == "BatchNormalization" and abs(attrs.get("epsilon", 1e-5) - module.eps) > 1e-9:
        raise SystemExit(f"node {node_name}: BatchNorm epsilon {attrs.get('epsilon')} differs from dior's {module.eps}")


def sha256_bytes(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare_with_onnxruntime(onnx_path: Path, state: dict[str, torch.Tensor]) -> float | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    model = OSNet()
    model.load_state_dict(state)
    model.eval()
    images = torch.randn(4, 3, *INPUT_SIZE, generator=torch.Generator().manual_seed(0))  # (4, 3, 256, 128)
    with torch.inference_mode():
        ours = model(images).numpy()  # (4, 512)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    theirs = session.run(["output"], {"images": images.numpy()})[0]  # (4, 512)
    return float(np.abs(ours - theirs).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", type=Path, default=DEFAULT_ONNX, help=f"the ONNX export (default {DEFAULT_ONNX})")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / WEIGHTS_NAME, help="checkpoint to write (default weights/osnet_x0_25_msmt17.pt)")
    args = parser.parse_args()
    if not args.onnx.is_file():
        raise SystemExit(f"{args.onnx}: ONNX file does not exist")
    state = convert(args.onnx)
    payload = {
        "format": FORMAT,
        "state_dict": state,
        "source": args.onnx.name,
        "source_sha256": sha256_bytes(args.onnx),
        "source_origin": "deep-person-reid model zoo osnet_x0_25_msmt17 (MIT; MSMT17 is for research use), ONNX opset 12 export",
        "converted_by": "weights/convert_osnet.py",
        "input_size": list(INPUT_SIZE),
        "input_format": "RGB float, pixel/255 normalised by ImageNet mean and std",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "embedding_dim": EMBEDDING_DIM,
    }
    with atomic_write(args.out, "wb") as handle:
        torch.save(payload, handle)
    print(f"{len(state)} tensors from {args.onnx} ({payload['source_sha256'][:12]}...)")
    diff = compare_with_onnxruntime(args.onnx, state)
    print("onnxruntime not installed: no output comparison" if diff is None else f"max |dior - onnxruntime| on 4 random inputs: {diff:.2e}")
    print(f"{sha256_bytes(args.out)}  {args.out}")


if __name__ == "__main__":
    main()
