"""Each replayable protocol's liquidation terms, as the liquidator sees them for one account.

`terms(hf, d, c, coll, debt, price, params, size)` answers: if a liquidator asks to repay
`size` of the most this protocol lets it repay in debt reserve `d` against collateral reserve
`c`, what is repaid, what collateral leaves the account, and how much of it goes to the
protocol? `coll`/`debt` are the account's rows (token units), `price` the oracle price of
every reserve. This module is the registry: each protocol's terms live in its folder, in the very
module that holds its exact-integer twin (aave/v2.py, v3.py, v33.py), which the differential tests
check (tests/core/test_one_copy.py holds the engine to those functions).

Comet (absorb + buyCollateral) and Maker (Dog/Clipper auctions) are different mechanisms, not a
liquidator repaying a loan: their Rules have `kind` "absorb" / "auction" and no terms; the loop
hands their liquidatable rows to backtest/protocols/comet/mechanism.py and maker/mechanism.py instead.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from backtest import compiled
from backtest.protocols.aave import v2 as aave_v2
from backtest.protocols.aave import v3 as aave_v3
from backtest.protocols.aave import v33 as aave_v33
from backtest.protocols.compound_v2.terms import compound_v2_terms
from backtest.protocols.morpho_blue.terms import morpho_blue_close, morpho_blue_terms


@dataclass(frozen=True)
class Params:
    bonus: np.ndarray
    protocol_fee: np.ndarray
    close_factor: np.ndarray


@dataclass(frozen=True)
class Rules:
    name: str
    floors_average_lt: bool      # Aave's GenericLogic floors the average LT to whole bps
    burns_deficit: bool          # Aave v3.3+, Morpho: debt left on an account with no collateral is burned
    terms: Callable
    max_close: Callable          # (hf [K], close_factor [R]) -> [K, R]: most of each debt one call may repay
    kind: str = "repay"          # "repay" (a liquidator repays debt), "absorb" (Comet), "auction" (Maker)


RULES: dict[str, Rules] = {
    "aave-v2": Rules("aave-v2", True, False, aave_v2.terms, aave_v2.max_close),
    "aave-v3": Rules("aave-v3", True, False, aave_v3.terms, aave_v3.max_close),
    # SparkLend is Aave v3.0 code (its deployment uses aave-v3-core's Pool); its parameters come from its rows
    "spark": Rules("spark", True, False, aave_v3.terms, aave_v3.max_close),
    "aave-v3.3": Rules("aave-v3.3", True, True, aave_v33.terms, lambda hf, cf: np.ones((len(hf), len(cf)))),
    "compound-v2": Rules("compound-v2", False, False, compound_v2_terms,
                         lambda hf, cf: np.broadcast_to(cf[None, :], (len(hf), len(cf)))),
    # Morpho Blue: a row is one position in one market (LT = LLTV, no bps floor); a liquidation that takes
    # the last collateral realises the rest of the debt as bad debt at once (written off against suppliers)
    "morpho-blue": Rules("morpho-blue", False, True, morpho_blue_terms, morpho_blue_close),
    # HF = Σ value x factor / debt value, no bps floor: Comet's liquidateCollateralFactor, Maker's 1/mat.
    "comet": Rules("comet", False, False, None, None, kind="absorb"),
    "maker": Rules("maker", False, False, None, None, kind="auction"),
}
MECHANISMS = ("comet", "maker")     # not a liquidator's rules: `--set protocol=` cannot apply them to a book


def rules_for(protocol: str) -> Rules:
    from backtest.errors import InputError
    if protocol not in RULES:
        raise InputError(f"protocol {protocol!r} is not replayable (replayable: {', '.join(sorted(RULES))})",
                         column="protocol")
    return RULES[protocol]


def health_factor(coll_usd: np.ndarray, debt_usd: np.ndarray, lt: np.ndarray, floors: np.ndarray) -> np.ndarray:
    """HF per account; rows with `floors` use Aave's bps-floored average LT, others Σ value·LT / debt."""
    aave = aave_v3.health_factor(coll_usd, debt_usd, lt)
    if floors.all():
        return aave
    debt = debt_usd.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # a dust debt: HF inf
        plain = np.where(debt > 0, (coll_usd @ lt) / np.where(debt > 0, debt, 1.0), np.inf)
    return np.where(floors, aave, plain)


def health_factor_one(coll_usd: np.ndarray, debt_usd: np.ndarray, lt: np.ndarray, floors: bool) -> float:
    """health_factor for one account, in plain floats (reported after each liquidation). The same bits
    as float(ndarray.sum()) and float(coll_usd @ lt), asked ~4x cheaper: `_sum`, and `.dot`, the BLAS
    ddot that matmul's vector-vector case adds to +0.0 (so -0.0 becomes 0.0 there too). tests/core/
    test_rules.py holds it to that formula."""
    debt = _sum(debt_usd)
    if debt <= 0:
        return float("inf")
    return _from_sums(debt, _sum(coll_usd), 0.0 + float(coll_usd.dot(lt)), floors)


def _from_sums(debt: float, total: float, weighted: float, floors: bool) -> float:
    if not floors:
        return weighted / debt
    avg = weighted / total if total > 0 else 0.0
    bps = avg * 10_000 + 1e-9
    return total * (math.floor(bps) if -_BIG < bps < _BIG else np.floor(bps)) / 10_000 / debt   # np.floor for NaN, inf


