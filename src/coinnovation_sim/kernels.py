"""Compiled loop kernels (numba), with the same code as plain Python when numba is absent.

Some per-step work is a chain of many elementwise passes over the firm population (the
spillover chain) or a grouped sum by place. As numpy operations each pass reads and writes a
whole N × P array, and each call costs a few microseconds whatever its size; as one loop over the
firms the same arithmetic touches each value once. The kernels here are such loops, compiled
with ``numba.njit`` (cached on disk, so only the first run on a machine, or after any change of the
package's sources, pays the compile time of about a second per kernel; see :func:`jit`).

Results do not depend on numba. The kernels use only IEEE-754 additions, multiplications,
divisions, comparisons and ``math.sqrt`` (all correctly rounded, in a fixed order; numba does
not fuse multiply-adds or reorder sums unless ``fastmath`` is on, and it is off), and ``**`` on
floats, which both compiled code and Python compute with the C library's ``pow``; so compiled
and interpreted runs give the same bits. Without numba installed the decorator is the identity
and the kernels run as Python (correct, but far too slow for real populations); with numba,
``NUMBA_DISABLE_JIT=1`` does the same. ``tests/test_kernels.py`` checks that a run gives
identical output bytes with and without compilation.

Divisions are guarded explicitly (interpreted Python raises on division by zero where compiled
code would return inf), so both paths take the same branches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only on machines without numba
    numba = None
    HAVE_NUMBA = False

#: Whether the kernels are compiled in this process (numba installed and ``NUMBA_DISABLE_JIT``
#: not set).
COMPILING = HAVE_NUMBA and not numba.config.DISABLE_JIT
if COMPILING:
    from .kernel_cache import enable_caching


#: Every compiled kernel (numba dispatchers), for checks that a run compiles nothing new.
COMPILED: list[Any] = []
#: Warm-up functions of kernel modules other than this one (see :func:`register_warm_up`).
_WARM_UPS: list[Callable[[], None]] = []


def jit(func: Callable[..., Any]) -> Callable[..., Any]:
    """Compile ``func`` with numba (no fastmath, cached on disk) when numba is installed.

    ``error_model="numpy"`` drops numba's zero-division checks; every division in the kernels is
    guarded, so none divides by zero in either path.

    The compiled code is cached on disk (:mod:`coinnovation_sim.kernel_cache`): in a subdirectory
    ``numba-<tag>`` of numba's usual cache location (``NUMBA_CACHE_DIR`` if set, else the
    ``__pycache__`` next to the module or, where that is read-only, numba's per-user cache), where
    ``<tag>`` hashes every Python source file of the package and the numba, llvmlite and numpy
    versions. numba alone would renew a kernel's cache only when the kernel's own file changes,
    and would load old machine code for a kernel whose callees, inlined helpers or constants
    changed in another file; with the tag, any change of the package compiles every kernel
    again. Where no cache can be written, the kernels are compiled in every process (a minute)
    instead of failing.
    """
    if numba is None:  # pragma: no cover
        return func
    compiled = numba.njit(nogil=True, fastmath=False, error_model="numpy")(func)
    if COMPILING:
        enable_caching(compiled)
    COMPILED.append(compiled)
    return compiled


def jit_inline(func: Callable[..., Any]) -> Callable[..., Any]:
    """Like :func:`jit`, for a small helper that numba inlines into the kernels calling it.

    An ordinary compiled call passes its arrays with reference counting (≈ 150 ns a call); an
    inlined helper costs nothing, so a per-element step can be shared between kernels.
    """
    if numba is None:  # pragma: no cover
        return func
    compiled = numba.njit(inline="always", nogil=True, fastmath=False,
                          error_model="numpy")(func)
    if COMPILING:
        enable_caching(compiled)
    COMPILED.append(compiled)
    return compiled


def register_warm_up(func: Callable[[], None]) -> Callable[[], None]:
    """Have :func:`warm_up` also run ``func``, the warm-up of another kernel module."""
    _WARM_UPS.append(func)
    return func


# Rows of 8 float64 (the knowledge fields) as one vector value, for sums by group that stay in
# (vector) registers. numba has no vector type; ``Row8`` is one: an LLVM ``<8 x double>`` with
# loads, stores and ``acc + w · row`` as separate IEEE products and sums of each element (no
# fused multiply-add: the instructions carry no fast-math flags), so every element is exactly
# the scalar ``acc_c + w * row_c``. Without compilation the same helpers are numpy arrays of 8.
if COMPILING:
    from llvmlite import ir
    from numba.core import cgutils
    from numba.extending import intrinsic, models, register_model

    class Row8Type(numba.types.Type):
        """numba type of a row of 8 float64 held as one vector value."""

        def __init__(self) -> None:
            super().__init__(name="Row8")

    _ROW8 = Row8Type()
    _VEC8 = ir.VectorType(ir.DoubleType(), 8)

    @register_model(Row8Type)
    class _Row8Model(models.PrimitiveModel):
        def __init__(self, dmm: Any, fe_type: Any) -> None:
            super().__init__(dmm, fe_type, _VEC8)

    def _float_rows(arr: Any) -> bool:
        """Whether ``arr`` is a 2-d float64 array type."""
        return (isinstance(arr, numba.types.Array) and arr.ndim == 2
                and arr.dtype == numba.types.float64)

    def _element_pointers(context: Any, builder: Any, arrty: Any, arr: Any, i: Any) -> list:
        """Pointers to ``arr[i, 0]``, …, ``arr[i, 7]`` (one, as a vector pointer, if C-contiguous)."""
        ary = context.make_array(arrty)(context, builder, arr)
        shape = cgutils.unpack_tuple(builder, ary.shape)
        strides = cgutils.unpack_tuple(builder, ary.strides)
        columns = [0] if arrty.layout == "C" else range(8)
        ptrs = [cgutils.get_item_pointer2(context, builder, data=ary.data, shape=shape,
                                          strides=strides, layout=arrty.layout,
                                          inds=[i, context.get_constant(numba.types.intp, c)],
                                          wraparound=False) for c in columns]
        if arrty.layout == "C":
            return [builder.bitcast(ptrs[0], _VEC8.as_pointer())]
        return ptrs

    def _load_row(context: Any, builder: Any, arrty: Any, arr: Any, i: Any) -> Any:
        """``arr[i, :8]`` as a vector value."""
        ptrs = _element_pointers(context, builder, arrty, arr, i)
        if len(ptrs) == 1:
            return builder.load(ptrs[0], align=8)
        row = ir.Constant(_VEC8, ir.Undefined)
        for c, ptr in enumerate(ptrs):
            row = builder.insert_element(row, builder.load(ptr), ir.Constant(ir.IntType(32), c))
        return row

    @intrinsic
    def row8_zero(typingctx: Any) -> Any:
        """A row of 8 zeros (+0.0)."""
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return ir.Constant(_VEC8, [0.0] * 8)
        return _ROW8(), codegen

    @intrinsic
    def row8_load(typingctx: Any, arr: Any, i: Any) -> Any:
        """``arr[i, :8]`` of a float64 matrix with at least 8 columns (unchecked)."""
        if not (_float_rows(arr) and isinstance(i, numba.types.Integer)):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return _load_row(context, builder, signature.args[0], *args)
        return _ROW8(arr, i), codegen

    @intrinsic
    def row8_store(typingctx: Any, arr: Any, i: Any, row: Any) -> Any:
        """``arr[i, :8] = row``."""
        if not (_float_rows(arr) and isinstance(i, numba.types.Integer) and row == _ROW8):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            ptrs = _element_pointers(context, builder, signature.args[0], args[0], args[1])
            if len(ptrs) == 1:
                builder.store(args[2], ptrs[0], align=8)
            else:
                for c, ptr in enumerate(ptrs):
                    builder.store(builder.extract_element(args[2], ir.Constant(ir.IntType(32), c)),
                                  ptr)
            return context.get_dummy_value()
        return numba.types.void(arr, i, row), codegen

    @intrinsic
    def row8_axpy(typingctx: Any, acc: Any, w: Any, arr: Any, i: Any) -> Any:
        """``acc + w * arr[i, :8]``: each element's product, then its sum (as scalar code)."""
        if not (acc == _ROW8 and w == numba.types.float64 and _float_rows(arr)
                and isinstance(i, numba.types.Integer)):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            row = _load_row(context, builder, signature.args[2], args[2], args[3])
            undef = ir.Constant(_VEC8, ir.Undefined)
            ws = builder.insert_element(undef, args[1], ir.Constant(ir.IntType(32), 0))
            ws = builder.shuffle_vector(ws, undef, ir.Constant(ir.VectorType(ir.IntType(32), 8),
                                                               [0] * 8))
            return builder.fadd(args[0], builder.fmul(ws, row))
        return _ROW8(acc, w, arr, i), codegen

    def _shuffle(builder: Any, a: Any, b: Any, mask: list[int]) -> Any:
        """Elements ``mask`` of the 16 elements of ``a`` then ``b``."""
        return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), 8), mask))

    def _transpose8(builder: Any, rows: list) -> list:
        """The 8 columns of the 8 × 8 matrix with vector rows ``rows`` (three shuffle stages)."""
        t = []
        for q in range(4):
            t.append(_shuffle(builder, rows[2 * q], rows[2 * q + 1], [0, 8, 2, 10, 4, 12, 6, 14]))
            t.append(_shuffle(builder, rows[2 * q], rows[2 * q + 1], [1, 9, 3, 11, 5, 13, 7, 15]))
        lo2, hi2 = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
        u = [None] * 8
        for base in (0, 4):
            for odd in (0, 1):
                a, b = t[base + odd], t[base + 2 + odd]
                u[base + odd] = _shuffle(builder, a, b, lo2)
                u[base + 2 + odd] = _shuffle(builder, a, b, hi2)
        lo4, hi4 = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]
        return ([_shuffle(builder, u[c], u[c + 4], lo4) for c in range(4)]
                + [_shuffle(builder, u[c], u[c + 4], hi4) for c in range(4)])

    @intrinsic
    def row8_tile_axpy(typingctx: Any, acc: Any, arr: Any, j0: Any, b0: Any, vec: Any) -> Any:
        """``acc`` plus ``vec[b] * arr[j0:j0 + 8, b]`` for ``b = b0, …, b0 + 7``, in that order.

        Element ``r`` is ``((acc_r + vec[b0] · arr[j0 + r, b0]) + …) + vec[b0 + 7] ·
        arr[j0 + r, b0 + 7]``, each product and sum as in scalar code: eight running sums along
        the rows of a C-contiguous matrix at once, its 8 × 8 tile transposed in registers
        (unchecked: ``arr`` needs rows ``j0 … j0 + 7`` and columns ``b0 … b0 + 7``).
        """
        ints = (numba.types.Integer,)
        if not (acc == _ROW8 and _float_rows(arr) and arr.layout == "C"
                and isinstance(j0, ints) and isinstance(b0, ints)
                and isinstance(vec, numba.types.Array) and vec.ndim == 1
                and vec.dtype == numba.types.float64 and vec.layout == "C"):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            intp = numba.types.intp
            arrty, vecty = signature.args[1], signature.args[4]
            j = context.cast(builder, args[2], signature.args[2], intp)
            b = context.cast(builder, args[3], signature.args[3], intp)
            ary = context.make_array(arrty)(context, builder, args[1])
            shape = cgutils.unpack_tuple(builder, ary.shape)
            strides = cgutils.unpack_tuple(builder, ary.strides)
            rows = []
            for r in range(8):
                ptr = cgutils.get_item_pointer2(
                    context, builder, data=ary.data, shape=shape, strides=strides, layout="C",
                    inds=[builder.add(j, context.get_constant(intp, r)), b], wraparound=False)
                rows.append(builder.load(builder.bitcast(ptr, _VEC8.as_pointer()), align=8))
            vary = context.make_array(vecty)(context, builder, args[4])
            vshape = cgutils.unpack_tuple(builder, vary.shape)
            vstrides = cgutils.unpack_tuple(builder, vary.strides)
            undef = ir.Constant(_VEC8, ir.Undefined)
            zero = ir.Constant(ir.IntType(32), 0)
            out = args[0]
            for c, col in enumerate(_transpose8(builder, rows)):
                vptr = cgutils.get_item_pointer2(
                    context, builder, data=vary.data, shape=vshape, strides=vstrides, layout="C",
                    inds=[builder.add(b, context.get_constant(intp, c))], wraparound=False)
                vc = builder.insert_element(undef, builder.load(vptr), zero)   # a broadcast load
                out = builder.fadd(out, builder.fmul(_shuffle(builder, vc, undef, [0] * 8), col))
            return out
        return _ROW8(acc, arr, j0, b0, vec), codegen
