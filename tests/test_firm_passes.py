"""The compiled talent and capital passes equal the numpy formulas they replace, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from coinnovation_sim import firm_passes, kernels
from coinnovation_sim.kernels import split_by_location
from helpers import BASELINE

P = 5


def signed_zeros(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """``x`` with about a tenth of its entries replaced by +0.0 or -0.0."""
    z = rng.random(x.shape) < 0.1
    return np.where(z, np.where(rng.random(x.shape) < 0.5, 0.0, -0.0), x)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (``-0.0`` differs from ``0.0``)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def population(seed: int, n: int, split: bool) -> dict[str, np.ndarray]:
    """Random firm arrays with dead slots, signed zeros and negative capital, units away if
    ``split``."""
    rng = np.random.default_rng(seed)
    place = rng.integers(0, P, n)
    unit_place = np.where(rng.random(n) < 0.3, rng.integers(0, P, n), place) if split else place
    x = {
        "alive": rng.random(n) < 0.85,
        "place": place,
        "unit_place": unit_place,
        "unit_share": np.where(unit_place != place, rng.uniform(0.1, 0.9, n), 1.0),
        "weight": rng.uniform(1.0, 4.0, n),
        "talent": rng.gamma(2.0, 5.0, n) * (rng.random(n) < 0.95),
        "tstar": rng.gamma(2.0, 5.0, n),
        "capital": rng.normal(50.0, 60.0, n),
        "debt": rng.gamma(1.0, 20.0, n) * (rng.random(n) < 0.7),
        "overhead": rng.gamma(2.0, 3.0, n),
        "pay": rng.uniform(1.0, 2.5, n),
        "productivity": rng.gamma(2.0, 20.0, n),
        "q": rng.uniform(1.0, 1.5, n),
    }
    for name in ("talent", "tstar", "capital", "debt", "productivity"):
        x[name] = signed_zeros(rng, x[name])
    x["talent_power"] = np.power(np.maximum(x["talent"], 0.0), 0.6)
    return x


def by_location(x: dict[str, np.ndarray], amount: np.ndarray, split: bool) -> np.ndarray:
    """:func:`talent.by_location` on the arrays of :func:`population`."""
    if not split:
        return np.bincount(x["unit_place"], weights=amount, minlength=P)
    return split_by_location(x["unit_place"], x["place"], x["unit_share"], amount, P)


CASES = [(seed, n, split) for seed in (1, 2) for n in (0, 1, 500, 1003)
         for split in (False, True)]


@pytest.mark.parametrize("seed,n,split", CASES)
def test_separation_pass_equals_numpy(seed, n, split):
    x = population(seed, n, split)
    noise = np.random.default_rng(seed + 9).gamma(4.0, 0.25, n)
    quit_rate, speed, retirement = 0.3, 0.4, 0.01
    t = x["talent"]
    quits = t * np.minimum(1.0, quit_rate * noise)
    layoffs = speed * np.maximum(0.0, t - 1.05 * x["tstar"])
    retire = t * retirement
    leave = np.where(x["alive"], np.minimum(t, quits + layoffs + retire), 0.0)
    retire = np.where(x["alive"], np.minimum(retire, leave), 0.0)
    w = x["weight"]
    out, to_pool, retired, vac, vac_p = firm_passes.separation_pass(
        t, x["tstar"], noise, x["alive"], x["capital"], w, x["unit_place"], x["place"],
        x["unit_share"], split, quit_rate, speed, retirement, P)
    assert same(out, t - leave)
    assert same(to_pool, by_location(x, w * (leave - retire), split))
    assert same(retired, by_location(x, w * retire, split))
    expect = firm_passes.vacancy_pass(t - leave, x["tstar"], x["alive"], x["capital"], w,
                                      x["unit_place"], x["place"], x["unit_share"], split, speed,
                                      P)
    assert same(vac, expect[0]) and same(vac_p, expect[1])


@pytest.mark.parametrize("seed,n,split", CASES)
def test_vacancy_and_hire_passes_equal_numpy(seed, n, split):
    x = population(seed, n, split)
    speed = 0.4
    t, w = x["talent"], x["weight"]
    vac = speed * np.maximum(0.0, x["tstar"] - t)
    vac = np.where(x["alive"] & (x["capital"] > 0), vac, 0.0)
    got_vac, vac_p = firm_passes.vacancy_pass(t, x["tstar"], x["alive"], x["capital"], w,
                                              x["unit_place"], x["place"], x["unit_share"],
                                              split, speed, P)
    assert same(got_vac, vac)
    assert same(vac_p, by_location(x, w * vac, split))

    fill = np.random.default_rng(seed).uniform(0.0, 1.0, P)
    away = x["unit_place"] != x["place"]
    unit = np.where(away, x["unit_share"], 1.0)
    hired_unit = vac * unit * fill[x["unit_place"]]
    hired_home = vac * (1.0 - unit) * fill[x["place"]]
    out, mat = firm_passes.hire_pass(t, vac, fill, w, x["unit_place"], x["place"],
                                     x["unit_share"], split, P)
    assert same(out, t + hired_unit + hired_home)
    if split:
        expect = np.bincount(x["unit_place"] * P + x["place"], weights=w * hired_unit,
                             minlength=P * P).reshape(P, P)
        expect += np.diag(np.bincount(x["place"], weights=w * hired_home, minlength=P))
        assert same(mat, expect)
    else:
        assert not mat.any()


@pytest.mark.parametrize("seed,n", [(s, n) for s in (1, 2, 3) for n in (0, 1, 500, 1003)])
def test_capital_passes_equal_numpy(seed, n):
    x = population(seed, n, False)
    alive, place, w, t = x["alive"], x["place"], x["weight"], x["talent"]
    repayment_rate, buffer, savings_rate = 0.02, 3.0, 0.1
    # operations
    rev = np.where(alive, x["productivity"] * x["talent_power"] * x["q"], 0.0)
    cost = np.where(alive, x["pay"] * t + x["overhead"], 0.0)
    profit = rev - cost
    capital = x["capital"] + profit
    margin = np.divide(profit, cost, out=np.zeros(n), where=cost > 0)
    # repayment
    pay = np.where(alive, np.minimum(repayment_rate * x["debt"], np.maximum(capital, 0.0)), 0.0)
    debt = x["debt"] - pay
    capital = capital - pay
    # savings
    kstar = buffer * x["pay"] * np.maximum(t, np.where(alive, x["tstar"], 0.0))
    dep = np.where(alive, savings_rate * np.maximum(0.0, capital - kstar), 0.0)
    capital = capital - dep
    # need
    need = np.where(alive & (margin > 0), np.maximum(0.0, kstar - capital), 0.0)

    t_power = np.power(firm_passes.power_bases(t), 0.6)    # max(t, 0)^0.6 where t > 0
    cap, owe, got_need, got_margin, sums = firm_passes.capital_pass(
        alive, place, w, t, x["overhead"], x["capital"], x["debt"], x["pay"], x["productivity"],
        t_power, x["q"], x["tstar"], float(np.power(0.0, 0.6)), repayment_rate, buffer,
        savings_rate, P)
    assert same(cap, capital)
    assert same(owe, debt)
    assert same(got_need, need)
    assert same(got_margin, margin)
    for row, amount in enumerate((w * profit, w * pay, w * dep, w * need, w * need * margin)):
        assert same(sums[row], np.bincount(place, weights=amount, minlength=P))

    rng = np.random.default_rng(seed)
    need_p = rng.uniform(0.0, 10.0, P) * (rng.random(P) < 0.7)
    invested_in = need_p * rng.uniform(0.0, 1.0, P)
    fill = np.divide(invested_in, need_p, out=np.zeros(P), where=need_p > 0)
    cap2, owe2 = firm_passes.investment_pass(cap, owe, need, invested_in, need_p, place)
    assert same(cap2, cap + need * fill[place])
    assert same(owe2, owe + need * fill[place])
    margin_p = signed_zeros(rng, rng.normal(0.0, 30.0, P))
    ret_p = np.divide(margin_p, need_p, out=np.zeros(P), where=need_p > 0)
    assert same(firm_passes.investment_exponent(margin_p, need_p, 2.5, 50.0),
                np.clip(2.5 * ret_p, -50.0, 50.0))


@pytest.mark.parametrize("seed,n,split", CASES)
def test_quality_wage_and_target_bases_equal_numpy(seed, n, split):
    x = population(seed, n, split)
    rng = np.random.default_rng(seed)
    k = rng.gamma(1.0, 1.0, (n, 8)) * (rng.random((n, 1)) < 0.9)
    ref = 3.7
    kappa = np.zeros(n)
    for c in range(k.shape[1]):                  # left to right, as the kernel adds
        kappa = kappa + k[:, c]
    assert same(kernels.row_sums(k), kappa)
    wage = rng.uniform(0.8, 2.0, P)
    away = x["unit_place"] != x["place"]
    home = wage[x["place"]]
    expect = np.where(away, home + x["unit_share"] * (wage[x["unit_place"]] - home), home)
    assert same(firm_passes.firm_wage(wage, x["place"], x["unit_place"],
                                                x["unit_share"]), expect)
    prod, q = rng.uniform(0.5, 2.0, n), rng.uniform(1.0, 1.5, n)
    alive = x["alive"]
    assert same(firm_passes.target_talent_base(0.6, prod, q, expect, alive),
                np.where(alive, 0.6 * prod * q / expect, 1.0))
    base, away = firm_passes.target_talent_base_at(0.6, prod, q, wage, x["place"],
                                                   x["unit_place"], x["unit_share"], alive)
    assert same(base, np.where(alive, 0.6 * prod * q / expect, 1.0))
    assert away == bool((x["unit_place"] != x["place"]).any())
    rows = rng.integers(0, max(n, 1), 2 * n) if n else np.zeros(0, np.int64)
    assert same(firm_passes.target_talent_base_rows(0.6, prod, q[rows], wage, x["place"],
                                                    x["unit_place"], x["unit_share"], rows),
                (0.6 * prod * q / expect)[rows])
    assert same(firm_passes.quality_base_of(kappa, ref), 1.0 + kappa / ref)
    assert same(firm_passes.quality_base_rows(k, rows, ref), 1.0 + kappa[rows] / ref)


@pytest.mark.parametrize("seed,n", [(s, n) for s in (1, 2) for n in (0, 1, 500)])
def test_row_sum_refresh_and_changed_slots_equal_numpy(seed, n):
    rng = np.random.default_rng(seed)
    k = rng.gamma(1.0, 1.0, (n, 8))
    old = k.sum(axis=1) + 1.0                    # stale totals
    rows = rng.integers(0, max(n, 1), n // 3) if n else np.zeros(0, np.int64)
    rows = np.concatenate([rows, rows[:3]])      # repeated rows are allowed
    kappa = np.zeros(n)
    for c in range(k.shape[1]):
        kappa = kappa + k[:, c]
    expect = old.copy()
    expect[rows] = kappa[rows]
    assert same(firm_passes.refresh_row_sums(old, k, rows), expect)

    base = signed_zeros(rng, rng.gamma(2.0, 1.0, n))
    alive = rng.random(n) < 0.8
    new_base, new_alive = base.copy(), alive.copy()
    pick = rng.random(n) < 0.2
    new_base[pick] = rng.gamma(2.0, 1.0, int(pick.sum()))
    new_base[rng.random(n) < 0.05] *= -1.0       # includes 0.0 -> -0.0
    new_alive[rng.random(n) < 0.05] ^= True
    expect = np.flatnonzero((new_base.view(np.int64) != base.view(np.int64))
                            | (new_alive != alive))
    rows, row_base = firm_passes.changed_slots(new_base, new_alive, base, alive)
    assert same(rows, expect)
    assert same(row_base, np.where(new_alive[expect], new_base[expect], 1.0))
    old_t = signed_zeros(rng, rng.normal(0.0, 1.0, n))
    values = rng.normal(0.0, 1.0, len(expect))
    t = old_t.copy()
    t[expect] = np.where(new_alive[expect], values, 0.0)
    assert same(firm_passes.patched(old_t, expect, values, new_alive), t)


@pytest.mark.parametrize("n", [0, 1, 500])
def test_shocked_log_productivity_equals_numpy(n):
    rng = np.random.default_rng(n)
    la = rng.normal(0.0, 300.0, n)              # some beyond the clip bounds
    lb, eps = rng.normal(0.0, 1.0, n), rng.standard_normal(n)
    expect = la.copy()
    expect += 0.05 * (lb - la) + 0.1 * eps
    expect = np.clip(expect, -700.0, 700.0)
    assert same(firm_passes.shocked_log_productivity(la, lb, eps, 0.05, 0.1), expect)


def test_log_base_productivity_follows_base_productivity():
    from coinnovation_sim.model import CoinnovationModel

    model = CoinnovationModel({"name": "t", "extends": str(BASELINE), "steps": 18,
                               "population": {"firms": 300, "institutes": 10}}, seed=3)
    model.run()
    f = model.firms
    assert f.firm_id.max() >= 300                # firms entered (their base productivity is new)
    assert same(f.log_base_productivity, np.log(np.maximum(f.base_productivity, 1e-300)))


@pytest.mark.parametrize("seed,n,ordered", [(s, n, o) for s in (1, 2) for n in (0, 1, 500)
                                             for o in (False, True)])
def test_exit_pass_and_census_equal_numpy(seed, n, ordered):
    x = population(seed, n, False)
    rng = np.random.default_rng(seed)
    place = np.sort(x["place"]) if ordered else x["place"]
    months = rng.integers(0, 8, n)
    alive, capital = x["alive"], x["capital"]
    expect = np.where(alive & (capital < 0), months + 1, 0)
    log_base = rng.normal(0.0, 1.0, n)
    got, out, free, count, sumlog = firm_passes.exit_pass(alive, capital, months, 6.0, place,
                                                          log_base, P)
    assert same(got, expect)
    assert same(out, np.flatnonzero(alive & (expect >= 6)))
    left = alive & (expect < 6)
    assert same(free, np.flatnonzero(~left))
    assert same(count, np.bincount(place[left], minlength=P))
    assert same(sumlog, np.bincount(place[left], weights=log_base[left], minlength=P))


@pytest.mark.parametrize("seed", range(8))
def test_entry_kernels_equal_numpy(seed):
    rng = np.random.default_rng(seed)
    p, nf = int(rng.integers(1, 20)), 8
    count = rng.integers(0, 3, p) * (rng.random(p) < 0.8)
    pools = rng.gamma(1.0, 1.0, (p, nf)) * (rng.random((p, 1)) < 0.8)
    live = count.astype(float)
    kp = pools.sum(axis=1)
    rel = np.divide(kp, kp[live > 0].mean() if (live > 0).any() else 1.0,
                    out=np.zeros(p), where=kp > 0)
    expect = 0.03 * live * np.sqrt(rel)
    lam, lam_sum = firm_passes.entry_rates(count, pools, 0.03)
    assert same(lam, expect)
    assert same(lam_sum, expect.sum())

    n = int(rng.integers(0, 40))
    place = np.sort(rng.integers(0, p, n))
    mix = rng.dirichlet(np.ones(nf), p)
    u = rng.random(n)
    u[: n // 4] = np.cumsum(mix[place[: n // 4]], axis=1)[:, 3]   # ties with a cumulative share
    cum = np.cumsum(mix[place], axis=1)
    assert same(firm_passes.entrant_fields(mix, place, u),
                np.minimum((u[:, None] > cum).sum(axis=1), nf - 1))

    w = rng.uniform(1.0, 3.0, p)[place]
    tstar = rng.gamma(2.0, 5.0, n) * (rng.random(n) < 0.9)
    wage = rng.uniform(0.8, 2.0, p)
    pool = rng.gamma(1.0, 50.0, p) * (rng.random(p) < 0.9)
    want = 3.0 * wage[place] * tstar
    avail = pool[place] * 0.01
    grant = np.minimum(want, np.divide(avail, np.maximum(w, 1e-12)))
    per_place = np.bincount(place, weights=w * grant, minlength=p)
    scale = np.divide(pool, per_place, out=np.ones(p), where=per_place > pool)
    grant *= np.minimum(scale, 1.0)[place]
    got_grant, overhead, used = firm_passes.founding_grants(place, w, tstar, wage, pool, 3.0,
                                                            0.2, p)
    assert same(got_grant, grant)
    assert same(overhead, 0.2 * wage[place] * tstar)
    assert same(used, np.bincount(place, weights=w * grant, minlength=p))


@pytest.mark.parametrize("scenario", ["all-mechanisms", "vouchers-portable", "enclaves",
                                      "tech-market", "baseline"])
def test_cached_quality_equals_a_full_computation_at_every_use(scenario, monkeypatch):
    """Every change of firm knowledge is reported: the cached quality is never stale."""
    from coinnovation_sim import production
    from coinnovation_sim.model import CoinnovationModel
    from helpers import SCENARIOS

    calls = []
    cached = production.quality

    def checked(model):
        q = cached(model)
        fresh = firm_passes.quality_base_of(kernels.row_sums(model.firms.knowledge),
                                            model.knowledge_ref) ** model.prm["knowledge_elasticity"]
        assert same(q, fresh)
        calls.append(len(model.knowledge_rows))
        return q

    for module in ("production", "capital", "mechanisms.enclaves"):
        mod = __import__(f"coinnovation_sim.{module}", fromlist=["quality"])
        monkeypatch.setattr(mod, "quality", checked)
    model = CoinnovationModel({"name": "q", "extends": str(SCENARIOS / f"{scenario}.yaml"),
                               "steps": 14, "population": {"firms": 600, "institutes": 24}},
                              seed=2)
    model.run()
    assert len(calls) >= 28


@pytest.mark.parametrize("scenario", ["all-mechanisms", "vouchers-portable", "tech-market"])
def test_cached_knowledge_totals_equal_row_sums_at_every_use(scenario, monkeypatch):
    """The firms' total knowledge kept across stages and months is never stale."""
    from coinnovation_sim.kernels import row_sums
    from coinnovation_sim.model import CoinnovationModel
    from helpers import SCENARIOS

    calls = []
    cached = CoinnovationModel.knowledge_totals

    def checked(model):
        refresh = model.kappa_cache is not None and bool(model.kappa_rows)
        kappa = cached(model)
        assert same(kappa, row_sums(model.firms.knowledge))
        calls.append(refresh)
        return kappa

    monkeypatch.setattr(CoinnovationModel, "knowledge_totals", checked)
    model = CoinnovationModel({"name": "k", "extends": str(SCENARIOS / f"{scenario}.yaml"),
                               "steps": 14, "population": {"firms": 600, "institutes": 24}},
                              seed=2)
    model.run()
    assert len(calls) >= 13


