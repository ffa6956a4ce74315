"""Plain-text summary of a run for the terminal (no plotting, no model imports)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .results import RunResult


def summarise(result: RunResult, window: int = 12) -> str:
    """Summarise the focus place's integration over the first and last ``window`` months.

    Parameters
    ----------
    result : RunResult
        A finished run.
    window : int
        Months averaged at each end.

    Returns
    -------
    str
        A short multi-line report.
    """
    m = result.metrics
    fid = result.scenario.focus
    name = result.scenario.name
    if len(m) == 0:
        return f"{name}: no steps were run (steps: 0)."
    w = min(window, len(m))
    first, last = m.iloc[:w], m.iloc[-w:]
    lines = [
        f"Scenario {name!r}, seed {result.seed}, {len(m)} months "
        f"({m['month'].iloc[0]} to {m['month'].iloc[-1]}); focus: {fid}.",
        "One run: differences between scenarios need replications (see the README).",
        f"{'metric':44s} {'first ' + str(w) + ' months':>16s} {'last ' + str(w) + ' months':>16s}",
    ]
    rows = [
        (f"{fid}_integration_index", "integration index (0 closed, 1 border-free)"),
        (f"{fid}_cross_share_talent", "cross-boundary share, talent"),
        (f"{fid}_cross_share_technology", "cross-boundary share, technology"),
        (f"{fid}_cross_share_capital", "cross-boundary share, capital"),
        (f"{fid}_pagerank", "PageRank on the place flow network"),
        (f"{fid}_knowledge", "knowledge per firm / regional mean"),
        (f"{fid}_net_talent_inflow", "net talent inflow, person-months/month"),
        ("region_integration_index", "region: mean integration index"),
        ("theil_knowledge", "region: Theil index of knowledge"),
        ("policy_cost_wan", "public spending, 万元/month"),
    ]
    for col, label in rows:
        lines.append(f"{label:44s} {first[col].mean():16.4g} {last[col].mean():16.4g}")
    pr = result.metrics_long
    last_step = int(m.index[-1])
    ranks = pr[(pr.metric == "pagerank") & (pr.step == last_step)].sort_values("value", ascending=False)
    order = ranks.place.tolist()
    if fid in order:
        lines.append(f"{fid} ranks {order.index(fid) + 1} of {len(order)} places by PageRank "
                     f"in the last month; hubs: {', '.join(order[:4])}.")
    return "\n".join(lines)
