"""Joint coordination meetings (联席会议), modelled on the G60 corridor's organisation.

The article describes three layers: a **joint meeting** of the member cities' leaders that
decides on common and key problems, a **standing office** (联席会议办公室) staffed by member units
that handles day-to-day implementation, and **task groups** (专责小组) organised around specific
issues. The mechanism keeps what changes outcomes:

* Leaders meet every ``interval`` months from ``start``. At a meeting, every pair of current
  members ``(a, b)`` and every issue on the task groups' agenda (``talent``, ``technology``,
  ``capital``) is settled when *both* governments' interests align on it (below). A settled
  issue lowers the administrative barrier of that pair for that factor with diminishing
  returns towards a floor::

      m_ab,f  <-  floor + (m_ab,f - floor) * (1 - effectiveness)

  ``m`` is the barrier multiplier lever of the friction kernel (1 = no agreement); distance is
  never changed.
* Interests align (government behaviour, from the flows each government observes since the last
  meeting):

  - technology: when the two places' industries overlap enough to gain from exchange,
    ``cos(mix_a, mix_b) >= min_overlap`` (related variety; industrial overlap);
  - talent: unless one of them lost, net, more than ``tolerance`` of its own hires to the
    other (brain-drain worries block liberalising talent mobility);
  - capital: unless one of them saw a net capital outflow to the other above ``tolerance`` of
    the capital it placed — unless ``tax_sharing`` is agreed, which removes what a capital
    outflow puts at stake for the local tax base.
* The standing office (``office: true``) implements agreements between meetings; without it,
  agreements erode back towards 1 at ``erosion_rate`` per month.
* Costs: ``meeting_cost_wan`` per member per meeting and ``office_cost_wan_month`` per member per
  month while the office runs, booked as public spending of each member government.
* Members stay while it pays: at each meeting a government's payoff is the value its agreements
  brought since the last meeting — for each factor and partner the part ``1 - m`` of the barrier
  removed times the value exchanged (technology traded either way; capital received net of
  capital sent, or placed either way under ``tax_sharing``; talent hired net of talent lost,
  valued at a year of local wages) — minus what it spent on the meetings and office. After
  ``patience`` consecutive meetings with a negative payoff it withdraws: its agreements lapse
  (erode) and it pays nothing more.

Simplified: the leaders' meeting, office and task groups are not agents of their own; meetings
have no agenda beyond the three factors; the alignment rules are deterministic (no draws).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from ..flows import FACTORS
from ..kernels import jit, register_warm_up, total
from .base import MAX_STEPS, Mechanism, MechanismConfig, StrictModel

if TYPE_CHECKING:
    from ..model import CoinnovationModel


class BodySpec(StrictModel):
    """One coordination body in ``mechanisms.coordination.bodies``; unset settings inherit."""

    name: str = Field(min_length=1, description="label, e.g. g60 or demo_zone")
    members: list[str] = Field(min_length=1, description="place ids or group names")
    interval: int | None = Field(None, ge=1, le=MAX_STEPS, description="months between meetings")
    office: bool | None = Field(None, description="standing office (default: the section's)")
    tax_sharing: bool | None = Field(None, description="tax sharing (default: the section's)")
    effectiveness: float | None = Field(None, ge=0, le=1, allow_inf_nan=False,
                                        description="(1) default: the section's")
    floor: float | None = Field(None, ge=0, le=1, allow_inf_nan=False,
                                description="(1) default: the section's")

    def overrides(self) -> dict[str, object]:
        """Settings this body sets, as updates to the section's."""
        return {k: v for k, v in self.model_dump().items() if v is not None and k != "name"}


