"""Calibration of declared free parameters to declared targets.

A calibration spec (YAML, validated; unknown keys are rejected) names the scenarios the targets
are computed from, the free parameters (dotted scenario paths with bounds, applied to every
scenario of the spec), the targets and the held-out validation patterns::

    name: default
    seed: 20200101
    samples: 32                 # Latin-hypercube candidates
    replications: 5             # per candidate and scenario (common random numbers)
    refine: {evaluations: 30}   # Nelder-Mead evaluations after the search (0: none)
    scenarios:
      demo_zone: {file: ../demo-zone-vouchers-calibration.yaml}
      baseline: {file: ../baseline.yaml, steps: 36}

Parameters
----------
      parameters.distance_decay_km: {bounds: [20, 200]}
    targets:
      - {name: demo_zone_firms, scenario: demo_zone, kind: metric,
         metric: vouchers_firms_applied_cum, value: 69, scale: 7}
      - {name: collab_half_km, scenario: baseline, kind: collaboration_half_distance,
         value: 100, scale: 50}
      - {name: hubs, scenario: baseline, kind: hub_rank,
         hubs: [shanghai, suzhou, hangzhou, hefei], value: 0, scale: 1}
    validation:
      - {name: additionality, scenario: demo_zone, kind: metric,
         metric: vouchers_additional_share, value: 0.8, scale: 0.1}

Method. (1) A Latin hypercube (``scipy.stats.qmc`` through :func:`sweep.design_matrix`, seeded
by the spec's seed) over the bounds. (2) Every candidate runs every scenario with the same
``replications`` seeds (:func:`experiment.spawn_seeds`, common random numbers across candidates),
in parallel on the sweep module's executor (:func:`sweep.make_executor`: a process pool, or this
process with one worker). Each run is reduced to the statistics of its scenario's targets; the
loss of a candidate is ``Σ ((mean_r(stat) − value) / scale)²`` over the targets (a statistic
that cannot be computed costs :data:`PENALTY`). (3) Nelder–Mead (``scipy.optimize``) from the
best candidate in the unit cube of the bounds, on the same seeds, coordinates clipped to the
bounds. Validation statistics are computed in the same runs but never enter the loss. The result
depends only on the spec (and ``quick``), not on the number of workers.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import InputError
from .experiment import mean_ci, spawn_seeds
from .results import atomic_directory, check_out, versions, write_parquet
from .runner import run
from .scenario import MAX_STEPS, Scenario, load_model_file

#: Squared scaled error charged for a target whose statistic is NaN (e.g. no collaboration).
PENALTY = 100.0
#: Minimum number of place pairs with a positive flow for the distance-decay fit.
MIN_PAIRS = 8
#: Fewest firm agents with a collaboration for the degree-distribution test.
MIN_DEGREE_NODES = 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FreeParam(_Strict):
    """A free parameter: bounds of a dotted scenario path."""

    bounds: list[float] = Field(min_length=2, max_length=2, description="[low, high]")
    integer: bool = Field(False, description="round to whole numbers")

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, v: list[float]) -> list[float]:
        if not all(math.isfinite(x) for x in v):
            raise ValueError("expected finite numbers")
        if not v[0] < v[1]:
            raise ValueError(f"expected low < high, got [{v[0]:g}, {v[1]:g}]")
        return v


class ScenarioRef(_Strict):
    """A scenario the targets are computed from."""

    file: str = Field(min_length=1, description="scenario file, relative to the spec")
    steps: int | None = Field(None, ge=1, le=MAX_STEPS, description="months (default: scenario's)")


class Target(_Strict):
    """A target (or a held-out validation pattern): a statistic of a scenario's runs."""

    name: str = Field(min_length=1)
    scenario: str = Field(min_length=1, description="key under scenarios")
    kind: Literal["metric", "collaboration_half_distance", "hub_rank", "degree_tail"]
    metric: str | None = Field(None, description="kind metric: wide metric column")
    reduce: Literal["last", "mean"] = Field("last", description="kind metric: last month or mean")
    hubs: list[str] | None = Field(None, min_length=1, description="kind hub_rank: place ids")
    value: float = Field(description="target value")
    scale: float = Field(gt=0, description="tolerance: the error is divided by it")
    source: str = Field("", description="where the value comes from")

    @model_validator(mode="after")
    def _kind_fields(self) -> Target:
        if self.kind == "metric" and not self.metric:
            raise ValueError("kind metric needs metric")
        if self.kind == "hub_rank" and not self.hubs:
            raise ValueError("kind hub_rank needs hubs")
        return self


