"""Speed and scale of the model against plain Mesa (issue 5).

Prints, from one invocation on one machine:

* firm-steps per second of the default scenario with **all mechanisms on**
  (``scenarios/all-mechanisms.yaml``) and of the baseline, 20,000 firms × 120 steps, model
  construction timed separately (median of ``--repeats`` runs);
* agent-steps per second of the plain-Mesa reference (``benchmarks/boltzmann.py``: the Boltzmann
  wealth model with a Python ``step()`` per agent, ``shuffle_do`` and a DataCollector) at the same
  agent count and steps, and the ratio of the two;
* a scaling table at 5,000 / 20,000 / 50,000 / 200,000 firms (all mechanisms): construction
  seconds, run seconds, firm-steps/s and peak resident memory, each size measured in a fresh
  subprocess so the peak is that size's own;
* a breakdown of one step's time by kernel (``CoinnovationModel.timings``): core kernels, each
  mechanism, metrics and flow recording.

Results are also written as JSON to ``benchmarks/results/<date>T<hhmm>.json`` so a later change
can be compared with an earlier one. The load average before and after is recorded: measure on a quiet
machine.

Usage::

    python benchmarks/run.py                 # full (a few minutes)
    python benchmarks/run.py --quick         # smoke run: 24 steps, sizes 5k and 20k, 1 repeat
    python benchmarks/run.py --sizes 5000 20000 --steps 60 --repeats 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIOS = ROOT / "scenarios"
sys.path.insert(0, str(HERE))

MAIN_SCENARIO = "all-mechanisms"
FIRMS = 20_000
STEPS = 120
SIZES = (5_000, 20_000, 50_000, 200_000)


def scenario_for(name: str, firms: int) -> dict:
    """The shipped scenario ``name`` with ``firms`` firm agents (institutes unchanged)."""
    return {"name": f"{name}-{firms}", "extends": str(SCENARIOS / f"{name}.yaml"),
            "population": {"firms": firms}}


def time_model(name: str, firms: int, steps: int, seed: int = 5,
               timings: bool = False) -> dict:
    """Build and run one model; return construction and run seconds (and kernel timings)."""
    from coinnovation_sim.model import CoinnovationModel

    t0 = time.perf_counter()
    model = CoinnovationModel(scenario_for(name, firms), seed=seed, steps=steps)
    t1 = time.perf_counter()
    if timings:
        model.timings = {}
    live: list[int] = []
    model.run(on_step=lambda _: live.append(len(model.firm_agents)))
    t2 = time.perf_counter()
    out = {"scenario": name, "firms": firms, "steps": steps, "construct_s": t1 - t0,
           "run_s": t2 - t1, "ms_per_step": 1e3 * (t2 - t1) / steps,
           "firm_steps_per_s": firms * steps / (t2 - t1),
           "mean_live_firms": sum(live) / len(live),
           "live_firm_steps_per_s": sum(live) / (t2 - t1)}
    if timings:
        out["kernel_ms_per_step"] = {k: 1e3 * v / steps for k, v in
                                     sorted(model.timings.items(), key=lambda kv: -kv[1])}
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(args: argparse.Namespace) -> None:
    """Subprocess entry: one size, print JSON."""
    r = time_model(args.child_scenario, args.child_firms, args.steps)
    r["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(r))


def scaling(name: str, sizes: list[int], steps: int) -> list[dict]:
    """Measure each size in a fresh interpreter (so peak memory is per size)."""
    rows = []
    for n in sizes:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-scenario", name,
               "--child-firms", str(n), "--steps", str(steps)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {n:>8,} firms  build {row['construct_s']:6.2f} s  run {row['run_s']:7.2f} s  "
              f"{row['firm_steps_per_s'] / 1e6:6.3f} M firm-steps/s  "
              f"{row['ms_per_step']:7.1f} ms/step  peak {row['peak_rss_mb']:7.0f} MB", flush=True)
    return rows


def machine() -> dict:
    """Machine and software description."""
    import mesa
    import numpy as np

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "numpy": np.__version__, "mesa": mesa.__version__, "platform": platform.platform()}


def load() -> list[float]:
    """1, 5 and 15 minute load averages."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description="Model speed vs plain Mesa, scaling, kernel breakdown.")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 24 steps, sizes 5,000 and 20,000, one repeat")
    ap.add_argument("--steps", type=int, default=None, help=f"steps per run (default {STEPS})")
    ap.add_argument("--firms", type=int, default=FIRMS, help="firms/agents of the headline runs")
    ap.add_argument("--repeats", type=int, default=None, help="runs per headline figure (median)")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="scaling sizes")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default results/<date>T<hhmm>.json)")
    ap.add_argument("--child-scenario", help=argparse.SUPPRESS)
    ap.add_argument("--child-firms", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.steps is None:
        args.steps = 24 if args.quick else STEPS
    if args.child_scenario:
        child(args)
        return
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = args.sizes or ([5_000, 20_000] if args.quick else list(SIZES))
    import boltzmann
    from threadpoolctl import threadpool_limits

    info = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
            "load_before": load(), "steps": args.steps, "firms": args.firms, "repeats": repeats}
    print(f"machine: {info['machine']['cpu']}, {info['machine']['nproc']} cores, Python "
          f"{info['machine']['python']}, numpy {info['machine']['numpy']}, Mesa "
          f"{info['machine']['mesa']}; load {info['load_before']}", flush=True)

    runs: dict[str, list[dict]] = {MAIN_SCENARIO: [], "baseline": [], "boltzmann": []}
    for _ in range(repeats):  # interleaved, so a burst of load hits all three alike
        runs[MAIN_SCENARIO].append(time_model(MAIN_SCENARIO, args.firms, args.steps))
        runs["baseline"].append(time_model("baseline", args.firms, args.steps))
        with threadpool_limits(limits=1, user_api="blas"):
            runs["boltzmann"].append(boltzmann.measure(args.firms, args.steps))
    head = {}
    for key, rs in runs.items():
        rate_key = "agent_steps_per_s" if key == "boltzmann" else "firm_steps_per_s"
        head[key] = {"construct_s": median_of(rs, "construct_s"), "run_s": median_of(rs, "run_s"),
                     "steps_per_s": median_of(rs, rate_key),
                     "ms_per_step": 1e3 * median_of(rs, "run_s") / args.steps,
                     "all_runs_s": [r["run_s"] for r in rs]}
        if key != "boltzmann":
            head[key]["mean_live_firms"] = median_of(rs, "mean_live_firms")
            head[key]["live_firm_steps_per_s"] = median_of(rs, "live_firm_steps_per_s")
    ratio = head[MAIN_SCENARIO]["steps_per_s"] / head["boltzmann"]["steps_per_s"]
    print(f"\n{args.firms:,} agents × {args.steps} steps, median of {repeats}:")
    for key, label in ((MAIN_SCENARIO, "model, all mechanisms"), ("baseline", "model, baseline"),
                       ("boltzmann", "plain Mesa Boltzmann")):
        h = head[key]
        print(f"  {label:24s} build {h['construct_s']:5.2f} s  run {h['run_s']:6.2f} s  "
              f"{h['ms_per_step']:6.1f} ms/step  {h['steps_per_s'] / 1e6:6.3f} M steps/s")
    print(f"  ratio all-mechanisms / plain Mesa: {ratio:.2f}x (target >= 3)")
    live = head[MAIN_SCENARIO]
    live_ratio = live["live_firm_steps_per_s"] / head["boltzmann"]["steps_per_s"]
    print(f"  (firms enter and exit: {live['mean_live_firms']:,.0f} live firm agents on average; "
          f"counted per live firm, {live['live_firm_steps_per_s'] / 1e6:.3f} M firm-steps/s, "
          f"{live_ratio:.2f}x; the headline counts {args.firms:,} per step)")

    print("\nkernel breakdown, all mechanisms (ms per step):", flush=True)
    timed = time_model(MAIN_SCENARIO, args.firms, args.steps, timings=True)
    kern = timed["kernel_ms_per_step"]
    total = sum(kern.values())
    for k, v in kern.items():
        print(f"  {k:14s} {v:7.2f}  {100 * v / total:5.1f} %")
    share = 100 * (kern.get("metrics", 0.0) + kern.get("recording", 0.0)) / total
    print(f"  metrics + recording: {share:.1f} % of the step (target <= 20 %)")

    scale = []
    if not args.no_scaling:
        print(f"\nscaling, all mechanisms, {args.steps} steps, one fresh process per size:",
              flush=True)
        scale = scaling(MAIN_SCENARIO, sizes, args.steps)
        by = {r["firms"]: r for r in scale}
        if 20_000 in by and 200_000 in by:
            print(f"  run(200k) / run(20k) = {by[200_000]['run_s'] / by[20_000]['run_s']:.1f} "
                  f"(target <= 12); build(200k) = {by[200_000]['construct_s']:.1f} s (<= 10); "
                  f"peak(200k) = {by[200_000]['peak_rss_mb']:.0f} MB (<= 2048)")

    info.update({"headline": head, "ratio_vs_plain_mesa": ratio,
                 "ratio_vs_plain_mesa_live_firms": live_ratio, "kernels_ms_per_step": kern,
                 "metrics_recording_share": share / 100, "scaling": scale, "load_after": load()})
    stamp = dt.datetime.now().strftime("%Y-%m-%dT%H%M")    # one file per run: never overwritten
    out = args.out or HERE / "results" / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=2) + "\n")
    print(f"\nload average before {info['load_before']}, after {info['load_after']}; wrote {out}")


if __name__ == "__main__":
    main()
