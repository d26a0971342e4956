"""What a replay leaves behind: one row per liquidation (a repaying liquidation, a Comet absorb of
one collateral asset, a Maker bark), one row per (step, asset), and one row per Comet/Maker
protocol event (absorb, buyCollateral, bark, take, redo)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from backtest.agents.liquidator import Plan
from backtest.inputs.book import ReplayInputs
from backtest.inputs.kept import per_book
from backtest.markets.router import Router as Venues

UTC_TS = pa.timestamp("us", tz="UTC")

LIQUIDATIONS_SCHEMA = pa.schema([
    ("step", pa.int32()), ("timestamp", UTC_TS), ("protocol", pa.string()), ("account", pa.string()),
    ("debt_asset", pa.string()), ("collateral_asset", pa.string()),
    ("debt_repaid", pa.float64()), ("collateral_seized", pa.float64()), ("protocol_fee", pa.float64()),
    ("debt_price", pa.float64()), ("collateral_price", pa.float64()),
    ("debt_repaid_usd", pa.float64()), ("collateral_seized_usd", pa.float64()),
    ("round", pa.int32()), ("liquidator", pa.string()),
    ("cost_usd", pa.float64()), ("proceeds_usd", pa.float64()), ("gas_usd", pa.float64()), ("profit_usd", pa.float64()),
    ("health_factor_before", pa.float64()), ("health_factor_after", pa.float64()),
    ("deficit_usd", pa.float64()),
    ("action", pa.string()),             # liquidate | absorb | bark
    ("flash_fee_usd", pa.float64()),     # flash-loan fee on the repayment above the liquidator's capital
    ("builder_usd", pa.float64()),       # paid to the block builder: a share of a contested job's profit
])

# Comet and Maker act as protocols, not through a liquidator's repayment: what they did, named as
# their events (Comet.sol AbsorbCollateral/BuyCollateral; dog.sol Bark, clip.sol Kick/Take/Redo).
EVENTS_SCHEMA = pa.schema([
    ("step", pa.int32()), ("timestamp", UTC_TS), ("round", pa.int32()), ("protocol", pa.string()),
    ("action", pa.string()),             # absorb | buyCollateral | bark | take | redo | bite | tend | dent | deal | tick
    ("auction", pa.int64()),             # Maker auction id (-1 for Comet)
    ("account", pa.string()), ("asset", pa.string()),
    ("amount", pa.float64()),            # collateral units: absorbed, bought, lot kicked, slice taken (redo: lot)
    ("base_amount", pa.float64()),       # base/DAI units: basePaidOut, baseAmount paid, tab kicked, owe
    ("price", pa.float64()),             # USD per collateral unit charged: store-front price, auction price, top
    ("oracle_price", pa.float64()),
    ("tab", pa.float64()), ("lot", pa.float64()),   # Maker: left in the auction after the event
    ("returned", pa.float64()),          # Maker: collateral given back to the vault owner when the tab is raised
    ("inventory", pa.float64()),         # Comet: units of this asset the protocol holds after the event
    ("reserves", pa.float64()),          # Comet: reserves after the event, base units
    ("reward_usd", pa.float64()),        # Maker keeper reward tip + chip x tab (bark, redo), paid by the protocol
    ("cost_usd", pa.float64()), ("proceeds_usd", pa.float64()), ("gas_usd", pa.float64()), ("profit_usd", pa.float64()),
    ("liquidator", pa.string()),
    ("flash_fee_usd", pa.float64()), ("builder_usd", pa.float64()),   # NaN where not modelled (Maker's events)
])

STEPS_SCHEMA = pa.schema([
    ("step", pa.int32()), ("timestamp", UTC_TS), ("asset", pa.string()),
    ("price_exogenous", pa.float64()), ("price_market", pa.float64()), ("price_oracle", pa.float64()),
    ("price_amm", pa.float64()), ("sold", pa.float64()), ("sold_usd", pa.float64()),
    ("liquidations", pa.int32()), ("bad_debt_usd", pa.float64()),
    ("oracles", pa.map_(pa.string(), pa.float64())),   # every protocol's oracle price of the asset
])


@dataclass
class Outcome:
    liquidations: pa.Table
    steps: pa.Table
    collateral: np.ndarray      # [N, R] at the end
    debt: np.ndarray
    oracle: np.ndarray          # [A] final oracle price per price asset: its first feed's (Recorder.first_feed)
    prices: np.ndarray = None   # [R] final oracle price of each reserve column (its protocol's feed)
    events: pa.Table = None     # Comet/Maker protocol events (EVENTS_SCHEMA)
    protocols: dict = None      # Comet/Maker state at the end (backtest/engine/mechanisms.py summary)


def bad_debt_by_account(coll: np.ndarray, debt: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """max(0, debt value - collateral value) per account: what no liquidator can recover."""
    return bad_debt_of_values(coll @ prices, debt @ prices)


def bad_debt_of_values(coll_usd: np.ndarray, debt_usd: np.ndarray) -> np.ndarray:
    """bad_debt_by_account from each account's collateral and debt USD (a caller that reads them too)."""
    return np.maximum(0.0, debt_usd - coll_usd)


