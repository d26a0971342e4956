"""Who lost what in a replay: bad debt over time, borrowers' loss, liquidators' and keepers'
profit, and the volume sold against each market's depth and daily volume (docs/engine.md, Metrics).

Pure functions of a replay's inputs and outcome: no I/O, nothing the engine loop has to change.
"""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from backtest.engine.record import Outcome
from backtest.protocols.maker_flip.flip import ACTIONS as FLIP_ACTIONS
from backtest.markets.impact_params import IMPACT
from backtest.metrics.depth import IMPACT as DEPTH_IMPACT, starting_depth


ISO = "%Y-%m-%dT%H:%M:%SZ"
# the liquidation fields borrower_loss reads of a Comet absorb or a Maker bark/bite row
LIQ_READ = ("collateral_seized_usd", "debt_repaid_usd", "debt_price", "debt_asset", "collateral_asset")


def _iso(t) -> str:
    return t.strftime(ISO)


def bad_debt_over_time(times: list, bad: list[float]) -> dict:
    """Peak, first, recovery and time under water of a bad-debt series (one value per step).

    Under water from the first step with bad debt > 0; recovered at the step after the last one
    with bad debt > 0, if the series ends at 0. Not recovered: time under water runs to the last
    step and `under_water_at_end` is true.
    """
    out = {"peak_bad_debt_usd": 0.0, "peak_bad_debt_at": None, "first_bad_debt_at": None,
           "bad_debt_recovered_at": None, "time_under_water_seconds": 0.0, "under_water_at_end": False}
    wet = [k for k, b in enumerate(bad) if b > 0]
    if not wet:
        return out
    peak = int(np.argmax(bad))                  # the first step at the peak
    first, last = wet[0], wet[-1]
    out.update(peak_bad_debt_usd=float(bad[peak]), peak_bad_debt_at=_iso(times[peak]),
               first_bad_debt_at=_iso(times[first]))
    if last + 1 < len(bad):
        out.update(bad_debt_recovered_at=_iso(times[last + 1]),
                   time_under_water_seconds=(times[last + 1] - times[first]).total_seconds())
    else:
        out.update(under_water_at_end=True, time_under_water_seconds=(times[last] - times[first]).total_seconds())
    return out


def step_bad_debt(steps) -> tuple[list, list[float]]:
    """(timestamps, bad debt so far) with one value per step (steps.parquet repeats it per asset)."""
    if not steps.num_rows:
        return [], []
    first = steps.filter(pc.equal(steps["asset"], steps["asset"][0]))
    return first["timestamp"].to_pylist(), first["bad_debt_usd"].to_pylist()


class _Rows:
    """A table's rows picked by protocol and action in numpy, the two columns encoded once (an arrow
    filter per pick copied the table's columns and took ~0.2 ms each, a dozen picks a path)."""

    def __init__(self, table):
        self.table = table if table is not None and table.num_rows else None
        self._codes = {}

    def codes(self, name: str) -> tuple[list, np.ndarray]:
        """(the column's distinct values, each row's index in them; -1 for a null)."""
        if name not in self._codes:
            encoded = pc.dictionary_encode(self.table[name].combine_chunks())
            self._codes[name] = (encoded.dictionary.to_pylist(),
                                 pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False))
        return self._codes[name]

    def _mask(self, name: str, value: str) -> np.ndarray:
        names, codes = self.codes(name)
        return codes == names.index(value) if value in names else np.zeros(len(codes), dtype=bool)

    def at(self, protocol: str | None = None, action: str | None = None) -> np.ndarray:
        """The indices of the rows of `protocol` and `action` (None: any), in order."""
        mask = np.ones(self.table.num_rows, dtype=bool)
        for name, value in (("protocol", protocol), ("action", action)):
            if value is not None:
                mask &= self._mask(name, value)
        return np.flatnonzero(mask)

    def __call__(self, protocol: str | None = None, action: str | None = None, columns=()) -> dict[str, np.ndarray]:
        """`columns` of those rows as numpy arrays (strings as object arrays, float nulls as NaN; empty
        arrays for no table)."""
        if self.table is None:
            return {c: np.zeros(0) for c in columns}
        at = self.at(protocol, action)
        return {c: self.table[c].take(at).to_numpy(zero_copy_only=False) for c in columns}