def test_knowledge_totals_follow_reported_rows_and_replaced_arrays():
    from coinnovation_sim.kernels import row_sums
    from coinnovation_sim.model import CoinnovationModel

    model = CoinnovationModel({"name": "k", "extends": str(BASELINE), "steps": 3,
                               "population": {"firms": 300, "institutes": 10}}, seed=3)
    model.step()
    f = model.firms
    kept = model.knowledge_totals()              # kept from the metrics of the step
    assert same(kept, row_sums(f.knowledge))
    rows = np.array([3, 7, 7, 50])
    f.knowledge[rows] *= 2.0
    model.knowledge_changed(rows)
    assert same(model.knowledge_totals(), row_sums(f.knowledge))
    assert same(kept, row_sums(f.knowledge) / np.where(np.isin(np.arange(f.n), rows), 2.0, 1.0))
    f.knowledge = f.knowledge * 3.0              # a new array: recomputed even if unreported
    assert same(model.knowledge_totals(), row_sums(f.knowledge))


@pytest.mark.parametrize("scenario", ["all-mechanisms", "enclaves", "baseline"])
def test_cached_target_talent_equals_a_full_computation_at_every_use(scenario, monkeypatch):
    """The target talent reused between stages is the full computation's, bit for bit."""
    from coinnovation_sim import production
    from coinnovation_sim.model import CoinnovationModel
    from helpers import SCENARIOS

    calls = []
    cached, cached_shared = production.target_talent, production.shared_target_talent

    def check(model, t):
        f, theta = model.firms, model.prm["talent_elasticity"]
        base = theta * f.productivity * production.quality(model) / production.wage(model)
        assert same(t, np.where(f.alive, np.power(base, 1.0 / (1.0 - theta)), 0.0))
        calls.append(model.target_talent_cache[0] is f.productivity)

    def checked(model, q=None, w=None):
        t = cached(model, q, w)
        check(model, t)
        return t

    def checked_shared(model):
        t, away = cached_shared(model)
        check(model, t)
        assert away == model.any_away()
        return t, away

    from coinnovation_sim import capital  # the enclaves' outlook computes its own (fresh)
    monkeypatch.setattr(capital, "target_talent", checked)
    from coinnovation_sim import talent
    monkeypatch.setattr(talent, "shared_target_talent", checked_shared)
    model = CoinnovationModel({"name": "t", "extends": str(SCENARIOS / f"{scenario}.yaml"),
                               "steps": 14, "population": {"firms": 600, "institutes": 24}},
                              seed=2)
    model.run()
    assert len(calls) >= 28 and all(calls)


