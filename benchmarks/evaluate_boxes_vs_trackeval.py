"""Time `dior evaluate` on boxes against TrackEval 1.3.0's MotChallenge2DBox on the same files.

Inputs: the real box ground truth in ../shared/data: MOT15 (TUD-Campus with its 7-column gt,
PETS09-S3MF1) and the MOT17 mini sequences (seqinfo.ini lengths of 525-1050 frames, ground
truth in their first 4-8), with tracker files made from it by the test suite's deterministic
perturbations (tests/evaluate/box_perturb.py: jitter, swaps, fragments, drops, false boxes,
boxes on distractors). TrackEval reads its own layout (MOT15-train/, MOT17-train/ + seqmaps, a
10-column copy of TUD-Campus's gt); dior reads the data folders as they are. Each run is a
fresh process (interpreter start, imports, reading, scoring), both single-process; the runs
alternate and the median of each counts. Times are the sums of the MOT15 and MOT17 runs. On
data this small start-up dominates, so the same work is also timed in this process, both tools
already imported (TrackEval: dataset + Evaluator.evaluate; dior: dior_cli.evaluate.stage.run).

Prints the time ratio dior/TrackEval and the largest difference over every field, sequence
and the combination, then one line:  RESULT evaluate_boxes ratio=<r> max_diff=<d> ...

    python benchmarks/evaluate_boxes_vs_trackeval.py [--repeat 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import configparser
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

from benchmarks.evaluate_vs_trackeval import largest_difference  # noqa: E402
from tests.evaluate.box_perturb import as_ten_columns, perturb_boxes, read_gt, write_tracker  # noqa: E402  (the test suite's generator)

DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))
MOT15 = {"TUD-Campus": ("img1", (480, 640)), "PETS09-S3MF1": ("img", (576, 768))}

TRACKEVAL_SCRIPT = r"""
import json, sys
import numpy as np
import trackeval
gt, trackers, benchmark, out = sys.argv[1:5]
dataset = trackeval.datasets.MotChallenge2DBox({"GT_FOLDER": gt, "TRACKERS_FOLDER": trackers, "OUTPUT_FOLDER": out,
    "TRACKERS_TO_EVAL": ["pred"], "CLASSES_TO_EVAL": ["pedestrian"], "BENCHMARK": benchmark, "SPLIT_TO_EVAL": "train",
    "PRINT_CONFIG": False})
evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
    "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": None})
metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
res, _ = evaluator.evaluate([dataset], metrics)
flat = {}
for seq, by_class in res["MotChallenge2DBox"]["pred"].items():
    for cls, by_metric in by_class.items():
        fields = {}
        for metric in ("HOTA", "CLEAR", "Identity"):
            for k, v in by_metric[metric].items():
                fields[k] = float(np.mean(v)) if isinstance(v, np.ndarray) else float(v)
        flat.setdefault(seq, {})[cls] = fields
json.dump(flat, open(out + "/trackeval_" + benchmark + ".json", "w"))
"""


def _trackeval_sequence(root: Path, benchmark: str, seq: str, gt_txt: Path, length: int) -> None:
    folder = root / "gt" / f"{benchmark}-train" / seq
    (folder / "gt").mkdir(parents=True)
    shutil.copyfile(gt_txt, folder / "gt" / "gt.txt")
    (folder / "seqinfo.ini").write_text(f"[Sequence]\nname={seq}\nseqLength={length}\n")


def prepare(root: Path) -> dict[str, dict]:
    """Tracker files (one folder per benchmark, used by both tools) and TrackEval's layout."""
    for benchmark in ("MOT15", "MOT17"):
        (root / "gt" / "seqmaps").mkdir(parents=True, exist_ok=True)
        (root / "trackers" / f"{benchmark}-train" / "pred" / "data").mkdir(parents=True)
    names15 = sorted(MOT15)
    for i, seq in enumerate(names15):
        image_dir, size = MOT15[seq]
        folder = DATA / "mot_box_gt" / seq
        length = len([p for p in (folder / image_dir).iterdir() if p.suffix == ".jpg"])
        rows = perturb_boxes(read_gt(folder / "gt" / "gt.txt"), seed=500 + i, num_frames=length, image_size=size, mot15=True)
        write_tracker(root / "trackers" / "MOT15-train" / "pred" / "data" / f"{seq}.txt", rows)
        _trackeval_sequence(root, "MOT15", seq, as_ten_columns(folder / "gt" / "gt.txt", root / "ten" / f"{seq}.txt"), length)
    names17 = sorted(p.name for p in (DATA / "mot17_mini" / "train").iterdir() if (p / "gt" / "gt.txt").is_file())
    for i, seq in enumerate(names17):
        folder = DATA / "mot17_mini" / "train" / seq
        info = configparser.ConfigParser()
        info.read(folder / "seqinfo.ini")
        length = int(info["Sequence"]["seqLength"])
        size = (int(info["Sequence"]["imHeight"]), int(info["Sequence"]["imWidth"]))
        rows = perturb_boxes(read_gt(folder / "gt" / "gt.txt"), seed=600 + i, num_frames=length, image_size=size, mot15=False, late_fps=3)
        write_tracker(root / "trackers" / "MOT17-train" / "pred" / "data" / f"{seq}.txt", rows)
        _trackeval_sequence(root, "MOT17", seq, folder / "gt" / "gt.txt", length)
    for benchmark, names in (("MOT15", names15), ("MOT17", names17)):
        (root / "gt" / "seqmaps" / f"{benchmark}-train.txt").write_text("name\n" + "".join(f"{n}\n" for n in names))
    return {"MOT15": {"gt": DATA / "mot_box_gt", "sequences": names15}, "MOT17": {"gt": DATA / "mot17_mini", "sequences": names17}}


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return time.perf_counter() - start


