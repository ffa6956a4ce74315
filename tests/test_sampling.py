"""Vectorised sampling helpers: apportioning agents, within-place and row-wise draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from coinnovation_sim import sampling
from coinnovation_sim.sampling import SegmentSampler, cumulative_rows, draw_from_rows, normalise_rows
from coinnovation_sim.state import apportion

weights_st = hnp.arrays(np.float64, st.integers(1, 20),
                        elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e4)))


@settings(max_examples=200, deadline=None)
@given(total=st.integers(0, 100_000), weights=weights_st)
def test_apportion_sums_exactly_and_is_proportional(total, weights):
    counts = apportion(total, weights)
    assert counts.dtype.kind == "i"
    assert (counts >= 0).all()
    if weights.sum() <= 0:
        assert counts.sum() == 0
        return
    assert counts.sum() == total
    assert (counts[weights == 0] == 0).all()
    positive = weights > 0
    npos = int(positive.sum())
    if total >= npos:
        # every positive weight gets an agent; the rest is split by largest remainder
        assert (counts[positive] >= 1).all()
        quota = 1 + (total - npos) * weights / weights.sum()
    else:
        quota = total * weights / weights.sum()
    quota = np.where(positive, quota, 0.0)
    assert (np.abs(counts - quota) < 1 + 1e-9).all()
    # monotone: a strictly larger weight never gets fewer agents
    larger = weights[:, None] > weights[None, :]
    assert not (larger & (counts[:, None] < counts[None, :])).any()


def test_apportion_examples():
    assert apportion(10, np.array([1.0, 1.0])).tolist() == [5, 5]
    assert apportion(10, np.array([3.0, 1.0, 0.0])).tolist() == [7, 3, 0]
    assert apportion(0, np.array([1.0, 2.0])).tolist() == [0, 0]
    assert apportion(5, np.zeros(3)).tolist() == [0, 0, 0]
    assert apportion(1, np.array([1.0, 5.0, 2.0])).tolist() == [0, 1, 0]
    assert apportion(1000, np.array([999.0, 1.0])).tolist() == [998, 2]


def test_normalise_rows():
    m = np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])
    out = normalise_rows(m)
    np.testing.assert_allclose(out, [[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]])


segment_case = st.integers(1, 6).flatmap(lambda p: st.tuples(
    st.just(p),
    hnp.arrays(np.int64, st.integers(0, 60), elements=st.integers(0, p - 1)),
)).flatmap(lambda pc: st.tuples(
    st.just(pc[0]), st.just(pc[1]),
    hnp.arrays(np.float64, len(pc[1]), elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e3))),
    hnp.arrays(np.int64, 40, elements=st.integers(-1, pc[0] - 1)),
    hnp.arrays(np.float64, 40, elements=st.floats(0.0, 1.0, exclude_max=True)),
))


@settings(max_examples=300, deadline=None)
@given(case=segment_case)
def test_segment_sampler_stays_in_place_and_skips_zero_weight(case):
    n_places, place, weight, requested, u = case
    sampler = SegmentSampler(place, weight, n_places)
    totals = np.bincount(place, weights=weight, minlength=n_places)
    # place totals are differences of one global cumulative sum: exact up to its rounding
    np.testing.assert_allclose(sampler.place_total(), totals, rtol=1e-9,
                               atol=1e-12 * max(weight.sum(), 1.0))
    drawn = sampler.draw(requested, u)
    assert drawn.shape == requested.shape
    has_weight = (requested >= 0) & (totals[np.maximum(requested, 0)] > 0)
    assert (drawn[~has_weight] == -1).all()
    got = drawn[has_weight]
    assert (got >= 0).all()
    assert (place[got] == requested[has_weight]).all(), "entity drawn from another place"
    assert (weight[got] > 0).all(), "entity with zero weight drawn"


@pytest.mark.parametrize(("place", "weight", "u", "expected"), [
    ([1, 1, 0], [1.0, 0.0, 1.0], 1.0 - 2.0**-53, 0),  # u = the largest Generator.random() value
    ([0, 1, 1], [1e8, 1e-3, 0.0], 1.0 - 1e-7, 1),     # small segment after a large one
], ids=["u-near-one", "small-segment"])
def test_segment_sampler_never_draws_zero_weight_at_segment_end(place, weight, u, expected):
    sampler = SegmentSampler(np.array(place), np.array(weight), 2)
    drawn = sampler.draw(np.array([1]), np.array([u]))
    assert drawn.tolist() == [expected]


def test_segment_sampler_frequencies():
    place = np.array([1, 0, 1, 1, 0])
    weight = np.array([1.0, 0.0, 3.0, 0.0, 2.0])
    sampler = SegmentSampler(place, weight, 3)
    rng = np.random.default_rng(0)
    n = 40_000
    drawn = sampler.draw(np.ones(n, np.int64), rng.random(n))
    freq = np.bincount(drawn, minlength=5) / n
    assert freq[0] == pytest.approx(0.25, abs=0.01)
    assert freq[2] == pytest.approx(0.75, abs=0.01)
    assert freq[1] == freq[3] == freq[4] == 0.0
    assert (sampler.draw(np.zeros(10, np.int64), rng.random(10)) == 4).all()
    assert (sampler.draw(np.full(10, 2), rng.random(10)) == -1).all()  # empty place


def test_segment_sampler_empty_population():
    sampler = SegmentSampler(np.zeros(0, np.int64), np.zeros(0), 3)
    assert (sampler.draw(np.array([0, 1, -1]), np.array([0.1, 0.5, 0.9])) == -1).all()


row_case = st.integers(1, 8).flatmap(lambda p: st.tuples(
    hnp.arrays(np.float64, (30, p), elements=st.one_of(st.just(0.0), st.floats(1e-6, 1e3))),
    hnp.arrays(np.float64, 30, elements=st.floats(0.0, 1.0, exclude_max=True)),
))


@settings(max_examples=200, deadline=None)
@given(case=row_case)
def test_draw_from_rows(case):
    weights, u = case
    prob = normalise_rows(weights)
    idx = draw_from_rows(prob, u)
    zero = prob.sum(axis=1) == 0
    assert (idx[zero] == -1).all(), "an all-zero row must give -1"
    rows = np.flatnonzero(~zero)
    assert ((idx[rows] >= 0) & (idx[rows] < prob.shape[1])).all()
    assert (prob[rows, idx[rows]] > 0).all(), "a zero-probability column was drawn"


def test_draw_from_rows_zero_rows_and_frequencies():
    prob = np.array([[0.0, 0.0, 0.0], [0.2, 0.0, 0.8]])
    u = np.array([0.3, 0.1])
    assert draw_from_rows(prob, u).tolist() == [-1, 0]
    rng = np.random.default_rng(1)
    n = 40_000
    rows = np.repeat(prob[1:], n, axis=0)
    freq = np.bincount(draw_from_rows(rows, rng.random(n)), minlength=3) / n
    assert freq[0] == pytest.approx(0.2, abs=0.01) and freq[1] == 0.0


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bytes."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _normalise_numpy(mat: np.ndarray) -> np.ndarray:
    """The numpy ``normalise_rows``."""
    tot = mat.sum(axis=1, keepdims=True)
    out = np.zeros_like(mat)
    np.divide(mat, tot, out=out, where=tot > 0)
    return out


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (16, 16), (7, 8), (5, 9), (40, 127), (4, 128),
                                   (3, 129), (2, 300), (1, 1000), (200, 16)])
def test_normalised_rows_equal_numpy(shape):
    rng = np.random.default_rng(sum(shape))
    for trial in range(5):
        mat = rng.lognormal(0.0, 3.0, shape) * (rng.random(shape) < 0.7)
        mat[0] = 0.0 if trial == 1 else mat[0]                # a row summing to zero
        if trial == 2:
            mat *= np.where(rng.random(shape) < 0.2, -1.0, 1.0)  # negative sums stay zero
        assert _same(sampling.normalised_rows(mat), _normalise_numpy(mat))
        assert _same(normalise_rows(mat), _normalise_numpy(mat))


def test_normalise_rows_falls_back_to_numpy_for_other_layouts():
    rng = np.random.default_rng(3)
    mat = rng.random((16, 16))
    for m in (mat.T, mat[:, ::2], mat.astype(np.float32), np.zeros((4, 0))):
        assert _same(normalise_rows(m), _normalise_numpy(m))


def test_cumulative_rows_are_the_running_sums_of_draw_rows():
    rng = np.random.default_rng(4)
    prob = rng.random((30, 16)) * (rng.random((30, 16)) < 0.6)
    assert _same(cumulative_rows(prob), np.cumsum(prob, axis=1))


def test_segment_sampler_from_arrays_draws_as_built():
    from coinnovation_sim.kernels import segment_sampler_arrays

    rng = np.random.default_rng(2)
    place, weight = rng.integers(0, 4, 200), rng.random(200) * (rng.random(200) < 0.7)
    built = SegmentSampler(place, weight, 4)
    given = SegmentSampler.from_arrays(*segment_sampler_arrays(place, weight, 4))
    assert all(_same(a, b) for a, b in zip(given.arrays(), built.arrays(), strict=True))
    want, u = rng.integers(-1, 4, 500), rng.random(500)
    assert _same(given.draw(want, u), built.draw(want, u))
