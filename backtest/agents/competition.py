"""Liquidators as they compete on chain: who takes a job, what it pays the block builder, and how
many liquidations one block holds.

A job (a liquidation, a Comet absorb or buyCollateral, a Maker bark, redo or take) goes to the ready
agent left with the most after gas and the flash-loan fee on its outlay above its own capital (`rank`).
When two or more agents could take it, they bid for inclusion (priority fees, coinbase transfers)
and the winner pays `builder_share` of its profit to the block builder; an agent alone pays nothing
beyond gas. Each block holds `limit` gas units: a liquidation that does not fit waits for the next.

Block gas limits of Ethereum mainnet by date (GAS_LIMITS): miners' votes until London, the elastic
limit (twice the 15M target) after it, validators' votes from 2025. Sources: MyCrypto, "The History
of Ethereum's Block Size & Block Gas Limit" (2021) to April 2021; EIP-1559 / London (5 Aug 2021,
block 12,965,000) for 30M; The Block (22 Jul 2025) for 36M in February 2025 and 45M at block
22,968,004; validators' move to 60M on 25 Nov 2025 (reported by The Block, Cointelegraph).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

GAS_LIMITS = (                          # (from this UTC day, gas units a block holds)
    ("2017-12-10", 8_000_000),          # the limit before (and since mid-2017 at 6.7M) is read as 8M
    ("2019-09-14", 10_000_000),         # Black Thursday (12 Mar 2020) runs at 10M
    ("2020-07-24", 12_500_000),
    ("2021-04-21", 15_000_000),
    ("2021-08-05", 30_000_000),         # London: 15M target, 30M limit (a block may use the limit)
    ("2025-02-05", 36_000_000),         # early February 2025, the day approximate
    ("2025-07-21", 45_000_000),
    ("2025-11-25", 60_000_000),
)


def gas_limit_at(times: np.ndarray) -> np.ndarray:
    """[T] the block gas limit in force at each step's UTC time (the first entry before 2017-12-10)."""
    days = np.array([np.datetime64(d, "us") for d, _ in GAS_LIMITS])
    limits = np.array([g for _, g in GAS_LIMITS], dtype=float)
    at = np.searchsorted(days, np.asarray(times, dtype="datetime64[us]"), side="right") - 1
    return limits[np.maximum(at, 0)]


class BlockGas:
    """Gas left in the block being played. The loops `open` each block; a job `fits` before it is
    done and is `spent` when it is."""

    def __init__(self, limits: np.ndarray):
        self.limits = np.asarray(limits, dtype=float)
        self.left = float(self.limits[0]) if len(self.limits) else 0.0

    def open(self, step: int) -> None:
        self.left = float(self.limits[step])

    def fits(self, units: float) -> bool:
        return units <= self.left

    def spend(self, units: float) -> None:
        self.left -= units


def rank(agents, gross_usd: float, outlay_usd: float, waited_blocks: float, gas_usd_per_unit: float,
         gas_units: float | None = None, extra_gas_units: float = 0.0):
    """((agent, gas USD, profit, flash fee USD, gas units) of the winner or None, how many agents would
    take the job): among those whose latency has passed, the one left with the most after gas
    (`gas_units`, else its own, plus `extra_gas_units`) and the flash-loan fee on `outlay_usd` above its
    capital, if that clears its threshold. An exact tie goes to the lower gas_units, else the first listed."""
    best, rivals = None, 0
    for agent in agents:
        if waited_blocks < agent.latency_blocks:
            continue
        units = (agent.gas_units if gas_units is None else gas_units) + extra_gas_units
        gas = gas_usd_per_unit * units
        capital = agent.capital_usd
        if capital > 0:
            borrowed = outlay_usd - capital
            fee = (borrowed if not 0.0 > borrowed else 0.0) * agent.flash_loan_fee     # max(borrowed, 0.0)
        else:
            fee = 0.0 * agent.flash_loan_fee
        profit = gross_usd - gas - fee
        if not profit >= agent.min_profit_usd:
            continue
        rivals += 1
        if best is None or profit > best[2] or (profit == best[2] and agent.gas_units < best[0].gas_units):
            best = (agent, gas, profit, fee, units)
    return best, rivals


