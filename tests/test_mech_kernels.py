"""Mechanism kernels: bit for bit the numpy formulas they replace (compiled and interpreted)."""

from __future__ import annotations

import numpy as np
import pytest

import reference_kernels as rk
from coinnovation_sim.fastmath import gap_sums
from coinnovation_sim.kernels import row_sums
from coinnovation_sim.knowledge import _EPS, absorptive_capacity, cosine_to_pools, learning_efficiency
from coinnovation_sim.mechanisms import kernels as mk
from coinnovation_sim.sampling import normalise_rows


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Identical shapes and bits (NaN payloads and signed zeros included)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a.view(np.int64), b.view(np.int64))
    return np.array_equal(a, b)


def _firms(seed: int = 1, n: int = 300, p: int = 16, nf: int = 8):
    rng = np.random.default_rng(seed)
    k = rng.lognormal(0, 1, (n, nf)) * (rng.random((n, nf)) < 0.8)
    k[3] = 0.0                                    # no knowledge at all
    k[4] = k[5]                                   # a firm equal to another
    place = rng.integers(0, p, n)
    pools = rng.lognormal(0, 1, (p, nf))
    pools[2] = k[7]                               # identical to a firm: distance 0
    return rng, k, place, pools


# ---------------------------------------------------------------------------------- helpers
def test_sums_follow_numpys_pairwise_order():
    rng = np.random.default_rng(0)
    for n in [*range(1, 140), 255, 256, 257, 1000, 4099]:
        x = rng.lognormal(0, 4, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
        assert same(mk.total(x, n), np.sum(x)), n
        assert same(mk.pairwise_sum(np.concatenate([[9.0, 1e300], x]), 2, n) + 0.0, np.sum(x)), n
        rows = x[: n - n % 8].reshape(-1, 8)
        if len(rows):
            assert same(np.array([mk.total8(r) for r in rows]), rows.sum(axis=1))
        rows = x[: n - n % 16].reshape(-1, 16)
        if len(rows):
            assert same(np.array([mk.total16(r) for r in rows]), rows.sum(axis=1))
    assert same(mk.total(np.full(5, -0.0), 5), np.sum(np.full(5, -0.0)))


def test_scalar_rules_match_numpy_for_nan_and_signed_zeros():
    x = np.array([-1.0, -0.0, 0.0, 2.0, np.nan, np.inf, -np.inf, 0.7, 1.3])
    assert same(np.array([mk.max0(v) for v in x]), np.maximum(0.0, x))
    for b in (-0.0, 0.0, 1.0, -1e-12, np.nan):
        assert same(np.array([mk.np_min(v, b) for v in x]), np.minimum(x, b))
    assert same(np.array([mk.np_clip(v, 0.0, 1.0) for v in x]), np.clip(x, 0.0, 1.0))
    for a in (3.0, -2.0, 0.0, np.nan):
        for b in (2.0, 0.0):
            with np.errstate(divide="ignore", invalid="ignore"):
                assert same(mk.ieee_div(a, b), np.float64(a) / np.float64(b))
    cos = np.array([-0.2, 0.0, 0.3, 1.0, 1.5, np.nan])
    assert same(np.array([mk.efficiency(c, True) for c in cos]),
                learning_efficiency(1.0 - np.clip(cos, 0.0, 1.0)))
    assert same(np.array([mk.efficiency(c, False) for c in cos]), learning_efficiency(1.0 - cos))


# ---------------------------------------------------------------------------------- group sums
def test_institute_groups_equal_bincount_and_add_at():
    rng, k, place, _ = _firms()
    w = rng.uniform(0, 3, len(k)) * (rng.random(len(k)) < 0.8)
    total, num = rk.institute_groups(place, w, k, 16)
    expect = np.zeros((16, k.shape[1]))
    np.add.at(expect, place, w[:, None] * k)
    assert same(total, np.bincount(place, weights=w, minlength=16))
    assert same(num, expect)
    num[5] = 0.0
    total[5] = 0.0
    assert same(mk.group_means(num, total),
                np.divide(num, total[:, None], out=np.zeros_like(num), where=total[:, None] > 0))


def test_vacancy_totals_equal_the_numpy_bincount():
    rng, _, place, _ = _firms()
    n = len(place)
    tstar, talent = rng.uniform(0, 30, n), rng.uniform(0, 30, n)
    alive, capital, w = rng.random(n) < 0.9, rng.normal(5, 5, n), rng.uniform(0.5, 2, n)
    vac = 0.2 * np.maximum(0.0, tstar - talent)
    vac = np.where(alive & (capital > 0), vac, 0.0)
    for pl in (place, np.sort(place), np.repeat(place[:30], 10)):   # random places and runs
        assert same(rk.vacancy_totals(tstar, talent, alive, capital, pl, w, 0.2, 16),
                    np.bincount(pl, weights=w * vac, minlength=16))


# ---------------------------------------------------------------------------------- enclaves
def _offers(rng, k, pools):
    p, nf = pools.shape
    reps = rng.lognormal(0, 1, (2, p, nf))
    reps[1, 4] = 0.0                              # a place without firms
    prices = np.array([3.0, 5.5])
    return reps, prices


def test_knowledge_terms_and_values_equal_the_numpy_valuation():
    rng, k, place, pools = _firms()
    n, p = len(k), len(pools)
    reps, prices = _offers(rng, k, pools)
    lv, half, sv, sp = 2.5 * 0.3, 2.0, 2.5 * 0.05, 0.08
    dot_reps = np.stack([k @ r.T for r in reps])
    cap, eff, worth = mk.knowledge_terms(k, pools, k @ pools.T, reps, dot_reps, lv, prices, half, _EPS)
    # the enclaves' numpy formulas (before the kernels)
    e_cap = absorptive_capacity(row_sums(k), half)
    e_eff = learning_efficiency(1.0 - np.clip(cosine_to_pools(k, pools), 0.0, 1.0))
    assert same(cap, e_cap)
    assert same(eff, e_eff)
    for j in range(2):
        e = learning_efficiency(1.0 - np.clip(cosine_to_pools(k, reps[j]), 0.0, 1.0))
        assert same(worth[j], lv * e_cap[:, None] * e * gap_sums(reps[j], k) - prices[j])
    phi = rng.uniform(0.05, 1.0, (p, p))
    psi, tc = normalise_rows(phi), 0.5 * rng.uniform(0.5, 1, (p, p)) / phi
    q = np.stack([normalise_rows(phi * rng.random(p)[None, :]) for _ in range(2)])
    share = np.array([1.0 - 0.4, 0.4])
    for origin in (place, np.full(n, 3)):
        weights = rk.origin_weights(origin, psi, eff)
        assert same(weights, psi[origin] * e_eff)
        got = mk.knowledge_value(origin, k, weights, weights @ pools, cap, worth, q, share, tc, sv, sp)
        gap = np.maximum(0.0, weights @ pools - weights.sum(axis=1)[:, None] * k)
        spill = sv * e_cap * gap.sum(axis=1)
        deals = np.zeros(n)
        for j in range(2):
            net = np.maximum(0.0, worth[j] - tc[origin])
            deals += share[j] * (q[j][origin] * net).sum(axis=1)
        assert same(got, spill + sp * deals)


def _profit_numpy(wage, fill, scale, alive, home, talent, overhead, origin, share, theta, speed,
                  horizon):
    """The enclaves' projected profit as it was written in numpy (one origin)."""
    hw = wage[home]
    w = np.where(origin != home, hw + share * (wage[origin] - hw), hw)
    tstar = np.where(alive, np.power(theta * scale / w, 1.0 / (1.0 - theta)), 0.0)
    part = np.where(origin != home, share, 1.0)
    fl = part * fill[origin] + (1.0 - part) * fill[home]
    t, total = talent.copy(), np.zeros(len(talent))
    hire, slack = speed * fl, 1.05 * tstar
    for _ in range(horizon):
        t = t + hire * np.maximum(0.0, tstar - t) - speed * np.maximum(0.0, t - slack)
        total += scale * np.power(t, theta) - w * t - overhead
    return total / horizon


def test_profit_projection_equals_the_numpy_loop():
    rng, _, home, _ = _firms()
    n = len(home)
    wage, fill = rng.uniform(0.8, 2.0, 16), rng.uniform(0.2, 1.0, 16)
    scale, talent = rng.uniform(1, 8, n), rng.uniform(0, 40, n)
    talent[:5] = 0.0
    alive, overhead = rng.random(n) < 0.9, rng.uniform(0, 5, n)
    theta, speed, horizon = 0.6, 0.15, 12
    origin = np.stack([np.full(n, 5), home])
    shares = np.array([0.3, 1.0])
    w, base, hire = mk.projection_setup(origin, home, alive, wage, fill, scale, shares, theta, speed)
    tstar = np.power(base, 1.0 / (1.0 - theta))
    path, target = rk.project_talent(tstar, alive, talent, hire, speed, 1.05, horizon)
    got = mk.mean_profit(path, np.power(path, theta), scale, w, overhead)
    for a in range(2):
        expect = _profit_numpy(wage, fill, scale, alive, home, talent, overhead, origin[a],
                               shares[a], theta, speed, horizon)
        assert same(got[a], expect)
        assert same(target[a], np.where(alive, tstar[a], 0.0))


def test_location_gain_equals_the_numpy_rule():
    rng = np.random.default_rng(3)
    n = 500
    there, here, know = rng.normal(0, 5, n), rng.normal(0, 5, n), rng.normal(0, 1, n)
    capital = rng.normal(10, 30, n)
    for unit_cost, setup, horizon in ((1.0, 12.0, 12), (0.5, 0.0, 6)):
        x = there - unit_cost
        g = x - here + know
        g = g - setup / horizon
        funded = capital - setup + horizon * x >= 0
        assert same(mk.location_gain(there, here, know, capital, unit_cost, setup, horizon),
                    np.where(funded, g, np.minimum(g, -1e-12)))


# ---------------------------------------------------------------------------------- vouchers
def test_service_terms_and_redemption_place_equal_numpy():
    rng, k, origin, ref = _firms(seed=4)
    n, p = len(k), len(ref)
    ref[6] = 0.0                                  # a place without institutes
    tcm = 0.5 * rng.uniform(0.5, 1.0, (p, p)) / rng.uniform(0.05, 1.0, (p, p))
    vgap, rho, tc = mk.service_terms(k, ref, k @ ref.T, origin, tcm, 2.5, 0.3, 2.0, _EPS, 1.0 - 1e-9)
    eff = learning_efficiency(1.0 - cosine_to_pools(k, ref))
    cap = absorptive_capacity(row_sums(k), 2.0)
    assert same(vgap, 2.5 * gap_sums(ref, k))
    assert same(rho, np.clip(0.3 * cap[:, None] * eff, 0.0, 1.0 - 1e-9))
    assert same(tc, tcm[origin])
    sub = rng.uniform(0, 3, n)
    allowed = rng.random((n, p)) < 0.3
    allowed[:10] = False                           # nowhere to redeem
    allowed[10:20, 0] = True
    net = vgap * rho - 4.0 - tc + sub[:, None]
    net[20, 3] = np.nan                            # numpy's argmax takes the first NaN
    vgap[20, 3] = np.nan
    expect = np.where(allowed.any(axis=1), np.argmax(np.where(allowed, net, -np.inf), axis=1), -1)
    assert same(mk.best_redemption(vgap, rho, tc, sub, 4.0, allowed), expect)


def test_redemption_place_equals_subsidy_allowed_then_best():
    rng, k, origin, ref = _firms(seed=9)
    n, p = len(k), len(ref)
    tcm = 0.5 * rng.uniform(0.5, 1.0, (p, p)) / rng.uniform(0.05, 1.0, (p, p))
    vgap, rho, tc = mk.service_terms(k, ref, k @ ref.T, origin, tcm, 2.5, 0.3, 2.0, _EPS, 1.0 - 1e-9)
    balance = rng.uniform(0, 6, 1000) * (rng.random(1000) < 0.7)
    slots = rng.choice(1000, n, replace=False)
    home = rng.integers(0, p, n)
    eligible = rng.random((p, p)) < 0.4
    eligible[2] = False                           # a home with nowhere to redeem
    inst_total = rng.uniform(0, 5, p) * (rng.random(p) < 0.8)
    sub = np.minimum(balance[slots], 4.0)
    allowed = eligible[home] & (inst_total > 0)[None, :]
    assert same(mk.redemption_place(vgap, rho, tc, balance, slots, 4.0, 8.0, eligible, home,
                                    inst_total),
                mk.best_redemption(vgap, rho, tc, sub, 8.0, allowed))
    assert same(mk.redemption_choice(k, ref, k @ ref.T, origin, tcm, 2.5, 0.3, 2.0, _EPS,
                                     1.0 - 1e-9, balance, slots, 4.0, 8.0, eligible, home,
                                     inst_total),
                mk.best_redemption(vgap, rho, tc, sub, 8.0, allowed))


def test_project_institutes_and_rows_equal_numpy():
    from coinnovation_sim.kernels import segment_sampler_arrays
    from coinnovation_sim.sampling import cumulative_rows

    rng = np.random.default_rng(15)
    ni, p, n = 300, 16, 40
    place = rng.integers(0, p, ni)
    w, capacity = rng.uniform(0.5, 3, ni), rng.uniform(0, 20, ni)
    knowledge = rng.lognormal(0, 1, (ni, 8)) * (rng.random((ni, 8)) < 0.8)
    got = mk.project_institutes(place, w, capacity, knowledge, p)
    expect = segment_sampler_arrays(place, w * capacity * row_sums(knowledge), p)
    assert all(same(a, b) for a, b in zip(got, expect, strict=True))
    eligible = rng.random((p, p)) < 0.5
    eligible[4] = False                           # a home with nowhere eligible
    phi = rng.uniform(0.05, 1.0, (p, p))
    inst_total = got[7] * (rng.random(p) < 0.8)
    home, origin = rng.integers(0, p, n), rng.integers(0, p, n)
    home[:3] = 4
    prob, cum = mk.project_rows(eligible, phi, home, origin, inst_total)
    want = normalise_rows(eligible[home] * phi[origin] * inst_total[None, :])
    assert same(prob, want) and same(cum, cumulative_rows(want))


def test_voucher_masks_equal_flatnonzero():
    rng = np.random.default_rng(5)
    n = 2000
    alive, place = rng.random(n) < 0.9, rng.integers(0, 16, n)
    open_place = rng.random(16) < 0.5
    talent, capital = rng.uniform(-1, 300, n), rng.normal(5, 10, n)
    firm_id = np.arange(n)
    other = np.where(rng.random(n) < 0.3, firm_id, -2)
    balance = rng.uniform(0, 1, n) * (rng.random(n) < 0.5)
    assert same(mk.voucher_candidates(alive, place, open_place, talent, 200.0, capital, other, firm_id),
                np.flatnonzero(alive & open_place[place] & (talent > 0) & (talent <= 200.0)
                               & (capital > 0) & (other != firm_id)))
    users = np.flatnonzero(alive & (other == firm_id) & (balance > 1e-9) & (capital > 0))
    assert same(mk.voucher_users_of(firm_id, alive, other, firm_id, balance, capital, 1e-9), users)
    weight = rng.lognormal(0, 2, n)
    granted = np.flatnonzero((balance > 0) | (rng.random(n) < 0.1))   # holders among them
    collab = rng.random(600) < 0.3
    price = np.where(collab, 30.0, rng.uniform(0, 2, 600))
    # scattered searchers (checked one by one), ascending ones (merged with the granted slots),
    # ascending ones from the middle, none
    scattered = rng.choice(n, 600, replace=False)
    for searcher in (scattered, np.sort(scattered), np.sort(scattered)[300:],
                     np.zeros(0, np.int64)):
        m = len(searcher)
        holders, amount, count = mk.voucher_holders(balance, other, firm_id, searcher,
                                                    collab[:m], price[:m], 0.5, granted)
        want = (balance[searcher] > 0) & (other[searcher] == firm_id[searcher]) & ~collab[:m]
        assert same(holders, want) and count == want.sum()
        assert same(amount, np.where(want, np.minimum(balance[searcher], 0.5 * price[:m]), 0.0))
        assert count > 0 or m == 0
    assert same(mk.voucher_users_of(granted, alive, other, firm_id, balance, capital, 1e-9),
                users)
    for cut in (n, 7, 0):                         # pairwise blocks, a short sum, an empty one
        live = (other[:cut] == firm_id[:cut]) & alive[:cut] & (balance[:cut] > 0)
        assert same(np.float64(mk.holders_weight(granted[granted < cut], other, firm_id, alive,
                                                 balance, weight)),
                    np.float64(weight[:cut][live].sum()))


@pytest.mark.parametrize("nf,p", [(3, 5), (8, 16), (9, 130)])
def test_kernels_are_exact_for_other_field_and_place_counts(nf, p):
    """Shapes other than the shipped 8 fields and 16 places use the general sums."""
    rng, k, place, pools = _firms(seed=6, n=50, p=p, nf=nf)
    reps, prices = _offers(rng, k, pools)
    cap, eff, worth = mk.knowledge_terms(k, pools, k @ pools.T, reps,
                                         np.stack([k @ r.T for r in reps]), 0.75, prices, 2.0, _EPS)
    assert same(eff, learning_efficiency(1.0 - np.clip(cosine_to_pools(k, pools), 0.0, 1.0)))
    e = learning_efficiency(1.0 - np.clip(cosine_to_pools(k, reps[0]), 0.0, 1.0))
    assert same(worth[0], 0.75 * cap[:, None] * e * gap_sums(reps[0], k) - prices[0])
    psi = normalise_rows(rng.random((p, p)))
    weights = rk.origin_weights(place, psi, eff)
    q = np.stack([normalise_rows(rng.random((p, p))) for _ in range(2)])
    tc = rng.random((p, p))
    got = mk.knowledge_value(place, k, weights, weights @ pools, cap, worth, q, np.array([0.6, 0.4]),
                             tc, 0.1, 0.08)
    gap = np.maximum(0.0, weights @ pools - weights.sum(axis=1)[:, None] * k)
    deals = np.zeros(len(k))
    for j, s in enumerate((0.6, 0.4)):
        deals += s * (q[j][place] * np.maximum(0.0, worth[j] - tc[place])).sum(axis=1)
    assert same(got, 0.1 * cap * gap.sum(axis=1) + 0.08 * deals)


def test_voucher_quote_equals_the_numpy_subsidy():
    rng = np.random.default_rng(7)
    n, p = 1500, 16
    searcher = rng.choice(5000, n, replace=False)
    balance = rng.uniform(0, 40, 5000) * (rng.random(5000) < 0.3)
    holders = (balance[searcher] > 0) & (rng.random(n) < 0.8)
    dest = rng.integers(-1, p, n)
    home = rng.integers(0, p, n)
    eligible = rng.random((p, p)) < 0.4
    price = np.where(rng.random(n) < 0.4, 25.0, 8.0)
    valid = rng.random(n) < 0.7
    d = np.where(dest >= 0, dest, 0)
    ok = holders & (dest >= 0) & eligible[home, d]
    quote = np.where(ok, np.minimum(balance[searcher], (1.0 - 0.5) * price), 0.0)
    assert same(mk.voucher_quote(holders, holders, dest, home, eligible, balance, searcher, price,
                                 1.0 - 0.5), quote)
    assert same(mk.voucher_quote(valid, holders, dest, home, eligible, balance, searcher, price,
                                 1.0 - 0.5), np.where(valid, quote, 0.0))


def test_platform_deals_equal_numpy():
    rng = np.random.default_rng(8)
    n, p = 1200, 16
    origin = rng.integers(0, p, n)
    deal = rng.random(n) < 0.5
    dest = rng.integers(-1, p, n)
    members = rng.random(p) < 0.6
    d = np.where(dest >= 0, dest, 0)
    assert same(mk.platform_deals(deal, origin, dest, members),
                np.flatnonzero(deal & members[origin] & members[d] & (origin != d)))


def test_platform_rows_equal_numpy():
    from coinnovation_sim.sampling import cumulative_rows

    rng = np.random.default_rng(12)
    n, p = 900, 16
    phi = rng.random((p, p))
    phi[3] = 0.0                                  # an origin with nowhere to go
    members = rng.random(p) < 0.6
    members[3] = True
    firm_total = rng.lognormal(0, 2, p) * (rng.random(p) < 0.8)
    inst_total = rng.lognormal(0, 2, p) * (rng.random(p) < 0.7)
    origin = rng.integers(0, p, n)
    collab = rng.random(n) < 0.3
    active = members[origin]
    prob, cum, row = mk.platform_rows(phi, members, firm_total, inst_total, origin, collab, active)
    m_phi = phi * members[None, :]
    expect = np.concatenate((normalise_rows(m_phi * firm_total[None, :]),
                             normalise_rows(m_phi * inst_total[None, :])))
    assert same(prob, expect)
    assert same(cum, cumulative_rows(expect))
    assert same(row, np.where(active, np.where(collab, origin, origin + p), -1))
    got = mk.platform_search_rows(phi, members, firm_total, inst_total, origin, collab)
    want = mk.platform_rows(phi, members, firm_total, inst_total, origin, collab, members[origin])
    for a, b in zip(got[:3], want, strict=True):
        assert same(a, b)
    assert got[3] == members[origin].sum()


def test_platform_settle_equals_the_numpy_fees():
    rng = np.random.default_rng(9)
    n, p, slots = 1400, 16, 6000
    searcher = rng.choice(slots, n, replace=False)
    home = rng.integers(0, p, n)
    weight = rng.uniform(0.5, 40, slots)
    weight[::7] = 1.0
    price = np.where(rng.random(n) < 0.4, 25.0, 8.0)
    plain_net = rng.normal(0, 30, n)
    plain_net[::11] = -0.0
    capital = rng.normal(100, 50, slots)
    for via in (np.flatnonzero(rng.random(n) < 0.3), np.flatnonzero(rng.random(n) < 0.01)):
        buyer = searcher[via]
        h = home[via]
        w = weight[buyer]
        fee = 0.03 * price[via]
        cap = capital.copy()
        cap[buyer] -= fee
        paid = fee * w
        value = (plain_net[via] - fee) * w
        got_cap = capital.copy()
        hh, pd, gain, w_sum, paid_sum = mk.platform_settle(via, searcher, home, weight, price,
                                                           plain_net, 0.03, got_cap, p)
        assert same(hh, h) and same(pd, paid) and same(got_cap, cap)
        assert same(gain, np.bincount(h, weights=value, minlength=p))
        assert same(np.float64(w_sum), np.float64(float(w.sum())))
        assert same(np.float64(paid_sum), np.float64(float(paid.sum())))



@pytest.mark.parametrize("share", [0.5, 0.0])
def test_platform_fees_equal_deals_settle_and_bincount(share):
    rng = np.random.default_rng(19)
    n, p, slots = 1400, 16, 6000
    searcher = rng.choice(slots, n, replace=False)
    origin, home, dest = rng.integers(0, p, n), rng.integers(0, p, n), rng.integers(-1, p, n)
    members = rng.random(p) < share
    deal = rng.random(n) < 0.6
    weight = rng.uniform(0.5, 40, slots)
    price = np.where(rng.random(n) < 0.4, 25.0, 8.0)
    plain_net = rng.normal(0, 30, n)
    capital = rng.normal(100, 50, slots)
    via = mk.platform_deals(deal, origin, dest, members)
    want_cap, got_cap = capital.copy(), capital.copy()
    got = mk.platform_fees(deal, origin, dest, members, searcher, home, weight, price, plain_net,
                           0.03, got_cap, p)
    assert got[0] == len(via)
    if len(via):
        h, paid, gain, w_sum, paid_sum = mk.platform_settle(via, searcher, home, weight, price,
                                                            plain_net, 0.03, want_cap, p)
        assert same(got[1], np.bincount(h, weights=-paid, minlength=p)) and same(got[2], gain)
        assert got[3:] == (w_sum, paid_sum) and got[3] > 0
    assert same(got_cap, want_cap)
    # with the fees and gains booked in place (numpy's additions to the account and the gains)
    account, members_gain = rng.normal(0, 5, p), rng.normal(0, 5, p)
    account[3] = -0.0
    want_account, want_gain = account.copy(), members_gain.copy()
    if got[0]:
        want_account += got[1]
        want_gain += got[2]
    booked_cap = capital.copy()
    booked = mk.platform_fees_booked(deal, origin, dest, members, searcher, home, weight, price,
                                     plain_net, 0.03, booked_cap, p, account, members_gain)
    assert booked == (got[0], got[3], got[4]) and same(booked_cap, got_cap)
    assert same(account, want_account) and same(members_gain, want_gain)

def test_voucher_settle_equals_the_numpy_redemptions():
    rng = np.random.default_rng(10)
    n, p, nf, n_slots = 1500, 16, 8, 6000
    searcher = rng.choice(n_slots, n, replace=False)
    home = rng.integers(0, p, n)
    dest = rng.integers(-1, p, n)
    best_idx = np.where(dest >= 0, rng.integers(0, 50, n), -1)
    dest = np.where(best_idx >= 0, dest, -1)
    weight = rng.uniform(0.5, 40, n_slots)
    quote = rng.uniform(0, 12, n) * (rng.random(n) < 0.5)
    quote[::13] = -0.0
    price = np.where(rng.random(n) < 0.4, 25.0, 8.0)
    plain_net = rng.normal(0, 20, n)
    plain_net[::9] = -0.0
    gain = rng.normal(0, 3, (n, nf)) * (rng.random((n, nf)) < 0.7)
    gain[5] = np.inf
    balance = rng.uniform(0, 40, n_slots)
    for share in (0.5, 0.01, 0.0):
        deal = rng.random(n) < share
        used = deal & (best_idx >= 0) & (quote > 0)
        slots = searcher[used]
        sub = quote[used]
        w = weight[slots]
        h = home[used]
        d = dest[used]
        spend = sub * w
        bal = balance.copy()
        bal[slots] -= sub
        additional = plain_net[used] < 0
        got_bal = balance.copy()
        out = mk.voucher_settle(deal, best_idx, quote, searcher, home, dest, weight, plain_net,
                                gain, price, got_bal, p)
        assert same(out[0], np.flatnonzero(used)) and same(got_bal, bal)
        for a, b in zip(out[1:8], (slots, sub, w, h, d, spend, additional), strict=True):
            assert same(a, b)
        if used.any():
            assert same(out[8], np.bincount(h, weights=spend, minlength=p))
            assert same(out[9], np.bincount(h, weights=gain[used].sum(axis=1) * w * additional,
                                            minlength=p))
            assert same(out[10], np.bincount(d, weights=price[used] * w, minlength=p))
        for a, b in zip(out[11:], (spend.sum(), w.sum(), w[additional].sum(), w[d != h].sum()),
                        strict=True):
            assert same(np.float64(a), np.float64(float(b)))


def test_member_costs_equal_the_numpy_unit_costs():
    rng = np.random.default_rng(11)
    n, p = 4000, 16
    member = np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), -1)
    member[::17] = -1
    unit_cost = np.array([2.5, 0.0, 7.25])
    weight = rng.uniform(0.5, 40, n)
    place = rng.integers(0, p, n)
    capital = rng.normal(50, 30, n)
    for inside in (np.flatnonzero(member >= 0), np.flatnonzero(member >= 0)[:5],
                   np.zeros(0, np.int64)):
        c = unit_cost[member[inside]]
        cap = capital.copy()
        cap[inside] -= c
        got_cap = capital.copy()
        where, booked, cost = mk.member_costs(inside, member, unit_cost, weight, got_cap, place)
        assert same(got_cap, cap) and same(where, place[inside])
        assert same(booked, -weight[inside] * c)
        assert same(np.float64(cost), np.float64(float((weight[inside] * c).sum())))


