"""Per-step metrics: integration of the focus place and of the region, hubs, inequality.

Definitions (with formulas) are in ``docs/metrics.md``. In short, for a place ``p`` and a factor,
with flows summed over the factor's channels in the step:

* cross-boundary share ``S = external / total`` of the flows with ``p`` at one end (external:
  the other end is another place; total includes flows inside ``p``); 0 when there are none;
* border-free share ``S_free``: the same with each chosen channel's destinations redrawn with
  every administrative barrier at zero (same state, same volumes), channels without a choice
  unchanged;
* integration index: mean over the three factors of ``min(1, S / S_free)`` (1 when
  ``S_free = 0``) — 0 closed, 1 as open as if there were no administrative borders; the same
  restricted to flows crossing at least a prefecture-city or a provincial boundary gives the
  ``_cross_city`` and ``_cross_province`` indices;
* PageRank of ``p`` on the place flow network (each factor's matrix scaled to unit total, summed,
  self-flows dropped);
* Theil index of place knowledge (mean total knowledge per real firm, weighted by real firms).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from .flows import FACTORS
from .kernels import jit, pairwise_sum, register_warm_up, row_total
from .kernels import total_inline as total  # the same sums, written into the kernels
from .places import LEVELS

if TYPE_CHECKING:
    from .model import CoinnovationModel


def ends(mat: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """External and total flow with each place at one end.

    Parameters
    ----------
    mat : numpy.ndarray
        Flow matrix (origin rows, destination columns), shape (P, P).
    mask : numpy.ndarray, optional
        Symmetric boolean mask of the pairs that count as external (default: all pairs of
        different places); e.g. the pairs crossing a province boundary.

    Returns
    -------
    external, total : numpy.ndarray
        Per place: flows out and in over the external pairs, and all flows with the place at
        one end (flows inside the place counted once).
    """
    ext, total = _ends_stack(mat[None], mask)
    return ext[0], total[0]


def shares(model: CoinnovationModel, t: int, mask: np.ndarray | None = None
           ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Observed and border-free cross-boundary shares per factor, for every place.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    t : int
        Step.
    mask : numpy.ndarray, optional
        Pairs counted as external (see :func:`ends`); all pairs of different places by default.

    Returns
    -------
    dict
        Factor → ``(S, S_free)`` arrays over places.
    """
    return shares_by_mask(model, t, [mask])[0]


def shares_by_mask(model: CoinnovationModel, t: int, masks: list[np.ndarray | None]
                   ) -> list[dict[str, tuple[np.ndarray, np.ndarray]]]:
    """:func:`shares` for several masks at once (the same sums, stacked over the masks)."""
    book = model.book
    flows = book.flows[t]
    free = book.free[t]
    chosen = np.array([ch.chosen for ch in book.channels], bool)
    has_free = chosen & ~np.isnan(free).all(axis=(1, 2))
    free_now = np.nan_to_num(free[has_free]) if has_free.any() else None
    groups = [book.factor_channels(factor) for factor in FACTORS]
    ends_all = _ends_masks(flows, masks)
    ends_free = _ends_masks(free_now, masks) if free_now is not None else None
    ext, tot, ext_free = [], [], []
    for m, (ext_all, tot_all) in enumerate(ends_all):
        if ends_free is not None:
            fe, ft = ends_free[m]
            free_part = ext_all.copy()
            free_part[has_free] = (np.divide(fe, ft, out=np.zeros_like(fe), where=ft > 0)
                                   * tot_all[has_free])
        else:
            free_part = ext_all
        for g in groups:                         # each factor's channels added in order
            ext.append(_channel_sum(ext_all, g))
            tot.append(_channel_sum(tot_all, g))
            ext_free.append(_channel_sum(free_part, g))
    tot_s = np.array(tot)
    s_obs = _clip01(np.divide(np.array(ext), tot_s, out=np.zeros_like(tot_s), where=tot_s > 0))
    s_free = _clip01(np.divide(np.array(ext_free), tot_s, out=np.zeros_like(tot_s),
                               where=tot_s > 0))
    nf = len(FACTORS)
    return [{factor: (s_obs[m * nf + i], s_free[m * nf + i]) for i, factor in enumerate(FACTORS)}
            for m in range(len(masks))]


