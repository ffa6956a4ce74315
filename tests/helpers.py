"""Constants and helpers shared by the tests (importable from hypothesis tests and fixtures)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from coinnovation_sim.results import RunResult, write_parquet

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"

#: A scenario small enough that a run takes well under a second.
SMALL_SCENARIO: dict[str, Any] = {
    "name": "small",
    "description": "small test scenario",
    "seed": 7,
    "steps": 12,
    "population": {"firms": 1500, "institutes": 60},
}


def cli_command(*args: str) -> list[str]:
    """Command line running the CLI in a fresh interpreter of the current environment."""
    return [sys.executable, "-m", "coinnovation_sim.cli", *args]


def cli_env() -> dict[str, str]:
    """Environment for CLI subprocesses, without inherited warning filters."""
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return env


def metrics_bytes(result: RunResult, folder: Path, name: str = "metrics.parquet") -> bytes:
    """The bytes ``metrics.parquet`` would have in the run directory of ``result``."""
    path = folder / name
    write_parquet(result.metrics, path, index=True)
    return path.read_bytes()
