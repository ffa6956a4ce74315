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

from .fastmath import column_sums, transpose_into
from .knowledge import _EPS as KNOWLEDGE_EPS
from .knowledge import absorptive_capacity, direction
from .sampling import normalise_rows

if TYPE_CHECKING:
    from .model import CoinnovationModel


#: One-hot place matrices of recent calls (place arrays rarely change between calls).
_ONEHOT_CACHE: list[tuple[np.ndarray, int, np.ndarray]] = []
_ONEHOT_KEEP = 3
#: Largest matrix kept (elements; 16 places × 1,000,000 slots = 128 MB): bigger ones are rebuilt.
_ONEHOT_MAX_SIZE = 16_000_000


def onehot_places(place: np.ndarray, n_places: int) -> np.ndarray:
    """The (P, n) indicator matrix of ``place`` (cached: reused while ``place`` is unchanged).

    The returned array is read-only and shared; do not modify it.
    """
    for key, p, mat in _ONEHOT_CACHE:
        if p == n_places and key.shape == place.shape and np.array_equal(key, place):
            return mat
    onehot = np.zeros((n_places, len(place)))
    onehot[place, np.arange(len(place))] = 1.0
    if onehot.size <= _ONEHOT_MAX_SIZE:
        onehot.flags.writeable = False
        _ONEHOT_CACHE.insert(0, (place.copy(), n_places, onehot))
        del _ONEHOT_CACHE[_ONEHOT_KEEP:]
    return onehot


def group_sum(place: np.ndarray, values: np.ndarray, n_places: int) -> np.ndarray:
    """Sum the rows of ``values`` by place with one matrix product.

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
    return onehot_places(place, n_places) @ values


def place_pools(model: CoinnovationModel) -> np.ndarray:
    """Mean knowledge vector of the firms and institutes in each place, shape (P, F)."""
    f, inst = model.firms, model.institutes
    p = model.n_places
    wf = np.where(f.alive, model.firm_weight(), 0.0)
    wi = model.inst_weight()
    total = (group_sum(f.unit_place, wf[:, None] * f.knowledge, p)
             + group_sum(inst.place, wi[:, None] * inst.knowledge, p))
    count = np.bincount(f.unit_place, weights=wf, minlength=p) + np.bincount(
        inst.place, weights=wi, minlength=p)
    return np.divide(total, count[:, None], out=np.zeros_like(total), where=count[:, None] > 0)


def spillovers(model: CoinnovationModel) -> None:
    """Firms absorb knowledge from the place pools; record it as technology flows.

    Each firm's learning uses its own cognitive distance to every pool. The recorded flow of a
    destination place is split over source places in proportion to ``ψ_ab · ē_ab · adv_ab``:
    the row-normalised friction, the value-weighted mean learning efficiency of the destination's
    firms towards the source pool, and the source pool's knowledge advantage over the
    destination's mean firm (place-level attribution keeps the kernel O(N·P) with few passes).
    """
    f, prm, book = model.firms, model.prm, model.book
    p = model.n_places
    n = f.n
    pools = place_pools(model)
    a = f.unit_place
    k = f.knowledge
    # cosine to the pools, clipped to [0, 1], then the learning efficiency 4δ(1−δ) of δ = 1 − cos:
    # the operations of cosine_to_pools and learning_efficiency, element for element, but on
    # place-major (P × n) arrays so every operation runs over long rows (same results)
    num = np.matmul(k, pools.T, out=model.work("spill_num", (n, p)))
    eff = transpose_into(model.work("spill_eff", (p, n)), num)
    sq = np.multiply(k, k, out=model.work("spill_sq", k.shape))
    kn = np.sqrt(np.add.reduce(sq, axis=1))          # np.linalg.norm(k, axis=1)
    pn = np.linalg.norm(pools, axis=1)
    buf = np.multiply(pn[:, None], kn[None, :], out=model.work("spill_buf", (p, n)))
    small = buf <= KNOWLEDGE_EPS
    np.maximum(buf, KNOWLEDGE_EPS, out=buf)
    np.divide(eff, buf, out=eff)
    eff[small] = 0.0
    np.clip(eff, 0.0, 1.0, out=eff)
    np.subtract(1.0, eff, out=eff)
    np.clip(eff, 0.0, 1.0, out=eff)
    np.subtract(1.0, eff, out=buf)
    np.multiply(4.0, eff, out=eff)
    np.multiply(eff, buf, out=eff)
    psi = normalise_rows(model.phi["technology"])
    weights = np.take(psi.T, a, axis=1, out=buf, mode="clip")   # ψ[a] transposed
    np.multiply(weights, eff, out=weights)
    learn = weights.T @ pools
    wsum = column_sums(weights)                      # weights.T.sum(axis=1), exactly
    kappa = k.sum(axis=1)
    cap = absorptive_capacity(kappa, prm["absorptive_half"])
    np.subtract(learn, np.multiply(wsum[:, None], k, out=sq), out=learn)
    np.maximum(0.0, learn, out=learn)
    np.multiply(prm["spillover_rate"] * cap[:, None], learn, out=learn)
    learn[~f.alive] = 0.0
    k += learn
    wf = np.where(f.alive, model.firm_weight(), 0.0)
    value = prm["knowledge_value_wan"] * learn.sum(axis=1) * wf
    cols = model.work("spill_cols", (n, p + 3))
    transpose_into(cols[:, :p], np.multiply(value[None, :], eff, out=buf))
    cols[:, p] = value
    cols[:, p + 1] = wf * kappa
    cols[:, p + 2] = wf
    sums = group_sum(a, cols, p)
    v_dest = sums[:, p]
    e_bar = np.divide(sums[:, :p], v_dest[:, None], out=np.zeros((p, p)), where=v_dest[:, None] > 0)
    k_dest = np.divide(sums[:, p + 1], sums[:, p + 2], out=np.zeros(p), where=sums[:, p + 2] > 0)
    advantage = np.maximum(0.0, pools.sum(axis=1)[None, :] - k_dest[:, None])

    def attribute(kernel: np.ndarray) -> np.ndarray:
        share = normalise_rows(kernel * e_bar * advantage)
        share = np.where(share.sum(axis=1, keepdims=True) > 0, share, normalise_rows(kernel * e_bar))
        return (share * v_dest[:, None]).T

    actual, free = attribute(psi), attribute(normalise_rows(model.phi_free))
    home = model.home_shares(value)
    if home is not None:
        actual, free = actual @ home, free @ home
    book.add_matrix("spillover", actual)
    book.expect_free("spillover", free)


def production(model: CoinnovationModel) -> None:
    """Knowledge production and depreciation of firms and institutes."""
    f, inst, prm = model.firms, model.institutes, model.prm
    beta, dep = prm["rd_elasticity"], prm["knowledge_depreciation"]
    made = model.rd_productivity[f.place] * np.power(prm["rd_talent_share"] * f.talent, beta)
    made = np.where(f.alive, made, 0.0)
    grow = direction(f.knowledge, f.field)
    np.multiply(made[:, None], grow, out=grow)
    f.knowledge *= 1.0 - dep
    f.knowledge += grow
    imade = inst.production * np.power(inst.researchers, beta)
    inst.knowledge = inst.knowledge * (1.0 - dep) + imade[:, None] * direction(
        inst.knowledge, np.zeros(inst.n, np.int64))


def step(model: CoinnovationModel) -> None:
    """One month of spillovers, then production and depreciation."""
    spillovers(model)
    production(model)
