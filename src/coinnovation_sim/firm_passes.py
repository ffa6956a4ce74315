"""Compiled per-firm passes of the talent and capital stages.

Each stage of the talent and capital dynamics is a chain of elementwise updates of the firm arrays
followed by sums by place. Written as numpy operations the chain is about thirty passes over the
population, each allocating a temporary; here each part of a stage is one loop over the firms that
computes the same expressions, in the same order, with the same operands, and adds the per-place
sums in firm order as ``numpy.bincount`` adds them. Results are therefore bit-for-bit those of the
numpy formulas they replace (``tests/test_firm_passes.py`` checks this against the formulas).

Powers stay in numpy (:func:`numpy.power` is vectorised and several times faster than the C
library's scalar ``pow``, and differs from it in the last bit); the passes receive them as arrays.
``np.minimum``, ``np.maximum`` and ``np.clip`` follow numpy's rules for NaN and signed zeros
(:func:`kernels.np_min`, :func:`kernels.np_max`, :func:`kernels.max0`, :func:`kernels.np_clip`).

All passes return new arrays rather than updating the firm arrays in place, as the numpy code
they replace did, so no other reference to a firm array sees a half-updated state.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels import (
    ieee_div,
    jit,
    jit_inline,
    max0,
    np_clip,
    np_max,
    np_min,
    register_warm_up,
    row_total,
    split_by_location,
    total,
)


@jit
def quality_base_of(kappa: np.ndarray, ref: float) -> np.ndarray:
    """``1 + κ_i / κ_ref`` per firm from the firms' total knowledge ``κ``.

    ``κ`` is :meth:`CoinnovationModel.knowledge_totals` (:func:`kernels.row_sums` of the
    knowledge); the quality is this base to the knowledge elasticity.
    """
    n = kappa.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = 1.0 + kappa[i] / ref
    return out


@jit
def quality_base_rows(k: np.ndarray, rows: np.ndarray, ref: float) -> np.ndarray:
    """``quality_base_of(row_sums(k[rows]), ref)`` without copying the rows out of ``k``."""
    out = np.empty(rows.shape[0])
    for j in range(rows.shape[0]):
        out[j] = 1.0 + row_total(k, rows[j]) / ref
    return out


@jit
def refresh_row_sums(kappa: np.ndarray, k: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A copy of the row sums ``kappa`` of ``k`` with ``rows`` summed again (left to right).

    ``rows`` may repeat a row; the result is :func:`kernels.row_sums` of the current ``k`` when
    only ``rows`` changed since ``kappa`` was computed.
    """
    out = kappa.copy()
    for j in range(rows.shape[0]):
        out[rows[j]] = row_total(k, rows[j])
    return out


def pending_rows(rows: list[np.ndarray]) -> np.ndarray:
    """The reported rows of :meth:`CoinnovationModel.knowledge_changed` as one array.

    Rows may repeat (recomputing a row twice gives the same bits), so they are not deduplicated.
    """
    return rows[0] if len(rows) == 1 else np.concatenate(rows)


@jit_inline
def pay_of(wage: np.ndarray, h: int, u: int, share: float) -> float:
    """Wage per person of a firm at home ``h`` whose unit (share ``share``) operates at ``u``.

    ``w_h + s (w_u − w_h)`` when ``u`` differs from ``h``; the home wage otherwise.
    """
    if u != h:
        w_h = wage[h]
        return w_h + share * (wage[u] - w_h)
    return wage[u]


@jit
def firm_wage(wage: np.ndarray, home: np.ndarray, unit_place: np.ndarray,
              unit_share: np.ndarray) -> np.ndarray:
    """Wage per person each firm pays (:func:`production.wage`; :func:`pay_of` per firm)."""
    n = home.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = pay_of(wage, home[i], unit_place[i], unit_share[i])
    return out


