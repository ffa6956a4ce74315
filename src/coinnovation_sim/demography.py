"""Firm exit and entry.

A firm whose capital has stayed negative for ``exit_months`` consecutive months exits: its talent
returns to the local job-seeker pool, its negative capital is written off (a recorded capital
source) and the investment it still owes is removed from the investing places' claims. New firms
are founded in free agent slots (slots freed by exits and the spare slots created at start):
per place, a Poisson number with mean
``entry_rate × live firms × (local knowledge / regional knowledge)^0.5``, so entry concentrates
where knowledge is rich (spin-offs); if more are born than slots are free, which births happen
is drawn at random. Founders start with half the local knowledge pool's mean vector, with founding
capital from the local investable pool (a recorded flow) and no staff; they hire like any firm.
The agent population is bounded by the slots created at start (the initial firms plus
:data:`coinnovation_sim.state.SPARE_SLOT_SHARE` spare).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .firm_passes import census, exit_pass
from .innovation import place_pools
from .production import target_talent_of
from .talent import by_location

if TYPE_CHECKING:
    from .model import CoinnovationModel


def exits(model: CoinnovationModel) -> np.ndarray:
    """Remove firms with persistent negative capital; return the exiting slots."""
    f, prm, book = model.firms, model.prm, model.book
    p = model.n_places
    w = model.firm_weight()
    f.neg_months, out = exit_pass(f.alive, f.capital, f.neg_months, float(prm["exit_months"]))
    if len(out) == 0:
        return out
    released = w[out] * f.talent[out]
    model.talent_pool += by_location(model, released, out)  # unit staff to the unit's place
    book.account_by("exit_writeoff", f.place[out], -w[out] * np.minimum(f.capital[out], 0.0))
    bad = np.bincount(f.place[out], weights=w[out] * f.debt[out], minlength=p)
    owed = model.debt_matrix.sum(axis=0)
    share = np.divide(model.debt_matrix, owed[None, :], out=np.zeros((p, p)), where=owed[None, :] > 0)
    model.debt_matrix = np.maximum(model.debt_matrix - share * bad[None, :], 0.0)
    f.alive[out] = False
    f.talent[out] = 0.0
    f.capital[out] = 0.0
    f.debt[out] = 0.0
    f.neg_months[out] = 0
    return out


def entries(model: CoinnovationModel, rng: np.random.Generator) -> np.ndarray:
    """Found new firms in free slots; return the slots filled."""
    f, prm, book = model.firms, model.prm, model.book
    p = model.n_places
    free = np.flatnonzero(~f.alive)
    cnt, sumlog = census(f.place, f.alive, f.log_base_productivity, p)  # firms before entry
    live = cnt.astype(float)
    pools = place_pools(model)
    kp = pools.sum(axis=1)
    rel = np.divide(kp, kp[live > 0].mean() if (live > 0).any() else 1.0,
                    out=np.zeros(p), where=kp > 0)
    lam = prm["entry_rate"] * live * np.sqrt(rel)
    births = rng.poisson(lam) if lam.sum() > 0 else np.zeros(p, np.int64)
    n = int(min(births.sum(), len(free)))
    if n == 0:
        return np.zeros(0, np.int64)
    slots = free[:n]
    place = np.repeat(np.arange(p), births)
    if len(place) > n:  # more births than free slots: which ones happen is drawn, not row order
        place = np.sort(rng.choice(place, n, replace=False))
    f.alive[slots] = True
    f.place[slots] = place
    model.invalidate_weights()
    f.unit_place[slots] = place
    f.unit_share[slots] = 1.0
    cum = np.cumsum(model.places.mix[place], axis=1)
    f.field[slots] = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), cum.shape[1] - 1)
    f.knowledge[slots] = 0.5 * pools[place]
    model.knowledge_changed(slots)
    f.talent[slots] = 0.0
    f.capital[slots] = 0.0
    f.debt[slots] = 0.0
    f.neg_months[slots] = 0
    f.firm_id[slots] = model.next_firm_id + np.arange(n)
    model.next_firm_id += n
    # productivity: log-normal around the geometric mean of the place's live firms (sd 0.2)
    ref = np.zeros(p)
    np.divide(sumlog, cnt, out=ref, where=cnt > 0)
    f.base_productivity[slots] = np.exp(ref[place] + rng.normal(0.0, 0.2, n))
    f.refresh_log_base(slots)
    f.productivity[slots] = f.base_productivity[slots]
    tstar = target_talent_of(model, slots)
    w = model.firm_weight()[slots]
    want = prm["capital_buffer_months"] * model.wage[place] * tstar
    avail = model.capital_pool[place] * 0.01
    grant = np.minimum(want, np.divide(avail, np.maximum(w, 1e-12)))
    per_place = np.bincount(place, weights=w * grant, minlength=p)
    scale = np.divide(model.capital_pool, per_place, out=np.ones(p), where=per_place > model.capital_pool)
    grant *= np.minimum(scale, 1.0)[place]
    f.capital[slots] = grant
    f.overhead[slots] = prm["overhead_share"] * model.wage[place] * tstar
    used = np.bincount(place, weights=w * grant, minlength=p)
    model.capital_pool -= used
    book.add_matrix("founding", np.diag(used))
    return slots


def step(model: CoinnovationModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exits, then entries; return (exited slots, entered slots)."""
    gone = exits(model)
    born = entries(model, rng)
    return gone, born
