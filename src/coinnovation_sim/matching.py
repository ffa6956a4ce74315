"""Place-level matching of a factor's supply to destinations' capacity (compiled).

Job seekers choose destination places for their applications and investors choose destination
places for their capital in the same way: each origin's supply is split over destinations in
proportion to ``φ_od · attract_d`` (the friction kernel times the destination's pull), and a
destination receiving more than its capacity scales every origin's request down to it. As numpy
this is about ten calls on (P, P) arrays (:func:`sampling.normalise_rows`,
:func:`sampling.ration`), each costing microseconds of overhead; :func:`match_places` does the
same arithmetic in one compiled call, with every sum in numpy's order (row sums pairwise as
``numpy.sum`` adds them, column sums row by row), so the result is the numpy version's bit for
bit (``tests/test_firm_passes.py``).
"""

from __future__ import annotations

import numpy as np

from .kernels import jit, np_min, register_warm_up, total


@jit
def match_places(supply: np.ndarray, phi: np.ndarray, attract: np.ndarray,
                 capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each origin's supply over destinations and ration it to their capacity.

    ``request_od = supply_o · φ_od a_d / Σ_d' φ_od' a_d'`` (0 for a row summing to 0), then
    every destination column whose requests exceed its capacity is scaled by
    ``capacity_d / Σ_o request_od``: ``ration(supply[:, None] · normalise_rows(φ · a), capacity)``.

    Parameters
    ----------
    supply : numpy.ndarray
        Supply per origin place (P,).
    phi : numpy.ndarray
        Friction kernel, origin rows × destination columns (P, P).
    attract : numpy.ndarray
        Pull of each destination (P,).
    capacity : numpy.ndarray
        What each destination can take (P,).

    Returns
    -------
    placed : numpy.ndarray
        Matched amounts, origin rows × destination columns (P, P).
    received : numpy.ndarray
        ``placed.sum(axis=0)``: matched amount per destination (P,).
    sent : numpy.ndarray
        ``placed.sum(axis=1)``: matched amount per origin (P,).
    """
    p = phi.shape[0]
    q = attract.shape[0]
    weighted = np.empty((p, q))
    request = np.empty((p, q))
    for o in range(p):
        for d in range(q):
            weighted[o, d] = phi[o, d] * attract[d]
    for o in range(p):
        row_total = total(weighted[o], q)
        for d in range(q):
            share = weighted[o, d] / row_total if row_total > 0.0 else 0.0
            request[o, d] = supply[o] * share
    factor = np.empty(q)
    for d in range(q):
        inflow = request[0, d] if p > 0 else 0.0
        for o in range(1, p):
            inflow += request[o, d]
        factor[d] = np_min(capacity[d] / inflow if inflow > capacity[d] else 1.0, 1.0)
    placed = np.empty((p, q))
    for o in range(p):
        for d in range(q):
            placed[o, d] = request[o, d] * factor[d]
    received = np.empty(q)
    for d in range(q):
        acc = placed[0, d] if p > 0 else 0.0
        for o in range(1, p):
            acc += placed[o, d]
        received[d] = acc
    sent = np.empty(p)
    for o in range(p):
        sent[o] = total(placed[o], q)
    return placed, received, sent


@jit
def match_talent(pool: np.ndarray, search_intensity: float, phi: np.ndarray,
                 phi_free: np.ndarray, wage_pull: np.ndarray, vacancy_pull: np.ndarray,
                 vacancies: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The place-level matching of job seekers to vacancies (:func:`talent.hiring`).

    Seekers ``search_intensity · pool`` apply to places pulling ``wage_pull · vacancy_pull``
    (0 where there is no vacancy), matched with ``phi`` and, for the border-free expectation,
    ``phi_free`` (:func:`match_places`); the hired leave ``pool`` (updated in place).

    Returns
    -------
    hires, free : numpy.ndarray
        Matched hires and their border-free expectation, origin × destination (P, P).
    fill : numpy.ndarray
        Share of each place's vacancies filled, ``hired / vacancies`` (0 without vacancies).
    """
    p = pool.shape[0]
    q = vacancies.shape[0]
    seekers = np.empty(p)
    for o in range(p):
        seekers[o] = search_intensity * pool[o]
    attract = np.empty(q)
    for d in range(q):
        pull = wage_pull[d] * vacancy_pull[d]
        attract[d] = pull if vacancies[d] > 0.0 else 0.0
    hires, hired_at, hired_from = match_places(seekers, phi, attract, vacancies)
    fill = np.empty(q)
    for d in range(q):
        fill[d] = hired_at[d] / vacancies[d] if vacancies[d] > 0.0 else 0.0
    for o in range(p):
        pool[o] -= hired_from[o]
    free = match_places(seekers, phi_free, attract, vacancies)[0]
    return hires, free, fill


@jit
def match_capital(pool: np.ndarray, investment_rate: float, phi: np.ndarray,
                  phi_free: np.ndarray, need: np.ndarray, growth: np.ndarray,
                  debt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The place-level matching of investors' capital to firms' need (:func:`capital.investment`).

    Investors place ``investment_rate · pool`` with places pulling ``need · growth`` (0 where
    nothing is needed), matched with ``phi`` and, for the border-free expectation, ``phi_free``
    (:func:`match_places`); the placed capital leaves ``pool`` and adds to the investor ×
    receiver ``debt`` (both updated in place).

    Returns
    -------
    placed, free : numpy.ndarray
        Investment and its border-free expectation, origin × destination (P, P).
    invested_in : numpy.ndarray
        Investment received per place (P,).
    """
    p = pool.shape[0]
    q = need.shape[0]
    supply = np.empty(p)
    for o in range(p):
        supply[o] = investment_rate * pool[o]
    attract = np.empty(q)
    for d in range(q):
        pull = need[d] * growth[d]
        attract[d] = pull if need[d] > 0.0 else 0.0
    placed, invested_in, invested_by = match_places(supply, phi, attract, need)
    for o in range(p):
        for d in range(q):
            debt[o, d] += placed[o, d]
    for o in range(p):
        pool[o] -= invested_by[o]
    free = match_places(supply, phi_free, attract, need)[0]
    return placed, free, invested_in


@register_warm_up
def warm_up() -> None:
    """Load (or compile) the kernel (see :func:`kernels.warm_up`)."""
    ones = np.ones(2)
    match_places(ones, np.ones((2, 2)), ones, ones)
    match_talent(np.ones(2), 0.5, np.ones((2, 2)), np.ones((2, 2)), ones, ones, ones)
    match_capital(np.ones(2), 0.5, np.ones((2, 2)), np.ones((2, 2)), ones, ones, np.ones((2, 2)))
