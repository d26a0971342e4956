"""The replay loop: per step the path moves; then per block (one cascade round each):
arbitrage -> oracles -> each protocol acts (Comet absorbs, Maker barks, liquidators repay, keepers
buy and take) -> and after the step's last block, record the step.

Within a step, round 0 (the step's first block) liquidates what the path's move made
liquidatable; the sales move the venues, the next block's arbitrage passes that flow on to the
reference market (backtest/markets/router.py, reference.py), the oracles read the reference, and
what *that* pushes below HF 1 is round 1, and so on: a cascade of 26 rounds takes 26 blocks. A
step has dt / block_seconds blocks; a cascade that needs more goes on in the next step. An account
keeps the round in which it first became liquidatable during the step.

Every balance change goes through the book state (backtest/engine/state.py), which marks the rows
it touched and hands them to the watchlist when the next round asks for candidates.

Safe accounts are never touched: a watchlist (backtest/engine/watchlist.py, docs/performance.md)
keeps accounts ordered by how far prices must move before they can be liquidated, so per step
the work is O(candidates + assets), not O(accounts x reserves). Only rows the watchlist cannot
rule out get an exact HF; the "liquidatable since" clock is kept for those rows only (every
other row has HF >= 1); the step's bad debt is summed over the same candidates (a row whose
debt is worth more than its collateral always is one: LT <= 1).

A candidate row's HF is kept between rounds while its balances and the prices of its nonzero
columns stand (RowHealth): ~70 % of the sample's candidates in a round are rows already under
water whose positions did not move, and the HF pass over candidates went from 2.5 to 1.2 CPU s
over the main job's 3 replays (same bits, tests/perf/test_row_kernels.py).

backtest/engine/reference.py is the same loop over the whole book, kept as the correctness
oracle: tests/perf hold the two byte-identical, and `backtest bench` times one against the other.
Both start from backtest/engine/start.py, so only their steps and rounds differ.
"""

from __future__ import annotations

import numpy as np

from backtest import compiled
from backtest.agents.liquidator import profit_upper_bound
from backtest.agents.round import Round
from backtest.agents.screen import group_bounds, group_layout
from backtest.config import RunConfig
from backtest.inputs.book import ReplayInputs
from backtest.engine.record import Outcome
from backtest.protocols.rules import health_factor
from backtest.engine.start import start
from backtest.engine.state import BookState
from backtest.markets.router import Router
from backtest.progress import progress


def initial_venues(inputs: ReplayInputs, feedback: bool) -> Router:
    """A fresh copy of the venues for one run, at the path's first prices."""
    return inputs.pools.fresh(inputs.exogenous[0], feedback)


def bounds(below, hf_below, state: BookState, r: Round, venues: Router, groups, group_of, gas_usd) -> np.ndarray:
    """reference.bounds for the rows `below` only: group membership by a per-row index, not np.isin
    over every member (O(N) per round); prices net of venue fees (Router.quote_range), a tighter
    bound that still no fill beats, so fewer hopeless rows reach `liquidate`."""
    coll, debt, price, lt, params = state.coll, state.debt, r.price, r.lt, r.params
    low, high = venues.quote_range()
    buy, sell = low[state.asset_of], high[state.asset_of]
    layout = _layout(groups)
    if layout is not None and len(below) and (group_of[below] >= 0).all():     # compiled: no gathers
        out = np.empty(len(below))
        group_bounds(coll, debt, below, np.asarray(hf_below, dtype=float), group_of, *layout, params.close_factor,
                     price, sell, buy, lt, params.bonus, float(gas_usd), out)
        return out
    if len(groups) == 1 and len(groups[0][2]) == coll.shape[1]:       # one protocol, every reserve: no masks
        rules, _, cols = groups[0]
        d = debt[below][:, cols]
        cap = rules.max_close(hf_below, params.close_factor[cols]) * d
        return profit_upper_bound(coll[below][:, cols], d, cap, price[cols], sell[cols], buy[cols], lt[cols],
                                  params.bonus[cols], gas_usd)
    out = np.empty(len(below))
    for g, (rules, _, cols) in enumerate(groups):
        mask = group_of[below] == g
        rows = below[mask]
        cap = rules.max_close(hf_below[mask], params.close_factor[cols]) * debt[np.ix_(rows, cols)]
        out[mask] = profit_upper_bound(coll[np.ix_(rows, cols)], debt[np.ix_(rows, cols)], cap, price[cols],
                                       sell[cols], buy[cols], lt[cols], params.bonus[cols], gas_usd)
    return out


