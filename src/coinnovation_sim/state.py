"""Model-owned numpy arrays holding the state of firms and institutes, and their initialisation.

Firms and institutes are Mesa agents (:mod:`coinnovation_sim.agents`), but their state lives
here, one array per variable, so each step runs vectorised kernels over the whole population.
A firm agent stands for ``w_p`` real innovation-active firms of its place ``p`` (real count /
agent count); quantities per firm are per *real* firm, and aggregates multiply by ``w``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .places import PlaceData

#: Spare firm slots created at start, as a share of the initial firm agents, so entry can exceed
#: exit for a while before the agent population is bounded.
SPARE_SLOT_SHARE = 0.25


def add_spare_slots(state: FirmState, k: int) -> None:
    """Append ``k`` empty (dead) firm slots for future entrants.

    Parameters
    ----------
    state : FirmState
        The firm arrays, extended in place.
    k : int
        Slots to add.
    """
    nf = state.knowledge.shape[1]
    for name in ("alive", "place", "unit_place", "unit_share", "field", "talent", "capital", "debt",
                 "overhead", "productivity", "base_productivity", "neg_months", "firm_id"):
        arr = getattr(state, name)
        fill = {"firm_id": -1, "unit_share": 1}.get(name, 0)
        setattr(state, name, np.concatenate([arr, np.full(k, fill, dtype=arr.dtype)]))
    state.knowledge = np.concatenate([state.knowledge, np.zeros((k, nf))])


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` agents over places in proportion to ``weights`` (largest remainder).

    Parameters
    ----------
    total : int
        Agents to allocate.
    weights : numpy.ndarray
        Non-negative weights per place.

    Returns
    -------
    numpy.ndarray
        Integer counts summing to ``total`` (zero where the weight is zero); when
        ``total`` is at least the number of positive weights, each of them gets one or more.
    """
    w = np.asarray(weights, float)
    counts = np.zeros(len(w), dtype=np.int64)
    if total <= 0 or w.sum() <= 0:
        return counts
    positive = w > 0
    if total >= positive.sum():
        counts[positive] = 1
    rest = total - counts.sum()
    quota = rest * w / w.sum()
    floor = np.floor(quota).astype(np.int64)
    counts += floor
    remainder = quota - floor
    left = total - counts.sum()
    order = np.lexsort((np.arange(len(w)), -remainder))
    counts[order[:left]] += 1
    return counts


@dataclass
class FirmState:
    """Arrays of the firm population (one row per agent slot).

    Attributes
    ----------
    alive : bool array
        Whether the slot holds a live firm.
    place : int array
        Home place index.
    unit_place : int array
        Place where the firm's R&D/production unit operates (the home place unless the firm has a
        unit in an enclave park): the place whose talent pool and institutes it reaches locally.
    unit_share : float array
        Share of the firm's staff working in its unit (1 at home or for a whole-firm unit; e.g.
        the R&D share for a research unit); the rest works, is hired and paid at home.
    field : int array
        Main technology field.
    knowledge : float array (n, F)
        Knowledge stock per field, per real firm.
    talent : float array
        Talent employed per real firm, persons.
    capital : float array
        Liquid capital per real firm, 万元.
    debt : float array
        Outstanding investment received per real firm, 万元.
    overhead : float array
        Fixed monthly operating cost per real firm, 万元.
    productivity : float array
        Revenue scale ``a`` (万元 per month per person^theta).
    base_productivity : float array
        Long-run productivity level the shocks revert to.
    log_base_productivity : float array
        ``log(max(base_productivity, 1e-300))``, kept with it by the code that sets base
        productivity (model set-up, entry); used by the monthly shocks and by entrants.
    neg_months : int array
        Consecutive months with negative capital.
    firm_id : int array
        Identity of the firm in the slot (new id on entry).
    """

    alive: np.ndarray
    place: np.ndarray
    unit_place: np.ndarray
    unit_share: np.ndarray
    field: np.ndarray
    knowledge: np.ndarray
    talent: np.ndarray
    capital: np.ndarray
    debt: np.ndarray
    overhead: np.ndarray
    productivity: np.ndarray
    base_productivity: np.ndarray
    neg_months: np.ndarray
    firm_id: np.ndarray
    log_base_productivity: np.ndarray | None = None

    def refresh_log_base(self, slots: np.ndarray | None = None) -> None:
        """Recompute :attr:`log_base_productivity` of ``slots`` (all slots when omitted).

        Call after changing ``base_productivity``; the logarithm of an element does not depend
        on the array it is computed in, so a partial refresh gives the same bits as a full one.
        """
        if slots is None or self.log_base_productivity is None:
            self.log_base_productivity = np.log(np.maximum(self.base_productivity, 1e-300))
        else:
            self.log_base_productivity[slots] = np.log(
                np.maximum(self.base_productivity[slots], 1e-300))

    @property
    def n(self) -> int:
        """Number of slots."""
        return len(self.alive)


