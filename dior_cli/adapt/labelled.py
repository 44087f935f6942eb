"""Labelled training data for ``dior adapt --train-data`` (ReMOTS sec. 2.2).

ReMOTS trains its encoder on triplets from the *training set*, "only referring to the
ground-truth tracklets", mixed 1:1 in every mini-batch with the intra-frame triplets of the
target video. Here a labelled dataset is any folder ``dior`` finds sequences with frames and
ground-truth identities in (:func:`dior_cli.formats.layouts.discover_sequences`):

- MOTChallenge box ground truth (``<seq>/gt/gt.txt``, ``frame,id,x,y,w,h,flag[,class,...]``):
  rows with flag 0 are left out, and, where column 8 holds MOT16/17/20 classes, every class
  but pedestrian (1); a MOT15 file (column 8 is not a class) is all pedestrians;
- MOTS ground truth (MOTS20 ``gt/gt.txt``, KITTI-MOTS ``instances_txt`` / ``instances``):
  each mask's bounding box, cars and pedestrians (ignore regions, class 10, left out).

Per sequence at most ``identities`` identities seen in two or more frames are kept (drawn
at random with ``rng`` when there are more), each with at most ``views`` rows spread evenly
over its frames; their context crops (:mod:`dior_cli.adapt.crops`) are cut once and kept.
A sequence without frames or without an identity seen twice is reported, never silently
skipped; a dataset with no usable identity at all is an error.

Triplets (:class:`LabelledSampler`): a *group* is one sequence (two identities of one
sequence's ground truth are two objects); each identity drawn gives an anchor view and, as
positive, another of its views (another frame), both plain crops; negatives are the other
identities of the batch from the same sequence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.adapt.crops import cut_context_crops
from dior_cli.adapt.sampling import Batch
from dior_cli.errors import ConfigError, DiorError, FormatError, InputNotFound
from dior_cli.formats.eval_layouts import read_annotation_rows
from dior_cli.formats.layouts import SequenceInfo, discover_sequences
from dior_cli.formats.mot_box_tracks import MOT_PEDESTRIAN, looks_like_box_file, read_box_ground_truth
from dior_cli.masks import bbox_xyxy
from dior_cli.records import CAR, PEDESTRIAN


@dataclass(frozen=True)
class LabelledIdentities:
    """One sequence's ground-truth rows with identities: ``frame`` ``(N,)`` 0-based,
    ``identity`` ``(N,)`` as in the file, ``bbox_xyxy`` ``(N, 4)`` pixels (``x2``/``y2`` exclusive)."""

    frame: np.ndarray
    identity: np.ndarray
    bbox_xyxy: np.ndarray


@dataclass(frozen=True)
class LabelledViews:
    """The kept views of every labelled sequence.

    Attributes:
        contexts: ``(M, Hc, Wc, 3)`` uint8 RGB context crops.
        labels: ``(M,)`` int64 identity, unique over the whole dataset (``0..identities-1``).
        groups: ``(M,)`` int64 index of the view's sequence in ``sequences``.
        sequences: names of the sequences used.
        notes: what was left out and why (sequences without frames or repeated identities).
    """

    contexts: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    sequences: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def identities(self) -> int:
        return int(np.unique(self.labels).size)


def read_identities(seq: SequenceInfo) -> LabelledIdentities | None:
    """The ground-truth rows of ``seq`` usable as identities, or ``None`` when it has no ground truth."""
    if seq.gt_boxes is not None or (seq.gt_txt is not None and looks_like_box_file(seq.gt_txt)):
        return _box_identities(Path(seq.gt_boxes or seq.gt_txt), seq)
    source = seq.gt_txt or seq.gt_png
    if source is None:
        return None
    rows = read_annotation_rows(Path(source), seq.frame_base, num_frames=seq.num_frames, image_size=seq.image_size, sequence=seq.name)
    keep = np.flatnonzero(np.isin(rows.class_id, (CAR, PEDESTRIAN)))
    boxes = bbox_xyxy([rows.rles[i] for i in keep]) if keep.size else np.zeros((0, 4))
    return LabelledIdentities(rows.frame[keep], rows.obj_id[keep], boxes.reshape(-1, 4))


def _box_identities(path: Path, seq: SequenceInfo) -> LabelledIdentities:
    try:
        tracks = read_box_ground_truth(path, num_frames=seq.num_frames, class_column=True)
    except FormatError:  # MOT15: column 8 is a world coordinate, not a class; every row is a pedestrian
        tracks = read_box_ground_truth(path, num_frames=seq.num_frames, class_column=False)
    keep = tracks.considered & (tracks.class_id == MOT_PEDESTRIAN)
    x, y, w, h = (tracks.xywh[keep, k] for k in range(4))
    return LabelledIdentities(tracks.frame[keep], tracks.obj_id[keep], np.stack([x, y, x + w, y + h], axis=1).reshape(-1, 4))


def choose_views(identity: np.ndarray, frame: np.ndarray, *, identities: int, views: int, rng: np.random.Generator) -> np.ndarray:
    """Rows kept: up to ``identities`` identities seen in >= 2 frames, each up to ``views`` rows
    spread evenly over its frames (first and last included), in row order."""
    chosen: list[np.ndarray] = []
    names, inverse = np.unique(identity, return_inverse=True)
    order = np.lexsort((frame, inverse))  # rows grouped by identity, in frame order
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    candidates = [rows for rows in np.split(order, bounds) if names.size and np.unique(frame[rows]).size >= 2]
    if len(candidates) > identities:
        candidates = [candidates[i] for i in np.sort(rng.choice(len(candidates), identities, replace=False))]
    for rows in candidates:
        _, first = np.unique(frame[rows], return_index=True)
        rows = rows[first]  # one row per frame
        picks = np.unique(np.round(np.linspace(0, rows.size - 1, min(views, rows.size))).astype(int))
        chosen.append(rows[picks])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def read_labelled_views(path: str | os.PathLike, crop_size: tuple[int, int], *, identities: int, views: int,
                        rng: np.random.Generator) -> LabelledViews:
    """Find the labelled sequences under ``path`` and cut the views kept (see the module docstring).

    Raises:
        InputNotFound: ``path`` does not exist.
        ConfigError: no sequence gives an identity seen in two frames, with its frames.
        FormatError: a ground-truth file is malformed (the message names it).
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFound("--train-data does not exist", path=path)
    if identities < 1 or views < 2:
        raise ConfigError("adapt.train_data_identities must be at least 1 and adapt.train_data_views at least 2")
    contexts, labels, groups, names, notes = [], [], [], [], []
    for seq in discover_sequences(path):
        found = read_identities(seq)
        if found is None:
            notes.append(f"{seq.name}: no ground truth, not used")
            continue
        if seq.frames_path is None:
            notes.append(f"{seq.name}: ground truth but no frames, not used")
            continue
        rows = choose_views(found.identity, found.frame, identities=identities, views=views, rng=rng)
        if rows.size == 0:
            notes.append(f"{seq.name}: no identity seen in two frames, not used")
            continue
        try:
            crops = cut_context_crops(seq.open_frames(), found.frame[rows], found.bbox_xyxy[rows], crop_size,
                                      total=seq.num_frames, description=f"{seq.name} training crops")
        except ValueError as exc:
            raise FormatError(f"sequence {seq.name}: {exc}", path=seq.frames_path) from None
        _, local = np.unique(found.identity[rows], return_inverse=True)
        offset = int(labels[-1].max()) + 1 if labels else 0
        contexts.append(crops)
        labels.append(local.astype(np.int64) + offset)
        groups.append(np.full(rows.size, len(names), np.int64))
        names.append(seq.name)
    if not names:
        detail = "; ".join(notes) or "no sequence found"
        raise ConfigError(f"--train-data {path}: no sequence with frames and an identity seen in two frames ({detail})")
    return LabelledViews(np.concatenate(contexts), np.concatenate(labels), np.concatenate(groups), tuple(names), tuple(notes))


