"""Base classes of policy mechanisms: the seam through which scenarios act on the core.

A mechanism is a class with a ``name`` (its key under ``mechanisms:``), the flow channels and
accounts it records, and hooks the model calls each month: ``set_levers`` (all mechanisms, before
the friction kernel is recomputed), ``before_step`` (actions, after it), the technology hooks
during matching, ``after_step`` and ``metrics``. It acts only through the documented levers of
:class:`coinnovation_sim.model.CoinnovationModel`:

* ``barrier_multiplier[factor]`` (P×P, in [0, 1]): scales the administrative barriers of place
  pairs for one factor (talent, technology, capital);
* ``transaction_multiplier`` (P×P, > 0): scales technology transaction costs;
* ``firms.unit_place``: where a firm's unit operates (its talent pool and institutes);
* ``policy_cost`` (steps × P): public spending booked by the paying government;
* technology hooks: ``extra_candidates``, ``quote_terms``, ``settle_subsidy``;

and draws only from its own random stream, ``model.stream(name)``.

Mechanisms are switched by ``mechanisms.<name>.enabled``; a mechanism module that does not
register a class in :data:`coinnovation_sim.mechanisms.REGISTRY` is refused at validation when
enabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..flows import Account, Channel

MAX_STEPS = 1200


class StrictModel(BaseModel):
    """Pydantic model that rejects unknown keys and does not coerce types."""

    model_config = ConfigDict(extra="forbid", strict=True)


class MechanismConfig(StrictModel):
    """Switch and active window shared by every mechanism's scenario section."""

    enabled: bool = False
    start: int = Field(0, ge=0, le=MAX_STEPS, description="first active month")
    end: int | None = Field(None, ge=0, le=MAX_STEPS, description="last active month (inclusive)")

if TYPE_CHECKING:
    import numpy as np

    from ..model import CoinnovationModel
    from ..technology import Search


class Mechanism:
    """Base class of policy mechanisms.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    config : pydantic model
        The mechanism's validated scenario section.
    """

    name: ClassVar[str] = ""
    channels: ClassVar[tuple[Channel, ...]] = ()
    accounts: ClassVar[tuple[Account, ...]] = ()

    def __init__(self, model: CoinnovationModel, config: object) -> None:
        self.model = model
        self.config = config
        self.rng: np.random.Generator = model.stream(f"mechanism:{self.name}")

    def active(self, t: int) -> bool:
        """Whether month ``t`` lies in the mechanism's ``start``..``end`` window."""
        end = getattr(self.config, "end", None)
        return getattr(self.config, "start", 0) <= t and (end is None or t <= end)

    def set_levers(self, t: int) -> None:
        """Set this month's levers (barrier and transaction-cost multipliers, meeting costs).

        Runs for every active mechanism before the friction kernel is recomputed and before any
        mechanism's :meth:`before_step`.
        """

    def before_step(self, t: int) -> None:
        """Act before the core kernels of month ``t`` (levers and friction already set)."""

    def after_step(self, t: int) -> None:
        """Observe the month's outcomes (payoffs, budgets) after the core kernels of month ``t``."""

    def metrics(self, t: int) -> dict[str, float]:
        """Mechanism outcomes of month ``t`` for the per-step metrics table.

        Column names start with the mechanism's name (e.g. ``vouchers_spent_wan``); they exist
        only when the mechanism is enabled, so a disabled mechanism leaves the table unchanged.
        Called every month of the run (inside and outside the active window).
        """
        return {}

    def extra_candidates(self, search: Search) -> None:
        """Offer searching firms extra candidates (call ``technology.consider``); default none."""

    def quote_terms(self, search: Search) -> tuple[np.ndarray, np.ndarray] | None:
        """Subsidies the mechanism quotes to the searchers' candidates; default none.

        Returns ``(amount, pairs)``: searcher ``i``'s valid candidate at place ``d`` is quoted
        ``amount[i]`` (万元 per real firm) where ``pairs[home_i, d]`` (P×P bool), else 0; quotes
        of several mechanisms add up. Asked once per search (the terms must not change while
        its candidates are considered); ``None``: no quotes.
        """
        return None

    def settle_subsidy(self, search: Search, deal: np.ndarray) -> np.ndarray | None:
        """Confirm subsidies of the agreed deals; return which keep theirs (None: not involved)."""
        return None


