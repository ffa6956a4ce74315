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
