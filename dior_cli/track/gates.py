"""The appearance gates of one sequence's tracking: the online tracker's and, with
``--offline-reid``, DIOR's long-term re-ID's theta_1.

Each gate is a number given in the config, or else (``track.appearance_gates`` ``auto``, the
default; ``reid.theta_1_gate`` ``auto``, not the default: README, dior reid) read from the sequence itself:
``mean + k std`` of the cosines between distinct same-class detections of one frame (the
different-identity distribution, no ground truth needed; :mod:`dior_cli.association.thresholds`),
from the first ``GATE_SAMPLE_FRAMES`` frames holding such a pair, never above dior's fixed
values (which suit OSNet; they are also used with too few pairs). The gates and the rule:

- a match without mask overlap needs ``max-cosine >= g_match = min(0.8, mean + match_gate_sigma
  std)``, i.e. ``match_max_cost = 2 - g_match`` on the cost ``2 - IoM - max-cosine`` (fixed: 1.2);
- short-term retrieval needs ``max-cosine >= min(0.6, mean + retrieval_gate_sigma std)``;
- long-term re-ID joins tracklets whose mean appearances have cosine ``> theta_1 = min(0.7,
  mean + theta_1_sigma std)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli.association.thresholds import (
    IntraFrameStatistics,
    first_frames_blocks,
    intra_frame_statistics,
    resolve_gate,
    statistics_report,
)
from dior_cli.config import FIXED_MATCH_MAX_COST, FIXED_RETRIEVAL_MIN_SIMILARITY, FIXED_THETA_1, ReidConfig, TrackConfig
from dior_cli.formats.detections_json import DetectionStream, frames_in_order


@dataclass(frozen=True)
class TrackGates:
    """Resolved gates (keyword arguments of the tracker and of ``link_tracklets``) and their report."""

    match_max_cost: float
    retrieval_min_similarity: float
    theta_1: float
    report: dict[str, Any]


def track_gates(track: TrackConfig, reid: ReidConfig, frames: Iterable[tuple[np.ndarray, Any]] | None, offline_reid: bool) -> TrackGates:
    """The gates for one sequence.

    Args:
        frames: per frame in order, ``(class_ids (K,), embeddings (K, D))`` of its detections, or
            ``None`` without embeddings (masks alone: no appearance gate applies). Lazy is best:
            it is read only when some gate is read from the data, and only as far as
            :func:`dior_cli.association.thresholds.first_frames_blocks` needs.
    """
    auto = frames is not None and ((track.appearance_gates == "auto" and (track.match_max_cost is None or track.retrieval_min_similarity is None))
                                   or (offline_reid and reid.theta_1_gate == "auto" and reid.theta_1 is None))
    stats: IntraFrameStatistics | None = intra_frame_statistics(first_frames_blocks(frames)) if auto else None
    given_match = None if track.match_max_cost is None else 2.0 - track.match_max_cost
    match = resolve_gate(given_match, track.appearance_gates, 2.0 - FIXED_MATCH_MAX_COST, stats, track.match_gate_sigma)
    retrieval = resolve_gate(track.retrieval_min_similarity, track.appearance_gates, FIXED_RETRIEVAL_MIN_SIMILARITY, stats,
                             track.retrieval_gate_sigma)
    theta_1 = resolve_gate(reid.theta_1, reid.theta_1_gate, FIXED_THETA_1, stats, reid.theta_1_sigma)
    if track.match_max_cost is not None or match.source in ("fixed", "auto-capped"):
        match_max_cost = track.match_max_cost if track.match_max_cost is not None else FIXED_MATCH_MAX_COST
    else:
        match_max_cost = 2.0 - match.similarity
    report: dict[str, Any] = {"appearance": frames is not None}
    if frames is not None:
        report.update({
            "mode": track.appearance_gates, "match_max_cost": round(match_max_cost, 6),
            "match_no_overlap_cosine": round(2.0 - match_max_cost, 6), "retrieval_min_similarity": round(retrieval.similarity, 6),
            "sources": {"match_max_cost": match.source, "retrieval_min_similarity": retrieval.source},
            "intra_frame": statistics_report(stats),
        })
        if offline_reid:
            report.update({"theta_1": round(theta_1.similarity, 6), "theta_1_gate": reid.theta_1_gate})
            report["sources"]["theta_1"] = theta_1.source
    return TrackGates(match_max_cost=match_max_cost, retrieval_min_similarity=retrieval.similarity, theta_1=theta_1.similarity,
                      report=report)


def streamed_frames(path: Path, num_frames: int, embeddings: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(class_ids (K,), embeddings (K, D))`` per frame of a streamed dior JSON, for :func:`track_gates`.

    Its own pass over the start of the file (RLEs not decoded; the tracking pass checks them),
    lazy: it reads only the frames the statistics use, and stops at a frame whose rows run past
    the embeddings' (the tracking pass reports that mismatch).
    """
    for _, first, frame_dets in frames_in_order(DetectionStream(path, check_rles=False).blocks(), num_frames):
        stop = first + len(frame_dets)
        if stop > embeddings.shape[0]:
            return
        yield frame_dets.class_id, embeddings[first:stop]
