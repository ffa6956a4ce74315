"""The command line: error paths (one line, exit 2, nothing written), run directories, commands.

Most checks call :func:`coinnovation_sim.cli.main` in-process (fast); a few run the real command
in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from coinnovation_sim import __version__
from coinnovation_sim.cli import build_parser, main
from helpers import SMALL_SCENARIO, cli_command, cli_env

TINY = {"name": "tiny", "steps": 3, "population": {"firms": 300, "institutes": 10}}


def scenario_text(**over) -> str:
    data = {"name": "bad"}
    data.update(over)
    return yaml.safe_dump(data, sort_keys=False)


def case(case_id: str, content: str | bytes | None, key: str | None, text: str,
         xfail: str | None = None):
    """One error case: file content (None: no file), key path (None: whole-file error), text."""
    marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=xfail)] if xfail else []
    return pytest.param(content, key, text, id=case_id, marks=marks)


ERROR_CASES = [
    case("missing-file", None, None, "not found"),
    case("bad-yaml", "name: x\nsteps: [1, 2\n", None, "invalid YAML"),
    case("unknown-top-level-key", scenario_text(colour="red"), "colour", "unknown key"),
    case("unknown-key-population", scenario_text(population={"agents": 5}), "population.agents",
     "unknown key"),
    case("unknown-key-mechanism", scenario_text(mechanisms={"vouchers": {"budget": 5}}),
     "mechanisms.vouchers.budget", "unknown key"),
    case("unknown-mechanism", scenario_text(mechanisms={"teleport": {"enabled": False}}),
     "mechanisms.teleport", "unknown key"),
    case("unknown-parameter", scenario_text(parameters={"no_such_parameter": 1.0}),
     "parameters.no_such_parameter", "unknown parameter"),
    case("wrong-type-steps", scenario_text(steps="ten"), "steps", "integer"),
    case("wrong-type-bool-steps", scenario_text(steps=True), "steps", "integer"),
    case("wrong-type-float-steps", scenario_text(steps=12.5), "steps", "integer"),
    case("wrong-type-firms", scenario_text(population={"firms": "many"}), "population.firms", "integer"),
    case("wrong-type-name", scenario_text(name=5), "name", "string"),
    case("wrong-type-mechanisms", scenario_text(mechanisms=["vouchers"]), "mechanisms", ""),
    case("wrong-type-enabled", scenario_text(mechanisms={"vouchers": {"enabled": "yes"}}),
     "mechanisms.vouchers.enabled", "bool"),
    case("wrong-type-parameter", scenario_text(parameters={"quit_rate": "high"}),
                 "parameters.quit_rate", "number"),
    case("wrong-type-place-override",
                 scenario_text(place_overrides={"wujiang": {"research_strength": "high"}}),
                 "place_overrides.wujiang.research_strength", "number"),
    case("steps-5000", scenario_text(steps=5000), "steps", "1200"),
    case("steps-negative", scenario_text(steps=-1), "steps", "0"),
    case("firms-zero", scenario_text(population={"firms": 0}), "population.firms", "1"),
    case("institutes-negative", scenario_text(population={"institutes": -1}), "population.institutes",
     "0"),
    case("seed-negative", scenario_text(seed=-5), "seed", "0"),
    case("parameter-above-bound", scenario_text(parameters={"quit_rate": 2.0}), "parameters.quit_rate",
     "expected a number in [0, 1]"),
    case("parameter-below-bound", scenario_text(parameters={"distance_decay_km": 0.5}),
     "parameters.distance_decay_km", "expected a number"),
    case("parameter-not-whole", scenario_text(parameters={"candidates_per_search": 2.5}),
     "parameters.candidates_per_search", "whole number"),
    case("parameter-nan", "name: bad\nparameters: {quit_rate: .nan}\n", "parameters.quit_rate",
     "expected a number"),
    case("parameter-inf", "name: bad\nparameters: {talent_per_firm: .inf}\n",
     "parameters.talent_per_firm", "expected a number"),
    case("mechanism-money-inf", "name: bad\nmechanisms: {vouchers: {annual_budget_wan: .inf}}\n",
     "mechanisms.vouchers.annual_budget_wan", "finite"),
    case("mechanism-money-negative", scenario_text(mechanisms={"vouchers": {"face_value_wan": -1}}),
     "mechanisms.vouchers.face_value_wan", "0"),
    case("mechanism-end-before-start",
     scenario_text(mechanisms={"vouchers": {"start": 10, "end": 5}}), "mechanisms.vouchers.end",
     "end >= start"),
    case("unknown-member-group", scenario_text(mechanisms={"coordination": {"members": ["atlantis"]}}),
     "mechanisms.coordination.members.0", "atlantis"),
    case("unknown-park-host",
     scenario_text(mechanisms={"enclaves": {"parks": [{"home": "wujiang", "host": "atlantis"}]}}),
     "mechanisms.enclaves.parks.0.host", "atlantis"),
    case("unknown-focus", scenario_text(focus="atlantis"), "focus", "unknown place id"),
    case("unknown-override-place", scenario_text(place_overrides={"atlantis": {"research_strength": 1}}),
     "place_overrides.atlantis", "unknown place id"),
    case("unknown-override-column", scenario_text(place_overrides={"wujiang": {"colour": 1}}),
     "place_overrides.wujiang.colour", "unknown or non-numeric place column"),
    case("override-negative", scenario_text(place_overrides={"wujiang": {"research_strength": -1}}),
     "place_overrides.wujiang.research_strength", "non-negative"),
    case("override-latitude", scenario_text(place_overrides={"wujiang": {"lat": 123.0}}),
     "place_overrides.wujiang.lat", "latitude"),
    case("missing-place-table", scenario_text(places="no-such-places.csv"), "places", "not found"),
    case("missing-extends-target", scenario_text(extends="no-such-parent.yaml"), "extends",
     "not found"),
    case("extends-itself", scenario_text(extends="scenario.yaml"), "extends", "cycle"),
    case("non-utf8", b"name: caf\xe9\n", None, "UTF-8"),
    case("empty-file", "", None, "empty"),
    case("only-comments", "# nothing here\n", None, "empty"),
    case("top-level-list", "- name\n- steps\n", None, "mapping"),
    case("top-level-scalar", "just a string\n", None, "mapping"),
    case("missing-name", "steps: 3\n", "name", "required"),
    case("blank-name", scenario_text(name="   "), "name", "non-empty"),
]


def assert_one_error_line(stderr: str, filename: str, key: str | None, text: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {lines!r}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in stderr
    assert filename in line, f"the file {filename!r} is not named: {line}"
    if key is not None:
        assert f": {key}: " in line, f"the key path {key!r} is not named: {line}"
    assert text in line, line
    return line


@pytest.mark.parametrize(("content", "key", "text"), ERROR_CASES)
def test_run_error_paths(tmp_path, capsys, content, key, text):
    path = tmp_path / "scenario.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    status = main(["run", str(path), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert status == 2
    assert_one_error_line(captured.err, path.name, key, text)
    assert captured.out == ""
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if content is None else [path.name])


@pytest.mark.parametrize(("content", "key", "text"), ERROR_CASES[:14])
def test_validate_error_paths(tmp_path, capsys, content, key, text):
    path = tmp_path / "scenario.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert_one_error_line(captured.err, path.name, key, text)
    assert captured.out == ""


def test_extends_cycle_between_two_files(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a.yaml\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "a.yaml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "a.yaml" in lines[0] or "b.yaml" in lines[0]
    assert ": extends: " in lines[0] and "cycle" in lines[0]
    assert not out.exists()


def test_missing_extends_in_parent_names_the_parent(tmp_path, capsys):
    (tmp_path / "child.yaml").write_text("name: c\nextends: parent.yaml\n", encoding="utf-8")
    (tmp_path / "parent.yaml").write_text("name: p\nextends: gone.yaml\n", encoding="utf-8")
    assert main(["validate", str(tmp_path / "child.yaml")]) == 2
    line = capsys.readouterr().err.strip()
    assert "parent.yaml: extends: " in line and "gone.yaml" in line


def test_error_in_parent_file_is_reported(tmp_path, capsys):
    (tmp_path / "parent.yaml").write_text("name: p\nsteps: [oops\n", encoding="utf-8")
    (tmp_path / "child.yaml").write_text("name: c\nextends: parent.yaml\n", encoding="utf-8")
    assert main(["validate", str(tmp_path / "child.yaml")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "parent.yaml" in lines[0] and "invalid YAML" in lines[0]


def test_scenario_is_a_directory(tmp_path, capsys):
    (tmp_path / "dir.yaml").mkdir()
    assert main(["run", str(tmp_path / "dir.yaml"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ") and "dir.yaml" in line and "\n" not in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["--steps", "5000"], ["--seed", str(2**64)]],
                         ids=["steps-5000", "seed-too-large"])
def test_run_out_of_range_command_line_values(tmp_path, capsys, write_yaml, args):
    path = write_yaml(TINY)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", *args]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ") and "\n" not in line and path.name in line
    assert f": {args[0][2:]}: " in line
    assert not out.exists()


@pytest.mark.parametrize("args", [["run"], ["run", "x.yaml", "--seed", "-1"],
                                  ["run", "x.yaml", "--steps", "ten"], ["validate"],
                                  ["teleport"], ["run", "x.yaml", "--colour"]],
                         ids=["no-scenario", "negative-seed", "non-integer-steps",
                              "validate-nothing", "unknown-command", "unknown-option"])
def test_usage_errors_are_one_line_exit_2(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in captured.err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: coinnovation-sim" in capsys.readouterr().out


# ---------------------------------------------------------------- run directories


def test_run_writes_run_directory(tmp_path, capsys, write_yaml):
    path = write_yaml(TINY)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--seed", "4"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"run directory: {out}"
    assert captured.err == ""
    for name in ("manifest.json", "metrics.parquet", "flows.parquet"):
        assert (out / name).is_file()
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert len(metrics) == TINY["steps"]
    flows = pd.read_parquet(out / "flows.parquet")
    assert {"step", "factor", "origin", "destination", "amount", "unit"} <= set(flows.columns)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_run_steps_option(tmp_path, capsys, write_yaml):
    path = write_yaml(TINY)
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--quiet", "--steps", "2"]) == 0
    assert len(pd.read_parquet(tmp_path / "o" / "metrics.parquet")) == 2


def test_run_default_out_is_runs_slash_name(tmp_path, capsys, write_yaml, monkeypatch):
    path = write_yaml(TINY)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    assert (tmp_path / "runs" / "tiny" / "metrics.parquet").is_file()


def test_run_prints_summary_unless_quiet(tmp_path, capsys, write_yaml):
    path = write_yaml(TINY)
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "integration index" in out
    assert out.strip().splitlines()[-1] == f"run directory: {tmp_path / 'o'}"


def test_non_empty_out_is_refused_and_untouched(tmp_path, capsys, write_yaml):
    path = write_yaml(TINY)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("precious", encoding="utf-8")
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ") and "\n" not in line and "--force" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", path.name]


def test_force_replaces_non_empty_out(tmp_path, capsys, write_yaml):
    path = write_yaml(TINY)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("old", encoding="utf-8")
    assert main(["run", str(path), "--out", str(out), "--quiet", "--force"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "notes.txt" not in names
    assert {"manifest.json", "metrics.parquet", "flows.parquet"} <= names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", path.name]


def test_empty_existing_out_is_used(tmp_path, capsys, write_yaml):
    path = write_yaml(TINY)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert (out / "metrics.parquet").is_file()


def test_out_that_is_a_file_is_refused(tmp_path, capsys, write_yaml):
    path = write_yaml(TINY)
    out = tmp_path / "out"
    out.write_text("a file", encoding="utf-8")
    assert main(["run", str(path), "--out", str(out), "--quiet", "--force"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert out.read_text(encoding="utf-8") == "a file"


@pytest.mark.filterwarnings("always::coinnovation_sim.scenario.PlausibilityWarning")
def test_implausible_parameter_runs_with_one_warning(tmp_path, capsys, write_yaml):
    path = write_yaml({**TINY, "parameters": {"quit_rate": 0.2}})
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: ")
    assert "parameters.quit_rate" in lines[0] and "plausible" in lines[0]
    assert (out / "metrics.parquet").is_file()


# ---------------------------------------------------------------- other commands


def test_validate_reports_each_file(tmp_path, capsys, write_yaml):
    good = write_yaml({"name": "good"}, "good.yaml")
    bad = write_yaml({"name": "bad", "stpes": 3}, "bad.yaml")
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"ok: {good}: good"
    assert main(["validate", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out.strip() == f"ok: {good}: good"
    assert_one_error_line(captured.err, "bad.yaml", "stpes", "unknown key")


def test_validate_shipped_baseline(capsys):
    assert main(["validate", "baseline"]) == 0
    assert capsys.readouterr().out.startswith("ok: baseline")


def test_scenarios_lists_shipped_ones(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    first = {line.split()[0]: line for line in out.splitlines()}
    assert "baseline" in first
    assert "counterfactual" in first["baseline"]


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"coinnovation-sim {__version__}"


def _subcommands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


def test_expected_subcommands_exist():
    assert {"run", "validate", "scenarios"} <= set(_subcommands())


@pytest.mark.parametrize("command", [[], *([c] for c in _subcommands())],
                         ids=["main", *_subcommands()])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: coinnovation-sim" + "".join(f" {c}" for c in command))


# ---------------------------------------------------------------- real processes


def test_subprocess_error_is_one_line(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(cli_command("run", str(tmp_path / "nope.yaml"), "--out", str(out)),
                          capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: {tmp_path / 'nope.yaml'}: file not found"]
    assert proc.stdout == ""
    assert not out.exists()


def test_subprocess_implausible_value_warns_once(tmp_path):
    path = tmp_path / "implausible.yaml"
    path.write_text(yaml.safe_dump({**TINY, "steps": 1,
                                    "parameters": {"distance_decay_km": 5000.0}}), encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(cli_command("run", str(path), "--out", str(out), "--quiet"),
                          capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: "), lines
    assert "parameters.distance_decay_km" in lines[0]
    assert (out / "metrics.parquet").is_file()


def test_installed_entry_point(tmp_path):
    """The console script named in pyproject exists next to the interpreter and works."""
    script = Path(cli_command()[0]).parent / "coinnovation-sim"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"coinnovation-sim {__version__}"


def test_small_scenario_fixture_is_valid(capsys, write_yaml):
    assert main(["validate", str(write_yaml(SMALL_SCENARIO))]) == 0
