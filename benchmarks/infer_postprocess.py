"""`dior infer`'s mask post-processing at 1080p with 50 detections a frame, and its memory over a long stream.

* **post-processing seconds per frame**: the DIOR network's mask head gives each detection a 28x28
  probability map over its box. Before (torchvision, not dior's code, what ``DiorNet.detect`` does
  by default and what `dior infer` did until now): ``paste_masks_in_image`` into a full 1080p
  float frame per detection, copy to the CPU, threshold at 0.5, ``pycocotools.mask.encode`` one
  mask at a time. After (``dior_cli.mask_paste.masks_to_rles``): box region only, threshold on the
  device, one copy and one pycocotools call per frame. Same inputs (random maps, 50 boxes of
  pedestrian-to-car sizes inside 1920x1080), one thread; the RLEs must be identical.
* **peak RSS**: whole `dior infer` processes (tiny random ResNet-18 network, 32-channel FPN and
  heads so that its mask head does not dominate, keeping 50 detections a frame, ``--appearance network``) on a generated 1920x1080 MJPG video of ``--short`` and
  ``--long`` frames; the ratio long / short must stay near 1 (outputs are streamed to disk).

    python benchmarks/infer_postprocess.py [--frames 20] [--short 1000] [--long 4000] [--device cpu|cuda]

Ends with:  RESULT infer_postprocess before_s_per_frame=<t> after_s_per_frame=<t> speedup=<x> rss_short_mb=<m> rss_long_mb=<m> rss_ratio=<r>
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dior_cli.mask_paste import masks_to_rles  # noqa: E402

HEIGHT, WIDTH, PER_FRAME = 1080, 1920, 50


def frame_outputs(frames: int, device: torch.device, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per frame: ``(50, 1, 28, 28)`` smooth probability maps and ``(50, 4)`` boxes inside the frame."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(frames):
        coarse = torch.rand(PER_FRAME, 1, 7, 7, generator=generator)
        maps = torch.nn.functional.interpolate(coarse, size=(28, 28), mode="bilinear", align_corners=False)  # blobs, like a mask head
        size = torch.rand(PER_FRAME, 2, generator=generator) * torch.tensor([260.0, 380.0]) + torch.tensor([30.0, 60.0])  # w, h
        corner = torch.rand(PER_FRAME, 2, generator=generator) * (torch.tensor([WIDTH, HEIGHT]) - size)
        out.append((maps.to(device), torch.cat([corner, corner + size], 1).to(device)))
    return out


def postprocess_before(maps: torch.Tensor, boxes: torch.Tensor) -> list[dict]:
    """torchvision's full-frame paste, copy, threshold, pycocotools encode per mask (not dior's code)."""
    from pycocotools import mask as coco_mask
    from torchvision.models.detection.roi_heads import paste_masks_in_image

    pasted = paste_masks_in_image(maps, boxes, (HEIGHT, WIDTH)).float().cpu()  # (K, 1, H, W) float32
    rles = []
    for mask in (pasted[:, 0] >= 0.5).numpy():
        coco = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        rles.append({"size": [HEIGHT, WIDTH], "counts": coco["counts"].decode("ascii")})
    return rles


def time_postprocessing(frames: int, device: torch.device) -> tuple[float, float]:
    inputs = frame_outputs(frames, device)
    for maps, boxes in inputs[:1]:  # warm-up, and the two must agree
        assert postprocess_before(maps, boxes) == masks_to_rles(maps, boxes, (HEIGHT, WIDTH), 0.5)
    results = []
    for method in (postprocess_before, lambda m, b: masks_to_rles(m, b, (HEIGHT, WIDTH), 0.5)):
        start = time.perf_counter()
        for maps, boxes in inputs:
            method(maps, boxes)
        if device.type == "cuda":
            torch.cuda.synchronize()
        results.append((time.perf_counter() - start) / frames)
    return results[0], results[1]


def write_video(path: Path, frames: int) -> None:
    """A 1920x1080 MJPG video: one noise image panned a few pixels a frame."""
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (135, 256, 3), dtype=np.uint8), (WIDTH + 64, HEIGHT), interpolation=cv2.INTER_LINEAR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (WIDTH, HEIGHT))
    for t in range(frames):
        shift = t % 64
        writer.write(np.ascontiguousarray(base[:, shift : shift + WIDTH]))
    writer.release()


def peak_rss_mb(video: Path, checkpoint: Path, out: Path, device: str) -> tuple[float, int, float]:
    """Peak resident memory (MB), detections written and seconds of a whole `dior infer` process."""
    code = (
        "import json, resource, sys, time\n"
        "from dior_cli.cli import app\n"
        "start = time.perf_counter()\n"
        "try:\n"
        f"    app(['infer', {str(video)!r}, '--weights', {str(checkpoint)!r}, '--out', {str(out)!r}, '--device', {device!r},"
        " '--score-thresh', '0', '--max-dets', '50', '--appearance', 'network', '--overwrite', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - start)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO, env=env)
    line = next(line for line in result.stdout.splitlines() if line.startswith("RSS"))
    import json

    summary = json.loads(result.stdout[: result.stdout.index("RSS")])
    _, rss, seconds = line.split()
    return float(rss), sum(s.get("detections", 0) for s in summary["sequences"].values()), float(seconds)


def memory_over_length(short: int, long: int, device: str) -> tuple[float, float, int, int]:
    from dior_cli.model.checkpoint import save_checkpoint
    from dior_cli.model.config import ModelConfig
    from dior_cli.model.network import DiorNet

    with tempfile.TemporaryDirectory(prefix="dior_bench_post_") as tmp:
        tmp = Path(tmp)
        checkpoint = tmp / "tiny.pt"
        torch.manual_seed(0)
        save_checkpoint(checkpoint, DiorNet(ModelConfig(backbone="resnet18", min_size=128, max_size=224, embedding_dim=32,
                                                        embedding_fc_dim=32, fpn_channels=32, head_channels=32, box_head_dim=64,
                                                        embedding_conv_layers=1, box_score_thresh=0.0, box_detections_per_img=PER_FRAME)))
        peaks, counts = [], []
        for n in (short, long):
            video = tmp / f"stream{n}.avi"
            write_video(video, n)
            rss, dets, seconds = peak_rss_mb(video, checkpoint, tmp / f"dets{n}", device)
            print(f"dior infer, {n} frames 1920x1080: {dets} detections, {seconds:.0f} s, peak RSS {rss:.0f} MB")
            peaks.append(rss)
            counts.append(dets)
            video.unlink()
    return peaks[0], peaks[1], counts[0], counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20, help="frames of 50 masks timed for post-processing")
    parser.add_argument("--short", type=int, default=1000, help="frames of the short stream (peak RSS)")
    parser.add_argument("--long", type=int, default=4000, help="frames of the long stream (peak RSS)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    before, after = time_postprocessing(args.frames, device)
    print(f"post-processing of 50 masks at 1920x1080 on {device}: before {before * 1000:.0f} ms/frame (torchvision paste + "
          f"per-mask encode), after {after * 1000:.0f} ms/frame (box region, one encode call); speedup {before / after:.1f}x")
    fields = f"before_s_per_frame={before:.4f} after_s_per_frame={after:.4f} speedup={before / after:.1f}"
    if not args.skip_memory:
        low, high, n_low, n_high = memory_over_length(args.short, args.long, args.device)
        print(f"peak RSS: {low:.0f} MB at {args.short} frames ({n_low} detections), {high:.0f} MB at {args.long} frames "
              f"({n_high} detections): ratio {high / low:.3f}")
        fields += (f" rss_short_mb={low:.0f} rss_long_mb={high:.0f} rss_ratio={high / low:.3f} short_frames={args.short} "
                   f"long_frames={args.long} long_detections={n_high}")
    print(f"RESULT infer_postprocess {fields} device={device}")


if __name__ == "__main__":
    main()