@pytest.mark.parametrize("split", [False, True])
def test_by_location_of_some_slots_equals_the_full_sum(split):
    from types import SimpleNamespace

    from coinnovation_sim.talent import by_location

    x = population(5, 2000, split)
    firms = SimpleNamespace(unit_place=x["unit_place"], place=x["place"],
                            unit_share=x["unit_share"])
    model = SimpleNamespace(firms=firms, n_places=P)
    slots = np.flatnonzero(np.random.default_rng(1).random(2000) < 0.05)
    amount = np.abs(x["talent"][slots]) * x["weight"][slots]
    full = np.zeros(2000)
    full[slots] = amount
    assert same(by_location(model, amount, slots), by_location(model, full))


@pytest.mark.parametrize("n", [0, 1, 500])
def test_power_bases_give_the_power_of_the_positive_part(n):
    rng = np.random.default_rng(n)
    x = signed_zeros(rng, rng.normal(5.0, 10.0, n))
    x[rng.random(n) < 0.05] = np.nan
    bases = firm_passes.power_bases(x)
    keep = (x > 0) | np.isnan(x)
    assert same(bases, np.where(keep, x, 1.0))
    for y in (0.6, 2.5, 1.0 / 3.0):
        full = np.power(np.maximum(x, 0.0), y)
        assert same(np.where(keep, np.power(bases, y), np.power(0.0, y)), full)


