"""How long a user waits for ``dior run`` on a real video, and what the tracking and masks add.

On ``../shared/data/video/vtest.avi`` (795 frames, 768x576, 10 fps, ~7 people a frame), at the same
thread count for both:

* **reference**: YOLOX-nano's own forward alone, the network ``dior run`` detects with, on the same
  frames letterboxed to the same input (960 on the long side -> 736x960), in the same batches of 4,
  frames decoded beforehand (so only the network is timed);
* **dior run**: the whole command as a process of its own (decoding, detector with decode and NMS,
  box -> mask, OSNet embeddings, writing, tracking with long-term re-ID, rendering the video), with
  the seconds of each stage from its ``--json`` summary.

Ratio = dior run seconds / forward seconds: what everything around the detector costs (goal <= 1.5).

    OMP_NUM_THREADS=2 python benchmarks/run_speed.py [--frames 795] [--threads 2] [--device cpu]

Ends with ``RESULT run_speed fps=... ratio=... infer_s=... track_s=... render_s=... forward_s=...``.
"""

from __future__ import annotations

import argparse
import json
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
DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))

from dior_cli.infer.detector import DEFAULT_BATCH, DEFAULT_INPUT_SIZE  # noqa: E402
from dior_cli.model.yolox_onnx import load_yolox  # noqa: E402
from dior_cli.model.yolox_detector import letterbox, network_input_hw  # noqa: E402


def cut(video: Path, frames: int, out: Path) -> int:
    """The first ``frames`` frames of ``video`` as an MJPG .avi (all of them when ``frames`` >= its length)."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS)
    writer = None
    count = 0
    while count < frames:
        ok, bgr = capture.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (bgr.shape[1], bgr.shape[0]))
        writer.write(bgr)
        count += 1
    writer.release()
    capture.release()
    return count


def forward_seconds(video: Path, device: str) -> tuple[float, int]:
    """YOLOX-nano's forward alone over every frame of ``video``, batched as dior run batches them."""
    model = load_yolox(device=device)
    capture = cv2.VideoCapture(str(video))
    canvases = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        canvases.append(letterbox(rgb, network_input_hw(rgb.shape[:2], DEFAULT_INPUT_SIZE))[0])
    capture.release()
    batches = [torch.from_numpy(np.stack(canvases[i:i + DEFAULT_BATCH])).permute(0, 3, 1, 2).float()
               for i in range(0, len(canvases), DEFAULT_BATCH)]  # (B, 3, 736, 960) BGR 0..255
    with torch.inference_mode():
        model(batches[0].to(device))  # warm-up
        start = time.perf_counter()
        for batch in batches:
            model(batch.to(device))
        if device == "cuda":
            torch.cuda.synchronize()
    return time.perf_counter() - start, len(canvases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=795, help="frames of vtest.avi to run (default: all 795)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    source = DATA / "video" / "vtest.avi"
    if not source.is_file():
        sys.exit(f"needs {source} (set DIOR_DATA)")
    torch.set_num_threads(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    with tempfile.TemporaryDirectory(prefix="dior_run_speed_") as tmp:
        tmp = Path(tmp)
        video = tmp / "vtest.avi"
        n = cut(source, args.frames, video)
        t_forward, counted = forward_seconds(video, args.device)
        assert counted == n
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "dior_cli", "run", str(video), "--out", str(tmp / "run"), "--device", args.device,
                                 "--json"], capture_output=True, text=True, env=env, cwd=REPO)
        t_run = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"dior run failed:\n{result.stderr[-3000:]}")
        summary = json.loads(result.stdout)
    seq = summary["sequences"]["vtest"]
    stages = summary["seconds"]
    inner = seq["infer_stage_seconds"]
    print(f"{n} frames of vtest.avi, {args.threads} threads, {args.device}")
    print(f"YOLOX-nano forward alone (736x960, batches of {DEFAULT_BATCH}): {t_forward:.1f} s ({n / t_forward:.2f} frames/s)")
    print(f"dior run, whole process: {t_run:.1f} s ({n / t_run:.2f} frames/s): infer {stages['infer']:.1f} s "
          f"(detector {inner['detector']:.1f}, masks {inner['masks']:.1f}, embeddings {inner['embeddings']:.1f}), "
          f"track {stages['track']:.1f} s, render {stages['render']:.1f} s")
    print(f"{seq['tracks']} tracks, {seq['detections_per_frame']} detections per frame; ratio dior run / forward = {t_run / t_forward:.2f}")
    print(f"RESULT run_speed fps={n / t_run:.2f} ratio={t_run / t_forward:.2f} infer_s={stages['infer']:.1f} "
          f"detector_s={inner['detector']:.1f} masks_s={inner['masks']:.1f} embeddings_s={inner['embeddings']:.1f} "
          f"track_s={stages['track']:.1f} render_s={stages['render']:.1f} forward_s={t_forward:.1f} frames={n} threads={args.threads}")


if __name__ == "__main__":
    main()
