"""Capital: operating profit, repayment, savings and investment across places.

Capital is held by firms (liquid capital per real firm) and by one investable pool per place
(banks, funds). Each month: firms book operating profit (revenue − wage bill − overhead; a recorded source,
or sink when negative); repay a share of the investment they received to the places that made it
(tracked as a place-by-place debt matrix); deposit capital above their target ``K* = b · w ·
max(T, T*)`` (``b`` = ``capital_buffer_months`` of the wage bill at the larger of their talent and
target talent) into the local pool;
and each place's investors place a share of their pool with profitable firms that need capital, choosing
destination places by need × expected return × friction ``φ`` (information frictions across
distance and borders). Investment, repayment, savings and founding capital are recorded flows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .firm_passes import (
    capital_pass,
    investment_exponent,
    investment_pass,
    pay_down,
    power_bases,
)
from .matching import match_capital
from .production import quality, target_talent, wage

if TYPE_CHECKING:
    from .model import CoinnovationModel

#: Bound on the exponent of investors' return weighting (keeps extreme margins finite).
MAX_EXPONENT = 50.0


def firm_pass(model: CoinnovationModel
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Operating profit, repayment and savings of every firm; return what investors need to know.

    Books the operating profit (source or sink), the repayments to the investing places and the
    savings into the local pools (see the module docstring; one compiled pass over the firms,
    :func:`firm_passes.capital_pass`). Quality, wage and target talent are fixed in this stage.

    Returns
    -------
    need : numpy.ndarray
        Capital a live firm with a positive margin lacks below its target, 万元 per real firm.
    margin : numpy.ndarray
        Profit over cost of the month per firm.
    need_p, weighted_margin : numpy.ndarray
        ``Σ w·need`` and ``Σ w·need·margin`` by home place (P,).
    """
    f, prm = model.firms, model.prm
    q, pay = quality(model), wage(model)
    theta = prm["talent_elasticity"]
    talent_power = power_bases(f.talent)  # max(T, 0)^θ is this^θ where T > 0, else 0^θ
    np.power(talent_power, theta, out=talent_power)
    tstar = target_talent(model, q, pay)
    f.capital, f.debt, need, margin, sums = capital_pass(
        f.alive, f.place, model.firm_weight(), f.talent, f.overhead, f.capital, f.debt, pay,
        f.productivity, talent_power, q, tstar, float(np.power(0.0, theta)),
        float(prm["repayment_rate"]),
        float(prm["capital_buffer_months"]), float(prm["savings_rate"]), model.n_places)
    model.book.account("operations", sums[0])
    repay(model, sums[1])
    model.capital_pool += sums[2]
    model.book.add_matrix("savings", np.diag(sums[2]))
    return need, margin, sums[3], sums[4]


def repay(model: CoinnovationModel, paid_by: np.ndarray) -> None:
    """Pass the repayments of each place's firms (``paid_by``) to the places that invested."""
    model.debt_matrix, mat, received = pay_down(model.debt_matrix, paid_by)
    model.capital_pool += received
    model.book.add_matrix("repayment", mat.T)


def investment(model: CoinnovationModel, need: np.ndarray, need_p: np.ndarray,
               weighted_margin: np.ndarray) -> None:
    """Each place's investors place a share of their pool with firms in need, across places.

    ``need_p`` and ``weighted_margin`` are ``Σ w·need`` and ``Σ w·need·margin`` by place.
    """
    f, prm = model.firms, model.prm
    expo = investment_exponent(weighted_margin, need_p, float(prm["return_elasticity"]),
                               MAX_EXPONENT)
    # pull need · e^expo; the placed capital leaves the pools and adds to the debt matrix
    placed, free, invested_in = match_capital(
        model.capital_pool, float(prm["investment_rate"]), model.phi["capital"], model.phi_free,
        need_p, np.exp(expo), model.debt_matrix)
    f.capital, f.debt = investment_pass(f.capital, f.debt, need, invested_in, need_p, f.place)
    model.book.add_matrix("investment", placed)
    model.book.expect_free("investment", free)


def step(model: CoinnovationModel) -> None:
    """One month of capital dynamics (deterministic given the state)."""
    need, _, need_p, weighted_margin = firm_pass(model)
    investment(model, need, need_p, weighted_margin)
