"""The reference replay: the engine's loop (backtest/engine/replay.py) computing every account's
health factor in every round, with no watchlist. Slow and plainly correct: the oracle the
engine is tested against (byte-identical liquidations, tests/perf) and timed against
(`backtest bench`). Keep the two loops in step.
"""

from __future__ import annotations

import numpy as np

from backtest.agents.liquidator import profit_upper_bound
from backtest.agents.round import Round
from backtest.config import RunConfig
from backtest.inputs.book import ReplayInputs
from backtest.engine.record import Outcome, bad_debt_usd
from backtest.engine.replay import initial_venues
from backtest.protocols.rules import health_factor
from backtest.engine.start import start
from backtest.engine.state import BookState
from backtest.markets.router import Router
from backtest.progress import progress


def bounds(below, hf_below, state: BookState, r: Round, venues: Router, groups, group_of, gas_usd) -> np.ndarray:
    """profit_upper_bound per account, on its own protocol's reserves only (the rest are zero),
    selling at the best venue price and buying at the lowest; group membership by np.isin over every
    member (`group_of` unused: replay.bounds's shortcut)."""
    coll, debt, price, lt, params = state.coll, state.debt, r.price, r.lt, r.params
    low, high = venues.mid_range()
    buy, sell = low[state.asset_of], high[state.asset_of]
    out = np.empty(len(below))
    for rules, members, cols in groups:
        mask = np.isin(below, members, assume_unique=True)
        rows = below[mask]
        cap = rules.max_close(hf_below[mask], params.close_factor[cols]) * debt[np.ix_(rows, cols)]
        out[mask] = profit_upper_bound(coll[np.ix_(rows, cols)], debt[np.ix_(rows, cols)], cap, price[cols],
                                       sell[cols], buy[cols], lt[cols], params.bonus[cols], gas_usd)
    return out


def replay(inputs: ReplayInputs, config: RunConfig, feedback: bool | None = None, label: str | None = None) -> Outcome:
    """One run over the path; `label` shows a progress bar on a terminal."""
    s = start(inputs, config, initial_venues(inputs, config.feedback if feedback is None else feedback), bounds)
    book, venues, oracles, rec, mech = s.state, s.venues, s.oracles, s.rec, s.mech
    exo, lt, params = inputs.exogenous, s.lt, s.params
    since = np.full(len(book), np.nan)              # when each account last became liquidatable
    clock = 0.0                                     # time of the last block
    steps = range(len(inputs.times))
    for step in (progress(steps, label=label, unit="steps") if label else steps):
        if (due := s.due_parameters(inputs.step_blocks[step])) is not None:
            lt, params = due                    # governance changed parameters: in force from this step
        if step:
            venues.follow_path(exo[step - 1], exo[step])
        gas_per_unit = s.gas_per_unit(inputs.gas_gwei[step], step)
        first_round: dict[int, int] = {}
        for rnd in range(s.blocks):                             # one round per block
            r = s.open_block(step, rnd, clock, lt, params, gas_per_unit, config.arb_half_life_seconds)
            now = clock = r.now                                 # arbitrage, gas limit, oracles: done
            price = r.price
            hf = health_factor(book.coll * price, book.debt * price, lt, book.floors)     # every row
            since = np.where(hf < 1.0, np.where(np.isnan(since), now, since), np.nan)
            below = np.flatnonzero(hf < 1.0)
            below = below[np.lexsort((below, hf[below]))]          # worst first, then by account
            if len(below) == 0 and not mech.busy:
                break
            for i in below.tolist():
                first_round.setdefault(i, rnd)
            rounds = np.array([first_round[i] for i in below.tolist()], dtype=np.int64)
            acted = mech.act(r, below, hf[below], rounds, (now - since[below]) / s.block)   # each protocol
            if not acted and not s.waiting(now, since[hf < 1.0]):
                break
        clock = s.end_step(step, rnd, clock, lt, params, gas_per_unit, config.arb_half_life_seconds)
        book.touched()                                          # no watchlist to tell
        prices = oracles.answer[oracles.feed_of]
        rec.step(step, venues, oracles, bad_debt_usd(book.coll, book.debt, prices), mech.loss(prices))
    return rec.outcome(book.coll, book.debt, oracles, mech.summary(oracles.answer[oracles.feed_of]))
