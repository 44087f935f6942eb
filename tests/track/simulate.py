"""A detection simulator for tracker tests, independent of dior's tracker.

From real KITTI-MOTS ground truth (MOTS txt, 0-based frames) it makes what a detector and an
embedding head would give, with seeded randomness (one ``numpy`` generator per sequence,
seeded from ``SimParams.seed`` and the sequence name):

* **misses**: every ground-truth object-frame is dropped with probability ``miss_prob``;
* **occlusion bursts**: runs of consecutive missed frames of one identity, their lengths
  drawn from an inclusive range (:class:`Burst`), placed strictly inside the identity's
  track (a visible frame before and after), so each one is a gap a tracker must bridge;
* **mask shifts**: each kept mask moved by up to ``max_shift`` pixels (``np.roll``; the
  wrapped band is cleared, so no pixel jumps across the image; a mask the shift would
  empty is kept as it is);
* **false positives**: elliptic blobs at random places, ``fp_per_frame`` per frame on
  average (Poisson), random class and score;
* **scores**: uniform in ``score`` for true detections (``fp_score`` for false positives);
* **embeddings**: a random unit vector per ground-truth identity (``dim`` dimensions) plus
  Gaussian noise of standard deviation ``sigma / sqrt(dim)`` per dimension (``sigma`` is in
  units of the per-dimension scale of a unit vector, so the noise vector's norm is about
  ``sigma``), renormalised; ``sigma = 0`` gives "clean" embeddings (every detection of an
  identity has exactly its identity's vector). A false positive gets its own random vector.

Ignore regions (class 10) are never detections. Files are read with plain Python and masks go
through pycocotools directly; dior is used only to write its file formats.

Also here: :func:`write_gt_folder` (ground truth + seqmap for ``dior evaluate``) and
:func:`pointtrack_detections` (real PointTrack test-set masks as a detections file).
"""

from __future__ import annotations

import shutil
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.embeddings import write_embeddings
from dior_cli.records import Detections

IGNORE_CLASS = 10


@dataclass(frozen=True)
class Burst:
    """Occlusions: runs of consecutive misses of one identity.

    Attributes:
        lengths: ``(shortest, longest)`` run in frames, inclusive; each run draws uniformly.
        per_track: runs placed inside every identity's track where they fit.
        rate: in addition, the probability per visible interior frame that a run starts there.
    """

    lengths: tuple[int, int]
    per_track: int = 0
    rate: float = 0.0


@dataclass(frozen=True)
class SimParams:
    miss_prob: float = 0.0
    bursts: tuple[Burst, ...] = ()
    max_shift: int = 0
    fp_per_frame: float = 0.0
    fp_score: tuple[float, float] = (0.3, 0.9)
    score: tuple[float, float] = (1.0, 1.0)
    dim: int = 128
    sigma: float = 0.0
    fps: float | None = 10.0
    seed: int = 0


@dataclass(frozen=True)
class GtRow:
    frame: int  # 0-based
    obj_id: int
    class_id: int
    height: int
    width: int
    counts: str


@dataclass
class SimSequence:
    """One simulated sequence.

    Attributes:
        dets: the detections file (sorted by frame).
        embeddings: ``(N, dim)`` float32 unit rows, row ``i`` = detection ``i``.
        gt_ids: ``(N,)`` ground-truth object id of each detection, 0 for a false positive.
        bursts: ``(obj_id, first missed frame, length)`` of every burst placed.
        num_identities: ground-truth identities (ignore regions excluded).
    """

    dets: DetectionsFile
    embeddings: np.ndarray
    gt_ids: np.ndarray
    bursts: list[tuple[int, int, int]] = field(default_factory=list)
    num_identities: int = 0


def read_gt(path: Path) -> list[GtRow]:
    """The lines of a KITTI-MOTS txt file (0-based frames), plain Python."""
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6:
            rows.append(GtRow(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), parts[5]))
    return rows


def max_interior_gap(rows: list[GtRow]) -> int:
    """The longest run of frames missing inside one identity's track (0: no gaps)."""
    frames = defaultdict(list)
    for r in rows:
        if r.class_id != IGNORE_CLASS:
            frames[r.obj_id].append(r.frame)
    gaps = [int(np.diff(np.unique(f)).max()) - 1 for f in frames.values() if len(set(f)) > 1]
    return max(gaps, default=0)


def _decode(counts: str, height: int, width: int) -> np.ndarray:
    return mask_utils.decode({"size": [height, width], "counts": counts.encode("ascii")}).astype(bool)


