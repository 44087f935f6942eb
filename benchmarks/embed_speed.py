"""Speed of dior's torch OSNet x0.25 (``--encoder osnet``) against onnxruntime running the
original ONNX export, on the same real crops, on CPU with the same number of threads.

Inputs: every ground-truth pedestrian of ``../shared/data/mot17_mini`` (7 MOT17 sequences,
814 crops), cut and normalised once by ``dior_cli.model.osnet_crops`` (not timed) into
batches of ``--batch`` crops; both networks then run the identical ``(B, 3, 256, 128)``
float32 batches.

* **dior**: ``OSNet`` from ``load_osnet()`` under ``torch.inference_mode()``, i.e. its fused
  CPU inference path (``dior_cli.model.osnet_fast``: oneDNN convolutions with fused ReLU /
  residual add, weights packed once, the batch split over the threads). Also timed, for the
  record: the same network's plain eager layers (``OSNet.eager_forward``, what dior ran before).
* **onnxruntime**: ``../shared/weights/osnet_x0_25_msmt17.onnx`` on the CPU execution
  provider, all graph optimisations on (its default), ``intra_op_num_threads`` = the threads
  torch uses, ``inter_op_num_threads`` = 1.

Each side runs once to warm up (first-call kernel set-up, weight packing), then the sides
alternate ``--repeat`` times; the median of each counts (the best of each is printed too: on a
busy machine the best is the steadier figure). ratio = dior seconds / onnxruntime seconds
(> 1: dior slower). Also timed, once per repeat: dior's whole ``embed_crops`` per frame
(cropping, bilinear resize, normalisation, network, L2 normalisation) from decoded frames.
max_diff = largest |dior - onnxruntime| over all raw 512-d outputs (float32 rounding; see
tests/model/test_osnet.py for why ~1e-4 is the floor).

    python benchmarks/embed_speed.py [--repeat 3] [--batch 64] [--threads N]

Ends with one line:
RESULT embed_speed crops_per_s=<dior network> ratio=<r> best_ratio=<b> eager_ratio=<g> max_diff=<d> end_to_end_crops_per_s=<e> threads=<t> crops=<n>
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np
import torch

from dior_cli.model.osnet import load_osnet
from dior_cli.model.osnet_crops import crop_batch, embed_crops, normalise
from tests.conftest import MOT17_MINI
from tests.model.mot17_crops import load_sequence, sequence_folders

ONNX = REPO.parent / "shared" / "weights" / "osnet_x0_25_msmt17.onnx"


def run_dior(model, batches: list[torch.Tensor]) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate([model(batch).numpy() for batch in batches])  # (N, 512)


def run_dior_eager(model, batches: list[torch.Tensor]) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate([model.eager_forward(batch).numpy() for batch in batches])  # (N, 512)


def run_onnxruntime(session, batches: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([session.run(["output"], {"images": batch})[0] for batch in batches])  # (N, 512)


def end_to_end(model, frames: list[tuple[np.ndarray, np.ndarray]], batch: int) -> int:
    return sum(len(embed_crops(model, image, boxes, batch=batch)) for image, boxes in frames)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each side (default 3)")
    parser.add_argument("--batch", type=int, default=64, help="crops per forward pass (default 64, embed_crops' default)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help=f"CPU threads for both (default torch's, here {torch.get_num_threads()})")
    args = parser.parse_args()
    try:
        import onnxruntime
    except ImportError:
        sys.exit("onnxruntime is not installed (pip install onnxruntime)")
    for path, what in ((MOT17_MINI, "MOT17-mini (set DIOR_DATA)"), (ONNX, "the ONNX export")):
        if not path.exists():
            sys.exit(f"{what} not found at {path}")

    torch.set_num_threads(args.threads)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(ONNX), options, providers=["CPUExecutionProvider"])
    model = load_osnet()

    frames = []
    for folder in sequence_folders(MOT17_MINI):
        seq = load_sequence(folder)
        frames += [(image, seq.boxes_xyxy[seq.frame_rows(k)]) for k, image in enumerate(seq.images)]
    crops = np.concatenate([crop_batch(image, boxes) for image, boxes in frames])  # (N, 256, 128, 3)
    torch_batches = [normalise(crops[i:i + args.batch]) for i in range(0, len(crops), args.batch)]  # each (B, 3, 256, 128)
    numpy_batches = [batch.numpy() for batch in torch_batches]
    n = len(crops)
    print(f"{n} MOT17-mini ground-truth crops from {len(frames)} frames, batches of {args.batch}, {args.threads} threads")

    ours, theirs = run_dior(model, torch_batches), run_onnxruntime(session, numpy_batches)  # warm-up
    eager = run_dior_eager(model, torch_batches)
    end_to_end(model, frames[:2], args.batch)
    print(f"dior's fast path: {model.fast_path_state}")
    max_diff = float(np.abs(ours - theirs).max())
    eager_diff = float(np.abs(eager - theirs).max())
    dior_s, eager_s, ort_s, e2e_s = [], [], [], []
    for k in range(args.repeat):
        dior_s.append(timed(lambda: run_dior(model, torch_batches))[0])
        ort_s.append(timed(lambda: run_onnxruntime(session, numpy_batches))[0])
        eager_s.append(timed(lambda: run_dior_eager(model, torch_batches))[0])
        e2e_s.append(timed(lambda: end_to_end(model, frames, args.batch))[0])
        print(f"run {k + 1}: dior {dior_s[-1]:.2f} s ({n / dior_s[-1]:.0f} crops/s), onnxruntime {ort_s[-1]:.2f} s "
              f"({n / ort_s[-1]:.0f} crops/s), dior eager layers {eager_s[-1]:.2f} s ({n / eager_s[-1]:.0f} crops/s), "
              f"dior embed_crops end to end {e2e_s[-1]:.2f} s ({n / e2e_s[-1]:.0f} crops/s)", flush=True)
    d, o, g, e = (statistics.median(v) for v in (dior_s, ort_s, eager_s, e2e_s))
    print(f"median: dior {n / d:.0f} crops/s, onnxruntime {n / o:.0f} crops/s, ratio (dior / onnxruntime time) {d / o:.2f}; "
          f"eager layers {n / g:.0f} crops/s (ratio {g / o:.2f}); end to end {n / e:.0f} crops/s; "
          f"max |dior - onnxruntime| {max_diff:.2e} (eager {eager_diff:.2e})")
    print(f"best: dior {min(dior_s):.2f} s, onnxruntime {min(ort_s):.2f} s, ratio {min(dior_s) / min(ort_s):.2f}; "
          f"eager {min(eager_s):.2f} s, ratio {min(eager_s) / min(ort_s):.2f}")
    print(f"RESULT embed_speed crops_per_s={n / d:.1f} ratio={d / o:.2f} best_ratio={min(dior_s) / min(ort_s):.2f} "
          f"eager_ratio={g / o:.2f} max_diff={max_diff:.2e} end_to_end_crops_per_s={n / e:.1f} threads={args.threads} crops={n}")


if __name__ == "__main__":
    main()
