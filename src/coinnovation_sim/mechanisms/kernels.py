"""Compiled loop kernels of the policy mechanisms (enclaves, vouchers, technology market).

The mechanisms value alternatives for a few hundred firms at a time (a park's applicants, a
month's voucher applicants and holders): chains of a dozen numpy passes over small (n, P) arrays
whose cost is mostly the per-call overhead. The kernels here fuse those passes into loops, with
the conventions of :mod:`coinnovation_sim.kernels` (compiled by its :func:`~coinnovation_sim.kernels.jit`:
no fastmath, cached on disk, plain Python when numba is absent or ``NUMBA_DISABLE_JIT=1``).

**Same bits as the numpy code they replace.** Every kernel keeps each operation's operands and
order:

* elementwise arithmetic is written operation for operation as numpy evaluates it (left to
  right, no fused multiply-add);
* a reduction along a row, numpy's ``x.sum(axis=1)``, is numpy's pairwise summation
  (:func:`pairwise_sum`) added to the identity 0; ``numpy.bincount`` with weights and
  ``numpy.add.at`` add in element order, so the kernels add in element order;
* ``numpy.maximum``, ``numpy.minimum``, ``numpy.clip`` and ``numpy.argmax`` keep numpy's rules
  for NaN and for ties between signed zeros (:func:`max0`, :func:`np_min`, :func:`np_clip`);
* matrix products (BLAS, whose order is not numpy's) and transcendental functions (``np.power``,
  ``np.log``: numpy's SIMD versions differ in the last bit from the C library's) stay numpy calls
  between the kernels, on arrays of the same shape and layout as before.

Divisions are guarded explicitly (:func:`ieee_div`), so compiled and interpreted code take the
same branches. ``tests/test_mech_kernels.py`` compares each kernel, bit for bit, with the numpy
formula it replaces; earlier kernels that fused ones replaced (``knowledge_weighted_groups``,
``vacancy_totals``, ``origin_weights``, ``project_talent``, ``reviewing_slots``,
``institute_groups``) are kept as test references in ``tests/reference_kernels.py``, and the fused
kernels are tested against them. :func:`warm_up` compiles (or loads) every kernel with every argument type a
run uses; the mechanisms call it when they are built.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import (
    _add_weighted_rows,
    group_weighted_rows,
    ieee_div,
    jit,
    jit_inline,
    max0,
    np_clip,
    np_min,
    pairwise_sum,
    row8_axpy,
    row8_load,
    row8_store,
    row8_zero,
    row_total,
    segment_sampler_arrays,
    store_normalised,
    total,
)
from ..search_kernels import receiver_knowledge


# ---------------------------------------------------------------------------------- helpers
@jit
def total8(a: np.ndarray) -> float:
    """:func:`total` of exactly 8 values (small enough to be inlined in the kernels' loops)."""
    return 0.0 + (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])))


@jit
def total16(a: np.ndarray) -> float:
    """:func:`total` of exactly 16 values: eight pair sums ``a[j] + a[j+8]``, then the tree."""
    return 0.0 + ((((a[0] + a[8]) + (a[1] + a[9])) + ((a[2] + a[10]) + (a[3] + a[11])))
                  + (((a[4] + a[12]) + (a[5] + a[13])) + ((a[6] + a[14]) + (a[7] + a[15]))))


@jit
def efficiency(cos: float, inner_clip: bool) -> float:
    """``learning_efficiency(1 − cos)``, with ``cos`` first clipped to [0, 1] if ``inner_clip``."""
    if inner_clip:
        cos = np_clip(cos, 0.0, 1.0)
    d = np_clip(1.0 - cos, 0.0, 1.0)
    return (4.0 * d) * (1.0 - d)


@jit
def _norms(x: np.ndarray) -> np.ndarray:
    """``numpy.linalg.norm(x, axis=1)``: square root of the pairwise row sum of squares."""
    n, m = x.shape
    out = np.empty(n)
    buf = np.empty(m)
    for i in range(n):
        for c in range(m):
            buf[c] = x[i, c] * x[i, c]
        out[i] = math.sqrt(total8(buf) if m == 8 else total(buf, m))
    return out


@jit
def _cosine(dot: float, den: float, eps: float) -> float:
    """One element of ``cosine_to_pools``: ``dot / max(den, eps)`` where ``den > eps``, else 0."""
    return dot / den if den > eps else 0.0


# ---------------------------------------------------------------------------------- group sums


