"""Enclave parks (飞地): off means off, capacity, tax sharing, government exits, direction."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_kernels as rk
from coinnovation_sim import load_scenario, run
from coinnovation_sim.innovation import place_pools
from coinnovation_sim.mechanisms import REGISTRY
from coinnovation_sim.mechanisms import kernels as mk
from coinnovation_sim.mechanisms.enclaves import Enclaves, _Outlook
from coinnovation_sim.model import CoinnovationModel
from coinnovation_sim.places import read_place_table
from helpers import SCENARIOS, metrics_bytes
from test_invariants import check_all

PLACE_IDS = read_place_table()["id"].tolist()

#: Small enough for many runs: 2,000 firm agents, 24 months. High friction (short distance decay,
#: a strong provincial border), so that a unit away pays for many firms: these tests check the
#: mechanism's mechanics, which the calibrated low-friction defaults would leave almost unused.
BASE: dict[str, Any] = {
    "name": "enclaves-test",
    "seed": 11,
    "steps": 24,
    "population": {"firms": 2000, "institutes": 80},
    "parameters": {"distance_decay_km": 60.0, "barrier_province": 0.5},
}

#: A Wujiang research enclave in Shanghai's core, oversubscribed at this population size.
SHANGHAI_PARK = {"home": "wujiang", "host": "shanghai", "capacity": 150}


def scenario(enclaves: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """The small scenario, with an ``enclaves`` section when given."""
    sc = copy.deepcopy(BASE)
    sc.update(top)
    if enclaves is not None:
        sc["mechanisms"] = {"enclaves": enclaves}
    return sc


@pytest.fixture(scope="module")
def baseline_run():
    return run(scenario())


@pytest.fixture(scope="module")
def park_run():
    """Two parks, one per direction of a JKT pair plus the Wujiang research enclave."""
    return run(scenario({"enabled": True, "parks": [
        SHANGHAI_PARK, {"home": "suzhou", "host": "jiading", "capacity": 60}]}))


def same_outputs(a, b, tmp_path) -> None:
    assert metrics_bytes(a, tmp_path, "a.parquet") == metrics_bytes(b, tmp_path, "b.parquet")
    pd.testing.assert_frame_equal(a.flows, b.flows, check_exact=True)
    pd.testing.assert_frame_equal(a.ledger, b.ledger, check_exact=True)
    pd.testing.assert_frame_equal(a.costs, b.costs, check_exact=True)


def test_registered():
    assert REGISTRY["enclaves"] is Enclaves
    assert Enclaves.name == "enclaves"


# ---------------------------------------------------------------------------- off means off
place_pairs = st.tuples(st.sampled_from(PLACE_IDS), st.sampled_from(PLACE_IDS)).filter(
    lambda pair: pair[0] != pair[1])
parks = st.lists(st.builds(
    lambda pair, capacity, tax, share: {"home": pair[0], "host": pair[1], "capacity": capacity,
                                        "tax_rate": tax, "tax_share_home": share},
    place_pairs, st.integers(0, 500), st.floats(0, 0.2), st.floats(0, 1)), max_size=3)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(parks=parks, review=st.floats(0, 1), patience=st.integers(1, 24),
       start=st.integers(0, 30))
def test_disabled_or_zero_capacity_is_byte_identical(parks, review, patience, start, baseline_run,
                                                     tmp_path):
    section = {"parks": parks, "review_probability": review, "patience_months": patience,
               "start": start}
    off = run(scenario({"enabled": False, **section}))
    same_outputs(off, baseline_run, tmp_path)
    zero = [dict(p, capacity=0) for p in parks]
    inert = run(scenario({"enabled": True, **section, "parks": zero}))
    same_outputs(inert, baseline_run, tmp_path)


@pytest.mark.parametrize("parks", [[], [dict(SHANGHAI_PARK, capacity=0)]])
def test_nothing_to_do_draws_nothing_costs_nothing(parks, baseline_run, tmp_path):
    sc = scenario({"enabled": True, "parks": parks})
    model = CoinnovationModel(sc)
    mech = model.mechanisms[0]
    before = copy.deepcopy(mech.rng.bit_generator.state)
    model.run()
    assert mech.rng.bit_generator.state == before
    assert not model.policy_cost.any()
    assert (model.firms.unit_place == model.firms.place).all()
    same_outputs(run(sc), baseline_run, tmp_path)


# ---------------------------------------------------------------------------- membership
def test_membership_within_capacity_every_step():
    parks = [SHANGHAI_PARK, {"home": "wujiang", "host": "jiading", "capacity": 40},
             {"home": "jiading", "host": "suzhou", "capacity": 30}]
    model = CoinnovationModel(scenario({"enabled": True, "parks": parks}, steps=30))
    mech = model.mechanisms[0]
    caps = np.array([p["capacity"] for p in parks], float)
    homes = np.array([model.places.index(p["home"]) for p in parks])
    hosts = np.array([model.places.index(p["host"]) for p in parks])
    seen = np.zeros(len(parks))
    for _ in range(30):
        model.step()
        f = model.firms
        w = model.firm_weight()
        inside = mech.member >= 0
        assert np.array_equal(mech.inside, np.flatnonzero(inside))   # the kept member list
        units = np.bincount(mech.member[inside], weights=w[inside], minlength=len(parks))
        assert (units <= caps + 1e-9).all(), units
        # members are live firms of the park's home with their unit in its host; nobody else is away
        assert f.alive[inside].all()
        assert (f.place[inside] == homes[mech.member[inside]]).all()
        assert (f.unit_place[inside] == hosts[mech.member[inside]]).all()
        assert (f.unit_place[f.alive & ~inside] == f.place[f.alive & ~inside]).all()
        seen = np.maximum(seen, units)
        # the enclaves' pools (firms' sums fused with their offers) are the core's place pools
        assert np.array_equal(_Outlook(model).pools, place_pools(model))
    row = model.metric_rows[-1]
    assert row["enclaves_units"] == pytest.approx(units.sum())
    assert seen[0] > 0, "nobody joined the Wujiang research enclave in Shanghai"
    assert row["enclaves_refused_cum"] > 0, "the test park should be oversubscribed"


def test_a_member_that_exits_frees_its_place():
    model = CoinnovationModel(scenario({"enabled": True, "parks": [SHANGHAI_PARK]}))
    mech = model.mechanisms[0]
    while not (mech.member >= 0).any():
        model.step()
    mech.config.review_probability = 0.0  # nobody joins or leaves by choice from now on
    f = model.firms
    slot = int(np.flatnonzero(mech.member >= 0)[0])
    units = mech._units().sum()
    weight = model.firm_weight()[slot]
    f.capital[slot] = -1e9
    f.neg_months[slot] = int(model.prm["exit_months"])
    model.step()
    assert mech.member[slot] == -1
    assert not f.alive[slot] or f.unit_place[slot] == f.place[slot]  # a new firm starts at home
    assert mech._units().sum() == pytest.approx(units - weight)
    assert model.metric_rows[-1]["enclaves_exits_cum"] >= weight


def test_capacity_metrics(park_run):
    m = park_run.metrics
    assert (m["enclaves_park0_units"] <= SHANGHAI_PARK["capacity"] + 1e-9).all()
    assert (m["enclaves_park1_units"] <= 60 + 1e-9).all()
    assert np.allclose(m["enclaves_units"], m["enclaves_park0_units"] + m["enclaves_park1_units"])
    for col in (c for c in m.columns if c.endswith("_cum")):
        assert (m[col].diff().dropna() >= -1e-9).all(), col


# ---------------------------------------------------------------------------- tax and costs
def test_tax_share_flows_host_to_home(park_run):
    fl = park_run.flows
    tax = fl[fl["channel"] == "tax_share"]
    assert len(tax) > 0
    assert (tax["factor"] == "capital").all() and (tax["amount"] > 0).all()
    pairs = set(zip(tax["origin"], tax["destination"], strict=True))
    assert pairs <= {("shanghai", "wujiang"), ("jiading", "suzhou")}
    by_step = tax.groupby("step")["amount"].sum().reindex(park_run.metrics.index, fill_value=0.0)
    assert np.allclose(by_step, park_run.metrics["enclaves_tax_returned_wan"])
    assert park_run.metrics["enclaves_tax_returned_wan_cum"].iloc[-1] == pytest.approx(by_step.sum())
    # half of the tax collected by the hosts comes back (default tax_share_home 0.5)
    assert np.allclose(park_run.metrics["enclaves_tax_returned_wan"],
                       0.5 * park_run.metrics["enclaves_tax_wan"])


def test_public_costs_booked_to_home_governments(park_run):
    costs = park_run.costs
    assert set(costs["government"]) == {"wujiang", "suzhou"}
    by_step = costs.groupby("step")["amount_wan"].sum().reindex(park_run.metrics.index,
                                                                 fill_value=0.0)
    assert np.allclose(by_step, park_run.metrics["enclaves_public_cost_wan"])
    assert np.allclose(park_run.metrics["policy_cost_wan"], by_step)
    ledger = park_run.ledger
    unit_costs = ledger[ledger["account"] == "enclave_unit_costs"]
    assert len(unit_costs) > 0 and (unit_costs["amount"] < 0).all()
    assert set(unit_costs["place"]) <= {"wujiang", "suzhou"}


def test_conservation_and_invariants_hold(park_run):
    check_all(park_run)


# ---------------------------------------------------------------------------- governments
def test_home_government_closes_a_park_that_does_not_pay():
    patience = 3
    park = dict(SHANGHAI_PARK, fixed_cost_wan=1e6)
    result = run(scenario({"enabled": True, "parks": [park], "patience_months": patience},
                          steps=12))
    m = result.metrics
    # negative payoff from month 0: admissions stop after `patience` months, closure after twice
    assert (m["enclaves_home_payoff_wan"].iloc[:2 * patience] < 0).all()
    assert (m["enclaves_parks_admitting"].iloc[:patience - 1] == 1).all()
    assert (m["enclaves_parks_admitting"].iloc[patience - 1:] == 0).all()
    assert m["enclaves_parks_open"].iloc[2 * patience - 2] == 1
    assert (m["enclaves_parks_open"].iloc[2 * patience - 1:] == 0).all()
    assert (m["enclaves_units"].iloc[2 * patience - 1:] == 0).all()
    assert (m["enclaves_public_cost_wan"].iloc[2 * patience:] == 0).all()
    f = result.model.firms
    assert (f.unit_place[f.alive] == f.place[f.alive]).all()


def test_units_return_home_after_the_window():
    result = run(scenario({"enabled": True, "parks": [SHANGHAI_PARK], "start": 2, "end": 9},
                          steps=14))
    m = result.metrics
    assert (m["enclaves_units"].iloc[:2] == 0).all() and (m["enclaves_public_cost_wan"].iloc[:2] == 0).all()
    assert (m["enclaves_parks_open"].iloc[:2] == 0).all() and (m["enclaves_parks_open"].iloc[2:9] == 1).all()
    assert m["enclaves_units"].iloc[2:10].max() > 0
    assert (m["enclaves_units"].iloc[10:] == 0).all()
    assert (m["enclaves_public_cost_wan"].iloc[10:] == 0).all()
    assert not (result.costs["step"] > 9).any() and not (result.costs["step"] < 2).any()
    f = result.model.firms
    assert (f.unit_place == f.place).all()


# ---------------------------------------------------------------------------- direction
def flows_between(result, a: str, b: str) -> float:
    """Sum over factors and channels of the flows a → b and b → a over the run."""
    fl = result.flows
    pair = ((fl["origin"] == a) & (fl["destination"] == b)) | ((fl["origin"] == b)
                                                                & (fl["destination"] == a))
    return float(fl.loc[pair, "amount"].sum())


def test_research_enclave_in_a_strong_host_raises_flows_with_it():
    """Paired seeds: a Wujiang research enclave in Shanghai's core raises Wujiang–Shanghai flows."""
    common = {"steps": 30, "population": {"firms": 3000, "institutes": 120}}
    section = {"enabled": True, "parks": [dict(SHANGHAI_PARK, capacity=200)]}
    diffs = []
    for seed in (1, 2, 3):
        off = run(scenario(seed=seed, **common))
        on = run(scenario(section, seed=seed, **common))
        assert on.metrics["enclaves_units"].mean() > 0
        diffs.append(flows_between(on, "wujiang", "shanghai") / flows_between(off, "wujiang", "shanghai"))
    assert min(diffs) > 1.0, diffs


