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
water whose positions did not move; the rest are priced in one compiled pass (engine/health.py). The
round's profit bound (`bounds`, screen.group_bounds) and the watchlist's margins read each row's
packed nonzero cells (engine/pattern.py), not its columns across the book. Over the main job's 3
replays (CPU s, load ~2.8, 4b17d0e -> 1273c29): candidate HFs 2.22 -> 0.70, watchlist 2.88 -> 1.17,
bound 1.54 -> 0.83; same bits (tests/perf/test_row_kernels.py, sample outputs cmp). Both now read
those cells from the watchlist's copy of every candidate's slot (pattern.Copy, Watchlist.cells),
back to back rather than scattered over the book (1M x 10,080, load ~4-5: margins 1.35 -> 0.25,
bound ~1.3 -> ~0.7 CPU s). While the candidates stand (no row changed, no oracle moved) the loop
keeps their rows below 1, worst first, their since-clocks and first rounds (as arrays beside `below`,
not gathered from the book-sized arrays each round), and the step's bad debt over them (CandidateDebt).

backtest/engine/reference.py is the same loop over the whole book, kept as the correctness
oracle: tests/perf hold the two byte-identical, and `backtest bench` times one against the other.
Both start from backtest/engine/start.py, so only their steps and rounds differ.
"""

from __future__ import annotations

import numpy as np

from backtest import compiled
from backtest.agents.liquidator import profit_upper_bound
from backtest.agents.round import Round
from backtest.agents.screen import group_bounds, group_layout, spans_below
from backtest.config import RunConfig
from backtest.inputs.book import ReplayInputs
from backtest.engine.record import Outcome, bad_debt_usd
from backtest.engine.start import start
from backtest.engine.pattern import whole_rows
from backtest.engine.health import RowHealth
from backtest.engine.state import BookState
from backtest.engine.worst import WorstFirst
from backtest.markets.router import Router
from backtest.progress import progress


def initial_venues(inputs: ReplayInputs, feedback: bool) -> Router:
    """A fresh copy of the venues for one run, at the path's first prices."""
    return inputs.pools.fresh(inputs.exogenous[0], feedback)


def bounds(below, hf_below, state: BookState, r: Round, venues: Router, groups, group_of, gas_usd,
           spans: np.ndarray | None = None) -> np.ndarray:
    """reference.bounds for the rows `below` only: group membership by a per-row index, not np.isin
    over every member (O(N) per round); prices net of venue fees (Router.quote_range), a tighter
    bound that still no fill beats, so fewer hopeless rows reach `liquidate`. `spans`: [len(below), 3]
    for screen.group_bounds' spans, filled on the compiled path only (returned as the second value)."""
    coll, debt, price, lt, params = state.coll, state.debt, r.price, r.lt, r.params
    low, high = venues.quote_range()
    buy, sell = low[state.asset_of], high[state.asset_of]
    layout = _layout(groups)
    if layout is not None and len(below) and (group := group_of[below]).min() >= 0:     # compiled: no gathers
        out = np.empty(len(below))
        found = state.cells(below)                  # the watchlist's copy of the candidates' cells, current
        at, cells = found if found is not None else (below, whole_rows(len(coll)))
        group_bounds(coll, debt, below, at, np.asarray(hf_below, dtype=float), group, *layout, params.close_factor,
                     price, sell, buy, lt, params.bonus, float(gas_usd), *cells, out, spans)
        return out if spans is None else (out, (sell, buy))
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