@jit
def target_talent_base(theta: float, productivity: np.ndarray, q: np.ndarray,
                       pay: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """``θ a q / w`` per live firm, the base of the target talent ``T* = (θ a q / w)^(1/(1−θ))``.

    Dead slots, whose target is 0, get 1.0: never-used slots have productivity 0, and a 0 would
    send numpy's ``power`` of the bases onto its slow path (see :func:`power_bases`).
    """
    n = productivity.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = theta * productivity[i] * q[i] / pay[i] if alive[i] else 1.0
    return out


@jit
def power_bases(x: np.ndarray) -> np.ndarray:
    """``x`` where it is positive or NaN, 1.0 elsewhere: bases for :func:`numpy.power`.

    numpy's vectorised ``power`` takes a slow path for every vector of elements that holds a zero
    (a fifth slower with 5 % zeros, twice as slow with 15 %, measured); the power of an element
    does not depend on its neighbours, so the elements whose power is known (``max(x, 0)^y =
    0^y``) are raised as ``1^y`` and replaced afterwards (:func:`capital_pass`).
    """
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        v = x[i]
        out[i] = v if (v > 0.0 or v != v) else 1.0
    return out


@jit
def at_least(x: np.ndarray, lo: float) -> np.ndarray:
    """``numpy.maximum(x, lo)`` as a new array (NaN passes through)."""
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = np_max(x[i], lo)
    return out


@jit
def keep_dead(alive: np.ndarray, x: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``numpy.where(alive, x, old)`` written into ``x`` (which must be a temporary); returns it."""
    for i in range(x.shape[0]):
        if not alive[i]:
            x[i] = old[i]
    return x


@jit
def zero_dead(alive: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``numpy.where(alive, x, 0.0)`` written into ``x`` (which must be a temporary); returns it."""
    for i in range(x.shape[0]):
        if not alive[i]:
            x[i] = 0.0
    return x


@jit
def changed_slots(base: np.ndarray, alive: np.ndarray, old_base: np.ndarray,
                  old_alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slots whose ``base`` or ``alive`` differs from the old one, ascending, and their bases.

    Floats compare by their bits (so ``-0.0`` differs from ``0.0`` and a NaN from itself only if
    its bits differ): a slot not listed has exactly the old inputs. The bases of the listed
    slots are returned with 1.0 for dead slots (their power is not used, see
    :func:`power_bases`).
    """
    n = base.shape[0]
    new_bits = base.view(np.int64)
    old_bits = old_base.view(np.int64)
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if new_bits[i] != old_bits[i] or alive[i] != old_alive[i]:
            out[k] = i
            k += 1
    rows = out[:k].copy()
    row_base = np.empty(k)
    for j in range(k):
        row_base[j] = base[rows[j]] if alive[rows[j]] else 1.0
    return rows, row_base


@jit
def patched(old: np.ndarray, rows: np.ndarray, values: np.ndarray,
            alive: np.ndarray) -> np.ndarray:
    """A copy of ``old`` with ``values`` at ``rows`` (0 at the dead ones among them).

    ``t = old.copy(); t[rows] = numpy.where(alive[rows], values, 0.0)``.
    """
    out = old.copy()
    for j in range(rows.shape[0]):
        i = rows[j]
        out[i] = values[j] if alive[i] else 0.0
    return out


@jit
def target_talent_base_at(theta: float, productivity: np.ndarray, q: np.ndarray,
                          wage: np.ndarray, home: np.ndarray, unit_place: np.ndarray,
                          unit_share: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, bool]:
    """:func:`target_talent_base` with each firm's wage computed as :func:`firm_wage` does.

    Also returns whether some slot's unit operates away from its home
    (:meth:`CoinnovationModel.any_away`).
    """
    n = productivity.shape[0]
    out = np.empty(n)
    away = False
    for i in range(n):
        u = unit_place[i]
        h = home[i]
        if u != h:
            away = True
        if alive[i]:
            out[i] = theta * productivity[i] * q[i] / pay_of(wage, h, u, unit_share[i])
        else:
            out[i] = 1.0
    return out, away


@jit
def target_talent_base_rows(theta: float, productivity: np.ndarray, q: np.ndarray,
                            wage: np.ndarray, home: np.ndarray, unit_place: np.ndarray,
                            unit_share: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``target_talent_base_at(...)[rows]`` with ``q`` given for ``rows`` only."""
    out = np.empty(rows.shape[0])
    for j in range(rows.shape[0]):
        i = rows[j]
        out[j] = theta * productivity[i] * q[j] / pay_of(wage, home[i], unit_place[i],
                                                         unit_share[i])
    return out


@jit
def shocked_log_productivity(la: np.ndarray, lb: np.ndarray, eps: np.ndarray,
                             reversion: float, volatility: float) -> np.ndarray:
    """One month of the mean-reverting log-productivity walk (:func:`production.shock_productivity`).

    ``log a + (ρ (log b − log a) + σ ε)``, clipped to [−700, 700] so its exponential is finite.
    """
    n = la.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = np_clip(la[i] + (reversion * (lb[i] - la[i]) + volatility * eps[i]), -700.0,
                         700.0)
    return out


@jit
def exit_pass(alive: np.ndarray, capital: np.ndarray, neg_months: np.ndarray,
              exit_months: float, place: np.ndarray, log_base: np.ndarray, n_places: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Months in the red, the firms that exit and a census of the firms left (:mod:`demography`).

    Returns
    -------
    neg_months : numpy.ndarray
        Consecutive months with negative capital of live firms (0 otherwise).
    out : numpy.ndarray
        Live slots with at least ``exit_months`` such months, ascending.
    free : numpy.ndarray
        Slots without a live firm after the exits, ascending.
    count, sumlog : numpy.ndarray
        Live firms per place after the exits and the sum of their ``log_base``, added in slot
        order (the sums of the current place kept in registers, see :func:`capital_pass`).
    """
    n = alive.shape[0]
    months = np.empty(n, np.int64)
    out = np.empty(n, np.int64)
    free = np.empty(n, np.int64)
    count = np.zeros(n_places, np.int64)
    sumlog = np.zeros(n_places)
    k = 0
    n_free = 0
    cur = -1
    num = 0
    acc = 0.0
    for i in range(n):
        live = alive[i]
        m = neg_months[i] + 1 if live and capital[i] < 0.0 else 0
        months[i] = m
        if live and m >= exit_months:
            out[k] = i
            k += 1
            live = False
        if not live:
            free[n_free] = i
            n_free += 1
            continue
        p = place[i]
        if p != cur:
            if cur >= 0:
                count[cur] = num
                sumlog[cur] = acc
            cur = p
            num = count[p]
            acc = sumlog[p]
        num += 1
        acc += log_base[i]
    if cur >= 0:
        count[cur] = num
        sumlog[cur] = acc
    return months, out[:k].copy(), free[:n_free].copy(), count, sumlog


@jit
def exit_settle(out: np.ndarray, weight: np.ndarray, talent: np.ndarray, capital: np.ndarray,
                debt: np.ndarray, neg_months: np.ndarray, alive: np.ndarray, place: np.ndarray,
                unit_place: np.ndarray, unit_share: np.ndarray, pool: np.ndarray,
                n_places: int) -> tuple[np.ndarray, np.ndarray]:
    """Settle the exits of the slots ``out`` (ascending) and clear their firm fields.

    Their staff ``weight · talent`` joins the job-seeker ``pool`` (updated in place) where it
    works (:func:`talent.by_location`); the slots are then dead with no talent, capital, debt or
    months in the red. Sums by home place are added in the order of ``out``, as
    ``numpy.bincount`` adds them.

    Returns
    -------
    writeoff : numpy.ndarray
        ``Σ −weight · min(capital, 0)`` by home place: negative capital written off.
    bad : numpy.ndarray
        ``Σ weight · debt`` by home place: the investment the exiting firms still owe.
    """
    m = out.shape[0]
    released = np.empty(m)
    unit = np.empty(m, np.int64)
    home = np.empty(m, np.int64)
    share = np.empty(m)
    writeoff = np.zeros(n_places)
    bad = np.zeros(n_places)
    away = False
    for j in range(m):
        i = out[j]
        w = weight[i]
        h = place[i]
        released[j] = w * talent[i]
        unit[j] = unit_place[i]
        home[j] = h
        share[j] = unit_share[i]
        if unit[j] != h:
            away = True
        writeoff[h] += -w * np_min(capital[i], 0.0)
        bad[h] += w * debt[i]
    if away:
        at = split_by_location(unit, home, share, released, n_places)
    else:
        at = np.zeros(n_places)
        for j in range(m):
            at[unit[j]] += released[j]
    for h in range(n_places):
        pool[h] += at[h]
    for j in range(m):
        i = out[j]
        alive[i] = False
        talent[i] = 0.0
        capital[i] = 0.0
        debt[i] = 0.0
        neg_months[i] = 0
    return writeoff, bad


@jit
def found_firms(slots: np.ndarray, place: np.ndarray, first_id: int, pools: np.ndarray,
                alive: np.ndarray, home: np.ndarray, unit_place: np.ndarray,
                unit_share: np.ndarray, knowledge: np.ndarray, talent: np.ndarray,
                capital: np.ndarray, debt: np.ndarray, neg_months: np.ndarray,
                firm_id: np.ndarray) -> None:
    """Write the new firms of :func:`demography.entries` into the free ``slots`` (in place).

    Each is alive at its ``place`` (home and unit, at home in full), with half its place's
    knowledge pool, no talent, capital, debt or months in the red, and the ids ``first_id,
    first_id + 1, …`` in slot order.
    """
    nf = knowledge.shape[1]
    for j in range(slots.shape[0]):
        i = slots[j]
        h = place[j]
        alive[i] = True
        home[i] = h
        unit_place[i] = h
        unit_share[i] = 1.0
        for c in range(nf):
            knowledge[i, c] = 0.5 * pools[h, c]
        talent[i] = 0.0
        capital[i] = 0.0
        debt[i] = 0.0
        neg_months[i] = 0
        firm_id[i] = first_id + j


@jit
def entry_rates(count: np.ndarray, pools: np.ndarray, entry_rate: float
                ) -> tuple[np.ndarray, float]:
    """Poisson means of the entries per place and their sum (:func:`demography.entries`).

    ``λ_p = entry_rate · n_p · sqrt(κ_p / mean κ)`` with ``κ_p`` the row sums of the knowledge
    pools (``pools.sum(axis=1)``, pairwise as numpy adds), the mean over places with live firms
    (1 when there are none) and ``κ_p / mean`` taken as 0 where ``κ_p ≤ 0``.
    """
    p, nf = pools.shape
    kp = np.empty(p)
    live_kp = np.empty(p)
    m = 0
    for r in range(p):
        kp[r] = total(pools[r], nf)
        if count[r] > 0:
            live_kp[m] = kp[r]
            m += 1
    mean = total(live_kp, m) / m if m > 0 else 1.0
    lam = np.empty(p)
    for r in range(p):
        rel = ieee_div(kp[r], mean) if kp[r] > 0.0 else 0.0
        lam[r] = entry_rate * float(count[r]) * math.sqrt(rel)
    return lam, total(lam, p)


@jit
def entrant_fields(mix: np.ndarray, place: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Main field of each entrant: how many of its place's cumulative field shares ``u`` exceeds.

    ``minimum((u[:, None] > cumsum(mix[place], axis=1)).sum(axis=1), F − 1)``.
    """
    n = place.shape[0]
    nf = mix.shape[1]
    out = np.empty(n, np.int64)
    for j in range(n):
        c = 0.0
        above = 0
        for f in range(nf):
            c += mix[place[j], f]
            if u[j] > c:
                above += 1
        out[j] = min(above, nf - 1)
    return out


@jit
def founding_grants(place: np.ndarray, weight: np.ndarray, tstar: np.ndarray, wage: np.ndarray,
                    pool: np.ndarray, buffer_months: float, overhead_share: float,
                    n_places: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Founding capital and overhead of entrants (:func:`demography.entries`).

    Each entrant asks ``buffer_months · wage · T*``, at most 1 % of its place's pool per real
    firm; a place whose entrants ask more than its pool scales their grants down to it.

    Returns
    -------
    grant, overhead : numpy.ndarray
        Per entrant (per real firm).
    used : numpy.ndarray
        ``Σ weight · grant`` by place, added in entrant order.
    """
    n = place.shape[0]
    grant = np.empty(n)
    overhead = np.empty(n)
    asked = np.zeros(n_places)
    for j in range(n):
        h = place[j]
        want = buffer_months * wage[h] * tstar[j]
        avail = pool[h] * 0.01
        g = np_min(want, avail / np_max(weight[j], 1e-12))
        grant[j] = g
        asked[h] += weight[j] * g
    scale = np.empty(n_places)
    for h in range(n_places):
        s = ieee_div(pool[h], asked[h]) if asked[h] > pool[h] else 1.0
        scale[h] = np_min(s, 1.0)
    used = np.zeros(n_places)
    for j in range(n):
        h = place[j]
        g = grant[j] * scale[h]
        grant[j] = g
        used[h] += weight[j] * g
        overhead[j] = overhead_share * wage[h] * tstar[j]
    return grant, overhead, used


@jit
def _location_total(at_unit: np.ndarray, at_home: np.ndarray, split: bool) -> np.ndarray:
    """Sums by work location from their unit and home parts (see :func:`talent.by_location`).

    With ``split`` (some firm operates away from home) a firm's amount counts ``unit_share`` at
    its unit place and the rest at home, each part summed in firm order and the home part added
    at the end, as :func:`kernels.split_by_location` does; otherwise all of it counts at the unit
    place, as ``numpy.bincount(unit_place, amount)`` counts it.
    """
    if split:
        for p in range(at_unit.shape[0]):
            at_unit[p] += at_home[p]
    return at_unit


@jit
def separation_pass(talent: np.ndarray, tstar: np.ndarray, noise: np.ndarray, alive: np.ndarray,
                    capital: np.ndarray, weight: np.ndarray, unit_place: np.ndarray,
                    home: np.ndarray, unit_share: np.ndarray, split: bool, quit_rate: float,
                    hiring_speed: float, retirement_rate: float, n_places: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quits, lay-offs and retirement of every firm, and its vacancies after them.

    Per firm (:func:`talent.separations`): ``quits = T min(1, quit_rate · noise)``, ``layoffs =
    hiring_speed · max(0, T − 1.05 T*)``, ``retire = T · retirement_rate``; a live firm loses
    ``leave = min(T, quits + layoffs + retire)`` of which ``min(retire, leave)`` retires. Then the
    vacancies of :func:`vacancy_pass` at the new talent, in the same pass (for the hiring of
    :func:`talent.hiring`: nothing in between changes the firms' talent, targets or capital).

    Returns
    -------
    talent : numpy.ndarray
        ``T − leave`` per firm.
    to_pool : numpy.ndarray
        ``Σ weight · (leave − retired)`` by work location (P,): who joins the local pools.
    retired : numpy.ndarray
        ``Σ weight · retired`` by work location (P,).
    vac, vac_p : numpy.ndarray
        :func:`vacancy_pass` of the new talent: vacancies per real firm (n,) and ``Σ weight ·
        vac`` by work location (P,).
    """
    n = talent.shape[0]
    out = np.empty(n)
    vac = np.empty(n)
    left = np.empty(n)
    retired = np.empty(n)
    # first the firms' own figures, in a loop without carried sums (it vectorises) ...
    for i in range(n):
        t = talent[i]
        quits = t * np_min(1.0, quit_rate * noise[i])
        layoffs = hiring_speed * max0(t - 1.05 * tstar[i])
        retire = t * retirement_rate
        if alive[i]:
            leave = np_min(t, quits + layoffs + retire)
            retire = np_min(retire, leave)
        else:
            leave = 0.0
            retire = 0.0
        left[i] = leave
        retired[i] = retire
        t_new = t - leave
        out[i] = t_new
        v = hiring_speed * max0(tstar[i] - t_new)
        if not (alive[i] and capital[i] > 0.0):
            v = 0.0
        vac[i] = v
    # ... then the sums by place, in firm order
    pool_unit = np.zeros(n_places)
    pool_home = np.zeros(n_places)
    ret_unit = np.zeros(n_places)
    ret_home = np.zeros(n_places)
    vac_unit = np.zeros(n_places)
    vac_home = np.zeros(n_places)
    # per-place sums kept in registers while consecutive firms share a place (same order)
    cur_a = -1
    cur_h = -1
    pu = ru = su = ph = rh = sh = 0.0
    for i in range(n):
        leave = left[i]
        retire = retired[i]
        v = vac[i]
        w = weight[i]
        a = unit_place[i]
        joining = w * (leave - retire)
        retiring = w * retire
        wanted = w * v
        if a != cur_a:
            if cur_a >= 0:
                pool_unit[cur_a] = pu
                ret_unit[cur_a] = ru
                vac_unit[cur_a] = su
            cur_a = a
            pu = pool_unit[a]
            ru = ret_unit[a]
            su = vac_unit[a]
        if split:
            h = home[i]
            if h != cur_h:
                if cur_h >= 0:
                    pool_home[cur_h] = ph
                    ret_home[cur_h] = rh
                    vac_home[cur_h] = sh
                cur_h = h
                ph = pool_home[h]
                rh = ret_home[h]
                sh = vac_home[h]
            u = unit_share[i] if a != h else 1.0
            pu += joining * u
            ph += joining * (1.0 - u)
            ru += retiring * u
            rh += retiring * (1.0 - u)
            su += wanted * u
            sh += wanted * (1.0 - u)
        else:
            pu += joining
            ru += retiring
            su += wanted
    if cur_a >= 0:
        pool_unit[cur_a] = pu
        ret_unit[cur_a] = ru
        vac_unit[cur_a] = su
    if cur_h >= 0:
        pool_home[cur_h] = ph
        ret_home[cur_h] = rh
        vac_home[cur_h] = sh
    return (out, _location_total(pool_unit, pool_home, split),
            _location_total(ret_unit, ret_home, split), vac,
            _location_total(vac_unit, vac_home, split))


@jit
def pool_turnover(pool: np.ndarray, to_pool: np.ndarray, retired: np.ndarray,
                  retirement_rate: float, graduation_rate: float, researchers: np.ndarray,
                  inst_weight: np.ndarray, inst_place: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The job-seeker pools' month after the separations (:func:`talent.separations`).

    Updates ``pool`` in place as ``pool += to_pool; pool -= pool · retirement_rate`` and, after
    the graduates ``Σ graduation_rate · researchers · weight`` of each place's institutes (added in
    institute order, as ``numpy.bincount`` adds them), ``pool += graduates``.

    Returns
    -------
    retirement : numpy.ndarray
        ``−(retired + pool · retirement_rate)`` per place (the recorded sink).
    graduates : numpy.ndarray
        Graduates per place (the recorded source).
    """
    p = pool.shape[0]
    retirement = np.empty(p)
    for h in range(p):
        x = pool[h] + to_pool[h]
        gone = x * retirement_rate
        pool[h] = x - gone
        retirement[h] = -(retired[h] + gone)
    graduates = np.zeros(p)
    for k in range(inst_place.shape[0]):
        graduates[inst_place[k]] += graduation_rate * researchers[k] * inst_weight[k]
    for h in range(p):
        pool[h] += graduates[h]
    return retirement, graduates


@jit
def vacancy_pass(talent: np.ndarray, tstar: np.ndarray, alive: np.ndarray, capital: np.ndarray,
                 weight: np.ndarray, unit_place: np.ndarray, home: np.ndarray,
                 unit_share: np.ndarray, split: bool, hiring_speed: float, n_places: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Vacancies of every firm and their sum by work location (:func:`talent.hiring`).

    ``vac = hiring_speed · max(0, T* − T)`` for live firms with positive capital, else 0.

    Returns
    -------
    vac : numpy.ndarray
        Vacancies per real firm (n,).
    vac_p : numpy.ndarray
        ``Σ weight · vac`` by work location (P,).
    """
    n = talent.shape[0]
    vac = np.empty(n)
    at_unit = np.zeros(n_places)
    at_home = np.zeros(n_places)
    cur_a = -1
    cur_h = -1
    su = sh = 0.0
    for i in range(n):
        v = hiring_speed * max0(tstar[i] - talent[i])
        if not (alive[i] and capital[i] > 0.0):
            v = 0.0
        vac[i] = v
        a = unit_place[i]
        amount = weight[i] * v
        if a != cur_a:
            if cur_a >= 0:
                at_unit[cur_a] = su
            cur_a = a
            su = at_unit[a]
        if split:
            h = home[i]
            if h != cur_h:
                if cur_h >= 0:
                    at_home[cur_h] = sh
                cur_h = h
                sh = at_home[h]
            u = unit_share[i] if a != h else 1.0
            su += amount * u
            sh += amount * (1.0 - u)
        else:
            su += amount
    if cur_a >= 0:
        at_unit[cur_a] = su
    if cur_h >= 0:
        at_home[cur_h] = sh
    return vac, _location_total(at_unit, at_home, split)


@jit
def hire_pass(talent: np.ndarray, vac: np.ndarray, fill: np.ndarray, weight: np.ndarray,
              unit_place: np.ndarray, home: np.ndarray, unit_share: np.ndarray, split: bool,
              n_places: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill every firm's vacancies at its places' fill rates (:func:`talent.hiring`).

    A firm's unit share of the vacancies is filled at its unit place's rate, the rest at home
    (all at the unit place for a firm at home).

    Returns
    -------
    talent : numpy.ndarray
        Talent after hiring (n,).
    home_mat : numpy.ndarray
        With ``split``, the input of :meth:`CoinnovationModel.home_share_matrix`: weighted hires
        by unit place (rows) and home place (columns), plus the home-staff hires on the diagonal
        (P, P); zeros otherwise.
    """
    n = talent.shape[0]
    out = np.empty(n)
    mat = np.zeros((n_places, n_places))
    diag = np.zeros(n_places)
    for i in range(n):
        a = unit_place[i]
        h = home[i]
        u = unit_share[i] if a != h else 1.0
        hired_unit = vac[i] * u * fill[a]
        hired_home = vac[i] * (1.0 - u) * fill[h]
        out[i] = talent[i] + hired_unit + hired_home
        if split:
            mat[a, h] += weight[i] * hired_unit
            diag[h] += weight[i] * hired_home
    if split:
        for h in range(n_places):
            mat[h, h] += diag[h]
    return out, mat


@jit
def _store5(sums: np.ndarray, h: int, s0: float, s1: float, s2: float, s3: float,
            s4: float) -> None:
    """Write the five running sums of place ``h`` back into ``sums`` (:func:`capital_pass`)."""
    sums[0, h] = s0
    sums[1, h] = s1
    sums[2, h] = s2
    sums[3, h] = s3
    sums[4, h] = s4


@jit
def capital_pass(alive: np.ndarray, place: np.ndarray, weight: np.ndarray, talent: np.ndarray,
                 overhead: np.ndarray, capital: np.ndarray, debt: np.ndarray, pay: np.ndarray,
                 productivity: np.ndarray, talent_power: np.ndarray, q: np.ndarray,
                 tstar: np.ndarray, zero_power: float, repayment_rate: float,
                 buffer_months: float, savings_rate: float, n_places: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Operating profit, repayment, savings and capital need of every firm (:mod:`capital`).

    Per firm, in this order: revenue ``R = a · max(T, 0)^θ · q`` (``productivity · T^θ · q``,
    multiplied left to right; zero for dead slots), cost ``pay · T +
    overhead`` (live firms), profit ``R − cost`` added to capital and margin ``profit / cost``;
    repayment ``min(repayment_rate · debt, max(capital, 0))``; the capital target ``K* =
    buffer_months · pay · max(T, T*)``; savings ``savings_rate · max(0, capital − K*)``; and the
    need ``max(0, K* − capital)`` of a live firm with a positive margin.

    Parameters
    ----------
    productivity, talent_power, q : numpy.ndarray
        ``a``, ``power_bases(T)^θ`` (:func:`power_bases`) and the knowledge quality ``q`` per
        firm.
    tstar : numpy.ndarray
        Target talent per firm (used for live firms only).
    zero_power : float
        ``0^θ``, the ``max(T, 0)^θ`` of a firm whose talent is neither positive nor NaN.

    Returns
    -------
    capital, debt : numpy.ndarray
        After operations, repayment and savings (n,).
    need, margin : numpy.ndarray
        Capital need and profit margin per real firm (n,).
    sums : numpy.ndarray
        By home place (5, P): ``Σ w·profit``, ``Σ w·repaid``, ``Σ w·saved``, ``Σ w·need`` and
        ``Σ (w·need)·margin``.
    """
    n = talent.shape[0]
    cap = np.empty(n)
    owe = np.empty(n)
    need = np.empty(n)
    margin = np.empty(n)
    profits = np.empty(n)
    repaid = np.empty(n)
    saved = np.empty(n)
    # first the firms' own figures, in a loop without carried sums (it vectorises) ...
    for i in range(n):
        live = alive[i]
        t = talent[i]
        tp = talent_power[i] if (t > 0.0 or t != t) else zero_power
        rev = productivity[i] * tp * q[i] if live else 0.0
        cost = pay[i] * t + overhead[i] if live else 0.0
        profit = rev - cost
        c = capital[i] + profit
        profits[i] = profit
        m = profit / cost if cost > 0.0 else 0.0
        margin[i] = m
        due = repayment_rate * debt[i]
        back = np_min(due, np_max(c, 0.0)) if live else 0.0
        owe[i] = debt[i] - back
        c = c - back
        repaid[i] = back
        ts = tstar[i] if live else 0.0
        kstar = buffer_months * pay[i] * np_max(t, ts)
        dep = savings_rate * max0(c - kstar) if live else 0.0
        c = c - dep
        saved[i] = dep
        need[i] = max0(kstar - c) if live and m > 0.0 else 0.0
        cap[i] = c
    # ... then the weighted sums by place, in firm order; the sums of the current place are
    # kept in registers while consecutive firms share it
    sums = np.zeros((5, n_places))
    cur = -1
    s0 = s1 = s2 = s3 = s4 = 0.0
    for i in range(n):
        h = place[i]
        if h != cur:
            if cur >= 0:
                _store5(sums, cur, s0, s1, s2, s3, s4)
            cur = h
            s0, s1, s2, s3, s4 = sums[0, h], sums[1, h], sums[2, h], sums[3, h], sums[4, h]
        w = weight[i]
        s0 += w * profits[i]
        s1 += w * repaid[i]
        s2 += w * saved[i]
        wn = w * need[i]
        s3 += wn
        s4 += wn * margin[i]
    if cur >= 0:
        _store5(sums, cur, s0, s1, s2, s3, s4)
    return cap, owe, need, margin, sums


@jit
def pay_down(debt: np.ndarray, paid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread what each place's firms paid back over the places that invested in them.

    ``share = debt / debt.sum(axis=0)`` (0 in a column owing nothing), ``mat = share · paid``
    by column, the debt becomes ``maximum(debt − mat, 0)``; column sums add the rows in order
    and row sums are pairwise, as numpy adds them (:func:`capital.repay`,
    :func:`demography.exits`).

    Returns
    -------
    debt : numpy.ndarray
        The new investor × receiver debt matrix (P, P).
    mat : numpy.ndarray
        Paid back, investing place (rows) × paying place (columns) (P, P).
    received : numpy.ndarray
        ``mat.sum(axis=1)``: what each investing place gets back (P,).
    """
    p = debt.shape[0]
    q = debt.shape[1]
    owed = np.empty(q)
    for d in range(q):
        acc = debt[0, d] if p > 0 else 0.0
        for o in range(1, p):
            acc += debt[o, d]
        owed[d] = acc
    mat = np.empty((p, q))
    new = np.empty((p, q))
    for o in range(p):
        for d in range(q):
            share = debt[o, d] / owed[d] if owed[d] > 0.0 else 0.0
            m = share * paid[d]
            mat[o, d] = m
            new[o, d] = np_max(debt[o, d] - m, 0.0)
    received = np.empty(p)
    for o in range(p):
        received[o] = total(mat[o], q)
    return new, mat, received


@jit
def investment_exponent(weighted_margin: np.ndarray, need_p: np.ndarray, elasticity: float,
                        bound: float) -> np.ndarray:
    """The exponent of investors' return weighting, ``clip(elasticity · r, −bound, bound)``.

    ``r = Σ w·need·margin / Σ w·need`` is a place's mean return (0 where nothing is needed).
    """
    p = need_p.shape[0]
    out = np.empty(p)
    for h in range(p):
        r = weighted_margin[h] / need_p[h] if need_p[h] > 0.0 else 0.0
        out[h] = np_clip(elasticity * r, -bound, bound)
    return out


@jit
def investment_pass(capital: np.ndarray, debt: np.ndarray, need: np.ndarray,
                    invested_in: np.ndarray, need_p: np.ndarray, place: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Add each firm's investment ``need · fill[home]`` to its capital and its debt.

    ``fill = invested_in / need_p`` by place (0 where nothing is needed).
    """
    p = need_p.shape[0]
    fill = np.empty(p)
    for h in range(p):
        fill[h] = invested_in[h] / need_p[h] if need_p[h] > 0.0 else 0.0
    n = capital.shape[0]
    cap = np.empty(n)
    owe = np.empty(n)
    for i in range(n):
        got = need[i] * fill[place[i]]
        cap[i] = capital[i] + got
        owe[i] = debt[i] + got
    return cap, owe


@register_warm_up
def warm_up() -> None:
    """Load (or compile) the passes with the argument types of a run (see :func:`kernels.warm_up`)."""
    place = np.zeros(2, np.int64)
    ones = np.ones(2)
    alive = np.ones(2, np.bool_)
    weight = np.ones(2)
    weight.flags.writeable = False            # the model shares firm weights read-only in a step
    for split in (False, True):
        separation_pass(ones, ones, ones, alive, ones, weight, place, place, ones, split, 0.1, 0.1,
                        0.1, 1)
        vac, _ = vacancy_pass(ones, ones, alive, ones, weight, place, place, ones, split, 0.1, 1)
        hire_pass(ones, vac, ones, weight, place, place, ones, split, 1)
    pool_turnover(np.ones(2), ones, ones, 0.1, 0.1, ones, ones, place)
    q = np.ones(2)
    q.flags.writeable = False                 # production.quality returns a shared read-only q
    wage = np.ones(2)
    wage.flags.writeable = False              # the place wages are read-only
    cap, owe, need, _, _ = capital_pass(alive, place, weight, ones, ones, ones, ones, ones, ones,
                                        ones, q, ones, 0.0, 0.1, 1.0, 0.1, 1)
    investment_pass(cap, owe, need, ones, ones, place)
    investment_exponent(ones, ones, 1.0, 50.0)
    pay_down(np.ones((2, 2)), ones)
    kappa = np.ones(2)
    kappa.flags.writeable = False             # the model shares firm totals read-only
    quality_base_of(kappa, 1.0)
    quality_base_rows(np.ones((2, 2)), place, 1.0)
    refresh_row_sums(kappa, np.ones((2, 2)), place)
    exit_pass(alive, ones, place, 3.0, place, ones, 1)
    exit_settle(place, weight, np.ones(2), np.ones(2), np.ones(2), np.zeros(2, np.int64),
                np.ones(2, np.bool_), place, place, ones, np.ones(2), 1)
    found_firms(place, place, 0, np.ones((2, 2)), np.ones(2, np.bool_), np.zeros(2, np.int64),
                np.zeros(2, np.int64), np.ones(2), np.ones((2, 2)), np.ones(2), np.ones(2),
                np.ones(2), np.zeros(2, np.int64), np.zeros(2, np.int64))
    entry_rates(place, np.ones((2, 2)), 0.1)
    entrant_fields(np.ones((2, 2)), place, ones)
    founding_grants(place, ones, ones, wage, ones, 3.0, 0.1, 1)
    shocked_log_productivity(ones, ones, ones, 0.1, 0.1)
    at_least(ones, 1e-300)
    firm_wage(ones, place, place, ones)
    target_talent_base(0.5, ones, ones, ones, alive)
    target_talent_base(0.5, ones, q, ones, alive)
    power_bases(ones)
    for w in (wage, ones):
        target_talent_base_at(0.5, ones, q, w, place, place, ones, alive)
        target_talent_base_rows(0.5, ones, ones, w, place, place, ones, place)
    rows, _ = changed_slots(ones, alive, ones, alive)
    patched(ones, rows, ones, alive)
    keep_dead(alive, np.ones(2), ones)
    zero_dead(alive, np.ones(2))
