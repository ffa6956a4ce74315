"""Innovation vouchers (创新券 / 双创券), local or portable (通用通兑).

Issuer governments fund vouchers that their own small firms spend on technology services of
research institutes in eligible provider places. The voucher pays ``1 − copay_share`` of the
price of a service, up to the voucher's face value per firm and year. With ``cross_region: true``
(通用通兑, the demonstration zone's universal-redemption pilot) a voucher is redeemable at any
provider place; with ``false`` only at providers in the firm's own place.

A voucher acts on the core in two ways. (1) Through the technology hooks: ``quote_terms``
lowers a holder's price for candidates at eligible providers in its ordinary searches, and
``settle_subsidy`` books every redeemed subsidy (public spending of the issuer, and a capital
source ``voucher_subsidy`` for the firm). (2) Voucher projects: each month a holder with a
balance contracts one voucher-funded service through the voucher platform — a search restricted
to eligible providers, built from the core's own pieces (:class:`~coinnovation_sim.technology.Search`,
:func:`~coinnovation_sim.technology.consider` and the core's agreement and transaction
functions), so capacity rationing, payments, knowledge gains and flow records are the core's.
Without (2) a voucher would almost never be used: a firm searches only 8 % of months, and the
hubs' institutes it usually draws are worth far more than a subsidised service from a weak
local one. Behaviour — who applies, for how much, where to redeem, how much budget governments
commit — is described in :class:`Vouchers`.

Calibration (application behaviour only; budget not binding)
-------------------------------------------------------------
Target window: the first voucher year, months 0–11 (2020). The demonstration zone was founded in
November 2019 and the article's other demonstration-zone figure (32 institutional innovations)
is its first-year count, so the voucher figures are read as one year's applications; the same
window is taken for JKT (its platform figure is undated in the article). Targets: demonstration
zone (issuers ``demo_zone``, face value 50 万元, ``cross_region: true``) 69 firms applying for
3,450 万元; JKT (issuers ``jkt``, face value 10 万元) 147 firms for 1,470 万元. Scenarios
``demo-zone-vouchers-calibration.yaml`` and ``jkt-vouchers-calibration.yaml`` (20,000 firm
agents, budget 10⁶ 万元 per issuer so that no request is rationed). One set of behavioural
values (``awareness_rate``, ``application_cost_wan``, ``application_cost_sigma``) serves both;
the schemes differ only in their policy design (issuers, face value) and in what their firms
find at the eligible providers. The two behavioural values are fitted together with the
friction parameters by ``coinnovation-sim calibrate scenarios/calibration/default.yaml``
(docs/calibration.md): ``application_cost_wan`` sets the JKT/demonstration-zone ratio of
applicants (it binds on JKT's 10 万元 vouchers, hardly on 50 万元 ones), ``awareness_rate`` then
scales both. At the shipped defaults (``calibrate --check``, 30 fresh replications), month 11,
mean [95 % CI]:

==========================  ===========================  ==================================
configuration               firms applying (real)        requested, 万元
==========================  ===========================  ==================================
demonstration zone (50)     65.4 [61.0, 69.8]; target 69  3,149 [2,930, 3,368]; target 3,450
JKT (10)                    163.4 [155.6, 171.3]; t. 147  1,634 [1,556, 1,713]; target 1,470
==========================  ===========================  ==================================

The demonstration zone's amount is lower than firms × 50 万元 because some firms' best package
stops short of the cap; JKT's claims are all at the 10 万元 cap. No request was rationed. In the
same runs 8.4 % [7.1, 9.7] of the demonstration zone's voucher-funded services were additional —
far below the Dutch trial's ~80 % (a held-out validation that fails): with the core's valuation
of knowledge, most subsidised services are worth more than their price even unsubsidised.
Re-run the calibration whenever the core changes.

References
----------
Cornet, M., Vroomen, B. & van der Steeg, M. (2006). Do innovation vouchers help SMEs to cross the
bridge towards science? CPB Discussion Paper 58.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from .. import technology
from ..flows import Account
from ..knowledge import _EPS as KNOWLEDGE_EPS
from ..sampling import SegmentSampler
from . import kernels as mk
from .base import Mechanism, MechanismConfig, StrictModel

if TYPE_CHECKING:
    from ..model import CoinnovationModel
    from ..technology import Search

#: Firm id marking "no firm" in the per-slot voucher records (firm ids are >= 0; empty slots -1).
NO_FIRM = -2
#: Months per voucher year (vouchers are issued per calendar year; month 0 is 2020-01).
YEAR = 12


class Eligibility(StrictModel):
    """Which firms of an issuer place may apply (section ``mechanisms.vouchers.eligible``)."""

    max_talent: float | None = Field(
        200.0, ge=0, allow_inf_nan=False,
        description="firm size limit: firms employing more technical talent than this (persons "
                    "per real firm) may not apply; null = no limit. Default: the model's talent "
                    "is R&D and technical staff (mean 25 per firm), so 200 keeps small and "
                    "medium-sized firms (科技型中小企业) and excludes the largest ~0.1 % "
                    "(assumption). Firms without staff never qualify")


class Config(MechanismConfig):
    """Scenario section ``mechanisms.vouchers``."""

    issuers: list[str] = Field(
        default_factory=lambda: ["demo_zone"],
        description="place ids or group names whose governments fund vouchers for their own "
                    "firms (article: demonstration zone Wujiang–Qingpu–Jiashan; JKT)")
    providers: list[str] | None = Field(
        None,
        description="place ids or group names whose institutes accept the vouchers; null = the "
                    "issuers (the article's pilots redeem within the issuing places)")
    annual_budget_wan: float = Field(
        2000.0, ge=0, allow_inf_nan=False,
        description="voucher budget of EACH issuer government per calendar year, 万元 (not a "
                    "total across issuers); a partial first or last year still gets the whole "
                    "amount. Vouchers are approved against it, so spending never exceeds it. "
                    "Default: 2,000 × 3 places covers the demonstration zone's 3,450 万元 of "
                    "first-year applications (article) with headroom (assumption)")
    face_value_wan: float = Field(
        50.0, ge=0, allow_inf_nan=False,
        description="cap per firm and year, 万元 (article: 0.5 M yuan per firm in the "
                    "demonstration zone, 0.1 M yuan in JKT)")
    copay_share: float = Field(
        0.5, ge=0, le=1, allow_inf_nan=False,
        description="firm's own share of a voucher-funded service's price (the voucher pays the "
                    "rest up to its balance); 0.5 as in Shanghai's and Jiangsu's voucher rules "
                    "for small firms (assumption)")
    cross_region: bool = Field(
        True,
        description="true: redeemable at any provider place (通用通兑); false: only at "
                    "providers in the firm's own (issuer) place")
    eligible: Eligibility = Field(default_factory=Eligibility,
                                  description="eligibility of firms (size limit)")
    awareness_rate: float = Field(
        0.00342, ge=0, le=1, allow_inf_nan=False,
        description="monthly probability that an eligible firm without a voucher this year "
                    "considers applying (learns of the call and weighs it), 1/month; calibrated "
                    "to the article's application counts (docs/calibration.md)")
    application_cost_wan: float = Field(
        3.12, ge=0, allow_inf_nan=False,
        description="median cost of applying (paperwork, matching a provider, reporting), 万元 "
                    "per firm; calibrated with awareness_rate")
    application_cost_sigma: float = Field(
        1.0, ge=0, le=5, allow_inf_nan=False,
        description="dispersion (log-normal sigma) of the application cost across firms "
                    "(assumption)")
    budget_responsiveness: float = Field(
        0.5, ge=0, le=5, allow_inf_nan=False,
        description="elasticity eta of an issuer's budget commitment to last year's local "
                    "return per 万元 spent (0 = always commit the whole budget; assumption)")
    min_commitment_share: float = Field(
        0.2, ge=0, le=1, allow_inf_nan=False,
        description="smallest share of its budget an issuer keeps committing once it has joined "
                    "(the scheme is not abolished within the run; assumption)")


class Vouchers(Mechanism):
    r"""Innovation vouchers: firms apply, redeem at eligible providers; governments commit budgets.

    **Eligibility.** A firm may apply when it is alive, its home place ``h`` is an issuer with at
    least one eligible provider place (``E[h, q]``: ``q`` a provider and, unless
    ``cross_region``, ``q = h``), it employs ``0 < talent ≤ max_talent`` persons, has positive
    capital, has not applied yet in the current calendar year, and its government has
    uncommitted budget left.

    **Application (firm decision).** Each month an eligible firm considers the call with
    probability ``awareness_rate``. It then plans a service package of ``n`` standard services
    (price ``p`` = ``service_price_wan``) at each eligible provider place ``q``, valuing it with
    the core's learning rule: one service closes a share ``ρ = learning_rate · A_i · e(δ_iq)`` of
    the knowledge gap ``Γ_iq = Σ max(0, k̄_q − k_i)`` to the place's reference institute ``k̄_q``
    (capacity-weighted mean), so ``n`` services are worth

    .. math:: V(n) = v\,Γ\,(1 − (1 − ρ)^n)

    (diminishing returns in package size; ``v`` = ``knowledge_value_wan``). Each service costs
    ``p + τ_iq`` (``τ`` the core's transaction cost from the firm's unit place); the voucher pays
    ``S(n) = min(F, (1 − c) p n)``. The firm chooses ``n_v = argmax V(n) − (p + τ) n + S(n)``
    (closed form: marginal cost ``c p + τ`` below the kink ``n_k = F / ((1 − c) p)``, ``p + τ``
    above it), and without a voucher ``n_0 = argmax V(n) − (p + τ) n``. The voucher's worth at
    ``q`` is ``G_q = [V(n_v) − (p + τ) n_v + S(n_v)] − [V(n_0) − (p + τ) n_0]``; the firm
    plans to redeem where ``G_q`` is largest and applies when

    .. math:: G^* > κ_i, \qquad \text{capital}_i ≥ (p + τ) \min(n_v, n_k),

    with ``κ_i = application_cost_wan · exp(σ z)``, ``z ~ N(0, 1)``, its application cost, and
    the second condition a liquidity constraint: the firm pays providers in full and is
    reimbursed as it redeems (先付后补), so it must be able to pre-finance the voucher-funded part
    of its package. It requests ``R = S(n_v)``. Firms whose marginal value at the kink exceeds
    their co-payment bunch at the face value, which is why claims cluster at 50 万元 in the
    demonstration zone and at 10 万元 in JKT; a larger face value needs more pre-financing, so a
    smaller share of firms can take it up.

    **Approval and rationing.** Requests are approved against the issuer's committed budget for
    the year. When a month's requests exceed what is left, they are served in a random order
    drawn from the mechanism's stream (a lottery, as in the Dutch voucher trial): the first in
    the queue that does not fit gets what is left (spread over the real firms its agent stands
    for) and the rest are refused. Approved amounts are the firm's voucher balance, valid until
    the end of the calendar year (unspent balances lapse). Spending ≤ approvals ≤ commitment ≤
    budget.

    **Redemption (where).** Each month, every holder with a balance, positive capital and a live
    firm carries out one voucher project: it searches the voucher platform, i.e. only eligible
    providers. Its first candidate is an institute (drawn with the core's within-place weights)
    at the eligible place where a subsidised standard service is worth most to it,
    ``v ρ Γ − p − τ + min(balance, (1 − c) p)``; ``candidates_per_search − 1`` more come from the
    eligible places with the core's place weights (friction × institutes' capacity × knowledge).
    Candidates are quoted the subsidy ``min(balance, (1 − c) p)``; the firm buys the best one if
    its subsidised net gain is positive (institute capacity permitting). Portability (通用通兑)
    widens the eligible places, so a Jiashan or Qingpu firm can take its voucher to Wujiang's
    stronger institutes although the border raises the transaction cost. In its ordinary
    searches a holder is also quoted the subsidy at eligible providers. Joint R&D with firms is
    not voucher-funded.

    **Additionality** (an output): a voucher-funded purchase whose unsubsidised net gain (value
    − price − transaction cost) is negative would not have been bought without the voucher and
    counts as additional (compare: about 80 % in the Dutch voucher lottery, Cornet et al. 2006).

    **Government (budget commitment).** Each issuer ``g`` commits a share ``s_g`` of its annual
    budget, ``s_g = 1`` in the first voucher year. At the start of every later year it weighs its
    own return on last year's voucher spending ``X_g``:

    .. math:: r_g = \frac{v\,K_g^{add} + L_g}{X_g}, \qquad
              s_g \leftarrow \mathrm{clip}(s_g\, r_g^{η}, s_{min}, 1),

    where ``K_g^{add}`` is the knowledge its own firms gained in *additional* voucher purchases
    (windfall purchases would have happened anyway) and ``L_g`` the voucher-funded service
    revenue of institutes located in ``g`` (from any issuer's firms). Under portability, spending
    that flows to other places' institutes earns the issuer nothing but the additional knowledge,
    so a government whose firms redeem elsewhere cuts its commitment, while one whose institutes
    attract voucher holders keeps it. ``s_g`` is unchanged after a year without spending.

    Nothing to do (zero budget, face value, awareness or ``max_talent``, copay 1, no issuer with an
    eligible provider place, or no firm at such an issuer): the mechanism is *inert* — it draws
    nothing, books nothing and adds no metrics columns, so the run is byte-identical to one
    without it. Otherwise it draws only when there are eligible firms (applications) or holders
    (voucher projects).

    Simplifications: voucher projects run before the month's core search and each round rations
    institute capacity on its own (voucher projects are a small share of demand); the reference
    institute of a place stands for its institutes in the firm's planning; vouchers are issued
    per calendar year with the whole annual budget even in a partial first year.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    config : Config
        The validated ``mechanisms.vouchers`` section.

    Attributes
    ----------
    eligible_pairs : numpy.ndarray
        ``E`` (P×P bool): a firm of home place ``h`` may redeem at institutes in place ``q``.
    issuer : numpy.ndarray
        Issuer places (P bool).
    share, committed : numpy.ndarray
        Committed share of the budget and committed 万元 per place in the current year.
    balance : numpy.ndarray
        Voucher balance per firm slot (万元 per real firm; valid for ``holder_id``).
    """

    name: ClassVar[str] = "vouchers"
    accounts: ClassVar[tuple[Account, ...]] = (Account("capital", "voucher_subsidy"),)

    def __init__(self, model: CoinnovationModel, config: Config) -> None:
        super().__init__(model, config)
        cfg = config
        places = model.places
        p = model.n_places
        prm = model.prm
        self.issuer = np.zeros(p, bool)
        self.issuer[places.resolve(cfg.issuers)] = True
        provider = np.zeros(p, bool)
        provider[places.resolve(cfg.issuers if cfg.providers is None else cfg.providers)] = True
        pairs = self.issuer[:, None] & provider[None, :]
        if not cfg.cross_region:
            pairs &= np.eye(p, dtype=bool)
        self.eligible_pairs = pairs
        self.price = float(prm["service_price_wan"])
        self.unit_subsidy = (1.0 - cfg.copay_share) * self.price
        max_t = cfg.eligible.max_talent
        self.max_talent = np.inf if max_t is None else float(max_t)
        can_apply = pairs.any(axis=1)
        self.inert = bool(cfg.annual_budget_wan <= 0 or cfg.face_value_wan <= 0
                          or self.unit_subsidy <= 0 or cfg.awareness_rate <= 0
                          or self.max_talent <= 0 or not can_apply.any()
                          or not (model.firms.alive & can_apply[model.firms.place]).any())
        self.can_apply = can_apply
        n = model.firms.n
        self.balance = np.zeros(n)
        self.holder_id = np.full(n, NO_FIRM, np.int64)
        self.applied_id = np.full(n, NO_FIRM, np.int64)   # applied in the current year
        self.ever_id = np.full(n, NO_FIRM, np.int64)      # ever applied (unique firms)
        self.share = np.where(self.issuer, 1.0, 0.0)
        self.committed = np.zeros(p)
        self.year: int | None = None
        self._year_stats = self._zero_year()
        steps = max(model.horizon, 1)
        self.spent_by_step = np.zeros(steps)
        self.cum = dict.fromkeys(("requested", "approved", "rationed", "lapsed", "spent", "firms",
                                  "services", "additional", "cross_place"), 0.0)
        self._records: list[tuple[int, bool, dict[str, np.ndarray]]] = []
        self._search: Search | None = None
        self._holders = np.zeros(0, bool)
        self._amount = np.zeros(0)
        self._n_holders = 0
        self._month_terms: tuple[np.ndarray, np.ndarray] | None = None
        #: Slots granted a voucher this calendar year, ascending: only they can hold a positive
        #: balance (balances are zeroed when a year starts, set only by grants and only lowered by
        #: redemptions), so holders are looked for among them.
        self._granted = np.zeros(0, np.int64)
        self._in_project = False
        # the empty firm sampler of voucher projects (read only: built once)
        self._no_firms = SegmentSampler(np.zeros(0, np.int64), np.zeros(0), p)
        if not self.inert:
            mk.warm_up()

    # ------------------------------------------------------------------ bookkeeping
    def _zero_year(self) -> dict[str, np.ndarray]:
        p = self.model.n_places
        return {k: np.zeros(p) for k in ("approved", "spent", "additional_value", "local_revenue")}

    def _new_year(self, y: int) -> None:
        """Lapse last year's balances, update commitments from last year's return."""
        cfg = self.config
        f = self.model.firms
        live = (self.holder_id == f.firm_id) & f.alive
        self.cum["lapsed"] += float((np.where(live, self.balance, 0.0) * self.model.firm_weight()).sum())
        self.balance[:] = 0.0
        self._granted = np.zeros(0, np.int64)
        self.applied_id[:] = NO_FIRM
        if self.year is None:
            for g in np.flatnonzero(self.issuer):
                self.model.governments[g].memberships.add(self.name)
        else:
            st = self._year_stats
            spent = st["spent"]
            benefit = self.model.prm["knowledge_value_wan"] * st["additional_value"] + st["local_revenue"]
            ret = np.divide(benefit, spent, out=np.ones_like(spent), where=spent > 0)
            upd = self.share * ret ** cfg.budget_responsiveness
            upd = np.clip(upd, cfg.min_commitment_share, 1.0)
            self.share = np.where(self.issuer & (spent > 0), upd, self.share)
        self.committed = self.share * cfg.annual_budget_wan * self.issuer
        self.year = y
        self._year_stats = self._zero_year()

    # ------------------------------------------------------------------ firm decisions
    def _reference_institutes(self) -> tuple[np.ndarray, np.ndarray]:
        """Reference institutes and transaction costs of the month's voucher decisions.

        The capacity-weighted mean knowledge of each place's institutes (P, F) and the (P, P)
        transaction costs ``c · m / φ``, computed once per :meth:`before_step` (institutes and
        levers do not change within it).
        """
        if self._month_terms is None:
            model = self.model
            inst = model.institutes
            # group_means of institute_groups(place, capacity, knowledge), and
            # transaction_cost_wan · transaction_multiplier / phi, in one call
            self._month_terms = mk.reference_terms(
                np.ascontiguousarray(inst.place, dtype=np.int64),
                np.ascontiguousarray(inst.capacity, dtype=np.float64), inst.knowledge,
                model.n_places, float(model.prm["transaction_cost_wan"]),
                np.ascontiguousarray(model.transaction_multiplier, dtype=np.float64),
                np.ascontiguousarray(model.phi["technology"], dtype=np.float64))
        return self._month_terms

    def _service_terms(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Knowledge gap value ``vΓ``, closure share ``ρ`` and transaction cost ``τ`` per (firm, place).

        Against the reference institutes of :meth:`_reference_institutes`.
        """
        model = self.model
        prm = model.prm
        f = model.firms
        ref, tc = self._reference_institutes()
        k = f.knowledge[slots]
        return mk.service_terms(k, ref, k @ ref.T,
                                np.ascontiguousarray(f.unit_place[slots], dtype=np.int64), tc,
                                float(prm["knowledge_value_wan"]), float(prm["learning_rate"]),
                                float(prm["absorptive_half"]), KNOWLEDGE_EPS, 1.0 - 1e-9)

    def _package(self, vgap: np.ndarray, rho: np.ndarray, tc: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voucher-funded package per (firm, place): worth ``G``, request ``R`` and own outlay."""
        cfg = self.config
        p, c, face = self.price, cfg.copay_share, cfg.face_value_wan
        n_kink = face / self.unit_subsidy
        # n = log(max(μ0, cost) / cost) / a at the marginal cost with (c p + τ) and without (p + τ)
        # the voucher; the logarithms and exponentials stay numpy's, the arithmetic is in kernels
        a = -np.log1p(-rho)
        logs = np.log(mk.package_ratios(vgap, a, tc, c * p, p))
        n_v, n_2, request, expo = mk.package_sizes(logs, a, n_kink, face, self.unit_subsidy)
        gain, outlay = mk.package_worth(vgap, np.expm1(expo), n_v, n_2, request, tc, p, n_kink)
        return gain, request, outlay

    def _applications(self) -> None:
        """Take the month's applications: awareness, package choice, approval against the budget."""
        cfg = self.config
        model = self.model
        f = model.firms
        remaining = self.committed - self._year_stats["approved"]
        open_ = self.can_apply & (remaining > 1e-9)
        # the candidates, and the month's reference institutes and transaction costs (see
        # _reference_institutes), in one call
        inst = model.institutes
        cand, self._month_terms = mk.application_setup(
            f.alive, np.ascontiguousarray(f.place, dtype=np.int64), open_, f.talent,
            self.max_talent, f.capital, self.applied_id, f.firm_id,
            np.ascontiguousarray(inst.place, dtype=np.int64),
            np.ascontiguousarray(inst.capacity, dtype=np.float64), inst.knowledge,
            model.n_places, float(model.prm["transaction_cost_wan"]),
            np.ascontiguousarray(model.transaction_multiplier, dtype=np.float64),
            np.ascontiguousarray(model.phi["technology"], dtype=np.float64))
        if len(cand) == 0:
            return
        aware = cand[self.rng.random(len(cand)) < cfg.awareness_rate]
        if len(aware) == 0:
            return
        sigma = cfg.application_cost_sigma
        kappa = cfg.application_cost_wan * np.exp(sigma * self.rng.standard_normal(len(aware)))
        vgap, rho, tc = self._service_terms(aware)
        gain, request, outlay = self._package(vgap, rho, tc)
        # the best eligible package of each (masked argmax of its worth), and who applies: worth
        # above the application cost, a positive request, the outlay pre-financed
        # then, for the applicants, their real firms, homes and ids, the first-time applicants'
        # weight, the amounts requested (total, by home, per firm), ever_id and applied_id set
        # (mk.voucher_requests), in the same call
        p = model.n_places
        slots, amount, (w, home, ids, w_new, requested, demand, got) = mk.voucher_applicants(
            gain, request, outlay, self.eligible_pairs,
            np.ascontiguousarray(f.place, dtype=np.int64), aware, kappa, f.capital,
            model.firm_weight(), np.ascontiguousarray(f.firm_id, dtype=np.int64), self.ever_id,
            self.applied_id, p)
        if len(slots) == 0:
            return
        self.cum["firms"] += w_new
        self.cum["requested"] += requested
        if (demand > remaining + 1e-9).any():
            order = np.lexsort((self.rng.random(len(slots)), home))
            h = home[order]
            cs = np.cumsum(got[order])
            before = cs - got[order] - np.concatenate(([0.0], cs))[np.searchsorted(h, h, side="left")]
            got[order] = np.clip(remaining[h] - before, 0.0, got[order])
        # the grants, and np.union1d of the ascending granted slots and the ascending new ones
        approved, rationed, by_place, self._granted = mk.voucher_grant_slots(
            slots, amount, w, home, ids, got, self.balance, self.holder_id, p, self._granted)
        self.cum["approved"] += approved
        self.cum["rationed"] += rationed
        self._year_stats["approved"] += by_place

    # ------------------------------------------------------------------ hooks
    def before_step(self, t: int) -> None:
        """Start a voucher year when due, then take this month's applications."""
        if self.inert:
            return
        self._month_terms = None
        y = t // YEAR
        if y != self.year:
            self._new_year(y)
        self._applications()
        self._voucher_projects()

    def _holder_mask(self, s: Search) -> np.ndarray:
        """Searchers looking for an institute service with a voucher balance (cached per search).

        With them, the subsidy each holder is quoted at an eligible place and the number of
        holders (``mechanisms.kernels.voucher_holders``; balances change only when the search's
        deals settle).
        """
        if self._search is not s:
            self._search = s
            self._holders, self._amount, self._n_holders = mk.voucher_holders(
                self.balance, self.holder_id, self.model.firms.firm_id,
                np.ascontiguousarray(s.searcher, dtype=np.int64),
                np.ascontiguousarray(s.collab, dtype=bool),
                np.ascontiguousarray(s.price, dtype=np.float64), 1.0 - self.config.copay_share,
                self._granted)
        return self._holders

    def _voucher_projects(self) -> None:
        """Holders with a balance buy one voucher-funded service this month at an eligible provider.

        The holders search the voucher platform's catalogue only: one candidate institute at the
        eligible place where a subsidised standard service is worth most to each,
        ``vΓρ − p − τ + min(balance, (1 − c)p)`` over eligible places with institutes
        (``mechanisms.kernels.redemption_choice``), and ``candidates_per_search − 1`` more drawn
        from the eligible places with the core's weights (friction × institutes' capacity ×
        knowledge). Deals are agreed, settled and transacted by the core's technology functions.
        """
        model = self.model
        f = model.firms
        inst = model.institutes
        prm = model.prm
        # the holders running a project (voucher_users_of), the institute sampler
        # SegmentSampler(inst.place, inst_weight · capacity · Σ_f k_f, p), the search's
        # origins, homes, no joint R&D, the service price and empty bests, and the places' rows
        # normalise_rows(eligible_pairs[home] * phi[origin] * inst_total[None, :]) with their
        # running sums, in one call
        phi = np.ascontiguousarray(model.phi["technology"], dtype=np.float64)
        # and the holders' quotes (voucher_holders of the search: every user is a holder)
        (users, inst_arrays, (origin, home, collab, price, *best), (prob, cum),
         (holders, amount), (rcv_k, cap)) = mk.project_setup(
            self._granted, f.alive, self.holder_id, f.firm_id, self.balance, f.capital, 1e-9,
            np.ascontiguousarray(inst.place, dtype=np.int64),
            np.ascontiguousarray(model.inst_weight(), dtype=np.float64),
            np.ascontiguousarray(inst.capacity, dtype=np.float64), inst.knowledge,
            model.n_places, np.ascontiguousarray(f.unit_place, dtype=np.int64),
            np.ascontiguousarray(f.place, dtype=np.int64), self.price, f.knowledge.shape[1],
            self.eligible_pairs, phi, 1.0 - self.config.copay_share, f.knowledge,
            float(prm["absorptive_half"]))
        if len(users) == 0:
            return
        n = len(users)
        inst_sampler = SegmentSampler.from_arrays(*inst_arrays)
        # voucher projects are services of institutes: no firm partner is ever drawn, so the
        # search carries an empty firm sampler (its place totals, all zero, weigh no flow)
        s = technology.Search(
            searcher=users, origin=origin, home=home, collab=collab, price=price,
            firm_sampler=self._no_firms, inst_sampler=inst_sampler, best_net=best[0],
            best_dest=best[1], best_idx=best[2], best_gain=best[3], best_tc=best[4],
            best_subsidy=best[5], best_plain_net=best[6])
        self._search, self._holders, self._amount, self._n_holders = s, holders, amount, n
        # the receivers' terms of the search (technology._terms): knowledge, squared norms
        # (numpy's einsum) and absorptive capacities
        s.rcv_knowledge, s.rcv_terms = rcv_k, (np.einsum("ij,ij->i", rcv_k, rcv_k), cap)
        # the first candidate's place: service_terms of the users against the reference
        # institutes (the products k @ ref.T numpy's), then the best eligible place
        ref, tc = self._reference_institutes()
        k = f.knowledge[users]
        dest = mk.redemption_choice(k, ref, k @ ref.T, origin, tc,
                                    float(prm["knowledge_value_wan"]), float(prm["learning_rate"]),
                                    float(prm["absorptive_half"]), KNOWLEDGE_EPS, 1.0 - 1e-9,
                                    self.balance, users, self.unit_subsidy, self.price,
                                    self.eligible_pairs, home, inst_sampler.place_total())
        # the first candidate, an institute at dest drawn with a uniform per holder, then per
        # round a place per holder from its row and an institute there (all places' uniforms
        # first, then the institutes'): consider(model, s, dest, inst_sampler.draw(dest, u))
        # followed by consider(model, s, *s.draw(rows, self.rng)) per round, the uniforms of
        # rng.random(n) and rng.random((R - 1, 2, n)) drawn in one call
        rounds = int(prm["candidates_per_search"]) - 1
        u = self.rng.random(n * (1 + 2 * rounds))
        technology.candidate_rounds(model, s, technology.PlaceRows(prob, np.arange(n), cum),
                                    u[n:].reshape(rounds, 2, n), first=(dest, u[:n]))
        self._in_project = True
        deal = technology.agree(model, s, self.rng)
        self._in_project = False
        technology.transact(model, s, deal)

    def quote_terms(self, search: Search) -> tuple[np.ndarray, np.ndarray] | None:
        """Voucher subsidy for candidates at eligible providers (万元 per real firm).

        A holder is quoted ``min(balance, (1 − copay) · price)`` at the eligible pairs, others 0
        (``mechanisms.kernels.voucher_quote``).
        """
        if self.inert:
            return None
        self._holder_mask(search)
        if not self._n_holders:
            return None
        return self._amount, self.eligible_pairs

    def settle_subsidy(self, search: Search, deal: np.ndarray) -> np.ndarray | None:
        """Redeem the vouchers of agreed deals: balances, public spending, ledger, records.

        Every agreed deal keeps its quoted subsidy (balances were approved against the budget in
        advance), so the hook returns ``None``: no subsidy is withdrawn.
        """
        if self.inert:
            return None
        self._holder_mask(search)
        if not self._n_holders:
            return None
        s = search
        model = self.model
        # the quotes at the best candidates (mk.voucher_quote of the holders), then the
        # redemptions; the issuers' spending by_issuer added to model.policy_cost[t], to the
        # voucher_subsidy account (bincount(home, spend), as summed) and to the year's spending,
        # the additional knowledge value and the local revenue to the year's statistics, in the
        # same call
        t = model.book.t
        st = self._year_stats
        (used, slots, sub, w, home, dest, spend, additional, spend_sum, w_sum, w_add, w_cross,
         firm_ids, institutes) = mk.voucher_redeem_booked(
            self._holders, self.eligible_pairs, 1.0 - self.config.copay_share,
            np.ascontiguousarray(deal, dtype=bool), np.ascontiguousarray(s.best_idx, dtype=np.int64),
            np.ascontiguousarray(s.searcher, dtype=np.int64),
            np.ascontiguousarray(s.home, dtype=np.int64),
            np.ascontiguousarray(s.best_dest, dtype=np.int64), model.firm_weight(),
            np.ascontiguousarray(s.best_plain_net, dtype=np.float64),
            np.ascontiguousarray(s.best_gain, dtype=np.float64),
            np.ascontiguousarray(s.price, dtype=np.float64), self.balance, model.firms.firm_id,
            model.n_places, model.policy_cost[t], model.book.account_row("voucher_subsidy"),
            st["spent"], st["additional_value"], st["local_revenue"])
        if not len(used):
            return None
        self.spent_by_step[t] += spend_sum
        self.cum["spent"] += spend_sum
        self.cum["services"] += w_sum
        self.cum["additional"] += w_add
        self.cum["cross_place"] += w_cross
        # the step and project columns are filled in when the table is built
        self._records.append((t, self._in_project, {
            "firm_slot": slots, "firm_id": firm_ids, "issuer": home,
            "institute": institutes, "provider": dest,
            "subsidy_wan": sub, "firms_real": w, "spent_wan": spend, "additional": additional}))
        return None

    # ------------------------------------------------------------------ outputs
    def metrics(self, t: int) -> dict[str, float]:
        """Voucher outcomes of month ``t`` (none when the mechanism has nothing to do).

        Columns: ``vouchers_committed_wan`` (this year's commitment over issuers),
        ``vouchers_spent_wan`` (subsidies redeemed this month), ``vouchers_holders`` (real firms
        holding an unspent voucher), ``vouchers_additional_share`` (share of the voucher-funded
        services so far that are additional), ``vouchers_cross_place_share`` (share of them at a
        provider outside the firm's home place) — both 0 until the first such service (see
        ``vouchers_services_cum``) — and cumulative counters ``vouchers_{firms_applied,
        requested_wan, approved_wan, rationed_wan, lapsed_wan, spent_wan, services}_cum`` (firms
        and services counted as real firms; ``firms_applied`` counts each firm once however many
        years it applies, the amounts add up every year's requests).
        """
        if self.inert:
            return {}
        f = self.model.firms
        c = self.cum
        n = c["services"]
        return {
            "vouchers_committed_wan": float(self.committed.sum()),
            "vouchers_spent_wan": float(self.spent_by_step[t]),
            "vouchers_holders": mk.holders_weight(self._granted, self.holder_id, f.firm_id,
                                                  f.alive, self.balance, self.model.firm_weight()),
            "vouchers_additional_share": c["additional"] / n if n > 0 else 0.0,
            "vouchers_cross_place_share": c["cross_place"] / n if n > 0 else 0.0,
            "vouchers_firms_applied_cum": c["firms"],
            "vouchers_requested_wan_cum": c["requested"],
            "vouchers_approved_wan_cum": c["approved"],
            "vouchers_rationed_wan_cum": c["rationed"],
            "vouchers_lapsed_wan_cum": c["lapsed"],
            "vouchers_spent_wan_cum": c["spent"],
            "vouchers_services_cum": n,
        }

    @property
    def redemptions(self) -> pd.DataFrame:
        """Every voucher-funded service: step, firm, issuer, institute, provider place, subsidy.

        Returns
        -------
        pandas.DataFrame
            One row per firm agent and redemption; ``issuer`` and ``provider`` are place ids,
            ``subsidy_wan`` per real firm, ``spent_wan`` = subsidy × ``firms_real``,
            ``additional`` whether the purchase was not worthwhile unsubsidised.
        """
        cols = ["step", "firm_slot", "firm_id", "issuer", "institute", "provider", "subsidy_wan",
                "firms_real", "spent_wan", "additional", "project"]
        if not self._records:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
        records = [{"step": np.full(len(r["firm_slot"]), t, np.int64),
                    "project": np.full(len(r["firm_slot"]), project), **r}
                   for t, project, r in self._records]
        data = {c: np.concatenate([r[c] for r in records]) for c in cols}
        ids = np.array(self.model.places.ids, dtype=object)
        data["issuer"] = ids[data["issuer"]]
        data["provider"] = ids[data["provider"]]
        return pd.DataFrame(data, columns=cols)


#: The mechanism class registered for ``mechanisms.vouchers``.
MECHANISM = Vouchers