def _channel_sum(rows: np.ndarray, channels: list[int]) -> np.ndarray:
    """Sum of the rows of some channels, added channel by channel in order."""
    if not channels:
        return np.zeros(rows.shape[1])
    return rows[channels].sum(axis=0)


def _clip01(x: np.ndarray) -> np.ndarray:
    """``numpy.clip(x, 0, 1)`` (the same values; ``clip`` costs more on small arrays)."""
    return np.minimum(np.maximum(x, 0.0), 1.0)


def _ends_masks(mats: np.ndarray, masks: list[np.ndarray | None]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`_ends_stack` of a stack (C, P, P) for each mask; the masked ones computed at once."""
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(masks)
    masked = [i for i, m in enumerate(masks) if m is not None]
    diag = np.diagonal(mats, axis1=1, axis2=2)
    total = mats.sum(axis=2) + mats.sum(axis=1) - diag
    for i, m in enumerate(masks):
        if m is None:
            out[i] = (total - diag, total)
    if masked:
        stack = mats[None] * np.stack([masks[i] for i in masked])[:, None]
        ext = stack.sum(axis=3) + stack.sum(axis=2)
        for j, i in enumerate(masked):
            out[i] = (ext[j], total)
    return out


def _ends_stack(mats: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ends` of every matrix of a stack (C, P, P) at once."""
    diag = np.diagonal(mats, axis1=1, axis2=2)
    total = mats.sum(axis=2) + mats.sum(axis=1) - diag
    if mask is None:
        return total - diag, total
    m = mats * mask
    return m.sum(axis=2) + m.sum(axis=1), total


def integration(s_obs: np.ndarray, s_free: np.ndarray) -> np.ndarray:
    """``min(1, S / S_free)``, 1 where ``S_free`` is zero."""
    ratio = np.divide(s_obs, s_free, out=np.ones_like(s_obs), where=s_free > 0)
    return np.minimum(ratio, 1.0)


def pagerank_matrix(weights: np.ndarray, alpha: float = 0.85, tol: float = 1e-10,
                    max_iter: int = 10_000) -> np.ndarray:
    """PageRank of a small dense weighted digraph, as :func:`networkx.pagerank` computes it.

    The same power iteration as networkx's (``_pagerank_scipy``), operation for operation, on
    the dense matrix instead of a graph: rows scaled to unit sum, uniform start and
    personalisation, dangling nodes (rows summing to zero) redistributed uniformly, stop when
    the L1 change is below ``n · tol``. Each product ``x @ A`` is summed over origins in order,
    as the sparse product does, so the result equals networkx's bit for bit (tested).

    Parameters
    ----------
    weights : numpy.ndarray
        Non-negative edge weights, origin rows × destination columns, shape (n, n); zero means
        no edge.
    alpha : float
        Damping factor.
    tol : float
        Convergence tolerance per node.
    max_iter : int
        Iterations before giving up.

    Returns
    -------
    numpy.ndarray
        PageRank per node (sums to one).

    Raises
    ------
    networkx.PowerIterationFailedConvergence
        When ``max_iter`` iterations do not converge (as networkx).
    """
    if weights.shape[0] == 0:
        return np.zeros(0)
    a, dangling = row_stochastic(weights)
    x, converged = _power_iteration(a, dangling, alpha, tol, max_iter)
    if not converged:
        raise nx.PowerIterationFailedConvergence(max_iter)
    return x


def row_stochastic(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``weights`` scaled to unit sum, and the dangling rows (summing to zero).

    Row sums over the non-zero entries, reduced per row as scipy's sparse sum does (the numpy
    formulation of :func:`pagerank_weights`).
    """
    n = weights.shape[0]
    nz = weights != 0
    counts = nz.sum(axis=1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rows = counts > 0
    s = np.zeros(n)
    if rows.any():
        s[rows] = np.add.reduceat(weights[nz], starts[rows])
    dangling = s == 0
    s[~dangling] = 1.0 / s[~dangling]
    return weights * s[:, None], dangling


@jit
def _power_iteration(a: np.ndarray, dangling: np.ndarray, alpha: float, tol: float,
                     max_iter: int) -> tuple[np.ndarray, bool]:
    """The PageRank iteration of networkx on the row-stochastic matrix ``a`` (compiled).

    Operation for operation as networkx computes it with numpy: ``y = x @ a`` summed over
    origins in row order, plus ``Σ_dangling x · p``; ``x ← α y + (1 − α) p``; stop when
    ``Σ |x − x_last| < n · tol``. The two sums over nodes are numpy's pairwise sums
    (:func:`kernels.total`), so the result is the numpy version's bit for bit (tested).
    """
    n = a.shape[0]
    p = 1.0 / n
    teleport = (1 - alpha) * p
    x = np.full(n, p)
    y = np.empty(n)
    buf = np.empty(n)
    n_dangling = 0
    for i in range(n):
        if dangling[i]:
            n_dangling += 1
    for _ in range(max_iter):
        for j in range(n):
            y[j] = x[0] * a[0, j]
        for i in range(1, n):
            xi = x[i]
            for j in range(n):
                y[j] += xi * a[i, j]
        if n_dangling:
            m = 0
            for i in range(n):
                if dangling[i]:
                    buf[m] = x[i]
                    m += 1
            lost = total(buf, m)
            for j in range(n):
                y[j] += lost * p
        for j in range(n):
            new = alpha * y[j] + teleport
            buf[j] = abs(new - x[j])
            x[j] = new
        if total(buf, n) < n * tol:
            return x, True
    return x, False


@register_warm_up
def _warm_up() -> None:
    """Load (or compile) the PageRank iteration (see :func:`kernels.warm_up`)."""
    _power_iteration(np.full((2, 2), 0.5), np.zeros(2, np.bool_), 0.85, 1e-10, 5)
    _power_iteration(np.zeros((2, 2)), np.ones(2, np.bool_), 0.85, 1e-10, 5)


# ---------------------------------------------------------------------------------------------
# Compiled per-step metrics. Each kernel does, operation for operation and in the same order,
# what the numpy functions above do (tested bit for bit in tests/test_metrics_kernels.py):
# row sums along the last axis and 1-D sums are numpy's pairwise sums (``kernels.total``),
# sums over channels or origins add the slices in order from 0.0, ``numpy.maximum(x, 0)`` keeps
# x when it is NaN or greater, ``numpy.minimum(x, 1)`` when it is NaN or smaller.

#: Largest finite double (``numpy.nan_to_num`` replaces infinities by it).
_BIG = float(np.finfo(np.float64).max)


@jit
def _clip01_value(x: float) -> float:
    """``numpy.minimum(numpy.maximum(x, 0.0), 1.0)`` of one value."""
    if not (x > 0.0 or np.isnan(x)):
        x = 0.0
    if not (x < 1.0 or np.isnan(x)):
        x = 1.0
    return x


@jit
def _ends_into(mats: np.ndarray, level: np.ndarray, thresholds: np.ndarray, ext: np.ndarray,
               tot: np.ndarray) -> None:
    """:func:`_ends_masks` of a stack (C, P, P): masks ``None`` then ``level >= thresholds[k]``.

    Writes ``ext`` (1 + K, C, P) and ``tot`` (C, P).
    """
    nc, p, _ = mats.shape
    buf = np.empty(p)
    col = np.empty(p)
    rows = np.empty(p)
    for c in range(nc):
        col[:] = 0.0
        for i in range(p):
            rows[i] = total(mats[c, i], p)
            for j in range(p):
                col[j] += mats[c, i, j]
        for i in range(p):
            d = mats[c, i, i]
            tot[c, i] = (rows[i] + col[i]) - d
            ext[0, c, i] = tot[c, i] - d
        for k in range(thresholds.shape[0]):
            th = thresholds[k]
            col[:] = 0.0
            for i in range(p):
                for j in range(p):
                    buf[j] = mats[c, i, j] * (1.0 if level[i, j] >= th else 0.0)
                    col[j] += buf[j]
                rows[i] = total(buf, p)
            for i in range(p):
                ext[k + 1, c, i] = rows[i] + col[i]


@jit
def flow_shares(flows: np.ndarray, free: np.ndarray, chosen: np.ndarray, factor: np.ndarray,
                n_factors: int, level: np.ndarray, thresholds: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Observed and border-free cross-boundary shares, as :func:`shares_by_mask` (compiled).

    Parameters
    ----------
    flows, free : numpy.ndarray
        One step's flows and border-free expectations per channel, shape (C, P, P) each
        (``free`` NaN for channels without an expectation this step).
    chosen : numpy.ndarray
        Whether each channel's destinations are chosen (bool, shape (C,)).
    factor : numpy.ndarray
        Factor index of each channel (int, shape (C,)).
    n_factors : int
        Number of factors.
    level : numpy.ndarray
        Boundary level crossed per pair, shape (P, P).
    thresholds : numpy.ndarray
        Boundary levels of the masks after the first (all pairs of different places): mask ``k``
        is ``level >= thresholds[k - 1]``.

    Returns
    -------
    s_obs, s_free : numpy.ndarray
        Shape (1 + K, n_factors, P): ``S`` and ``S_free`` per mask, factor and place.
    """
    nc, p, _ = flows.shape
    nm = 1 + thresholds.shape[0]
    has_free = np.zeros(nc, np.bool_)
    clean = np.zeros((nc, p, p))
    for c in range(nc):
        if not chosen[c]:
            continue
        for i in range(p):
            for j in range(p):
                v = free[c, i, j]
                if np.isnan(v):
                    v = 0.0
                else:
                    has_free[c] = True
                    if v == np.inf:
                        v = _BIG
                    elif v == -np.inf:
                        v = -_BIG
                clean[c, i, j] = v
    ext = np.empty((nm, nc, p))
    tot = np.empty((nc, p))
    ext_f = np.empty((nm, nc, p))
    tot_f = np.empty((nc, p))
    _ends_into(flows, level, thresholds, ext, tot)
    _ends_into(clean, level, thresholds, ext_f, tot_f)
    s_obs = np.empty((nm, n_factors, p))
    s_free = np.empty((nm, n_factors, p))
    e = np.empty(p)
    t = np.empty(p)
    ef = np.empty(p)
    for m in range(nm):
        for f in range(n_factors):
            e[:] = 0.0
            t[:] = 0.0
            ef[:] = 0.0
            for c in range(nc):
                if factor[c] != f:
                    continue
                for i in range(p):
                    e[i] += ext[m, c, i]
                    t[i] += tot[c, i]
                    if has_free[c]:
                        ft = tot_f[c, i]
                        ratio = ext_f[m, c, i] / ft if ft > 0 else 0.0
                        ef[i] += ratio * tot[c, i]
                    else:
                        ef[i] += ext[m, c, i]
            for i in range(p):
                s_obs[m, f, i] = _clip01_value(e[i] / t[i] if t[i] > 0 else 0.0)
                s_free[m, f, i] = _clip01_value(ef[i] / t[i] if t[i] > 0 else 0.0)
    return s_obs, s_free


@jit
def _integration_value(s_obs: float, s_free: float) -> float:
    """:func:`integration` of one value."""
    ratio = s_obs / s_free if s_free > 0 else 1.0
    if not (ratio < 1.0 or np.isnan(ratio)):
        ratio = 1.0
    return ratio


@jit
def factor_matrices(flows: np.ndarray, factor: np.ndarray, n_factors: int) -> np.ndarray:
    """``FlowBook.factor_matrix`` of every factor: its channels added in order, shape (F, P, P)."""
    nc, p, _ = flows.shape
    out = np.zeros((n_factors, p, p))
    for c in range(nc):
        f = factor[c]
        for i in range(p):
            for j in range(p):
                out[f, i, j] += flows[c, i, j]
    return out


@jit
def _matrix_total(m: np.ndarray, buf: np.ndarray) -> float:
    """``m.sum()`` of a (P, P) matrix (pairwise over the flattened matrix; ``buf`` of P·P)."""
    p = m.shape[0]
    for i in range(p):
        for j in range(p):
            buf[i * p + j] = m[i, j]
    return total(buf, p * p)


@jit
def combined_network(fm: np.ndarray) -> np.ndarray:
    """:func:`flow_network` from the factor matrices ``fm`` (F, P, P)."""
    nf, p, _ = fm.shape
    comb = np.zeros((p, p))
    m = np.empty((p, p))
    buf = np.empty(p * p)
    for f in range(nf):
        for i in range(p):
            for j in range(p):
                m[i, j] = 0.0 if i == j else fm[f, i, j]
        s = _matrix_total(m, buf)
        if s > 0:
            for i in range(p):
                for j in range(p):
                    comb[i, j] += m[i, j] / s
    return comb


@jit
def pagerank_weights(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`row_stochastic` compiled: the matrix and dangling nodes of :func:`pagerank_matrix`.

    Each row's non-zero entries are summed as ``numpy.add.reduceat`` does (the first, plus the
    pairwise sum of the rest); rows summing to zero are dangling and scaled by zero.
    """
    n = weights.shape[0]
    buf = np.empty(max(n, 1))
    s = np.zeros(n)
    for i in range(n):
        cnt = 0
        for j in range(n):
            if weights[i, j] != 0:
                buf[cnt] = weights[i, j]
                cnt += 1
        if cnt == 1:
            s[i] = buf[0]
        elif cnt > 1:
            s[i] = buf[0] + pairwise_sum(buf, 1, cnt - 1)
    dangling = s == 0
    for i in range(n):
        if not dangling[i]:
            s[i] = 1.0 / s[i]
    a = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            a[i, j] = weights[i, j] * s[i]
    return a, dangling


@jit
def firm_sums(place: np.ndarray, alive: np.ndarray, weight: np.ndarray, k: np.ndarray,
              talent: np.ndarray, capital: np.ndarray, n_places: int
              ) -> tuple[np.ndarray, np.ndarray, float, float, np.ndarray]:
    """Real firms and knowledge per place, and the firms' talent and capital, in one pass.

    ``kernels.place_knowledge_sums`` (the same additions per place in firm order, kept in
    registers while the place does not change) and ``kernels.live_weighted_sum`` of talent and
    of capital (the same terms, summed pairwise).

    Returns
    -------
    count, knowledge : numpy.ndarray
        Shape (n_places,) each.
    talent_total, capital_total : float
        ``Σ_alive w · talent`` and ``Σ_alive w · capital``.
    kappa : numpy.ndarray
        Every slot's total knowledge, :func:`kernels.row_sums` of ``k`` (the model keeps it,
        :meth:`CoinnovationModel.keep_knowledge_totals`).
    """
    n = k.shape[0]
    count = np.zeros(n_places)
    know = np.zeros(n_places)
    t_terms = np.empty(n)
    c_terms = np.empty(n)
    kappa = np.empty(n)
    cur = -1
    acc_n = 0.0
    acc_k = 0.0
    for i in range(n):
        row = row_total(k, i)
        kappa[i] = row
        if not alive[i]:
            t_terms[i] = 0.0
            c_terms[i] = 0.0
            continue
        w = weight[i]
        t_terms[i] = w * talent[i]
        c_terms[i] = w * capital[i]
        pl = place[i]
        if pl != cur:
            if cur >= 0:
                count[cur] = acc_n
                know[cur] = acc_k
            cur = pl
            acc_n = count[pl]
            acc_k = know[pl]
        acc_n += w
        acc_k += w * row
    if cur >= 0:
        count[cur] = acc_n
        know[cur] = acc_k
    return count, know, total(t_terms, n), total(c_terms, n), kappa


#: Boundary levels of the focus's restricted integration indices (``_cross_city``, ...).
SHARE_LEVELS: tuple[str, ...] = ("cross-city", "cross-province")


@jit
def _collect_kernel(flows: np.ndarray, free: np.ndarray, chosen: np.ndarray, factor: np.ndarray,
                    n_factors: int, level: np.ndarray, thresholds: np.ndarray, n_levels: int,
                    fp: int, talent_factor: int, count: np.ndarray, know: np.ndarray,
                    policy: np.ndarray, alpha: float, tol: float, max_iter: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """The numbers of :func:`collect` (see there for the layout of ``row`` and ``long``).

    Returns
    -------
    row : numpy.ndarray
        Values of the wide row up to ``firms_real`` (the Theil index left at 0).
    long : numpy.ndarray
        Values of the long rows.
    theil_share, theil_ratio : numpy.ndarray
        ``s`` and ``x / μ`` of :func:`theil` over the places it counts (empty when fewer than
        two), for ``Σ s · ln(x / μ)`` in numpy.
    converged : bool
        Whether the PageRank iteration converged.
    """
    p = flows.shape[1]
    nm = 1 + thresholds.shape[0]
    s_obs, s_free = flow_shares(flows, free, chosen, factor, n_factors, level, thresholds)
    buf = np.empty(max(p, n_factors))
    # integration indices: mean over factors (axis 0 of the stacked factors) for every place
    idx = np.zeros(p)
    for f in range(n_factors):
        for i in range(p):
            idx[i] += _integration_value(s_obs[0, f, i], s_free[0, f, i])
    for i in range(p):
        idx[i] = idx[i] / n_factors
    fm = factor_matrices(flows, factor, n_factors)
    comb = combined_network(fm)
    flat = np.empty(p * p)
    converged = True
    if _matrix_total(comb, flat) <= 0:
        pr = np.full(p, 1.0 / p)
    else:
        a, dangling = pagerank_weights(comb)
        pr, converged = _power_iteration(a, dangling, alpha, tol, max_iter)
    x = np.zeros(p)
    for i in range(p):
        if count[i] > 0:
            x[i] = know[i] / count[i]
    xn = np.empty(p)
    for i in range(p):
        xn[i] = x[i] * count[i]
    n_sum = total(count, p)
    mu = total(xn, p) / n_sum if n_sum > 0 else 0.0

    row = np.zeros(1 + 2 * n_factors + (nm - 1) + 7 + n_factors + 2)
    row[0] = idx[fp]
    for f in range(n_factors):
        row[1 + f] = s_obs[0, f, fp]
        row[1 + n_factors + f] = s_free[0, f, fp]
    r = 1 + 2 * n_factors
    for m in range(1, nm):
        for f in range(n_factors):
            buf[f] = _integration_value(s_obs[m, f, fp], s_free[m, f, fp])
        row[r] = total(buf, n_factors) / n_factors
        r += 1
    row[r] = pr[fp]
    # row[r + 1]: Theil index, computed by the caller
    row[r + 2] = x[fp] / mu if mu > 0 else 0.0
    row[r + 3] = mu
    hires = fm[talent_factor]
    for i in range(p):
        buf[i] = hires[i, fp]
    inflow = total(buf, p)
    row[r + 4] = inflow - total(hires[fp], p)
    row[r + 5] = total(policy, p)
    k = 0
    for i in range(p):
        if count[i] > 0:
            buf[k] = idx[i]
            k += 1
    row[r + 6] = total(buf, k) / k if k > 0 else 0.0
    r += 7
    for f in range(n_factors):
        tot = _matrix_total(fm[f], flat)
        for i in range(p):
            buf[i] = fm[f, i, i]
        share = (tot - total(buf, p)) / tot if tot > 0 else 0.0
        share = share if share > 0.0 else 0.0             # max(0.0, share), as Python's max
        row[r + f] = share if share < 1.0 else 1.0        # min(1.0, share)
    r += n_factors
    row[r] = n_sum
    row[r + 1] = count[fp]

    lv = level[fp]
    long = np.empty(n_factors * (n_levels - 1) + p * (2 + n_factors))
    q = 0
    involved = np.empty(p)
    for f in range(n_factors):
        for i in range(p):
            involved[i] = fm[f, fp, i] + fm[f, i, fp]
        involved[fp] = fm[f, fp, fp]
        tot = total(involved, p)
        for li in range(1, n_levels):
            k = 0
            for i in range(p):
                if lv[i] == li:
                    buf[k] = involved[i]
                    k += 1
            long[q] = total(buf, k) / tot if tot > 0 else 0.0
            q += 1
    for i in range(p):
        long[q] = idx[i]
        long[q + 1] = pr[i]
        for f in range(n_factors):
            long[q + 2 + f] = s_obs[0, f, i]
        q += 2 + n_factors

    k = 0
    for i in range(p):
        if count[i] > 0 and x[i] > 0:
            k += 1
    if k < 2:
        return row, long, np.empty(0), np.empty(0), converged
    xs = np.empty(k)
    ns = np.empty(k)
    k = 0
    for i in range(p):
        if count[i] > 0 and x[i] > 0:
            xs[k] = x[i] * count[i]
            ns[k] = count[i]
            k += 1
    tk = total(xs, k)
    mu_t = tk / total(ns, k)
    share = np.empty(k)
    ratio = np.empty(k)
    k = 0
    for i in range(p):
        if count[i] > 0 and x[i] > 0:
            share[k] = x[i] * count[i] / tk
            ratio[k] = x[i] / mu_t
            k += 1
    return row, long, share, ratio, converged


def flow_network(model: CoinnovationModel, t: int) -> np.ndarray:
    """Combined place flow network of step ``t`` (origin rows, destination columns).

    Each factor's flows are scaled to a unit total and summed; flows inside a place are dropped.
    """
    p = model.n_places
    comb = np.zeros((p, p))
    for factor in FACTORS:
        m = model.book.factor_matrix(t, factor)
        np.fill_diagonal(m, 0.0)
        if m.sum() > 0:
            comb += m / m.sum()
    return comb


def pagerank(model: CoinnovationModel, t: int) -> np.ndarray:
    """PageRank of each place on the combined flow network of step ``t``."""
    p = model.n_places
    comb = flow_network(model, t)
    if comb.sum() <= 0:
        return np.full(p, 1.0 / p)
    return pagerank_matrix(comb)


def pagerank_networkx(comb: np.ndarray) -> np.ndarray:
    """Reference: the same PageRank computed by networkx on a graph (used by the tests)."""
    p = comb.shape[0]
    g = nx.DiGraph()
    g.add_nodes_from(range(p))
    o, d = np.nonzero(comb)
    g.add_weighted_edges_from(zip(o.tolist(), d.tolist(), comb[o, d].tolist(), strict=True))
    pr = nx.pagerank(g, weight="weight", tol=1e-10, max_iter=10_000)
    return np.array([pr[i] for i in range(p)])


def theil(x: np.ndarray, n: np.ndarray) -> float:
    """Between-place Theil index ``T = Σ s_p ln(x_p / μ)`` with ``s_p`` the knowledge share."""
    ok = (n > 0) & (x > 0)
    if ok.sum() < 2:
        return 0.0
    total = (x[ok] * n[ok]).sum()
    mu = total / n[ok].sum()
    s = x[ok] * n[ok] / total
    return float(max(0.0, (s * np.log(x[ok] / mu)).sum()))


#: Boundary levels (indices into ``LEVELS``) of the masks after the first in :func:`collect`.
_THRESHOLDS = np.array([LEVELS.index(level) for level in SHARE_LEVELS], np.int64)


@lru_cache(maxsize=64)
def _layout(ids: tuple[str, ...], fp: int) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Column names of the wide row and keys of the long rows, in :func:`_collect_kernel`'s order."""
    fid = ids[fp]
    keys = [f"{fid}_integration_index"]
    keys += [f"{fid}_cross_share_{f}" for f in FACTORS]
    keys += [f"{fid}_free_share_{f}" for f in FACTORS]
    keys += [f"{fid}_integration_index_{level.replace('-', '_')}" for level in SHARE_LEVELS]
    keys += [f"{fid}_pagerank", "theil_knowledge", f"{fid}_knowledge",
             "region_knowledge_per_firm", f"{fid}_net_talent_inflow", "policy_cost_wan",
             "region_integration_index"]
    keys += [f"region_cross_share_{f}" for f in FACTORS]
    keys += ["firms_real", f"{fid}_firms_real"]
    long = [(fid, "cross_share", f, LEVELS[li]) for f in FACTORS for li in range(1, len(LEVELS))]
    for pid in ids:
        long.append((pid, "integration_index", "all", "all"))
        long.append((pid, "pagerank", "all", "all"))
        long.extend((pid, "cross_share", f, "all") for f in FACTORS)
    return tuple(keys), tuple(long)


