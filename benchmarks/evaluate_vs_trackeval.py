"""Time `dior evaluate` against TrackEval 1.3.0 on the same files, whole process each, at equal parallelism.

Two cases, both from the real KITTI-MOTS train ground truth (../shared/data/kitti_mots, all 12
sequences by default) with predictions made by the test suite's deterministic perturbations
(dropped masks, bursts, identity swaps, fragments, shifted/eroded/dilated masks, false positives,
predictions inside ignore regions):

* ``kitti``: TrackEval's KittiMOTS layout (label_02/ + evaluate_mots.seqmap.train), car and
  pedestrian;
* ``mots20``: the same sequences in TrackEval's MOTSChallenge layout (MOTS-train/<seq>/gt/gt.txt,
  seqinfo.ini, seqmaps/MOTS-train.txt; pedestrians and ignore regions, frames from 1).

For each case, first both tools on one process (TrackEval USE_PARALLEL False, dior --workers 1),
then both on N processes (TrackEval USE_PARALLEL with NUM_PARALLEL_CORES N, dior --workers N).
Every run is a fresh process (interpreter start, imports, reading, scoring), dior and TrackEval
alternate, and the best of ``--repeat`` runs counts, in wall time and in CPU time (user + system
of the process and its workers), so a busy machine disturbs the ratio as little as possible.

Prints each ratio dior/TrackEval and the largest difference over every field, sequence and
class, then one line:
RESULT evaluate ratio=<kitti, 1 process, wall> ratio_mots20=... ratio_parallel=... max_diff=<d> ...

    python benchmarks/evaluate_vs_trackeval.py [--repeat 3] [--sequences 0000,0012] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.evaluate.perturb import perturb_sequence  # noqa: E402  (the test suite's generator)

DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))

TRACKEVAL_SCRIPT = r"""
import json, sys
import numpy as np
import trackeval
kind, gt, trackers, out, workers = sys.argv[1:6]
workers = int(workers)
common = {"GT_FOLDER": gt, "TRACKERS_FOLDER": trackers, "OUTPUT_FOLDER": out, "TRACKERS_TO_EVAL": ["pred"],
          "SPLIT_TO_EVAL": "train", "PRINT_CONFIG": False}
if kind == "kitti":
    dataset = trackeval.datasets.KittiMOTS({**common, "CLASSES_TO_EVAL": ["car", "pedestrian"]})
else:
    dataset = trackeval.datasets.MOTSChallenge({**common, "CLASSES_TO_EVAL": ["pedestrian"]})
evaluator = trackeval.Evaluator({"USE_PARALLEL": workers > 1, "NUM_PARALLEL_CORES": max(workers, 1), "PRINT_RESULTS": False,
    "PRINT_CONFIG": False, "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
    "LOG_ON_ERROR": None, "BREAK_ON_ERROR": True})
metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
res, _ = evaluator.evaluate([dataset], metrics)
flat = {}
for seq, by_class in res[dataset.get_name()]["pred"].items():
    for cls, by_metric in by_class.items():
        fields = {}
        for metric in ("HOTA", "CLEAR", "Identity"):
            for k, v in by_metric[metric].items():
                fields[k] = float(np.mean(v)) if isinstance(v, np.ndarray) else float(v)
        flat.setdefault(seq, {})[cls] = fields
