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

from backtest.config import OracleConfig
from backtest.errors import InputError
from backtest.markets.oracle import PriceHistory, chainlink_update
from backtest.markets.oracle_table import YEAR, Feed, protocol_key, resolve

ROUNDED = ("chainlink", "lst", "anchored")     # kinds that keep a Chainlink-style round of their own


class Oracles:
    """Feeds per (protocol, asset) of the book's reserve columns; `answer[feed_of]` is the price
    of each column. `labels`, `feeds` and `sources` describe the feeds in order."""

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
        feeds = self.feeds
        own = np.array([index[label.split(":", 1)[1]] for label in self.labels], dtype=np.int64)
        self.kind = np.array([f.kind for f in feeds])
        self.src = own
        self.read = np.array([index[f.base] if f.kind == "lst" else o for f, o in zip(feeds, own)], dtype=np.int64)
        self.quote = np.array([index[f.quote] if f.quote else -1 for f in feeds], dtype=np.int64)
        get = lambda name: np.array([getattr(f, name) for f in feeds], dtype=float)  # noqa: E731
        self.deviation, self.heartbeat = get("deviation"), get("heartbeat_seconds")
        self.price_cap, self.fixed_price = get("price_cap"), get("fixed_price")
        self.rounded = np.isin(self.kind, ROUNDED)
        quote0 = np.where(self.quote >= 0, first[np.maximum(self.quote, 0)], 1.0)
        self.round = first[self.read] / quote0                       # each feed's last round, in its quote
        self.updated_at = np.zeros(len(feeds))
        self.rate0 = np.array([f.rate if f.rate > 0 else first[o] / first[r] if f.kind == "lst" else 1.0
                               for f, o, r in zip(feeds, own, self.read)])
        self.rate_apr, self.capo_growth = get("rate_apr"), get("capo_growth")
        self.capo_delay = get("capo_delay_seconds")
        self.rate_set = np.full(len(feeds), np.nan)                  # set_rate: the rate contract's new value
        self.answer = self._value(0.0, first, first[own].copy())
        self.held = self.answer.copy()                               # anchored: the price the view stored
        lagged = [k for k, f in enumerate(feeds) if f.kind in ("osm", "twap", "anchored")]
        self._lagged = lagged
        self.history = PriceHistory(len(index), sorted({int(own[k]) for k in lagged}))

    def rate(self, now: float) -> np.ndarray:
        """Each LST feed's exchange rate at `now` as the adapter returns it: the rate contract's value
        (growing at rate_apr, or as set_rate put it), capped by CAPO where the feed has one."""
        rate = np.where(np.isnan(self.rate_set), self.rate0 * (1.0 + self.rate_apr * now / YEAR), self.rate_set)
        cap = self.rate0 * (1.0 + self.capo_growth * (now + self.capo_delay) / YEAR)
        return np.where(self.capo_growth > 0, np.minimum(rate, cap), rate)

    def set_rate(self, asset: str, rate: float) -> None:
        """The LST's rate contract reports `rate` from now on (a slashing, an oracle incident)."""
        for k, label in enumerate(self.labels):
            if label.endswith(f":{asset}") and self.kind[k] == "lst":
                self.rate_set[k] = rate

    def _value(self, now: float, reference: np.ndarray, answer: np.ndarray) -> np.ndarray:
        """The round-based and fixed kinds' answers from the current rounds (USD)."""
        scale = np.where(self.quote >= 0, reference[np.maximum(self.quote, 0)], 1.0)
        pushed = self.round * scale
        capped = np.where(self.price_cap > 0, np.minimum(pushed, self.price_cap), pushed)
        answer = np.where(self.kind == "chainlink", capped, answer)
        answer = np.where(self.kind == "lst", pushed * self.rate(now), answer)
        return np.where(self.kind == "fixed", self.fixed_price * scale, answer)

    def update(self, now: float, reference: np.ndarray) -> np.ndarray:
        """Every feed's answer at `now` (once per block); returns the price of each reserve column."""
        reference = np.asarray(reference, dtype=float)
        quote = np.where(self.quote >= 0, reference[np.maximum(self.quote, 0)], 1.0)
        rnd, at, pushed = chainlink_update(self.round, self.updated_at, reference[self.read] / quote, now,
                                           self.deviation, self.heartbeat)
        self.round = np.where(self.rounded, rnd, self.round)
        self.updated_at = np.where(self.rounded, at, self.updated_at)
        answer = self._value(now, reference, self.answer)
        if self._lagged:
            answer = self._lagged_values(now, reference, answer, pushed & self.rounded)
        self.answer = answer
        return answer[self.feed_of]

    def _lagged_values(self, now: float, reference: np.ndarray, answer: np.ndarray, pushed: np.ndarray):
        history, seen = self.history, bool(self.history.times)
        for k in self._lagged:
            feed, a = self.feeds[k], int(self.src[k])
            if feed.kind == "anchored":
                if pushed[k]:
                    anchor = history.twap(a, now, feed.anchor_seconds) if seen else reference[a]
                    ratio = self.round[k] / anchor if math.isfinite(anchor) and anchor > 0 else 1.0
                    if 1.0 - feed.anchor_tolerance <= ratio <= 1.0 + feed.anchor_tolerance:
                        self.held[k] = self.round[k]                  # UniswapAnchoredView.validate accepts
                answer[k] = self.held[k]
            elif seen:
                value = history.osm(a, now, feed.hop_seconds) if feed.kind == "osm" else \
                    history.twap(a, now, feed.window_seconds)
                if math.isfinite(value):
                    answer[k] = value
        return answer

    def observe(self, now: float, reference: np.ndarray) -> None:
        """The reference at the end of a step (or block): what OSM, TWAP and the anchor read later."""
        if self._lagged:
            self.history.observe(now, np.asarray(reference, dtype=float))

