"""The compiled place-level matching equals the numpy formulas it replaces, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from coinnovation_sim.matching import match_places
from coinnovation_sim.sampling import normalise_rows, ration


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 3, 9, 16, 17, 40])
def test_match_places_equals_normalise_and_ration(seed, p):
    rng = np.random.default_rng(seed)
    supply = rng.gamma(1.0, 100.0, p) * (rng.random(p) < 0.9)
    phi = rng.random((p, p)) * (rng.random((p, p)) < 0.8)
    attract = rng.gamma(1.0, 1.0, p) * (rng.random(p) < 0.7)
    capacity = rng.gamma(1.0, 30.0, p) * (rng.random(p) < 0.9)
    expect = ration(supply[:, None] * normalise_rows(phi * attract[None, :]), capacity)
    placed, received, sent = match_places(supply, phi, attract, capacity)
    assert np.array_equal(placed, expect)
    assert np.array_equal(received, expect.sum(axis=0))
    assert np.array_equal(sent, expect.sum(axis=1))


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (``-0.0`` differs from ``0.0``)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 3, 16])
def test_talent_and_capital_matching_equal_the_numpy_steps(seed, p):
    from coinnovation_sim.matching import match_capital, match_talent

    rng = np.random.default_rng(seed)
    pool = rng.gamma(1.0, 100.0, p) * (rng.random(p) < 0.9)
    phi, phi_free = rng.random((p, p)), rng.random((p, p))
    capacity = rng.gamma(1.0, 30.0, p) * (rng.random(p) < 0.7)
    pull_a, pull_b = rng.gamma(1.0, 1.0, p), rng.gamma(1.0, 1.0, p)

    # talent.hiring as numpy steps
    seekers = 0.3 * pool
    attract = np.where(capacity > 0, pull_a * pull_b, 0.0)
    hires, hired_at, hired_from = match_places(seekers, phi, attract, capacity)
    fill = np.divide(hired_at, capacity, out=np.zeros(p), where=capacity > 0)
    free = match_places(seekers, phi_free, attract, capacity)[0]
    got_pool = pool.copy()
    got = match_talent(got_pool, 0.3, phi, phi_free, pull_a, pull_b, capacity)
    assert all(same(a, b) for a, b in zip(got, (hires, free, fill), strict=True))
    assert same(got_pool, pool - hired_from)

    # capital.investment as numpy steps
    debt = rng.gamma(1.0, 5.0, (p, p))
    supply = 0.2 * pool
    attract = np.where(capacity > 0, capacity * pull_a, 0.0)
    placed, invested_in, invested_by = match_places(supply, phi, attract, capacity)
    free = match_places(supply, phi_free, attract, capacity)[0]
    got_pool, got_debt = pool.copy(), debt.copy()
    got = match_capital(got_pool, 0.2, phi, phi_free, capacity, pull_a, got_debt)
    assert all(same(a, b) for a, b in zip(got, (placed, free, invested_in), strict=True))
    assert same(got_pool, pool - invested_by)
    assert same(got_debt, debt + placed)
