"""Parameter sweeps and sensitivity analysis, local or on a Dask cluster.

A sweep file (YAML) names a base scenario, a design and dotted parameter paths into the scenario::

    name: voucher-budget
    base: ../vouchers-portable.yaml
    design: factorial                   # factorial | lhs | sobol | morris | sets
    parameters:
      mechanisms.vouchers.annual_budget_wan: {values: [0, 1000, 3450, 10000]}
      mechanisms.vouchers.cross_region: {values: [false, true]}
    policies: [../vouchers-portable.yaml, ../coordination.yaml]
    samples: 64
    replications: 5
    seed: 20200101
    steps: 60
    keep: {metrics: [wujiang_integration_index, policy_cost_wan], every: 12}

:func:`plan_sweep` validates the file and every sample applied to every policy scenario *before*
anything runs. :func:`run_sweep` runs the plan over any :class:`concurrent.futures.Executor`
(in-process for one worker, a process pool, or Dask via ``Client(address).get_executor()``) and
writes ``OUT/manifest.json``, one Parquet file per finished run in ``OUT/runs/`` (written to
``OUT/tmp/`` and renamed into place) and a run index ``OUT/index.jsonl`` (status, duration,
error; one line per attempt, appended with a single write). :func:`load_sweep`,
:func:`robustness` and :func:`sensitivity` analyse a sweep directory.

A run's id is a hash of its policy name, its parameter values and its replication seed; the
replication seeds are spawned from the sweep's master seed (:func:`experiment.spawn_seeds`), the
same for every sample and policy (common random numbers). The bytes of a run file depend only on
the run, not on how or where it was executed.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import datetime as dt
import hashlib
import io
import itertools
import json
import math
import multiprocessing
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import parameters as P
from .errors import InputError
from .experiment import spawn_seeds
from .results import versions
from .runner import run
from .scenario import (
    MAX_STEPS,
    PlausibilityWarning,
    Scenario,
    _format_validation,
    _resolve_extends,
    load_model_file,
    load_scenario,
)

DESIGNS = ("factorial", "lhs", "sobol", "morris", "sets")
#: Levels of the Morris grid.
MORRIS_LEVELS = 4
#: Up to this many samples per policy every sample is validated with ``load_scenario``; beyond
#: it, every sample is schema-checked and the samples holding each path's extremes are validated
#: in full (place ids, cross-key rules, plausibility).
FULL_VALIDATION_LIMIT = 512
INDEX = "index.jsonl"
MANIFEST = "manifest.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamDecl(_Strict):
    """How one dotted path varies: ``values``, ``range`` (factorial) or ``bounds`` (sampled)."""

    values: list[bool | int | float | str] | None = Field(
        None, min_length=1, description="factorial: the values to take")
    range: list[float] | None = Field(
        None, min_length=3, max_length=3,
        description="factorial: [start, stop, step], stop included")
    bounds: list[float] | None = Field(
        None, min_length=2, max_length=2, description="lhs/sobol/morris: [low, high]")
    integer: bool = Field(False, description="sampled values are rounded to whole numbers")

    @field_validator("range", "bounds")
    @classmethod
    def _finite(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and not all(math.isfinite(x) for x in v):
            raise ValueError("expected finite numbers")
        return v


class Keep(_Strict):
    """Which metric rows a run file keeps."""

    metrics: list[str] | None = Field(None, min_length=1,
                                      description="metric columns (default: all)")
    every: int | Literal["last"] = Field(
        1, description="keep every N-th month (months N-1, 2N-1, ... and the last) or 'last'")

    @field_validator("every")
    @classmethod
    def _positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("expected a positive integer or 'last'")
        return v


class SweepFile(_Strict):
    """A validated sweep file (the top-level names are a user contract)."""

    name: str = Field(min_length=1, description="sweep name")
    description: str = Field("", description="the question the sweep answers")
    base: str = Field(min_length=1, description="base scenario file, relative to the sweep file")
    design: Literal["factorial", "lhs", "sobol", "morris", "sets"]
    parameters: dict[str, ParamDecl] = Field(description="dotted paths into the scenario")
    sets: list[dict[str, Any]] | None = Field(None, description="design sets: the parameter sets")
    policies: list[str] | None = Field(None, min_length=1,
                                       description="scenario files every sample runs under")
    samples: int = Field(64, ge=1, le=1_000_000,
                         description="lhs N, sobol N (power of two), morris trajectories")
    replications: int = Field(1, ge=1, le=100_000, description="replications per parameter set")
    seed: int = Field(20200101, ge=0, le=2**63 - 1, description="master seed")
    steps: int | None = Field(None, ge=0, le=MAX_STEPS, description="months (default: scenario's)")
    keep: Keep = Field(default_factory=Keep, description="which metric rows to store")


@dataclass(frozen=True)
class Task:
    """One run of a sweep (everything a worker needs)."""

    run_id: str
    policy: str
    params: dict[str, Any]
    replication: int
    seed: int
    scenario: Scenario
    steps: int
    metrics: tuple[str, ...] | None
    every: int | str
    types: dict[str, str]


@dataclass
class Plan:
    """A validated sweep, ready to run."""

    source: str
    sweep: SweepFile
    samples: list[dict[str, Any]]
    policies: list[str]
    seeds: list[int]
    tasks: list[Task]
    types: dict[str, str]
    resolved: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """SHA-256 of the resolved sweep (what must match to resume)."""
        text = json.dumps(self.resolved, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


# --- designs -------------------------------------------------------------------------------------


def _frange(start: float, stop: float, step: float) -> list[float]:
    if step == 0 or (stop - start) / step < 0:
        raise ValueError("expected a step that goes from start towards stop")
    n = math.floor((stop - start) / step + 1e-9) + 1
    if n > 100_000:
        raise ValueError("expected at most 100000 values")
    out = [start + i * step for i in range(n)]
    if all(float(x).is_integer() for x in (start, step)):
        return [int(x) for x in out]
    return [round(x, 12) for x in out]


def problem(sweep: SweepFile) -> dict[str, Any]:
    """SALib problem dictionary from the declared bounds.

    Parameters
    ----------
    sweep : SweepFile
        A sweep with design lhs, sobol or morris.

    Returns
    -------
    dict
        ``{"num_vars", "names", "bounds"}``.
    """
    names = list(sweep.parameters)
    return {"num_vars": len(names), "names": names,
            "bounds": [list(sweep.parameters[n].bounds or [0.0, 1.0]) for n in names]}


def _scale(sweep: SweepFile, unit: np.ndarray) -> np.ndarray:
    lo = np.array([sweep.parameters[n].bounds[0] for n in sweep.parameters])
    hi = np.array([sweep.parameters[n].bounds[1] for n in sweep.parameters])
    return lo + unit * (hi - lo)


def design_matrix(sweep: SweepFile) -> list[dict[str, Any]]:
    """The design's parameter sets, in design order.

    Parameters
    ----------
    sweep : SweepFile
        A validated sweep file.

    Returns
    -------
    list of dict
        One mapping ``dotted path -> value`` per sample (Sobol: ``N * (D + 2)`` rows in SALib's
        order; Morris: ``trajectories * (D + 1)``).
    """
    names = list(sweep.parameters)
    if sweep.design == "sets":
        return [dict(s) for s in sweep.sets or []]
    if sweep.design == "factorial":
        axes = []
        for n in names:
            d = sweep.parameters[n]
            axes.append(list(d.values) if d.values is not None else _frange(*d.range))
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    if sweep.design == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), seed=np.random.default_rng(sweep.seed)).random(
            sweep.samples)
        x = _scale(sweep, unit)
    elif sweep.design == "sobol":
        from SALib.sample import sobol as sobol_sample

        x = sobol_sample.sample(problem(sweep), sweep.samples, calc_second_order=False,
                                seed=sweep.seed % 2**32)
    else:
        from SALib.sample import morris as morris_sample

        x = morris_sample.sample(problem(sweep), sweep.samples, num_levels=MORRIS_LEVELS,
                                 seed=sweep.seed % 2**32)
    rows = []
    for row in x:
        rows.append({n: (int(np.rint(v)) if sweep.parameters[n].integer else float(v))
                     for n, v in zip(names, row, strict=True)})
    return rows


# --- validation ----------------------------------------------------------------------------------


def _check_design(sweep: SweepFile, src: str) -> None:
    if not sweep.parameters and sweep.design != "sets":
        raise InputError(src, "parameters", "expected at least one dotted path")
    for path, d in sweep.parameters.items():
        key = f"parameters.{path}"
        if not path or any(not part for part in path.split(".")):
            raise InputError(src, key, "expected a dotted path such as parameters.distance_decay_km")
        given = [k for k in ("values", "range", "bounds") if getattr(d, k) is not None]
        if sweep.design == "factorial":
            if len(given) != 1 or given[0] == "bounds":
                raise InputError(src, key, "expected {values: [...]} or {range: [start, stop, step]} "
                                           "for design factorial")
            if d.range is not None:
                try:
                    _frange(*d.range)
                except ValueError as exc:
                    raise InputError(src, f"{key}.range", str(exc)) from None
        elif sweep.design in ("lhs", "sobol", "morris"):
            if given != ["bounds"]:
                raise InputError(src, key, f"expected {{bounds: [low, high]}} for design {sweep.design}")
            lo, hi = d.bounds
            if not lo < hi:
                raise InputError(src, f"{key}.bounds", f"expected low < high, got [{lo:g}, {hi:g}]")
        elif given:
            raise InputError(src, key, "expected {} for design sets (values go under sets)")
    if sweep.design == "sets":
        if not sweep.sets:
            raise InputError(src, "sets", "expected a list of parameter sets for design sets")
        declared = set(sweep.parameters)
        first = set(sweep.sets[0])
        for i, s in enumerate(sweep.sets):
            if not s:
                raise InputError(src, f"sets.{i}", "expected at least one path: value")
            if declared and set(s) - declared:
                bad = sorted(set(s) - declared)[0]
                raise InputError(src, f"sets.{i}.{bad}", "path not declared under parameters")
            if set(s) != first:
                raise InputError(src, f"sets.{i}", "expected the same paths in every set")
    elif sweep.sets is not None:
        raise InputError(src, "sets", "only design sets takes sets")
    if sweep.design == "sobol" and sweep.samples & (sweep.samples - 1):
        raise InputError(src, "samples", f"expected a power of two for design sobol, got {sweep.samples}")
    if sweep.design in ("sobol", "morris") and len(sweep.parameters) < 2:
        raise InputError(src, "parameters", f"expected at least two paths for design {sweep.design}")


def _apply(mapping: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = mapping
    for i, part in enumerate(parts[:-1]):
        nxt = cur.get(part)
        if nxt is None:
            nxt = cur[part] = {}
        if not isinstance(nxt, dict):
            raise ValueError(".".join(parts[: i + 1]))
        cur = nxt
    cur[parts[-1]] = value


def _column_type(values: Iterable[Any]) -> str:
    vals = list(values)
    if all(isinstance(v, bool) for v in vals):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return "float"
    return "str"


def _typed(value: Any, kind: str) -> Any:
    return {"bool": bool, "int": int, "float": float, "str": str}[kind](value)


def run_id(policy: str, params: dict[str, Any], seed: int) -> str:
    """Stable id of a run: hash of its policy, parameter values and replication seed.

    Parameters
    ----------
    policy : str
        Policy (scenario) name.
    params : dict
        Dotted path to value (typed as stored).
    seed : int
        Replication seed.

    Returns
    -------
    str
        20 hexadecimal digits.
    """
    text = json.dumps({"policy": policy, "parameters": params, "seed": int(seed)},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _scenario_mapping(path: Path, src: str, key: str) -> tuple[dict[str, Any], Scenario]:
    if not path.exists():
        raise InputError(src, key, f"scenario file {path} not found")
    sc = load_scenario(path)  # the file itself must be valid (its own one-line errors)
    mapping = _resolve_extends(path.resolve(), ())
    mapping.pop("extends", None)
    return mapping, sc


def _sample_scenarios(src: str, policy: str, mapping: dict[str, Any], base_dir: str,
                      samples: list[dict[str, Any]]) -> list[Scenario]:
    """Apply every sample to one policy's mapping and validate it (paths named in errors)."""
    out: list[Scenario] = []
    full: set[int] = set(range(len(samples)))
    if len(samples) > FULL_VALIDATION_LIMIT:
        full = {0}
        for path in samples[0]:
            vals = [s[path] for s in samples]
            if all(isinstance(v, (int, float)) for v in vals):
                full.add(int(np.argmin(vals)))
                full.add(int(np.argmax(vals)))
    caught: dict[str, str] = {}
    for i, sample in enumerate(samples):
        data = copy.deepcopy(mapping)
        for path, value in sample.items():
            try:
                _apply(data, path, value)
            except ValueError as exc:
                raise InputError(src, f"parameters.{path}",
                                 f"{exc} is not a mapping in scenario {policy}") from None
        try:
            if i in full:
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    sc = load_scenario(data, base_dir=base_dir)
                for w in seen:
                    msg = str(w.message)
                    for path in sample:
                        if f": {path}:" in msg and path not in caught:
                            caught[path] = msg.split(": ", 2)[-1]
            else:
                sc = Scenario.model_validate(data)
                sc._source, sc._base_dir = "<scenario>", base_dir
                for path, value in sample.items():
                    if path.startswith("parameters.") and path.count(".") == 1:
                        spec = P.PARAMS_BY_NAME.get(path.split(".", 1)[1])
                        problem_ = "unknown parameter" if spec is None else P.check_value(spec, value)
                        if problem_:
                            raise InputError("<scenario>", path, problem_)
        except ValidationError as exc:
            key, msg = _format_validation(exc, data)
            raise _path_error(src, policy, key, msg, sample) from None
        except InputError as exc:
            raise _path_error(src, policy, exc.key, exc.expected, sample) from None
        out.append(sc)
    for path, msg in caught.items():
        warnings.warn(f"{src}: parameters.{path}: some samples lie outside the plausible range "
                      f"({msg})", PlausibilityWarning, stacklevel=4)
    return out


