"""The compiled metrics kernels give numpy's results bit for bit.

Each kernel of :mod:`coinnovation_sim.metrics` (and of the flow book and the coordination
mechanism) is compared with the numpy code it replaces — the same values, the same bits — on
random inputs with zeros, negative zeros, NaN where the code meets NaN (the ``free`` stack of
unset channels) and place counts other than 16, and on the flows of a model run.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import reference_kernels
from coinnovation_sim import kernels, metrics
from coinnovation_sim.flows import FACTORS, Account, Channel, FlowBook
from coinnovation_sim.model import CoinnovationModel
from coinnovation_sim.places import LEVELS
from helpers import SCENARIOS, SMALL_SCENARIO


def place_knowledge(model):
    """Reference (numpy): mean total knowledge per real firm and real firms, per place."""
    f = model.firms
    w = np.where(f.alive, model.firm_weight(), 0.0)
    n = np.bincount(f.place, weights=w, minlength=model.n_places)
    k = np.bincount(f.place, weights=w * kernels.row_sums(f.knowledge), minlength=model.n_places)
    return np.divide(k, n, out=np.zeros_like(k), where=n > 0), n


def level_shares(model, t, place):
    """Reference (numpy): share of a place's flows crossing each boundary level, per factor."""
    out = {}
    lv = model.places.level
    for factor in FACTORS:
        m = model.book.factor_matrix(t, factor)
        involved = m[place, :] + m[:, place]
        involved[place] = m[place, place]
        tot = involved.sum()
        for li in range(1, len(LEVELS)):
            mask = lv[place] == li
            out[(factor, LEVELS[li])] = float(involved[mask].sum() / tot) if tot > 0 else 0.0
    return out

def bits(x: object) -> bytes:
    """Bytes of a float or an array of floats (so that -0.0 ≠ 0.0 and NaN = NaN)."""
    return np.asarray(x, np.float64).tobytes()


def same_rows(a: dict, b: dict) -> bool:
    """Whether two metric rows have the same keys in the same order and the same bits."""
    return list(a) == list(b) and all(bits(a[k]) == bits(b[k]) for k in a)


def reference_collect(model, t: int) -> tuple[dict[str, float], list[tuple]]:
    """:func:`metrics.collect` as it was written with numpy (the reference)."""
    fp = model.focus
    fid = model.places.ids[fp]
    ids = model.places.ids
    levels = ("cross-city", "cross-province")
    sh, *sh_levels = metrics.shares_by_mask(
        model, t, [None] + [model.places.level >= LEVELS.index(level) for level in levels])
    idx = np.mean([metrics.integration(*sh[f]) for f in FACTORS], axis=0)
    pr = metrics.pagerank(model, t)
    row: dict[str, float] = {f"{fid}_integration_index": float(idx[fp])}
    for f in FACTORS:
        row[f"{fid}_cross_share_{f}"] = float(sh[f][0][fp])
    for f in FACTORS:
        row[f"{fid}_free_share_{f}"] = float(sh[f][1][fp])
    for level, sh_l in zip(levels, sh_levels, strict=True):
        row[f"{fid}_integration_index_{level.replace('-', '_')}"] = float(
            np.mean([metrics.integration(*sh_l[f])[fp] for f in FACTORS]))
    row[f"{fid}_pagerank"] = float(pr[fp])
    x, n = place_knowledge(model)
    mu = (x * n).sum() / n.sum() if n.sum() > 0 else 0.0
    row["theil_knowledge"] = metrics.theil(x, n)
    row[f"{fid}_knowledge"] = float(x[fp] / mu) if mu > 0 else 0.0
    row["region_knowledge_per_firm"] = float(mu)
    hires = model.book.factor_matrix(t, "talent")
    row[f"{fid}_net_talent_inflow"] = float(hires[:, fp].sum() - hires[fp, :].sum())
    row["policy_cost_wan"] = float(model.policy_cost[t].sum())
    row["region_integration_index"] = float(idx[n > 0].mean()) if (n > 0).any() else 0.0
    for f in FACTORS:
        m = model.book.factor_matrix(t, f)
        total = m.sum()
        share = (total - np.trace(m)) / total if total > 0 else 0.0
        row[f"region_cross_share_{f}"] = float(min(1.0, max(0.0, share)))
    row["firms_real"] = float(n.sum())
    row[f"{fid}_firms_real"] = float(n[fp])
    row["talent_stock"] = model.talent_stock()
    row["capital_stock_wan"] = model.capital_stock()
    long_rows: list[tuple] = [
        (t, fid, "cross_share", factor, level, value)
        for (factor, level), value in level_shares(model, t, fp).items()
    ]
    for p, pid in enumerate(ids):
        long_rows.append((t, pid, "integration_index", "all", "all", float(idx[p])))
        long_rows.append((t, pid, "pagerank", "all", "all", float(pr[p])))
        for f in FACTORS:
            long_rows.append((t, pid, "cross_share", f, "all", float(sh[f][0][p])))
    return row, long_rows