def sequential_sum(values: np.ndarray, start: float = 0.0) -> float:
    """start + v0 + v1 + ... added left to right, as a Python loop adds them: np.cumsum is sequential,
    np.sum is pairwise and differs in the last bits (which `backtest replay`'s metrics.json would show)."""
    return float(np.cumsum(np.concatenate(([start], values)))[-1]) if len(values) else float(start)


def row_order_sums(keys, values: np.ndarray) -> dict:
    """{key: sum of its values in row order}, keys in order of first appearance: what
    `for k, v in rows: out[k] = out.get(k, 0.0) + v` gives, without a Python step per row."""
    if hasattr(keys, "combine_chunks"):
        keys = keys.combine_chunks()
    encoded = pc.dictionary_encode(keys)             # codes in order of first appearance
    return code_order_sums(encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False), values)


def code_order_sums(names: list, codes: np.ndarray, values: np.ndarray) -> dict:
    """row_order_sums of the keys names[codes] (codes in any order: the keys come in order of first appearance)."""
    _, first = np.unique(codes, return_index=True)
    return {names[j]: sequential_sum(values[codes == j]) for j in codes[np.sort(first)].tolist()}


def borrower_loss(outcome: Outcome, oracle_by_asset: dict[str, float]) -> dict:
    """What borrowers gave up beyond the debt cleared, at the oracle when it happened, by protocol.

    Repaying liquidations: collateral seized - debt repaid (the bonus, the protocol's fee share
    included). Comet absorbs: collateral absorbed - basePaidOut (the liquidation factor's
    discount; a base supply netted into the balance is not collateral lost). Maker barks: lot -
    debt cleared - collateral returned to the owner when its tab was raised - for auctions still
    open, what their lot is worth beyond their tab at the final oracle (owed back if they finish). Maker
    bites (Cat/Flip): lot - debt cleared - collateral dented back (a zero-bid auction takes the whole lot).
    The total splits in three: `shortfall` (<= 0) where the collateral taken was worth less than
    the debt it cleared (the borrower walked away ahead; the protocol or liquidator bore it);
    `penalty` the part of the protocol's terms the collateral could pay (bonus, absorb discount,
    Maker's chop x debt, capped at the collateral's value beyond the debt); `slippage` the rest
    (Maker auctions selling below the oracle, net of collateral returned).
    """
    loss: dict[str, float] = {}
    penalty: dict[str, float] = {}
    adds, liq, events = _Adds(), _Rows(outcome.liquidations), _Rows(outcome.events)
    repaying = liq(None, "liquidate", ("collateral_seized_usd", "debt_repaid_usd"))
    if len(repaying["debt_repaid_usd"]):   # add(p, x, x) row by row, in numpy: the same sums in the same order
        x = repaying["collateral_seized_usd"] - repaying["debt_repaid_usd"]
        names, codes = liq.codes("protocol")
        codes = codes[liq.at(None, "liquidate")]
        loss.update(code_order_sums(names, codes, x))
        penalty.update(code_order_sums(names, codes, np.maximum(x, 0.0)))
        adds.short.append(np.minimum(x, 0.0))               # x == 0 adds 0.0: no change
    r = liq("comet", "absorb", LIQ_READ)                       # a row and an event per asset absorbed
    e = events("comet", "absorb", ("base_amount",))
    n = min(len(r["debt_price"]), len(e["base_amount"]))
    taken = np.where(r["collateral_asset"][:n] != r["debt_asset"][:n], r["collateral_seized_usd"][:n], 0.0)
    x = taken - e["base_amount"][:n] * r["debt_price"][:n]
    adds("comet", x, x)
    barked = liq("maker", "bark", LIQ_READ)
    b = _by_auction(events("maker", "bark", ("auction", "base_amount")))    # auction ids count the barks
    n = min(len(barked["debt_price"]), len(b["auction"]))
    r = {k: v[:n] for k, v in barked.items()}
    adds("maker", r["collateral_seized_usd"] - r["debt_repaid_usd"],
         b["base_amount"][:n] * r["debt_price"] - r["debt_repaid_usd"])
    dai = oracle_by_asset[barked["debt_asset"][0]] if len(barked["debt_asset"]) else 1.0    # final DAI price
    e = events("maker", "take", ("returned", "oracle_price"))
    back = e["returned"]
    some = (back != 0) & (back == back)                       # none, zero and NaN return nothing
    adds("maker", -back[some] * e["oracle_price"][some], np.zeros(int(some.sum())))
    e = _last_per_auction(events("maker", None, ("auction", "action", "tab", "lot", "asset")))
    e = {k: v[~((e["action"] == "take") & ((e["tab"] <= 0) | (e["lot"] <= 0)))] for k, v in e.items()}   # still open
    price = np.array([oracle_by_asset[a] for a in e["asset"].tolist()], dtype=float)
    owed = e["lot"] * price - e["tab"] * dai                  # what its lot is worth beyond its tab at the end
    adds("maker", -_max(0.0, owed), np.zeros(len(owed)))
    # Cat/Flip (Liquidations 1.x): the lot, less the debt it cleared
    bitten = liq("maker", "bite", LIQ_READ)
    b = _by_auction(events("maker", "bite", ("auction", "tab", "base_amount")))
    n = min(len(bitten["debt_price"]), len(b["auction"]))
    r = {k: v[:n] for k, v in bitten.items()}
    adds("maker", r["collateral_seized_usd"] - r["debt_repaid_usd"], (b["tab"][:n] - b["base_amount"][:n]) * r["debt_price"])
    e = events("maker", "dent", ("returned", "oracle_price"))      # collateral dented back to the owner
    adds("maker", -e["returned"] * e["oracle_price"], np.zeros(len(e["returned"])))
    for p, (lost, pen) in adds.by_protocol.items():
        loss[p] = sequential_sum(np.concatenate(lost), loss.get(p, 0.0))
        penalty[p] = sequential_sum(np.concatenate(pen), penalty.get(p, 0.0))
    total, pen = sum(loss.values()), sum(penalty.values())
    short = sequential_sum(np.concatenate(adds.short)) if adds.short else 0.0
    return {"borrower_loss_usd": total, "borrower_penalty_usd": pen, "borrower_shortfall_usd": short,
            "borrower_slippage_usd": total - pen - short,
            "borrower_loss_by_protocol": dict(sorted(loss.items()))}


