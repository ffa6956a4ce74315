"""Technology: services and licences from institutes, joint R&D between firms.

Each month a share of firms with positive capital searches for a partner. A searcher draws a
bounded number of candidates by two-stage sampling: a partner *place* from a P×P matrix
(friction ``φ`` × the place's knowledge-weighted capacity), then a partner *agent* inside it.
It keeps the candidate with the largest positive net gain

    value − price − transaction cost,   value = v · λ · A_r · e(δ) · Σ max(0, k_s − k_r),

where ``e(δ) = 4δ(1−δ)`` is the learning efficiency in cognitive distance (Nooteboom et al.
2007), ``A_r`` the receiver's absorptive capacity (Cohen & Levinthal 1990), and the transaction
cost grows with friction as ``c / φ``. Institutes ration their service capacity; a joint R&D
partner must gain too. Deals are recorded as technology flows (万元) from provider to buyer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .kernels import row_sums
from .knowledge import _EPS as KNOWLEDGE_EPS
from .knowledge import absorptive_capacity, cosine_similarity, learning_efficiency
from .sampling import SegmentSampler, cumulative_rows
from .search_kernels import (
    agree_deals,
    agreement_setup,
    draw_candidates,
    receiver_knowledge,
    search_rounds,
    search_setup,
    search_start,
    settle_and_record,
    weigh_candidates,
)

if TYPE_CHECKING:
    from .model import CoinnovationModel


def _gain(model: CoinnovationModel, k_src: np.ndarray, k_rcv: np.ndarray,
          rcv: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Knowledge the receiver absorbs from the source in one deal, per field.

    ``rcv``: the receivers' squared norms and absorptive capacities when already known (they do
    not depend on the source; :func:`receiver_terms`).
    """
    prm = model.prm
    if rcv is None:
        eff = learning_efficiency(1.0 - cosine_similarity(k_src, k_rcv))
        cap = absorptive_capacity(row_sums(k_rcv), prm["absorptive_half"])
    else:
        sq_rcv, cap = rcv
        # cosine_similarity(k_src, k_rcv) with the receivers' part reused (same arithmetic)
        num = np.einsum("ij,ij->i", k_src, k_rcv)
        den = np.sqrt(np.einsum("ij,ij->i", k_src, k_src) * sq_rcv)
        cos = np.where(den > KNOWLEDGE_EPS, num / np.maximum(den, KNOWLEDGE_EPS), 0.0)
        eff = learning_efficiency(1.0 - cos)
    return (prm["learning_rate"] * cap * eff)[:, None] * np.maximum(0.0, k_src - k_rcv)