def test_shipped_scenario():
    sc = load_scenario(SCENARIOS / "enclaves.yaml")
    assert sc.extends == "baseline.yaml"
    assert sc.description.strip()
    cfg = sc.mechanisms.enclaves
    assert cfg.enabled and cfg.parks[0].home == "wujiang" and cfg.parks[0].host == "shanghai"
    for name in ("coordination", "vouchers", "tech_market"):
        assert not getattr(sc.mechanisms, name).enabled


def test_member_revenue_equals_the_cores_revenue():
    """The members' revenue (computed for them only) has the bits of ``production.revenue``."""
    from coinnovation_sim.mechanisms.enclaves import member_revenue
    from coinnovation_sim.production import revenue

    model = CoinnovationModel({"name": "rev", "extends": str(SCENARIOS / "all-mechanisms.yaml"),
                               "steps": 3, "population": {"firms": 600, "institutes": 30}}, seed=2)
    model.run()
    slots = np.flatnonzero(np.random.default_rng(0).random(model.firms.n) < 0.3)
    slots[:3] = np.flatnonzero(~model.firms.alive)[:3] if (~model.firms.alive).sum() >= 3 else slots[:3]
    slots = np.unique(slots)
    assert np.array_equal(member_revenue(model, slots).view(np.int64),
                          revenue(model)[slots].view(np.int64))


