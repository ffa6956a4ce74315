"""Innovation vouchers: off means off, budgets, redemption records, conservation, portability."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinnovation_sim import run
from coinnovation_sim.errors import InputError
from coinnovation_sim.experiment import mean_ci, spawn_seeds
from coinnovation_sim.mechanisms import REGISTRY
from coinnovation_sim.mechanisms.vouchers import Config, Vouchers
from coinnovation_sim.model import CoinnovationModel
from coinnovation_sim.scenario import load_scenario
from helpers import metrics_bytes

#: A small population: each run takes a fraction of a second.
BASE: dict[str, Any] = {"name": "vouchers-test", "seed": 11, "steps": 24,
                        "population": {"firms": 2000, "institutes": 80}}
PLACE_NAMES = ["demo_zone", "jkt", "g60", "wujiang", "qingpu", "jiashan", "jiading", "shanghai"]


def scenario(steps: int = 24, firms: int = 2000, **vouchers: Any) -> dict[str, Any]:
    """The small scenario with a vouchers section."""
    sc = copy.deepcopy(BASE)
    sc["steps"] = steps
    sc["population"]["firms"] = firms
    sc["mechanisms"] = {"vouchers": vouchers}
    return sc


@pytest.fixture(scope="module")
def baseline_bytes(tmp_path_factory) -> bytes:
    """metrics.parquet bytes of the small scenario without a vouchers section."""
    return metrics_bytes(run(copy.deepcopy(BASE)), tmp_path_factory.mktemp("base"))


def voucher_keys() -> st.SearchStrategy[dict[str, Any]]:
    """Random values for the vouchers section (the switch and budget are set by the tests)."""
    return st.fixed_dictionaries({}, optional={
        "issuers": st.lists(st.sampled_from(PLACE_NAMES), min_size=1, max_size=3, unique=True),
        "providers": st.lists(st.sampled_from(PLACE_NAMES), min_size=1, max_size=3, unique=True),
        "face_value_wan": st.floats(0.0, 100.0),
        "copay_share": st.floats(0.0, 1.0),
        "cross_region": st.booleans(),
        "eligible": st.fixed_dictionaries({"max_talent": st.floats(1.0, 500.0)}),
        "awareness_rate": st.floats(0.0, 1.0),
        "application_cost_wan": st.floats(0.0, 20.0),
        "start": st.integers(0, 12),
    })


# ---------------------------------------------------------------------------------- schema
def test_registered_and_strict():
    assert REGISTRY["vouchers"] is Vouchers
    assert Vouchers.name == "vouchers"
    with pytest.raises(InputError, match="unknown key"):
        load_scenario(scenario(enabled=True, eligible={"max_talent": 50.0, "max_staff": 3}))
    with pytest.raises(InputError, match="issuers"):
        load_scenario(scenario(enabled=True, issuers=["atlantis"]))
    for name, field in Config.model_fields.items():
        if name not in ("enabled", "start", "end"):
            assert field.description, name


# ---------------------------------------------------------------------------------- off means off
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=voucher_keys(), budget=st.floats(0.0, 1e6))
def test_disabled_is_byte_identical(keys, budget, baseline_bytes, tmp_path):
    result = run(scenario(enabled=False, annual_budget_wan=budget, **keys))
    assert metrics_bytes(result, tmp_path) == baseline_bytes


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=voucher_keys())
def test_zero_budget_changes_nothing(keys, baseline_bytes, tmp_path):
    sc = scenario(enabled=True, annual_budget_wan=0.0, **keys)
    model = CoinnovationModel(sc)
    model.run()
    mech = model.mechanisms[0]
    untouched = model.stream("mechanism:vouchers").bit_generator.state
    assert mech.rng.bit_generator.state == untouched  # drew nothing
    assert model.policy_cost.sum() == 0.0
    assert metrics_bytes(run(sc), tmp_path) == baseline_bytes


@pytest.mark.parametrize("keys", [
    {"eligible": {"max_talent": 0.0}},                                  # no firm qualifies
    {"issuers": ["wujiang"], "providers": ["qingpu"], "cross_region": False},  # nowhere to redeem
])
def test_no_eligible_firm_changes_nothing(keys, baseline_bytes, tmp_path):
    sc = scenario(enabled=True, awareness_rate=0.5, **keys)
    result = run(sc)
    assert result.model.mechanisms[0].inert
    assert result.costs.empty
    assert metrics_bytes(result, tmp_path) == baseline_bytes


# ---------------------------------------------------------------------------------- budget
@pytest.fixture(scope="module")
def binding_run():
    """Vouchers of the demonstration zone and JKT with a small budget that binds (36 months)."""
    sc = scenario(steps=36, firms=3000, enabled=True, issuers=["demo_zone", "jkt"],
                  annual_budget_wan=400.0, awareness_rate=0.05, cross_region=True)
    return run(sc)


def test_spending_never_exceeds_budget(binding_run):
    model = binding_run.model
    mech = model.mechanisms[0]
    budget = mech.config.annual_budget_wan
    issuers = np.flatnonzero(mech.issuer)
    per_year = model.policy_cost[:36].reshape(3, 12, -1).sum(axis=1)
    assert (per_year <= budget + 1e-6).all()
    assert per_year[:, np.setdiff1d(np.arange(model.n_places), issuers)].sum() == 0.0
    assert model.policy_cost.sum() <= 3 * budget * len(issuers) + 1e-6
    last = binding_run.metrics.iloc[-1]
    assert last["vouchers_rationed_wan_cum"] > 0  # the budget did bind
    assert last["vouchers_spent_wan_cum"] <= last["vouchers_approved_wan_cum"] + 1e-6
    assert last["vouchers_approved_wan_cum"] <= last["vouchers_requested_wan_cum"] + 1e-6
    assert np.isclose(last["vouchers_spent_wan_cum"], model.policy_cost.sum())
    assert np.isclose(binding_run.metrics["policy_cost_wan"].sum(), model.policy_cost.sum())


def test_commitment_follows_government_payoff(binding_run):
    mech = binding_run.model.mechanisms[0]
    cfg = mech.config
    shares = mech.share[mech.issuer]
    assert ((shares >= cfg.min_commitment_share - 1e-12) & (shares <= 1.0)).all()
    assert shares.min() < 1.0  # some government whose spending leaked cut its commitment
    committed = binding_run.metrics["vouchers_committed_wan"]
    assert committed.iloc[0] == cfg.annual_budget_wan * mech.issuer.sum()
    assert committed.iloc[-1] < committed.iloc[0]


def test_every_voucher_funded_service_has_issuer_firm_and_institute(binding_run):
    model = binding_run.model
    mech = model.mechanisms[0]
    red = mech.redemptions
    assert len(red) > 0
    ids = np.array(model.places.ids)
    issuer_ids = set(ids[mech.issuer])
    assert set(red["issuer"]) <= issuer_ids
    assert (red["firm_id"] >= 0).all() and (red["firms_real"] > 0).all()
    assert (red["institute"] >= 0).all()
    inst_place = ids[model.institutes.place[red["institute"].to_numpy()]]
    assert (inst_place == red["provider"].to_numpy()).all()
    home = [model.places.index(p) for p in red["issuer"]]
    dest = [model.places.index(p) for p in red["provider"]]
    assert mech.eligible_pairs[home, dest].all()
    assert (red["subsidy_wan"] > 0).all()
    assert (red["subsidy_wan"] <= mech.config.face_value_wan + 1e-9).all()
    assert np.isclose(red["spent_wan"].sum(), model.policy_cost.sum())
    by_issuer = red.groupby("issuer")["spent_wan"].sum()
    costs = binding_run.costs.groupby("government")["amount_wan"].sum()
    for gov, amount in by_issuer.items():
        assert np.isclose(costs[gov], amount)
    share = (red["firms_real"] * red["additional"]).sum() / red["firms_real"].sum()
    assert np.isclose(binding_run.metrics["vouchers_additional_share"].iloc[-1], share)


def test_capital_conservation_with_vouchers(binding_run):
    model = binding_run.model
    stock = binding_run.metrics["capital_stock_wan"].to_numpy()
    prev = np.concatenate([[model.initial_stocks[1]], stock[:-1]])
    ledger = np.array([model.book.account_total(t, "capital") for t in range(len(stock))])
    assert np.allclose(stock - prev, ledger, rtol=1e-9, atol=1e-6 * np.abs(stock).max())
    subsidy = binding_run.ledger.query("account == 'voucher_subsidy'")["amount"].sum()
    assert subsidy > 0 and np.isclose(subsidy, model.policy_cost.sum())


# ---------------------------------------------------------------------------------- firm decisions
def test_claims_bunch_at_the_face_value():
    model = CoinnovationModel(scenario(steps=1, enabled=True, face_value_wan=50.0, copay_share=0.5))
    mech = model.mechanisms[0]
    vgap = np.array([[2000.0], [2000.0], [0.0]])
    rho = np.array([[0.1], [0.1], [0.1]])
    tc = np.array([[2.0], [2.0], [2.0]])
    gain, request, outlay = mech._package(vgap, rho, tc)
    assert np.isclose(request[0, 0], 50.0) and gain[0, 0] > 0   # valuable services: claim the cap
    assert gain[2, 0] == 0.0 and request[2, 0] == 0.0           # nothing to learn: no voucher
    price = model.prm["service_price_wan"]
    assert np.isclose(outlay[0, 0], (price + 2.0) * 50.0 / (0.5 * price))


# ---------------------------------------------------------------------------------- direction
def wujiang_cross_place_technology(result) -> float:
    """Technology flows between Wujiang and other places over the run, 万元."""
    fl = result.flows
    tech = fl[(fl["factor"] == "technology") & (fl["origin"] != fl["destination"])]
    return float(tech.loc[(tech["origin"] == "wujiang") | (tech["destination"] == "wujiang"),
                          "amount"].sum())


def test_portable_vouchers_raise_wujiang_cross_place_technology_flows():
    diffs = []
    for seed in spawn_seeds(2024, 5):
        flows = {}
        for cross in (True, False):
            sc = scenario(steps=24, firms=3000, enabled=True, issuers=["demo_zone"],
                          annual_budget_wan=1e6, awareness_rate=0.2, cross_region=cross)
            flows[cross] = wujiang_cross_place_technology(run(sc, seed=seed))
        diffs.append(flows[True] - flows[False])
    mean, low, _ = mean_ci(np.array(diffs))
    assert mean > 0 and low > 0, diffs


# ---------------------------------------------------------------------------------- calibration
@pytest.mark.parametrize(("name", "firms", "wan", "face"), [
    ("demo-zone-vouchers-calibration", 69, 3450, 50.0),
    ("jkt-vouchers-calibration", 147, 1470, 10.0),
])
def test_calibration_scenarios_land_near_the_article(name, firms, wan, face):
    """Loose guard (4 replications): the calibrated application behaviour still fits.

    The module docstring reports the 30-replication fit; re-run it when this fails.
    """
    applied, requested = [], []
    for seed in spawn_seeds(20200101, 4):
        last = run(name, seed=seed).metrics.iloc[-1]
        assert last["vouchers_rationed_wan_cum"] == 0.0  # the budget does not bind
        applied.append(last["vouchers_firms_applied_cum"])
        requested.append(last["vouchers_requested_wan_cum"])
    assert abs(np.mean(applied) / firms - 1) < 0.3, applied
    assert abs(np.mean(requested) / wan - 1) < 0.3, requested
    per_firm = np.sum(requested) / np.sum(applied)
    assert 0.85 * face <= per_firm <= face + 1e-9
