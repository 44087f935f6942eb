"""Triplet mini-batches from a video's own detections, without ground truth (ReMOTS Figs. 2, 3).

A batch is a list of *views*: a detection row, whether the view is strongly augmented, a
label (views with one label are the same identity) and a group (views of different labels
in one group are known to be different identities, and only those are negatives).

- **Intra-frame** (sec. 2.2, step 1): a group is one frame and class; each of up to
  ``max_per_group`` of its detections gives two views, the plain box (anchor) and a strong
  augmentation (positive); the other detections of the frame are the negatives (after NMS and
  fusion, two detections of one frame are two objects).
- **Inter-short-tracklet** (sec. 2.4, step 3): a group is one frame and class where two or
  more short-term tracklets are present; each present tracklet gives its detection in that
  frame (anchor, plain) and, as positive, its detection in another frame, chosen at random and
  strongly augmented (a tracklet seen once: an augmentation of the same detection); the
  other tracklets of the frame are the negatives (they overlap in time, so they are distinct).

Groups are drawn at random (``rng``) until the batch holds ``identities`` labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    """Views of one training step, all ``(B,)`` (``B`` about 2 x identities: whole groups of two are kept)."""

    rows: np.ndarray  # detection row of each view
    strong: np.ndarray  # bool: strongly augmented
    labels: np.ndarray  # identity label (a detection row or a tracklet label)
    groups: np.ndarray  # negative group (a group index)


def frame_groups(frames: np.ndarray, class_ids: np.ndarray, labels: np.ndarray | None = None) -> list[np.ndarray]:
    """Rows of each (frame, class) holding two or more distinct labels (rows if ``labels`` is None),
    one row per label (the first)."""
    labels = np.arange(frames.size) if labels is None else labels
    order = np.lexsort((labels, class_ids, frames))
    key = np.stack([frames[order], class_ids[order]], axis=1)  # (N, 2)
    bounds = np.flatnonzero((np.diff(key, axis=0) != 0).any(axis=1)) + 1
    groups = []
    for g in np.split(order, bounds) if frames.size else []:
        _, first = np.unique(labels[g], return_index=True)
        if first.size >= 2:
            groups.append(g[np.sort(first)])
    return groups


class IntraFrameSampler:
    """Step 1 batches (see the module docstring)."""

    def __init__(self, groups: list[np.ndarray], identities: int, max_per_group: int) -> None:
        if not groups:
            raise ValueError("no frame holds two detections of one class: intra-frame triplets need them")
        self.groups, self.identities, self.max_per_group = groups, identities, max_per_group

    def __call__(self, rng: np.random.Generator) -> Batch:
        rows, groups = [], []
        g = 0
        while len(rows) < self.identities:
            members = self.groups[int(rng.integers(len(self.groups)))]
            take = min(members.size, self.max_per_group, max(2, self.identities - len(rows)))
            rows.extend(rng.choice(members, take, replace=False).tolist())
            groups.extend([g] * take)
            g += 1
        r = np.asarray(rows)
        return Batch(rows=np.repeat(r, 2), strong=np.tile([False, True], r.size), labels=np.repeat(r, 2),
                     groups=np.repeat(np.asarray(groups), 2))


class InterTrackletSampler:
    """Step 3 batches (see the module docstring). ``tracklet_of``: ``(N,)`` short-term tracklet label."""

    def __init__(self, frames: np.ndarray, class_ids: np.ndarray, tracklet_of: np.ndarray, identities: int, max_per_group: int) -> None:
        self.groups = frame_groups(frames, class_ids, tracklet_of)
        if not self.groups:
            raise ValueError("no frame holds two short-term tracklets of one class: inter-tracklet triplets need them")
        self.tracklet_of, self.identities, self.max_per_group = tracklet_of, identities, max_per_group
        order = np.argsort(tracklet_of, kind="stable")
        bounds = np.flatnonzero(np.diff(tracklet_of[order])) + 1
        self.members = {int(tracklet_of[m[0]]): m for m in np.split(order, bounds)} if order.size else {}

    def __call__(self, rng: np.random.Generator) -> Batch:
        rows, strong, labels, groups = [], [], [], []
        g = 0
        while len(labels) < 2 * self.identities:
            present = self.groups[int(rng.integers(len(self.groups)))]
            take = min(present.size, self.max_per_group, max(2, self.identities - len(labels) // 2))
            for anchor in rng.choice(present, take, replace=False).tolist():
                label = int(self.tracklet_of[anchor])
                others = self.members[label][self.members[label] != anchor]
                positive = int(rng.choice(others)) if others.size else anchor
                rows += [anchor, positive]
                strong += [False, True]
                labels += [label, label]
                groups += [g, g]
            g += 1
        return Batch(rows=np.asarray(rows), strong=np.asarray(strong), labels=np.asarray(labels), groups=np.asarray(groups))