else:
    def row8_zero() -> np.ndarray:
        """A row of 8 zeros (+0.0)."""
        return np.zeros(8)

    def row8_load(arr: np.ndarray, i: int) -> np.ndarray:
        """``arr[i, :8]`` (a copy)."""
        return arr[i, :8].copy()

    def row8_store(arr: np.ndarray, i: int, row: np.ndarray) -> None:
        """``arr[i, :8] = row``."""
        arr[i, :8] = row

    def row8_axpy(acc: np.ndarray, w: float, arr: np.ndarray, i: int) -> np.ndarray:
        """``acc + w * arr[i, :8]``."""
        return acc + w * arr[i, :8]

    def row8_tile_axpy(acc: np.ndarray, arr: np.ndarray, j0: int, b0: int,
                       vec: np.ndarray) -> np.ndarray:
        """``acc`` plus ``vec[b] * arr[j0:j0 + 8, b]`` for ``b = b0, …, b0 + 7``, in that order."""
        for b in range(b0, b0 + 8):
            acc = acc + vec[b] * arr[j0:j0 + 8, b]
        return acc


# numpy's elementwise rules for scalars (NaN propagates; of two equal zeros the second)
@jit
def max0(x: float) -> float:
    """``numpy.maximum(0.0, x)``: ``x`` unless it is below 0 (NaN and ``-0.0`` pass through)."""
    return 0.0 if x < 0.0 else x


@jit
def np_min(a: float, b: float) -> float:
    """``numpy.minimum(a, b)``: ``a`` if it is smaller or NaN, else ``b``."""
    return a if (a < b or a != a) else b


