"""Thresholds read from the data (ReMOTS sec. 2.3 and 2.5) on samples with known separations.

* ``theta_short`` is mean + k standard deviations of the different-identity similarities,
  worked out here by hand (population standard deviation, as the paper's 3-sigma rule).
* ``best_separation`` falls between the two modes; for samples that do not overlap, strictly
  between the largest "different" and the smallest "same" value; with unequal population
  sizes and overlapping populations too; and no threshold (checked on every value and
  midpoint, the error counted here by hand) separates the populations with fewer errors.
* Edge cases: one population empty, both empty, a single value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dior_cli.association.thresholds import best_separation, histogram, theta_short


def normal(rng: np.random.Generator, mean: float, std: float, n: int) -> np.ndarray:
    return np.clip(rng.normal(mean, std, n), -1.0, 1.0)


def separation_error(different: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Fraction of different pairs called "same" (>= threshold) + fraction of same pairs called
    "different" (< threshold), each population weighing the same; plain Python sums."""
    false_same = sum(1 for v in different.tolist() if v >= threshold) / len(different)
    false_different = sum(1 for v in same.tolist() if v < threshold) / len(same)
    return false_same + false_different


def all_thresholds(different: np.ndarray, same: np.ndarray) -> list[float]:
    """Every threshold that can matter: each value, each midpoint of neighbours, and beyond both ends."""
    values = sorted(set(different.tolist()) | set(same.tolist()))
    mids = [(a + b) / 2 for a, b in zip(values, values[1:])]
    return values + mids + [values[0] - 1.0, values[-1] + 1.0]


# --- theta_short ------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0.0, 1.0, 3.0, 2.5])
def test_theta_short_is_mean_plus_k_std_by_hand(rng, k):
    values = normal(rng, 0.1, 0.05, 2000)
    xs = values.tolist()
    mean = math.fsum(xs) / len(xs)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / len(xs))  # population std
    assert theta_short(values, k) == pytest.approx(mean + k * std, abs=1e-12)


def test_theta_short_three_sigma_holds_almost_all_different_pairs(rng):
    values = normal(rng, 0.1, 0.05, 20000)
    t = theta_short(values, 3.0)
    assert t == pytest.approx(0.25, abs=0.005)
    assert 0.995 <= (values < t).mean() <= 0.9995  # 99.87 % one-sided for a normal distribution


def test_theta_short_small_samples():
    assert theta_short(np.array([0.2, 0.4]), 3.0) == pytest.approx(0.3 + 3 * 0.1)
    assert theta_short(np.array([0.5]), 3.0) == pytest.approx(0.5)  # one value: no spread
    assert theta_short(np.zeros(0), 3.0) == 1.0  # nothing known: only exact duplicates pass


# --- best_separation ----------------------------------------------------------------------------


def test_well_separated_between_max_different_and_min_same(rng):
    different = normal(rng, 0.1, 0.05, 5000)
    same = normal(rng, 0.8, 0.05, 5000)
    t = best_separation(different, same)
    assert different.max() < t < same.min()
    assert 0.1 < t < 0.8
    assert separation_error(different, same, t) == 0.0


def test_unequal_sizes_each_population_weighs_the_same(rng):
    different = normal(rng, 0.1, 0.05, 10000)
    same = normal(rng, 0.8, 0.05, 50)
    t = best_separation(different, same)
    assert different.max() < t < same.min()
    few_different, many_same = different[:50], normal(rng, 0.8, 0.05, 10000)  # the other way round
    assert few_different.max() < best_separation(few_different, many_same) < many_same.min()


def test_overlapping_populations_near_the_crossing(rng):
    # equal spreads, equal weights: the best boundary is where the densities cross, the midpoint 0.45
    different = normal(rng, 0.3, 0.1, 20000)
    same = normal(rng, 0.6, 0.1, 20000)
    assert different.max() > same.min()  # they do overlap
    t = best_separation(different, same)
    assert 0.3 < t < 0.6
    assert t == pytest.approx(0.45, abs=0.03)
    # ~6.7 % of each population is on the wrong side of 0.45 (normal tail at 1.5 sigma)
    assert separation_error(different, same, t) == pytest.approx(2 * 0.0668, abs=0.02)