def in_process(root: Path, benchmark: str, gt: Path, workers: int, repeat: int) -> tuple[float, float]:
    """Median seconds of (dior, TrackEval) evaluating one benchmark in this process."""
    import contextlib
    import io

    import trackeval

    from dior_cli.evaluate.stage import EvaluateOptions, run

    def reference() -> None:
        dataset = trackeval.datasets.MotChallenge2DBox({
            "GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "trackers"), "OUTPUT_FOLDER": str(root / "out"),
            "TRACKERS_TO_EVAL": ["pred"], "CLASSES_TO_EVAL": ["pedestrian"], "BENCHMARK": benchmark, "SPLIT_TO_EVAL": "train",
            "PRINT_CONFIG": False})
        evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
                                         "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": None})
        evaluator.evaluate([dataset], [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()])

    options = EvaluateOptions(gt=gt, pred=root / "trackers" / f"{benchmark}-train" / "pred", workers=workers)
    t_dior, t_ref = [], []
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(repeat):
            start = time.perf_counter()
            reference()
            t_ref.append(time.perf_counter() - start)
            start = time.perf_counter()
            run(options)
            t_dior.append(time.perf_counter() - start)
    return statistics.median(t_dior), statistics.median(t_ref)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each tool per benchmark (median reported)")
    parser.add_argument("--workers", type=int, default=1, help="dior evaluate --workers (1 = single process like TrackEval; 0 = one per core)")
    args = parser.parse_args()
    for needed in (DATA / "mot_box_gt", DATA / "mot17_mini"):
        if not needed.is_dir():
            sys.exit(f"needs the real data at {needed} (set DIOR_DATA)")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    results = {}
    with tempfile.TemporaryDirectory(prefix="dior_bench_eval_boxes_") as tmp:
        root = Path(tmp)
        cases = prepare(root)
        (root / "out").mkdir()
        for benchmark, case in cases.items():
            trackeval_cmd = [sys.executable, "-c", TRACKEVAL_SCRIPT, str(root / "gt"), str(root / "trackers"), benchmark, str(root / "out")]
            dior_json = root / "out" / f"dior_{benchmark}.json"
            dior_cmd = [sys.executable, "-m", "dior_cli", "evaluate", "--gt", str(case["gt"]), "--pred",
                        str(root / "trackers" / f"{benchmark}-train" / "pred"), "--out", str(dior_json), "--workers", str(args.workers)]
            t_dior, t_ref = [], []
            for _ in range(args.repeat):
                t_ref.append(timed(trackeval_cmd, env))
                t_dior.append(timed(dior_cmd, env))
            doc = json.loads(dior_json.read_text())
            reference = json.loads((root / "out" / f"trackeval_{benchmark}.json").read_text())
            results[benchmark] = (statistics.median(t_dior), statistics.median(t_ref), t_dior, t_ref, *largest_difference(doc, reference), doc)
        os.environ.update({k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
        work = {b: in_process(root, b, case["gt"], args.workers, args.repeat) for b, case in cases.items()}
    worst, compared = 0.0, 0
    for benchmark, (d, r, ds, rs, diff, n, where, doc) in results.items():
        frames = sum(v["num_frames"] for v in doc["sequence_info"].values())
        print(f"{benchmark}: {len(doc['sequences'])} sequences, {frames} frames; TrackEval median {r:.2f} s ({', '.join(f'{t:.2f}' for t in rs)}); "
              f"dior median {d:.2f} s ({', '.join(f'{t:.2f}' for t in ds)}); ratio {d / r:.3f}; {n} fields, largest difference {diff:.3g} at {where}")
        worst, compared = max(worst, diff), compared + n
        print(f"{benchmark} in process (no start-up): TrackEval {work[benchmark][1]:.3f} s, dior {work[benchmark][0]:.3f} s, "
              f"ratio {work[benchmark][0] / work[benchmark][1]:.3f}")
    t_dior = sum(v[0] for v in results.values())
    t_ref = sum(v[1] for v in results.values())
    w_dior, w_ref = sum(v[0] for v in work.values()), sum(v[1] for v in work.values())
    print(f"cores: {os.cpu_count()}; dior workers: {args.workers or os.cpu_count()}; threads: 1 (OMP/BLAS) for both")
    print(f"RESULT evaluate_boxes ratio={t_dior / t_ref:.3f} max_diff={worst:.3g} dior_s={t_dior:.2f} trackeval_s={t_ref:.2f} "
          f"in_process_ratio={w_dior / w_ref:.3f} in_process_dior_s={w_dior:.3f} in_process_trackeval_s={w_ref:.3f} fields={compared}")


if __name__ == "__main__":
    main()