def test_voucher_requests_and_grants_equal_the_numpy_approval():
    rng = np.random.default_rng(12)
    n_slots, p, m = 5000, 16, 700
    slots = rng.choice(n_slots, m, replace=False)
    amount = rng.uniform(0, 20, m)
    amount[::9] = 0.0
    weight = rng.uniform(0.5, 40, n_slots)
    place = rng.integers(0, p, n_slots)
    firm_id = rng.integers(0, 10**6, n_slots)
    ever = np.where(rng.random(n_slots) < 0.5, firm_id, -1)
    applied = np.full(n_slots, -1, np.int64)
    balance = rng.uniform(0, 30, n_slots)
    holder = np.where(rng.random(n_slots) < 0.3, firm_id, -1)
    for sl, am in ((slots, amount), (slots[:3], amount[:3]), (slots[:0], amount[:0])):
        w = weight[sl]
        home = place[sl]
        ids = firm_id[sl]
        new = ever[sl] != ids
        e, a = ever.copy(), applied.copy()
        e[sl] = ids
        a[sl] = ids
        got_e, got_a = ever.copy(), applied.copy()
        out = mk.voucher_requests(sl, am, weight, place, firm_id, got_e, got_a, p)
        assert same(got_e, e) and same(got_a, a)
        assert same(out[0], w) and same(out[1], home) and same(out[2], ids)
        assert same(np.float64(out[3]), np.float64(float(w[new].sum())))
        assert same(np.float64(out[4]), np.float64(float((am * w).sum())))
        if len(sl):
            assert same(out[5], np.bincount(home, weights=am * w, minlength=p))
        assert same(out[6], am * w)
        got = am * w * np.where(rng.random(len(sl)) < 0.3, rng.random(len(sl)), 1.0)
        got[::7] = 0.0
        approve = got > 1e-9
        bal, hold = balance.copy(), holder.copy()
        bal[sl[approve]] = got[approve] / w[approve]
        hold[sl[approve]] = ids[approve]
        got_bal, got_hold = balance.copy(), holder.copy()
        approved, rationed, by_place = mk.voucher_grants(sl, am, w, home, ids, got, got_bal,
                                                         got_hold, p)
        assert same(got_bal, bal) and same(got_hold, hold)
        assert same(np.float64(approved), np.float64(float(got.sum())))
        assert same(np.float64(rationed), np.float64(float((am * w - got).sum())))
        if len(sl):
            assert same(by_place, np.bincount(home, weights=got, minlength=p))