def receiver_terms(model: CoinnovationModel, k_rcv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared norms and absorptive capacities of receivers (reused over their candidates)."""
    return (np.einsum("ij,ij->i", k_rcv, k_rcv),
            absorptive_capacity(row_sums(k_rcv), model.prm["absorptive_half"]))


@dataclass
class PlaceRows:
    """Where each searcher draws its candidate place: row ``row[i]`` of ``prob``.

    Attributes
    ----------
    prob : numpy.ndarray
        Rows of place probabilities, (R, P).
    row : numpy.ndarray
        Row per searcher (n,), -1 for a searcher that draws no candidate.
    cum : numpy.ndarray
        Running sums of the rows of ``prob`` (:func:`~coinnovation_sim.sampling.cumulative_rows`;
        computed when not given).
    """

    prob: np.ndarray
    row: np.ndarray
    cum: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.prob = np.ascontiguousarray(self.prob, dtype=np.float64)
        self.row = np.ascontiguousarray(self.row, dtype=np.int64)
        if self.cum is None:
            self.cum = cumulative_rows(self.prob)


#: ``active`` of :func:`search_kernels.offer_validity` meaning every searcher.
_EVERY = np.zeros(0, bool)
#: ``fixed_dest`` and ``u_fixed`` of :func:`search_kernels.search_rounds` meaning no fixed round.
_NO_PLACES = np.zeros(0, np.int64)
_NO_UNIFORMS = np.zeros(0)


@dataclass
class Search:
    """The searching firms of one month and the best candidate each has found so far.

    Attributes
    ----------
    searcher : numpy.ndarray
        Firm slots searching this month.
    origin : numpy.ndarray
        Place where each searcher's unit operates (friction is measured from here).
    home : numpy.ndarray
        Each searcher's home place (where its flows are recorded).
    collab : numpy.ndarray
        True where the searcher looks for a joint R&D partner (a firm), else an institute.
    price : numpy.ndarray
        List price of the deal each searcher looks for, 万元.
    firm_sampler, inst_sampler : SegmentSampler
        Within-place samplers of partner firms and institutes.
    best_* : numpy.ndarray
        Best candidate so far: net gain (with any subsidy), destination place, partner index,
        knowledge gain, transaction cost, subsidy, and net gain without the subsidy.
    partner_gain : numpy.ndarray
        Knowledge a joint R&D partner would absorb from the searcher (set when deals agree).
    """

    searcher: np.ndarray
    origin: np.ndarray
    home: np.ndarray
    collab: np.ndarray
    price: np.ndarray
    firm_sampler: SegmentSampler
    inst_sampler: SegmentSampler
    best_net: np.ndarray
    best_dest: np.ndarray
    best_idx: np.ndarray
    best_gain: np.ndarray
    best_tc: np.ndarray
    best_subsidy: np.ndarray
    best_plain_net: np.ndarray
    partner_gain: np.ndarray | None = None
    #: Searchers' knowledge and receiver terms, filled by the first :func:`consider` (knowledge
    #: does not change while candidates are considered).
    rcv_knowledge: np.ndarray | None = None
    rcv_terms: tuple[np.ndarray, np.ndarray] | None = None
    #: The arguments of the candidate kernels that stay fixed while candidates are considered
    #: (:func:`_terms`), filled by the first :func:`consider`.
    terms: tuple | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of searchers."""
        return len(self.searcher)

    def draw(self, rows: np.ndarray | PlaceRows, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one candidate per searcher: a place from ``rows``, then an agent inside it.

        ``rows``: each searcher's place probabilities, (n, P), or a :class:`PlaceRows`. Two
        uniforms per searcher are drawn from ``rng``: all the places' first, then the agents'.
        """
        u_place = rng.random(self.n)
        u = rng.random(self.n)
        if not isinstance(rows, PlaceRows):
            rows = PlaceRows(rows, np.arange(self.n))
        return self.candidates(rows, u_place, u)

    def candidates(self, rows: PlaceRows, u_place: np.ndarray, u: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """One candidate per searcher from given uniforms (:func:`search_kernels.draw_candidates`).

        Searcher ``i`` draws a place from row ``rows.row[i]`` of ``rows.prob`` (none where it is
        -1) with ``u_place[i]`` (as :func:`~coinnovation_sim.sampling.draw_from_rows`), then a
        partner firm (``collab``) or institute inside it with ``u[i]`` (as
        ``SegmentSampler.draw``).

        Returns
        -------
        dest, idx : numpy.ndarray
            Candidate place and partner index per searcher (-1: none).
        """
        return draw_candidates(rows.cum, rows.row,
                               np.ascontiguousarray(self.collab, dtype=bool),
                               np.ascontiguousarray(u_place, dtype=np.float64),
                               np.ascontiguousarray(u, dtype=np.float64),
                               *self.firm_sampler.arrays(), *self.inst_sampler.arrays())


def _start(model: CoinnovationModel, rng: np.random.Generator, rounds: int = 0
           ) -> tuple[Search, PlaceRows, np.ndarray]:
    """Pick this month's searchers and build the samplers; return the search and its rows.

    Searchers' place rows: row ``o`` of the firm-partner probabilities (friction × the places'
    total partner weight, normalised) for a joint R&D searcher at ``o``, row ``P + o`` of the
    institute ones otherwise. Also returns the uniforms of ``rounds`` candidate rounds
    (:func:`candidate_rounds`), drawn after the searchers' kinds: ``rng.random(n)`` then
    ``rng.random((rounds, 2, n))`` in one call.
    """
    f, inst, prm = model.firms, model.institutes, model.prm
    p = model.n_places
    wf = model.firm_weight()
    u_search = rng.random(f.n)
    # searchers, and the firm sampler of partner weights weight · Σ_f k_f by unit place (the
    # totals Σ_f k_f are the model's, kept up to date between their uses)
    searcher, *firm_arrays = search_start(
        f.alive, f.capital, u_search, float(prm["search_probability"]), wf,
        model.knowledge_totals(), np.ascontiguousarray(f.unit_place, dtype=np.int64), p)
    firm_sampler = SegmentSampler.from_arrays(*firm_arrays)
    ns = len(searcher)
    u = rng.random(ns * (1 + 2 * rounds))
    # who looks for a firm, origins, the institute sampler of weights w · capacity · Σ_f k_f,
    # the place rows (friction × the places' total partner weight, normalised), the prices,
    # empty bests
    # and the searchers' knowledge and absorptive capacities (receiver_knowledge)
    collab, origin, home, row, price, inst_arrays, prob, cum, best, (rcv_k, cap) = search_setup(
        searcher, u[:ns], float(prm["collaboration_share"]),
        np.ascontiguousarray(f.unit_place, dtype=np.int64),
        np.ascontiguousarray(f.place, dtype=np.int64),
        np.ascontiguousarray(inst.place, dtype=np.int64),
        np.ascontiguousarray(model.inst_weight(), dtype=np.float64),
        np.ascontiguousarray(inst.capacity, dtype=np.float64), inst.knowledge,
        np.ascontiguousarray(model.phi["technology"], dtype=np.float64), firm_sampler.total,
        f.knowledge.shape[1], float(prm["collaboration_cost_wan"]),
        float(prm["service_price_wan"]), f.knowledge, float(prm["absorptive_half"]))
    rows = PlaceRows(prob, row, cum)
    search = Search(
        searcher=searcher, origin=origin, home=home, collab=collab,
        price=price,
        firm_sampler=firm_sampler, inst_sampler=SegmentSampler.from_arrays(*inst_arrays),
        best_net=best[0], best_dest=best[1], best_idx=best[2], best_gain=best[3],
        best_tc=best[4], best_subsidy=best[5], best_plain_net=best[6])
    # the receivers' terms (_terms): the squared norms numpy's einsum
    search.rcv_knowledge, search.rcv_terms = rcv_k, (np.einsum("ij,ij->i", rcv_k, rcv_k), cap)
    return search, rows, u[ns:].reshape(rounds, 2, ns)


def _quotes(model: CoinnovationModel, s: Search) -> tuple[np.ndarray, np.ndarray]:
    """The mechanisms' subsidy quotes for the search (``quote_terms``), stacked.

    Returns
    -------
    amount, pairs : numpy.ndarray
        Quote per quoting mechanism and searcher (M, n) and the (home, destination) place pairs
        each quotes at (M, P, P); M = 0 when no mechanism quotes.
    """
    amounts, pairs = [], []
    for mech in model.active_mechanisms:
        quote = mech.quote_terms(s)
        if quote is not None:
            amounts.append(np.ascontiguousarray(quote[0], dtype=np.float64))
            pairs.append(np.ascontiguousarray(quote[1], dtype=bool))
    p = model.n_places
    if not amounts:
        return np.zeros((0, s.n)), np.zeros((0, p, p), bool)
    if len(amounts) == 1:
        return amounts[0][None, :], pairs[0][None]
    return np.stack(amounts), np.stack(pairs)


def _terms(model: CoinnovationModel, s: Search) -> tuple:
    """The fixed arguments of :func:`search_kernels.weigh_candidates` after ``dest, idx, active``.

    Computed once per search (knowledge, levers, prices and the mechanisms' quotes do not change
    while candidates are considered): the searchers' kind, slot, origin and home, firms' and
    institutes' knowledge, the receivers' knowledge, squared norms (numpy's ``einsum``) and
    absorptive capacities (:func:`receiver_terms`), the parameters, prices, levers and quotes.
    """
    if s.terms is None:
        f, inst, prm = model.firms, model.institutes, model.prm
        if s.rcv_knowledge is None:
            # receiver_terms(model, f.knowledge[s.searcher]): the gather and the capacities in
            # one loop, the squared norms numpy's einsum
            s.rcv_knowledge, cap = receiver_knowledge(s.searcher, f.knowledge,
                                                      float(prm["absorptive_half"]))
            s.rcv_terms = (np.einsum("ij,ij->i", s.rcv_knowledge, s.rcv_knowledge), cap)
        sq_rcv, cap = s.rcv_terms
        inst_k = inst.knowledge if inst.n else np.zeros((1, f.knowledge.shape[1]))
        s.terms = (np.ascontiguousarray(s.collab, dtype=bool),
                   np.ascontiguousarray(s.searcher, dtype=np.int64),
                   np.ascontiguousarray(s.origin, dtype=np.int64),
                   np.ascontiguousarray(s.home, dtype=np.int64), f.knowledge, inst_k,
                   s.rcv_knowledge, sq_rcv, cap, float(prm["learning_rate"]),
                   float(prm["knowledge_value_wan"]),
                   np.ascontiguousarray(s.price, dtype=np.float64),
                   float(prm["transaction_cost_wan"]), model.transaction_multiplier,
                   model.phi["technology"], KNOWLEDGE_EPS, *_quotes(model, s))
    return s.terms


def _best(s: Search) -> tuple[np.ndarray, ...]:
    """The search's best candidates, in :func:`search_kernels.weigh_offers` order."""
    return (s.best_net, s.best_dest, s.best_idx, s.best_gain, s.best_tc, s.best_subsidy,
            s.best_plain_net)


def consider(model: CoinnovationModel, s: Search, dest: np.ndarray, idx: np.ndarray,
             active: np.ndarray | None = None) -> None:
    """Evaluate one candidate per searcher and keep it where it beats the best so far.

    A candidate counts where it was drawn, its searcher is ``active`` and it is not the
    searcher itself; the mechanisms' quotes (``quote_terms``) lower its price; its transaction
    cost ``c · m[o, d] / φ[o, d]``, knowledge gain and net gain (+ subsidy) are weighed against
    the best so far (:func:`search_kernels.weigh_candidates`).

    Parameters
    ----------
    model : CoinnovationModel
        The model.
    s : Search
        The month's search, updated in place.
    dest, idx : numpy.ndarray
        Candidate place and partner index per searcher (-1: none).
    active : numpy.ndarray, optional
        Mask of searchers this candidate applies to (all when omitted).
    """
    on = _EVERY if active is None else np.ascontiguousarray(active, dtype=bool)
    terms = _terms(model, s)
    weigh_candidates(np.ascontiguousarray(dest, dtype=np.int64),
                     np.ascontiguousarray(idx, dtype=np.int64), on, *terms, *_best(s))


def candidate_rounds(model: CoinnovationModel, s: Search, rows: PlaceRows, u: np.ndarray,
                     active: np.ndarray | None = None,
                     first: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Draw one candidate per searcher and :func:`consider` it, in rounds, in one call.

    ``u`` holds each round's uniforms, shape (R, 2, n): round ``r`` is
    ``consider(model, s, *s.candidates(rows, u[r, 0], u[r, 1]), active)``
    (:func:`search_kernels.search_rounds`). ``rng.random((R, 2, n))`` draws them in the order of
    R calls of :meth:`Search.draw` (each round's places' uniforms, then its partners').
    ``first``: places and uniforms ``(dest, u_first)`` of a round before those, the candidates
    ``dest`` with partners drawn there (``consider(model, s, dest, sampler.draw(dest, u_first),
    active)``, the sampler the searcher's kind draws from).
    """
    on = _EVERY if active is None else np.ascontiguousarray(active, dtype=bool)
    terms = _terms(model, s)
    if first is None:
        fixed, u_fixed = _NO_PLACES, _NO_UNIFORMS
    else:
        fixed = np.ascontiguousarray(first[0], dtype=np.int64)
        u_fixed = np.ascontiguousarray(first[1], dtype=np.float64)
    search_rounds(rows.cum, rows.row, np.ascontiguousarray(u, dtype=np.float64), fixed, u_fixed,
                  s.firm_sampler.arrays(), s.inst_sampler.arrays(), on, *terms, *_best(s))


def agree(model: CoinnovationModel, s: Search, rng: np.random.Generator) -> np.ndarray:
    """Deals that go ahead: partners must gain too, institutes ration capacity, schemes settle."""
    f, inst, prm = model.firms, model.institutes, model.prm
    wf = model.firm_weight()
    # deals found; partner gains (filled for joint R&D deals only); the joint R&D pairs and
    # both sides' knowledge; the number of service deals
    deal, s.partner_gain, pairs, pidx, k_src, k_rcv, services = agreement_setup(
        s.best_idx, s.collab, s.searcher, f.knowledge)
    if pairs.size or services:
        # the partner's gain (_gain(model, k_searcher, k_partner)) and net gain, the row dot
        # products numpy's einsum; then (deal & ~s.collab).any(): each institute's demand
        # (real firms) against its supply capacity × weight, a service deal at an
        # over-subscribed institute kept with probability supply / demand (partners agree on
        # joint R&D only); the two in one call, the rationing's uniforms drawn first (the
        # partners' agreement draws none)
        u = rng.random(s.n) if services else _NO_UNIFORMS
        if pairs.size:
            dots = (np.einsum("ij,ij->i", k_src, k_rcv), np.einsum("ij,ij->i", k_src, k_src),
                    np.einsum("ij,ij->i", k_rcv, k_rcv))
        else:
            dots = (_NO_UNIFORMS, _NO_UNIFORMS, _NO_UNIFORMS)
        agree_deals(pairs, pidx, k_src, k_rcv, *dots, float(prm["learning_rate"]),
                    float(prm["absorptive_half"]), KNOWLEDGE_EPS,
                    float(prm["knowledge_value_wan"]),
                    np.ascontiguousarray(s.price, dtype=np.float64), s.best_tc, f.capital, deal,
                    s.partner_gain, s.collab, s.best_idx, s.searcher, wf,
                    np.ascontiguousarray(inst.capacity, dtype=np.float64),
                    np.ascontiguousarray(model.inst_weight(), dtype=np.float64), u)
    for mech in model.active_mechanisms:
        kept = mech.settle_subsidy(s, deal)
        if kept is not None:
            lost = deal & ~kept & (s.best_subsidy > 0)
            s.best_subsidy = np.where(lost, 0.0, s.best_subsidy)
            deal &= ~lost | (s.best_plain_net > 0)
    return deal


def transact(model: CoinnovationModel, s: Search, deal: np.ndarray) -> None:
    """Apply knowledge gains and payments, and record flows and accounts.

    The gains, payments, records and border-free expectations come from one kernel
    (:func:`search_kernels.settle_deals`), which writes them to the flow book
    (:func:`search_kernels.settle_and_record`, as
    :meth:`~coinnovation_sim.flows.FlowBook.add_records` does): services, then joint R&D flows
    both ways, on their channels; institute services, joint R&D outlays of buyers and of
    partners, transaction costs of buyers and of partners, on their accounts; the border-free
    expectations of services and joint R&D. Without a joint R&D deal the joint R&D records are
    zeros and are not added (adding zeros leaves every record as it is: they start at +0, so none
    is −0).
    """
    f, inst, book = model.firms, model.institutes, model.book
    channels, accounts = book.rows(*_JOINT_RECORDS)
    # units in enclave parks belong to their home firms: flows are booked at home places;
    # border-free expectation: same buyers and volumes, destinations chosen with φ_free
    changed, edges = settle_and_record(
        f.knowledge, f.capital, inst.revenue, s.searcher, deal, s.collab, s.best_idx, s.best_gain,
        s.partner_gain, s.price, s.best_tc, s.best_subsidy, model.firm_weight(),
        np.ascontiguousarray(model.inst_weight(), dtype=np.float64), s.best_dest, s.home,
        f.place, f.firm_id, book.t, model.phi_free, s.inst_sampler.place_total(),
        s.firm_sampler.place_total(), *book.step_arrays(), channels, accounts,
        book.rows(_FREE_RECORDS)[0])
    model.knowledge_changed(changed)
    if len(edges):
        model.collab_edges.append(edges)


#: The flow book's channels and accounts of :func:`transact`'s records, in the order of the
#: rows of ``settle_deals``' flows and accounts.
_JOINT_RECORDS = (("service", "collaboration", "collaboration"),
                  ("institute_services", "collaboration_outlays", "collaboration_outlays",
                   "transaction_costs", "transaction_costs"))
_FREE_RECORDS = ("service", "collaboration")


def step(model: CoinnovationModel, rng: np.random.Generator) -> None:
    """One month of technology search, matching and transactions.

    Mechanisms take part through three hooks: ``extra_candidates`` (more candidates from their
    own random stream, e.g. a trading platform), ``quote_terms`` (a subsidy lowering the
    buyer's price, e.g. vouchers) and ``settle_subsidy`` (budget rationing and booking).
    """
    # as consider(model, s, *s.draw(rows, rng)) per round: the places' uniforms, then the
    # partners' (rng.random((R, 2, n)) after the searchers' kinds)
    s, rows, u = _start(model, rng, int(model.prm["candidates_per_search"]))
    candidate_rounds(model, s, rows, u)
    for mech in model.active_mechanisms:
        stage = model.clock(mech.name)
        mech.extra_candidates(s)
        model.clock(stage)
    deal = agree(model, s, rng)
    transact(model, s, deal)