def bad_debt_usd(coll: np.ndarray, debt: np.ndarray, prices: np.ndarray) -> float:
    """The accounts' bad debt (bad_debt_by_account) summed: what Recorder.step records with the burned deficits."""
    return float(bad_debt_by_account(coll, debt, prices).sum())


_STEP_FLOATS = ("price_exogenous", "price_market", "price_oracle", "price_amm", "sold", "sold_usd", "bad_debt_usd")
_EVENT_NAMES = EVENTS_SCHEMA.names
_EVENT_DEFAULTS = {"auction": -1, "account": "", "liquidator": ""}
_EVENT_DEFAULT = tuple(_EVENT_DEFAULTS.get(name, np.nan) for name in _EVENT_NAMES)    # what a column not given holds


class Recorder:
    def __init__(self, inputs: ReplayInputs):
        self.inputs = inputs
        self.now = 0.0              # seconds since the first step: the block being played (the loops set it)
        self._liq: list = []                    # the liquidations' fields, row after row, in LIQUIDATIONS_SCHEMA order
        n, t = len(inputs.book.price_assets), len(inputs.times)
        self._steps: list[int] = []             # the steps recorded, in order: row k of the arrays below
        self._step_values = {name: np.empty((t, n)) for name in _STEP_FLOATS}
        self._step_count = np.empty((t, n), dtype=np.int32)
        self._answers = None                    # [steps, feeds] every feed's answer at each step recorded
        self._events: list = []                 # the events' fields, row after row, in EVENTS_SCHEMA order
        self._count = [0] * len(inputs.book.price_assets)
        self._asset_of = inputs.book.reserve_asset.tolist()     # [R] each reserve's price asset, as ints
        self._burned = 0.0          # deficits burned so far (Aave v3.3+): bad debt that left the book
        self._clock = (None, None)  # (now, its block time): many rows share a block

    def liquidation(self, step: int, i: int, plan: Plan, oracle: np.ndarray, rnd: int, cost: float,
                    proceeds: float, hf_before: float, hf_after: float, deficit: float = 0.0,
                    liquidator: str = "profit-seeker", action: str = "liquidate") -> None:
        """`oracle` is the price of every reserve at the time of the liquidation. A row's fields extend one
        flat list (a tuple kept per row costs an allocation the garbage collector then tracks: 2x the
        time of a crash's 13,000 rows), the columns built once in `outcome` (a row a liquidation is the hot
        path of a crash), the names too: a row keeps the account's row and the reserves' columns, `outcome`
        reads their names in one gather each. The plan goes in whole; the products and the profit are
        worked out per column in `outcome` (the same float operations in the same order)."""
        now, at = self._clock
        if now != self.now:
            at = self._block_time()
        c = plan[1]
        self._liq.extend((step, at, i, oracle.item(plan[0]), oracle.item(c), rnd, liquidator, cost, proceeds,
                          hf_before, hf_after, deficit, action))
        self._liq.extend(plan)
        self._count[self._asset_of[c]] += 1
        self._burned += deficit

    def event(self, step: int, rnd: int, protocol: str, action: str, **values) -> None:
        """One Comet/Maker event; columns not given take _EVENT_DEFAULTS' value or NaN (the call's own
        keyword dict takes the positional fields: no merged dict a row)."""
        values.update(step=step, timestamp=self._block_time(), round=rnd, protocol=protocol, action=action)
        self._events.extend(map(values.get, _EVENT_NAMES, _EVENT_DEFAULT))     # values.get(name, default), in C

    def step(self, step: int, venues: Venues, oracles, accounts_bad_usd: float, protocol_loss: float = 0.0) -> None:
        """`oracles` (backtest/markets/oracles.py): every feed's answer is recorded, per asset by protocol;
        `price_oracle` is the asset's first feed's. `accounts_bad_usd`: the book's bad debt at the oracle
        prices (`bad_debt_usd`); `protocol_loss`: Comet's and Maker's losses so far
        (mechanisms.Mechanisms.loss). `price_market` is the reference market's price, `price_amm` the
        asset's first venue's (a DEX pool or a book: what a pool shows after our sales). A step keeps
        rows of arrays only (the feeds' answers whole); `_step_columns` works out the rest for every step
        at once (the same floats: sold_usd is sold x price_market, price_oracle each asset's first feed's)."""
        bad = accounts_bad_usd + self._burned
        if protocol_loss:
            bad += protocol_loss
        k = len(self._steps)
        if k == len(self._step_count):                   # more steps than the path has: room for as many again
            self._step_values = {name: np.concatenate([a, np.empty_like(a[:k + 1])]) for name, a in
                                 self._step_values.items()}
            self._step_count = np.concatenate([self._step_count, np.empty_like(self._step_count[:k + 1])])
            if self._answers is not None:
                self._answers = np.concatenate([self._answers, np.empty_like(self._answers[:k + 1])])
        if self._answers is None:
            self._feeds(oracles)
            self._answers = np.empty((len(self._step_count), len(oracles.answer)))
        self._steps.append(step)
        values = self._step_values
        values["price_exogenous"][k] = self.inputs.exogenous[step]
        values["price_market"][k] = venues.price
        amm = self._amm_of(venues)
        if amm is None:
            values["price_amm"][k] = np.nan
        else:
            values["price_amm"][k] = venues.venue_price[amm[0]]
            if amm[1] is not None:
                values["price_amm"][k, amm[1]] = np.nan
        values["sold"][k] = venues.sold
        values["bad_debt_usd"][k] = bad
        self._answers[k] = oracles.answer
        self._step_count[k] = self._count
        self._count = [0] * len(self._count)

    def _amm_of(self, venues: Venues):
        """(each asset's first venue or 0, the assets without one or None), kept for the router's pool_of;
        None when the router has no venue at all."""
        memo = self.__dict__.get("_amm")
        if memo is None or memo[0] is not venues.pool_of or memo[1] != len(venues.venue_price):
            pool_of = venues.pool_of
            none = np.flatnonzero(pool_of < 0)
            got = (np.maximum(pool_of, 0), none if len(none) else None) if len(venues.venue_price) else None
            memo = self._amm = (pool_of, len(venues.venue_price), got)
        return memo[2]

    def _block_time(self) -> np.datetime64:
        """The time of the block being played (liquidations and events carry it; steps their own)."""
        now, at = self._clock
        if now != self.now:
            now = self.now
            at = self.inputs.times[0] + np.timedelta64(int(round(now * 1e6)), "us")
            self._clock = (now, at)
        return at

    def _feeds(self, oracles) -> list[list[tuple[int, str]]]:
        """Per price asset, its feeds (index, label) in the order of the book's reserve columns."""
        if getattr(self, "_by_asset", None) is None:
            book = self.inputs.book
            self._by_asset = [[] for _ in book.price_assets]
            for c, k in enumerate(oracles.feed_of.tolist()):
                pair = (k, oracles.labels[k])
                if pair not in self._by_asset[book.reserve_asset[c]]:
                    self._by_asset[book.reserve_asset[c]].append(pair)
        return self._by_asset

    def per_asset(self, oracles) -> np.ndarray:
        """[A] each asset's first feed's answer (NaN for an asset no reserve reads); which feed that is
        is looked up once (the feeds of a run do not change), not per step."""
        memo = getattr(self, "_first_feed", None)
        if memo is None or memo[0] is not oracles:
            feeds = self._feeds(oracles)
            memo = self._first_feed = (oracles, np.array([f[0][0] if f else 0 for f in feeds], dtype=np.int64),
                                       np.array([not f for f in feeds], dtype=bool))
        out = oracles.answer[memo[1]].astype(float) if len(oracles.answer) else np.full(len(memo[1]), np.nan)
        out[memo[2]] = np.nan
        return out

    def _step_columns(self) -> dict:
        """STEPS_SCHEMA's columns of the steps recorded: one row per (step, asset), step-major."""
        k, assets = len(self._steps), self.inputs.book.price_assets
        steps = np.repeat(np.array(self._steps, dtype=np.int64), len(assets))
        values = {name: a[:k] for name, a in self._step_values.items()}
        values["sold_usd"] = values["sold"] * values["price_market"]
        feeds = self._by_asset if k else [[] for _ in assets]          # _feeds, as the first step found them
        answers = self._answers[:k] if k else np.empty((0, 0))
        first = np.array([f[0][0] if f else 0 for f in feeds], dtype=np.int64)
        values["price_oracle"] = answers[:, first] if answers.shape[1] else np.full((k, len(assets)), np.nan)
        values["price_oracle"][:, [not f for f in feeds]] = np.nan
        return dict(step=steps, timestamp=self.inputs.times[steps], asset=assets * k,
                    **{name: values[name].ravel() for name in self._step_values},
                    liquidations=self._step_count[:k].ravel(), oracles=self._oracle_maps(feeds, answers))

    @staticmethod
    def _oracle_maps(feeds: list, answers: np.ndarray) -> pa.MapArray:
        """The `oracles` column: per (step, asset) a map of each of the asset's feeds' protocol (its label's
        head) to its answer at that step, the feeds in `_feeds`' order."""
        names = [label.split(":", 1)[0] for got in feeds for _, label in got]
        index = np.array([j for got in feeds for j, _ in got], dtype=np.int64)
        k = len(answers)
        offsets = np.concatenate([[0], np.cumsum(np.tile([len(got) for got in feeds], k))]).astype(np.int32)
        return pa.MapArray.from_arrays(offsets, pa.array(names * k, pa.string()),
                                       pa.array(answers[:, index].ravel(), pa.float64()),
                                       type=STEPS_SCHEMA.field("oracles").type)

    def outcome(self, coll, debt, oracles, protocols: dict | None = None) -> Outcome:
        liq = _liquidations(self._liq, self._names())
        steps = pa.table({k: _column(v, STEPS_SCHEMA.field(k).type) for k, v in self._step_columns().items()},
                         schema=STEPS_SCHEMA)
        events = _table(self._events, EVENTS_SCHEMA)
        return Outcome(liquidations=liq, steps=steps, collateral=coll, debt=debt, oracle=self.per_asset(oracles),
                       prices=oracles.answer[oracles.feed_of], events=events, protocols=protocols or {})


    def _names(self) -> dict:
        """What the liquidations' name columns look their rows' indices up in (book order, as read before)."""
        return per_book(self.inputs.book, "engine.record.names", BookNames).of_run()


