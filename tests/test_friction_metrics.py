"""The friction kernel and the metric helpers (Theil index, integration, cross-boundary shares)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from coinnovation_sim.friction import barrier_factor, friction_matrix
from coinnovation_sim.metrics import ends, integration, theil
from coinnovation_sim.places import PlaceData, read_place_table

BARRIERS = (0.2, 0.4, 0.5)


@pytest.fixture(scope="module")
def places() -> PlaceData:
    return PlaceData(read_place_table())


def test_friction_diagonal_is_one(places):
    phi = friction_matrix(places, 60.0, BARRIERS)
    np.testing.assert_allclose(np.diag(phi), 1.0)
    assert ((phi > 0) & (phi <= 1)).all()
    np.testing.assert_allclose(phi, phi.T)


def test_no_barriers_is_pure_distance_decay(places):
    phi = friction_matrix(places, 60.0, (0.0, 0.0, 0.0))
    np.testing.assert_allclose(phi, np.exp(-places.distance_km / 60.0), rtol=1e-12)
    # decreasing in distance
    d = places.distance_km.ravel()
    order = np.argsort(d, kind="stable")
    assert (np.diff(phi.ravel()[order]) <= 1e-15).all()


def test_friction_decreases_with_distance_at_each_level(places):
    phi = friction_matrix(places, 60.0, BARRIERS)
    for lv in (1, 2, 3):
        mask = places.level == lv
        d, f = places.distance_km[mask], phi[mask]
        order = np.argsort(d, kind="stable")
        assert (np.diff(f[order]) <= 1e-15).all(), f"level {lv}"


def test_barriers_multiply_by_level(places):
    phi = friction_matrix(places, 60.0, BARRIERS)
    free = np.exp(-places.distance_km / 60.0)
    factor = {0: 1.0, 1: 0.8, 2: 0.8 * 0.6, 3: 0.8 * 0.6 * 0.5}
    for lv, f in factor.items():
        mask = places.level == lv
        np.testing.assert_allclose(phi[mask], free[mask] * f, rtol=1e-12)
    w, q = places.index("wujiang"), places.index("qingpu")
    assert phi[w, q] < free[w, q]


def test_barrier_multiplier_lever(places):
    p = places.n
    full = friction_matrix(places, 60.0, BARRIERS, np.ones((p, p)))
    np.testing.assert_allclose(full, friction_matrix(places, 60.0, BARRIERS))
    opened = friction_matrix(places, 60.0, BARRIERS, np.zeros((p, p)))
    np.testing.assert_allclose(opened, friction_matrix(places, 60.0, (0.0, 0.0, 0.0)))
    half = barrier_factor(places.level, BARRIERS, np.full((p, p), 0.5))
    assert ((half >= barrier_factor(places.level, BARRIERS)) & (half <= 1.0)).all()


@settings(max_examples=50, deadline=None)
@given(decay=st.floats(1.0, 10_000.0), b=st.tuples(*[st.floats(0.0, 0.99)] * 3))
def test_friction_bounds_any_parameters(places, decay, b):
    phi = friction_matrix(places, decay, b)
    free = friction_matrix(places, decay, (0.0, 0.0, 0.0))
    assert np.isfinite(phi).all()
    assert ((phi >= 0) & (phi <= free + 1e-15)).all()
    np.testing.assert_allclose(np.diag(phi), 1.0)


# ---------------------------------------------------------------- metric helpers


def test_theil_zero_for_equal_values():
    assert theil(np.full(5, 3.7), np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == pytest.approx(0.0, abs=1e-15)
    assert theil(np.array([2.0]), np.array([10.0])) == 0.0
    assert theil(np.array([1.0, 4.0]), np.array([0.0, 0.0])) == 0.0


def test_theil_positive_for_unequal_values():
    x = np.array([1.0, 2.0, 4.0])
    n = np.array([10.0, 10.0, 10.0])
    t = theil(x, n)
    assert t > 0
    mu = x.mean()
    s = x / x.sum()
    assert t == pytest.approx(float((s * np.log(x / mu)).sum()))
    # bounded by ln(number of units) for equal populations
    assert t <= np.log(3)


@settings(max_examples=100, deadline=None)
@given(x=hnp.arrays(np.float64, 6, elements=st.one_of(st.just(0.0), st.floats(1e-6, 1e3))),
       n=hnp.arrays(np.float64, 6, elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e4))))
def test_theil_non_negative_and_scale_invariant(x, n):
    t = theil(x, n)
    assert np.isfinite(t) and t >= 0
    assert theil(3.0 * x, n) == pytest.approx(t, rel=1e-9, abs=1e-12)


def test_integration_capped_and_one_when_free_share_zero():
    s_obs = np.array([0.2, 0.5, 0.9, 0.0, 0.3])
    s_free = np.array([0.4, 0.5, 0.6, 0.0, 0.0])
    out = integration(s_obs, s_free)
    np.testing.assert_allclose(out, [0.5, 1.0, 1.0, 1.0, 1.0])
    assert (out <= 1.0).all() and (out >= 0.0).all()


@settings(max_examples=100, deadline=None)
@given(s=hnp.arrays(np.float64, (2, 8), elements=st.one_of(st.just(0.0), st.floats(1e-12, 1.0))))
def test_integration_in_unit_interval(s):
    out = integration(s[0], s[1])
    assert ((out >= 0) & (out <= 1)).all()


def test_ends_external_and_total():
    m = np.array([[5.0, 1.0, 2.0],
                  [3.0, 7.0, 0.0],
                  [4.0, 0.0, 9.0]])
    ext, tot = ends(m)
    np.testing.assert_allclose(ext, [1 + 2 + 3 + 4, 1 + 3, 2 + 4])
    np.testing.assert_allclose(tot, ext + np.diag(m))
