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


@register_warm_up
def warm_up() -> None:
    """Load (or compile) the kernel (see :func:`kernels.warm_up`)."""
    ones = np.ones(2)
    match_places(ones, np.ones((2, 2)), ones, ones)
