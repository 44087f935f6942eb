"""Hour-long-video scaling: `dior track --offline-reid`, `dior reid` and `dior evaluate` as whole
processes on a generated 1080p workload at 1x, 4x and 16x length; wall time and peak RSS.

Workload (generated with numpy, not timed): 1920x1080 at 30 fps, 1,250 frames per 1x (41.7 s).
60 slots on a 10 x 6 grid of cells; each slot shows one identity after another, each for 100
frames: visible 43 frames, hidden 15 (longer than N1 = 0.2 s, so the online tracker ends the
track; shorter than N2 = 1 s and theta_t, so re-ID and merging can re-join it), visible 42 more;
the next identity starts at once in the same cell (a new look). An object is a filled ellipse
(car 120x70 px, pedestrian 50x120 px, class drawn per identity) moving on a smooth circle of
radius 20 px in its cell; masks are COCO RLE of the full 1080p frame. Embeddings are 512-d:
a random unit look per identity plus Gaussian noise (sigma 0.02 per component, cosine about 0.9
with the look), L2-normalised, float32. Ground truth = the same masks under identity ids
(``class_id * 1000 + k``, continued past 999 as `dior_cli.records.mots_obj_id` does). 1x is
63,819 detections and 1,546 online tracklets; 16x 1,020,000 detections and 24,048 tracklets
(2.5 GB on disk, the .npy alone 2 GB). The detections file is in dior's own layout (header, then one
detection per line, frames in order: what `dior infer` writes). Files go to a temporary folder (``--workdir``, default /tmp) and each
size is deleted after it is measured.

Timed, each as its own process (wall time; peak RSS from ``os.wait4``'s rusage; the peaks of
RssAnon (heap) and RssFile (mapped files: the embeddings memory map, libraries) sampled from
/proc every 0.1 s):
    dior track DETS --out TRACKS --offline-reid --overwrite --json
    dior reid TRACKS --dets DETS --out REFINED --overwrite --json        (remots, no frames)
    dior evaluate --gt GT --pred REFINED --benchmark kitti-mots --workers 1 --json
For track and reid, also a process that only calls the dior readers the stage calls, as it
calls them (``DetectionStream`` batch by batch, ``open_embedding_rows`` read by row range; reid also
``read_track_links(as_array=True)`` and ``iter_mots_txt``): the part of the memory that comes from reading. A stage over ``--limit-gb`` of address space
fails (MemoryError, exit 1) and is reported as failed.
Reference (not dior's code), in the same run, one process each: a plain pass over the same
inputs (`json.load` of the detections file and of the link file, `str.split` of every MOTS txt
line, `np.load` of the embeddings with a sum over their rows); `ratio` = dior / reference.

    time_exponent = log(t16 / t1) / log(16)      (1 = linear; the target is <= 1.15)
    rss_ratio     = peak RSS at 16x / at 1x      (the target is <= 1.5 for track and reid)

    OMP_NUM_THREADS=1 python benchmarks/long_video.py [--scales 1,4,16] [--workdir /tmp]

Ends with one line:
    RESULT long_video track_time_exponent=<e> track_rss_ratio=<r> reid_time_exponent=<e> reid_rss_ratio=<r>
           evaluate_time_exponent=<e> evaluate_rss_ratio=<r> detections_max=<n> tracklets_max=<n>
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from pycocotools import mask as coco

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dior_cli.formats.detections_json import NO_ROWS, ROW_SEPARATOR, ROWS_CLOSE, ROWS_OPEN, header_text, row_text  # noqa: E402
from dior_cli.records import mots_obj_id  # noqa: E402

HEIGHT, WIDTH, FPS = 1080, 1920, 30.0
FRAMES_1X = 1250
GRID_COLS, GRID_ROWS = 10, 6
LIFETIME, VISIBLE_FIRST, HIDDEN = 100, 43, 15
RADIUS, PERIOD = 20, 90  # px, frames of the circular path
DIM, NOISE = 512, 0.02
ELLIPSES = {1: (70, 120), 2: (120, 50)}  # class -> (height, width) of the ellipse's box


def ellipse_runs(height: int, width: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """An ellipse filling a (height, width) box: per column the first row and one past the last,
    and the column-major runs between the first foreground pixel and the last (image height HEIGHT)."""
    ys = (np.arange(height) + 0.5 - height / 2) / (height / 2)
    xs = (np.arange(width) + 0.5 - width / 2) / (width / 2)
    inside = ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0  # (h, w)
    top = inside.argmax(axis=0)  # (w,) every column holds pixels: the ellipse touches its box's sides
    bottom = height - inside[::-1].argmax(axis=0)  # (w,)
    inner = []
    for c in range(width):
        inner.append(int(bottom[c] - top[c]))  # foreground
        if c + 1 < width:
            inner.append(int(HEIGHT - bottom[c] + top[c + 1]))  # background to the next column's first pixel
    return top, bottom, inner


class Workload:
    """The deterministic schedule of one size: who is where in every frame."""

    def __init__(self, scale: int, frames_1x: int = FRAMES_1X, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.num_frames = frames_1x * scale
        slots = GRID_COLS * GRID_ROWS
        self.phase = rng.integers(0, LIFETIME, slots)  # (S,) each slot's schedule offset
        lives = (self.num_frames + LIFETIME) // LIFETIME + 1
        self.classes = rng.integers(1, 3, (slots, lives))  # (S, lives)
        self.angle = rng.uniform(0, 2 * np.pi, (slots, lives))
        self.templates = {c: ellipse_runs(*ELLIPSES[c]) for c in ELLIPSES}
        self.seed = seed

    def frame_objects(self, t: int) -> list[tuple[int, int, int, int, int]]:
        """``(slot, life, class, row0, col0)`` of each object visible at frame t."""
        out = []
        for s in range(GRID_COLS * GRID_ROWS):
            age, life = (t + self.phase[s]) % LIFETIME, (t + self.phase[s]) // LIFETIME
            if VISIBLE_FIRST <= age < VISIBLE_FIRST + HIDDEN:
                continue
            cls = int(self.classes[s, life])
            h, w = ELLIPSES[cls]
            a = self.angle[s, life] + 2 * np.pi * t / PERIOD
            cy = (s // GRID_COLS + 0.5) * HEIGHT / GRID_ROWS + RADIUS * np.sin(a)
            cx = (s % GRID_COLS + 0.5) * WIDTH / GRID_COLS + RADIUS * np.cos(a)
            out.append((s, int(life), cls, int(round(cy - h / 2)), int(round(cx - w / 2))))
        return out

    def rle(self, cls: int, row0: int, col0: int) -> tuple[str, list[float]]:
        top, bottom, inner = self.templates[cls]
        h, w = ELLIPSES[cls]
        start = col0 * HEIGHT + row0 + int(top[0])
        end = (col0 + w - 1) * HEIGHT + row0 + int(bottom[-1])
        counts = [start, *inner, HEIGHT * WIDTH - end]
        encoded = coco.frPyObjects({"size": [HEIGHT, WIDTH], "counts": counts}, HEIGHT, WIDTH)["counts"].decode("ascii")
        return encoded, [float(col0), float(row0), float(col0 + w), float(row0 + h)]


def generate(root: Path, scale: int, frames_1x: int) -> dict:
    """Write DETS/seq.json + seq.npy and GT/seq.txt; return counts."""
    work = Workload(scale, frames_1x)
    (root / "dets").mkdir(parents=True)
    (root / "gt").mkdir()
    rng = np.random.default_rng(work.seed + 1)
    looks: dict[tuple[int, int], np.ndarray] = {}
    gt_ids: dict[tuple[int, int], int] = {}
    next_k = {1: 1, 2: 1}
    schedule = [work.frame_objects(t) for t in range(work.num_frames)]
    total = sum(len(objs) for objs in schedule)
    head = header_text("long", (HEIGHT, WIDTH), work.num_frames, FPS, 0, {"generator": "benchmarks/long_video.py", "scale": scale})
    with open(root / "dets" / "long.json", "w") as dets, open(root / "dets" / "long.npy", "wb") as npy, open(root / "gt" / "long.txt", "w") as gt:
        dets.write(head)  # dior's own layout (what dior infer writes): the header, then one detection per line
        np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": (total, DIM)})
        det_id = 0
        for t, objs in enumerate(schedule):
            rows, gt_lines, vectors = [], [], np.empty((len(objs), DIM), np.float32)
            for k, (slot, life, cls, row0, col0) in enumerate(objs):
                key = (slot, life)
                if key not in looks:
                    look = rng.normal(size=DIM)
                    looks[key] = look / np.linalg.norm(look)
                    gt_ids[key] = mots_obj_id(cls, next_k[cls])
                    next_k[cls] += 1
                counts, box = work.rle(cls, row0, col0)
                rows.append(row_text(det_id, t, cls, 0.9, box, {"size": [HEIGHT, WIDTH], "counts": counts}, {}))
                gt_lines.append(f"{t} {gt_ids[key]} {cls} {HEIGHT} {WIDTH} {counts}\n")
                noisy = looks[key] + NOISE * rng.normal(size=DIM)
                vectors[k] = noisy / np.linalg.norm(noisy)
                det_id += 1
            if rows:
                dets.write((ROWS_OPEN if det_id == len(rows) else ROW_SEPARATOR) + ROW_SEPARATOR.join(rows))
            gt.writelines(gt_lines)
            npy.write(vectors.tobytes())
        dets.write(ROWS_CLOSE if det_id else NO_ROWS)
    return {"frames": work.num_frames, "detections": total, "identities": len(looks)}


REFERENCE = r"""
import json, sys, numpy as np
kind, root = sys.argv[1], sys.argv[2]
n = 0
if kind in ("track", "reid"):
    with open(root + "/dets/long.json") as f:
        n += len(json.load(f)["detections"])
    e = np.load(root + "/dets/long.npy", mmap_mode="r")
    total = np.zeros(e.shape[1])
    for s in range(0, e.shape[0], 65536):
        total += e[s:s + 65536].sum(0)
