"""Vectorised sampling helpers: inverse-CDF draws from place rows and within-place segments.

Matching never compares all pairs: a firm first draws a partner *place* from a P×P probability
matrix, then a partner *agent* inside that place, weighted (two-stage sampling).
"""

from __future__ import annotations

import numpy as np

from .kernels import draw_rows, segment_draw, segment_sampler_arrays


def normalise_rows(mat: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one (rows summing to zero stay zero)."""
    tot = mat.sum(axis=1, keepdims=True)
    out = np.zeros_like(mat)
    np.divide(mat, tot, out=out, where=tot > 0)
    return out


def ration(demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Scale each column of a place-by-place demand matrix down to its destination's capacity.

    Parameters
    ----------
    demand : numpy.ndarray
        Requests, origin rows × destination columns.
    capacity : numpy.ndarray
        What each destination can take.

    Returns
    -------
    numpy.ndarray
        ``demand`` with every over-subscribed column scaled proportionally to its capacity.
    """
    inflow = demand.sum(axis=0)
    ratio = np.divide(capacity, inflow, out=np.ones_like(inflow), where=inflow > capacity)
    return demand * np.minimum(ratio, 1.0)[None, :]


def draw_from_rows(prob: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one column per row.

    Parameters
    ----------
    prob : numpy.ndarray
        Shape (n, P), each row a probability vector (or all zero).
    u : numpy.ndarray
        Uniform draws, shape (n,).

    Returns
    -------
    numpy.ndarray
        Column index per row; -1 where the row is all zero.
    """
    return draw_rows(np.ascontiguousarray(prob, dtype=np.float64),
                     np.ascontiguousarray(u, dtype=np.float64))


class SegmentSampler:
    """Draw entities within a place, with probability proportional to a weight.

    Parameters
    ----------
    place : numpy.ndarray
        Place index of each entity.
    weight : numpy.ndarray
        Non-negative weight of each entity (zero: never drawn).
    n_places : int
        Number of places.
    """

    def __init__(self, place: np.ndarray, weight: np.ndarray, n_places: int) -> None:
        # entities sorted by place; cumulative weights in that order; nearest positive-weight
        # position at or before / at or after each position (for draws that rounding lands on a
        # zero-weight entity); each place's segment, base and total weight
        (self.order, self.cum, self.prev, self.next, self.start, self.end, self.base,
         self.total) = segment_sampler_arrays(np.ascontiguousarray(place, dtype=np.int64),
                                              np.ascontiguousarray(weight, dtype=np.float64),
                                              n_places)

    def place_total(self) -> np.ndarray:
        """Total weight per place."""
        return self.total

    def draw(self, place: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Draw one entity in each requested place.

        Parameters
        ----------
        place : numpy.ndarray
            Requested place per draw (-1 allowed: no draw).
        u : numpy.ndarray
            Uniform draws.

        Returns
        -------
        numpy.ndarray
            Entity index per draw; -1 where the place has no weight or was -1.
        """
        if not len(self.order):
            return np.full(len(place), -1, np.int64)
        return segment_draw(self.cum, self.order, self.prev, self.next, self.start, self.end,
                            self.base, self.total, np.ascontiguousarray(place, dtype=np.int64),
                            np.ascontiguousarray(u, dtype=np.float64))
