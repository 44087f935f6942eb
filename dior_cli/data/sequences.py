"""Training sequences: frames and ground truth of a MOTS dataset root, checked to belong together.

A training root is a MOTS20 download (``train/MOTS20-XX/{img1/, gt/gt.txt, seqinfo.ini}``,
frames numbered from 1) or a KITTI-MOTS folder (``images/<seq>/`` or ``image_02/<seq>/``
with ``instances_txt/<seq>.txt`` or ``instances/<seq>/*.png``, frames from 0), found by
:func:`dior_cli.formats.layouts.discover_sequences`.

Selection: an explicit list of names, or a seqmap (either style of
:mod:`dior_cli.formats.seqmaps`; a mots_tools seqmap's length replaces the layout's), or by
default every sequence with ground truth, in the layout's sorted order; sequences without
ground truth (a MOTS20 ``test`` split) are then left out and said so in the notes.

Checks (each a ``DiorError`` naming the sequence and the file or frame):
- a selected sequence must have ground truth and an image folder;
- image files named by number (``000000.png``, ``000001.jpg``) must be frames
  ``frame_base, frame_base + 1, ...`` with none missing, and there must be an image for every
  frame of the sequence (``num_frames`` from ``seqinfo.ini``, the seqmap or the image count);
- ground truth must lie within the sequence's frames and have the frames' size (checked by
  :func:`dior_cli.formats.eval_layouts.read_annotation_rows`); an instance-PNG folder must
  hold one PNG per frame (a frame without one is not known to be empty);
- an object id keeps one class within a sequence.
Each frame image's own size is checked when it is read.

When a sequence has both a txt file and a PNG folder, the txt file is read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.eval_layouts import read_annotation_rows
from dior_cli.formats.frames import ImageFolderSource, list_images
from dior_cli.formats.kitti_png import list_png_frames
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.formats.seqmaps import read_seqmap
from dior_cli.records import MotsRows

TRAINING_LAYOUTS = ("mots20", "kitti-mots")


@dataclass(frozen=True, eq=False)
class TrainingSequence:
    """One selected sequence, ready to serve frames and ground truth.

    Attributes:
        info: what discovery found (name, layout, ``frame_base``, ``image_size`` as ``(h, w)``).
        frame_files: the image of frame ``t`` (0-based) is ``frame_files[t]``; one per frame.
        rows: the ground truth, 0-based frames, classes 1 car, 2 pedestrian, 10 ignore (RLE masks).
        rows_by_frame: row indices of each frame ``0..num_frames-1``.
    """

    info: SequenceInfo
    frame_files: tuple[Path, ...]
    rows: MotsRows
    rows_by_frame: tuple[np.ndarray, ...]

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def num_frames(self) -> int:
        return len(self.frame_files)

    def frame_source(self) -> ImageFolderSource:
        """Reads frame ``t`` as RGB ``(H, W, 3)`` uint8, checking its size against ``info.image_size``."""
        return ImageFolderSource(self.frame_files, self.info.image_size)


def select_training_sequences(root: str | os.PathLike, sequences: Sequence[str] | None = None,
                              seqmap: str | os.PathLike | None = None) -> tuple[list[SequenceInfo], list[str]]:
    """The sequences of ``root`` chosen for training, in order, and notes for the user.

    Args:
        root: a MOTS20 or KITTI-MOTS dataset root (or a MOTS20 split or sequence folder).
        sequences: names to use, in this order; ``None`` = all with ground truth.
        seqmap: a seqmap file naming the sequences (not together with ``sequences``).

    Raises:
        ConfigError: both ``sequences`` and ``seqmap``, an empty or repeated name, a name not under ``root``.
        FormatError: a layout other than MOTS20/KITTI-MOTS, a selected sequence without ground
            truth, a seqmap naming a sequence not under ``root``, no sequence with ground truth.
    """
    root = Path(root)
    if sequences is not None and seqmap is not None:
        raise ConfigError("give either a list of sequences or a seqmap, not both")
    found = discover_sequences(root)
    other = sorted({s.layout for s in found} - set(TRAINING_LAYOUTS))
    if other:
        raise FormatError(f"is in the {other[0]} layout; training needs a MOTS20 or KITTI-MOTS dataset (frames plus "
                          "gt/gt.txt, instances_txt/<seq>.txt or instances/<seq>/)", path=root)
    by_name = {s.name: s for s in found}
    notes: list[str] = []
    if sequences is not None:
        names = list(sequences)
        if not names:
            raise ConfigError("the list of training sequences is empty")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"sequence {repeated[0]} is listed more than once")
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(f"no sequence {', '.join(unknown)} under {root} (found: {', '.join(sorted(by_name))})")
        chosen = [by_name[n] for n in names]
    elif seqmap is not None:
        chosen = []
        for entry in read_seqmap(seqmap):
            if entry.name not in by_name:
                raise FormatError(f"names sequence {entry.name}, which is not under {root} (found: {', '.join(sorted(by_name))})", path=seqmap)
            seq = by_name[entry.name]
            if entry.num_frames is not None and entry.num_frames != seq.num_frames:
                notes.append(f"sequence {seq.name}: {entry.num_frames} frames from the seqmap (the layout says {seq.num_frames})")
                seq = dataclasses.replace(seq, num_frames=entry.num_frames, length_source="seqmap")
            chosen.append(seq)
    else:
        chosen = [s for s in found if _has_ground_truth(s)]
        skipped = [s.name for s in found if not _has_ground_truth(s)]
        if skipped:
            notes.append(f"not used, no ground truth: {', '.join(skipped)}")
        if not chosen:
            raise FormatError("holds no sequence with ground truth (gt/gt.txt, instances_txt/<seq>.txt or instances/<seq>/)", path=root)
    for seq in chosen:
        if not _has_ground_truth(seq):
            raise FormatError("was selected for training but has no ground truth (gt/gt.txt, instances_txt/<seq>.txt or instances/<seq>/)",
                              path=root, sequence=seq.name)
    notes += [f"sequence {s.name}: {n}" for s in chosen for n in s.notes]
    return chosen, notes


def load_training_sequence(info: SequenceInfo) -> TrainingSequence:
    """Check one sequence's frames and read its ground truth (see the module docstring's checks)."""
    files = frame_files(info)
    if info.gt_txt is None and info.gt_png is not None:
        _check_png_per_frame(info)
    gt_path = info.gt_txt if info.gt_txt is not None else info.gt_png
    if gt_path is None:
        raise FormatError("has no ground truth", sequence=info.name)
    rows = read_annotation_rows(gt_path, info.frame_base, num_frames=info.num_frames, image_size=info.image_size, sequence=info.name)
    _check_one_class_per_track(rows, gt_path, info.name)
    by_frame = tuple(rows.rows_by_frame(info.num_frames))
    return TrainingSequence(info=info, frame_files=tuple(files), rows=rows, rows_by_frame=by_frame)


def frame_files(info: SequenceInfo) -> list[Path]:
    """The image of each frame ``0..num_frames-1`` of ``info``, checked for gaps by file number."""
    if info.frames_path is None:
        raise InputNotFound("has ground truth but no frames: training needs its images (images/<seq>/ for KITTI-MOTS, img1/ for MOTS20)",
                            path=info.gt_txt or info.gt_png, sequence=info.name)
    files = list_images(info.frames_path)
    for frame, path in enumerate(files[: info.num_frames]):
        if path.stem.isdigit() and int(path.stem) != frame + info.frame_base:
            raise FormatError(f"frame {frame} has no image: the image after frame {frame - 1} is {path.name} "
                              f"(frames are numbered from {info.frame_base} in this layout)",
                              path=info.frames_path, sequence=info.name, frame=frame)
    if len(files) < info.num_frames:
        raise FormatError(f"holds {len(files)} images but the sequence has {info.num_frames} frames ({info.length_source}): "
                          f"frame {len(files)} has no image", path=info.frames_path, sequence=info.name, frame=len(files))
    return files[: info.num_frames]


def _has_ground_truth(info: SequenceInfo) -> bool:
    return info.gt_txt is not None or info.gt_png is not None


def _check_png_per_frame(info: SequenceInfo) -> None:
    present = {frame for frame, _ in list_png_frames(info.gt_png, info.frame_base)}
    missing = [t for t in range(info.num_frames) if t not in present]
    if missing:
        raise FormatError(f"frame {missing[0]} has an image but no instance PNG ({len(missing)} frames lack one)",
                          path=info.gt_png, sequence=info.name, frame=missing[0])


def _check_one_class_per_track(rows: MotsRows, path: Path, sequence: str) -> None:
    pairs = np.unique(np.stack([rows.obj_id, rows.class_id], axis=1), axis=0) if len(rows) else np.zeros((0, 2), np.int64)  # (K, 2)
    ids, counts = np.unique(pairs[:, 0], return_counts=True)
    if (counts > 1).any():
        obj_id = int(ids[np.argmax(counts > 1)])
        classes = pairs[pairs[:, 0] == obj_id, 1].tolist()
        raise FormatError(f"object id {obj_id} has several classes {classes}; a track keeps one class", path=path, sequence=sequence)
