"""Where a month's time goes: each stage split into compiled kernels and Python glue.

Wraps every numba dispatcher of the package in a timer that books its time to the stage running
at the call (``model.timings``), so each stage's time splits into time inside kernels (with
their dispatch) and the rest (Python, numpy calls, Mesa). ``--by-month`` prints stage times for
months 0–24 (enclave parks open), 24–72 and 72–end instead. A development tool: the wrappers
add about 0.5 µs per kernel call.

Run: ``python benchmarks/stage_profile.py [--firms 20000] [--months 100] [--by-month]``.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import pkgutil
import time

import numpy as np
from numba.core.registry import CPUDispatcher
from run import MAIN_SCENARIO, scenario_for
from threadpoolctl import threadpool_limits

import coinnovation_sim
from coinnovation_sim.model import CoinnovationModel


def wrap_kernels(model: CoinnovationModel, inside: collections.Counter,
                 calls: collections.Counter) -> None:
    """Replace every module-level numba dispatcher of the package by a timing wrapper."""
    def wrap(kernel):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            out = kernel(*args, **kwargs)
            stage = getattr(model.clock, "name", "?")
            inside[stage] += time.perf_counter() - t
            calls[stage] += 1
            return out
        return timed

    for info in pkgutil.walk_packages(coinnovation_sim.__path__, "coinnovation_sim."):
        module = importlib.import_module(info.name)
        for name, value in list(vars(module).items()):
            if isinstance(value, CPUDispatcher):
                setattr(module, name, wrap(value))


def stages(firms: int, months: int) -> None:
    """Print each stage's ms per month, the part inside kernels and the glue (months 10–10+n)."""
    model = CoinnovationModel(scenario_for(MAIN_SCENARIO, firms), seed=5, steps=months + 10)
    inside: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(10):
            model.step()
        wrap_kernels(model, inside, calls)
        model.timings = {}
        t = time.perf_counter()
        for _ in range(months):
            model.step()
    total = time.perf_counter() - t
    print(f"{1e3 * total / months:.2f} ms per month (months 10-{10 + months}, kernels wrapped)")
    print(f"{'stage':14s} {'ms':>6s} {'kernels':>8s} {'calls':>6s} {'glue':>6s}")
    for stage, sec in sorted(model.timings.items(), key=lambda kv: -kv[1]):
        print(f"{stage:14s} {1e3 * sec / months:6.3f} {1e3 * inside[stage] / months:8.3f} "
              f"{calls[stage] / months:6.1f} {1e3 * (sec - inside[stage]) / months:6.3f}")


def by_month(firms: int, months: int) -> None:
    """Print stage times (ms per month) for months 0–24, 24–72 and 72–end."""
    model = CoinnovationModel(scenario_for(MAIN_SCENARIO, firms), seed=5, steps=months)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(months):
            model.timings = {}
            t = time.perf_counter()
            model.step()
            rows.append((time.perf_counter() - t, dict(model.timings)))
    keys = sorted({k for _, timing in rows for k in timing})
    for lo, hi in ((0, 24), (24, 72), (72, months)):
        part = rows[lo:hi]
        if not part:
            continue
        mean = {k: 1e3 * np.mean([timing.get(k, 0.0) for _, timing in part]) for k in keys}
        head = 1e3 * np.mean([sec for sec, _ in part])
        print(f"months {lo}-{hi}: {head:.2f} ms  " + "  ".join(
            f"{k} {v:.2f}" for k, v in sorted(mean.items(), key=lambda kv: -kv[1])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=None,
                    help="timed months (default 100; with --by-month the run's length, 120)")
    ap.add_argument("--by-month", action="store_true", help="stage times by period of the run")
    a = ap.parse_args()
    if a.by_month:
        by_month(a.firms, a.months or 120)
    else:
        stages(a.firms, a.months or 100)


if __name__ == "__main__":
    main()
