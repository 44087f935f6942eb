"""Appearance gates read from the data vs dior's fixed ones, on two kinds of embeddings.

The online tracker's gates (a match without mask overlap needs cosine >= 0.8, short-term
retrieval >= 0.6) and the long-term re-ID's theta_1 = 0.7 suit OSNet, whose different people sit
near cosine 0.5. ``auto`` (the default) reads each from the sequence: ``min(fixed, mean + k std)``
of the cosines between distinct same-class detections of one frame (README, dior track,
"Appearance gates"). ``--grid`` varies one k at a time on the tuning sequences (how the defaults
were chosen); ``--grid-real`` does the same on the OSNet sequences (sensitivity only).

* **Simulated embeddings on real motion**: KITTI-MOTS ground truth through
  ``tests/track/simulate.py`` (5 % misses, 1-frame and 4-9-frame occlusion bursts, 2 px mask
  shifts, 0.3 false positives per frame, scores 0.6-1), with 128-d embeddings whose
  same-identity cosine is about 0.5 and different-identity about 0 (noise sigma 1.0: the
  noise vector is as long as the identity's). ``--tune`` sequences choose the k's (``--grid``);
  the other ``--held-out`` sequences only report. Scored by ``dior evaluate`` (kitti-mots),
  cars and pedestrians.
* **Real OSNet embeddings**: ``mot_box_gt/TUD-Campus`` and ``PETS09-S3MF1`` public detections
  through ``dior infer --detections`` (box masks, OSNet x0.25; made once into --work), scored
  with ``dior evaluate --boxes`` against their ``gt/gt.txt``.
* **A long generated video** (part ``long``): ``benchmarks/long_video.py``'s workload (identities
  entering and leaving, 512-d embeddings, distinct identities at cosine 0 +- 0.044), 400 frames,
  through ``dior track --offline-reid`` and then ``dior reid`` (ReMOTS defaults), each gate
  combination; scored against its ground truth (class-average HOTA / IDSW). This is why
  theta_1 is fixed by default: an auto theta_1 joins chance look-alikes among the many tracklets.
* **Adapted OSNet embeddings** (part ``adapted``): the same detections after ``dior adapt``,
  which moves the different-identity cosines from about 0.45 to about 0.25; made beforehand with
  ``dior adapt WORK/real/S/dets --frames ../shared/data/mot_box_gt/S --out WORK/adapted/S
  --set intra_steps=40 --set inter_steps=40`` (not run here: minutes on CPU).

The reference that is not dior's code: a greedy IoU tracker after Bochinski et al. (AVSS
2017) on the detections' bounding boxes, per class: each track takes the unmatched detection
of highest IoU with its last box if that IoU >= 0.5, else it ends; tracks of fewer than 3
frames are dropped (its masks made disjoint as dior's are, higher score first, and written as MOTS txt).
Both dior variants run with and without ``--offline-reid``.

    python benchmarks/appearance_gates.py [--work /tmp/appearance_gates] [--parts sim,real,adapted,tune,long] [--grid 1,2,3]

Ends with one line ``RESULT appearance_gates key=value ...`` (HOTA / IDF1 / IDSW of fixed and
auto, held-out simulated sequences by class, real sequences by name).
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DIOR_PROGRESS", "0")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.box_tracking_real_gt import SEQUENCES as REAL_SEQUENCES  # noqa: E402
from benchmarks.box_tracking_real_gt import _image_size, write_mot  # noqa: E402
from benchmarks.box_tracking_real_gt import iou_tracker as box_iou_tracker  # noqa: E402
from dior_cli.config import ReidConfig, TrackConfig  # noqa: E402
from dior_cli.evaluate.stage import EvaluateOptions  # noqa: E402
from dior_cli.evaluate.stage import run as evaluate  # noqa: E402
from dior_cli.formats.detections_json import read_detections  # noqa: E402
from dior_cli.formats.mot_boxes import read_mot_boxes  # noqa: E402
from dior_cli.formats.mots_txt import write_mots_txt  # noqa: E402
from dior_cli.masks import area, make_disjoint  # noqa: E402
from dior_cli.records import MotsRows  # noqa: E402
from dior_cli.track.stage import TrackOptions  # noqa: E402
from dior_cli.track.stage import run as track  # noqa: E402
from tests.track.simulate import Burst, SimParams, seq_lengths, simulate_folder, write_gt_folder  # noqa: E402

DATA = Path(os.environ.get("DIOR_DATA", REPO.parent / "shared" / "data"))
KITTI = DATA / "kitti_mots"
TUNE = ("0000", "0005", "0012", "0017")  # the sequences tests/track/test_real_motion.py uses
HELD_OUT = ("0001", "0003", "0004", "0009", "0011", "0015", "0019", "0020")
SIM = SimParams(miss_prob=0.05, bursts=(Burst((1, 1), rate=0.02), Burst((4, 9), rate=0.01)), max_shift=2, fp_per_frame=0.3,
                score=(0.6, 1.0), dim=128, sigma=1.0, seed=7)
FIXED = {"appearance_gates": "fixed"}, {"theta_1_gate": "fixed"}
AUTO = {"appearance_gates": "auto"}, {"theta_1_gate": "auto"}  # theta_1's default is fixed: asked for here
CLASSES = ("car", "pedestrian")


def iou_track_detections(dets_path: Path, out: Path) -> None:
    """The greedy IoU tracker (boxes, per class), written as MOTS txt through dior's writer."""
    dets = read_detections(dets_path)
    d = dets.detections
    obj_ids = np.zeros(len(d), np.int64)
    for cls in np.unique(d.class_id).tolist():
        rows = np.flatnonzero(d.class_id == cls)
        tracks = greedy_iou(d.frame[rows], d.bbox_xyxy[rows], dets.num_frames)
        for k, members in enumerate(tracks):
            obj_ids[rows[members]] = cls * 1000 + k + 1
    frames, ids, classes, rles = [], [], [], []
    for rows in d.rows_by_frame(dets.num_frames):
        rows = rows[obj_ids[rows] > 0]
        rows = rows[np.argsort(obj_ids[rows], kind="stable")]
        masks, _ = make_disjoint([d.rles[i] for i in rows], d.score[rows])  # higher score keeps shared pixels, as dior writes
        keep = [k for k, m in enumerate(masks) if area([m])[0] > 0]
        frames += d.frame[rows[keep]].tolist()
        ids += obj_ids[rows[keep]].tolist()
        classes += d.class_id[rows[keep]].tolist()
        rles += [masks[k] for k in keep]
    out.mkdir(parents=True, exist_ok=True)
    write_mots_txt(out / f"{dets.sequence}.txt", MotsRows(frame=np.array(frames, np.int64), obj_id=np.array(ids, np.int64),
                                                          class_id=np.array(classes, np.int64), rles=rles), dets.frame_base)


