"""What DIOR's temporal window costs over plain torchvision Mask R-CNN, in one run.

* **time**: the same ResNet-50 weights (random, seeded: no download needed) and the same frames
  (the first ``--frames`` frames of ../shared/data/video/vtest.avi resized to 640x480) through
  `dior infer`'s sliding window (backbone once per frame, temporal attention over t-1/t/t+1,
  box/mask heads, embedding head) and through torchvision's ``maskrcnn_resnet50_fpn`` one frame
  at a time, both keeping ``--dets-per-frame`` detections (the embedding head, like the mask
  head, runs once per kept detection, so its share grows with that number). Ratio = dior
  seconds / torchvision seconds (goal <= 1.15 on CPU).
* **backbone calls per frame** counted by the network (must be 1.0).
* **memory**: peak resident memory of whole `dior infer` processes on 100 vs 400 frames of a
  generated 160x120 image folder with a small resnet18 checkpoint (streaming: ratio ~1).

On a GPU (``--device cuda``) it also reports frames per second at 1920x1080 in mixed
precision, and the same ratio to torchvision on that GPU.

    python benchmarks/infer_overhead.py [--frames 8] [--device cpu|cuda]

Ends with:  RESULT infer_overhead ratio=<r> backbone_calls_per_frame=<b> memory_ratio=<m> ...
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
import torchvision

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dior_cli.sliding_window import sliding_window  # noqa: E402
from dior_cli.model.checkpoint import save_checkpoint  # noqa: E402
from dior_cli.model.config import ModelConfig  # noqa: E402
from dior_cli.model.network import DiorNet  # noqa: E402

DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))


def read_frames(n: int, size: tuple[int, int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DATA / "video" / "vtest.avi"))
    frames = []
    while len(frames) < n:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(cv2.resize(bgr, size), cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def torchvision_twin(model: DiorNet) -> torch.nn.Module:
    """torchvision's Mask R-CNN with DIOR's shared weights (backbone, RPN, box and mask heads)."""
    twin = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3)
    ours = model.state_dict()
    shared = {k: v for k, v in ours.items() if k in twin.state_dict()}
    twin.load_state_dict(shared, strict=False)
    twin.roi_heads.score_thresh = model.roi_heads.score_thresh
    twin.roi_heads.detections_per_img = model.roi_heads.detections_per_img
    return twin


def time_dior(model: DiorNet, frames: list[np.ndarray], device: torch.device) -> tuple[float, int, int]:
    """Seconds for the sliding window over ``frames``, frames detected, and frames the backbone ran on
    (counted by a forward pre-hook on ``model.backbone``, removed afterwards)."""
    backbone_frames = []
    handle = model.backbone.register_forward_pre_hook(lambda _module, args: backbone_frames.append(int(args[0].shape[0])))
    try:
        start = time.perf_counter()
        with torch.inference_mode():
            count = sum(1 for _ in sliding_window(model, iter(enumerate(frames)), 1, device))
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    finally:
        handle.remove()
    return seconds, count, sum(backbone_frames)


def time_torchvision(twin: torch.nn.Module, frames: list[np.ndarray], device: torch.device) -> float:
    start = time.perf_counter()
    with torch.inference_mode(), torch.autocast(device.type, enabled=device.type == "cuda"):
        for frame in frames:
            twin([torch.from_numpy(frame).to(device).permute(2, 0, 1).float().div_(255)])
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def peak_rss_mb(source: Path, checkpoint: Path, out: Path) -> float:
    """Peak resident memory (MB) of a whole `dior infer` process."""
    code = (
        "import resource, sys\n"
        "from dior_cli.cli import app\n"
        "try:\n"
        f"    app(['infer', {str(source)!r}, '--weights', {str(checkpoint)!r}, '--out', {str(out)!r}, '--device', 'cpu', '--overwrite'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return float(result.stdout.strip().splitlines()[-1])


def memory_ratio() -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="dior_bench_infer_") as tmp:
        tmp = Path(tmp)
        checkpoint = tmp / "tiny.pt"
        torch.manual_seed(0)
        save_checkpoint(checkpoint, DiorNet(ModelConfig(backbone="resnet18", min_size=120, max_size=160, embedding_dim=64,
                                                        embedding_fc_dim=128, box_detections_per_img=10)))
        rng = np.random.default_rng(0)
        peaks = []
        for n in (100, 400):
            folder = tmp / f"frames{n}"
            folder.mkdir()
            base = rng.integers(0, 255, (120, 168, 3), dtype=np.uint8)
            for t in range(n):
                cv2.imwrite(str(folder / f"{t:06d}.png"), base[:, t % 8 : t % 8 + 160])
            peaks.append(peak_rss_mb(folder, checkpoint, tmp / "dets"))
    return peaks[0], peaks[1], peaks[1] / peaks[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8, help="frames timed (ResNet-50 on CPU: ~2-3 s each)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dets-per-frame", type=int, default=20,
                        help="detections kept per frame by both networks (random weights keep the cap; MOTS20 averages 10.6 objects per frame)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 100 vs 400 frames memory runs")
    args = parser.parse_args()
    if not (DATA / "video" / "vtest.avi").is_file():
        sys.exit(f"needs {DATA / 'video' / 'vtest.avi'} (set DIOR_DATA)")
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = DiorNet(ModelConfig(backbone="resnet50", box_score_thresh=0.0, box_detections_per_img=args.dets_per_frame)).eval().to(device)
    twin = torchvision_twin(model).eval().to(device)
    frames = read_frames(args.frames + 1, (640, 480))
    time_dior(model, frames[:2], device)  # warm-up (allocator, kernels)
    time_torchvision(twin, frames[:1], device)
    frames = frames[: args.frames]
    t_tv = time_torchvision(twin, frames, device)
    t_dior, count, backbone_frames = time_dior(model, frames, device)
    calls = backbone_frames / count
    ratio = t_dior / t_tv
    print(f"device {device}; {len(frames)} frames 640x480, ResNet-50 FPN, {args.dets_per_frame} detections kept per frame")
    print(f"torchvision Mask R-CNN: {t_tv:.2f} s ({len(frames) / t_tv:.2f} frames/s)")
    print(f"dior sliding window:    {t_dior:.2f} s ({len(frames) / t_dior:.2f} frames/s); backbone calls per frame {calls:.2f}")
    extra = ""
    if device.type == "cuda":
        hd = read_frames(args.frames, (1920, 1080))
        t_hd, n_hd, _ = time_dior(model, hd, device)
        t_hd_tv = time_torchvision(twin, hd, device)
        print(f"1920x1080 mixed precision: dior {n_hd / t_hd:.1f} frames/s, torchvision {len(hd) / t_hd_tv:.1f} frames/s")
        extra = f" fps_1080p={n_hd / t_hd:.1f} ratio_1080p={t_hd / t_hd_tv:.3f}"
    mem_field = ""
    if not args.skip_memory:
        low, high, mem = memory_ratio()
        print(f"peak RSS of dior infer: {low:.0f} MB at 100 frames, {high:.0f} MB at 400 frames (ratio {mem:.2f})")
        mem_field = f" memory_ratio={mem:.2f}"
    print(f"RESULT infer_overhead ratio={ratio:.3f} backbone_calls_per_frame={calls:.2f}{mem_field} frames={len(frames)} "
          f"dets_per_frame={args.dets_per_frame}{extra}")


if __name__ == "__main__":
    main()
