"""Knowledge vectors: cognitive distance, learning efficiency, absorptive capacity.

Firms and institutes hold non-negative knowledge vectors over the technology fields
(:data:`coinnovation_sim.places.FIELDS`), a vectorised form of the SKIN "kenes" (Gilbert, Pyka &
Ahrweiler 2001). Learning between a source and a receiver follows Nooteboom et al. (2007): an
inverted U in cognitive distance, scaled by the receiver's absorptive capacity (Cohen & Levinthal
1990).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two stacks of vectors.

    Parameters
    ----------
    a, b : numpy.ndarray
        Shape (n, F) each.

    Returns
    -------
    numpy.ndarray
        Shape (n,), in [0, 1] for non-negative vectors (0 where either vector is zero).
    """
    num = np.einsum("ij,ij->i", a, b)
    den = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
    return np.where(den > _EPS, num / np.maximum(den, _EPS), 0.0)


def cosine_to_pools(k: np.ndarray, pools: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``k`` to every row of ``pools``.

    Parameters
    ----------
    k : numpy.ndarray
        Shape (n, F).
    pools : numpy.ndarray
        Shape (P, F).

    Returns
    -------
    numpy.ndarray
        Shape (n, P).
    """
    kn = np.linalg.norm(k, axis=1)
    pn = np.linalg.norm(pools, axis=1)
    den = kn[:, None] * pn[None, :]
    return np.where(den > _EPS, (k @ pools.T) / np.maximum(den, _EPS), 0.0)


def learning_efficiency(distance: np.ndarray) -> np.ndarray:
    """Inverted-U learning efficiency ``e(δ) = 4 δ (1 − δ)`` (Nooteboom et al. 2007).

    Parameters
    ----------
    distance : numpy.ndarray
        Cognitive distance ``δ = 1 − cos`` in [0, 1].

    Returns
    -------
    numpy.ndarray
        Efficiency in [0, 1], zero for identical or orthogonal knowledge.
    """
    d = np.clip(distance, 0.0, 1.0)
    return 4.0 * d * (1.0 - d)


def absorptive_capacity(stock: np.ndarray, half: float) -> np.ndarray:
    """Absorptive capacity rising with the own knowledge stock (Cohen & Levinthal 1990).

    Parameters
    ----------
    stock : numpy.ndarray
        Total own knowledge (sum over fields).
    half : float
        Stock at which capacity is 0.5.

    Returns
    -------
    numpy.ndarray
        ``stock / (stock + half)`` in [0, 1).
    """
    return stock / (stock + half)


def direction(k: np.ndarray, fallback_field: np.ndarray) -> np.ndarray:
    """Unit-sum direction of each knowledge vector (one-hot main field where the vector is zero).

    Parameters
    ----------
    k : numpy.ndarray
        Shape (n, F).
    fallback_field : numpy.ndarray
        Main field index per row, shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n, F), rows summing to one.
    """
    total = k.sum(axis=1, keepdims=True)
    out = np.zeros_like(k)
    np.divide(k, total, out=out, where=total > _EPS)
    zero = total[:, 0] <= _EPS
    if zero.any():
        out[zero, fallback_field[zero]] = 1.0
    return out
