"""Hostile and unusual input: fuzzed scenario files, alias bombs, unsafe loaders, failing disks."""

from __future__ import annotations

import copy
import errno
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinnovation_sim import InputError, load_scenario, run
from coinnovation_sim import results as results_module
from coinnovation_sim.cli import main
from helpers import ROOT, SCENARIOS, SMALL_SCENARIO

FUZZ = settings(max_examples=1000, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
keys = st.one_of(st.sampled_from(["name", "steps", "seed", "focus", "population", "firms",
                                  "mechanisms", "vouchers", "enabled", "parameters", "quit_rate",
                                  "extends", "places", "place_overrides", "wujiang", "members"]),
                 st.text(min_size=1, max_size=8))
structures = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=20)


def check_outcome(code: int, err: str) -> None:
    """Exit 0, or exit 2 with exactly one `error:` line and no traceback."""
    assert code in (0, 2), code
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err


@FUZZ
@given(data=structures)
def test_random_yaml_structures_fail_cleanly(tmp_path_factory, capsys, data):
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code = main(["validate", str(path)])
    check_outcome(code, capsys.readouterr().err)


@pytest.mark.parametrize("parent", ["a\0b", "\0", "", "   ", "x" * 5000, ".", 7, ["a"]])
def test_unusable_extends_paths_fail_cleanly(tmp_path, capsys, parent):
    """A NUL byte (once found by the fuzzer), an empty or overlong name, a folder, a non-string."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "extends": parent}), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    check_outcome(2, err)
    assert "extends" in err
    with pytest.raises(InputError) as exc:
        load_scenario({"name": "x", "extends": parent}, base_dir=tmp_path)
    assert exc.value.key == "extends"


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


VALID = [yaml.safe_load((SCENARIOS / f"{n}.yaml").read_text(encoding="utf-8"))
         for n in ("all-mechanisms", "status-quo-2020", "demo-zone")]
for v in VALID:
    v.pop("extends", None)


@FUZZ
@given(which=st.integers(0, len(VALID) - 1), pick=st.integers(0, 10**6), junk=structures)
def test_valid_files_with_one_field_corrupted_fail_cleanly(tmp_path_factory, capsys, which, pick,
                                                           junk):
    data = copy.deepcopy(VALID[which])
    paths = list(_paths(data))
    path = paths[pick % len(paths)]
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = junk
    target = tmp_path_factory.mktemp("corrupt") / "s.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code = main(["validate", str(target)])
    check_outcome(code, capsys.readouterr().err)


def test_alias_bomb_is_rejected_quickly(tmp_path, capsys):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    lines.append("name: *i")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = time.perf_counter()
    code = main(["validate", str(path)])
    assert time.perf_counter() - start < 2.0
    err = capsys.readouterr().err
    assert code == 2 and "aliases" in err


def test_no_unsafe_loading_or_evaluation_in_the_package():
    pattern = re.compile(r"\b(eval|exec)\(|\bpickle\b|yaml\.load\(|yaml\.unsafe_load|"
                         r"yaml\.Loader\b|marshal\.loads|shelve\.")
    offenders = []
    for path in (ROOT / "src").rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders


def test_disk_full_leaves_no_run_directory(tmp_path, monkeypatch):
    result = run(copy.deepcopy(SMALL_SCENARIO), steps=2)
    original = results_module.write_parquet
    calls = {"n": 0}

    def failing(df, path, index=False):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(df, path, index)

    monkeypatch.setattr(results_module, "write_parquet", failing)
    out = tmp_path / "run"
    with pytest.raises(InputError) as exc:
        result.save(out)
    assert "No space left" in str(exc.value) and "\n" not in str(exc.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary directory left behind either


def test_unwritable_out_is_a_clean_error(tmp_path, capsys, write_yaml):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    path = write_yaml({**SMALL_SCENARIO, "steps": 1})
    code = main(["run", str(path), "--out", str(blocker / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert blocker.read_text(encoding="utf-8") == "not a directory"


@pytest.mark.parametrize("overrides", [
    {"population": {"firms": 1, "institutes": 0}},
    {"population": {"firms": 50, "institutes": 0}},
    {"steps": 0},
    {"place_overrides": {"wujiang": {"innovative_firms": 0, "institutes": 0, "researchers_k": 0}}},
    {"mechanisms": {"vouchers": {"enabled": True, "issuers": ["wujiang"], "annual_budget_wan": 0.0}}},
    {"mechanisms": {"vouchers": {"enabled": True, "issuers": ["g60", "demo_zone", "jkt"],
                                 "annual_budget_wan": 1e9, "face_value_wan": 1e6}}},
    {"mechanisms": {
        "coordination": {"enabled": True, "members": ["g60", "demo_zone", "jkt", "shanghai"],
                         "interval": 1},
        "enclaves": {"enabled": True, "parks": [{"home": "wujiang", "host": "shanghai",
                                                 "capacity": 100000}]},
        "vouchers": {"enabled": True, "issuers": ["g60", "demo_zone", "jkt", "shanghai"]},
        "tech_market": {"enabled": True, "members": ["g60", "demo_zone", "jkt", "shanghai"]}}},
], ids=["one-firm", "no-institutes", "zero-steps", "empty-wujiang", "zero-budget", "huge-budget",
        "everything-everywhere"])
def test_edge_cases_run_cleanly(overrides):
    from test_invariants import check_all

    sc = {**copy.deepcopy(SMALL_SCENARIO), "steps": 14, **overrides}
    result = run(sc)
    if len(result.metrics):
        check_all(result)


def test_long_run_600_steps_is_finite():
    from test_invariants import check_all

    sc = {**copy.deepcopy(SMALL_SCENARIO), "steps": 600,
          "population": {"firms": 300, "institutes": 20}}
    check_all(run(sc))


def test_paths_in_scenarios_cannot_redirect_output(tmp_path, write_yaml, capsys):
    """A run writes only into --out: scenario paths are inputs, never output locations."""
    path = write_yaml({**SMALL_SCENARIO, "steps": 1, "places": str(Path(ROOT) / "src" /
                                                                "coinnovation_sim" / "data" /
                                                                "places.csv")})
    out = tmp_path / "out"
    before = {p for p in tmp_path.rglob("*")}
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    after = {p for p in tmp_path.rglob("*")}
    assert all(out in p.parents or p == out for p in after - before)
    assert load_scenario(path).places_path().exists()
