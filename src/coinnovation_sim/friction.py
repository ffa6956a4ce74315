"""Friction between places: a gravity kernel with administrative border effects.

``φ_ab = exp(−d_ab / λ) · Π_level (1 − b_level · m_ab)^[pair crosses level]`` with levels place,
prefecture city and province (Hoekman, Frenken & Tijssen 2010). ``m_ab`` is the barrier
multiplier lever (1 by default) that mechanisms such as joint coordination meetings lower for
member pairs; no mechanism changes the distance ``d``.
"""

from __future__ import annotations

import numpy as np

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
    return np.exp(-places.distance_km / decay_km) * barrier_factor(places.level, barriers,
                                                                    multiplier)
