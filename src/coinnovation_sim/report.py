"""Readable tables of a comparison for the terminal (rich); no model imports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from .experiment import Comparison

#: Outcomes shown in the main table, with labels.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("focus_integration_index", "integration index"),
    ("focus_integration_index_cross_province", "integration, cross-province"),
    ("focus_knowledge", "knowledge / regional mean"),
    ("focus_net_talent_inflow_total", "net talent inflow (person-months)"),
    ("region_integration_index", "region integration index"),
    ("theil_knowledge", "region Theil (knowledge)"),
    ("policy_cost_wan_total", "public spending (万元)"),
)


def _fmt(mean: float, lo: float, hi: float, signed: bool = False) -> str:
    """``mean ± half-width`` of a symmetric confidence interval, compactly."""
    sign = "+" if signed else ""
    return f"{mean:{sign}.3g} ±{(hi - lo) / 2:.2g}"


def comparison_tables(cmp: Comparison) -> list[Table]:
    """Rich tables: headline outcomes per scenario, and cost-effectiveness.

    Parameters
    ----------
    cmp : Comparison
        A finished comparison.

    Returns
    -------
    list of rich.table.Table
        The headline table (mean [95 % CI] and paired difference to the baseline [95 % CI]) and
        the cost-effectiveness table.
    """
    s = cmp.summary.set_index(["metric", "scenario"])
    scenarios = [sc["name"] for sc in cmp.manifest["scenarios"]]
    main = Table(title=f"Focus place outcomes (last 12 months): mean ±95% CI; Δ = paired "
                       f"difference to '{cmp.baseline}' ±95% CI; {len(cmp.seeds)} replications")
    main.add_column("outcome")
    for sc in scenarios:
        main.add_column(sc, overflow="fold")
    for metric, label in HEADLINE:
        if metric not in s.index.get_level_values(0):
            continue
        cells = []
        for sc in scenarios:
            r = s.loc[(metric, sc)]
            text = _fmt(r["mean"], r["ci_low"], r["ci_high"])
            if sc != cmp.baseline and r["diff"] == r["diff"]:
                text += "\nΔ " + _fmt(r["diff"], r["diff_low"], r["diff_high"], signed=True)
            cells.append(text)
        main.add_row(label, *cells)
    ce = Table(title="Cost-effectiveness: change in the focus integration index per 万元 of "
                     "extra public spending (paired means)")
    for col in ("scenario", "extra spending (万元)", "index gain", "gain per 万元"):
        ce.add_column(col)
    for r in cmp.cost_effectiveness.itertuples():
        if r.scenario == cmp.baseline:
            continue
        per = "n/a (no extra spending)" if r.index_gain_per_wan != r.index_gain_per_wan \
            else f"{r.index_gain_per_wan:.3g}"
        ce.add_row(r.scenario, f"{r.extra_cost_wan:,.0f}", f"{r.index_gain:+.4g}", per)
    return [main, ce]