@jit
def outlook_sums(group: np.ndarray, alive: np.ndarray, weight: np.ndarray, values: np.ndarray,
                 tstar: np.ndarray, talent: np.ndarray, capital: np.ndarray, speed: float,
                 n_groups: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The enclaves' three grouped sums of the firms in one pass over their rows.

    ``kernels.group_weighted_rows(group, alive, weight, values, n_groups, True)`` (the firms'
    part of ``innovation.place_pools``), ``knowledge_weighted_groups`` of the same
    arguments and ``vacancy_totals`` ``(tstar, talent, alive, capital, group, weight, speed,
    n_groups)``; each accumulator adds the rows in row order, as those kernels do.

    Returns
    -------
    total, count : numpy.ndarray
        Weighted row sums (n_groups, k) and weight totals (n_groups,) of the live rows.
    kw_total, kw_num : numpy.ndarray
        Knowledge-weighted totals (n_groups,) and row sums (n_groups, k).
    vacancies : numpy.ndarray
        Real vacancies per group (n_groups,).
    """
    n, k = values.shape
    total = np.zeros((n_groups, k))
    count = np.zeros(n_groups)
    kw_total = np.zeros(n_groups)
    kw_num = np.zeros((n_groups, k))
    vac = np.zeros(n_groups)
    if k == 8:
        _outlook_sums8(group, alive, weight, values, tstar, talent, capital, speed, total, count,
                       kw_total, kw_num, vac)
        return total, count, kw_total, kw_num, vac
    for i in range(n):
        g = group[i]
        kappa = 0.0
        for c in range(k):
            kappa += values[i, c]
        w = weight[i]
        live = alive[i]
        wk = (w if live else 0.0) * kappa
        kw_total[g] += wk
        for c in range(k):
            kw_num[g, c] += wk * values[i, c]
        if live and w != 0.0:
            count[g] += w
            for c in range(k):
                total[g, c] += w * values[i, c]
        vac[g] += w * _vacancy(tstar[i], talent[i], live, capital[i], speed)
    return total, count, kw_total, kw_num, vac


@jit_inline
def _vacancy(tstar: float, talent: float, live: bool, capital: float, speed: float) -> float:
    """A firm's vacancies ``speed · max(0, T* − T)`` if it is alive with capital, else 0."""
    v = speed * max0(tstar - talent)
    if not (live and capital > 0.0):
        v = 0.0
    return v


@jit
def _outlook_sums8(group: np.ndarray, alive: np.ndarray, weight: np.ndarray, values: np.ndarray,
                   tstar: np.ndarray, talent: np.ndarray, capital: np.ndarray, speed: float,
                   total: np.ndarray, count: np.ndarray, kw_total: np.ndarray,
                   kw_num: np.ndarray, vac: np.ndarray) -> None:
    """:func:`outlook_sums` of 8 columns: the sums of a run of rows of one group in registers.

    The same additions in the same order as the row loop of :func:`outlook_sums` (each row's
    ``acc + w · row`` element by element, as ``kernels.row8_axpy`` computes it), without waiting
    for each stored sum before the next row of the group.
    """
    cur = -1
    acc = row8_zero()
    kw_acc = row8_zero()
    cnt = 0.0
    kw = 0.0
    va = 0.0
    for i in range(values.shape[0]):
        g = group[i]
        if g != cur:
            if cur >= 0:
                row8_store(total, cur, acc)
                row8_store(kw_num, cur, kw_acc)
                count[cur] = cnt
                kw_total[cur] = kw
                vac[cur] = va
            cur = g
            acc = row8_load(total, g)
            kw_acc = row8_load(kw_num, g)
            cnt = count[g]
            kw = kw_total[g]
            va = vac[g]
        w = weight[i]
        live = alive[i]
        wk = (w if live else 0.0) * row_total(values, i)
        kw += wk
        kw_acc = row8_axpy(kw_acc, wk, values, i)
        if live and w != 0.0:
            cnt += w
            acc = row8_axpy(acc, w, values, i)
        va += w * _vacancy(tstar[i], talent[i], live, capital[i], speed)
    if cur >= 0:
        row8_store(total, cur, acc)
        row8_store(kw_num, cur, kw_acc)
        count[cur] = cnt
        kw_total[cur] = kw
        vac[cur] = va


@jit
def outlook_terms(vac: np.ndarray, wage_pow: np.ndarray, vac_pow: np.ndarray,
                  phi_talent: np.ndarray, seekers: np.ndarray, pool_f: np.ndarray,
                  count_f: np.ndarray, kw_total: np.ndarray, kw_num: np.ndarray,
                  inst_place: np.ndarray, inst_weight: np.ndarray, inst_capacity: np.ndarray,
                  inst_knowledge: np.ndarray, phi: np.ndarray, multiplier: np.ndarray,
                  transaction_cost: float):
    """The place-level terms of the enclaves' outlook from the firms' sums (:func:`outlook_sums`).

    As ``enclaves._Outlook`` computed them in numpy: the fill rates ``where(vac > inflow,
    inflow / vac, 1)`` with ``inflow = (seekers[:, None] · normalise_rows(phi_talent ·
    attract[None, :])).sum(axis=0)`` (rows added in order) and ``attract = where(vac > 0,
    wage_pow · vac_pow, 0)``; the place pools (firms' and institutes' sums, then the means); the
    representative institute (weights ``inst_weight · capacity · Σ_f k``) and firm
    (``knowledge_weighted_groups``) of each place, :func:`group_means`; the partner-place
    draws ``normalise_rows(phi · total[None, :])`` per kind; ``normalise_rows(phi)`` and
    ``transaction_cost · multiplier / phi``.

    Returns
    -------
    fill : numpy.ndarray
        (P,).
    basis : numpy.ndarray
        (3, P, F): the institutes' and firms' representatives, then the pools.
    q : numpy.ndarray
        (2, P, P): partner-place draw probabilities per kind.
    psi, tc : numpy.ndarray
        (P, P): row-normalised friction; transaction costs.
    """
    p = vac.shape[0]
    nf = pool_f.shape[1]
    prod = np.empty(p)
    attract = np.empty(p)
    for j in range(p):
        attract[j] = wage_pow[j] * vac_pow[j] if vac[j] > 0.0 else 0.0
    norm = np.empty((p, p))
    for i in range(p):
        for j in range(p):
            prod[j] = phi_talent[i, j] * attract[j]
        store_normalised(prod, norm, i)
    fill = np.empty(p)
    for j in range(p):
        inflow = 0.0
        for i in range(p):
            inflow += seekers[i] * norm[i, j]
        fill[j] = inflow / vac[j] if vac[j] > inflow else 1.0
    n_inst = inst_place.shape[0]
    live = np.ones(n_inst, np.bool_)
    ti = np.zeros((p, nf))
    ci = np.zeros(p)
    _add_weighted_rows(inst_place, live, inst_weight, inst_knowledge, True, ti, ci)
    w_inst = np.empty(n_inst)
    for i in range(n_inst):
        w_inst[i] = (inst_weight[i] * inst_capacity[i]) * row_total(inst_knowledge, i)
    num_i = np.zeros((p, nf))
    tot_i = np.zeros(p)
    _add_weighted_rows(inst_place, live, w_inst, inst_knowledge, False, num_i, tot_i)
    basis = np.empty((3, p, nf))
    basis[0] = group_means(num_i, tot_i)
    basis[1] = group_means(kw_num, kw_total)
    basis[2] = group_means(pool_f + ti, count_f + ci)
    q = np.empty((2, p, p))
    psi = np.empty((p, p))
    tc = np.empty((p, p))
    for i in range(p):
        for j in range(p):
            prod[j] = phi[i, j] * tot_i[j]
        store_normalised(prod, q[0], i)
        for j in range(p):
            prod[j] = phi[i, j] * kw_total[j]
        store_normalised(prod, q[1], i)
        for j in range(p):
            prod[j] = phi[i, j]
            tc[i, j] = ieee_div(transaction_cost * multiplier[i, j], phi[i, j])
        store_normalised(prod, psi, i)
    return fill, basis, q, psi, tc


@jit
def group_means(num: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``numpy.divide(num, total[:, None], where=total[:, None] > 0)`` with zeros elsewhere."""
    g, k = num.shape
    out = np.zeros((g, k))
    for p in range(g):
        t = total[p]
        if t > 0.0:
            for c in range(k):
                out[p, c] = num[p, c] / t
    return out


# ---------------------------------------------------------------------------------- enclaves
@jit
def knowledge_terms(k: np.ndarray, pools: np.ndarray, dot_pools: np.ndarray, reps: np.ndarray,
                    dot_reps: np.ndarray, learn_value: float, prices: np.ndarray, half: float,
                    eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin-independent terms of the enclaves' knowledge valuation (``_Outlook.knowledge``).

    For firm ``i`` with knowledge ``k_i`` (total ``κ_i``, summed left to right): the absorptive
    capacity ``A_i = κ_i / (κ_i + half)``; the learning efficiency ``e(δ)`` towards every pool
    ``j`` from the clipped cosine ``dot_pools[i, j] / (|k_i| |p_j|)``; and per offer kind ``m``
    (institutes, firms) the net worth of one deal with place ``b``'s representative,
    ``learn_value · A_i · e_imb · Σ_f max(0, rep_mbf − k_if) − price_m``.

    Parameters
    ----------
    k : numpy.ndarray
        Knowledge of the firms valued (n, F).
    pools : numpy.ndarray
        Place knowledge pools (P, F).
    dot_pools : numpy.ndarray
        ``k @ pools.T`` (n, P), numpy's product.
    reps : numpy.ndarray
        Representative knowledge per offer kind and place (M, P, F).
    dot_reps : numpy.ndarray
        ``k @ reps[m].T`` per kind (M, n, P).
    learn_value : float
        ``knowledge_value_wan · learning_rate``.
    prices : numpy.ndarray
        Price per kind (M,).
    half, eps : float
        ``absorptive_half``; the cosine's zero threshold.

    Returns
    -------
    cap : numpy.ndarray
        Absorptive capacity (n,).
    eff : numpy.ndarray
        Learning efficiency towards the pools (n, P).
    worth : numpy.ndarray
        Net worth of a deal per kind (M, n, P).
    """
    n, nf = k.shape
    p = pools.shape[0]
    m = reps.shape[0]
    kn = _norms(k)
    pn = _norms(pools)
    rn = np.empty((m, p))
    for j in range(m):
        rn[j] = _norms(reps[j])
    cap = np.empty(n)
    eff = np.empty((n, p))
    worth = np.empty((m, n, p))
    if nf == 8:
        _knowledge_terms8(k, dot_pools, reps, dot_reps, learn_value, prices, half, eps, kn, pn, rn,
                          cap, eff, worth)
        return cap, eff, worth
    buf = np.empty(nf)
    for i in range(n):
        kappa = 0.0
        for c in range(nf):
            kappa += k[i, c]
        cap[i] = ieee_div(kappa, kappa + half)
        a = learn_value * cap[i]
        for b in range(p):
            eff[i, b] = efficiency(_cosine(dot_pools[i, b], kn[i] * pn[b], eps), True)
        for j in range(m):
            for b in range(p):
                e = efficiency(_cosine(dot_reps[j, i, b], kn[i] * rn[j, b], eps), True)
                for c in range(nf):
                    buf[c] = max0(reps[j, b, c] - k[i, c])
                worth[j, i, b] = ((a * e) * total(buf, nf)) - prices[j]
    return cap, eff, worth


@jit
def _knowledge_terms8(k: np.ndarray, dot_pools: np.ndarray, reps: np.ndarray,
                      dot_reps: np.ndarray, learn_value: float, prices: np.ndarray, half: float,
                      eps: float, kn: np.ndarray, pn: np.ndarray, rn: np.ndarray, cap: np.ndarray,
                      eff: np.ndarray, worth: np.ndarray) -> None:
    """:func:`knowledge_terms` of 8 fields, the places in the inner loop (vectorisable).

    A firm's gaps to the places' representatives are eight values per place, summed in
    :func:`total8`'s order.
    """
    n = k.shape[0]
    m, p, nf = reps.shape
    rt = np.empty((m, nf, p))                     # the representatives' fields place by place
    for j in range(m):
        for b in range(p):
            for c in range(nf):
                rt[j, c, b] = reps[j, b, c]
    for i in range(n):
        kappa = 0.0
        for c in range(nf):
            kappa += k[i, c]
        ci = ieee_div(kappa, kappa + half)
        cap[i] = ci
        a = learn_value * ci
        kni = kn[i]
        for b in range(p):
            eff[i, b] = efficiency(_cosine(dot_pools[i, b], kni * pn[b], eps), True)
        k0, k1, k2, k3 = k[i, 0], k[i, 1], k[i, 2], k[i, 3]
        k4, k5, k6, k7 = k[i, 4], k[i, 5], k[i, 6], k[i, 7]
        for j in range(m):
            pr = prices[j]
            for b in range(p):
                d0 = max0(rt[j, 0, b] - k0)
                d1 = max0(rt[j, 1, b] - k1)
                d2 = max0(rt[j, 2, b] - k2)
                d3 = max0(rt[j, 3, b] - k3)
                d4 = max0(rt[j, 4, b] - k4)
                d5 = max0(rt[j, 5, b] - k5)
                d6 = max0(rt[j, 6, b] - k6)
                d7 = max0(rt[j, 7, b] - k7)
                learn = 0.0 + (((d0 + d1) + (d2 + d3)) + ((d4 + d5) + (d6 + d7)))
                e = efficiency(_cosine(dot_reps[j, i, b], kni * rn[j, b], eps), True)
                worth[j, i, b] = ((a * e) * learn) - pr


@jit
def knowledge_value(origin: np.ndarray, k: np.ndarray, weights: np.ndarray, learn: np.ndarray,
                    cap: np.ndarray, worth: np.ndarray, q: np.ndarray, kind_share: np.ndarray,
                    tc: np.ndarray, spill_value: float, search_probability: float) -> np.ndarray:
    """Expected monthly knowledge value from each firm's unit place ``origin`` (万元).

    ``spill_value · A_i · Σ_f max(0, learn_if − (Σ_b w_ib) k_if)`` (spillovers) plus
    ``search_probability · Σ_m share_m Σ_b q_m[o, b] max(0, worth_mib − tc[o, b])`` (one search
    month), each sum in numpy's order.

    Parameters
    ----------
    origin : numpy.ndarray
        Unit place per firm (n,).
    k : numpy.ndarray
        Knowledge (n, F).
    weights : numpy.ndarray
        ``origin_weights`` (n, P).
    learn : numpy.ndarray
        ``weights @ pools`` (n, F), numpy's product.
    cap, worth : numpy.ndarray
        From :func:`knowledge_terms`.
    q : numpy.ndarray
        Partner-place draw probabilities per kind (M, P, P).
    kind_share : numpy.ndarray
        Share of searches per kind (M,).
    tc : numpy.ndarray
        Transaction cost per place pair (P, P).
    spill_value, search_probability : float
        ``knowledge_value_wan · spillover_rate``; ``search_probability``.

    Returns
    -------
    numpy.ndarray
        Shape (n,).
    """
    n, nf = k.shape
    p = weights.shape[1]
    m = worth.shape[0]
    out = np.empty(n)
    buf_p = np.empty(p)
    buf_f = np.empty(nf)
    for i in range(n):
        o = origin[i]
        for b in range(p):
            buf_p[b] = weights[i, b]
        wsum = total16(buf_p) if p == 16 else total(buf_p, p)
        for c in range(nf):
            buf_f[c] = max0(learn[i, c] - wsum * k[i, c])
        spill = (spill_value * cap[i]) * (total8(buf_f) if nf == 8 else total(buf_f, nf))
        deals = 0.0
        for j in range(m):
            for b in range(p):
                buf_p[b] = q[j, o, b] * max0(worth[j, i, b] - tc[o, b])
            deals += kind_share[j] * (total16(buf_p) if p == 16 else total(buf_p, p))
        out[i] = spill + search_probability * deals
    return out


@jit
def projection_setup(origin: np.ndarray, home: np.ndarray, alive: np.ndarray, wage: np.ndarray,
                     fill: np.ndarray, scale: np.ndarray, share: np.ndarray, theta: float,
                     speed: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wage, ``T*`` base and hiring rate of each firm for units at each alternative origin.

    Per alternative ``a`` (row of ``origin``) and firm ``i`` with home ``h``: the wage of
    :func:`coinnovation_sim.production.unit_wage`, ``w = w_h + s_a (w_o − w_h)`` away from home
    (``w_h`` at home); the base ``θ · scale_i / w`` of ``T* = base^(1/(1−θ))``; and the hiring
    rate ``speed · (part · f_o + (1 − part) f_h)``, ``part = s_a`` away, 1 at home.

    Parameters
    ----------
    origin : numpy.ndarray
        Unit place per alternative and firm (A, n), int.
    home : numpy.ndarray
        Home place per firm (n,).
    alive : numpy.ndarray
        Live firms (n,), bool (dead ones get base 0: ``T* = 0``).
    wage, fill : numpy.ndarray
        Per place (P,): wage; share of vacancies filled.
    scale : numpy.ndarray
        ``productivity · quality`` per firm (n,).
    share : numpy.ndarray
        Staff share working at the origin when away, per alternative (A,).
    theta, speed : float
        ``talent_elasticity``; ``hiring_speed``.

    Returns
    -------
    w, base, hire : numpy.ndarray
        Shape (A, n) each.
    """
    na, n = origin.shape
    w = np.empty((na, n))
    base = np.empty((na, n))
    hire = np.empty((na, n))
    for a in range(na):
        s = share[a]
        for i in range(n):
            o = origin[a, i]
            h = home[i]
            wh = wage[h]
            away = o != h
            wi = wh + s * (wage[o] - wh) if away else wh
            w[a, i] = wi
            base[a, i] = ieee_div(theta * scale[i], wi)
            part = s if away else 1.0
            hire[a, i] = speed * (part * fill[o] + (1.0 - part) * fill[h])
    return w, base, hire


@jit
def mean_profit(path: np.ndarray, power: np.ndarray, scale: np.ndarray, w: np.ndarray,
                overhead: np.ndarray) -> np.ndarray:
    """Mean monthly operating profit ``Σ_m (scale · T_m^θ − w T_m − overhead) / horizon``.

    Parameters
    ----------
    path : numpy.ndarray
        Talent per month (horizon, A, n).
    power : numpy.ndarray
        ``path ** θ`` (numpy's power), same shape.
    scale, overhead : numpy.ndarray
        Per firm (n,).
    w : numpy.ndarray
        Wage per alternative and firm (A, n).

    Returns
    -------
    numpy.ndarray
        Shape (A, n).
    """
    horizon, na, n = path.shape
    out = np.empty((na, n))
    for a in range(na):
        for i in range(n):
            total = 0.0
            for m in range(horizon):
                total += ((scale[i] * power[m, a, i]) - (w[a, i] * path[m, a, i])) - overhead[i]
            out[a, i] = ieee_div(total, float(horizon))
    return out


@jit
def location_gain(there: np.ndarray, home: np.ndarray, know: np.ndarray, capital: np.ndarray,
                  unit_cost: float, setup_cost: float, horizon: int) -> np.ndarray:
    """A firm's monthly gain from a unit away, ``−1e-12`` at most where it cannot finance it.

    ``G = (π̄_x − c_unit) − π̄_h + K − c_setup / H``; where ``C − c_setup + H (π̄_x − c_unit) < 0``
    the gain is ``min(G, −1e-12)``.

    Parameters
    ----------
    there, home : numpy.ndarray
        Mean monthly profit with the unit away and at home (n,).
    know : numpy.ndarray
        Knowledge-access gain ``K(x) − K(h)`` (n,).
    capital : numpy.ndarray
        Firms' capital (n,).
    unit_cost, setup_cost : float
        The park's monthly unit cost and one-off setup cost.
    horizon : int
        ``H``, months.

    Returns
    -------
    numpy.ndarray
        Shape (n,).
    """
    n = there.shape[0]
    out = np.empty(n)
    spread = ieee_div(setup_cost, float(horizon))
    for i in range(n):
        x = there[i] - unit_cost
        g = ((x - home[i]) + know[i]) - spread
        funded = (capital[i] - setup_cost) + horizon * x >= 0.0
        out[i] = g if funded else np_min(g, -1e-12)
    return out


@jit
def valuation_setup(slots: np.ndarray, host: int, k: np.ndarray, dots: np.ndarray,
                    pools: np.ndarray, reps: np.ndarray, psi: np.ndarray, place: np.ndarray,
                    learn_value: float, prices: np.ndarray, half: float, eps: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`knowledge_terms` and the ``origin_weights`` of a unit in ``host`` and at home.

    ``k = knowledge[slots]`` and ``dots = k @ basis_t`` (numpy's products: the representatives'
    kinds, then the pools); the home of firm ``j`` is ``place[slots[j]]``.

    Returns
    -------
    cap, worth : numpy.ndarray
        As :func:`knowledge_terms` returns them.
    weights : numpy.ndarray
        (2, n, P): ``origin_weights`` with the unit in ``host``, then at home.
    """
    cap, eff, worth = knowledge_terms(k, pools, dots[-1], reps, dots[:-1], learn_value, prices,
                                      half, eps)
    n, p = eff.shape
    weights = np.empty((2, n, p))
    for j in range(n):
        h = place[slots[j]]
        for b in range(p):
            weights[0, j, b] = psi[host, b] * eff[j, b]
        for b in range(p):
            weights[1, j, b] = psi[h, b] * eff[j, b]
    return cap, worth, weights


@jit
def valuation_gain(slots: np.ndarray, host: int, k: np.ndarray, weights: np.ndarray,
                   learn: np.ndarray, cap: np.ndarray, worth: np.ndarray, q: np.ndarray,
                   kind_share: np.ndarray, tc: np.ndarray, place: np.ndarray, spill_value: float,
                   search_probability: float) -> np.ndarray:
    """``K(host) − K(home)`` per firm: the two :func:`knowledge_value` of :func:`valuation_setup`.

    ``learn = weights @ pools`` (numpy's product of each alternative's matrix).
    """
    n = slots.shape[0]
    away = np.full(n, host, np.int64)
    home = np.empty(n, np.int64)
    for j in range(n):
        home[j] = place[slots[j]]
    there = knowledge_value(away, k, weights[0], learn[0], cap, worth, q, kind_share, tc,
                            spill_value, search_probability)
    here = knowledge_value(home, k, weights[1], learn[1], cap, worth, q, kind_share, tc,
                           spill_value, search_probability)
    out = np.empty(n)
    for j in range(n):
        out[j] = there[j] - here[j]
    return out


@jit
def knowledge_access(slots: np.ndarray, know: np.ndarray, weight: np.ndarray) -> float:
    """``(weight[slots] * know).sum()`` in numpy's pairwise order: a park's knowledge value."""
    n = slots.shape[0]
    buf = np.empty(n)
    for j in range(n):
        buf[j] = weight[slots[j]] * know[j]
    return total(buf, n)


@jit
def gain_setup(slots: np.ndarray, host: int, place: np.ndarray, alive: np.ndarray,
               wage: np.ndarray, fill: np.ndarray, productivity: np.ndarray,
               quality: np.ndarray, share: float, theta: float, speed: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`projection_setup` of the firms ``slots`` with the unit in ``host`` and at home.

    Returns
    -------
    w, base, hire : numpy.ndarray
        (2, n) each, as :func:`projection_setup` returns them (shares ``share`` and 1).
    scale : numpy.ndarray
        ``productivity · quality`` per firm (n,).
    """
    n = slots.shape[0]
    origin = np.empty((2, n), np.int64)
    home = np.empty(n, np.int64)
    live = np.empty(n, np.bool_)
    scale = np.empty(n)
    for j in range(n):
        i = slots[j]
        origin[0, j] = host
        origin[1, j] = place[i]
        home[j] = place[i]
        live[j] = alive[i]
        scale[j] = productivity[i] * quality[i]
    shares = np.array([share, 1.0])
    w, base, hire = projection_setup(origin, home, live, wage, fill, scale, shares, theta, speed)
    return w, base, hire, scale


@jit
def project_path(tstar: np.ndarray, slots: np.ndarray, alive: np.ndarray, talent: np.ndarray,
                 hire: np.ndarray, speed: float, slack: float, horizon: int) -> np.ndarray:
    """The ``path`` of ``project_talent`` for the firms ``slots`` (all firms month by month).

    The same operations on each firm's talent as ``project_talent``, the month loop outside.
    """
    na, n = tstar.shape
    path = np.empty((horizon, na, n))
    ts = np.empty(n)
    lay = np.empty(n)
    t = np.empty(n)
    for a in range(na):
        for j in range(n):
            i = slots[j]
            ts[j] = tstar[a, j] if alive[i] else 0.0
            lay[j] = slack * ts[j]
            t[j] = talent[i]
        h = hire[a]
        for m in range(horizon):
            row = path[m, a]
            for j in range(n):
                x = t[j]
                x = (x + h[j] * max0(ts[j] - x)) - speed * max0(x - lay[j])
                t[j] = x
                row[j] = x
    return path


@jit
def gain_finish(slots: np.ndarray, know: np.ndarray, path: np.ndarray, power: np.ndarray,
                scale: np.ndarray, w: np.ndarray, overhead: np.ndarray, capital: np.ndarray,
                unit_cost: float, setup_cost: float, horizon: int) -> np.ndarray:
    """:func:`mean_profit` of both alternatives, then :func:`location_gain` with ``know``."""
    n = slots.shape[0]
    over = np.empty(n)
    cap = np.empty(n)
    for j in range(n):
        over[j] = overhead[slots[j]]
        cap[j] = capital[slots[j]]
    profit = mean_profit(path, power, scale, w, over)
    return location_gain(profit[0], profit[1], know, cap, unit_cost, setup_cost, horizon)


@jit
def stale_members(inside: np.ndarray, alive: np.ndarray, firm_id: np.ndarray,
                  member_id: np.ndarray) -> np.ndarray:
    """Member slots ``inside`` whose firm exited (slot freed or refilled), in their order.

    ``inside[~alive[inside] | (firm_id[inside] != member_id[inside])]``.
    """
    n = inside.shape[0]
    out = np.empty(n, np.int64)
    m = 0
    for j in range(n):
        i = inside[j]
        if not alive[i] or firm_id[i] != member_id[i]:
            out[m] = i
            m += 1
    return out[:m].copy()


@jit
def park_units(inside: np.ndarray, member: np.ndarray, weight: np.ndarray,
               n_parks: int) -> np.ndarray:
    """Real firms per park: ``bincount(member[inside], weights=weight[inside])``, in that order."""
    out = np.zeros(n_parks)
    for j in range(inside.shape[0]):
        i = inside[j]
        out[member[i]] += weight[i]
    return out


@jit
def review_slots(member: np.ndarray, u: np.ndarray, probability: float, alive: np.ndarray,
                 capital: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both lists of ``reviewing_slots`` in one pass, with ``review = u < probability``.

    Returns
    -------
    members, free : numpy.ndarray
        ``reviewing_slots(member, review, alive, capital, True)`` and ``(…, False)``.
    """
    n = member.shape[0]
    members = np.empty(n, np.int64)
    free = np.empty(n, np.int64)
    a = 0
    b = 0
    for i in range(n):
        if not (u[i] < probability and alive[i]):
            continue
        if member[i] >= 0:
            members[a] = i
            a += 1
        elif capital[i] > 0.0:
            free[b] = i
            b += 1
    return members[:a].copy(), free[:b].copy()


@jit
def with_leavers(free: np.ndarray, leavers: np.ndarray, capital: np.ndarray) -> np.ndarray:
    """The reviewing slots free to apply once ``leavers`` (sorted) have left their parks.

    ``reviewing_slots(…, False)`` after the leavers' units went home: the sorted union of
    ``free`` and the leavers with positive capital (both reviewed, live and now at home).
    """
    na = free.shape[0]
    nb = leavers.shape[0]
    out = np.empty(na + nb, np.int64)
    i = 0
    j = 0
    m = 0
    while i < na or j < nb:
        if j < nb and not capital[leavers[j]] > 0.0:
            j += 1
            continue
        if j >= nb or (i < na and free[i] < leavers[j]):
            out[m] = free[i]
            i += 1
        else:
            out[m] = leavers[j]
            j += 1
        m += 1
    return out[:m].copy()


@jit
def members_staff(inside: np.ndarray, weight: np.ndarray, talent: np.ndarray,
                  share: np.ndarray) -> float:
    """Persons the park units employ: ``(w * T * share)[inside].sum()`` (numpy's order)."""
    m = inside.shape[0]
    buf = np.empty(m)
    for j in range(m):
        i = inside[j]
        buf[j] = (weight[i] * talent[i]) * share[i]
    return 0.0 + pairwise_sum(buf, 0, m)


@jit
def member_costs(inside: np.ndarray, member: np.ndarray, unit_cost: np.ndarray, weight: np.ndarray,
                 capital: np.ndarray, place: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The members' monthly unit costs: ``c = unit_cost[member[inside]]``.

    Subtracts ``c`` from ``capital[inside]`` in place and returns ``place[inside]``,
    ``-weight[inside] * c`` and ``(weight[inside] * c).sum()`` (numpy's pairwise sum).
    """
    m = inside.shape[0]
    where = np.empty(m, np.int64)
    booked = np.empty(m)
    cost = np.empty(m)
    for j in range(m):
        i = inside[j]
        c = unit_cost[member[i]]
        capital[i] = capital[i] - c
        where[j] = place[i]
        booked[j] = -weight[i] * c
        cost[j] = weight[i] * c
    return where, booked, total(cost, m)


@jit
def month_costs(inside: np.ndarray, member: np.ndarray, unit_cost: np.ndarray,
                weight: np.ndarray, capital: np.ndarray, place: np.ndarray, fixed: np.ndarray,
                per_unit: np.ndarray, is_open: np.ndarray, home: np.ndarray,
                policy_cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray,
                                                  float]:
    """The month's running costs of the parks: :func:`member_costs`, then the parks' costs.

    ``park_cost = where(is_open, fixed + per_unit · units, 0)`` with ``units =
    park_units(inside, member, weight, n_parks)``, added to ``policy_cost`` at ``home`` in park
    order (``numpy.add.at``, in place).

    Returns
    -------
    where, booked, unit_costs
        As :func:`member_costs` returns them.
    park_cost : numpy.ndarray
        Per park.
    park_total : float
        ``park_cost.sum()`` (numpy's).
    """
    where, booked, unit_costs = member_costs(inside, member, unit_cost, weight, capital, place)
    n_parks = fixed.shape[0]
    units = park_units(inside, member, weight, n_parks)
    park_cost = np.empty(n_parks)
    for k in range(n_parks):
        park_cost[k] = fixed[k] + per_unit[k] * units[k] if is_open[k] else 0.0
    for k in range(n_parks):
        policy_cost[home[k]] += park_cost[k]
    return where, booked, unit_costs, park_cost, total(park_cost, n_parks)


@jit
def park_payoffs(inside: np.ndarray, member: np.ndarray, weight: np.ndarray, sales: np.ndarray,
                 talent: np.ndarray, unit_share: np.ndarray, rho: np.ndarray, tau: np.ndarray,
                 sigma: np.ndarray, employment_value: float, host_cost: np.ndarray,
                 value: np.ndarray, park_cost: np.ndarray, is_open: np.ndarray,
                 neg_host: np.ndarray, neg_home: np.ndarray, host: np.ndarray, home: np.ndarray,
                 patience: int, n_places: int):
    """The parks' month (``Enclaves.after_step``): tax, payoffs and the governments' counters.

    With ``park = member[inside]`` and ``w = weight[inside]`` (the members in slot order, their
    revenue ``sales``): ``tax = tau · rho · bincount(park, w · sales)``, ``returned = sigma ·
    tax``, ``e = bincount(park, w · talent · unit_share)``, ``units = bincount(park, w)``,
    ``pay_host = tax − returned + ε e − host_cost · units`` and ``pay_home = returned − tax −
    ε e + value − park_cost`` (left to right, as numpy evaluates them); the tax returned
    ``add.at`` (host, home) in a P × P matrix; the sums of ``tax``, ``returned``, ``value``,
    ``pay_host · is_open`` and ``pay_home · is_open`` (numpy's); the months of negative payoff
    ``where(is_open & (pay < 0), neg + 1, 0)``, the parks closing (``is_open`` and the worse
    count at least ``2 · patience``) and those still admitting (open, not closing, and the worse
    count below ``patience``).

    Returns
    -------
    pay_host, pay_home, shared, sums : numpy.ndarray
        The payoffs (n_parks,), the tax returned (P, P) and the five sums (5,).
    neg_host, neg_home, closing, admitting : numpy.ndarray
        Per park: the counters of negative months; the parks closing; those admitting.
    """
    n_parks = rho.shape[0]
    sold = np.zeros(n_parks)
    e = np.zeros(n_parks)
    units = np.zeros(n_parks)
    for j in range(inside.shape[0]):
        i = inside[j]
        k = member[i]
        w = weight[i]
        sold[k] += w * sales[j]
        e[k] += (w * talent[i]) * unit_share[i]
        units[k] += w
    tax = np.empty(n_parks)
    returned = np.empty(n_parks)
    pay_host = np.empty(n_parks)
    pay_home = np.empty(n_parks)
    open_host = np.empty(n_parks)
    open_home = np.empty(n_parks)
    new_host = np.empty(n_parks, np.int64)
    new_home = np.empty(n_parks, np.int64)
    closing = np.empty(n_parks, np.bool_)
    admitting = np.empty(n_parks, np.bool_)
    shared = np.zeros((n_places, n_places))
    for k in range(n_parks):
        tax[k] = tau[k] * (rho[k] * sold[k])
        returned[k] = sigma[k] * tax[k]
        shared[host[k], home[k]] += returned[k]
        ee = employment_value * e[k]
        pay_host[k] = ((tax[k] - returned[k]) + ee) - host_cost[k] * units[k]
        pay_home[k] = (((returned[k] - tax[k]) - ee) + value[k]) - park_cost[k]
        op = 1.0 if is_open[k] else 0.0
        open_host[k] = pay_host[k] * op
        open_home[k] = pay_home[k] * op
        new_host[k] = neg_host[k] + 1 if (is_open[k] and pay_host[k] < 0) else 0
        new_home[k] = neg_home[k] + 1 if (is_open[k] and pay_home[k] < 0) else 0
        worst = max(new_host[k], new_home[k])
        closing[k] = is_open[k] and worst >= 2 * patience
        admitting[k] = is_open[k] and not closing[k] and worst < patience
    sums = np.array([total(tax, n_parks), total(returned, n_parks), total(value, n_parks),
                     total(open_host, n_parks), total(open_home, n_parks)])
    return pay_host, pay_home, shared, sums, new_host, new_home, closing, admitting


# ---------------------------------------------------------------------------------- vouchers
@jit
def reference_terms(place: np.ndarray, capacity: np.ndarray, knowledge: np.ndarray,
                    n_places: int, cost: float, multiplier: np.ndarray, phi: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Reference institutes and transaction costs of the voucher decisions, in one call.

    ``group_means(*institute_groups(place, capacity, knowledge, n_places)[::-1])`` (each
    place's capacity-weighted mean knowledge, zeros for a place without capacity) and
    ``cost · multiplier / phi`` (IEEE's division), as ``Vouchers._reference_institutes``
    computed them.
    """
    num, total = group_weighted_rows(place, np.ones(place.shape[0], np.bool_), capacity,
                                     knowledge, n_places, False)
    p = phi.shape[0]
    tc = np.empty((p, p))
    for o in range(p):
        for d in range(p):
            tc[o, d] = ieee_div(cost * multiplier[o, d], phi[o, d])
    return group_means(num, total), tc


@jit
def service_terms(k: np.ndarray, ref: np.ndarray, dot: np.ndarray, origin: np.ndarray,
                  tc_matrix: np.ndarray, value: float, rate: float, half: float, eps: float,
                  rho_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knowledge-gap value ``vΓ``, closure share ``ρ`` and transaction cost ``τ`` per (firm, place).

    ``Γ_iq = Σ_f max(0, ref_qf − k_if)`` (numpy's pairwise order), ``ρ = clip(rate · A_i ·
    e(1 − cos_iq), 0, rho_max)`` with the unclipped cosine ``dot / (|k_i| |ref_q|)``, and
    ``τ = tc_matrix[origin_i, q]``.

    Parameters
    ----------
    k : numpy.ndarray
        Holders' or applicants' knowledge (n, F).
    ref : numpy.ndarray
        Reference institute of each place (P, F).
    dot : numpy.ndarray
        ``k @ ref.T`` (n, P), numpy's product.
    origin : numpy.ndarray
        Unit place per firm (n,).
    tc_matrix : numpy.ndarray
        Transaction cost per place pair (P, P).
    value, rate, half, eps, rho_max : float
        ``knowledge_value_wan``, ``learning_rate``, ``absorptive_half``, cosine threshold,
        upper bound of ``ρ``.

    Returns
    -------
    vgap, rho, tc : numpy.ndarray
        Shape (n, P) each.
    """
    n, nf = k.shape
    p = ref.shape[0]
    kn = _norms(k)
    rn = _norms(ref)
    vgap = np.empty((n, p))
    rho = np.empty((n, p))
    tc = np.empty((n, p))
    buf = np.empty(nf)
    for i in range(n):
        kappa = 0.0
        for c in range(nf):
            kappa += k[i, c]
        cap = ieee_div(kappa, kappa + half)
        a = rate * cap
        o = origin[i]
        for q in range(p):
            for c in range(nf):
                buf[c] = max0(ref[q, c] - k[i, c])
            vgap[i, q] = value * (total8(buf) if nf == 8 else total(buf, nf))
            e = efficiency(_cosine(dot[i, q], kn[i] * rn[q], eps), False)
            rho[i, q] = np_clip(a * e, 0.0, rho_max)
            tc[i, q] = tc_matrix[o, q]
    return vgap, rho, tc


@jit
def project_institutes(place: np.ndarray, inst_weight: np.ndarray, capacity: np.ndarray,
                       knowledge: np.ndarray, n_places: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                  np.ndarray, np.ndarray, np.ndarray]:
    """The voucher projects' institute sampler (``Vouchers._voucher_projects``), in one call.

    ``kernels.segment_sampler_arrays(place, inst_weight * capacity * row_sums(knowledge),
    n_places)``: each institute's weight ``(w · capacity) · κ`` with ``κ`` its knowledge added
    left to right (``kernels.row_sums``).
    """
    ni, nf = knowledge.shape
    w = np.empty(ni)
    for j in range(ni):
        kappa = 0.0
        for f in range(nf):
            kappa += knowledge[j, f]
        w[j] = (inst_weight[j] * capacity[j]) * kappa
    return segment_sampler_arrays(place, w, n_places)


@jit
def project_search(users: np.ndarray, unit_place: np.ndarray, place: np.ndarray, price: float,
                   nf: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                     np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                     np.ndarray, np.ndarray]:
    """The arrays of the voucher projects' search (``Vouchers._voucher_projects``), in one call.

    Returns
    -------
    origin, home : numpy.ndarray
        ``unit_place[users]`` and ``place[users]``.
    collab, price : numpy.ndarray
        No joint R&D (all false) and the service price per project.
    best_net, best_dest, best_idx, best_gain, best_tc, best_subsidy, best_plain : numpy.ndarray
        The empty best candidates (zeros, -1 for places and partners; gains (n, nf)).
    """
    n = users.shape[0]
    origin = np.empty(n, np.int64)
    home = np.empty(n, np.int64)
    for i in range(n):
        origin[i] = unit_place[users[i]]
        home[i] = place[users[i]]
    return (origin, home, np.zeros(n, np.bool_), np.full(n, price), np.zeros(n),
            np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros((n, nf)), np.zeros(n),
            np.zeros(n), np.zeros(n))


@jit
def project_setup(granted: np.ndarray, alive: np.ndarray, holder_id: np.ndarray,
                  firm_id: np.ndarray, balance: np.ndarray, capital: np.ndarray,
                  min_balance: float, inst_place: np.ndarray, inst_weight: np.ndarray,
                  capacity: np.ndarray, inst_k: np.ndarray, n_places: int,
                  unit_place: np.ndarray, place: np.ndarray, price: float, nf: int,
                  eligible: np.ndarray, phi: np.ndarray, keep: float, knowledge: np.ndarray,
                  half: float):
    """The month's voucher projects, their institute sampler, search arrays and rows, in one call.

    Returns
    -------
    users : numpy.ndarray
        :func:`voucher_users_of` (``granted``, ..., ``min_balance``).
    institutes : tuple of numpy.ndarray
        :func:`project_institutes` (``inst_place``, ..., ``n_places``).
    search : tuple of numpy.ndarray
        :func:`project_search` (``users``, ``unit_place``, ``place``, ``price``, ``nf``).
    rows : tuple of numpy.ndarray
        :func:`project_rows` (``eligible``, ``phi``, the search's homes and origins, the
        institute sampler's place totals): each project's place probabilities and running sums.
    holders : tuple of numpy.ndarray
        :func:`voucher_holders` of the projects' search (``keep = 1 − copay_share``): every user
        holds a balance above ``min_balance >= 0`` and seeks a service, so all are holders,
        quoted ``min(balance, keep · price)``.
    receivers : tuple of numpy.ndarray
        ``search_kernels.receiver_knowledge(users, knowledge, half)``: the users' knowledge and
        absorptive capacities.
    """
    users = voucher_users_of(granted, alive, holder_id, firm_id, balance, capital, min_balance)
    insts = project_institutes(inst_place, inst_weight, capacity, inst_k, n_places)
    search = project_search(users, unit_place, place, price, nf)
    n = users.shape[0]
    amount = np.empty(n)
    for i in range(n):
        amount[i] = np_min(balance[users[i]], keep * price)
    return (users, insts, search, project_rows(eligible, phi, search[1], search[0], insts[7]),
            (np.ones(n, np.bool_), amount), receiver_knowledge(users, knowledge, half))


@jit
def project_rows(eligible: np.ndarray, phi: np.ndarray, home: np.ndarray, origin: np.ndarray,
                 inst_total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each voucher project draws its further candidate places, and the running sums.

    ``prob = normalise_rows(eligible[home] * phi[origin] * inst_total[None, :])`` (the mask
    multiplies as numpy's float 1.0 or 0.0; each row's sum pairwise, the division guarded by
    ``sum > 0``, as :func:`sampling.normalise_rows`) and its rows' running sums from 0
    (:func:`sampling.cumulative_rows`), shape (n, P) each.
    """
    n = home.shape[0]
    p = phi.shape[1]
    prob = np.empty((n, p))
    cum = np.empty((n, p))
    prod = np.empty(p)
    for i in range(n):
        h = home[i]
        o = origin[i]
        for j in range(p):
            prod[j] = ((1.0 if eligible[h, j] else 0.0) * phi[o, j]) * inst_total[j]
        store_normalised(prod, prob, i)
        acc = 0.0
        for j in range(p):
            acc += prob[i, j]
            cum[i, j] = acc
    return prob, cum


@jit
def best_redemption(vgap: np.ndarray, rho: np.ndarray, tc: np.ndarray, subsidy: np.ndarray,
                    price: float, allowed: np.ndarray) -> np.ndarray:
    """Eligible place where a subsidised standard service is worth most (-1: none eligible).

    ``argmax`` over allowed places of ``vΓ ρ − price − τ + subsidy`` (``−inf`` elsewhere), with
    numpy's ``argmax`` rules (first maximum; a NaN wins).

    Parameters
    ----------
    vgap, rho, tc : numpy.ndarray
        From :func:`service_terms` (n, P).
    subsidy : numpy.ndarray
        Subsidy per firm (n,).
    price : float
        Standard service price.
    allowed : numpy.ndarray
        Eligible (firm, place) pairs with institutes (n, P), bool.

    Returns
    -------
    numpy.ndarray
        Place index per firm (n,), int.
    """
    n, p = vgap.shape
    out = np.empty(n, np.int64)
    for i in range(n):
        anyone = False
        for q in range(p):
            anyone = anyone or allowed[i, q]
        if not anyone or p == 0:
            out[i] = -1
            continue
        best = 0
        top = 0.0
        for q in range(p):
            x = (((vgap[i, q] * rho[i, q]) - price) - tc[i, q]) + subsidy[i]
            if not allowed[i, q]:
                x = -np.inf
            if q == 0 or not x <= top:
                top = x
                best = q
                if top != top:
                    break
        out[i] = best
    return out


@jit
def redemption_place(vgap: np.ndarray, rho: np.ndarray, tc: np.ndarray, balance: np.ndarray,
                     slots: np.ndarray, unit_subsidy: float, price: float, eligible: np.ndarray,
                     home: np.ndarray, inst_total: np.ndarray) -> np.ndarray:
    """:func:`best_redemption` with its subsidy and allowed places (``Vouchers._redemption_place``).

    The subsidy ``minimum(balance[slots], unit_subsidy)`` (numpy's rules) and the allowed places
    ``eligible[home] & (inst_total > 0)[None, :]`` (eligible places with institutes' weight).
    """
    n = slots.shape[0]
    p = eligible.shape[1]
    sub = np.empty(n)
    allowed = np.empty((n, p), np.bool_)
    for i in range(n):
        sub[i] = np_min(balance[slots[i]], unit_subsidy)
        h = home[i]
        for q in range(p):
            allowed[i, q] = eligible[h, q] and inst_total[q] > 0.0
    return best_redemption(vgap, rho, tc, sub, price, allowed)


@jit
def redemption_choice(k: np.ndarray, ref: np.ndarray, dot: np.ndarray, origin: np.ndarray,
                      tc_matrix: np.ndarray, value: float, rate: float, half: float, eps: float,
                      rho_max: float, balance: np.ndarray, slots: np.ndarray,
                      unit_subsidy: float, price: float, eligible: np.ndarray, home: np.ndarray,
                      inst_total: np.ndarray) -> np.ndarray:
    """:func:`service_terms` then :func:`redemption_place` on them, in one call.

    The arguments are those of the two kernels (``k``, ..., ``rho_max``, then ``balance``, ...,
    ``inst_total``); returns the place each holder redeems at (``Vouchers._voucher_projects``).
    """
    vgap, rho, tc = service_terms(k, ref, dot, origin, tc_matrix, value, rate, half, eps, rho_max)
    return redemption_place(vgap, rho, tc, balance, slots, unit_subsidy, price, eligible, home,
                            inst_total)


@jit
def package_ratios(vgap: np.ndarray, a: np.ndarray, tc: np.ndarray, own_price: float,
                   price: float) -> np.ndarray:
    """Arguments of the logarithm in the voucher package sizes (``Vouchers._package``).

    For the marginal costs ``cost = own_price + τ`` (with the voucher, below the kink) and
    ``price + τ`` (without), floored at ``1e-9``: ``max(μ0, cost) / cost`` with ``μ0 = vΓ a``.

    Parameters
    ----------
    vgap, a, tc : numpy.ndarray
        ``vΓ``, ``a = −log(1 − ρ)`` and ``τ`` per (firm, place), shape (n, P).
    own_price, price : float
        ``copay_share · price`` and the service price.

    Returns
    -------
    numpy.ndarray
        Shape (2, n, P): with the voucher, without.
    """
    n, p = vgap.shape
    out = np.empty((2, n, p))
    for i in range(n):
        for q in range(p):
            mu0 = vgap[i, q] * a[i, q]
            for j in range(2):
                cost = (own_price if j == 0 else price) + tc[i, q]
                cost = cost if (cost > 1e-9 or cost != cost) else 1e-9
                top = mu0 if (mu0 > cost or mu0 != mu0) else cost
                out[j, i, q] = ieee_div(top, cost)
    return out


@jit
def package_sizes(logs: np.ndarray, a: np.ndarray, n_kink: float, face: float, unit_subsidy: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Voucher package sizes, requests and the arguments of ``expm1`` in their worth.

    ``n1, n2 = log(ratio) / a`` (0 where ``a <= 0``); ``n_v = n1`` if ``n1 <= n_kink`` else
    ``max(n_kink, n2)``; request ``min(face, unit_subsidy · n_v)``.

    Parameters
    ----------
    logs : numpy.ndarray
        ``numpy.log`` of :func:`package_ratios` (2, n, P).
    a : numpy.ndarray
        ``−log(1 − ρ)`` (n, P).
    n_kink, face, unit_subsidy : float
        Services at which the voucher is used up; face value; subsidy per service.

    Returns
    -------
    n_v, n_2, request : numpy.ndarray
        Shape (n, P): package with and without the voucher, the request.
    expo : numpy.ndarray
        ``−a · n`` for ``n = n_v`` and ``n_2`` (2, n, P).
    """
    _, n, p = logs.shape
    n_v = np.empty((n, p))
    n_2 = np.empty((n, p))
    request = np.empty((n, p))
    expo = np.empty((2, n, p))
    for i in range(n):
        for q in range(p):
            ai = a[i, q]
            pos = ai > 0.0
            n1 = logs[0, i, q] / ai if pos else 0.0
            n2 = logs[1, i, q] / ai if pos else 0.0
            if n1 <= n_kink:
                nv = n1
            else:
                nv = n_kink if (n_kink > n2 or n_kink != n_kink) else n2
            n_v[i, q] = nv
            n_2[i, q] = n2
            request[i, q] = np_min(face, unit_subsidy * nv)
            expo[0, i, q] = -ai * nv
            expo[1, i, q] = -ai * n2
    return n_v, n_2, request, expo


@jit
def package_worth(vgap: np.ndarray, em1: np.ndarray, n_v: np.ndarray, n_2: np.ndarray,
                  request: np.ndarray, tc: np.ndarray, price: float, n_kink: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Worth ``G`` of the voucher package and the firm's outlay to pre-finance it.

    ``W(n) = vΓ · (−expm1(−a n)) − (price + τ) n``; ``G = W(n_v) + request − W(n_2)``; outlay
    ``(price + τ) · min(n_v, n_kink)``.

    Parameters
    ----------
    vgap, n_v, n_2, request, tc : numpy.ndarray
        Per (firm, place) (n, P).
    em1 : numpy.ndarray
        ``numpy.expm1`` of ``package_sizes``' ``expo`` (2, n, P).
    price, n_kink : float
        Service price; services at which the voucher is used up.

    Returns
    -------
    gain, outlay : numpy.ndarray
        Shape (n, P) each.
    """
    n, p = vgap.shape
    gain = np.empty((n, p))
    outlay = np.empty((n, p))
    for i in range(n):
        for q in range(p):
            cost = price + tc[i, q]
            w_v = vgap[i, q] * -em1[0, i, q] - cost * n_v[i, q]
            w_2 = vgap[i, q] * -em1[1, i, q] - cost * n_2[i, q]
            gain[i, q] = (w_v + request[i, q]) - w_2
            outlay[i, q] = cost * np_min(n_v[i, q], n_kink)
    return gain, outlay


@jit
def masked_argmax(x: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.argmax`` of each row of ``where(allowed, x, -inf)`` and the value it picks.

    Parameters
    ----------
    x : numpy.ndarray
        Shape (n, P), float.
    allowed : numpy.ndarray
        Shape (n, P), bool.

    Returns
    -------
    index : numpy.ndarray
        Column per row (n,), int (numpy's rules: first maximum, a NaN wins; 0 for a row of
        ``-inf``).
    value : numpy.ndarray
        The masked value there (n,).
    """
    n, p = x.shape
    index = np.zeros(n, np.int64)
    value = np.empty(n)
    for i in range(n):
        best = 0
        top = -np.inf
        for q in range(p):
            v = x[i, q] if allowed[i, q] else -np.inf
            if q == 0 or not v <= top:
                top = v
                best = q
                if top != top:
                    break
        index[i] = best
        value[i] = top
    return index, value


@jit
def voucher_choice(gain: np.ndarray, request: np.ndarray, outlay: np.ndarray,
                   eligible: np.ndarray, place: np.ndarray, aware: np.ndarray, kappa: np.ndarray,
                   capital: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The aware firms that apply and what they request (``Vouchers._applications``), in one call.

    With ``best, g = masked_argmax(gain, eligible[place[aware]])``, ``r = request[i, best]``
    and ``o = outlay[i, best]`` per firm ``i``: ``ok = (g > kappa) & (r > 0) &
    (capital[aware] >= o)``.

    Returns
    -------
    slots, amount : numpy.ndarray
        ``aware[ok]`` and ``r[ok]``.
    """
    n, p = gain.shape
    allowed = np.empty((n, p), np.bool_)
    for i in range(n):
        h = place[aware[i]]
        for q in range(p):
            allowed[i, q] = eligible[h, q]
    best, g_best = masked_argmax(gain, allowed)
    slots = np.empty(n, np.int64)
    amount = np.empty(n)
    m = 0
    for i in range(n):
        r = request[i, best[i]]
        if g_best[i] > kappa[i] and r > 0 and capital[aware[i]] >= outlay[i, best[i]]:
            slots[m] = aware[i]
            amount[m] = r
            m += 1
    return slots[:m].copy(), amount[:m].copy()


@jit
def voucher_applicants(gain: np.ndarray, request: np.ndarray, outlay: np.ndarray,
                       eligible: np.ndarray, place: np.ndarray, aware: np.ndarray,
                       kappa: np.ndarray, capital: np.ndarray, weight: np.ndarray,
                       firm_id: np.ndarray, ever_id: np.ndarray, applied_id: np.ndarray,
                       n_places: int):
    """:func:`voucher_choice`, then :func:`voucher_requests` on the applicants, in one call.

    Returns
    -------
    slots, amount : numpy.ndarray
        As :func:`voucher_choice` returns them.
    requests : tuple
        What :func:`voucher_requests` returns for them (``ever_id`` and ``applied_id`` updated).
    """
    slots, amount = voucher_choice(gain, request, outlay, eligible, place, aware, kappa, capital)
    return slots, amount, voucher_requests(slots, amount, weight, place, firm_id, ever_id,
                                           applied_id, n_places)


@jit
def voucher_candidates(alive: np.ndarray, place: np.ndarray, open_place: np.ndarray,
                       talent: np.ndarray, max_talent: float, capital: np.ndarray,
                       applied_id: np.ndarray, firm_id: np.ndarray) -> np.ndarray:
    """Slots that may apply for a voucher this month (``Vouchers._applications``).

    ``flatnonzero(alive & open[place] & (0 < talent <= max_talent) & (capital > 0) &
    (applied_id != firm_id))``.
    """
    n = alive.shape[0]
    out = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if (open_place[place[i]] and alive[i] and talent[i] > 0.0 and talent[i] <= max_talent
                and capital[i] > 0.0 and applied_id[i] != firm_id[i]):
            out[m] = i
            m += 1
    return out[:m].copy()


@jit
def holders_weight(slots: np.ndarray, holder_id: np.ndarray, firm_id: np.ndarray,
                   alive: np.ndarray, balance: np.ndarray, weight: np.ndarray) -> float:
    """Real firms holding an unspent voucher (``Vouchers.metrics``).

    ``weight[live].sum()`` with ``live = (holder_id == firm_id) & alive & (balance > 0)``, given
    the ascending ``slots`` outside which ``live`` is false: the selected weights in slot order,
    summed pairwise as numpy sums them.
    """
    m = slots.shape[0]
    buf = np.empty(m)
    k = 0
    for j in range(m):
        i = slots[j]
        if holder_id[i] == firm_id[i] and alive[i] and balance[i] > 0.0:
            buf[k] = weight[i]
            k += 1
    return total(buf, k)


@jit
def voucher_users_of(slots: np.ndarray, alive: np.ndarray, holder_id: np.ndarray,
                     firm_id: np.ndarray, balance: np.ndarray, capital: np.ndarray,
                     min_balance: float) -> np.ndarray:
    """Holders among ``slots`` that run a voucher project this month (``Vouchers._voucher_projects``).

    ``flatnonzero(alive & (holder_id == firm_id) & (balance > min_balance) & (capital > 0))``,
    given the ascending ``slots`` outside which no slot qualifies (the slots granted a voucher
    this year).
    """
    m = slots.shape[0]
    out = np.empty(m, np.int64)
    k = 0
    for j in range(m):
        i = slots[j]
        if (holder_id[i] == firm_id[i] and balance[i] > min_balance and alive[i]
                and capital[i] > 0.0):
            out[k] = i
            k += 1
    return out[:k].copy()


@jit
def voucher_holders(balance: np.ndarray, holder_id: np.ndarray, firm_id: np.ndarray,
                    searcher: np.ndarray, collab: np.ndarray, price: np.ndarray, keep: float,
                    granted: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Searchers holding a voucher for a service, and the subsidy each is quoted.

    ``holders = (balance[s] > 0) & (holder_id[s] == firm_id[s]) & ~collab`` with
    ``s = searcher`` (``Vouchers._holder_mask``), and ``where(holders, min(balance[s],
    keep · price), 0)`` (the quote of :func:`voucher_quote` at an eligible place), given the
    ascending slots ``granted`` outside which no balance is positive (the slots granted a voucher
    this year). Ascending searchers are matched against ``granted`` in one merge, so the
    firm arrays are read at the granted slots only (a few hundred) instead of at every searcher
    (scattered reads of three firm arrays); other searchers are checked one by one.

    Returns
    -------
    holders : numpy.ndarray
        Per searcher, bool.
    amount : numpy.ndarray
        Per searcher, 万元 per real firm.
    count : int
        Number of holders.
    """
    n = searcher.shape[0]
    holders = np.zeros(n, np.bool_)
    amount = np.zeros(n)
    count = 0
    ascending = True
    for i in range(1, n):
        if searcher[i] <= searcher[i - 1]:
            ascending = False
            break
    if ascending:
        i = 0
        for g in range(granted.shape[0]):
            b = granted[g]
            while i < n and searcher[i] < b:
                i += 1
            if i == n:
                break
            if searcher[i] == b and balance[b] > 0.0 and holder_id[b] == firm_id[b] \
                    and not collab[i]:
                holders[i] = True
                amount[i] = np_min(balance[b], keep * price[i])
                count += 1
        return holders, amount, count
    for i in range(n):
        b = searcher[i]
        h = balance[b] > 0.0 and holder_id[b] == firm_id[b] and not collab[i]
        holders[i] = h
        if h:
            amount[i] = np_min(balance[b], keep * price[i])
            count += 1
    return holders, amount, count


@jit
def voucher_quote(valid: np.ndarray, holders: np.ndarray, dest: np.ndarray, home: np.ndarray,
                  eligible: np.ndarray, balance: np.ndarray, searcher: np.ndarray,
                  price: np.ndarray, keep: float) -> np.ndarray:
    """Voucher subsidy per searcher for a candidate at ``dest`` (``Vouchers._quote``).

    ``min(balance[searcher], keep · price)`` where the candidate is valid, the searcher a holder
    looking for a service and ``dest`` (>= 0) an eligible provider place for its home; else 0.

    Parameters
    ----------
    valid, holders : numpy.ndarray
        Per searcher (n,), bool: candidate valid; holder with a balance seeking a service.
    dest, home : numpy.ndarray
        Candidate place (-1: none) and home place per searcher (n,), int.
    eligible : numpy.ndarray
        ``eligible_pairs`` (P, P), bool.
    balance : numpy.ndarray
        Voucher balance per firm slot.
    searcher : numpy.ndarray
        Firm slot per searcher (n,).
    price : numpy.ndarray
        List price per searcher (n,).
    keep : float
        ``1 − copay_share``.

    Returns
    -------
    numpy.ndarray
        Shape (n,), 万元 per real firm.
    """
    n = dest.shape[0]
    out = np.zeros(n)
    for i in range(n):
        if valid[i] and holders[i] and dest[i] >= 0 and eligible[home[i], dest[i]]:
            out[i] = np_min(balance[searcher[i]], keep * price[i])
    return out


# ---------------------------------------------------------------------------------- tech market
@jit
def platform_deals(deal: np.ndarray, origin: np.ndarray, dest: np.ndarray, members: np.ndarray
                   ) -> np.ndarray:
    """Agreed deals between two different member places (positions in the search).

    ``flatnonzero(deal & members[origin] & members[max(dest, 0)] & (origin != dest))``.
    """
    n = deal.shape[0]
    out = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        d = dest[i] if dest[i] >= 0 else 0
        if deal[i] and members[origin[i]] and members[d] and origin[i] != d:
            out[m] = i
            m += 1
    return out[:m].copy()


@jit
def _member_rows_into(phi: np.ndarray, members: np.ndarray, scale: np.ndarray, out: np.ndarray,
                      row0: int) -> None:
    """``out[row0 + i] = normalise_rows((phi * members[None, :]) * scale[None, :])[i]``.

    The member mask multiplies as numpy's float 1.0 or 0.0; each row's sum is
    ``0.0 + pairwise_sum(row)`` and the division is guarded by ``sum > 0``, as
    :func:`sampling.normalise_rows` computes them.
    """
    r, p = phi.shape
    prod = np.empty(p)
    for i in range(r):
        for j in range(p):
            prod[j] = (phi[i, j] * (1.0 if members[j] else 0.0)) * scale[j]
        store_normalised(prod, out, row0 + i)


@jit
def platform_rows(phi: np.ndarray, members: np.ndarray, firm_total: np.ndarray,
                  inst_total: np.ndarray, origin: np.ndarray, collab: np.ndarray,
                  active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the platform's member searchers draw their candidate places (``TechMarket._place_rows``).

    Parameters
    ----------
    phi : numpy.ndarray
        Technology friction (P, P).
    members : numpy.ndarray
        Member places (P,), bool.
    firm_total, inst_total : numpy.ndarray
        Partner firms' and institutes' total weight per place (the samplers' place totals).
    origin, collab, active : numpy.ndarray
        Per searcher: unit place; looks for a firm partner; its unit is in a member place.

    Returns
    -------
    prob : numpy.ndarray
        (2P, P): ``normalise_rows(phi * members[None, :] * firm_total[None, :])`` over the same
        with ``inst_total``.
    cum : numpy.ndarray
        Running sums of the rows of ``prob``, left to right from 0
        (:func:`sampling.cumulative_rows`).
    row : numpy.ndarray
        ``where(active, where(collab, origin, origin + P), -1)``.
    """
    p = phi.shape[0]
    prob = np.empty((2 * p, p))
    _member_rows_into(phi, members, firm_total, prob, 0)
    _member_rows_into(phi, members, inst_total, prob, p)
    cum = np.empty((2 * p, p))
    for r in range(2 * p):
        acc = 0.0
        for j in range(p):
            acc += prob[r, j]
            cum[r, j] = acc
    n = origin.shape[0]
    row = np.empty(n, np.int64)
    for i in range(n):
        if active[i]:
            row[i] = origin[i] if collab[i] else origin[i] + p
        else:
            row[i] = -1
    return prob, cum, row


@jit
def platform_search_rows(phi: np.ndarray, members: np.ndarray, firm_total: np.ndarray,
                         inst_total: np.ndarray, origin: np.ndarray, collab: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`platform_rows` for the searchers whose unit is in a member place, and their number.

    ``active = members[origin]``; returns ``platform_rows(phi, members, firm_total, inst_total,
    origin, collab, active)`` and ``active.sum()``.
    """
    n = origin.shape[0]
    active = np.empty(n, np.bool_)
    count = 0
    for i in range(n):
        active[i] = members[origin[i]]
        count += 1 if active[i] else 0
    prob, cum, row = platform_rows(phi, members, firm_total, inst_total, origin, collab, active)
    return prob, cum, row, count


@jit
def platform_settle(via: np.ndarray, searcher: np.ndarray, home: np.ndarray, weight: np.ndarray,
                    price: np.ndarray, plain_net: np.ndarray, fee_share: float,
                    capital: np.ndarray, n_places: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The platform's fees on the deals ``via`` (positions in the search), in one pass.

    With ``buyer = searcher[via]``, ``h = home[via]``, ``w = weight[buyer]`` and
    ``fee = fee_share · price[via]``: subtracts ``fee`` from ``capital[buyer]`` in place (the
    searchers are distinct firms) and returns ``h``, ``paid = fee · w``,
    ``bincount(h, (plain_net[via] − fee) · w, minlength=n_places)``, ``w.sum()`` and
    ``paid.sum()`` (numpy's pairwise sums).
    """
    m = via.shape[0]
    h = np.empty(m, np.int64)
    w = np.empty(m)
    paid = np.empty(m)
    gain = np.zeros(n_places)
    for j in range(m):
        i = via[j]
        b = searcher[i]
        h[j] = home[i]
        wj = weight[b]
        fee = fee_share * price[i]
        capital[b] = capital[b] - fee
        w[j] = wj
        paid[j] = fee * wj
        gain[h[j]] += (plain_net[i] - fee) * wj
    return h, paid, gain, total(w, m), total(paid, m)


@jit
def platform_fees(deal: np.ndarray, origin: np.ndarray, dest: np.ndarray, members: np.ndarray,
                  searcher: np.ndarray, home: np.ndarray, weight: np.ndarray, price: np.ndarray,
                  plain_net: np.ndarray, fee_share: float, capital: np.ndarray, n_places: int
                  ) -> tuple[int, np.ndarray, np.ndarray, float, float]:
    """:func:`platform_deals`, then :func:`platform_settle` on them, in one call.

    Returns
    -------
    count : int
        Deals between two different member places (``len(via)``; 0: nothing else was done).
    fees : numpy.ndarray
        The fee account by home place, ``bincount(h, −paid, minlength=n_places)``.
    gain, w_sum, paid_sum
        As :func:`platform_settle` returns them.
    """
    via = platform_deals(deal, origin, dest, members)
    m = via.shape[0]
    fees = np.zeros(n_places)
    if m == 0:
        return 0, fees, np.zeros(n_places), 0.0, 0.0
    h, paid, gain, w_sum, paid_sum = platform_settle(via, searcher, home, weight, price,
                                                     plain_net, fee_share, capital, n_places)
    for j in range(m):
        fees[h[j]] += -paid[j]
    return m, fees, gain, w_sum, paid_sum


@jit
def _add_into(target: np.ndarray, amount: np.ndarray) -> None:
    """``target += amount`` elementwise (numpy's in-place addition; the same lengths)."""
    for i in range(amount.shape[0]):
        target[i] += amount[i]


@jit
def platform_fees_booked(deal: np.ndarray, origin: np.ndarray, dest: np.ndarray,
                         members: np.ndarray, searcher: np.ndarray, home: np.ndarray,
                         weight: np.ndarray, price: np.ndarray, plain_net: np.ndarray,
                         fee_share: float, capital: np.ndarray, n_places: int,
                         fee_account: np.ndarray, members_gain: np.ndarray
                         ) -> tuple[int, float, float]:
    """:func:`platform_fees`, then its fees and gains booked in place, in one call.

    Where there are deals between members (``count > 0``): ``fee_account += fees`` (the flow
    book's ``platform_fees`` account of the step, as ``FlowBook.account`` adds) and
    ``members_gain += gain`` (``TechMarket.gain``). Returns ``count``, ``w_sum`` and
    ``paid_sum``.
    """
    count, fees, gain, w_sum, paid_sum = platform_fees(deal, origin, dest, members, searcher,
                                                       home, weight, price, plain_net, fee_share,
                                                       capital, n_places)
    if count:
        _add_into(fee_account, fees)
        _add_into(members_gain, gain)
    return count, w_sum, paid_sum


@jit
def voucher_settle(deal: np.ndarray, best_idx: np.ndarray, quote: np.ndarray, searcher: np.ndarray,
                   home: np.ndarray, dest: np.ndarray, weight: np.ndarray, plain_net: np.ndarray,
                   gain: np.ndarray, price: np.ndarray, balance: np.ndarray, n_places: int):
    """Redemptions of the agreed deals with a voucher quote, in one pass.

    With ``used = deal & (best_idx >= 0) & (quote > 0)``, ``slots = searcher[used]``,
    ``sub = quote[used]``, ``w = weight[slots]``, ``h = home[used]``, ``d = dest[used]``,
    ``spend = sub · w`` and ``additional = plain_net[used] < 0``: subtracts ``sub`` from
    ``balance[slots]`` in place (the searchers are distinct firms) and returns ``used``'s
    positions, ``slots``, ``sub``, ``w``, ``h``, ``d``, ``spend``, ``additional``, the bincounts
    by ``h`` of ``spend`` and of ``gain[used].sum(axis=1) · w · additional``, the bincount by
    ``d`` of ``price[used] · w``, and ``spend.sum()``, ``w.sum()``, ``w[additional].sum()``,
    ``w[d != h].sum()`` (numpy's pairwise sums).
    """
    n = deal.shape[0]
    nf = gain.shape[1]
    pos = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if deal[i] and best_idx[i] >= 0 and quote[i] > 0:
            pos[m] = i
            m += 1
    pos = pos[:m].copy()
    slots = np.empty(m, np.int64)
    sub = np.empty(m)
    w = np.empty(m)
    h = np.empty(m, np.int64)
    d = np.empty(m, np.int64)
    spend = np.empty(m)
    additional = np.empty(m, np.bool_)
    by_issuer = np.zeros(n_places)
    add_value = np.zeros(n_places)
    revenue = np.zeros(n_places)
    w_add = np.empty(m)
    w_cross = np.empty(m)
    n_add = 0
    n_cross = 0
    for j in range(m):
        i = pos[j]
        b = searcher[i]
        slots[j] = b
        sj = quote[i]
        sub[j] = sj
        wj = weight[b]
        w[j] = wj
        hj = home[i]
        dj = dest[i]
        h[j] = hj
        d[j] = dj
        sp = sj * wj
        spend[j] = sp
        by_issuer[hj] += sp
        balance[b] = balance[b] - sj
        add = plain_net[i] < 0
        additional[j] = add
        add_value[hj] += (total(gain[i], nf) * wj) * (1.0 if add else 0.0)
        revenue[dj] += price[i] * wj
        if add:
            w_add[n_add] = wj
            n_add += 1
        if dj != hj:
            w_cross[n_cross] = wj
            n_cross += 1
    return (pos, slots, sub, w, h, d, spend, additional, by_issuer, add_value, revenue,
            total(spend, m), total(w, m), total(w_add, n_add), total(w_cross, n_cross))


@jit
def sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``numpy.union1d(a, b)`` of two ascending arrays without repeats, by merging them."""
    na = a.shape[0]
    nb = b.shape[0]
    out = np.empty(na + nb, np.int64)
    i = 0
    j = 0
    m = 0
    while i < na or j < nb:
        if j >= nb or (i < na and a[i] < b[j]):
            out[m] = a[i]
            i += 1
        elif i >= na or b[j] < a[i]:
            out[m] = b[j]
            j += 1
        else:                                    # in both
            out[m] = a[i]
            i += 1
            j += 1
        m += 1
    return out[:m].copy()


@jit
def voucher_redeem(holders: np.ndarray, eligible: np.ndarray, keep: float, deal: np.ndarray,
                   best_idx: np.ndarray, searcher: np.ndarray, home: np.ndarray, dest: np.ndarray,
                   weight: np.ndarray, plain_net: np.ndarray, gain: np.ndarray, price: np.ndarray,
                   balance: np.ndarray, firm_id: np.ndarray, n_places: int):
    """:func:`voucher_quote` at the best candidates, then :func:`voucher_settle`, in one call.

    The quotes ``voucher_quote(holders, holders, dest, home, eligible, balance, searcher, price,
    keep)`` are made before any balance changes; returns what :func:`voucher_settle` returns on
    them, then the redeeming firms' ids ``firm_id[slots]`` and institutes ``best_idx[used]``.
    """
    quote = voucher_quote(holders, holders, dest, home, eligible, balance, searcher, price, keep)
    (used, slots, sub, w, h, d, spend, additional, by_issuer, add_value, revenue, spend_sum,
     w_sum, w_add, w_cross) = voucher_settle(deal, best_idx, quote, searcher, home, dest, weight,
                                             plain_net, gain, price, balance, n_places)
    m = used.shape[0]
    ids = np.empty(m, firm_id.dtype)
    inst = np.empty(m, np.int64)
    for j in range(m):
        ids[j] = firm_id[slots[j]]
        inst[j] = best_idx[used[j]]
    return (used, slots, sub, w, h, d, spend, additional, by_issuer, add_value, revenue,
            spend_sum, w_sum, w_add, w_cross, ids, inst)


@jit
def voucher_redeem_booked(holders: np.ndarray, eligible: np.ndarray, keep: float,
                          deal: np.ndarray, best_idx: np.ndarray, searcher: np.ndarray,
                          home: np.ndarray, dest: np.ndarray, weight: np.ndarray,
                          plain_net: np.ndarray, gain: np.ndarray, price: np.ndarray,
                          balance: np.ndarray, firm_id: np.ndarray, n_places: int,
                          policy_cost: np.ndarray, subsidy_account: np.ndarray,
                          spent: np.ndarray, additional_value: np.ndarray,
                          local_revenue: np.ndarray):
    """:func:`voucher_redeem`, then the spending booked in place, in one call.

    Where a voucher was redeemed, the issuers' spending ``by_issuer`` is added to
    ``policy_cost`` (the model's row of the step), ``subsidy_account`` (the flow book's
    ``voucher_subsidy`` account of the step, as ``FlowBook.account`` adds) and ``spent``, and
    ``add_value`` and ``revenue`` to ``additional_value`` and ``local_revenue`` (the year's
    statistics of ``Vouchers.settle_subsidy``), in that order. Returns :func:`voucher_redeem`'s
    results without the three per-place sums.
    """
    (used, slots, sub, w, h, d, spend, additional, by_issuer, add_value, revenue, spend_sum,
     w_sum, w_add, w_cross, ids, inst) = voucher_redeem(holders, eligible, keep, deal, best_idx,
                                                        searcher, home, dest, weight, plain_net,
                                                        gain, price, balance, firm_id, n_places)
    if used.shape[0]:
        _add_into(policy_cost, by_issuer)
        _add_into(subsidy_account, by_issuer)
        _add_into(spent, by_issuer)
        _add_into(additional_value, add_value)
        _add_into(local_revenue, revenue)
    return (used, slots, sub, w, h, d, spend, additional, spend_sum, w_sum, w_add, w_cross, ids,
            inst)


@jit
def voucher_requests(slots: np.ndarray, amount: np.ndarray, weight: np.ndarray, place: np.ndarray,
                     firm_id: np.ndarray, ever_id: np.ndarray, applied_id: np.ndarray, n_places: int):
    """The approved applicants' requests, in one pass.

    With ``w = weight[slots]``, ``home = place[slots]`` and ``ids = firm_id[slots]``: sets
    ``ever_id[slots]`` and ``applied_id[slots]`` to ``ids`` in place (the slots are distinct)
    and returns ``w``, ``home``, ``ids``, ``w[ever_id[slots] != ids].sum()`` (before the
    update), ``(amount · w).sum()``, ``bincount(home, amount · w, minlength=n_places)`` and
    ``amount · w`` (numpy's pairwise sums).
    """
    m = slots.shape[0]
    w = np.empty(m)
    home = np.empty(m, np.int64)
    ids = np.empty(m, np.int64)
    w_new = np.empty(m)
    got = np.empty(m)
    demand = np.zeros(n_places)
    n_new = 0
    for j in range(m):
        i = slots[j]
        wj = weight[i]
        w[j] = wj
        h = place[i]
        home[j] = h
        fid = firm_id[i]
        ids[j] = fid
        if ever_id[i] != fid:
            w_new[n_new] = wj
            n_new += 1
        ever_id[i] = fid
        applied_id[i] = fid
        g = amount[j] * wj
        got[j] = g
        demand[h] += g
    return w, home, ids, total(w_new, n_new), total(got, m), demand, got


@jit
def voucher_grants(slots: np.ndarray, amount: np.ndarray, w: np.ndarray, home: np.ndarray,
                   ids: np.ndarray, got: np.ndarray, balance: np.ndarray, holder_id: np.ndarray,
                   n_places: int) -> tuple[float, float, np.ndarray]:
    """Book the grants ``got``, in one pass.

    Where ``got > 1e-9``, ``balance[slots] = got / w`` and ``holder_id[slots] = ids`` (in
    place); returns ``got.sum()``, ``(amount · w − got).sum()``
    and ``bincount(home, got, minlength=n_places)``.
    """
    m = slots.shape[0]
    short = np.empty(m)
    approved = np.zeros(n_places)
    for j in range(m):
        g = got[j]
        short[j] = amount[j] * w[j] - g
        approved[home[j]] += g
        if g > 1e-9:
            balance[slots[j]] = ieee_div(g, w[j])
            holder_id[slots[j]] = ids[j]
    return total(got, m), total(short, m), approved


@jit
def voucher_grant_slots(slots: np.ndarray, amount: np.ndarray, w: np.ndarray, home: np.ndarray,
                        ids: np.ndarray, got: np.ndarray, balance: np.ndarray,
                        holder_id: np.ndarray, n_places: int, granted: np.ndarray
                        ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """:func:`voucher_grants`, then the granted slots ``sorted_union(granted, slots)``, in one call.

    ``granted`` and ``slots`` ascending (:func:`sorted_union`); returns what
    :func:`voucher_grants` returns, then the union.
    """
    approved, rationed, by_place = voucher_grants(slots, amount, w, home, ids, got, balance,
                                                  holder_id, n_places)
    return approved, rationed, by_place, sorted_union(granted, slots)


@jit
def application_setup(alive: np.ndarray, place: np.ndarray, open_place: np.ndarray,
                      talent: np.ndarray, max_talent: float, capital: np.ndarray,
                      applied_id: np.ndarray, firm_id: np.ndarray, inst_place: np.ndarray,
                      inst_capacity: np.ndarray, inst_k: np.ndarray, n_places: int, cost: float,
                      multiplier: np.ndarray, phi: np.ndarray
                      ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """:func:`voucher_candidates` and the month's :func:`reference_terms`, in one call.

    The arguments are those of the two kernels, in their order; returns their results.
    """
    return (voucher_candidates(alive, place, open_place, talent, max_talent, capital, applied_id,
                               firm_id),
            reference_terms(inst_place, inst_capacity, inst_k, n_places, cost, multiplier, phi))


# ---------------------------------------------------------------------------------- warm-up
_WARM = [False]


def warm_up() -> None:
    """Load (or compile) every kernel of this module with the argument types a run uses.

    Firm weights (inside a model step) and place wages are read-only arrays (a different numba
    signature), so the kernels that take them are compiled for both. Only the first call in a
    process does anything.
    """
    if _WARM[0]:
        return
    _WARM[0] = True
    i2 = np.zeros(2, np.int64)
    f2 = np.ones(2)
    b2 = np.ones(2, np.bool_)
    m22 = np.ones((2, 2))
    ro = np.ones(2)
    ro.flags.writeable = False
    for w in (f2, ro):
        outlook_sums(i2, b2, w, m22, f2, f2, f2, 0.5, 1)
    outlook_terms(f2, f2, f2, m22, f2, m22, f2, f2, m22, i2, f2, f2, m22, m22, m22, 1.0)
    group_means(m22, f2)
    reference_terms(i2, f2, m22, 2, 0.5, m22, m22)
    cap, _, worth = knowledge_terms(m22, m22, m22, np.ones((1, 2, 2)), np.ones((1, 2, 2)), 1.0,
                                    f2[:1].copy(), 1.0, 1e-12)
    knowledge_value(i2, m22, m22, m22, cap, worth, np.ones((1, 2, 2)), f2[:1].copy(), m22, 1.0,
                    0.1)
    o2 = np.zeros((1, 2), np.int64)
    for wage in (f2, ro):                     # the model's wages are read-only too
        w, base, hire = projection_setup(o2, i2, b2, wage, f2, f2, f2[:1].copy(), 0.5, 0.1)
    mean_profit(np.ones((2, 1, 2)), np.ones((2, 1, 2)), f2, w, f2)
    s2 = np.arange(2)
    cap, worth, wts = valuation_setup(s2, 0, m22, np.ones((3, 2, 2)), m22, np.ones((2, 2, 2)),
                                      m22, i2, 1.0, f2, 1.0, 1e-12)
    know = valuation_gain(s2, 0, m22, wts, wts, cap, worth, np.ones((2, 2, 2)), f2, m22, i2, 1.0,
                          0.1)
    for wage in (f2, ro):                     # the model's quality is read-only too
        w, base, hire, scale = gain_setup(s2, 0, i2, b2, wage, f2, f2, ro, 1.0, 0.5, 0.1)
    path = project_path(base, s2, b2, f2, hire, 0.1, 1.05, 2)
    gain_finish(s2, know, path, path, scale, w, f2, f2, 1.0, 1.0, 2)
    for w in (f2, ro):
        knowledge_access(s2, know, w)
    location_gain(f2, f2, f2, f2, 1.0, 1.0, 2)
    stale_members(i2, b2, i2, i2)
    review_slots(i2, f2, 0.5, b2, f2)
    with_leavers(i2, i2, f2)
    for w in (f2, ro):
        park_units(i2, i2, w, 1)
        members_staff(i2, w, f2, f2)
        member_costs(i2, i2, f2, w, f2.copy(), i2)
        month_costs(i2, i2, f2, w, f2.copy(), i2, f2, f2, b2, i2, f2.copy())
        park_payoffs(i2, i2, w, f2, f2, f2, f2, f2, f2, 0.1, f2, f2, f2, b2, i2, i2, i2, i2, 12,
                     2)
    vgap, rho, tc = service_terms(m22, m22, m22, i2, m22, 1.0, 0.1, 1.0, 1e-12, 0.5)
    best_redemption(vgap, rho, tc, f2, 1.0, np.ones((2, 2), np.bool_))
    redemption_place(vgap, rho, tc, f2, i2, 0.5, 1.0, np.ones((2, 2), np.bool_), i2, f2)
    project_institutes(i2, f2, f2, m22, 2)
    project_search(i2, i2, i2, 1.0, 2)
    project_setup(i2, b2, i2, i2, f2, f2, 1e-9, i2, f2, f2, m22, 2, i2, i2, 1.0, 2,
                  np.ones((2, 2), np.bool_), m22, 0.5, m22, 1.0)
    redemption_choice(m22, m22, m22, i2, m22, 1.0, 0.1, 1.0, 1e-12, 0.5, f2, i2, 0.5, 1.0,
                      np.ones((2, 2), np.bool_), i2, f2)
    project_rows(np.ones((2, 2), np.bool_), m22, i2, i2, f2)
    ratios = package_ratios(m22, m22, m22, 1.0, 2.0)
    n_v, n_2, req, expo = package_sizes(ratios, m22, 2.0, 1.0, 0.5)
    package_worth(m22, expo, n_v, n_2, req, m22, 2.0, 2.0)
    masked_argmax(m22, np.ones((2, 2), np.bool_))
    voucher_choice(m22, m22, m22, np.ones((2, 2), np.bool_), i2, i2, f2, f2)
    voucher_candidates(b2, i2, b2, f2, 1.0, f2, i2, i2)
    voucher_users_of(i2, b2, i2, i2, f2, f2, 1e-9)
    for w in (f2, ro):
        holders_weight(i2, i2, i2, b2, f2, w)
    voucher_quote(b2, b2, i2, i2, np.ones((2, 2), np.bool_), f2, i2, f2, 0.5)
    voucher_holders(f2, i2, i2, i2, b2, f2, 0.5, i2)
    platform_deals(b2, i2, i2, b2)
    platform_rows(m22, b2, f2, f2, i2, b2, b2)
    platform_search_rows(m22, b2, f2, f2, i2, b2)
    voucher_grants(i2, f2, f2, i2, i2, f2, f2.copy(), i2.copy(), 1)
    voucher_grant_slots(i2, f2, f2, i2, i2, f2, f2.copy(), i2.copy(), 1, i2)
    application_setup(b2, i2, b2, f2, 1.0, f2, i2, i2, i2, f2, m22, 2, 0.5, m22, m22)
    sorted_union(i2, i2)
    for w in (f2, ro):
        platform_settle(i2, i2, i2, w, f2, f2, 0.03, f2.copy(), 1)
        platform_fees(b2, i2, i2, b2, i2, i2, w, f2, f2, 0.03, f2.copy(), 1)
        voucher_settle(b2, i2, f2, i2, i2, i2, w, f2, m22, f2, f2.copy(), 1)
        voucher_redeem(b2, np.ones((2, 2), np.bool_), 0.5, b2, i2, i2, i2, i2, w, f2, m22, f2,
                       f2.copy(), i2, 1)
        voucher_requests(i2, f2, w, i2, i2, i2.copy(), i2.copy(), 1)
        platform_fees_booked(b2, i2, i2, b2, i2, i2, w, f2, f2, 0.03, f2.copy(), 2, f2.copy(),
                             f2.copy())
        voucher_redeem_booked(b2, np.ones((2, 2), np.bool_), 0.5, b2, i2, i2, i2, i2, w, f2, m22,
                              f2, f2.copy(), i2, 2, f2.copy(), f2.copy(), f2.copy(), f2.copy(),
                              f2.copy())
        voucher_applicants(m22, m22, m22, np.ones((2, 2), np.bool_), i2, i2, f2, f2, w, i2,
                           i2.copy(), i2.copy(), 2)
