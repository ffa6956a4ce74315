"""Shared fixtures: the small scenario, a cached small run and a scenario-file writer."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from coinnovation_sim import run
from helpers import SMALL_SCENARIO


@pytest.fixture
def small_scenario() -> dict[str, Any]:
    """A fresh copy of the small scenario mapping (population firms 1500, institutes 60, 12 steps)."""
    return copy.deepcopy(SMALL_SCENARIO)


@pytest.fixture(scope="session")
def small_result():
    """One run of the small scenario, shared by read-only tests."""
    return run(copy.deepcopy(SMALL_SCENARIO))


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[..., Path]:
    """Write a mapping (or raw text/bytes) as a scenario file in ``tmp_path``; return its path."""

    def _write(content: dict[str, Any] | str | bytes, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False),
                            encoding="utf-8")
        return path

    return _write