@pytest.mark.parametrize("n", [0, 1, 500])
def test_selections_by_alive_equal_numpy_where(n):
    rng = np.random.default_rng(n)
    alive = rng.random(n) < 0.8
    x = signed_zeros(rng, rng.normal(0.0, 1.0, n))
    old = signed_zeros(rng, rng.normal(0.0, 1.0, n))
    assert same(firm_passes.keep_dead(alive, x.copy(), old), np.where(alive, x, old))
    assert same(firm_passes.zero_dead(alive, x.copy()), np.where(alive, x, 0.0))


@pytest.mark.parametrize("seed", range(6))
def test_pay_down_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(1, 20))
    debt = signed_zeros(rng, rng.gamma(1.0, 10.0, (p, p)) * (rng.random((p, p)) < 0.6))
    debt[:, int(rng.integers(p))] = 0.0                       # a place owing nothing
    paid = signed_zeros(rng, rng.gamma(1.0, 3.0, p))
    owed = debt.sum(axis=0)
    share = np.divide(debt, owed[None, :], out=np.zeros((p, p)), where=owed[None, :] > 0)
    mat = share * paid[None, :]
    new, got_mat, received = firm_passes.pay_down(debt, paid)
    assert same(got_mat, mat)
    assert same(new, np.maximum(debt - mat, 0.0))
    assert same(received, mat.sum(axis=1))