def _rank_ready(ready: tuple, gross_usd: float, outlay_usd: float):
    """`rank` over Field._ready's rows: the same arithmetic in the same order, the same winner and count."""
    best, rivals = None, 0
    for agent, units, gas, capital, rate, floor, own in ready:
        if capital > 0:
            borrowed = outlay_usd - capital
            fee = (borrowed if not 0.0 > borrowed else 0.0) * rate     # max(borrowed, 0.0)
        else:
            fee = 0.0 * rate
        profit = gross_usd - gas - fee
        if not profit >= floor:
            continue
        rivals += 1
        if best is None or profit > best[2] or (profit == best[2] and own < best[0].gas_units):
            best = (agent, gas, profit, fee, units)
    return best, rivals


_made = tuple.__new__


class Award(NamedTuple):       # a NamedTuple: one per liquidation, cheaper to build than a frozen dataclass
    """Who takes a job and what it pays (USD): gas and the flash-loan fee; `share` of the profit the
    trades realise goes to the builder (0 when no other agent wanted the job)."""
    agent: object
    gas_usd: float
    gas_units: float
    flash_fee_usd: float
    share: float

    @property
    def name(self) -> str:
        return self.agent.name

    def builder_usd(self, proceeds_usd: float, cost_usd: float) -> float:
        """The builder's payment out of the realised profit (none out of a loss)."""
        profit = proceeds_usd - cost_usd - self.gas_usd - self.flash_fee_usd
        return self.share * profit if profit > 0 else 0.0