class BookNames:
    """The book's names for the liquidations' name columns, kept per book (inputs/kept.py). A book's first run
    looks its rows up in the book's own arrays (a numpy gather, ~1 ms for 13,000 rows); from its second run on
    (a sweep's paths share one book) in arrow arrays of all the book's names, made then, a gather ~10x cheaper.
    A book replayed once never makes them: for the 1M bench's book they were ~210 MB of peak RSS (Python
    strings of a million addresses on their way to arrow, then arrow's buffers), for one 1 ms gather."""

    def __init__(self, book_ref):
        self._book = book_ref                 # a weak reference (inputs/kept.py)
        self._arrays: dict | None = None
        self._runs = 0

    def of_run(self) -> dict:
        book = self._book()
        self._runs += 1
        if self._runs == 1:
            return _name_columns(book.protocol, book.accounts, book.assets)
        if self._arrays is None:            # straight from numpy: no Python string a row
            self._arrays = _name_columns(*(pa.array(np.asarray(v), pa.string())
                                           for v in (book.protocol, book.accounts, book.assets)))
        return self._arrays


def _name_columns(protocol, accounts, assets) -> dict:
    return {"protocol": protocol, "account": accounts, "debt_asset": assets, "collateral_asset": assets}


# A liquidation's fields as Recorder.liquidation lays them out: its own, then its Plan's (None: not a column)
_LIQ_FIELDS = ("step", "timestamp", "account", "debt_price", "collateral_price", "round", "liquidator", "cost_usd",
               "proceeds_usd", "health_factor_before", "health_factor_after", "deficit_usd", "action",
               "debt_asset", "collateral_asset", "debt_repaid", "collateral_seized", "protocol_fee", None, None,
               "gas_usd", "flash_fee_usd", "builder_usd")


