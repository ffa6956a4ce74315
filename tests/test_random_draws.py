"""Compiled draws give numpy's numbers and leave the generator where numpy leaves it."""

from __future__ import annotations

import numpy as np
import pytest

from coinnovation_sim import random_draws


def pair(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    return (np.random.Generator(np.random.PCG64(seed)),
            np.random.Generator(np.random.PCG64(seed)))


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("n", [0, 1, 7, 30_000])
def test_standard_normal_equals_numpy(seed, n):
    ours, ref = pair(seed)
    assert np.array_equal(random_draws.standard_normal(ours, n), ref.standard_normal(n))
    assert ours.random() == ref.random()           # same generator state afterwards


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("shape,scale", [(4.0, 0.25), (0.5, 2.0), (1.0, 1.0), (30.0, 0.1)])
def test_gamma_equals_numpy(seed, shape, scale):
    ours, ref = pair(seed)
    assert np.array_equal(random_draws.gamma(ours, shape, scale, 20_000),
                          ref.gamma(shape, scale, 20_000))
    assert ours.random() == ref.random()
