"""Capital: operating profit, repayment, savings and investment across places.

Capital is held by firms (liquid capital per real firm) and by one investable pool per place
(banks, funds). Each month: firms book operating profit (revenue − wage bill − overhead; a recorded source,
or sink when negative); repay a share of the investment they received to the places that made it
(tracked as a place-by-place debt matrix); deposit capital above their target into the local pool;
and each place's investors place a share of their pool with profitable firms that need capital, choosing
destination places by need × expected return × friction ``φ`` (information frictions across
distance and borders). Investment, repayment, savings and founding capital are recorded flows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .production import quality, revenue, target_capital, target_talent, wage
from .sampling import normalise_rows, ration

if TYPE_CHECKING:
    from .model import CoinnovationModel

#: Bound on the exponent of investors' return weighting (keeps extreme margins finite).
MAX_EXPONENT = 50.0


def operations(model: CoinnovationModel, q: np.ndarray | None = None,
               pay: np.ndarray | None = None) -> np.ndarray:
    """Book one month of operating profit; return each firm's profit margin.

    ``q`` and ``pay`` are the firms' :func:`~.production.quality` and
    :func:`~.production.wage`, when the caller has them.
    """
    f = model.firms
    w = model.firm_weight()
    rev = revenue(model, q)
    wages = (wage(model) if pay is None else pay) * f.talent
    cost = np.where(f.alive, wages + f.overhead, 0.0)
    profit = rev - cost
    f.capital = f.capital + profit
    model.book.account_by("operations", f.place, w * profit)
    return np.divide(profit, cost, out=np.zeros(f.n), where=cost > 0)


def repayment(model: CoinnovationModel) -> None:
    """Firms repay a share of outstanding investment to the investing places."""
    f, prm = model.firms, model.prm
    w = model.firm_weight()
    p = model.n_places
    pay = np.where(f.alive, np.minimum(prm["repayment_rate"] * f.debt, np.maximum(f.capital, 0.0)), 0.0)
    f.debt = f.debt - pay
    f.capital = f.capital - pay
    paid_by = np.bincount(f.place, weights=w * pay, minlength=p)
    owed = model.debt_matrix.sum(axis=0)
    share = np.divide(model.debt_matrix, owed[None, :], out=np.zeros((p, p)), where=owed[None, :] > 0)
    mat = share * paid_by[None, :]
    model.debt_matrix = np.maximum(model.debt_matrix - mat, 0.0)
    model.capital_pool += mat.sum(axis=1)
    model.book.add_matrix("repayment", mat.T)


def savings(model: CoinnovationModel, kstar: np.ndarray) -> None:
    """Firms deposit a share of capital above their target into the local pool."""
    f = model.firms
    w = model.firm_weight()
    dep = np.where(f.alive, model.prm["savings_rate"] * np.maximum(0.0, f.capital - kstar), 0.0)
    f.capital = f.capital - dep
    per_place = np.bincount(f.place, weights=w * dep, minlength=model.n_places)
    model.capital_pool += per_place
    model.book.add_matrix("savings", np.diag(per_place))


def investment(model: CoinnovationModel, kstar: np.ndarray, margin: np.ndarray) -> None:
    """Each place's investors place a share of their pool with firms in need, across places."""
    f, prm = model.firms, model.prm
    w = model.firm_weight()
    p = model.n_places
    viable = f.alive & (margin > 0)
    need = np.where(viable, np.maximum(0.0, kstar - f.capital), 0.0)
    need_p = np.bincount(f.place, weights=w * need, minlength=p)
    ret_p = np.divide(np.bincount(f.place, weights=w * need * margin, minlength=p), need_p,
                      out=np.zeros(p), where=need_p > 0)
    expo = np.clip(prm["return_elasticity"] * ret_p, -MAX_EXPONENT, MAX_EXPONENT)
    attract = np.where(need_p > 0, need_p * np.exp(expo), 0.0)
    supply = prm["investment_rate"] * model.capital_pool
    offer = supply[:, None] * normalise_rows(model.phi["capital"] * attract[None, :])
    placed = ration(offer, need_p)
    fill = np.divide(placed.sum(axis=0), need_p, out=np.zeros(p), where=need_p > 0)
    got = need * fill[f.place]
    f.capital = f.capital + got
    f.debt = f.debt + got
    model.debt_matrix += placed
    model.capital_pool -= placed.sum(axis=1)
    model.book.add_matrix("investment", placed)
    model.book.expect_free("investment", ration(
        supply[:, None] * normalise_rows(model.phi_free * attract[None, :]), need_p))


def step(model: CoinnovationModel) -> None:
    """One month of capital dynamics (deterministic given the state)."""
    q, pay = quality(model), wage(model)     # knowledge and units do not change in this stage
    margin = operations(model, q, pay)
    repayment(model)
    kstar = target_capital(model, target_talent(model, q, pay), pay)
    savings(model, kstar)
    investment(model, kstar, margin)
