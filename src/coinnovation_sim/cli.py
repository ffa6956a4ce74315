"""Command-line interface: ``coinnovation-sim run|compare|validate|scenarios``.

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
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not args.force)):
        raise InputError(str(out), "--out", "directory is not empty (use --force to replace it)"
                         if out.is_dir() else "exists and is not a directory")
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
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not args.force)):
        raise InputError(str(out), "--out", "directory is not empty (use --force to replace it)"
                         if out.is_dir() else "exists and is not a directory")
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
                "compare": cmd_compare}
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