@jit
def np_clip(x: float, lo: float, hi: float) -> float:
    """``numpy.clip(x, lo, hi)`` for a scalar ``x`` (NaN and ``-0.0`` pass through)."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@jit
def ieee_div(a: float, b: float) -> float:
    """``a / b`` with the IEEE-754 result for ``b = ±0`` (as numpy divides; Python would raise).

    ``0 / 0`` is the processor's default NaN, made at run time by ``0 · ∞`` as the division makes
    it (not a constant NaN, whose sign bit may differ); a NaN numerator is returned as it is; a
    non-zero numerator gives an infinity with the sign of ``a`` times the sign of ``b``.
    """
    if b != 0.0:
        return a / b
    if a != a:
        return a
    if a == 0.0:
        return a * math.inf
    neg = (a < 0.0) != (math.copysign(1.0, b) < 0.0)
    return -math.inf if neg else math.inf


@jit
def np_max(a: float, b: float) -> float:
    """``numpy.maximum(a, b)``: ``a`` if it is larger or NaN, else ``b`` (ties give ``b``)."""
    return a if (a > b or a != a) else b


@jit
def row_sums(x: np.ndarray) -> np.ndarray:
    """Sum of each row of a 2-D array, added left to right.

    ``x.sum(axis=1)`` of a tall array of 8 columns runs numpy's pairwise summation once per row
    and costs about 20 ns per row; this loop costs about 1 ns. Used for firms' total knowledge
    ``κ_i = Σ_f k_if`` everywhere in the model.

    Parameters
    ----------
    x : numpy.ndarray
        Shape (n, k), float.

    Returns
    -------
    numpy.ndarray
        Shape (n,).
    """
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = row_total(x, i)
    return out


@jit_inline
def row_total(x: np.ndarray, i: int) -> float:
    """Row ``i`` of a 2-D array summed left to right (the order of :func:`row_sums`)."""
    s = 0.0
    for c in range(x.shape[1]):
        s += x[i, c]
    return s


#: numpy's pairwise-summation block (rows longer than this are split in two, as numpy does).
PW_BLOCK = 128


@jit
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """Pairwise sum (numpy's order) of ``a[lo:lo + n]`` for ``n <= PW_BLOCK`` (no split)."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@jit
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """Sum of ``a[lo:lo + n]`` in numpy's pairwise order (``pairwise_sum`` of ``umath``).

    Fewer than 8 values are added left to right; up to :data:`PW_BLOCK` values go to eight
    partial sums ``r[j] = a[j] + a[j+8] + …`` combined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``,
    then the rest is added in order; longer runs are split at a multiple of 8 near the middle and
    the two halves' sums added (evaluated here with an explicit stack: numba cannot cache
    recursive functions). A row sum ``x.sum(axis=1)`` is ``0.0 + pairwise_sum(row)`` (numpy
    starts from the identity).

    Parameters
    ----------
    a : numpy.ndarray
        1-D float array.
    lo, n : int
        First index and number of values.

    Returns
    -------
    float
        The sum.
    """
    if n <= PW_BLOCK:
        return _block_sum(a, lo, n)
    return _split_sum(a, lo, n)


@jit
def _split_sum(a: np.ndarray, lo: int, n: int) -> float:
    """Pairwise sum (numpy's order) of ``a[lo:lo + n]`` for ``n > PW_BLOCK``: two halves, added."""
    los = np.empty(64, np.int64)              # node stack: start, length, left half done?
    ns = np.empty(64, np.int64)
    done = np.zeros(64, np.bool_)
    left = np.empty(64)
    los[0] = lo
    ns[0] = n
    depth = 0
    while True:
        m = ns[depth]
        if m > PW_BLOCK:                      # descend into the left half
            h = m // 2
            h -= h % 8
            done[depth] = False
            los[depth + 1] = los[depth]
            ns[depth + 1] = h
            depth += 1
            continue
        v = _block_sum(a, los[depth], m)
        depth -= 1
        while depth >= 0 and done[depth]:     # right half finished: close the node
            v = left[depth] + v
            depth -= 1
        if depth < 0:
            return v
        left[depth] = v                       # left half finished: go to the right half
        done[depth] = True
        h = ns[depth] // 2
        h -= h % 8
        los[depth + 1] = los[depth] + h
        ns[depth + 1] = ns[depth] - h
        depth += 1



@jit_inline
def store_normalised(prod: np.ndarray, out: np.ndarray, row: int) -> None:
    """Store ``prod / prod.sum()`` in ``out[row]`` where that sum is positive, else 0.

    One row of :func:`sampling.normalise_rows`: the sum is ``0.0 + pairwise_sum(prod)``, in
    numpy's order.
    """
    p = prod.shape[0]
    tot = 0.0 + pairwise_sum(prod, 0, p)
    if tot > 0.0:
        for j in range(p):
            out[row, j] = prod[j] / tot
    else:
        for j in range(p):
            out[row, j] = 0.0

@jit
def total(a: np.ndarray, n: int) -> float:
    """``a[:n].sum()``: ``0.0 + pairwise_sum(a, 0, n)`` (a row sum ``x.sum(axis=1)`` likewise)."""
    return 0.0 + pairwise_sum(a, 0, n)


@jit_inline
def total_inline(a: np.ndarray, n: int) -> float:
    """:func:`total` written into the calling kernel: the same sum, without a compiled call.

    A call of another kernel costs about 40 ns (its array arguments are reference-counted), as
    much as a short sum itself; kernels that add many short rows (the metrics' P × P matrices)
    use this instead. Longer runs than :data:`PW_BLOCK` go to the same split as
    :func:`pairwise_sum`.
    """
    if n > PW_BLOCK:
        return 0.0 + _split_sum(a, 0, n)
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[i]
        return 0.0 + res
    r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
    r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return 0.0 + res


@jit
def live_weighted_sum(alive: np.ndarray, weight: np.ndarray, x: np.ndarray) -> float:
    """``numpy.where(alive, weight · x, 0).sum()``: the same products, summed pairwise as numpy."""
    n = x.shape[0]
    terms = np.empty(n)
    for i in range(n):
        terms[i] = weight[i] * x[i] if alive[i] else 0.0
    return total(terms, n)


@jit
def group_rows(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the rows of ``values`` by group, in row order.

    Parameters
    ----------
    group : numpy.ndarray
        Group (place) index per row, int, shape (n,), each in ``[0, n_groups)``.
    values : numpy.ndarray
        Shape (n, k), float.
    n_groups : int
        Number of groups.

    Returns
    -------
    numpy.ndarray
        Shape (n_groups, k): ``out[g] = Σ_{i: group_i = g} values[i]``, added in increasing ``i``.
    """
    n, k = values.shape
    out = np.zeros((n_groups, k))
    for i in range(n):
        g = group[i]
        for c in range(k):
            out[g, c] += values[i, c]
    return out


@jit
def group_weighted_rows(group: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                        values: np.ndarray, n_groups: int, skip_zero: bool
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted row sums and weight totals by group, in row order.

    Parameters
    ----------
    group : numpy.ndarray
        Group index per row, int, shape (n,).
    alive : numpy.ndarray
        Rows that count, bool, shape (n,).
    weight : numpy.ndarray
        Weight per row, shape (n,).
    values : numpy.ndarray
        Shape (n, k).
    n_groups : int
        Number of groups.
    skip_zero : bool
        Skip rows of weight 0 (they add ``0 · values``, which matters only for the sign of a
        zero sum or non-finite values; without skipping, the sums are ``numpy.bincount`` and
        ``numpy.add.at`` of the live rows exactly).

    Returns
    -------
    total : numpy.ndarray
        Shape (n_groups, k): ``Σ weight_i · values[i]`` per group over the live rows.
    count : numpy.ndarray
        Shape (n_groups,): ``Σ weight_i`` per group over the live rows.
    """
    total = np.zeros((n_groups, values.shape[1]))
    count = np.zeros(n_groups)
    _add_weighted_rows(group, alive, weight, values, skip_zero, total, count)
    return total, count


@jit
def _add_weighted_rows(group: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                       values: np.ndarray, skip_zero: bool, total: np.ndarray,
                       count: np.ndarray) -> None:
    """Add the weighted rows and weights of :func:`group_weighted_rows` to ``total``, ``count``."""
    n, k = values.shape
    if k == 8:
        _add_weighted_rows8(group, alive, weight, values, skip_zero, total, count)
        return
    for i in range(n):
        w = weight[i]
        if not alive[i] or (skip_zero and w == 0.0):
            continue
        g = group[i]
        count[g] += w
        for c in range(k):
            total[g, c] += w * values[i, c]


@jit
def _add_weighted_rows8(group: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                        values: np.ndarray, skip_zero: bool, total: np.ndarray,
                        count: np.ndarray) -> None:
    """:func:`_add_weighted_rows` of 8 columns (the knowledge fields), sums kept in registers.

    The sums of a run of rows of one group stay in one vector register (the same additions in the
    same order, each element's as in scalar code, without waiting for each stored sum before the
    next row's addition).
    """
    cur = -1
    acc = row8_zero()
    cnt = 0.0
    for i in range(values.shape[0]):
        w = weight[i]
        if not alive[i] or (skip_zero and w == 0.0):
            continue
        g = group[i]
        if g != cur:
            if cur >= 0:
                count[cur] = cnt
                row8_store(total, cur, acc)
            cur = g
            cnt = count[g]
            acc = row8_load(total, g)
        cnt += w
        acc = row8_axpy(acc, w, values, i)
    if cur >= 0:
        count[cur] = cnt
        row8_store(total, cur, acc)


@jit
def pool_means(f_group: np.ndarray, f_alive: np.ndarray, f_weight: np.ndarray,
               f_values: np.ndarray, i_group: np.ndarray, i_weight: np.ndarray,
               i_values: np.ndarray, n_groups: int) -> np.ndarray:
    """Weighted mean rows by group of firms and institutes together (the knowledge pools).

    ``(tf + ti) / (cf + ci)`` where the weight total is positive, else 0, with ``tf, cf`` the
    :func:`group_weighted_rows` of the live firms and ``ti, ci`` those of all institutes (rows of
    weight 0 skipped in both), as :func:`innovation.place_pools` writes it in numpy.
    """
    k = f_values.shape[1]
    tf = np.zeros((n_groups, k))
    cf = np.zeros(n_groups)
    _add_weighted_rows(f_group, f_alive, f_weight, f_values, True, tf, cf)
    ti = np.zeros((n_groups, k))
    ci = np.zeros(n_groups)
    _add_weighted_rows(i_group, np.ones(i_group.shape[0], np.bool_), i_weight, i_values, True,
                       ti, ci)
    out = np.zeros((n_groups, k))
    for g in range(n_groups):
        cnt = cf[g] + ci[g]
        if cnt > 0.0:
            for c in range(k):
                out[g, c] = (tf[g, c] + ti[g, c]) / cnt
    return out


@jit
def spillover_pass(k: np.ndarray, place: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                   pools: np.ndarray, psi: np.ndarray, rate: float, half: float,
                   value_per_unit: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """One month of spillovers for every firm, fused into one pass (updates ``k`` in place).

    For a live firm ``i`` at unit place ``a`` with knowledge ``k_i``, and every
    pool ``j``: the cosine ``c_ij = k_i·p_j / (|k_i| |p_j|)`` (0 when the denominator is at most
    ``eps``; computed as ``(k_i·p_j) · (|p_j|⁻¹ |k_i|⁻¹)``, one division per vector rather than
    per pair) clipped to [0, 1], the learning efficiency ``e_ij = 4δ(1 − δ)`` with ``δ = 1 − c_ij``,
    and the weight ``w_ij = ψ_aj e_ij``. The firm absorbs, per field,
    ``Δk_i = rate · A_i · max(0, Σ_j w_ij p_j − (Σ_j w_ij) k_i)`` with the absorptive capacity
    ``A_i = κ_i / (κ_i + half)`` of its total knowledge ``κ_i`` before the update.

    Parameters
    ----------
    k : numpy.ndarray
        Firm knowledge (n, F); absorbed knowledge is added in place.
    place : numpy.ndarray
        Unit place per firm (n,).
    alive : numpy.ndarray
        Live slots (n,), bool; dead slots neither learn nor count.
    weight : numpy.ndarray
        Real firms per agent (n,).
    pools : numpy.ndarray
        Place knowledge pools (P, F).
    psi : numpy.ndarray
        Row-normalised friction kernel (P, P).
    rate, half, value_per_unit, eps : float
        ``spillover_rate``, ``absorptive_half``, ``knowledge_value_wan``, cosine threshold.

    Returns
    -------
    value : numpy.ndarray
        Value of the knowledge each agent's firms absorbed, ``value_per_unit · ΣΔk_i · weight_i``
        (n,), 万元.
    sums : numpy.ndarray
        (P, P + 3) by unit place ``a``: ``Σ value_i e_ij`` (columns ``j``), ``Σ value_i``,
        ``Σ weight_i κ_i`` and ``Σ weight_i`` (the inputs of the place-level attribution).

    Notes
    -----
    With the model's :data:`~coinnovation_sim.places.FIELDS` (8 fields) the work goes to
    :func:`_spillover_blocks`, the same arithmetic in blocks of firms (identical results, about
    half the time); other field counts go to :func:`_spillover_rows`, firm by firm.
    """
    if k.shape[1] == 8:
        return _spillover_blocks(k, place, alive, weight, pools, psi, rate, half, value_per_unit,
                                 eps)
    return _spillover_rows(k, place, alive, weight, pools, psi, rate, half, value_per_unit, eps)


@jit
def _spillover_rows(k: np.ndarray, place: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                    pools: np.ndarray, psi: np.ndarray, rate: float, half: float,
                    value_per_unit: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spillover_pass` firm by firm, for any number of fields (the reference order).

    Parameters and returns are those of :func:`spillover_pass`.
    """
    n, nf = k.shape
    p = pools.shape[0]
    pn = np.empty(p)
    pools_t = np.empty((nf, p))          # field-major copy: the inner loops run over places
    for j in range(p):
        s = 0.0
        for f in range(nf):
            s += pools[j, f] * pools[j, f]
            pools_t[f, j] = pools[j, f]
        pn[j] = math.sqrt(s)
    ipn = reciprocals(pn)
    value = np.zeros(n)
    sums = np.zeros((p, p + 3))
    num = np.empty(p)
    e = np.empty(p)
    w = np.empty(p)
    learn = np.empty(nf)
    for i in range(n):
        if not alive[i]:
            continue
        w_i = weight[i]
        a = place[i]
        sq = 0.0
        kappa = 0.0
        for f in range(nf):
            sq += k[i, f] * k[i, f]
            kappa += k[i, f]
        kn = math.sqrt(sq)
        # k_i · p_j for every pool j, each summed over the fields in field order
        for j in range(p):
            num[j] = 0.0
        for f in range(nf):
            kf = k[i, f]
            for j in range(p):
                num[j] += kf * pools_t[f, j]
        ikn = 1.0 / kn if kn > 0.0 else 0.0
        for j in range(p):                   # no reduction here: the loop vectorises
            den = pn[j] * kn
            c = num[j] * (ipn[j] * ikn) if den > eps else 0.0
            c = 0.0 if c < 0.0 else c
            c = 1.0 if c > 1.0 else c
            d = 1.0 - c
            e[j] = (4.0 * d) * (1.0 - d)
            w[j] = psi[a, j] * e[j]
        wsum = 0.0
        for j in range(p):
            wsum += w[j]
        # Σ_j w_ij p_jf for every field f, each summed over the pools in pool order
        for f in range(nf):
            learn[f] = 0.0
        for j in range(p):
            wj = w[j]
            for f in range(nf):
                learn[f] += wj * pools[j, f]
        denom = kappa + half
        cap = kappa / denom if denom > 0.0 else 0.0
        scale = rate * cap
        total = 0.0
        for f in range(nf):
            g = learn[f] - wsum * k[i, f]
            if g < 0.0:
                g = 0.0
            g = scale * g
            k[i, f] += g
            total += g
        v = (value_per_unit * total) * w_i
        value[i] = v
        for j in range(p):
            sums[a, j] += v * e[j]
        sums[a, p] += v
        sums[a, p + 1] += w_i * kappa
        sums[a, p + 2] += w_i
    return value, sums


@jit_inline
def reciprocals(x: np.ndarray) -> np.ndarray:
    """``1 / x`` elementwise, 0 where ``x`` is not positive (norms: one division per vector)."""
    out = np.empty(x.shape[0])
    for j in range(x.shape[0]):
        out[j] = 1.0 / x[j] if x[j] > 0.0 else 0.0
    return out


#: Live firms per block of :func:`_spillover_blocks` (its block arrays then fit in L1 cache).
SPILL_BLOCK = 64


@jit
def _spillover_blocks(k: np.ndarray, place: np.ndarray, alive: np.ndarray, weight: np.ndarray,
                      pools: np.ndarray, psi: np.ndarray, rate: float, half: float,
                      value_per_unit: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spillover_pass` for 8 knowledge fields, in blocks of :data:`SPILL_BLOCK` live firms.

    Every value is computed from the same operands in the same order as in the firm-by-firm loop
    of :func:`_spillover_rows` (so the results are identical); only the order of independent work
    changes. The live firms are taken place by place (:func:`live_place_order`; within a place in
    slot order, so each place's sums are added in firm order as before), in blocks of firms of one
    place: ``ψ_a`` is one row and each per-place sum is carried in a register through the block
    (the sums ``Σ value_i e_ij`` eight pools to a vector, :func:`_tile_sums`).
    Per block (:func:`_spill_block`), the firms' knowledge is copied field-major (``kt[f, b]``)
    and each step runs as a loop over the block's firms with the 8 fields written out, so the
    compiler vectorises across firms and keeps each firm's running sum in a register: the dot
    products ``k_i·p_j`` (8 terms, field order), the learning efficiencies, the weights,
    ``Σ_j w_ij`` and ``Σ_j w_ij p_jf`` (pool order; 8 pools per pass through memory, written as
    one left-to-right chain), and the update.

    Parameters and returns are those of :func:`spillover_pass`, with ``k`` of shape (n, 8).
    """
    n = k.shape[0]
    p = pools.shape[0]
    p8 = p - p % 8
    pn = np.empty(p)
    for j in range(p):
        s = 0.0
        for f in range(8):
            s += pools[j, f] * pools[j, f]
        pn[j] = math.sqrt(s)
    ipn = reciprocals(pn)
    value = np.zeros(n)
    sums = np.zeros((p, p + 3))
    order, start, count = live_place_order(place, alive, p)
    nbl = SPILL_BLOCK
    wt = np.empty(nbl)                    # weight of each firm in the block
    kt = np.empty((8, nbl))               # its knowledge, field-major
    kn = np.empty(nbl)                    # |k_i|
    ikn = np.empty(nbl)                   # 1 / |k_i| (0 for a zero vector)
    kap = np.empty(nbl)                   # κ_i
    e = np.empty((p, nbl))                # e_ij
    w = np.empty((p, nbl))                # w_ij
    wsum = np.empty(nbl)                  # Σ_j w_ij
    learn = np.empty((8, nbl))            # Σ_j w_ij p_jf, then the updated knowledge
    vb = np.empty(nbl)                    # value_i
    sb = np.empty((p8 // 8, 8))           # running sums Σ_b value_b e_jb, 8 pools a row
    for a0 in range(p):
        end = start[a0] + count[a0]
        for o0 in range(start[a0], end, nbl):
            nb = min(nbl, end - o0)
            idx = order[o0:o0 + nb]
            _spill_block(k, idx, nb, weight, pools, pn, ipn, psi[a0], p8, rate, half,
                         value_per_unit, eps, wt, kt, kn, ikn, kap, e, w, wsum, learn, vb)
            for b in range(nb):
                i = idx[b]
                for f in range(8):
                    k[i, f] = learn[f, b]
                value[i] = vb[b]
            # the block's sums, each carried in a register through the block in firm order
            _tile_sums(sums[a0], e, vb, nb, p8, sb)
            for j in range(p8, p - p % 4, 4):
                s0, s1, s2, s3 = sums[a0, j], sums[a0, j + 1], sums[a0, j + 2], sums[a0, j + 3]
                for b in range(nb):
                    v = vb[b]
                    s0 += v * e[j, b]
                    s1 += v * e[j + 1, b]
                    s2 += v * e[j + 2, b]
                    s3 += v * e[j + 3, b]
                sums[a0, j], sums[a0, j + 1], sums[a0, j + 2], sums[a0, j + 3] = s0, s1, s2, s3
            for j in range(max(p8, p - p % 4), p):
                s0 = sums[a0, j]
                for b in range(nb):
                    s0 += vb[b] * e[j, b]
                sums[a0, j] = s0
            s0, s1, s2 = sums[a0, p], sums[a0, p + 1], sums[a0, p + 2]
            for b in range(nb):
                s0 += vb[b]
                s1 += wt[b] * kap[b]
                s2 += wt[b]
            sums[a0, p], sums[a0, p + 1], sums[a0, p + 2] = s0, s1, s2
    return value, sums


@jit_inline
def _spill_block(k: np.ndarray, idx: np.ndarray, nb: int, weight: np.ndarray, pools: np.ndarray,
                 pn: np.ndarray, ipn: np.ndarray, psi_a: np.ndarray, p8: int, rate: float,
                 half: float, value_per_unit: float, eps: float, wt: np.ndarray, kt: np.ndarray,
                 kn: np.ndarray, ikn: np.ndarray, kap: np.ndarray, e: np.ndarray, w: np.ndarray,
                 wsum: np.ndarray, learn: np.ndarray, vb: np.ndarray) -> None:
    """The firm-level work of one block of :func:`_spillover_blocks` (firms ``idx`` of one place).

    Fills ``e``, ``learn`` (the updated knowledge, field-major), ``vb`` (values), ``wt``
    (weights) and ``kap`` (κ) for the block's ``nb`` firms.
    """
    p = pools.shape[0]
    for b in range(nb):
        i = idx[b]
        wt[b] = weight[i]
        for f in range(8):
            kt[f, b] = k[i, f]
    for b in range(nb):
        sq = 0.0
        kappa = 0.0
        for f in range(8):
            sq += kt[f, b] * kt[f, b]
            kappa += kt[f, b]
        kn[b] = math.sqrt(sq)
        ikn[b] = 1.0 / kn[b] if kn[b] > 0.0 else 0.0
        kap[b] = kappa
    for j in range(p):
        q0, q1, q2, q3 = pools[j, 0], pools[j, 1], pools[j, 2], pools[j, 3]
        q4, q5, q6, q7 = pools[j, 4], pools[j, 5], pools[j, 6], pools[j, 7]
        pnj = pn[j]
        ipnj = ipn[j]
        for b in range(nb):
            s = 0.0
            s += kt[0, b] * q0
            s += kt[1, b] * q1
            s += kt[2, b] * q2
            s += kt[3, b] * q3
            s += kt[4, b] * q4
            s += kt[5, b] * q5
            s += kt[6, b] * q6
            s += kt[7, b] * q7
            den = pnj * kn[b]
            c = s * (ipnj * ikn[b])                 # no division in the inner loop
            c = c if den > eps else 0.0
            c = 0.0 if c < 0.0 else c
            c = 1.0 if c > 1.0 else c
            d = 1.0 - c
            e[j, b] = (4.0 * d) * (1.0 - d)
    for j in range(p):
        psi_j = psi_a[j]
        for b in range(nb):
            w[j, b] = psi_j * e[j, b]
    for b in range(nb):
        wsum[b] = 0.0
    for j in range(0, p8, 8):
        for b in range(nb):
            wsum[b] = (((((((wsum[b] + w[j, b]) + w[j + 1, b]) + w[j + 2, b])
                           + w[j + 3, b]) + w[j + 4, b]) + w[j + 5, b]) + w[j + 6, b]) \
                + w[j + 7, b]
    for j in range(p8, p):
        for b in range(nb):
            wsum[b] += w[j, b]
    for f in range(8):
        for b in range(nb):
            learn[f, b] = 0.0
        for j in range(0, p8, 8):
            r0, r1, r2, r3 = pools[j, f], pools[j + 1, f], pools[j + 2, f], pools[j + 3, f]
            r4, r5, r6, r7 = pools[j + 4, f], pools[j + 5, f], pools[j + 6, f], pools[j + 7, f]
            for b in range(nb):
                learn[f, b] = ((((((((learn[f, b] + w[j, b] * r0) + w[j + 1, b] * r1)
                                    + w[j + 2, b] * r2) + w[j + 3, b] * r3)
                                  + w[j + 4, b] * r4) + w[j + 5, b] * r5)
                                + w[j + 6, b] * r6) + w[j + 7, b] * r7)
        for j in range(p8, p):
            r0 = pools[j, f]
            for b in range(nb):
                learn[f, b] += w[j, b] * r0
    for b in range(nb):
        kappa = kap[b]
        denom = kappa + half
        cap = kappa / denom if denom > 0.0 else 0.0
        scale = rate * cap
        ws = wsum[b]
        total = 0.0
        for f in range(8):
            g = learn[f, b] - ws * kt[f, b]
            g = 0.0 if g < 0.0 else g
            g = scale * g
            learn[f, b] = kt[f, b] + g
            total += g
        vb[b] = (value_per_unit * total) * wt[b]


@jit_inline
def _tile_sums(srow: np.ndarray, e: np.ndarray, vb: np.ndarray, nb: int, p8: int,
               sb: np.ndarray) -> None:
    """``srow[j] += vb[b] · e[j, b]`` for ``b = 0, …, nb − 1`` in order and every ``j < p8``.

    Pools 8 at a time, two such rows of running sums at once, 8 firms at a time with
    :func:`row8_tile_axpy` (the same products and sums in the same order, vectorised across the
    pools); the last ``nb % 8`` firms in scalar code.
    """
    nh = p8 // 8
    nb8 = nb - nb % 8
    for h in range(nh):
        for c in range(8):
            sb[h, c] = srow[8 * h + c]
    h = 0
    while h + 1 < nh:                     # two independent chains of vector sums
        acc0 = row8_load(sb, h)
        acc1 = row8_load(sb, h + 1)
        for b0 in range(0, nb8, 8):
            acc0 = row8_tile_axpy(acc0, e, 8 * h, b0, vb)
            acc1 = row8_tile_axpy(acc1, e, 8 * h + 8, b0, vb)
        row8_store(sb, h, acc0)
        row8_store(sb, h + 1, acc1)
        h += 2
    if h < nh:
        acc0 = row8_load(sb, h)
        for b0 in range(0, nb8, 8):
            acc0 = row8_tile_axpy(acc0, e, 8 * h, b0, vb)
        row8_store(sb, h, acc0)
    for h in range(nh):
        for c in range(8):
            s0 = sb[h, c]
            for b in range(nb8, nb):
                s0 += vb[b] * e[8 * h + c, b]
            srow[8 * h + c] = s0


@jit
def live_place_order(place: np.ndarray, alive: np.ndarray, n_places: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The live slots grouped by place, in slot order within a place (a stable counting sort).

    Slots are moved in runs of one place (firm slots are partly sorted by place): the run starts
    are found without branches, each run is copied in pieces of 8 slots into its place's part of
    ``order``, which has 8 spare entries at its end for the last piece.

    Returns
    -------
    order : numpy.ndarray
        Place ``a``'s live slots, ascending, are ``order[start[a]:start[a] + count[a]]``.
    start, count : numpy.ndarray
        Shape (n_places,) each.
    """
    n = place.shape[0]
    dead = n_places                       # dead slots go to an extra group, never read
    run = np.empty(n + 1, np.int64)       # first slot of each run of one group
    r = 0
    prev = -1
    for i in range(n):
        g = place[i] if alive[i] else dead
        run[r] = i
        r += 1 if g != prev else 0
        prev = g
    run[r] = n
    count = np.zeros(n_places + 1, np.int64)
    for t in range(r):
        i = run[t]
        count[place[i] if alive[i] else dead] += run[t + 1] - i
    start = np.empty(n_places + 1, np.int64)
    size = 0
    for g in range(n_places + 1):
        start[g] = size
        size += count[g] + 8
    pos = start.copy()
    order = np.empty(size, np.int64)
    for t in range(r):
        i = run[t]
        g = place[i] if alive[i] else dead
        at = pos[g]
        end = run[t + 1]
        pos[g] = at + end - i
        while i < end:
            for c in range(8):
                order[at + c] = i + c
            i += 8
            at += 8
    return order, start[:n_places], count[:n_places]


@jit
def unit_home_matrix(unit_place: np.ndarray, home: np.ndarray, amount: np.ndarray,
                     n_places: int) -> tuple[np.ndarray, bool]:
    """Amounts by unit place (rows) and home place (columns), and whether any unit is away.

    ``bincount(unit_place · P + home, amount)`` reshaped to (P, P), added in firm order, where
    some unit is away from its home place; where none is, no re-attribution is needed
    (:meth:`CoinnovationModel.home_shares` returns None) and the matrix is not computed (zeros):
    a check of the places costs a tenth of the sums.
    """
    n = amount.shape[0]
    moved = 0
    for i in range(n):                        # a vectorised count, no early exit
        moved += 1 if unit_place[i] != home[i] else 0
    mat = np.zeros((n_places, n_places))
    if moved == 0:
        return mat, False
    u = -1
    h = -1
    acc = 0.0
    for i in range(n):                        # runs of one (unit, home) pair summed in a register
        if unit_place[i] != u or home[i] != h:
            if u >= 0:
                mat[u, h] = acc
            u = unit_place[i]
            h = home[i]
            acc = mat[u, h]
        acc += amount[i]
    mat[u, h] = acc
    return mat, True


@jit_inline
def _normalise_row(prod: np.ndarray, out: np.ndarray) -> None:
    """``out = prod / prod.sum()`` where the sum (numpy's pairwise order) is positive, else 0."""
    p = prod.shape[0]
    tot = total_inline(prod, p)           # 0.0 + pairwise_sum(prod, 0, p)
    if tot > 0.0:
        for j in range(p):
            out[j] = prod[j] / tot
    else:
        for j in range(p):
            out[j] = 0.0


@jit
def normalised_rows(mat: np.ndarray) -> np.ndarray:
    """:func:`sampling.normalise_rows` of a C-contiguous float64 matrix, compiled (the same bits).

    Each row's sum is ``0.0 + pairwise_sum(row)``, as ``mat.sum(axis=1)`` adds a contiguous row;
    the division is IEEE's, guarded by ``sum > 0`` as numpy's ``where`` guards it.
    """
    r, p = mat.shape
    out = np.empty((r, p))
    for i in range(r):
        _normalise_row(mat[i], out[i])
    return out


@jit
def spillover_attribution(sums: np.ndarray, pools: np.ndarray, psi: np.ndarray,
                          phi_free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spillover flows by source place from the sums of :func:`spillover_pass`.

    The value absorbed at destination ``a`` (``v_a``) is split over source pools ``j`` in
    proportion to ``ψ_aj · ē_aj · adv_aj`` with ``ē_aj`` the value-weighted mean learning
    efficiency and ``adv_aj = max(0, κ_j − κ̄_a)`` the pool's advantage over the destination's
    mean firm (``ψ_aj · ē_aj`` alone where no pool has an advantage); the same with the
    border-free kernel ``normalise_rows(φ_free)``. Every operation as the numpy formulas of
    :func:`innovation.spillovers` compute it (sums pairwise, as numpy's ``sum(axis=1)``).

    Returns
    -------
    actual, free : numpy.ndarray
        Flow matrices, source rows × destination columns (P, P).
    """
    p = psi.shape[0]
    nf = pools.shape[1]
    e_bar = np.zeros((p, p))
    k_dest = np.zeros(p)
    for a in range(p):
        v = sums[a, p]
        if v > 0.0:
            for j in range(p):
                e_bar[a, j] = sums[a, j] / v
        if sums[a, p + 2] > 0.0:
            k_dest[a] = sums[a, p + 1] / sums[a, p + 2]
    advantage = np.empty((p, p))
    for j in range(p):
        kj = total_inline(pools[j], nf)
        for a in range(p):
            advantage[a, j] = max0(kj - k_dest[a])
    free_kernel = normalised_rows(phi_free)
    actual = np.empty((p, p))
    free = np.empty((p, p))
    weighted = np.empty(p)
    plain = np.empty(p)
    share = np.empty(p)
    for r in range(2):
        kern = psi if r == 0 else free_kernel
        out = actual if r == 0 else free
        for a in range(p):
            for j in range(p):
                plain[j] = kern[a, j] * e_bar[a, j]
                weighted[j] = plain[j] * advantage[a, j]
            _normalise_row(weighted, share)
            if not total_inline(share, p) > 0.0:  # no pool ahead: the plain shares (normalised)
                _normalise_row(plain, share)
            for j in range(p):
                out[j, a] = share[j] * sums[a, p]
    return actual, free


@jit
def production_pass(k: np.ndarray, rd_output: np.ndarray, place: np.ndarray, alive: np.ndarray,
                    field: np.ndarray, productivity: np.ndarray, depreciation: float,
                    eps: float) -> None:
    """One month of knowledge production and depreciation for every firm (updates ``k``).

    ``k_i ← (1 − δ) k_i + (A_{p_i} (s T_i)^β / Σ_f k_if) · k_i`` for live firms (dead slots only
    depreciate): the new knowledge goes along the firm's direction ``k_i / Σ_f k_if``, or into
    its main field when that sum is at most ``eps``.

    Parameters
    ----------
    k : numpy.ndarray
        Firm knowledge (n, F), updated in place.
    rd_output : numpy.ndarray
        ``(s T_i)^β`` per firm (n,): R&D talent to the R&D elasticity, computed by the caller
        with numpy's vectorised ``power`` (five times faster than the C library's ``pow`` here).
    place : numpy.ndarray
        Home place per firm (n,).
    alive : numpy.ndarray
        Live slots (n,), bool.
    field : numpy.ndarray
        Main field per firm (n,).
    productivity : numpy.ndarray
        R&D productivity ``A`` per place (P,).
    depreciation, eps : float
        ``knowledge_depreciation``, direction threshold.
    """
    n, nf = k.shape
    keep = 1.0 - depreciation
    for i in range(n):
        made = productivity[place[i]] * rd_output[i] if alive[i] else 0.0
        total = row_total(k, i)
        if total > eps:
            scale = made / total
            for f in range(nf):
                k[i, f] = k[i, f] * keep + scale * k[i, f]
        else:
            for f in range(nf):
                k[i, f] = k[i, f] * keep + (made if f == field[i] else 0.0)


@jit
def institute_knowledge(k: np.ndarray, made: np.ndarray, keep: float, eps: float) -> np.ndarray:
    """Institutes' knowledge after a month: ``k · keep + made[:, None] · direction(k, 0)``.

    As :func:`innovation.production` writes it in numpy (a new array): the direction is ``k_i``
    over its row sum (numpy's pairwise order, :func:`total`) where that sum exceeds ``eps``, else
    the unit vector of field 0 (zeros where the sum is NaN).
    """
    n, nf = k.shape
    out = np.empty((n, nf))
    for i in range(n):
        if nf == 8:                       # total(k[i], 8) written out
            tot = 0.0 + (((k[i, 0] + k[i, 1]) + (k[i, 2] + k[i, 3]))
                         + ((k[i, 4] + k[i, 5]) + (k[i, 6] + k[i, 7])))
        else:
            tot = total(k[i], nf)
        for f in range(nf):
            d = k[i, f] / tot if tot > eps else 0.0
            if f == 0 and tot <= eps:
                d = 1.0
            out[i, f] = k[i, f] * keep + made[i] * d
    return out


@jit
def draw_rows(prob: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one column per row (see :func:`sampling.draw_from_rows`).

    Row ``i``'s cumulative sums are formed left to right, as ``numpy.cumsum`` forms them, and the
    draw is the number of them at most ``u_i`` times the row total (capped at the last column);
    -1 for a row summing to zero or less.
    """
    n, p = prob.shape
    out = np.empty(n, np.int64)
    cum = np.empty(p)
    for i in range(n):
        acc = 0.0
        for j in range(p):
            acc += prob[i, j]
            cum[j] = acc
        total = cum[p - 1] if p > 0 else 0.0
        if not total > 0.0:
            out[i] = -1
            continue
        x = u[i] * total
        c = 0
        for j in range(p):
            if x >= cum[j]:
                c += 1
        out[i] = c if c < p - 1 else p - 1
    return out


@jit
def place_segments(place: np.ndarray, n_places: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entities sorted by place, stably (``argsort(place, kind="stable")``), and each place's segment.

    A counting sort that follows runs of equal places, so that consecutive entities of a place
    (firm slots are mostly sorted by place) do not wait for each other's counter in memory.

    Returns
    -------
    order : numpy.ndarray
        Entity indices sorted by place, in index order within a place (n,).
    start, end : numpy.ndarray
        First and one-past-last sorted position of each place (n_places,).
    """
    n = place.shape[0]
    counts = np.zeros(n_places, np.int64)
    cur = -1
    run = 0
    for i in range(n):
        p = place[i]
        if p == cur:
            run += 1
        else:
            if cur >= 0:
                counts[cur] += run
            cur = p
            run = 1
    if cur >= 0:
        counts[cur] += run
    start = np.empty(n_places, np.int64)
    end = np.empty(n_places, np.int64)
    nxt_slot = np.empty(n_places, np.int64)
    acc = 0
    for p in range(n_places):
        start[p] = acc
        nxt_slot[p] = acc
        acc += counts[p]
        end[p] = acc
    order = np.empty(n, np.int64)
    cur = -1
    pos = 0
    for i in range(n):
        p = place[i]
        if p != cur:
            if cur >= 0:
                nxt_slot[cur] = pos
            cur = p
            pos = nxt_slot[p]
        order[pos] = i
        pos += 1
    return order, start, end


@jit
def segment_totals(cum: np.ndarray, start: np.ndarray, end: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative weight before each place's segment and the segment's total weight."""
    n_places = start.shape[0]
    base = np.empty(n_places)
    total = np.empty(n_places)
    for p in range(n_places):
        b = cum[start[p] - 1] if start[p] > 0 else 0.0
        e = cum[end[p] - 1] if end[p] > 0 else 0.0
        base[p] = b
        total[p] = e - b
    return base, total


@jit
def segment_sampler_arrays(place: np.ndarray, weight: np.ndarray, n_places: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray, np.ndarray, np.ndarray]:
    """Everything a :class:`~coinnovation_sim.sampling.SegmentSampler` draws from, in one call.

    Returns
    -------
    order, cum, prev, nxt, start, end, base, total : numpy.ndarray
        Entities sorted by place; running sum of their weights (left to right); nearest
        positive-weight position at or before (-1: none) and at or after (``n``: none) each
        position; each place's segment, base and total.
    """
    n = place.shape[0]
    order, start, end = place_segments(place, n_places)
    cum = np.empty(n)
    prev = np.empty(n, np.int64)
    nxt = np.empty(n, np.int64)
    acc = 0.0
    last = -1
    fill = 0
    for i in range(n):
        w = weight[order[i]]
        acc += w
        cum[i] = acc
        if w > 0.0:
            last = i
            for q in range(fill, i + 1):
                nxt[q] = i
            fill = i + 1
        prev[i] = last
    for q in range(fill, n):
        nxt[q] = n
    base, total = segment_totals(cum, start, end)
    return order, cum, prev, nxt, start, end, base, total


@jit
def segment_draw(cum: np.ndarray, order: np.ndarray, prev: np.ndarray, nxt: np.ndarray,
                 start: np.ndarray, end: np.ndarray, base: np.ndarray, total: np.ndarray,
                 place: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Weighted draw of one entity inside each requested place (:class:`SegmentSampler.draw`).

    The arrays are the sampler's (entities sorted by place; cumulative weights; nearest
    positive-weight position before and after each position; segment bounds, base and total per
    place). For draw ``i`` in place ``p`` the target ``base_p + u_i · total_p`` is searched in
    ``p``'s segment (``searchsorted(cum, x, side="right")`` restricted to the segment and clipped
    to it, which equals the search over the whole non-decreasing ``cum``); a zero-weight entity
    reached by rounding is replaced by the nearest positive one before it in the segment, else
    after it. -1 where the place is -1 or has no weight.
    """
    n = place.shape[0]
    out = np.empty(n, np.int64)
    for i in range(n):
        p = place[i] if place[i] >= 0 else 0
        if place[i] < 0 or not total[p] > 0.0:
            out[i] = -1
            continue
        x = base[p] + u[i] * total[p]
        out[i] = order[segment_position(cum, prev, nxt, start[p], end[p], start[p], end[p], x)]
    return out


@jit_inline
def segment_position(cum: np.ndarray, prev: np.ndarray, nxt: np.ndarray, seg_start: int,
                     seg_end: int, lo: int, hi: int, x: float) -> int:
    """Sorted position drawn by the target ``x`` in a place's segment (:func:`segment_draw`).

    The first position in ``[lo, hi)`` (inside the segment ``[seg_start, seg_end)``) whose
    cumulative weight exceeds ``x``, clipped to the segment; a zero-weight entity reached by
    rounding is replaced by the nearest positive one before it in the segment, else after it.
    """
    m = cum.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    top = seg_end - 1 if seg_end - 1 > seg_start else seg_start
    pos = lo if lo < top else top
    if pos < seg_start:
        pos = seg_start
    if pos > m - 1:
        pos = m - 1
    back = prev[pos]
    if back >= seg_start:
        return back
    return nxt[pos] if nxt[pos] < m - 1 else m - 1


@jit
def apply_deals(knowledge: np.ndarray, capital: np.ndarray, revenue: np.ndarray,
                searcher: np.ndarray, deal: np.ndarray, collab: np.ndarray, idx: np.ndarray,
                gain: np.ndarray, partner_gain: np.ndarray, price: np.ndarray, tc: np.ndarray,
                subsidy: np.ndarray, firm_weight: np.ndarray, inst_weight: np.ndarray) -> None:
    """Knowledge gains and payments of the month's technology deals (updates the arrays).

    In this order, as :func:`technology.transact` describes them: every buyer (searcher with a
    deal) adds its knowledge gain and pays ``price + tc − subsidy``; then every joint R&D
    partner, deal by deal, adds its own gain and pays ``price + tc``, both scaled by the share
    ``min(1, w_searcher / w_partner)`` of its real firms taking part; then every institute
    selling a service books ``price · w_searcher / w_institute`` of revenue per institute.
    """
    ns, nf = gain.shape
    for i in range(ns):
        if deal[i]:
            s = searcher[i]
            for f in range(nf):
                knowledge[s, f] += gain[i, f]
            capital[s] -= price[i] + tc[i] - subsidy[i]
    for i in range(ns):
        if deal[i] and collab[i]:
            j = idx[i]
            wj = firm_weight[j]
            share = np_min(1.0, firm_weight[searcher[i]] / np_max(wj, 1e-12))
            for f in range(nf):
                knowledge[j, f] += partner_gain[i, f] * share
            capital[j] += -(price[i] + tc[i]) * share
    for i in range(ns):
        if deal[i] and not collab[i]:
            j = idx[i]
            wj = inst_weight[j]
            revenue[j] += price[i] * firm_weight[searcher[i]] / np_max(wj, 1e-12)


@jit
def deal_records(deal: np.ndarray, collab: np.ndarray, idx: np.ndarray, best_dest: np.ndarray,
                 home: np.ndarray, firm_place: np.ndarray, searcher: np.ndarray,
                 firm_weight: np.ndarray, price: np.ndarray, tc: np.ndarray, n_places: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Place-level records of the month's technology deals (see :func:`technology.transact`).

    Each deal is booked between the buyer's home place ``o`` and the provider's place ``d`` (a
    partner firm's home place, or the institute's place). With ``w`` the buyer's real firms and
    ``r = min(w, w_partner)`` the partner's real firms taking part, every sum runs over the
    deals in order, as ``numpy.bincount`` adds them.

    Returns
    -------
    flows : numpy.ndarray
        (3, P, P): services ``d → o`` (``price · w``), joint R&D ``d → o`` (``price · w``) and
        joint R&D ``o → d`` (``price · r``).
    accounts : numpy.ndarray
        (7, P): institute services at ``o`` (``−price · w``), joint R&D outlays at ``o``
        (``−price · w``) and at ``d`` (``−price · r``), transaction costs of every buyer at
        ``o`` (``−tc · w``) and of partners at ``d`` (``−tc · r``), and the service and joint
        R&D volumes bought by ``o`` (``price · w``).
    """
    p = n_places
    flows = np.zeros((3, p, p))
    acc = np.zeros((7, p))
    ns = deal.shape[0]
    for i in range(ns):
        if not deal[i]:
            continue
        o = home[i]
        w = firm_weight[searcher[i]]
        amount = price[i] * w
        if collab[i]:
            j = idx[i]
            d = firm_place[j]
            r = np_min(w, firm_weight[j])
            flows[1, d, o] += amount
            flows[2, o, d] += price[i] * r
            acc[1, o] += -amount
            acc[2, d] += -price[i] * r
            acc[6, o] += amount
            acc[4, d] += -tc[i] * r
        else:
            d = best_dest[i]
            flows[0, d, o] += amount
            acc[0, o] += -amount
            acc[5, o] += amount
        acc[3, o] += -(tc[i] * w)
    return flows, acc


@jit
def split_by_location(unit_place: np.ndarray, home: np.ndarray, unit_share: np.ndarray,
                      amount: np.ndarray, n_places: int) -> np.ndarray:
    """Per-firm amounts summed by where the talent works (:func:`talent.by_location`).

    A firm operating away (``unit_place ≠ home``) counts ``amount · unit_share`` at its unit
    place and ``amount · (1 − unit_share)`` at home; a firm at home counts ``amount`` at home.
    The two parts are summed separately in firm order and added at the end, as
    ``bincount(unit_place, amount·u) + bincount(home, amount·(1 − u))`` does.
    """
    at_unit = np.zeros(n_places)
    at_home = np.zeros(n_places)
    for i in range(amount.shape[0]):
        u = unit_share[i] if unit_place[i] != home[i] else 1.0
        at_unit[unit_place[i]] += amount[i] * u
        at_home[home[i]] += amount[i] * (1.0 - u)
    for p in range(n_places):
        at_unit[p] += at_home[p]
    return at_unit


def warm_up() -> None:
    """Load (or compile) every kernel once, so that the first model step does not pay for it.

    The first call of a compiled kernel in a process loads it from numba's on-disk cache and
    initialises the compiler (about 0.2 s), or compiles it on a machine's first run (about a
    second per kernel). :class:`~coinnovation_sim.model.CoinnovationModel` calls this while it is
    built; later calls cost microseconds.
    """
    place = np.zeros(2, np.int64)
    rows = np.ones((2, 2))
    row_sums(rows)
    split_by_location(place, place, np.ones(2), np.ones(2), 1)
    yes = np.ones(2, np.bool_)
    ones = np.ones(2)
    draw_rows(rows, np.ones(2) * 0.5)
    order = segment_sampler_arrays(place, np.ones(2), 1)[0]
    segment_draw(np.ones(2), order, place, place, place, place + 2, np.zeros(2), np.ones(2),
                 place, np.ones(2) * 0.5)
    group_rows(place, rows, 1)
    weight = np.ones(2)
    weight.flags.writeable = False            # the model shares firm weights read-only in a step
    group_weighted_rows(place, yes, weight, rows, 1, True)
    knowledge = np.ones((2, 8))
    pool_means(place, yes, weight, knowledge, place, ones, knowledge, 1)
    live_weighted_sum(yes, weight, ones)
    for w in (weight, np.ones(2)):
        group_weighted_rows(place, yes, w, rows, 1, True)
        group_weighted_rows(place, yes, w, rows, 1, False)
    deal_records(yes, yes, place, place, place, place, place, weight, ones, ones, 1)
    apply_deals(rows.copy(), ones.copy(), ones.copy(), place, yes, yes, place, rows, rows, ones,
                ones, ones, weight, ones)
    spillover_pass(rows.copy(), place, np.ones(2, np.bool_), weight, np.ones((1, 2)),
                   np.ones((1, 1)), 0.1, 1.0, 1.0, 1e-12)
    unit_home_matrix(place, place, ones, 1)
    normalised_rows(np.ones((2, 2)))
    spillover_attribution(np.ones((1, 4)), np.ones((1, 2)), np.ones((1, 1)), np.ones((1, 1)))
    production_pass(rows.copy(), np.ones(2), place, np.ones(2, np.bool_), place, np.ones(1), 0.01,
                    1e-12)
    institute_knowledge(np.ones((2, 8)), np.ones(2), 0.99, 1e-12)
    for other in _WARM_UPS:
        other()