@dataclass
class InstituteState:
    """Arrays of the research institutes (universities, institutes, service platforms).

    Attributes
    ----------
    place : int array
        Place index.
    knowledge : float array (m, F)
        Knowledge stock per field, per real institute.
    researchers : float array
        Researchers per real institute, persons.
    capacity : float array
        Services per month a real institute can deliver.
    production : float array
        Knowledge production scale keeping the initial stock at its steady state.
    revenue : float array
        Cumulative service revenue per real institute, 万元.
    """

    place: np.ndarray
    knowledge: np.ndarray
    researchers: np.ndarray
    capacity: np.ndarray
    production: np.ndarray
    revenue: np.ndarray

    @property
    def n(self) -> int:
        """Number of institute agents."""
        return len(self.place)


def place_rd_productivity(places: PlaceData, prm: dict[str, float]) -> np.ndarray:
    """R&D productivity per place: the base rate scaled by local research strength.

    Parameters
    ----------
    places : PlaceData
        Places.
    prm : dict
        Parameters.

    Returns
    -------
    numpy.ndarray
        ``A_p = rd_productivity · (1 + rs_p / mean(rs))^0.5 / 2^0.5`` (assumption: firms near
        strong public research produce knowledge more easily; equals the base rate at the mean).
    """
    rs = places.column("research_strength")
    mean = rs.mean() if rs.mean() > 0 else 1.0
    return prm["rd_productivity"] * np.sqrt((1.0 + rs / mean) / 2.0)


def steady_knowledge(a_p: np.ndarray, talent: np.ndarray, prm: dict[str, float]) -> np.ndarray:
    """Knowledge stock at which production equals depreciation for given talent.

    Parameters
    ----------
    a_p : numpy.ndarray
        R&D productivity per firm.
    talent : numpy.ndarray
        Talent per firm.
    prm : dict
        Parameters.

    Returns
    -------
    numpy.ndarray
        ``A (s T)^β / δ``.
    """
    dep = max(prm["knowledge_depreciation"], 1e-3)
    return a_p * (prm["rd_talent_share"] * talent) ** prm["rd_elasticity"] / dep


