"""theta_1 of ``dior reid --method dior`` for one sequence: the number given in the config, dior's
fixed 0.7 (the default, ``reid.theta_1_gate`` ``fixed``), or with ``auto``
``min(0.7, mean + theta_1_sigma std)`` of the cosines between distinct same-class track lines of
one frame (the first ``GATE_SAMPLE_FRAMES`` frames holding such a pair;
:mod:`dior_cli.association.thresholds`; the fixed value with fewer than 30 such pairs). Auto is
not the default: over a long video a lowered theta_1 finds chance look-alikes among the many
candidate tracklets and joins distinct objects (README, dior reid)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dior_cli.association.thresholds import first_frames_blocks, intra_frame_statistics, resolve_gate, statistics_report
from dior_cli.config import FIXED_THETA_1, ReidConfig


def long_term_theta_1(cfg: ReidConfig, frames: Iterable[tuple[np.ndarray, Any]]) -> tuple[float, dict[str, Any]]:
    """theta_1 and its report (``value``, ``source``: set / auto / fixed, the intra-frame statistics).

    Args:
        frames: per frame in order, ``(class_ids (K,), embeddings (K, D))`` of its lines (lazy:
            read only when theta_1 is read from the data, and only as far as needed).
    """
    stats = intra_frame_statistics(first_frames_blocks(frames)) if cfg.theta_1 is None and cfg.theta_1_gate == "auto" else None
    gate = resolve_gate(cfg.theta_1, cfg.theta_1_gate, FIXED_THETA_1, stats, cfg.theta_1_sigma)
    return gate.similarity, {"value": round(gate.similarity, 6), "source": gate.source, "gate": cfg.theta_1_gate,
                             "sigma": cfg.theta_1_sigma, "intra_frame": statistics_report(stats)}