@pytest.mark.parametrize("config", ["enclaves", "all-mechanisms", "parks"])
def test_kept_any_away_equals_a_fresh_check_at_every_use(config, monkeypatch):
    """Every move of a unit is reported: the answer kept within a step is never stale."""
    from coinnovation_sim.model import CoinnovationModel

    kept = CoinnovationModel.any_away
    answers = []

    def checked(model):
        away = kept(model)
        f = model.firms
        assert away == bool((f.unit_place != f.place).any())
        answers.append(away)
        return away

    monkeypatch.setattr(CoinnovationModel, "any_away", checked)
    if config == "parks":                        # units away and back (park closing)
        sc = scenario({"enabled": True, "parks": [SHANGHAI_PARK], "start": 2, "end": 9})
    else:
        sc = {"name": "a", "extends": str(SCENARIOS / f"{config}.yaml"),
              "steps": 30, "population": {"firms": 600, "institutes": 24}}
    model = CoinnovationModel(sc, seed=3)
    model.run()
    assert len(answers) >= model.steps          # at least the spillovers' check, every month
    if config == "parks":
        assert True in answers


@pytest.mark.parametrize("section", [
    {"enabled": True, "parks": [SHANGHAI_PARK], "start": 2, "end": 9},
    {"enabled": True, "parks": [dict(SHANGHAI_PARK, fixed_cost_wan=1e6)], "patience_months": 2},
])
def test_kept_closed_row_equals_a_fresh_row_every_month(section):
    """The metrics row kept while no park is open is the row computed afresh, every month."""
    model = CoinnovationModel(scenario(section, steps=14), seed=3)
    mech = next(m for m in model.mechanisms if isinstance(m, Enclaves))
    kept = 0
    for _ in range(model.horizon):
        model.step()
        t = model.steps - 1
        hit = mech._closed_row
        row = mech.metrics(t)
        kept += mech._closed_row is hit and hit[0] is not None
        mech._closed_row = (None, {})
        fresh = mech.metrics(t)
        assert list(row) == list(fresh)
        assert np.array_equal(np.array(list(row.values())).view(np.int64),
                              np.array(list(fresh.values())).view(np.int64))
    assert kept > 0


