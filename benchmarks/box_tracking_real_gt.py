"""Tracking real people, scored on real box ground truth: dior end to end against two baselines.

On ``../shared/data/mot_box_gt/TUD-Campus`` (MOT15, 71 frames) and ``PETS09-S3MF1`` (107 frames),
three trackers, each scored by ``dior evaluate --boxes`` (TrackEval's MotChallenge2DBox numbers)
against the sequence's ``gt/gt.txt``:

* **dior run**: the whole default pipeline on the frames alone: YOLOX-nano, box -> mask, OSNet,
  the online tracker with long-term re-ID; each mask's bounding box is scored.
* **dior on public detections**: the sequence's own public detections (``det.txt``) through
  ``dior infer --detections`` (masks from the boxes, OSNet) and ``dior track --offline-reid``.
* **IoU tracker on public detections**: the reference that is not dior's code, a plain greedy IoU
  tracker written here after Bochinski et al. (AVSS 2017): each track takes the unmatched
  detection of highest IoU with its last box if that IoU >= 0.5, else it ends; detections left
  start tracks; tracks shorter than 3 frames or never scoring above the score gate are dropped.

The public detections' scores are put on [0, 1] the way dior reads them (TUD's ACF scores are
0.14-133: mapped linearly), and the same score gate (``--public-gate``, default 0.25) starts
tracks in both trackers of public detections (``track.new_track_score``).

    python benchmarks/box_tracking_real_gt.py [--sequences TUD-Campus,PETS09-S3MF1] [--out runs/box_gt]

Ends with one line ``RESULT box_tracking_real_gt <tracker>_<seq>_HOTA=... ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))

from dior_cli.formats.mot_boxes import read_mot_boxes  # noqa: E402

# frames folder, public detections, frames per second (TUD-Campus: MOT15's seqinfo; PETS 2009: 7 fps)
SEQUENCES = {"TUD-Campus": ("img1", "det/det.txt", 25.0), "PETS09-S3MF1": ("img", "img/det.txt", 7.0)}
FIELDS = ("HOTA", "IDF1", "MOTA", "IDSW")


def dior(*args: str) -> dict:
    """Run a dior command as a user would (a process of its own); return its --json document."""
    result = subprocess.run([sys.executable, "-m", "dior_cli", *args, "--json"], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
    if result.returncode != 0:
        sys.exit(f"dior {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def iou_tracker(frames: np.ndarray, boxes: np.ndarray, scores: np.ndarray, num_frames: int, *, sigma_iou: float = 0.5,
                score_gate: float = 0.25, t_min: int = 3) -> list[tuple[int, int, np.ndarray]]:
    """Greedy IoU tracking of ``boxes`` (xyxy); returns ``(frame, track id, box)`` rows of the tracks kept."""
    active: list[dict] = []
    finished: list[dict] = []
    for t in range(num_frames):
        rows = list(np.flatnonzero(frames == t))
        still = []
        for track in active:
            if rows:
                ious = [_iou(track["boxes"][-1], boxes[r]) for r in rows]
                best = int(np.argmax(ious))
                if ious[best] >= sigma_iou:
                    track["boxes"].append(boxes[rows[best]])
                    track["frames"].append(t)
                    track["best"] = max(track["best"], scores[rows[best]])
                    rows.pop(best)
                    still.append(track)
                    continue
            finished.append(track)
        active = still + [{"boxes": [boxes[r]], "frames": [t], "best": scores[r]} for r in rows]
    finished += active
    kept = [tr for tr in finished if len(tr["frames"]) >= t_min and tr["best"] >= score_gate]
    return [(f, k + 1, b) for k, tr in enumerate(kept) for f, b in zip(tr["frames"], tr["boxes"])]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def write_mot(path: Path, rows: list[tuple[int, int, np.ndarray]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        for frame, track, (x0, y0, x1, y1) in rows:
            handle.write(f"{frame + 1},{track},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},1,-1,-1,-1\n")


def scores_of(doc: dict, seq: str) -> dict:
    """HOTA, IDF1, MOTA, IDSW of one sequence from a ``dior evaluate --json`` document."""
    per = doc["per_sequence"][seq]
    values = next(iter(per.values()))  # the one class, pedestrian
    return {field: values[field] for field in FIELDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", default=",".join(SEQUENCES))
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "box_gt")
    parser.add_argument("--public-gate", type=float, default=0.25, help="score at which public detections start tracks (both trackers)")
    args = parser.parse_args()
    table: dict[str, dict[str, dict]] = {}
    seconds: dict[str, float] = {}
    for name in args.sequences.split(","):
        seq = DATA / "mot_box_gt" / name
        if not seq.is_dir():
            sys.exit(f"needs {seq} (set DIOR_DATA)")
        images, det_rel, fps = SEQUENCES[name]
        num_frames = len(list((seq / images).glob("*.jpg")))
        out = args.out / name
        # 1. dior run on the frames alone
        tick = time.perf_counter()
        dior("run", str(seq), "--out", str(out / "run"), "--no-render", "--overwrite", "--fps", str(fps))
        seconds[f"run_{name}"] = time.perf_counter() - tick
        # 2. dior on the public detections
        dior("infer", str(seq), "--detections", str(seq / det_rel), "--out", str(out / "public" / "dets"), "--overwrite",
             "--fps", str(fps))
        dior("track", str(out / "public" / "dets"), "--out", str(out / "public" / "tracks"), "--offline-reid", "--overwrite",
             "--set", f"new_track_score={args.public_gate}")
        # 3. the IoU tracker on the same public detections, read the way dior reads them
        size = _image_size(seq / images)
        public = read_mot_boxes(seq / det_rel, num_frames=num_frames, image_size=size)
        write_mot(out / "iou" / f"{name}.txt", iou_tracker(public.frame, public.bbox_xyxy, public.score, num_frames,
                                                          score_gate=args.public_gate))
        table[name] = {
            "dior run": scores_of(dior("evaluate", "--gt", str(seq), "--pred", str(out / "run" / "tracks"), "--boxes",
                                       "--out", str(out / "run" / "metrics.json")), name),
            "dior, public dets": scores_of(dior("evaluate", "--gt", str(seq), "--pred", str(out / "public" / "tracks"), "--boxes",
                                                "--out", str(out / "public" / "metrics.json")), name),
            "IoU tracker, public dets": scores_of(dior("evaluate", "--gt", str(seq), "--pred", str(out / "iou"),
                                                       "--out", str(out / "iou_metrics.json")), name),
        }
    print(f"{'sequence':14} {'tracker':26} " + " ".join(f"{f:>6}" for f in FIELDS))
    fields = []
    for name, rows in table.items():
        for tracker, values in rows.items():
            print(f"{name:14} {tracker:26} " + " ".join(f"{values[f]:6.3f}" if f != "IDSW" else f"{values[f]:6d}" for f in FIELDS))
            key = tracker.replace("dior run", "run").replace("dior, public dets", "dior_public").replace("IoU tracker, public dets", "iou_public")
            fields += [f"{key}_{name}_HOTA={values['HOTA']:.3f}", f"{key}_{name}_IDF1={values['IDF1']:.3f}"]
        print(f"{name}: dior run took {seconds[f'run_{name}']:.1f} s")
    print("RESULT box_tracking_real_gt " + " ".join(fields))


def _image_size(folder: Path) -> tuple[int, int]:
    import cv2

    first = sorted(folder.glob("*.jpg"))[0]
    return tuple(cv2.imread(str(first)).shape[:2])


if __name__ == "__main__":
    main()