def new_long_rows(model, t: int, values: np.ndarray) -> list[tuple]:
    return [(t, *key, v) for key, v in zip(metrics.long_keys(model), values.tolist(), strict=True)]


def assert_collect_equal(model, t: int) -> None:
    with np.errstate(over="ignore", invalid="ignore"):  # infinite border-free expectations
        row, long_values = metrics.collect(model, t)
        ref_row, ref_long = reference_collect(model, t)
    assert same_rows(row, ref_row)
    new_long = new_long_rows(model, t, long_values)
    assert [r[:5] for r in new_long] == [r[:5] for r in ref_long]
    assert bits([r[5] for r in new_long]) == bits([r[5] for r in ref_long])


def sprinkle(rng: np.random.Generator, a: np.ndarray, share: float, value: float) -> None:
    """Set a random share of the entries of ``a`` to ``value`` (in place)."""
    a[rng.random(a.shape) < share] = value


class StubModel:
    """Just what :func:`metrics.collect` reads, filled at random."""

    def __init__(self, rng: np.random.Generator, p: int, firms: int = 300,
                 empty_factor: bool = False, odd_free: bool = True) -> None:
        n_ch = int(rng.integers(1, 10))
        factors = [FACTORS[i] for i in rng.integers(0, 3, n_ch)]
        if empty_factor:
            factors = [f for f in factors if f != "capital"] or ["talent"]
        channels = tuple(Channel(f, f"c{i}", bool(rng.random() < 0.7))
                         for i, f in enumerate(factors))
        self.n_places = p
        self.book = FlowBook(p, 2, channels, ())
        for t in range(2):
            fl = rng.exponential(1.0, (len(channels), p, p)) * (rng.random((len(channels), p, p))
                                                                 < rng.uniform(0.05, 1.0))
            sprinkle(rng, fl, 0.05, -0.0)
            if rng.random() < 0.2:
                fl[:, :, int(rng.integers(p))] = 0.0
            self.book.flows[t] = fl
            for c, ch in enumerate(channels):
                if ch.chosen and rng.random() < 0.8:
                    fr = rng.exponential(1.0, (p, p)) * (rng.random((p, p)) < 0.7)
                    if odd_free:
                        sprinkle(rng, fr, 0.05, np.nan)
                        sprinkle(rng, fr, 0.02, np.inf)
                        sprinkle(rng, fr, 0.05, -0.0)
                    self.book.free[t, c] = fr
        level = rng.integers(1, 4, (p, p)).astype(np.int8)
        level = np.minimum(level, level.T)
        np.fill_diagonal(level, 0)
        self.places = SimpleNamespace(level=level, ids=[f"p{i}" for i in range(p)], n=p)
        self.focus = int(rng.integers(p))
        alive = rng.random(firms) < 0.8
        place = np.sort(rng.integers(0, p, firms))
        if rng.random() < 0.5:
            rng.shuffle(place)
        k = rng.gamma(1.0, 1.0, (firms, 8))
        k[rng.random(firms) < 0.1] = 0.0
        self.firms = SimpleNamespace(alive=alive, place=place, knowledge=k,
                                     talent=rng.exponential(3.0, firms),
                                     capital=rng.normal(10.0, 30.0, firms))
        self.weight = rng.uniform(0.5, 3.0, firms)
        self.talent_pool = rng.exponential(50.0, p)
        self.capital_pool = rng.exponential(500.0, p)
        self.policy_cost = rng.exponential(10.0, (2, p)) * (rng.random((2, p)) < 0.5)

    def firm_weight(self) -> np.ndarray:
        return self.weight

    def keep_knowledge_totals(self, kappa: np.ndarray) -> None:
        assert bits(kappa) == bits(kernels.row_sums(self.firms.knowledge))

    talent_stock = CoinnovationModel.talent_stock
    capital_stock = CoinnovationModel.capital_stock