def _reference_gain(outlook, slots, host, horizon, unit_cost, setup_cost, share):
    """An enclave gain as the unfused kernels computed it (one kernel per step, per origin)."""
    from coinnovation_sim.knowledge import _EPS

    model = outlook.model
    f, prm = model.firms, model.prm
    home = f.place[slots]
    away = np.full(len(slots), host)
    k = f.knowledge[slots]
    value = prm["knowledge_value_wan"]
    dots = np.matmul(k, outlook.basis_t)
    cap, eff, worth = mk.knowledge_terms(k, outlook.pools, dots[-1], outlook.reps, dots[:-1],
                                         value * prm["learning_rate"], outlook.prices,
                                         float(prm["absorptive_half"]), _EPS)
    vals = []
    for origin in (away, home):
        weights = rk.origin_weights(origin, outlook.psi, eff)
        vals.append(mk.knowledge_value(origin, k, weights, weights @ outlook.pools, cap, worth,
                                       outlook.q, outlook.kind_share, outlook.tc,
                                       value * prm["spillover_rate"],
                                       float(prm["search_probability"])))
    know = vals[0] - vals[1]
    theta, speed = prm["talent_elasticity"], prm["hiring_speed"]
    scale = f.productivity[slots] * outlook.quality[slots]
    alive = f.alive[slots]
    w, base, hire = mk.projection_setup(np.stack([away, home]), home, alive, model.wage,
                                        outlook.fill, scale, np.array([share, 1.0]), theta, speed)
    path, _ = rk.project_talent(np.power(base, 1.0 / (1.0 - theta)), alive, f.talent[slots],
                                hire, speed, 1.05, horizon)
    there, here = mk.mean_profit(path, np.power(path, theta), scale, w, f.overhead[slots])
    return mk.location_gain(there, here, know, f.capital[slots], unit_cost, setup_cost,
                            horizon), know


