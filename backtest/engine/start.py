"""What a replay run starts from, built once for both loops (replay.py, reference.py).

The two loops must give byte-identical records, so everything they share before the first step
(the book state, protocol groups, the oracles, the agents' gas and profit bars, the recorder,
Comet and Maker) is built here, in one place; each loop keeps its own step and round
structure. The venues are passed in: each loop builds them through its `initial_venues` hook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from backtest.agents.competition import BlockGas, Field, gas_limit_at
from backtest.agents.round import Round
from backtest.config import RunConfig
from backtest.errors import InputError
from backtest.inputs.book import ReplayInputs
from backtest.inputs.kept import per_book
from backtest.engine.mechanisms import Mechanisms
from backtest.engine.record import Recorder
from backtest.engine.state import BookState
from backtest.protocols.rules import Params, rules_for
from backtest.markets.carried import CarriedFlow
from backtest.markets.oracles import Oracles, oracles_for
from backtest.markets.reference import ReferenceMarket
from backtest.markets.router import Router


@dataclass(frozen=True)
class Start:
    """One run's book state and run-wide objects. `state`, `venues`, `oracles`, `rec`, `mech` and
    `schedule` change as the run goes; the rest does not."""
    state: BookState              # collateral and debt (a copy the run liquidates), per-row rules and floors
    lt: np.ndarray                # [R] at the snapshot; the schedule may change it
    params: Params
    groups: list                  # [(rules, member rows, reserve columns)] of each repaying protocol
    group_of: np.ndarray          # [N] index into groups, -1 for Comet/Maker rows
    schedule: list                # [(block, {param: [R]})] not yet in force, consumed by `due_parameters`
    venues: Router
    oracles: Oracles
    dt: float                     # seconds per step, a Python float (numpy's quotient of the times, the same double):
                                  # every block's time and what the protocols derive from it (auction ages, waits,
                                  # oracle round times) is then plain float arithmetic, several times cheaper
    block: float                  # seconds per block: one cascade round
    blocks: int                   # blocks (rounds at most) per step
    gas_asset_usd: np.ndarray     # [T] USD price of the gas asset on the path, in the era's money
    agents: tuple
    field: Field                  # the agents, the builder's share, the gas left in the block (`open` per block)
    gas_asset: int | None         # price asset gas is paid in
    cheapest_gas: float           # fewest gas units any agent spends on a liquidation
    lowest_bar: float             # lowest min_profit_usd of any agent
    rec: Recorder
    mech: Mechanisms
    every_block: bool = False     # play every block of every step (the schedule the skipping is checked against)

    def due_parameters(self, block: int) -> tuple[np.ndarray, Params] | None:
        """(lt, params) of the last governance change due by `block`, taken off the schedule; None if
        none is due (the parameters in force stay)."""
        new = None
        while self.schedule and block >= self.schedule[0][0]:
            new = self.schedule.pop(0)[1]
        if new is None:
            return None
        return new["liquidation_threshold"], Params(new["liquidation_bonus"], new["protocol_fee"],
                                                    new["close_factor"])

    def waiting(self, now: float, since: np.ndarray) -> bool:
        """Whether an account below 1 since `since` still waits for some liquidator's latency: the step
        then plays its next block even when nobody acted in this one (always, with `every_block`)."""
        if self.every_block:
            return True
        longest = self.longest_latency
        return bool(longest > 0 and len(since) and ((now - since) / self.block < longest).any())

    @cached_property
    def longest_latency(self) -> float:
        """The longest latency (blocks) of any agent: `waiting` asks it every round."""
        return max(a.latency_blocks for a in self.agents)

    def end_step(self, step: int, rnd: int, clock: float, lt, params: Params, gas_usd_per_unit: float,
                 arb_half_life_seconds: float) -> float:
        """After the step's last round (block `rnd`, at `clock`): the oracles' history records the
        reference, the auctions trade on at their own clocks (`keep_trading`), and if they did, the
        history records it again. Returns the time of the step's last block."""
        self.oracles.observe(clock, self.venues.price)
        later = self.keep_trading(step, rnd, clock, lt, params, gas_usd_per_unit, arb_half_life_seconds)
        if later > clock:                                   # auctions traded later in the step
            self.oracles.observe(later, self.venues.price)
        return later

    def keep_trading(self, step: int, rnd: int, clock: float, lt, params: Params, gas_usd_per_unit: float,
                     arb_half_life_seconds: float) -> float:
        """After the step's last round (block `rnd`, at `clock`): the later blocks of the step at which a
        protocol's own clock changes what a keeper can do (`mech.wake`: an auction's next price cut, a ttl,
        a keeper's latency), each with the protocols' trades only (take, redo, buyCollateral, bids), and
        the block after any that traded. A keeper takes an auction the block its price pays, not at the
        next step; the accounts are judged again at the next step, as after any step's last round.
        Returns the time of the last block played. `wake` is told the clock as the Python float it is (a
        stairstep ilk's `step` of 0, which would divide by zero in Maker.wake, is refused with its parameters)."""
        traded = 0
        while True:
            k = rnd + 1 if traded else self._block_at(step, rnd, self.mech.wake(clock, self.block))
            if k >= self.blocks:
                return clock
            r = self.open_block(step, k, clock, lt, params, gas_usd_per_unit, arb_half_life_seconds)
            clock, rnd = r.now, k
            traded = self.mech.trade(r)

    def _block_at(self, step: int, rnd: int, t: float) -> int:
        """The first block after `rnd` of `step` whose time (open_block's `now`) is at or after `t`."""
        start = step * self.dt
        if not t < start + self.blocks * self.block:
            return self.blocks
        k = max(rnd + 1, math.ceil((t - start) / self.block))
        while k < self.blocks and start + k * self.block < t:
            k += 1
        return k

    def open_block(self, step: int, rnd: int, clock: float, lt, params: Params, gas_usd_per_unit: float,
                   arb_half_life_seconds: float) -> Round:
        """Block `rnd` of `step`, the last block having been at `clock`: arbitrage over the time between,
        the block's gas limit, the oracles' update; the Round every protocol then acts on."""
        now = self.rec.now = step * self.dt + rnd * self.block
        self.venues.arbitrage(now - clock, arb_half_life_seconds)
        self.field.gas.open(step)
        price = self.oracles.update(now, self.venues.price)     # per reserve column: its protocol's feed
        return Round(step, now, rnd, price, lt, params, gas_usd_per_unit, self.block)

    def gas_per_unit(self, gas_gwei: float, step: int) -> float:
        """USD per gas unit at this gas price and the path's own price of the gas asset at this step
        (a 2020 path pays 2020's ETH price for its gas, whatever book it is replayed on). A Python float (the
        same product): every bar, award and gas cost the protocols derive from it is then plain float arithmetic."""
        return float(gas_gwei) * 1e-9 * self.gas_asset_usd.item(step)


