"""Mesa agents: city governments, firms and research institutes.

Firms and institutes are handles onto the model-owned arrays (:mod:`coinnovation_sim.state`):
reading ``firm.talent`` reads the array, so users can inspect agents while every step runs
vectorised kernels over the whole population. Agents have no per-agent ``step``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from .model import CoinnovationModel


class CityGovernment(mesa.Agent):
    """The government of one place: budgets, policy levers, memberships.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    place : int
        Place index.
    """

    def __init__(self, model: CoinnovationModel, place: int) -> None:
        super().__init__(model)
        self.place = place
        #: Coordination bodies and schemes this government belongs to (filled by mechanisms).
        self.memberships: set[str] = set()

    @property
    def place_id(self) -> str:
        """Id of the governed place."""
        return self.model.places.ids[self.place]

    @property
    def spending_wan(self) -> float:
        """Public spending on innovation policy so far, 万元."""
        return float(self.model.policy_cost[:, self.place].sum())

    def __repr__(self) -> str:
        return f"CityGovernment({self.place_id})"


class Firm(mesa.Agent):
    """An innovation-active firm agent standing for ``weight`` real firms of its place.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    slot : int
        Row of the firm arrays.
    firm_id : int, optional
        The firm's id, ``model.firms.firm_id[slot]`` (read from there if not given).
    """

    def __init__(self, model: CoinnovationModel, slot: int, firm_id: int | None = None) -> None:
        super().__init__(model)
        self.slot = slot
        self.firm_id = int(model.firms.firm_id[slot]) if firm_id is None else firm_id

    @property
    def alive(self) -> bool:
        """Whether this firm is still active (a slot refilled by a new firm is a new agent)."""
        f = self.model.firms
        return bool(f.alive[self.slot] and f.firm_id[self.slot] == self.firm_id)

    @property
    def place_id(self) -> str:
        """Home place id."""
        return self.model.places.ids[int(self.model.firms.place[self.slot])]

    @property
    def weight(self) -> float:
        """Real firms this agent stands for."""
        return float(self.model.firm_weight()[self.slot])

    @property
    def knowledge(self) -> np.ndarray:
        """Knowledge vector over the technology fields (a copy)."""
        return self.model.firms.knowledge[self.slot].copy()

    @property
    def talent(self) -> float:
        """Talent employed, persons per real firm."""
        return float(self.model.firms.talent[self.slot])

    @property
    def capital(self) -> float:
        """Liquid capital, 万元 per real firm."""
        return float(self.model.firms.capital[self.slot])

    def __repr__(self) -> str:
        return f"Firm(id={self.firm_id}, place={self.place_id}, alive={self.alive})"


class ResearchInstitute(mesa.Agent):
    """A university, research institute or service platform agent.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    slot : int
        Row of the institute arrays.
    """

    def __init__(self, model: CoinnovationModel, slot: int) -> None:
        super().__init__(model)
        self.slot = slot

    @property
    def place_id(self) -> str:
        """Place id."""
        return self.model.places.ids[int(self.model.institutes.place[self.slot])]

    @property
    def knowledge(self) -> np.ndarray:
        """Knowledge vector (a copy)."""
        return self.model.institutes.knowledge[self.slot].copy()

    @property
    def researchers(self) -> float:
        """Researchers per real institute."""
        return float(self.model.institutes.researchers[self.slot])

    def __repr__(self) -> str:
        return f"ResearchInstitute(slot={self.slot}, place={self.place_id})"
