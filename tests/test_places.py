"""The place table, distances, boundary levels, groups, the place graph and place replacements."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import yaml

from coinnovation_sim import CoinnovationModel, InputError, load_scenario, run
from coinnovation_sim.places import (
    LEVELS,
    MIX_COLUMNS,
    REQUIRED_COLUMNS,
    PlaceData,
    haversine_km,
    read_place_table,
)

EXPECTED_IDS = {"wujiang", "qingpu", "jiashan", "jiading", "kunshan", "taicang", "songjiang",
                "shanghai", "suzhou", "jiaxing", "hangzhou", "huzhou", "jinhua", "xuancheng",
                "wuhu", "hefei"}


@pytest.fixture(scope="module")
def places() -> PlaceData:
    return PlaceData(read_place_table())


def distance(places: PlaceData, a: str, b: str) -> float:
    return float(places.distance_km[places.index(a), places.index(b)])


def level(places: PlaceData, a: str, b: str) -> str:
    return LEVELS[int(places.level[places.index(a), places.index(b)])]


def test_shipped_table_has_sixteen_places(places):
    table = places.table
    assert len(table) == 16
    assert set(places.ids) == EXPECTED_IDS
    assert set(REQUIRED_COLUMNS) <= set(table.columns)
    assert table["id"].is_unique
    assert (table["innovative_firms"] > 0).all()
    assert table["source"].str.len().gt(0).all()
    assert table["source"].str.contains("estimate").any(), "estimates must be labelled"
    assert table["name_zh"].str.len().gt(0).all() and table["name_en"].str.len().gt(0).all()
    np.testing.assert_allclose(places.mix.sum(axis=1), 1.0)
    assert (table[list(MIX_COLUMNS)] >= 0).all().all()


@pytest.mark.parametrize(("a", "b", "km", "tol"), [
    ("wujiang", "suzhou", 15, 5),
    ("wujiang", "qingpu", 47, 5),
    ("wujiang", "shanghai", 80, 8),
    ("shanghai", "hefei", 400, 25),
])
def test_facts_sanity_distances(places, a, b, km, tol):
    assert abs(distance(places, a, b) - km) <= tol
    assert distance(places, a, b) == pytest.approx(distance(places, b, a))


def test_distance_matrix_properties(places):
    d = places.distance_km
    assert d.shape == (16, 16)
    np.testing.assert_allclose(np.diag(d), 0.0)
    np.testing.assert_allclose(d, d.T)
    off = d[~np.eye(16, dtype=bool)]
    assert (off > 0).all()
    # triangle inequality (great-circle distances are a metric)
    assert (d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-9).all()


def test_haversine_known_values():
    # one degree of latitude along a meridian is about 111.2 km
    d = haversine_km(np.array([0.0, 1.0]), np.array([0.0, 0.0]))
    assert d[0, 1] == pytest.approx(111.19, abs=0.05)
    # antipodes: half the circumference
    d = haversine_km(np.array([0.0, 0.0]), np.array([0.0, 180.0]))
    assert d[0, 1] == pytest.approx(np.pi * 6371.0, rel=1e-9)


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("wujiang", "suzhou", "cross-place"),
    ("wujiang", "kunshan", "cross-place"),
    ("jiashan", "jiaxing", "cross-place"),
    ("songjiang", "shanghai", "cross-place"),
    ("qingpu", "jiading", "cross-place"),
    ("jiashan", "huzhou", "cross-city"),
    ("hangzhou", "jiaxing", "cross-city"),
    ("wuhu", "hefei", "cross-city"),
    ("wujiang", "qingpu", "cross-province"),
    ("wujiang", "jiashan", "cross-province"),
    ("kunshan", "jiading", "cross-province"),
    ("shanghai", "hefei", "cross-province"),
])
def test_boundary_levels(places, a, b, expected):
    assert level(places, a, b) == expected
    assert level(places, b, a) == expected


def test_levels_diagonal_and_symmetry(places):
    assert (np.diag(places.level) == 0).all()
    assert (places.level == places.level.T).all()
    off = places.level[~np.eye(16, dtype=bool)]
    assert (off >= 1).all()


def test_groups(places):
    names = lambda g: {places.ids[i] for i in places.groups[g]}  # noqa: E731
    assert names("demo_zone") == {"wujiang", "qingpu", "jiashan"}
    assert names("jkt") == {"jiading", "kunshan", "taicang"}
    g60 = names("g60")
    assert {"wujiang", "songjiang", "hefei", "hangzhou", "jiashan"} <= g60
    assert "shanghai" not in g60 and "qingpu" not in g60
    assert places.resolve(["demo_zone", "hefei"]) == sorted(
        places.index(p) for p in ("wujiang", "qingpu", "jiashan", "hefei"))
    with pytest.raises(KeyError):
        places.resolve(["atlantis"])


# ---------------------------------------------------------------- place graph


@pytest.fixture(scope="module")
def tiny_model() -> CoinnovationModel:
    return CoinnovationModel({"name": "graph", "steps": 1,
                              "population": {"firms": 300, "institutes": 10}})


def test_place_graph_nodes_and_edges(tiny_model):
    g = tiny_model.place_graph
    places = tiny_model.places
    assert isinstance(g, nx.Graph)
    assert set(g.nodes) == EXPECTED_IDS
    assert g.number_of_edges() == 16 * 15 // 2
    for node, data in g.nodes(data=True):
        row = places.table.set_index("id").loc[node]
        assert data["lat"] == pytest.approx(row["lat"])
        assert data["lon"] == pytest.approx(row["lon"])
        assert data["research_strength"] == pytest.approx(row["research_strength"])
        assert data["province"] == row["province"]
    for a, b, data in g.edges(data=True):
        assert data["distance_km"] == pytest.approx(distance(places, a, b))
        assert data["level"] == level(places, a, b)
        assert data["level"] in LEVELS[1:]
    assert g.edges["wujiang", "qingpu"]["level"] == "cross-province"


def test_place_graph_exports_to_graphml(tiny_model, tmp_path):
    path = tmp_path / "places.graphml"
    nx.write_graphml(tiny_model.place_graph, path)
    back = nx.read_graphml(path)
    assert set(back.nodes) == EXPECTED_IDS
    assert back.nodes["wujiang"]["lat"] == pytest.approx(31.17)
    assert back.nodes["wujiang"]["name_zh"] == "吴江区"
    edge = back.edges["wujiang", "suzhou"]
    assert edge["level"] == "cross-place"
    assert edge["distance_km"] == pytest.approx(distance(tiny_model.places, "wujiang", "suzhou"))


# ---------------------------------------------------------------- overrides and replacement


def test_place_override_changes_value_and_model():
    sc = load_scenario({"name": "o", "place_overrides": {"wujiang": {"research_strength": 50,
                                                                     "innovative_firms": 2600}}})
    data = sc.place_data()
    row = data.table.set_index("id").loc["wujiang"]
    assert row["research_strength"] == 50.0
    assert row["innovative_firms"] == 2600.0
    base = PlaceData(read_place_table()).table.set_index("id")
    other = data.table.set_index("id").drop(index="wujiang")
    pd.testing.assert_frame_equal(other, base.drop(index="wujiang"))
    model = CoinnovationModel(sc, steps=1)
    assert model.place_graph.nodes["wujiang"]["research_strength"] == 50.0
    alive = model.firms.alive
    real = np.bincount(model.firms.place[alive], weights=model.firm_weight()[alive], minlength=16)
    assert real[model.places.index("wujiang")] == pytest.approx(2600.0)


def test_place_override_moves_a_place(tmp_path):
    sc = load_scenario({"name": "o", "place_overrides": {"wujiang": {"lat": 31.85, "lon": 117.27}}})
    assert distance(sc.place_data(), "wujiang", "hefei") == pytest.approx(0.0, abs=1e-6)


def write_three_place_table(folder: Path, groups: bool = True) -> Path:
    table = read_place_table()
    small = table[table["id"].isin(["wujiang", "qingpu", "suzhou"])].copy()
    if not groups:
        small["groups"] = ""
    small.loc[small["id"] == "wujiang", "innovative_firms"] = 500
    path = folder / "three.csv"
    small.to_csv(path, index=False)
    return path


def test_replacement_place_table(tmp_path):
    write_three_place_table(tmp_path)
    scenario = tmp_path / "three.yaml"
    scenario.write_text(yaml.safe_dump({"name": "three", "places": "three.csv", "steps": 6,
                                        "population": {"firms": 300, "institutes": 10}}),
                        encoding="utf-8")
    result = run(scenario)
    model = result.model
    assert model.places.ids == ["wujiang", "qingpu", "suzhou"]
    assert set(model.place_graph.nodes) == {"wujiang", "qingpu", "suzhou"}
    assert set(result.flows["origin"]) | set(result.flows["destination"]) <= set(model.places.ids)
    assert len(model.agents_by_type[type(model.governments[0])]) == 3
    assert len(result.metrics) == 6
    assert np.isfinite(result.metrics.drop(columns="month").to_numpy(float)).all()
    first = result.metrics.iloc[0]
    assert first["wujiang_firms_real"] == pytest.approx(500.0, rel=0.05)  # after one month of churn
    assert first["firms_real"] == pytest.approx(500.0 + 1300.0 + 5600.0, rel=0.05)
    start = CoinnovationModel(scenario, steps=0)
    alive = start.firms.alive
    real = np.bincount(start.firms.place[alive], weights=start.firm_weight()[alive], minlength=3)
    np.testing.assert_allclose(real, [500.0, 1300.0, 5600.0])


def test_replacement_place_table_without_groups(tmp_path):
    """Defaults of switched-off mechanisms may name groups a replacement table lacks."""
    write_three_place_table(tmp_path, groups=False)
    sc = load_scenario({"name": "three", "places": "three.csv", "steps": 2,
                        "population": {"firms": 100, "institutes": 5}}, base_dir=tmp_path)
    assert sc.place_data().ids == ["wujiang", "qingpu", "suzhou"]


def test_replacement_table_focus_must_exist(tmp_path):
    write_three_place_table(tmp_path)
    with pytest.raises(InputError) as exc:
        load_scenario({"name": "x", "places": "three.csv", "focus": "hefei"}, base_dir=tmp_path)
    assert exc.value.key == "focus"


@pytest.mark.parametrize(("edit", "key"), [
    (lambda t: t.drop(columns="lat"), "lat"),
    (lambda t: t.assign(innovative_firms=-1), "innovative_firms"),
    (lambda t: t.assign(lat="north"), "lat"),
    (lambda t: t.assign(id=["a", "a", "b"]), "a.id"),
    (lambda t: t.assign(id=["Wujiang", "b", "c"]), "row 1.id"),
    (lambda t: t.assign(**{c: 0.0 for c in MIX_COLUMNS}), "mix_*"),
    (lambda t: t.iloc[0:0], "places"),
], ids=["missing-column", "negative", "not-a-number", "duplicate-id", "bad-id", "zero-mix",
        "no-rows"])
def test_invalid_place_tables_are_input_errors(tmp_path, edit, key):
    path = write_three_place_table(tmp_path)
    table = pd.read_csv(path, keep_default_na=False)
    edit(table).to_csv(path, index=False)
    with pytest.raises(InputError) as exc:
        load_scenario({"name": "x", "places": "three.csv", "focus": "suzhou"}, base_dir=tmp_path)
    assert str(path) in str(exc.value)
    assert key in exc.value.key
    assert "\n" not in str(exc.value)


def test_place_table_not_utf8(tmp_path):
    path = write_three_place_table(tmp_path)
    path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    with pytest.raises(InputError) as exc:
        load_scenario({"name": "x", "places": "three.csv"}, base_dir=tmp_path)
    assert "UTF-8" in str(exc.value)