def start(inputs: ReplayInputs, config: RunConfig, venues: Router, bounds=None) -> Start:
    """The run's starting state; `venues` fresh at the path's first prices and `bounds` (the repaying rows'
    profit bound: replay.Bounds, a class made with the lowest bar, or reference.bounds) are the loop's hooks."""
    book = inputs.book
    row_rules, rule_of, groups, group_of = book_rules(book, bool(config.protocol))
    state = BookState(book.collateral.copy(), book.debt.copy(), row_rules, book.reserve_asset, rule_of)
    lt = book.liquidation_threshold
    dt = float((inputs.times[1] - inputs.times[0]) / np.timedelta64(1, "s")) if len(inputs.times) > 1 else 0.0
    agents = (config.liquidator, *config.competitors)
    gas_asset = book.price_assets.index(agents[0].gas_asset) if agents[0].gas_asset in book.price_assets else None
    rec = Recorder(inputs)
    if config.arbitrage not in ("pull", "meet"):
        raise InputError(f"--set arbitrage={config.arbitrage}: meet (the default) or pull")
    venues.meet = config.arbitrage == "meet"                  # backtest/markets/arb_meet.py
    venues.attach(ReferenceMarket.for_assets(book.price_assets, venues.price, config.impact, venues.feedback))
    if inputs.carried_flow is not None:         # feedback_mode "excess": the path holds the day's real flow
        venues.reference.carried = CarriedFlow(inputs.carried_flow)
    era = inputs.era_prices if inputs.era_prices is not None else inputs.exogenous
    gas_usd = era[:, gas_asset] if gas_asset is not None else np.zeros(len(inputs.times))
    blocks = max(1, int(round(dt / config.block_seconds))) if dt > 0 else 1
    limits = gas_limit_at(inputs.times) if not config.competition.block_gas_limit else \
        np.full(len(inputs.times), float(config.competition.block_gas_limit))
    field = Field(agents, config.competition.builder_share, BlockGas(limits))
    cheapest = min(a.gas_units for a in agents)
    lowest_bar = min(a.min_profit_usd for a in agents)
    if isinstance(bounds, type):            # replay.Bounds: one run's memo, told the bar its answer is held to
        bounds = bounds(lowest_bar)

    def bound(rows, hf, r):
        return bounds(rows, hf, state, r, venues, groups, group_of, r.gas_usd_per_unit * cheapest)
    return Start(state=state, lt=lt,
                 params=Params(book.liquidation_bonus, book.protocol_fee, book.close_factor), groups=groups,
                 group_of=group_of, schedule=list(book.schedule), venues=venues,
                 oracles=oracles_for(inputs, config), dt=dt,
                 block=float(config.block_seconds), blocks=blocks, gas_asset_usd=gas_usd, agents=agents,
                 field=field, gas_asset=gas_asset, cheapest_gas=cheapest,
                 lowest_bar=lowest_bar, rec=rec,
                 mech=Mechanisms(inputs, config, state, venues, rec, field, bound if bounds else None,
                                 lowest_bar), every_block=config.every_block)


