"""Joint coordination meetings: off means off, inert cases, direction, costs and withdrawal."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinnovation_sim import run
from coinnovation_sim.experiment import spawn_seeds
from helpers import SMALL_SCENARIO, metrics_bytes
from test_invariants import check_all

DEMO = ["wujiang", "qingpu", "jiashan"]


def scenario(section: dict | None, **over) -> dict:
    sc = copy.deepcopy(SMALL_SCENARIO)
    sc.update(over)
    if section is not None:
        sc["mechanisms"] = {"coordination": section}
    return sc


def flows_between(result, members, start=0):
    f = result.flows
    inside = f.origin.isin(members) & f.destination.isin(members) & (f.origin != f.destination)
    return f[inside & (f.step >= start)].groupby("factor").amount.sum()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(interval=st.integers(1, 24), effectiveness=st.floats(0, 1), floor=st.floats(0, 1),
       office=st.booleans(), tax=st.booleans(), members=st.sampled_from([["g60"], ["demo_zone"],
                                                                           ["wujiang", "hefei"]]))
def test_disabled_is_byte_identical(tmp_path, interval, effectiveness, floor, office, tax, members):
    base = metrics_bytes(run(scenario(None)), tmp_path, "a.parquet")
    off = run(scenario({"enabled": False, "members": members, "interval": interval,
                        "effectiveness": effectiveness, "floor": floor, "office": office,
                        "tax_sharing": tax}))
    assert metrics_bytes(off, tmp_path, "b.parquet") == base


def test_single_member_changes_nothing(tmp_path):
    base = run(scenario(None))
    one = run(scenario({"enabled": True, "members": ["wujiang"]}))
    assert one.costs.empty
    cols = [c for c in one.metrics.columns if not c.startswith("coordination_")]
    assert metrics_bytes(base, tmp_path, "a.parquet") == metrics_bytes(
        type(one)(**{**one.__dict__, "metrics": one.metrics[cols]}), tmp_path, "b.parquet")
    assert (one.metrics["coordination_meetings_cum"] == 0).all()


def test_coordination_raises_flows_between_members():
    """Paired seeds: demonstration-zone meetings raise flows among Wujiang, Qingpu and Jiashan."""
    gains = []
    for seed in spawn_seeds(11, 3):
        kw = {"steps": 36, "population": {"firms": 3000, "institutes": 100}}
        off = run(scenario(None, **kw), seed=seed)
        on = run(scenario({"enabled": True, "members": ["demo_zone"], "tax_sharing": True}, **kw),
                 seed=seed)
        a, b = flows_between(off, DEMO, 12), flows_between(on, DEMO, 12)
        gains.append(float(b.sum() / a.sum()))
        check_all(on)
        assert on.metrics["wujiang_integration_index_cross_province"].iloc[12:].mean() > \
            off.metrics["wujiang_integration_index_cross_province"].iloc[12:].mean()
    assert min(gains) > 1.0, gains


def test_costs_booked_to_members_only():
    res = run(scenario({"enabled": True, "members": ["demo_zone"], "interval": 6, "patience": 100},
                       steps=13))
    assert set(res.costs.government) == set(DEMO)
    # meetings at months 0, 6, 12 plus the office every month, per member
    per_member = res.costs.groupby("government").amount_wan.sum()
    np.testing.assert_allclose(per_member.to_numpy(), 3 * 30.0 + 13 * 5.0)
    assert res.metrics["coordination_meetings_cum"].iloc[-1] == 3


def test_members_withdraw_when_meetings_do_not_pay():
    res = run(scenario({"enabled": True, "members": ["g60"], "meeting_cost_wan": 1e7,
                        "patience": 1}, steps=14))
    members = res.metrics["coordination_members"]
    assert members.iloc[0] > members.iloc[-1]
    assert res.metrics["coordination_withdrawals_cum"].iloc[-1] > 0


def test_barrier_multiplier_has_a_floor():
    res = run(scenario({"enabled": True, "members": ["demo_zone"], "interval": 1,
                        "effectiveness": 1.0, "floor": 0.6, "tax_sharing": True}, steps=6))
    assert res.metrics["coordination_mean_multiplier"].min() >= 0.6 - 1e-12


def test_bodies_each_meet():
    res = run(scenario({"enabled": True, "bodies": [{"name": "g60", "members": ["g60"]},
                                                    {"name": "dz", "members": ["demo_zone"],
                                                     "interval": 3}]}, steps=7))
    # g60 meets at 0 and 6, the demonstration zone at 0, 3 and 6
    assert res.metrics["coordination_meetings_cum"].iloc[-1] == 5
