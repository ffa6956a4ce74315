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

from .firm_passes import (
    entrant_fields,
    entry_rates,
    exit_pass,
    exit_settle,
    found_firms,
    founding_grants,
    pay_down,
)
from .innovation import place_pools
from .production import target_talent_of

if TYPE_CHECKING:
    from .model import CoinnovationModel


def exits(model: CoinnovationModel) -> np.ndarray:
    """Remove firms with persistent negative capital; return the exiting slots."""
    return _exit(model)[0]


def _exit(model: CoinnovationModel
          ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`exits`; also return the free slots and the census of the firms left.

    Returns
    -------
    out : numpy.ndarray
        The exiting slots.
    after : tuple of numpy.ndarray
        Free slots (ascending), live firms per place and their summed log base productivity
        (see :func:`firm_passes.exit_pass`), as :func:`entries` needs them.
    """
    f, prm, book = model.firms, model.prm, model.book
    p = model.n_places
    w = model.firm_weight()
    f.neg_months, out, free, cnt, sumlog = exit_pass(
        f.alive, f.capital, f.neg_months, float(prm["exit_months"]), f.place,
        f.log_base_productivity, p)
    if len(out) == 0:
        return out, (free, cnt, sumlog)
    # staff to the pools where it works (unit staff to the unit's place); fields cleared
    writeoff, bad = exit_settle(out, w, f.talent, f.capital, f.debt, f.neg_months, f.alive,
                                f.place, f.unit_place, f.unit_share, model.talent_pool, p)
    book.account("exit_writeoff", writeoff)
    model.debt_matrix = pay_down(model.debt_matrix, bad)[0]
    return out, (free, cnt, sumlog)


def entries(model: CoinnovationModel, rng: np.random.Generator,
            after_exit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Found new firms in free slots; return the slots filled.

    ``after_exit``: the free slots and census of the live firms (see :func:`_exit`), when known.
    """
    f, prm, book = model.firms, model.prm, model.book
    p = model.n_places
    if after_exit is None:
        after_exit = exit_pass(f.alive, f.capital, f.neg_months, np.inf, f.place,
                               f.log_base_productivity, p)[2:]
    free, cnt, sumlog = after_exit  # firms before entry
    pools = place_pools(model)
    lam, lam_sum = entry_rates(cnt, np.ascontiguousarray(pools), float(prm["entry_rate"]))
    births = rng.poisson(lam) if lam_sum > 0 else np.zeros(p, np.int64)
    n = int(min(births.sum(), len(free)))
    if n == 0:
        return np.zeros(0, np.int64)
    slots = free[:n]
    place = np.repeat(np.arange(p), births)
    if len(place) > n:  # more births than free slots: which ones happen is drawn, not row order
        place = np.sort(rng.choice(place, n, replace=False))
    found_firms(slots, place, model.next_firm_id, pools, f.alive, f.place, f.unit_place,
                f.unit_share, f.knowledge, f.talent, f.capital, f.debt, f.neg_months, f.firm_id)
    model.invalidate_weights(slots)
    f.field[slots] = entrant_fields(np.ascontiguousarray(model.places.mix), place, rng.random(n))
    model.knowledge_changed(slots)
    model.next_firm_id += n
    # productivity: log-normal around the geometric mean of the place's live firms (sd 0.2)
    ref = np.zeros(p)
    np.divide(sumlog, cnt, out=ref, where=cnt > 0)
    f.base_productivity[slots] = np.exp(ref[place] + rng.normal(0.0, 0.2, n))
    f.refresh_log_base(slots)
    f.productivity[slots] = f.base_productivity[slots]
    tstar = target_talent_of(model, slots)
    f.capital[slots], f.overhead[slots], used = founding_grants(
        place, model.firm_weight()[slots], tstar, model.wage, model.capital_pool,
        float(prm["capital_buffer_months"]), float(prm["overhead_share"]), p)
    model.capital_pool -= used
    book.add_matrix("founding", np.diag(used))
    return slots


def step(model: CoinnovationModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exits, then entries; return (exited slots, entered slots)."""
    gone, after_exit = _exit(model)
    born = entries(model, rng, after_exit)
    return gone, born
