"""Compiled draws give numpy's numbers and leave the generator where numpy leaves it."""

from __future__ import annotations

import numpy as np
import pytest

from coinnovation_sim import random_draws

SEEDS = [0, 1, 2, 3, 12345, 2**63 + 7, 98765432109876543210]
SIZES = [0, 1, 3, 4, 5, 7, 100, 25_000]


def pair(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    return (np.random.Generator(np.random.PCG64(seed)),
            np.random.Generator(np.random.PCG64(seed)))


def same_state(ours: np.random.Generator, ref: np.random.Generator) -> bool:
    """The whole bit generator state (including the buffered 32-bit half) is the same."""
    return ours.bit_generator.state == ref.bit_generator.state and ours.random() == ref.random()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_standard_normal_equals_numpy(seed, n):
    ours, ref = pair(seed)
    assert np.array_equal(random_draws.standard_normal(ours, n), ref.standard_normal(n))
    assert same_state(ours, ref)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_gamma_of_the_quit_noise_equals_numpy(seed, n):
    ours, ref = pair(seed)
    assert np.array_equal(random_draws.gamma(ours, 4.0, 0.25, n), ref.gamma(4.0, 0.25, n))
    assert same_state(ours, ref)


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("shape,scale", [(4.0, 0.25), (0.5, 2.0), (1.0, 1.0), (30.0, 0.1),
                                         (1.0000001, 3.0), (2.5, 0.0)])
def test_gamma_equals_numpy(seed, shape, scale):
    ours, ref = pair(seed)
    assert np.array_equal(random_draws.gamma(ours, shape, scale, 20_000),
                          ref.gamma(shape, scale, 20_000))
    assert same_state(ours, ref)


def test_many_seeds_and_interleaved_calls():
    """Compiled and numpy draws interleave on one generator as numpy's own calls would."""
    for seed in range(40):
        ours, ref = pair(seed)
        ours.integers(0, 2**32, dtype=np.uint32)       # a buffered 32-bit half (has_uint32)
        ref.integers(0, 2**32, dtype=np.uint32)
        for n in (1, 257, 3000):
            assert np.array_equal(random_draws.gamma(ours, 4.0, 0.25, n), ref.gamma(4.0, 0.25, n))
            assert np.array_equal(ours.random(n), ref.random(n))
            assert np.array_equal(random_draws.standard_normal(ours, n), ref.standard_normal(n))
        assert same_state(ours, ref)
        assert ours.integers(0, 2**32, dtype=np.uint32) == ref.integers(0, 2**32, dtype=np.uint32)


def test_other_bit_generators_use_numpy():
    ours, ref = (np.random.Generator(np.random.Philox(5)) for _ in range(2))
    assert np.array_equal(random_draws.gamma(ours, 4.0, 0.25, 50), ref.gamma(4.0, 0.25, 50))
    assert np.array_equal(random_draws.standard_normal(ours, 50), ref.standard_normal(50))
    assert ours.random() == ref.random()