class Config(MechanismConfig):
    """Scenario section ``mechanisms.coordination``."""

    members: list[str] = Field(default_factory=lambda: ["g60"],
                               description="place ids or group names attending the meetings")
    interval: int = Field(6, ge=1, le=MAX_STEPS,
                          description="months between leaders' meetings (G60: about twice a year; "
                                      "assumption)")
    task_groups: list[Literal["talent", "technology", "capital"]] = Field(
        default_factory=lambda: ["talent", "technology", "capital"],
        description="issues on the agenda, one task group each (专责小组)")
    effectiveness: float = Field(0.2, ge=0, le=1, allow_inf_nan=False,
                                 description="share of the reducible barrier removed by one settled "
                                             "issue (1); assumption (not calibrated)")
    floor: float = Field(0.4, ge=0, le=1, allow_inf_nan=False,
                         description="lowest barrier multiplier meetings can reach (1): hukou, "
                                     "fiscal and statistical systems persist; assumption")
    office: bool = Field(True, description="a standing office implements agreements between "
                                           "meetings (联席会议办公室)")
    erosion_rate: float = Field(0.03, ge=0, le=1, allow_inf_nan=False,
                                description="monthly erosion of agreements back towards 1 without "
                                            "an office, or after a member withdraws (1/month); "
                                            "assumption")
    min_overlap: float = Field(0.5, ge=0, le=1, allow_inf_nan=False,
                               description="cosine similarity of industry mixes above which "
                                           "technology interests align (1); assumption")
    tolerance: float = Field(0.1, ge=0, le=10, allow_inf_nan=False,
                             description="net outflow to a partner a government tolerates, as a "
                                         "share of what its pool sent in the window (talent: all "
                                         "hires from its pool, local ones included; capital: "
                                         "placements in other places) (1); assumption")
    tax_sharing: bool = Field(False, description="members share tax on cross-place investment, "
                                                 "removing capital-flight objections")
    meeting_cost_wan: float = Field(30.0, ge=0, allow_inf_nan=False,
                                    description="cost per member per meeting, 万元; assumption")
    office_cost_wan_month: float = Field(5.0, ge=0, allow_inf_nan=False,
                                         description="cost of the office per member per month, "
                                                     "万元 (seconded staff); assumption")
    patience: int = Field(2, ge=1, le=100,
                          description="meetings with a negative payoff before a member withdraws")
    bodies: list[BodySpec] = Field(default_factory=list,
                                   description="several bodies, each with its own members (and "
                                               "optionally interval, office, tax_sharing, "
                                               "effectiveness, floor); empty: one body of members")