@pytest.mark.parametrize("seed", range(4))
def test_pool_turnover_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    pool = rng.gamma(1.0, 100.0, P)
    to_pool, retired = rng.gamma(1.0, 5.0, P), rng.gamma(1.0, 1.0, P)
    m = int(rng.integers(0, 30))
    researchers, weight = rng.gamma(2.0, 10.0, m), rng.uniform(1.0, 3.0, m)
    inst_place = rng.integers(0, P, m)
    expect = pool.copy()
    expect += to_pool
    gone = expect * 0.004
    expect -= gone
    grads = np.bincount(inst_place, weights=0.02 * researchers * weight, minlength=P)
    expect += grads
    got = pool.copy()
    retirement, graduates = firm_passes.pool_turnover(got, to_pool, retired, 0.004, 0.02,
                                                      researchers, weight, inst_place)
    assert same(got, expect)
    assert same(retirement, -(retired + gone))
    assert same(graduates, grads)


@pytest.mark.parametrize("seed,split", [(s, split) for s in (1, 2, 3) for split in (False, True)])
def test_exit_settle_equals_numpy(seed, split):
    x = population(seed, 400, split)
    rng = np.random.default_rng(seed)
    out = np.flatnonzero(x["alive"] & (rng.random(400) < 0.1))
    w, place = x["weight"], x["place"]
    pool = rng.gamma(1.0, 50.0, P)
    released = w[out] * x["talent"][out]
    expect_pool = pool + by_location({k: v[out] for k, v in x.items()}, released, split)
    writeoff = np.bincount(place[out], weights=-w[out] * np.minimum(x["capital"][out], 0.0),
                           minlength=P)
    bad = np.bincount(place[out], weights=w[out] * x["debt"][out], minlength=P)
    talent, capital, debt = x["talent"].copy(), x["capital"].copy(), x["debt"].copy()
    alive, months = x["alive"].copy(), rng.integers(0, 5, 400)
    expect_months = months.copy()
    expect_months[out] = 0
    got = firm_passes.exit_settle(out, w, talent, capital, debt, months, alive, place,
                                  x["unit_place"], x["unit_share"], pool, P)
    assert same(got[0], writeoff) and same(got[1], bad) and same(pool, expect_pool)
    for new, old in ((talent, x["talent"]), (capital, x["capital"]), (debt, x["debt"])):
        kept = np.ones(400, bool)
        kept[out] = False
        assert same(new[kept], old[kept]) and not new[out].any()
    assert not alive[out].any() and same(alive[~np.isin(np.arange(400), out)],
                                         x["alive"][~np.isin(np.arange(400), out)])
    assert same(months, expect_months)


