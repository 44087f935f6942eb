"""ReMOTS's short-term tracker (sec. 2.3, eqs. 1-2): link observations of adjacent frames only.

Between frames t-1 and t (0-based), every mask of t-1 is warped into t by dense optical flow
(:mod:`dior_cli.association.flow`) and compared with every mask of t by IoU. The distance of a pair
is ``1 - cos`` of their unit embeddings (eq. 1), made infinite where the warped IoU is 0
(eq. 1), where the cosine similarity is below ``theta_short`` (eq. 2: distance above
``1 - theta_short``) or where the classes differ. A linear assignment (the gated Hungarian
of :mod:`dior_cli.association.assignment`: as many allowed pairs as possible, then the least total
distance) links pairs; an observation of t left unmatched starts a new tracklet, and a
tracklet whose object is missing at t ends: short-term tracklets never bridge a gap.

The tracker ignores any ids its input had. ``theta_short`` is read from the data (mean + 3 std
of intra-frame similarities, :func:`dior_cli.association.thresholds.theta_short`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dior_cli.association.assignment import gated_hungarian
from dior_cli.console import track_progress
from dior_cli.masks import Rle, iou_matrix
from dior_cli.association.flow import backward_flow, check_frame_size, warp_masks


@dataclass(frozen=True)
class FramePair:
    """Observations of frames t-1 and t and the IoU of each warped earlier mask with each later one.

    Attributes:
        frame: t (0-based).
        earlier: ``(P,)`` row indices of the observations at t-1.
        later: ``(C,)`` row indices at t.
        iou: ``(P, C)`` IoU of the t-1 mask warped into t with the t mask.
    """

    frame: int
    earlier: np.ndarray
    later: np.ndarray
    iou: np.ndarray


def rows_by_frame(frames: np.ndarray) -> dict[int, np.ndarray]:
    """Row indices of each frame's observations, in row order."""
    order = np.argsort(frames, kind="stable")
    bounds = np.flatnonzero(np.diff(frames[order])) + 1
    return {int(frames[g[0]]): g for g in np.split(order, bounds)} if frames.size else {}


def flow_pairs(frames: np.ndarray, rles: Sequence[Rle], images: Iterable[tuple[int, np.ndarray]], *, scale: float = 0.5,
               total: int | None = None, description: str = "flow", sequence: str | None = None) -> list[FramePair]:
    """The :class:`FramePair` of every t whose frames t-1 and t both hold observations.

    Frame t-1's masks are warped together (:func:`dior_cli.association.flow.warp_masks`); only the
    previous image is held, and masks stay RLE.

    Args:
        frames: ``(N,)`` 0-based frame of each observation.
        rles: ``N`` masks, in the frames' size.
        images: ``(frame, RGB (H, W, 3) uint8)`` in frame order (a frame source).
        scale: resolution factor of the optical flow (see :func:`dior_cli.association.flow.backward_flow`).
        total: number of frames, for the progress bar.
        sequence: named in the error when a frame's size differs from the masks'.

    Raises:
        AlignmentError: a frame is not the size of the masks.
    """
    by_frame = rows_by_frame(frames)
    wanted = {t for t in by_frame if t - 1 in by_frame}
    last = max(wanted, default=-1)
    pairs: list[FramePair] = []
    previous: tuple[int, np.ndarray] | None = None
    if last < 0:
        return pairs
    for frame, image in track_progress(images, description, total=total):
        if frame in wanted and previous is not None and previous[0] == frame - 1:
            earlier, later = by_frame[frame - 1], by_frame[frame]
            check_frame_size(image.shape[:2], [rles[i] for i in later.tolist()], sequence=sequence, frame=frame)
            flow = backward_flow(previous[1], image, scale)  # (H, W, 2)
            warped = warp_masks([rles[i] for i in earlier.tolist()], flow)
            pairs.append(FramePair(frame, earlier, later, iou_matrix(warped, [rles[i] for i in later.tolist()])))
        previous = (frame, image)
        if frame >= last:
            break
    return pairs


def short_term_tracklets(num_rows: int, class_ids: np.ndarray, embeddings: np.ndarray, pairs: Iterable[FramePair],
                         theta_short: float) -> tuple[np.ndarray, int]:
    """Link adjacent-frame observations; return ``(tracklet label per row (N,), links made)``.

    A label is the row index of the tracklet's first observation. Rows that are in no pair
    (or are not matched) are tracklets of their own.

    Args:
        num_rows: N, the number of observations.
        class_ids: ``(N,)`` class of each.
        embeddings: ``(N, D)`` unit rows.
        pairs: from :func:`flow_pairs`, in increasing frame order.
        theta_short: least cosine similarity of a link.
    """
    labels = np.arange(num_rows)
    links = 0
    for pair in sorted(pairs, key=lambda p: p.frame):
        p, c = pair.earlier, pair.later
        if p.size == 0 or c.size == 0:
            continue
        similarity = embeddings[p].astype(np.float64) @ embeddings[c].astype(np.float64).T  # (P, C)
        allowed = (pair.iou > 0) & (similarity >= theta_short) & (class_ids[p][:, None] == class_ids[c][None, :])
        rows, cols = gated_hungarian(1.0 - similarity, allowed)
        labels[c[cols]] = labels[p[rows]]
        links += int(rows.size)
    return labels, links