class Quick(_Strict):
    """Settings of a smoke run (``--quick``)."""

    firms: int = Field(2000, ge=1)
    institutes: int = Field(60, ge=1)
    steps: int | None = Field(None, ge=1, le=MAX_STEPS, description="cap on every scenario's months")
    samples: int = Field(4, ge=1)
    replications: int = Field(2, ge=1)
    evaluations: int = Field(4, ge=0)


class Refine(_Strict):
    """Local refinement."""

    evaluations: int = Field(30, ge=0, le=10_000, description="Nelder-Mead loss evaluations")
    step: float = Field(0.1, gt=0, le=0.5, description="initial simplex step (unit cube)")


class Spec(_Strict):
    """A validated calibration spec."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(20200101, ge=0, le=2**63 - 1)
    samples: int = Field(32, ge=1, le=100_000)
    replications: int = Field(5, ge=1, le=10_000)
    refine: Refine = Field(default_factory=Refine)
    population: dict[str, int] | None = Field(None, description="firms/institutes for every scenario")
    scenarios: dict[str, ScenarioRef] = Field(min_length=1)
    parameters: dict[str, FreeParam] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)
    validation: list[Target] = Field(default_factory=list)
    quick: Quick = Field(default_factory=Quick)


# --- statistics ----------------------------------------------------------------------------------


def decay_fit(flows: pd.DataFrame, ids: list[str], distance_km: np.ndarray,
              level: np.ndarray | None = None) -> dict[str, float]:
    """Fit the exponential distance decay of flows between places.

    Flows are summed over time and over both directions of each unordered place pair; pairs
    with a positive flow enter ``log F_ab = c + u_a + u_b − d_ab / λ (+ boundary-level
    dummies)`` fitted by least squares, with one place effect ``u`` per place (absorbing the
    places' sizes, so that hubs do not pass for short distances).

    Parameters
    ----------
    flows : pandas.DataFrame
        Columns ``origin, destination, amount`` (one channel).
    ids : list of str
        Place ids in the order of ``distance_km``.
    distance_km : numpy.ndarray
        (P, P) distances.
    level : numpy.ndarray, optional
        (P, P) boundary levels; adds one dummy per level above the lowest present.

    Returns
    -------
    dict
        ``decay_km`` (λ), ``half_km`` (λ ln 2), ``pairs`` used; NaN when fewer than
        :data:`MIN_PAIRS` pairs or a non-negative slope.
    """
    idx = {p: i for i, p in enumerate(ids)}
    n = len(ids)
    mat = np.zeros((n, n))
    f = flows[flows["origin"] != flows["destination"]]
    o = f["origin"].map(idx).to_numpy()
    d = f["destination"].map(idx).to_numpy()
    np.add.at(mat, (o, d), f["amount"].to_numpy(float))
    sym = mat + mat.T
    a, b = np.triu_indices(n, k=1)
    y = sym[a, b]
    keep = y > 0
    nan = {"decay_km": float("nan"), "half_km": float("nan"), "pairs": int(keep.sum())}
    if keep.sum() < MIN_PAIRS:
        return nan
    a, b, y = a[keep], b[keep], np.log(y[keep])
    cols = [np.ones(len(y)), distance_km[a, b]]
    if level is not None:
        lv = level[a, b]
        for v in sorted(set(lv.tolist()))[1:]:
            cols.append((lv == v).astype(float))
    eff = np.zeros((len(y), n))
    eff[np.arange(len(y)), a] = 1.0
    eff[np.arange(len(y)), b] = 1.0
    x = np.column_stack([*cols, eff[:, 1:]])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    slope = float(coef[1])
    if not slope < 0:
        return nan
    lam = -1.0 / slope
    return {"decay_km": lam, "half_km": lam * math.log(2), "pairs": len(y)}


def collaboration_degrees(collaborations: pd.DataFrame) -> np.ndarray:
    """Degree of every firm agent in the firm collaboration network of a run.

    Nodes are the firm agents with at least one joint R&D deal; an undirected edge joins a
    searcher and its partner (repeat deals of a pair count once).

    Parameters
    ----------
    collaborations : pandas.DataFrame
        ``RunResult.collaborations`` (columns ``firm``, ``partner``).

    Returns
    -------
    numpy.ndarray
        Degrees (number of distinct partners), one per node, int.
    """
    a = collaborations["firm"].to_numpy(np.int64)
    b = collaborations["partner"].to_numpy(np.int64)
    pairs = np.unique(np.column_stack([np.minimum(a, b), np.maximum(a, b)]), axis=0)
    _, deg = np.unique(pairs.ravel(), return_counts=True)
    return deg


def degree_tail_ratio(degrees: np.ndarray) -> float:
    """Heavy-tail test of a degree distribution: power law against exponential.

    The discrete power law is fitted above the ``x_min`` that minimises the Kolmogorov–Smirnov
    distance and compared with an exponential over the same range by the normalised
    log-likelihood ratio ``R`` (Vuong's test; Clauset, Shalizi & Newman 2009), with the
    ``powerlaw`` package (Alstott, Bullmore & Plenz 2014). ``R > 0`` favours the power law (a
    heavy tail); under the null of equal fit ``R`` is standard normal, so ``R > 1.96`` is
    significant at 5 % and ``R < −1.96`` rejects the heavy tail in favour of the exponential.

    Parameters
    ----------
    degrees : numpy.ndarray
        Positive degrees.

    Returns
    -------
    float
        ``R``; NaN with fewer than :data:`MIN_DEGREE_NODES` nodes or fewer than two distinct
        degrees.
    """
    import powerlaw

    deg = np.asarray(degrees)
    deg = deg[deg > 0]
    if len(deg) < MIN_DEGREE_NODES or len(np.unique(deg)) < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(deg, discrete=True, verbose=False)
        r, _ = fit.distribution_compare("power_law", "exponential", normalized_ratio=True)
    return float(r)


def hub_rank_loss(pagerank: dict[str, float] | pd.Series, hubs: list[str]) -> float:
    """Rank loss of the hub structure: 0 when the hubs hold the top ``len(hubs)`` places.

    Parameters
    ----------
    pagerank : mapping or pandas.Series
        Place id → (mean) PageRank.
    hubs : list of str
        The places that should lead.

    Returns
    -------
    float
        ``Σ_h max(0, rank_h − k)``, ranks 1 = highest, ``k = len(hubs)``; e.g. one hub in 5th
        place behind the other three and one non-hub costs 1.
    """
    s = pd.Series(pagerank, dtype=float).sort_values(ascending=False, kind="stable")
    rank = {p: i + 1 for i, p in enumerate(s.index)}
    k = len(hubs)
    return float(sum(max(0, rank.get(h, len(s) + 1) - k) for h in hubs))


def statistic(target: Target, result: Any) -> float:
    """The value of one target's statistic in one run."""
    if target.kind == "metric":
        m = result.metrics
        if target.metric not in m.columns or len(m) == 0:
            return float("nan")
        col = m[target.metric]
        return float(col.iloc[-1] if target.reduce == "last" else col.mean())
    if target.kind == "collaboration_half_distance":
        fl = result.flows
        places = result.model.places
        return decay_fit(fl[fl["channel"] == "collaboration"], places.ids, places.distance_km,
                         places.level)["half_km"]
    if target.kind == "degree_tail":
        return degree_tail_ratio(collaboration_degrees(result.collaborations))
    ml = result.metrics_long
    pr = ml[ml["metric"] == "pagerank"].groupby("place")["value"].mean()
    return hub_rank_loss(pr, list(target.hubs or []))


def _job(scenario: Scenario, seed: int, steps: int | None,
         targets: tuple[Target, ...]) -> dict[str, float]:
    """Worker: run one scenario with one seed and compute its targets' statistics."""
    result = run(scenario, seed=seed, steps=steps)
    return {t.name: statistic(t, result) for t in targets}


# --- planning ------------------------------------------------------------------------------------


def read_spec(path: str | Path) -> Spec:
    """Read and validate a calibration spec (one-line :class:`InputError` on bad input)."""
    src = str(path)
    spec = load_model_file(path, Spec)
    names = [t.name for t in [*spec.targets, *spec.validation]]
    for i, t in enumerate([*spec.targets, *spec.validation]):
        group, j = ("targets", i) if i < len(spec.targets) else ("validation", i - len(spec.targets))
        if t.scenario not in spec.scenarios:
            raise InputError(src, f"{group}.{j}.scenario",
                             f"expected one of {', '.join(spec.scenarios)}, got {t.scenario!r}")
        if names.count(t.name) > 1:
            raise InputError(src, f"{group}.{j}.name", f"duplicate target name {t.name!r}")
    if spec.population and set(spec.population) - {"firms", "institutes"}:
        bad = sorted(set(spec.population) - {"firms", "institutes"})[0]
        raise InputError(src, f"population.{bad}", "unknown key (expected firms, institutes)")
    return spec


@dataclass
class _Plan:
    src: str
    spec: Spec
    names: list[str]                              # free parameter paths
    scen: dict[str, tuple[dict[str, Any], str]]   # scenario key -> (mapping, base_dir)
    steps: dict[str, int | None]
    seeds: list[int]
    samples: int
    evaluations: int


def _plan(spec_path: str | Path, quick: bool) -> _Plan:
    from .sweep import _sample_scenarios, _scenario_mapping

    src = str(spec_path)
    spec = read_spec(spec_path)
    here = Path(spec_path).resolve().parent
    names = list(spec.parameters)
    for p in names:
        if any(not part for part in p.split(".")):
            raise InputError(src, f"parameters.{p}", "expected a dotted path such as "
                                                     "parameters.distance_decay_km")
    pop = dict(spec.population or {})
    if quick:
        pop = {"firms": spec.quick.firms, "institutes": spec.quick.institutes}
    scen: dict[str, tuple[dict[str, Any], str]] = {}
    steps: dict[str, int | None] = {}
    for key, ref in spec.scenarios.items():
        path = (here / ref.file).resolve()
        mapping, sc = _scenario_mapping(path, src, f"scenarios.{key}.file")
        mapping = copy.deepcopy(mapping)
        if pop:
            mapping.setdefault("population", {})
            mapping["population"] = {**(mapping["population"] or {}), **pop}
        n = ref.steps if ref.steps is not None else sc.steps
        if quick and spec.quick.steps is not None:
            n = min(n, spec.quick.steps)
        steps[key] = n
        scen[key] = (mapping, str(path.parent))
        # every free parameter at both bounds must give a valid scenario (errors name the path)
        corners = [{p: _value(spec, p, spec.parameters[p].bounds[j]) for p in names} for j in (0, 1)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _sample_scenarios(src, key, mapping, str(path.parent), corners)
    samples = spec.quick.samples if quick else spec.samples
    reps = spec.quick.replications if quick else spec.replications
    evals = spec.quick.evaluations if quick else spec.refine.evaluations
    return _Plan(src, spec, names, scen, steps, spawn_seeds(spec.seed, reps), samples, evals)


def _value(spec: Spec, path: str, v: float) -> float | int:
    return int(np.rint(v)) if spec.parameters[path].integer else float(v)


def lhs_candidates(spec: Spec, samples: int) -> list[dict[str, float]]:
    """Latin-hypercube candidates over the free parameters (the sweep module's lhs design)."""
    from .sweep import ParamDecl, SweepFile, design_matrix

    sw = SweepFile(name=spec.name, base="-", design="lhs", samples=samples, seed=spec.seed,
                   parameters={p: ParamDecl(bounds=d.bounds, integer=d.integer)
                               for p, d in spec.parameters.items()})
    return design_matrix(sw)


# --- evaluation ----------------------------------------------------------------------------------


class _Evaluator:
    """Evaluates candidates (all scenarios × replications in parallel), caching by values."""

    def __init__(self, plan: _Plan, executor: Any,
                 on_done: Callable[[int, dict[str, Any]], None] | None) -> None:
        self.plan, self.ex, self.on_done = plan, executor, on_done
        self.rows: list[dict[str, Any]] = []
        self.cache: dict[tuple, dict[str, Any]] = {}
        self.by_scen: dict[str, tuple[Target, ...]] = {}
        for t in [*plan.spec.targets, *plan.spec.validation]:
            self.by_scen[t.scenario] = (*self.by_scen.get(t.scenario, ()), t)

    def scenarios(self, params: dict[str, Any]) -> dict[str, Scenario]:
        from .sweep import _sample_scenarios

        out = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for key, (mapping, base) in self.plan.scen.items():
                if key in self.by_scen:
                    out[key] = _sample_scenarios(self.plan.src, key, mapping, base, [params])[0]
        return out

    def many(self, cands: list[dict[str, Any]], stage: str) -> list[dict[str, Any]]:
        todo = []
        for c in cands:
            k = tuple(c[p] for p in self.plan.names)
            if k not in self.cache:
                todo.append(c)
                self.cache[k] = {}  # reserved
        futs = {}
        for ci, c in enumerate(todo):
            for key, sc in self.scenarios(c).items():
                for r, seed in enumerate(self.plan.seeds):
                    fut = self.ex.submit(_job, sc, seed, self.plan.steps[key], self.by_scen[key])
                    futs[(ci, key, r)] = fut
        vals: dict[tuple[int, str], list[float]] = {}
        for (ci, _key, _r), fut in futs.items():
            for name, v in fut.result().items():
                vals.setdefault((ci, name), []).append(v)
        for ci, c in enumerate(todo):
            row = self._row(c, stage, {n: np.array(v) for (i, n), v in vals.items() if i == ci})
            self.cache[tuple(c[p] for p in self.plan.names)] = row
            self.rows.append(row)
            if self.on_done:
                self.on_done(len(self.rows), row)
        return [self.cache[tuple(c[p] for p in self.plan.names)] for c in cands]

    def _row(self, c: dict[str, Any], stage: str, vals: dict[str, np.ndarray]) -> dict[str, Any]:
        row: dict[str, Any] = {"candidate": len(self.rows), "stage": stage, **c}
        loss = 0.0
        for t in [*self.plan.spec.targets, *self.plan.spec.validation]:
            x = vals[t.name]
            x = x[np.isfinite(x)]
            if len(x) == len(vals[t.name]) and len(x):
                mean, lo, hi = mean_ci(x)
            else:
                mean = lo = hi = float("nan")
            row[t.name], row[f"{t.name}_low"], row[f"{t.name}_high"] = mean, lo, hi
            if t in self.plan.spec.targets:
                err = ((mean - t.value) / t.scale) ** 2 if math.isfinite(mean) else PENALTY
                row[f"{t.name}_sqerr"] = err
                loss += err
        row["loss"] = loss
        return row


# --- result --------------------------------------------------------------------------------------


@dataclass
class Calibration:
    """Result of :func:`calibrate`."""

    out: Path
    candidates: pd.DataFrame
    best: dict[str, Any]
    best_row: dict[str, Any]
    manifest: dict[str, Any]


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    from .sweep import _apply

    out: dict[str, Any] = {}
    for p, v in flat.items():
        _apply(out, p, v)
    return out


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.4g}"


def report_markdown(plan: _Plan, best_row: dict[str, Any], n_cands: int, quick: bool,
                    check: dict[str, float] | None = None, check_seed: int | None = None) -> str:
    """Markdown report: settings, parameter values, targets and validation.

    With ``check`` (the free parameters' values in the scenarios, see :func:`check`) the report
    describes an evaluation of the scenarios as they are instead of a fit.
    """
    s = plan.spec
    title = f"# Calibration `{s.name}`" if check is None else f"# Check of calibration `{s.name}`"
    lines = [title + (" (quick smoke settings)" if quick else ""), ""]
    if check is None:
        lines += [f"{n_cands} candidates evaluated ({plan.samples} Latin-hypercube, then "
                  f"Nelder–Mead, {plan.evaluations} evaluations at most); {len(plan.seeds)} "
                  f"replications each (common random numbers, master seed {s.seed}); loss "
                  f"{best_row['loss']:.4g} at the best candidate (#{best_row['candidate']}, "
                  f"{best_row['stage']})."]
    else:
        lines += [f"The scenarios as shipped (no parameter changed), {len(plan.seeds)} "
                  f"replications (master seed {check_seed}, not the fit's seeds); loss "
                  f"{best_row['loss']:.4g}."]
    lines += ["", "Scenarios: " + ", ".join(f"{k} ({plan.steps[k]} months)" for k in plan.scen)
              + ".", ""]
    if check is None:
        lines += ["## Fitted parameters", "", "| parameter | bounds | fitted |", "|---|---|---|"]
        lines += [f"| `{p}` | [{s.parameters[p].bounds[0]:g}, {s.parameters[p].bounds[1]:g}] | "
                  f"{best_row[p]:.4g} |" for p in plan.names]
    else:
        lines += ["## Free parameters (values in the scenarios)", "", "| parameter | bounds | "
                  "value |", "|---|---|---|"]
        lines += [f"| `{p}` | [{s.parameters[p].bounds[0]:g}, {s.parameters[p].bounds[1]:g}] | "
                  f"{check[p]:.4g} |" for p in s.parameters]
    for title, group in (("Targets (in the loss)", s.targets),
                         ("Held-out validation (not in the loss)", s.validation)):
        if not group:
            continue
        lines += ["", f"## {title}", "", "| name | scenario | target ± scale | achieved "
                  "[95% CI] | scaled error |", "|---|---|---|---|---|"]
        for t in group:
            m = best_row[t.name]
            z = (m - t.value) / t.scale if math.isfinite(m) else float("nan")
            lines.append(f"| {t.name} | {t.scenario} | {t.value:g} ± {t.scale:g} | {_fmt(m)} "
                         f"[{_fmt(best_row[t.name + '_low'])}, {_fmt(best_row[t.name + '_high'])}] "
                         f"| {_fmt(z)} |")
    return "\n".join(lines) + "\n"


def calibrate(spec: str | Path, out: str | Path, workers: int | None = None, force: bool = False,
              quick: bool = False,
              on_done: Callable[[int, dict[str, Any]], None] | None = None) -> Calibration:
    """Fit the spec's free parameters to its targets and write the output directory.

    Parameters
    ----------
    spec : str or Path
        Calibration spec file.
    out : str or Path
        Output directory: ``candidates.parquet``, ``best.yaml``, ``report.md``,
        ``manifest.json``.
    workers : int, optional
        Local processes (default all cores; 1 runs in this process). Results do not depend on it.
    force : bool
        Replace a non-empty ``out``.
    quick : bool
        Use the spec's ``quick`` settings (population, months, samples, replications,
        evaluations) for a smoke run.
    on_done : callable, optional
        Progress ``on_done(evaluated, row)`` after every candidate.

    Returns
    -------
    Calibration
        Candidates, best parameters and row, manifest.
    """
    from scipy.optimize import minimize

    from .sweep import make_executor

    out = Path(out)
    check_out(out, force)
    plan = _plan(spec, quick)
    s = plan.spec
    t0 = time.perf_counter()
    executor, close = make_executor(workers)
    try:
        ev = _Evaluator(plan, executor, on_done)
        rows = ev.many(lhs_candidates(s, plan.samples), "lhs")
        best = min(rows, key=lambda r: (r["loss"], r["candidate"]))
        lo = np.array([s.parameters[p].bounds[0] for p in plan.names])
        hi = np.array([s.parameters[p].bounds[1] for p in plan.names])

        def to_params(u: np.ndarray) -> dict[str, Any]:
            x = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
            return {p: _value(s, p, float(v)) for p, v in zip(plan.names, x, strict=True)}

        if plan.evaluations > 0:
            u0 = (np.array([best[p] for p in plan.names], float) - lo) / (hi - lo)
            d = len(plan.names)
            simplex = np.vstack([u0] + [np.clip(u0 + plan.spec.refine.step * np.eye(d)[i]
                                                * (1 if u0[i] <= 0.5 else -1), 0, 1)
                                        for i in range(d)])
            minimize(lambda u: ev.many([to_params(u)], "refine")[0]["loss"], u0,
                     method="Nelder-Mead",
                     options={"maxfev": plan.evaluations, "initial_simplex": simplex,
                              "xatol": 1e-3, "fatol": 1e-6})
    finally:
        close()
    cands = pd.DataFrame(ev.rows)
    best_row = min(ev.rows, key=lambda r: (r["loss"], r["candidate"]))
    best_params = {p: best_row[p] for p in plan.names}
    manifest = {"spec": s.model_dump(mode="json"), "source": str(spec), "quick": quick,
                "samples": plan.samples, "replications": len(plan.seeds),
                "replication_seeds": plan.seeds, "refine_evaluations": plan.evaluations,
                "steps": plan.steps, "scenarios": {k: v[0] for k, v in plan.scen.items()},
                "candidates": len(ev.rows), "best": best_params,
                "best_candidate": int(best_row["candidate"]), "best_loss": best_row["loss"],
                "seconds": round(time.perf_counter() - t0, 2), "versions": versions(),
                "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    fragment = _nest(best_params)
    header = (f"# Fitted by `coinnovation-sim calibrate` from {Path(spec).name}"
              f"{' (quick smoke settings: not a calibration)' if quick else ''}; "
              f"loss {best_row['loss']:.4g}.\n")
    with atomic_directory(out, "calibration") as tmp:
        write_parquet(cands, tmp / "candidates.parquet")
        (tmp / "best.yaml").write_text(header + yaml.safe_dump(fragment, sort_keys=False,
                                                               allow_unicode=True), encoding="utf-8")
        (tmp / "report.md").write_text(report_markdown(plan, best_row, len(ev.rows), quick),
                                       encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False,
                                                      default=str) + "\n", encoding="utf-8")
    return Calibration(out, cands, best_params, best_row, manifest)


@dataclass
class Check:
    """Result of :func:`check`."""

    out: Path
    row: dict[str, Any]
    values: dict[str, float]
    manifest: dict[str, Any]


def scenario_values(plan: _Plan) -> dict[str, float]:
    """The free parameters' values in the spec's scenarios as resolved (defaults included).

    Raises
    ------
    InputError
        If the scenarios disagree on a parameter (a check would then test no single value).
    """
    from .sweep import _sample_scenarios

    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, (mapping, base) in plan.scen.items():
            res = _sample_scenarios(plan.src, key, mapping, base, [{}])[0].resolved()
            for p in plan.spec.parameters:
                v: Any = res
                for part in p.split("."):
                    v = v[part]
                if p in out and out[p] != v:
                    raise InputError(plan.src, f"parameters.{p}",
                                     f"scenarios disagree ({out[p]:g} and {v:g} in {key})")
                out[p] = float(v)
    return out


def check(spec: str | Path, out: str | Path, replications: int = 30, seed: int | None = None,
          workers: int | None = None, force: bool = False, quick: bool = False) -> Check:
    """Evaluate the targets and the held-out validation at the scenarios' own values.

    This is how the shipped defaults are verified after a calibration has been adopted: every
    scenario of the spec runs as it is (no free parameter overridden), with fresh seeds and
    more replications than the fit used.

    Parameters
    ----------
    spec : str or Path
        Calibration spec file.
    out : str or Path
        Output directory: ``report.md``, ``check.parquet`` (one row: means and 95 % CIs),
        ``manifest.json``.
    replications : int
        Replications per scenario.
    seed : int, optional
        Master seed of the replications (default: the spec's seed + 1, so that the seeds differ
        from the fit's).
    workers : int, optional
        Local processes (default all cores; 1 runs in this process).
    force : bool
        Replace a non-empty ``out``.
    quick : bool
        Use the spec's ``quick`` population and months.

    Returns
    -------
    Check
        The row of statistics, the parameter values and the manifest.
    """
    from .sweep import make_executor

    if seed is not None and seed < 0:
        raise InputError(str(spec), "seed", f"expected a non-negative integer, got {seed}")
    out = Path(out)
    check_out(out, force)
    plan = _plan(spec, quick)
    values = scenario_values(plan)
    master = plan.spec.seed + 1 if seed is None else seed
    plan.names, plan.seeds = [], spawn_seeds(master, replications)
    t0 = time.perf_counter()
    executor, close = make_executor(workers)
    try:
        row = _Evaluator(plan, executor, None).many([{}], "check")[0]
    finally:
        close()
    manifest = {"spec": plan.spec.model_dump(mode="json"), "source": str(spec), "quick": quick,
                "replications": replications, "master_seed": master,
                "replication_seeds": plan.seeds, "steps": plan.steps, "values": values,
                "scenarios": {k: v[0] for k, v in plan.scen.items()}, "loss": row["loss"],
                "seconds": round(time.perf_counter() - t0, 2), "versions": versions(),
                "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    with atomic_directory(out, "calibration check") as tmp:
        write_parquet(pd.DataFrame([{**values, **row}]), tmp / "check.parquet")
        (tmp / "report.md").write_text(report_markdown(plan, row, 1, quick, check=values,
                                                       check_seed=master), encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False,
                                                      default=str) + "\n", encoding="utf-8")
    return Check(out, row, values, manifest)
