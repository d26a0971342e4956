"""Uniswap v3 concentrated liquidity as float64: a swap that walks the initialised ticks.

Selling into a v3 pool is not x*y=k: liquidity L is constant only between two initialised
ticks, and changes by each tick's liquidity_net when the price crosses it. Inside a range the
pool behaves like a constant-product pool on virtual reserves (x = L/sqrtP, y = L*sqrtP), so
each step uses the SqrtPriceMath formulas in float:
  token0 in:  1/sqrtP' = 1/sqrtP + dx/L,  dy_out = L (sqrtP - sqrtP') = dx sqrtP sqrtP'
  token1 in:  sqrtP'  = sqrtP + dy/L,     dx_out = L (1/sqrtP - 1/sqrtP') = dy / (sqrtP sqrtP')
and the fee is taken from the input of every step (SwapMath.computeSwapStep).

Amounts and prices are in raw token units (the pool's own: wei, not whole tokens), because
liquidity is; `price()` converts with the decimals. The exact integer reference is
backtest/markets/uniswap_v3_math.py. Sources: Uniswap/v3-core contracts/UniswapV3Pool.sol
(swap loop, tick crossing), contracts/libraries/SqrtPriceMath.sol, SwapMath.sol, TickMath.sol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import numpy as np

from backtest.errors import InputError

MIN_TICK, MAX_TICK = -887272, 887272
_LOG_TICK = math.log(1.0001)


@dataclass(frozen=True)
class PoolState:
    sqrt_price: float              # sqrt(token1 raw per token0 raw) = sqrt_price_x96 / 2**96
    tick: int
    liquidity: float               # active liquidity L
    ticks: np.ndarray              # sorted initialised ticks
    liquidity_net: np.ndarray      # per tick: L added when crossed upwards
    fee: float                     # 0.0005 for the 5 bps tier

    def moved(self, sqrt_price: float, tick: int, liquidity: float) -> PoolState:
        """replace(self, sqrt_price=, tick=, liquidity=): a trade's new state (the pool keeps its ticks and fee), built
        without the frozen __init__'s six object.__setattr__ calls (~0.4 us less; the same fields, in order)."""
        new = _new(PoolState)
        d = new.__dict__
        d["sqrt_price"], d["tick"], d["liquidity"] = sqrt_price, tick, liquidity
        d["ticks"], d["liquidity_net"], d["fee"] = self.ticks, self.liquidity_net, self.fee
        return new


_new = object.__new__


class SwapResult(NamedTuple):
    amount_out: float
    amount_in_used: float          # < amount_in when the price limit or the last tick stops the swap
    fee_paid: float
    ticks_crossed: int
    state: PoolState


def sqrt_price_at_tick(tick) -> np.ndarray:
    return np.exp(np.asarray(tick, dtype=float) * (_LOG_TICK / 2.0))


def tick_at_sqrt_price(sqrt_price: float) -> int:
    return int(math.floor(2.0 * math.log(sqrt_price) / _LOG_TICK + 1e-9))


def price(state: PoolState, decimals0: int, decimals1: int) -> float:
    """Whole token1 per whole token0."""
    return state.sqrt_price ** 2 * 10.0 ** (decimals0 - decimals1)


def _integer(value, column: str) -> int:
    """On-chain integers arrive as decimal text (uint160/uint128/int128 overflow int64)."""
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        raise InputError(f"not an integer: {value!r}", column=column) from None


def make_state(sqrt_price_x96, tick, liquidity, ticks, liquidity_net, fee) -> PoolState:
    """Build a state from on-chain numbers (decimal strings or ints), validating the tick table."""
    ticks = np.asarray(ticks, dtype=np.int64)
    net = np.array([float(_integer(x, "liquidity_net")) for x in liquidity_net], dtype=float)
    order = np.argsort(ticks, kind="stable")
    ticks, net = ticks[order], net[order]
    if len(ticks) != len(net):
        raise InputError("ticks and liquidity_net differ in length", column="liquidity_net")
    if len(ticks) and np.any(np.diff(ticks) == 0):
        raise InputError(f"duplicate initialised tick {int(ticks[np.flatnonzero(np.diff(ticks) == 0)[0]])}",
                         column="tick")
    if len(ticks) and (ticks[0] < MIN_TICK or ticks[-1] > MAX_TICK):
        raise InputError("tick outside [-887272, 887272]", column="tick")
    sp = _integer(sqrt_price_x96, "sqrt_price_x96") / 2.0**96
    if not sp > 0:
        raise InputError("sqrt_price_x96 must be positive", column="sqrt_price_x96")
    return PoolState(sp, int(tick), float(_integer(liquidity, "liquidity")), ticks, net, float(fee))


