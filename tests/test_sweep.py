"""Parameter sweeps: validation, executors, kill and resume, failures, sensitivity plumbing."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from coinnovation_sim import cli
from coinnovation_sim import sweep as sw
from helpers import SCENARIOS, cli_command, cli_env

TINY = {"population": {"firms": 400, "institutes": 24}, "steps": 4}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Tiny policy scenarios (portable vouchers; coordination) beside the sweep files."""
    d = tmp_path_factory.mktemp("sweeps")
    for name, parent in (("tiny-portable", "vouchers-portable.yaml"), ("tiny-coord", "coordination.yaml")):
        body = {"name": name, "extends": str(SCENARIOS / parent), **TINY}
        (d / f"{name}.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return d


def write_sweep(folder: Path, name: str = "s.yaml", **over) -> Path:
    body = {"name": "tiny-factorial", "base": "tiny-portable.yaml", "design": "factorial",
            "parameters": {"mechanisms.vouchers.annual_budget_wan": {"values": [0, 1000, 3450]},
                           "mechanisms.vouchers.cross_region": {"values": [False, True]}},
            "replications": 2, "seed": 11,
            "keep": {"metrics": ["wujiang_integration_index", "policy_cost_wan"], "every": 2}}
    body.update(over)
    path = folder / name
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def run_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "runs").iterdir())}


