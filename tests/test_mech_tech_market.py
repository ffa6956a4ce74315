"""Technology market: off means off, inert cases, direction, fees and conservation."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinnovation_sim import run
from coinnovation_sim.experiment import spawn_seeds
from helpers import SMALL_SCENARIO, metrics_bytes
from test_invariants import check_all

G60_SAMPLE = ["wujiang", "suzhou", "hangzhou", "hefei", "songjiang", "jiaxing", "kunshan"]


def scenario(section: dict | None, **over) -> dict:
    sc = copy.deepcopy(SMALL_SCENARIO)
    sc.update(over)
    if section is not None:
        sc["mechanisms"] = {"tech_market": section}
    return sc


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.integers(0, 6), reduction=st.floats(0, 1), fee=st.floats(0, 1),
       members=st.sampled_from([["g60"], ["demo_zone"], ["g60", "demo_zone"]]))
def test_disabled_is_byte_identical(tmp_path, extra, reduction, fee, members):
    base = metrics_bytes(run(scenario(None)), tmp_path, "a.parquet")
    off = run(scenario({"enabled": False, "members": members, "extra_candidates": extra,
                        "search_cost_reduction": reduction, "fee_share": fee}))
    assert metrics_bytes(off, tmp_path, "b.parquet") == base


def test_single_member_changes_nothing(tmp_path):
    base = run(scenario(None))
    one = run(scenario({"enabled": True, "members": ["wujiang"]}))
    assert one.costs.empty
    cols = [c for c in one.metrics.columns if not c.startswith("tech_market_")]
    assert one.metrics[cols].equals(base.metrics)
    assert one.flows.equals(base.flows)


def test_platform_raises_technology_flows_between_members():
    ratios = []
    for seed in spawn_seeds(5, 3):
        kw = {"steps": 24, "population": {"firms": 3000, "institutes": 100}}
        off = run(scenario(None, **kw), seed=seed)
        on = run(scenario({"enabled": True, "members": ["g60"]}, **kw), seed=seed)
        check_all(on)

        def tech(r):
            f = r.flows
            m = (f.factor == "technology") & f.origin.isin(G60_SAMPLE) & \
                f.destination.isin(G60_SAMPLE) & (f.origin != f.destination)
            return f[m].amount.sum()

        ratios.append(tech(on) / tech(off))
    assert min(ratios) > 1.0, ratios


def test_fees_are_a_recorded_sink():
    res = run(scenario({"enabled": True, "members": ["g60"], "fee_share": 0.1}, steps=12))
    fees = res.ledger[res.ledger.account == "platform_fees"].amount
    assert (fees < 0).all() and len(fees) > 0
    assert abs(fees.sum() + res.metrics["tech_market_fees_wan"].sum()) < 1e-6 * abs(fees.sum())
    check_all(res)


def test_member_draws_equal_the_searchs_draws():
    """The platform draws only its members' candidates, with Search.draw's stream and results."""
    import numpy as np

    from coinnovation_sim import technology
    from coinnovation_sim.model import CoinnovationModel
    from coinnovation_sim.sampling import normalise_rows

    model = CoinnovationModel(scenario({"enabled": True, "members": ["g60", "demo_zone"]}), seed=3)
    model.run()                                           # a state after some months
    mech = next(m for m in model.mechanisms if m.name == "tech_market")
    s, _, _ = technology._start(model, np.random.default_rng(1))
    active = mech.members[s.origin]
    assert 0 < active.sum() < s.n
    phi = model.phi["technology"] * mech.members[None, :]
    q_firm = normalise_rows(phi * s.firm_sampler.place_total()[None, :])
    q_inst = normalise_rows(phi * s.inst_sampler.place_total()[None, :])
    rows = np.where(s.collab[:, None], q_firm[s.origin], q_inst[s.origin])
    act = np.flatnonzero(active)
    for seed in range(3):
        dest, idx = s.draw(rows, np.random.default_rng(seed))
        mech.rng = np.random.default_rng(seed)
        got_dest, got_idx = mech._draw(s, active)
        assert np.array_equal(got_dest[act], dest[act]) and np.array_equal(got_idx[act], idx[act])
        assert (got_dest[~active] == -1).all() and (got_idx[~active] == -1).all()
        assert mech.rng.random() == np.random.default_rng(seed).random(2 * s.n + 1)[-1]


def test_kept_membership_terms_follow_the_members():
    """``running`` and the member terms, kept between membership changes, equal fresh ones."""
    import numpy as np

    from coinnovation_sim.mechanisms.tech_market import TechMarket
    from coinnovation_sim.model import CoinnovationModel

    model = CoinnovationModel(scenario({"enabled": True, "members": ["g60"]}), seed=1)
    mech = next(m for m in model.mechanisms if isinstance(m, TechMarket))
    rng = np.random.default_rng(5)
    for k in range(12):
        if k % 3 == 0:                      # membership changes in place, as the review does
            mech.members &= rng.random(model.n_places) < 0.8
        if k == 9:
            mech.members[:] = False
            mech.members[rng.integers(model.n_places)] = True
        m = mech.members
        assert mech.running == (int(m.sum()) >= 2)
        pair, cost = mech._member_terms()
        want = m[:, None] & m[None, :]
        np.fill_diagonal(want, False)
        assert np.array_equal(pair, want)
        assert np.array_equal(cost, np.where(m, mech.config.operating_cost_wan_month, 0.0))