class Bounds:
    """`bounds` with the last compiled answer kept for the same candidate rows (the loop's `below` and
    its HFs, the same objects), oracle prices, thresholds and parameters: only the venues' quotes
    (`sell`, `buy`) and the gas differ from one such round to the next. A pair's profit is
    taken * sell[c] - repaid * buy[d] with taken and repaid fixed by those inputs, so when each quote
    moved by at most a relative e_s (e_b), no row's best exceeds best + e_s * max|taken * sell[c]|
    + e_b * max|repaid * buy[d]| (screen.group_bounds' spans; 1e-9 of the terms more for rounding).
    If that ceiling less the gas is below `bar` for every row (screen.spans_below), it is the answer:
    the caller only compares it with `bar`, and no row passes, as with the exact bound. Else the exact
    bound, kept anew. On the 1M bench ~2 rounds in 3 are steps where the path nudged the venues and
    no one can pay."""

    SLACK = 1e-9

    def __init__(self, bar: float):
        self.bar, self.kept = float(bar), None

    def __call__(self, below, hf_below, state: BookState, r: Round, venues: Router, groups, group_of,
                 gas_usd) -> np.ndarray:
        kept = self.kept
        if kept is not None and kept[0] is below and kept[1] is hf_below and kept[2] is r.params and \
                kept[3] is r.lt and kept[4] == r.price.tobytes():
            low, high = venues.quote_range()
            out = np.empty(len(below))
            if spans_below(*kept[5], high, low, state.asset_of, float(gas_usd), self.bar, self.SLACK, out):
                return out
        if _layout(groups) is None:                  # the Python path: nothing kept
            self.kept = None
            return bounds(below, hf_below, state, r, venues, groups, group_of, gas_usd)
        spans = np.empty((len(below), 3))
        got = bounds(below, hf_below, state, r, venues, groups, group_of, gas_usd, spans)
        if type(got) is not tuple:                   # a row of no group: every column, nothing kept
            self.kept = None
            return got
        out, (sell, buy) = got
        self.kept = (below, hf_below, r.params, r.lt, r.price.tobytes(), (spans, sell, buy))
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


class CandidateDebt:
    """record.bad_debt_usd of the watchlist's candidate rows, kept while the watchlist hands back the very
    same array: it does so only while the prices are the same bits and no row changed
    (Watchlist.candidates), so a step where nothing moved neither gathers nor prices any row. `rows`
    must be BookState.candidates(prices) of these `prices`."""

    def __init__(self):
        self.rows, self.usd = None, 0.0

    def __call__(self, book: BookState, rows: np.ndarray, prices: np.ndarray) -> float:
        if rows is not self.rows:
            self.rows, self.usd = rows, bad_debt_usd(*_gathered(book, rows, prices), prices)
        return self.usd