def _min(a, b):
    """min(a, b) elementwise as Python's min takes it (b only where b < a: a NaN `a` stays, a NaN `b` does not)."""
    return np.where(b < a, b, a)


def _max(a, b):
    """max(a, b) elementwise as Python's max takes it (b only where b > a)."""
    return np.where(b > a, b, a)


class _Adds:
    """borrower_loss's adds, each row `lost` of which the terms set `pen`, kept in call order per protocol
    and summed at the end in that order (the bits of adding them one at a time). A row with a penalty
    (nonzero or NaN: what `if pen` keeps) adds min(lost, 0) to the shortfall, a taking worth less than
    the debt, and counts pen only up to the value taken beyond the debt; one without adds 0.0 there."""

    def __init__(self):
        self.by_protocol: dict[str, tuple[list, list]] = {}
        self.short: list[np.ndarray] = []

    def __call__(self, p: str, lost: np.ndarray, pen: np.ndarray) -> None:
        if not len(lost):
            return
        lost, pen = np.asarray(lost, dtype=float), np.asarray(pen, dtype=float)
        termed = pen != 0
        self.short.append(np.where(termed, _min(lost, 0.0), 0.0))
        pen = np.where(termed, _min(_max(pen, 0.0), _max(lost, 0.0)), pen)
        got = self.by_protocol.setdefault(p, ([], []))
        got[0].append(lost)
        got[1].append(pen)


def _by_auction(e: dict) -> dict:
    """The rows of events keyed by auction id, the last row of an id kept, in ascending id order:
    sorted({auction: row}.items()) of a loop over the rows."""
    _, last = np.unique(e["auction"][::-1], return_index=True)
    rows = len(e["auction"]) - 1 - last
    return {k: v[rows] for k, v in e.items()}