@pytest.mark.parametrize("seed", range(6))
def test_collect_equals_numpy_on_random_books(seed):
    rng = np.random.default_rng(seed)
    for p in (1, 2, 5, 16, 23):
        model = StubModel(rng, p, empty_factor=seed % 3 == 0, odd_free=seed % 2 == 0)
        for t in range(2):
            assert_collect_equal(model, t)


def test_collect_equals_numpy_on_a_model_run():
    model = CoinnovationModel({**SMALL_SCENARIO, "extends": str(SCENARIOS / "all-mechanisms.yaml")},
                              steps=8)
    model.run()
    for t in range(8):
        assert_collect_equal(model, t)
    assert model.long_rows[-len(metrics.long_keys(model)):] == new_long_rows(
        model, 7, metrics.collect(model, 7)[1])


@pytest.mark.parametrize("seed", range(4))
def test_flow_shares_equal_shares_by_mask(seed):
    rng = np.random.default_rng(100 + seed)
    for p in (1, 3, 16, 20):
        model = StubModel(rng, p)
        book = model.book
        thresholds = np.array([2, 3], np.int64)
        masks = [None] + [model.places.level >= th for th in thresholds]
        with np.errstate(over="ignore", invalid="ignore"):
            ref = metrics.shares_by_mask(model, 0, masks)
            s_obs, s_free = metrics.flow_shares(book.flows[0], book.free[0], book.chosen,
                                                book.factor_index, len(FACTORS),
                                                model.places.level, thresholds)
        for m in range(len(masks)):
            for i, f in enumerate(FACTORS):
                assert bits(s_obs[m, i]) == bits(ref[m][f][0])
                assert bits(s_free[m, i]) == bits(ref[m][f][1])


def test_factor_matrices_and_network_equal_numpy():
    rng = np.random.default_rng(7)
    for p in (1, 4, 16, 19):
        model = StubModel(rng, p, empty_factor=p == 4)
        book = model.book
        fm = metrics.factor_matrices(book.flows[1], book.factor_index, len(FACTORS))
        for i, f in enumerate(FACTORS):
            assert bits(fm[i]) == bits(book.factor_matrix(1, f))
        assert bits(metrics.combined_network(fm)) == bits(metrics.flow_network(model, 1))


def random_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    w = rng.random((n, n)) * np.exp(rng.normal(0.0, 3.0, (n, n)))
    w *= rng.random((n, n)) < rng.uniform(0.05, 1.0)
    if n > 2 and rng.random() < 0.4:  # dangling nodes
        w[rng.integers(n, size=int(rng.integers(1, n)))] = 0.0
    sprinkle(rng, w, 0.05, -0.0)
    return w


def test_pagerank_weights_equal_the_numpy_row_scaling():
    rng = np.random.default_rng(8)
    for _ in range(300):
        w = random_weights(rng, int(rng.integers(1, 40)))
        a, dangling = metrics.pagerank_weights(w)
        ref_a, ref_dangling = metrics.row_stochastic(w)
        assert bits(a) == bits(ref_a)
        assert np.array_equal(dangling, ref_dangling)


