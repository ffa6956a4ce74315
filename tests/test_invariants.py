"""Conservation and sanity invariants over random valid parameters (hypothesis).

Every run draws its behavioural parameters from the plausible ranges of
:data:`coinnovation_sim.parameters.PARAMETERS` and checks: no NaN/inf, non-negative flows, shares
in [0, 1], sane firm arrays and pools, and that talent and capital stocks change only through the
recorded sources and sinks of the ledger.
"""

from __future__ import annotations

import copy

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st

from coinnovation_sim import RunResult, run
from coinnovation_sim.flows import FACTORS, UNITS
from coinnovation_sim.parameters import PARAMETERS
from helpers import SMALL_SCENARIO
from strategies import mixed_parameter_dicts

REL_TOL = 1e-9
POOL_TOL = 1e-6
#: Slack for shares in [0, 1] (none: the metrics clip rounding).
SHARE_TOL = 0.0


def share_columns(metrics: pd.DataFrame) -> list[str]:
    """Every metric column that is a share or an integration index (must lie in [0, 1])."""
    return [c for c in metrics.columns
            if "_cross_share_" in c or "_free_share_" in c or "integration_index" in c]


def check_finite(result: RunResult) -> None:
    numeric = result.metrics.drop(columns="month")
    assert numeric.shape[1] > 0
    values = numeric.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    assert not bad.any(), f"non-finite metrics in {list(numeric.columns[bad.any(axis=0)])}"
    assert np.isfinite(result.flows["amount"].to_numpy(float)).all()
    assert np.isfinite(result.ledger["amount"].to_numpy(float)).all()
    assert np.isfinite(result.metrics_long["value"].to_numpy(float)).all()


def check_flows(result: RunResult) -> None:
    flows = result.flows
    assert (flows["amount"] >= 0).all(), flows[flows["amount"] < 0].head()
    assert set(flows["factor"]) <= set(FACTORS)
    assert (flows["unit"] == flows["factor"].map(UNITS)).all()
    ids = set(result.model.places.ids)
    assert set(flows["origin"]) <= ids
    assert set(flows["destination"]) <= ids


def check_shares(result: RunResult, tol: float = SHARE_TOL) -> None:
    cols = share_columns(result.metrics)
    fid = result.scenario.focus
    for required in (f"{fid}_integration_index", "region_integration_index",
                     *(f"{fid}_cross_share_{f}" for f in FACTORS),
                     *(f"{fid}_free_share_{f}" for f in FACTORS),
                     *(f"region_cross_share_{f}" for f in FACTORS)):
        assert required in cols
    for col in cols:
        v = result.metrics[col]
        assert ((v >= -tol) & (v <= 1.0 + tol)).all(), f"{col} outside [0, 1]: {v.min()}..{v.max()}"
    pr = result.metrics[f"{fid}_pagerank"]
    assert ((pr >= 0.0) & (pr <= 1.0)).all()
    long = result.metrics_long
    shares = long[long["metric"].isin(["cross_share", "integration_index", "pagerank"])]["value"]
    assert ((shares >= 0.0) & (shares <= 1.0)).all()


def check_state(result: RunResult) -> None:
    model = result.model
    f = model.firms
    for name in ("talent", "capital", "debt", "productivity"):
        assert np.isfinite(getattr(f, name)).all(), name
    assert np.isfinite(f.knowledge).all()
    assert (f.talent >= 0).all()
    assert (f.knowledge >= 0).all()
    assert (f.debt >= -POOL_TOL).all()
    assert np.isfinite(model.institutes.knowledge).all()
    assert (model.institutes.knowledge >= 0).all()
    assert np.isfinite(model.talent_pool).all() and np.isfinite(model.capital_pool).all()
    assert (model.talent_pool >= -POOL_TOL).all(), model.talent_pool.min()
    assert (model.capital_pool >= -POOL_TOL).all(), model.capital_pool.min()
    assert (model.debt_matrix >= 0).all()


def check_conservation(result: RunResult) -> None:
    """Stock[t] - stock[t-1] == sum of the ledger at t, for talent and capital."""
    metrics, ledger = result.metrics, result.ledger
    assert set(ledger["factor"]) <= {"talent", "capital"}
    for i, (factor, column) in enumerate((("talent", "talent_stock"),
                                          ("capital", "capital_stock_wan"))):
        net = (ledger[ledger["factor"] == factor].groupby("step")["amount"].sum()
               .reindex(metrics.index, fill_value=0.0))
        previous = result.model.initial_stocks[i]
        for t in metrics.index:
            current = float(metrics.loc[t, column])
            change = current - previous
            tol = REL_TOL * max(abs(current), abs(previous), 1.0)
            assert abs(change - net[t]) <= tol, (
                f"{factor} not conserved at step {t}: stock change {change!r}, "
                f"recorded sources/sinks {net[t]!r}")
            previous = current


