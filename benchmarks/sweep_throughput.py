"""Throughput of a 200-run sweep of a small scenario with 1 and 2 workers.

Reports runs per second, parallel efficiency (``T1 / (n * Tn)``, wall time including the process
pool's start-up) and the per-run overhead of the sweep machinery: wall time outside
``run()`` (building the run's table, Parquet encoding, transfer, the atomic write, the index
line and scheduling) as a share of the time spent inside ``run()``, measured serially where
nothing overlaps. Prints a table and writes ``benchmarks/results/sweep_throughput.json``.

Usage: ``.venv/bin/python benchmarks/sweep_throughput.py [--workers 1 2] [--firms 1500]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml

from coinnovation_sim import sweep as sw
from coinnovation_sim.results import versions

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent / "scenarios"


def write_files(folder: Path, firms: int, institutes: int, steps: int) -> Path:
    base = {"name": "bench-small", "extends": str(SCENARIOS / "vouchers-portable.yaml"),
            "population": {"firms": firms, "institutes": institutes}, "steps": steps}
    (folder / "base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    body = {"name": "throughput", "base": "base.yaml", "design": "factorial",
            "parameters": {"parameters.learning_rate": {"values": [0.1 + 0.04 * i for i in range(10)]}},
            "replications": 20, "seed": 1,
            "keep": {"metrics": ["wujiang_integration_index", "policy_cost_wan"], "every": 1}}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--firms", type=int, default=1500)
    ap.add_argument("--institutes", type=int, default=60)
    ap.add_argument("--steps", type=int, default=12)
    args = ap.parse_args()
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plan = sw.plan_sweep(write_files(folder, args.firms, args.institutes, args.steps))
        assert len(plan.tasks) == 200
        for n in args.workers:
            t0 = time.perf_counter()
            executor, close = sw.make_executor(workers=n)
            if n > 1:  # start the pool's processes (counted in the wall time)
                list(executor.map(abs, range(n)))
            t_start = time.perf_counter() - t0
            report = sw.run_sweep(plan, folder / f"out{n}", executor=executor)
            close()
            wall = time.perf_counter() - t0
            assert report.done == 200 and report.failed == 0
            rows.append({"workers": n, "runs": report.total, "wall_s": round(wall, 3),
                         "pool_start_s": round(t_start, 3),
                         "run_s_sum": round(report.run_seconds, 3),
                         "runs_per_s": round(report.total / wall, 3)})
    t1 = rows[0]["wall_s"] if rows[0]["workers"] == 1 else None
    for r in rows:
        r["efficiency"] = round(t1 / (r["workers"] * r["wall_s"]), 3) if t1 else None
    serial = next((r for r in rows if r["workers"] == 1), None)
    overhead = None
    if serial:
        overhead = (serial["wall_s"] - serial["run_s_sum"]) / serial["run_s_sum"]
    print(f"{'workers':>7} {'wall s':>8} {'pool start s':>12} {'runs/s':>8} {'efficiency':>10}")
    for r in rows:
        eff = f"{r['efficiency']:.0%}" if r["efficiency"] is not None else "-"
        print(f"{r['workers']:>7} {r['wall_s']:>8.2f} {r['pool_start_s']:>12.2f} {r['runs_per_s']:>8.2f} "
              f"{eff:>10}")
    if overhead is not None:
        print(f"per-run overhead of the sweep machinery (serial): {overhead:.2%} of a run's time "
              f"({serial['run_s_sum'] / serial['runs'] * 1000:.0f} ms per run inside run())")
    result = {"benchmark": "sweep_throughput", "scenario": {"firms": args.firms,
              "institutes": args.institutes, "steps": args.steps, "extends": "vouchers-portable"},
              "rows": rows, "overhead_share": round(overhead, 4) if overhead is not None else None,
              "cpu_count": os.cpu_count(), "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "platform": platform.platform(), "versions": versions()}
    print(f"load average before/after (other processes compete for the cores if > 0): "
          f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
    out = HERE / "results" / "sweep_throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
