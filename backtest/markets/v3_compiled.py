"""The Uniswap v3 tick walks compiled: `uniswap_v3.swap` (exact input, or to a price limit) and
`exact_output` (here, beside it: the Python walk is the reference), statement for statement, so the same floats come out (numba neither
reassociates nor fuses without fastmath; `math.log` is the C library's, as in Python).

The one change is where a tick's sqrt price comes from: the Python walks call
`sqrt_price_at_tick(tick)` (numpy's exp) at every step; here they are read from an array of the same
calls made once per tick table (`tick_sqrt_prices`). tests/perf/test_compiled_swap.py holds every
output of both walks equal to the Python ones bit for bit; backtest.compiled.ON picks which runs.
"""

from __future__ import annotations

import math

import numpy as np

from backtest import compiled
from backtest.errors import InputError
from backtest.markets import uniswap_v3
from backtest.markets.uniswap_v3 import MAX_TICK, MIN_TICK, _LOG_TICK, PoolState, SwapResult, next_tick, sqrt_price_at_tick

SP_MIN, SP_MAX = float(sqrt_price_at_tick(MIN_TICK)), float(sqrt_price_at_tick(MAX_TICK))
_TABLES: dict = {}           # id(ticks) -> (ticks, their sqrt prices): the ticks kept alive, so ids stay unique


def tick_sqrt_prices(ticks: np.ndarray) -> np.ndarray:
    """float(sqrt_price_at_tick(t)) for every initialised tick, computed once per tick table."""
    got = _TABLES.get(id(ticks))
    if got is not None and got[0] is ticks:
        return got[1]
    if len(_TABLES) > 512:           # fresh routers copy their pools: forget old tables now and then
        _TABLES.clear()
    out = np.array([float(sqrt_price_at_tick(int(t))) for t in ticks.tolist()], dtype=float)
    _TABLES[id(ticks)] = (ticks, out)
    return out


def swap(state: PoolState, amount_in: float, zero_for_one: bool,
         sqrt_price_limit: float | None = None) -> SwapResult:
    """uniswap_v3.swap, the walk compiled (swap_walk) unless backtest.compiled.ON is off."""
    if not compiled.ON or not amount_in >= 0:
        return uniswap_v3.swap(state, amount_in, zero_for_one, sqrt_price_limit)
    out, spent, fee_paid, crossed, sp, tick, liq = walk(state, amount_in, zero_for_one, sqrt_price_limit)
    return SwapResult(out, spent, fee_paid, crossed, PoolState(sp, tick, liq, state.ticks, state.liquidity_net, state.fee))


def walk(state: PoolState, amount_in: float, zero_for_one: bool, sqrt_price_limit: float | None = None) -> tuple:
    """swap's numbers without its wrappers: (amount out, amount in used, fee paid, ticks crossed, sqrt
    price, tick, liquidity after). The router quotes far more sales than it makes, and a quote needs no
    PoolState; `after` builds one for the sale that is made."""
    if not compiled.ON or not amount_in >= 0:
        res = uniswap_v3.swap(state, amount_in, zero_for_one, sqrt_price_limit)
        after = res.state
        return res.amount_out, res.amount_in_used, res.fee_paid, res.ticks_crossed, after.sqrt_price, after.tick, \
            after.liquidity
    limit = sqrt_price_limit if sqrt_price_limit is not None else (0.0 if zero_for_one else math.inf)
    out, spent, fee_paid, crossed, sp, tick, liq, at, bad = swap_walk(
        state.sqrt_price, state.tick, state.liquidity, state.ticks, state.liquidity_net,
        tick_sqrt_prices(state.ticks), state.fee, float(amount_in), bool(zero_for_one), float(limit))
    if bad:
        raise InputError(f"liquidity goes negative crossing tick {at}: incomplete tick table", column="liquidity_net")
    return out, spent, fee_paid, crossed, sp, tick, liq


def after(state: PoolState, walked: tuple) -> PoolState:
    """The pool's state once `walked` (walk's tuple, from `state`) is made: what swap returns."""
    return PoolState(walked[4], walked[5], walked[6], state.ticks, state.liquidity_net, state.fee)