json.dump(flat, open(out + "/trackeval.json", "w"))
"""


def _seqmap_lines() -> dict[str, str]:
    lines = (DATA / "kitti_mots" / "seqmaps" / "train.seqmap").read_text().splitlines()
    return {line.split()[0]: line for line in lines if line.strip()}


def prepare_kitti(root: Path, sequences: list[str]) -> tuple[Path, Path]:
    """TrackEval's KittiMOTS layout: gt/label_02, gt/evaluate_mots.seqmap.train, trackers/pred/data."""
    seqmap = _seqmap_lines()
    (root / "gt" / "label_02").mkdir(parents=True)
    (root / "trackers" / "pred" / "data").mkdir(parents=True)
    (root / "gt" / "evaluate_mots.seqmap.train").write_text("".join(seqmap[s] + "\n" for s in sequences))
    for i, seq in enumerate(sequences):
        gt = DATA / "kitti_mots" / "instances_txt" / f"{seq}.txt"
        shutil.copyfile(gt, root / "gt" / "label_02" / f"{seq}.txt")
        last = int(seqmap[seq].split()[3])
        perturb_sequence(gt, root / "trackers" / "pred" / "data" / f"{seq}.txt", seed=1000 + i, num_frames=last + 1)
    return root / "gt", root / "trackers"


def prepare_mots20(root: Path, sequences: list[str]) -> tuple[Path, Path]:
    """TrackEval's MOTSChallenge layout from KITTI-MOTS files: pedestrians and ignore regions, frames from 1."""
    seqmap = _seqmap_lines()
    names = [f"MOTS20-{seq}" for seq in sequences]
    (root / "gt" / "seqmaps").mkdir(parents=True)
    (root / "gt" / "seqmaps" / "MOTS-train.txt").write_text("name\n" + "".join(f"{n}\n" for n in names))
    preds = root / "trackers" / "MOTS-train" / "pred" / "data"
    preds.mkdir(parents=True)
    for i, (seq, name) in enumerate(zip(sequences, names)):
        folder = root / "gt" / "MOTS-train" / name
        (folder / "gt").mkdir(parents=True)
        lines = (DATA / "kitti_mots" / "instances_txt" / f"{seq}.txt").read_text().splitlines()
        kept = []
        for line in lines:
            frame, obj, cls, rest = line.split(" ", 3)
            if cls in ("2", "10"):
                kept.append(f"{int(frame) + 1} {obj} {cls} {rest}\n")
        (folder / "gt" / "gt.txt").write_text("".join(kept))
        height, width = lines[0].split()[3:5]
        length = int(seqmap[seq].split()[3]) + 1
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={length}\nimWidth={width}\nimHeight={height}\nimExt=.jpg\n"
        )
        perturb_sequence(folder / "gt" / "gt.txt", preds / f"{name}.txt", seed=2000 + i, gt_frame_base=1, out_frame_base=1,
                         num_frames=length, classes=(2,))
    return root / "gt", root / "trackers"


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the process and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)  # this checkout's dior, from any folder
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def largest_difference(dior: dict, reference: dict) -> tuple[float, int, str]:
    """Largest |dior - TrackEval| over fields present in both, the number of fields compared,
    and where the largest difference is."""
    worst, where, compared = 0.0, "-", 0
    places = [(seq, cls, dior["per_sequence"][seq][cls]) for seq in dior["per_sequence"] for cls in dior["per_sequence"][seq]]
    places += [("COMBINED_SEQ", cls, dior["combined"][cls]) for cls in dior["classes"]]
    for seq, cls, fields in places:
        for name, ours in fields.items():
            theirs = reference[seq][cls].get(name)
            if theirs is None:
                continue  # MOTS names: aliases of CLEAR fields, compared under their TrackEval names
            compared += 1
            if ours is None:  # NaN in dior's JSON
                diff = 0.0 if theirs != theirs else float("inf")
            else:
                diff = abs(float(ours) - theirs)
            if diff > worst:
                worst, where = diff, f"{seq}/{cls}/{name}"
    return worst, compared, where


