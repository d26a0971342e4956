"""The price each protocol reads, per (protocol, asset), as deployed: one feed per distinct pair of
the book's reserve columns, built from backtest/markets/oracle_table.py and `--set oracle.*`.

Every feed reads the reference market price per asset (never a DEX pool). Two protocols can
read different prices for one asset in the same block: Aave v3's wstETH is the exchange rate x
its ETH/USD round, Maker's is an hour old, Compound v2's USDC is $1.

Call `update(now, reference)` once per block (12 s): Chainlink rounds, the reporter/anchor check
and the LST rate are evaluated there. Call `observe(now, reference)` once per step at least (once
per block is finer): it records what OSM, TWAP and the Compound v2 anchor read later; an OSM
reads the last observation at or before its hour boundary, so with per-step observations its
source is at most one step early.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from backtest import compiled
from backtest.config import OracleConfig
from backtest.errors import InputError
from backtest.markets import oracle_compiled
from backtest.markets.oracle import PriceHistory
from backtest.markets.oracle_table import YEAR, Feed, protocol_key, resolve

ROUNDED = ("chainlink", "lst", "anchored")     # kinds that keep a Chainlink-style round of their own


class Oracles:
    """Feeds per (protocol, asset) of the book's reserve columns; `answer[feed_of]` is the price
    of each column. `labels`, `feeds` and `sources` describe the feeds in order; `round` and
    `updated_at` are each round-keeping feed's last round (in its quote) and its time."""

    def __init__(self, columns: list[tuple[str, str]], assets: list[str], config: OracleConfig,
                 first: np.ndarray, start: np.datetime64):
        index = {a: i for i, a in enumerate(assets)}
        overrides = config.feed_overrides()
        self.labels: list[str] = []
        self.feeds: list[Feed] = []
        self.sources: list[str] = []
        self.notes: list[str] = []              # where the book lacks an asset a deployed feed needs
        feed_of = []
        for protocol, asset in columns:
            if asset not in index:
                raise InputError(f"oracle: reserve asset {asset!r} of {protocol} has no reference price "
                                 f"(price assets: {', '.join(assets)})")
            label = f"{protocol_key(protocol)}:{asset}"
            if label not in self.labels:
                feed, source = resolve(protocol, asset, start, overrides)
                self.labels.append(label)
                self.feeds.append(self._fit(feed, label, index))
                self.sources.append(source)
            feed_of.append(self.labels.index(label))
        self.feed_of = np.array(feed_of, dtype=np.int64)
        first = np.asarray(first, dtype=float)
        for label, feed in zip(self.labels, self.feeds):
            own = "" if feed.kind == "fixed" else label.split(":", 1)[1]
            for asset in {own, feed.quote, feed.base if feed.kind == "lst" else ""} - {""}:
                if not (math.isfinite(first[index[asset]]) and first[index[asset]] > 0):
                    raise InputError(f"oracle {label}: the start price of {asset} is {first[index[asset]]}, "
                                     "not a positive number")
        self._arrays(index, first)

    def _fit(self, feed: Feed, label: str, index: dict) -> Feed:
        """The feed, with a quote or base the book has no price for replaced (and said in `notes`)."""
        if feed.quote and feed.quote not in index:
            self.notes.append(f"{label}: quotes in {feed.quote}, which the book has no price for; read in USD")
            feed = dataclasses.replace(feed, quote="")
        if feed.kind == "lst" and feed.base not in index:
            self.notes.append(f"{label}: the exchange-rate adapter needs {feed.base}, which the book has no "
                              "price for; a Chainlink feed of the asset instead")
            feed = dataclasses.replace(feed, kind="chainlink")
        return feed

    def _arrays(self, index: dict, first: np.ndarray) -> None:
        """Per-feed parameter arrays (for inspection) and the plans update runs. A quote of -1 reads
        the 1.0 that update appends to the reference: USD."""
        feeds = self.feeds
        own = np.array([index[label.split(":", 1)[1]] for label in self.labels], dtype=np.int64)
        self.kind = np.array([f.kind for f in feeds])
        self.src = own
        self.read = np.array([index[f.base] if f.kind == "lst" else o for f, o in zip(feeds, own)], dtype=np.int64)
        self.quote = np.array([index[f.quote] if f.quote else -1 for f in feeds], dtype=np.int64)
        get = lambda name: np.array([getattr(f, name) for f in feeds], dtype=float)  # noqa: E731
        self.deviation, self.heartbeat = get("deviation"), get("heartbeat_seconds")
        self.price_cap, self.fixed_price = get("price_cap"), get("fixed_price")
        self.rate0 = np.array([f.rate if f.rate > 0 else first[o] / first[r] if f.kind == "lst" else 1.0
                               for f, o, r in zip(feeds, own, self.read)])
        self.rate_apr, self.capo_growth = get("rate_apr"), get("capo_growth")
        self.capo_delay = get("capo_delay_seconds")
        self.rate_set = np.full(len(feeds), np.nan)                  # set_rate: the rate contract's new value
        self._rate_static = not self.rate_apr.any()                 # the rate is rate0 until set_rate
        self._plans(feeds, own, first)

    def _plans(self, feeds: list[Feed], own: np.ndarray, first: np.ndarray) -> None:
        """What update runs, as plain Python numbers (with a few dozen feeds a loop over floats is
        several times faster than numpy calls, and gives the same IEEE doubles). Feeds with the same
        rule on the same series share one aggregator, as on chain (Aave v3's WETH, Comet's WETH, the
        wstETH adapter's ETH/USD and Compound v2's ETH reporter are all Chainlink's ETH/USD)."""
        read, quote = self.read.tolist(), self.quote.tolist()
        firstx = [*first.tolist(), 1.0]
        rules: dict[tuple, int] = {}
        self._agg_of = [rules.setdefault((read[k], quote[k], float(self.deviation[k]), float(self.heartbeat[k])),
                                         len(rules)) if f.kind in ROUNDED else -1 for k, f in enumerate(feeds)]
        self._rule = list(rules)                                     # (read, quote, deviation, heartbeat)
        self._round = [firstx[r] / firstx[q] for r, q, _, _ in self._rule]   # each aggregator's last round
        self._at = [0.0] * len(self._rule)
        self._members = [[k for k in range(len(feeds)) if self._agg_of[k] == j] for j in range(len(self._rule))]
        self._plan = [(k, f.kind, quote[k], f.price_cap if f.price_cap > 0 else math.inf, f.fixed_price,
                       self._agg_of[k]) for k, f in enumerate(feeds) if f.kind in ("chainlink", "lst", "fixed")]
        self._entry = {e[0]: e for e in self._plan}
        self._moving = [e for e in self._plan if e[2] >= 0]         # read in a quote: move with its price
        self._anchored = [(k, int(own[k]), f) for k, f in enumerate(feeds) if f.kind == "anchored"]
        self._readers = [(k, f.kind, int(own[k]), f) for k, f in enumerate(feeds) if f.kind in ("osm", "twap")]
        self._twaps = [r for r in self._readers if r[1] == "twap"]  # what _read_history reads between OSM hours
        self._osm_until = -math.inf                                  # every OSM answer holds until then
        self._answer = first[own].tolist()
        self._fill(0.0, firstx)
        self.answer = np.array(self._answer)
        kept = {a for _, a, _ in self._anchored} | {a for _, _, a, _ in self._readers}
        self.history = PriceHistory(len(firstx) - 1, sorted(kept))
        self._osm_cache: dict[int, tuple[float, float]] = {}

    def rate(self, now: float) -> np.ndarray:
        """Each feed's exchange rate at `now` as an LST adapter returns it (1 for other kinds): the
        rate contract's value (growing at rate_apr, or as set_rate put it), capped by CAPO where the
        feed has one (the cap is never below rate0, so a static rate needs no cap)."""
        if self._rate_static:
            return self.rate0.copy()
        rate = self.rate0 * (1.0 + self.rate_apr * now / YEAR)
        rate = np.where(np.isnan(self.rate_set), rate, self.rate_set)
        cap = self.rate0 * (1.0 + self.capo_growth * (now + self.capo_delay) / YEAR)
        return np.where(self.capo_growth > 0, np.minimum(rate, cap), rate)

    def set_rate(self, asset: str, rate: float) -> None:
        """The LST's rate contract reports `rate` from now on (a slashing, an oracle incident)."""
        for k, label in enumerate(self.labels):
            if label.endswith(f":{asset}") and self.kind[k] == "lst":
                self.rate_set[k] = rate
                self._rate_static = False

    def _fill(self, now: float, ref: list, plan=None) -> None:
        """The round-based and fixed kinds' answers (USD) from their aggregators' rounds (`plan`:
        only these feeds)."""
        answer, rnd = self._answer, self._round
        rate = self.rate0 if self._rate_static else self.rate(now)
        for k, kind, quote, cap, fixed, j in self._plan if plan is None else plan:
            if kind == "chainlink":
                value = rnd[j] * ref[quote]
                answer[k] = cap if value > cap else value             # CAPO's fixed cap; NaN stays NaN
            elif kind == "lst":
                answer[k] = rnd[j] * ref[quote] * float(rate[k])
            else:
                answer[k] = fixed * ref[quote]

    def update(self, now: float, reference: np.ndarray) -> np.ndarray:
        """Every feed's answer at `now` (once per block); returns the price of each reserve column.
        The trigger is markets/oracle.py's chainlink_update, per aggregator. Only the feeds that can
        have moved are recomputed: a new round, a quote's price, a lagged reader, a moving LST rate.
        Compiled, a static rate's rounds and answers are oracle_compiled.tick's."""
        if compiled.ON and self._rate_static:
            return self._update_compiled(now, reference)
        ref = [*np.asarray(reference, dtype=float).tolist(), 1.0]     # quote -1: USD
        rnd, at, pushed = self._round, self._at, []
        for j, (read, quote, deviation, heartbeat) in enumerate(self._rule):
            x = ref[read] / ref[quote]
            if abs(x / rnd[j] - 1.0) >= deviation or now - at[j] >= heartbeat:
                rnd[j], at[j] = x, now
                pushed.extend(self._members[j])
        if not self._rate_static:
            self._fill(now, ref)
        else:
            entry = self._entry
            self._fill(now, ref, self._moving + [entry[k] for k in pushed if k in entry])
        if self._anchored and pushed:
            self._validate(now, ref, set(pushed))
        if self._readers and self.history.times:
            self._read_history(now)
        self.answer = np.array(self._answer)
        return self.answer[self.feed_of]

    def _update_compiled(self, now: float, reference: np.ndarray) -> np.ndarray:
        """update with oracle_compiled.tick for the rounds and the round-based answers; the rounds, their
        times and the answers are kept as arrays from then on (the Python path reads them as it reads lists)."""
        plan = self.__dict__.get("_tick_plan")
        if plan is None:
            self._rounds = np.array([self._round, self._at], dtype=float).reshape(2, len(self._rule))
            self._round, self._at = self._rounds                         # views: what tick writes
            self._answer, self._pushed = np.array(self._answer, dtype=float), np.zeros(len(self._rule), dtype=bool)
            plan = self._tick_plan = oracle_compiled.plan(self)
        reference = np.asarray(reference, dtype=float)
        pushed = oracle_compiled.tick(float(now), reference, self._rounds, self._pushed, self._answer, *plan)
        if self._anchored and pushed:
            agg, flags = self._agg_of, self._pushed
            self._validate(now, [*reference.tolist(), 1.0], {k for k, _, _ in self._anchored if flags[agg[k]]})
        if self._readers and self.history.times:
            self._read_history(now)
        self.answer = self._answer.copy()
        return self.answer[self.feed_of]

    @property
    def round(self) -> np.ndarray:
        """Each feed's last round in its quote (its aggregator's; NaN for kinds without one)."""
        return np.array([self._round[j] if j >= 0 else math.nan for j in self._agg_of])

    @property
    def updated_at(self) -> np.ndarray:
        return np.array([self._at[j] if j >= 0 else math.nan for j in self._agg_of])

    def _validate(self, now: float, ref: list, pushed: set) -> None:
        """UniswapAnchoredView.validate: a reporter's new round is stored only within the anchor bounds."""
        history, answer = self.history, self._answer
        for k, a, feed in self._anchored:
            if k in pushed:
                new = self._round[self._agg_of[k]]
                anchor = history.twap(a, now, feed.anchor_seconds) if history.times else ref[a]
                ratio = new / anchor if math.isfinite(anchor) and anchor > 0 else 1.0
                if 1.0 - feed.anchor_tolerance <= ratio <= 1.0 + feed.anchor_tolerance:
                    answer[k] = new

    def _read_history(self, now: float) -> None:
        """OSM and TWAP answers; every OSM answer is kept until its next hour once it cannot change."""
        history, answer, osm_due = self.history, self._answer, now >= self._osm_until
        until = math.inf
        for k, kind, a, feed in self._readers if osm_due else self._twaps:
            if kind == "osm":
                hop = feed.hop_seconds
                value, final = self._osm(k, a, now, hop)
                until = min(until, (math.floor(now / hop) + 1.0) * hop if final else -math.inf)
            else:
                value = history.twap(a, now, feed.window_seconds)
            if math.isfinite(value):
                answer[k] = value
        if osm_due:
            self._osm_until = until

    def _osm(self, k: int, a: int, now: float, hop: float) -> tuple[float, bool]:
        """(history.osm, whether it is final for this hour): final once an observation after its
        source time has arrived (later observations cannot change it then)."""
        boundary = (math.floor(now / hop) - 1.0) * hop
        cached = self._osm_cache.get(k)
        if cached is not None and cached[0] == boundary:
            return cached[1], True
        value = self.history.osm(a, now, hop)
        if self.history.times[-1] > boundary:
            self._osm_cache[k] = (boundary, value)
            return value, True
        return value, False

    def observe(self, now: float, reference: np.ndarray) -> None:
        """The reference at the end of a step (or block): what OSM, TWAP and the anchor read later."""
        if self._anchored or self._readers:
            self.history.observe(now, np.asarray(reference, dtype=float))



def oracles_for(inputs, config) -> Oracles:
    """A run's oracles: one feed per (protocol, asset) of the book's reserve columns, starting at
    the path's first prices, with the table's rows in force at its first timestamp."""
    book = inputs.book
    return Oracles(list(zip(book.reserve_protocol, book.assets)), book.price_assets, config.oracle,
                   inputs.exogenous[0], inputs.times[0])
