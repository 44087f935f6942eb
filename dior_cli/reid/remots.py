"""ReMOTS offline refinement (ReMOTS sec. 2.3 and 2.5), with thresholds read from the data.

Input: the observations of one sequence (each line of the tracks file: frame, object id,
class, unit embedding). Steps:

1. **Different-identity similarities**: cosine similarities between distinct objects of one
   class in the same frame. ``theta_short = mean + sigma_k * std`` of them.
2. **Short-term tracklets**, one of:

   - ``frame_pairs`` given (``--short-term remots``, the default with frames): ReMOTS's
     short-term tracker (:mod:`dior_cli.association.short_term`) links observations of adjacent
     frames by flow-warped mask IoU and appearance, ignoring the input ids;
   - ``link_flow_iou`` given (``--short-term cut``): each input track is cut at every link
     (consecutive observations) whose appearance similarity falls below ``theta_short``, or
     whose masks do not overlap at all once the earlier mask is warped by optical flow;
   - neither (no frames): the input tracks are the tracklets.
3. **Same-identity similarities**: pairs of observations inside one short-term tracklet.
   ``theta_merge`` = where same and different separate best
   (:func:`dior_cli.association.thresholds.best_separation`).
4. **Merging**: constrained agglomerative clustering of the tracklets, eq. 3
   (:mod:`dior_cli.reid.merge`, centroid linkage by default), cut at distance ``1 - theta_merge``.
5. **Ids**: a cluster keeps the id of its earliest tracklet's first input line, unless an
   earlier cluster already took it; then it gets a fresh ``class_id * 1000 + k``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dior_cli.records import mots_obj_id
from dior_cli.reid.line_embeddings import row_dots
from dior_cli.reid.merge import Linkage, Tracklet, cluster_tracklets
from dior_cli.association.similarity_samples import different_identity_similarities, same_identity_similarities
from dior_cli.association.short_term import FramePair, short_term_tracklets
from dior_cli.association.thresholds import best_separation, theta_short



@dataclass(frozen=True)
class RemotsReport:
    """What the refinement found and did (similarity samples kept for plots)."""

    theta_short: float
    theta_merge: float
    tracks_in: int
    short_term_tracklets: int
    cuts_appearance: int
    cuts_flow: int
    merges: int
    tracks_out: int
    short_term: str  # "remots" (the short-term tracker), "cut" (input tracks cut) or "input" (tracks as given)
    short_term_links: int  # links the short-term tracker made (0 unless short_term == "remots")
    different: np.ndarray = field(repr=False)
    same: np.ndarray = field(repr=False)


def track_links(frames: np.ndarray, obj_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive observations of each track: ``(earlier (L,), later (L,))`` row indices."""
    order = np.lexsort((frames, obj_ids))  # by track, then frame
    same_track = obj_ids[order][1:] == obj_ids[order][:-1]
    return order[:-1][same_track], order[1:][same_track]