def _encode(mask: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


def shift_mask(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by ``(dy, dx)`` pixels; pixels pushed out of the image are lost."""
    out = np.roll(mask, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = False
    elif dy < 0:
        out[dy:] = False
    if dx > 0:
        out[:, :dx] = False
    elif dx < 0:
        out[:, dx:] = False
    return out


def _blob(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A filled ellipse of random size somewhere in the image (at least a few pixels)."""
    ay, ax = int(rng.integers(6, 40)), int(rng.integers(4, 30))
    cy, cx = int(rng.integers(ay, height - ay)), int(rng.integers(ax, width - ax))
    yy, xx = np.ogrid[:height, :width]
    return ((yy - cy) / ay) ** 2 + ((xx - cx) / ax) ** 2 <= 1.0


def _place_bursts(rng: np.random.Generator, n: int, spec: Burst, taken: np.ndarray) -> list[tuple[int, int]]:
    """``(first index, length)`` of the runs of ``spec`` inside ``n`` visible frames.

    Runs stay inside (index >= 1 and end <= n - 2) and keep a visible frame between
    themselves and earlier runs (``taken`` marks dropped indices and is updated).
    """
    lo, hi = spec.lengths

    def fits(i: int, length: int) -> bool:
        return i >= 1 and i + length <= n - 1 and not taken[max(i - 1, 0) : i + length + 1].any()

    placed = []
    for _ in range(spec.per_track):
        length = int(rng.integers(lo, hi + 1))
        starts = [i for i in range(1, n - length) if fits(i, length)]
        if starts:
            i = int(rng.choice(starts))
            taken[i : i + length] = True
            placed.append((i, length))
    if spec.rate > 0:
        for i in range(1, n - 1):
            if rng.random() < spec.rate:
                length = int(rng.integers(lo, hi + 1))
                if fits(i, length):
                    taken[i : i + length] = True
                    placed.append((i, length))
    return placed


def simulate(gt_path: Path, params: SimParams, sequence: str | None = None, num_frames: int | None = None) -> SimSequence:
    """Simulate a detector (and embedding head) on one ground-truth file."""
    gt_path = Path(gt_path)
    sequence = sequence or gt_path.stem
    rng = np.random.default_rng([params.seed, zlib.crc32(sequence.encode())])
    rows = read_gt(gt_path)
    height, width = rows[0].height, rows[0].width
    num_frames = num_frames if num_frames is not None else max(r.frame for r in rows) + 1

    by_id: dict[int, list[GtRow]] = defaultdict(list)
    for r in rows:
        if r.class_id != IGNORE_CLASS:
            by_id[r.obj_id].append(r)
    identity = {}
    for obj_id in sorted(by_id):
        v = rng.standard_normal(params.dim)
        identity[obj_id] = v / np.linalg.norm(v)

    kept: list[tuple[GtRow, int]] = []  # (row, gt id)
    bursts = []
    for obj_id in sorted(by_id):
        track = sorted(by_id[obj_id], key=lambda r: r.frame)
        taken = np.zeros(len(track), bool)
        for spec in params.bursts:
            for i, length in _place_bursts(rng, len(track), spec, taken):
                bursts.append((obj_id, track[i].frame, length))
        misses = rng.random(len(track)) < params.miss_prob
        kept.extend((r, obj_id) for r, drop in zip(track, taken | misses) if not drop)

    frame, class_id, score, counts, gt_ids, vectors = [], [], [], [], [], []
    for r, obj_id in kept:
        c = r.counts
        if params.max_shift > 0:
            dy, dx = (int(v) for v in rng.integers(-params.max_shift, params.max_shift + 1, size=2))
            if dy or dx:
                moved = shift_mask(_decode(c, height, width), dy, dx)
                if moved.any():
                    c = _encode(moved)
        frame.append(r.frame)
        class_id.append(r.class_id)
        score.append(rng.uniform(*params.score))
        counts.append(c)
        gt_ids.append(obj_id)
        noise = rng.standard_normal(params.dim) * (params.sigma / np.sqrt(params.dim))
        vectors.append(identity[obj_id] + noise)

    for t in range(num_frames):
        for _ in range(int(rng.poisson(params.fp_per_frame)) if params.fp_per_frame > 0 else 0):
            frame.append(t)
            class_id.append(int(rng.choice([1, 2])))
            score.append(rng.uniform(*params.fp_score))
            counts.append(_encode(_blob(rng, height, width)))
            gt_ids.append(0)
            vectors.append(rng.standard_normal(params.dim))

    order = np.argsort(np.asarray(frame, np.int64), kind="stable")
    rles = [{"size": [height, width], "counts": counts[i]} for i in order]
    boxes = np.asarray(mask_utils.toBbox([{"size": [height, width], "counts": c.encode("ascii")} for c in (counts[i] for i in order)]),
                       dtype=np.float64).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, params.dim)[order]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dets = Detections(
        frame=np.asarray(frame, np.int64)[order], class_id=np.asarray(class_id, np.int64)[order],
        score=np.asarray(score, np.float64)[order], bbox_xyxy=boxes, rles=rles,
    )
    file = DetectionsFile(sequence=sequence, image_size=(height, width), num_frames=num_frames, fps=params.fps, frame_base=0,
                          detections=dets, producer={"dior_version": "test", "weights": "simulated", "weights_sha256": None})
    return SimSequence(dets=file, embeddings=vectors.astype(np.float32), gt_ids=np.asarray(gt_ids, np.int64)[order],
                       bursts=bursts, num_identities=len(by_id))


def write_sequence(dets_dir: Path, sim: SimSequence, embeddings: bool = True) -> Path:
    """Write ``DETS/<seq>.json`` (+ ``<seq>.npy`` and its record); return the json path."""
    dets_dir = Path(dets_dir)
    dets_dir.mkdir(parents=True, exist_ok=True)
    path = dets_dir / f"{sim.dets.sequence}.json"
    sha = write_detections(path, sim.dets)
    if embeddings:
        write_embeddings(dets_dir / f"{sim.dets.sequence}.npy", sim.embeddings, path, sha)
    return path


def simulate_folder(gt_dir: Path, sequences: list[str], dets_dir: Path, params: SimParams, embeddings: bool = True,
                    num_frames: dict[str, int] | None = None) -> dict[str, SimSequence]:
    """Simulate and write every sequence of ``sequences``; return the simulations."""
    out = {}
    for seq in sequences:
        sim = simulate(Path(gt_dir) / f"{seq}.txt", params, seq, None if num_frames is None else num_frames.get(seq))
        write_sequence(dets_dir, sim, embeddings)
        out[seq] = sim
    return out


def seq_lengths(seqmap: Path) -> dict[str, int]:
    """``{seq: number of frames}`` from a mots_tools seqmap (``<seq> empty <first> <last>``)."""
    out = {}
    for line in Path(seqmap).read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[0]] = int(parts[3]) + 1
    return out


