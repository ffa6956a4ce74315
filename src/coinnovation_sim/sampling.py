"""Vectorised sampling helpers: inverse-CDF draws from place rows and within-place segments.

Matching never compares all pairs: a firm first draws a partner *place* from a P×P probability
matrix, then a partner *agent* inside that place, weighted (two-stage sampling).
"""

from __future__ import annotations

import numpy as np

from .kernels import (
    draw_rows,
    jit,
    normalised_rows,
    register_warm_up,
    segment_draw,
    segment_sampler_arrays,
)

#: Longest row :func:`normalise_rows` sums in compiled code (numpy's reduction buffer: longer
#: rows are summed by numpy in chunks, which the kernel does not replicate).
_MAX_KERNEL_ROW = 8192


def _kernel_ready(mat: np.ndarray) -> bool:
    """Whether ``mat`` is a C-contiguous float64 matrix the row kernels reproduce numpy on."""
    return (type(mat) is np.ndarray and mat.dtype == np.float64 and mat.ndim == 2
            and mat.flags.c_contiguous and 0 < mat.shape[1] <= _MAX_KERNEL_ROW)


def normalise_rows(mat: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one (rows summing to zero stay zero).

    ``mat / mat.sum(axis=1, keepdims=True)`` where the sum is positive, else 0. A C-contiguous
    float64 matrix is normalised by a compiled loop giving the same bits (each row summed in
    numpy's pairwise order); anything else by numpy.
    """
    if _kernel_ready(mat):
        return normalised_rows(mat)
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

    @classmethod
    def from_arrays(cls, order: np.ndarray, cum: np.ndarray, prev: np.ndarray, nxt: np.ndarray,
                    start: np.ndarray, end: np.ndarray, base: np.ndarray, total: np.ndarray
                    ) -> SegmentSampler:
        """A sampler from arrays built elsewhere (as ``kernels.segment_sampler_arrays`` returns)."""
        sampler = cls.__new__(cls)
        (sampler.order, sampler.cum, sampler.prev, sampler.next, sampler.start, sampler.end,
         sampler.base, sampler.total) = order, cum, prev, nxt, start, end, base, total
        return sampler

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray, np.ndarray, np.ndarray]:
        """Cumulative weights, order, nearest positive before/after, start, end, base, total."""
        return (self.cum, self.order, self.prev, self.next, self.start, self.end, self.base,
                self.total)

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


@jit
def cumulative_rows(prob: np.ndarray) -> np.ndarray:
    """Running sums of each row, added left to right from 0 (as ``kernels.draw_rows`` forms them).

    Parameters
    ----------
    prob : numpy.ndarray
        Shape (R, P).

    Returns
    -------
    numpy.ndarray
        Shape (R, P).
    """
    r, p = prob.shape
    out = np.empty((r, p))
    for i in range(r):
        acc = 0.0
        for j in range(p):
            acc += prob[i, j]
            out[i, j] = acc
    return out


@register_warm_up
def warm_up() -> None:
    """Load (or compile) the sampling kernels (see :func:`kernels.warm_up`)."""
    cumulative_rows(np.ones((2, 2)))