def _package_numpy(vgap, rho, tc, p, c, face, unit_subsidy):
    """The vouchers' package rule as it was written in numpy."""
    a = -np.log1p(-rho)
    mu0 = vgap * a

    def n_opt(cost):
        cost = np.maximum(cost, 1e-9)
        return np.divide(np.log(np.maximum(mu0, cost) / cost), a, out=np.zeros_like(mu0), where=a > 0)

    def worth(n):
        return vgap * -np.expm1(-a * n) - (p + tc) * n

    n_kink = face / unit_subsidy
    n1 = n_opt(c * p + tc)
    n2 = n_opt(p + tc)
    n_v = np.where(n1 <= n_kink, n1, np.maximum(n_kink, n2))
    request = np.minimum(face, unit_subsidy * n_v)
    return worth(n_v) + request - worth(n2), request, (p + tc) * np.minimum(n_v, n_kink)


def test_package_kernels_equal_the_numpy_package_rule():
    rng = np.random.default_rng(9)
    n, p = 400, 16
    vgap = rng.lognormal(5, 2, (n, p)) * (rng.random((n, p)) < 0.9)
    rho = np.clip(rng.uniform(-0.1, 1.0, (n, p)), 0.0, 1.0 - 1e-9)
    rho[:5] = 0.0                                 # a = 0: no package
    tc = rng.uniform(0, 6, (n, p))
    price, c = 8.0, 0.5
    for face in (50.0, 10.0, 0.5):
        unit_subsidy = (1.0 - c) * price
        n_kink = face / unit_subsidy
        a = -np.log1p(-rho)
        logs = np.log(mk.package_ratios(vgap, a, tc, c * price, price))
        n_v, n_2, request, expo = mk.package_sizes(logs, a, n_kink, face, unit_subsidy)
        gain, outlay = mk.package_worth(vgap, np.expm1(expo), n_v, n_2, request, tc, price, n_kink)
        e_gain, e_request, e_outlay = _package_numpy(vgap, rho, tc, price, c, face, unit_subsidy)
        assert same(gain, e_gain) and same(request, e_request) and same(outlay, e_outlay)


