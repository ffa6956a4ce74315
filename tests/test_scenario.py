"""Scenario loading: schema, ``extends`` deep merge, shipped scenarios, parameters, mechanisms."""

from __future__ import annotations

import math

import pytest
import yaml

from coinnovation_sim import InputError, Scenario, load_scenario, run
from coinnovation_sim import parameters as P
from coinnovation_sim.mechanisms import REGISTRY
from coinnovation_sim.scenario import deep_merge, scenarios_dir
from helpers import BASELINE, SMALL_SCENARIO, metrics_bytes


def test_only_name_is_required():
    sc = load_scenario({"name": "minimal"})
    assert isinstance(sc, Scenario)
    assert sc.steps == 120 and sc.focus == "wujiang"
    assert sc.population.firms == 20_000
    assert sc.params() == P.defaults()
    assert not any(getattr(sc.mechanisms, m).enabled for m in type(sc.mechanisms).model_fields)


def test_shipped_baseline_loads_by_path_and_name():
    by_path = load_scenario(BASELINE)
    by_name = load_scenario("baseline")
    assert by_path.name == by_name.name == "baseline"
    assert by_path.digest() == by_name.digest()
    assert by_path.steps == 120 and by_path.population.firms == 20_000
    assert not any(getattr(by_path.mechanisms, m).enabled
                   for m in type(by_path.mechanisms).model_fields)
    assert scenarios_dir() is not None and (scenarios_dir() / "baseline.yaml").exists()


def test_deep_merge():
    base = {"a": 1, "b": {"c": 2, "d": {"e": 3, "f": 4}}, "g": [1, 2]}
    over = {"b": {"d": {"e": 30}, "x": 5}, "g": [9], "h": None}
    merged = deep_merge(base, over)
    assert merged == {"a": 1, "b": {"c": 2, "d": {"e": 30, "f": 4}, "x": 5}, "g": [9], "h": None}
    # the inputs are not modified
    assert base == {"a": 1, "b": {"c": 2, "d": {"e": 3, "f": 4}}, "g": [1, 2]}
    assert over == {"b": {"d": {"e": 30}, "x": 5}, "g": [9], "h": None}
    merged["b"]["c"] = 99
    assert base["b"]["c"] == 2  # no shared structure


def test_extends_deep_merges_files(tmp_path):
    (tmp_path / "grand.yaml").write_text(yaml.safe_dump({
        "name": "grand", "description": "grandparent", "seed": 1, "steps": 30,
        "parameters": {"quit_rate": 0.01, "hiring_speed": 0.05, "entry_rate": 0.002},
        "place_overrides": {"wujiang": {"research_strength": 20}},
    }), encoding="utf-8")
    (tmp_path / "parent.yaml").write_text(yaml.safe_dump({
        "name": "parent", "extends": "grand.yaml",
        "population": {"firms": 1500, "institutes": 60},
        "parameters": {"hiring_speed": 0.2},
        "mechanisms": {"vouchers": {"face_value_wan": 20.0}},
    }), encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "child.yaml").write_text(yaml.safe_dump({
        "name": "child", "extends": "../parent.yaml", "steps": 12,
        "population": {"firms": 1000},
        "parameters": {"quit_rate": 0.02},
        "place_overrides": {"wujiang": {"institutes": 9}},
    }), encoding="utf-8")
    sc = load_scenario(sub / "child.yaml")
    assert sc.name == "child"
    assert sc.description == ""  # name and description are not inherited
    assert sc.seed == 1 and sc.steps == 12
    assert sc.population.firms == 1000 and sc.population.institutes == 60
    assert sc.parameters == {"quit_rate": 0.02, "hiring_speed": 0.2, "entry_rate": 0.002}
    assert sc.place_overrides == {"wujiang": {"research_strength": 20, "institutes": 9}}
    assert sc.mechanisms.vouchers.face_value_wan == 20.0
    assert sc.params()["quit_rate"] == 0.02
    assert sc.params()["retirement_rate"] == P.PARAMS_BY_NAME["retirement_rate"].default


def test_mapping_extends_resolves_against_base_dir(tmp_path):
    (tmp_path / "parent.yaml").write_text("name: p\nsteps: 7\npopulation: {firms: 900}\n",
                                          encoding="utf-8")
    sc = load_scenario({"name": "m", "extends": "parent.yaml", "population": {"institutes": 5}},
                       base_dir=tmp_path)
    assert sc.steps == 7
    assert sc.population.firms == 900 and sc.population.institutes == 5
    with pytest.raises(InputError) as exc:
        load_scenario({"name": "m", "extends": "parent.yaml"}, base_dir=tmp_path / "elsewhere")
    assert exc.value.key == "extends"


def test_extends_the_shipped_baseline(small_scenario):
    sc = load_scenario({**small_scenario, "extends": str(BASELINE)})
    assert sc.name == "small" and sc.steps == 12
    assert sc.seed == small_scenario["seed"]
    del small_scenario["seed"]
    inherited = load_scenario({**small_scenario, "extends": str(BASELINE)})
    assert inherited.seed == load_scenario(BASELINE).seed
    assert inherited.description == "small test scenario"


