"""compare: common random numbers, reproducibility serially and with workers, outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coinnovation_sim.cli import main
from coinnovation_sim.experiment import compare, mean_ci, spawn_seeds
from helpers import SCENARIOS, SMALL_SCENARIO

SMALL = {**SMALL_SCENARIO, "steps": 8, "population": {"firms": 800, "institutes": 40}}
COORD = {**SMALL, "name": "coord",
         "mechanisms": {"coordination": {"enabled": True, "members": ["demo_zone"]}}}


def test_seeds_are_spawned_and_shared():
    seeds = spawn_seeds(42, 4)
    assert seeds == spawn_seeds(42, 4) and len(set(seeds)) == 4
    cmp = compare([SMALL, COORD], replications=2, seed=42)
    by = cmp.results.groupby("scenario").seed.unique()
    assert list(by["small"]) == list(by["coord"]) == spawn_seeds(42, 2)


def test_reproducible_serial_and_parallel():
    a = compare([SMALL, COORD], replications=2, seed=3)
    b = compare([SMALL, COORD], replications=2, seed=3)
    c = compare([SMALL, COORD], replications=2, seed=3, workers=2)
    pd.testing.assert_frame_equal(a.results, b.results)
    pd.testing.assert_frame_equal(a.results, c.results)
    pd.testing.assert_frame_equal(a.summary, c.summary)


def test_summary_pairs_with_baseline():
    cmp = compare([SMALL, COORD], replications=3, seed=1)
    s = cmp.summary.set_index(["scenario", "metric"])
    assert (s.loc["small", "diff"] == 0).all()
    res = cmp.results.pivot_table(index=["metric", "replication"], columns="scenario",
                                  values="value")
    paired = (res["coord"] - res["small"]).loc["focus_integration_index"].to_numpy()
    assert s.loc[("coord", "focus_integration_index"), "diff"] == pytest.approx(paired.mean())
    assert cmp.cost_effectiveness.set_index("scenario").loc["coord", "extra_cost_wan"] > 0
    assert "cost_wan_total:wujiang" in set(cmp.results.metric)


def test_mean_ci():
    mean, lo, hi = mean_ci(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0 and lo < 2.0 < hi
    assert mean_ci(np.array([5.0])) == (5.0, 5.0, 5.0)


def test_cli_compare_writes_outputs(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "coordination.yaml"),
                 "--replications", "2", "--steps", "3", "--workers", "1", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"results.parquet", "summary.csv", "summary.md",
                                               "manifest.json"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["baseline"] == "baseline" and len(manifest["replication_seeds"]) == 2
    assert "Paired difference" in capsys.readouterr().out
    assert main(["compare", "baseline", "--replications", "1", "--steps", "1",
                 "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_duplicate_names_and_unknown_baseline_are_errors(capsys):
    assert main(["compare", "baseline", "baseline", "--replications", "1", "--steps", "1",
                 "--out", "/nonexistent/never"]) == 2
    assert "unique" in capsys.readouterr().err


def test_save_is_atomic_and_force_replaces_any_directory(tmp_path, monkeypatch):
    from coinnovation_sim import experiment
    from coinnovation_sim.errors import InputError

    cmp = compare([SMALL], replications=1, seed=2, steps=2)
    out = tmp_path / "cmp"
    (out / "nested").mkdir(parents=True)
    (out / "nested" / "old.txt").write_text("old", encoding="utf-8")
    cmp.save(out, force=True)  # a directory with subfolders is replaced whole
    assert {p.name for p in out.iterdir()} == {"results.parquet", "summary.csv", "summary.md",
                                               "manifest.json"}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(experiment, "summary_markdown", full_disk)
    target = tmp_path / "second"
    with pytest.raises(InputError, match="No space left"):
        cmp.save(target)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp"]  # no temporary directory left