if kind == "reid":
    with open(root + "/tracks/long.json") as f:
        n += len(json.load(f)["lines"])
    with open(root + "/tracks/long.txt") as f:
        n += sum(len(line.split()) > 0 for line in f)
if kind == "evaluate":
    for path in (root + "/refined/long.txt", root + "/gt/long.txt"):
        with open(path) as f:
            n += sum(len(line.split()) > 0 for line in f)
print(n)
"""


READERS = r"""
import sys
from pathlib import Path
from dior_cli.formats.detections_json import DetectionStream
from dior_cli.formats.embeddings import open_embedding_rows
from dior_cli.formats.mots_txt import iter_mots_txt
from dior_cli.formats.tracks_json import read_track_links
kind, root = sys.argv[1], Path(sys.argv[2])
stream = DetectionStream(root / "dets" / "long.json")
rows = sum(len(block) for _, block in stream.blocks())
vectors = open_embedding_rows(root / "dets" / "long.npy", root / "dets" / "long.json")
for start in range(0, vectors.shape[0], 4096):
    vectors[start : start + 4096]
if kind == "reid":
    links = read_track_links(root / "tracks" / "long.json", as_array=True)
    lines = sum(len(b.line) for b in iter_mots_txt(root / "tracks" / "long.txt", links.frame_base, num_frames=links.num_frames))