def test_input_error_fields():
    with pytest.raises(InputError) as exc:
        load_scenario({"name": "x", "population": {"firms": 0}})
    err = exc.value
    assert err.source == "<scenario>"
    assert err.key == "population.firms"
    assert str(err).startswith("<scenario>: population.firms: ")
    assert "\n" not in str(err)


def test_load_scenario_is_idempotent_for_scenarios():
    sc = load_scenario({"name": "x"})
    assert load_scenario(sc) is sc


def test_digest_depends_on_content():
    a = load_scenario({"name": "x", "parameters": {"quit_rate": 0.01}})
    b = load_scenario({"name": "x", "parameters": {"quit_rate": 0.01}})
    c = load_scenario({"name": "x", "parameters": {"quit_rate": 0.02}})
    assert a.digest() == b.digest() != c.digest()
    # a parameter set to its default resolves to the same run as leaving it out
    d = load_scenario({"name": "x", "parameters": {"quit_rate": P.PARAMS_BY_NAME["quit_rate"].default}})
    assert d.resolved()["parameters"] == load_scenario({"name": "x"}).resolved()["parameters"]


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("spec", P.PARAMETERS, ids=[p.name for p in P.PARAMETERS])
def test_parameter_declarations_are_consistent(spec):
    lo, hi = spec.plausible
    assert spec.unit and spec.meaning and spec.source
    assert spec.lower <= lo <= hi <= spec.upper
    assert lo <= spec.default <= hi, "the default must be plausible"
    assert P.check_value(spec, spec.default) is None
    assert P.is_plausible(spec, spec.default)
    if spec.integer:
        assert float(spec.default).is_integer() and float(lo).is_integer()


def test_parameter_names_unique():
    names = [p.name for p in P.PARAMETERS]
    assert len(names) == len(set(names)) == len(P.PARAMS_BY_NAME)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "0.1", None, [0.1]])
def test_check_value_rejects_non_numbers(value):
    assert P.check_value(P.PARAMS_BY_NAME["quit_rate"], value) is not None


def test_check_value_bounds_and_integers():
    spec = P.PARAMS_BY_NAME["candidates_per_search"]
    assert P.check_value(spec, 3) is None
    assert P.check_value(spec, 3.0) is None
    assert P.check_value(spec, 3.5) is not None
    assert P.check_value(spec, spec.lower - 1) is not None
    assert P.check_value(spec, spec.upper + 1) is not None


def test_implausible_value_warns_but_loads():
    from coinnovation_sim.scenario import PlausibilityWarning

    with pytest.warns(PlausibilityWarning, match=r"parameters\.quit_rate"):
        sc = load_scenario({"name": "x", "parameters": {"quit_rate": 0.5}})
    assert sc.params()["quit_rate"] == 0.5


def test_plausible_value_does_not_warn():
    # pyproject turns every warning into an error: loading must stay silent
    load_scenario({"name": "x", "parameters": {"quit_rate": 0.02}})


# ---------------------------------------------------------------- mechanisms


MECHANISM_NAMES = ("coordination", "enclaves", "vouchers", "tech_market")


def test_mechanism_sections_exist():
    sc = load_scenario({"name": "x"})
    assert set(MECHANISM_NAMES) <= set(type(sc.mechanisms).model_fields)


@pytest.mark.parametrize("name", MECHANISM_NAMES)
def test_unimplemented_mechanism_is_refused(name, monkeypatch):
    """Enabling a mechanism that is not registered (implemented) is refused at validation."""
    monkeypatch.delitem(REGISTRY, name, raising=False)
    with pytest.raises(InputError) as exc:
        load_scenario({"name": "x", "mechanisms": {name: {"enabled": True}}})
    assert exc.value.key == f"mechanisms.{name}.enabled"
    assert "not implemented" in str(exc.value)


DISABLED_SECTIONS = {
    "coordination": {"enabled": False, "start": 2, "end": 5, "interval": 3, "members": ["demo_zone"]},
    "enclaves": {"enabled": False, "parks": [{"home": "wujiang", "host": "jiading", "capacity": 50}]},
    "vouchers": {"enabled": False, "face_value_wan": 5.0, "issuers": ["wujiang"],
                 "annual_budget_wan": 100.0},
    "tech_market": {"enabled": False, "fee_share": 0.2, "members": ["jkt"]},
}


def test_disabled_mechanisms_change_nothing(tmp_path):
    """``enabled: false`` with other keys runs byte-identically to no section at all."""
    plain = run(dict(SMALL_SCENARIO))
    with_sections = run({**SMALL_SCENARIO, "mechanisms": DISABLED_SECTIONS})
    assert with_sections.model.mechanisms == []
    a = metrics_bytes(plain, tmp_path, "plain.parquet")
    b = metrics_bytes(with_sections, tmp_path, "sections.parquet")
    assert a == b
    assert plain.flows.equals(with_sections.flows)
    assert plain.ledger.equals(with_sections.ledger)
