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

from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from .flows import FACTORS
from .kernels import jit, place_knowledge_sums, register_warm_up, total
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
    n = weights.shape[0]
    if n == 0:
        return np.zeros(0)
    # row sums over the non-zero entries, reduced per row as scipy's sparse sum does
    nz = weights != 0
    counts = nz.sum(axis=1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rows = counts > 0
    s = np.zeros(n)
    if rows.any():
        s[rows] = np.add.reduceat(weights[nz], starts[rows])
    dangling = s == 0
    s[~dangling] = 1.0 / s[~dangling]
    a = weights * s[:, None]
    x, converged = _power_iteration(a, dangling, alpha, tol, max_iter)
    if not converged:
        raise nx.PowerIterationFailedConvergence(max_iter)
    return x


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


def place_knowledge(model: CoinnovationModel) -> tuple[np.ndarray, np.ndarray]:
    """Mean total knowledge per real firm and real firm count, per place."""
    f = model.firms
    n, k = place_knowledge_sums(f.place, f.alive, model.firm_weight(), f.knowledge,
                                model.n_places)
    return np.divide(k, n, out=np.zeros_like(k), where=n > 0), n


def theil(x: np.ndarray, n: np.ndarray) -> float:
    """Between-place Theil index ``T = Σ s_p ln(x_p / μ)`` with ``s_p`` the knowledge share."""
    ok = (n > 0) & (x > 0)
    if ok.sum() < 2:
        return 0.0
    total = (x[ok] * n[ok]).sum()
    mu = total / n[ok].sum()
    s = x[ok] * n[ok] / total
    return float(max(0.0, (s * np.log(x[ok] / mu)).sum()))


def level_shares(model: CoinnovationModel, t: int, place: int) -> dict[tuple[str, str], float]:
    """Share of a place's flows crossing each boundary level, per factor."""
    out = {}
    lv = model.places.level
    for factor in FACTORS:
        m = model.book.factor_matrix(t, factor)
        involved = m[place, :] + m[:, place]
        involved[place] = m[place, place]
        tot = involved.sum()
        for li in range(1, len(LEVELS)):
            mask = lv[place] == li
            out[(factor, LEVELS[li])] = float(involved[mask].sum() / tot) if tot > 0 else 0.0
    return out


def collect(model: CoinnovationModel, t: int) -> tuple[dict[str, float], list[tuple]]:
    """Metrics of step ``t``.

    Returns
    -------
    row : dict
        Column name → value for the wide per-step table.
    long_rows : list of tuple
        ``(step, place, metric, factor, level, value)`` rows for the long table: the focus's
        cross-boundary shares by boundary level, and every place's integration index, PageRank
        and cross-boundary share per factor.
    """
    fp = model.focus
    fid = model.places.ids[fp]
    ids = model.places.ids
    levels = ("cross-city", "cross-province")
    sh, *sh_levels = shares_by_mask(
        model, t, [None] + [model.places.level >= LEVELS.index(level) for level in levels])
    idx = np.mean([integration(*sh[f]) for f in FACTORS], axis=0)
    pr = pagerank(model, t)
    row: dict[str, float] = {f"{fid}_integration_index": float(idx[fp])}
    for f in FACTORS:
        row[f"{fid}_cross_share_{f}"] = float(sh[f][0][fp])
    for f in FACTORS:
        row[f"{fid}_free_share_{f}"] = float(sh[f][1][fp])
    for level, sh_l in zip(levels, sh_levels, strict=True):
        row[f"{fid}_integration_index_{level.replace('-', '_')}"] = float(
            np.mean([integration(*sh_l[f])[fp] for f in FACTORS]))
    row[f"{fid}_pagerank"] = float(pr[fp])
    x, n = place_knowledge(model)
    mu = (x * n).sum() / n.sum() if n.sum() > 0 else 0.0
    row["theil_knowledge"] = theil(x, n)
    row[f"{fid}_knowledge"] = float(x[fp] / mu) if mu > 0 else 0.0
    row["region_knowledge_per_firm"] = float(mu)
    hires = model.book.factor_matrix(t, "talent")
    row[f"{fid}_net_talent_inflow"] = float(hires[:, fp].sum() - hires[fp, :].sum())
    row["policy_cost_wan"] = float(model.policy_cost[t].sum())
    row["region_integration_index"] = float(idx[n > 0].mean()) if (n > 0).any() else 0.0
    for f in FACTORS:
        m = model.book.factor_matrix(t, f)
        total = m.sum()
        share = (total - np.trace(m)) / total if total > 0 else 0.0
        row[f"region_cross_share_{f}"] = float(min(1.0, max(0.0, share)))
    row["firms_real"] = float(n.sum())
    row[f"{fid}_firms_real"] = float(n[fp])
    row["talent_stock"] = model.talent_stock()
    row["capital_stock_wan"] = model.capital_stock()

    long_rows: list[tuple] = [
        (t, fid, "cross_share", factor, level, value)
        for (factor, level), value in level_shares(model, t, fp).items()
    ]
    for p, pid in enumerate(ids):
        long_rows.append((t, pid, "integration_index", "all", "all", float(idx[p])))
        long_rows.append((t, pid, "pagerank", "all", "all", float(pr[p])))
        for f in FACTORS:
            long_rows.append((t, pid, "cross_share", f, "all", float(sh[f][0][p])))
    return row, long_rows