print(rows)
"""


def sample_rss(pid: int, peaks: dict, stop: threading.Event) -> None:
    """Keep the largest RssAnon and RssFile (kB) of /proc/<pid>/status until ``stop``."""
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    peaks[key] = max(peaks.get(key, 0), int(value.split()[0]))
        except (OSError, ValueError):
            pass
        stop.wait(0.1)


def measure(command: list[str], env: dict, limit_gb: float) -> dict:
    """Run one process under an address-space limit of ``limit_gb``; wall seconds, peak RSS (MB,
    from ``os.wait4``), sampled RssAnon/RssFile peaks, stdout, and whether it failed."""
    limit = int(limit_gb * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, preexec_fn=cap)
    peaks: dict = {}
    stop = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(child.pid, peaks, stop), daemon=True)
    sampler.start()
    stdout, stderr = [], []
    pipes = [threading.Thread(target=lambda s=s, o=o: o.append(s.read()), daemon=True) for s, o in ((child.stdout, stdout), (child.stderr, stderr))]
    for p in pipes:
        p.start()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    stop.set()
    for p in pipes:
        p.join()
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code
    if code != 0:
        print(f"FAILED ({code}): {' '.join(command)[:200]}\n{''.join(stderr)[-1500:]}", flush=True)
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "anon_mb": peaks.get("RssAnon", 0) / 1024,
            "file_mb": peaks.get("RssFile", 0) / 1024, "stdout": "".join(stdout), "failed": code != 0}


def run_size(workdir: Path, scale: int, frames_1x: int, env: dict, limit_gb: float, wanted: tuple[str, ...]) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"long_video_{scale}x_", dir=workdir))
    try:
        t0 = time.perf_counter()
        counts = generate(root, scale, frames_1x)
        counts["generate_seconds"] = time.perf_counter() - t0
        counts["disk_mb"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20
        dior = [sys.executable, "-m", "dior_cli"]
        stages = {
            "track": dior + ["track", str(root / "dets"), "--out", str(root / "tracks"), "--offline-reid", "--overwrite", "--json"],
            "reid": dior + ["reid", str(root / "tracks"), "--dets", str(root / "dets"), "--out", str(root / "refined"), "--overwrite", "--json"],
            "evaluate": dior + ["evaluate", "--gt", str(root / "gt"), "--pred", str(root / "refined"), "--benchmark", "kitti-mots",
                                "--workers", "1", "--out", str(root / "metrics.json"), "--json"],
        }
        out = {"scale": scale, **counts}
        stages = {name: command for name, command in stages.items() if name in wanted}
        for name, command in stages.items():
            result = measure(command, env, limit_gb)
            reference = measure([sys.executable, "-c", REFERENCE, name, str(root)], env, limit_gb)
            out[name] = {k: v for k, v in result.items() if k != "stdout"}
            out[name]["reference_seconds"] = reference["seconds"]
            out[name]["reference_rss_mb"] = reference["rss_mb"]
            readers = measure([sys.executable, "-c", READERS, name, str(root)], env, limit_gb) if name in ("track", "reid") else None
            out[name]["readers_rss_mb"] = readers["rss_mb"] if readers else float("nan")
            out[name]["failed"] = result["failed"]
            if result["failed"]:
                out.setdefault("tracklets", float("nan"))
                out.setdefault("tracks_after_reid", float("nan"))
                out.setdefault("reid_tracks_out", float("nan"))
                out.setdefault("hota", None)
                if name != "evaluate":
                    break  # later stages need this one's output
                continue
            if name == "track":
                seq = json.loads(result["stdout"])["sequences"]["long"]
                out["tracklets"] = seq["tracks"] + seq["reid_joins"]
                out["tracks_after_reid"] = seq["tracks"]
            if name == "reid":
                out["reid_tracks_out"] = json.loads(result["stdout"])["sequences"]["long"]["tracks_out"]
            if name == "evaluate":
                metrics = json.loads(result["stdout"])
                out["hota"] = _find_number(metrics, "HOTA")
            print(f"{scale:>3}x {name:<9} {result['seconds']:8.1f} s  peak RSS {result['rss_mb']:7.0f} MB "
                  f"(anon {result['anon_mb']:.0f}, file {result['file_mb']:.0f})  reference {reference['seconds']:6.1f} s "
                  f"{reference['rss_mb']:6.0f} MB  ratio {result['seconds'] / reference['seconds']:5.2f}"
                  + (f"  dior's readers alone {readers['rss_mb']:.0f} MB, {readers['seconds']:.1f} s" if readers else ""), flush=True)
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _find_number(doc, key):
    """The first value under ``key`` anywhere in a nested document (for the summary line only)."""
    if isinstance(doc, dict):
        if key in doc and isinstance(doc[key], (int, float)):
            return doc[key]
        for value in doc.values():
            found = _find_number(value, key)
            if found is not None:
                return found
    if isinstance(doc, list):
        for value in doc:
            found = _find_number(value, key)
            if found is not None:
                return found
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,4,16", help="comma-separated length multiples of 1,250 frames (default 1,4,16)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="where the generated files go (deleted after each size)")
    parser.add_argument("--frames-1x", type=int, default=FRAMES_1X, help=f"frames at 1x (default {FRAMES_1X}; smaller only to try the script)")
    parser.add_argument("--limit-gb", type=float, default=10.0, help="address-space limit of each measured process, GB (default 10): "
                        "a stage that needs more fails and is reported as failed instead of exhausting a shared machine")
    parser.add_argument("--stages", default="track,reid,evaluate", help="comma-separated stages to measure, in pipeline order "
                        "(default track,reid,evaluate; reid needs track, evaluate needs reid)")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    env = {**os.environ, "DIOR_PROGRESS": "0", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "PYTHONPATH": str(REPO)}
    results = []
    for scale in scales:
        r = run_size(args.workdir, scale, args.frames_1x, env, args.limit_gb, tuple(args.stages.split(",")))
        print(f"{scale:>3}x: {r['frames']} frames, {r['detections']} detections, {r['identities']} identities, "
              f"{r.get('tracklets')} online tracklets, {r.get('tracks_after_reid')} tracks after --offline-reid, "
              f"{r.get('reid_tracks_out')} after dior reid, HOTA {r.get('hota')}, generated in {r['generate_seconds']:.0f} s, "
              f"{r['disk_mb']:.0f} MB on disk", flush=True)
        results.append(r)
    lo, hi = results[0], results[-1]
    span = math.log(hi["scale"] / lo["scale"]) if hi["scale"] != lo["scale"] else float("nan")
    fields = []
    for name in ("track", "reid", "evaluate"):
        if name not in args.stages.split(","):
            continue
        if name not in hi or hi[name]["failed"] or lo[name]["failed"]:
            print(f"{name:<9} failed at {hi['scale']}x (see above)")
            fields += [f"{name}_time_exponent=failed", f"{name}_rss_ratio=failed"]
            continue
        exponent = math.log(hi[name]["seconds"] / lo[name]["seconds"]) / span
        rss = hi[name]["rss_mb"] / lo[name]["rss_mb"]
        print(f"{name:<9} time exponent {exponent:.3f}  peak RSS {lo[name]['rss_mb']:.0f} -> {hi[name]['rss_mb']:.0f} MB "
              f"(x{rss:.2f}; anon {lo[name]['anon_mb']:.0f} -> {hi[name]['anon_mb']:.0f}, file {lo[name]['file_mb']:.0f} -> "
              f"{hi[name]['file_mb']:.0f}; dior's readers alone {lo[name]['readers_rss_mb']:.0f} -> {hi[name]['readers_rss_mb']:.0f})  "
              f"ratio to reference {lo[name]['seconds'] / lo[name]['reference_seconds']:.2f} -> "
              f"{hi[name]['seconds'] / hi[name]['reference_seconds']:.2f}")
        fields += [f"{name}_time_exponent={exponent:.3f}", f"{name}_rss_ratio={rss:.2f}"]
    print("RESULT long_video " + " ".join(fields) + f" detections_max={hi['detections']} tracklets_max={hi.get('tracklets')}")


if __name__ == "__main__":
    main()
