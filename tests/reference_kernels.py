"""Earlier compiled kernels, kept as test references for the fused kernels that replaced them.

Each was tested bit for bit against the numpy formula it replaced (tests in ``test_kernels.py``
and ``test_mech_kernels.py`` still run against these copies), and the fused kernels of
``search_kernels``, ``metrics`` and ``mechanisms.kernels`` are tested bit for bit against them: a
chain of evidence from the numpy code to the current kernels.
"""

from __future__ import annotations

import math

import numpy as np

from coinnovation_sim.kernels import group_weighted_rows, jit, max0


@jit
def evaluate_candidates(collab: np.ndarray, idx: np.ndarray, searcher: np.ndarray,
                        active: np.ndarray, firm_k: np.ndarray, inst_k: np.ndarray,
                        rcv_k: np.ndarray, rcv_sq: np.ndarray, rcv_cap: np.ndarray,
                        learning_rate: float, value_per_unit: float, price: np.ndarray,
                        tc_scale: np.ndarray, eps: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knowledge gain and unsubsidised net gain of one candidate per searcher.

    Candidate ``i`` is valid when ``idx_i ≥ 0``, it is not the searcher itself (joint R&D) and
    ``active_i``. Its source knowledge is firm ``idx_i``'s (``collab_i``) or institute
    ``idx_i``'s. The gain per field is ``λ A_r e(δ) max(0, k_s − k_r)`` with
    ``δ = 1 − cos(k_s, k_r)`` (cosine 0 when ``√(|k_s|² |k_r|²) ≤ eps``) and
    ``e(δ) = 4δ(1 − δ)``, ``δ`` clipped to [0, 1]; the net gain is
    ``v Σ_f gain_f − price − tc``.

    Parameters
    ----------
    collab, idx, searcher, active : numpy.ndarray
        Per searcher: looks for a firm partner; candidate index (-1: none); own firm slot; mask.
    firm_k, inst_k : numpy.ndarray
        Knowledge of firms and institutes.
    rcv_k, rcv_sq, rcv_cap : numpy.ndarray
        Searchers' knowledge, its squared norm and absorptive capacity.
    learning_rate, value_per_unit : float
        ``learning_rate`` and ``knowledge_value_wan``.
    price, tc_scale : numpy.ndarray
        Per searcher: list price, and the transaction cost of this candidate.
    eps : float
        Cosine threshold.

    Returns
    -------
    valid : numpy.ndarray
        Bool per searcher.
    gain : numpy.ndarray
        (n, F) knowledge gain (0 where invalid).
    plain : numpy.ndarray
        Net gain without subsidy, 万元 (0 where invalid).
    """
    n, nf = rcv_k.shape
    valid = np.zeros(n, np.bool_)
    gain = np.zeros((n, nf))
    plain = np.zeros(n)
    for i in range(n):
        j = idx[i]
        if j < 0 or not active[i] or (collab[i] and j == searcher[i]):
            continue
        src = firm_k[j] if collab[i] else inst_k[j]
        num = 0.0
        sq = 0.0
        for f in range(nf):
            num += src[f] * rcv_k[i, f]
            sq += src[f] * src[f]
        den = math.sqrt(sq * rcv_sq[i])
        c = num / den if den > eps else 0.0
        d = 1.0 - c
        if d < 0.0:
            d = 0.0
        elif d > 1.0:
            d = 1.0
        scale = (learning_rate * rcv_cap[i]) * ((4.0 * d) * (1.0 - d))
        total = 0.0
        for f in range(nf):
            g = src[f] - rcv_k[i, f]
            g = scale * (g if g > 0.0 else 0.0)
            gain[i, f] = g
            total += g
        valid[i] = True
        plain[i] = value_per_unit * total - price[i] - tc_scale[i]
    return valid, gain, plain


@jit
def keep_best(valid: np.ndarray, net: np.ndarray, dest: np.ndarray, idx: np.ndarray,
              gain: np.ndarray, tc: np.ndarray, subsidy: np.ndarray, plain: np.ndarray,
              best_net: np.ndarray, best_dest: np.ndarray, best_idx: np.ndarray,
              best_gain: np.ndarray, best_tc: np.ndarray, best_subsidy: np.ndarray,
              best_plain: np.ndarray) -> None:
    """Replace each searcher's best candidate where the new valid one has a larger net gain."""
    n, nf = gain.shape
    for i in range(n):
        if valid[i] and net[i] > best_net[i]:
            best_net[i] = net[i]
            best_dest[i] = dest[i]
            best_idx[i] = idx[i]
            for f in range(nf):
                best_gain[i, f] = gain[i, f]
            best_tc[i] = tc[i]
            best_subsidy[i] = subsidy[i]
            best_plain[i] = plain[i]


@jit
def searchers_and_weights(alive: np.ndarray, capital: np.ndarray, u: np.ndarray,
                          probability: float, weight: np.ndarray, k: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Searching firms of the month and every firm's weight as a partner (one pass).

    Returns
    -------
    searcher : numpy.ndarray
        Live slots with positive capital whose draw ``u`` is below ``probability``, ascending.
    partner_weight : numpy.ndarray
        ``weight_i · κ_i`` of live slots (``κ_i = Σ_f k_if`` added left to right), 0 otherwise.
    """
    n, nf = k.shape
    searcher = np.empty(n, np.int64)
    partner_weight = np.empty(n)
    m = 0
    for i in range(n):
        if alive[i]:
            kappa = 0.0
            for f in range(nf):
                kappa += k[i, f]
            partner_weight[i] = weight[i] * kappa
            if capital[i] > 0.0 and u[i] < probability:
                searcher[m] = i
                m += 1
        else:
            partner_weight[i] = 0.0
    return searcher[:m].copy(), partner_weight


@jit
def place_knowledge_sums(place: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                         k: np.ndarray, n_places: int) -> tuple[np.ndarray, np.ndarray]:
    """Real firms and their total knowledge per place, in firm order.

    The sums ``bincount(place, where(alive, weight, 0))`` and ``bincount(place, where(alive,
    weight, 0) · κ)`` (``κ_i = Σ_f k_if`` added left to right) in one pass; dead slots add
    nothing.

    Returns
    -------
    count, total : numpy.ndarray
        Shape (n_places,) each.
    """
    n, nf = k.shape
    count = np.zeros(n_places)
    total = np.zeros(n_places)
    for i in range(n):
        if not alive[i]:
            continue
        kappa = 0.0
        for f in range(nf):
            kappa += k[i, f]
        count[place[i]] += weight[i]
        total[place[i]] += weight[i] * kappa
    return count, total


# ------------------------------------------------ enclaves (mechanisms.kernels)
def institute_groups(place: np.ndarray, weight: np.ndarray, values: np.ndarray,
                     n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Weight totals and weighted row sums of all rows by group, in row order.

    ``bincount(place, weight)`` and ``add.at`` of ``weight[:, None] · values`` by place (rows of
    weight 0 included): :func:`coinnovation_sim.kernels.group_weighted_rows` of every row.

    Returns
    -------
    total : numpy.ndarray
        Shape (n_groups,): ``Σ weight_i``.
    num : numpy.ndarray
        Shape (n_groups, k): ``Σ weight_i · values[i]``.
    """
    num, total = group_weighted_rows(np.ascontiguousarray(place, dtype=np.int64),
                                     np.ones(len(place), np.bool_),
                                     np.ascontiguousarray(weight, dtype=np.float64), values,
                                     n_groups, False)
    return total, num


@jit
def knowledge_weighted_groups(group: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                              values: np.ndarray, n_groups: int
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Grouped sums of all rows with the weights ``where(alive, weight, 0) · Σ_c values[i, c]``.

    As :func:`institute_groups` computes them for given weights (zero weights included).
    The row total is added left to right (as :func:`coinnovation_sim.kernels.row_sums`): the
    enclaves' knowledge-weighted firm offers in one pass instead of three.

    Parameters
    ----------
    group : numpy.ndarray
        Group index per row, int, shape (n,).
    alive : numpy.ndarray
        Rows that count (n,), bool; the others weigh 0.
    weight : numpy.ndarray
        Weight per row (n,).
    values : numpy.ndarray
        Shape (n, k).
    n_groups : int
        Number of groups.

    Returns
    -------
    total, num : numpy.ndarray
        Weight totals (n_groups,) and weighted row sums (n_groups, k).
    """
    n, k = values.shape
    total = np.zeros(n_groups)
    num = np.zeros((n_groups, k))
    for i in range(n):
        kappa = 0.0
        for c in range(k):
            kappa += values[i, c]
        w = (weight[i] if alive[i] else 0.0) * kappa
        g = group[i]
        total[g] += w
        for c in range(k):
            num[g, c] += w * values[i, c]
    return total, num


@jit
def vacancy_totals(tstar: np.ndarray, talent: np.ndarray, alive: np.ndarray, capital: np.ndarray,
                   place: np.ndarray, weight: np.ndarray, speed: float, n_places: int
                   ) -> np.ndarray:
    """Real vacancies per unit place: the enclaves' fill-rate input.

    ``bincount(place, weights=weight * where(alive & (capital > 0), speed · max(0, T* − T), 0))``.

    Parameters
    ----------
    tstar, talent, capital, weight : numpy.ndarray
        Per firm slot (n,): target and current talent, capital, real firms.
    alive : numpy.ndarray
        Live slots (n,), bool.
    place : numpy.ndarray
        Unit place per slot (n,), int.
    speed : float
        ``hiring_speed``.
    n_places : int
        Number of places.

    Returns
    -------
    numpy.ndarray
        Shape (n_places,).
    """
    out = np.zeros(n_places)
    cur = -1
    acc = 0.0
    for i in range(tstar.shape[0]):       # a place's sum kept in a register through its runs
        v = speed * max0(tstar[i] - talent[i])
        if not (alive[i] and capital[i] > 0.0):
            v = 0.0
        g = place[i]
        if g != cur:
            if cur >= 0:
                out[cur] = acc
            cur = g
            acc = out[g]
        acc += weight[i] * v
    if cur >= 0:
        out[cur] = acc
    return out


@jit
def origin_weights(origin: np.ndarray, psi: np.ndarray, eff: np.ndarray) -> np.ndarray:
    """``psi[origin] * eff``: spillover weights of each firm's unit place (n, P)."""
    n, p = eff.shape
    out = np.empty((n, p))
    for i in range(n):
        o = origin[i]
        for b in range(p):
            out[i, b] = psi[o, b] * eff[i, b]
    return out


@jit
def project_talent(tstar: np.ndarray, alive: np.ndarray, talent: np.ndarray, hire: np.ndarray,
                   speed: float, slack: float, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Talent path of each firm over ``horizon`` months under the core's hiring rule.

    ``T ← T + hire · max(0, T* − T) − speed · max(0, T − slack · T*)`` from the current talent,
    with ``T* = 0`` for dead firms (``tstar`` holds ``base^(1/(1−θ))`` for all).

    Parameters
    ----------
    tstar : numpy.ndarray
        ``T*`` before the dead firms' zero (A, n).
    alive : numpy.ndarray
        Live firms (n,), bool.
    talent : numpy.ndarray
        Current talent (n,).
    hire : numpy.ndarray
        From :func:`projection_setup` (A, n).
    speed, slack : float
        ``hiring_speed``; layoff threshold (1.05).
    horizon : int
        Months.

    Returns
    -------
    path : numpy.ndarray
        Talent after each month (horizon, A, n).
    target : numpy.ndarray
        ``T*`` with zeros for dead firms (A, n).
    """
    na, n = tstar.shape
    path = np.empty((horizon, na, n))
    target = np.empty((na, n))
    for a in range(na):
        for i in range(n):
            ts = tstar[a, i] if alive[i] else 0.0
            target[a, i] = ts
            lay = slack * ts
            h = hire[a, i]
            t = talent[i]
            for m in range(horizon):
                t = (t + h * max0(ts - t)) - speed * max0(t - lay)
                path[m, a, i] = t
    return path, target


@jit
def reviewing_slots(member: np.ndarray, review: np.ndarray, alive: np.ndarray,
                    capital: np.ndarray, members: bool) -> np.ndarray:
    """Live slots reviewing their location this month: park members or firms free to apply.

    ``members``: ``flatnonzero((member >= 0) & review & alive)``; otherwise the applicants
    ``flatnonzero(alive & (member < 0) & review & (capital > 0))``.
    """
    n = member.shape[0]
    out = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if not (review[i] and alive[i]):
            continue
        if (member[i] >= 0) if members else (member[i] < 0 and capital[i] > 0.0):
            out[m] = i
            m += 1
    return out[:m].copy()
