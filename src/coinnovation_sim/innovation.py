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
the firm's place, attributed over source places at the place level (see :func:`spillovers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .kernels import (
    group_rows,
    institute_knowledge,
    pool_means,
    production_pass,
    spillover_attribution,
    spillover_pass,
)
from .knowledge import _EPS as KNOWLEDGE_EPS
from .sampling import normalise_rows

if TYPE_CHECKING:
    from .model import CoinnovationModel


def group_sum(place: np.ndarray, values: np.ndarray, n_places: int) -> np.ndarray:
    """Sum the rows of ``values`` by place (in row order; :func:`kernels.group_rows`).

    Parameters
    ----------
    place : numpy.ndarray
        Place index per row, shape (n,).
    values : numpy.ndarray
        Shape (n, k).
    n_places : int
        Number of places.

    Returns
    -------
    numpy.ndarray
        Shape (P, k).
    """
    return group_rows(np.ascontiguousarray(place, dtype=np.int64),
                      np.ascontiguousarray(values, dtype=np.float64), n_places)


def place_pools(model: CoinnovationModel) -> np.ndarray:
    """Mean knowledge vector of the firms and institutes in each place, shape (P, F)."""
    f, inst = model.firms, model.institutes
    p = model.n_places
    return pool_means(f.unit_place, f.alive, model.firm_weight(), f.knowledge, inst.place,
                      np.ascontiguousarray(model.inst_weight(), float), inst.knowledge, p)


def spillovers(model: CoinnovationModel) -> None:
    """Firms absorb knowledge from the place pools; record it as technology flows.

    Each firm's learning uses its own cognitive distance to every pool (one fused pass over the
    firms, :func:`kernels.spillover_pass`). The recorded flow of a destination place is split over
    source places in proportion to ``ψ_ab · ē_ab · adv_ab``: the row-normalised friction, the
    value-weighted mean learning efficiency of the destination's firms towards the source pool,
    and the source pool's knowledge advantage over the destination's mean firm (place-level
    attribution keeps the kernel O(N·P) in one pass).
    """
    f, prm, book = model.firms, model.prm, model.book
    pools = place_pools(model)
    psi = normalise_rows(model.phi["technology"])
    value, sums = spillover_pass(f.knowledge, f.unit_place, f.alive, model.firm_weight(), pools, psi,
                                 float(prm["spillover_rate"]), float(prm["absorptive_half"]),
                                 float(prm["knowledge_value_wan"]), KNOWLEDGE_EPS)
    actual, free = spillover_attribution(sums, pools, psi, model.phi_free)
    home = model.home_shares(value)
    if home is not None:
        actual, free = actual @ home, free @ home
    book.add_matrix("spillover", actual)
    book.expect_free("spillover", free)


def production(model: CoinnovationModel) -> None:
    """Knowledge production and depreciation of firms and institutes."""
    f, inst, prm = model.firms, model.institutes, model.prm
    beta, dep = prm["rd_elasticity"], prm["knowledge_depreciation"]
    rd_output = prm["rd_talent_share"] * f.talent
    np.power(rd_output, beta, out=rd_output)     # (s T)^β in place: no second array
    production_pass(f.knowledge, rd_output, f.place, f.alive, f.field, model.rd_productivity,
                    float(dep), KNOWLEDGE_EPS)
    imade = inst.production * np.power(inst.researchers, beta)
    # inst.knowledge * (1 - dep) + imade[:, None] * direction(inst.knowledge, 0), compiled
    inst.knowledge = institute_knowledge(np.ascontiguousarray(inst.knowledge, dtype=np.float64),
                                         np.ascontiguousarray(imade, dtype=np.float64),
                                         1.0 - dep, KNOWLEDGE_EPS)


def step(model: CoinnovationModel) -> None:
    """One month of spillovers, then production and depreciation."""
    spillovers(model)
    production(model)
    model.knowledge_changed()
