r"""Enclave parks (飞地): firms of a home place run their unit inside a host place.

A park ``k`` is run by its *home* government inside a *host* place (JKT: Suzhou runs an S&T park
in Jiading, Jiading an industrial park in Suzhou, with equal policy treatment; research enclaves
of a weaker place inside a stronger one are the usual practice). A member firm keeps its home
(``firms.place``: statistics, every place-based policy such as vouchers, the flows it makes) and
moves its unit (``firms.unit_place = host``): the core then hires its talent from the host's pool
at the host's wage, searches technology partners and learns from knowledge pools from the host,
at host-local friction, and records those flows between the host and the home place.

Rules (one step = one month; money in 万元; sums over real firms ``w_i``)
--------------------------------------------------------------------------

**Firm decision.** Each month a firm reviews its location with probability ``review_probability``
(one uniform draw per firm slot from the mechanism's stream). A reviewing firm of place ``h``
values a unit in the host ``x`` of each open park of its home by the expected monthly gain

.. math::

    G_i(x) = [\bar\pi_i(x) - \bar\pi_i(h)] + [K_i(x) - K_i(h)] - c^{unit}_k,

where, for a unit operating at place ``o``:

* :math:`\bar\pi_i(o)` is the operating profit averaged over a projection of ``horizon_months``
  with the core's own hiring rule: :math:`T \leftarrow T + s\,f_o \max(0, T^*_o - T) - s
  \max(0, T - 1.05\,T^*_o)`, :math:`\pi = a T^\theta q - w_o T - \text{overhead}`, with the wage
  :math:`w_o` and target talent :math:`T^*_o` of the core's production functions for a unit at
  ``o``, ``s`` the hiring speed and :math:`f_o` the share of vacancies place ``o``'s job seekers
  fill at this month's state (talent access);
* :math:`K_i(o)` is the knowledge the firm can expect to reach from ``o``, valued at
  ``knowledge_value_wan``: spillovers from every place pool with the row-normalised friction
  :math:`\psi_{o\cdot}` (the core's spillover rule), plus the expected net value of one search
  month, :math:`p_{search}\sum_{j\in\{inst, firm\}} \sigma_j \sum_b q^j_{ob}\max(0, V^j_{ib} -
  price_j - c_{tc}\,m_{ob}/\phi_{ob})`, with :math:`q^j_{ob}` the core's partner-place draw
  probabilities (friction × capacity-and-knowledge weight) and :math:`V^j_{ib}` the value of
  learning from the representative institute or firm of place ``b`` (institute access);
* :math:`c^{unit}_k` (``unit_cost_wan``) the firm's own cost of running a unit away from home
  (travel, duplicated management), paid from its capital every month it is a member (capital
  account ``enclave_unit_costs``, a sink).

A firm with positive capital applies to the park with the largest positive
:math:`G_i(x) - c^{setup}_k / H` (``setup_cost_wan`` spread over the horizon ``H``), provided its
capital can finance the setup and ``H`` months of the unit's projected cash profit,
:math:`C_i - c^{setup}_k + H\,[\bar\pi_i(x) - c^{unit}_k] \ge 0`: knowledge is worth money but
does not pay wages. A park admits its applicants in decreasing order of that gain until its
capacity (real firms, the sum of ``firm_weight``) is used; the others stay at home and may apply
again at a later review. Admitted firms pay the setup cost (account ``enclave_unit_costs``). A
reviewing member leaves when :math:`G_i(x) < 0` or when its capital can no longer finance ``H``
months of the unit (the setup cost is sunk, so members stay inside a band where applicants would
not join). A member that exits (demography) frees its place; a new firm in its slot starts at home.

**Tax rule.** The unit's share ``unit_revenue_share`` :math:`\rho` of a member's revenue is taxed in
the host at ``tax_rate`` :math:`\tau`, and the host returns ``tax_share_home`` :math:`\sigma` of that
tax to the home government, recorded as a capital flow host → home on channel ``tax_share``. The
model's firm profits are pre-tax everywhere, so the rule changes *where* tax is collected, not what
firms pay: these are government flows, outside the firm and pool capital stock (no account).

**Government payoffs** of park ``k`` per month, with :math:`R_k = \rho\sum w_i R_i` (revenue
attributed to the units), :math:`E_k = \sum w_i s_i T_i` (talent the units employ in the host,
with :math:`s_i` the unit's staff share), :math:`N_k`
the real firms in the park and :math:`V_k = \sum w_i [K_i(x) - K_i(h)]` the knowledge access the
home's firms gain (valued at the start of the month, once admissions are done):

.. math::

    \Pi^{host}_k &= (1-\sigma)\tau R_k + \epsilon E_k - c^{host}_k N_k, \\
    \Pi^{home}_k &= \sigma\tau R_k - \tau R_k - \epsilon E_k + V_k
                    - (c^{fixed}_k + c^{public}_k N_k),

with :math:`\epsilon` (``employment_value_wan``) the fiscal value to a government of one local job
per month. The home counts the tax base and jobs its firms moved out against the tax returned, so
tax and jobs are transfers between the two governments and
:math:`\Pi^{host}_k + \Pi^{home}_k = V_k - c^{fixed}_k - (c^{public}_k + c^{host}_k) N_k`. The
home's park costs :math:`c^{fixed}_k + c^{public}_k N_k` (leased space at market rent, services:
the home-place treatment of its firms) are public spending booked in ``policy_cost[t, home]``.

**Government decisions.** A government whose payoff has been negative for ``patience_months``
consecutive months stops admitting new firms to the park (members stay); admission resumes when
its payoff is non-negative again. If the payoff stays negative for another ``patience_months``,
the government closes the park for good: every unit returns home and the park costs nothing from
the next month. At the end of the mechanism's window (``end``) every unit returns home.

**Nothing to do.** Parks with zero capacity are inert; with no park of positive capacity the
mechanism draws nothing, books nothing, changes no lever and reports no metrics, so the run is
identical, byte for byte, to one without the section.

Simplifications: a unit holds the share ``unit_staff_share`` of the firm's staff (1: a production
unit holding all of it; about the R&D share for a research unit), hired in the host at the host's
wage while the rest stays at home; with a whole-firm unit in a dearer host the firm's target
talent falls steeply with the wage, so such units pay off mainly for small, knowledge-hungry
firms; firms value one search candidate rather than the best of several and ignore institutes' capacity
rationing; a government values the knowledge its firms gain at the firms' own valuation; the
tax is notional (firms pay none in the model).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from ..firm_passes import target_talent_base_at
from ..flows import Account, Channel
from ..kernels import row_sums
from ..knowledge import _EPS as KNOWLEDGE_EPS
from ..production import quality
from . import kernels as mk
from .base import MAX_STEPS, Mechanism, MechanismConfig, StrictModel

if TYPE_CHECKING:
    from ..model import CoinnovationModel

#: Layoff threshold of the core's talent rule (firms shed talent above 1.05 T*).
LAYOFF_SLACK = 1.05


class Park(StrictModel):
    """One enclave park: firms of ``home`` run a unit inside ``host``."""

    home: str = Field(description="place id whose firms may run a unit in the park; its government "
                                  "runs and pays for the park")
    host: str = Field(description="place id where the park lies (must differ from home)")
    capacity: int = Field(20, ge=0, le=1_000_000,
                          description="real firms the park can hold at once (0: inert park); "
                                      "assumption, scenario choice")
    tax_rate: float = Field(0.03, ge=0, le=1, allow_inf_nan=False,
                            description="local tax revenue per unit of firm revenue, 1; assumption: "
                                        "local half of VAT (~4.5% of revenue) plus local 40% of "
                                        "corporate income tax (~2% of revenue) ≈ 3%")
    unit_revenue_share: float = Field(1.0, ge=0, le=1, allow_inf_nan=False,
                                      description="share of a member's revenue attributed to its unit "
                                                  "and taxed in the host, 1; assumption: 1 for a "
                                                  "production unit; lower it (e.g. to the unit's "
                                                  "staff share) for research units whose output is "
                                                  "booked at home")
    tax_share_home: float = Field(0.5, ge=0, le=1, allow_inf_nan=False,
                                  description="share of the tax collected in the host that is returned "
                                              "to the home government, 1; assumption: equal split, "
                                              "common in enclave agreements")
    unit_cost_wan: float = Field(1.0, ge=0, allow_inf_nan=False,
                                 description="member firm's own cost of running its unit away from "
                                             "home (travel, duplicated management), 万元/month per "
                                             "real firm; assumption")
    setup_cost_wan: float = Field(12.0, ge=0, allow_inf_nan=False,
                                  description="member firm's one-off cost of setting up its unit (fit-out, "
                                              "registration, moving), 万元 per real firm; a firm joins "
                                              "only if its monthly gain exceeds this cost spread over "
                                              "horizon_months; assumption")
    public_cost_wan: float = Field(2.0, ge=0, allow_inf_nan=False,
                                   description="home government's cost per hosted real firm (space "
                                               "leased in the host at market rent, services), 万元/"
                                               "month; assumption: ~200 m² at ~3.5 yuan/m²/day")
    fixed_cost_wan: float = Field(20.0, ge=0, allow_inf_nan=False,
                                  description="home government's fixed cost of running the park "
                                              "(management company), 万元/month while open; "
                                              "assumption")
    unit_staff_share: float = Field(1.0, gt=0, le=1, allow_inf_nan=False,
                                    description="share of a member firm's staff working in its unit "
                                                "(hired from the host's pool at host wages), 1: 1 for "
                                                "a production unit, about rd_talent_share (0.3) for "
                                                "a research unit; scenario choice")
    host_cost_wan: float = Field(0.2, ge=0, allow_inf_nan=False,
                                 description="host government's net cost per hosted real firm (public "
                                             "services, crowding of local talent and institutes; the "
                                             "space is paid by the home), 万元/month; assumption")


class Config(MechanismConfig):
    """Scenario section ``mechanisms.enclaves``."""

    parks: list[Park] = Field(default_factory=list,
                              description="the enclave parks; none: the mechanism does nothing")
    review_probability: float = Field(0.25, ge=0, le=1, allow_inf_nan=False,
                                      description="probability per month that a firm reviews where its "
                                                  "unit operates, 1/month; assumption: a few "
                                                  "location reviews a year")
    horizon_months: int = Field(12, ge=1, le=MAX_STEPS,
                                description="months of operating profit a firm projects when comparing "
                                            "locations, months; assumption: one budget year")
    employment_value_wan: float = Field(0.1, ge=0, allow_inf_nan=False,
                                        description="fiscal value to a government of one local job, "
                                                    "万元/person-month; assumption: local share of "
                                                    "income tax and fees of a technical employee")
    patience_months: int = Field(12, ge=1, le=MAX_STEPS,
                                 description="months of negative payoff after which a government stops "
                                             "admitting new firms; as many more and it closes the "
                                             "park; assumption: one budget year")


class _Outlook:
    """What a unit at each place can reach this month: talent fill rates and knowledge offers.

    Built once per call from the model state, shared by every park's valuation.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    """

    def __init__(self, model: CoinnovationModel) -> None:
        f, inst, prm = model.firms, model.institutes, model.prm
        theta = prm["talent_elasticity"]
        self.model = model
        self.quality = quality(model)
        # target talent as production.target_talent computes it (its cache would miss: innovation
        # changed the firms' knowledge since); dead slots' values are never read
        base, _ = target_talent_base_at(theta, f.productivity, self.quality, model.wage, f.place,
                                        f.unit_place, f.unit_share, f.alive)
        tstar = np.power(base, 1.0 / (1.0 - theta))
        # the firms' sums of the place pools, the firm offers and the vacancies in one pass
        pool_f, count_f, kw_total, kw_num, vac = mk.outlook_sums(
            np.ascontiguousarray(f.unit_place, dtype=np.int64), f.alive, model.firm_weight(),
            f.knowledge, tstar, f.talent, f.capital, float(prm["hiring_speed"]), model.n_places)
        # share of vacancies each place's applicants would fill (the core's hiring rule), the
        # pools, the representative partners (institutes, firms) of each place with their draw
        # probabilities (friction × real agents × capacity × total knowledge, the core's search
        # weights), the row-normalised friction and the transaction costs; the powers are numpy's
        phi = model.phi["technology"]
        self.fill, basis, self.q, self.psi, self.tc = mk.outlook_terms(
            vac, model.wage ** prm["wage_elasticity"],
            np.power(np.maximum(vac, 1e-300), prm["vacancy_elasticity"]), model.phi["talent"],
            prm["search_intensity"] * model.talent_pool, pool_f, count_f, kw_total, kw_num,
            inst.place, np.ascontiguousarray(model.inst_weight(), float), inst.capacity,
            inst.knowledge, phi, model.transaction_multiplier, float(prm["transaction_cost_wan"]))
        # offer kinds (institute services, joint R&D with firms): the representative partner of
        # each place, partner-place draw probabilities, price and share of searches
        self.reps = basis[:2]
        self.pools = basis[2]
        # the representatives and the pools as one stack of transposed matrices: numpy's matmul
        # of a 2-d by a stacked operand calls BLAS per matrix as the 2-d products do (same bits)
        self.basis_t = basis.transpose(0, 2, 1)
        share = prm["collaboration_share"]
        self.prices = np.array([prm["service_price_wan"], prm["collaboration_cost_wan"]], float)
        self.kind_share = np.array([1.0 - share, share])

    def knowledge_gain(self, slots: np.ndarray, host: int) -> np.ndarray:
        """Knowledge-access gain ``K(host) − K(home)`` per firm, 万元 per month and real firm.

        ``K(o)``: the expected monthly value of the knowledge reachable from ``o``, spillovers plus
        the expected net value of technology deals (see the module docstring). The matrix
        products stay numpy's (BLAS, one matrix per alternative); the kernels do the
        elementwise chains.

        Parameters
        ----------
        slots : numpy.ndarray
            Firm slots (each compared with its own home place).
        host : int
            Host place index.
        """
        model = self.model
        prm = model.prm
        place = model.firms.place
        k = model.firms.knowledge[slots]
        value = prm["knowledge_value_wan"]
        dots = np.matmul(k, self.basis_t)       # k @ reps[m].T per kind, then k @ pools.T
        cap, worth, weights = mk.valuation_setup(slots, host, k, dots, self.pools, self.reps,
                                                 self.psi, place, value * prm["learning_rate"],
                                                 self.prices, float(prm["absorptive_half"]),
                                                 KNOWLEDGE_EPS)
        return mk.valuation_gain(slots, host, k, weights, np.matmul(weights, self.pools), cap,
                                 worth, self.q, self.kind_share, self.tc, place,
                                 value * prm["spillover_rate"], float(prm["search_probability"]))

    def gain(self, slots: np.ndarray, host: int, horizon: int, unit_cost: float,
             setup_cost: float = 0.0, share: float = 1.0) -> np.ndarray:
        """Expected monthly gain of a unit in ``host`` over operating at home.

        The operating profits are averaged over a projection of ``horizon`` months of the core's
        hiring rule with the unit at each place (talent path, numpy's powers for ``T*`` and
        ``T^θ``); the knowledge part is :meth:`knowledge_gain`.

        Parameters
        ----------
        slots : numpy.ndarray
            Firm slots (all of the same home place or not: each is compared with its own home).
        host : int
            Host place index.
        horizon : int
            Months of the profit projection.
        unit_cost : float
            The firm's monthly cost of running a unit away, 万元.
        setup_cost : float
            One-off cost still to pay to set the unit up (0 for members), 万元; it counts spread
            over the horizon.
        share : float
            Share of the firm's staff that would work in the unit (the park's
            ``unit_staff_share``).

        Returns
        -------
        numpy.ndarray
            ``G − setup_cost / horizon`` per firm, 万元 per month and real firm; negative wherever
            the firm's capital could not finance the setup cost and ``horizon`` months of the
            unit's projected cash profit ``π̄(x) − c_unit``.
        """
        model = self.model
        f, prm = model.firms, model.prm
        theta, speed = float(prm["talent_elasticity"]), float(prm["hiring_speed"])
        know = self.knowledge_gain(slots, host)
        w, base, hire, scale = mk.gain_setup(slots, host, f.place, f.alive, model.wage, self.fill,
                                             f.productivity, self.quality, float(share), theta,
                                             speed)
        # T* = base^(1/(1−θ)) and T^θ stay numpy's power (elementwise: one call for all months)
        path = mk.project_path(np.power(base, 1.0 / (1.0 - theta)), slots, f.alive, f.talent,
                               hire, speed, LAYOFF_SLACK, horizon)
        return mk.gain_finish(slots, know, path, np.power(path, theta), scale, w, f.overhead,
                              f.capital, float(unit_cost), float(setup_cost), horizon)


