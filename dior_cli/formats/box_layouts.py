"""Where MOTChallenge box ground truth lives (MOT15/16/17/20), for ``dior evaluate``.

A *sequence folder* holds ``gt/gt.txt`` (box ground truth, :mod:`dior_cli.formats.mot_box_tracks`),
and optionally ``seqinfo.ini`` and its frames (``imDir``, ``img1/`` or ``img/``). Layouts, checked
in this order:

- one sequence folder given directly (``MOT17/train/MOT17-02-FRCNN``, ``TUD-Campus``);
- TrackEval's: ``GT/<BENCH>-<split>/<seq>/`` (``MOT17-train``), with ``GT/seqmaps/<BENCH>-<split>.txt``
  selecting the sequences when present;
- a folder of sequence folders (a split folder such as ``MOT17/train``, or any collection);
- a dataset root with split folders (``MOT17/{train,test}/<seq>/``); ``--split`` picks one,
  otherwise every sequence with ground truth is used (names must then be unique).

Sequence length, as TrackEval counts it: ``seqinfo.ini``'s ``seqLength``, also where fewer
images are present (cut data: the frames past them are scored all the same, and said so).
Without ``seqinfo.ini`` (TrackEval needs one): the number of images in ``img1/`` or ``img/``,
else the last ground-truth frame. Frames are numbered from 1.

Benchmark with ``auto``, from names the way TrackEval's folders carry it; the first that
applies wins: the ``<BENCH>-<split>`` folder; the sequence names' prefix (``MOT16-``,
``MOT17-``, ``MOT20-``: all must agree); a folder on the path named ``MOT15``, ``2DMOT2015``,
``MOT16``, ``MOT17`` or ``MOT20``; else ``mot15``, whose sequences carry no prefix
(TUD-Campus, PETS09-S2L1, ...).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.eval_layouts import BOX_BENCHMARKS, GroundTruthSet, select_sequences
from dior_cli.formats.frames import list_images
from dior_cli.formats.layouts import SequenceInfo
from dior_cli.formats.mot_box_tracks import FRAME_BASE, last_frame, looks_like_box_file
from dior_cli.formats.seqinfo import read_seqinfo

_TRACKEVAL_FOLDER = re.compile(r"^(MOT15|MOT16|MOT17|MOT20)-(.+)$")
_SEQUENCE_PREFIX = re.compile(r"^(MOT16|MOT17|MOT20)-")
_BENCHMARK_FOLDERS = {"mot15": "mot15", "2dmot2015": "mot15", "mot16": "mot16", "mot17": "mot17", "mot20": "mot20"}
_IMAGE_DIRS = ("img1", "img")
LAYOUT = "mot-box"


def holds_box_ground_truth(path: str | os.PathLike) -> bool:
    """True when the first ``gt/gt.txt`` at or up to two levels below ``path`` holds MOT box
    lines (the MOTS20 layout has the same folders with MOTS txt inside)."""
    path = Path(path)
    if not path.is_dir():
        return False
    for pattern in ("gt/gt.txt", "*/gt/gt.txt", "*/*/gt/gt.txt"):
        first = next(iter(sorted(path.glob(pattern))), None)
        if first is not None:
            return looks_like_box_file(first)
    return False


def discover_box_ground_truth(gt: str | os.PathLike, *, benchmark: str = "auto", seqmap: str | os.PathLike | None = None,
                              split: str | None = None) -> GroundTruthSet:
    """Find the box ground-truth sequences under ``gt``; see the module docstring."""
    gt = Path(gt)
    if benchmark not in ("auto", *BOX_BENCHMARKS):
        raise ConfigError(f"box ground truth: --benchmark must be auto, {', '.join(BOX_BENCHMARKS)}, not {benchmark!r}")
    if not gt.exists():
        raise InputNotFound("ground-truth path does not exist", path=gt)
    if not gt.is_dir():
        raise FormatError("box ground truth must be a folder (a sequence folder with gt/gt.txt, or a folder of them)", path=gt)
    decisions: list[str] = []
    own_seqmap: Path | None = None
    folder_benchmark: str | None = None
    trackeval_dirs = [d for d in _subfolders(gt) if _TRACKEVAL_FOLDER.match(d.name) and not _is_sequence_folder(d) and _sequence_folders(d)]
    if _is_sequence_folder(gt):
        sequences, layout = [_sequence(gt, None)], "one MOTChallenge sequence folder"
    elif trackeval_dirs:
        chosen = _pick_trackeval_folder(gt, trackeval_dirs, benchmark, split)
        folder_benchmark = chosen.name.split("-", 1)[0].lower()
        split_name = _TRACKEVAL_FOLDER.match(chosen.name).group(2)
        sequences = [_sequence(d, split_name) for d in _sequence_folders(chosen)]
        layout = f"TrackEval MotChallenge2DBox ({chosen.name}/)"
        candidate = gt / "seqmaps" / f"{chosen.name}.txt"
        own_seqmap = candidate if candidate.is_file() else None
    elif folders := _sequence_folders(gt):
        sequences = [_sequence(d, gt.name) for d in folders]
        layout = "folder of MOTChallenge sequences (<seq>/gt/gt.txt)"
    else:
        sequences = _split_sequences(gt, split)
        layout = "MOTChallenge dataset (<split>/<seq>/gt/gt.txt)"
    if not sequences:
        raise FormatError("holds no MOTChallenge sequence (<seq>/gt/gt.txt or <seq>/seqinfo.ini)", path=gt)
    if benchmark == "auto":
        benchmark, reason = _decide_benchmark(gt, folder_benchmark, [s.name for s in sequences])
        decisions.append(f"benchmark {benchmark} from {reason}")
    sequences, used_seqmap = select_sequences(sequences, [s.gt_txt is not None for s in sequences], seqmap, own_seqmap, decisions,
                                              gt=gt, what="ground truth (gt/gt.txt)")
    decisions += _length_decisions(sequences)
    return GroundTruthSet(benchmark, layout, sequences, used_seqmap, decisions)


def _decide_benchmark(gt: Path, folder_benchmark: str | None, names: list[str]) -> tuple[str, str]:
    """(benchmark, why), in the order of the module docstring."""
    if folder_benchmark is not None:
        return folder_benchmark, f"TrackEval's {folder_benchmark.upper()}-<split> folder"
    prefixes = {m.group(1).lower() if (m := _SEQUENCE_PREFIX.match(n)) else None for n in names}
    if len(prefixes) == 1 and None not in prefixes:
        found = prefixes.pop()
        return found, f"the sequence names ({found.upper()}-...)"
    if len(prefixes - {None}) >= 1:
        raise ConfigError(
            f"{gt}: the sequence names mix benchmarks ({', '.join(sorted(p or 'no prefix' for p in prefixes))}): choose one with --benchmark"
        )
    here = gt.resolve()
    for folder in (here, *list(here.parents)[:3]):
        if (found := _BENCHMARK_FOLDERS.get(folder.name.lower())) is not None:
            return found, f"the folder name {folder.name}"
    return "mot15", "the sequence names (no MOT16/17/20 prefix: MOT15 sequences have none)"


def _length_decisions(sequences: list[SequenceInfo]) -> list[str]:
    """Say where lengths came from when seqinfo.ini was missing or does not match the images."""
    out = []
    cut = [note for s in sequences for note in s.notes]
    if cut:
        out.append(
            "lengths are seqinfo.ini's seqLength, as TrackEval counts them, also where fewer images are present "
            f"({'; '.join(cut)}): predictions in the frames past them are scored, and FP_per_frame divides by seqLength"
        )
    guessed = [f"{s.name} {s.num_frames} ({s.length_source})" for s in sequences if s.length_source != "seqinfo.ini"]
    if guessed:
        out.append(f"no seqinfo.ini (TrackEval needs one), lengths from the frames or the ground truth: {', '.join(guessed)}")
    return out


def _sequence(folder: Path, split: str | None) -> SequenceInfo:
    """One sequence folder: length, size and frames as the module docstring says."""
    gt_txt = folder / "gt" / "gt.txt"
    gt_txt = gt_txt if gt_txt.is_file() else None
    seqinfo = folder / "seqinfo.ini"
    notes: list[str] = []
    image_size = fps = None
    if seqinfo.is_file():
        info = read_seqinfo(seqinfo)
        num_frames, length_source, image_size, fps = info.num_frames, "seqinfo.ini", info.image_size, info.fps
        image_dir = folder / info.image_dir
        frames_path = image_dir if image_dir.is_dir() else None
        count = len(list_images(image_dir)) if frames_path is not None else 0
        if count < num_frames:
            notes.append(f"{folder.name}: seqLength {num_frames}, {count} images in {info.image_dir}/")
    else:
        frames_path = next((folder / d for d in _IMAGE_DIRS if (folder / d).is_dir() and list_images(folder / d)), None)
        if frames_path is not None:
            num_frames, length_source = len(list_images(frames_path)), f"images in {frames_path.name}/"
        elif gt_txt is not None:
            num_frames, length_source = last_frame(gt_txt) - FRAME_BASE + 1, "last ground-truth frame"
        else:
            raise FormatError("sequence has no seqinfo.ini, no img1/ or img/ images and no gt/gt.txt", path=folder)
    return SequenceInfo(
        name=folder.name, layout=LAYOUT, num_frames=num_frames, image_size=image_size, fps=fps, frame_base=FRAME_BASE,
        length_source=length_source, split=split, frames_path=frames_path, gt_txt=gt_txt, notes=tuple(notes),
    )


def _is_sequence_folder(folder: Path) -> bool:
    return (folder / "gt" / "gt.txt").is_file() or (folder / "seqinfo.ini").is_file()


def _subfolders(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _sequence_folders(folder: Path) -> list[Path]:
    return [d for d in _subfolders(folder) if _is_sequence_folder(d)]


def _pick_trackeval_folder(gt: Path, folders: list[Path], benchmark: str, split: str | None) -> Path:
    """The ``<BENCH>-<split>`` folder TrackEval would read for this benchmark and split."""
    chosen = [
        d for d in folders
        if (benchmark == "auto" or d.name.split("-", 1)[0].lower() == benchmark) and (split is None or _TRACKEVAL_FOLDER.match(d.name).group(2) == split)
    ]
    wanted = f"{benchmark.upper() if benchmark != 'auto' else '<BENCH>'}-{split or '<split>'}"
    if not chosen:
        raise FormatError(f"has no {wanted}/ folder (found {', '.join(d.name for d in folders)})", path=gt)
    if len(chosen) > 1:
        raise ConfigError(f"{gt} holds several {wanted} folders ({', '.join(d.name for d in chosen)}): choose with --benchmark and --split")
    return chosen[0]


def _split_sequences(root: Path, split: str | None) -> list[SequenceInfo]:
    """Sequences of ``root/<split>/<seq>/``: one split, or every split when ``split`` is None."""
    splits = [d for d in _subfolders(root) if _sequence_folders(d)]
    if split is not None:
        splits = [d for d in splits if d.name == split]
        if not splits:
            raise FormatError(f"has no {split}/ folder of MOTChallenge sequences", path=root)
    sequences = [_sequence(d, s.name) for s in splits for d in _sequence_folders(s)]
    names = [s.name for s in sequences]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{root}: sequence {repeated[0]} is in several splits: choose one with --split")
    return sequences
