"""Calibration: spec validation, reproducibility, the distance-decay and hub-rank statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from coinnovation_sim.calibrate import (
    calibrate,
    check,
    collaboration_degrees,
    decay_fit,
    degree_tail_ratio,
    hub_rank_loss,
    read_spec,
)
from coinnovation_sim.cli import main
from coinnovation_sim.parameters import defaults

TINY = {"name": "tiny", "steps": 6, "focus": "wujiang",
        "population": {"firms": 300, "institutes": 10}}


def tiny_spec(**over) -> dict:
    spec = {"name": "toy", "seed": 7, "samples": 4, "replications": 2,
            "refine": {"evaluations": 3},
            "scenarios": {"tiny": {"file": "tiny.yaml"}},
            "parameters": {"parameters.distance_decay_km": {"bounds": [20, 200]},
                           "parameters.barrier_province": {"bounds": [0.1, 0.8]}},
            "targets": [{"name": "cross_tech", "scenario": "tiny", "kind": "metric",
                         "metric": "region_cross_share_technology", "reduce": "mean",
                         "value": 0.5, "scale": 0.1}],
            "validation": [{"name": "knowledge", "scenario": "tiny", "kind": "metric",
                            "metric": "region_knowledge_per_firm", "value": 1.0, "scale": 1.0}]}
    spec.update(over)
    return spec


@pytest.fixture
def spec_file(tmp_path):
    def write(**over):
        (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY), encoding="utf-8")
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(tiny_spec(**over), sort_keys=False), encoding="utf-8")
        return path
    return write


@pytest.mark.parametrize(("over", "key"), [
    ({"colour": "red"}, "colour"),
    ({"parameters": {"parameters.no_such_parameter": {"bounds": [0, 1]}}},
     "parameters.no_such_parameter"),
    ({"parameters": {"parameters.barrier_province": {"bounds": [0.5, 0.1]}}},
     "parameters.parameters.barrier_province.bounds"),
    ({"parameters": {"mechanisms.vouchers.awareness_rate": {"bounds": [0.0, 2.0]}}},
     "mechanisms.vouchers.awareness_rate"),
    ({"targets": [{"name": "x", "scenario": "nowhere", "kind": "metric", "metric": "m",
                   "value": 1, "scale": 1}]}, "targets.0.scenario"),
])
def test_spec_errors_are_one_line_exit_2(spec_file, tmp_path, capsys, over, key):
    path = spec_file(**over)
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and key in err
    assert "Traceback" not in err and not out.exists()


def test_read_spec_shipped_default():
    spec = read_spec("scenarios/calibration/default.yaml")
    kinds = {t.kind for t in spec.targets}
    assert kinds == {"metric", "collaboration_half_distance", "hub_rank"}
    assert {t.kind for t in spec.validation} == {"metric", "degree_tail"}
    assert spec.validation and not {t.name for t in spec.validation} & {t.name for t in spec.targets}


def test_tiny_calibration_is_reproducible(spec_file, tmp_path):
    path = spec_file()
    a = calibrate(path, tmp_path / "a", workers=1)
    b = calibrate(path, tmp_path / "b", workers=2)
    assert a.best == b.best
    pd.testing.assert_frame_equal(a.candidates, b.candidates)
    for name in ("candidates.parquet", "best.yaml", "report.md", "manifest.json"):
        assert (tmp_path / "a" / name).is_file()
    cands = pd.read_parquet(tmp_path / "a" / "candidates.parquet")
    assert len(cands) >= 4 and set(cands["stage"]) <= {"lhs", "refine"}
    i = int(cands["loss"].idxmin())
    assert cands.loc[i, "loss"] == a.best_row["loss"]
    for p, v in a.best.items():
        assert cands.loc[i, p] == v
        lo, hi = tiny_spec()["parameters"][p]["bounds"]
        assert lo <= v <= hi
    best = yaml.safe_load((tmp_path / "a" / "best.yaml").read_text(encoding="utf-8"))
    assert best["parameters"]["distance_decay_km"] == a.best["parameters.distance_decay_km"]
    report = (tmp_path / "a" / "report.md").read_text(encoding="utf-8")
    assert "Held-out validation" in report and "cross_tech" in report
    assert {"cross_tech_low", "cross_tech_high", "knowledge"} <= set(cands.columns)
    assert "knowledge_sqerr" not in cands.columns  # validation never enters the loss
    with pytest.raises(Exception, match="not empty"):
        calibrate(path, tmp_path / "a", workers=1)


def test_decay_fit_recovers_known_decay():
    rng = np.random.default_rng(3)
    n = 12
    xy = rng.uniform(0, 300, size=(n, 2))
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    mass = rng.lognormal(0, 1, n)
    lam = 80.0
    ids = [f"p{i}" for i in range(n)]
    rows = [(ids[a], ids[b], mass[a] * mass[b] * math.exp(-dist[a, b] / lam))
            for a in range(n) for b in range(n) if a != b]
    flows = pd.DataFrame(rows, columns=["origin", "destination", "amount"])
    fit = decay_fit(flows, ids, dist)
    assert fit["decay_km"] == pytest.approx(lam, rel=1e-6)
    assert fit["half_km"] == pytest.approx(lam * math.log(2), rel=1e-6)
    assert math.isnan(decay_fit(flows.iloc[:3], ids, dist)["half_km"])  # too few pairs


def test_hub_rank_loss():
    hubs = ["shanghai", "suzhou", "hangzhou", "hefei"]
    pr = {"hefei": 0.2, "shanghai": 0.3, "suzhou": 0.15, "hangzhou": 0.14, "wujiang": 0.1,
          "kunshan": 0.11}
    assert hub_rank_loss(pr, hubs) == 0
    pr["wujiang"] = 0.25  # one non-hub above all but shanghai: every later hub drops one place
    assert hub_rank_loss(pr, hubs) == 1
    pr["hefei"] = 0.0  # hefei last of six
    assert hub_rank_loss(pr, hubs) == 2


def test_collaboration_degrees_count_distinct_partners():
    c = pd.DataFrame({"firm": [1, 2, 1, 3, 4], "partner": [2, 1, 3, 1, 5]})
    # pairs {1,2} (twice, in both directions), {1,3} (twice), {4,5}: firm 1 has two partners
    assert sorted(collaboration_degrees(c).tolist()) == [1, 1, 1, 1, 2]
    assert len(collaboration_degrees(c.iloc[:0])) == 0


def test_degree_tail_ratio_tells_heavy_from_thin_tails():
    rng = np.random.default_rng(11)
    heavy = np.floor(rng.pareto(1.5, 5000) + 1).astype(int)      # power-law tail, alpha 2.5
    thin = rng.geometric(0.5, 5000)                               # exponential tail
    assert degree_tail_ratio(heavy) > 2
    assert degree_tail_ratio(thin) < -2
    assert math.isnan(degree_tail_ratio(np.ones(500, int)))       # one distinct degree
    assert math.isnan(degree_tail_ratio(thin[:10]))               # too few nodes


def test_check_evaluates_the_scenarios_as_they_are(spec_file, tmp_path, capsys):
    path = spec_file()
    res = check(path, tmp_path / "chk", replications=2, workers=1)
    d = defaults()
    assert res.values == {"parameters.distance_decay_km": d["distance_decay_km"],
                          "parameters.barrier_province": d["barrier_province"]}
    assert math.isfinite(res.row["cross_tech"]) and res.row["loss"] >= 0
    assert res.manifest["master_seed"] == tiny_spec()["seed"] + 1
    report = (tmp_path / "chk" / "report.md").read_text(encoding="utf-8")
    assert "Check of calibration" in report and "values in the scenarios" in report
    assert len(pd.read_parquet(tmp_path / "chk" / "check.parquet")) == 1
    # the CLI gives the same numbers
    assert main(["calibrate", str(path), "--check", "--replications", "2", "--workers", "1",
                 "--out", str(tmp_path / "chk2")]) == 0
    assert f"{res.row['cross_tech']:.4g}" in capsys.readouterr().out
    # --replications and --seed belong to --check; a negative seed is refused
    assert main(["calibrate", str(path), "--out", str(tmp_path / "no"), "--replications", "3"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(path), "--out", str(tmp_path / "no"), "--check", "--seed", "-1"])
    assert exc.value.code == 2
    for err in capsys.readouterr().err.splitlines():
        assert err.startswith("error: ")
    assert not (tmp_path / "no").exists()


def test_shipped_defaults_are_the_fitted_values():
    """The defaults are the shipped calibration's best candidate, rounded to 3 significant digits."""
    from coinnovation_sim.mechanisms import CONFIGS

    fitted = yaml.safe_load(Path("docs/calibration/fit-best.yaml").read_text(encoding="utf-8"))
    spec = read_spec("scenarios/calibration/default.yaml")
    flat = {f"parameters.{k}": v for k, v in fitted["parameters"].items()}
    for mech, values in fitted["mechanisms"].items():
        flat.update({f"mechanisms.{mech}.{k}": v for k, v in values.items()})
    assert set(flat) == set(spec.parameters)   # every free parameter of the spec was fitted
    for path, value in flat.items():
        group, *rest = path.split(".")
        if group == "parameters":
            shipped = defaults()[rest[0]]
        else:
            shipped = CONFIGS[rest[0]].model_fields[rest[1]].default
        assert shipped == float(f"{value:.3g}"), path
        lo, hi = spec.parameters[path].bounds
        assert lo <= value <= hi
