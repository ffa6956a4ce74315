"""Hypothesis strategies for scenario parameters.

Values are drawn from each :class:`~coinnovation_sim.parameters.ParamSpec`'s *plausible* range
(so no plausibility warning is emitted), as integers for integer specs.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from coinnovation_sim.parameters import PARAMETERS, ParamSpec


def param_value(spec: ParamSpec) -> st.SearchStrategy[float | int]:
    """A valid and plausible value of one parameter."""
    lo, hi = spec.plausible
    lo, hi = max(lo, spec.lower), min(hi, spec.upper)
    if spec.integer:
        return st.integers(int(lo), int(hi))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


#: Every parameter with its plausible-value strategy.
PARAM_STRATEGIES: dict[str, st.SearchStrategy[float | int]] = {
    p.name: param_value(p) for p in PARAMETERS
}


def parameter_dicts(min_size: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A ``parameters:`` mapping setting any subset of the parameters to plausible values."""
    strategy = st.fixed_dictionaries({}, optional=PARAM_STRATEGIES)
    if min_size:
        strategy = strategy.filter(lambda d: len(d) >= min_size)
    return strategy


def full_parameter_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """A ``parameters:`` mapping setting every parameter to a plausible value."""
    return st.fixed_dictionaries(PARAM_STRATEGIES)


def mixed_parameter_dicts() -> st.SearchStrategy[dict[str, Any]]:
    """Either some or all parameters set (hypothesis explores both shapes)."""
    return st.one_of(parameter_dicts(), full_parameter_dicts())
