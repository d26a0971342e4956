"""The reference market of each asset: the scenario's path (the aggregate, CEX-led price absent our
own flow) moved by the impact of the forced flow that reaches it.

Flow reaches it in two ways: arbitrageurs who bring a DEX pool or an order book back to the
reference pass the pool's excess inventory on to it (backtest/markets/router.py `arbitrage`), and a
sale of an asset that has no venue at all goes to it directly. A signed USD flow q (negative =
selling), with temporary flow Q still outstanding, moves the log price by

    delta = Y * sigma * (f(Q + q) - f(Q)),   f(x) = sign(x) * sqrt(|x| / V)

(the square-root law of metaorder impact, marginal on the flow outstanding: Toth et al. 2011,
"Anomalous price impact and the critical nature of liquidity in financial markets"; Bouchaud et
al. 2018, "Trades, Quotes and Prices", ch. 12). A share theta of each delta is permanent; the rest,
and Q itself, decay with half-life h (the transient-impact picture of Obizhaeva and Wang 2013).
V, sigma, Y, theta and h per asset come from backtest/markets/impact_params.py (`backtest
calibrate`, docs/calibration.md); `impact.scale` multiplies Y, `impact.permanent_share` and
`impact.half_life_seconds` replace theta and h for every asset (sensitivity runs).

Pure state and maths: no venue, no oracle. The counterfactual without feedback uses scale 0. With
`feedback_mode = "excess"` a flow first spends the step's real liquidation flow the path already holds
(backtest/markets/carried.py); the fill of an asset with no venue still walks the whole curve.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from backtest import compiled
from backtest.errors import InputError
from backtest.markets.carried import CarriedFlow
from backtest.markets.impact_params import DEFAULT, IMPACT

try:                  # numba where installed: the maths below compiled as it is (register_jitable keeps it Python too)
    import numba
    from numba.extending import register_jitable as _jitable
except ImportError:   # pragma: no cover - exercised where numba is absent
    numba, _jitable = None, (lambda func: func)

# 8-point Gauss-Legendre nodes and weights on [0, 1], for the mean price of an order walked through the
# impact curve (`_mean_exp`, in a variable where the integrand is smooth).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)
NODES, WEIGHTS = tuple(((_NODES + 1.0) / 2.0).tolist()), tuple((_WEIGHTS / 2.0).tolist())


SMALL = 1e-4        # log move under which `fill` uses the closed form
_EXP_MAX = math.log(sys.float_info.max)   # past it math.exp raises where np.exp (`_reprice`) gives inf
_TINY, _HUGE = sys.float_info.min, sys.float_info.max      # a price a trade may leave: normal, positive, finite


class OutOfRange(InputError, ValueError):
    """A flow whose impact takes a reference price to 0, a subnormal or inf: nothing after it would mean anything
    (a pool pulled to a price of 0 divides by it), so the run stops with one line (the CLI prints InputError)."""

@_jitable
def _f(x: float, volume: float) -> float:
    return math.copysign(math.sqrt(abs(x) / volume), x) if volume > 0 else 0.0


@_jitable
def _F(x: float, volume: float) -> float:
    """An antiderivative of _f: (2/3) |x|^1.5 / sqrt(V) (smooth through 0), for the mean of _f over an order."""
    return 2.0 / 3.0 * abs(x) ** 1.5 / math.sqrt(volume) if volume > 0 else 0.0


@_jitable
def _mean_exp(c: float, q0: float, usd: float, volume: float) -> float:
    """Mean over the order of exp(c (f(q0 + u usd) - f(q0))), u in [0, 1]: the integral over the flow x
    from q0 to q0 + usd, split where x crosses 0 and taken in s = sqrt(|x|) (x = ±s², dx = ±2s ds), where
    the square root's kink is gone and 8-point Gauss-Legendre is exact to ~1e-12."""
    f0, root = _f(q0, volume), math.sqrt(volume)
    end = q0 + usd
    crosses = q0 * end < 0
    total = 0.0
    for piece in range(2 if crosses else 1):
        a, b = (q0, 0.0 if crosses else end) if piece == 0 else (0.0, end)
        sign = 1.0 if a + b > 0 else -1.0
        sa, sb = math.sqrt(abs(a)), math.sqrt(abs(b))
        width = sb - sa
        inner = 0.0                      # summed left to right, as sum() did before Python 3.12
        for k in range(len(NODES)):
            n = NODES[k]
            inner += WEIGHTS[k] * math.exp(c * (sign * (sa + width * n) / root - f0)) * 2.0 * (sa + width * n)
        total += sign * width * inner
    return total / usd