def _gathered(book: BookState, rows: np.ndarray, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(book.coll[rows], book.debt[rows]); compiled, while every price is finite and > 0, unpacked from the
    watchlist's copy of the candidates' cells (Watchlist.cells, back to back) into zeros rather than gathered
    from rows scattered over the book. A -0.0 cell (not kept there) comes back +0.0: its product with a
    price > 0 is then +0.0, which leaves a row's dot unchanged unless every term is zero, and a zero
    debt - collateral value goes to +0.0 through bad_debt_by_account's maximum either way."""
    p = np.asarray(prices, dtype=float)
    found = book.cells(rows) if compiled.ON and _unpack is not None and len(rows) and \
        bool(np.isfinite(p).all() and (p > 0).all()) else None
    if found is None:
        return book.coll[rows], book.debt[rows]
    at, cells = found
    c, d = np.empty((len(rows), book.coll.shape[1])), np.empty((len(rows), book.coll.shape[1]))
    _unpack(book.coll, book.debt, rows, at, *cells, c, d)
    return c, d


def _unpack(coll, debt, rows, at, indptr, indices, width, values, c, d):
    """c[k], d[k] = row rows[k]'s collateral and debt from its pattern slot at[k] (engine/pattern.py): zeros
    and its cells, or the live row where it is read whole (width -1)."""
    for k in range(len(rows)):
        i, h = rows[k], at[k]
        if width[h] < 0:
            for a in range(c.shape[1]):
                c[k, a], d[k, a] = coll[i, a], debt[i, a]
            continue
        for a in range(c.shape[1]):
            c[k, a], d[k, a] = 0.0, 0.0
        for j in range(indptr[h], indptr[h] + width[h]):
            c[k, indices[j]], d[k, indices[j]] = values[j, 0], values[j, 1]


try:
    import numba
    _unpack = numba.njit(cache=True, nogil=True)(_unpack)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _unpack = None


def clocks(since: np.ndarray, below: np.ndarray, wet: np.ndarray, now: float) -> np.ndarray:
    """since[below] for this round's rows below 1, `since` set for them and NaN for the last round's rows
    (`wet`) no longer among them: a row's clock keeps the time it first went below and stayed, a row new below
    starts at `now`. Compiled, one pass instead of five numpy calls over the rows (~90 us a round in situ
    with the first rounds, the sample's Monte Carlo rounds of ~2,500 rows)."""
    if compiled.ON and _clocks is not None:
        out = np.empty(len(below))
        _clocks(since, below, wet, float(now), out)
        return out
    started = since[below]
    since[wet] = np.nan                                  # back above 1 (or still below: reset next)
    out = np.where(np.isnan(started), now, started)
    since[below] = out
    return out


def first_rounds(first_round: np.ndarray, below: np.ndarray, rnd: int, first: bool) -> tuple[np.ndarray, np.ndarray]:
    """(each row's first round below 1 this step, the rows below for the first time, now at `rnd`): `first`
    if no row has been below yet this step (every first_round is -1 then)."""
    if compiled.ON and _first_rounds is not None:
        rounds, new = np.empty(len(below), dtype=np.int64), np.empty(len(below), dtype=np.int64)
        return rounds, new[:_first_rounds(first_round, below, rnd, rounds, new)]
    if first:                               # the step's first rows below 1: every one is fresh
        rounds = np.full(len(below), rnd, dtype=np.int64)
        first_round[below] = rnd
        return rounds, below
    rounds = first_round[below]
    fresh = rounds < 0                      # first time below in this step
    if not fresh.any():
        return rounds, below[:0]
    new = below if fresh.all() else below[fresh]
    first_round[new] = rnd
    return np.where(fresh, rnd, rounds), new


def _clocks(since, below, wet, now, out):
    for k in range(len(below)):
        out[k] = since[below[k]]
    for j in range(len(wet)):
        since[wet[j]] = np.nan
    for k in range(len(below)):
        v = out[k]
        if np.isnan(v):
            v = now
        out[k] = v
        since[below[k]] = v


def _first_rounds(first_round, below, rnd, rounds, new):
    n = 0
    for k in range(len(below)):
        i = below[k]
        got = first_round[i]
        if got < 0:
            first_round[i] = rnd
            new[n] = i
            n += 1
            got = rnd
        rounds[k] = got
    return n


try:
    import numba
    _clocks = numba.njit(cache=True, nogil=True)(_clocks)
    _first_rounds = numba.njit(cache=True, nogil=True)(_first_rounds)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    _clocks = _first_rounds = None


def replay(inputs: ReplayInputs, config: RunConfig, feedback: bool | None = None, label: str | None = None) -> Outcome:
    """One run over the path (with feedback unless told otherwise); `label` shows a progress bar on a
    terminal."""
    s = start(inputs, config, initial_venues(inputs, config.feedback if feedback is None else feedback), Bounds)
    book, venues, oracles, rec, mech = s.state, s.venues, s.oracles, s.rec, s.mech
    exo, lt, params = inputs.exogenous, s.lt, s.params
    since = np.full(len(book), np.nan)              # when each account last became liquidatable
    wet = np.zeros(0, dtype=np.int64)               # the rows whose `since` is set
    first_round = np.full(len(book), -1, dtype=np.int64)   # round each row first fell below 1, this step
    book.watch(lt, oracles.answer[oracles.feed_of])
    health = RowHealth(len(book))                   # candidate rows' HF, kept while their inputs stand
    worst = WorstFirst(len(book))                   # their order, kept where their HF stands
    last = (None, None, None)                       # (candidate rows, those below 1 and their HF) of the last round
    clock = 0.0                                     # time of the last block
    since_below = np.zeros(0)                       # since[below] of the last round's `below` (= wet)
    rounds = None                                   # first_round[below] this step, None: to be read again
    bad = CandidateDebt()                           # the step's bad debt: only candidates
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
                last = (rows, *worst(rows, health(book, rows, price, lt)))
            below, hf_below = last[1], last[2]
            if below is not wet:                 # else the same rows as the last block: their clocks run on
                since_below = clocks(since, below, wet, now)          # since[below], kept while `below` is
                wet, rounds = below, None
            if len(below) == 0 and not mech.busy:
                break
            if rounds is None:                   # first_round[below], kept while `below` is, within the step
                rounds, new = first_rounds(first_round, below, rnd, not seen)
                if len(new):
                    seen.append(new)
            acted = mech.act(r, below, hf_below, rounds, (now - since_below) / s.block)   # each protocol
            if not acted and not s.waiting(now, since_below):
                break
        for rows in seen:
            first_round[rows] = -1               # every row's first_round is -1 again between steps
        rounds = None
        clock = s.end_step(step, rnd, clock, lt, params, gas_per_unit, config.arb_half_life_seconds)
        prices = oracles.answer[oracles.feed_of]
        rec.step(step, venues, oracles, bad(book, book.candidates(prices), prices), mech.loss(prices))
    return rec.outcome(book.coll, book.debt, oracles, mech.summary(oracles.answer[oracles.feed_of]))