def check_all(result: RunResult) -> None:
    check_finite(result)
    check_flows(result)
    check_shares(result)
    check_state(result)
    check_conservation(result)


def test_invariants_default_parameters(small_result):
    check_all(small_result)


def test_ledger_signs(small_result):
    ledger = small_result.ledger
    lo = ledger.groupby("account")["amount"].min()
    hi = ledger.groupby("account")["amount"].max()
    assert lo["graduation"] > 0 and hi["retirement"] < 0  # a source and a sink, every month
    sources = ("graduation", "exit_writeoff")
    sinks = ("retirement", "institute_services", "collaboration_outlays", "transaction_costs")
    for account in sources:
        if account in lo:
            assert lo[account] >= 0, account
    for account in sinks:
        if account in hi:
            assert hi[account] <= 0, account


# Each example is a model run: shrinking a failure can take minutes, so it is switched off (the
# failing parameters are still printed in full).
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(parameters=mixed_parameter_dicts(), seed=st.integers(0, 2**32 - 1),
       firms=st.sampled_from([300, 1500]))
def test_invariants_random_parameters(parameters, seed, firms):
    scenario = copy.deepcopy(SMALL_SCENARIO)
    scenario["parameters"] = parameters
    scenario["population"]["firms"] = firms
    try:
        result = run(scenario, seed=seed)
    except nx.PowerIterationFailedConvergence:  # pragma: no cover - fixed bug, see test_model
        # PageRank used to fail to converge on some flow networks (fixed with max_iter); a
        # recurrence is pinned by test_model.py::test_pagerank_converges_*, not counted here.
        reject()
    assert len(result.metrics) == SMALL_SCENARIO["steps"]
    check_all(result)


BOUND_BUGS: dict = {}  # (name, side) -> (exception, reason): none known


def bound_cases():
    for spec in PARAMETERS:
        for side, value in (("lower", spec.lower), ("upper", spec.upper)):
            value = int(value) if spec.integer else float(value)
            bug = BOUND_BUGS.get((spec.name, side))
            marks = [pytest.mark.xfail(strict=True, raises=bug[0], reason=bug[1])] if bug else []
            yield pytest.param(spec.name, value, id=f"{spec.name}-{side}", marks=marks)


@pytest.mark.parametrize(("name", "value"), list(bound_cases()))
@pytest.mark.filterwarnings("ignore::coinnovation_sim.scenario.PlausibilityWarning")
def test_invariants_at_hard_bounds(name, value):
    """Every value the validator accepts must run cleanly, even an implausible extreme."""
    scenario = {**copy.deepcopy(SMALL_SCENARIO), "population": {"firms": 300, "institutes": 20},
                "parameters": {name: value}}
    check_all(run(scenario, seed=1))


@pytest.mark.filterwarnings("ignore::coinnovation_sim.scenario.PlausibilityWarning")
@pytest.mark.parametrize("parameters", [
    {"barrier_place": 0.0, "barrier_city": 0.0, "barrier_province": 0.0},
    {"barrier_place": 0.99, "barrier_city": 0.99, "barrier_province": 0.99},
    {"quit_rate": 0.0, "retirement_rate": 0.0, "graduation_rate": 0.0},
    {"search_probability": 0.0, "spillover_rate": 0.0},
    {"investment_rate": 0.0, "savings_rate": 0.0, "repayment_rate": 0.0},
    {"entry_rate": 0.2, "exit_months": 1, "overhead_share": 10.0},
], ids=["no-barriers", "max-barriers", "no-talent-churn", "no-technology", "no-capital-market",
        "churning-firms"])
def test_invariants_extreme_combinations(small_scenario, parameters):
    small_scenario["parameters"] = parameters
    check_all(run(small_scenario, seed=3))


@pytest.mark.filterwarnings("ignore::coinnovation_sim.scenario.PlausibilityWarning")
def test_region_share_not_negative():
    """Regression: (total - trace) / total once rounded to about -1e-16."""
    scenario = {**copy.deepcopy(SMALL_SCENARIO), "population": {"firms": 300, "institutes": 20},
                "parameters": {"investment_rate": 0.0}}
    check_shares(run(scenario, seed=1), tol=0.0)