@_jitable
def _fill_factor(c: float, q: float, usd: float, volume: float) -> float:
    """ReferenceMarket.fill / (units x price), for c != 0 and usd != 0: exp of the mean log move in closed
    form when the whole move is under SMALL, else `_mean_exp`."""
    if abs(c * (_f(q + usd, volume) - _f(q, volume))) < SMALL:
        return math.exp(c * ((_F(q + usd, volume) - _F(q, volume)) / usd - _f(q, volume)))
    return _mean_exp(c, q, usd, volume)


_fill_factor_compiled = numba.njit(cache=True, nogil=True)(_fill_factor) if numba is not None else None


# ReferenceMarket's per-asset arrays are the rows of one [10, A] array (`_rows`), in `_trade`'s order: it takes them
# as one argument (meet_block's kernel passes a copy of the first nine)
ROWS = ("price", "exo", "permanent", "temporary", "coefficient", "outstanding", "volume", "permanent_share", "flow",
        "half_life")
_NO_LEFT = np.zeros((0, 2))


def _impact_py(c, q, v, usd, theta, permanent, temporary, exo):
    """A flow of `usd` at one asset's reference market (its coefficient, outstanding flow, volume, permanent
    share, log impacts and path price): (moves?, permanent, temporary log impact, price after). The one formula
    of ReferenceMarket.trade: its Python path calls this on plain floats, `_trade` has it compiled in."""
    if c == 0.0 or usd == 0.0:
        return False, 0.0, 0.0, 0.0
    if v > 0:                                  # c * (_f(q + usd, v) - _f(q, v)), _f inline
        x = q + usd
        d = c * (math.copysign(math.sqrt(abs(x) / v), x) - math.copysign(math.sqrt(abs(q) / v), q))
    else:
        d = c * 0.0
    if d == 0.0:
        return False, 0.0, 0.0, 0.0
    kept, passing = permanent + theta * d, temporary + (1.0 - theta) * d
    return True, kept, passing, exo * (math.exp(kept + passing) if not kept + passing > _EXP_MAX else math.inf)


_impact = numba.njit(cache=True, nogil=True, inline="always")(_impact_py) if numba is not None else _impact_py


def _trade(a, usd, ref, left, carried):
    """ReferenceMarket.trade on `ref`'s rows (price, exo, permanent, temporary, coefficient, outstanding, volume,
    share, flow: ROWS' first nine), CarriedFlow.excess on `left` if `carried`: False where its price would leave a
    float's range, nothing but the flow (and `left`) moved (the Python trade raises OutOfRange there). The Python
    path's expressions in its order (numba neither reassociates nor fuses them; only a NaN's sign may differ, where
    x86 keeps the first of two NaN operands and LLVM may swap them)."""
    ref[8, a] = ref[8, a] + usd
    if carried:
        side = 0 if usd < 0 else 1
        size, have = abs(usd), left[a, side]
        taken = have if have < size else size              # min(|usd|, left)
        out = usd + taken if usd < 0 else usd - taken
        left[a, side] = have - taken
        usd = out
    moves, kept, passing, price = _impact(ref[4, a], ref[5, a], ref[6, a], usd, ref[7, a], ref[2, a], ref[3, a],
                                          ref[1, a])
    if not moves:
        return True
    if not (_TINY <= price <= _HUGE or price != price):
        return False
    ref[2, a], ref[3, a] = kept, passing
    ref[5, a] = ref[5, a] + usd
    ref[0, a] = price
    return True


_trade_compiled = numba.njit(cache=True, nogil=True, error_model="numpy")(_trade) if numba is not None else None