def _last_per_auction(e: dict) -> dict:
    """Each auction's last row among Dog/Clipper's (not Cat/Flip's), the auctions in order of their first
    row: {auction: row} of a loop over the rows, its values."""
    keep = ~np.isin(e["action"], list(FLIP_ACTIONS))
    e = {k: v[keep] for k, v in e.items()}
    ids = e["auction"]
    _, first = np.unique(ids, return_index=True)
    _, last = np.unique(ids[::-1], return_index=True)
    rows = (len(ids) - 1 - last)[np.argsort(first, kind="stable")]
    return {k: v[rows] for k, v in e.items()}


def liquidator_economics(outcome: Outcome) -> dict:
    """Profit of liquidators (liquidations.parquet) and of keepers' buyCollateral and take
    (events.parquet: Maker's tend, dent, deal and tick too), net of gas, flash-loan fees and payments to
    block builders; the builders' share of contested jobs (agents/competition.py) summed over both.
    Cat/Flip's keepers do not pay builders yet: their events carry no builder payment (NaN), counted in
    `builder_payments_unmodelled`."""
    keeping = ("take", "buyCollateral", "tend", "dent", "deal", "tick")
    ev = outcome.events
    names = ev.column_names if ev is not None else ()
    e = _Rows(ev)(columns=[c for c in ("action", "profit_usd", "builder_usd") if c in names])
    kept = np.isin(e["action"], keeping) if len(e.get("action", ())) else np.zeros(0, dtype=bool)
    keepers = sequential_sum(e["profit_usd"][kept]) if kept.any() else 0.0     # in row order, as sum() adds them
    liq = outcome.liquidations
    liquidators = float(pc.sum(liq["profit_usd"]).as_py() or 0.0) if liq.num_rows else 0.0
    bids = np.asarray(e["builder_usd"][kept], dtype=float) if "builder_usd" in e else np.full(int(kept.sum()), np.nan)
    paid = np.concatenate((_known(liq, "builder_usd"), bids[bids == bids]))     # liquidators' first, in row order
    unmodelled = int(np.count_nonzero(bids != bids))
    return {"keeper_profit_usd": float(keepers), "liquidator_profit_total_usd": liquidators + float(keepers),
            "builder_payments_usd": sequential_sum(paid), "builder_payments_modelled": True,
            "builder_payments_unmodelled": unmodelled, "flash_fees_usd": sequential_sum(_known(liq, "flash_fee_usd"))}


def _known(table, column: str) -> np.ndarray:
    """The column's values that are not NaN, in row order (none for a table written before it existed)."""
    if table is None or not table.num_rows or column not in table.column_names:
        return np.zeros(0)
    values = table[column].to_numpy().astype(float, copy=False)
    return values[values == values]


def volume_against_depth(inputs, outcome: Outcome) -> dict:
    """Per asset sold into the venues: USD sold (units x market price, each step); units sold over
    the units that would have moved its venues 2 % down at the start (the report's "pool depth
    consumed"), that depth in USD at the start; USD sold over the asset's typical daily volume
    (markets/impact_params.py)."""
    book, steps = inputs.book, outcome.steps
    depth_units = starting_depth(inputs.pools, book.price_assets, DEPTH_IMPACT)
    start = dict(zip(book.price_assets, np.asarray(inputs.exogenous[0], dtype=float).tolist()))
    sold: dict[str, list[float]] = {}
    for a, units, usd in zip(steps["asset"].to_pylist(), steps["sold"].to_pylist(), steps["sold_usd"].to_pylist()):
        if usd == usd and usd > 0:
            acc = sold.setdefault(a, [0.0, 0.0])
            acc[0] += units
            acc[1] += usd
    out = {}
    for a in sorted(sold):
        units, usd = sold[a]
        depth = depth_units.get(a, 0.0)
        volume = IMPACT[a].daily_volume_usd if a in IMPACT else None
        out[a] = {"sold_usd": usd, "depth_2pct_usd": depth * start[a] if depth > 0 else None,
                  "sold_over_depth_2pct": units / depth if depth > 0 else None,
                  "daily_volume_usd": volume, "sold_over_daily_volume": usd / volume if volume else None}
    return out
