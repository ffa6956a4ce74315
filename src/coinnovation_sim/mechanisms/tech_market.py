"""Cross-region technology trading and sharing platform (科技成果交易与共享平台).

The article's first strategy for Wujiang, modelled on the JKT technology-trade fair and the G60
platforms: participating places publish firms' technology needs and institutes' services, so
firms find partners in other participating places more cheaply. Levers:

* **search**: a searching firm whose unit operates in a member place draws ``extra_candidates``
  more candidates, from providers in member places only (the platform's listings), with the
  platform's own random stream;
* **matching cost**: transaction costs of deals between two different member places are
  multiplied by ``1 - search_cost_reduction`` (the ``transaction_multiplier`` lever); deals
  inside one place are not the platform's business;
* **fee**: the buyer pays ``fee_share`` of the price of every deal between two different member
  places, charged once the deal is agreed (a capital sink booked as ``platform_fees``);
* **public cost**: each member government pays ``operating_cost_wan_month``.

Government behaviour: once a year each member government compares the value its firms gained
from deals with other members (the knowledge they absorbed, valued at ``knowledge_value_wan``,
net of prices and fees) with its operating cost; after ``patience`` consecutive negative years
it leaves the platform. With fewer than two members the platform does nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from ..flows import Account
from ..technology import PlaceRows, candidate_rounds
from . import kernels as mk
from .base import Mechanism, MechanismConfig

if TYPE_CHECKING:
    from ..model import CoinnovationModel
    from ..technology import Search


class Config(MechanismConfig):
    """Scenario section ``mechanisms.tech_market``."""

    members: list[str] = Field(default_factory=lambda: ["g60"],
                               description="place ids or group names participating in the platform")
    extra_candidates: int = Field(2, ge=0, le=20,
                                  description="extra candidates a member's searching firm draws from "
                                              "the platform's listings (partners); assumption")
    search_cost_reduction: float = Field(0.5, ge=0, le=1, allow_inf_nan=False,
                                         description="share by which transaction costs between members "
                                                     "fall (1); assumption")
    fee_share: float = Field(0.03, ge=0, le=1, allow_inf_nan=False,
                             description="platform fee as a share of the deal price paid by the buyer "
                                         "(1); technology-market brokerage fees of a few per cent")
    operating_cost_wan_month: float = Field(10.0, ge=0, allow_inf_nan=False,
                                            description="operating cost per member government per "
                                                        "month, 万元; assumption")
    patience: int = Field(2, ge=1, le=100,
                          description="annual reviews with a negative payoff before a member leaves")


class TechMarket(Mechanism):
    """Technology trading platform among member places (see the module docstring).

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    config : Config
        The scenario section.
    """

    name = "tech_market"
    accounts = (Account("capital", "platform_fees"),)

    def __init__(self, model: CoinnovationModel, config: Config) -> None:
        super().__init__(model, config)
        self.members = np.zeros(model.n_places, bool)
        self.members[model.places.resolve(config.members)] = True
        self.gain = np.zeros(model.n_places)
        self.spent = np.zeros(model.n_places)
        self.strikes = np.zeros(model.n_places, np.int64)
        self.deals = 0.0
        self.deals_cum = 0.0
        self.fees = 0.0
        self._terms_of: bytes | None = None           # the membership of the terms kept
        self._running_of: bytes | None = None
        self._running = False
        self._terms: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 0), bool), np.zeros(0))
        mk.warm_up()

    def _member_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of different members (P×P) and each place's monthly operating cost.

        Rebuilt only when the membership changes (at most once a year).
        """
        key = self.members.tobytes()
        if key != self._terms_of:
            pair = self.members[:, None] & self.members[None, :]
            np.fill_diagonal(pair, False)
            cost = np.where(self.members, self.config.operating_cost_wan_month, 0.0)
            self._terms_of, self._terms = key, (pair, cost)
        return self._terms

    @property
    def running(self) -> bool:
        """Whether the platform has at least two members (kept until the membership changes)."""
        key = self.members.tobytes()
        if key != self._running_of:
            self._running_of, self._running = key, int(self.members.sum()) >= 2
        return self._running

    def set_levers(self, t: int) -> None:
        """Annual review of membership; lower transaction costs; book operating costs."""
        cfg = self.config
        if not self.running:
            return
        if t > cfg.start and (t - cfg.start) % 12 == 0:
            pay = self.gain - self.spent
            self.strikes = np.where(self.members & (pay < 0), self.strikes + 1, 0)
            self.members &= self.strikes < cfg.patience
            self.gain[:] = 0.0
            self.spent[:] = 0.0
            if not self.running:
                return
        pair, cost = self._member_terms()
        tm = self.model.transaction_multiplier       # tm[pair] *= 1 − reduction, in place
        np.multiply(tm, 1.0 - cfg.search_cost_reduction, out=tm, where=pair)
        self.model.policy_cost[t] += cost
        self.spent += cost

    def extra_candidates(self, search: Search) -> None:
        """Members' searchers draw extra candidates from member places' listings."""
        cfg = self.config
        if not self.running or cfg.extra_candidates == 0 or search.n == 0:
            return
        # the rows of _place_rows(search, active) for active = members[origin], and the number
        # of member searchers, in one call
        prob, cum, row, count = mk.platform_search_rows(
            np.ascontiguousarray(self.model.phi["technology"], dtype=np.float64), self.members,
            np.ascontiguousarray(search.firm_sampler.place_total(), dtype=np.float64),
            np.ascontiguousarray(search.inst_sampler.place_total(), dtype=np.float64),
            np.ascontiguousarray(search.origin, dtype=np.int64),
            np.ascontiguousarray(search.collab, dtype=bool))
        if not count:
            return
        # per round consider(model, search, *self._draw(search, active), active=active); the
        # mask need not be passed: the other searchers' rows are -1, so they draw no candidate
        candidate_rounds(self.model, search, PlaceRows(prob, row, cum),
                         self.rng.random((cfg.extra_candidates, 2, search.n)))

    def _place_rows(self, search: Search, active: np.ndarray) -> PlaceRows:
        """Where the member searchers draw the platform's candidate places.

        Rows (2P, P): friction to member places × their partner firms' total weight, normalised
        per origin, over the same for institutes. A member searcher at origin ``o`` draws from
        row ``o`` (joint R&D) or ``P + o`` (services); the others draw nothing (-1).
        """
        # rows, their running sums and each searcher's row in one call (mk.platform_rows)
        prob, cum, row = mk.platform_rows(
            np.ascontiguousarray(self.model.phi["technology"], dtype=np.float64), self.members,
            np.ascontiguousarray(search.firm_sampler.place_total(), dtype=np.float64),
            np.ascontiguousarray(search.inst_sampler.place_total(), dtype=np.float64),
            np.ascontiguousarray(search.origin, dtype=np.int64),
            np.ascontiguousarray(search.collab, dtype=bool), active)
        return PlaceRows(prob, row, cum)

    def _draw(self, search: Search, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``search.draw`` for the member searchers (``active``) only (-1, no candidate, elsewhere).

        Consumes the platform's stream exactly as :meth:`~coinnovation_sim.technology.Search.draw`
        does (a uniform per searcher for the place, then one for the partner) and draws each
        member searcher's candidate from its own uniforms, so the candidates are those of
        ``search.draw`` on the full rows; the others' candidates would be ignored by
        :func:`~coinnovation_sim.technology.consider` (``active``) and are not drawn.
        ``tests/test_mech_tech_market.py`` checks the equality.

        Parameters
        ----------
        search : Search
            The month's search.
        active : numpy.ndarray
            Searchers whose unit is in a member place (n,), bool.

        Returns
        -------
        dest, idx : numpy.ndarray
            Candidate place and partner per searcher (n,), -1 outside ``active``.
        """
        n = search.n
        u_place = self.rng.random(n)
        u = self.rng.random(n)
        return search.candidates(self._place_rows(search, active), u_place, u)

    def settle_subsidy(self, search: Search, deal: np.ndarray) -> np.ndarray | None:
        """Charge the platform fee on deals between members and record the members' gains."""
        if not self.running:
            return None
        model = self.model
        # the deals between two member places, their fees and the members' gains; the fees
        # booked (model.book.account("platform_fees", fees)) and self.gain += value in the same
        # call
        count, w_sum, paid_sum = mk.platform_fees_booked(
            deal, np.ascontiguousarray(search.origin, dtype=np.int64),
            np.ascontiguousarray(search.best_dest, dtype=np.int64), self.members,
            np.ascontiguousarray(search.searcher, dtype=np.int64),
            np.ascontiguousarray(search.home, dtype=np.int64), model.firm_weight(),
            np.ascontiguousarray(search.price, dtype=np.float64),
            np.ascontiguousarray(search.best_plain_net, dtype=np.float64),
            float(self.config.fee_share), model.firms.capital, model.n_places,
            model.book.account_row("platform_fees"), self.gain)
        if not count:
            return None
        self.deals += w_sum
        self.deals_cum += w_sum
        self.fees += paid_sum
        return None

    def metrics(self, t: int) -> dict[str, float]:
        """Members, deals between members (real firms) and fees of month ``t``."""
        row = {"tech_market_members": float(self.members.sum()),
               "tech_market_deals": self.deals,
               "tech_market_deals_cum": self.deals_cum,
               "tech_market_fees_wan": self.fees}
        self.deals = 0.0
        self.fees = 0.0
        return row


MECHANISM = TechMarket
