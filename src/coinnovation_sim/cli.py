"""Command-line interface: ``coinnovation-sim run|compare|validate|scenarios|sweep|status|...``.

Bad input prints one line ``error: FILE: KEY: expected ...`` on standard error and exits with
status 2, without a traceback and without writing anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import InputError
from .results import check_out
from .scenario import load_scenario, read_yaml, scenarios_dir

EXIT_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line with exit status 2."""

    def error(self, message: str) -> None:
        self.exit(EXIT_INPUT, f"error: {self.prog}: {message}\n")


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _pos_int(text: str) -> int:
    value = _nonneg_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``coinnovation-sim`` command."""
    parser = _Parser(
        prog="coinnovation-sim",
        description="Agent-based simulation of talent, technology and capital flows between "
                    "Yangtze River Delta places, and of the policies that integrate Wujiang.")
    parser.add_argument("--version", action="version", version=f"coinnovation-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p_run = sub.add_parser("run", help="run one scenario and write its run directory",
                           description="Run one scenario and write manifest.json, metrics.parquet, "
                                       "flows.parquet (and more) into --out.")
    p_run.add_argument("scenario", help="scenario YAML file, or the name of a shipped scenario")
    p_run.add_argument("--seed", type=_nonneg_int, help="run seed (default: the scenario's seed)")
    p_run.add_argument("--steps", type=_nonneg_int, help="months to run (default: the scenario's)")
    p_run.add_argument("--out", type=Path, help="run directory (default: runs/<scenario name>)")
    p_run.add_argument("--force", action="store_true", help="replace a non-empty run directory")
    p_run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    p_val = sub.add_parser("validate", help="check scenario files without running them",
                           description="Validate scenario files; print one line per file.")
    p_val.add_argument("scenarios", nargs="+", help="scenario YAML files")

    p_cmp = sub.add_parser("compare", help="compare scenarios over replications (paired seeds)",
                           description="Run every scenario with the same replication seeds and "
                                       "report means, 95%% confidence intervals and paired "
                                       "differences to the baseline; writes results.parquet, "
                                       "summary.csv, summary.md and manifest.json into --out.")
    p_cmp.add_argument("scenarios", nargs="+", help="scenario files or shipped scenario names")
    p_cmp.add_argument("--replications", type=_pos_int, default=30,
                       help="replications per scenario (default 30)")
    p_cmp.add_argument("--baseline", help="name of the baseline scenario (default: the first)")
    p_cmp.add_argument("--seed", type=_nonneg_int, default=20200101,
                       help="master seed of the replication seeds (default 20200101)")
    p_cmp.add_argument("--steps", type=_nonneg_int, help="months (default: each scenario's)")
    p_cmp.add_argument("--workers", type=_pos_int, default=os.cpu_count() or 1,
                       help="parallel processes (default: all cores)")
    p_cmp.add_argument("--out", type=Path, default=Path("runs/compare"),
                       help="output directory (default runs/compare)")
    p_cmp.add_argument("--force", action="store_true", help="replace a non-empty output directory")

    sub.add_parser("scenarios", help="list the shipped scenarios with their descriptions",
                   description="List the shipped scenarios with their descriptions.")

    p_sw = sub.add_parser("sweep", help="run a parameter sweep (locally or on a Dask cluster)",
                          description="Run every sample of a sweep file under every policy; one "
                                      "Parquet file per finished run in OUT/runs/, with "
                                      "OUT/manifest.json and the run index OUT/index.jsonl.")
    p_sw.add_argument("sweep", help="sweep YAML file")
    p_sw.add_argument("--out", type=Path, help="output directory (default runs/sweeps/<name>)")
    p_sw.add_argument("--workers", type=_pos_int, default=os.cpu_count() or 1,
                      help="parallel processes (default: all cores; 1 runs in this process)")
    p_sw.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                      help="run on the Dask cluster of this scheduler (needs the dask extra)")
    p_sw.add_argument("--resume", action="store_true", help="run only what is missing in --out")
    p_sw.add_argument("--dry-run", action="store_true",
                      help="print the number of runs and an estimate of the time; run nothing")
    p_sw.add_argument("--force", action="store_true", help="replace a non-empty output directory")

    p_st = sub.add_parser("status", help="done, failed and missing runs of a sweep directory",
                          description="Show done, failed and missing runs of a sweep directory.")
    p_st.add_argument("out", type=Path, help="sweep directory")

    p_rb = sub.add_parser("robustness", help="share of parameter sets in which each policy wins",
                          description="For a sweep with policies: the share of sampled parameter "
                                      "sets in which each policy beats the others on a metric "
                                      "(last stored month, mean over replications), with a Wilson "
                                      "95%% interval; writes OUT/robustness_<metric>.csv.")
    p_rb.add_argument("out", type=Path, help="sweep directory")
    p_rb.add_argument("--metric", required=True, help="metric column")
    p_rb.add_argument("--minimize", action="store_true", help="lower is better (e.g. costs)")

    p_se = sub.add_parser("sensitivity", help="Sobol or Morris indices of a sweep",
                          description="Sobol S1/ST with 95%% intervals, or Morris mu*/sigma, of a "
                                      "sobol or morris sweep (replications averaged first); "
                                      "writes OUT/sensitivity_<metric>.csv.")
    p_se.add_argument("out", type=Path, help="sweep directory")
    p_se.add_argument("--metric", help="metric column (default: the first kept metric)")

    p_ca = sub.add_parser("calibrate", help="fit free parameters to targets (LHS + Nelder-Mead)",
                          description="Latin-hypercube search and Nelder-Mead refinement of a "
                                      "calibration spec's free parameters, replications with "
                                      "common random numbers; writes candidates.parquet, "
                                      "best.yaml, report.md and manifest.json into --out.")
    p_ca.add_argument("spec", type=Path, help="calibration spec YAML file")
    p_ca.add_argument("--out", type=Path, help="output directory (default runs/calibration/<name>)")
    p_ca.add_argument("--workers", type=_pos_int, default=os.cpu_count() or 1,
                      help="parallel processes (default: all cores; 1 runs in this process)")
    p_ca.add_argument("--force", action="store_true", help="replace a non-empty output directory")
    p_ca.add_argument("--quick", action="store_true",
                      help="smoke run with the spec's quick settings (not a calibration)")
    p_ca.add_argument("--check", action="store_true",
                      help="no fit: evaluate the targets and validation at the scenarios' own "
                           "values (the shipped defaults) and write report.md")
    p_ca.add_argument("--replications", type=_pos_int,
                      help="with --check: replications per scenario (default 30)")
    p_ca.add_argument("--seed", type=_nonneg_int,
                      help="with --check: master seed (default: the spec's seed + 1)")
    return parser


def _summary(result) -> str:
    from .summary import summarise

    return summarise(result)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .runner import run

    sc = load_scenario(args.scenario)
    out = args.out if args.out is not None else Path("runs") / sc.name
    check_out(out, args.force)
    steps = sc.steps if args.steps is None else args.steps
    if args.quiet:
        result = run(sc, seed=args.seed, steps=args.steps)
    else:
        with Progress(TextColumn(f"[bold]{sc.name}[/bold]"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} months"), TimeRemainingColumn(),
                      transient=True) as bar:
            task = bar.add_task("run", total=steps)
            result = run(sc, seed=args.seed, steps=args.steps,
                         on_step=lambda n: bar.update(task, completed=n))
    path = result.save(out, force=args.force)
    if not args.quiet:
        print(_summary(result))
    print(f"run directory: {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare scenarios with common random numbers."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .experiment import compare
    from .report import comparison_tables

    out = args.out
    check_out(out, args.force)
    scenarios = [load_scenario(s) for s in args.scenarios]
    with Progress(TextColumn("[bold]compare[/bold]"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} runs"), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task("runs", total=len(scenarios) * args.replications)
        result = compare(scenarios, replications=args.replications, seed=args.seed,
                         steps=args.steps, baseline=args.baseline, workers=args.workers,
                         on_done=lambda n, total: bar.update(task, completed=n))
    path = result.save(out, force=args.force)
    console = Console()
    for table in comparison_tables(result):
        console.print(table)
    print(f"results: {path}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate scenario files; exit 2 if any is invalid."""
    status = 0
    for name in args.scenarios:
        try:
            sc = load_scenario(name)
            print(f"ok: {name}: {sc.name}")
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_INPUT
    return status