def member_revenue(model: CoinnovationModel, slots: np.ndarray) -> np.ndarray:
    """``production.revenue(model)[slots]``, computed for those firms only (same arithmetic).

    Monthly revenue per real firm ``a · max(T, 0)^θ · q`` with the knowledge quality ``q`` of
    :func:`~coinnovation_sim.production.quality` (0 for dead slots); elementwise, so each value
    has the bits of the whole-population computation (``tests/test_mech_enclaves.py`` checks it
    against :func:`~coinnovation_sim.production.revenue`).
    """
    f = model.firms
    theta = model.prm["talent_elasticity"]
    q = (1.0 + row_sums(f.knowledge[slots]) / model.knowledge_ref) ** model.prm["knowledge_elasticity"]
    r = f.productivity[slots] * np.power(np.maximum(f.talent[slots], 0.0), theta) * q
    return np.where(f.alive[slots], r, 0.0)


class Enclaves(Mechanism):
    """Enclave parks: firms decide to run a unit in a host; governments share tax and weigh payoffs.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    config : Config
        The validated ``mechanisms.enclaves`` section.

    Attributes
    ----------
    member : numpy.ndarray
        Park index of each firm slot's unit (-1: at home).
    is_open, admitting : numpy.ndarray
        Per park: not closed; accepting new firms.
    payoff_host, payoff_home : numpy.ndarray
        Per park: the governments' payoffs of the last active month, 万元.
    """

    name: ClassVar[str] = "enclaves"
    channels: ClassVar[tuple[Channel, ...]] = (Channel("capital", "tax_share", chosen=False),)
    accounts: ClassVar[tuple[Account, ...]] = (Account("capital", "enclave_unit_costs"),)

    def __init__(self, model: CoinnovationModel, config: Config) -> None:
        super().__init__(model, config)
        ids = model.places.ids
        parks = list(config.parks)
        n = len(parks)
        self.home = np.array([ids.index(pk.home) for pk in parks], dtype=np.int64)
        self.host = np.array([ids.index(pk.host) for pk in parks], dtype=np.int64)
        self.capacity = np.array([float(pk.capacity) for pk in parks])
        self.live = bool((self.capacity > 0).any())
        self.is_open = self.capacity > 0
        self.admitting = self.is_open.copy()
        self.neg_home = np.zeros(n, np.int64)
        self.neg_host = np.zeros(n, np.int64)
        #: Per park, the terms of its tax rule and its costs (the parks are fixed).
        self.park_terms = {key: np.array([float(getattr(pk, key)) for pk in parks])
                           for key in ("unit_revenue_share", "tax_rate", "tax_share_home",
                                       "host_cost_wan", "unit_cost_wan", "fixed_cost_wan",
                                       "public_cost_wan")}
        self.member = np.full(model.firms.n, -1, np.int64)
        #: The member slots, ascending: ``flatnonzero(member >= 0)``, kept with ``member``.
        self.inside = np.zeros(0, np.int64)
        self.member_id = np.full(model.firms.n, -1, np.int64)
        self.member_w = np.zeros(model.firms.n)
        self.finished = False
        self.cum = {"joined": 0.0, "left": 0.0, "exits": 0.0, "refused": 0.0,
                    "tax_returned_wan": 0.0, "public_cost_wan": 0.0}
        self.month: dict[str, float] = {}
        self.month_t = -1
        #: The metrics row of the last month with no park open and nothing recorded, with the
        #: state it depends on (the month's start, the admitting parks, the cumulative counts).
        self._closed_row: tuple[tuple | None, dict[str, float]] = (None, {})
        self.park_cost = np.zeros(n)
        self.value = np.zeros(n)
        self.payoff_host = np.zeros(n)
        self.payoff_home = np.zeros(n)
        if self.live:
            mk.warm_up()

    # ------------------------------------------------------------------ membership
    def _units(self) -> np.ndarray:
        """Real firms with a unit in each park."""
        return mk.park_units(self.inside, self.member, self.model.firm_weight(),
                             len(self.capacity))

    def _send_home(self, slots: np.ndarray) -> None:
        """Return the units of ``slots`` to their home places."""
        f = self.model.firms
        f.unit_place[slots] = f.place[slots]
        self.model.units_moved()
        f.unit_share[slots] = 1.0
        self.member[slots] = -1
        self.member_id[slots] = -1
        self.member_w[slots] = 0.0
        self.inside = self.inside[self.member[self.inside] >= 0]

    def _sync(self) -> None:
        """Drop members that exited (their slot freed, or refilled by a new firm at home)."""
        f = self.model.firms
        gone = mk.stale_members(self.inside, f.alive, f.firm_id, self.member_id)
        if len(gone):
            self.cum["exits"] += float(self.member_w[gone].sum())
            dead = gone[~f.alive[gone]]
            f.unit_place[dead] = f.place[dead]
            self.model.units_moved()
            f.unit_share[dead] = 1.0
            self.member[gone] = -1
            self.member_id[gone] = -1
            self.member_w[gone] = 0.0
            self.inside = self.inside[self.member[self.inside] >= 0]

    def _record(self, t: int, key: str, value: float) -> None:
        """Add ``value`` to this month's outcome ``key`` (reset when a new month starts)."""
        if self.month_t != t:
            self.month, self.month_t = {}, t
        self.month[key] = self.month.get(key, 0.0) + value

    # ------------------------------------------------------------------ hooks
    def before_step(self, t: int) -> None:
        """Members review and may leave, applicants join by gain up to capacity; costs are booked."""
        if not self.live or self.finished:
            return
        model, cfg = self.model, self.config
        f = model.firms
        w = model.firm_weight()
        self.value = np.zeros(len(self.capacity))
        self.park_cost = np.zeros(len(self.capacity))
        if not self.is_open.any():
            return                  # no park open: no members either (closed parks sent them home)
        self._sync()
        # who reviews (a uniform per slot): members, and firms at home free to apply (only
        # looked for while some park admits)
        u = self.rng.random(f.n)
        prob = float(cfg.review_probability)
        admitting = self.admitting.any()
        if admitting:
            reviewing, free = mk.review_slots(self.member, u, prob, f.alive, f.capital)
        else:
            inside = self.inside
            reviewing = inside[(u[inside] < prob) & f.alive[inside]]
        outlook = _Outlook(model)
        # members who review leave when their unit no longer pays
        leavers = []
        for k in np.flatnonzero(self.is_open):
            slots = reviewing[self.member[reviewing] == k]
            if len(slots):
                g = outlook.gain(slots, int(self.host[k]), cfg.horizon_months,
                                 cfg.parks[k].unit_cost_wan, share=cfg.parks[k].unit_staff_share)
                leave = slots[g < 0]
                self.cum["left"] += float(w[leave].sum())
                self._send_home(leave)
                leavers.append(leave)
        if admitting:
            # reviewing firms at home, leavers included
            if leavers:
                free = mk.with_leavers(free, np.sort(np.concatenate(leavers)), f.capital)
            self._admit(t, free, outlook)
        # knowledge access the members gain this month (the home governments' valuation)
        inside = self.inside
        for k in np.unique(self.member[inside]):
            slots = inside[self.member[inside] == k]
            know = outlook.knowledge_gain(slots, int(self.host[k]))
            self.value[k] = mk.knowledge_access(slots, know, w)
        # running costs of the month: firms' unit costs, home governments' park costs
        terms = self.park_terms
        where, booked, unit_costs, self.park_cost, park_total = mk.month_costs(
            inside, self.member, terms["unit_cost_wan"], w, f.capital,
            np.ascontiguousarray(f.place, dtype=np.int64), terms["fixed_cost_wan"],
            terms["public_cost_wan"], self.is_open, self.home, model.policy_cost[t])
        if len(inside):
            model.book.account_by("enclave_unit_costs", where, booked)
        self._record(t, "public_cost_wan", park_total)
        self._record(t, "unit_costs_wan", unit_costs)
        self.cum["public_cost_wan"] += park_total

    def _admit(self, t: int, free: np.ndarray, outlook: _Outlook) -> None:
        """Applicants ``free`` pick the admitting park of best gain; parks admit by gain."""
        model, cfg = self.model, self.config
        f = model.firms
        w = model.firm_weight()
        # each applicant's best gain and park, indexed like `free`
        free_home = f.place[free]
        best_gain = np.zeros(len(free))
        best_park = np.full(len(free), -1, np.int64)
        for k in np.flatnonzero(self.admitting):
            pos = np.flatnonzero(free_home == self.home[k])
            if not len(pos):
                continue
            pk = cfg.parks[k]
            g = outlook.gain(free[pos], int(self.host[k]), cfg.horizon_months,
                             pk.unit_cost_wan, pk.setup_cost_wan, share=pk.unit_staff_share)
            better = g > best_gain[pos]
            best_gain[pos[better]] = g[better]
            best_park[pos[better]] = k
        room = self.capacity - self._units()
        for k in range(len(self.capacity)):
            pos = np.flatnonzero(best_park == k)
            if not len(pos):
                continue
            slots = free[pos]
            order = slots[np.lexsort((slots, -best_gain[pos]))]
            fits = np.cumsum(w[order]) <= room[k] + 1e-9
            admit = order[fits]
            f.unit_place[admit] = self.host[k]
            self.model.units_moved()
            f.unit_share[admit] = cfg.parks[k].unit_staff_share
            self.member[admit] = k
            self.inside = np.sort(np.concatenate((self.inside, admit)))
            self.member_id[admit] = f.firm_id[admit]
            self.member_w[admit] = w[admit]
            setup = cfg.parks[k].setup_cost_wan
            f.capital[admit] -= setup
            model.book.account_by("enclave_unit_costs", f.place[admit], -w[admit] * setup)
            self._record(t, "unit_costs_wan", float((w[admit] * setup).sum()))
            self.cum["joined"] += float(w[admit].sum())
            self.cum["refused"] += float(w[order[~fits]].sum())

    def after_step(self, t: int) -> None:
        """Share the units' tax, weigh the governments' payoffs and let them decide."""
        if not self.live or self.finished or not self.is_open.any():
            return
        model, cfg = self.model, self.config
        f = model.firms
        w = model.firm_weight()
        self._sync()
        inside = self.inside
        terms = self.park_terms
        (pay_host, pay_home, shared, sums, self.neg_host, self.neg_home, closing,
         admitting) = mk.park_payoffs(
            inside, self.member, w, member_revenue(model, inside), f.talent, f.unit_share,
            terms["unit_revenue_share"], terms["tax_rate"], terms["tax_share_home"],
            float(cfg.employment_value_wan), terms["host_cost_wan"], self.value, self.park_cost,
            self.is_open, self.neg_host, self.neg_home, self.host, self.home,
            int(cfg.patience_months), model.n_places)
        if sums[1] > 0:
            model.book.add_matrix("tax_share", shared)
        self.payoff_host, self.payoff_home = pay_host, pay_home
        for key, val in zip(("tax_wan", "tax_returned_wan", "knowledge_value_wan",
                             "host_payoff_wan", "home_payoff_wan"), sums.tolist(), strict=True):
            self._record(t, key, val)
        self.cum["tax_returned_wan"] += float(sums[1])
        # governments: stop admitting after `patience` negative months, close after twice as many
        if closing.any():
            gone = self.inside[closing[self.member[self.inside]]]
            self.cum["left"] += float(w[gone].sum())
            self._send_home(gone)
            self.is_open &= ~closing
        self.admitting = admitting
        if cfg.end is not None and t >= cfg.end:
            self.cum["left"] += float(w[self.inside].sum())
            self._send_home(self.inside)
            self.is_open[:] = False
            self.admitting[:] = False
            self.finished = True

    def metrics(self, t: int) -> dict[str, float]:
        """Park outcomes of month ``t`` (none when no park has capacity: nothing changes then).

        Columns: ``enclaves_units`` (real firms with a unit in a park at the end of the month),
        per park ``enclaves_park<i>_units`` and ``enclaves_park<i>_open`` (1 open, 0 closed, inert or
        before ``start``), ``enclaves_units_talent`` (persons the units employ),
        ``enclaves_parks_open``, ``enclaves_parks_admitting``, the month's ``tax_wan`` collected
        by hosts, ``tax_returned_wan`` home, ``public_cost_wan`` (home governments),
        ``unit_costs_wan`` (firms), ``knowledge_value_wan`` (``Σ V_k``), ``host_payoff_wan`` and
        ``home_payoff_wan`` (``Σ Π``), and cumulative counters ending in ``_cum`` (real firms
        joined, left, exited, refused for lack of room; tax returned; public cost).
        """
        if not self.live:
            return {}
        f = self.model.firms
        started = t >= self.config.start
        state = None
        if self.is_open.any():
            units = self._units()
            staff = float(mk.members_staff(self.inside, self.model.firm_weight(), f.talent,
                                           f.unit_share))
        else:                       # no park open: no members (closed parks sent them home)
            if self.month_t != t:   # nothing recorded this month: the row is the state's
                state = (started, self.admitting.tobytes(), tuple(self.cum.values()))
                if self._closed_row[0] == state:
                    return dict(self._closed_row[1])
            units, staff = np.zeros(len(self.capacity)), 0.0
        month = self.month if self.month_t == t else {}
        n = len(self.capacity)
        row = {"enclaves_units": float(units.sum())}
        row.update(zip(_park_keys(n, "units"), units.tolist(), strict=True))
        row.update(zip(_park_keys(n, "open"), (self.is_open & started).astype(float).tolist(),
                       strict=True))
        row["enclaves_units_talent"] = staff
        row["enclaves_parks_open"] = float((self.is_open & started).sum())
        row["enclaves_parks_admitting"] = float((self.admitting & started).sum())
        for key in ("tax_wan", "tax_returned_wan", "public_cost_wan", "unit_costs_wan",
                    "knowledge_value_wan", "host_payoff_wan", "home_payoff_wan"):
            row[f"enclaves_{key}"] = month.get(key, 0.0)
        for key in ("joined", "left", "exits", "refused", "tax_returned_wan", "public_cost_wan"):
            row[f"enclaves_{key}_cum"] = self.cum[key]
        if state is not None:
            self._closed_row = (state, dict(row))
        return row


@functools.cache
def _park_keys(n: int, what: str) -> tuple[str, ...]:
    """Metric names ``enclaves_park<k>_<what>`` of ``n`` parks."""
    return tuple(f"enclaves_park{k}_{what}" for k in range(n))


MECHANISM = Enclaves