def _decay(rows, keep):
    """ReferenceMarket.decay's `temporary *= keep` and `outstanding *= keep` on `rows` (ROWS' order), and the
    exponent of its _reprice, permanent + temporary (numpy's exp is left to the caller: its SIMD exp is not the C
    library's, ~5 % of values differ); an empty array, nothing changed, where nothing is temporary (`.any()`)."""
    n = rows.shape[1]
    some = False
    for a in range(n):
        if rows[3, a] != 0.0:
            some = True
            break
    if not some:
        return np.empty(0)
    out = np.empty(n)
    for a in range(n):
        rows[3, a] = rows[3, a] * keep[a]
        rows[5, a] = rows[5, a] * keep[a]
        out[a] = rows[2, a] + rows[3, a]
    return out


_decay_compiled = numba.njit(cache=True, nogil=True)(_decay) if numba is not None else None


@dataclass
class ReferenceMarket:
    """Per asset: path price, permanent and temporary log impact, outstanding flow (USD)."""
    exo: np.ndarray               # [A] the path's price now
    coefficient: np.ndarray       # [A] Y * sigma (0: no impact)
    volume: np.ndarray            # [A] V, USD a day
    permanent_share: np.ndarray   # [A] theta
    half_life: np.ndarray         # [A] h, seconds
    price: np.ndarray = None      # [A] exo * exp(permanent + temporary); updated in place
    permanent: np.ndarray = None
    temporary: np.ndarray = None
    outstanding: np.ndarray = None
    flow: np.ndarray = None       # [A] USD that reached the market this step (signed)
    carried: CarriedFlow = None   # feedback_mode "excess": the real flow the path already holds (carried.py)

    def __post_init__(self):
        rows = self._rows = np.zeros((len(ROWS), len(self.exo)))     # each array a row: `_trade` takes them as one
        for k, name in enumerate(ROWS):
            got = getattr(self, name) if name != "price" else self.exo     # the price starts at the path's
            if got is not None:
                rows[k] = got
        self._views()

    def _views(self) -> None:
        for k, name in enumerate(ROWS):
            setattr(self, name, self._rows[k])

    def __getstate__(self) -> dict:
        """Without the rows' views, which a copy or a pickle would make arrays of their own: `__setstate__` makes
        them views of the copied `_rows` again."""
        return {k: v for k, v in self.__dict__.items() if k not in ROWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    @classmethod
    def for_assets(cls, assets: list[str], exo: np.ndarray, impact, feedback: bool = True) -> "ReferenceMarket":
        """Parameters of each asset (IMPACT, else DEFAULT) under the run's `impact` config
        (backtest.config.ImpactConfig); no impact at all without feedback."""
        rows = [IMPACT.get(a, DEFAULT) for a in assets]
        get = lambda a, row, name: impact.for_asset(a, name, getattr(row, name))  # noqa: E731
        coefficient = [impact.scale * get(a, r, "y") * get(a, r, "daily_volatility") for a, r in zip(assets, rows)]
        return cls(exo=np.array(exo, dtype=float),
                   coefficient=np.array(coefficient, dtype=float) * (1.0 if feedback else 0.0),
                   volume=np.array([get(a, r, "daily_volume_usd") for a, r in zip(assets, rows)], dtype=float),
                   permanent_share=np.array([get(a, r, "permanent_share") for a, r in zip(assets, rows)], dtype=float),
                   half_life=np.array([get(a, r, "half_life_seconds") for a, r in zip(assets, rows)], dtype=float))

    def _reprice(self) -> None:
        np.multiply(self.exo, np.exp(self.permanent + self.temporary), out=self.price)

    def follow(self, exo: np.ndarray) -> None:
        """The path moved: the reference moves with it, impacts kept."""
        self.exo[:] = exo
        if self.carried is not None:
            self.carried.next_step()
        self._reprice()

    def decay(self, seconds: float) -> None:
        """The temporary part and the outstanding flow relax for `seconds`. Compiled (`_decay` on the rows, every
        block of arbitrage) but for numpy's exp and multiply."""
        if seconds <= 0:
            return
        fast = _decay_compiled is not None and compiled.ON
        if not fast and not self.temporary.any():
            return
        kept = self.__dict__.get("_keep")     # (half-lives, {seconds: factors}): blocks come in a few lengths
        half_life = self.half_life
        if kept is None or len(kept[1]) > 64 or kept[0] != half_life.tobytes():
            kept = self._keep = (half_life.tobytes(), {})
        keep = kept[1].get(seconds)
        if keep is None:
            keep = kept[1][seconds] = np.where(half_life > 0, 0.5 ** (seconds / np.where(half_life > 0, half_life, 1.0)), 0.0)
        if fast:
            grown = _decay_compiled(self._rows, keep)
            if len(grown):
                np.multiply(self.exo, np.exp(grown), out=self.price)
            return
        self.temporary *= keep
        self.outstanding *= keep
        self._reprice()

    def delta(self, a: int, usd: float) -> float:
        """Log move a signed USD flow would cause now (no state change)."""
        c = float(self.coefficient[a])
        if c == 0.0 or usd == 0.0:
            return 0.0
        q, v = float(self.outstanding[a]), float(self.volume[a])
        return c * (_f(q + usd, v) - _f(q, v))

    def trade(self, a: int, usd: float) -> None:
        """A signed USD flow reaches the market: its impact, split permanent / temporary. Compiled (`_trade`, the
        same floats) unless part of the flow is the path's own (`carried`)."""
        if self.carried is None and _trade_compiled is not None and compiled.ON:
            if not _trade_compiled(a, usd, self._rows, _NO_LEFT, False):
                self._out_of_range(a, usd)
            return
        flow = self.flow
        flow[a] = flow.item(a) + usd          # `+=`'s sum, in plain floats (cheaper than a numpy scalar)
        if self.carried is not None:          # only what the path does not already carry moves the price
            usd = self.carried.excess(a, usd)
        moved = self._moved(a, usd)
        if moved is not None:
            kept, passing, price = moved
            if not (_TINY <= price <= _HUGE or price != price):
                self._out_of_range(a, usd)
            self.permanent[a], self.temporary[a] = kept, passing
            self.outstanding[a] = self.outstanding.item(a) + usd
            self.price[a] = price

    def _moved(self, a: int, usd: float) -> tuple[float, float, float] | None:
        """(permanent, temporary log impact, price) after a flow of `usd` that moves the price, else None:
        `_impact_py` on plain floats (the Python path; `_trade` runs it compiled)."""
        moves, kept, passing, price = _impact_py(
            self.coefficient.item(a), self.outstanding.item(a), self.volume.item(a), usd,
            self.permanent_share.item(a), self.permanent.item(a), self.temporary.item(a), self.exo.item(a))
        return (kept, passing, price) if moves else None

    def _out_of_range(self, a: int, usd: float) -> None:
        kept, passing, price = self._moved(a, usd)
        raise OutOfRange(f"the reference market of asset {a}: a flow of {usd:.6g} USD would take its price from "
                         f"{self.price.item(a):.6g} to {price:.6g} USD (log impact {kept + passing:.6g}), past what "
                         "a float holds: the flows or the impact parameters (impact.scale, the asset's y, its "
                         "daily volume) are far beyond any market")

    def fill(self, a: int, units: float) -> float:
        """USD for `units` (> 0 sold, < 0 bought) walked through the impact curve, without
        trading: the mean of the price over the order's progress (notional at the price before).

        An order whose whole move is under SMALL (a stablecoin bought to repay, most orders on a
        deep market) takes exp of the mean log move, in closed form (F below): the mean of exp
        differs from it by at most SMALL^2 / 8 relative (Jensen), ~1e-9. Larger ones: `_mean_exp`."""
        p = float(self.price[a])
        usd = -units * p
        c = float(self.coefficient[a])
        if c == 0.0 or usd == 0.0:
            return units * p
        q, v = float(self.outstanding[a]), float(self.volume[a])
        return units * p * (_fill_factor_compiled if compiled.ON else _fill_factor)(c, q, usd, v)

    def sell(self, a: int, units: float) -> float:
        usd = self.fill(a, units)
        self.trade(a, -units * float(self.price[a]))
        return usd

    def buy(self, a: int, units: float) -> float:
        usd = -self.fill(a, -units)
        self.trade(a, units * float(self.price[a]))
        return usd