def _liquidations(fields: list, names: dict) -> pa.Table:
    """The liquidations table of Recorder.liquidation's fields: each column a slice, the USD products and
    the profit worked out per column, left to right as a row's Python floats were (the same IEEE operations)."""
    width = len(_LIQ_FIELDS)
    got = {name: fields[j::width] for j, name in enumerate(_LIQ_FIELDS) if name}
    got["protocol"] = got["account"]                     # both look up the account's book row
    f = {k: np.array(got[k], dtype=float) for k in ("debt_repaid", "collateral_seized", "debt_price",
                                                     "collateral_price", "proceeds_usd", "cost_usd", "gas_usd",
                                                     "flash_fee_usd", "builder_usd")}
    got.update(f)                                        # the float columns made once
    got["debt_repaid_usd"] = f["debt_repaid"] * f["debt_price"]
    got["collateral_seized_usd"] = f["collateral_seized"] * f["collateral_price"]
    got["profit_usd"] = f["proceeds_usd"] - f["cost_usd"] - f["gas_usd"] - f["flash_fee_usd"] - f["builder_usd"]
    return pa.table({c.name: _column(_named(got[c.name], names.get(c.name)), c.type) for c in LIQUIDATIONS_SCHEMA},
                    schema=LIQUIDATIONS_SCHEMA)


def _table(fields: list, schema: pa.Schema) -> pa.Table:
    """Rows' fields, one row after another in the schema's order, as a table of it: column j is the
    slice fields[j::width], copied in C (0.1x the time of gathering it from a tuple per row)."""
    width = len(schema)
    return pa.table({f.name: _column(fields[j::width], f.type) for j, f in enumerate(schema)}, schema=schema)


def _named(values: list, of):
    """The names at indices `values` (one gather: in arrow where `of` is an arrow array, else in numpy), or
    `values` themselves where the column holds no index."""
    if of is None:
        return values
    at = np.array(values, dtype=np.intp)
    return of.take(at) if isinstance(of, pa.Array) else np.asarray(of)[at].tolist()


def _column(values, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.Array):
        return values
    if kind == UTC_TS:
        return pa.array(np.array(values, dtype="datetime64[us]")).cast(UTC_TS)
    if isinstance(values, np.ndarray) and pa.types.is_integer(kind):
        return pa.array(values.tolist(), type=kind)        # as from the list of ints a row at a time
    if pa.types.is_floating(kind):
        return pa.array(np.asarray(values, dtype=float), type=kind)
    return pa.array(values, type=kind)