@dataclass
class Field:
    """The run's liquidators, the builder's share of a contested job's profit, and the block's gas."""
    agents: tuple
    builder_share: float
    gas: BlockGas

    def bar(self, waited_blocks: float, gas_usd_per_unit: float) -> float:
        """The least gross USD (before the agents' own gas, `gas_units` None in `award`) a job must
        have for `award` to give it to anyone: `lean_bar`'s bar if the leanest ready agent's gas fits in
        the block, else +inf (award gives nothing whatever the job pays)."""
        units, need, _ = self.ready_at(waited_blocks, gas_usd_per_unit)
        return need if units <= self.gas.left else math.inf       # self.gas.fits(units)

    def lean_bar(self, waited_blocks: float, gas_usd_per_unit: float) -> tuple[float, float]:
        """(the leanest ready agent's gas units, +inf if none is ready; the cheapest (threshold + gas) of
        the ready agents, as profit = gross - gas - flash fee with a fee >= 0 cannot clear a threshold
        otherwise, -inf when a flash-loan fee is not >= 0): `ready_at`'s, kept as it keeps them."""
        units, need, _ = self.ready_at(waited_blocks, gas_usd_per_unit)
        return units, need

    def lean_bars(self, waited: np.ndarray, gas_usd_per_unit: float) -> tuple[np.ndarray, np.ndarray]:
        """`lean_bar` of every wait in `waited`, as two arrays (gas units, bar). Which agents are ready
        depends only on how many of the sorted latencies a wait has reached (a NaN wait: all of them, as
        `not waited < latency` reads it), so lean_bar is asked once per such count, of the latency
        that opens it (or -inf: none), not once per row or per distinct wait."""
        waited = np.asarray(waited, dtype=float)
        memo = self.__dict__.get("_levels")
        if memo is None or memo[0] is not self.agents:
            latency = np.unique(np.array([a.latency_blocks for a in self.agents], dtype=float))
            memo = self._levels = (self.agents, latency, [-math.inf, *latency.tolist()], {})
        _, latency, opens, tables = memo
        if np.isnan(latency).any():                     # a NaN latency is always passed: ask per wait
            bars = np.array([self.lean_bar(w, gas_usd_per_unit) for w in waited.tolist()], dtype=float)
            return bars.reshape(-1, 2)[:, 0], bars.reshape(-1, 2)[:, 1]
        table = tables.get(gas_usd_per_unit)
        if table is None:
            if len(tables) > 64:
                tables.clear()
            table = tables[gas_usd_per_unit] = np.array([self.lean_bar(w, gas_usd_per_unit) for w in opens],
                                                        dtype=float)
        level = np.searchsorted(latency, waited, side="right")     # NaN sorts last: every latency reached
        return table[level, 0], table[level, 1]

    def _bar(self, waited_blocks: float, gas_usd_per_unit: float) -> tuple[float, float]:
        ready = [a for a in self.agents if not waited_blocks < a.latency_blocks]
        if not ready:
            return math.inf, math.inf
        need = math.inf
        for a in ready:
            if not a.flash_loan_fee >= 0:
                need = -math.inf
                break
            need = min(need, a.min_profit_usd + gas_usd_per_unit * a.gas_units)
        return float(min(a.gas_units for a in ready)), need

    def _level(self, waited_blocks: float) -> tuple:
        """(how many of the agents' sorted distinct latencies `waited_blocks` has reached, the least wait that
        reaches as many: that latency, or -inf for none). Which agents are ready (`not waited < latency`) depends
        on the wait through that count only (a NaN wait reaches all, as bisect reads it); with a NaN latency
        (always passed) the wait itself, twice."""
        memo = self.__dict__.get("_sorted")
        if memo is None or memo[0] is not self.agents:
            latency = np.unique(np.array([a.latency_blocks for a in self.agents], dtype=float))
            memo = self._sorted = (self.agents, latency.tolist(), bool(np.isnan(latency).any()))
        _, latency, nan = memo
        if nan:
            return waited_blocks, waited_blocks
        level = bisect.bisect_right(latency, waited_blocks)
        return level, latency[level - 1] if level else -math.inf

    def _ready(self, waited_blocks: float, gas_usd_per_unit: float, gas_units: float | None,
               extra_gas_units: float) -> tuple:
        """`rank`'s per-agent numbers that do not depend on the job, for the agents ready after `waited_blocks`,
        in order: (agent, units, gas USD, capital, flash-loan fee rate, threshold, own gas units). Kept per
        (`_level` of the wait, gas price, gas units, extra) for these agents: a round asks a handful."""
        level, opens = self._level(waited_blocks)
        memo = self.__dict__.get("_readies")
        if memo is None or memo[0] is not self.agents:
            memo = self._readies = (self.agents, {})
        key = (level, gas_usd_per_unit, gas_units, extra_gas_units)
        got = memo[1].get(key)
        if got is None:
            if len(memo[1]) > 4096:
                memo[1].clear()
            got = []
            for agent in self.agents:
                if opens < agent.latency_blocks:
                    continue
                units = (agent.gas_units if gas_units is None else gas_units) + extra_gas_units
                got.append((agent, units, gas_usd_per_unit * units, agent.capital_usd, agent.flash_loan_fee,
                            agent.min_profit_usd, agent.gas_units))
            got = memo[1][key] = tuple(got)
        return got

    def ready_at(self, waited_blocks: float, gas_usd_per_unit: float) -> tuple:
        """(`lean_bar`'s two numbers, `_ready`'s rows at the agents' own gas) after `waited_blocks` at this gas
        price: what a liquidation asks of `bar` and `award` (`award_among`), in one look. Both depend on the wait
        only through the agents it has made ready, so they are kept per (`_level` of the wait, gas price)."""
        level, opens = self._level(waited_blocks)
        memo = self.__dict__.get("_at")
        if memo is None or memo[0] is not self.agents:
            memo = self._at = (self.agents, {})
        tables = memo[1]
        key = (level, gas_usd_per_unit)
        got = tables.get(key)
        if got is None:
            if len(tables) > 4096:
                tables.clear()
            got = tables[key] = (*self._bar(opens, gas_usd_per_unit), self._ready(opens, gas_usd_per_unit, None, 0.0))
        return got

    def award(self, gross_usd: float, outlay_usd: float, waited_blocks: float, gas_usd_per_unit: float,
              gas_units: float | None = None, extra_gas_units: float = 0.0) -> Award | None:
        """`rank`'s choice if its gas fits in the block, with the flash fee and, when
        another ready agent would also have taken the job, the builder's share."""
        return self.award_among(self._ready(waited_blocks, gas_usd_per_unit, gas_units, extra_gas_units),
                                gross_usd, outlay_usd)

    def award_among(self, ready: tuple, gross_usd: float, outlay_usd: float) -> Award | None:
        """`award` of a job among `ready` (`_ready`'s rows, or `ready_at`'s)."""
        best, rivals = _rank_ready(ready, gross_usd, outlay_usd)
        if best is None or not best[4] <= self.gas.left:       # self.gas.fits(best[4])
            return None
        agent, gas, _, fee, units = best      # an Award without its generated __new__'s Python frame (~0.08 us)
        return _made(Award, (agent, gas, units, fee, self.builder_share if rivals > 1 else 0.0))
