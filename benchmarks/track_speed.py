"""Speed and memory of `dior track` on real detector output, against the floor of the same work.

Inputs: PointTrack's instance masks on all 29 KITTI-MOTS *test* sequences
(../shared/data/pointtrack_kitti_mots_test/{car,person}/NNNN.txt), ids stripped, car/ and
person/ merged, score 1, written once as dior detections files (not timed). PointTrack gives
no embeddings, so the tracker runs on masks alone.

* **track**: `dior track`'s stage (`dior_cli.track.stage.run`, masks only, progress bars off)
  over every sequence: reading the detections, the online tracker, disjoint masks, writing
  MOTS txt and link files.
* **floor**: the least any mask tracker must do on the same files: read them with
  `read_detections`, and compute the IoM matrix (`dior_cli.masks.iom_matrix`) between each
  pair of consecutive frames' detections of each class.

The two alternate `--repeat` times; the median of each counts. fps = frames / track seconds;
ratio = track seconds / floor seconds (goal <= 2).

Memory: peak tracemalloc of tracking the longest sequence (most frames) vs a copy of it
truncated to its first quarter of frames: memory_ratio = peak(full) / peak(quarter) (flat
would be ~1, linear in frames ~4). Also printed: the same for the online tracker alone
(`associate`, detections already in memory) and the ratio of the detections file sizes (the
stage reads a whole file at once, so its peak follows the file, not the frame count).

    python benchmarks/track_speed.py [--repeat 3] [--sequences 0001,0004]

Ends with one line:  RESULT track_speed fps=<f> ratio=<r> memory_ratio=<m> frames=<n>
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("DIOR_PROGRESS", "0")  # time the work, not the progress bars

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from dior_cli.formats.detections_json import read_detections, write_detections  # noqa: E402
from dior_cli.masks import iom_matrix  # noqa: E402
from dior_cli.track.stage import TrackOptions, associate, run  # noqa: E402
from tests.track.simulate import pointtrack_detections  # noqa: E402  (the test suite's converter)

DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))
POINTTRACK = DATA / "pointtrack_kitti_mots_test"


def floor(dets_dir: Path) -> int:
    """Read every detections file and compute consecutive-frame IoM per class; return pairs."""
    pairs = 0
    for path in sorted(dets_dir.glob("*.json")):
        dets = read_detections(path)
        d = dets.detections
        previous: dict[int, list] = {}
        for rows in d.rows_by_frame(dets.num_frames):
            current: dict[int, list] = {}
            for i in rows.tolist():
                current.setdefault(int(d.class_id[i]), []).append(d.rles[i])
            for cls, rles in current.items():
                if previous.get(cls):
                    pairs += iom_matrix(rles, previous[cls]).size
            previous = current
    return pairs


def track(dets_dir: Path, out: Path) -> dict:
    return run(TrackOptions(dets=dets_dir, out=out, masks_only=True, overwrite=True))


def peak_memory(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def memory(root: Path, sequence: str) -> tuple[float, float, float, int, int]:
    """``(stage ratio, online-tracker ratio, input-size ratio, full frames, quarter frames)``."""
    full = read_detections(root / "dets" / f"{sequence}.json")
    quarter_frames = full.num_frames // 4
    d = full.detections
    quarter = replace(full, num_frames=quarter_frames, detections=d[np.flatnonzero(d.frame < quarter_frames)], sha256=None)
    folders = {}
    for name, dets in (("full", full), ("quarter", quarter)):
        folders[name] = root / f"mem_{name}"
        write_detections(folders[name] / f"{sequence}.json", dets)
    stage = {name: peak_memory(lambda f=f, name=name: track(f, root / f"mem_out_{name}")) for name, f in folders.items()}
    online, sizes = {}, {}
    for name, f in folders.items():
        dets = read_detections(f / f"{sequence}.json")
        options = TrackOptions(dets=f, masks_only=True)
        online[name] = peak_memory(lambda dets=dets, options=options: associate(dets, None, 10.0, options))
        sizes[name] = (f / f"{sequence}.json").stat().st_size
        print(f"memory {name:<8} {sequence}: {dets.num_frames:5d} frames, {len(dets.detections):5d} detections, "
              f"detections file {sizes[name] / 2**20:5.2f} MiB; peak: stage {stage[name] / 2**20:5.2f} MiB, "
              f"online tracker alone {online[name] / 2**20:5.2f} MiB")
    return (stage["full"] / stage["quarter"], online["full"] / online["quarter"], sizes["full"] / sizes["quarter"],
            full.num_frames, quarter_frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sequences", help="comma-separated subset (default: all 29)")
    args = parser.parse_args()
    if not POINTTRACK.is_dir():
        sys.exit(f"PointTrack detections not found at {POINTTRACK} (set DIOR_DATA)")
    sequences = args.sequences.split(",") if args.sequences else sorted(p.stem for p in (POINTTRACK / "car").glob("*.txt"))

    with tempfile.TemporaryDirectory(prefix="dior_track_speed_") as tmp:
        root = Path(tmp)
        frames = detections = 0
        longest = None
        for seq in sequences:
            dets = pointtrack_detections(POINTTRACK, seq)
            write_detections(root / "dets" / f"{seq}.json", dets)
            frames += dets.num_frames
            detections += len(dets.detections)
            if longest is None or dets.num_frames > longest[1]:
                longest = (seq, dets.num_frames)
        print(f"{len(sequences)} PointTrack test sequences: {frames} frames, {detections} detections (masks only)")

        floor(root / "dets")  # warm-up: imports, caches
        track_s, floor_s = [], []
        for k in range(args.repeat):
            start = time.perf_counter()
            summary = track(root / "dets", root / "tracks")
            track_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            pairs = floor(root / "dets")
            floor_s.append(time.perf_counter() - start)
            print(f"run {k + 1}: track {track_s[-1]:.2f} s, floor {floor_s[-1]:.2f} s (read + {pairs} IoM pairs)")
        seqs = summary["sequences"].values()
        print(f"tracks: {sum(s['tracks'] for s in seqs)}, tracked detections: {sum(s['tracked_detections'] for s in seqs)}, "
              f"retrieved: {sum(s['retrieved'] for s in seqs)}, overlap pixels moved: {sum(s['overlap_pixels_moved'] for s in seqs)}")
        t, f = statistics.median(track_s), statistics.median(floor_s)
        fps, ratio = frames / t, t / f
        print(f"median: track {t:.2f} s = {fps:.0f} frames/s, floor {f:.2f} s = {frames / f:.0f} frames/s, ratio {ratio:.2f}")

        stage_ratio, alone_ratio, size_ratio, n_full, n_quarter = memory(root, longest[0])
        print(f"memory {longest[0]} {n_full} vs {n_quarter} frames: stage peak ratio {stage_ratio:.2f}, "
              f"online tracker alone {alone_ratio:.2f}, detections file size ratio {size_ratio:.2f}")
    print(f"RESULT track_speed fps={fps:.1f} ratio={ratio:.2f} memory_ratio={stage_ratio:.2f} frames={frames}")


if __name__ == "__main__":
    main()