def exact_output(state: PoolState, amount_out: float, zero_for_one: bool) -> tuple[float, float] | None:
    """(sqrt price where an exact-output swap of `amount_out` stops, input paid with fee), raw
    units; None if the initialised ticks cannot deliver it. The walk of uniswap_v3.swap solved
    for the output (SqrtPriceMath.getNextSqrtPriceFromOutput, Uniswap/v3-core):
      token1 out: sqrtP' = sqrtP - dy/L,        token0 in  = dy / (sqrtP sqrtP')
      token0 out: 1/sqrtP' = 1/sqrtP - dx/L,    token1 in  = dx sqrtP sqrtP'
    (inputs written without the differences of nearly equal prices, so tiny orders stay exact);
    the fee is added to each step's input, as SwapMath.computeSwapStep does."""
    if compiled.ON:                         # the same walk compiled (exact_output_walk)
        ok, sp, paid = exact_output_walk(
            state.sqrt_price, state.tick, state.liquidity, state.ticks, state.liquidity_net,
            tick_sqrt_prices(state.ticks), state.fee, float(amount_out), bool(zero_for_one))
        return (sp, paid) if ok else None
    ticks, nets, keep = state.ticks, state.liquidity_net, 1.0 - state.fee
    sp, tick, liq = state.sqrt_price, state.tick, state.liquidity
    remaining, paid = float(amount_out), 0.0
    if remaining <= 0:
        return sp, 0.0
    slack = 1e-9 * remaining            # what is left past the last tick by rounding alone
    while True:
        i, nxt, init = next_tick(ticks, tick, zero_for_one)
        sp_tick = float(uniswap_v3.sqrt_price_at_tick(nxt))
        if liq > 0:
            if zero_for_one:
                avail = liq * max(sp - sp_tick, 0.0)
                if remaining <= avail:
                    new = sp - remaining / liq
                    return new, paid + remaining / (sp * new) / keep
                paid += avail / (sp * sp_tick) / keep
            else:
                avail = liq * max(sp_tick - sp, 0.0) / (sp * sp_tick)
                if remaining <= avail:
                    new = 1.0 / (1.0 / sp - remaining / liq)
                    return new, paid + remaining * sp * new / keep
                paid += liq * max(sp_tick - sp, 0.0) / keep
            remaining -= avail
        if not init:
            return (sp_tick, paid) if remaining <= slack else None
        liq = max(liq + (-nets[i] if zero_for_one else nets[i]), 0.0)
        sp, tick = sp_tick, (nxt - 1 if zero_for_one else nxt)


def _next_tick(ticks, sp_ticks, tick, zero_for_one):
    """(index, next initialised tick, initialised?, its sqrt price) in the swap's direction."""
    if zero_for_one:
        i = np.searchsorted(ticks, tick, side="right") - 1
        if i >= 0:
            return i, ticks[i], True, sp_ticks[i]
        return i, MIN_TICK, False, SP_MIN
    i = np.searchsorted(ticks, tick, side="right")
    if i < len(ticks):
        return i, ticks[i], True, sp_ticks[i]
    return i, MAX_TICK, False, SP_MAX


def _tick_at(sp):
    return int(math.floor(2.0 * math.log(sp) / _LOG_TICK + 1e-9))


def _step(sp, sp_tick, limit, liq, fee, remaining, zero_for_one):
    """One step of uniswap_v3.swap's loop from `sp` toward the next tick's sqrt price `sp_tick` or `limit`, for
    `liq` > 0: (target, stops inside the step?, amount out, input net of the fee, input with it, sqrt price
    where it stops inside). The one copy of the step's floats, for both walks below (inlined in each)."""
    if zero_for_one:
        target = limit if limit > sp_tick else sp_tick          # max(sp_tick, limit)
    else:
        target = limit if limit < sp_tick else sp_tick          # min(sp_tick, limit)
    if not liq > 0:
        return target, False, 0.0, 0.0, 0.0, target
    gap = sp - target if zero_for_one else target - sp
    move = liq * (0.0 if 0.0 > gap else gap)                    # max(gap, 0.0)
    need = move / (sp * target) if zero_for_one else move
    gross = need / (1.0 - fee)
    if remaining < gross:
        net = remaining * (1.0 - fee)
        new = liq * sp / (liq + net * sp) if zero_for_one else sp + net / liq
        return target, True, net * sp * new if zero_for_one else net / (sp * new), net, remaining, new
    return target, False, move if zero_for_one else move / (sp * target), need, gross, target


def _swap_py(sp, tick, liq, ticks, nets, sp_ticks, fee, amount_in, zero_for_one, limit):
    """uniswap_v3.swap's loop. Returns (out, spent, fee_paid, crossed, sqrt price, tick, liquidity,
    error tick, error): `error` when liquidity goes negative past rounding (the caller raises)."""
    liq0 = liq
    remaining, spent, out, fee_paid, crossed = amount_in, 0.0, 0.0, 0.0, 0
    while remaining > 0:
        i, nxt, init, sp_tick = _next_tick(ticks, sp_ticks, tick, zero_for_one)
        target, inside, got, net, paid, new = _step(sp, sp_tick, limit, liq, fee, remaining, zero_for_one)
        if liq > 0:
            out += got
            fee_paid += paid - net
            spent += paid
            if inside:
                remaining, sp = 0.0, new
                tick = _tick_at(sp)
                break
            remaining -= paid
        sp = target
        if target != sp_tick:
            tick = _tick_at(sp)
            break
        if not init:
            tick = nxt - 1 if zero_for_one else nxt
            break
        liq += -nets[i] if zero_for_one else nets[i]
        if liq < 0:
            scale = liq0
            for x in nets:
                if abs(x) > scale:
                    scale = abs(x)
            if liq < -1e-9 * (scale if scale > 1.0 else 1.0):
                return out, spent, fee_paid, crossed, sp, tick, liq, nxt, True
            liq = 0.0
        crossed += 1
        tick = nxt - 1 if zero_for_one else nxt
    return out, spent, fee_paid, crossed, sp, tick, liq, 0, False


