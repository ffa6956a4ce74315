"""The co-innovation model: places, governments, firms and institutes exchanging three factors.

One step is one month; month 0 is 2020-01. Order inside a step (all vectorised updates within a
stage are synchronous: every firm sees the state at the start of the stage):

1. mechanisms set the levers (barrier and transaction-cost multipliers; ``set_levers``);
2. the friction kernel ``φ`` is recomputed from the levers, then mechanisms act
   (``before_step``: enclave moves, voucher applications and projects);
3. productivity shocks (:mod:`.production`);
4. talent: separations, retirement, graduation, hiring across places (:mod:`.talent`);
5. technology: search, matching, services and joint R&D (:mod:`.technology`);
6. capital: operating profit, repayment, savings, investment across places (:mod:`.capital`);
7. knowledge: spillovers, production and depreciation (:mod:`.innovation`);
8. exit and entry (:mod:`.demography`), then mechanisms observe the month (``after_step``);
9. metrics and flow records (:mod:`.metrics`, :mod:`.flows`).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

import mesa
import numpy as np
from threadpoolctl import threadpool_limits

from . import capital, demography, innovation, kernels, metrics, production, talent, technology
from .agents import CityGovernment, Firm, ResearchInstitute
from .firm_passes import pending_rows, refresh_row_sums
from .flows import CORE_ACCOUNTS, CORE_CHANNELS, FACTORS, FlowBook, no_clock
from .friction import apply_barriers, friction_matrices
from .kernels import live_weighted_sum, row_sums, unit_home_matrix
from .mechanisms import REGISTRY, Mechanism
from .places import build_place_graph
from .scenario import Scenario, load_scenario
from .state import (
    SPARE_SLOT_SHARE,
    add_spare_slots,
    init_firms,
    init_institutes,
    place_rd_productivity,
)

#: Share of employed talent seeking jobs at start (frictional unemployment; assumption).
INITIAL_SEEKER_SHARE = 0.05
#: Smallest reference knowledge (guards the quality term when R&D produces nothing).
KNOWLEDGE_FLOOR = 1e-9
#: 1 billion yuan in 万元.
WAN_PER_BILLION_YUAN = 1e5


class CoinnovationModel(mesa.Model):
    """Agent-based model of talent, technology and capital flows between YRD places.

    Parameters
    ----------
    scenario : Scenario, dict, str or Path
        The scenario (loaded with :func:`coinnovation_sim.load_scenario` when not a Scenario).
    seed : int, optional
        Run seed; the scenario's ``seed`` when omitted. Every random draw comes from streams
        spawned from it (:meth:`stream`).
    steps : int, optional
        Months to run; the scenario's ``steps`` when omitted.

    Attributes
    ----------
    places : PlaceData
        Place table and derived arrays.
    place_graph : networkx.Graph
        Places with their data; edges carry ``distance_km`` and the boundary ``level``.
    firms : FirmState
        Firm arrays (per real firm); ``firm_agents`` maps live slots to :class:`Firm` agents.
    institutes : InstituteState
        Institute arrays.
    talent_pool, capital_pool : numpy.ndarray
        Job seekers (persons) and investable capital (万元) per place.
    debt_matrix : numpy.ndarray
        Outstanding investment, investing place (rows) × receiving place (columns), 万元.
    barrier_multiplier : dict of numpy.ndarray
        Lever per factor (P×P, in [0, 1]) scaling the administrative barriers between places;
        1 when no mechanism acts.
    transaction_multiplier : numpy.ndarray
        Lever (P×P, > 0) scaling technology transaction costs; 1 when no mechanism acts.
    phi : dict of numpy.ndarray
        Friction kernel per factor; ``phi_free`` the border-free kernel.
    policy_cost : numpy.ndarray
        Public spending per month and paying government, 万元.
    book : FlowBook
        Recorded flows and sources/sinks.
    timings : dict or None
        Seconds spent per kernel, accumulated over the steps run while it is a dict (set
        ``model.timings = {}`` to start timing; ``None``, the default, times nothing and costs
        nothing). Keys: ``levers``, ``production``, ``talent``, ``technology``, ``capital``,
        ``innovation``, ``demography``, ``agents``, ``metrics``, ``recording`` and one per enabled
        mechanism (its hooks, including its part of the technology search).
    """

    def __init__(self, scenario: Scenario | dict | str, seed: int | None = None,
                 steps: int | None = None) -> None:
        sc = load_scenario(scenario)
        run_seed = int(sc.seed if seed is None else seed)
        super().__init__(rng=run_seed)
        self._wf_cache: np.ndarray | None = None
        self._away: bool | None = None  # any_away() inside a step, until units move
        self._friction_key: tuple | None = None  # parameters of the kept decay and φ_free
        #: Knowledge quality of the last :func:`production.quality` call and the firm slots whose
        #: knowledge changed since (see :meth:`knowledge_changed`).
        self.quality_cache: np.ndarray | None = None
        self.knowledge_rows: list[np.ndarray] = []
        #: Firms' total knowledge of the last :meth:`knowledge_totals` call and the firm slots
        #: whose knowledge changed since.
        self.kappa_cache: np.ndarray | None = None
        self.kappa_rows: list[np.ndarray] = []
        self._kappa_of: np.ndarray | None = None   # the knowledge array it was computed from
        #: Inputs and result of the last full target-talent computation (``production``).
        self.target_talent_cache: tuple | None = None
        self.config = sc
        self.seed = run_seed
        self.horizon = int(sc.steps if steps is None else steps)
        self.prm = sc.params()
        self.places = sc.place_data()
        self.n_places = self.places.n
        self.focus = self.places.index(sc.focus)
        self.place_graph = build_place_graph(self.places)
        self.wage = self.places.column("wage_wan_month")
        self.rd_productivity = place_rd_productivity(self.places, self.prm)

        kernels.warm_up()
        init = self.stream("init")
        self.firms, self.firm_w_place = init_firms(self.places, sc.population.firms, self.prm, init)
        wf = self.firm_weight()
        self.knowledge_ref = max(float((wf * row_sums(self.firms.knowledge)).sum() / wf.sum()),
                                 KNOWLEDGE_FLOOR)
        self.institutes, self.inst_w_place = init_institutes(
            self.places, sc.population.institutes, self.knowledge_ref, self.prm, init)
        self.firms.productivity = production.calibrate_productivity(self)
        self.firms.base_productivity = self.firms.productivity.copy()
        self.next_firm_id = self.firms.n
        add_spare_slots(self.firms, int(np.ceil(SPARE_SLOT_SHARE * self.firms.n)))
        self.knowledge_changed()
        self.firms.refresh_log_base()

        p = self.n_places
        wf = np.where(self.firms.alive, self.firm_weight(), 0.0)
        employed = np.bincount(self.firms.place, weights=wf * self.firms.talent, minlength=p)
        self.talent_pool = INITIAL_SEEKER_SHARE * employed
        self.capital_pool = (self.prm["pool_gdp_share"] * self.places.column("gdp_billion_yuan")
                             * WAN_PER_BILLION_YUAN)
        self.debt_matrix = np.zeros((p, p))
        self.barrier_multiplier = {f: np.ones((p, p)) for f in FACTORS}
        self.transaction_multiplier = np.ones((p, p))
        self.policy_cost = np.zeros((max(self.horizon, 1), p))
        #: Joint R&D deals between firm agents, one (k, 5) int array per month: rows of
        #: (step, firm id, partner firm id, firm's home place, partner's home place)
        self.collab_edges: list[np.ndarray] = []

        self.mechanisms: list[Mechanism] = []
        self.active_mechanisms: list[Mechanism] = []
        for name in type(sc.mechanisms).model_fields:
            cfg = getattr(sc.mechanisms, name)
            if cfg.enabled:
                self.mechanisms.append(REGISTRY[name](self, cfg))
        channels = CORE_CHANNELS + tuple(c for m in self.mechanisms for c in m.channels)
        accounts = CORE_ACCOUNTS + tuple(a for m in self.mechanisms for a in m.accounts)
        self.book = FlowBook(p, max(self.horizon, 1), channels, accounts)
        self.phi: dict[str, np.ndarray] = {}
        self.phi_free = np.ones((p, p))
        self.update_friction()

        self.governments = [CityGovernment(self, i) for i in range(p)]
        self.firm_agents: dict[int, Firm] = {
            i: Firm(self, i) for i in np.flatnonzero(self.firms.alive).tolist()}
        self.institute_agents = [ResearchInstitute(self, i) for i in range(self.institutes.n)]
        self._streams = {name: self.stream(name)
                         for name in ("production", "talent", "technology", "demography")}
        self.metric_rows: list[dict[str, float]] = []
        #: Values of the long metrics table, one array per step (keys: ``metrics.long_keys``).
        self.long_values: list[np.ndarray] = []
        self.timings: dict[str, float] | None = None
        self.clock: Callable[[str | None], str | None] = no_clock
        self.initial_stocks = (self.talent_stock(), self.capital_stock())

    # ------------------------------------------------------------------ infrastructure
    def stream(self, name: str) -> np.random.Generator:
        """A random stream for one purpose, spawned from the run seed.

        Streams are keyed by name (``SeedSequence(seed, spawn_key=(crc32(name),))``), so adding a
        mechanism's stream does not shift the draws of any other.

        Parameters
        ----------
        name : str
            Purpose, e.g. ``"talent"`` or ``"mechanism:vouchers"``.

        Returns
        -------
        numpy.random.Generator
            A new generator for that stream.
        """
        ss = np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(name.encode()),))
        return np.random.Generator(np.random.PCG64(ss))

    def knowledge_changed(self, rows: np.ndarray | None = None) -> None:
        """Report that firm knowledge changed (``rows``: those slots only; default: any slot).

        Every stage that changes ``firms.knowledge`` calls this, so that the cached knowledge
        quality (:func:`production.quality`) and totals (:meth:`knowledge_totals`, kept from one
        month's metrics to the next month) are recomputed where needed. Code that changes
        knowledge outside the model's stages, including between steps, must call it too.
        """
        if rows is None:
            self.quality_cache = self.kappa_cache = None
            self.knowledge_rows, self.kappa_rows = [], []
            return
        rows = np.asarray(rows, dtype=np.int64)
        if self.quality_cache is not None:
            self.knowledge_rows.append(rows)
        if self.kappa_cache is not None:
            self.kappa_rows.append(rows)

    def knowledge_totals(self) -> np.ndarray:
        """Each firm slot's total knowledge ``κ_i = Σ_f k_if`` (read-only; do not modify).

        The sums are :func:`kernels.row_sums`' (left to right). The model keeps the last result
        and, after :meth:`knowledge_changed` reported some rows, recomputes those rows only
        (the same bits as a full computation: each row's sum does not depend on the others).
        """
        kappa = self.kappa_cache
        if kappa is None or self.firms.knowledge is not self._kappa_of:  # a new array: all new
            kappa = row_sums(self.firms.knowledge)
        elif self.kappa_rows:
            kappa = refresh_row_sums(kappa, self.firms.knowledge, pending_rows(self.kappa_rows))
        else:
            return kappa
        kappa.flags.writeable = False
        self.kappa_cache = kappa
        self.kappa_rows = []
        self._kappa_of = self.firms.knowledge
        return kappa

    def keep_knowledge_totals(self, kappa: np.ndarray) -> None:
        """Keep ``kappa``, the :meth:`knowledge_totals` of the current knowledge, computed elsewhere.

        ``kappa`` must be :func:`kernels.row_sums` of ``firms.knowledge`` as it is now (e.g. a
        by-product of a pass over the knowledge); it is shared read-only from then on.
        """
        kappa.flags.writeable = False
        self.kappa_cache = kappa
        self.kappa_rows = []
        self._kappa_of = self.firms.knowledge

    def firm_weight(self) -> np.ndarray:
        """Real firms each firm slot stands for (by home place).

        Inside a step the array is computed once and shared (read-only) until a firm's home place
        changes (entry), see :meth:`invalidate_weights`.
        """
        wf = self._wf_cache
        if wf is None:
            wf = self.firm_w_place[self.firms.place]
        return wf

    def invalidate_weights(self, slots: np.ndarray | None = None) -> None:
        """Renew the shared firm weights (call after changing ``firms.place``).

        ``slots``: the only slots whose place changed (default: any slot). The shared array is
        replaced, not modified, as holders of the old one may still use it.
        """
        self._away = None
        if self._wf_cache is not None:
            if slots is None:
                wf = self.firm_w_place[self.firms.place]
            else:
                wf = self._wf_cache.copy()
                wf[slots] = self.firm_w_place[self.firms.place[slots]]
            wf.flags.writeable = False
            self._wf_cache = wf

    def inst_weight(self) -> np.ndarray:
        """Real institutes each institute agent stands for."""
        return self.inst_w_place[self.institutes.place]

    def update_friction(self) -> None:
        """Recompute ``φ`` per factor from the barrier levers, and the border-free ``φ_free``.

        The distance decay and ``φ_free`` depend on the parameters only: they are computed again
        when ``distance_decay_km`` or a barrier changed (``φ_free`` is then the same array as
        before, :func:`friction.friction_matrices`' values).
        """
        prm = self.prm
        barriers = (prm["barrier_place"], prm["barrier_city"], prm["barrier_province"])
        key = (prm["distance_decay_km"], barriers)
        if key != self._friction_key:
            phi, free = friction_matrices(self.places, prm["distance_decay_km"], barriers,
                                          {f: self.barrier_multiplier[f] for f in FACTORS})
            self._friction_key = key
            self._decay = np.exp(-self.places.distance_km / prm["distance_decay_km"])
            self.phi, self.phi_free = phi, free
            return
        b = np.array(barriers, np.float64)
        self.phi = {f: apply_barriers(self._decay, self.places.level, b, self.barrier_multiplier[f])
                    for f in FACTORS}

    def home_shares(self, amount: np.ndarray, home_part: np.ndarray | None = None
                    ) -> np.ndarray | None:
        """How amounts received at unit places belong to the firms' home places.

        A firm with a unit in an enclave park acts (hires, buys, learns) in its unit's place but
        the unit belongs to the home firm, so its flows are recorded to its home place.

        Parameters
        ----------
        amount : numpy.ndarray
            Amount per firm slot received at its unit place (e.g. hires, absorbed knowledge).
        home_part : numpy.ndarray, optional
            Amount per firm slot received at its home place (e.g. hires of its home staff).

        Returns
        -------
        numpy.ndarray or None
            ``S`` (P×P): share of what unit place ``b`` receives that belongs to home ``c``, so a
            flow matrix by unit place ``M`` becomes ``M @ S`` by home place; ``None`` when every
            firm operates at home (no re-attribution needed).
        """
        f = self.firms
        p = self.n_places
        if not self.any_away():
            return None
        mat, away = unit_home_matrix(f.unit_place, f.place,
                                     np.ascontiguousarray(amount, dtype=np.float64), p)
        if not away:
            return None
        if home_part is not None:
            mat += np.diag(np.bincount(f.place, weights=home_part, minlength=p))
        return self.home_share_matrix(mat)

    @staticmethod
    def home_share_matrix(mat: np.ndarray) -> np.ndarray:
        """Row-normalise amounts by unit place (rows) and home place (columns) into ``S``.

        See :meth:`home_shares`; a unit place that received nothing keeps its own amounts
        (identity row).
        """
        p = mat.shape[0]
        tot = mat.sum(axis=1, keepdims=True)
        share = np.divide(mat, tot, out=np.zeros((p, p)), where=tot > 0)
        share[tot[:, 0] <= 0] = np.eye(p)[tot[:, 0] <= 0]
        return share

    def any_away(self) -> bool:
        """Whether some firm slot operates a unit away from its home place (enclave parks).

        Inside a step the answer is kept until :meth:`units_moved` (or
        :meth:`invalidate_weights`) reports a change of ``firms.unit_place`` or ``firms.place``.
        """
        away = self._away
        if away is None:
            f = self.firms
            away = bool((f.unit_place != f.place).any())
            if self._wf_cache is not None:  # inside a step
                self._away = away
        return away

    def units_moved(self) -> None:
        """Report that some ``firms.unit_place`` changed (enclave moves; see :meth:`any_away`)."""
        self._away = None

    @property
    def long_rows(self) -> list[tuple]:
        """Rows ``(step, place, metric, factor, level, value)`` of the long metrics table."""
        keys = metrics.long_keys(self)
        return [(t, *key, value) for t, values in enumerate(self.long_values)
                for key, value in zip(keys, values.tolist(), strict=True)]

    def talent_stock(self) -> float:
        """Talent in firms and job-seeker pools, persons (institutes' researchers excluded)."""
        f = self.firms
        return live_weighted_sum(f.alive, self.firm_weight(), f.talent) + float(
            self.talent_pool.sum())

    def capital_stock(self) -> float:
        """Capital held by firms and investable pools, 万元."""
        f = self.firms
        return live_weighted_sum(f.alive, self.firm_weight(), f.capital) + float(
            self.capital_pool.sum())

    # ------------------------------------------------------------------ dynamics
    def step(self) -> None:
        """Advance one month."""
        t = self.steps - 1
        clock = no_clock if self.timings is None else _Clock(self.timings)
        self.clock = self.book.clock = clock
        wf = self.firm_w_place[self.firms.place]
        wf.flags.writeable = False
        self._wf_cache = wf
        self._away = None
        try:
            self._advance(t, clock)
        finally:
            self._wf_cache = None
            self._away = None
            self.clock = self.book.clock = no_clock

    def _advance(self, t: int, clock: Callable[[str | None], str | None]) -> None:
        """The stages of one month (see the module docstring); ``clock(name)`` starts a stage."""
        clock("levers")
        self.book.begin(t)
        self.active_mechanisms = [m for m in self.mechanisms if m.active(t)]
        if self.mechanisms:  # levers are rebuilt each month from the active mechanisms
            for mat in self.barrier_multiplier.values():
                mat.fill(1.0)
            self.transaction_multiplier.fill(1.0)
        for mech in self.active_mechanisms:  # phase 1: levers, so actions see this month's
            clock(mech.name)
            mech.set_levers(t)
        clock("levers")
        self.update_friction()
        for mech in self.active_mechanisms:  # phase 2: actions (enclave moves, voucher projects)
            clock(mech.name)
            mech.before_step(t)
        clock("production")
        production.shock_productivity(self, self._streams["production"])
        clock("talent")
        talent.step(self, self._streams["talent"])
        clock("technology")
        technology.step(self, self._streams["technology"])
        clock("capital")
        capital.step(self)
        clock("innovation")
        innovation.step(self)
        clock("demography")
        gone, born = demography.step(self, self._streams["demography"])
        clock("agents")
        self._sync_agents(gone, born)
        for mech in self.active_mechanisms:
            clock(mech.name)
            mech.after_step(t)
        clock("metrics")
        row, long_values = metrics.collect(self, t)
        for mech in self.mechanisms:
            clock(mech.name)
            row.update(mech.metrics(t))
        clock("recording")
        self.metric_rows.append(row)
        self.long_values.append(long_values)
        clock(None)
        if self.steps >= self.horizon:
            self.running = False

    def _sync_agents(self, gone: np.ndarray, born: np.ndarray) -> None:
        """Remove the agents of exited firms and create agents for founded ones (per event)."""
        agents = self.firm_agents
        for slot in gone.tolist():
            agent = agents.pop(slot, None)
            if agent is not None:
                agent.remove()
        ids = self.firms.firm_id[born].tolist()
        for slot, firm_id in zip(born.tolist(), ids, strict=True):
            agents[slot] = Firm(self, slot, firm_id)

    def run(self, on_step: Callable[[int], None] | None = None) -> None:
        """Run until the horizon.

        BLAS is limited to one thread while running: the kernels' matrix products are skinny
        (N × 8 by 8 × 16), where thread wake-ups cost more than they save, and parallel
        experiments run one model per core.

        Parameters
        ----------
        on_step : callable, optional
            Called with the number of completed steps after each step (progress bars).
        """
        with threadpool_limits(limits=1, user_api="blas"):
            while self.steps < self.horizon:
                self.step()
                if on_step is not None:
                    on_step(self.steps)



class _Clock:
    """Kernel timer behind ``CoinnovationModel.timings``.

    ``clock(name)`` books the time since the last call to the running stage and starts stage
    ``name`` (``None``: stop); it returns the stage that was running, so a nested part (e.g. flow
    recording) can hand the time back with ``clock(previous)``.
    """

    __slots__ = ("last", "name", "timings")

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.name: str | None = None
        self.last = time.perf_counter()

    def __call__(self, name: str | None) -> str | None:
        now = time.perf_counter()
        prev = self.name
        if prev is not None:
            self.timings[prev] = self.timings.get(prev, 0.0) + (now - self.last)
        self.name = name
        self.last = now
        return prev
