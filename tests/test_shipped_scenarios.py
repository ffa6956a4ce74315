"""Every shipped scenario validates and runs (briefly, small) with the model's invariants intact."""

from __future__ import annotations

import pytest

from coinnovation_sim import load_scenario, run
from helpers import SCENARIOS
from test_invariants import check_all

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_runs(path):
    sc = load_scenario(path)
    assert sc.description.strip(), "every shipped scenario says what question it answers"
    small = sc.model_copy(update={"population": sc.population.model_copy(
        update={"firms": 1500, "institutes": 60})})
    result = run(small, steps=14)
    check_all(result)
    enabled = [n for n in type(sc.mechanisms).model_fields if getattr(sc.mechanisms, n).enabled]
    for name in enabled:
        assert any(c.startswith(f"{name}_") for c in result.metrics.columns), name
