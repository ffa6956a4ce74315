"""The single-run API: ``run(scenario, seed=None, steps=None)``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InputError
from .model import CoinnovationModel
from .results import RunResult
from .scenario import MAX_STEPS, Scenario, load_scenario


def run(scenario: Scenario | dict[str, Any] | str | Path, seed: int | None = None,
        steps: int | None = None, on_step: Callable[[int], None] | None = None) -> RunResult:
    """Build the model for a scenario, run it and collect the results.

    Parameters
    ----------
    scenario : Scenario, dict, str or Path
        A loaded scenario, a mapping, a YAML path, or a shipped scenario's name.
    seed : int, optional
        Run seed (the scenario's ``seed`` when omitted).
    steps : int, optional
        Months to run (the scenario's ``steps`` when omitted).
    on_step : callable, optional
        Progress callback, called with the number of completed steps.

    Returns
    -------
    RunResult
        Metrics, flows, ledger, costs and the model.

    Examples
    --------
    >>> from coinnovation_sim import run
    >>> result = run("baseline", steps=12)              # doctest: +SKIP
    >>> result.metrics["wujiang_integration_index"]    # doctest: +SKIP
    """
    sc = load_scenario(scenario)
    if seed is not None and not (isinstance(seed, int) and 0 <= seed <= 2**63 - 1):
        raise InputError(sc.source, "seed", f"expected a non-negative integer, got {seed!r}")
    if steps is not None and not (isinstance(steps, int) and 0 <= steps <= MAX_STEPS):
        raise InputError(sc.source, "steps", f"expected an integer in [0, {MAX_STEPS}], got {steps!r}")
    t0 = time.perf_counter()
    model = CoinnovationModel(sc, seed=seed, steps=steps)
    t1 = time.perf_counter()
    model.run(on_step=on_step)
    t2 = time.perf_counter()
    return RunResult.from_model(model, {"build": round(t1 - t0, 4), "run": round(t2 - t1, 4)})