def greedy_iou(frames: np.ndarray, boxes: np.ndarray, num_frames: int, sigma_iou: float = 0.5, t_min: int = 3) -> list[np.ndarray]:
    """Bochinski et al.'s IoU tracker; returns the row indices of each kept track."""
    active: list[list[int]] = []
    finished: list[list[int]] = []
    for t in range(num_frames):
        rows = list(np.flatnonzero(frames == t))
        still = []
        for members in active:
            if rows:
                ious = box_iou(boxes[members[-1]], boxes[rows])
                best = int(np.argmax(ious))
                if ious[best] >= sigma_iou:
                    members.append(rows.pop(best))
                    still.append(members)
                    continue
            finished.append(members)
        active = still + [[r] for r in rows]
    return [np.array(m) for m in finished + active if len(m) >= t_min]


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` xyxy box with ``(M, 4)`` boxes."""
    w = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = w * h
    union = (box[2] - box[0]) * (box[3] - box[1]) + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def dior_track(dets: Path, out: Path, offline_reid: bool, track_cfg: dict, reid_cfg: dict) -> dict:
    summary = track(TrackOptions(dets=dets, out=out, overwrite=True, offline_reid=offline_reid,
                                 track=TrackConfig(**track_cfg), reid=ReidConfig(**reid_cfg)))
    return summary["sequences"]


def sim_scores(gt: tuple[Path, Path], pred: Path) -> dict:
    result = evaluate(EvaluateOptions(gt=gt[0], pred=pred, benchmark="kitti-mots", seqmap=gt[1], workers=1))["combined"]
    return {cls: {k: result[cls][k] for k in ("HOTA", "IDF1", "IDSW")} for cls in CLASSES}


def simulated_folder(work: Path, name: str, sequences: tuple[str, ...]) -> tuple[Path, tuple[Path, Path]]:
    lengths = seq_lengths(KITTI / "seqmaps" / "train.seqmap")
    dets = work / f"sim_{name}" / "dets"
    if not all((dets / f"{s}.npy").is_file() for s in sequences):
        simulate_folder(KITTI / "instances_txt", list(sequences), dets, SIM, num_frames=lengths)
    gt = work / f"sim_{name}" / "gt"
    return dets, (gt, write_gt_folder(KITTI / "instances_txt", list(sequences), gt, lengths))


def variants(track_auto: dict, reid_auto: dict) -> dict[str, tuple[bool, dict, dict]]:
    return {"fixed": (False, *FIXED), "auto": (False, track_auto, reid_auto),
            "fixed + re-ID": (True, *FIXED), "auto + re-ID": (True, track_auto, reid_auto)}


def run_sim(work: Path, name: str, sequences: tuple[str, ...], track_auto: dict, reid_auto: dict) -> dict[str, dict]:
    dets, gt = simulated_folder(work, name, sequences)
    table = {}
    iou_out = work / f"sim_{name}" / "iou"
    for seq in sequences:
        iou_track_detections(dets / f"{seq}.json", iou_out)
    table["IoU tracker"] = {"scores": sim_scores(gt, iou_out)}
    for label, (reid, t, r) in variants(track_auto, reid_auto).items():
        out = work / f"sim_{name}" / label.replace(" + ", "_").replace(" ", "_")
        summary = dior_track(dets, out, reid, t, r)
        table[label] = {"scores": sim_scores(gt, out), "gates": {s: v["appearance_gates"] for s, v in summary.items()}}
    return table


def print_sim(title: str, table: dict) -> None:
    print(f"\n{title}")
    print(f"{'tracker':<16}" + "".join(f"{c[:3] + ' ' + m:>12}" for c in CLASSES for m in ("HOTA", "IDF1", "IDSW")))
    for label, row in table.items():
        s = row["scores"]
        print(f"{label:<16}" + "".join(f"{s[c][m]:>12.3f}" if m != "IDSW" else f"{s[c][m]:>12d}" for c in CLASSES for m in ("HOTA", "IDF1", "IDSW")))


def real_dets(work: Path, name: str) -> Path:
    seq = DATA / "mot_box_gt" / name
    images, det_rel, fps = REAL_SEQUENCES[name]
    out = work / "real" / name / "dets"
    if not (out / f"{name}.npy").is_file():
        subprocess.run([sys.executable, "-m", "dior_cli", "infer", str(seq), "--detections", str(seq / det_rel), "--out", str(out),
                        "--overwrite", "--fps", str(fps)], check=True, cwd=REPO)
    return out


def real_scores(name: str, pred: Path, boxes: bool = True) -> dict:
    seq = DATA / "mot_box_gt" / name
    per = evaluate(EvaluateOptions(gt=seq, pred=pred, boxes=boxes, workers=1))["per_sequence"][name]
    values = next(iter(per.values()))
    return {k: values[k] for k in ("HOTA", "IDF1", "IDSW")}


def run_real(work: Path, names: list[str], track_auto: dict, reid_auto: dict, public_gate: float = 0.25,
             adapted: bool = False) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for name in names:
        dets = work / "adapted" / name if adapted else real_dets(work, name)
        if not (dets / f"{name}.npy").is_file():
            sys.exit(f"needs {dets}/{name}.npy: run dior adapt first (see the module docstring)")
        seq = DATA / "mot_box_gt" / name
        images, det_rel, _ = REAL_SEQUENCES[name]
        num_frames = len(list((seq / images).glob("*.jpg")))
        public = read_mot_boxes(seq / det_rel, num_frames=num_frames, image_size=_image_size(seq / images))
        iou_dir = work / "real" / name / "iou"
        write_mot(iou_dir / f"{name}.txt", box_iou_tracker(public.frame, public.bbox_xyxy, public.score, num_frames, score_gate=public_gate))
        rows = {"IoU tracker": {"scores": real_scores(name, iou_dir, boxes=False)}}
        for label, (reid, t, r) in variants(track_auto, reid_auto).items():
            out = work / ("adapted_tracks" if adapted else "real") / name / label.replace(" + ", "_").replace(" ", "_")
            summary = dior_track(dets, out, reid, {**t, "new_track_score": public_gate}, r)
            rows[label] = {"scores": real_scores(name, out), "gates": summary[name]["appearance_gates"]}
        table[name] = rows
    return table


def print_real(table: dict) -> None:
    print(f"\n{'sequence':<14}{'tracker':<16}{'HOTA':>8}{'IDF1':>8}{'IDSW':>6}  gates (no-overlap cos, retrieval, theta_1)")
    for name, rows in table.items():
        for label, row in rows.items():
            s, g = row["scores"], row.get("gates")
            stats = "" if g is None or g["intra_frame"] is None else f" (mean {g['intra_frame']['mean']:.3f}, std {g['intra_frame']['std']:.3f})"
            gates = "" if g is None else f"  {g['match_no_overlap_cosine']:.3f}, {g['retrieval_min_similarity']:.3f}, {g.get('theta_1', '-')}{stats}"
            print(f"{name:<14}{label:<16}{s['HOTA']:>8.3f}{s['IDF1']:>8.3f}{s['IDSW']:>6d}{gates}")


def grid(work: Path, values: list[float]) -> None:
    """HOTA / IDF1 / IDSW on the tuning sequences for each k (one gate varied at a time around the defaults)."""
    dets, gt = simulated_folder(work, "tune", TUNE)
    base = TrackConfig()
    base_reid = ReidConfig()
    print(f"\ngrid on tuning sequences {'+'.join(TUNE)} (one k varied, the others at their defaults)")
    print(f"{'k':<28}" + "".join(f"{c[:3] + ' ' + m:>11}" for c in CLASSES for m in ("HOTA", "IDF1", "IDSW")) + f"{'sum IDSW':>10}")
    for key, k in itertools.chain((("match_gate_sigma", v) for v in values), (("retrieval_gate_sigma", v) for v in values),
                                  (("theta_1_sigma", v) for v in values)):
        reid = key == "theta_1_sigma"
        t = {} if reid else {key: k}
        r = {key: k} if reid else {}
        out = work / "grid" / f"{key}_{k}"
        dior_track(dets, out, reid, t, r)
        s = sim_scores(gt, out)
        print(f"{key + ' = ' + str(k):<28}" + "".join(f"{s[c][m]:>11.3f}" if m != "IDSW" else f"{s[c][m]:>11d}" for c in CLASSES
                                                       for m in ("HOTA", "IDF1", "IDSW")) + f"{sum(s[c]['IDSW'] for c in CLASSES):>10d}", flush=True)
    print(f"(defaults: match_gate_sigma {base.match_gate_sigma}, retrieval_gate_sigma {base.retrieval_gate_sigma}, theta_1_sigma {base_reid.theta_1_sigma})")


def grid_real(work: Path, values: list[float], names: list[str], public_gate: float = 0.25) -> None:
    """Sensitivity on the OSNet sequences: HOTA / IDF1 / IDSW of auto + re-ID with one k varied (not used to choose k)."""
    print("\nsensitivity on OSNet embeddings (auto + re-ID, one k varied, the others at their defaults)")
    print(f"{'k':<28}" + "".join(f"{n[:8] + ' ' + m:>14}" for n in names for m in ("HOTA", "IDF1", "IDSW")))
    for key, k in itertools.chain((("match_gate_sigma", v) for v in values), (("retrieval_gate_sigma", v) for v in values),
                                  (("theta_1_sigma", v) for v in values)):
        t = {"new_track_score": public_gate, **({} if key == "theta_1_sigma" else {key: k})}
        r = {key: k} if key == "theta_1_sigma" else {}
        row = []
        for name in names:
            out = work / "grid_real" / name / f"{key}_{k}"
            dior_track(real_dets(work, name), out, True, t, r)
            sc = real_scores(name, out)
            row += [f"{sc['HOTA']:>14.3f}", f"{sc['IDF1']:>14.3f}", f"{sc['IDSW']:>14d}"]
        print(f"{key + ' = ' + str(k):<28}" + "".join(row), flush=True)


def run_long(work: Path, frames: int = 400) -> dict[str, dict]:
    """Each (track gates, theta_1) combination on long_video's workload, before and after dior reid."""
    from benchmarks.long_video import generate
    from dior_cli.reid.stage import ReidOptions
    from dior_cli.reid.stage import run as reid

    root = work / f"long_{frames}"
    if not (root / "dets").is_dir():
        generate(root, 1, frames)
    table = {}
    for track_mode, theta_mode in itertools.product(("fixed", "auto"), repeat=2):
        name = f"track {track_mode}, theta_1 {theta_mode}"
        out = root / f"tracks_{track_mode}_{theta_mode}"
        dior_track(root / "dets", out, True, {"appearance_gates": track_mode}, {"theta_1_gate": theta_mode})
        refined = root / f"refined_{track_mode}_{theta_mode}"
        summary = reid(ReidOptions(tracks=out, dets=root / "dets", out=refined, overwrite=True))["sequences"]
        row = {}
        for stage, pred in (("track", out), ("reid", refined)):
            result = evaluate(EvaluateOptions(gt=root / "gt", pred=pred, benchmark="kitti-mots", workers=1))["combined"]["class_average"]
            row[stage] = (result["HOTA"], result["IDSW"])
        row["theta_merge"] = next(iter(summary.values())).get("theta_merge")
        table[name] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/appearance_gates"))
    parser.add_argument("--parts", default="sim,real", help="comma-separated: sim (held-out simulated), tune (tuning simulated), real, adapted, long (generated long video)")
    parser.add_argument("--held-out", default=",".join(HELD_OUT))
    parser.add_argument("--real", default=",".join(REAL_SEQUENCES))
    parser.add_argument("--grid", default="", help="comma-separated k values to try on the tuning sequences, e.g. 1,2,3,4,5")
    parser.add_argument("--grid-real", default="", help="the same on the OSNet sequences (sensitivity only)")
    args = parser.parse_args()
    if not KITTI.is_dir():
        sys.exit(f"needs {KITTI} (set DIOR_DATA)")
    start = time.perf_counter()
    if args.grid:
        grid(args.work, [float(v) for v in args.grid.split(",")])
    if args.grid_real:
        grid_real(args.work, [float(v) for v in args.grid_real.split(",")], args.real.split(","))
    parts = args.parts.split(",") if args.parts else []
    fields = []
    for part, sequences in (("tune", TUNE), ("sim", tuple(args.held_out.split(",")))):
        if part in parts:
            table = run_sim(args.work, part, sequences, *AUTO)
            print_sim(f"simulated embeddings (same ~0.5, different ~0), KITTI-MOTS {'+'.join(sequences)} ({part})", table)
            for label in ("IoU tracker", "fixed", "auto", "fixed + re-ID", "auto + re-ID"):
                key = label.replace(" + re-ID", "_reid").replace("IoU tracker", "iou")
                fields += [f"{part}_{key}_{c[:3]}_{m}={table[label]['scores'][c][m]:.3f}" if m != "IDSW" else
                           f"{part}_{key}_{c[:3]}_{m}={table[label]['scores'][c][m]}" for c in CLASSES for m in ("HOTA", "IDF1", "IDSW")]
            print("auto gates read per sequence (no-overlap cosine, retrieval, theta_1):")
            for seq, g in table["auto + re-ID"]["gates"].items():
                print(f"  {seq}: {g['match_no_overlap_cosine']:.3f}, {g['retrieval_min_similarity']:.3f}, {g['theta_1']:.3f} "
                      f"(intra-frame mean {g['intra_frame']['mean']:.3f}, std {g['intra_frame']['std']:.3f}, {g['intra_frame']['pairs']} pairs)")
    for part in ("real", "adapted"):
        if part not in parts:
            continue
        table = run_real(args.work, args.real.split(","), *AUTO, adapted=part == "adapted")
        print(f"\n{'OSNet' if part == 'real' else 'adapted OSNet (dior adapt)'} embeddings, public detections")
        print_real(table)
        for name, rows in table.items():
            for label in ("IoU tracker", "fixed", "auto", "fixed + re-ID", "auto + re-ID"):
                key = label.replace(" + re-ID", "_reid").replace("IoU tracker", "iou")
                fields += [f"{part}_{name}_{key}_{m}={rows[label]['scores'][m]:.3f}" if m != "IDSW" else f"{part}_{name}_{key}_{m}={rows[label]['scores'][m]}"
                           for m in ("HOTA", "IDF1", "IDSW")]
    if "long" in parts:
        table = run_long(args.work)
        print("\nlong generated video (400 frames): class-average HOTA / IDSW after track --offline-reid, after dior reid; reid's theta_merge")
        for name, row in table.items():
            print(f"  {name:<28} {row['track'][0]:.3f} / {row['track'][1]:<5} {row['reid'][0]:.3f} / {row['reid'][1]:<5} {row['theta_merge']}")
            key = name.replace("track ", "t").replace(", theta_1 ", "_r")
            fields += [f"long_{key}_track_HOTA={row['track'][0]:.3f}", f"long_{key}_reid_HOTA={row['reid'][0]:.3f}"]
    print(f"\n{time.perf_counter() - start:.0f} s")
    print("RESULT appearance_gates " + " ".join(fields))


if __name__ == "__main__":
    main()
