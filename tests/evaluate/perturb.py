"""Deterministic prediction generators for the evaluation parity tests.

Predictions are made from ground truth by perturbing it (seeded numpy RNG), independently of
``dior_cli``: files are read with plain Python and masks go through pycocotools directly.

Every frame is built densely: each predicted object's mask is painted into an int label image
in a fixed order (ground-truth objects by id, then false positives, then pieces of the ignore
region), later paints overwriting earlier ones, so the predicted masks are disjoint by
construction (TrackEval rejects overlapping predictions). Each label's pixels are then encoded
with pycocotools and written as ``frame obj_id class h w counts``.

Perturbations, all parameters of :func:`perturb_sequence`:

* dropped masks: per object-frame (``drop_prob``) and whole bursts of a few frames;
* identity swaps between two same-class objects from some frame on;
* fragmented tracks: an object's id changes to a fresh id mid-track;
* shifted masks (``np.roll`` by a few pixels), eroded / dilated masks (cv2);
* false positives: random blobs in empty areas, single-frame and kept over several frames
  with one id;
* predictions inside ignore regions: a piece of the class-10 mask emitted as a car or a
  pedestrian, mostly inside, mostly outside, and exactly half inside;
* classes without any prediction (``drop_classes``).

Predicted ids are ``class * 1000 + k`` (k from 1), unique per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

IGNORE_CLASS = 10


@dataclass(frozen=True)
class GtRow:
    frame: int  # 0-based
    obj_id: int
    cls: int
    h: int
    w: int
    counts: str


def read_gt(path: Path, frame_base: int) -> list[GtRow]:
    """Rows of a MOTS txt file, frames renumbered from 0."""
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.split(" ")
        if len(parts) < 6:
            continue
        rows.append(GtRow(int(parts[0]) - frame_base, int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), parts[5]))
    return rows


def decode(h: int, w: int, counts: str) -> np.ndarray:
    return mask_utils.decode({"size": [h, w], "counts": counts.encode()}).astype(bool)


def encode(mask: np.ndarray) -> str:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return rle["counts"].decode("ascii")


def write_lines(path: Path, lines: list[tuple[int, int, int, int, int, str]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{f} {i} {c} {h} {w} {s}\n" for f, i, c, h, w, s in lines))
    return path


def perfect_predictions(gt_path: Path, out_path: Path) -> Path:
    """The ground truth without its ignore lines (unchanged frame numbers)."""
    lines = [ln for ln in Path(gt_path).read_text().splitlines() if ln.split(" ")[2] != str(IGNORE_CLASS)]
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text("".join(ln + "\n" for ln in lines))
    return Path(out_path)


def empty_predictions(out_path: Path) -> Path:
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text("")
    return Path(out_path)


def _blob(rng: np.random.Generator, h: int, w: int, cy: int, cx: int, ry: int, rx: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (int(cx), int(cy)), (int(rx), int(ry)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return m.astype(bool)


def _window(h: int, w: int, cy: int, cx: int, half: int) -> tuple[slice, slice]:
    return slice(max(0, cy - half), min(h, cy + half)), slice(max(0, cx - half), min(w, cx + half))


def perturb_sequence(
    gt_path: Path,
    out_path: Path,
    *,
    seed: int,
    gt_frame_base: int = 0,
    out_frame_base: int = 0,
    num_frames: int | None = None,
    classes: tuple[int, ...] = (1, 2),
    drop_classes: tuple[int, ...] = (),
    drop_prob: float = 0.08,
    bursts: int = 2,
    burst_len: tuple[int, int] = (3, 7),
    swaps: int = 1,
    fragments: int = 2,
    shift_prob: float = 0.15,
    max_shift: int = 4,
    erode_prob: float = 0.1,
    dilate_prob: float = 0.1,
    fp_prob: float = 0.1,
    fp_tracks: int = 2,
    fp_track_len: tuple[int, int] = (3, 9),
    ignore_prob: float = 0.2,
) -> dict:
    """Write perturbed predictions made from ``gt_path`` to ``out_path``; return a summary.

    ``gt_frame_base`` / ``out_frame_base``: 0 for KITTI-MOTS, 1 for MOTS20.
    Ground-truth classes outside ``classes`` and all of ``drop_classes`` get no prediction.
    """
    rng = np.random.default_rng(seed)
    rows = read_gt(gt_path, gt_frame_base)
    h, w = rows[0].h, rows[0].w
    if num_frames is None:
        num_frames = max(r.frame for r in rows) + 1
    emit = tuple(c for c in classes if c not in drop_classes)

    by_frame: dict[int, list[GtRow]] = {}
    for r in rows:
        by_frame.setdefault(r.frame, []).append(r)

    objects = [r for r in rows if r.cls in emit]
    # every object's frames, and pairs of same-class objects that coexist
    frames_of: dict[int, list[int]] = {}
    cls_of: dict[int, int] = {}
    for r in objects:
        frames_of.setdefault(r.obj_id, []).append(r.frame)
        cls_of[r.obj_id] = r.cls
    gt_ids = sorted(frames_of)

    next_k: dict[int, int] = {c: 1 for c in (1, 2)}

    def fresh(c: int) -> int:
        k = next_k[c]
        next_k[c] += 1
        assert k < 1000
        return c * 1000 + k

    current = {g: fresh(cls_of[g]) for g in gt_ids}

    # identity events: frame -> list of ("swap", a, b) / ("fragment", a)
    events: dict[int, list[tuple]] = {}
    summary = {"swaps": [], "fragments": [], "bursts": [], "fp_tracks": [], "ignore_preds": 0, "dropped": 0}
    for _ in range(swaps):
        pairs = []
        for i, a in enumerate(gt_ids):
            for b in gt_ids[i + 1:]:
                if cls_of[a] == cls_of[b]:
                    common = sorted(set(frames_of[a]) & set(frames_of[b]))
                    if len(common) >= 3:
                        pairs.append((a, b, common))
        if not pairs:
            break
        a, b, common = pairs[rng.integers(len(pairs))]
        t = common[rng.integers(1, len(common) - 1)]
        events.setdefault(t, []).append(("swap", a, b))
        summary["swaps"].append((a, b, t))
    long_tracks = [g for g in gt_ids if len(frames_of[g]) >= 6]
    for g in rng.permutation(long_tracks)[:fragments] if long_tracks else []:
        fr = sorted(frames_of[int(g)])
        t = fr[rng.integers(2, len(fr) - 2)]
        events.setdefault(t, []).append(("fragment", int(g)))
        summary["fragments"].append((int(g), t))

    dropped: set[tuple[int, int]] = set()
    for _ in range(bursts):
        if not gt_ids:
            break
        g = gt_ids[rng.integers(len(gt_ids))]
        fr = sorted(frames_of[g])
        start = fr[rng.integers(len(fr))]
        length = int(rng.integers(burst_len[0], burst_len[1] + 1))
        dropped.update((g, t) for t in range(start, start + length))
        summary["bursts"].append((g, start, length))

    # persistent false-positive tracks: (class, id, first frame, length, centre, radii, velocity)
    fp_track_list = []
    for _ in range(fp_tracks if emit else 0):
        c = emit[rng.integers(len(emit))]
        length = int(rng.integers(fp_track_len[0], fp_track_len[1] + 1))
        start = int(rng.integers(0, max(1, num_frames - length)))
        fp_track_list.append(
            dict(cls=c, id=fresh(c), start=start, length=length,
                 cy=int(rng.integers(30, h - 30)), cx=int(rng.integers(30, w - 30)),
                 ry=int(rng.integers(6, 20)), rx=int(rng.integers(6, 25)),
                 vy=int(rng.integers(-2, 3)), vx=int(rng.integers(-4, 5)))
        )
        summary["fp_tracks"].append((c, start, length))

    kernel = np.ones((3, 3), np.uint8)
    lines: list[tuple[int, int, int, int, int, str]] = []
    for t in range(num_frames):
        for ev in events.get(t, []):
            if ev[0] == "swap":
                _, a, b = ev
                current[a], current[b] = current[b], current[a]
            else:
                current[ev[1]] = fresh(cls_of[ev[1]])

        frame_rows = by_frame.get(t, [])
        ignore = np.zeros((h, w), bool)
        gt_union = np.zeros((h, w), bool)
        labels = np.zeros((h, w), np.int32)
        cls_of_label: dict[int, int] = {}

        def paint(mask: np.ndarray, pred_id: int, c: int) -> None:
            labels[mask] = pred_id
            cls_of_label[pred_id] = c

        for r in sorted(frame_rows, key=lambda r: r.obj_id):
            m = decode(r.h, r.w, r.counts)
            if r.cls == IGNORE_CLASS:
                ignore |= m
                continue
            gt_union |= m
            if r.cls not in emit:
                continue
            if (r.obj_id, t) in dropped or rng.random() < drop_prob:
                summary["dropped"] += 1
                continue
            if rng.random() < shift_prob:
                dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
                m = np.roll(m, (int(dy), int(dx)), axis=(0, 1))
            u = rng.random()
            if u < erode_prob:
                m = cv2.erode(m.astype(np.uint8), kernel, iterations=int(rng.integers(1, 3))).astype(bool)
            elif u < erode_prob + dilate_prob:
                m = cv2.dilate(m.astype(np.uint8), kernel, iterations=int(rng.integers(1, 3))).astype(bool)
            paint(m, current[r.obj_id], r.cls)

        # false positives in empty areas
        blobs = []
        for tr in fp_track_list:
            k = t - tr["start"]
            if 0 <= k < tr["length"]:
                blobs.append((tr["cls"], tr["id"], tr["cy"] + k * tr["vy"], tr["cx"] + k * tr["vx"], tr["ry"], tr["rx"]))
        if emit and rng.random() < fp_prob:
            c = emit[rng.integers(len(emit))]
            blobs.append((c, None, int(rng.integers(0, h)), int(rng.integers(0, w)),
                          int(rng.integers(3, 25)), int(rng.integers(3, 30))))
        for c, pred_id, cy, cx, ry, rx in blobs:
            m = _blob(rng, h, w, cy, cx, ry, rx)
            if not m.any() or (m & (gt_union | (labels > 0))).any():
                continue  # not an empty area: skip this frame
            paint(m, pred_id if pred_id is not None else fresh(c), c)

        # pieces of the ignore region predicted as a car or a pedestrian
        if emit and ignore.any() and rng.random() < ignore_prob:
            ys, xs = np.nonzero(ignore)
            i = rng.integers(len(ys))
            sl = _window(h, w, int(ys[i]), int(xs[i]), int(rng.integers(6, 30)))
            piece = np.zeros((h, w), bool)
            piece[sl] = ignore[sl]
            mode = rng.integers(3)
            if mode == 0:  # mostly inside: the piece and a thin rim
                piece = cv2.dilate(piece.astype(np.uint8), kernel, iterations=1).astype(bool)
            elif mode == 1:  # mostly outside: a fat rim
                piece = cv2.dilate(piece.astype(np.uint8), kernel, iterations=int(rng.integers(8, 16))).astype(bool)
            else:  # exactly half inside (not removed: TrackEval needs > 0.5)
                inside = np.flatnonzero((piece & ~(labels > 0)).ravel())
                grown = cv2.dilate(piece.astype(np.uint8), kernel, iterations=6).astype(bool)
                outside = np.flatnonzero((grown & ~ignore & ~(labels > 0)).ravel())
                n = min(len(inside), len(outside))
                piece = np.zeros(h * w, bool)
                piece[inside[:n]] = True
                piece[outside[:n]] = True
                piece = piece.reshape(h, w)
            if piece.any():
                c = emit[rng.integers(len(emit))]
                paint(piece, fresh(c), c)
                summary["ignore_preds"] += 1

        for pred_id in sorted(np.unique(labels[labels > 0]).tolist()):
            lines.append((t + out_frame_base, pred_id, cls_of_label[pred_id], h, w, encode(labels == pred_id)))

    write_lines(out_path, lines)
    summary["lines"] = len(lines)
    return summary
