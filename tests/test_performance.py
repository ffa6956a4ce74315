"""Optimised kernels give the results of the plain formulations (no timing is asserted here).

* PageRank: :func:`coinnovation_sim.metrics.pagerank_matrix` (dense power iteration) equals
  networkx's ``pagerank`` (which the metrics used before) — bit for bit, and so within 1e-12;
* the exact knowledge-gap sums of :mod:`coinnovation_sim.fastmath` equal numpy's;
* switching the kernel timer on (``model.timings = {}``) does not change any result.
"""

from __future__ import annotations

import numpy as np
import pytest

from coinnovation_sim import fastmath
from coinnovation_sim.metrics import flow_network, pagerank, pagerank_matrix, pagerank_networkx
from coinnovation_sim.model import CoinnovationModel
from helpers import SCENARIOS, SMALL_SCENARIO


def random_graphs(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(1, 24))
        w = rng.random((n, n)) * np.exp(rng.normal(0.0, 3.0, (n, n)))
        w *= rng.random((n, n)) < rng.uniform(0.05, 1.0)
        np.fill_diagonal(w, 0.0)
        if n > 2 and rng.random() < 0.4:  # dangling nodes
            w[rng.integers(n, size=int(rng.integers(1, n)))] = 0.0
        if w.sum() > 0:
            yield w


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pagerank_equals_networkx(seed):
    for w in random_graphs(60, seed):
        ours, ref = pagerank_matrix(w), pagerank_networkx(w)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
        assert np.array_equal(ours, ref)  # same operations: identical bits
        assert ours.sum() == pytest.approx(1.0, abs=1e-9)


def test_pagerank_on_model_flows_equals_networkx():
    model = CoinnovationModel({**SMALL_SCENARIO, "extends": str(SCENARIOS / "all-mechanisms.yaml")},
                              steps=6)
    model.run()
    for t in range(6):
        assert np.array_equal(pagerank(model, t), pagerank_networkx(flow_network(model, t)))


def run_arrays(timed: bool):
    sc = {**SMALL_SCENARIO, "extends": str(SCENARIOS / "all-mechanisms.yaml")}
    model = CoinnovationModel(sc, steps=14)
    if timed:
        model.timings = {}
    model.run()
    return model


def test_timing_flag_does_not_change_results():
    plain, timed = run_arrays(False), run_arrays(True)
    assert plain.timings is None
    assert {"talent", "technology", "capital", "innovation", "demography", "metrics",
            "recording", "enclaves", "vouchers", "coordination", "tech_market"} <= set(timed.timings)
    assert all(v >= 0 for v in timed.timings.values())
    assert plain.metric_rows == timed.metric_rows
    assert plain.long_rows == timed.long_rows
    for name in ("flows", "free", "ledger"):
        assert np.array_equal(getattr(plain.book, name), getattr(timed.book, name), equal_nan=True)
    assert np.array_equal(plain.policy_cost, timed.policy_cost)
    assert np.array_equal(plain.firms.knowledge, timed.firms.knowledge)


def test_firm_weights_shared_inside_a_step_are_read_only():
    model = CoinnovationModel(SMALL_SCENARIO, steps=2)
    outside = model.firm_weight()
    assert outside.flags.writeable  # a fresh array outside a step
    seen = []
    orig = model.update_friction

    def spy():
        seen.append(model.firm_weight())
        orig()

    model.update_friction = spy
    model.run()
    assert seen and not seen[0].flags.writeable
    assert model._wf_cache is None


def test_gap_sums_equal_numpy():
    rng = np.random.default_rng(4)
    for n, p, nf in ((1, 16, 8), (37, 16, 8), (500, 3, 5), (64, 7, 12)):
        ref = rng.random((p, nf)) * 5.0
        k = rng.random((n, nf)) * 5.0
        expected = np.maximum(0.0, ref[None, :, :] - k[:, None, :]).sum(axis=2)
        assert np.array_equal(fastmath.gap_sums(ref, k), expected)