def test_masked_argmax_equals_numpy_argmax():
    rng = np.random.default_rng(10)
    x = rng.normal(0, 1, (600, 16))
    x[:, 5] = x[:, 9]                              # ties: the first wins
    x[7, 3] = np.nan                               # a NaN wins
    allowed = rng.random((600, 16)) < 0.4
    allowed[:20] = False                           # nothing allowed: index 0, value -inf
    allowed[7, 3] = True
    masked = np.where(allowed, x, -np.inf)
    index, value = mk.masked_argmax(x, allowed)
    expect = np.argmax(masked, axis=1)
    assert same(index, expect)
    assert same(value, masked[np.arange(600), expect])


def test_enclave_membership_kernels_equal_numpy():
    rng = np.random.default_rng(11)
    n = 3000
    member = np.where(rng.random(n) < 0.1, rng.integers(0, 3, n), -1)
    alive = rng.random(n) < 0.95
    firm_id = np.arange(n)
    member_id = np.where(rng.random(n) < 0.05, firm_id + n, firm_id)
    weight = rng.uniform(0.5, 2.0, n)
    inside = np.flatnonzero(member >= 0)
    assert same(mk.stale_members(inside, alive, firm_id, member_id),
                np.flatnonzero((member >= 0) & (~alive | (firm_id != member_id))))
    assert same(mk.park_units(inside, member, weight, 3),
                np.bincount(member[inside], weights=weight[inside], minlength=3))


