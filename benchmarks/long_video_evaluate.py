"""Hour-long-video scaling of `dior evaluate` alone: wall time and peak RSS at 1x, 4x and 16x length.

The workload is `benchmarks/long_video.py`'s (1920x1080 at 30 fps, 1,250 frames per 1x, 60
objects on smooth paths, realistic ellipse RLE masks; its ground truth ``gt/long.txt``; 16x is
1,020,000 ground-truth masks and 12,057 identities). Instead of running `dior track` and
`dior reid` first (minutes at 16x), the predictions are made from the ground truth the way the
online tracker leaves them before re-identification: every identity's track is cut at its
15-frame occlusion into two tracklets with their own ids, and every 37th mask is dropped (a
miss), so evaluation meets 24,000 tracklets at 16x, switches and misses. Generated with
numpy and Python, not timed.

Timed, as its own process under an address-space limit (``--limit-gb``), with long_video.py's
``measure`` (peak RSS from ``os.wait4``, RssAnon / RssFile peaks sampled from /proc):
    dior evaluate --gt GT --pred PRED --benchmark kitti-mots --workers 1 --json
Reference (not dior's code), in the same run: long_video.py's plain pass over the same two
files (``str.split`` of every line); ``ratio`` = dior / reference.

    time_exponent = log(t16 / t1) / log(16)      (1 = linear)
    rss_ratio     = peak RSS at 16x / at 1x

    OMP_NUM_THREADS=1 python benchmarks/long_video_evaluate.py [--scales 1,4,16] [--workdir /tmp] [--limit-gb 10]

Ends with one line:
    RESULT long_video_evaluate time_exponent=<e> rss_ratio=<r> rss_mb=<1x>,<4x>,<16x> seconds=<...> detections_max=<n>
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import long_video  # noqa: E402  (the workload, the measuring and the reference of the whole-pipeline benchmark)

DROP_EVERY = 37


def write_ground_truth(root: Path, scale: int, frames_1x: int) -> int:
    """``root/gt/long.txt`` (long_video.py's generator; its detections file is removed); returns the lines."""
    long_video.generate(root, scale, frames_1x)
    shutil.rmtree(root / "dets")
    with open(root / "gt" / "long.txt") as f:
        return sum(1 for _ in f)


def write_predictions(gt: Path, pred: Path) -> dict:
    """Tracklets: each identity cut where it disappears for a while (a gap of frames), a new
    id after the gap; every ``DROP_EVERY``-th line dropped."""
    pred.parent.mkdir(parents=True, exist_ok=True)
    last_frame: dict[int, int] = {}
    tracklet: dict[int, int] = {}
    next_id = {1: 1, 2: 1}
    lines = tracklets = 0
    with open(gt) as src, open(pred, "w") as out:
        for i, line in enumerate(src):
            frame_text, obj_text, class_text, rest = line.split(" ", 3)
            frame, obj, cls = int(frame_text), int(obj_text), int(class_text)
            if obj not in last_frame or frame - last_frame[obj] > 1:
                tracklet[obj] = long_video.mots_obj_id(cls, next_id[cls])
                next_id[cls] += 1
                tracklets += 1
            last_frame[obj] = frame
            if i % DROP_EVERY == DROP_EVERY - 1:
                continue
            out.write(f"{frame_text} {tracklet[obj]} {class_text} {rest}")
            lines += 1
    return {"pred_lines": lines, "tracklets": tracklets}


def run_size(workdir: Path, scale: int, frames_1x: int, env: dict, limit_gb: float) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"long_video_evaluate_{scale}x_", dir=workdir))
    try:
        start = time.perf_counter()
        detections = write_ground_truth(root, scale, frames_1x)
        made = write_predictions(root / "gt" / "long.txt", root / "refined" / "long.txt")
        generated = time.perf_counter() - start
        disk_mb = sum(p.stat().st_size for p in root.rglob("*.txt")) / 2**20
        command = [sys.executable, "-m", "dior_cli", "evaluate", "--gt", str(root / "gt"), "--pred", str(root / "refined"),
                   "--benchmark", "kitti-mots", "--workers", "1", "--out", str(root / "metrics.json"), "--json"]
        result = long_video.measure(command, env, limit_gb)
        reference = long_video.measure([sys.executable, "-c", long_video.REFERENCE, "evaluate", str(root)], env, limit_gb)
        hota = None if result["failed"] else long_video._find_number(json.loads(result["stdout"])["combined"], "HOTA")
        out = {"scale": scale, "detections": detections, **made, "generate_seconds": generated, "disk_mb": disk_mb, "hota": hota,
               **{k: v for k, v in result.items() if k != "stdout"},
               "reference_seconds": reference["seconds"], "reference_rss_mb": reference["rss_mb"]}
        print(f"{scale:>3}x evaluate {result['seconds']:8.1f} s  peak RSS {result['rss_mb']:7.0f} MB (anon {result['anon_mb']:.0f}, "
              f"file {result['file_mb']:.0f})  reference {reference['seconds']:6.1f} s {reference['rss_mb']:6.0f} MB  "
              f"ratio {result['seconds'] / reference['seconds']:5.2f}  | {detections} gt masks, {made['pred_lines']} predicted, "
              f"{made['tracklets']} tracklets, {disk_mb:.0f} MB of txt, HOTA {hota}" + ("  FAILED" if result["failed"] else ""), flush=True)
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,4,16", help="comma-separated length multiples of 1,250 frames (default 1,4,16)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="where the generated files go (deleted after each size)")
    parser.add_argument("--frames-1x", type=int, default=long_video.FRAMES_1X, help="frames at 1x (smaller only to try the script)")
    parser.add_argument("--limit-gb", type=float, default=10.0, help="address-space limit of the measured process, GB (default 10)")
    args = parser.parse_args()
    env = {**os.environ, "DIOR_PROGRESS": "0", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "PYTHONPATH": str(REPO)}
    results = [run_size(args.workdir, int(s), args.frames_1x, env, args.limit_gb) for s in args.scales.split(",")]
    lo, hi = results[0], results[-1]
    ok = not (lo["failed"] or hi["failed"]) and hi["scale"] != lo["scale"]
    exponent = math.log(hi["seconds"] / lo["seconds"]) / math.log(hi["scale"] / lo["scale"]) if ok else float("nan")
    rss = hi["rss_mb"] / lo["rss_mb"] if ok else float("nan")
    print("RESULT long_video_evaluate " + (f"time_exponent={exponent:.3f} rss_ratio={rss:.2f}" if ok else "time_exponent=failed rss_ratio=failed")
          + " rss_mb=" + ",".join(f"{r['rss_mb']:.0f}" for r in results) + " seconds=" + ",".join(f"{r['seconds']:.1f}" for r in results)
          + " ratio=" + ",".join(f"{r['seconds'] / r['reference_seconds']:.2f}" for r in results) + f" detections_max={hi['detections']}")


if __name__ == "__main__":
    main()
