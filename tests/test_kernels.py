"""Compiled kernels: correct against plain numpy, and identical with and without compilation."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import yaml

import reference_kernels
from coinnovation_sim import kernels
from coinnovation_sim.knowledge import absorptive_capacity, cosine_to_pools, learning_efficiency
from helpers import SCENARIOS, cli_command, cli_env


def _data(seed: int = 1, n: int = 300, p: int = 5, nf: int = 4):
    rng = np.random.default_rng(seed)
    k = rng.lognormal(0, 1, (n, nf))
    k[3] = 0.0                                   # a firm with no knowledge
    place = rng.integers(0, p, n)
    weight = rng.uniform(0.5, 3.0, n)
    weight[rng.random(n) < 0.2] = 0.0            # dead slots
    pools = rng.lognormal(0, 1, (p, nf))
    psi = rng.random((p, p))
    psi /= psi.sum(axis=1, keepdims=True)
    return k, place, weight, pools, psi


def test_group_sums_equal_numpy_in_row_order():
    k, place, weight, _, _ = _data()
    expect = np.zeros((5, k.shape[1]))
    np.add.at(expect, place, k)                  # unbuffered, in index order: the same order
    assert np.array_equal(kernels.group_rows(place, k, 5), expect)
    alive = np.random.default_rng(3).random(len(place)) < 0.8
    total, count = kernels.group_weighted_rows(place, alive, weight, k, 5, True)
    w = np.where(alive, weight, 0.0)
    w_expect = np.zeros((5, k.shape[1]))
    np.add.at(w_expect, place[w > 0], (w[:, None] * k)[w > 0])
    assert np.array_equal(total, w_expect)
    assert np.array_equal(count, np.bincount(place, weights=w, minlength=5))


@pytest.mark.parametrize("nf", [3, 8])
@pytest.mark.parametrize("skip_zero", [True, False])
@pytest.mark.parametrize("sort", [True, False])
def test_grouped_weighted_rows_keep_numpys_order_and_signs(nf, skip_zero, sort):
    """The 8-column loop (sums carried in registers through runs of a group) and the general
    loop both add in row order: the same bits as ``add.at``, signed zeros and NaN included."""
    rng = np.random.default_rng(nf)
    n, p = 3000, 7
    k = rng.lognormal(0, 1, (n, nf))
    k[rng.random((n, nf)) < 0.05] = -0.0
    k[rng.random((n, nf)) < 0.05] = 0.0
    k[17, 2] = np.nan
    k[23, 1] = np.inf
    place = rng.integers(0, p, n)
    if sort:                                     # long runs of one group, as firms mostly are
        place = np.sort(place)
        place[rng.random(n) < 0.2] = rng.integers(0, p)
    weight = rng.uniform(0.5, 3.0, n)
    weight[rng.random(n) < 0.1] = 0.0
    weight[rng.random(n) < 0.05] = -0.0
    alive = rng.random(n) < 0.85
    total, count = kernels.group_weighted_rows(place, alive, weight, k, p, skip_zero)
    use = alive & (weight != 0) if skip_zero else alive
    w_expect = np.zeros((p, nf))
    np.add.at(w_expect, place[use], weight[use, None] * k[use])
    c_expect = np.zeros(p)
    np.add.at(c_expect, place[use], weight[use])
    assert np.array_equal(total, w_expect, equal_nan=True)
    assert np.array_equal(np.signbit(total), np.signbit(w_expect))
    assert np.array_equal(count, c_expect)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_grouped_rows_of_8_in_any_memory_layout(layout):
    """The vector rows of the 8-column sums read C-contiguous rows whole, others by element."""
    rng = np.random.default_rng(5)
    n, p = 500, 4
    k = rng.lognormal(0, 1, (n, 16))[:, ::2] if layout == "strided" else rng.lognormal(0, 1, (n, 8))
    if layout == "F":
        k = np.asfortranarray(k)
    place = rng.integers(0, p, n)
    weight = rng.uniform(0.5, 3.0, n)
    alive = rng.random(n) < 0.9
    total, count = kernels.group_weighted_rows(place, alive, weight, k, p, True)
    expect = np.zeros((p, 8))
    np.add.at(expect, place[alive], weight[alive, None] * k[alive])
    assert np.array_equal(total, expect)
    assert np.array_equal(count, np.bincount(place[alive], weights=weight[alive], minlength=p))


def test_pool_means_equal_the_numpy_formula():
    rng = np.random.default_rng(8)
    n, ni, p = 4000, 50, 6
    k = rng.lognormal(0, 1, (n, 8))
    k[rng.random((n, 8)) < 0.05] = -0.0
    place = np.sort(rng.integers(0, p - 1, n))   # the last place has no firm
    weight = rng.uniform(0.5, 3.0, n)
    alive = rng.random(n) < 0.85
    ik = rng.lognormal(0, 1, (ni, 8))
    iplace = rng.integers(0, p - 2, ni)          # nor institute (and place p - 2 no institute)
    iweight = rng.uniform(0.5, 3.0, ni)
    iweight[:5] = 0.0
    tf, cf = kernels.group_weighted_rows(place, alive, weight, k, p, True)
    ti, ci = kernels.group_weighted_rows(iplace, np.ones(ni, np.bool_), iweight, ik, p, True)
    total, cnt = tf + ti, cf + ci
    expect = np.divide(total, cnt[:, None], out=np.zeros_like(total), where=cnt[:, None] > 0)
    got = kernels.pool_means(place, alive, weight, k, iplace, iweight, ik, p)
    assert np.array_equal(got, expect)
    assert np.array_equal(np.signbit(got), np.signbit(expect))
    assert not got[p - 1].any()


def test_spillover_pass_matches_the_numpy_formula():
    k, place, weight, pools, psi = _data()
    rate, half, vwan, eps = 0.05, 2.0, 3.0, 1e-12
    # the model's formula in plain numpy (different summation order: equal to rounding)
    eff = learning_efficiency(1.0 - np.clip(cosine_to_pools(k, pools), 0.0, 1.0))
    w = psi[place] * eff
    learn = np.maximum(0.0, w @ pools - w.sum(axis=1)[:, None] * k)
    learn *= (rate * absorptive_capacity(k.sum(axis=1), half))[:, None]
    learn[weight == 0] = 0.0
    value = vwan * learn.sum(axis=1) * weight
    got_k = k.copy()
    got_value, sums = kernels.spillover_pass(got_k, place, weight > 0, weight, pools, psi, rate,
                                             half, vwan, eps)
    np.testing.assert_allclose(got_k, k + learn, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_value, value, rtol=1e-12, atol=1e-14)
    onehot = np.eye(5)[place].T
    np.testing.assert_allclose(sums[:, :5], onehot @ (value[:, None] * eff), rtol=1e-12)
    np.testing.assert_allclose(sums[:, 5], onehot @ value, rtol=1e-12)
    np.testing.assert_allclose(sums[:, 6], onehot @ (weight * k.sum(axis=1)), rtol=1e-12)
    np.testing.assert_allclose(sums[:, 7], onehot @ weight, rtol=1e-12)
    assert (got_k >= k).all() and np.array_equal(got_k[weight == 0], k[weight == 0])


def _spill_case(rng: np.random.Generator, n: int, p: int, nf: int = 8, sort: bool = True):
    """Random spillover inputs: dead slots, empty firms and pools, ties and exact cosines of 1."""
    k = rng.lognormal(0, 1, (n, nf)) * (rng.random((n, nf)) < 0.8)
    k[rng.random(n) < 0.05] = 0.0
    if rng.random() < 0.3:
        k = np.round(k)
    place = rng.integers(0, p, n)
    if sort:
        place.sort()
    alive = rng.random(n) < rng.uniform(0.3, 1.0)
    weight = np.where(alive, rng.uniform(0.5, 3.0, n), 0.0)
    weight.flags.writeable = False
    pools = rng.lognormal(0, 1, (p, nf))
    pools[rng.random(p) < 0.2] = 0.0
    copy = rng.random(n) < 0.1                   # firms parallel to their own place's pool
    k[copy] = 3.0 * pools[place[copy]]
    psi = rng.random((p, p))
    psi /= psi.sum(axis=1, keepdims=True)
    return k, place, alive, weight, pools, psi


@pytest.mark.parametrize("p", [1, 3, 7, 8, 9, 16, 17, 33])
def test_spillover_blocks_equal_the_firm_by_firm_loop(p):
    """The 8-field block kernel gives the same bits as the reference loop (any place count)."""
    rng = np.random.default_rng(p)
    for n, sort, eps in [(0, True, 1e-12), (1, True, 1e-12), (63, True, 1e-12), (64, False, 1e-12),
                         (65, True, 1.0), (300, True, 1e-12), (300, False, 1e-12),
                         (1000, True, 1e-12)]:
        k, place, alive, weight, pools, psi = _spill_case(rng, n, p, sort=sort)
        if n == 300 and sort:
            place[:] = p - 1                     # every block at one place
        if n == 1000 and p in (9, 16):
            pools[:] = 0.0                       # no pool knowledge at all
        out = []
        for kernel in (kernels._spillover_rows, kernels._spillover_blocks, kernels.spillover_pass):
            got_k = k.copy()
            value, sums = kernel(got_k, place, alive, weight, pools, psi, 0.05, 2.0, 3.0, eps)
            out.append((got_k, value, sums))
        for got in out[1:]:
            for ref, x in zip(out[0], got, strict=True):
                assert np.array_equal(ref, x)


def test_spillover_pass_with_other_field_counts_uses_the_firm_by_firm_loop():
    rng = np.random.default_rng(5)
    for nf in (1, 3, 7, 9):
        k, place, alive, weight, pools, psi = _spill_case(rng, 200, 5, nf=nf)
        got_k, ref_k = k.copy(), k.copy()
        value, sums = kernels.spillover_pass(got_k, place, alive, weight, pools, psi, 0.05, 2.0,
                                             3.0, 1e-12)
        ref_value, ref_sums = kernels._spillover_rows(ref_k, place, alive, weight, pools, psi,
                                                      0.05, 2.0, 3.0, 1e-12)
        assert np.array_equal(got_k, ref_k) and np.array_equal(value, ref_value)
        assert np.array_equal(sums, ref_sums)


@pytest.mark.skipif(not kernels.COMPILING, reason="kernels not compiled")
def test_spillover_blocks_identical_compiled_and_interpreted():
    rng = np.random.default_rng(11)
    for p, sort in ((16, True), (5, False)):
        k, place, alive, weight, pools, psi = _spill_case(rng, 150, p, sort=sort)
        out = []
        for kernel in (kernels._spillover_blocks, kernels._spillover_blocks.py_func):
            got_k = k.copy()
            value, sums = kernel(got_k, place, alive, weight, pools, psi, 0.05, 2.0, 3.0, 1e-12)
            out.append((got_k, value, sums))
        for ref, x in zip(*out, strict=True):
            assert np.array_equal(ref, x)


@pytest.mark.parametrize("seed", range(6))
def test_live_place_order_is_a_stable_sort_of_the_live_slots(seed):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(1, 20))
    for n in (0, 1, 7, 8, 9, 100, 1000):
        place = rng.integers(0, p, n)
        if seed % 2:
            place = np.repeat(place, rng.integers(1, 30, n))[:n]   # runs of one place
        alive = rng.random(n) < rng.uniform(0.0, 1.0)
        order, start, count = kernels.live_place_order(place, alive, p)
        live = np.flatnonzero(alive)
        expect = live[np.argsort(place[live], kind="stable")]
        got = np.concatenate([order[start[a]:start[a] + count[a]] for a in range(p)])
        assert np.array_equal(got, expect)
        assert np.array_equal(count, np.bincount(place[live], minlength=p))


def test_institute_knowledge_equals_the_numpy_formula():
    from coinnovation_sim.knowledge import direction

    rng = np.random.default_rng(8)
    for n, nf in ((0, 8), (1, 8), (300, 8), (50, 5)):
        k = rng.lognormal(0, 1, (n, nf)) * (rng.random((n, nf)) < 0.7)
        k[rng.random(n) < 0.1] = 0.0              # no knowledge: all into field 0
        if n > 2:
            k[1, 2] = np.nan
            k[2] = 1e-13                          # a sum below the threshold
        made = rng.uniform(0.0, 3.0, n)
        dep = 0.0125
        expect = k * (1.0 - dep) + made[:, None] * direction(k, np.zeros(n, np.int64))
        got = kernels.institute_knowledge(k, made, 1.0 - dep, 1e-12)
        assert np.array_equal(got, expect, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(expect))


def test_production_pass_matches_the_numpy_formula():
    k, place, weight, _, _ = _data()
    rng = np.random.default_rng(2)
    talent = rng.uniform(0, 20, len(k))
    alive = weight > 0
    field = rng.integers(0, k.shape[1], len(k))
    a_p = rng.uniform(0.5, 2.0, 5)
    made = np.where(alive, a_p[place] * (0.3 * talent) ** 0.6, 0.0)
    total = k.sum(axis=1)
    grow = np.divide(k, total[:, None], out=np.zeros_like(k), where=total[:, None] > 1e-12)
    grow[total <= 1e-12, field[total <= 1e-12]] = 1.0
    expect = k * (1 - 0.01) + made[:, None] * grow
    got = k.copy()
    kernels.production_pass(got, np.power(0.3 * talent, 0.6), place, alive, field, a_p, 0.01,
                            1e-12)
    np.testing.assert_allclose(got, expect, rtol=1e-13, atol=1e-15)
    assert got[3, field[3]] == pytest.approx(made[3])   # the empty firm grows in its main field


@pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba not installed")
def test_results_identical_with_and_without_compilation(tmp_path):
    """The same run, compiled and interpreted (NUMBA_DISABLE_JIT=1): identical output bytes."""
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "tiny-all", "extends": str(SCENARIOS / "all-mechanisms.yaml"), "steps": 4,
        "population": {"firms": 150, "institutes": 12}}), encoding="utf-8")
    outs = {}
    for mode, disable in (("jit", "0"), ("python", "1")):
        env = cli_env()
        env["NUMBA_DISABLE_JIT"] = disable
        outs[mode] = tmp_path / mode
        proc = subprocess.run(cli_command("run", str(scenario), "--seed", "3", "--out",
                                          str(outs[mode]), "--quiet"),
                              capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
    for name in ("metrics.parquet", "metrics_long.parquet", "flows.parquet", "ledger.parquet",
                 "costs.parquet", "collaborations.parquet"):
        assert (outs["jit"] / name).read_bytes() == (outs["python"] / name).read_bytes(), name


def test_draw_rows_equals_the_numpy_inverse_cdf():
    rng = np.random.default_rng(7)
    prob = rng.random((400, 16)) * (rng.random((400, 16)) < 0.6)
    prob[:5] = 0.0                                   # rows with nothing to draw
    prob[5:10, :15] = 0.0                            # only the last column
    u = rng.random(400)
    u[10] = 0.0
    u[11] = np.nextafter(1.0, 0.0)
    cum = np.cumsum(prob, axis=1)
    total = cum[:, -1]
    expect = np.minimum((u[:, None] * total[:, None] >= cum).sum(axis=1), 15)
    expect = np.where(total > 0, expect, -1)
    assert np.array_equal(kernels.draw_rows(prob, u), expect)


def _segment_draw_numpy(sampler, place, u):
    """The sampler's draw as numpy computed it before it was compiled (reference)."""
    p = np.where(place >= 0, place, 0)
    ok = (place >= 0) & (sampler.total[p] > 0)
    target = sampler.base[p] + u * sampler.total[p]
    pos = np.searchsorted(sampler.cum, target, side="right")
    pos = np.clip(pos, sampler.start[p], np.maximum(sampler.end[p] - 1, sampler.start[p]))
    pos = np.minimum(pos, len(sampler.order) - 1)
    back = sampler.prev[pos]
    pos = np.where(back >= sampler.start[p], back,
                   np.minimum(sampler.next[pos], len(sampler.order) - 1))
    return np.where(ok, sampler.order[pos], -1)