_LAYOUT: list = [None, None]


def _layout(groups):
    """screen.group_layout of the run's groups, kept while the same list is passed; None on the Python
    path (backtest.compiled.ON off)."""
    if group_bounds is None or not compiled.ON:
        return None
    if _LAYOUT[0] is not groups:
        _LAYOUT[:] = [groups, group_layout(groups)]
    return _LAYOUT[1]


def rows_health_factor(coll, debt, rows: np.ndarray, price, lt, floors) -> np.ndarray:
    """rules.health_factor of `rows`, bit for bit what the whole-book call gives those rows.

    BLAS matrix-vector products are not row-invariant: OpenBLAS's dgemv_t kernel takes rows
    four at a time and the last N mod 4 rows one by one, with another order of additions, so
    a row's Σ value*LT can differ in the last bit between a 5-row and a 3,000-row call. Rows
    that sit in whole blocks of four in the book are computed here padded to a multiple of
    four; rows in the book's ragged tail are computed as a tail too.
    """
    if len(rows) == 0:
        return np.zeros(0)
    tail = len(coll) - len(coll) % 4
    out = np.empty(len(rows))
    for sel in (rows < tail, rows >= tail):
        part = rows[sel]
        if len(part) == 0:
            continue
        padded = np.concatenate([part, np.repeat(part[:1], -len(part) % 4)]) if part[0] < tail else part
        hf = health_factor(coll[padded] * price, debt[padded] * price, lt, floors[padded])
        out[sel] = hf[:len(part)]
    return out


def _stale(rows, tail, seen_epoch, seen_tick, changed_at, col_epoch, indptr, indices, width, out):
    """out[k]: row rows[k] needs a new HF (in the book's ragged tail, never computed, changed since,
    read whole, or a price of one of its nonzero columns moved since)."""
    for k in range(len(rows)):
        i = rows[k]
        e = seen_epoch[i]
        ok = i < tail and e >= 0 and changed_at[i] <= seen_tick[i] and width[i] >= 0
        if ok:
            for j in range(indptr[i], indptr[i] + width[i]):
                if col_epoch[indices[j]] > e:
                    ok = False
                    break
        out[k] = not ok


try:
    import numba
    _stale = numba.njit(cache=True, nogil=True)(_stale)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    pass


class RowHealth:
    """rows_health_factor with a memory: a row's HF is computed again only if its balances changed
    (the book's touched log, through the watchlist's Pattern) or the price of one of its nonzero
    columns moved. Same bits: a row's HF is a function of its own cells, the prices, the LT and its
    floor (the padded call makes it independent of the other rows), and a column it does not hold
    enters as 0 * price = +0.0 (-0.0 for a -0.0 cell) whatever the price, while the price stays
    finite and > 0. So a price moving to or from anything else, a new LT or a new Pattern (the
    watchlist rebuilt) forgets every row. On the sample ~70 % of the candidate rows of a round are
    reused.

    Rows in the book's ragged tail (the last N mod 4) are always computed again, as they were
    before this memory: their bits depend on which other tail rows share the call (one row alone
    goes through another BLAS kernel), so a kept value could differ from a fresh one."""

    def __init__(self, n: int):
        self.hf = np.empty(n)
        self.seen_epoch = np.full(n, -1, dtype=np.int64)     # price epoch of each row's HF, -1 none
        self.seen_tick = np.zeros(n, dtype=np.int64)          # pattern tick of it
        self.epoch = 0
        self.col_epoch = None
        self.key = (None, None, None)
        self.price = None

    def __call__(self, book: BookState, rows: np.ndarray, price: np.ndarray, lt: np.ndarray) -> np.ndarray:
        pattern = book.pattern()
        if pattern is None:
            return rows_health_factor(book.coll, book.debt, rows, price, lt, book.floors)
        self._prices(pattern, price, lt, book.floors)
        stale = np.empty(len(rows), dtype=bool)
        _stale(rows, len(book) - len(book) % 4, self.seen_epoch, self.seen_tick, pattern.changed_at, self.col_epoch, *pattern.args, stale)
        out = self.hf[rows]
        if stale.any():
            fresh = rows[stale]
            hf = rows_health_factor(book.coll, book.debt, fresh, price, lt, book.floors)
            out[stale] = hf
            self.hf[fresh] = hf
            self.seen_epoch[fresh] = self.epoch
            self.seen_tick[fresh] = pattern.tick
        return out

    def _prices(self, pattern, price: np.ndarray, lt: np.ndarray, floors: np.ndarray) -> None:
        """Stamp the columns whose price moved with a new epoch; forget every row if a moved price
        is not finite and > 0 (either side), or the pattern, LT or floors are not the last call's."""
        key = (pattern, lt.tobytes(), floors)
        if key[0] is not self.key[0] or key[1] != self.key[1] or key[2] is not self.key[2] \
                or self.price is None or len(price) != len(self.price):
            self._forget(key, len(price))
        else:
            moved = price.view(np.int64) != self.price.view(np.int64)
            if moved.any():
                old, new = self.price[moved], price[moved]
                if not (np.isfinite(old).all() and np.isfinite(new).all() and (old > 0).all() and (new > 0).all()):
                    self._forget(key, len(price))
                else:
                    self.epoch += 1
                    self.col_epoch[moved] = self.epoch
        self.price = np.array(price, dtype=float)

    def _forget(self, key, columns: int) -> None:
        self.key = key
        self.seen_epoch[:] = -1
        self.epoch += 1
        self.col_epoch = np.zeros(columns, dtype=np.int64)


