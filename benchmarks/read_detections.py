"""Reading a detections JSON of a long video: dior's reader against plain ``json.load``.

A generated ``dior.detections/v1`` file (default 1,000,000 detections, 50 a frame, 1080p
ellipse masks of 400 shapes as COCO RLE, written by dior's own writer) is read three ways,
one process, one thread each:

* **dior**: ``read_detections`` (parse, validate every field of every row, check every RLE);
* **reference**: ``json.load`` plus converting the rows to numpy arrays (frame, class, score,
  box) and a list of counts strings, with no validation at all: what any reader must at
  least do, in code that is not dior's;
* peak resident memory of each, in its own process (``ru_maxrss``).

Ratio = dior seconds / reference seconds (a validated read may cost more than an unvalidated one).

    python benchmarks/read_detections.py [--detections 1000000] [--keep FILE] [--baseline-tree DIR]

``--baseline-tree DIR`` also times ``read_detections`` of another source tree in the same run
(e.g. commit 765fb7b, the rate issue 14's reading goal is measured against).

Ends with:  RESULT read_detections detections=<n> dior_s=<t> reference_s=<t> ratio=<r> dior_rss_mb=<m> reference_rss_mb=<m> rate_dets_per_s=<r>
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEIGHT, WIDTH = 1080, 1920
PER_FRAME = 50


def make_masks(count: int, seed: int = 0) -> list[dict]:
    """``count`` filled ellipses at 1080p, as RLEs (a pedestrian-to-car range of sizes)."""
    import cv2

    from dior_cli.masks import encode

    rng = np.random.default_rng(seed)
    rles = []
    for _ in range(count):
        canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
        centre = (int(rng.integers(100, WIDTH - 100)), int(rng.integers(100, HEIGHT - 100)))
        axes = (int(rng.integers(10, 90)), int(rng.integers(20, 90)))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        rles.append(encode(canvas))
    return rles


def generate(path: Path, n: int) -> None:
    """Write an ``n``-detection file with dior's writer (streamed, so generation itself stays small)."""
    from dior_cli.formats.sequence_outputs import SequenceOutputs
    from dior_cli.masks import bbox_xyxy
    from dior_cli.records import Detections

    rles = make_masks(400)
    boxes = bbox_xyxy(rles)
    rng = np.random.default_rng(1)
    num_frames = (n + PER_FRAME - 1) // PER_FRAME
    with SequenceOutputs(path, path.with_suffix(".npy"), dim=1) as out:
        for frame in range(num_frames):
            k = min(PER_FRAME, n - frame * PER_FRAME)
            pick = rng.integers(0, len(rles), k)
            dets = Detections(frame=np.full(k, frame), class_id=rng.integers(1, 3, k), score=rng.uniform(0.5, 1, k).round(4),
                              bbox_xyxy=boxes[pick], rles=[rles[i] for i in pick])
            out.append(dets, np.ones((k, 1), np.float32))
        out.finish(sequence=path.stem, image_size=(HEIGHT, WIDTH), num_frames=num_frames, fps=30.0, frame_base=0, producer={})


def read_reference(path: Path) -> int:
    """``json.load`` and numpy conversion, no validation (not dior's code)."""
    with open(path, "rb") as handle:
        doc = json.load(handle)
    rows = doc["detections"]
    frame = np.array([r["frame"] for r in rows], dtype=np.int64)
    class_id = np.array([r["class_id"] for r in rows], dtype=np.int64)
    score = np.array([r["score"] for r in rows], dtype=np.float64)
    boxes = np.array([r["bbox_xyxy"] for r in rows], dtype=np.float64).reshape(-1, 4)
    counts = [r["rle"]["counts"] for r in rows]
    assert len(frame) == len(class_id) == len(score) == len(boxes) == len(counts)
    return len(rows)


def read_dior(path: Path) -> int:
    import dior_cli
    from dior_cli.formats.detections_json import read_detections

    print(f"dior_cli from {Path(dior_cli.__file__).parent}", file=sys.stderr)
    return len(read_detections(path).detections)


def measure(which: str, path: Path, tree: Path = REPO) -> dict:
    """Time one reader in a fresh process (dior imported from ``tree``); its seconds and peak RSS (MB)."""
    code = (f"import sys, time, resource; sys.path.insert(0, {str(Path(__file__).parent)!r}); import read_detections as b;"
            f"sys.path.insert(0, {str(tree)!r});"  # after the module's own path insert: dior_cli is imported from ``tree``
            f"from pathlib import Path; t = time.perf_counter(); n = b.read_{which}(Path({str(path)!r}));"
            "s = time.perf_counter() - t; print(n, s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    return {"rows": int(out[0]), "seconds": float(out[1]), "rss_mb": int(out[2]) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detections", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="write (or reuse) the generated file here")
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="also time read_detections of another dior source tree (a folder holding dior_cli/, e.g. "
                             "`git archive 765fb7b dior_cli | tar -x -C DIR`), in the same run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "long.json"
        if not path.is_file():
            tick = time.perf_counter()
            generate(path, args.detections)
            print(f"generated {args.detections} detections ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - tick:.1f} s")
        ref = measure("reference", path)
        dior = measure("dior", path)
        baseline = measure("dior", path, args.baseline_tree) if args.baseline_tree else None
    assert dior["rows"] == ref["rows"] == args.detections
    ratio = dior["seconds"] / ref["seconds"]
    print(f"reference (json.load + numpy): {ref['seconds']:.2f} s, {ref['rss_mb']:.0f} MB peak")
    print(f"dior read_detections:          {dior['seconds']:.2f} s, {dior['rss_mb']:.0f} MB peak  (ratio {ratio:.2f})")
    extra = ""
    if baseline is not None:
        assert baseline["rows"] == args.detections
        print(f"baseline tree {args.baseline_tree}: {baseline['seconds']:.2f} s, {baseline['rss_mb']:.0f} MB peak  "
              f"(dior is {baseline['seconds'] / dior['seconds']:.2f}x its rate)")
        extra = f" baseline_s={baseline['seconds']:.2f} speedup_vs_baseline={baseline['seconds'] / dior['seconds']:.2f}"
    print(f"RESULT read_detections detections={args.detections} dior_s={dior['seconds']:.2f} reference_s={ref['seconds']:.2f} "
          f"ratio={ratio:.2f} dior_rss_mb={dior['rss_mb']:.0f} reference_rss_mb={ref['rss_mb']:.0f} "
          f"rate_dets_per_s={args.detections / dior['seconds']:.0f}" + extra)


if __name__ == "__main__":
    main()
