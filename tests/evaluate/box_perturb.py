"""Deterministic box tracker files made from real MOTChallenge box ground truth, for the box
parity tests. Independent of ``dior_cli``: files are read and written with plain Python.

:func:`perturb_boxes` turns ground-truth rows into tracker rows (seeded numpy RNG):

* jittered boxes (Gaussian on x, y, w, h relative to the box size: some fall below IoU 0.5);
* dropped boxes (per row) and dropped bursts of a track;
* identity swaps between two tracks from some frame on, and fragments (a fresh id mid-track);
* false boxes: random boxes (single frame and kept over several frames with one id), and
  boxes in frames past the last ground-truth frame (cut sequences: seqLength > frames);
* boxes on ground-truth rows that are not pedestrians to score (``on_other``): MOT17
  distractor classes (removed by TrackEval's preprocessing when matched), zero-marked rows,
  crowd / occluder / vehicle rows (false positives);
* rows shuffled inside each frame (Hungarian tie-breaks follow row order) and tracker ids
  remapped to unrelated numbers (relabelling).

Rows are ``(frame, id, x, y, w, h, conf)`` with 1-based frames; :func:`write_tracker` writes
them comma- or space-separated with ``repr`` floats (both tools parse the same doubles).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

PEDESTRIAN = 1


@dataclass(frozen=True)
class GtBox:
    frame: int  # 1-based
    obj_id: int
    x: float
    y: float
    w: float
    h: float
    flag: int  # column 7
    cls: int | None  # column 8 where the file has one


def read_gt(path: Path) -> list[GtBox]:
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        v = [float(f) for f in line.split(",")]
        rows.append(GtBox(int(v[0]), int(v[1]), v[2], v[3], v[4], v[5], int(v[6]), int(v[7]) if len(v) >= 8 else None))
    return rows


def as_ten_columns(src: Path, dst: Path) -> Path:
    """A 7-column MOT15 gt file with ``-1,-1,-1`` appended (what TrackEval needs to read it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    lines = [ln for ln in Path(src).read_text().splitlines() if ln.strip()]
    dst.write_text("".join(ln + (",-1,-1,-1" if ln.count(",") == 6 else "") + "\n" for ln in lines))
    return dst


def _scored(row: GtBox, mot15: bool) -> bool:
    return row.flag != 0 and (mot15 or row.cls == PEDESTRIAN)


def perturb_boxes(
    gt: list[GtBox],
    *,
    seed: int,
    num_frames: int,
    image_size: tuple[int, int],
    mot15: bool,
    jitter: float = 0.08,
    drop_prob: float = 0.08,
    bursts: int = 2,
    swaps: int = 2,
    fragments: int = 2,
    fp_prob: float = 0.3,
    persistent_fps: int = 2,
    late_fps: int = 0,
    on_other_prob: float = 0.7,
) -> list[tuple[int, int, float, float, float, float, float]]:
    """Tracker rows from ``gt`` (see the module docstring); ``image_size`` is ``(h, w)``."""
    rng = np.random.default_rng(seed)
    height, width = image_size
    scored = [r for r in gt if _scored(r, mot15)]
    others = [r for r in gt if not _scored(r, mot15)]
    track_ids = sorted({r.obj_id for r in scored})
    last_gt_frame = max((r.frame for r in gt), default=1)

    # identity: swaps and fragments, as (from_frame, id_a, id_b) / (from_frame, id)
    id_of = {i: i for i in track_ids}
    events = []
    for _ in range(swaps if len(track_ids) >= 2 else 0):
        a, b = rng.choice(track_ids, size=2, replace=False)
        events.append(("swap", int(rng.integers(1, last_gt_frame + 1)), int(a), int(b)))
    for _ in range(fragments if track_ids else 0):
        events.append(("fragment", int(rng.integers(1, last_gt_frame + 1)), int(rng.choice(track_ids)), 0))
    fresh = max(track_ids, default=0) + 1
    fragment_ids = {}
    for kind, _, a, _b in events:
        if kind == "fragment":
            fragment_ids[a] = fresh
            fresh += 1
    burst_drops = set()
    for _ in range(bursts if track_ids else 0):
        tid, start = int(rng.choice(track_ids)), int(rng.integers(1, last_gt_frame + 1))
        burst_drops |= {(tid, f) for f in range(start, start + int(rng.integers(2, 5)))}

    def tracker_id(obj_id: int, frame: int) -> int:
        out = id_of[obj_id]
        for kind, at, a, b in events:
            if frame < at:
                continue
            if kind == "swap" and out in (a, b):
                out = b if out == a else a
            elif kind == "fragment" and out == a:
                out = fragment_ids[a]
        return out

    def jittered(r: GtBox, scale: float) -> tuple[float, float, float, float]:
        dx, dy, dw, dh = rng.normal(0.0, scale, size=4)
        w = max(1.0, r.w * (1 + dw))
        h = max(1.0, r.h * (1 + dh))
        return float(r.x + dx * r.w), float(r.y + dy * r.h), float(w), float(h)

    rows = []
    for r in scored:
        if rng.random() < drop_prob or (r.obj_id, r.frame) in burst_drops:
            continue
        exact = rng.random() < 0.15  # some boxes exactly on the ground truth (IoU 1)
        box = (r.x, r.y, r.w, r.h) if exact else jittered(r, jitter)
        rows.append((r.frame, tracker_id(r.obj_id, r.frame), *box, float(round(rng.random(), 3))))
    for r in others:  # distractors, zero-marked rows, crowd, vehicles...
        if rng.random() < on_other_prob:
            rows.append((r.frame, fresh, *jittered(r, jitter / 2), 0.5))
            fresh += 1

    def random_box() -> tuple[float, float, float, float]:
        w = float(rng.uniform(15, width / 5))
        h = float(rng.uniform(30, height / 3))
        return float(rng.uniform(-10, width - w)), float(rng.uniform(-10, height - h)), w, h

    for frame in range(1, last_gt_frame + 1):
        if rng.random() < fp_prob:
            rows.append((frame, fresh, *random_box(), 0.1))
            fresh += 1
    for _ in range(persistent_fps):
        start, box = int(rng.integers(1, last_gt_frame + 1)), random_box()
        for frame in range(start, min(start + int(rng.integers(2, 6)), num_frames + 1)):
            rows.append((frame, fresh, *box, 0.2))
        fresh += 1
    for _ in range(late_fps if num_frames > last_gt_frame else 0):
        rows.append((int(rng.integers(last_gt_frame + 1, num_frames + 1)), fresh, *random_box(), 0.3))
        fresh += 1

    # unrelated id numbers, rows shuffled inside each frame (frames kept in order)
    used = sorted({row[1] for row in rows})
    remap = dict(zip(used, (int(v) for v in rng.choice(np.arange(1, 100 * (len(used) + 1)), size=len(used), replace=False))))
    rows = [(f, remap[i], *rest) for f, i, *rest in rows]
    order = sorted(range(len(rows)), key=lambda k: (rows[k][0], rng.random()))
    return [rows[k] for k in order]


def write_tracker(path: Path, rows, *, sep: str = ",") -> Path:
    """``frame,id,x,y,w,h,conf,-1,-1,-1`` per row (``sep`` between fields)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [[str(f), str(i), repr(x), repr(y), repr(w), repr(h), repr(c), "-1", "-1", "-1"] for f, i, x, y, w, h, c in rows]
    path.write_text("".join(sep.join(row) + "\n" for row in fields))
    return path