@pytest.fixture(scope="module")
def serial(folder, tmp_path_factory):
    """The factorial sweep run in this process (the reference)."""
    out = tmp_path_factory.mktemp("serial") / "out"
    report = sw.run_sweep(write_sweep(folder), out, workers=1)
    assert report.done == report.total == 12 and report.failed == 0
    return out


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("over", "key", "words"), [
    ({"extra_key": 1}, "extra_key", "unknown key"),
    ({"parameters": {"mechanisms.vouchers.annual_budgt_wan": {"values": [1]}}},
     "parameters.mechanisms.vouchers.annual_budgt_wan", "unknown key"),
    ({"parameters": {"mechanisms.vouchers.annual_budget_wan": {"values": [100, -5]}}},
     "parameters.mechanisms.vouchers.annual_budget_wan", "greater than or equal to 0"),
    ({"parameters": {"parameters.no_such_parameter": {"values": [1]}}},
     "parameters.parameters.no_such_parameter", "unknown parameter"),
    ({"parameters": {"parameters.learning_rate": {"values": [1.5]}}},
     "parameters.parameters.learning_rate", "expected a number in [0, 1]"),
    ({"parameters": {"parameters.learning_rate": {"bounds": [0.1, 0.3]}}},
     "parameters.parameters.learning_rate", "for design factorial"),
    ({"design": "sobol", "samples": 6,
      "parameters": {"parameters.learning_rate": {"bounds": [0.1, 0.3]},
                     "parameters.quit_rate": {"bounds": [0.01, 0.02]}}},
     "samples", "power of two"),
    ({"keep": {"metrics": ["no_such_metric"]}}, "keep.metrics.0", "unknown metric"),
    ({"base": "missing.yaml"}, "base", "not found"),
])
def test_invalid_sweep_files_exit_2_with_one_line_naming_the_key(folder, tmp_path, capsys, over, key,
                                                                  words):
    path = write_sweep(folder, "bad.yaml", **over)
    out = tmp_path / "out"
    code = cli.main(["sweep", str(path), "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: {key}: "), err
    assert words in err
    assert not out.exists()


def test_required_keys_and_design_names(folder, capsys):
    path = folder / "missing.yaml"
    path.write_text("name: x\nbase: tiny-portable.yaml\ndesign: grid\nparameters: {}\n", encoding="utf-8")
    assert cli.main(["sweep", str(path), "--dry-run"]) == 2
    assert "design" in capsys.readouterr().err
    path.write_text("name: x\ndesign: factorial\nparameters: {}\n", encoding="utf-8")
    assert cli.main(["sweep", str(path), "--dry-run"]) == 2
    assert "base: required key missing" in capsys.readouterr().err


def test_dry_run_prints_the_number_of_runs_and_an_estimate(folder, tmp_path, capsys):
    path = write_sweep(folder, policies=["tiny-portable.yaml", "tiny-coord.yaml"])
    assert cli.main(["sweep", str(path), "--dry-run", "--workers", "2", "--out", str(tmp_path / "o")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "24 runs"
    assert lines[1].startswith("estimated time: ")
    assert not (tmp_path / "o").exists()


def test_designs_sizes_and_ranges(folder):
    path = write_sweep(folder, "r.yaml", parameters={
        "parameters.learning_rate": {"range": [0.1, 0.3, 0.1]},
        "mechanisms.vouchers.cross_region": {"values": [True]}}, replications=1)
    plan = sw.plan_sweep(path)
    assert [t.params["parameters.learning_rate"] for t in plan.tasks] == [0.1, 0.2, 0.3]
    lhs = sw.read_sweep(write_sweep(folder, "l.yaml", design="lhs", samples=5, parameters={
        "parameters.learning_rate": {"bounds": [0.1, 0.3]},
        "mechanisms.coordination.interval": {"bounds": [3, 12], "integer": True}}))
    rows = sw.design_matrix(lhs)
    assert len(rows) == 5 and rows == sw.design_matrix(lhs)  # seeded
    assert all(isinstance(r["mechanisms.coordination.interval"], int) for r in rows)
    strata = sorted(int((r["parameters.learning_rate"] - 0.1) // 0.04) for r in rows)
    assert strata == [0, 1, 2, 3, 4]  # one per stratum
    sets = sw.plan_sweep(write_sweep(folder, "sets.yaml", design="sets", parameters={}, replications=1,
                                     sets=[{"parameters.learning_rate": 0.2},
                                           {"parameters.learning_rate": 0.4}]))
    assert len(sets.tasks) == 2


def test_run_id_is_stable_across_processes(folder):
    plan = sw.plan_sweep(write_sweep(folder))
    code = ("import json, sys; from coinnovation_sim.sweep import plan_sweep; "
            "print(json.dumps([t.run_id for t in plan_sweep(sys.argv[1]).tasks]))")
    out = subprocess.run([sys.executable, "-c", code, str(write_sweep(folder))], capture_output=True,
                         text=True, check=True, env=cli_env())
    assert json.loads(out.stdout) == [t.run_id for t in plan.tasks]
    assert len({t.run_id for t in plan.tasks}) == 12
    assert sw.run_id("p", {"a": 1.0}, 5) == sw.run_id("p", {"a": 1.0}, 5) != sw.run_id("p", {"a": 1.0}, 6)


# --- execution -----------------------------------------------------------------------------------


def test_serial_sweep_writes_runs_manifest_and_index(serial):
    files = sorted((serial / "runs").iterdir())
    assert len(files) == 12 and all(p.suffix == ".parquet" for p in files)
    man = json.loads((serial / "manifest.json").read_text(encoding="utf-8"))
    assert {"sweep", "versions", "start_time", "runs", "digest"} <= set(man)
    index = [json.loads(x) for x in (serial / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(index) == 12 and {r["status"] for r in index} == {"done"}
    assert all(r["duration_s"] > 0 and r["error"] == "" for r in index)
    df = sw.load_sweep(serial)
    assert list(df.columns) == ["run_id", "policy", "mechanisms.vouchers.annual_budget_wan",
                                "mechanisms.vouchers.cross_region", "replication", "seed", "step",
                                "wujiang_integration_index", "policy_cost_wan"]
    assert sorted(df.step.unique()) == [1, 3]  # every 2 months, and the last
    assert len(df) == 24
    assert sw.status(serial) | {"errors": None} == {"name": "tiny-factorial", "total": 12, "done": 12,
                                                    "failed": 0, "missing": 0, "errors": None}


def test_process_pool_and_dask_give_identical_files(folder, serial, tmp_path):
    from distributed import LocalCluster

    sw.run_sweep(write_sweep(folder), tmp_path / "pool", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        sw.run_sweep(write_sweep(folder), tmp_path / "dask", scheduler=cluster.scheduler_address)
    reference = run_files(serial)
    assert run_files(tmp_path / "pool") == reference
    assert run_files(tmp_path / "dask") == reference
    frame = sw.load_sweep(serial)
    pd.testing.assert_frame_equal(sw.load_sweep(tmp_path / "pool"), frame)
    pd.testing.assert_frame_equal(sw.load_sweep(tmp_path / "dask"), frame)


def test_dask_cluster_with_two_worker_processes(folder, serial, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        code = cli.main(["sweep", str(write_sweep(folder)), "--out", str(tmp_path / "d"),
                         "--scheduler", cluster.scheduler_address])
    assert code == 0
    assert run_files(tmp_path / "d") == run_files(serial)


def test_killed_sweep_resumes_without_losing_or_repeating_runs(folder, tmp_path):
    path = write_sweep(folder, "kill.yaml", replications=4)  # 24 runs
    plan = sw.plan_sweep(path)
    out = tmp_path / "killed"
    proc = subprocess.Popen(cli_command("sweep", str(path), "--out", str(out), "--workers", "1"),
                            env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "runs").is_dir() and len(list((out / "runs").iterdir())) >= 4:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {p.stem for p in (out / "runs").iterdir()}
    assert 4 <= len(before) < len(plan.tasks)
    assert all(p.suffix == ".parquet" for p in (out / "runs").iterdir())
    assert cli.main(["status", str(out)]) == 0
    report = sw.run_sweep(path, out, workers=2, resume=True)
    assert report.skipped == len(before) and report.done == len(plan.tasks)
    assert {p.stem for p in (out / "runs").iterdir()} == {t.run_id for t in plan.tasks}
    done = [json.loads(x)["run_id"] for x in (out / "index.jsonl").read_text().splitlines()
            if json.loads(x)["status"] == "done"]
    assert len(done) == len(set(done))  # nothing ran twice
    assert not set(done) - {t.run_id for t in plan.tasks}
    whole = tmp_path / "whole"
    sw.run_sweep(path, whole, workers=1)
    assert run_files(out) == run_files(whole)
    pd.testing.assert_frame_equal(sw.load_sweep(out), sw.load_sweep(whole))


def test_resume_refuses_a_changed_sweep(folder, serial, tmp_path, capsys):
    changed = write_sweep(folder, "changed.yaml", seed=12)
    code = cli.main(["sweep", str(changed), "--out", str(serial), "--resume"])
    assert code == 2 and "--resume" in capsys.readouterr().err


def test_a_failing_run_is_recorded_and_the_others_finish(folder, tmp_path, monkeypatch):
    real_run = sw.run

    def flaky(scenario, seed=None, steps=None):
        vouchers = scenario.mechanisms.vouchers
        if vouchers.annual_budget_wan == 1000 and not vouchers.cross_region:
            raise FloatingPointError("budget went negative")
        return real_run(scenario, seed=seed, steps=steps)

    monkeypatch.setattr(sw, "run", flaky)
    out = tmp_path / "flaky"
    report = sw.run_sweep(write_sweep(folder), out, workers=1)
    assert (report.done, report.failed) == (10, 2)
    st = sw.status(out)
    assert (st["done"], st["failed"], st["missing"]) == (10, 2, 0)
    assert set(st["errors"].values()) == {"FloatingPointError: budget went negative"}
    df = sw.load_sweep(out)
    assert df.run_id.nunique() == 10
    monkeypatch.setattr(sw, "run", real_run)
    again = sw.run_sweep(write_sweep(folder), out, workers=1, resume=True)
    assert (again.skipped, again.done, again.failed) == (10, 12, 0)


# --- analysis ------------------------------------------------------------------------------------


def test_robustness_shares_with_wilson_intervals(folder, tmp_path, capsys):
    out = tmp_path / "pol"
    path = write_sweep(folder, "pol.yaml", replications=1,
                       policies=["tiny-portable.yaml", "tiny-coord.yaml"])
    assert cli.main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    df = sw.load_sweep(out)
    assert list(df.policy.unique()) == ["tiny-portable", "tiny-coord"]
    rob = sw.robustness(out, "wujiang_integration_index")
    assert list(rob.policy) == ["tiny-portable", "tiny-coord"] and (rob.sets == 6).all()
    assert rob.wins.sum() <= 6 and ((rob.ci_low <= rob.share) & (rob.share <= rob.ci_high)).all()
    assert cli.main(["robustness", str(out), "--metric", "policy_cost_wan", "--minimize"]) == 0
    assert "tiny-coord" in capsys.readouterr().out
    assert (out / "robustness_policy_cost_wan.csv").exists()
    lo, hi = sw.wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_plumbing_recovers_the_ishigami_indices():
    sweep = sw.SweepFile.model_validate({
        "name": "ishigami", "base": "unused.yaml", "design": "sobol", "samples": 4096, "seed": 3,
        "parameters": {f"x{i}": {"bounds": [-math.pi, math.pi]} for i in (1, 2, 3)}})
    samples = sw.design_matrix(sweep)
    assert len(samples) == 4096 * 5
    x = np.array([[s["x1"], s["x2"], s["x3"]] for s in samples])
    df = sw.analyse(sweep, samples, ishigami(x)).set_index("parameter")
    assert df.loc[["x1", "x2", "x3"], "S1"].to_numpy() == pytest.approx([0.314, 0.442, 0.0], abs=0.04)
    assert df.loc[["x1", "x2", "x3"], "ST"].to_numpy() == pytest.approx([0.558, 0.442, 0.244], abs=0.04)
    assert (df.S1_conf > 0).all() and list(df.index) == ["x1", "x2", "x3"]  # ranked by ST


def test_morris_plumbing_ranks_the_ishigami_inputs():
    sweep = sw.SweepFile.model_validate({
        "name": "ishigami", "base": "unused.yaml", "design": "morris", "samples": 200, "seed": 3,
        "parameters": {f"x{i}": {"bounds": [-math.pi, math.pi]} for i in (1, 2, 3)}})
    samples = sw.design_matrix(sweep)
    x = np.array([[s["x1"], s["x2"], s["x3"]] for s in samples])
    df = sw.analyse(sweep, samples, ishigami(x))
    assert set(df.columns) >= {"mu_star", "mu_star_conf", "sigma"}
    assert df.parameter.iloc[-1] == "x3" or df.set_index("parameter").loc["x3", "mu_star"] > 0


def test_sensitivity_of_a_small_model_sobol_sweep(folder, tmp_path, capsys):
    path = write_sweep(folder, "sobol.yaml", design="sobol", samples=4, replications=1, steps=3,
                       keep={"metrics": ["wujiang_integration_index"], "every": "last"},
                       parameters={"parameters.learning_rate": {"bounds": [0.1, 0.5]},
                                   "parameters.distance_decay_km": {"bounds": [30, 150]}})
    out = tmp_path / "sobol"
    assert cli.main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    assert cli.main(["sensitivity", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "learning_rate" in printed and "ST" in printed
    table = pd.read_csv(out / "sensitivity_wujiang_integration_index.csv")
    assert set(table.parameter) == {"parameters.learning_rate", "parameters.distance_decay_km"}
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(table.columns)