def _path_error(src: str, policy: str, key: str, msg: str, sample: dict[str, Any]) -> InputError:
    named = [p for p in sample if key == p or key.startswith(p + ".") or p.startswith(key + ".")]
    if named:
        path = max(named, key=len)
        return InputError(src, f"parameters.{path}", f"{msg} (in scenario {policy})")
    return InputError(src, f"parameters: {key}", f"{msg} (in scenario {policy} with {sample})")


def _probe_columns(scenario: Scenario) -> list[str]:
    tiny = scenario.model_copy(update={"population": scenario.population.model_copy(
        update={"firms": 200, "institutes": min(scenario.population.institutes, 20)})})
    tiny._source, tiny._base_dir = scenario.source, scenario.base_dir
    cols = run(tiny, seed=0, steps=1).metrics.columns
    return [c for c in cols if c != "month"]


def read_sweep(path: str | Path) -> SweepFile:
    """Read and validate a sweep file (schema and design only, no scenario).

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    SweepFile
        The validated file.

    Raises
    ------
    InputError
        One line naming the file, the key and what was expected.
    """
    src = str(path)
    sweep = load_model_file(path, SweepFile)
    _check_design(sweep, src)
    return sweep


def plan_sweep(path: str | Path, check_metrics: bool = True) -> Plan:
    """Validate a sweep file and every run it implies, before anything runs.

    Parameters
    ----------
    path : str or Path
        The sweep file.
    check_metrics : bool
        Check ``keep.metrics`` against the columns of a one-month probe of every policy.

    Returns
    -------
    Plan
        Samples, policies, seeds and tasks.

    Raises
    ------
    InputError
        For an invalid file, a dotted path the scenario schema lacks or an invalid value (the
        path is named), duplicate policy names or unknown metric names.
    """
    src = str(path)
    sweep = read_sweep(path)
    here = Path(path).resolve().parent
    base_path = (here / sweep.base).resolve()
    base_map, base_sc = _scenario_mapping(base_path, src, "base")
    pol_paths = [(here / p).resolve() for p in sweep.policies] if sweep.policies else [base_path]
    policies: list[tuple[str, dict[str, Any], Scenario, Path]] = []
    for i, pp in enumerate(pol_paths):
        mapping, sc = (base_map, base_sc) if pp == base_path else \
            _scenario_mapping(pp, src, f"policies.{i}")
        if any(sc.name == q[0] for q in policies):
            raise InputError(src, f"policies.{i}", f"duplicate policy name {sc.name!r}")
        policies.append((sc.name, mapping, sc, pp))
    samples = design_matrix(sweep)
    paths = list(samples[0]) if samples else []
    types = {p: _column_type(s[p] for s in samples) for p in paths}
    samples = [{p: _typed(s[p], types[p]) for p in paths} for s in samples]
    seeds = spawn_seeds(sweep.seed, sweep.replications)
    keep_metrics = tuple(sweep.keep.metrics) if sweep.keep.metrics else None
    tasks: list[Task] = []
    seen: set[str] = set()
    columns: set[str] = set()
    for name, mapping, psc, pp in policies:
        scs = _sample_scenarios(src, name, mapping, str(pp.parent), samples)
        if check_metrics and keep_metrics and not set(keep_metrics) <= columns:
            for probe in (psc, scs[0], scs[-1]):  # a mechanism doing nothing reports nothing
                columns.update(_probe_columns(probe))
        for sample, ssc in zip(samples, scs, strict=True):
            for r, seed in enumerate(seeds):
                rid = run_id(name, sample, seed)
                if rid in seen:
                    continue  # the same parameter set again (a Morris grid revisit): one run
                seen.add(rid)
                tasks.append(Task(rid, name, sample, r, seed, ssc,
                                  sweep.steps if sweep.steps is not None else ssc.steps,
                                  keep_metrics, sweep.keep.every, types))
    if check_metrics and keep_metrics:
        for i, m in enumerate(keep_metrics):
            if m not in columns:
                raise InputError(src, f"keep.metrics.{i}", f"unknown metric {m!r} (see docs/metrics.md)")
    resolved = {"sweep": sweep.model_dump(mode="json"), "source": src,
                "base": str(base_path), "policies": [str(q[3]) for q in policies],
                "policy_names": [q[0] for q in policies],
                "scenarios": {q[0]: q[2].resolved() for q in policies},
                "samples": samples, "types": types, "replication_seeds": seeds,
                "runs": len(tasks)}
    return Plan(src, sweep, samples, [q[0] for q in policies], seeds, tasks, types, resolved)


