"""Knowledge production, depreciation and distance-decayed spillovers.

Firms produce knowledge from R&D talent with decreasing returns (Griliches 1979; Jaffe 1989):
``Δk = A_p (s T)^β · dir(k) − δ k``, along their own knowledge direction (path dependence), with
``A_p`` higher near strong public research. Institutes produce from their researchers at the rate
that keeps their initial stock steady.

Spillovers: every firm absorbs from the knowledge *pools* of all places (mean knowledge of the
firms and institutes located there), weighted by the row-normalised friction kernel ``φ`` and
the inverted-U learning efficiency in cognitive distance to each pool, scaled by its absorptive
capacity (Jaffe, Trajtenberg & Henderson 1993; Nooteboom et al. 2007). Absorbed knowledge is
recorded as a technology flow valued at ``knowledge_value_wan`` per unit, from the pool's place to
the firm's place, attributed in proportion to each place's weighted knowledge advantage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .knowledge import absorptive_capacity, cosine_to_pools, direction, learning_efficiency
from .sampling import normalise_rows

if TYPE_CHECKING:
    from .model import CoinnovationModel


def place_pools(model: CoinnovationModel) -> np.ndarray:
    """Mean knowledge vector of the firms and institutes in each place, shape (P, F)."""
    f, inst = model.firms, model.institutes
    p = model.n_places
    wf = np.where(f.alive, model.firm_weight(), 0.0)
    wi = model.inst_weight()
    nf = f.knowledge.shape[1]
    total = np.zeros((p, nf))
    for j in range(nf):
        total[:, j] = (np.bincount(f.unit_place, weights=wf * f.knowledge[:, j], minlength=p)
                       + np.bincount(inst.place, weights=wi * inst.knowledge[:, j], minlength=p))
    count = np.bincount(f.unit_place, weights=wf, minlength=p) + np.bincount(
        inst.place, weights=wi, minlength=p)
    return np.divide(total, count[:, None], out=np.zeros_like(total), where=count[:, None] > 0)


def spillovers(model: CoinnovationModel) -> None:
    """Firms absorb knowledge from the place pools; record it as technology flows."""
    f, prm, book = model.firms, model.prm, model.book
    p = model.n_places
    pools = place_pools(model)
    a = f.unit_place
    eff = learning_efficiency(1.0 - cosine_to_pools(f.knowledge, pools))
    weights = normalise_rows(model.phi)[a] * eff
    target = weights @ pools
    wsum = weights.sum(axis=1)
    kappa = f.knowledge.sum(axis=1)
    cap = absorptive_capacity(kappa, prm["absorptive_half"])
    learn = prm["spillover_rate"] * cap[:, None] * np.maximum(0.0, target - wsum[:, None] * f.knowledge)
    learn[~f.alive] = 0.0
    f.knowledge += learn
    value = prm["knowledge_value_wan"] * learn.sum(axis=1) * model.firm_weight()
    advantage = np.maximum(0.0, pools.sum(axis=1)[None, :] - kappa[:, None])
    src_idx = (np.arange(p)[None, :] * p + a[:, None]).ravel()

    def attribute(w: np.ndarray) -> np.ndarray:
        share = normalise_rows(w * advantage)
        share = np.where(share.sum(axis=1, keepdims=True) > 0, share, normalise_rows(w))
        return np.bincount(src_idx, weights=(value[:, None] * share).ravel(),
                           minlength=p * p).reshape(p, p)

    book.add_matrix("spillover", attribute(weights))
    book.expect_free("spillover", attribute(normalise_rows(model.phi_free)[a] * eff))


def production(model: CoinnovationModel) -> None:
    """Knowledge production and depreciation of firms and institutes."""
    f, inst, prm = model.firms, model.institutes, model.prm
    beta, dep = prm["rd_elasticity"], prm["knowledge_depreciation"]
    made = model.rd_productivity[f.place] * np.power(prm["rd_talent_share"] * f.talent, beta)
    made = np.where(f.alive, made, 0.0)
    f.knowledge = f.knowledge * (1.0 - dep) + made[:, None] * direction(f.knowledge, f.field)
    imade = inst.production * np.power(inst.researchers, beta)
    inst.knowledge = inst.knowledge * (1.0 - dep) + imade[:, None] * direction(
        inst.knowledge, np.zeros(inst.n, np.int64))


def step(model: CoinnovationModel) -> None:
    """One month of spillovers, then production and depreciation."""
    spillovers(model)
    production(model)