def test_overlapping_unequal_sizes_still_between_modes(rng):
    different = normal(rng, 0.2, 0.1, 10000)
    same = normal(rng, 0.55, 0.1, 50)
    t = best_separation(different, same)
    assert 0.2 < t < 0.55


def test_unequal_spreads_boundary_moves_towards_the_narrow_population(rng):
    # narrow "different" N(0.2, 0.03) and wide "same" N(0.7, 0.15): the densities cross much
    # nearer to 0.2 than the midpoint 0.45 (about 0.3)
    different = normal(rng, 0.2, 0.03, 20000)
    same = normal(rng, 0.7, 0.15, 20000)
    t = best_separation(different, same)
    assert 0.2 < t < 0.4


@pytest.mark.parametrize("seed", range(4))
def test_no_threshold_separates_better_by_hand(seed):
    rng = np.random.default_rng(seed)
    different = np.round(normal(rng, 0.3, 0.15, 300), 2)  # rounded: many ties
    same = np.round(normal(rng, 0.55, 0.15, 40), 2)
    t = best_separation(different, same)
    best = min(separation_error(different, same, c) for c in all_thresholds(different, same))
    assert separation_error(different, same, t) == pytest.approx(best, abs=1e-12)


def test_threshold_between_adjacent_floats_stays_in_its_interval():
    # 0.0 and the smallest subnormal have no float between them: their midpoint rounds to 0.0,
    # which would call the different pair "same". Found by hypothesis below.
    different, same = np.array([0.0]), np.array([5e-324])
    t = best_separation(different, same)
    assert separation_error(different, same, t) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    different=st.lists(st.floats(-1, 1, allow_nan=False), min_size=1, max_size=30),
    same=st.lists(st.floats(-1, 1, allow_nan=False), min_size=1, max_size=30),
)
def test_best_separation_is_optimal_on_any_samples(different, same):
    d, s = np.array(different), np.array(same)
    t = best_separation(d, s)
    assert math.isfinite(t)
    best = min(separation_error(d, s, c) for c in all_thresholds(d, s))
    assert separation_error(d, s, t) == pytest.approx(best, abs=1e-9)


def test_identical_populations_stay_in_range(rng):
    values = normal(rng, 0.4, 0.1, 1000)
    t = best_separation(values, values.copy())
    assert values.min() <= t <= np.nextafter(values.max(), np.inf)


# --- edge cases ---------------------------------------------------------------------------------


def test_only_same_pairs_threshold_at_smallest_same(rng):
    same = normal(rng, 0.8, 0.05, 100)
    t = best_separation(np.zeros(0), same)
    assert t == same.min()
    assert (same >= t).all()  # every known same pair is still called "same"


def test_only_different_pairs_threshold_just_above_largest_different(rng):
    different = normal(rng, 0.1, 0.05, 100)
    t = best_separation(different, np.zeros(0))
    assert t > different.max() and t == np.nextafter(different.max(), np.inf)
    assert not (different >= t).any()  # no known different pair is called "same"


def test_both_empty():
    assert best_separation(np.zeros(0), np.zeros(0)) == 1.0


def test_single_values():
    assert best_separation(np.array([0.2]), np.array([0.6])) == pytest.approx(0.4)
    t = best_separation(np.array([0.6]), np.array([0.2]))  # upside down: no threshold is right for both
    assert separation_error(np.array([0.6]), np.array([0.2]), t) == 1.0


def test_histogram_counts_every_value():
    h = histogram(np.array([-1.0, -0.5, 0.0, 0.99, 1.0]), bins=4)
    assert len(h["edges"]) == 5 and sum(h["counts"]) == 5
    assert h["counts"] == [1, 1, 1, 2]  # [-1, -0.5) [-0.5, 0) [0, 0.5) [0.5, 1]: the last bin holds 1.0