class Body:
    """One coordination body (e.g. the G60 joint meeting) with its members and agreements.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    config : Config
        Settings of the body (the section's, with the body's overrides applied).
    """

    def __init__(self, model: CoinnovationModel, config: Config) -> None:
        self.model = model
        self.config = config
        p = model.n_places
        self.members = np.zeros(p, bool)
        self.members[model.places.resolve(config.members)] = True
        #: Barrier multipliers agreed per factor, stacked (F, P, P); ``multiplier`` views them.
        self.multipliers = np.ones((len(FACTORS), p, p))
        self.multiplier = {f: self.multipliers[i] for i, f in enumerate(FACTORS)}
        self._pairs_key = b""
        self._pairs_mask = np.zeros((p, p), bool)
        self.agenda = [f for f in FACTORS if f in config.task_groups]
        mix = model.places.mix
        norm = np.linalg.norm(mix, axis=1)
        self.overlap = (mix @ mix.T) / np.maximum(np.outer(norm, norm), 1e-12)
        self.strikes = np.zeros(p, np.int64)
        self.spent = np.zeros(p)
        self.spent_at_meeting = np.zeros(p)
        self.last_meeting = -1
        self.meetings = 0
        self.agreements = 0
        self.withdrawn = 0

    def _pairs(self) -> np.ndarray:
        """Boolean P×P mask of current member pairs (off-diagonal; read-only).

        Kept until the members change.
        """
        m = self.members
        key = m.tobytes()
        if key != self._pairs_key:
            mask = m[:, None] & m[None, :]
            np.fill_diagonal(mask, False)
            mask.flags.writeable = False
            self._pairs_key, self._pairs_mask = key, mask
        return self._pairs_mask

    def _window(self, t: int, factor: str) -> np.ndarray:
        """Flows of ``factor`` since the last meeting (origin rows, destination columns)."""
        lo = max(self.last_meeting, 0)
        if t <= lo:
            return np.zeros((self.model.n_places,) * 2)
        idx = self.model.book.factor_channels(factor)
        return self.model.book.flows[lo:t][:, idx].sum(axis=(0, 1))

    def _aligned(self, t: int) -> dict[str, np.ndarray]:
        """Which member pairs agree on each agenda issue."""
        cfg = self.config
        out = {}
        for factor in self.agenda:
            if factor == "technology":
                out[factor] = self.overlap >= cfg.min_overlap
                continue
            flows = self._window(t, factor)
            if factor == "capital":
                flows = flows - np.diag(np.diag(flows))
            # what a's pool/investors sent to b, net of what came back
            sent = flows - flows.T
            own = flows.sum(axis=1, keepdims=True)
            objects = sent > cfg.tolerance * np.maximum(own, 1e-9)
            if factor == "capital" and cfg.tax_sharing:
                objects[:] = False
            out[factor] = ~(objects | objects.T)
        return out

    def _payoffs(self, t: int, spent: np.ndarray) -> np.ndarray:
        """Each government's payoff from the agreements since the last meeting, 万元.

        For each factor and partner, the share of the exchange attributable to the agreement is
        taken as ``1 - m`` (the part of the barrier removed) of the value exchanged: technology
        traded either way (buying is learning, selling is revenue); capital received net of
        capital sent (either way under tax sharing, which shares the tax on what goes out);
        talent hired net of talent lost, valued at a year of local wages. ``spent`` is what the
        government spent on meetings and office in the window.
        """
        pairs = self._pairs()
        wage_year = 12.0 * self.model.wage
        value = np.zeros(self.model.n_places)
        for factor in FACTORS:
            flows = self._window(t, factor)
            if factor == "technology":
                exchange = flows.T + flows
            elif factor == "capital":
                exchange = flows.T + flows if self.config.tax_sharing else flows.T - flows
            else:
                exchange = (flows.T - flows) * wage_year[:, None]
            value += ((1.0 - self.multiplier[factor]) * exchange * pairs).sum(axis=1)
        return value - spent

    def set_levers(self, t: int) -> None:
        """Hold a meeting when due; erode agreements; apply the levers; book the costs.

        A body with fewer than two members holds no meetings and costs nothing; agreements it
        made before falling apart erode like any lapsed agreement.
        """
        cfg = self.config
        model = self.model
        pairs = self._pairs()
        cost = np.zeros(model.n_places)
        if (t - cfg.start) % cfg.interval == 0 and self.members.sum() >= 2:
            if self.last_meeting >= 0:
                pay = self._payoffs(t, self.spent - self.spent_at_meeting)
                self.strikes = np.where(self.members & (pay < 0), self.strikes + 1, 0)
                leaving = self.members & (self.strikes >= cfg.patience)
                if leaving.any():
                    self.withdrawn += int(leaving.sum())
                    self.members &= ~leaving
                    pairs = self._pairs()
            aligned = self._aligned(t)
            for factor, ok in aligned.items():
                settle = pairs & ok
                m = self.multiplier[factor]
                m[settle] = cfg.floor + (m[settle] - cfg.floor) * (1.0 - cfg.effectiveness)
                self.agreements += int(settle.sum() // 2)
            self.meetings += 1
            self.last_meeting = t
            self.spent_at_meeting = self.spent.copy()
            cost = np.where(self.members, cfg.meeting_cost_wan, 0.0)
        lever = model.barrier_multiplier
        apply_agreements(self.multipliers, pairs, cfg.office, 1.0 - cfg.erosion_rate,
                         lever[FACTORS[0]], lever[FACTORS[1]], lever[FACTORS[2]], cost,
                         self.members, cfg.office_cost_wan_month, model.policy_cost[t],
                         self.spent)


@jit
def apply_agreements(mult: np.ndarray, pairs: np.ndarray, office: bool, keep_share: float,
                     lever0: np.ndarray, lever1: np.ndarray, lever2: np.ndarray,
                     cost: np.ndarray, members: np.ndarray, office_cost: float,
                     policy: np.ndarray, spent: np.ndarray) -> None:
    """The monthly tail of :meth:`Body.set_levers`, element by element (compiled; in place).

    Agreements not kept (not a member pair, or no office) erode:
    ``m ← 1 − (1 − m) · keep_share`` where ``m < 1``; each factor's lever is multiplied by its
    ``m``; with an office and at least two members each member's office cost is added to
    ``cost``, which is booked to ``policy`` (this month's public spending) and ``spent``.

    Parameters
    ----------
    mult : numpy.ndarray
        The body's multipliers per factor, shape (3, P, P).
    pairs : numpy.ndarray
        Member pairs, bool (P, P).
    office : bool
        Whether the standing office keeps the member pairs' agreements.
    keep_share : float
        ``1 − erosion_rate``.
    lever0, lever1, lever2 : numpy.ndarray
        The model's barrier levers of the three factors, (P, P).
    cost : numpy.ndarray
        Meeting costs of this month per place (office costs are added to it).
    members : numpy.ndarray
        Current members, bool (P,).
    office_cost : float
        Office cost per member and month.
    policy, spent : numpy.ndarray
        This month's public spending and the body's spending so far, per place.
    """
    nf, p, _ = mult.shape
    for f in range(nf):
        lever = lever0 if f == 0 else (lever1 if f == 1 else lever2)
        for i in range(p):
            for j in range(p):
                m = mult[f, i, j]
                if not (office and pairs[i, j]) and m < 1.0:
                    m = 1.0 - (1.0 - m) * keep_share
                    mult[f, i, j] = m
                lever[i, j] *= m
    n_members = 0
    for i in range(p):
        if members[i]:
            n_members += 1
    for i in range(p):
        if office and n_members >= 2:
            cost[i] = cost[i] + (office_cost if members[i] else 0.0)
        policy[i] += cost[i]
        spent[i] += cost[i]


@jit
def pair_means(mult: np.ndarray, pairs: np.ndarray, out: np.ndarray, k: int) -> int:
    """``mult[f][pairs].mean()`` of each factor, written to ``out[k:]`` when there are pairs.

    Returns
    -------
    int
        ``k`` plus the number of means written.
    """
    nf, p, _ = mult.shape
    buf = np.empty(p * p)
    for f in range(nf):
        n = 0
        for i in range(p):
            for j in range(p):
                if pairs[i, j]:
                    buf[n] = mult[f, i, j]
                    n += 1
        if n == 0:
            return k
        out[k] = total(buf, n) / n
        k += 1
    return k


@register_warm_up
def _warm_up() -> None:
    """Load (or compile) the coordination kernels (see :func:`kernels.warm_up`)."""
    mult = np.ones((3, 2, 2))
    pairs = np.ones((2, 2), np.bool_)
    pairs.flags.writeable = False             # the bodies share read-only pair masks
    ones = np.ones((2, 2))
    yes = np.ones(2, np.bool_)
    apply_agreements(mult, pairs, True, 0.97, ones, ones, ones, np.zeros(2), yes, 5.0,
                     np.zeros(2), np.zeros(2))
    total(np.ones(6), pair_means(mult, pairs, np.empty(6), 0))



class Coordination(Mechanism):
    """Joint coordination meetings among member governments (see the module docstring).

    Without ``bodies`` the section describes one body; with ``bodies`` each entry is a body of
    its own (its settings default to the section's), and their agreements combine
    multiplicatively on the barrier levers.

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    config : Config
        The scenario section.
    """

    name = "coordination"

    def __init__(self, model: CoinnovationModel, config: Config) -> None:
        super().__init__(model, config)
        specs = config.bodies or [BodySpec(name="coordination", members=config.members)]
        self.bodies = [Body(model, config.model_copy(update=spec.overrides())) for spec in specs]

    def set_levers(self, t: int) -> None:
        """Let every body meet (when due) and apply its agreements to the levers."""
        for body in self.bodies:
            body.set_levers(t)

    def metrics(self, t: int) -> dict[str, float]:
        """Members (union), meetings, agreements, withdrawals, mean multiplier among members."""
        bodies = self.bodies
        members = bodies[0].members.copy()
        mults = np.empty(len(FACTORS) * len(bodies))
        k = 0
        meetings = agreements = withdrawn = 0
        for body in bodies:
            if body is not bodies[0]:
                members |= body.members
            k = pair_means(body.multipliers, body._pairs(), mults, k)
            meetings += body.meetings
            agreements += body.agreements
            withdrawn += body.withdrawn
        return {"coordination_members": float(np.count_nonzero(members)),
                "coordination_mean_multiplier": float(total(mults, k) / k) if k else 1.0,
                "coordination_meetings_cum": float(meetings),
                "coordination_agreements_cum": float(agreements),
                "coordination_withdrawals_cum": float(withdrawn)}


MECHANISM = Coordination