def test_knowledge_weighted_groups_equal_the_three_numpy_passes():
    from coinnovation_sim.innovation import group_sum

    rng, k, place, _ = _firms(seed=12)
    alive = rng.random(len(k)) < 0.85
    wf = rng.uniform(0.5, 3.0, len(k))
    weight = np.where(alive, wf, 0.0) * row_sums(k)
    total, num = rk.knowledge_weighted_groups(place, alive, wf, k, 16)
    assert same(total, np.bincount(place, weights=weight, minlength=16))
    assert same(num, group_sum(place, weight[:, None] * k, 16))
    alive[::9] = True
    wf[::9] = 0.0                                 # live rows of weight 0: skipped by the pools
    from coinnovation_sim.kernels import group_weighted_rows
    tstar, talent = rng.uniform(0, 30, len(k)), rng.uniform(0, 30, len(k))
    capital = rng.normal(5, 5, len(k))
    for pl, kk in ((place, k), (np.sort(place), k), (place, k[:, :5].copy())):
        # random places, runs of one place (sums carried in registers), another field count
        got = mk.outlook_sums(pl, alive, wf, kk, tstar, talent, capital, 0.2, 16)
        want = (*group_weighted_rows(pl, alive, wf, kk, 16, True),
                *rk.knowledge_weighted_groups(pl, alive, wf, kk, 16),
                rk.vacancy_totals(tstar, talent, alive, capital, pl, wf, 0.2, 16))
        for a, b in zip(got, want, strict=True):
            assert same(a, b)