# --- execution -----------------------------------------------------------------------------------


_ARROW = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}


def _table(task: Task, result: Any) -> pa.Table:
    """The kept rows and metrics of one run, with its id, policy, parameters and seed."""
    m = result.metrics
    last = len(m) - 1
    if task.every == "last":
        rows = np.arange(last, len(m), dtype=np.int64)
    else:
        steps = np.arange(len(m), dtype=np.int64)
        rows = steps[((steps + 1) % int(task.every) == 0) | (steps == last)]
    k = len(rows)
    cols: dict[str, pa.Array] = {"run_id": pa.array([task.run_id] * k, pa.string()),
                                 "policy": pa.array([task.policy] * k, pa.string())}
    for p, kind in task.types.items():
        cols[p] = pa.array([task.params[p]] * k, _ARROW[kind])
    cols["replication"] = pa.array(np.full(k, task.replication, dtype=np.int64))
    cols["seed"] = pa.array(np.full(k, task.seed, dtype=np.uint64))
    cols["step"] = pa.array(rows)
    names = task.metrics if task.metrics is not None else [c for c in m.columns if c != "month"]
    for c in names:
        values = m[c].to_numpy(dtype=float)[rows] if c in m.columns else np.full(k, np.nan)
        cols[c] = pa.array(values, pa.float64())
    return pa.table(cols)