def replay(inputs: ReplayInputs, config: RunConfig, feedback: bool | None = None, label: str | None = None) -> Outcome:
    """One run over the path (with feedback unless told otherwise); `label` shows a progress bar on a
    terminal."""
    s = start(inputs, config, initial_venues(inputs, config.feedback if feedback is None else feedback), bounds)
    book, venues, oracles, rec, mech = s.state, s.venues, s.oracles, s.rec, s.mech
    exo, lt, params = inputs.exogenous, s.lt, s.params
    since = np.full(len(book), np.nan)              # when each account last became liquidatable
    wet = np.zeros(0, dtype=np.int64)               # the rows whose `since` is set
    first_round = np.full(len(book), -1, dtype=np.int64)   # round each row first fell below 1, this step
    book.watch(lt, oracles.answer[oracles.feed_of])
    health = RowHealth(len(book))                   # candidate rows' HF, kept while their inputs stand
    last = (None, None)                             # (candidate rows, their HF) of the last round
    clock = 0.0                                     # time of the last block
    steps = range(len(inputs.times))
    for step in (progress(steps, label=label, unit="steps") if label else steps):
        if (due := s.due_parameters(inputs.step_blocks[step])) is not None:
            lt, params = due                    # governance changed parameters: in force from this step
            book.watch(lt, oracles.answer[oracles.feed_of])
        if step:
            venues.follow_path(exo[step - 1], exo[step])
        gas_per_unit = s.gas_per_unit(inputs.gas_gwei[step], step)
        seen: list[np.ndarray] = []                             # rows whose first_round is set this step
        for rnd in range(s.blocks):                             # one round per block
            r = s.open_block(step, rnd, clock, lt, params, gas_per_unit, config.arb_half_life_seconds)
            now = clock = r.now                                 # arbitrage, gas limit, oracles: done
            price = r.price
            rows = book.candidates(price)        # the watchlist, told which rows the last round changed
            if rows is not last[0]:              # the watchlist returns the same array while nothing moved
                last = (rows, health(book, rows, price, lt))
            hf_rows = last[1]
            under = hf_rows < 1.0
            below, hf_below = rows[under], hf_rows[under]
            started = since[below]
            since[wet] = np.nan                                      # back above 1 (or still below: reset next)
            since[below] = np.where(np.isnan(started), now, started)
            wet = below
            if len(below) == 0 and not mech.busy:
                break
            order = np.lexsort((below, hf_below))                   # worst first, then by account
            below, hf_below = below[order], hf_below[order]
            new = below[first_round[below] < 0]                     # first time below in this step
            first_round[new] = rnd
            seen.append(new)
            acted = mech.act(r, below, hf_below, first_round[below], (now - since[below]) / s.block)   # each protocol
            if not acted and not s.waiting(now, since[wet]):
                break
        for rows in seen:
            first_round[rows] = -1
        oracles.observe(clock, venues.price)
        prices = oracles.answer[oracles.feed_of]
        rows = book.candidates(prices)
        rec.step(step, venues, oracles, book.coll[rows], book.debt[rows], mech.loss(prices))   # bad debt: only candidates
    return rec.outcome(book.coll, book.debt, oracles, mech.summary(oracles.answer[oracles.feed_of]))