def state_from_lake(pools, pool_ticks, pool: str, block_number: int) -> PoolState:
    """The pool as of `block_number` from the `pools` and `pool_ticks` lake tables (DataFrames).

    Takes the latest `pools` row at or before the block and the latest tick snapshot at or
    before it (pool_ticks holds whole snapshots of the initialised ticks per block).
    """
    rows = pools[(pools["pool"] == pool) & (pools["block_number"] <= block_number)]
    if rows.empty:
        raise InputError(f"no state for pool {pool} at or before block {block_number}", column="pool")
    row = rows.sort_values("block_number").iloc[-1]
    snap = pool_ticks[(pool_ticks["pool"] == pool) & (pool_ticks["block_number"] <= block_number)]
    if not snap.empty:
        snap = snap[snap["block_number"] == snap["block_number"].max()]
    for col in ("sqrt_price_x96", "tick", "liquidity"):
        if row.get(col) is None or (isinstance(row[col], float) and math.isnan(row[col])):
            raise InputError(f"pool {pool} has no {col} (not a v3 pool?)", column=col)
    return make_state(row["sqrt_price_x96"], row["tick"], row["liquidity"], snap["tick"].to_numpy(),
                      snap["liquidity_net"].tolist(), row["fee"])


def next_tick(ticks: np.ndarray, tick: int, zero_for_one: bool) -> tuple[int, int, bool]:
    """(index, tick, initialised) of the next tick a walk from `tick` meets: the last initialised tick at or
    below it going down (zero_for_one), the first above it going up; MIN_TICK / MAX_TICK (index out of the
    table, not initialised) past either end."""
    if zero_for_one:
        i = int(np.searchsorted(ticks, tick, side="right")) - 1
        return (i, int(ticks[i]), True) if i >= 0 else (i, MIN_TICK, False)
    i = int(np.searchsorted(ticks, tick, side="right"))
    return (i, int(ticks[i]), True) if i < len(ticks) else (i, MAX_TICK, False)


def swap(state: PoolState, amount_in: float, zero_for_one: bool,
         sqrt_price_limit: float | None = None) -> SwapResult:
    """Exact-input swap; token0 in when `zero_for_one`. `amount_in` may be inf with a limit."""
    if not amount_in >= 0:
        raise ValueError("amount_in must be >= 0")
    ticks, nets, fee = state.ticks, state.liquidity_net, state.fee
    sp, tick, liq = state.sqrt_price, state.tick, state.liquidity
    limit = sqrt_price_limit if sqrt_price_limit is not None else (0.0 if zero_for_one else math.inf)
    remaining, spent, out, fee_paid, crossed = float(amount_in), 0.0, 0.0, 0.0, 0
    scale = max(liq, float(np.abs(nets).max()) if len(nets) else 0.0, 1.0)
    while remaining > 0:
        i, nxt, init = next_tick(ticks, tick, zero_for_one)
        sp_tick = float(sqrt_price_at_tick(nxt))
        target = max(sp_tick, limit) if zero_for_one else min(sp_tick, limit)
        if liq > 0:
            # Written as L*|dsqrtP| (/ sqrtP sqrtP') to avoid 1/a - 1/b cancellation; max(.., 0)
            # because float rounding can put sp a hair past its own tick's price.
            move = liq * max(sp - target if zero_for_one else target - sp, 0.0)
            need = move / (sp * target) if zero_for_one else move
            gross = need / (1.0 - fee)
            if remaining < gross:                      # stops inside the range
                net = remaining * (1.0 - fee)
                new = liq * sp / (liq + net * sp) if zero_for_one else sp + net / liq
                out += net * sp * new if zero_for_one else net / (sp * new)
                fee_paid += remaining - net
                spent += remaining
                remaining, sp = 0.0, new
                tick = tick_at_sqrt_price(sp)
                break
            out += move if zero_for_one else move / (sp * target)
            fee_paid += gross - need
            spent += gross
            remaining -= gross
        sp = target
        if target != sp_tick:                          # price limit reached
            tick = tick_at_sqrt_price(sp)
            break
        if not init:                                   # no liquidity left in this direction
            tick = nxt - 1 if zero_for_one else nxt
            break
        liq += -nets[i] if zero_for_one else nets[i]
        if liq < 0:
            if liq < -1e-9 * scale:
                raise InputError(f"liquidity goes negative crossing tick {nxt}: incomplete tick table",
                                 column="liquidity_net")
            liq = 0.0
        crossed += 1
        tick = nxt - 1 if zero_for_one else nxt
    return SwapResult(out, spent, fee_paid, crossed, replace(state, sqrt_price=sp, tick=tick, liquidity=liq))


def swap_exact_in(state: PoolState, amount_in: float, zero_for_one: bool) -> tuple[float, PoolState]:
    """(amount_out, new_state): the engine's entry point."""
    res = swap(state, amount_in, zero_for_one)
    return res.amount_out, res.state
