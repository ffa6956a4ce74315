"""Technology: services and licences from institutes, joint R&D between firms.

Each month a share of firms with positive capital searches for a partner. A searcher draws a
bounded number of candidates by two-stage sampling: a partner *place* from a P×P matrix
(friction ``φ`` × the place's knowledge-weighted capacity), then a partner *agent* inside it.
It keeps the candidate with the largest positive net gain

    value − price − transaction cost,   value = v · λ · A_r · e(δ) · Σ max(0, k_s − k_r),

where ``e(δ) = 4δ(1−δ)`` is the learning efficiency in cognitive distance (Nooteboom et al.
2007), ``A_r`` the receiver's absorptive capacity (Cohen & Levinthal 1990), and the transaction
cost grows with friction as ``c / φ``. Institutes ration their service capacity; a joint R&D
partner must gain too. Deals are recorded as technology flows (万元) from provider to buyer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .knowledge import absorptive_capacity, cosine_similarity, learning_efficiency
from .sampling import SegmentSampler, draw_from_rows, normalise_rows

if TYPE_CHECKING:
    from .model import CoinnovationModel


def _gain(model: CoinnovationModel, k_src: np.ndarray, k_rcv: np.ndarray) -> np.ndarray:
    """Knowledge the receiver absorbs from the source in one deal, per field."""
    prm = model.prm
    eff = learning_efficiency(1.0 - cosine_similarity(k_src, k_rcv))
    cap = absorptive_capacity(k_rcv.sum(axis=1), prm["absorptive_half"])
    return (prm["learning_rate"] * cap * eff)[:, None] * np.maximum(0.0, k_src - k_rcv)


def step(model: CoinnovationModel, rng: np.random.Generator) -> None:
    """One month of technology search, matching and transactions."""
    f, inst, prm, book = model.firms, model.institutes, model.prm, model.book
    p = model.n_places
    wf = model.firm_weight()
    wi = model.inst_weight()
    u_search = rng.random(f.n)
    searcher = np.flatnonzero(f.alive & (f.capital > 0) & (u_search < prm["search_probability"]))
    ns = len(searcher)
    collab = rng.random(ns) < prm["collaboration_share"]
    origin = f.unit_place[searcher]

    kf_total = f.knowledge.sum(axis=1)
    firm_w = np.where(f.alive, wf * kf_total, 0.0)
    inst_w = wi * inst.capacity * inst.knowledge.sum(axis=1)
    firm_sampler = SegmentSampler(f.unit_place, firm_w, p)
    inst_sampler = SegmentSampler(inst.place, inst_w, p)
    q_firm = normalise_rows(model.phi * firm_sampler.place_total()[None, :])
    q_inst = normalise_rows(model.phi * inst_sampler.place_total()[None, :])
    rows = np.where(collab[:, None], q_firm[origin], q_inst[origin])

    k_rcv = f.knowledge[searcher]
    price = np.where(collab, prm["collaboration_cost_wan"], prm["service_price_wan"])
    best_net = np.zeros(ns)
    best_dest = np.full(ns, -1)
    best_idx = np.full(ns, -1)
    best_gain = np.zeros((ns, k_rcv.shape[1]))
    best_tc = np.zeros(ns)
    for _ in range(int(prm["candidates_per_search"])):
        dest = draw_from_rows(rows, rng.random(ns))
        u = rng.random(ns)
        idx = np.where(collab, firm_sampler.draw(dest, u), inst_sampler.draw(dest, u))
        valid = (idx >= 0) & ~(collab & (idx == searcher))
        safe = np.where(valid, idx, 0)
        k_src = np.where(collab[:, None], f.knowledge[np.minimum(safe, f.n - 1)],
                         inst.knowledge[np.minimum(safe, max(inst.n - 1, 0))]
                         if inst.n else 0.0)
        gain = _gain(model, k_src, k_rcv)
        d = np.where(dest >= 0, dest, 0)
        tc = prm["transaction_cost_wan"] * model.transaction_multiplier[origin, d] / model.phi[origin, d]
        net = prm["knowledge_value_wan"] * gain.sum(axis=1) - price - tc
        better = valid & (net > best_net)
        best_net = np.where(better, net, best_net)
        best_dest = np.where(better, dest, best_dest)
        best_idx = np.where(better, idx, best_idx)
        best_gain = np.where(better[:, None], gain, best_gain)
        best_tc = np.where(better, tc, best_tc)

    deal = best_idx >= 0
    # joint R&D: the partner must gain as well
    partner_ok = np.ones(ns, bool)
    pgain = np.zeros_like(best_gain)
    pidx = np.where(collab & deal, best_idx, 0)
    if ns:
        pgain = _gain(model, k_rcv, f.knowledge[pidx])
        pnet = prm["knowledge_value_wan"] * pgain.sum(axis=1) - price - best_tc
        partner_ok = ~collab | ((pnet > 0) & (f.capital[pidx] > 0))
    deal &= partner_ok
    # institutes ration their monthly capacity
    svc = deal & ~collab
    if svc.any():
        demand = np.bincount(best_idx[svc], weights=wf[searcher[svc]], minlength=inst.n)
        supply = inst.capacity * wi
        ratio = np.divide(supply, demand, out=np.ones(inst.n), where=demand > supply)
        keep = rng.random(ns) < ratio[np.where(svc, best_idx, 0)]
        deal &= collab | keep
    svc = deal & ~collab
    col = deal & collab

    ws = wf[searcher]
    f.knowledge[searcher[deal]] += best_gain[deal]
    f.capital[searcher[deal]] -= (price + best_tc)[deal]
    partner = best_idx[col]
    share = np.minimum(1.0, ws[col] / np.maximum(wf[partner], 1e-12))
    np.add.at(f.knowledge, partner, pgain[col] * share[:, None])
    np.add.at(f.capital, partner, -(price[col] + best_tc[col]) * share)
    inst_idx = best_idx[svc]
    np.add.at(inst.revenue, inst_idx, price[svc] * ws[svc] / np.maximum(wi[inst_idx], 1e-12))

    o, dst = origin, best_dest
    amount = price * ws
    book.add("service", dst[svc], o[svc], amount[svc])
    book.add("collaboration", dst[col], o[col], amount[col])
    real_partner = np.minimum(ws[col], wf[partner])
    book.add("collaboration", o[col], dst[col], price[col] * real_partner)
    book.account_by("institute_services", o[svc], -amount[svc])
    book.account_by("collaboration_outlays", o[col], -amount[col])
    book.account_by("collaboration_outlays", dst[col], -price[col] * real_partner)
    book.account_by("transaction_costs", o[deal], -(best_tc * ws)[deal])
    book.account_by("transaction_costs", dst[col], -best_tc[col] * real_partner)

    # border-free expectation: same buyers and volumes, destinations chosen with φ_free
    vol_svc = np.bincount(o[svc], weights=amount[svc], minlength=p)
    vol_col = np.bincount(o[col], weights=amount[col], minlength=p)
    free_inst = normalise_rows(model.phi_free * inst_sampler.place_total()[None, :])
    free_firm = normalise_rows(model.phi_free * firm_sampler.place_total()[None, :])
    book.expect_free("service", (vol_svc[:, None] * free_inst).T)
    e_col = vol_col[:, None] * free_firm
    book.expect_free("collaboration", e_col + e_col.T)
