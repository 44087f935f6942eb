"""Real pedestrian crops from MOT17-mini ground truth, and the ROC AUC of same-vs-different identity.

Used by ``tests/model/test_osnet.py`` and ``benchmarks/osnet_appearance.py`` /
``benchmarks/embed_speed.py``.

MOTChallenge ``gt/gt.txt`` rows: ``frame, id, bb_left, bb_top, w, h, conf, class, visibility``,
1-based frames and 1-based pixel coordinates. As the MOTChallenge evaluation does, a row counts
as a pedestrian when ``conf == 1`` (considered) and ``class == 1`` (pedestrian); the other
classes (static person, distractor, reflection, vehicles, ...) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

PEDESTRIAN = 1


@dataclass(frozen=True)
class SequenceBoxes:
    """One sequence's ground-truth pedestrians: frame ``k`` holds the rows ``frame == k``."""

    name: str
    images: list[np.ndarray]  # RGB (H, W, 3) uint8, 0-based frame order
    frame: np.ndarray  # (N,) int, 0-based
    identity: np.ndarray  # (N,) int
    boxes_xyxy: np.ndarray  # (N, 4) float, 0-based pixels

    def frame_rows(self, frame: int) -> np.ndarray:
        return np.flatnonzero(self.frame == frame)


def sequence_folders(mot17_mini: Path) -> list[Path]:
    return sorted(p for p in (mot17_mini / "train").iterdir() if (p / "gt" / "gt.txt").is_file())


def load_sequence(folder: Path) -> SequenceBoxes:
    """The frames present in ``img1/`` and the considered pedestrian boxes on them."""
    files = sorted((folder / "img1").glob("*.jpg"))
    images = [cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for f in files]
    gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",", ndmin=2)
    keep = (gt[:, 6] == 1) & (gt[:, 7] == PEDESTRIAN) & (gt[:, 0] >= 1) & (gt[:, 0] <= len(files))
    gt = gt[keep]
    x1, y1 = gt[:, 2] - 1.0, gt[:, 3] - 1.0  # 1-based -> 0-based pixel edges
    boxes = np.stack([x1, y1, x1 + gt[:, 4], y1 + gt[:, 5]], axis=1)
    return SequenceBoxes(folder.name, images, gt[:, 0].astype(int) - 1, gt[:, 1].astype(int), boxes)


def ellipse_masks(boxes_xyxy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``(N, H, W)`` bool: the ellipse inscribed in each box, a pedestrian-shaped proxy mask."""
    height, width = image_size
    masks = np.zeros((len(boxes_xyxy), height, width), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(boxes_xyxy):
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, max((x2 - x1) / 2, 1e-6), max((y2 - y1) / 2, 1e-6)
        c0, c1 = int(np.clip(np.floor(x1), 0, width)), int(np.clip(np.ceil(x2), 0, width))
        r0, r1 = int(np.clip(np.floor(y1), 0, height)), int(np.clip(np.ceil(y2), 0, height))
        xs = np.arange(c0, c1)[None, :] + 0.5  # pixel centres inside the box's window
        ys = np.arange(r0, r1)[:, None] + 0.5
        masks[i, r0:r1, c0:c1] = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    return masks


def cross_frame_pairs(frame: np.ndarray, identity: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and same-identity flag of every pair of rows from different frames."""
    i, j = np.triu_indices(len(frame), k=1)
    across = frame[i] != frame[j]
    i, j = i[across], j[across]
    similarity = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
    return similarity, identity[i] == identity[j]


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney rank formula, ties counted half:
    ``AUC = (R+ - n+ (n+ + 1) / 2) / (n+ n-)`` where ``R+`` is the sum of the positives' ranks
    (1-based, tied scores sharing their average rank) among all scores."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUC needs both classes, got {n_pos} positives and {n_neg} negatives")
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    # runs of equal scores share the mean of the 1-based positions they occupy
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + 1 + end) / 2.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