def run_task(task: Task) -> tuple[str, str, float, str, float, bytes]:
    """Worker: run one task and return its Parquet bytes.

    Parameters
    ----------
    task : Task
        The run.

    Returns
    -------
    tuple
        ``(run_id, status, seconds, error, seconds_in_run, parquet_bytes)``; status is ``"done"``
        or ``"failed"`` (then the error is one line and the bytes are empty).
    """
    t0 = time.perf_counter()
    try:
        t1 = time.perf_counter()
        result = run(task.scenario, seed=task.seed, steps=task.steps)
        t_run = time.perf_counter() - t1
        table = _table(task, result)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return task.run_id, "done", time.perf_counter() - t0, "", t_run, buf.getvalue()
    except Exception as exc:  # a failed run is recorded, the sweep goes on
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        return task.run_id, "failed", time.perf_counter() - t0, msg, 0.0, b""


class InlineExecutor(cf.Executor):
    """An executor that runs each task in this process when it is submitted."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` now and return a finished future."""
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut


def make_executor(workers: int | None = None,
                  scheduler: str | None = None) -> tuple[cf.Executor, Callable[[], None]]:
    """The executor of a sweep and a function that releases it.

    Parameters
    ----------
    workers : int, optional
        Local processes (all cores by default); 1 runs in this process.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``); then ``workers`` is ignored.

    Returns
    -------
    tuple
        ``(executor, close)``.
    """
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--scheduler", scheduler,
                             "Dask is not installed: pip install 'coinnovation-sim[dask]'") from None
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError("--scheduler", scheduler, f"cannot connect ({exc})") from None
        return client.get_executor(pure=False), client.close
    n = workers or os.cpu_count() or 1
    if n <= 1:
        ex = InlineExecutor()
        return ex, ex.shutdown
    ctx = multiprocessing.get_context("forkserver")  # fork is unsafe in a threaded parent
    ctx.set_forkserver_preload(["coinnovation_sim.sweep"])  # workers start with the model loaded
    pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx)
    return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)