def long_keys(model: CoinnovationModel) -> tuple[tuple[str, ...], ...]:
    """``(place, metric, factor, level)`` of each value :func:`collect` returns for the long table."""
    return _layout(tuple(model.places.ids), model.focus)[1]


def collect(model: CoinnovationModel, t: int) -> tuple[dict[str, float], np.ndarray]:
    """Metrics of step ``t``.

    Returns
    -------
    row : dict
        Column name → value for the wide per-step table.
    long_values : numpy.ndarray
        Values of the long table's rows ``(step, place, metric, factor, level, value)`` of this
        step, one per key of :func:`long_keys`: the focus's cross-boundary shares by boundary
        level, and every place's integration index, PageRank and cross-boundary share per factor.

    Raises
    ------
    networkx.PowerIterationFailedConvergence
        When the PageRank iteration does not converge.
    """
    fp = model.focus
    keys, _ = _layout(tuple(model.places.ids), fp)
    book = model.book
    f = model.firms
    count, know, talent_sum, capital_sum, kappa = firm_sums(
        f.place, f.alive, model.firm_weight(), f.knowledge, f.talent, f.capital, model.n_places)
    model.keep_knowledge_totals(kappa)
    values, long_values, share, ratio, converged = _collect_kernel(
        book.flows[t], book.free[t], book.chosen, book.factor_index, len(FACTORS),
        model.places.level, _THRESHOLDS, len(LEVELS), fp, FACTORS.index("talent"), count, know,
        model.policy_cost[t], 0.85, 1e-10, 10_000)
    if not converged:
        raise nx.PowerIterationFailedConvergence(10_000)
    row = dict(zip(keys, values.tolist(), strict=True))
    if len(share):
        row["theil_knowledge"] = float(max(0.0, (share * np.log(ratio)).sum()))
    row["talent_stock"] = talent_sum + float(model.talent_pool.sum())
    row["capital_stock_wan"] = capital_sum + float(model.capital_pool.sum())
    return row, long_values


@register_warm_up
def _warm_up_collect() -> None:
    """Load (or compile) the kernels of :func:`collect` (see :func:`kernels.warm_up`)."""
    flows = np.ones((2, 2, 2))
    level = np.ones((2, 2), np.int8)
    ones = np.ones(2)
    place = np.zeros(2, np.int64)
    weight = np.ones(2)
    weight.flags.writeable = False            # the model shares firm weights read-only in a step
    firm_sums(place, np.ones(2, np.bool_), weight, np.ones((2, 2)), ones, ones, 2)
    firm_sums(place, np.ones(2, np.bool_), ones, np.ones((2, 2)), ones, ones, 2)
    _collect_kernel(flows, np.full((2, 2, 2), np.nan), np.ones(2, np.bool_), place, 3, level,
                    _THRESHOLDS, len(LEVELS), 0, 0, ones, ones, ones, 0.85, 1e-10, 5)
