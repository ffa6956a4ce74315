"""Friction between places: a gravity kernel with administrative border effects.

``φ_ab = exp(−d_ab / λ) · Π_level (1 − b_level · m_ab)^[pair crosses level]`` with levels place,
prefecture city and province (Hoekman, Frenken & Tijssen 2010). ``m_ab`` is the barrier
multiplier lever (1 by default) that mechanisms such as joint coordination meetings lower for
member pairs; no mechanism changes the distance ``d``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .kernels import jit, register_warm_up
from .places import PlaceData


def barrier_factor(level: np.ndarray, barriers: tuple[float, float, float],
                   multiplier: np.ndarray | None = None) -> np.ndarray:
    """Administrative part of the friction kernel.

    Parameters
    ----------
    level : numpy.ndarray
        Boundary level crossed per pair (0 same place, 1 cross-place, 2 cross-city,
        3 cross-province), shape (P, P).
    barriers : tuple of float
        ``(b_place, b_city, b_province)``, each in [0, 1).
    multiplier : numpy.ndarray, optional
        Pair-wise multiplier in [0, 1] on every barrier (the coordination lever).

    Returns
    -------
    numpy.ndarray
        Product of ``(1 − b·m)`` over the levels each pair crosses, shape (P, P).
    """
    m = np.ones(level.shape) if multiplier is None else multiplier
    out = np.ones(level.shape)
    for lv, b in enumerate(barriers, start=1):
        out = np.where(level >= lv, out * (1.0 - b * m), out)
    return out


def friction_matrix(places: PlaceData, decay_km: float, barriers: tuple[float, float, float],
                    multiplier: np.ndarray | None = None) -> np.ndarray:
    """Full friction kernel ``φ`` (1 inside a place, smaller across distance and borders).

    Parameters
    ----------
    places : PlaceData
        Distances and boundary levels.
    decay_km : float
        Distance-decay length λ in km.
    barriers : tuple of float
        Border frictions per level; all zero gives the border-free counterfactual.
    multiplier : numpy.ndarray, optional
        Barrier multiplier lever.

    Returns
    -------
    numpy.ndarray
        ``φ``, shape (P, P), values in (0, 1].
    """
    m = np.ones(places.level.shape) if multiplier is None else multiplier
    return apply_barriers(np.exp(-places.distance_km / decay_km), places.level,
                          np.array(barriers, np.float64), m)


def friction_matrices(places: PlaceData, decay_km: float, barriers: tuple[float, float, float],
                      multipliers: Mapping[str, np.ndarray]
                      ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """:func:`friction_matrix` for each lever of ``multipliers``, and the border-free kernel.

    The distance decay is computed once for all of them.

    Returns
    -------
    phi : dict of numpy.ndarray
        ``φ`` per key of ``multipliers`` (each with its barrier multiplier).
    phi_free : numpy.ndarray
        ``φ`` with every barrier at zero.
    """
    decay = np.exp(-places.distance_km / decay_km)
    b = np.array(barriers, np.float64)
    phi = {k: apply_barriers(decay, places.level, b, m) for k, m in multipliers.items()}
    ones = np.ones(places.level.shape)
    return phi, apply_barriers(decay, places.level, np.zeros(len(barriers)), ones)


@jit
def apply_barriers(decay: np.ndarray, level: np.ndarray, barriers: np.ndarray,
                   multiplier: np.ndarray) -> np.ndarray:
    """``decay · barrier_factor(level, barriers, multiplier)``, element by element (compiled).

    For each pair the factor starts at 1 and is multiplied by ``(1 − b_k · m)`` for each level
    ``k = 1, 2, …`` the pair crosses, as :func:`barrier_factor` does.

    Parameters
    ----------
    decay : numpy.ndarray
        Distance decay ``exp(−d / λ)``, shape (P, P).
    level : numpy.ndarray
        Boundary level crossed per pair, shape (P, P).
    barriers : numpy.ndarray
        Barrier per level (``b_place, b_city, b_province``).
    multiplier : numpy.ndarray
        Barrier multiplier per pair, shape (P, P).

    Returns
    -------
    numpy.ndarray
        ``φ``, shape (P, P).
    """
    p, q = decay.shape
    out = np.empty((p, q))
    for i in range(p):
        for j in range(q):
            f = 1.0
            lv = level[i, j]
            for k in range(barriers.shape[0]):
                if lv >= k + 1:
                    f = f * (1.0 - barriers[k] * multiplier[i, j])
            out[i, j] = decay[i, j] * f
    return out


@register_warm_up
def _warm_up() -> None:
    """Load (or compile) the friction kernel (see :func:`kernels.warm_up`)."""
    apply_barriers(np.ones((2, 2)), np.ones((2, 2), np.int8), np.zeros(3), np.ones((2, 2)))