def write_gt_folder(gt_dir: Path, sequences: list[str], folder: Path, num_frames: dict[str, int]) -> Path:
    """Copy ``<seq>.txt`` ground truth into ``folder`` and write a mots_tools seqmap; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for seq in sequences:
        shutil.copyfile(Path(gt_dir) / f"{seq}.txt", folder / f"{seq}.txt")
    seqmap = folder / "eval.seqmap"
    seqmap.write_text("".join(f"{seq} empty 000000 {num_frames[seq] - 1:06d}\n" for seq in sequences))
    return seqmap


def pointtrack_detections(root: Path, sequence: str, fps: float = 10.0) -> DetectionsFile:
    """PointTrack's ``car/<seq>.txt`` and ``person/<seq>.txt`` as one detections file.

    Track ids are dropped; classes come from the folder (car 1, person 2, checked against
    the class column); score 1; frames 0-based; ``num_frames`` = last frame + 1.
    """
    frame, class_id, counts = [], [], []
    size = None
    for folder, cls in (("car", 1), ("person", 2)):
        path = Path(root) / folder / f"{sequence}.txt"
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) < 6:
                continue
            if int(parts[2]) != cls:
                raise ValueError(f"{path}: class {parts[2]} in the {folder}/ folder")
            size = (int(parts[3]), int(parts[4]))
            frame.append(int(parts[0]))
            class_id.append(cls)
            counts.append(parts[5])
    if size is None:
        raise ValueError(f"no PointTrack lines for sequence {sequence}")
    order = np.argsort(np.asarray(frame, np.int64), kind="stable")
    rles = [{"size": list(size), "counts": counts[i]} for i in order]
    boxes = np.asarray(mask_utils.toBbox([{"size": list(size), "counts": counts[i].encode("ascii")} for i in order]),
                       dtype=np.float64).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    dets = Detections(frame=np.asarray(frame, np.int64)[order], class_id=np.asarray(class_id, np.int64)[order],
                      score=np.ones(len(order)), bbox_xyxy=boxes, rles=rles)
    return DetectionsFile(sequence=sequence, image_size=size, num_frames=int(max(frame)) + 1, fps=fps, frame_base=0,
                          detections=dets, producer={"dior_version": "test", "weights": "PointTrack testset_segs", "weights_sha256": None})
