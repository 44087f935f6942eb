"""Thresholds read from the data (ReMOTS sec. 2.3 and 2.5).

Two populations of cosine similarities are available without any ground truth:

- *different identities*: pairs of distinct objects in the same frame (two objects visible
  at once are never one identity);
- *same identity*: pairs of observations inside one (short-term) tracklet.

``theta_short`` = mean + k standard deviations of the different-identity similarities
(ReMOTS: the intra-frame histogram is close to normal, 3 sigma hold 99.7 % of it).
``theta_merge`` = the similarity where the two populations separate best: the threshold
minimising the fraction of different-identity pairs above it plus the fraction of
same-identity pairs below it (each population weighs the same, whatever its size).

*Appearance gates* of the online tracker and of DIOR's long-term re-ID are read from the first
population alone, the way theta_short is (:func:`intra_frame_statistics`,
:func:`appearance_gate`): ``gate = mean + k * std`` of the different-identity cosines of the
first ``GATE_SAMPLE_FRAMES`` frames holding a pair (:func:`first_frames_blocks`), one ``k``
per gate, so the gates follow the encoder (OSNet puts different people near 0.5, an encoder
adapted to the video lower, a synthetic one near 0). The tracker compares a detection with
the *best* of a track's stored embeddings, whose different-identity tail is higher than a
single pair's: the ``k`` of each gate absorbs that, and was chosen by measurement
(``benchmarks/appearance_gates.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SimilaritySamples:
    """Cosine similarities of pairs known to be different (intra-frame) and the same (intra-tracklet)."""

    different: np.ndarray
    same: np.ndarray


def theta_short(different: np.ndarray, sigma_k: float) -> float:
    """``mean + sigma_k * std`` of different-identity similarities (1.0 when there are none:
    then nothing is known, and only exact duplicates would pass)."""
    if different.size == 0:
        return 1.0
    return float(np.mean(different) + sigma_k * np.std(different))


def best_separation(different: np.ndarray, same: np.ndarray) -> float:
    """The similarity threshold that best separates the two populations (see module docstring).

    Pairs at or above the threshold count as "same". The error only changes at observed
    values; the threshold returned is the middle of the lowest interval of least error
    (between the last pair called "different" and the first called "same"). With one population missing, the threshold
    sits just outside the other (nothing can be learnt about the boundary).
    """
    if different.size == 0 and same.size == 0:
        return 1.0
    if different.size == 0:
        return float(np.min(same))
    if same.size == 0:
        return float(np.nextafter(np.max(different), np.inf))
    diff_sorted = np.sort(different)
    same_sorted = np.sort(same)
    values = np.unique(np.concatenate([different, same]))  # (C,)
    candidates = np.append(values, np.nextafter(values[-1], np.inf))  # (C+1,) the last: "all different"
    # For a threshold t in (candidates[k-1], candidates[k]] the error is that of candidates[k]:
    # error = P(different >= t) + P(same < t).
    different_above = 1.0 - np.searchsorted(diff_sorted, candidates, side="left") / diff_sorted.size
    same_below = np.searchsorted(same_sorted, candidates, side="left") / same_sorted.size
    k = int(np.argmin(different_above + same_below))  # the lowest best interval
    if k == 0:
        return float(candidates[0])
    low, high = float(candidates[k - 1]), float(candidates[k])
    middle = (low + high) / 2
    return middle if middle > low else high  # adjacent floats: the midpoint rounds onto low, outside (low, high]


def histogram(values: np.ndarray, bins: int = 50) -> dict[str, list[float]]:
    """Counts of ``values`` in ``bins`` equal bins over [-1, 1] (for reports and plots)."""
    counts, edges = np.histogram(values, bins=bins, range=(-1.0, 1.0))
    return {"edges": edges.tolist(), "counts": counts.astype(int).tolist()}


@dataclass(frozen=True)
class IntraFrameStatistics:
    """Mean and standard deviation (population, ``ddof = 0``) of the cosine of every pair of
    same-class detections sharing a frame: the different-identity distribution, read without
    any ground truth (distinct objects of one frame are never one identity).

    Attributes:
        mean, std: of the ``pairs`` cosines (NaN when ``pairs`` is 0).
        pairs: pairs seen.
        blocks: blocks (one frame's detections of one class) that gave at least one pair.
    """

    mean: float
    std: float
    pairs: int
    blocks: int


def intra_frame_statistics(blocks: Iterable[np.ndarray]) -> IntraFrameStatistics:
    """Different-identity cosine statistics of per-frame embedding blocks.

    Args:
        blocks: each ``(n_b, D)`` unit rows, the detections of one class in one frame (any
            array-like; a block of fewer than two rows gives no pair). Consumed once, one block
            at a time: memory holds one block and its ``(n_b, n_b)`` Gram matrix, whatever the
            number of blocks. Each block's mean and squared deviations are merged into the
            running ones in float64 (Chan et al.'s pairwise update), so no sample is kept and the
            result does not depend on how the pairs fall into blocks (up to rounding).

    Every unordered pair ``i < j`` of a block counts once; blocks with many detections weigh
    more (they hold more pairs), as in ReMOTS's intra-frame histogram.
    """
    count, mean, m2, used = 0, 0.0, 0.0, 0
    for block in blocks:
        rows = np.asarray(block, dtype=np.float64)  # (n, D)
        n = rows.shape[0]
        if n < 2:
            continue
        cosines = (rows @ rows.T)[np.triu_indices(n, k=1)]  # (n (n - 1) / 2,)
        b_count, b_mean = cosines.size, float(cosines.mean())
        b_m2 = float(np.sum((cosines - b_mean) ** 2))
        total = count + b_count
        delta = b_mean - mean
        mean += delta * b_count / total
        m2 += b_m2 + delta * delta * count * b_count / total
        count, used = total, used + 1
    if count == 0:
        return IntraFrameStatistics(mean=float("nan"), std=float("nan"), pairs=0, blocks=0)
    return IntraFrameStatistics(mean=mean, std=float(np.sqrt(m2 / count)), pairs=count, blocks=used)


GATE_SAMPLE_FRAMES = 200
"""Frames holding a same-class pair whose pairs give the auto gates' statistics (the first ones)."""


def first_frames_blocks(frames: Iterable[tuple[np.ndarray, Any]], max_frames: int = GATE_SAMPLE_FRAMES) -> Iterator[np.ndarray]:
    """The per-class embedding blocks of the first ``max_frames`` frames that hold at least one
    pair of same-class detections, for :func:`intra_frame_statistics`.

    Args:
        frames: per frame, in frame order, ``(class_ids (K,), embeddings (K, D))`` (any
            row-indexable array; a lazy iterable is consumed only as far as needed, so a stream
            is read up to the last frame used and no further).

    A prefix, not a spread sample: one pass over the start of a stream gives it, before the
    tracker's first frame, and the file read whole gives the same frames.
    """
    used = 0
    if max_frames <= 0:
        return
    for class_ids, embeddings in frames:
        class_ids = np.asarray(class_ids)
        classes, counts = np.unique(class_ids, return_counts=True)
        paired = classes[counts >= 2]
        if paired.size == 0:
            continue
        for cls in paired.tolist():
            yield np.asarray(embeddings[np.flatnonzero(class_ids == cls)])
        used += 1
        if used >= max_frames:
            return


MIN_GATE_PAIRS = 30
"""Fewest intra-frame pairs from which a gate is read; with fewer the fixed value is used."""
MIN_GATE_STD = 0.02
"""A smaller std (degenerate or synthetic embeddings, e.g. exactly orthogonal ones) counts as this,
so that a gate with ``k > 0`` always sits above the different-identity mean itself."""


def appearance_gate(stats: IntraFrameStatistics, sigma_k: float, ceiling: float = 1.0) -> float | None:
    """``min(mean + sigma_k * max(std, MIN_GATE_STD), ceiling)`` of the different-identity
    cosines, or ``None`` (use the fixed value) when fewer than :data:`MIN_GATE_PAIRS` pairs were seen."""
    if stats.pairs < MIN_GATE_PAIRS:
        return None
    return float(min(stats.mean + sigma_k * max(stats.std, MIN_GATE_STD), ceiling))


@dataclass(frozen=True)
class Gate:
    """A similarity gate and where it came from: ``set`` (a number in the config), ``auto``
    (``mean + k std`` of the intra-frame cosines), ``auto-capped`` (that rule reached the fixed
    value, which is used) or ``fixed`` (asked for, or too few pairs)."""

    similarity: float
    source: str


def resolve_gate(given: float | None, mode: str, fixed: float, stats: IntraFrameStatistics | None, sigma_k: float) -> Gate:
    """A number given wins; else, with ``mode`` ``"auto"`` and enough pairs,
    ``min(fixed, mean + sigma_k std)`` (:func:`appearance_gate` with the fixed value as ceiling);
    else ``fixed``.

    The fixed values are the gates known to work for the encoder whose identities look most alike
    (OSNet); read from the data, a gate only ever opens below them, for encoders whose distinct
    objects look less alike. It never closes above them: a broad different-identity distribution
    (an embedding head trained briefly: std about 0.5) would otherwise push ``mean + k std`` past
    every true match and switch appearance off (``tests/test_end_to_end.py`` measured that:
    IDF1 0.59 -> 0.50 on its trained detections without the ceiling)."""
    if given is not None:
        return Gate(float(given), "set")
    if mode == "auto" and stats is not None:
        value = appearance_gate(stats, sigma_k, ceiling=fixed)
        if value is not None:
            return Gate(value, "auto" if value < fixed else "auto-capped")
    return Gate(float(fixed), "fixed")


def statistics_report(stats: IntraFrameStatistics | None) -> dict | None:
    """The statistics as plain numbers for a summary (``None`` when none were read)."""
    if stats is None:
        return None
    nan = stats.pairs == 0
    return {"mean": None if nan else round(stats.mean, 6), "std": None if nan else round(stats.std, 6),
            "pairs": stats.pairs, "blocks": stats.blocks}