def test_segment_draw_equals_the_numpy_search():
    from coinnovation_sim.sampling import SegmentSampler

    rng = np.random.default_rng(8)
    for n, p in ((1000, 16), (50, 16), (7, 3)):
        place = rng.integers(0, p, n)
        w = rng.random(n) * (rng.random(n) < 0.6)
        w[place == 1] = 0.0                              # a place with no weight
        sampler = SegmentSampler(place, w, p)
        want = rng.integers(-1, p, 4000)
        u = rng.random(4000)
        u[:20] = np.nextafter(1.0, 0.0)                  # the top of a segment (rounding case)
        got = sampler.draw(want, u)
        assert np.array_equal(got, _segment_draw_numpy(sampler, want, u))
        assert (got[want == 1] == -1).all() and (got[want == -1] == -1).all()
        drawn = got[got >= 0]
        assert (w[drawn] > 0).all() and (place[drawn] == want[got >= 0]).all()


def test_evaluate_candidates_matches_the_numpy_gain():
    from coinnovation_sim.knowledge import cosine_similarity

    rng = np.random.default_rng(9)
    n, nf = 400, 8
    firm_k = rng.lognormal(0, 1, (300, nf))
    inst_k = rng.lognormal(1, 1, (20, nf))
    searcher = rng.choice(300, n)
    collab = rng.random(n) < 0.4
    idx = np.where(collab, rng.integers(0, 300, n), rng.integers(0, 20, n))
    idx[:10] = -1                                    # no candidate
    idx[10:20] = searcher[10:20]                     # itself (invalid for joint R&D)
    collab[10:20] = True
    active = rng.random(n) < 0.9
    rcv = firm_k[searcher]
    rcv[20] = 0.0                                    # a searcher without knowledge
    sq = np.einsum("ij,ij->i", rcv, rcv)
    cap = absorptive_capacity(rcv.sum(axis=1), 2.0)
    price = rng.uniform(1, 5, n)
    tc = rng.uniform(0, 3, n)
    valid, gain, plain = reference_kernels.evaluate_candidates(collab, idx, searcher, active, firm_k, inst_k,
                                                     rcv, sq, cap, 0.3, 2.5, price, tc, 1e-12)
    expect_valid = (idx >= 0) & ~(collab & (idx == searcher)) & active
    assert np.array_equal(valid, expect_valid)
    safe = np.maximum(idx, 0)
    src = np.where(collab[:, None], firm_k[np.minimum(safe, 299)], inst_k[np.minimum(safe, 19)])
    eff = learning_efficiency(1.0 - cosine_similarity(src, rcv))
    expect_gain = (0.3 * cap * eff)[:, None] * np.maximum(0.0, src - rcv)
    expect_plain = 2.5 * expect_gain.sum(axis=1) - price - tc
    np.testing.assert_allclose(gain[valid], expect_gain[valid], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(plain[valid], expect_plain[valid], rtol=1e-12, atol=1e-12)
    assert (gain[~valid] == 0).all() and (plain[~valid] == 0).all()


def test_keep_best_replaces_only_better_valid_candidates():
    n = 6
    valid = np.array([True, True, False, True, True, False])
    net = np.array([5.0, 1.0, 9.0, -1.0, 2.0, 0.0])
    best = {"net": np.array([2.0, 3.0, 0.0, -5.0, 2.0, 0.0]), "dest": np.full(n, -1),
            "idx": np.full(n, -1), "gain": np.zeros((n, 2)), "tc": np.zeros(n),
            "sub": np.zeros(n), "plain": np.zeros(n)}
    reference_kernels.keep_best(valid, net, np.arange(n), np.arange(n) + 10, np.ones((n, 2)), np.full(n, 0.5),
                      np.full(n, 0.25), net - 0.25, best["net"], best["dest"], best["idx"],
                      best["gain"], best["tc"], best["sub"], best["plain"])
    better = np.array([True, False, False, True, False, False])   # ties keep the old best
    assert np.array_equal(best["idx"] >= 0, better)
    assert np.array_equal(best["net"], np.where(better, net, [2.0, 3.0, 0.0, -5.0, 2.0, 0.0]))
    assert (best["gain"][better] == 1).all() and (best["gain"][~better] == 0).all()


def test_split_by_location_equals_the_two_bincounts():
    rng = np.random.default_rng(10)
    n, p = 2000, 16
    home = rng.integers(0, p, n)
    unit_place = np.where(rng.random(n) < 0.2, rng.integers(0, p, n), home)
    share = rng.uniform(0.1, 1.0, n)
    amount = rng.normal(0, 5, n)
    unit = np.where(unit_place != home, share, 1.0)
    expect = (np.bincount(unit_place, weights=amount * unit, minlength=p)
              + np.bincount(home, weights=amount * (1.0 - unit), minlength=p))
    assert np.array_equal(kernels.split_by_location(unit_place, home, share, amount, p), expect)


def test_segment_arrays_equal_the_numpy_construction():
    rng = np.random.default_rng(12)
    for n in (0, 1, 7, 3000):
        place = rng.integers(0, 16, n)
        w = rng.random(n) * (rng.random(n) < 0.5)
        order = np.argsort(place, kind="stable")
        ws = w[order]
        pos = np.arange(n)
        _, cum, prev, nxt, *_ = kernels.segment_sampler_arrays(place, w, 16)
        assert np.array_equal(cum, np.cumsum(ws))
        if n:
            assert np.array_equal(prev, np.maximum.accumulate(np.where(ws > 0, pos, -1)))
            assert np.array_equal(nxt, np.minimum.accumulate(np.where(ws > 0, pos, n)[::-1])[::-1])


_SIGNATURE_SCRIPT = """
import sys
from coinnovation_sim import kernels
from coinnovation_sim.model import CoinnovationModel
model = CoinnovationModel({"name": "sig", "extends": sys.argv[1], "steps": 14,
                           "population": {"firms": 400, "institutes": 20}})
before = [len(k.signatures) for k in kernels.COMPILED]
model.run()
print(sorted(k.__name__ for k, n in zip(kernels.COMPILED, before) if len(k.signatures) != n))
"""


@pytest.mark.skipif(not kernels.COMPILING, reason="kernels not compiled")
def test_model_construction_compiles_every_kernel_signature_a_run_uses():
    """No compilation inside a run (a fresh process): the run time must not include it."""
    import sys

    proc = subprocess.run([sys.executable, "-c", _SIGNATURE_SCRIPT,
                           str(SCENARIOS / "all-mechanisms.yaml")],
                          capture_output=True, text=True, env=cli_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_place_order_is_the_stable_argsort():
    rng = np.random.default_rng(21)
    for n, p in ((0, 3), (1, 1), (50, 4), (5000, 16)):
        place = rng.integers(0, p, n)
        order, start, end = kernels.place_segments(place, p)
        assert np.array_equal(order, np.argsort(place, kind="stable"))
        assert np.array_equal(end - start, np.bincount(place, minlength=p))
        sorted_place = np.sort(place)                 # runs of equal places, as firm slots are
        assert np.array_equal(kernels.place_segments(sorted_place, p)[0], np.arange(n))


def test_place_knowledge_sums_equal_bincounts():
    rng = np.random.default_rng(22)
    for n in (0, 1, 3000):
        place = rng.integers(0, 6, n)
        alive = rng.random(n) < 0.8
        weight = rng.uniform(1.0, 3.0, n)
        k = rng.gamma(1.0, 1.0, (n, 8))
        w = np.where(alive, weight, 0.0)
        count, total = reference_kernels.place_knowledge_sums(place, alive, weight, k, 6)
        assert np.array_equal(count, np.bincount(place, weights=w, minlength=6))
        assert np.array_equal(total, np.bincount(place, weights=w * kernels.row_sums(k),
                                                 minlength=6))


def test_apply_deals_equals_numpy_updates():
    rng = np.random.default_rng(23)
    n_firms, n_inst, ns, nf = 40, 6, 25, 8
    k0, c0, r0 = rng.gamma(1.0, 1.0, (n_firms, nf)), rng.normal(5.0, 3.0, n_firms), np.zeros(n_inst)
    searcher = rng.choice(n_firms, ns, replace=False)
    deal, collab = rng.random(ns) < 0.7, rng.random(ns) < 0.5
    idx = np.where(collab, rng.integers(0, n_firms, ns), rng.integers(0, n_inst, ns))
    gain, pgain = rng.gamma(1.0, 0.1, (ns, nf)), rng.gamma(1.0, 0.1, (ns, nf))
    price, tc, sub = rng.uniform(1, 3, ns), rng.uniform(0, 1, ns), rng.uniform(0, 1, ns)
    wf, wi = rng.uniform(1, 4, n_firms), rng.uniform(1, 4, n_inst)
    # the numpy updates the kernel replaced (technology.transact)
    k, c, r = k0.copy(), c0.copy(), r0.copy()
    k[searcher[deal]] += gain[deal]
    c[searcher[deal]] -= (price + tc - sub)[deal]
    col, svc = deal & collab, deal & ~collab
    ws = wf[searcher]
    partner = idx[col]
    share = np.minimum(1.0, ws[col] / np.maximum(wf[partner], 1e-12))
    np.add.at(k, partner, pgain[col] * share[:, None])
    np.add.at(c, partner, -(price[col] + tc[col]) * share)
    np.add.at(r, idx[svc], price[svc] * ws[svc] / np.maximum(wi[idx[svc]], 1e-12))
    kk, cc, rr = k0.copy(), c0.copy(), r0.copy()
    kernels.apply_deals(kk, cc, rr, searcher, deal, collab, idx, gain, pgain, price, tc, sub, wf,
                        wi)
    assert np.array_equal(kk, k) and np.array_equal(cc, c) and np.array_equal(rr, r)


def test_deal_records_equal_bincounts():
    rng = np.random.default_rng(24)
    p, n_firms, ns = 5, 40, 60
    deal, collab = rng.random(ns) < 0.7, rng.random(ns) < 0.5
    idx = np.where(collab, rng.integers(0, n_firms, ns), rng.integers(0, 7, ns))
    best_dest, home = rng.integers(0, p, ns), rng.integers(0, p, ns)
    firm_place, searcher = rng.integers(0, p, n_firms), rng.integers(0, n_firms, ns)
    wf, price, tc = rng.uniform(1, 4, n_firms), rng.uniform(1, 3, ns), rng.uniform(0, 1, ns)
    flows, acc = kernels.deal_records(deal, collab, idx, best_dest, home, firm_place, searcher,
                                      wf, price, tc, p)
    # the numpy bookkeeping the kernel replaced (technology.transact, FlowBook.add/account_by)
    svc, col = deal & ~collab, deal & collab
    ws, o, partner = wf[searcher], home, idx[col]
    dst = np.where(collab & (idx >= 0), firm_place[np.where(collab & (idx >= 0), idx, 0)],
                   best_dest)
    amount = price * ws
    real = np.minimum(ws[col], wf[partner])

    def mat(orig, dest, w):
        return np.bincount(orig * p + dest, weights=w, minlength=p * p).reshape(p, p)

    def by(place, w):
        return np.bincount(place, weights=w, minlength=p)

    assert np.array_equal(flows[0], mat(dst[svc], o[svc], amount[svc]))
    assert np.array_equal(flows[1], mat(dst[col], o[col], amount[col]))
    assert np.array_equal(flows[2], mat(o[col], dst[col], price[col] * real))
    expect = [by(o[svc], -amount[svc]), by(o[col], -amount[col]),
              by(dst[col], -price[col] * real), by(o[deal], -(tc * ws)[deal]),
              by(dst[col], -tc[col] * real), by(o[svc], amount[svc]), by(o[col], amount[col])]
    for row, e in enumerate(expect):
        assert np.array_equal(acc[row], e), row


def test_reference_searchers_and_weights_equal_numpy():
    rng = np.random.default_rng(25)
    for n in (0, 1, 700):
        alive, capital = rng.random(n) < 0.9, rng.normal(1.0, 2.0, n)
        u, w, k = rng.random(n), rng.uniform(1, 3, n), rng.gamma(1.0, 1.0, (n, 8))
        searcher, weight = reference_kernels.searchers_and_weights(alive, capital, u, 0.3, w, k)
        assert np.array_equal(searcher, np.flatnonzero(alive & (capital > 0) & (u < 0.3)))
        assert np.array_equal(weight, np.where(alive, w * kernels.row_sums(k), 0.0))


def test_pairwise_sum_equals_numpy_sum():
    rng = np.random.default_rng(26)
    for n in [0, 1, 7, 8, 9, 127, 128, 129, 255, 256, 257, 1000, 4097, 22_000, 220_001]:
        x = rng.normal(0.0, 1.0, n) * rng.gamma(1.0, 10.0, n)
        assert kernels.total(x, n) == x.sum(), n
        alive, w = rng.random(n) < 0.9, rng.uniform(1.0, 3.0, n)
        assert kernels.live_weighted_sum(alive, w, x) == np.where(alive, w * x, 0.0).sum(), n


def test_row_results_do_not_depend_on_the_other_rows():
    """Computing a subset of rows gives the same bits (partner gains are computed for deals only)."""
    from coinnovation_sim.knowledge import cosine_similarity

    rng = np.random.default_rng(27)
    a, b = rng.gamma(1.0, 1.0, (3001, 8)), rng.gamma(1.0, 1.0, (3001, 8))
    rows = np.flatnonzero(rng.random(3001) < 0.3)
    assert np.array_equal(cosine_similarity(a[rows], b[rows]), cosine_similarity(a, b)[rows])
    assert np.array_equal(a[rows].sum(axis=1), a.sum(axis=1)[rows])


def test_segment_sampler_arrays_equal_the_numpy_construction():
    rng = np.random.default_rng(28)
    for n, p in ((0, 3), (1, 2), (500, 6), (3000, 16)):
        place = rng.integers(0, p, n)
        w = rng.gamma(1.0, 1.0, n) * (rng.random(n) < 0.8)
        order, cum, prev, nxt, start, end, base, total = kernels.segment_sampler_arrays(
            place, w, p)
        counts = np.bincount(place, minlength=p)
        ws, pos = w[order], np.arange(n)
        if n:
            assert np.array_equal(prev, np.maximum.accumulate(np.where(ws > 0, pos, -1)))
            assert np.array_equal(nxt, np.minimum.accumulate(np.where(ws > 0, pos, n)[::-1])[::-1])
        assert np.array_equal(order, np.argsort(place, kind="stable"))
        assert np.array_equal(cum, np.cumsum(w[order]))
        assert np.array_equal(end, np.cumsum(counts))
        assert np.array_equal(start, np.cumsum(counts) - counts)
        full = np.concatenate(([0.0], cum))
        assert np.array_equal(base, full[start])
        assert np.array_equal(total, full[end] - full[start])


def test_spillover_attribution_equals_the_numpy_formula():
    from coinnovation_sim.sampling import normalise_rows

    rng = np.random.default_rng(29)
    for p in (1, 5, 16, 19):
        sums = rng.gamma(1.0, 1.0, (p, p + 3)) * (rng.random((p, p + 3)) < 0.85)
        pools = rng.gamma(1.0, 1.0, (p, 8))
        sums[0, p + 1:] = 1e6, 1.0                # no pool ahead of destination 0: plain shares
        psi = normalise_rows(rng.random((p, p)))
        phi_free = rng.random((p, p)) * (rng.random((p, p)) < 0.9)
        assert np.array_equal(kernels.normalised_rows(phi_free), normalise_rows(phi_free))
        # the numpy code the kernel replaced (innovation.spillovers)
        v_dest = sums[:, p]
        e_bar = np.divide(sums[:, :p], v_dest[:, None], out=np.zeros((p, p)),
                          where=v_dest[:, None] > 0)
        k_dest = np.divide(sums[:, p + 1], sums[:, p + 2], out=np.zeros(p),
                           where=sums[:, p + 2] > 0)
        advantage = np.maximum(0.0, pools.sum(axis=1)[None, :] - k_dest[:, None])

        def attribute(kernel, e_bar=e_bar, advantage=advantage, v_dest=v_dest):
            share = normalise_rows(kernel * e_bar * advantage)
            share = np.where(share.sum(axis=1, keepdims=True) > 0, share,
                             normalise_rows(kernel * e_bar))
            return (share * v_dest[:, None]).T

        actual, free = kernels.spillover_attribution(sums, pools, psi, phi_free)
        assert np.array_equal(actual, attribute(psi))
        assert np.array_equal(free, attribute(normalise_rows(phi_free)))


def test_unit_home_matrix_equals_bincount():
    rng = np.random.default_rng(30)
    for n, p, moving in ((0, 3, 0.1), (1, 2, 0.5), (2000, 7, 0.1), (2000, 7, 0.001),
                         (2000, 7, 0.0), (3000, 16, 0.9)):
        home = np.sort(rng.integers(0, p, n)) if moving < 0.5 else rng.integers(0, p, n)
        unit = np.where(rng.random(n) < moving, rng.integers(0, p, n), home)
        amount = rng.gamma(1.0, 1.0, n)
        amount[rng.random(n) < 0.1] = -0.0
        mat, away = kernels.unit_home_matrix(unit, home, amount, p)
        assert away == bool((unit != home).any())
        if away:                                 # else not needed, and not computed
            expect = np.bincount(unit * p + home, weights=amount, minlength=p * p).reshape(p, p)
            assert np.array_equal(mat, expect)
            assert np.array_equal(np.signbit(mat), np.signbit(expect))
        else:
            assert np.array_equal(mat, np.zeros((p, p)))


def test_total_inline_equals_total():
    rng = np.random.default_rng(21)
    for n in (0, 1, 5, 7, 8, 9, 15, 16, 17, 100, 128, 129, 300, 1000):
        a = rng.normal(0, 1, n) * 10.0 ** rng.integers(-5, 5, n)
        if n > 3:
            a[:3] = (-0.0, 0.0, -0.0)
        for x in (a, np.abs(a), -np.abs(a), np.zeros(n), -np.zeros(n)):
            got, want = kernels.total_inline(x, n), kernels.total(x, n)
            assert np.array_equal(np.array(got), np.array(want))
            assert np.signbit(got) == np.signbit(want) and got == x.sum()