def test_found_firms_writes_the_numpy_fields():
    x = population(4, 300, True)
    rng = np.random.default_rng(4)
    slots = np.flatnonzero(~x["alive"])[:20]
    place = np.sort(rng.integers(0, P, len(slots)))
    pools = rng.gamma(1.0, 3.0, (P, 8))
    arrays = {k: x[k].copy() for k in ("alive", "place", "unit_place", "unit_share", "talent",
                                       "capital", "debt")}
    arrays["knowledge"] = rng.gamma(1.0, 1.0, (300, 8))
    arrays["neg_months"] = rng.integers(0, 5, 300)
    arrays["firm_id"] = np.arange(300)
    expect = {k: v.copy() for k, v in arrays.items()}
    expect["alive"][slots] = True
    expect["place"][slots] = place
    expect["unit_place"][slots] = place
    expect["unit_share"][slots] = 1.0
    expect["knowledge"][slots] = 0.5 * pools[place]
    for k in ("talent", "capital", "debt", "neg_months"):
        expect[k][slots] = 0
    expect["firm_id"][slots] = 1000 + np.arange(len(slots))
    a = arrays
    firm_passes.found_firms(slots, place, 1000, pools, a["alive"], a["place"], a["unit_place"],
                            a["unit_share"], a["knowledge"], a["talent"], a["capital"], a["debt"],
                            a["neg_months"], a["firm_id"])
    for k, v in expect.items():
        assert same(arrays[k], v), k


@pytest.mark.parametrize("n", [0, 1, 500])
def test_at_least_equals_numpy_maximum(n):
    rng = np.random.default_rng(n)
    x = signed_zeros(rng, rng.normal(0.0, 1.0, n))
    x[rng.random(n) < 0.05] = np.nan
    for lo in (1e-300, 0.0, -0.0):
        assert same(firm_passes.at_least(x, lo), np.maximum(x, lo))
