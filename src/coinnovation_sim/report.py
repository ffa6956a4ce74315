"""Readable tables of a comparison for the terminal (rich); no model imports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from .experiment import Comparison

#: Outcomes shown in the terminal tables: (metric, short header, decimals).
HEADLINE: tuple[tuple[str, str, int], ...] = (
    ("focus_integration_index", "integration", 3),
    ("focus_integration_index_cross_province", "x-province", 3),
    ("focus_knowledge", "knowledge", 3),
    ("focus_net_talent_inflow_total", "net talent", 0),
    ("region_integration_index", "region", 3),
    ("policy_cost_wan_total", "spending 万元", 0),
)


def _fmt(mean: float, lo: float, hi: float, decimals: int, signed: bool = False) -> str:
    """``mean±half-width`` of a symmetric confidence interval with fixed decimals."""
    sign = "+" if signed else ""
    return f"{mean:{sign},.{decimals}f}±{(hi - lo) / 2:,.{decimals}f}"


def comparison_tables(cmp: Comparison) -> list[Table]:
    """Rich tables: levels per scenario, paired differences to the baseline, cost-effectiveness.

    Parameters
    ----------
    cmp : Comparison
        A finished comparison.

    Returns
    -------
    list of rich.table.Table
        Levels (mean ±95 % CI), paired differences (Δ ±95 % CI) with cost-effectiveness.
        Every outcome is in ``summary.csv``/``summary.md``; ``docs/metrics.md`` defines them.
    """
    s = cmp.summary.set_index(["metric", "scenario"])
    scenarios = [sc["name"] for sc in cmp.manifest["scenarios"]]
    shown = [row for row in HEADLINE if row[0] in s.index.get_level_values(0)]
    n = len(cmp.seeds)
    levels = Table(title=f"Focus-place outcomes, mean±95% CI, {n} replications (last 12 months; "
                         "net talent inflow (person-months) and spending summed over the run)")
    diffs = Table(title=f"Paired difference to '{cmp.baseline}' ±95% CI (common random numbers); "
                        "gain/万元: integration index gain per 万元 of extra public spending")
    for table in (levels, diffs):
        table.add_column("scenario", no_wrap=True)
        for _, header, _ in shown:
            table.add_column(header, justify="right", no_wrap=True)
    diffs.add_column("gain/万元", justify="right", no_wrap=True)
    ce = cmp.cost_effectiveness.set_index("scenario")
    for sc in scenarios:
        levels.add_row(sc, *[_fmt(*s.loc[(m, sc), ["mean", "ci_low", "ci_high"]], d)
                             for m, _, d in shown])
        if sc == cmp.baseline:
            continue
        cells = [_fmt(*s.loc[(m, sc), ["diff", "diff_low", "diff_high"]], d, signed=True)
                 for m, _, d in shown]
        per = ce.loc[sc, "index_gain_per_wan"] if sc in ce.index else float("nan")
        cells.append("n/a" if per != per else f"{per:.1e}")
        diffs.add_row(sc, *cells)
    return [levels, diffs]
