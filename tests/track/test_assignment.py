"""``gated_hungarian`` against brute force: every one-to-one matching of small random cases.

The contract (its docstring): only allowed pairs are returned; as many allowed pairs as
possible are matched; among those matchings the total cost is the least. The brute force
below enumerates every matching that uses allowed pairs only, so it needs no assignment
solver of its own. Costs lie in [0, 2] (the tracker's ``2 - IoM - cos``); ties are made common
by drawing costs from a few values; forbidden pairs carry ``inf`` or ``nan`` costs too, which
the gate must make irrelevant.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dior_cli.association.assignment import gated_hungarian


def brute_force(cost: np.ndarray, allowed: np.ndarray) -> tuple[int, float]:
    """(most allowed pairs of any matching, least total cost among matchings with that many)."""
    n, m = cost.shape
    best = (0, 0.0)
    for size in range(1, min(n, m) + 1):
        found = None
        for rows in itertools.combinations(range(n), size):
            for cols in itertools.permutations(range(m), size):
                if all(allowed[r, c] for r, c in zip(rows, cols)):
                    total = float(sum(cost[r, c] for r, c in zip(rows, cols)))
                    found = total if found is None else min(found, total)
        if found is None:
            break  # no matching of this size, hence none larger
        best = (size, found)
    return best


def check(cost: np.ndarray, allowed: np.ndarray) -> None:
    rows, cols = gated_hungarian(cost, allowed)
    assert rows.dtype == cols.dtype == np.int64 and rows.shape == cols.shape
    assert len(set(rows.tolist())) == rows.size and len(set(cols.tolist())) == cols.size  # one-to-one
    assert (np.diff(rows) > 0).all()  # in row order
    assert allowed[rows, cols].all()  # never a forbidden pair
    size, least = brute_force(cost, allowed)
    assert rows.size == size
    assert float(cost[rows, cols].sum()) == pytest.approx(least, abs=1e-9)


@pytest.mark.parametrize("seed", range(60))
def test_matches_brute_force_on_random_gated_cases(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 6, size=2)
    if seed % 2:
        cost = rng.choice([0.0, 0.5, 1.0, 1.5, 2.0], size=(n, m))  # many ties
    else:
        cost = rng.uniform(0.0, 2.0, size=(n, m))
    allowed = rng.random((n, m)) < rng.choice([0.3, 0.6, 1.0])
    cost = np.where(allowed | (rng.random((n, m)) < 0.5), cost, rng.choice([np.inf, np.nan]))  # gated pairs: any cost
    check(cost, allowed)


def test_all_ties_still_give_a_complete_matching():
    cost = np.ones((4, 3))
    allowed = np.ones((4, 3), bool)
    check(cost, allowed)
    assert gated_hungarian(cost, allowed)[0].size == 3


def test_more_pairs_win_over_a_cheaper_single_pair():
    # Pairing (0, 0) alone costs 0 but blocks the rest; (0, 1) + (1, 0) costs 4 and matches two.
    cost = np.array([[0.0, 2.0], [2.0, np.inf]])
    allowed = np.array([[True, True], [True, False]])
    rows, cols = gated_hungarian(cost, allowed)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]


def test_a_cheap_forbidden_pair_is_never_taken():
    cost = np.array([[0.0, 1.9], [1.9, 0.0]])
    allowed = np.array([[False, True], [True, True]])
    rows, cols = gated_hungarian(cost, allowed)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
def test_empty_sides_give_no_pairs(shape):
    rows, cols = gated_hungarian(np.zeros(shape), np.zeros(shape, bool))
    assert rows.shape == cols.shape == (0,) and rows.dtype == np.int64


def test_nothing_allowed_gives_no_pairs():
    rows, cols = gated_hungarian(np.zeros((2, 2)), np.zeros((2, 2), bool))
    assert rows.size == cols.size == 0