class LabelledSampler:
    """Batches of ground-truth triplets (see the module docstring); rows index ``LabelledViews.contexts``."""

    def __init__(self, views: LabelledViews, identities: int, max_per_group: int) -> None:
        self.identities, self.max_per_group = identities, max_per_group
        self.rows_of: dict[int, np.ndarray] = {}
        self.labels_of_group: dict[int, np.ndarray] = {}
        for label in np.unique(views.labels).tolist():
            self.rows_of[label] = np.flatnonzero(views.labels == label)
        for group in np.unique(views.groups).tolist():
            self.labels_of_group[group] = np.unique(views.labels[views.groups == group])
        self.group_ids = np.array(sorted(g for g, labels in self.labels_of_group.items() if labels.size >= 2))
        if self.group_ids.size == 0:
            raise DiorError("--train-data: no sequence keeps two identities, so no triplet has a negative")

    def __call__(self, rng: np.random.Generator) -> Batch:
        rows, labels, groups = [], [], []
        g = 0
        while len(labels) < 2 * self.identities:
            group = int(self.group_ids[int(rng.integers(self.group_ids.size))])
            present = self.labels_of_group[group]
            take = min(present.size, self.max_per_group, max(2, self.identities - len(labels) // 2))
            for label in rng.choice(present, take, replace=False).tolist():
                anchor, positive = rng.choice(self.rows_of[label], 2, replace=False).tolist()
                rows += [anchor, positive]
                labels += [label, label]
                groups += [g, g]
            g += 1
        n = len(rows)
        return Batch(rows=np.asarray(rows), strong=np.zeros(n, bool), labels=np.asarray(labels), groups=np.asarray(groups))


class StackedContexts:
    """The target video's context crops followed by the labelled ones, indexed as one array
    (row ``r`` >= ``len(first)`` is row ``r - len(first)`` of ``second``) without copying either."""

    def __init__(self, first: np.ndarray, second: np.ndarray) -> None:
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, row: int) -> np.ndarray:
        return self.first[row] if row < len(self.first) else self.second[row - len(self.first)]


class MixedSampler:
    """ReMOTS's 1:1 mini-batches: a batch of ``target`` (the video's own triplets) and one of
    ``labelled``, built with half the identities each.

    Labelled rows are shifted past the target's ``target_rows`` (see :class:`StackedContexts`);
    their labels and groups are made negative so they never equal a target label or group: no
    target view is ever a labelled view's positive or negative."""

    def __init__(self, target, labelled: LabelledSampler, target_rows: int) -> None:
        self.target, self.labelled, self.target_rows = target, labelled, target_rows

    def __call__(self, rng: np.random.Generator) -> Batch:
        own, other = self.target(rng), self.labelled(rng)
        return Batch(rows=np.concatenate([own.rows, other.rows + self.target_rows]),
                     strong=np.concatenate([own.strong, other.strong]),
                     labels=np.concatenate([own.labels, -1 - other.labels]),
                     groups=np.concatenate([own.groups, -1 - other.groups]))
