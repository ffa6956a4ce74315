"""Full-population random draws compiled with numba: the same numbers, faster.

numba implements numpy's ``Generator`` methods as ports of numpy's own algorithms (the same
ziggurat tables for normal variates, the same Marsaglia–Tsang rejection for gamma variates) on
the same bit generator, so a compiled draw gives exactly the numbers numpy gives and leaves the
generator in the same state (tested). On this project's benchmark machine the compiled normal
draws are about three times and the gamma draws about a quarter faster than numpy's, whose
per-variate calls go through the bit generator's C interface. Without numba (or with
``NUMBA_DISABLE_JIT=1``) these are numpy's own calls.
"""

from __future__ import annotations

import numpy as np

from .kernels import jit, register_warm_up


@jit
def standard_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.standard_normal(n)``."""
    return rng.standard_normal(n)


@jit
def gamma(rng: np.random.Generator, shape: float, scale: float, n: int) -> np.ndarray:
    """``rng.gamma(shape, scale, n)``."""
    return rng.gamma(shape, scale, n)


@register_warm_up
def warm_up() -> None:
    """Load (or compile) the draws (see :func:`kernels.warm_up`); uses a throw-away generator."""
    rng = np.random.default_rng(0)
    standard_normal(rng, 1)
    gamma(rng, 4.0, 0.25, 1)
