"""Kernels of the technology search: bit for bit the numpy code (and older kernels) they replace.

Run also with ``NUMBA_DISABLE_JIT=1``: the interpreted kernels must give the same bits.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference_kernels
from coinnovation_sim import kernels, sampling
from coinnovation_sim import search_kernels as sk
from coinnovation_sim.sampling import SegmentSampler, cumulative_rows, normalise_rows


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bytes."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _firm_case(rng: np.random.Generator, n: int, p: int, sort: bool):
    place = rng.integers(0, p, n)
    if sort:                                     # runs of equal places, as firm slots have
        place.sort()
        swap = rng.random(n) < 0.05
        place[swap] = rng.integers(0, p, int(swap.sum()))
    alive = rng.random(n) < 0.85
    capital = rng.normal(1.0, 2.0, n)
    u = rng.random(n)
    weight = rng.uniform(0.5, 3.0, n)
    weight.flags.writeable = False
    k = rng.gamma(1.0, 1.0, (n, 8)) * (rng.random((n, 8)) < 0.8)
    k[rng.random(n) < 0.05] = 0.0                # firms with no knowledge: zero weight
    return alive, capital, u, weight, k, place


@pytest.mark.parametrize(("n", "p", "sort"), [(0, 3, True), (1, 1, True), (2, 4, False),
                                              (60, 5, False), (3000, 16, True),
                                              (3000, 16, False), (500, 40, True)])
def test_search_start_equals_searchers_then_segment_sampler(n, p, sort):
    rng = np.random.default_rng(n + p)
    alive, capital, u, weight, k, place = _firm_case(rng, n, p, sort)
    searcher, partner = reference_kernels.searchers_and_weights(alive, capital, u, 0.3, weight, k)
    expect = kernels.segment_sampler_arrays(place, partner, p)
    got = sk.search_start(alive, capital, u, 0.3, weight, kernels.row_sums(k), place, p)
    assert same(got[0], searcher)
    for a, b in zip(got[1:], expect, strict=True):
        assert same(a, b)


def test_search_start_with_no_live_firm():
    rng = np.random.default_rng(5)
    alive, capital, u, weight, k, place = _firm_case(rng, 50, 4, True)
    alive[:] = False
    searcher, partner = reference_kernels.searchers_and_weights(alive, capital, u, 0.3, weight, k)
    got = sk.search_start(alive, capital, u, 0.3, weight, kernels.row_sums(k), place, 4)
    assert same(got[0], searcher) and len(searcher) == 0
    for a, b in zip(got[1:], kernels.segment_sampler_arrays(place, partner, 4), strict=True):
        assert same(a, b)


def _old_draw(prob_rows, collab, u_place, u, firm_sampler, inst_sampler):
    """``Search.draw`` before the fused kernel (given the uniforms)."""
    dest = sampling.draw_from_rows(prob_rows, u_place)
    idx = np.empty(len(collab), np.int64)
    idx[collab] = firm_sampler.draw(dest[collab], u[collab])
    idx[~collab] = inst_sampler.draw(dest[~collab], u[~collab])
    return dest, idx


@pytest.mark.parametrize("empty_firms", [False, True])
def test_draw_candidates_equal_rows_then_segment_draws(empty_firms):
    rng = np.random.default_rng(6)
    p, ns = 16, 2000
    alive, capital, u0, weight, k, place = _firm_case(rng, 4000, p, True)
    place[place == 3] = 4                        # a place without firms
    _, *arrays = sk.search_start(alive, capital, u0, 0.3, weight, kernels.row_sums(k), place,
                                 p)
    firms = (SegmentSampler(np.zeros(0, np.int64), np.zeros(0), p) if empty_firms
             else SegmentSampler.from_arrays(*arrays))
    inst_place = rng.integers(0, p, 300)
    inst_w = rng.random(300) * (rng.random(300) < 0.8)
    inst_w[inst_place == 5] = 0.0                # a place whose institutes weigh nothing
    insts = SegmentSampler(inst_place, inst_w, p)
    phi = rng.random((p, p))
    phi[2] = 0.0                                 # an origin with nowhere to go
    prob = np.concatenate((normalise_rows(phi * firms.place_total()[None, :]),
                           normalise_rows(phi * insts.place_total()[None, :])))
    collab = rng.random(ns) < 0.3
    origin = rng.integers(0, p, ns)
    row = np.where(collab, origin, origin + p)
    row[rng.random(ns) < 0.1] = -1               # searchers drawing no candidate
    u_place, u = rng.random(ns), rng.random(ns)
    u_place[:10] = np.nextafter(1.0, 0.0)
    u[10:20] = np.nextafter(1.0, 0.0)
    u[20:30] = 0.0
    dest, idx = sk.draw_candidates(cumulative_rows(prob), row, collab, u_place, u,
                                   *firms.arrays(), *insts.arrays())
    on = row >= 0
    want_dest, want_idx = _old_draw(prob[row[on]], collab[on], u_place[on], u[on], firms, insts)
    assert same(dest[on], want_dest) and same(idx[on], want_idx)
    assert (dest[~on] == -1).all() and (idx[~on] == -1).all()
    assert (idx[on & (dest >= 0)] >= 0).any()


def _old_consider(valid_inputs, tc_inputs, knowledge, prices, subsidy, best):
    """``technology.consider`` before the fused kernels: tc, evaluate_candidates, keep_best."""
    collab, idx, searcher, on = valid_inputs
    origin, dest, cost, mult, phi = tc_inputs
    firm_k, inst_k, rcv_k, rcv_sq, cap, lr, v, eps = knowledge
    d = np.where(dest >= 0, dest, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tc = cost * mult[origin, d] / phi[origin, d]
    valid, gain, plain = reference_kernels.evaluate_candidates(collab, idx, searcher, on, firm_k, inst_k,
                                                     rcv_k, rcv_sq, cap, lr, v, prices, tc, eps)
    sub = np.zeros(len(idx)) if subsidy is None else np.zeros(len(idx)) + subsidy
    reference_kernels.keep_best(valid, plain + sub, dest, idx, gain, tc, sub, plain, *best)
    return valid


def _best(ns: int, nf: int) -> list[np.ndarray]:
    return [np.zeros(ns), np.full(ns, -1), np.full(ns, -1), np.zeros((ns, nf)), np.zeros(ns),
            np.zeros(ns), np.zeros(ns)]


@pytest.mark.parametrize("with_subsidy", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_weigh_offers_equal_evaluate_then_keep_best(with_subsidy, masked):
    from coinnovation_sim.knowledge import absorptive_capacity

    rng = np.random.default_rng(7 + 2 * with_subsidy + masked)
    ns, nfirm, ninst, nf, p = 900, 500, 40, 8, 6
    firm_k = rng.lognormal(0, 1, (nfirm, nf)) * (rng.random((nfirm, nf)) < 0.8)
    firm_k[:5] = 0.0
    inst_k = rng.lognormal(1, 1, (ninst, nf))
    searcher = rng.choice(nfirm, ns)
    rcv_k = firm_k[searcher]
    rcv_sq = np.einsum("ij,ij->i", rcv_k, rcv_k)
    cap = absorptive_capacity(kernels.row_sums(rcv_k), 5.0)
    collab = rng.random(ns) < 0.4
    origin = rng.integers(0, p, ns)
    price = np.where(collab, 30.0, 8.0)
    mult = rng.uniform(0.5, 1.5, (p, p))
    phi = rng.uniform(0.05, 1.0, (p, p))
    phi[1, 2] = 0.0                              # infinite cost: never kept
    knowledge = (firm_k, inst_k, rcv_k, rcv_sq, cap, 0.3, 400.0, 1e-12)
    best_old, best_new = _best(ns, nf), _best(ns, nf)
    for _ in range(4):                           # a few candidates against the running best
        dest = rng.integers(-1, p, ns)
        idx = np.where(collab, rng.integers(0, nfirm, ns), rng.integers(0, ninst, ns))
        idx[dest < 0] = -1
        idx[:20] = np.where(collab[:20], searcher[:20], idx[:20])   # self as partner: invalid
        on = rng.random(ns) < 0.7 if masked else np.zeros(0, bool)
        subsidy = np.where(rng.random(ns) < 0.3, rng.uniform(0, 5, ns), 0.0) if with_subsidy else None
        valid_old = _old_consider((collab, idx, searcher, on if masked else np.ones(ns, bool)),
                                  (origin, dest, 2.0, mult, phi), knowledge, price, subsidy,
                                  best_old)
        valid = sk.offer_validity(collab, idx, searcher, on)
        assert same(valid, valid_old)
        if with_subsidy:
            subsidy = np.where(valid, subsidy, 0.0)
        sk.weigh_offers(valid, collab, idx, dest, origin, firm_k, inst_k, rcv_k, rcv_sq, cap, 0.3,
                        400.0, price, sk.transaction_costs(2.0, mult, phi), 1e-12,
                        np.zeros(0) if subsidy is None else np.zeros(ns) + subsidy, *best_new)
        for a, b in zip(best_new, best_old, strict=True):
            assert same(a, b)
    assert (best_new[2] >= 0).sum() > ns // 4


def test_ieee_division_by_zero_is_numpys():
    with np.errstate(divide="ignore", invalid="ignore"):
        for a, b in ((1.0, 0.0), (-1.0, 0.0), (1.0, -0.0), (0.0, 0.0), (np.nan, 0.0), (3.0, 2.0)):
            assert same(np.float64(sk.ieee_div(a, b)), np.float64(a) / np.float64(b))


def test_ration_services_equals_bincount_rationing():
    rng = np.random.default_rng(8)
    ns, ninst, nfirm = 1500, 30, 4000
    deal = rng.random(ns) < 0.7
    collab = rng.random(ns) < 0.3
    idx = np.where(collab, rng.integers(0, nfirm, ns), rng.integers(0, ninst, ns))
    idx[~deal & (rng.random(ns) < 0.5)] = -1
    searcher = rng.integers(0, nfirm, ns)
    wf = rng.uniform(0.5, 3.0, nfirm)
    wf.flags.writeable = False
    capacity = rng.uniform(1.0, 60.0, ninst)
    capacity[0] = 0.0                            # an institute with no capacity
    inst_w = rng.uniform(0.5, 2.0, ninst)
    u = rng.random(ns)
    svc = deal & ~collab
    demand = np.bincount(idx[svc], weights=wf[searcher[svc]], minlength=ninst)
    supply = capacity * inst_w
    ratio = np.divide(supply, demand, out=np.ones(ninst), where=demand > supply)
    expect = deal & (collab | (u < ratio[np.where(svc, idx, 0)]))
    got = deal.copy()
    sk.ration_services(got, collab, idx, searcher, wf, capacity, inst_w, u)
    assert same(got, expect)
    assert (deal & ~got).any() and (got & ~collab).any()


def test_partner_deals_equal_gain_and_net_gain():
    from types import SimpleNamespace

    from coinnovation_sim.technology import _gain

    rng = np.random.default_rng(9)
    ns, nfirm, nf = 700, 400, 8
    k = rng.lognormal(0, 1, (nfirm, nf)) * (rng.random((nfirm, nf)) < 0.8)
    k[:4] = 0.0                                  # partners or searchers with no knowledge
    k[4] = k[5]                                  # identical knowledge: no learning
    searcher = rng.integers(0, nfirm, ns)
    searcher[:3] = [4, 0, 1]
    partner = rng.integers(0, nfirm, ns)
    partner[:3] = [5, 2, 3]
    capital = rng.normal(1.0, 2.0, nfirm)
    price = np.where(rng.random(ns) < 0.5, 30.0, 8.0)
    tc = rng.uniform(0.0, 5.0, ns)
    deal0 = rng.random(ns) < 0.8
    pairs = np.flatnonzero(deal0 & (rng.random(ns) < 0.5))
    prm = {"learning_rate": 0.3, "absorptive_half": 5.0, "knowledge_value_wan": 60.0}
    model = SimpleNamespace(prm=prm)
    # the numpy code of technology.agree
    k_src, k_rcv = k[searcher[pairs]], k[partner[pairs]]
    pgain = _gain(model, k_src, k_rcv)
    pnet = prm["knowledge_value_wan"] * pgain.sum(axis=1) - price[pairs] - tc[pairs]
    want_deal = deal0.copy()
    want_deal[pairs] = (pnet > 0) & (capital[partner[pairs]] > 0)
    want_gain = np.zeros((ns, nf))
    want_gain[pairs] = pgain
    deal, gain = deal0.copy(), np.zeros((ns, nf))
    sk.partner_deals(pairs, partner[pairs], k_src, k_rcv, np.einsum("ij,ij->i", k_src, k_rcv),
                     np.einsum("ij,ij->i", k_src, k_src), np.einsum("ij,ij->i", k_rcv, k_rcv),
                     0.3, 5.0, 1e-12, 60.0, price, tc, capital, deal, gain)
    assert same(deal, want_deal) and same(gain, want_gain)
    assert want_deal[pairs].any() and not want_deal[pairs].all()


@pytest.mark.parametrize("n_inst", [0, 1, 300])
def test_search_setup_equals_the_numpy_start(n_inst):
    rng = np.random.default_rng(11 + n_inst)
    p, nfirm, nf = 16, 3000, 8
    alive, capital, u0, weight, k, unit_place = _firm_case(rng, nfirm, p, True)
    home_place = np.where(rng.random(nfirm) < 0.1, rng.integers(0, p, nfirm), unit_place)
    searcher, *firm_arrays = sk.search_start(alive, capital, u0, 0.3, weight,
                                             kernels.row_sums(k), unit_place, p)
    firm_total = firm_arrays[-1]
    inst_place = rng.integers(0, p, n_inst)
    inst_weight = rng.uniform(0.5, 3.0, n_inst)
    capacity = rng.uniform(0.0, 50.0, n_inst)
    inst_k = rng.lognormal(0, 1, (n_inst, nf))
    phi = rng.random((p, p))
    u = rng.random(len(searcher))
    collab, origin, home, row, price, inst_arrays, prob, cum, best, rcv = sk.search_setup(
        searcher, u, 0.3, unit_place, home_place, inst_place, inst_weight, capacity, inst_k, phi,
        firm_total, nf, 30.0, 8.0, k, 5.0)
    for a, b in zip(rcv, sk.receiver_knowledge(searcher, k, 5.0), strict=True):
        assert same(a, b)
    # the numpy _start
    want_collab = u < 0.3
    want_origin = unit_place[searcher]
    inst_w = inst_weight * capacity * kernels.row_sums(inst_k)
    inst_sampler = SegmentSampler(inst_place, inst_w, p)
    q_firm = normalise_rows(phi * firm_total[None, :])
    q_inst = normalise_rows(phi * inst_sampler.place_total()[None, :])
    assert same(collab, want_collab) and same(origin, want_origin)
    assert same(home, home_place[searcher])
    assert same(price, np.where(want_collab, 30.0, 8.0))
    for a, b in zip(inst_arrays, (inst_sampler.order, *inst_sampler.arrays()[:1],
                                  *inst_sampler.arrays()[2:]), strict=True):
        assert same(a, b)
    assert same(prob[row], np.where(want_collab[:, None], q_firm[want_origin], q_inst[want_origin]))
    assert same(cum, np.cumsum(prob, axis=1))
    ns = len(searcher)
    for a, b in zip(best, (np.zeros(ns), np.full(ns, -1), np.full(ns, -1), np.zeros((ns, nf)),
                           np.zeros(ns), np.zeros(ns), np.zeros(ns)), strict=True):
        assert same(a, b)


def test_collab_edge_rows_equal_the_column_stack():
    rng = np.random.default_rng(12)
    ns, nfirm = 500, 2000
    deal, collab = rng.random(ns) < 0.6, rng.random(ns) < 0.3
    searcher, partner = rng.integers(0, nfirm, ns), rng.integers(0, nfirm, ns)
    firm_id, place = rng.permutation(nfirm).astype(np.int64), rng.integers(0, 16, nfirm)
    col = deal & collab
    want = np.column_stack([np.full(int(col.sum()), 7, np.int64), firm_id[searcher[col]],
                            firm_id[partner[col]], place[searcher[col]], place[partner[col]]])
    assert same(sk.collab_edge_rows(deal, collab, searcher, partner, firm_id, place, 7), want)
    assert sk.collab_edge_rows(deal & ~collab, collab, searcher, partner, firm_id, place,
                               7).shape == (0, 5)


def test_free_expectations_equal_the_numpy_products():
    rng = np.random.default_rng(13)
    p = 16
    phi_free = rng.random((p, p))
    inst_total, firm_total = rng.random(p) * (rng.random(p) < 0.8), rng.random(p)
    vol_svc, vol_col = rng.random(p) * 50, rng.random(p) * 80
    svc, col = sk.free_expectations(phi_free, inst_total, firm_total, vol_svc, vol_col)
    free_inst = normalise_rows(phi_free * inst_total[None, :])
    free_firm = normalise_rows(phi_free * firm_total[None, :])
    e_col = vol_col[:, None] * free_firm
    assert same(svc, np.ascontiguousarray((vol_svc[:, None] * free_inst).T))
    assert same(col, e_col + e_col.T)


@pytest.mark.parametrize("case", ["lognormal", "zeros", "ties", "negative", "tiny-and-huge"])
def test_guided_segment_draws_equal_the_binary_search(case):
    """Samplers with no more entities than draws are searched through a guide table."""
    rng = np.random.default_rng(14)
    p, m, ns = 6, 200, 3000
    place = rng.integers(0, p, m)
    place[place == 2] = 3                        # a place with no entity
    w = {"lognormal": rng.lognormal(0, 2, m),
         "zeros": rng.random(m) * (rng.random(m) < 0.3),
         "ties": np.round(rng.random(m) * 3),
         "negative": rng.normal(1.0, 1.0, m),    # non-monotone cumulative sums: no guide
         "tiny-and-huge": np.where(rng.random(m) < 0.5, 1e-300, 1e300)}[case]
    arrays = kernels.segment_sampler_arrays(place, w, p)
    sampler = SegmentSampler.from_arrays(*arrays)
    empty = SegmentSampler(np.zeros(0, np.int64), np.zeros(0), p)
    prob = np.concatenate((np.ones((p, p)), np.ones((p, p))))
    dest_u = rng.random(ns)
    u = rng.random(ns)
    u[:50] = np.nextafter(1.0, 0.0)
    u[50:100] = 0.0
    collab = np.zeros(ns, bool)
    row = rng.integers(0, p, ns) + p
    dest, idx = sk.draw_candidates(cumulative_rows(prob), row, collab, dest_u, u,
                                   *empty.arrays(), *sampler.arrays())
    assert same(idx, sampler.draw(dest, u))
    _, _, guided = sk._segment_guide(sampler.cum, sampler.start, sampler.end, sampler.base,
                                     sampler.total)
    for q in range(p):
        seg = sampler.cum[sampler.start[q]:sampler.end[q]]
        monotone = len(seg) > 0 and bool((np.diff(seg) >= 0).all())
        assert guided[q] == (monotone and sampler.total[q] > 0), q
    assert guided.any() == (case != "negative")


def test_agreement_setup_equals_the_numpy_masks_and_gathers():
    rng = np.random.default_rng(15)
    for ns in (0, 1, 800):
        nfirm = 500
        knowledge = rng.lognormal(0, 1, (nfirm, 8))
        collab = rng.random(ns) < 0.3
        best_idx = np.where(rng.random(ns) < 0.7, rng.integers(0, nfirm, ns), -1)
        searcher = rng.integers(0, nfirm, ns)
        deal, partner_gain, pairs, partner, k_src, k_rcv, services = sk.agreement_setup(
            best_idx, collab, searcher, knowledge)
        want_deal = best_idx >= 0
        assert services == (want_deal & ~collab).sum()
        want_pairs = np.flatnonzero(collab & want_deal)
        assert same(deal, want_deal) and same(pairs, want_pairs)
        assert same(partner_gain, np.zeros_like(np.zeros((ns, 8))))
        assert same(partner, best_idx[want_pairs])
        assert same(k_src, knowledge[searcher[want_pairs]])
        assert same(k_rcv, knowledge[best_idx[want_pairs]])
        assert k_src.flags.c_contiguous and k_rcv.flags.c_contiguous


@pytest.mark.parametrize("joint,services", [(True, True), (True, False), (False, True)])
def test_agree_deals_equals_partner_deals_then_ration_services(joint, services):
    """One call for the agreement: partners' gains and consent, then institutes' rationing."""
    rng = np.random.default_rng(70 + 2 * joint + services)
    ns, nfirm, ninst, nf = 900, 3000, 25, 8
    knowledge = rng.lognormal(0, 1, (nfirm, nf))
    collab = rng.random(ns) < (0.4 if joint else 0.0)
    if not services:
        collab[:] = True
    best_idx = np.where(collab, rng.integers(0, nfirm, ns), rng.integers(0, ninst, ns))
    best_idx[rng.random(ns) < 0.2] = -1
    searcher = rng.choice(nfirm, ns, replace=False)
    price, tc = np.where(collab, 30.0, 8.0), rng.uniform(0, 2, ns)
    capital = rng.normal(5, 5, nfirm)
    wf = rng.uniform(0.5, 3.0, nfirm)
    wf.flags.writeable = False
    capacity, inst_w = rng.uniform(1.0, 30.0, ninst), rng.uniform(0.5, 2.0, ninst)
    u = rng.random(ns) if services else np.zeros(0)
    deal, gain, pairs, partner, k_src, k_rcv, n_svc = sk.agreement_setup(best_idx, collab,
                                                                         searcher, knowledge)
    assert (n_svc > 0) == services and (len(pairs) > 0) == joint
    dots = ((np.einsum("ij,ij->i", k_src, k_rcv), np.einsum("ij,ij->i", k_src, k_src),
             np.einsum("ij,ij->i", k_rcv, k_rcv)) if joint else (np.zeros(0),) * 3)
    want_deal, want_gain = deal.copy(), gain.copy()
    if joint:
        sk.partner_deals(pairs, partner, k_src, k_rcv, *dots, 0.3, 5.0, 1e-12, 400.0, price, tc,
                         capital, want_deal, want_gain)
    if services:
        sk.ration_services(want_deal, collab, best_idx, searcher, wf, capacity, inst_w, u)
    sk.agree_deals(pairs, partner, k_src, k_rcv, *dots, 0.3, 5.0, 1e-12, 400.0, price, tc,
                   capital, deal, gain, collab, best_idx, searcher, wf, capacity, inst_w, u)
    assert same(deal, want_deal) and same(gain, want_gain)
    assert (deal != (best_idx >= 0)).any()


def test_receiver_knowledge_equals_the_gather_and_receiver_terms():
    from types import SimpleNamespace

    from coinnovation_sim.technology import receiver_terms

    rng = np.random.default_rng(16)
    knowledge = rng.lognormal(0, 1, (600, 8)) * (rng.random((600, 8)) < 0.8)
    knowledge[:3] = 0.0
    for ns in (0, 1, 900):
        searcher = rng.integers(0, 600, ns)
        rcv_k, cap = sk.receiver_knowledge(searcher, knowledge, 5.0)
        want_k = knowledge[searcher]
        want_sq, want_cap = receiver_terms(SimpleNamespace(prm={"absorptive_half": 5.0}), want_k)
        assert same(rcv_k, want_k) and rcv_k.flags.c_contiguous and same(cap, want_cap)
        assert same(np.einsum("ij,ij->i", rcv_k, rcv_k), want_sq)


def _voucher_quote(valid, holders, dest, home, eligible, balance, searcher, price, keep):
    """``Vouchers._quote`` as numpy code (``mechanisms.kernels.voucher_quote``)."""
    d = np.where(dest >= 0, dest, 0)
    on = valid & holders & (dest >= 0) & eligible[home, d]
    return np.where(on, np.minimum(balance[searcher], keep * price), 0.0)


@pytest.mark.parametrize("n_quotes", [0, 1, 2])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("fixed", [False, True])
def test_search_rounds_equal_draw_validity_quotes_then_weigh(n_quotes, masked, fixed):
    """Fused rounds: per round the candidates, validity, the mechanisms' quotes and the weighing.

    ``fixed``: a first round at given places, partners drawn by the samplers (``consider(model,
    s, dest, sampler.draw(dest, u))``).
    """
    from coinnovation_sim.knowledge import absorptive_capacity

    rng = np.random.default_rng(40 + 3 * n_quotes + masked + 7 * fixed)
    p, nfirm, ninst, nf = 8, 3000, 200, 8
    alive, capital, u0, weight, k, place = _firm_case(rng, nfirm, p, True)
    searcher, *arrays = sk.search_start(alive, capital, u0, 0.3, weight, kernels.row_sums(k),
                                        place, p)
    firms = SegmentSampler.from_arrays(*arrays)
    ns = len(searcher)
    inst_k = rng.lognormal(1, 1, (ninst, nf))
    insts = SegmentSampler(rng.integers(0, p, ninst), rng.random(ninst), p)
    phi = rng.uniform(0.05, 1.0, (p, p))
    phi[1, 2] = 0.0
    prob = np.concatenate((normalise_rows(phi * firms.place_total()[None, :]),
                           normalise_rows(phi * insts.place_total()[None, :])))
    collab = rng.random(ns) < 0.3
    origin = place[searcher]
    home = rng.integers(0, p, ns)
    row = np.where(collab, origin, origin + p)
    row[rng.random(ns) < 0.1] = -1
    rcv_k = k[searcher]
    rcv_sq = np.einsum("ij,ij->i", rcv_k, rcv_k)
    cap = absorptive_capacity(kernels.row_sums(rcv_k), 5.0)
    price = np.where(collab, 30.0, 8.0)
    mult = rng.uniform(0.5, 1.5, (p, p))
    balance = rng.uniform(0.0, 6.0, nfirm)
    quotes = [(rng.random(ns) < 0.4, rng.random((p, p)) < 0.5) for _ in range(n_quotes)]
    amount = np.zeros((n_quotes, ns))
    for m, (holders, _) in enumerate(quotes):
        amount[m] = np.where(holders, np.minimum(balance[searcher], 0.5 * price), 0.0)
    pairs = np.array([q[1] for q in quotes], bool).reshape(n_quotes, p, p)
    best_old, best_new = _best(ns, nf), _best(ns, nf)
    cum = cumulative_rows(prob)
    on = rng.random(ns) < 0.7 if masked else np.zeros(0, bool)
    uniforms = rng.random((3, 2, ns))
    with np.errstate(divide="ignore"):
        tc_pairs = (2.0 * mult) / phi
    assert same(sk.transaction_costs(2.0, mult, phi), tc_pairs)
    fixed_dest = rng.integers(-1, p, ns) if fixed else np.zeros(0, np.int64)
    u_fixed = rng.random(ns) if fixed else np.zeros(0)
    rounds = [(None, None)] * fixed + list(uniforms)
    for u_place, u in rounds:
        if u_place is None:                       # the fixed round
            dest = fixed_dest
            idx = np.where(collab, firms.draw(dest, u_fixed), insts.draw(dest, u_fixed))
        else:
            # the earlier technology.consider: draw, validity, the quote hooks, weigh_offers
            dest, idx = sk.draw_candidates(cum, row, collab, u_place, u, *firms.arrays(),
                                           *insts.arrays())
        valid = sk.offer_validity(collab, idx, searcher, on)
        subsidy = None
        for holders, eligible in quotes:
            q = _voucher_quote(valid, holders, dest, home, eligible, balance, searcher, price, 0.5)
            subsidy = (np.zeros(ns) if subsidy is None else subsidy) + q
        sk.weigh_offers(valid, collab, idx, dest, origin, k, inst_k, rcv_k, rcv_sq, cap, 0.3,
                        400.0, price, tc_pairs, 1e-12,
                        np.zeros(0) if subsidy is None else subsidy, *best_old)
    sk.search_rounds(cum, row, uniforms, fixed_dest, u_fixed, firms.arrays(), insts.arrays(), on,
                     collab, searcher, origin, home, k, inst_k, rcv_k, rcv_sq, cap, 0.3, 400.0,
                     price, 2.0, mult, phi, 1e-12, amount, pairs, *best_new)
    for a, b in zip(best_new, best_old, strict=True):
        assert same(a, b)
    assert (best_new[2] >= 0).sum() > ns // 4
    if n_quotes:
        assert (best_new[5] > 0).any()


@pytest.mark.parametrize("joint", [True, False])
def test_settle_deals_equals_the_transact_kernels(joint):
    """One call for transact: deal kernels, changed firms, edges, records, expectations."""
    rng = np.random.default_rng(60 + joint)
    ns, nfirm, ninst, nf, p = 700, 2000, 50, 8, 6
    k = rng.lognormal(0, 1, (nfirm, nf))
    capital, revenue = rng.normal(5, 3, nfirm), rng.uniform(0, 2, ninst)
    searcher = rng.choice(nfirm, ns, replace=False)
    deal = rng.random(ns) < 0.6
    collab = (rng.random(ns) < 0.3) if joint else np.zeros(ns, bool)
    idx = np.where(collab, rng.integers(0, nfirm, ns), rng.integers(0, ninst, ns))
    gain, partner_gain = rng.uniform(0, 1, (ns, nf)), rng.uniform(0, 1, (ns, nf))
    price, tc, subsidy = np.where(collab, 30.0, 8.0), rng.uniform(0, 3, ns), rng.uniform(0, 2, ns)
    wf, wi = rng.uniform(0.5, 3.0, nfirm), rng.uniform(0.5, 2.0, ninst)
    wf.flags.writeable = False
    dest, home = rng.integers(0, p, ns), rng.integers(0, p, ns)
    place, firm_id = rng.integers(0, p, nfirm), rng.permutation(nfirm)
    phi_free, inst_total, firm_total = rng.random((p, p)), rng.random(p), rng.random(p)
    old = [k.copy(), capital.copy(), revenue.copy()]
    kernels.apply_deals(*old, searcher, deal, collab, idx, gain, partner_gain, price, tc, subsidy,
                        wf, wi)
    flows, acc = kernels.deal_records(deal, collab, idx, dest, home, place, searcher, wf, price,
                                      tc, p)
    want = (np.concatenate([searcher[deal], idx[deal & collab]]),
            sk.collab_edge_rows(deal, collab, searcher, idx, firm_id, place, 4), flows, acc,
            np.stack(sk.free_expectations(phi_free, inst_total, firm_total, acc[5], acc[6])))
    new = [k.copy(), capital.copy(), revenue.copy()]
    got = sk.settle_deals(*new, searcher, deal, collab, idx, gain, partner_gain, price, tc,
                          subsidy, wf, wi, dest, home, place, firm_id, 4, phi_free, inst_total,
                          firm_total)
    for a, b in zip([*new, *got], [*old, *want], strict=True):
        assert same(a, b)
    if not joint:                                # the joint R&D records transact skips
        skipped = np.concatenate([flows[1:].ravel(), acc[[1, 2, 4, 6]].ravel()])
        assert not skipped.any() and not np.signbit(skipped).any()
    # with the records written to a flow book in the same call, as FlowBook.add_records writes
    # them (the joint R&D ones only with a joint R&D deal)
    from coinnovation_sim.flows import CORE_ACCOUNTS, CORE_CHANNELS, FlowBook

    books = [FlowBook(p, 6, CORE_CHANNELS, CORE_ACCOUNTS) for _ in range(2)]
    earlier = rng.random((p, p))
    for book in books:
        book.begin(4)
        book.expect_free("service", earlier)                    # an earlier record this step
    names = (("service", "collaboration", "collaboration"),
             ("institute_services", "collaboration_outlays", "collaboration_outlays",
              "transaction_costs", "transaction_costs"))
    used = names if joint else (("service", None, None),
                                ("institute_services", None, None, "transaction_costs", None))
    free_ch = books[0].rows(("service", "collaboration"))[0]
    books[0].add_records(*books[0].rows(*used)[:1], got[2], books[0].rows(*used)[1], got[3],
                         free_ch, got[4])
    new = [k.copy(), capital.copy(), revenue.copy()]
    changed, edges = sk.settle_and_record(
        *new, searcher, deal, collab, idx, gain, partner_gain, price, tc, subsidy, wf, wi, dest,
        home, place, firm_id, 4, phi_free, inst_total, firm_total, *books[1].step_arrays(),
        *books[1].rows(*names), free_ch)
    assert same(changed, want[0]) and same(edges, want[1])
    for a, b in zip(new, old, strict=True):
        assert same(a, b)
    for a, b in ((books[0].flows, books[1].flows), (books[0].ledger, books[1].ledger),
                 (books[0].free, books[1].free)):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("bad", [False, True])
def test_probe_tree_finds_the_positions_of_the_plain_search(bad):
    """Draws through the probe tree equal those of the whole-segment search (also on NaN)."""
    rng = np.random.default_rng(17)
    p, n = 16, 3000
    place = np.sort(rng.integers(0, p, 20000))
    place[place == 3] = 4                        # a place without entities
    weight = rng.random(20000) * (rng.random(20000) < 0.9)
    if bad:                                      # cumulative weights not monotone
        weight[rng.random(20000) < 0.01] *= -1.0
        weight[-3] = np.nan                      # in the last place's segment
    sampler = SegmentSampler(place, weight, p)
    cum, order, prev, nxt, start, end, base, total = sampler.arrays()
    collab = rng.random(n) < 0.5
    row = np.where(rng.random(n) < 0.1, -1, 0)
    dest = rng.integers(0, p, n)
    u = rng.random(n)
    u[:20] = 0.0
    u[20:40] = np.nextafter(1.0, 0.0)
    unguided = np.zeros(p, np.bool_)
    tree = sk._probe_tree(cum, start, end, unguided)
    got = np.full(n, -7, np.int64)
    expect = np.full(n, -7, np.int64)
    none = (np.empty(0), np.empty(0, np.int64), unguided)
    sk._guided_draws(cum, order, prev, nxt, start, end, base, total, *none, dest, u, collab, True,
                     row, got, tree)
    sk._guided_draws(cum, order, prev, nxt, start, end, base, total, *none, dest, u, collab, True,
                     row, expect, np.zeros((0, 0)))
    assert same(got, expect) and (got >= 0).sum() > n // 4