def refine_remots(
    frames: np.ndarray,
    obj_ids: np.ndarray,
    class_ids: np.ndarray,
    embeddings: np.ndarray,
    *,
    max_gap_frames: int,
    sigma_k: float,
    link_flow_iou: np.ndarray | None = None,
    frame_pairs: list[FramePair] | None = None,
    linkage: Linkage = "centroid",
    seed: int = 0,
) -> tuple[np.ndarray, RemotsReport]:
    """Refine one sequence; return the new object id of every observation and a report.

    Args:
        frames, obj_ids, class_ids: ``(N,)`` per observation (one track line each).
        embeddings: ``(N, D)`` unit rows: an array, or anything that gathers rows by index
            (:class:`dior_cli.reid.line_embeddings.LineEmbeddings`); only rows asked for are read.
        max_gap_frames: theta_t in frames.
        sigma_k: theta_short = mean + sigma_k * std of different-identity similarities.
        link_flow_iou: ``(L,)`` IoU of each link of :func:`track_links` after warping the
            earlier mask by optical flow; NaN where not measured. ``None``: no flow evidence.
        frame_pairs: adjacent-frame warped IoUs (:func:`dior_cli.association.short_term.flow_pairs`):
            tracklets come from the short-term tracker instead (``link_flow_iou`` must be ``None``).
        linkage: ``"centroid"`` or ``"average"`` (:mod:`dior_cli.reid.merge`).
        seed: for the random subsets of similarity pairs.
    """
    rng = np.random.default_rng(seed)
    n = frames.size
    tracks_in = int(np.unique(obj_ids).size)
    different = different_identity_similarities(frames, class_ids, embeddings, rng)
    t_short = theta_short(different, sigma_k)

    if frame_pairs is not None and link_flow_iou is not None:
        raise ValueError("give frame_pairs (short-term tracker) or link_flow_iou (cut the input tracks), not both")
    earlier, later = track_links(frames, obj_ids)
    cut_appearance = np.zeros(earlier.size, bool)
    cut_flow = np.zeros(earlier.size, bool)
    links = 0
    if frame_pairs is not None:
        labels, links = short_term_tracklets(n, class_ids, embeddings, frame_pairs, t_short)
        mode = "remots"
    else:
        if link_flow_iou is not None:
            link_similarity = row_dots(embeddings, earlier, later)
            cut_appearance = link_similarity < t_short
            cut_flow = link_flow_iou == 0  # NaN (not measured) never cuts
        labels = _tracklet_labels(n, obj_ids, earlier, later, cut_appearance | cut_flow)
        mode = "input" if link_flow_iou is None else "cut"

    same = same_identity_similarities(labels, embeddings, rng)
    t_merge = best_separation(different, same)

    by_label = np.argsort(labels, kind="stable")
    members = np.split(by_label, np.flatnonzero(np.diff(labels[by_label])) + 1) if n else []  # K groups of rows
    tracklets = [
        Tracklet(class_id=int(class_ids[m[0]]), frames=np.sort(frames[m]), embedding_sum=embeddings[m].sum(0), count=m.size)
        for m in members
    ]
    cluster_of, merges = cluster_tracklets(tracklets, max_gap_frames=max_gap_frames, max_distance=1.0 - t_merge, linkage=linkage)
    new_ids = _assign_ids(members, cluster_of, tracklets, obj_ids, class_ids, n)
    report = RemotsReport(
        theta_short=t_short, theta_merge=t_merge, tracks_in=tracks_in, short_term_tracklets=len(tracklets),
        cuts_appearance=int(cut_appearance.sum()), cuts_flow=int((cut_flow & ~cut_appearance).sum()), merges=merges,
        tracks_out=int(np.unique(new_ids).size), short_term=mode, short_term_links=links, different=different, same=same,
    )
    return new_ids, report


def _tracklet_labels(n: int, obj_ids: np.ndarray, earlier: np.ndarray, later: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Label observations by short-term tracklet: a track split at every cut link."""
    parent = np.arange(n)
    keep = ~cut
    parent[later[keep]] = earlier[keep]  # each observation points to its predecessor in the tracklet
    labels = parent.copy()
    while True:  # pointer jumping: every observation reaches its tracklet's first one
        jumped = labels[labels]
        if np.array_equal(jumped, labels):
            return labels
        labels = jumped


def _assign_ids(members, cluster_of, tracklets, obj_ids, class_ids, n) -> np.ndarray:
    clusters: dict[int, list[int]] = {}
    for k, c in enumerate(cluster_of.tolist()):
        clusters.setdefault(c, []).append(k)
    next_k: dict[int, int] = {}
    for obj_id, cls in zip(obj_ids.tolist(), class_ids.tolist()):
        k = obj_id % 1000 + 1000 * (obj_id // 100000)  # inverse of mots_obj_id for its class
        next_k[cls] = max(next_k.get(cls, 1), k + 1)
    taken = set(obj_ids.tolist())  # fresh ids never reuse an input id
    used: set[int] = set()
    new_ids = np.zeros(n, dtype=np.int64)
    for c, ks in sorted(clusters.items(), key=lambda item: min(tracklets[k].frames[0] for k in item[1])):
        first = min(ks, key=lambda k: tracklets[k].frames[0])
        candidate = int(obj_ids[members[first][0]])
        if candidate in used:
            cls = tracklets[first].class_id
            while (candidate := mots_obj_id(cls, next_k[cls])) in taken:
                next_k[cls] += 1
            next_k[cls] += 1
        used.add(candidate)
        for k in ks:
            new_ids[members[k]] = candidate
    return new_ids
