"""Agent-count invariance: results are in real units, so 5,000 and 20,000 firm agents agree.

Each population size runs :data:`REPLICATIONS` replications (seeds spawned with
``numpy.random.SeedSequence``) of 24 months. Every outcome is a mean over the last 12 months,
normalised by real firms where it is an extensive quantity; the t-based 95 % confidence
intervals of the two sizes' means must overlap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coinnovation_sim import run

SIZES = (5_000, 20_000)
REPLICATIONS = 6
STEPS = 24
WINDOW = 12
INSTITUTES = 300
MASTER_SEED = 20_240_611
#: Two-sided 95 % quantiles of Student's t by degrees of freedom.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}

#: The main metrics (levels and shares, already intensive).
LEVEL_METRICS = ("wujiang_integration_index", "region_integration_index",
                 "wujiang_cross_share_technology", "theil_knowledge")
#: Extensive metrics, compared per real firm.
PER_FIRM = ("talent_stock", "capital_stock_wan")
FLOW_FACTORS = ("talent", "technology", "capital")

def seeds_for(size: int) -> list[int]:
    children = np.random.SeedSequence([MASTER_SEED, size]).spawn(REPLICATIONS)
    return [int(c.generate_state(1)[0]) for c in children]


def outcomes(metrics: pd.DataFrame, flows: pd.DataFrame) -> dict[str, float]:
    window = metrics.iloc[-WINDOW:]
    out = {name: float(window[name].mean()) for name in LEVEL_METRICS}
    firms = window["firms_real"]
    for name in PER_FIRM:
        out[f"{name}_per_real_firm"] = float((window[name] / firms).mean())
    recent = flows[flows["step"].isin(window.index)]
    for factor in FLOW_FACTORS:
        total = (recent[recent["factor"] == factor].groupby("step")["amount"].sum()
                 .reindex(window.index, fill_value=0.0))
        out[f"flow_{factor}_per_real_firm"] = float((total / firms).mean())
    return out


@pytest.fixture(scope="module")
def replications() -> dict[int, pd.DataFrame]:
    table = {}
    for size in SIZES:
        rows = []
        for seed in seeds_for(size):
            result = run({"name": f"agents-{size}", "steps": STEPS,
                          "population": {"firms": size, "institutes": INSTITUTES}}, seed=seed)
            rows.append(outcomes(result.metrics, result.flows))
        table[size] = pd.DataFrame(rows)
    return table


def confidence_interval(values: np.ndarray) -> tuple[float, float]:
    n = len(values)
    half = T975[n - 1] * values.std(ddof=1) / np.sqrt(n)
    return float(values.mean() - half), float(values.mean() + half)


OUTCOME_NAMES = (LEVEL_METRICS + tuple(f"{n}_per_real_firm" for n in PER_FIRM)
                 + tuple(f"flow_{f}_per_real_firm" for f in FLOW_FACTORS))


@pytest.mark.parametrize("outcome", OUTCOME_NAMES)
def test_means_within_each_others_confidence_intervals(replications, outcome):
    small = replications[SIZES[0]][outcome].to_numpy(float)
    large = replications[SIZES[1]][outcome].to_numpy(float)
    assert np.isfinite(small).all() and np.isfinite(large).all()
    lo_s, hi_s = confidence_interval(small)
    lo_l, hi_l = confidence_interval(large)
    assert lo_s <= hi_l and lo_l <= hi_s, (
        f"{outcome}: {SIZES[0]} agents {small.mean():.6g} [{lo_s:.6g}, {hi_s:.6g}] vs "
        f"{SIZES[1]} agents {large.mean():.6g} [{lo_l:.6g}, {hi_l:.6g}]")


def test_replications_vary(replications):
    """The CIs are informative: replications differ (seeds are really spawned)."""
    for size in SIZES:
        assert replications[size]["wujiang_integration_index"].nunique() == REPLICATIONS


def test_real_units_do_not_scale_with_agents(replications):
    """Extensive totals are in real units: the same order of magnitude whatever the agent count."""
    small = replications[SIZES[0]]["talent_stock_per_real_firm"].mean()
    large = replications[SIZES[1]]["talent_stock_per_real_firm"].mean()
    assert 0.9 < small / large < 1.1