def _atomic_write(path: Path, data: bytes, tmp_dir: Path) -> None:
    tmp = tmp_dir / f"{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _append_index(out: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode()
    fd = os.open(out / INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _prepare_out(plan: Plan, out: Path, resume: bool, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "--out", "exists and is not a directory")
    manifest = out / MANIFEST
    if resume and manifest.exists():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if old.get("digest") != plan.digest:
            raise InputError(str(out), "--resume", "the sweep differs from the one this directory "
                                                   "was started with (use --force to start over)")
        old.setdefault("resumed", []).append(_now())
        _atomic_write(manifest, _json(old), out)
        return
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise InputError(str(out), "--out", "directory is not empty (use --resume to continue "
                                                "it or --force to replace it)")
        shutil.rmtree(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "tmp").mkdir(exist_ok=True)
    body = {"sweep": plan.resolved, "digest": plan.digest, "versions": versions(),
            "start_time": _now(), "runs": len(plan.tasks)}
    _atomic_write(manifest, _json(body), out)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n").encode()


@dataclass
class SweepReport:
    """What :func:`run_sweep` did."""

    out: Path
    total: int
    done: int
    failed: int
    skipped: int
    seconds: float
    run_seconds: float


def run_sweep(plan: Plan | str | Path, out: str | Path, workers: int | None = None,
              scheduler: str | None = None, executor: cf.Executor | None = None,
              resume: bool = False, force: bool = False,
              on_done: Callable[[int, int, int], None] | None = None) -> SweepReport:
    """Run a sweep, writing one Parquet file per finished run.

    Parameters
    ----------
    plan : Plan, str or Path
        A plan, or a sweep file to plan.
    out : str or Path
        Output directory.
    workers : int, optional
        Local processes (default all cores; 1 runs in this process).
    scheduler : str, optional
        Dask scheduler address; the runs go to its workers.
    executor : concurrent.futures.Executor, optional
        Use this executor (it is not shut down).
    resume : bool
        Continue the sweep in ``out``: run only what has no run file yet.
    force : bool
        Replace a non-empty ``out``.
    on_done : callable, optional
        Progress ``on_done(finished, failed, total)``.

    Returns
    -------
    SweepReport
        Counts and times.
    """
    plan = plan if isinstance(plan, Plan) else plan_sweep(plan)
    out = Path(out)
    _prepare_out(plan, out, resume, force)
    runs, tmp = out / "runs", out / "tmp"
    runs.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    have = {p.stem for p in runs.glob("*.parquet")}
    todo = [t for t in plan.tasks if t.run_id not in have]
    total = len(plan.tasks)
    done, failed = total - len(todo), 0
    t0 = time.perf_counter()
    run_seconds = 0.0
    if on_done:
        on_done(done, failed, total)
    close: Callable[[], None] = lambda: None  # noqa: E731
    if executor is None and todo:
        executor, close = make_executor(workers, scheduler)
    try:
        window = 1 if isinstance(executor, InlineExecutor) else \
            2 * getattr(executor, "_max_workers", 0) or 1024  # runs in flight
        queue = iter(todo)
        futures: dict[cf.Future, Task] = {}
        while True:
            for task in itertools.islice(queue, max(0, window - len(futures))):
                futures[executor.submit(run_task, task)] = task
            if not futures:
                break
            finished, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                task = futures.pop(fut)
                try:
                    rid, status, secs, err, t_run, data = fut.result()
                except Exception as exc:  # the worker itself died (not the run)
                    rid, status, secs, err, t_run, data = (
                        task.run_id, "failed", 0.0, " ".join(f"{type(exc).__name__}: {exc}".split()),
                        0.0, b"")
                if status == "done":
                    _atomic_write(runs / f"{rid}.parquet", data, tmp)
                    done += 1
                    run_seconds += t_run
                else:
                    failed += 1
                _append_index(out, {"run_id": rid, "status": status, "duration_s": round(secs, 4),
                                    "error": err, "policy": task.policy,
                                    "replication": task.replication, "parameters": task.params,
                                    "finished": _now()})
                if on_done:
                    on_done(done + failed, failed, total)
    finally:
        close()
    return SweepReport(out, total, done, failed, total - len(todo), time.perf_counter() - t0,
                       run_seconds)


def estimate(plan: Plan, workers: int, probe_steps: int = 6) -> tuple[float, float]:
    """Estimate a sweep's duration from a short timed probe run.

    Parameters
    ----------
    plan : Plan
        The sweep.
    workers : int
        Parallel workers.
    probe_steps : int
        Months of the probe (scaled to the sweep's months).

    Returns
    -------
    tuple of float
        ``(seconds per run, seconds for the sweep)``.
    """
    task = plan.tasks[0]
    steps = min(task.steps, probe_steps)
    result = run(task.scenario, seed=task.seed, steps=steps)
    per_month = result.timings["run"] / max(steps, 1)
    per_run = result.timings["build"] + per_month * task.steps
    return per_run, per_run * len(plan.tasks) / max(workers, 1)


# --- status and loading --------------------------------------------------------------------------


def _manifest(out: Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.exists():
        raise InputError(str(out), "", "not a sweep directory (no manifest.json)")
    return json.loads(path.read_text(encoding="utf-8"))


def _index(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / INDEX
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a kill
    return rows


def status(out: str | Path) -> dict[str, Any]:
    """Done, failed and missing runs of a sweep directory.

    Parameters
    ----------
    out : str or Path
        Sweep directory.

    Returns
    -------
    dict
        ``total, done, failed, missing`` counts and ``errors`` (run id → last error).
    """
    out = Path(out)
    man = _manifest(out)
    total = int(man["runs"])
    have = {p.stem for p in (out / "runs").glob("*.parquet")}
    last: dict[str, dict[str, Any]] = {}
    for rec in _index(out):
        last[rec["run_id"]] = rec
    errors = {rid: r["error"] for rid, r in last.items() if r["status"] == "failed" and rid not in have}
    return {"name": man["sweep"]["sweep"]["name"], "total": total, "done": len(have),
            "failed": len(errors), "missing": total - len(have) - len(errors), "errors": errors}


def load_sweep(out: str | Path) -> pd.DataFrame:
    """The tidy results of a sweep directory.

    Parameters
    ----------
    out : str or Path
        Sweep directory.

    Returns
    -------
    pandas.DataFrame
        ``run_id, policy, <parameter paths>, replication, seed, step, <metrics>``, sorted by
        policy, parameters, replication and step — the same frame however the sweep was executed.
    """
    out = Path(out)
    man = _manifest(out)
    files = sorted(str(p) for p in (out / "runs").glob("*.parquet"))
    if not files:
        return pd.DataFrame()
    if man["sweep"]["sweep"]["keep"]["metrics"]:
        schema = pq.read_schema(files[0])  # every run file has the same columns
    else:  # all metrics: policies with different mechanisms have different columns
        schema = pa.unify_schemas([pq.read_schema(f) for f in files])
    table = pads.dataset(files, format="parquet", schema=schema).to_table()
    df = table.to_pandas()
    params = list(man["sweep"]["types"])
    order = {name: i for i, name in enumerate(man["sweep"]["policy_names"])}
    df["_p"] = df["policy"].map(order)
    df = df.sort_values(["_p", *params, "replication", "step"], kind="stable").drop(columns="_p")
    return df.reset_index(drop=True)


# --- analysis ------------------------------------------------------------------------------------


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``.

    Parameters
    ----------
    k, n : int
        Successes and trials.
    level : float
        Confidence level.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(nan, nan)`` when ``n`` is 0.
    """
    from scipy import stats

    if n == 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if k == 0 else max(0.0, centre - half)
    return low, 1.0 if k == n else min(1.0, centre + half)


def _final_values(df: pd.DataFrame, metric: str, params: list[str]) -> pd.DataFrame:
    if metric not in df.columns:
        raise InputError("--metric", metric, "not stored in this sweep (see keep.metrics)")
    last = df[df["step"] == df.groupby("run_id")["step"].transform("max")]
    return last.groupby(["policy", *params], dropna=False)[metric].mean().reset_index()


def robustness(out: str | Path, metric: str, minimize: bool = False) -> pd.DataFrame:
    """Share of sampled parameter sets in which each policy beats the others.

    The metric's value at the last stored month is averaged over replications for each policy
    and parameter set; in each set the policy with the highest (``minimize``: lowest) mean wins
    (ties: nobody). Shares carry Wilson 95 % intervals.

    Parameters
    ----------
    out : str or Path
        Sweep directory (of a sweep with at least two policies).
    metric : str
        Metric column.
    minimize : bool
        Lower is better (e.g. costs).

    Returns
    -------
    pandas.DataFrame
        ``policy, wins, sets, share, ci_low, ci_high, mean``.
    """
    man = _manifest(Path(out))
    names = man["sweep"]["policy_names"]
    if len(names) < 2:
        raise InputError(str(out), "policies", "robustness needs a sweep with at least two policies")
    params = list(man["sweep"]["types"])
    vals = _final_values(load_sweep(out), metric, params)
    wide = vals.pivot_table(index=params, columns="policy", values=metric) if params else \
        vals.set_index("policy")[[metric]].T
    wide = wide.reindex(columns=names).dropna()
    arr = wide.to_numpy()
    best = arr.min(axis=1) if minimize else arr.max(axis=1)
    winners = arr == best[:, None]
    unique = winners.sum(axis=1) == 1
    n = len(arr)
    rows = []
    for j, name in enumerate(names):
        k = int((winners[:, j] & unique).sum())
        lo, hi = wilson(k, n)
        rows.append({"policy": name, "wins": k, "sets": n, "share": k / n if n else float("nan"),
                     "ci_low": lo, "ci_high": hi, "mean": float(arr[:, j].mean()) if n else float("nan")})
    return pd.DataFrame(rows)


def analyse(sweep: SweepFile, samples: list[dict[str, Any]], y: np.ndarray) -> pd.DataFrame:
    """Sobol (S1, ST with 95 % CIs) or Morris (mu*, sigma) indices of one output.

    Parameters
    ----------
    sweep : SweepFile
        A sweep with design sobol or morris (its bounds form the SALib problem).
    samples : list of dict
        The design's samples in design order (:func:`design_matrix`).
    y : numpy.ndarray
        The output of each sample, in the same order.

    Returns
    -------
    pandas.DataFrame
        Per parameter: ``S1, S1_conf, ST, ST_conf`` (sobol) or ``mu_star, mu_star_conf, sigma,
        mu`` (morris), ranked by ``ST`` or ``mu_star``.
    """
    prob = problem(sweep)
    y = np.asarray(y, dtype=float)
    if sweep.design == "sobol":
        from SALib.analyze import sobol as sobol_analyze

        res = sobol_analyze.analyze(prob, y, calc_second_order=False, conf_level=0.95,
                                    seed=sweep.seed % 2**32)
        df = pd.DataFrame({"parameter": prob["names"], "S1": res["S1"], "S1_conf": res["S1_conf"],
                           "ST": res["ST"], "ST_conf": res["ST_conf"]})
        return df.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    if sweep.design == "morris":
        from SALib.analyze import morris as morris_analyze

        x = np.array([[s[n] for n in prob["names"]] for s in samples], dtype=float)
        res = morris_analyze.analyze(prob, x, y, conf_level=0.95, num_levels=MORRIS_LEVELS,
                                     seed=sweep.seed % 2**32)
        df = pd.DataFrame({"parameter": prob["names"], "mu_star": res["mu_star"],
                           "mu_star_conf": res["mu_star_conf"], "sigma": res["sigma"],
                           "mu": res["mu"]})
        return df.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)
    raise InputError(sweep.name, "design", f"sensitivity needs design sobol or morris, got {sweep.design}")


def sensitivity(out: str | Path, metric: str | None = None) -> pd.DataFrame:
    """Sensitivity indices of a sobol or morris sweep, per policy.

    The metric at the last stored month is averaged over replications for every sample, then
    passed to :func:`analyse` in design order. Writes ``OUT/sensitivity_<metric>.csv``.

    Parameters
    ----------
    out : str or Path
        Sweep directory.
    metric : str, optional
        Output metric (default: the first kept metric, else the focus integration index).

    Returns
    -------
    pandas.DataFrame
        ``policy, metric, parameter`` and the indices, ranked within each policy.
    """
    out = Path(out)
    man = _manifest(out)
    res = man["sweep"]
    sweep = SweepFile.model_validate(res["sweep"])
    if sweep.design not in ("sobol", "morris"):
        raise InputError(str(out), "design", f"sensitivity needs design sobol or morris, got {sweep.design}")
    if metric is None:
        first = res["policy_names"][0]
        metric = (sweep.keep.metrics or [f"{res['scenarios'][first]['focus']}_integration_index"])[0]
    params = list(res["types"])
    vals = _final_values(load_sweep(out), metric, params)
    frames = []
    for name in res["policy_names"]:
        sub = vals[vals["policy"] == name].set_index(params)[metric]
        keys = [tuple(s[p] for p in params) for s in res["samples"]]
        y = sub.reindex(pd.MultiIndex.from_tuples(keys, names=params) if len(params) > 1
                        else [k[0] for k in keys]).to_numpy()
        if np.isnan(y).any():
            raise InputError(str(out), "runs", f"{int(np.isnan(y).sum())} samples of {name} have no "
                                              "finished run (resume the sweep first)")
        df = analyse(sweep, res["samples"], y)
        df.insert(0, "metric", metric)
        df.insert(0, "policy", name)
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(out / f"sensitivity_{metric}.csv", index=False)
    return table


