"""Time `dior evaluate` against TrackEval 1.3.0 on the same files, whole process each.

Inputs: the real KITTI-MOTS train ground truth (../shared/data/kitti_mots, all 12 sequences
by default) and predictions made from it by the deterministic perturbations of the test
suite (dropped masks, bursts, identity swaps, fragments, shifted/eroded/dilated masks,
false positives, predictions inside ignore regions). Both tools read the same TrackEval
KittiMOTS layout (label_02/ + evaluate_mots.seqmap.train). Each run is a fresh process
(interpreter start, imports, reading, scoring); the runs alternate and the median counts.

Prints the time ratio dior/TrackEval and the largest difference over every field, sequence
and class, then one line:  RESULT evaluate ratio=<r> max_diff=<d> ...

    python benchmarks/evaluate_vs_trackeval.py [--repeat 3] [--sequences 0000,0012] [--workers 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
gt, trackers, out = sys.argv[1:4]
dataset = trackeval.datasets.KittiMOTS({"GT_FOLDER": gt, "TRACKERS_FOLDER": trackers, "OUTPUT_FOLDER": out,
    "TRACKERS_TO_EVAL": ["pred"], "CLASSES_TO_EVAL": ["car", "pedestrian"], "SPLIT_TO_EVAL": "train", "PRINT_CONFIG": False})
evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
    "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": None})
metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
res, _ = evaluator.evaluate([dataset], metrics)
flat = {}
for seq, by_class in res["KittiMOTS"]["pred"].items():
    for cls, by_metric in by_class.items():
        fields = {}
        for metric in ("HOTA", "CLEAR", "Identity"):
            for k, v in by_metric[metric].items():
                fields[k] = float(np.mean(v)) if isinstance(v, np.ndarray) else float(v)
        flat.setdefault(seq, {})[cls] = fields
json.dump(flat, open(out + "/trackeval.json", "w"))
"""


def prepare(root: Path, sequences: list[str]) -> None:
    """TrackEval's KittiMOTS layout: gt/label_02, gt/evaluate_mots.seqmap.train, trackers/pred/data."""
    seqmap_lines = {line.split()[0]: line for line in (DATA / "kitti_mots" / "seqmaps" / "train.seqmap").read_text().splitlines()}
    (root / "gt" / "label_02").mkdir(parents=True)
    (root / "trackers" / "pred" / "data").mkdir(parents=True)
    (root / "gt" / "evaluate_mots.seqmap.train").write_text("".join(seqmap_lines[s] + "\n" for s in sequences))
    for i, seq in enumerate(sequences):
        gt = DATA / "kitti_mots" / "instances_txt" / f"{seq}.txt"
        shutil.copyfile(gt, root / "gt" / "label_02" / f"{seq}.txt")
        last = int(seqmap_lines[seq].split()[3])
        perturb_sequence(gt, root / "trackers" / "pred" / "data" / f"{seq}.txt", seed=1000 + i, num_frames=last + 1)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each tool (median reported)")
    parser.add_argument("--sequences", default=None, help="comma-separated KITTI-MOTS sequences (default: all 12 train)")
    parser.add_argument("--workers", type=int, default=0, help="dior evaluate --workers (0 = one per core)")
    args = parser.parse_args()
    if not (DATA / "kitti_mots").is_dir():
        sys.exit(f"needs the real data at {DATA / 'kitti_mots'} (set DIOR_DATA)")
    sequences = args.sequences.split(",") if args.sequences else sorted(p.stem for p in (DATA / "kitti_mots" / "instances_txt").glob("*.txt"))
    with tempfile.TemporaryDirectory(prefix="dior_bench_eval_") as tmp:
        root = Path(tmp)
        prepare(root, sequences)
        (root / "out").mkdir()
        trackeval_cmd = [sys.executable, "-c", TRACKEVAL_SCRIPT, str(root / "gt"), str(root / "trackers"), str(root / "out")]
        dior_cmd = [sys.executable, "-m", "dior_cli", "evaluate", "--gt", str(root / "gt"), "--pred", str(root / "trackers" / "pred"),
                    "--out", str(root / "out" / "dior.json"), "--workers", str(args.workers)]
        dior_times, trackeval_times = [], []
        for _ in range(args.repeat):
            trackeval_times.append(timed(trackeval_cmd))
            dior_times.append(timed(dior_cmd))
        dior_doc = json.loads((root / "out" / "dior.json").read_text())
        reference = json.loads((root / "out" / "trackeval.json").read_text())
    worst, compared, where = largest_difference(dior_doc, reference)
    t_dior, t_ref = statistics.median(dior_times), statistics.median(trackeval_times)
    ratio = t_dior / t_ref
    print(f"sequences: {len(sequences)} ({','.join(sequences)}); cores: {os.cpu_count()}; dior workers: {args.workers or os.cpu_count()}")
    print(f"TrackEval: median {t_ref:.2f} s  runs {', '.join(f'{t:.2f}' for t in trackeval_times)}")
    print(f"dior:      median {t_dior:.2f} s  runs {', '.join(f'{t:.2f}' for t in dior_times)}")
    print(f"fields compared: {compared}; largest difference {worst:.3g} at {where}")
    print(f"RESULT evaluate ratio={ratio:.3f} max_diff={worst:.3g} dior_s={t_dior:.2f} trackeval_s={t_ref:.2f} sequences={len(sequences)}")


if __name__ == "__main__":
    main()
