"""Compiled kernels of the technology search (:mod:`.technology`).

A month's search is a few thousand searchers, each drawing and weighing a handful of candidates.
As numpy code every stage is a chain of small operations (masks, gathers, scatters) over arrays of
a few thousand values, each costing a few microseconds whatever its size; here each stage is one
loop over the searchers doing the same arithmetic, in the same order and on the same operands, as
the numpy code it replaces. Results are therefore bit for bit those of that code
(``tests/test_search_kernels.py`` checks every kernel against it, compiled and interpreted).

* :func:`search_start`: the month's searchers, and the within-place sampler of partner firms
  (the earlier ``searchers_and_weights`` followed by ``kernels.segment_sampler_arrays``), in one call;
  the counting sort by place follows runs of equal places (firm slots are mostly sorted by place)
  so that consecutive firms of a place do not wait for each other's counter in memory.
* :func:`draw_candidates`: one candidate per searcher — a place from its row of place
  probabilities (``draw_from_rows``), then a partner inside it from the firm or the institute
  sampler (``SegmentSampler.draw``) — without splitting the searchers by kind.
* :func:`offer_validity` and :func:`weigh_offers`: the transaction cost of each candidate, its
  knowledge gain and net gain, and whether it replaces the best so far
  (the earlier ``evaluate_candidates`` and ``keep_best``), without an (n, F) array of gains.
* :func:`search_rounds`: a search's candidate rounds in one call — per round the draws, the
  validity, the mechanisms' subsidy quotes (:func:`quoted_subsidy`) and the weighing
  (:func:`weigh_candidates`), so that the rounds cost one dispatch instead of a chain of calls,
  with the samplers' guide tables and the place pairs' transaction costs made once.
* :func:`agreement_setup` and :func:`partner_deals`: joint R&D partners' gains and agreement
  (after numpy's ``einsum`` dot products, kept as they are).
* :func:`ration_services`: institutes' capacity rationing of the agreed service deals;
  :func:`agree_deals` runs it after :func:`partner_deals` in one call.
* :func:`settle_deals`: gains, payments and the month's records; :func:`settle_and_record` also
  writes the records to the flow book.

A kernel call costs more inside the model than on warm arguments (its dispatch, and each array
it returns: numba boxes a returned array through a Python callback), so the search's steps are
grouped into few calls that return few arrays.

Divisions are guarded explicitly, so interpreted runs (``NUMBA_DISABLE_JIT=1``) take the same
branches as compiled ones.
"""

from __future__ import annotations

import math

import numpy as np

from .flows import add_records
from .kernels import (
    apply_deals,
    deal_records,
    ieee_div,
    jit,
    pairwise_sum,
    place_segments,
    register_warm_up,
    segment_position,
    segment_sampler_arrays,
    segment_totals,
    store_normalised,
)
from .sampling import cumulative_rows


@jit
def search_start(alive: np.ndarray, capital: np.ndarray, u: np.ndarray, probability: float,
                 weight: np.ndarray, kappa: np.ndarray, place: np.ndarray, n_places: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                            np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The month's searchers and the arrays of the within-place sampler of partner firms.

    The same values as ``searcher, w = searchers_and_weights(alive, capital, u, probability,
    weight, k)`` (an earlier kernel, kept in ``tests/reference_kernels.py``) followed by
    ``kernels.segment_sampler_arrays(place, w, n_places)``, given the firms' knowledge totals
    ``kappa`` (``kernels.row_sums(k)``, which the model keeps: no pass over ``k`` here).

    Parameters
    ----------
    alive, capital, u : numpy.ndarray
        Per firm slot: live; capital; uniform draw deciding whether it searches.
    probability : float
        Search probability.
    weight : numpy.ndarray
        Real firms per slot.
    kappa : numpy.ndarray
        Total knowledge per slot, ``Σ_f k_if`` added left to right (``kernels.row_sums``).
    place : numpy.ndarray
        Place of each slot's unit (where partners are drawn), each in ``[0, n_places)``.
    n_places : int
        Number of places.

    Returns
    -------
    searcher : numpy.ndarray
        Live slots with positive capital whose draw ``u`` is below ``probability``, ascending.
    order, cum, prev, nxt, start, end, base, total : numpy.ndarray
        The sampler arrays of the partner weights ``weight_i · Σ_f k_if`` of live slots (0 for
        others), as :func:`kernels.segment_sampler_arrays` returns them.
    """
    n = kappa.shape[0]
    searcher = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        if alive[i] and capital[i] > 0.0 and u[i] < probability:
            searcher[m] = i
            m += 1
    order, start, end = place_segments(place, n_places)
    # partner weights in sorted order, the cumulative sums left to right and the nearest
    # positive-weight position at or before each position
    cum = np.empty(n)
    prev = np.empty(n, np.int64)
    total_w = 0.0
    last = -1
    for i in range(n):
        j = order[i]
        if alive[j]:
            w = weight[j] * kappa[j]
        else:
            w = 0.0
        total_w += w
        cum[i] = total_w
        last = i if w > 0.0 else last
        prev[i] = last
    # the nearest positive-weight position at or after each (n: none), from the back: position
    # i has a positive weight exactly where prev[i] == i
    nxt = np.empty(n, np.int64)
    ahead = n
    for i in range(n - 1, -1, -1):
        ahead = i if prev[i] == i else ahead
        nxt[i] = ahead
    base, total = segment_totals(cum, start, end)
    return searcher[:m].copy(), order, cum, prev, nxt, start, end, base, total


@jit
def _normalised_scaled_into(mat: np.ndarray, scale: np.ndarray, out: np.ndarray,
                            row0: int) -> None:
    """``out[row0 + i] = normalise_rows(mat * scale[None, :])[i]`` (each row's sum pairwise)."""
    r, p = mat.shape
    prod = np.empty(p)
    for i in range(r):
        for j in range(p):
            prod[j] = mat[i, j] * scale[j]
        store_normalised(prod, out, row0 + i)


@jit
def search_setup(searcher: np.ndarray, u_collab: np.ndarray, collab_share: float,
                 unit_place: np.ndarray, home_place: np.ndarray, inst_place: np.ndarray,
                 inst_weight: np.ndarray, capacity: np.ndarray, inst_k: np.ndarray,
                 phi: np.ndarray, firm_total: np.ndarray, nf: int, collab_price: float,
                 service_price: float, knowledge: np.ndarray, half: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                            tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                  np.ndarray, np.ndarray, np.ndarray],
                            np.ndarray, np.ndarray,
                            tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                  np.ndarray, np.ndarray],
                            tuple[np.ndarray, np.ndarray]]:
    """The rest of :func:`technology._start` after the searchers are known, in one call.

    Parameters
    ----------
    searcher : numpy.ndarray
        The month's searchers (firm slots).
    u_collab : numpy.ndarray
        A uniform per searcher: it looks for a joint R&D partner where ``u < collab_share``.
    collab_share : float
        ``collaboration_share``.
    unit_place, home_place : numpy.ndarray
        Unit and home place per firm slot.
    inst_place, inst_weight, capacity, inst_k : numpy.ndarray
        Institutes' place, real institutes per agent, capacity and knowledge.
    phi : numpy.ndarray
        Technology friction (P, P).
    firm_total : numpy.ndarray
        Partner firms' total weight per place (the firm sampler's place totals).
    nf : int
        Number of knowledge fields.
    collab_price, service_price : float
        List prices of a joint R&D deal and of a service.
    knowledge : numpy.ndarray
        Firms' knowledge (slots × fields).
    half : float
        ``absorptive_half``.

    Returns
    -------
    collab, origin, home, row, price : numpy.ndarray
        Per searcher: looks for a firm; unit place; home place; its row of ``prob``
        (``origin`` for a joint R&D searcher, ``P + origin`` otherwise); the list price of the
        deal it looks for (``numpy.where(collab, collab_price, service_price)``).
    inst_arrays : tuple of numpy.ndarray
        The institute sampler of weights ``(inst_weight · capacity) · Σ_f k_f``
        (:func:`kernels.segment_sampler_arrays`).
    prob, cum : numpy.ndarray
        (2P, P): ``normalise_rows(phi * firm_total[None, :])`` over
        ``normalise_rows(phi * inst_total[None, :])``, and their running sums
        (:func:`sampling.cumulative_rows`).
    best : tuple of numpy.ndarray
        The empty best candidates of a :class:`~coinnovation_sim.technology.Search`: net gain,
        place, partner, gain (n, nf), transaction cost, subsidy, net gain without subsidy.
    receivers : tuple of numpy.ndarray
        The searchers' knowledge and absorptive capacities,
        :func:`receiver_knowledge` ``(searcher, knowledge, half)``.
    """
    ns = searcher.shape[0]
    p = phi.shape[0]
    collab = np.empty(ns, np.bool_)
    origin = np.empty(ns, np.int64)
    home = np.empty(ns, np.int64)
    row = np.empty(ns, np.int64)
    price = np.empty(ns)
    for i in range(ns):
        s = searcher[i]
        c = u_collab[i] < collab_share
        o = unit_place[s]
        collab[i] = c
        origin[i] = o
        home[i] = home_place[s]
        row[i] = o if c else o + p
        price[i] = collab_price if c else service_price
    ni, nfi = inst_k.shape
    inst_w = np.empty(ni)
    for j in range(ni):
        kappa = 0.0
        for f in range(nfi):
            kappa += inst_k[j, f]
        inst_w[j] = (inst_weight[j] * capacity[j]) * kappa
    inst_arrays = segment_sampler_arrays(inst_place, inst_w, p)
    prob = np.empty((2 * p, p))
    _normalised_scaled_into(phi, firm_total, prob, 0)
    _normalised_scaled_into(phi, inst_arrays[7], prob, p)
    cum = np.empty((2 * p, p))
    for r in range(2 * p):
        acc = 0.0
        for j in range(p):
            acc += prob[r, j]
            cum[r, j] = acc
    best = (np.zeros(ns), np.full(ns, -1, np.int64), np.full(ns, -1, np.int64),
            np.zeros((ns, nf)), np.zeros(ns), np.zeros(ns), np.zeros(ns))
    return (collab, origin, home, row, price, inst_arrays, prob, cum, best,
            receiver_knowledge(searcher, knowledge, half))


