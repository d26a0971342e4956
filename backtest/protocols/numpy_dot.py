"""numpy's own BLAS dot, callable from numba: the very `cblas_ddot` numpy calls for `x.dot(y)` of two contiguous
float64 vectors (its DOUBLE_dot: `0.0 + cblas_ddot(n, x, 1, y, 1)` below 2^31 elements), so a kernel can finish
a health factor (rules.health_factor_at: `coll_usd @ lt`) with numpy's bits and no call back into Python.

Found in the OpenBLAS numpy loaded (threadpoolctl lists it; ILP64 names only: numpy's wheels' scipy-openblas64,
or an openblas64_ build) and taken only if it gives numpy's bits on 384 dots, three of every length to 128
(`_agrees`): another BLAS, another symbol or a numpy that does not call BLAS leaves `ddot` None and the
callers keep numpy's `dot`. numba calls it by a name of our own (`SYMBOL`, bound to its address before any
kernel loads), so a cached kernel stays valid across processes.
"""

from __future__ import annotations

import ctypes

import numpy as np

SYMBOL = "backtest_numpy_cblas_ddot"
_NAMES = ("scipy_cblas_ddot64_", "cblas_ddot64_")     # cblas_ddot of an ILP64 OpenBLAS (64-bit n and strides)


def _numpy_cblas_ddot():
    """The ctypes function of numpy's cblas_ddot (see the module's docstring), or None."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:                 # pragma: no cover - threadpoolctl is a dependency
        return None
    for lib in threadpool_info():
        if lib.get("internal_api") != "openblas":
            continue
        try:
            dll = ctypes.CDLL(lib["filepath"])
        except OSError:                 # pragma: no cover
            continue
        for name in _NAMES:
            fn = getattr(dll, name, None)
            if fn is None:
                continue
            fn.restype = ctypes.c_double
            fn.argtypes = (ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)
            if _agrees(fn):
                return fn
    return None


def _agrees(fn) -> bool:
    """Whether `fn` gives `x.dot(y)`'s bits (+0.0 first, as numpy's sum starts) on vectors of every length to 128."""
    rng = np.random.default_rng(19)
    xs = rng.standard_normal((3, 256)) * 10.0 ** rng.uniform(-6, 9, (3, 256))
    ys = rng.choice([0.0, 0.7, 0.8, 0.825, 0.93], (3, 256))
    for n in range(1, 129):
        for x, y in zip(xs[:, n:2 * n], ys[:, 256 - n:]):
            if np.float64(0.0 + fn(n, x.ctypes.data, 1, y.ctypes.data, 1)).tobytes() != x.dot(y).tobytes():
                return False
    return True


ddot = None             # numba's handle of numpy's cblas_ddot: (n, x pointer, 1, y pointer, 1) -> float, or None
try:
    import numba
    from llvmlite import binding as _llvm
    _fn = _numpy_cblas_ddot()
    if _fn is not None:
        _llvm.add_symbol(SYMBOL, ctypes.cast(_fn, ctypes.c_void_p).value)
        ddot = numba.types.ExternalFunction(SYMBOL, numba.types.float64(
            numba.types.int64, numba.types.voidptr, numba.types.int64, numba.types.voidptr, numba.types.int64))
except ImportError:                     # pragma: no cover - without numba the callers use numpy's dot
    pass
