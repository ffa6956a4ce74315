"""Exact, faster form of a numpy reduction used by the enclave and voucher valuations.

``np.maximum(0, ref[None] - k[:, None]).sum(axis=2)`` (the knowledge gap of every firm to every
place, summed over 8 fields) runs numpy's pairwise summation once per (firm, place) pair, so its
cost is dominated by tiny inner loops. :func:`gap_sums` holds the gaps field-major and adds whole
rows instead, in *exactly the order numpy uses within a row*, so the result is bit-for-bit that
of the plain expression. The order is numpy's ``pairwise_sum``: fewer than 8 values are added
left to right; 8 to 128 values go to eight partial sums ``r[j] = a[j] + a[j+8] + …``, combined as
``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``, then the remainder is added in order.

At import the formula is checked against numpy on random data for the widths used; if numpy
ever sums differently, :func:`gap_sums` falls back to numpy itself (same result, slower).
(The model's other hot loops are compiled kernels, :mod:`coinnovation_sim.kernels`.)
"""

from __future__ import annotations

import numpy as np

#: numpy's pairwise-summation block size (larger rows are split recursively: not handled here).
_BLOCK = 128


def _pairwise(rows: np.ndarray) -> np.ndarray:
    """Sum the rows of ``rows`` (shape (m, n)) in numpy's pairwise order for an m-long vector."""
    m = rows.shape[0]
    if m < 8:
        out = np.zeros(rows.shape[1:])
        for i in range(m):
            out += rows[i]
        return out
    r = [rows[j].copy() for j in range(8)]
    i = 8
    stop = m - (m % 8)
    while i < stop:
        for j in range(8):
            r[j] += rows[i + j]
        i += 8
    out = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < m:
        out += rows[i]
        i += 1
    return out


def _self_check() -> bool:
    rng = np.random.default_rng(12345)
    for width in (1, 3, 7, 8, 9, 15, 16, 17, 24, 40):
        x = rng.random((257, width)) * np.exp(rng.normal(0.0, 4.0, (257, width)))
        if not np.array_equal(x.sum(axis=1), _pairwise(np.ascontiguousarray(x.T))):
            return False
    return True


EXACT = _self_check()


def gap_sums(ref: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``np.maximum(0, ref[None, :, :] - k[:, None, :]).sum(axis=2)``, bit for bit, faster.

    The knowledge gap ``Σ_f max(0, ref_pf − k_if)`` of every row of ``k`` (n, F) to every row of
    ``ref`` (P, F), shape (n, P); summed over fields in numpy's order (see the module docstring).
    """
    if not EXACT or k.shape[1] > _BLOCK:
        return np.maximum(0.0, ref[None, :, :] - k[:, None, :]).sum(axis=2)
    stack = np.subtract(ref.T[:, None, :], k.T[:, :, None])
    np.maximum(0.0, stack, out=stack)
    return _pairwise(stack)