@jit
def _segment_guide(cum: np.ndarray, start: np.ndarray, end: np.ndarray, base: np.ndarray,
                   total: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A guide table narrowing each within-place search to a bucket of the segment.

    For a place ``p`` with segment ``[s, e)`` of ``L`` entities, a positive finite total ``T``
    and cumulative weights non-decreasing along the segment: bucket bounds
    ``t_k = base_p + T · (k / L)`` (``k < L``, stored at ``s + k``) and ``g_k`` the first
    position of the segment whose cumulative weight exceeds ``t_k`` (``g_L = e``; stored at
    ``s + p + k``). For ``t_k ≤ x < t_{k+1}`` the first position whose cumulative weight exceeds
    ``x`` lies in ``[g_k, g_{k+1}]``, so a search there finds the position the search over the
    whole segment finds. Other places are not guided (``guided[p]`` false).

    Returns
    -------
    t, g : numpy.ndarray
        Bucket bounds and first positions, as above.
    guided : numpy.ndarray
        Per place: has a guide.
    """
    m = cum.shape[0]
    n_places = start.shape[0]
    t = np.empty(m)
    g = np.empty(m + n_places, np.int64)
    guided = np.zeros(n_places, np.bool_)
    for p in range(n_places):
        s0 = start[p]
        e0 = end[p]
        size = e0 - s0
        tot = total[p]
        if size <= 0 or not (tot > 0.0 and tot < math.inf):
            continue
        ok = cum[s0] < math.inf
        for q in range(s0 + 1, e0):
            if not cum[q] >= cum[q - 1]:      # also false for NaN
                ok = False
                break
        if not ok or not cum[e0 - 1] < math.inf:
            continue
        guided[p] = True
        b = base[p]
        pos = s0
        for k in range(size):
            tk = b + tot * (k / size)
            t[s0 + k] = tk
            while pos < e0 and cum[pos] <= tk:
                pos += 1
            g[s0 + p + k] = pos
        g[s0 + p + size] = e0
    return t, g, guided


@jit
def _draw_guide(cum: np.ndarray, order: np.ndarray, start: np.ndarray, end: np.ndarray,
                base: np.ndarray, total: np.ndarray, collab: np.ndarray, want: bool,
                row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The guide table :func:`_guided_draws` searches a sampler through (none: all unguided).

    A sampler with no more entities than the searchers drawing from it (``collab == want``,
    ``row >= 0``) gets a guide (:func:`_segment_guide`): a bucket of a few entities instead of
    about log2(segment) steps, most of them mispredicted branches; the position found is the
    same either way.
    """
    n = row.shape[0]
    m = order.shape[0]
    draws = 0
    for i in range(n):
        if row[i] >= 0 and collab[i] == want:
            draws += 1
    if 0 < m <= draws:
        return _segment_guide(cum, start, end, base, total)
    return np.empty(0), np.empty(0, np.int64), np.zeros(start.shape[0], np.bool_)


#: Levels of a place's binary search whose probes :func:`_probe_tree` keeps.
_TREE_LEVELS = 7


@jit
def _probe_tree(cum: np.ndarray, start: np.ndarray, end: np.ndarray,
                guided: np.ndarray) -> np.ndarray:
    """The first probes of each unguided place's binary search, in a small array.

    The search of :func:`kernels.segment_position` over a place's whole segment
    ``[start, end)`` probes ``cum[(lo + hi) // 2]``, going left (``hi = mid``) where that
    exceeds the target, else right (``lo = mid + 1``): its first :data:`_TREE_LEVELS` probes
    lie on a binary tree that depends only on the segment. Row ``p`` holds those probes'
    values in heap order (node ``k``'s children ``2k`` left and ``2k + 1`` right, root 1), so
    that the searches of a place read them from one compact row instead of from a few cache
    lines of ``cum`` each; the probes, comparisons and positions are the same.
    """
    n_places = start.shape[0]
    size = 1 << _TREE_LEVELS
    tree = np.zeros((n_places, size))
    lo_k = np.empty(size, np.int64)
    hi_k = np.empty(size, np.int64)
    for p in range(n_places):
        if guided.shape[0] == n_places and guided[p]:
            continue
        lo_k[1] = start[p]
        hi_k[1] = end[p]
        for k in range(1, size):
            lo = lo_k[k]
            hi = hi_k[k]
            if lo < hi:
                mid = (lo + hi) // 2
                tree[p, k] = cum[mid]
            else:
                mid = lo
            if 2 * k < size:
                lo_k[2 * k] = lo
                hi_k[2 * k] = mid if lo < hi else hi
                lo_k[2 * k + 1] = mid + 1 if lo < hi else lo
                hi_k[2 * k + 1] = hi
    return tree


@jit
def _guided_draws(cum: np.ndarray, order: np.ndarray, prev: np.ndarray, nxt: np.ndarray,
                  start: np.ndarray, end: np.ndarray, base: np.ndarray, total: np.ndarray,
                  t: np.ndarray, g: np.ndarray, guided: np.ndarray, dest: np.ndarray,
                  u: np.ndarray, collab: np.ndarray, want: bool, row: np.ndarray,
                  idx: np.ndarray, tree: np.ndarray) -> None:
    """:func:`_segment_draws` given the sampler's guide table (:func:`_draw_guide`).

    ``tree``: the first probes of the unguided places' searches (:func:`_probe_tree`), or
    shape (0, 0) for none; the position found is the same either way.
    """
    n = dest.shape[0]
    m = order.shape[0]
    has_tree = tree.shape[0] == start.shape[0]
    for i in range(n):
        if row[i] < 0 or collab[i] != want:
            continue
        p = dest[i]
        if p < 0 or m == 0 or not total[p] > 0.0:
            idx[i] = -1
            continue
        x = base[p] + u[i] * total[p]
        lo = start[p]
        hi = end[p]
        if guided[p]:
            size = hi - lo
            fk = (x - base[p]) / total[p] * size
            k = int(fk) if fk < size else size - 1
            if k < 0:
                k = 0
            while k > 0 and t[lo + k] > x:
                k -= 1
            while k + 1 < size and t[lo + k + 1] <= x:
                k += 1
            hi = g[lo + p + k + 1]
            lo = g[lo + p + k]
        elif has_tree:
            k = 1
            for _ in range(_TREE_LEVELS):
                if lo >= hi:
                    break
                mid = (lo + hi) // 2
                if tree[p, k] > x:
                    hi = mid
                    k = 2 * k
                else:
                    lo = mid + 1
                    k = 2 * k + 1
        idx[i] = order[segment_position(cum, prev, nxt, start[p], end[p], lo, hi, x)]


@jit
def _segment_draws(cum: np.ndarray, order: np.ndarray, prev: np.ndarray, nxt: np.ndarray,
                   start: np.ndarray, end: np.ndarray, base: np.ndarray, total: np.ndarray,
                   dest: np.ndarray, u: np.ndarray, collab: np.ndarray, want: bool,
                   row: np.ndarray, idx: np.ndarray) -> None:
    """``kernels.segment_draw`` for the searchers with ``collab == want`` and ``row >= 0``.

    Writes the entity drawn in place ``dest[i]`` with ``u[i]`` (-1: none) to ``idx[i]``. One
    call per sampler, the loop inside: a call per draw would pass eight arrays each time. A
    sampler with no more entities than draws is searched through a guide table
    (:func:`_draw_guide`); the position found is the same.
    """
    t, g, guided = _draw_guide(cum, order, start, end, base, total, collab, want, row)
    _guided_draws(cum, order, prev, nxt, start, end, base, total, t, g, guided, dest, u, collab,
                  want, row, idx, np.zeros((0, 0)))


@jit
def _place_draws(cum: np.ndarray, row: np.ndarray, u_place: np.ndarray, dest: np.ndarray,
                 idx: np.ndarray) -> None:
    """Each searcher's candidate place (``dest``; -1 and ``idx`` -1 where ``row`` is -1).

    ``kernels.draw_rows`` on row ``row[i]`` of the running sums ``cum``: the number of running
    sums at most ``u_place[i]`` times the row total (capped at the last column); -1 for a row
    summing to zero.
    """
    n = row.shape[0]
    p = cum.shape[1]
    for i in range(n):
        r = row[i]
        if r < 0:
            dest[i] = -1
            idx[i] = -1
            continue
        tot = cum[r, p - 1] if p > 0 else 0.0
        if not tot > 0.0:
            dest[i] = -1
            continue
        x = u_place[i] * tot
        c = 0
        for j in range(p):
            if x >= cum[r, j]:
                c += 1
        dest[i] = c if c < p - 1 else p - 1


@jit
def draw_candidates(cum: np.ndarray, row: np.ndarray, collab: np.ndarray, u_place: np.ndarray,
                    u_partner: np.ndarray,
                    f_cum: np.ndarray, f_order: np.ndarray, f_prev: np.ndarray,
                    f_nxt: np.ndarray, f_start: np.ndarray, f_end: np.ndarray,
                    f_base: np.ndarray, f_total: np.ndarray,
                    i_cum: np.ndarray, i_order: np.ndarray, i_prev: np.ndarray,
                    i_nxt: np.ndarray, i_start: np.ndarray, i_end: np.ndarray,
                    i_base: np.ndarray, i_total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One candidate per searcher: a place, then a partner firm or institute inside it.

    Searcher ``i`` draws the place ``draw_from_rows(prob[row_i], u_place_i)`` (none where
    ``row_i`` is -1) from the running sums ``cum`` of the rows of ``prob``, then a partner in it
    from the firm sampler (``collab_i``) or the institute sampler with ``u_partner_i``, as
    ``SegmentSampler.draw`` does: the result of :meth:`technology.Search.draw` on the
    searchers' rows.

    Parameters
    ----------
    cum : numpy.ndarray
        Running sums of rows of place probabilities, (R, P) (:func:`sampling.cumulative_rows`).
    row : numpy.ndarray
        Row of ``cum`` per searcher (n,), -1: no candidate.
    collab : numpy.ndarray
        Per searcher: looks for a firm partner, else an institute.
    u_place, u_partner : numpy.ndarray
        Uniform draws per searcher for the place and the partner.
    f_cum, f_order, f_prev, f_nxt, f_start, f_end, f_base, f_total : numpy.ndarray
        The firm sampler's arrays (:class:`~coinnovation_sim.sampling.SegmentSampler`).
    i_cum, i_order, i_prev, i_nxt, i_start, i_end, i_base, i_total : numpy.ndarray
        The institute sampler's arrays.

    Returns
    -------
    dest, idx : numpy.ndarray
        Candidate place and partner per searcher (-1: none).
    """
    n = row.shape[0]
    dest = np.empty(n, np.int64)
    idx = np.empty(n, np.int64)
    _place_draws(cum, row, u_place, dest, idx)
    _segment_draws(f_cum, f_order, f_prev, f_nxt, f_start, f_end, f_base, f_total, dest,
                   u_partner, collab, True, row, idx)
    _segment_draws(i_cum, i_order, i_prev, i_nxt, i_start, i_end, i_base, i_total, dest,
                   u_partner, collab, False, row, idx)
    return dest, idx


@jit
def receiver_knowledge(searcher: np.ndarray, knowledge: np.ndarray, half: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Searchers' knowledge and absorptive capacity (:func:`technology.receiver_terms`).

    Returns
    -------
    rcv_k : numpy.ndarray
        ``knowledge[searcher]`` (a C-contiguous copy, as numpy's fancy indexing makes it).
    cap : numpy.ndarray
        ``κ / (κ + half)`` with ``κ`` each row's sum added left to right.
    """
    n = searcher.shape[0]
    nf = knowledge.shape[1]
    rcv_k = np.empty((n, nf))
    cap = np.empty(n)
    for i in range(n):
        b = searcher[i]
        stock = 0.0
        for f in range(nf):
            x = knowledge[b, f]
            rcv_k[i, f] = x
            stock += x
        cap[i] = ieee_div(stock, stock + half)
    return rcv_k, cap


@jit
def offer_validity(collab: np.ndarray, idx: np.ndarray, searcher: np.ndarray,
                   active: np.ndarray) -> np.ndarray:
    """Searchers whose candidate counts: one drawn (``idx >= 0``), active, not the searcher itself.

    ``active`` of length 0 means every searcher (as the earlier ``evaluate_candidates`` decided).
    """
    n = idx.shape[0]
    every = active.shape[0] != n
    valid = np.zeros(n, np.bool_)
    for i in range(n):
        j = idx[i]
        valid[i] = j >= 0 and (every or active[i]) and not (collab[i] and j == searcher[i])
    return valid


@jit
def transaction_costs(cost: float, multiplier: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Transaction cost of a deal per (origin, destination) place pair: ``(c · m) / φ``.

    The division a candidate's weighing made per searcher, made once per place pair (the same
    operands, so the same bits; IEEE's result where ``φ`` is 0).
    """
    p = phi.shape[0]
    out = np.empty((p, p))
    for o in range(p):
        for d in range(p):
            out[o, d] = ieee_div(cost * multiplier[o, d], phi[o, d])
    return out


@jit
def weigh_offers(valid: np.ndarray, collab: np.ndarray, idx: np.ndarray, dest: np.ndarray,
                 origin: np.ndarray, firm_k: np.ndarray, inst_k: np.ndarray, rcv_k: np.ndarray,
                 rcv_sq: np.ndarray, rcv_cap: np.ndarray, learning_rate: float,
                 value_per_unit: float, price: np.ndarray, tc_pairs: np.ndarray, eps: float,
                 subsidy: np.ndarray, best_net: np.ndarray, best_dest: np.ndarray,
                 best_idx: np.ndarray, best_gain: np.ndarray, best_tc: np.ndarray,
                 best_subsidy: np.ndarray, best_plain: np.ndarray) -> None:
    """Weigh one candidate per searcher and keep it where it beats the best so far.

    The arithmetic of :func:`technology.consider` (the earlier ``evaluate_candidates`` then
    ``keep_best``, kept in ``tests/reference_kernels.py``) for the ``valid`` candidates
    (:func:`offer_validity`): the transaction cost ``(c · m[o, d]) / φ[o, d]`` (``tc_pairs``,
    :func:`transaction_costs`); the gain per
    field ``λ A_r e(δ) max(0, k_s − k_r)`` with ``δ = 1 − cos(k_s, k_r)`` (cosine 0 when
    ``√(|k_s|² |k_r|²) ≤ eps``, sums left to right) and ``e(δ) = 4δ(1 − δ)``, ``δ`` clipped to
    [0, 1]; the net gain ``v Σ_f gain_f − price − tc`` plus the subsidy. A candidate whose net
    gain exceeds ``best_net`` replaces the best
    (gain, place, partner, cost, subsidy and net gain without the subsidy).

    Parameters
    ----------
    valid, collab, idx, dest, origin : numpy.ndarray
        Per searcher: candidate counts; looks for a firm partner; candidate partner and place;
        unit place.
    firm_k, inst_k : numpy.ndarray
        Knowledge of firms and institutes.
    rcv_k, rcv_sq, rcv_cap : numpy.ndarray
        Searchers' knowledge, its squared norm and absorptive capacity.
    learning_rate, value_per_unit : float
        ``learning_rate`` and ``knowledge_value_wan``.
    price : numpy.ndarray
        List price per searcher.
    tc_pairs : numpy.ndarray
        Transaction cost per (origin, destination) place pair, (P, P)
        (:func:`transaction_costs`).
    eps : float
        Cosine threshold.
    subsidy : numpy.ndarray
        Subsidy per searcher, or length 0 for none (the net gain is then the plain one: adding
        zero changes only −0, which never exceeds a best net gain, all ≥ 0).
    best_net, best_dest, best_idx, best_gain, best_tc, best_subsidy, best_plain : numpy.ndarray
        The search's best candidates, updated in place.
    """
    n, nf = rcv_k.shape
    has_subsidy = subsidy.shape[0] == n
    g = np.empty(nf)
    for i in range(n):
        if not valid[i]:
            continue
        j = idx[i]
        o = origin[i]
        d = dest[i] if dest[i] >= 0 else 0
        tc = tc_pairs[o, d]
        src = firm_k if collab[i] else inst_k
        num = 0.0
        sq = 0.0
        for f in range(nf):
            x = src[j, f]
            num += x * rcv_k[i, f]
            sq += x * x
        den = math.sqrt(sq * rcv_sq[i])
        c = num / den if den > eps else 0.0
        dist = 1.0 - c
        if dist < 0.0:
            dist = 0.0
        elif dist > 1.0:
            dist = 1.0
        scale = (learning_rate * rcv_cap[i]) * ((4.0 * dist) * (1.0 - dist))
        total = 0.0
        for f in range(nf):
            gap = src[j, f] - rcv_k[i, f]
            gf = scale * (gap if gap > 0.0 else 0.0)
            g[f] = gf
            total += gf
        plain = value_per_unit * total - price[i] - tc
        sub = subsidy[i] if has_subsidy else 0.0
        net = plain + sub if has_subsidy else plain
        if net > best_net[i]:
            best_net[i] = net
            best_dest[i] = dest[i]
            best_idx[i] = j
            for f in range(nf):
                best_gain[i, f] = g[f]
            best_tc[i] = tc
            best_subsidy[i] = sub
            best_plain[i] = plain


@jit
def quoted_subsidy(valid: np.ndarray, dest: np.ndarray, home: np.ndarray, amount: np.ndarray,
                   pairs: np.ndarray) -> np.ndarray:
    """The subsidies quoted to the searchers' candidates, summed over the quoting mechanisms.

    Mechanism ``m`` quotes ``amount[m, i]`` for searcher ``i``'s candidate where it is valid,
    drawn (``dest >= 0``) and ``pairs[m, home_i, dest_i]``, else 0. The quotes are added to zeros
    in mechanism order, as :func:`technology.consider` added the mechanisms' quotes
    (``(zeros + q_0) + q_1 …``).

    Parameters
    ----------
    valid, dest, home : numpy.ndarray
        Per searcher (n,): candidate valid; candidate place (-1: none); home place.
    amount : numpy.ndarray
        Quote per mechanism and searcher, (M, n), M >= 1.
    pairs : numpy.ndarray
        (home, destination) place pairs each mechanism quotes at, (M, P, P), bool.

    Returns
    -------
    numpy.ndarray
        Shape (n,).
    """
    n = dest.shape[0]
    out = np.zeros(n)
    for m in range(amount.shape[0]):
        for i in range(n):
            d = dest[i]
            q = amount[m, i] if valid[i] and d >= 0 and pairs[m, home[i], d] else 0.0
            out[i] = out[i] + q
    return out


@jit
def _weigh_round(dest: np.ndarray, idx: np.ndarray, active: np.ndarray, collab: np.ndarray,
                 searcher: np.ndarray, origin: np.ndarray, home: np.ndarray, firm_k: np.ndarray,
                 inst_k: np.ndarray, rcv_k: np.ndarray, rcv_sq: np.ndarray, rcv_cap: np.ndarray,
                 learning_rate: float, value_per_unit: float, price: np.ndarray,
                 tc_pairs: np.ndarray, eps: float, q_amount: np.ndarray, q_pairs: np.ndarray,
                 best_net: np.ndarray, best_dest: np.ndarray, best_idx: np.ndarray,
                 best_gain: np.ndarray, best_tc: np.ndarray, best_subsidy: np.ndarray,
                 best_plain: np.ndarray) -> None:
    """:func:`weigh_candidates` given the place pairs' transaction costs (:func:`transaction_costs`)."""
    valid = offer_validity(collab, idx, searcher, active)
    if q_amount.shape[0] > 0:
        subsidy = quoted_subsidy(valid, dest, home, q_amount, q_pairs)
    else:
        subsidy = np.zeros(0)
    weigh_offers(valid, collab, idx, dest, origin, firm_k, inst_k, rcv_k, rcv_sq, rcv_cap,
                 learning_rate, value_per_unit, price, tc_pairs, eps, subsidy, best_net,
                 best_dest, best_idx, best_gain, best_tc, best_subsidy, best_plain)


@jit
def weigh_candidates(dest: np.ndarray, idx: np.ndarray, active: np.ndarray, collab: np.ndarray,
                     searcher: np.ndarray, origin: np.ndarray, home: np.ndarray,
                     firm_k: np.ndarray, inst_k: np.ndarray, rcv_k: np.ndarray,
                     rcv_sq: np.ndarray, rcv_cap: np.ndarray, learning_rate: float,
                     value_per_unit: float, price: np.ndarray, cost: float,
                     multiplier: np.ndarray, phi: np.ndarray, eps: float, q_amount: np.ndarray,
                     q_pairs: np.ndarray, best_net: np.ndarray, best_dest: np.ndarray,
                     best_idx: np.ndarray, best_gain: np.ndarray, best_tc: np.ndarray,
                     best_subsidy: np.ndarray, best_plain: np.ndarray) -> None:
    """:func:`offer_validity`, the quoted subsidies and :func:`weigh_offers` in one call.

    ``q_amount`` and ``q_pairs`` are the quotes of :func:`quoted_subsidy` (M = 0: no
    mechanism quotes, no subsidy array); ``cost``, ``multiplier`` and ``phi`` give the
    transaction costs (:func:`transaction_costs`). The other arguments are those of
    :func:`offer_validity` and :func:`weigh_offers`; updates the best candidates in place.
    """
    _weigh_round(dest, idx, active, collab, searcher, origin, home, firm_k, inst_k, rcv_k, rcv_sq,
                 rcv_cap, learning_rate, value_per_unit, price,
                 transaction_costs(cost, multiplier, phi), eps, q_amount, q_pairs, best_net,
                 best_dest, best_idx, best_gain, best_tc, best_subsidy, best_plain)


@jit
def search_rounds(cum: np.ndarray, row: np.ndarray, u: np.ndarray, fixed_dest: np.ndarray,
                  u_fixed: np.ndarray,
                  firm_sampler: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                      np.ndarray, np.ndarray, np.ndarray],
                  inst_sampler: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                      np.ndarray, np.ndarray, np.ndarray],
                  active: np.ndarray, collab: np.ndarray, searcher: np.ndarray,
                  origin: np.ndarray, home: np.ndarray, firm_k: np.ndarray, inst_k: np.ndarray,
                  rcv_k: np.ndarray, rcv_sq: np.ndarray, rcv_cap: np.ndarray,
                  learning_rate: float, value_per_unit: float, price: np.ndarray, cost: float,
                  multiplier: np.ndarray, phi: np.ndarray, eps: float, q_amount: np.ndarray,
                  q_pairs: np.ndarray, best_net: np.ndarray, best_dest: np.ndarray,
                  best_idx: np.ndarray, best_gain: np.ndarray, best_tc: np.ndarray,
                  best_subsidy: np.ndarray, best_plain: np.ndarray) -> None:
    """A search's candidate rounds in one call: :func:`draw_candidates`, then weighing, per round.

    The weighing is :func:`weigh_candidates`'. Round ``r`` draws with the uniforms ``u[r, 0]``
    (places) and ``u[r, 1]`` (partners), shape (R, 2, n). With ``fixed_dest`` of length n, a
    first round before them weighs the candidates at the given places ``fixed_dest`` (-1: none),
    each searcher's partner there drawn with ``u_fixed`` from the firm sampler (``collab``) or
    the institute sampler (``SegmentSampler.draw``): ``consider(model, s, fixed_dest,
    sampler.draw(fixed_dest, u_fixed))``; length 0: no such round. ``firm_sampler`` and
    ``inst_sampler`` are the samplers' arrays in ``SegmentSampler.arrays()`` order; the other
    arguments are those of the two kernels. What does not change between rounds is made once:
    the samplers' guide tables
    (:func:`_draw_guide`), the firm sampler's first search probes per place
    (:func:`_probe_tree`, only when a searcher draws a firm) and the place pairs' transaction
    costs (:func:`transaction_costs`).
    """
    fc, fo, fp, fn, fs, fe, fb, ft = firm_sampler
    ic, io, ip, i_n, i_s, ie, ib, it = inst_sampler
    n = row.shape[0]
    tc_pairs = transaction_costs(cost, multiplier, phi)
    f_t, f_g, f_guided = _draw_guide(fc, fo, fs, fe, fb, ft, collab, True, row)
    i_t, i_g, i_guided = _draw_guide(ic, io, i_s, ie, ib, it, collab, False, row)
    fixed = fixed_dest.shape[0] == n
    firm_draws = False
    for i in range(n):
        if collab[i] and (fixed or row[i] >= 0):
            firm_draws = True
            break
    f_tree = _probe_tree(fc, fs, fe, f_guided) if firm_draws else np.zeros((0, 0))
    dest = np.empty(n, np.int64)
    idx = np.empty(n, np.int64)
    if fixed:
        every = np.zeros(n, np.int64)            # every searcher draws a partner
        for i in range(n):
            dest[i] = fixed_dest[i]
            idx[i] = -1
        _guided_draws(fc, fo, fp, fn, fs, fe, fb, ft, f_t, f_g, f_guided, dest, u_fixed, collab,
                      True, every, idx, f_tree)
        _guided_draws(ic, io, ip, i_n, i_s, ie, ib, it, i_t, i_g, i_guided, dest, u_fixed, collab,
                      False, every, idx, np.zeros((0, 0)))
        _weigh_round(dest, idx, active, collab, searcher, origin, home, firm_k, inst_k, rcv_k,
                     rcv_sq, rcv_cap, learning_rate, value_per_unit, price, tc_pairs, eps,
                     q_amount, q_pairs, best_net, best_dest, best_idx, best_gain, best_tc,
                     best_subsidy, best_plain)
    for r in range(u.shape[0]):
        # every entry of dest and idx is written again in each round
        _place_draws(cum, row, u[r, 0], dest, idx)
        _guided_draws(fc, fo, fp, fn, fs, fe, fb, ft, f_t, f_g, f_guided, dest, u[r, 1], collab,
                      True, row, idx, f_tree)
        _guided_draws(ic, io, ip, i_n, i_s, ie, ib, it, i_t, i_g, i_guided, dest, u[r, 1], collab,
                      False, row, idx, np.zeros((0, 0)))
        _weigh_round(dest, idx, active, collab, searcher, origin, home, firm_k, inst_k, rcv_k,
                     rcv_sq, rcv_cap, learning_rate, value_per_unit, price, tc_pairs, eps,
                     q_amount, q_pairs, best_net, best_dest, best_idx, best_gain, best_tc,
                     best_subsidy, best_plain)


@jit
def ration_services(deal: np.ndarray, collab: np.ndarray, idx: np.ndarray, searcher: np.ndarray,
                    firm_weight: np.ndarray, capacity: np.ndarray, inst_weight: np.ndarray,
                    u: np.ndarray) -> None:
    """Institutes ration the agreed service deals to their capacity (updates ``deal``).

    As :func:`technology.agree` does with numpy: each institute's demand is the real firms of
    its service deals, added in searcher order (``numpy.bincount``); where it exceeds the supply
    ``capacity · inst_weight`` a deal is kept with probability ``supply / demand``
    (``u_i < ratio``); joint R&D deals are not rationed.
    """
    n = deal.shape[0]
    ni = capacity.shape[0]
    demand = np.zeros(ni)
    for i in range(n):
        if deal[i] and not collab[i]:
            demand[idx[i]] += firm_weight[searcher[i]]
    ratio = np.ones(ni)
    for j in range(ni):
        supply = capacity[j] * inst_weight[j]
        if demand[j] > supply:
            ratio[j] = ieee_div(supply, demand[j])
    for i in range(n):
        if not collab[i]:
            j = idx[i] if deal[i] else 0
            deal[i] = deal[i] and u[i] < ratio[j]


@jit
def agreement_setup(best_idx: np.ndarray, collab: np.ndarray, searcher: np.ndarray,
                    knowledge: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                               np.ndarray, int]:
    """The arrays :func:`technology.agree` starts from, in one call.

    Returns
    -------
    deal : numpy.ndarray
        ``best_idx >= 0``.
    partner_gain : numpy.ndarray
        Zeros, (n, F) (``numpy.zeros_like`` of the best gains).
    pairs, partner : numpy.ndarray
        ``numpy.flatnonzero(collab & deal)`` and ``best_idx[pairs]``.
    k_src, k_rcv : numpy.ndarray
        ``knowledge[searcher[pairs]]`` and ``knowledge[partner]`` (C-contiguous copies, as
        numpy's fancy indexing makes them).
    services : int
        Number of service deals, ``(deal & ~collab).sum()``.
    """
    n = best_idx.shape[0]
    nf = knowledge.shape[1]
    deal = np.empty(n, np.bool_)
    m = 0
    services = 0
    for i in range(n):
        deal[i] = best_idx[i] >= 0
        if deal[i]:
            if collab[i]:
                m += 1
            else:
                services += 1
    pairs = np.empty(m, np.int64)
    partner = np.empty(m, np.int64)
    k_src = np.empty((m, nf))
    k_rcv = np.empty((m, nf))
    r = 0
    for i in range(n):
        if collab[i] and deal[i]:
            j = best_idx[i]
            b = searcher[i]
            pairs[r] = i
            partner[r] = j
            for f in range(nf):
                k_src[r, f] = knowledge[b, f]
                k_rcv[r, f] = knowledge[j, f]
            r += 1
    return deal, np.zeros((n, nf)), pairs, partner, k_src, k_rcv, services


@jit
def partner_deals(pairs: np.ndarray, partner: np.ndarray, k_src: np.ndarray, k_rcv: np.ndarray,
                  num: np.ndarray, sq_src: np.ndarray, sq_rcv: np.ndarray, learning_rate: float,
                  half: float, eps: float, value_per_unit: float, price: np.ndarray,
                  tc: np.ndarray, capital: np.ndarray, deal: np.ndarray,
                  partner_gain: np.ndarray) -> None:
    """Joint R&D partners' gains and whether each partner agrees (updates ``deal``, ``partner_gain``).

    For pair ``i`` (searcher position ``pairs[i]``, partner firm ``partner[i]``), the arithmetic
    of :func:`technology._gain` and :func:`technology.agree` given the three ``einsum`` row dot
    products ``num = k_s · k_r``, ``sq_src = k_s · k_s`` and ``sq_rcv = k_r · k_r`` (numpy's, on
    the same arrays): cosine ``num / √(sq_src · sq_rcv)`` (0 when that is ≤ ``eps``),
    ``e(δ) = 4δ(1 − δ)`` with ``δ = 1 − cos`` clipped to [0, 1], absorptive capacity
    ``κ / (κ + half)`` (``κ`` the partner's knowledge added left to right), gain per field
    ``(λ A) e · max(0, k_s − k_r)``; the partner's net gain ``v Σ_f gain_f − price − tc`` (the sum
    in numpy's pairwise order of a row); the deal stands where that is positive and the
    partner's capital too.

    Parameters
    ----------
    pairs, partner : numpy.ndarray
        Searcher position and partner firm slot per pair.
    k_src, k_rcv : numpy.ndarray
        Searchers' and partners' knowledge per pair, (m, F).
    num, sq_src, sq_rcv : numpy.ndarray
        Row dot products per pair (``numpy.einsum("ij,ij->i", …)``).
    learning_rate, half, eps, value_per_unit : float
        ``learning_rate``, ``absorptive_half``, cosine threshold, ``knowledge_value_wan``.
    price, tc : numpy.ndarray
        Per searcher: list price and transaction cost of its best candidate.
    capital : numpy.ndarray
        Firms' capital.
    deal, partner_gain : numpy.ndarray
        Per searcher: the deal goes ahead; the partner's gain (n, F); updated at ``pairs``.
    """
    m, nf = k_src.shape
    g = np.empty(nf)
    for i in range(m):
        den = math.sqrt(sq_src[i] * sq_rcv[i])
        c = num[i] / den if den > eps else 0.0
        dist = 1.0 - c
        if dist < 0.0:
            dist = 0.0
        elif dist > 1.0:
            dist = 1.0
        eff = (4.0 * dist) * (1.0 - dist)
        stock = 0.0
        for f in range(nf):
            stock += k_rcv[i, f]
        cap = ieee_div(stock, stock + half)
        scale = (learning_rate * cap) * eff
        for f in range(nf):
            gap = k_src[i, f] - k_rcv[i, f]
            g[f] = scale * (gap if (gap > 0.0 or gap != gap) else 0.0)
        r = pairs[i]
        net = value_per_unit * (0.0 + pairwise_sum(g, 0, nf)) - price[r] - tc[r]
        deal[r] = net > 0.0 and capital[partner[i]] > 0.0
        for f in range(nf):
            partner_gain[r, f] = g[f]


@jit
def agree_deals(pairs: np.ndarray, partner: np.ndarray, k_src: np.ndarray, k_rcv: np.ndarray,
                num: np.ndarray, sq_src: np.ndarray, sq_rcv: np.ndarray, learning_rate: float,
                half: float, eps: float, value_per_unit: float, price: np.ndarray,
                tc: np.ndarray, capital: np.ndarray, deal: np.ndarray, partner_gain: np.ndarray,
                collab: np.ndarray, idx: np.ndarray, searcher: np.ndarray,
                firm_weight: np.ndarray, inst_capacity: np.ndarray, inst_weight: np.ndarray,
                u: np.ndarray) -> None:
    """:func:`partner_deals` (where there are pairs), then :func:`ration_services`, in one call.

    The arguments are those of the two kernels in their order (``collab`` … ``u`` the rest of
    :func:`ration_services`'); ``u`` of length 0: no service deal to ration (no call).
    """
    if pairs.shape[0] > 0:
        partner_deals(pairs, partner, k_src, k_rcv, num, sq_src, sq_rcv, learning_rate, half,
                      eps, value_per_unit, price, tc, capital, deal, partner_gain)
    if u.shape[0] > 0:
        ration_services(deal, collab, idx, searcher, firm_weight, inst_capacity, inst_weight, u)


@jit
def collab_edge_rows(deal: np.ndarray, collab: np.ndarray, searcher: np.ndarray,
                     partner: np.ndarray, firm_id: np.ndarray, place: np.ndarray, t: int
                     ) -> np.ndarray:
    """The month's joint R&D deals as rows ``(t, buyer id, partner id, buyer place, partner place)``.

    ``numpy.column_stack`` of those columns over the searchers with a joint R&D deal, in
    searcher order (int64).
    """
    n = deal.shape[0]
    m = 0
    for i in range(n):
        if deal[i] and collab[i]:
            m += 1
    out = np.empty((m, 5), np.int64)
    r = 0
    for i in range(n):
        if deal[i] and collab[i]:
            b = searcher[i]
            q = partner[i]
            out[r, 0] = t
            out[r, 1] = firm_id[b]
            out[r, 2] = firm_id[q]
            out[r, 3] = place[b]
            out[r, 4] = place[q]
            r += 1
    return out


@jit
def free_expectations(phi_free: np.ndarray, inst_total: np.ndarray, firm_total: np.ndarray,
                      vol_svc: np.ndarray, vol_col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Border-free expected service and joint R&D flows of the month (:func:`technology.transact`).

    With ``q_i = normalise_rows(phi_free * inst_total[None, :])`` and ``q_f`` likewise for firms:
    services ``(vol_svc[:, None] * q_i).T`` and joint R&D ``e + e.T`` with
    ``e = vol_col[:, None] * q_f`` (the same products and sums, elementwise).
    """
    p = phi_free.shape[0]
    q = np.empty((2 * p, p))
    _normalised_scaled_into(phi_free, inst_total, q, 0)
    _normalised_scaled_into(phi_free, firm_total, q, p)
    svc = np.empty((p, p))
    col = np.empty((p, p))
    for i in range(p):
        for j in range(p):
            svc[j, i] = vol_svc[i] * q[i, j]
    for i in range(p):
        for j in range(p):
            col[i, j] = vol_col[i] * q[p + i, j] + vol_col[j] * q[p + j, i]
    return svc, col


@jit
def settle_deals(knowledge: np.ndarray, capital: np.ndarray, revenue: np.ndarray,
                 searcher: np.ndarray, deal: np.ndarray, collab: np.ndarray, idx: np.ndarray,
                 gain: np.ndarray, partner_gain: np.ndarray, price: np.ndarray, tc: np.ndarray,
                 subsidy: np.ndarray, firm_weight: np.ndarray, inst_weight: np.ndarray,
                 best_dest: np.ndarray, home: np.ndarray, firm_place: np.ndarray,
                 firm_id: np.ndarray, t: int, phi_free: np.ndarray, inst_total: np.ndarray,
                 firm_total: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kernels of :func:`technology.transact` in one call.

    :func:`kernels.apply_deals` (updates ``knowledge``, ``capital`` and ``revenue``), then the
    firms whose knowledge changed, :func:`collab_edge_rows`, :func:`kernels.deal_records` and
    :func:`free_expectations` (on the records' service and joint R&D volumes).

    Returns
    -------
    changed : numpy.ndarray
        ``concatenate([searcher[deal], idx[deal & collab]])``: buyers, then joint R&D partners.
    edges, flows, accounts : numpy.ndarray
        The results of those kernels.
    free : numpy.ndarray
        (2, P, P): the border-free expectations of services and of joint R&D.
    """
    apply_deals(knowledge, capital, revenue, searcher, deal, collab, idx, gain, partner_gain,
                price, tc, subsidy, firm_weight, inst_weight)
    n = deal.shape[0]
    m = 0
    for i in range(n):
        if deal[i]:
            m += 1 + (1 if collab[i] else 0)
    changed = np.empty(m, np.int64)
    r = 0
    for i in range(n):
        if deal[i]:
            changed[r] = searcher[i]
            r += 1
    for i in range(n):
        if deal[i] and collab[i]:
            changed[r] = idx[i]
            r += 1
    edges = collab_edge_rows(deal, collab, searcher, idx, firm_id, firm_place, t)
    flows, acc = deal_records(deal, collab, idx, best_dest, home, firm_place, searcher,
                              firm_weight, price, tc, phi_free.shape[0])
    svc, col = free_expectations(phi_free, inst_total, firm_total, acc[5], acc[6])
    p = svc.shape[0]
    free = np.empty((2, p, p))
    for i in range(p):
        for j in range(p):
            free[0, i, j] = svc[i, j]
            free[1, i, j] = col[i, j]
    return changed, edges, flows, acc, free


@jit
def settle_and_record(knowledge: np.ndarray, capital: np.ndarray, revenue: np.ndarray,
                      searcher: np.ndarray, deal: np.ndarray, collab: np.ndarray,
                      idx: np.ndarray, gain: np.ndarray, partner_gain: np.ndarray,
                      price: np.ndarray, tc: np.ndarray, subsidy: np.ndarray,
                      firm_weight: np.ndarray, inst_weight: np.ndarray, best_dest: np.ndarray,
                      home: np.ndarray, firm_place: np.ndarray, firm_id: np.ndarray, t: int,
                      phi_free: np.ndarray, inst_total: np.ndarray, firm_total: np.ndarray,
                      flows_t: np.ndarray, ledger_t: np.ndarray, free_t: np.ndarray,
                      seen: np.ndarray, channels: np.ndarray, accounts: np.ndarray,
                      free_channels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`settle_deals`, then its records written to the flow book, in one call.

    The arguments after ``firm_total`` are the book's step arrays and seen channels
    (:meth:`~coinnovation_sim.flows.FlowBook.step_arrays`) and the channels of the flows' rows
    (services, joint R&D both ways), the accounts of the accounts' first five rows (institute
    services, joint R&D outlays of buyers and of partners, transaction costs of buyers and of
    partners) and the channels of the expectations (services, joint R&D), as
    :func:`flows.add_records` takes them. Without a joint R&D deal (no edge) the joint R&D
    flows and accounts (all zero) are not added (:func:`technology.transact`).

    Returns
    -------
    changed, edges : numpy.ndarray
        As :func:`settle_deals` returns them.
    """
    changed, edges, flows, acc, free = settle_deals(
        knowledge, capital, revenue, searcher, deal, collab, idx, gain, partner_gain, price, tc,
        subsidy, firm_weight, inst_weight, best_dest, home, firm_place, firm_id, t, phi_free,
        inst_total, firm_total)
    ch = channels.copy()
    ac = accounts.copy()
    if edges.shape[0] == 0:
        ch[1] = -1
        ch[2] = -1
        ac[1] = -1
        ac[2] = -1
        ac[4] = -1
    add_records(flows_t, ch, flows, ledger_t, ac, acc, free_t, seen, free_channels, free)
    return changed, edges


@register_warm_up
def warm_up() -> None:
    """Load (or compile) the search kernels with a run's argument types (:func:`kernels.warm_up`)."""
    place = np.zeros(2, np.int64)
    yes = np.ones(2, np.bool_)
    ones = np.ones(2)
    rows = np.ones((2, 2))
    weight = np.ones(2)
    weight.flags.writeable = False            # the model shares firm weights read-only in a step
    # the model's knowledge totals are shared read-only too
    searcher, order, cum, *rest = search_start(yes, ones, ones * 0.5, 0.5, weight, weight, place,
                                               2)
    arrays = (cum, order, *rest)              # SegmentSampler.arrays() order
    search_setup(searcher, ones * 0.5, 0.5, place, place, place, ones, ones, rows, rows, ones, 2,
                 30.0, 8.0, rows, 1.0)
    draw_candidates(cumulative_rows(rows), place, yes, ones * 0.5, ones * 0.5, *arrays, *arrays)
    receiver_knowledge(place, rows, 1.0)
    quotes = ((np.zeros((0, 2)), np.zeros((0, 2, 2), np.bool_)),
              (np.ones((1, 2)), np.ones((1, 2, 2), np.bool_)))
    for active in (yes, np.zeros(0, np.bool_)):
        for q_amount, q_pairs in quotes:
            weigh_candidates(place, place, active, yes, place + 1, place, place, rows, rows, rows,
                             ones, ones, 0.1, 1.0, ones, 1.0, rows, rows, 1e-12, q_amount,
                             q_pairs, ones.copy(), place.copy(), place.copy(), rows.copy(),
                             ones.copy(), ones.copy(), ones.copy())
            for fixed in (place, np.zeros(0, np.int64)):
                search_rounds(cumulative_rows(rows), place, np.full((2, 2, 2), 0.5), fixed,
                              ones * 0.5, arrays, arrays, active, yes, place + 1, place, place,
                              rows, rows, rows, ones, ones, 0.1, 1.0, ones, 1.0, rows, rows,
                              1e-12, q_amount, q_pairs, ones.copy(), place.copy(),
                              place.copy(), rows.copy(), ones.copy(), ones.copy(), ones.copy())
        valid = offer_validity(yes, place, place + 1, active)
        for subsidy in (ones, np.zeros(0)):
            weigh_offers(valid, yes, place, place, place, rows, rows, rows, ones, ones, 0.1, 1.0,
                         ones, transaction_costs(1.0, rows, rows), 1e-12, subsidy, ones.copy(),
                         place.copy(), place.copy(), rows.copy(), ones.copy(), ones.copy(),
                         ones.copy())
    ration_services(yes.copy(), ~yes, place, place, weight, ones, ones, ones * 0.5)
    collab_edge_rows(yes, yes, place, place, place, place, 3)
    free_expectations(rows, ones, ones, ones, ones)
    for w in (weight, ones):
        settle_deals(rows.copy(), ones.copy(), ones.copy(), place, yes, yes, place, rows, rows,
                     ones, ones, ones, w, ones, place, place, place, place, 3, rows, ones, ones)
        settle_and_record(rows.copy(), ones.copy(), ones.copy(), place, yes, yes, place, rows,
                          rows, ones, ones, ones, w, ones, place, place, place, place, 3, rows,
                          ones, ones, np.zeros((2, 2, 2)), np.zeros((5, 2)), np.zeros((2, 2, 2)),
                          np.zeros(2, np.bool_), np.zeros(3, np.int64),
                          np.array([0, 1, 1, 2, 2]), np.array([0, 1]))
    agreement_setup(place, yes, place, rows)
    partner_deals(place, place, rows, rows, ones, ones, ones, 0.1, 1.0, 1e-12, 1.0, ones, ones,
                  ones, yes.copy(), rows.copy())
    for w in (weight, ones):
        agree_deals(place, place, rows, rows, ones, ones, ones, 0.1, 1.0, 1e-12, 1.0, ones, ones,
                    ones, yes.copy(), rows.copy(), ~yes, place, place, w, ones, ones, ones * 0.5)
