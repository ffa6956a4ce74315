"""Golden-file regression: a small seeded baseline run must reproduce the stored metrics.

The stored file is ``tests/golden/baseline_small_metrics.csv``. When a change to the model is
*meant* to change the numbers, regenerate it deliberately and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

(the test then rewrites the file and is reported as skipped).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coinnovation_sim import run
from helpers import BASELINE

GOLDEN = Path(__file__).parent / "golden" / "baseline_small_metrics.csv"
FLOAT_FORMAT = "%.10g"
RTOL = 1e-9
#: The golden run: the shipped baseline, shrunk to 2,000 firm agents and 24 months.
GOLDEN_SCENARIO = {
    "name": "baseline-small",
    "extends": str(BASELINE),
    "steps": 24,
    "population": {"firms": 2000, "institutes": 100},
}


def golden_metrics() -> pd.DataFrame:
    return run(GOLDEN_SCENARIO).metrics


def write_golden(metrics: pd.DataFrame) -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    metrics.to_csv(GOLDEN, float_format=FLOAT_FORMAT, lineterminator="\n")


def test_golden_metrics():
    metrics = golden_metrics()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write_golden(metrics)
        pytest.skip(f"rewrote {GOLDEN.name} (UPDATE_GOLDEN=1); review and commit the diff")
    assert GOLDEN.exists(), f"{GOLDEN} missing: run with UPDATE_GOLDEN=1 to create it"
    expected = pd.read_csv(GOLDEN, index_col="step")
    assert list(metrics.columns) == list(expected.columns), "metric columns changed"
    assert list(metrics.index) == list(expected.index)
    assert metrics["month"].tolist() == expected["month"].tolist()
    numeric = [c for c in expected.columns if c != "month"]
    for col in numeric:
        np.testing.assert_allclose(metrics[col].to_numpy(float), expected[col].to_numpy(float),
                                   rtol=RTOL, atol=1e-12, err_msg=f"column {col}")


def test_golden_file_is_plausible():
    """Guard against regenerating the golden file from a broken run."""
    expected = pd.read_csv(GOLDEN, index_col="step")
    assert len(expected) == GOLDEN_SCENARIO["steps"]
    assert expected["month"].iloc[0] == "2020-01" and expected["month"].iloc[-1] == "2021-12"
    numeric = expected.drop(columns="month").to_numpy(float)
    assert np.isfinite(numeric).all()
    assert expected["wujiang_integration_index"].between(0, 1).all()
    assert (expected["firms_real"] > 0).all()
