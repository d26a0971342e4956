"""A profit-seeking liquidator, as on mainnet: for an account below HF 1 it prices every
(collateral, debt) pair and a few sizes against the pools as they are now, and acts on the
best one only if the profit after bonus, protocol fee, swap costs and gas clears its threshold.

Buying the debt asset and selling the seized collateral go through the same pools every
other liquidator uses, so each liquidation moves the prices the next one sees.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from backtest import compiled
from backtest.agents import screen as _screen
from backtest.agents.competition import rank
from backtest.agents.round import Round
from backtest.markets import quote_compiled
from backtest.markets.router import Router as Venues
from backtest.protocols.rules import Params, Rules, health_factor_at


class Plan(NamedTuple):       # a NamedTuple: built twice per liquidation, ~4x cheaper than a frozen dataclass
    debt_asset: int        # reserve indices
    collateral_asset: int
    repay: float           # debt units repaid
    taken: float           # collateral units leaving the account (liquidator's share + protocol fee)
    fee: float             # collateral units to the treasury
    cost_usd: float        # buying the debt asset
    proceeds_usd: float    # selling the liquidator's collateral
    gas_usd: float
    flash_fee_usd: float = 0.0   # on the repayment above the liquidator's capital
    builder_usd: float = 0.0     # paid to the block builder for a contested job (agents/competition.py)

    @property
    def profit_usd(self) -> float:
        return self.proceeds_usd - self.cost_usd - self.gas_usd - self.flash_fee_usd - self.builder_usd


def profit_upper_bound(coll: np.ndarray, debt: np.ndarray, repay_cap: np.ndarray, oracle: np.ndarray,
                       sell_price: np.ndarray, buy_price: np.ndarray, lt: np.ndarray, bonus: np.ndarray,
                       gas_usd: float) -> np.ndarray:
    """Best profit per account if collateral sold at `sell_price` (the best venue's mid) and the
    debt asset were bought at `buy_price` (the cheapest mid), with no fee, impact or protocol
    fee, repaying up to `repay_cap` (debt units the rules allow at most).

    Real fills are never better (a venue pays less than its mid price and charges more), so
    an account whose bound is below the liquidator's threshold needs no closer look.
    [K, R] rows in, [K] out. Computed by `_bound_rows` (numba, one pass per row) where
    installed; `profit_upper_bound_numpy` is the same arithmetic, bit for bit (tests/perf).
    """
    if len(coll) == 0:
        return np.zeros(0)
    if _bound_rows is None:
        return profit_upper_bound_numpy(coll, debt, repay_cap, oracle, sell_price, buy_price, lt, bonus, gas_usd)
    f = np.float64
    out = np.empty(len(coll))
    _bound_rows(np.asarray(coll, f), np.asarray(repay_cap, f), np.asarray(oracle, f), np.asarray(sell_price, f),
                np.asarray(buy_price, f), np.asarray(lt, f), np.asarray(bonus, f), float(gas_usd), out)
    return out


def profit_upper_bound_numpy(coll, debt, repay_cap, oracle, sell_price, buy_price, lt, bonus, gas_usd):
    if len(coll) == 0:
        return np.zeros(0)
    ratio = oracle[None, :, None] / oracle[None, None, :]               # debt d -> collateral c units
    wanted = repay_cap[:, :, None] * ratio * (1.0 + bonus)[None, None, :]   # [K, D, C]
    balance = np.where(lt > 0, coll, 0.0)[:, None, :]
    taken = np.minimum(wanted, balance)
    repaid = np.where(wanted > balance, taken / ratio / (1.0 + bonus)[None, None, :], repay_cap[:, :, None])
    profit = taken * sell_price[None, None, :] - repaid * buy_price[None, :, None]
    return profit.reshape(len(coll), -1).max(axis=1) - gas_usd


def _bound_rows_py(coll, cap, oracle, sell, buy, lt, bonus, gas, out):
    """profit_upper_bound_numpy's arithmetic in the same order, one row at a time, NaN as numpy
    propagates it (np.minimum, ndarray.max)."""
    r = len(oracle)
    ratio = np.empty((r, r))
    for d in range(r):
        for c in range(r):
            ratio[d, c] = oracle[d] / oracle[c]
    for k in range(len(coll)):
        best = -np.inf
        for d in range(r):
            for c in range(r):
                grow = 1.0 + bonus[c]
                wanted = cap[k, d] * ratio[d, c] * grow
                balance = coll[k, c] if lt[c] > 0 else 0.0
                taken = wanted if (wanted <= balance or wanted != wanted) else balance
                repaid = taken / ratio[d, c] / grow if wanted > balance else cap[k, d]
                profit = taken * sell[c] - repaid * buy[d]
                if profit != profit or best != best:
                    best = np.nan
                elif profit > best:
                    best = profit
        out[k] = best - gas


try:                                    # numba where installed; numpy (same bits) without
    import numba
    _bound_rows = numba.njit(cache=True, nogil=True, error_model="numpy")(_bound_rows_py)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _bound_rows = None


SLACK = 1e-9      # relative: covers float rounding between a quote and its linear ceiling


def best_plan(coll: np.ndarray, debt: np.ndarray, hf: float, price: np.ndarray, venues: Venues,
              reserve_asset: np.ndarray, lt: np.ndarray, params: Params, rules: Rules, gas_usd: float,
              sizes: tuple[float, ...], needed: float = -math.inf, built: tuple | None = None) -> Plan | None:
    """The most profitable liquidation of one account (its reserve rows), or None if it has none
    or if none can gross `needed` USD (the cheapest agent's gas plus threshold).

    `price` is the oracle price of each reserve; trades are priced at the venues of the
    reserves' assets as they are now. Each (debt, collateral, size) is first given a linear
    ceiling, amount x the best first-unit net price (`Router.sale_ceiling`, `purchase_floor`):
    fills are concave in the amount, so no quote beats it. Quotes are asked only for the tries
    whose ceiling can still win; the plan chosen is the one the full search over every try,
    in order, would choose (the first try with the highest gross). `built`: (try count, buffer) the
    round's pass (Prescreen.order) left for this very row, as the screen below would build them: a count
    >= 0 is that many tries in the buffer, -1 none built (a non-finite input: the Python search builds
    them), screen.NOT_SCREENED (-2) the pass did not screen the row (the screen below does).
    """
    # The compiled screen (agents/screen.py) answers "no plan can pay" and builds the tries (the same floats).
    n = -1
    if built is not None and built[0] != _screen.NOT_SCREENED:
        n, built = built        # its REJECT (no try, or none reaching `needed`) is redone below from the tries
    elif compiled.ON and (kind := _screen.KIND.get(rules.terms)) is not None:
        verdict, n, built = _screen.screen(kind, hf, coll, debt, price, reserve_asset, lt, params.bonus,
                                           params.protocol_fee, params.close_factor, *venues.ceilings()[:2],
                                           _sizes(sizes), float(debt @ price) if kind == 2 else 0.0, needed)
        if verdict == _screen.REJECT:
            return None
    if n < 0:
        tries, tops = _tries(coll, debt, hf, price, venues, reserve_asset, lt, params, rules, sizes)
    elif compiled.ON and (got := quote_compiled.best(venues, built, n, reserve_asset, needed)) is not None:
        verdict, cost, proceeds, d, c, repay, taken, fee = got     # the search below, its quotes in one compiled call
        return Plan(d, c, repay, taken, fee, cost, proceeds, gas_usd) if verdict == quote_compiled.PLAN else None
    else:       # the screen's rows (top, d, c, repay, taken, fee) as they are: _gross and _search read the last five
        tries = built[:n].tolist()
        tops = [t[0] for t in tries]
    if not tops:
        return None
    top = max(tops)
    if _any_nan(top, tops):                     # NaN somewhere: the plain search, in order
        return _search(tries, range(len(tops)), venues, reserve_asset, gas_usd)
    if top + SLACK * abs(needed) < needed:
        return None
    first = tops.index(top)
    got = _gross(tries[first], venues, reserve_asset)
    seen = got[0]
    if not seen == seen:
        return _search(tries, range(len(tops)), venues, reserve_asset, gas_usd)
    # A try whose ceiling is below a gross already seen can be neither the best nor its first.
    # The first try is always asked too: the search keeps it if its gross is NaN, as the full one does.
    keep = [k for k, t in enumerate(tops) if k == 0 or k == first or not t < seen]
    return _search(tries, keep, venues, reserve_asset, gas_usd, {first: got})


def _any_nan(top: float, tops: list) -> bool:
    """Whether any of `tops` is NaN (`top` is their max); their sum is NaN if one is, so the exact
    look is only taken then (or for +inf beside -inf)."""
    if not top == top:
        return True
    total = sum(tops)
    return not total == total and any(t != t for t in tops)


_SIZES: dict = {}


def _sizes(sizes: tuple) -> np.ndarray:
    out = _SIZES.get(sizes)
    return out if out is not None else _SIZES.setdefault(sizes, np.array(sizes, dtype=float))


def _tries(coll, debt, hf, price, venues: Venues, reserve_asset, lt, params: Params, rules: Rules, sizes):
    """Every (debt, collateral, size) try of best_plan, in order, and its linear ceiling."""
    owed, held, positive = debt.tolist(), coll.tolist(), lt.tolist()       # plain floats: ~10x cheaper here
    asset_of = reserve_asset.tolist()
    seizable = [c for c, x in enumerate(held) if x > 0 and positive[c] > 0]
    tries, tops = [], []
    if not seizable:
        return tries, tops
    terms = rules.terms
    floor, ceiling = venues.ceilings()[2:]
    for d, x in enumerate(owed):
        if not x > 0:
            continue
        low = floor[asset_of[d]]
        for c in seizable:
            high = ceiling[asset_of[c]]
            for size in sizes:
                repay, taken, fee = terms(hf, d, c, coll, debt, price, params, size)
                if not repay <= 0:                      # as the full search: a NaN repay is a try
                    repay, taken, fee = float(repay), float(taken), float(fee)
                    tries.append((d, c, repay, taken, fee))
                    sold = taken - fee
                    top_p, low_c = (sold if not sold < 0 else 0.0) * high, repay * low
                    tops.append(top_p - low_c + SLACK * (top_p + low_c))
    return tries, tops


def _gross(t, venues: Venues, reserve_asset) -> tuple[float, float, float]:
    """(gross, cost, proceeds) USD of a try: a (d, c, repay, taken, fee) of `_tries` or a screen row
    (top, d, c, repay, taken, fee), whose d and c are floats."""
    d, c, repay, taken, fee = t[-5:]
    cost = venues.buy_quote(int(reserve_asset[int(d)]), repay)
    proceeds = venues.sell_quote(int(reserve_asset[int(c)]), taken - fee)
    return proceeds - cost, cost, proceeds


def _search(tries, keep, venues: Venues, reserve_asset, gas_usd: float, known=None) -> Plan | None:
    """The original rule over the tries `keep` (in order): a later try wins only if strictly better."""
    if len(keep) == 1 and known and keep[0] in known:          # the usual case: one try can win
        k = keep[0]
        gross, cost, proceeds = known[k]
    else:
        k = None
        for j in keep:
            got = known[j] if known and j in known else _gross(tries[j], venues, reserve_asset)
            if k is None or got[0] > gross:
                k, (gross, cost, proceeds) = j, got
    d, c, repay, taken, fee = tries[k][-5:]
    return Plan(int(d), int(c), repay, taken, fee, cost, proceeds, gas_usd)


def best_agent(agents, gross_usd: float, outlay_usd: float, waited_blocks: float, gas_usd_per_unit: float,
               gas_units: float | None = None, extra_gas_units: float = 0.0):
    """The agent that does a job worth `gross_usd` before its own costs (agents/competition.py `rank`:
    latency passed, most left after gas and the flash-loan fee, threshold cleared; others do not
    duplicate the job). Returns (agent, gas USD, profit) or None. Block gas and builder payments are
    `Field.award`'s."""
    best, _ = rank(agents, gross_usd, outlay_usd, waited_blocks, gas_usd_per_unit, gas_units, extra_gas_units)
    return best[:3] if best else None


def execute(plan: Plan, i: int, book, venues: Venues) -> tuple[float, float]:
    """Apply a plan to the book (a backtest.engine.state.BookState) and the pools; returns the
    (cost, proceeds) actually realised."""
    d, c, repay, taken, fee = plan[:5]
    return _trade(i, d, c, repay, taken, fee, book, venues)


def _trade(i: int, d: int, c: int, repay: float, taken: float, fee: float, book, venues: Venues) -> tuple[float, float]:
    """`execute` of a plan given as its first five fields (liquidate has them unpacked)."""
    asset_of = book.asset_of
    cost = venues.buy(asset_of.item(d), repay)           # .item: the int, cheaper than int() of a numpy scalar
    proceeds = venues.sell(asset_of.item(c), taken - fee)
    book.repay(i, d, repay)
    book.seize(i, c, taken)
    return cost, proceeds


def _burned(book, i: int, c: int, price: np.ndarray) -> float:
    """book.burn_deficit(i, price) after collateral `c` of row `i` was seized: a cell left nonzero (NaN too) is what
    its first test (the row's .any(), ~15x the cost of one cell) would find, so nothing is burned then."""
    return book.burn_deficit(i, price) if book.coll.item(i, c) == 0.0 else 0.0


_made = tuple.__new__      # a NamedTuple of every field, without its generated __new__'s Python frame (~0.2 us less)


class Done(NamedTuple):
    plan: Plan
    liquidator: str
    cost_usd: float
    proceeds_usd: float
    health_factor_after: float
    deficit_usd: float     # debt burned (Aave v3.3+) when no collateral is left


def liquidate(i: int, hf: float, waited_blocks: float, book, r: Round, venues: Venues, field,
              built: tuple | None = None) -> Done | None:
    """One account below HF 1, start to end: the best plan, the liquidator that takes it (if any
    does and its gas fits in the block: `field`, agents/competition.py), the trades, and Aave v3.3's
    burning of a deficit. `book` is the run's backtest.engine.state.BookState (its only writer API);
    both replay loops call this. `built`: Prescreen.order's tries of this row, if it screened it."""
    gas_usd_per_unit = r.gas_usd_per_unit
    units, needed, ready = field.ready_at(waited_blocks, gas_usd_per_unit)     # field.bar's, and award's agents
    if needed == math.inf or not units <= field.gas.left:
        return None                   # no one may act yet, or the block is full: the next block
    price = r.price
    # tries the round's pass built (a count >= 0; NOT_SCREENED and -1 are best_plan's): its compiled branch, asked
    # here, with no Plan built for it, and its trades made as quoted (Router.make) with no route remembered
    got = quote_compiled.planned(venues, built[1], built[0], book.asset_of, needed) \
        if built is not None and built[0] >= 0 and compiled.ON else None
    if got is not None:
        got, kept = got
        if got[0] != quote_compiled.PLAN:
            return None
        _, cost_usd, proceeds_usd, d, c, repay, taken, fee = got[:8]
    else:
        plan = best_plan(book.coll[i], book.debt[i], hf, price, venues, book.asset_of, r.lt, r.params, book.rules[i],
                         0.0, field.agents[0].sizes, needed, built)
        if plan is None:
            return None
        d, c, repay, taken, fee, cost_usd, proceeds_usd, _, _, _ = plan
    award = field.award_among(ready, proceeds_usd - cost_usd, repay * price.item(d))     # field.award's
    if award is None:
        return None
    field.gas.spend(award.gas_units)
    if got is None:
        cost, proceeds = _trade(i, d, c, repay, taken, fee, book, venues)
    else:                               # _trade's trades, as `planned` quoted them
        cost, proceeds = venues.make(*got[8:], kept)
        book.repay(i, d, repay)
        book.seize(i, c, taken)
    plan = _made(Plan, (d, c, repay, taken, fee, cost_usd, proceeds_usd, award.gas_usd, award.flash_fee_usd,
                        award.builder_usd(proceeds, cost)))
    deficit = _burned(book, i, c, price) if book.rules[i].burns_deficit else 0.0     # Aave v3.3: DeficitCreated
    hf_after = health_factor_at(book.coll, book.debt, i, price, r.lt, book.floors.item(i))    # the row as traded
    return _made(Done, (plan, award.agent.name, cost, proceeds, hf_after, deficit))