def test_firm_sums_equal_the_kernels_they_replace():
    rng = np.random.default_rng(9)
    for n, p in ((0, 3), (1, 1), (50, 4), (3000, 16), (3001, 23)):
        place = rng.integers(0, p, n)
        if n > 100:
            place[: n // 2] = np.sort(place[: n // 2])
        alive = rng.random(n) < 0.8
        weight = rng.uniform(1.0, 3.0, n)
        k = rng.gamma(1.0, 1.0, (n, 8))
        talent = rng.exponential(3.0, n)
        capital = rng.normal(0.0, 10.0, n)
        sprinkle(rng, capital, 0.05, -0.0)
        count, know, t_sum, c_sum, kappa = metrics.firm_sums(place, alive, weight, k, talent,
                                                             capital, p)
        assert bits(kappa) == bits(kernels.row_sums(k))
        ref_count, ref_know = reference_kernels.place_knowledge_sums(place, alive, weight, k, p)
        assert bits(count) == bits(ref_count)
        assert bits(know) == bits(ref_know)
        assert bits(t_sum) == bits(kernels.live_weighted_sum(alive, weight, talent))
        assert bits(c_sum) == bits(kernels.live_weighted_sum(alive, weight, capital))
        assert bits(t_sum) == bits(np.where(alive, weight * talent, 0.0).sum())


def test_long_frame_from_value_arrays_has_the_bytes_of_the_row_tuples(tmp_path):
    import pandas as pd

    from coinnovation_sim.results import long_frame, write_parquet

    model = CoinnovationModel(SMALL_SCENARIO, steps=3)
    model.run()
    cols = ["step", "place", "metric", "factor", "level", "value"]
    ref = pd.DataFrame(model.long_rows, columns=cols).astype({"step": np.int64, "value": float})
    write_parquet(ref, tmp_path / "ref.parquet")
    write_parquet(long_frame(model), tmp_path / "new.parquet")
    assert (tmp_path / "ref.parquet").read_bytes() == (tmp_path / "new.parquet").read_bytes()


def numpy_agreements(mult, pairs, office, rate, levers, cost, members, office_cost, policy, spent):
    """The monthly tail of ``Body.set_levers`` as it was written with numpy (in place)."""
    keep = pairs if office else np.zeros_like(pairs)
    for f in range(mult.shape[0]):
        m = mult[f]
        lapse = ~keep & (m < 1.0)
        m[lapse] = 1.0 - (1.0 - m[lapse]) * (1.0 - rate)
        levers[f] *= m
    if office and members.sum() >= 2:
        cost = cost + np.where(members, office_cost, 0.0)
    policy += cost
    spent += cost


def random_body(rng: np.random.Generator, p: int):
    members = rng.random(p) < rng.uniform(0.0, 1.0)
    pairs = members[:, None] & members[None, :]
    np.fill_diagonal(pairs, False)
    mult = np.where(rng.random((3, p, p)) < 0.5, rng.uniform(0.3, 1.0, (3, p, p)), 1.0)
    return members, pairs, mult


@pytest.mark.parametrize("seed", range(3))
def test_apply_agreements_equals_numpy(seed):
    from coinnovation_sim.mechanisms.coordination import apply_agreements

    rng = np.random.default_rng(200 + seed)
    for p in (1, 2, 5, 16, 21):
        for office in (True, False):
            members, pairs, mult = random_body(rng, p)
            levers = rng.uniform(0.2, 1.0, (3, p, p))
            cost = np.where(rng.random(p) < 0.5, rng.uniform(0.0, 50.0, p), 0.0)
            policy, spent = rng.exponential(5.0, p), rng.exponential(50.0, p)
            rate, office_cost = float(rng.uniform(0.0, 0.2)), float(rng.uniform(0.0, 10.0))
            ref = [a.copy() for a in (mult, levers, cost, policy, spent)]
            numpy_agreements(ref[0], pairs, office, rate, ref[1], ref[2], members, office_cost,
                             ref[3], ref[4])
            lv = [levers[f].copy() for f in range(3)]
            apply_agreements(mult, pairs, office, 1.0 - rate, lv[0], lv[1], lv[2], cost,
                             members, office_cost, policy, spent)
            assert bits(mult) == bits(ref[0])
            assert bits(np.stack(lv)) == bits(ref[1])
            assert bits(policy) == bits(ref[3])
            assert bits(spent) == bits(ref[4])


def test_pair_means_equal_numpy_means():
    from coinnovation_sim.mechanisms.coordination import pair_means

    rng = np.random.default_rng(210)
    for p in (1, 2, 6, 16, 30):
        bodies = [random_body(rng, p) for _ in range(3)]
        ref = [mult[f][pairs].mean() for _, pairs, mult in bodies if pairs.any()
               for f in range(3)]
        out = np.empty(9)
        k = 0
        for _, pairs, mult in bodies:
            k = pair_means(mult, pairs, out, k)
        assert bits(out[:k]) == bits(ref)
        if ref:
            assert bits(kernels.total(out, k) / k) == bits(np.mean(ref))


def test_coordination_mean_multiplier_equals_numpy_on_a_run():
    sc = {**SMALL_SCENARIO, "extends": str(SCENARIOS / "all-mechanisms.yaml")}
    model = CoinnovationModel(sc, steps=13)
    model.run()
    coord = next(m for m in model.mechanisms if m.name == "coordination")
    mults = []
    for body in coord.bodies:
        pairs = body._pairs()
        if pairs.any():
            mults.extend(body.multiplier[f][pairs].mean() for f in FACTORS)
    assert bits(coord.metrics(12)["coordination_mean_multiplier"]) == bits(float(np.mean(mults)))


@pytest.mark.parametrize("seed", range(3))
def test_friction_kernels_equal_numpy(seed):
    from coinnovation_sim.friction import apply_barriers, barrier_factor, friction_matrices

    rng = np.random.default_rng(300 + seed)
    for p in (1, 3, 16, 25):
        level = rng.integers(0, 4, (p, p)).astype(np.int8)
        dist = rng.uniform(0.0, 300.0, (p, p))
        barriers = tuple(float(b) for b in rng.uniform(0.0, 0.9, 3))
        mults = {f: np.where(rng.random((p, p)) < 0.5, rng.uniform(0.0, 1.0, (p, p)), 1.0)
                 for f in FACTORS}
        decay = np.exp(-dist / 60.0)
        for m in mults.values():
            assert bits(apply_barriers(decay, level, np.array(barriers), m)) == bits(
                decay * barrier_factor(level, barriers, m))
        places = SimpleNamespace(distance_km=dist, level=level)
        phi, phi_free = friction_matrices(places, 60.0, barriers, mults)
        for f, m in mults.items():
            assert bits(phi[f]) == bits(np.exp(-dist / 60.0) * barrier_factor(level, barriers, m))
        assert bits(phi_free) == bits(np.exp(-dist / 60.0) * barrier_factor(level, (0.0,) * 3))


def test_add_records_equals_the_book_methods():
    """One compiled call for several records: the same bits as add_matrix, account, expect_free."""
    rng = np.random.default_rng(401)
    p = 5
    channels = (Channel("talent", "a", True), Channel("capital", "b", True),
                Channel("technology", "c", False))
    accounts = (Account("capital", "x"), Account("capital", "y"))
    one, many = FlowBook(p, 3, channels, accounts), FlowBook(p, 3, channels, accounts)
    for t in (0, 2):
        for book in (one, many):
            book.begin(t)
        for _ in range(3):
            mats = rng.exponential(1.0, (3, p, p))
            sprinkle(rng, mats, 0.2, -0.0)
            amounts = rng.normal(0.0, 1.0, (4, p))
            sprinkle(rng, amounts, 0.2, -0.0)
            expected = rng.exponential(1.0, (2, p, p))
            sprinkle(rng, expected, 0.2, -0.0)
            sprinkle(rng, expected, 0.1, np.nan)
            names = (("a", None, "a"), ("x", "y", None, "x"))
            free = ("b", "a") if t else (None, "b")
            for name, mat in zip(names[0], mats, strict=True):
                if name is not None:
                    one.add_matrix(name, mat)
            for name, vec in zip(names[1], amounts, strict=True):
                if name is not None:
                    one.account(name, vec)
            for name, mat in zip(free, expected, strict=True):
                if name is not None:
                    one.expect_free(name, mat)
            ch, ac = many.rows(*names)
            assert many.rows(*names)[0] is ch                 # kept
            many.add_records(ch, mats, ac, amounts, many.rows(free)[0], expected)
            for a, b in ((one.flows, many.flows), (one.ledger, many.ledger),
                         (one.free, many.free)):
                assert bits(a) == bits(b)


def test_expect_free_in_place_equals_the_numpy_where():
    rng = np.random.default_rng(400)
    p = 7
    book = FlowBook(p, 3, (Channel("talent", "a", True), Channel("capital", "b", True)), ())
    book.begin(1)
    ref = book.free.copy()
    for _ in range(4):
        for c, name in enumerate(("a", "b")):
            mat = rng.exponential(1.0, (p, p))
            sprinkle(rng, mat, 0.2, -0.0)
            sprinkle(rng, mat, 0.1, np.nan)
            book.expect_free(name, mat if c == 0 else mat.T)
            cur = ref[1, c]
            ref[1, c] = np.where(np.isnan(cur), 0.0, cur) + (mat if c == 0 else mat.T)
            assert bits(book.free) == bits(ref)
