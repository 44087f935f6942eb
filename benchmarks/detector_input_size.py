"""YOLOX-nano's input size: pedestrian recall and precision against real box ground truth, and
seconds per frame, at several long sides; onnxruntime on the same file as the reference.

Data (``../shared/data``, every ``--step``-th frame of the two longer sequences):

- ``mot_box_gt/TUD-Campus`` (640x480): every ground-truth box is a pedestrian;
- ``mot_box_gt/PETS09-S3MF1`` (768x576, frames in ``img/``): every box is a pedestrian;
- ``mot17_mini/train/*`` (7 sequences, 4-8 frames each, mostly 1920x1080): pedestrians are
  rows of class 1 with ``consider == 1`` and visibility >= 0.25; rows of class 1 below that,
  and classes 2 (person on vehicle), 7 (static person), 8 (distractor) and 12 (reflection),
  are *ignore* boxes: a detection matching one is neither a hit nor a false positive.

Scoring per frame: person detections (COCO class 0) with score >= ``--score`` matched one to
one to pedestrians at IoU >= 0.5 (Hungarian, maximum total IoU); unmatched detections
matching an ignore box at IoU >= 0.5 are dropped; the rest are false positives.
recall = hits / pedestrians, precision = hits / (hits + false positives). TUD-Campus and
PETS09 do not annotate every person (e.g. far ones), so their precision is a lower bound.

Time: ``detect s/frame`` is ``YoloxDetector.detect`` on one frame (letterbox, forward,
decode, NMS); ``forward s/frame`` is the network alone on the letterboxed tensor. The
reference: onnxruntime on the same ONNX file at 416x416 (the export's only size), against
dior's network at the same 416x416 input, same threads (``torch.set_num_threads`` and
``intra_op_num_threads``), timed frame by frame in turn with every other configuration so
that the machine's load hits all alike.

    OMP_NUM_THREADS=1 python benchmarks/detector_input_size.py [--threads 1] [--sides 416,640,960,1280] [--step 3]

Ends with one line:  RESULT detector_input_size threads=<t> frames=<n> recall_<side>=... precision_<side>=...
detect_s_<side>=... forward_s_<side>=... recall_ort416=... ratio_forward_416_dior_vs_ort=<r>
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from dior_cli.model.yolox_onnx import load_yolox
from dior_cli.model.yolox_detector import YoloxDetector, decode_boxes, letterbox, select_detections
from dior_cli.weights import resolve
from tests.conftest import DATA

MATCH_IOU = 0.5
MOT17_IGNORE_CLASSES = (2, 7, 8, 12)
MOT17_MIN_VISIBILITY = 0.25
ORT_HW = (416, 416)


@dataclass
class Frame:
    image_rgb: np.ndarray  # (H, W, 3) uint8
    pedestrians: np.ndarray  # (P, 4) xyxy
    ignore: np.ndarray  # (I, 4) xyxy


@dataclass
class Tally:
    pedestrians: int = 0
    hits: int = 0
    false_positives: int = 0
    detect_s: list[float] = field(default_factory=list)
    forward_s: list[float] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        self.pedestrians += other.pedestrians
        self.hits += other.hits
        self.false_positives += other.false_positives
        self.detect_s += other.detect_s
        self.forward_s += other.forward_s

    @property
    def recall(self) -> float:
        return self.hits / max(self.pedestrians, 1)

    @property
    def precision(self) -> float:
        return self.hits / max(self.hits + self.false_positives, 1)


def xywh_to_xyxy(rows: np.ndarray) -> np.ndarray:
    return np.concatenate([rows[:, :2], rows[:, :2] + rows[:, 2:4]], axis=1).reshape(-1, 4)


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        sys.exit(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def plain_sequence(name: str, folder: Path, pattern: str, step: int) -> tuple[str, list[Frame]]:
    """MOT15-style gt (``frame, id, x, y, w, h, ...``, 1-based frames): every row a pedestrian."""
    gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",", ndmin=2)
    images = sorted(folder.glob(pattern))
    frames = [Frame(read_rgb(images[k]), xywh_to_xyxy(gt[gt[:, 0] == k + 1, 2:6]), np.zeros((0, 4)))
              for k in range(0, len(images), step)]
    return name, frames


def mot17_sequence(folder: Path) -> tuple[str, list[Frame]]:
    gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",", ndmin=2)  # frame, id, x, y, w, h, consider, class, visibility
    frames = []
    for k, path in enumerate(sorted((folder / "img1").glob("*.jpg"))):
        rows = gt[gt[:, 0] == k + 1]
        pedestrian = (rows[:, 7] == 1) & (rows[:, 6] == 1) & (rows[:, 8] >= MOT17_MIN_VISIBILITY)
        ignore = ((rows[:, 7] == 1) & ~pedestrian) | np.isin(rows[:, 7], MOT17_IGNORE_CLASSES)
        frames.append(Frame(read_rgb(path), xywh_to_xyxy(rows[pedestrian, 2:6]), xywh_to_xyxy(rows[ignore, 2:6])))
    return folder.name, frames


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes (M, 4) x (K, 4) -> (M, K)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def score_frame(frame: Frame, people_xyxy: np.ndarray) -> Tally:
    tally = Tally(pedestrians=len(frame.pedestrians))
    unmatched = np.ones(len(people_xyxy), bool)
    if len(frame.pedestrians) and len(people_xyxy):
        iou = iou_matrix(frame.pedestrians, people_xyxy)
        rows, cols = linear_sum_assignment(np.where(iou >= MATCH_IOU, iou, 0.0), maximize=True)
        good = iou[rows, cols] >= MATCH_IOU
        tally.hits = int(good.sum())
        unmatched[cols[good]] = False
    if len(frame.ignore) and unmatched.any():
        on_ignore = iou_matrix(people_xyxy, frame.ignore).max(axis=1) >= MATCH_IOU
        unmatched &= ~on_ignore
    tally.false_positives = int(unmatched.sum())
    return tally


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and onnxruntime (default 1)")
    parser.add_argument("--sides", default="416,640,960,1280", help="long sides in input pixels, comma-separated")
    parser.add_argument("--step", type=int, default=3, help="every step-th frame of TUD-Campus and PETS09 (default 3)")
    parser.add_argument("--score", type=float, default=0.25, help="least detection score counted (default 0.25)")
    args = parser.parse_args()
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    sides = [int(s) for s in args.sides.split(",")]
    path = resolve("yolox_nano").path
    model = load_yolox(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    detectors = {side: YoloxDetector(model, long_side=side, score_threshold=args.score, classes=(0,)) for side in sides}
    names = [str(s) for s in sides] + ["dior416sq", "ort416sq"]

    sequences = [plain_sequence("TUD-Campus", DATA / "mot_box_gt" / "TUD-Campus", "img1/*.jpg", args.step),
                 plain_sequence("PETS09-S3MF1", DATA / "mot_box_gt" / "PETS09-S3MF1", "img/*.jpg", args.step)]
    sequences += [mot17_sequence(folder) for folder in sorted((DATA / "mot17_mini" / "train").iterdir()) if folder.is_dir()]

    total = {name: Tally() for name in names}
    per_group: dict[str, dict[str, Tally]] = {}
    n_frames = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for seq_name, frames in sequences:
            group = per_group.setdefault("MOT17-mini" if seq_name.startswith("MOT17") else seq_name, {n: Tally() for n in names})
            for detector in detectors.values():  # untimed: oneDNN builds its kernels at the first call of each input size
                detector.detect([frames[0].image_rgb])
            for frame in frames:
                n_frames += 1
                image_hw = frame.image_rgb.shape[:2]
                for side, detector in detectors.items():
                    (found,), seconds = timed(lambda: detector.detect([frame.image_rgb]))
                    canvas, _ = letterbox(frame.image_rgb, detector.input_hw_for(image_hw))
                    tensor = torch.from_numpy(canvas[None]).permute(0, 3, 1, 2).float()
                    _, forward_s = timed(lambda: model(tensor))
                    tally = score_frame(frame, found.boxes_xyxy)
                    tally.detect_s, tally.forward_s = [seconds], [forward_s]
                    group[str(side)].add(tally)
                # the same 416x416 letterbox through dior's network and onnxruntime's
                canvas, scale = letterbox(frame.image_rgb, ORT_HW)
                images = np.ascontiguousarray(canvas[None].transpose(0, 3, 1, 2), dtype=np.float32)  # (1, 3, 416, 416)
                for name, run in (("dior416sq", lambda: model(torch.from_numpy(images)).numpy()),
                                  ("ort416sq", lambda: session.run(None, {"images": images})[0])):
                    raw, forward_s = timed(run)
                    raw = torch.from_numpy(raw)
                    found = select_detections(decode_boxes(raw, ORT_HW)[0], raw[0, :, 4], raw[0, :, 5:], image_hw=image_hw,
                                              scale=scale, classes=(0,), score_threshold=args.score)
                    tally = score_frame(frame, found.boxes_xyxy)
                    tally.forward_s = [forward_s]
                    group[name].add(tally)
            print(f"  {seq_name}: {len(frames)} frames ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    for group in per_group.values():
        for name in names:
            total[name].add(group[name])

    def ms(values: list[float]) -> str:
        return f"{np.mean(values):.3f}" if values else "-"

    print(f"threads={args.threads} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), frames={n_frames}, "
          f"score >= {args.score}, IoU >= {MATCH_IOU}")
    print(f"{'config':<12} {'group':<14} {'peds':>5} {'recall':>7} {'precision':>9} {'detect s/fr':>11} {'forward s/fr':>12}")
    for name in names:
        for group_name, group in [*per_group.items(), ("all", total)]:
            t = group[name]
            print(f"{name:<12} {group_name:<14} {t.pedestrians:5d} {t.recall:7.3f} {t.precision:9.3f} "
                  f"{ms(t.detect_s):>11} {ms(t.forward_s):>12}")
    ratio = np.sum(total["dior416sq"].forward_s) / np.sum(total["ort416sq"].forward_s)
    print(f"forward at 416x416: dior {ms(total['dior416sq'].forward_s)} s/frame, onnxruntime {ms(total['ort416sq'].forward_s)} s/frame, "
          f"ratio dior/ort = {ratio:.2f}")
    fields = [f"threads={args.threads}", f"frames={n_frames}"]
    for side in sides:
        t = total[str(side)]
        fields += [f"recall_{side}={t.recall:.3f}", f"precision_{side}={t.precision:.3f}",
                   f"detect_s_{side}={ms(t.detect_s)}", f"forward_s_{side}={ms(t.forward_s)}"]
    fields += [f"recall_ort416={total['ort416sq'].recall:.3f}", f"recall_dior416sq={total['dior416sq'].recall:.3f}",
               f"ratio_forward_416_dior_vs_ort={ratio:.2f}"]
    print("RESULT detector_input_size " + " ".join(fields))


if __name__ == "__main__":
    main()