def book_rules(book, whole: bool) -> tuple:
    """`_book_rules`, kept while the book lives (inputs/kept.py): only the book determines them, and a sweep's
    paths share one book (sweep/inputs.py). The run reads them, never changes them (it plays on copies of the
    balances)."""
    return per_book(book, ("engine.book_rules", whole), lambda _: _book_rules(book, whole))


def _book_rules(book, whole: bool) -> tuple:
    """(each row's Rules, (the distinct Rules, each row's index), the repaying protocols' groups [(rules,
    member rows, reserve columns)], each row's group or -1); `whole`: --set protocol put every row under
    one protocol, whose group then reads every reserve column."""
    rules = {p: rules_for(p) for p in sorted(set(book.protocol))}
    row_rules, rule_of = _row_rules(book.protocol, rules)
    groups = [(rules[p], np.flatnonzero(np.array(book.protocol == p)), np.flatnonzero(
        np.array(book.reserve_protocol) == p) if not whole else np.arange(len(book.liquidation_threshold)))
        for p in rules if rules[p].kind == "repay"]                  # Comet and Maker: backtest/engine/mechanisms.py
    group_of = np.full(len(book.accounts), -1, dtype=np.int64)
    for g, (_, members, _) in enumerate(groups):
        group_of[members] = g
    return row_rules, rule_of, groups, group_of


def _row_rules(protocol: np.ndarray, rules: dict) -> tuple[list, tuple[list, np.ndarray]]:
    """(each row's Rules, (the distinct Rules, each row's index into them)), one vectorised comparison per
    protocol rather than a Python lookup per row."""
    names, protocol = list(rules), np.asarray(protocol, dtype=object)
    index = np.zeros(len(protocol), dtype=np.int64)
    for k, p in enumerate(names[1:], 1):
        index[protocol == p] = k
    table = np.empty(len(names), dtype=object)
    for k, p in enumerate(names):
        table[k] = rules[p]
    return table[index].tolist(), ([rules[p] for p in names], index)
