"""Where ground truth and predictions live, for ``dior evaluate``.

Ground-truth layouts, checked in this order:

- TrackEval KittiMOTS: ``GT/label_02/<seq>.txt`` with ``GT/evaluate_mots.seqmap.<split>``.
- TrackEval MOTSChallenge: ``GT/MOTS-<split>/<seq>/{gt/gt.txt, seqinfo.ini}`` with
  ``GT/seqmaps/MOTS-<split>.txt``.
- The MOTS20 download and KITTI-MOTS layouts of :mod:`dior_cli.formats.layouts`.
- A flat folder of ``<seq>.txt`` files.

A seqmap (given, or the layout's own) selects and orders the sequences; a mots_tools
seqmap also gives each length. Without one, lengths come from ``seqinfo.ini``, the image
folder, or the last annotated frame + 1, and every sequence with ground truth is used.

Predictions are a folder of ``<seq>.txt`` files or of ``<seq>/`` instance-PNG folders (or
the same inside a ``data/`` subfolder, as TrackEval stores trackers).

Box ground truth (MOTChallenge MOT15/16/17/20) is found by :mod:`dior_cli.formats.box_layouts`,
which returns the same :class:`GroundTruthSet`; predictions are found here for both.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from dior_cli.errors import ConfigError, DiorError, FormatError, InputNotFound
from dior_cli.formats.kitti_png import read_kitti_png_folder
from dior_cli.formats.layouts import KITTI_FPS, SequenceInfo, discover_sequences, txt_extent
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.formats.seqmaps import read_seqmap
from dior_cli.records import CAR, IGNORE, PEDESTRIAN, MotsRows

BENCHMARKS = ("kitti-mots", "mots20")  # masks (this module)
BOX_BENCHMARKS = ("mot15", "mot16", "mot17", "mot20")  # boxes (dior_cli.formats.box_layouts)
FRAME_BASE = {"kitti-mots": 0, "mots20": 1, **{b: 1 for b in BOX_BENCHMARKS}}


@dataclass(frozen=True)
class GroundTruthSet:
    """The sequences to evaluate and how they were found.

    Attributes:
        benchmark: ``kitti-mots`` or ``mots20`` (masks), ``mot15``, ``mot16``, ``mot17`` or
            ``mot20`` (boxes); decides classes, preprocessing and frame numbering.
        layout: the layout recognised, in words.
        sequences: one entry per sequence with ground truth (``gt_txt`` or ``gt_png`` set).
        seqmap: the seqmap used, if any.
        decisions: what dior decided on its own, to tell the user.
    """

    benchmark: str
    layout: str
    sequences: list[SequenceInfo]
    seqmap: Path | None = None
    decisions: list[str] = field(default_factory=list)

    @property
    def frame_base(self) -> int:
        return FRAME_BASE[self.benchmark]

    @property
    def similarity(self) -> str:
        """``box`` for the MOTChallenge box benchmarks, else ``mask``."""
        return "box" if self.benchmark in BOX_BENCHMARKS else "mask"


def discover_ground_truth(gt: str | os.PathLike, *, benchmark: str = "auto", seqmap: str | os.PathLike | None = None, split: str | None = None) -> GroundTruthSet:
    """Find the ground-truth sequences under ``gt``; see the module docstring."""
    gt = Path(gt)
    if benchmark in BOX_BENCHMARKS:
        raise ConfigError(f"{benchmark} is a box benchmark: its ground truth is found by dior_cli.formats.box_layouts")
    if benchmark not in ("auto", *BENCHMARKS):
        raise ConfigError(f"--benchmark must be auto, kitti-mots, mots20 (masks), {', '.join(BOX_BENCHMARKS)} (boxes), not {benchmark!r}")
    if not gt.exists():
        raise InputNotFound("ground-truth path does not exist", path=gt)
    if not gt.is_dir():
        raise FormatError("ground truth must be a folder (a dataset root or a folder of <seq>.txt)", path=gt)
    decisions: list[str] = []
    own_seqmap: Path | None = None
    if (gt / "label_02").is_dir():
        found_benchmark, layout = "kitti-mots", "TrackEval KittiMOTS (label_02/)"
        own_seqmap = _pick_seqmap(sorted(gt.glob("evaluate_mots.seqmap.*")), split, lambda p: p.name.split(".")[-1])
        sequences = _flat_txt_sequences(gt / "label_02", 0, "kitti-mots", _seqmap_lengths(seqmap or own_seqmap))
    elif (split_dirs := sorted(d for d in gt.glob("MOTS-*") if d.is_dir())):
        found_benchmark, layout = "mots20", "TrackEval MOTSChallenge (MOTS-<split>/)"
        chosen = _pick_split_dir(gt, split_dirs, split)
        sequences = discover_sequences(chosen)
        candidate = gt / "seqmaps" / f"{chosen.name}.txt"
        own_seqmap = candidate if candidate.is_file() else None
    elif _is_flat_txt_folder(gt):
        names = sorted(p.stem for p in gt.glob("*.txt"))
        found_benchmark = benchmark if benchmark != "auto" else ("mots20" if all(n.startswith("MOTS20-") for n in names) else "kitti-mots")
        if benchmark == "auto":
            decisions.append(f"a flat folder of <seq>.txt: treated as {found_benchmark} (sequence names), frames from {FRAME_BASE[found_benchmark]}")
        layout = "folder of <seq>.txt"
        sequences = _flat_txt_sequences(gt, FRAME_BASE[found_benchmark], found_benchmark, _seqmap_lengths(seqmap))
    else:
        sequences = discover_sequences(gt, split=split)
        kinds = {s.layout for s in sequences}
        if kinds - {"mots20", "kitti-mots"}:
            raise FormatError("holds frames but no ground truth (expected MOTS20, KITTI-MOTS, TrackEval layouts or <seq>.txt files)", path=gt)
        found_benchmark = "mots20" if kinds == {"mots20"} else "kitti-mots"
        layout = "MOTS20 download" if found_benchmark == "mots20" else "KITTI-MOTS (instances_txt/ or instances/)"
    if benchmark != "auto" and benchmark != found_benchmark and layout != "folder of <seq>.txt":
        raise ConfigError(
            f"{gt} is in the {layout} layout ({found_benchmark}, frames from {FRAME_BASE[found_benchmark]}); "
            f"--benchmark {benchmark} does not fit it (use --benchmark auto)"
        )
    if benchmark == "auto":
        decisions.insert(0, f"benchmark {found_benchmark} from the layout: {layout}")
    sequences, used_seqmap = select_sequences(sequences, [s.gt_txt is not None or s.gt_png is not None for s in sequences],
                                              seqmap, own_seqmap, decisions, gt=gt, what="ground truth")
    return GroundTruthSet(found_benchmark, layout, sequences, used_seqmap, decisions)


def select_sequences(sequences: list[SequenceInfo], has_gt: list[bool], seqmap: str | os.PathLike | None, own_seqmap: Path | None,
                     decisions: list[str], *, gt: Path, what: str) -> tuple[list[SequenceInfo], Path | None]:
    """The sequences to evaluate: those with ground truth, cut to ``seqmap`` (the user's, else the layout's own).

    Appends what was decided to ``decisions``; refuses when nothing is left. Returns the sequences and the seqmap used.
    """
    without_gt = [s.name for s, has in zip(sequences, has_gt) if not has]
    sequences = [s for s, has in zip(sequences, has_gt) if has]
    used_seqmap = Path(seqmap) if seqmap is not None else own_seqmap
    if used_seqmap is not None:
        sequences = apply_seqmap(sequences, used_seqmap, without_gt)
        if seqmap is None:
            decisions.append(f"sequences from the layout's seqmap {used_seqmap}")
    elif without_gt:
        decisions.append(f"not evaluated, no ground truth: {', '.join(without_gt)}")
    if not sequences:
        raise FormatError(f"holds no sequence with {what}", path=gt)
    return sequences, used_seqmap


def find_predictions(pred: str | os.PathLike, names: list[str]) -> tuple[dict[str, Path], list[str], list[str]]:
    """Map each sequence name to its prediction file (``<seq>.txt``) or PNG folder.

    Returns ``(found, missing, extra)``: ``missing`` are names with no prediction, ``extra``
    are prediction files that match no ground-truth sequence.
    """
    pred = Path(pred)
    if not pred.exists():
        raise InputNotFound("prediction folder does not exist", path=pred)
    if not pred.is_dir():
        raise FormatError("predictions must be a folder of <seq>.txt files (or <seq>/ PNG folders)", path=pred)
    if not _has_predictions(pred, names) and (pred / "data").is_dir():
        pred = pred / "data"
    found: dict[str, Path] = {}
    for name in names:
        if (pred / f"{name}.txt").is_file():
            found[name] = pred / f"{name}.txt"
        elif (pred / name).is_dir():
            found[name] = pred / name
    missing = [n for n in names if n not in found]
    available = {p.stem for p in pred.glob("*.txt")} | {p.name for p in pred.iterdir() if p.is_dir() and not p.name.startswith(".")}
    extra = sorted(available - set(names) - {"data"})
    return found, missing, extra


def read_annotation_rows(path: Path, frame_base: int, *, num_frames: int, image_size: tuple[int, int] | None = None,
                         sequence: str | None = None) -> MotsRows:
    """Ground truth or tracks of one sequence, from a MOTS txt file or an instance-PNG folder.

    Classes 1, 2 and 10 are accepted; frames must lie below ``num_frames`` and masks must
    have ``image_size`` when given. Errors name the file and, when given, the sequence.
    """
    try:
        if Path(path).is_dir():
            return read_kitti_png_folder(path, frame_base, image_size=image_size, num_frames=num_frames)
        return read_mots_txt(path, frame_base, image_size=image_size, num_frames=num_frames, classes=(CAR, PEDESTRIAN, IGNORE))
    except DiorError as exc:
        exc.sequence = exc.sequence or sequence
        raise


def _has_predictions(folder: Path, names: list[str]) -> bool:
    return any((folder / f"{n}.txt").is_file() or (folder / n).is_dir() for n in names)


def _is_flat_txt_folder(folder: Path) -> bool:
    return any(folder.glob("*.txt")) and not any((folder / d).is_dir() for d in ("images", "image_02", "instances", "instances_txt", "train", "test"))


def _seqmap_lengths(seqmap: str | os.PathLike | None) -> dict[str, int]:
    """The lengths a seqmap gives (``{}`` for none, a name-only seqmap or one that does not
    read: :func:`apply_seqmap` reports its problems later)."""
    if seqmap is None or not Path(seqmap).is_file():
        return {}
    try:
        return {e.name: e.num_frames for e in read_seqmap(seqmap) if e.num_frames is not None}
    except DiorError:
        return {}


def _flat_txt_sequences(folder: Path, frame_base: int, benchmark: str, known: dict[str, int]) -> list[SequenceInfo]:
    """A sequence per ``<seq>.txt``; its length from the annotations (a pass over the file),
    except where ``known`` (a seqmap's lengths, which replace it anyway) gives it: then the
    file is not read here and the image size is left unknown (the masks give it)."""
    sequences = []
    for path in sorted(folder.glob("*.txt")):
        if path.stem in known:
            sequences.append(SequenceInfo(
                name=path.stem, layout=benchmark, num_frames=known[path.stem], image_size=None,
                fps=KITTI_FPS if benchmark == "kitti-mots" else None, frame_base=frame_base,
                length_source="seqmap", gt_txt=path,
            ))
            continue
        file_frames, image_size = _extent(path)
        sequences.append(
            SequenceInfo(
                name=path.stem, layout=benchmark, num_frames=max(file_frames - frame_base, 0), image_size=image_size,
                fps=KITTI_FPS if benchmark == "kitti-mots" else None, frame_base=frame_base,
                length_source="annotations", gt_txt=path,
            )
        )
    return sequences


def _extent(path: Path, chunk_bytes: int = 1 << 22) -> tuple[int, tuple[int, int] | None]:
    """:func:`~dior_cli.formats.layouts.txt_extent` (last frame + 1, image size) read a chunk at a
    time, so a long file is never held whole; any line it cannot take goes to ``txt_extent``,
    which names the line."""
    last, size = -1, None
    try:
        with open(path, "rb") as f:
            carry = b""
            while True:
                data = f.read(chunk_bytes)
                if data:
                    data, cut = carry + data, None
                    cut = data.rfind(b"\n")
                    if cut < 0:
                        carry = data
                        continue
                    carry, data = data[cut + 1 :], data[: cut + 1]
                else:
                    data, carry = carry, b""
                for line in data.split(b"\n"):
                    fields = line.split(None, 5)
                    if not fields:
                        continue
                    last = max(last, int(fields[0]))
                    if size is None:
                        size = (int(fields[3]), int(fields[4]))
                if not data and not carry:
                    break
    except (OSError, ValueError, IndexError):
        return txt_extent(path)
    return last + 1, size


def _pick_seqmap(candidates: list[Path], split: str | None, split_of) -> Path | None:
    if split is not None:
        chosen = [c for c in candidates if split_of(c) == split]
        return chosen[0] if chosen else None
    return candidates[0] if len(candidates) == 1 else None


def _pick_split_dir(root: Path, split_dirs: list[Path], split: str | None) -> Path:
    if split is not None:
        wanted = root / f"MOTS-{split}"
        if not wanted.is_dir():
            raise FormatError(f"has no MOTS-{split}/ (found {', '.join(d.name for d in split_dirs)})", path=root)
        return wanted
    if len(split_dirs) > 1:
        raise ConfigError(f"{root} holds several splits ({', '.join(d.name for d in split_dirs)}): choose one with --split")
    return split_dirs[0]


def apply_seqmap(sequences: list[SequenceInfo], seqmap: Path, without_gt: list[str]) -> list[SequenceInfo]:
    """The seqmap's sequences in its order, with its lengths where it gives them
    (``without_gt``: names known to lack ground truth, for the error message)."""
    entries = read_seqmap(seqmap)
    by_name = {s.name: s for s in sequences}
    missing = [e.name for e in entries if e.name not in by_name]
    if missing:
        reason = " (no ground-truth file)" if set(missing) <= set(without_gt) else ""
        raise FormatError(f"names sequences without ground truth{reason}: {', '.join(missing)}", path=seqmap)
    chosen = []
    for entry in entries:
        seq = by_name[entry.name]
        if entry.num_frames is not None:
            seq = dataclasses.replace(seq, num_frames=entry.num_frames, length_source="seqmap")
        chosen.append(seq)
    return chosen
