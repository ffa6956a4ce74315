"""The model object: Mesa agents as handles, populations, random streams, edge-case runs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from coinnovation_sim import CoinnovationModel, InputError, RunResult, demography, metrics, run
from coinnovation_sim.agents import CityGovernment, Firm, ResearchInstitute
from helpers import SMALL_SCENARIO


@pytest.fixture
def fresh_model() -> CoinnovationModel:
    return CoinnovationModel(dict(SMALL_SCENARIO))


def test_agents_by_type(fresh_model):
    model = fresh_model
    by_type = model.agents_by_type
    assert len(by_type[CityGovernment]) == model.n_places == 16
    assert len(by_type[Firm]) == SMALL_SCENARIO["population"]["firms"]
    assert len(by_type[ResearchInstitute]) == SMALL_SCENARIO["population"]["institutes"]
    govs = sorted(by_type[CityGovernment], key=lambda g: g.place)
    assert [g.place_id for g in govs] == model.places.ids
    assert len(model.agents) == 16 + 1500 + 60


def test_agents_are_handles_onto_arrays(fresh_model):
    model = fresh_model
    firms = list(model.agents_by_type[Firm])
    for agent in firms[:50]:
        s = agent.slot
        assert agent.talent == model.firms.talent[s]
        assert agent.capital == model.firms.capital[s]
        np.testing.assert_array_equal(agent.knowledge, model.firms.knowledge[s])
        assert agent.place_id == model.places.ids[model.firms.place[s]]
        assert agent.weight == model.firm_weight()[s]
        assert agent.alive
    agent = firms[0]
    model.firms.talent[agent.slot] = 123.25
    assert agent.talent == 123.25  # reads the array, no copy
    inst = next(iter(model.agents_by_type[ResearchInstitute]))
    assert inst.researchers == model.institutes.researchers[inst.slot]
    np.testing.assert_array_equal(inst.knowledge, model.institutes.knowledge[inst.slot])


def test_agents_follow_the_arrays_during_a_run():
    result = run({**SMALL_SCENARIO, "steps": 24, "parameters": {"exit_months": 3}}, seed=2)
    model = result.model
    f = model.firms
    firms = list(model.agents_by_type[Firm])
    assert len(firms) == int(f.alive.sum())
    assert all(a.alive for a in firms)
    assert sorted(a.slot for a in firms) == np.flatnonzero(f.alive).tolist()
    for agent in firms:
        assert agent.talent == f.talent[agent.slot]
        assert agent.firm_id == f.firm_id[agent.slot]


def test_weights_reproduce_real_firm_counts(fresh_model):
    model = fresh_model
    alive = model.firms.alive
    real = np.bincount(model.firms.place[alive], weights=model.firm_weight()[alive],
                       minlength=model.n_places)
    np.testing.assert_allclose(real, model.places.column("innovative_firms"), rtol=1e-12)
    agents = np.bincount(model.firms.place[alive], minlength=model.n_places)
    assert agents.sum() == 1500 and (agents > 0).all()
    inst_real = np.bincount(model.institutes.place, weights=model.inst_weight(),
                            minlength=model.n_places)
    np.testing.assert_allclose(inst_real, model.places.column("institutes"), rtol=1e-12)


def test_random_streams_are_independent(fresh_model):
    a1 = fresh_model.stream("a").random(8)
    other = CoinnovationModel(dict(SMALL_SCENARIO))
    other.stream("b").random(100)
    a2 = other.stream("a").random(8)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, fresh_model.stream("b").random(8))
    np.testing.assert_array_equal(fresh_model.stream("a").random(8), a1)  # a new generator each time
    reseeded = CoinnovationModel(dict(SMALL_SCENARIO), seed=SMALL_SCENARIO["seed"] + 1)
    assert not np.array_equal(reseeded.stream("a").random(8), a1)


def test_zero_steps_run(tmp_path, small_scenario):
    result = run(small_scenario, steps=0)
    assert isinstance(result, RunResult)
    assert len(result.metrics) == 0 and "month" in result.metrics.columns
    assert len(result.flows) == 0 and len(result.ledger) == 0
    assert result.model.steps == 0
    out = result.save(tmp_path / "run")
    assert len(pd.read_parquet(out / "metrics.parquet")) == 0
    small_scenario["steps"] = 0
    assert len(run(small_scenario).metrics) == 0


def test_steps_argument_overrides_scenario(small_scenario):
    result = run(small_scenario, steps=3)
    assert result.metrics.index.tolist() == [0, 1, 2]
    assert result.metrics["month"].tolist() == ["2020-01", "2020-02", "2020-03"]


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"steps": -1}, "steps"),
    ({"steps": 1201}, "steps"), ({"steps": "3"}, "steps"),
])
def test_run_rejects_bad_arguments(small_scenario, kwargs, key):
    with pytest.raises(InputError) as exc:
        run(small_scenario, **kwargs)
    assert exc.value.key == key


def test_result_save_and_manifest(tmp_path, small_result):
    out = small_result.save(tmp_path / "run")
    manifest = small_result.manifest()
    assert manifest["seed"] == SMALL_SCENARIO["seed"]
    assert manifest["steps"] == SMALL_SCENARIO["steps"]
    assert len(manifest["scenario_sha256"]) == 64
    assert manifest["scenario"]["population"]["firms"] == 1500
    for name in manifest["files"] + ["manifest.json"]:
        assert (out / name).is_file(), name
    with pytest.raises(InputError):
        small_result.save(out)
    small_result.save(out, force=True)
    back = pd.read_parquet(out / "metrics.parquet")
    pd.testing.assert_frame_equal(back, small_result.metrics, check_exact=True)
    flows = pd.read_parquet(out / "flows.parquet")
    assert list(flows.columns)[:7] == ["step", "factor", "channel", "origin", "destination",
                                       "amount", "unit"]
    graph = nx.read_graphml(out / "place_graph.graphml")
    assert graph.number_of_nodes() == 16


def test_metrics_columns(small_result):
    cols = set(small_result.metrics.columns)
    required = {"wujiang_integration_index", "wujiang_cross_share_talent",
                "wujiang_cross_share_technology", "wujiang_cross_share_capital",
                "wujiang_pagerank", "theil_knowledge", "policy_cost_wan", "wujiang_knowledge",
                "wujiang_net_talent_inflow"}
    assert required <= cols
    assert small_result.metrics.index.name == "step"
    assert (small_result.metrics["policy_cost_wan"] == 0).all()  # baseline: nobody spends


def test_focus_renames_columns(small_scenario):
    small_scenario["focus"] = "kunshan"
    m = run(small_scenario, steps=2).metrics
    assert "kunshan_integration_index" in m.columns
    assert not any(c.startswith("wujiang_") for c in m.columns)


def test_flows_are_summed_per_step_and_pair(small_result):
    flows = small_result.flows
    keys = ["step", "factor", "channel", "origin", "destination"]
    assert not flows.duplicated(keys).any()
    assert flows["step"].between(0, SMALL_SCENARIO["steps"] - 1).all()
    assert set(flows["factor"]) == {"talent", "technology", "capital"}
    units = flows.groupby("factor")["unit"].unique()
    assert list(units["talent"]) == ["person-months"]
    assert list(units["capital"]) == ["万元"] and list(units["technology"]) == ["万元"]


def test_single_agent_per_place_population_runs():
    result = run({"name": "sixteen", "steps": 12, "population": {"firms": 16, "institutes": 0}},
                 seed=1)
    assert len(result.metrics) == 12
    assert np.isfinite(result.metrics.drop(columns="month").to_numpy(float)).all()


def test_one_firm_population_runs():
    result = run({"name": "one", "steps": 12, "population": {"firms": 1, "institutes": 0}}, seed=0)
    assert len(result.metrics) == 12
    assert len(result.model.agents_by_type[Firm]) == int(result.model.firms.alive.sum())


def test_one_firm_population_builds():
    model = CoinnovationModel({"name": "one", "steps": 1, "population": {"firms": 1, "institutes": 0}})
    assert int(model.firms.alive.sum()) == 1
    assert len(model.agents_by_type[Firm]) == 1
    agent = next(iter(model.agents_by_type[Firm]))
    # the single agent goes to the place with the most real firms, and stands for all of them
    assert agent.place_id == "shanghai"
    assert agent.weight == model.places.column("innovative_firms")[model.places.index("shanghai")]


def _pagerank_on(flows: np.ndarray) -> np.ndarray:
    model = CoinnovationModel(dict(SMALL_SCENARIO), steps=1)
    model.book.begin(0)
    model.book.add_matrix("hire", flows)
    return metrics.pagerank(model, 0)


def star_network(p: int = 16, hub: int = 7) -> np.ndarray:
    m = np.zeros((p, p))
    m[hub, :] = 1.0
    m[:, hub] = 1.0
    m[hub, hub] = 0.0
    return m


def test_pagerank_simple_network():
    m = np.zeros((16, 16))
    m[np.arange(16), (np.arange(16) + 1) % 16] = 1.0  # a ring: all ranks equal
    pr = _pagerank_on(m)
    np.testing.assert_allclose(pr, 1 / 16, rtol=1e-6)
    pr = _pagerank_on(np.zeros((16, 16)))
    np.testing.assert_allclose(pr, 1 / 16)


def test_pagerank_converges_on_a_star_network():
    """Regression: with tol=1e-10 and networkx's default max_iter=100, PageRank raised
    PowerIterationFailedConvergence on slowly converging networks (star/bipartite or strongly
    clustered, second eigenvalue near +-0.85) and crashed the run."""
    pr = _pagerank_on(star_network())
    assert pr.sum() == pytest.approx(1.0)
    assert pr.argmax() == 7


@pytest.mark.filterwarnings("ignore::coinnovation_sim.scenario.PlausibilityWarning")
def test_pagerank_converges_on_short_decay_runs():
    """A valid (implausible) decay length of 1 km: flows stay nearly inside places."""
    run({**SMALL_SCENARIO, "population": {"firms": 300, "institutes": 20},
         "parameters": {"distance_decay_km": 1.0}}, seed=1)


@pytest.mark.filterwarnings("ignore::coinnovation_sim.scenario.PlausibilityWarning")
def test_entry_is_bounded_by_free_slots():
    model = CoinnovationModel({**SMALL_SCENARIO, "parameters": {"entry_rate": 0.2}})
    f = model.firms
    rng = model.stream("test")
    n_slots = f.n
    for _ in range(12):
        free_before = np.flatnonzero(~f.alive)
        born = demography.entries(model, rng)
        assert born.size <= free_before.size
        assert set(born.tolist()) <= set(free_before.tolist())  # only free slots are filled
        assert f.alive[born].all()
        assert f.n == n_slots  # the population is bounded by the slots
    assert f.alive.all()  # births (about 20 % a month) have used up every free slot


@pytest.mark.filterwarnings("ignore::coinnovation_sim.scenario.PlausibilityWarning")
def test_entry_places_do_not_depend_on_table_order():
    """When more firms are born than slots are free, the entrants are not picked in row order.

    Regression: entries() used to keep the first n of np.repeat(arange(P), births), so entrants
    filled the places in table order (wujiang, qingpu, ...) and the last rows got none.
    """
    model = CoinnovationModel({**SMALL_SCENARIO, "population": {"firms": 2000, "institutes": 60},
                               "parameters": {"entry_rate": 0.2}})
    f = model.firms
    f.alive[np.arange(0, 2000, 20)] = False  # 100 exits spread over all places
    rng = model.stream("entries-test")
    for _ in range(10):
        free_before = int((~f.alive).sum())
        born = demography.entries(model, rng)
        if free_before > 0 and born.size == free_before:
            break  # births exceeded the free slots: the truncation path was taken
    else:
        pytest.fail("births never exceeded the free slots")
    assert born.size >= 100
    places = {model.places.ids[p] for p in f.place[born]}
    # about 15 % of births are due in the last four rows of the table; with >= 100 entrants a
    # fair draw misses all four with probability < 1e-7
    assert places & {"jinhua", "xuancheng", "wuhu", "hefei"}, sorted(places)
    assert len(places) >= 8, sorted(places)


def test_zero_barriers_give_observed_equal_to_border_free(small_scenario):
    """With phi == phi_free, S_free equals S for the unsampled channels (index 1)."""
    small_scenario["parameters"] = {"barrier_place": 0.0, "barrier_city": 0.0,
                                    "barrier_province": 0.0}
    m = run(small_scenario, seed=3).metrics
    for factor in ("talent", "capital"):  # channels without sampling noise
        np.testing.assert_allclose(m[f"wujiang_cross_share_{factor}"],
                                   m[f"wujiang_free_share_{factor}"], rtol=1e-9)


def test_barriers_lower_cross_boundary_shares(small_scenario):
    """Higher administrative barriers mean less cross-boundary flow (same seed)."""
    open_ = run({**small_scenario, "parameters": {"barrier_place": 0.0, "barrier_city": 0.0,
                                                  "barrier_province": 0.0}}, seed=3).metrics
    closed = run({**small_scenario, "parameters": {"barrier_place": 0.5, "barrier_city": 0.7,
                                                   "barrier_province": 0.8}}, seed=3).metrics
    for factor in ("talent", "technology", "capital"):
        col = f"region_cross_share_{factor}"
        assert closed[col].mean() < open_[col].mean(), col
    assert closed["wujiang_integration_index"].mean() < open_["wujiang_integration_index"].mean()