def init_firms(places: PlaceData, n_agents: int, prm: dict[str, float],
               rng: np.random.Generator) -> tuple[FirmState, np.ndarray]:
    """Create the initial firm population.

    Parameters
    ----------
    places : PlaceData
        Places (real firm counts, mixes, wages).
    n_agents : int
        Firm agents over all places.
    prm : dict
        Parameters.
    rng : numpy.random.Generator
        The initialisation stream.

    Returns
    -------
    FirmState
        The arrays.
    numpy.ndarray
        Weight ``w_p`` per place (real firms per agent; 0 where a place has no agents).
    """
    real = places.column("innovative_firms")
    counts = apportion(n_agents, real)
    weight = np.divide(real, counts, out=np.zeros(places.n), where=counts > 0)
    place = np.repeat(np.arange(places.n), counts).astype(np.int64)
    mix = places.mix
    nf = mix.shape[1]
    cum = np.cumsum(mix[place], axis=1)
    field = np.minimum((rng.random(n_agents)[:, None] > cum).sum(axis=1), nf - 1)
    sigma = 0.8
    talent = prm["talent_per_firm"] * rng.lognormal(-sigma**2 / 2, sigma, n_agents)
    a_p = place_rd_productivity(places, prm)[place]
    size = steady_knowledge(a_p, talent, prm)
    onehot = np.zeros((n_agents, nf))
    onehot[np.arange(n_agents), field] = 1.0
    shape = (0.6 * onehot + 0.4 * mix[place]) * rng.lognormal(0.0, 0.3, (n_agents, nf))
    shape /= shape.sum(axis=1, keepdims=True)
    knowledge = shape * size[:, None]
    wage = places.column("wage_wan_month")[place]
    capital = prm["capital_buffer_months"] * wage * talent * rng.uniform(0.5, 1.5, n_agents)
    state = FirmState(
        alive=np.ones(n_agents, bool), place=place, unit_place=place.copy(),
        unit_share=np.ones(n_agents), field=field,
        knowledge=knowledge, talent=talent, capital=capital, debt=np.zeros(n_agents),
        overhead=prm["overhead_share"] * wage * talent,
        productivity=np.zeros(n_agents), base_productivity=np.zeros(n_agents),
        neg_months=np.zeros(n_agents, np.int64), firm_id=np.arange(n_agents, dtype=np.int64),
    )
    return state, weight


def init_institutes(places: PlaceData, n_agents: int, firm_knowledge_mean: float,
                    prm: dict[str, float], rng: np.random.Generator
                    ) -> tuple[InstituteState, np.ndarray]:
    """Create the research institutes, allocated by the places' institute counts.

    Parameters
    ----------
    places : PlaceData
        Places (institutes, researchers, research strength, mixes).
    n_agents : int
        Institute agents over all places.
    firm_knowledge_mean : float
        Mean total knowledge of firms at start (the scale for institutes' stocks).
    prm : dict
        Parameters.
    rng : numpy.random.Generator
        The initialisation stream.

    Returns
    -------
    InstituteState
        The arrays.
    numpy.ndarray
        Weight per place (real institutes per agent).
    """
    real = places.column("institutes")
    counts = apportion(n_agents, real)
    weight = np.divide(real, counts, out=np.zeros(places.n), where=counts > 0)
    place = np.repeat(np.arange(places.n), counts).astype(np.int64)
    per_inst = np.divide(places.column("researchers_k") * 1000.0, real,
                         out=np.zeros(places.n), where=real > 0)
    m = len(place)
    researchers = per_inst[place] * rng.lognormal(-0.5**2 / 2, 0.5, m)
    rs = places.column("research_strength")
    rel = rs / rs.mean() if rs.mean() > 0 else np.ones(places.n)
    nf = places.mix.shape[1]
    shape = (0.5 * places.mix[place] + 0.5 / nf) * rng.lognormal(0.0, 0.5, (m, nf))
    shape /= np.maximum(shape.sum(axis=1, keepdims=True), 1e-12)
    size = prm["institute_knowledge_factor"] * firm_knowledge_mean * np.sqrt(rel[place])
    knowledge = shape * size[:, None]
    beta = prm["rd_elasticity"]
    production = np.divide(prm["knowledge_depreciation"] * knowledge.sum(axis=1),
                           np.maximum(researchers, 1e-9) ** beta)
    state = InstituteState(
        place=place, knowledge=knowledge, researchers=researchers,
        capacity=prm["institute_capacity"] * researchers, production=production,
        revenue=np.zeros(m),
    )
    return state, weight