def test_outlook_terms_equal_the_numpy_outlook():
    rng = np.random.default_rng(14)
    p = 16
    vac = rng.uniform(0, 5, p) * (rng.random(p) < 0.7)
    vac[3] = 1e-9                                 # filled whatever the inflow
    wage_pow, vac_pow = rng.uniform(0.5, 2, p), rng.uniform(0.5, 2, p)
    phi_t, phi = rng.uniform(0.01, 1, (p, p)), rng.uniform(0.01, 1, (p, p))
    seekers = rng.uniform(0, 50, p)
    pool_f, count_f = rng.lognormal(0, 1, (p, 8)), rng.uniform(0, 9, p)
    count_f[7] = 0.0
    pool_f[7] = 0.0                               # a place without firms
    kw_total, kw_num = rng.uniform(0, 9, p), rng.lognormal(0, 1, (p, 8))
    kw_total[7] = 0.0
    inst_place = rng.integers(0, p, 60)
    inst_place[inst_place == 9] = 10              # a place without institutes
    iw, cap = rng.uniform(0.5, 3, 60), rng.uniform(0, 4, 60)
    iw[4] = 0.0
    ik = rng.lognormal(0, 1, (60, 8))
    mult = rng.uniform(0.5, 1.5, (p, p))
    fill, basis, q, psi, tc = mk.outlook_terms(vac, wage_pow, vac_pow, phi_t, seekers, pool_f,
                                               count_f, kw_total, kw_num, inst_place, iw, cap,
                                               ik, phi, mult, 2.5)
    attract = np.where(vac > 0, wage_pow * vac_pow, 0.0)
    inflow = (seekers[:, None] * normalise_rows(phi_t * attract[None, :])).sum(axis=0)
    assert same(fill, np.divide(inflow, vac, out=np.ones(p), where=vac > inflow))
    from coinnovation_sim.kernels import group_weighted_rows
    ti, ci = group_weighted_rows(inst_place, np.ones(60, np.bool_), iw, ik, p, True)
    total, count = pool_f + ti, count_f + ci
    pools = np.divide(total, count[:, None], out=np.zeros_like(total), where=count[:, None] > 0)
    inst_total, inst_num = rk.institute_groups(inst_place, iw * cap * row_sums(ik), ik, p)
    want = np.stack([mk.group_means(inst_num, inst_total), mk.group_means(kw_num, kw_total), pools])
    assert same(basis, want)
    assert same(q, np.stack([normalise_rows(phi * t[None, :]) for t in (inst_total, kw_total)]))
    assert same(psi, normalise_rows(phi))
    assert same(tc, 2.5 * mult / phi)


def test_reviewing_slots_and_members_staff_equal_numpy():
    rng = np.random.default_rng(13)
    n = 4000
    member = np.where(rng.random(n) < 0.1, rng.integers(0, 3, n), -1)
    review, alive = rng.random(n) < 0.25, rng.random(n) < 0.9
    capital = rng.normal(3, 5, n)
    assert same(rk.reviewing_slots(member, review, alive, capital, True),
                np.flatnonzero((member >= 0) & review & alive))
    assert same(rk.reviewing_slots(member, review, alive, capital, False),
                np.flatnonzero(alive & (member < 0) & review & (capital > 0)))
    u = rng.random(n)
    review = u < 0.25
    members, free = mk.review_slots(member, u, 0.25, alive, capital)
    assert same(members, rk.reviewing_slots(member, review, alive, capital, True))
    assert same(free, rk.reviewing_slots(member, review, alive, capital, False))
    for cut in (0.5, 0.0, 1.0):                   # some, none or all reviewing members leave
        leavers = members[rng.random(len(members)) < cut]
        after = member.copy()
        after[leavers] = -1
        assert same(mk.with_leavers(free, leavers, capital),
                    rk.reviewing_slots(after, review, alive, capital, False))
    w, talent, share = rng.uniform(0.5, 2, n), rng.uniform(0, 50, n), rng.uniform(0.2, 1, n)
    inside = member >= 0
    assert same(mk.members_staff(np.flatnonzero(inside), w, talent, share),
                (w[inside] * talent[inside] * share[inside]).sum())
    assert same(mk.members_staff(np.zeros(0, np.int64), w, talent, share), np.zeros(0).sum())


def test_sorted_union_equals_union1d():
    rng = np.random.default_rng(14)
    for na, nb in ((0, 0), (0, 5), (7, 0), (30, 40), (500, 20)):
        a = np.unique(rng.integers(0, 2 * (na + nb) + 1, na))
        b = np.unique(rng.integers(0, 2 * (na + nb) + 1, nb))
        assert same(mk.sorted_union(a, b), np.union1d(a, b))
        assert same(mk.sorted_union(b, a), np.union1d(a, b))


def test_grant_slots_and_application_setup_equal_their_kernels():
    rng = np.random.default_rng(21)
    n_slots, p, m = 3000, 16, 300
    granted = np.sort(rng.choice(n_slots, 200, replace=False))
    slots = np.sort(rng.choice(n_slots, m, replace=False))
    amount, w = rng.uniform(0, 20, m), rng.uniform(0.5, 40, m)
    home, ids = rng.integers(0, p, m), rng.integers(0, 10**6, m)
    got = amount * w * (rng.random(m) < 0.8)
    balance, holder = rng.uniform(0, 30, n_slots), rng.integers(-2, 10**6, n_slots)
    b1, h1, b2, h2 = balance.copy(), holder.copy(), balance.copy(), holder.copy()
    want = mk.voucher_grants(slots, amount, w, home, ids, got, b1, h1, p)
    out = mk.voucher_grant_slots(slots, amount, w, home, ids, got, b2, h2, p, granted)
    for a, b in zip(out[:3], want, strict=True):
        assert same(np.asarray(a), np.asarray(b))
    assert same(out[3], np.union1d(granted, slots)) and same(b1, b2) and same(h1, h2)
    alive, place = rng.random(n_slots) < 0.9, rng.integers(0, p, n_slots)
    open_place = rng.random(p) < 0.5
    talent, capital = rng.uniform(-1, 300, n_slots), rng.normal(5, 10, n_slots)
    firm_id = np.arange(n_slots)
    applied = np.where(rng.random(n_slots) < 0.3, firm_id, -2)
    inst_place, capacity = rng.integers(0, p, 90), rng.uniform(0, 9, 90)
    inst_k = rng.lognormal(0, 1, (90, 8))
    mult, phi = rng.uniform(0.5, 1.5, (p, p)), rng.uniform(0.05, 1.0, (p, p))
    cand, (ref, tc) = mk.application_setup(alive, place, open_place, talent, 200.0, capital,
                                           applied, firm_id, inst_place, capacity, inst_k, p, 2.5,
                                           mult, phi)
    assert same(cand, mk.voucher_candidates(alive, place, open_place, talent, 200.0, capital,
                                            applied, firm_id))
    want_ref, want_tc = mk.reference_terms(inst_place, capacity, inst_k, p, 2.5, mult, phi)
    assert same(ref, want_ref) and same(tc, want_tc)