def health_factor_row(coll: np.ndarray, debt: np.ndarray, price: np.ndarray, lt: np.ndarray, floors: bool) -> float:
    """health_factor_one(coll * price, debt * price, lt, floors), the same bits, for one account's rows in
    token units (a liquidation's HF after). Rows of up to 128 reserves are multiplied and summed by
    `_row_sums` (numba: numpy's pairwise sum, tests/perf/test_fill_path.py) where compiled, with no
    collateral sum when nothing is owed; the dot stays numpy's (BLAS's order). The Python path: numpy."""
    n = len(debt)
    if n > 128 or not compiled.ON or _row_sums is None:
        return health_factor_one(coll * price, debt * price, lt, floors)
    coll_usd = np.empty(n)
    owed, total = _row_sums(coll, debt, price, coll_usd)
    if owed <= 0:
        return float("inf")
    return _from_sums(owed, total, 0.0 + float(coll_usd.dot(lt)), floors)


_scratch = threading.local()        # per thread: {width: the row health_factor_at's products go to}


def health_factor_at(coll: np.ndarray, debt: np.ndarray, i: int, price: np.ndarray, lt: np.ndarray,
                     floors: bool) -> float:
    """health_factor_row(coll[i], debt[i], price, lt, floors), the same bits, of row `i` of the book's [N, R]
    arrays: the kernel reads the row itself (no views made) and leaves its products in a row kept per thread
    and width (no array made) for the dot. A liquidation's HF after."""
    n = debt.shape[1]
    if n > 128 or not compiled.ON or _row_sums is None:
        return health_factor_row(coll[i], debt[i], price, lt, floors)
    coll_usd = _scratch.__dict__.get(n)
    if coll_usd is None:
        coll_usd = _scratch.__dict__[n] = np.empty(n)
    if _health_at is not None and (lt is _fits[0] and n == _fits[1] or _fit(lt, n)):
        return _health_at(coll, debt, i, price, lt, floors, coll_usd)     # the dot too: numpy's own cblas_ddot
    owed, total = _row_sums_at(coll, debt, i, price, coll_usd)
    if owed <= 0:
        return float("inf")
    return _from_sums(owed, total, 0.0 + float(coll_usd.dot(lt)), floors)


_fits = (None, -1)      # the last lt found fit for `_health_at`, and its width


def _fit(lt, n: int) -> bool:
    """Whether `_health_at` may dot a row of width `n` with `lt` (numpy_dot.ddot takes contiguous float64 of that
    length; numpy's dot of anything else is not that call, or raises); kept for the next call."""
    global _fits
    if isinstance(lt, np.ndarray) and lt.dtype == np.float64 and lt.ndim == 1 and lt.flags.c_contiguous \
            and len(lt) == n:
        _fits = (lt, n)
        return True
    return False


def _numpy_sum_py(a) -> float:
    """float(a.sum()) of up to 128 float64s, numpy's pairwise sum (pairwise_sum in its loops_utils) added to
    +0.0: under 8 one by one from -0.0; else eight running sums over blocks of 8, combined as a tree, then
    the rest one by one."""
    n = len(a)
    if n < 8:
        res = -0.0
        for k in range(n):
            res += a[k]
        return 0.0 + res
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    while i < n - n % 8:
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


def _row_sums_py(coll, debt, price, coll_usd):
    """(float((debt * price).sum()), float((coll * price).sum())) of rows of up to 128, `coll_usd` left
    holding coll * price (for the dot); the collateral's 0.0, not summed, when the debt's is <= 0."""
    for k in range(len(debt)):
        coll_usd[k] = debt[k] * price[k]
    owed = _numpy_sum(coll_usd)
    if owed <= 0:
        return owed, 0.0
    for k in range(len(coll)):
        coll_usd[k] = coll[k] * price[k]
    return owed, _numpy_sum(coll_usd)


def _row_sums_at_py(coll, debt, i, price, coll_usd):
    """_row_sums of row `i` of [N, R] arrays (compiled only: its views cost nothing there)."""
    return _row_sums(coll[i], debt[i], price, coll_usd)


def _health_at_py(coll, debt, i, price, lt, floors, coll_usd):
    """health_factor_at in one compiled call: `_row_sums_at`, then the dot as numpy makes it (`0.0 +` numpy's own
    cblas_ddot, numpy_dot.py) and `_from_sums` (compiled as written: math.floor's int converts back exactly)."""
    owed, total = _row_sums(coll[i], debt[i], price, coll_usd)
    if owed <= 0:
        return math.inf
    return _from_sums_compiled(owed, total, 0.0 + _ddot(len(coll_usd), coll_usd.ctypes, 1, lt.ctypes, 1), floors)


try:                                    # numba where installed; numpy (the same bits) without
    import numba
    from backtest.protocols.numpy_dot import ddot as _ddot
    _numpy_sum = numba.njit(cache=True, nogil=True)(_numpy_sum_py)
    _row_sums = numba.njit(cache=True, nogil=True)(_row_sums_py)
    _row_sums_at = numba.njit(cache=True, nogil=True)(_row_sums_at_py)
    _from_sums_compiled = numba.njit(inline="always")(_from_sums)
    _health_at = None if _ddot is None else numba.njit(cache=True, nogil=True, error_model="numpy")(_health_at_py)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _numpy_sum, _row_sums, _row_sums_at, _health_at = _numpy_sum_py, None, None, None


def _sum(x: np.ndarray) -> float:
    """float(x.sum()) of a 1-D float array: numpy adds fewer than 8 numbers one by one from +0.0 (its
    pairwise sum's base case), as this loop does; longer rows go to numpy."""
    if len(x) >= 8:
        return float(x.sum())
    out = 0.0
    for v in x.tolist():
        out += v
    return out


_BIG = 2.0 ** 52        # below it math.floor's int converts back to the very float np.floor gives
