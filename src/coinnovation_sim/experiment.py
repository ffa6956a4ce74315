"""Replicated comparison of scenarios with common random numbers.

Every scenario runs with the same spawned seeds (``numpy.random.SeedSequence(seed).spawn(n)``), so
replication ``r`` of each scenario shares its random streams with replication ``r`` of the
others and differences are *paired*. Each run is reduced to a set of outcomes (see
:func:`outcomes`); the summary gives, per scenario and outcome, the mean and a t-based 95 %
confidence interval, and the paired difference to the baseline with its own 95 % CI.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError
from .results import atomic_directory, check_out, versions, write_parquet
from .runner import run
from .scenario import Scenario, load_scenario

#: Months averaged at the end of a run for level outcomes.
WINDOW = 12


def spawn_seeds(seed: int, n: int) -> list[int]:
    """Per-replication run seeds spawned from one master seed.

    Parameters
    ----------
    seed : int
        Master seed.
    n : int
        Replications.

    Returns
    -------
    list of int
        ``n`` non-negative 63-bit seeds, the same for every scenario of a comparison.
    """
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]


def outcomes(result: Any) -> dict[str, float]:
    """Reduce one run to its outcomes.

    Level outcomes are means over the last :data:`WINDOW` months; ``*_total`` outcomes are sums
    over the run. Columns named after the focus place are renamed ``focus_...``. Mechanism
    columns (prefixed with the mechanism's name) are window means, or final values when they
    end in ``_cum`` (cumulative counters).

    Parameters
    ----------
    result : RunResult
        A finished run.

    Returns
    -------
    dict
        Outcome name → value.
    """
    m = result.metrics
    fid = result.scenario.focus
    if len(m) == 0:
        return {}
    tail = m.iloc[-WINDOW:]
    out: dict[str, float] = {}
    level = [f"{fid}_integration_index", f"{fid}_integration_index_cross_city",
             f"{fid}_integration_index_cross_province", f"{fid}_cross_share_talent",
             f"{fid}_cross_share_technology", f"{fid}_cross_share_capital", f"{fid}_pagerank",
             f"{fid}_knowledge", "region_integration_index", "region_cross_share_talent",
             "region_cross_share_technology", "region_cross_share_capital", "theil_knowledge",
             "region_knowledge_per_firm", "firms_real"]
    for col in level:
        out[col.replace(f"{fid}_", "focus_", 1)] = float(tail[col].mean())
    out["focus_net_talent_inflow_total"] = float(m[f"{fid}_net_talent_inflow"].sum())
    out["policy_cost_wan_total"] = float(m["policy_cost_wan"].sum())
    from .mechanisms import CONFIGS

    for col in m.columns:
        if any(col.startswith(f"{name}_") for name in CONFIGS):
            out[col] = float(m[col].iloc[-1]) if col.endswith("_cum") else float(tail[col].mean())
    by_gov = result.costs.groupby("government")["amount_wan"].sum()
    for gov in result.model.places.ids:
        out[f"cost_wan_total:{gov}"] = float(by_gov.get(gov, 0.0))
    return out


def _one(scenario: Scenario, seed: int, steps: int | None) -> dict[str, float]:
    """Worker: run one scenario with one seed and return its outcomes."""
    return outcomes(run(scenario, seed=seed, steps=steps))


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-based confidence interval.

    Parameters
    ----------
    values : numpy.ndarray
        Replicate values.
    level : float
        Confidence level.

    Returns
    -------
    tuple of float
        ``(mean, low, high)``; the interval is the mean itself with one replicate.
    """
    x = np.asarray(values, float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


@dataclass
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    results : pandas.DataFrame
        Tidy: ``scenario, replication, seed, metric, value``.
    summary : pandas.DataFrame
        Per scenario and metric: ``mean, ci_low, ci_high`` and the paired difference to the
        baseline ``diff, diff_low, diff_high`` (zero for the baseline itself).
    cost_effectiveness : pandas.DataFrame
        Per scenario: paired change in the focus integration index per 万元 of extra public
        spending (NaN where spending does not differ from the baseline's).
    baseline : str
        Name of the baseline scenario.
    seeds : list of int
        The replication seeds.
    manifest : dict
        What was run (scenarios as resolved, seeds, steps, versions).
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    cost_effectiveness: pd.DataFrame
    baseline: str
    seeds: list[int]
    manifest: dict[str, Any]

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write ``results.parquet``, ``summary.csv``, ``summary.md``, ``manifest.json``."""
        out = Path(path)
        check_out(out, force)
        with atomic_directory(out, "comparison") as tmp:
            write_parquet(self.results, tmp / "results.parquet")
            self.summary.to_csv(tmp / "summary.csv", index=False)
            (tmp / "summary.md").write_text(summary_markdown(self), encoding="utf-8")
            (tmp / "manifest.json").write_text(json.dumps(self.manifest, indent=2, ensure_ascii=False)
                                               + "\n", encoding="utf-8")
        return out


def _summarise(results: pd.DataFrame, baseline: str, order: list[str]) -> pd.DataFrame:
    rows = []
    wide = results.pivot_table(index=["metric", "replication"], columns="scenario", values="value")
    for metric in sorted(results["metric"].unique()):
        block = wide.loc[metric]
        for sc in order:
            if sc not in block:
                continue
            vals = block[sc].dropna().to_numpy()
            if len(vals) == 0:  # an outcome this scenario does not have (another's mechanism)
                continue
            mean, lo, hi = mean_ci(vals)
            paired = (block[sc] - block[baseline]).dropna().to_numpy() if baseline in block \
                else np.zeros(0)
            d, dlo, dhi = mean_ci(paired) if len(paired) else (float("nan"),) * 3
            rows.append({"scenario": sc, "metric": metric, "n": len(vals), "mean": mean,
                         "ci_low": lo, "ci_high": hi, "diff": d, "diff_low": dlo, "diff_high": dhi})
    return pd.DataFrame(rows)


def _cost_effectiveness(results: pd.DataFrame, baseline: str, order: list[str]) -> pd.DataFrame:
    wide = results.pivot_table(index="replication", columns=["metric", "scenario"], values="value")
    rows = []
    for sc in order:
        try:
            d_idx = wide[("focus_integration_index", sc)] - wide[("focus_integration_index", baseline)]
            d_cost = wide[("policy_cost_wan_total", sc)] - wide[("policy_cost_wan_total", baseline)]
        except KeyError:
            continue
        extra = float(d_cost.mean())
        gain = float(d_idx.mean())
        rows.append({"scenario": sc, "extra_cost_wan": extra, "index_gain": gain,
                     "index_gain_per_wan": gain / extra if abs(extra) > 1e-9 else float("nan")})
    return pd.DataFrame(rows)


def compare(scenarios: Sequence[Scenario | dict | str | Path], replications: int = 30,
            seed: int = 20200101, steps: int | None = None, baseline: str | None = None,
            workers: int = 1, on_done: Callable[[int, int], None] | None = None) -> Comparison:
    """Run every scenario with the same spawned seeds and summarise paired differences.

    Parameters
    ----------
    scenarios : sequence
        Scenario objects, mappings, paths or shipped names; names must be unique.
    replications : int
        Replications per scenario.
    seed : int
        Master seed for the replication seeds.
    steps : int, optional
        Months (each scenario's own ``steps`` when omitted).
    baseline : str, optional
        Name of the baseline scenario (the first one by default).
    workers : int
        Processes; 1 runs serially in this process. Results do not depend on it.
    on_done : callable, optional
        Progress callback ``on_done(done, total)``.

    Returns
    -------
    Comparison
        Tidy results, summary with CIs and paired differences, cost-effectiveness.
    """
    loaded = [load_scenario(s) for s in scenarios]
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(dup, "name", "scenario names in a comparison must be unique")
    if not loaded:
        raise InputError("compare", "scenarios", "expected at least one scenario")
    if replications < 1:
        raise InputError("compare", "replications", f"expected at least 1, got {replications}")
    base = names[0] if baseline is None else baseline
    if base not in names:
        raise InputError("compare", "baseline", f"expected one of {', '.join(names)}, got {base!r}")
    seeds = spawn_seeds(seed, replications)
    jobs = [(i, r) for i in range(len(loaded)) for r in range(replications)]
    found: dict[tuple[int, int], dict[str, float]] = {}
    if workers <= 1:
        for n, (i, r) in enumerate(jobs, start=1):
            found[(i, r)] = _one(loaded[i], seeds[r], steps)
            if on_done:
                on_done(n, len(jobs))
    else:
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(_one, loaded[i], seeds[r], steps): (i, r) for i, r in jobs}
            for n, fut in enumerate(cf.as_completed(futs), start=1):
                found[futs[fut]] = fut.result()
                if on_done:
                    on_done(n, len(jobs))
    rows = [(names[i], r, seeds[r], k, v) for (i, r) in jobs for k, v in sorted(found[(i, r)].items())]
    results = pd.DataFrame(rows, columns=["scenario", "replication", "seed", "metric", "value"])
    results = results.astype({"replication": np.int64, "seed": np.uint64, "value": float})
    summary = _summarise(results, base, names)
    ce = _cost_effectiveness(results, base, names)
    manifest = {"scenarios": [s.resolved() for s in loaded], "baseline": base, "seed": seed,
                "replications": replications, "replication_seeds": seeds, "steps": steps,
                "window_months": WINDOW, "versions": versions()}
    return Comparison(results, summary, ce, base, seeds, manifest)


def summary_markdown(cmp: Comparison, metrics: Sequence[str] | None = None) -> str:
    """Markdown table of the summary (mean [95 % CI]; paired difference [95 % CI])."""
    s = cmp.summary
    if metrics is not None:
        s = s[s.metric.isin(metrics)]
    lines = [f"Baseline: {cmp.baseline}; {len(cmp.seeds)} replications (common random numbers).",
             "", "| scenario | metric | mean [95% CI] | difference to baseline [95% CI] |",
             "|---|---|---|---|"]
    for row in s.itertuples():
        lines.append(f"| {row.scenario} | {row.metric} | {row.mean:.4g} [{row.ci_low:.4g}, "
                     f"{row.ci_high:.4g}] | {row.diff:+.4g} [{row.diff_low:+.4g}, {row.diff_high:+.4g}] |")
    return "\n".join(lines) + "\n"