def test_voucher_choice_equals_argmax_then_masks():
    rng = np.random.default_rng(16)
    n, p, nslots = 60, 16, 500
    gain = rng.normal(3, 5, (n, p))
    gain[5, 2] = np.nan                           # a NaN wins numpy's argmax
    request, outlay = rng.uniform(-1, 50, (n, p)), rng.uniform(0, 80, (n, p))
    eligible = rng.random((p, p)) < 0.4
    eligible[1] = False                           # a home with nowhere eligible
    place = rng.integers(0, p, nslots)
    place[:10] = 1
    aware = np.sort(rng.choice(nslots, n, replace=False))
    aware[0] = 3
    kappa = rng.lognormal(1, 1, n)
    capital = rng.normal(40, 30, nslots)
    best, g_best = mk.masked_argmax(gain, eligible[place[aware]])
    rows = np.arange(n)
    r_best, out_best = request[rows, best], outlay[rows, best]
    ok = (g_best > kappa) & (r_best > 0) & (capital[aware] >= out_best)
    slots, amount = mk.voucher_choice(gain, request, outlay, eligible, place, aware, kappa, capital)
    assert same(slots, aware[ok]) and same(amount, r_best[ok]) and 0 < ok.sum() < n
    # with the requests of the applicants in the same call
    weight, firm_id = rng.uniform(0.5, 40, nslots), rng.permutation(nslots)
    ever = np.where(rng.random(nslots) < 0.5, firm_id, -1)
    applied = np.full(nslots, -1, np.int64)
    for k in (kappa, np.full(n, np.inf)):         # applicants, none
        e, a = ever.copy(), applied.copy()
        want = mk.voucher_requests(*mk.voucher_choice(gain, request, outlay, eligible, place,
                                                      aware, k, capital),
                                   weight, place, firm_id, e, a, p)
        got_e, got_a = ever.copy(), applied.copy()
        got_slots, got_amount, got = mk.voucher_applicants(gain, request, outlay, eligible, place,
                                                           aware, k, capital, weight, firm_id,
                                                           got_e, got_a, p)
        sl, am = mk.voucher_choice(gain, request, outlay, eligible, place, aware, k, capital)
        assert same(got_slots, sl) and same(got_amount, am)
        assert same(got_e, e) and same(got_a, a)
        for x, y in zip(got, want, strict=True):
            assert same(np.asarray(x), np.asarray(y))


def test_project_search_equals_the_numpy_arrays():
    rng = np.random.default_rng(17)
    unit_place, place = rng.integers(0, 16, 300), rng.integers(0, 16, 300)
    users = np.sort(rng.choice(300, 25, replace=False))
    n = len(users)
    got = mk.project_search(users, unit_place, place, 8.0, 8)
    want = (unit_place[users], place[users], np.zeros(n, bool), np.full(n, 8.0), np.zeros(n),
            np.full(n, -1), np.full(n, -1), np.zeros((n, 8)), np.zeros(n), np.zeros(n), np.zeros(n))
    assert all(same(a, b) for a, b in zip(got, want, strict=True))


def test_voucher_redeem_equals_quote_then_settle():
    rng = np.random.default_rng(18)
    n, p, nf, n_slots = 900, 16, 8, 5000
    searcher = rng.choice(n_slots, n, replace=False)
    home = rng.integers(0, p, n)
    dest = rng.integers(-1, p, n)
    best_idx = np.where(dest >= 0, rng.integers(0, 50, n), -1)
    holders = rng.random(n) < 0.4
    eligible = rng.random((p, p)) < 0.5
    weight = rng.uniform(0.5, 40, n_slots)
    price = np.where(rng.random(n) < 0.4, 25.0, 8.0)
    plain_net = rng.normal(0, 20, n)
    gain = rng.normal(0, 3, (n, nf))
    balance = rng.uniform(0, 40, n_slots) * (rng.random(n_slots) < 0.8)
    firm_id = rng.permutation(3 * n_slots)[:n_slots]
    deal = rng.random(n) < 0.6
    quote = mk.voucher_quote(holders, holders, dest, home, eligible, balance, searcher, price, 0.5)
    want_bal = balance.copy()
    want = mk.voucher_settle(deal, best_idx, quote, searcher, home, dest, weight, plain_net, gain,
                             price, want_bal, p)
    got_bal = balance.copy()
    got = mk.voucher_redeem(holders, eligible, 0.5, deal, best_idx, searcher, home, dest, weight,
                            plain_net, gain, price, got_bal, firm_id, p)
    assert same(got_bal, want_bal) and len(want[0]) > 0
    for a, b in zip(got[:15], want, strict=True):
        assert same(np.asarray(a), np.asarray(b))
    assert same(got[15], firm_id[want[1]]) and same(got[16], best_idx[want[0]])
    # with the spending booked in place (numpy's additions), or nothing where none is redeemed
    for d in (deal, np.zeros(n, bool)):
        targets = [rng.normal(0, 5, p) for _ in range(5)]
        want_targets = [x.copy() for x in targets]
        bal = balance.copy()
        plain = mk.voucher_redeem(holders, eligible, 0.5, d, best_idx, searcher, home, dest,
                                  weight, plain_net, gain, price, bal, firm_id, p)
        if len(plain[0]):
            for x, add in zip(want_targets, (plain[8], plain[8], plain[8], plain[9], plain[10]),
                              strict=True):
                x += add
        bal2 = balance.copy()
        booked = mk.voucher_redeem_booked(holders, eligible, 0.5, d, best_idx, searcher, home,
                                          dest, weight, plain_net, gain, price, bal2, firm_id, p,
                                          *targets)
        assert same(bal, bal2) and len(booked) == 14
        for a, b in zip(booked, plain[:8] + plain[11:], strict=True):
            assert same(np.asarray(a), np.asarray(b))
        for a, b in zip(targets, want_targets, strict=True):
            assert same(a, b)