def _walk_amounts(sp, tick, liq, fee, ticks, first, n, tables, at, zero_for_one, limit):
    """_swap_py's (out, spent, broke?) for an unlimited input to the sqrt price `limit`, on a pool whose ticks are
    `ticks[first:first + n]` and whose nets then tick sqrt prices are `tables[at:at + 2n]` (meet_compiled's joined
    arrays, read at offsets: a slice counts references), without what only the end state needs (fee paid, ticks
    crossed, the tick it stops at); the next initialised tick by searchsorted's bisection once, then the index
    moved past the tick crossed. The bisection of arbitrage's meeting price asks it ~50 times a block."""
    liq0, remaining, spent, out = liq, math.inf, 0.0, 0.0
    lo, hi = 0, n
    while lo < hi:                                         # np.searchsorted(ticks, tick, side="right")
        mid = (lo + hi) // 2
        if ticks[first + mid] <= tick:
            lo = mid + 1
        else:
            hi = mid
    i = lo - 1 if zero_for_one else lo
    while remaining > 0:
        init = i >= 0 if zero_for_one else i < n
        if init:
            nxt, sp_tick = ticks[first + i], tables[at + n + i]
        else:
            nxt, sp_tick = (MIN_TICK, SP_MIN) if zero_for_one else (MAX_TICK, SP_MAX)
        target, inside, got, _, paid, _ = _step(sp, sp_tick, limit, liq, fee, remaining, zero_for_one)
        if liq > 0:
            out += got
            spent += paid
            if inside:
                break
            remaining -= paid
        sp = target
        if target != sp_tick or not init:
            break
        liq += -tables[at + i] if zero_for_one else tables[at + i]
        if liq < 0:
            scale = liq0
            for j in range(n):
                if abs(tables[at + j]) > scale:
                    scale = abs(tables[at + j])
            if liq < -1e-9 * (scale if scale > 1.0 else 1.0):
                return out, spent, True
            liq = 0.0
        if zero_for_one:                                   # searchsorted's answer for nxt - 1, then - 1
            i -= 1
            while i >= 0 and ticks[first + i] > nxt - 1:
                i -= 1
        else:                                              # and for nxt
            i += 1
            while i < n and ticks[first + i] <= nxt:
                i += 1
    return out, spent, False


def _exact_output_py(sp, tick, liq, ticks, nets, sp_ticks, fee, amount_out, zero_for_one):
    """exact_output's loop. Returns (delivered?, sqrt price, input paid)."""
    keep = 1.0 - fee
    remaining, paid = amount_out, 0.0
    if remaining <= 0:
        return True, sp, 0.0
    slack = 1e-9 * remaining
    while True:
        i, nxt, init, sp_tick = _next_tick(ticks, sp_ticks, tick, zero_for_one)
        if liq > 0:
            if zero_for_one:
                gap = sp - sp_tick
                avail = liq * (0.0 if 0.0 > gap else gap)
                if remaining <= avail:
                    new = sp - remaining / liq
                    return True, new, paid + remaining / (sp * new) / keep
                paid += avail / (sp * sp_tick) / keep
            else:
                gap = sp_tick - sp
                avail = liq * (0.0 if 0.0 > gap else gap) / (sp * sp_tick)
                if remaining <= avail:
                    new = 1.0 / (1.0 / sp - remaining / liq)
                    return True, new, paid + remaining * sp * new / keep
                paid += liq * (0.0 if 0.0 > gap else gap) / keep
            remaining -= avail
        if not init:
            return remaining <= slack, sp_tick, paid
        grown = liq + (-nets[i] if zero_for_one else nets[i])
        liq = 0.0 if 0.0 > grown else grown
        sp, tick = sp_tick, (nxt - 1 if zero_for_one else nxt)


try:
    import numba
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    _inline = numba.njit(cache=True, nogil=True, inline="always")     # compiled in its caller, with its flags
    _next_tick, _tick_at, _step = _jit(_next_tick), _jit(_tick_at), _inline(_step)
    swap_walk, exact_output_walk = _jit(_swap_py), _jit(_exact_output_py)
    walk_amounts = _inline(_walk_amounts)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    swap_walk = exact_output_walk = walk_amounts = None
