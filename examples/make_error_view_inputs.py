"""Inputs for examples/render_error_view.sh, from the 6 real frames of MOT17-05 in
../shared/data/mot17_mini (640x480, 14 fps).

Writes, under OUT:
  mot17/train/MOT17-05-FRCNN/  the first N frames (img1/), seqinfo.ini, and gt/gt.txt: the
                               MOT17 boxes of visible pedestrians as rectangular masks (MOTS txt,
                               frames from 1, ids 2000 + k, made disjoint: the lower box wins)
  dets/MOT17-05-FRCNN.json     detections made from those masks, with deliberate errors:
                               the person seen longest dropped in frames 1-4 (misses, then an ID
                               switch in frame 5: the tracker ended the track after N1 = 0.2 s and
                               starts a new one), a second person dropped in frame 5 only (a miss),
                               and a false box on empty ground in frames 2-5.

    python examples/make_error_view_inputs.py ../shared/data/mot17_mini/train/MOT17-05-FRCNN OUT [N=6]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.formats.seqinfo import SeqInfo, write_seqinfo
from dior_cli.masks import bbox_xyxy, encode, make_disjoint
from dior_cli.records import Detections, MotsRows

NAME, H, W, FPS = "MOT17-05-FRCNN", 480, 640, 14.0


def box_mask(x: float, y: float, w: float, h: float) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
    mask[y0 : min(int(round(y + h)), H), x0 : min(int(round(x + w)), W)] = 1
    return mask


def main(source: Path, out: Path, n: int) -> None:
    table = np.loadtxt(source / "gt" / "gt.txt", delimiter=",")  # frame, id, x, y, w, h, conf, class, visibility
    keep = (table[:, 0] <= n) & (table[:, 6] == 1) & (table[:, 7] == 1) & (table[:, 8] >= 0.4)
    table = table[keep]
    frames, ids, rles = [], [], []
    for f in range(1, n + 1):
        here = table[table[:, 0] == f]
        if not len(here):
            continue
        masks = [encode(box_mask(*r[2:6])) for r in here]
        masks, _ = make_disjoint(masks, priority=here[:, 3] + here[:, 5])  # lower box (nearer) wins
        for r, m in zip(here, masks):
            if bbox_xyxy([m])[0][2] > 0:  # not swallowed entirely
                frames.append(f - 1)
                ids.append(2000 + int(r[1]))
                rles.append(m)
    gt = MotsRows(frame=frames, obj_id=ids, class_id=[2] * len(ids), rles=rles)
    seq = out / "mot17" / "train" / NAME
    (seq / "img1").mkdir(parents=True, exist_ok=True)
    for f in range(1, n + 1):
        shutil.copyfile(source / "img1" / f"{f:06d}.jpg", seq / "img1" / f"{f:06d}.jpg")
    write_seqinfo(seq / "seqinfo.ini", SeqInfo(name=NAME, num_frames=n, fps=FPS, image_size=(H, W)))
    write_mots_txt(seq / "gt" / "gt.txt", gt, frame_base=1)

    # 0-based frames from here: the person seen longest (largest, on ties) is dropped in 1-4,
    # the next one in frame 5 only
    area = np.bincount(gt.obj_id - 2000, weights=[float((b[2] - b[0]) * (b[3] - b[1])) for b in bbox_xyxy(list(gt.rles))])
    first, second = (2000 + int(i) for i in np.argsort(-area, kind="stable")[:2])
    det_frame, det_rle = [], []
    for t, obj, rle in zip(gt.frame.tolist(), gt.obj_id.tolist(), gt.rles):
        if (obj == first and 1 <= t <= 4) or (obj == second and t == 5):
            continue
        det_frame.append(t)
        det_rle.append(rle)
    for t in range(2, n):  # a false box on empty ground, bottom left
        det_frame.append(t)
        det_rle.append(encode(box_mask(8, 380, 40, 90)))
    order = np.argsort(det_frame, kind="stable")
    det_frame = [det_frame[i] for i in order]
    det_rle = [det_rle[i] for i in order]
    dets = Detections(frame=det_frame, class_id=[2] * len(det_frame), score=np.ones(len(det_frame)),
                      bbox_xyxy=bbox_xyxy(det_rle), rles=det_rle)
    write_detections(out / "dets" / f"{NAME}.json", DetectionsFile(
        sequence=NAME, image_size=(H, W), num_frames=n, fps=FPS, frame_base=1, detections=dets,
        producer={"dior_version": "example", "weights": "MOT17 ground-truth boxes with deliberate errors", "weights_sha256": None},
    ))
    print(f"gt: {len(gt)} masks in {n} frames; dets: {len(dets)} (person {first} dropped in frames 1-4, {second} in 5, a false box in 2-{n - 1})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 6)