def test_project_setup_equals_users_institutes_and_search():
    rng = np.random.default_rng(19)
    n, ni, p = 400, 60, 16
    alive, capital = rng.random(n) < 0.9, rng.normal(5, 10, n)
    firm_id = np.arange(n)
    holder_id = np.where(rng.random(n) < 0.5, firm_id, -2)
    balance = rng.uniform(0, 1, n) * (rng.random(n) < 0.7)
    granted = np.sort(rng.choice(n, 150, replace=False))
    inst_place, inst_w = rng.integers(0, p, ni), rng.uniform(0.5, 2, ni)
    capacity, inst_k = rng.uniform(0, 9, ni), rng.lognormal(0, 1, (ni, 8))
    unit_place, place = rng.integers(0, p, n), rng.integers(0, p, n)
    eligible, phi = rng.random((p, p)) < 0.5, rng.uniform(0.05, 1.0, (p, p))
    knowledge = rng.lognormal(0, 1, (n, 8))
    users, insts, search, rows, quotes, rcv = mk.project_setup(
        granted, alive, holder_id, firm_id, balance, capital, 1e-9, inst_place, inst_w, capacity,
        inst_k, p, unit_place, place, 8.0, 8, eligible, phi, 0.5, knowledge, 5.0)
    want = mk.voucher_users_of(granted, alive, holder_id, firm_id, balance, capital, 1e-9)
    assert same(users, want) and len(users) > 0
    for a, b in zip(insts, mk.project_institutes(inst_place, inst_w, capacity, inst_k, p),
                    strict=True):
        assert same(a, b)
    for a, b in zip(search, mk.project_search(want, unit_place, place, 8.0, 8), strict=True):
        assert same(a, b)
    for a, b in zip(rows, mk.project_rows(eligible, phi, place[want], unit_place[want], insts[7]),
                    strict=True):
        assert same(a, b)
    holders, amount, count = mk.voucher_holders(balance, holder_id, firm_id, want,
                                                np.zeros(len(want), bool),
                                                np.full(len(want), 8.0), 0.5, granted)
    assert count == len(want) and same(quotes[0], holders) and same(quotes[1], amount)
    from coinnovation_sim.search_kernels import receiver_knowledge

    for a, b in zip(rcv, receiver_knowledge(want, knowledge, 5.0), strict=True):
        assert same(a, b)


def test_reference_terms_equal_group_means_and_numpy_costs():
    rng = np.random.default_rng(20)
    ni, p = 120, 16
    place, capacity = rng.integers(0, p, ni), rng.uniform(0, 9, ni)
    place[place == 5] = 6                         # a place without institutes
    capacity[place == 7] = 0.0                    # a place without capacity
    knowledge = rng.lognormal(0, 1, (ni, 8))
    mult, phi = rng.uniform(0.5, 1.5, (p, p)), rng.uniform(0.05, 1.0, (p, p))
    phi[2, 3] = 0.0
    ref, tc = mk.reference_terms(place, capacity, knowledge, p, 2.5, mult, phi)
    total, num = rk.institute_groups(place, capacity, knowledge, p)
    assert same(ref, mk.group_means(num, total))
    with np.errstate(divide="ignore"):
        assert same(tc, 2.5 * mult / phi)


def test_park_payoffs_equal_the_numpy_month():
    rng = np.random.default_rng(21)
    n, n_parks, p = 500, 3, 16
    member = np.where(rng.random(n) < 0.2, rng.integers(0, n_parks, n), -1)
    inside = np.flatnonzero(member >= 0)
    w, talent, share = rng.uniform(0.5, 2, n), rng.uniform(0, 50, n), rng.uniform(0.2, 1, n)
    sales = rng.uniform(0, 90, len(inside))
    rho, tau, sigma = rng.uniform(0, 1, n_parks), rng.uniform(0, 0.1, n_parks), rng.uniform(0, 1, n_parks)
    host_cost, value = rng.uniform(0, 1, n_parks), rng.normal(0, 50, n_parks)
    park_cost = rng.uniform(0, 90, n_parks)
    host, home = np.array([3, 7, 3]), np.array([0, 8, 0])     # two parks of one pair
    for is_open in (np.array([True, True, False]), np.ones(n_parks, bool)):
        for neg in (np.array([0, 5, 23]), np.array([11, 23, 2])):
            got = mk.park_payoffs(inside, member, w, sales, talent, share, rho, tau, sigma, 0.1,
                                  host_cost, value, park_cost, is_open, neg, neg[::-1].copy(),
                                  host, home, 12, p)
            park = member[inside]
            tax = tau * (rho * np.bincount(park, weights=w[inside] * sales, minlength=n_parks))
            returned = sigma * tax
            e = np.bincount(park, weights=w[inside] * talent[inside] * share[inside], minlength=n_parks)
            units = np.bincount(park, weights=w[inside], minlength=n_parks)
            shared = np.zeros((p, p))
            np.add.at(shared, (host, home), returned)
            pay_host = tax - returned + 0.1 * e - host_cost * units
            pay_home = returned - tax - 0.1 * e + value - park_cost
            sums = np.array([float(v.sum()) for v in (tax, returned, value, pay_host * is_open,
                                                      pay_home * is_open)])
            nh = np.where(is_open & (pay_host < 0), neg + 1, 0)
            nm = np.where(is_open & (pay_home < 0), neg[::-1] + 1, 0)
            worst = np.maximum(nh, nm)
            closing = is_open & (worst >= 24)
            admitting = (is_open & ~closing) & (worst < 12)
            for a, b in zip(got, (pay_host, pay_home, shared, sums, nh, nm, closing, admitting),
                            strict=True):
                assert same(a, b)


def test_month_costs_equal_member_costs_and_the_numpy_park_costs():
    rng = np.random.default_rng(22)
    n, n_parks = 400, 3
    member = np.where(rng.random(n) < 0.2, rng.integers(0, n_parks, n), -1)
    inside = np.flatnonzero(member >= 0)
    w, capital = rng.uniform(0.5, 2, n), rng.normal(5, 5, n)
    place = rng.integers(0, 16, n)
    unit_cost, fixed, per_unit = rng.uniform(0, 2, 3), rng.uniform(0, 30, 3), rng.uniform(0, 3, 3)
    home = np.array([4, 9, 4])                    # two parks of one home
    for is_open in (np.array([True, False, True]), np.ones(3, bool)):
        cap_a, cap_b = capital.copy(), capital.copy()
        row_a = rng.uniform(0, 5, 16)
        row_b = row_a.copy()
        got = mk.month_costs(inside, member, unit_cost, w, cap_a, place, fixed, per_unit, is_open,
                             home, row_a)
        want = mk.member_costs(inside, member, unit_cost, w, cap_b, place)
        units = np.bincount(member[inside], weights=w[inside], minlength=n_parks)
        park_cost = np.where(is_open, fixed + per_unit * units, 0.0)
        np.add.at(row_b, home, park_cost)
        for a, b in zip(got, (*want, park_cost, float(park_cost.sum())), strict=True):
            assert same(a, b)
        assert same(cap_a, cap_b) and same(row_a, row_b)