def test_fused_gains_equal_the_unfused_kernels():
    """The outlook's fused valuation gives the bits of the one-kernel-per-step chain."""
    model = CoinnovationModel({"name": "gain", "extends": str(SCENARIOS / "all-mechanisms.yaml"),
                               "steps": 4, "population": {"firms": 3000, "institutes": 60}}, seed=3)
    for _ in range(3):
        model.step()
    outlook = _Outlook(model)
    rng = np.random.default_rng(1)
    f = model.firms
    for n in (1, 2, 7, 300):                      # one row (BLAS gemv), a few, many
        slots = np.sort(rng.choice(f.n, n, replace=False))
        for host in (0, 5):
            for setup, share in ((0.0, 1.0), (12.0, 0.3)):
                want, know = _reference_gain(outlook, slots, host, 12, 1.0, setup, share)
                got = outlook.gain(slots, host, 12, 1.0, setup, share)
                assert np.array_equal(got.view(np.int64), want.view(np.int64))
            kg = outlook.knowledge_gain(slots, host)
            assert np.array_equal(kg.view(np.int64), know.view(np.int64))
            w = model.firm_weight()
            assert mk.knowledge_access(slots, kg, w) == float((w[slots] * know).sum())


def test_outlook_fill_rates_equal_the_cores_target_talent_and_numpy():
    """The outlook's fill rates: the core's target talent (cached or not), numpy's formula."""
    from coinnovation_sim.production import quality, target_talent
    from coinnovation_sim.sampling import normalise_rows

    model = CoinnovationModel({"name": "fill", "extends": str(SCENARIOS / "all-mechanisms.yaml"),
                               "steps": 6, "population": {"firms": 2000, "institutes": 40}}, seed=4)
    for _ in range(5):
        model.step()
        f, prm = model.firms, model.prm
        fill = _Outlook(model).fill
        tstar = target_talent(model, quality(model))
        vac = rk.vacancy_totals(tstar, f.talent, f.alive, f.capital, f.unit_place,
                                model.firm_weight(), float(prm["hiring_speed"]), model.n_places)
        attract = np.where(vac > 0, model.wage ** prm["wage_elasticity"]
                           * np.power(np.maximum(vac, 1e-300), prm["vacancy_elasticity"]), 0.0)
        inflow = (prm["search_intensity"] * model.talent_pool[:, None]
                  * normalise_rows(model.phi["talent"] * attract[None, :])).sum(axis=0)
        want = np.divide(inflow, vac, out=np.ones(model.n_places), where=vac > inflow)
        assert np.array_equal(fill.view(np.int64), want.view(np.int64))
