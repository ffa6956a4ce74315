"""Behavioural parameters, declared once.

Each :class:`ParamSpec` carries the default, the unit, the hard validity bounds (enforced: a value
outside them is refused), the plausible range (advisory: a value outside it runs with a warning),
and the source of the default or the assumption behind it. The scenario schema, the documentation
table (``docs/parameters.md``) and later the sweep samplers all read this one list.

Money is in 万元 (wan, 10,000 yuan); time in months; talent in persons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ParamSpec:
    """Declaration of one behavioural parameter.

    Parameters
    ----------
    name : str
        Key under ``parameters:`` in a scenario file.
    default : float
        Value used when the scenario does not set it.
    unit : str
        Unit of the value ("1" for dimensionless).
    lower, upper : float
        Hard validity bounds (inclusive); values outside are rejected.
    plausible : tuple of float
        Range a researcher would consider plausible; values outside run with a warning.
    source : str
        Literature source of the default, or the stated assumption.
    meaning : str
        One-line description.
    integer : bool
        Whether the value must be a whole number.
    """

    name: str
    default: float
    unit: str
    lower: float
    upper: float
    plausible: tuple[float, float]
    source: str
    meaning: str
    integer: bool = False


ASSUMPTION = "model assumption (not calibrated; see docs/calibration.md)"
#: Source note of the parameters fitted by ``coinnovation-sim calibrate``.
CALIBRATED = ("value fitted by the shipped calibration (scenarios/calibration/default.yaml; "
              "docs/calibration.md)")

PARAMETERS: tuple[ParamSpec, ...] = (
    # --- friction between places -------------------------------------------------------------
    ParamSpec("distance_decay_km", 416.0, "km", 1.0, 10_000.0, (20.0, 600.0),
              "gravity kernel exp(-d/lambda); Hoekman, Frenken & Tijssen 2010 (distance effect on "
              "collaboration); " + CALIBRATED,
              "distance over which interaction falls by a factor e"),
    ParamSpec("barrier_place", 0.2, "1", 0.0, 0.99, (0.0, 0.5),
              "border effect on collaboration, Hoekman et al. 2010; value " + ASSUMPTION,
              "friction of crossing a place (district/county) boundary within one city"),
    ParamSpec("barrier_city", 0.4, "1", 0.0, 0.99, (0.0, 0.7),
              "border effect, Hoekman et al. 2010; value " + ASSUMPTION,
              "additional friction of crossing a prefecture-level city boundary"),
    ParamSpec("barrier_province", 0.324, "1", 0.0, 0.99, (0.0, 0.8),
              "border effect, Hoekman et al. 2010; hukou and social-insurance portability; "
              + CALIBRATED + " (searched within the prior range 0.2-0.5, Anderson & van Wincoop "
              "2003; identified only indirectly, by the hub target)",
              "additional friction of crossing a provincial boundary"),
    # --- knowledge ----------------------------------------------------------------------------
    ParamSpec("knowledge_depreciation", 0.012, "1/month", 0.0, 0.5, (0.004, 0.03),
              "R&D capital depreciation ~15 %/year (Griliches 1979; Hall, Mairesse & Mohnen 2010)",
              "monthly depreciation of knowledge stocks"),
    ParamSpec("rd_productivity", 0.03, "knowledge/(person^beta month)", 0.0, 10.0, (0.005, 0.1),
              "Griliches-Jaffe knowledge production; scale " + ASSUMPTION,
              "knowledge produced per month per unit of (R&D talent)^beta"),
    ParamSpec("rd_elasticity", 0.5, "1", 0.0, 1.0, (0.3, 0.8),
              "decreasing returns to R&D labour (Jaffe 1989: elasticities 0.3-0.8)",
              "elasticity beta of knowledge production in R&D talent"),
    ParamSpec("rd_talent_share", 0.3, "1", 0.0, 1.0, (0.1, 0.6),
              ASSUMPTION + " (share of a high-tech firm's talent in R&D)",
              "share of a firm's talent working on R&D"),
    ParamSpec("absorptive_half", 3.0, "knowledge", 1e-6, 1e4, (0.5, 20.0),
              "absorptive capacity rises with own stock (Cohen & Levinthal 1990); " + ASSUMPTION,
              "own knowledge stock at which absorptive capacity is one half"),
    ParamSpec("learning_rate", 0.25, "1", 0.0, 1.0, (0.05, 0.6),
              "SKIN-style learning (Gilbert, Pyka & Ahrweiler 2001); " + ASSUMPTION,
              "share of the absorbable knowledge gap closed by one transaction"),
    ParamSpec("spillover_rate", 0.01, "1/month", 0.0, 1.0, (0.001, 0.05),
              "distance-decayed knowledge spillovers (Jaffe, Trajtenberg & Henderson 1993); "
              + ASSUMPTION,
              "monthly share of the absorbable gap to the place pools closed by spillovers"),
    ParamSpec("institute_knowledge_factor", 3.0, "1", 0.0, 100.0, (1.0, 10.0),
              ASSUMPTION,
              "institutes' initial knowledge relative to the regional mean firm, scaled by "
              "sqrt(research_strength / mean research strength)"),
    # --- output and wages ----------------------------------------------------------------------
    ParamSpec("talent_elasticity", 0.8, "1", 0.05, 0.95, (0.6, 0.9),
              "labour share in value added, NBS input-output tables ~0.5-0.6 incl. capital; "
              "here talent-only production; " + ASSUMPTION,
              "elasticity theta of revenue in talent; start is an optimum at margin 1/theta-1"),
    ParamSpec("knowledge_elasticity", 0.15, "1", 0.0, 1.0, (0.05, 0.3),
              "elasticity of output to R&D stock 0.05-0.3 (Hall, Mairesse & Mohnen 2010)",
              "elasticity gamma of revenue in (1 + knowledge / regional mean)"),
    ParamSpec("overhead_share", 0.15, "1", 0.0, 10.0, (0.0, 0.24),
              "non-talent operating costs (rent, materials, services); " + ASSUMPTION,
              "fixed monthly overhead relative to the firm's initial wage bill (start margin "
              "is 1/theta - 1 - overhead_share)"),
    ParamSpec("productivity_volatility", 0.03, "1/sqrt(month)", 0.0, 1.0, (0.01, 0.08),
              "persistent firm productivity shocks (Hopenhayn 1992); " + ASSUMPTION,
              "standard deviation of monthly log-productivity shocks"),
    ParamSpec("productivity_reversion", 0.02, "1/month", 0.0, 1.0, (0.005, 0.1),
              ASSUMPTION, "monthly pull of log-productivity back to the firm's long-run level"),
    # --- talent --------------------------------------------------------------------------------
    ParamSpec("talent_per_firm", 25.0, "persons", 1.0, 10_000.0, (5.0, 200.0),
              "R&D and technical staff per innovation-active firm; " + ASSUMPTION,
              "mean talent employed by a real firm at start"),
    ParamSpec("quit_rate", 0.015, "1/month", 0.0, 1.0, (0.005, 0.04),
              "annual voluntary turnover ~15-20 % in Chinese high-tech firms; " + ASSUMPTION,
              "monthly share of a firm's talent that quits into the local job-seeker pool"),
    ParamSpec("retirement_rate", 0.002, "1/month", 0.0, 0.1, (0.001, 0.005),
              "~40-year working life; " + ASSUMPTION,
              "monthly share of talent leaving the workforce (a recorded sink)"),
    ParamSpec("graduation_rate", 0.006, "persons/(researcher month)", 0.0, 1.0, (0.002, 0.03),
              "graduates and trained staff per public researcher; " + ASSUMPTION,
              "new talent trained by institutes per researcher per month (a recorded source)"),
    ParamSpec("wage_elasticity", 2.0, "1", 0.0, 20.0, (0.5, 5.0),
              "logit migration on wages (Guersoy & Badur 2021); " + ASSUMPTION,
              "weight of the destination wage in job seekers' place choice"),
    ParamSpec("vacancy_elasticity", 1.0, "1", 0.0, 5.0, (0.5, 1.5),
              ASSUMPTION, "weight of the destination's vacancies in job seekers' place choice"),
    ParamSpec("hiring_speed", 0.1, "1/month", 0.0, 1.0, (0.02, 0.3),
              ASSUMPTION, "share of the gap to target talent a firm tries to fill in a month"),
    ParamSpec("search_intensity", 0.6, "1/month", 0.0, 1.0, (0.2, 1.0),
              ASSUMPTION, "share of a place's job seekers that apply somewhere in a month"),
    # --- technology ----------------------------------------------------------------------------
    ParamSpec("search_probability", 0.08, "1/month", 0.0, 1.0, (0.02, 0.3),
              ASSUMPTION, "probability that a firm looks for a technology partner in a month"),
    ParamSpec("candidates_per_search", 2, "partners", 1, 20, (1, 5),
              "bounded candidate sampling keeps matching O(N); " + ASSUMPTION,
              "candidates a searching firm evaluates", integer=True),
    ParamSpec("collaboration_share", 0.3, "1", 0.0, 1.0, (0.1, 0.6),
              ASSUMPTION, "share of searches that look for a firm (joint R&D) not an institute"),
    ParamSpec("service_price_wan", 15.0, "万元", 0.0, 10_000.0, (2.0, 100.0),
              "typical institute service contract; JKT vouchers of 10 万元 per firm (article); "
              + ASSUMPTION,
              "price of one institute technology service or licence"),
    ParamSpec("collaboration_cost_wan", 10.0, "万元", 0.0, 10_000.0, (2.0, 100.0),
              ASSUMPTION, "each partner's outlay on one joint R&D project"),
    ParamSpec("transaction_cost_wan", 2.0, "万元", 0.0, 1_000.0, (0.0, 20.0),
              "search and contracting cost (Williamson); " + ASSUMPTION,
              "transaction cost of a deal between neighbours, grown by friction as 1/phi"),
    ParamSpec("knowledge_value_wan", 60.0, "万元/knowledge", 0.0, 1e6, (10.0, 500.0),
              ASSUMPTION, "value a firm puts on one unit of absorbed knowledge"),
    ParamSpec("institute_capacity", 0.05, "services/(researcher month)", 0.0, 10.0, (0.01, 0.2),
              "shared instruments and services (JKT platform: 1,705 instruments, 130+ bodies); "
              + ASSUMPTION,
              "services an institute can deliver per researcher per month"),
    # --- capital -------------------------------------------------------------------------------
    ParamSpec("capital_buffer_months", 6.0, "months", 0.0, 120.0, (2.0, 18.0),
              ASSUMPTION, "months of wage bill a firm wants to hold as capital"),
    ParamSpec("investment_rate", 0.08, "1/month", 0.0, 1.0, (0.02, 0.3),
              ASSUMPTION, "share of a place's investable pool placed with firms each month"),
    ParamSpec("return_elasticity", 2.0, "1", 0.0, 20.0, (0.5, 5.0),
              ASSUMPTION, "weight of expected return (profit margin) in investors' place choice"),
    ParamSpec("repayment_rate", 0.02, "1/month", 0.0, 1.0, (0.005, 0.1),
              "~4-year average maturity of bank credit and fund exits; " + ASSUMPTION,
              "share of outstanding investment repaid to the investing place each month"),
    ParamSpec("savings_rate", 0.5, "1", 0.0, 1.0, (0.1, 0.9),
              ASSUMPTION, "share of capital above the firm's target deposited in the local pool"),
    ParamSpec("pool_gdp_share", 0.01, "1", 0.0, 1.0, (0.001, 0.05),
              ASSUMPTION + " (venture and technology credit relative to local GDP)",
              "initial investable pool for innovation relative to annual GDP"),
    # --- demography ----------------------------------------------------------------------------
    ParamSpec("exit_months", 6, "months", 1, 120, (3, 24),
              ASSUMPTION, "months of negative capital after which a firm exits", integer=True),
    ParamSpec("entry_rate", 0.004, "1/month", 0.0, 0.2, (0.001, 0.01),
              "firm birth rate ~5 %/year among innovation-active firms; " + ASSUMPTION,
              "monthly founding rate relative to a place's live firms, scaled by its attraction"),
)

PARAMS_BY_NAME: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}


def defaults() -> dict[str, float]:
    """Return the default value of every parameter.

    Returns
    -------
    dict
        Parameter name to default value.
    """
    return {p.name: p.default for p in PARAMETERS}


def check_value(spec: ParamSpec, value: object) -> str | None:
    """Check one value against its declaration.

    Parameters
    ----------
    spec : ParamSpec
        The declaration.
    value : object
        The value given by the user.

    Returns
    -------
    str or None
        ``None`` when valid, otherwise a description of what was expected.
    """
    kind = "a whole number" if spec.integer else "a number"
    expected = f"expected {kind} in [{spec.lower:g}, {spec.upper:g}] ({spec.unit})"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{expected}, got {value!r}"
    if not math.isfinite(float(value)):
        return f"{expected}, got {value!r}"
    if spec.integer and float(value) != int(value):
        return f"{expected}, got {value!r}"
    if not spec.lower <= float(value) <= spec.upper:
        return f"{expected}, got {value!r}"
    return None


def is_plausible(spec: ParamSpec, value: float) -> bool:
    """Whether a valid value lies within the plausible range.

    Parameters
    ----------
    spec : ParamSpec
        The declaration.
    value : float
        A value that passed :func:`check_value`.

    Returns
    -------
    bool
        True when inside the plausible range.
    """
    lo, hi = spec.plausible
    return lo <= float(value) <= hi