def compare(case: str, gt: Path, trackers: Path, out: Path, workers: int, repeat: int) -> dict:
    """Alternate dior and TrackEval ``repeat`` times at ``workers`` processes; best times and the field check."""
    pred = trackers / "pred" if case == "kitti" else trackers / "MOTS-train" / "pred"
    trackeval_cmd = [sys.executable, "-c", TRACKEVAL_SCRIPT, case, str(gt), str(trackers), str(out), str(workers)]
    dior_cmd = [sys.executable, "-m", "dior_cli", "evaluate", "--gt", str(gt), "--pred", str(pred),
                "--out", str(out / "dior.json"), "--workers", str(workers)]
    runs: dict[str, list[tuple[float, float]]] = {"dior": [], "trackeval": []}
    for i in range(repeat):
        order = [("trackeval", trackeval_cmd), ("dior", dior_cmd)]
        for name, command in order if i % 2 == 0 else order[::-1]:
            runs[name].append(timed(command))
    worst, compared, where = largest_difference(json.loads((out / "dior.json").read_text()), json.loads((out / "trackeval.json").read_text()))
    best = {name: (min(w for w, _ in r), min(c for _, c in r)) for name, r in runs.items()}
    return {
        "dior_wall": best["dior"][0], "dior_cpu": best["dior"][1],
        "trackeval_wall": best["trackeval"][0], "trackeval_cpu": best["trackeval"][1],
        "ratio": best["dior"][0] / best["trackeval"][0], "ratio_cpu": best["dior"][1] / best["trackeval"][1],
        "max_diff": worst, "compared": compared, "where": where, "runs": runs,
    }


def _listing(runs: list[tuple[float, float]]) -> str:
    return ", ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in runs) + " s wall/CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each tool per setting (best reported)")
    parser.add_argument("--sequences", default=None, help="comma-separated KITTI-MOTS sequences (default: all 12 train)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the parallel setting, both tools (default: CPU cores)")
    parser.add_argument("--cases", default="kitti,mots20", help="which cases to run: kitti, mots20 or both")
    args = parser.parse_args()
    if not (DATA / "kitti_mots").is_dir():
        sys.exit(f"needs the real data at {DATA / 'kitti_mots'} (set DIOR_DATA)")
    sequences = args.sequences.split(",") if args.sequences else sorted(p.stem for p in (DATA / "kitti_mots" / "instances_txt").glob("*.txt"))
    cases = args.cases.split(",")
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="dior_bench_eval_") as tmp:
        for case in cases:
            root = Path(tmp) / case
            gt, trackers = (prepare_kitti if case == "kitti" else prepare_mots20)(root, sequences)
            (root / "out").mkdir()
            for workers in dict.fromkeys((1, args.workers)):
                results[case, workers] = r = compare(case, gt, trackers, root / "out", workers, args.repeat)
                print(f"  ({case}, {workers} process(es): TrackEval runs {_listing(r['runs']['trackeval'])}; "
                      f"dior runs {_listing(r['runs']['dior'])})", flush=True)
    print(f"sequences: {len(sequences)} ({','.join(sequences)}); cores: {os.cpu_count()}; best of {args.repeat}, runs alternating")
    for (case, workers), r in results.items():
        print(f"{case:7s} {workers} process(es): TrackEval {r['trackeval_wall']:.2f} s wall / {r['trackeval_cpu']:.2f} s CPU, "
              f"dior {r['dior_wall']:.2f} s / {r['dior_cpu']:.2f} s -> ratio {r['ratio']:.3f} wall, {r['ratio_cpu']:.3f} CPU; "
              f"{r['compared']} fields, largest difference {r['max_diff']:.3g} at {r['where']}")
    worst = max(r["max_diff"] for r in results.values())
    fields = [f"max_diff={worst:.3g}"]
    for (case, workers), r in results.items():
        tag = ("" if case == "kitti" else f"_{case}") + ("" if workers == 1 else f"_{workers}proc")
        fields.append(f"ratio{tag}={r['ratio']:.3f} ratio_cpu{tag}={r['ratio_cpu']:.3f}")
    first = results.get(("kitti", 1)) or next(iter(results.values()))
    fields.append(f"dior_s={first['dior_wall']:.2f} trackeval_s={first['trackeval_wall']:.2f} sequences={len(sequences)} workers={args.workers}")
    print("RESULT evaluate " + " ".join(fields))


if __name__ == "__main__":
    main()
