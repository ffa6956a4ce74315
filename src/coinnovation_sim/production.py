"""Firm output: productivity shocks, revenue and target talent.

Revenue per real firm and month (万元): ``R = a · T^θ · q`` with talent ``T`` and knowledge
quality ``q = (1 + κ / κ_ref)^γ`` (κ the firm's total knowledge, κ_ref the initial regional mean).
At start ``a`` is set so that every firm employs its profit-maximising talent at its place's wage
(margin ``1/θ − 1``); knowledge growth and productivity shocks then move the optimum, and firms
hire towards it. Log productivity follows a mean-reverting random walk (Hopenhayn 1992).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import random_draws
from .firm_passes import (
    at_least,
    changed_slots,
    firm_wage,
    keep_dead,
    patched,
    pending_rows,
    quality_base_of,
    quality_base_rows,
    shocked_log_productivity,
    target_talent_base,
    target_talent_base_at,
    target_talent_base_rows,
    zero_dead,
)

if TYPE_CHECKING:
    from .model import CoinnovationModel


def quality(model: CoinnovationModel) -> np.ndarray:
    """Knowledge quality multiplier ``q`` per firm slot (read-only; do not modify).

    ``q`` depends on the firm's knowledge only, and most months only the firms in technology
    deals change knowledge between two uses, so the model keeps the last ``q`` and recomputes
    the rows reported changed (:meth:`CoinnovationModel.knowledge_changed`); the result is the
    same bits as a full computation (each row's arithmetic does not depend on the others).
    """
    f = model.firms
    gamma = model.prm["knowledge_elasticity"]
    q = model.quality_cache
    if q is None:
        q = quality_base_of(model.knowledge_totals(), model.knowledge_ref) ** gamma
    elif model.knowledge_rows:
        rows = pending_rows(model.knowledge_rows)
        q = q.copy()
        q[rows] = quality_base_rows(f.knowledge, rows, model.knowledge_ref) ** gamma
    else:
        return q
    q.flags.writeable = False
    model.quality_cache = q
    model.knowledge_rows = []
    return q


def wage(model: CoinnovationModel) -> np.ndarray:
    """Monthly wage per person paid by each firm.

    The unit's staff (``unit_share``) is paid the wage of the place where the unit operates, the
    rest the home wage; at home this is simply the home wage.
    """
    f = model.firms
    return firm_wage(model.wage, f.place, f.unit_place, f.unit_share)


def unit_wage(model: CoinnovationModel, slots: np.ndarray, unit_place: np.ndarray,
              unit_share: np.ndarray | float) -> np.ndarray:
    """The wage :func:`wage` gives the firms ``slots`` with their units at ``unit_place``.

    Element for element the same arithmetic as :func:`wage`, for a subset of firms and
    hypothetical unit places (used by firms comparing locations).
    """
    home = model.wage[model.firms.place[slots]]
    away = unit_place != model.firms.place[slots]
    return np.where(away, home + unit_share * (model.wage[unit_place] - home), home)


def revenue(model: CoinnovationModel, q: np.ndarray | None = None) -> np.ndarray:
    """Monthly revenue per real firm, 万元 (zero for dead slots); ``q``: :func:`quality`, if known."""
    f = model.firms
    theta = model.prm["talent_elasticity"]
    r = f.productivity * np.power(np.maximum(f.talent, 0.0), theta) * (
        quality(model) if q is None else q)
    return np.where(f.alive, r, 0.0)


def target_talent(model: CoinnovationModel, q: np.ndarray | None = None,
                  w: np.ndarray | None = None) -> np.ndarray:
    """Profit-maximising talent ``T* = (θ a q / wage)^(1/(1−θ))`` per firm.

    ``q`` and ``w`` are :func:`quality` and :func:`wage` of the current state when the caller
    already has them.
    """
    f = model.firms
    theta = model.prm["talent_elasticity"]
    q = quality(model) if q is None else q
    if w is None:
        base, _ = target_talent_base_at(theta, f.productivity, q, model.wage, f.place,
                                        f.unit_place, f.unit_share, f.alive)
    else:
        base = target_talent_base(theta, f.productivity, q, w, f.alive)
    return _target_power(model, base, 1.0 / (1.0 - theta))


def shared_target_talent(model: CoinnovationModel) -> tuple[np.ndarray, bool]:
    """:func:`target_talent` for reading only, and :meth:`CoinnovationModel.any_away`.

    The result may be the array the model keeps for reuse (:func:`_target_power`): the caller
    must not modify it. Whether some unit operates away comes from the same pass over the firms.
    """
    f = model.firms
    theta = model.prm["talent_elasticity"]
    base, away = target_talent_base_at(theta, f.productivity, quality(model), model.wage, f.place,
                                       f.unit_place, f.unit_share, f.alive)
    return _target_power(model, base, 1.0 / (1.0 - theta), shared=True), away


def _target_power(model: CoinnovationModel, base: np.ndarray, expo: float,
                  shared: bool = False) -> np.ndarray:
    """``where(alive, base ** expo, 0)``, reusing the last full computation where possible.

    Between the talent and the capital stage only the firms in technology deals change their
    target, so the model keeps the last full result with its inputs (``base``, ``alive``,
    ``expo``) and raises to the power only the slots whose inputs differ bit for bit; numpy's
    power of an element does not depend on the array it is computed in, so the result has the
    bits of a full computation. The cache keeps its own copies (callers may modify the result).
    A new productivity array (the monthly shocks replace it) changes nearly every slot, so then
    the comparison is skipped. With ``shared`` (the caller only reads the result) the cache keeps
    the returned array itself.
    """
    f = model.firms
    alive = f.alive
    cache = model.target_talent_cache
    if (cache is not None and cache[0] is f.productivity and cache[1] == expo
            and cache[2].shape == base.shape):
        rows, row_base = changed_slots(base, alive, cache[2], cache[3])
        if 2 * len(rows) <= len(base):
            return patched(cache[4], rows, np.power(row_base, expo), alive)
    t = zero_dead(alive, np.power(base, expo))
    model.target_talent_cache = (f.productivity, expo, base, alive.copy(),
                                 t if shared else t.copy())
    return t


def target_talent_of(model: CoinnovationModel, slots: np.ndarray) -> np.ndarray:
    """``target_talent(model)[slots]``, computed for those firms only (same arithmetic)."""
    f = model.firms
    theta = model.prm["talent_elasticity"]
    q = quality_base_rows(f.knowledge, slots, model.knowledge_ref) ** model.prm[
        "knowledge_elasticity"]
    base = target_talent_base_rows(theta, f.productivity, q, model.wage, f.place, f.unit_place,
                                   f.unit_share, slots)
    return np.where(f.alive[slots], np.power(base, 1.0 / (1.0 - theta)), 0.0)


def calibrate_productivity(model: CoinnovationModel) -> np.ndarray:
    """Productivity that makes each firm's current talent its optimum: ``a = w T^(1−θ) / (θ q)``.

    Returns
    -------
    numpy.ndarray
        ``a`` per firm slot.
    """
    f = model.firms
    theta = model.prm["talent_elasticity"]
    t = np.maximum(f.talent, 1e-9)
    return wage(model) * np.power(t, 1.0 - theta) / (theta * quality(model))


def shock_productivity(model: CoinnovationModel, rng: np.random.Generator) -> None:
    """Apply one month of mean-reverting log-productivity shocks to live firms."""
    f = model.firms
    prm = model.prm
    eps = random_draws.standard_normal(rng, f.n)
    floor = at_least(f.productivity, 1e-300)
    la = shocked_log_productivity(np.log(floor, out=floor), f.log_base_productivity, eps,
                                  float(prm["productivity_reversion"]),
                                  float(prm["productivity_volatility"]))
    # where(alive, exp(la), productivity), in la's memory (a new array: the old one may be kept)
    f.productivity = keep_dead(f.alive, np.exp(la, out=la), f.productivity)
