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
"""

from __future__ import annotations

from dataclasses import dataclass

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