def cmd_scenarios(args: argparse.Namespace) -> int:
    """List the shipped scenarios."""
    folder = scenarios_dir()
    if folder is None:
        print("no shipped scenarios found", file=sys.stderr)
        return 1
    for path in sorted(folder.glob("*.yaml")):
        data = read_yaml(path)
        desc = " ".join(str(data.get("description", "")).split())
        print(f"{path.stem:24s} {desc}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run (or dry-run) a sweep."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .sweep import estimate, plan_sweep, run_sweep

    plan = plan_sweep(args.sweep)
    workers = 1 if args.scheduler else args.workers
    if args.dry_run:
        per_run, total = estimate(plan, workers)
        where = f"on {args.scheduler}" if args.scheduler else f"with {workers} worker(s)"
        print(f"{len(plan.tasks)} runs")
        print(f"estimated time: {_duration(total)} {where} ({per_run:.2f} s per run, "
              "from a timed probe)" if not args.scheduler else
              f"estimated time: {_duration(total)} on one worker, divide by the cluster's "
              f"workers ({per_run:.2f} s per run, from a timed probe)")
        return 0
    out = args.out if args.out is not None else Path("runs/sweeps") / plan.sweep.name
    with Progress(TextColumn(f"[bold]{plan.sweep.name}[/bold]"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} runs, {task.fields[failed]} failed"),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("runs", total=len(plan.tasks), failed=0)
        report = run_sweep(plan, out, workers=args.workers, scheduler=args.scheduler,
                           resume=args.resume, force=args.force,
                           on_done=lambda n, f, total: bar.update(task, completed=n, failed=f))
    print(f"{report.done} done, {report.failed} failed of {report.total} runs "
          f"({report.skipped} already present) in {_duration(report.seconds)}")
    print(f"results: {report.out}")
    return 1 if report.failed else 0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_status(args: argparse.Namespace) -> int:
    """Show a sweep directory's progress."""
    from .sweep import status

    st = status(args.out)
    print(f"{st['name']}: {st['done']} done, {st['failed']} failed, {st['missing']} missing "
          f"of {st['total']} runs")
    for rid, err in list(st["errors"].items())[:10]:
        print(f"failed {rid}: {err}")
    return 0


def _print_table(df, title: str) -> None:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    def cell(v) -> str:
        return (f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}") if isinstance(v, float) else str(v)

    rows = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    widths = [max([len(str(c)), *(len(r[i]) for r in rows)]) for i, c in enumerate(df.columns)]
    table = Table(title=title)
    for col, width in zip(df.columns, widths, strict=True):
        numeric = pd.api.types.is_numeric_dtype(df[col])
        table.add_column(str(col), justify="right" if numeric else "left", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    Console(width=max(80, sum(widths) + 3 * len(widths) + 1)).print(table)


def cmd_robustness(args: argparse.Namespace) -> int:
    """Share of parameter sets in which each policy wins."""
    from .sweep import robustness

    df = robustness(args.out, args.metric, minimize=args.minimize)
    df.to_csv(args.out / f"robustness_{args.metric}.csv", index=False)
    better = "lowest" if args.minimize else "highest"
    _print_table(df.sort_values("share", ascending=False),
                 f"{args.metric}: share of parameter sets where the policy is {better} (95% CI)")
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Sobol or Morris indices of a sweep."""
    from .sweep import sensitivity

    df = sensitivity(args.out, args.metric)
    _print_table(df.drop(columns="metric"), f"sensitivity of {df['metric'].iloc[0]} (ranked, 95% CI)")
    print(f"written: {args.out / ('sensitivity_' + df['metric'].iloc[0] + '.csv')}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit a calibration spec's free parameters."""
    from .calibrate import calibrate, check, read_spec

    if not args.check and (args.replications is not None or args.seed is not None):
        raise InputError("coinnovation-sim calibrate", "--replications/--seed",
                         "only with --check (a fit takes them from the spec)")
    spec = read_spec(args.spec)
    if args.check:
        out = args.out if args.out is not None else Path("runs/calibration") / f"{spec.name}-check"
        reps = 30 if args.replications is None else args.replications
        res = check(args.spec, out, replications=reps, seed=args.seed, workers=args.workers,
                    force=args.force, quick=args.quick)
        print(f"loss {res.row['loss']:.4g} at the scenarios' own values, {reps} replications")
        for t in [*spec.targets, *spec.validation]:
            print(f"  {t.name}: {res.row[t.name]:.4g} [{res.row[t.name + '_low']:.4g}, "
                  f"{res.row[t.name + '_high']:.4g}] (target {t.value:g} ± {t.scale:g})")
        print(f"results: {res.out}")
        return 0
    out = args.out if args.out is not None else Path("runs/calibration") / spec.name
    result = calibrate(args.spec, out, workers=args.workers, force=args.force, quick=args.quick,
                       on_done=lambda n, row: print(f"candidate {n} ({row['stage']}): loss "
                                                    f"{row['loss']:.4g}", flush=True))
    print(f"best loss {result.best_row['loss']:.4g}: "
          + ", ".join(f"{k} = {v:.4g}" for k, v in result.best.items()))
    print(f"results: {result.out}")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coinnovation-sim`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (``sys.argv[1:]`` when omitted).

    Returns
    -------
    int
        Exit status: 0 success, 2 bad input.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT
    warnings.showwarning = _show_warning
    handlers = {"run": cmd_run, "validate": cmd_validate, "scenarios": cmd_scenarios,
                "compare": cmd_compare, "sweep": cmd_sweep, "status": cmd_status,
                "robustness": cmd_robustness, "sensitivity": cmd_sensitivity,
                "calibrate": cmd_calibrate}
    try:
        return handlers[args.command](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
