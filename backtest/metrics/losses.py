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


def _table(table, protocol: str | None = None, action: str | None = None):
    """The rows of `protocol` and `action` (None: any), in order, as a table (None for no table)."""
    if table is None or not table.num_rows:
        return None
    mask = None
    for name, value in (("protocol", protocol), ("action", action)):
        if value is not None:
            m = pc.equal(table[name], value)
            mask = m if mask is None else pc.and_(mask, m)
    if mask is not None:
        table = table.filter(pc.fill_null(mask, False))
    return table


def _rows(table, protocol: str | None = None, action: str | None = None, columns=None) -> list[dict]:
    """The rows of `protocol` and `action` (None: any), in order, as dicts (of `columns` only, if given):
    filtered in arrow first, so a sweep row does not turn a whole liquidations table into dicts."""
    table = _table(table, protocol, action)
    if table is None:
        return []
    if columns is not None:
        table = table.select(list(columns))
    return table.to_pylist()


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
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return {k: sequential_sum(values[codes == j]) for j, k in enumerate(encoded.dictionary.to_pylist())}


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
    liq, events = outcome.liquidations, outcome.events
    loss: dict[str, float] = {}
    penalty: dict[str, float] = {}
    short = [0.0]

    def add(p, lost, pen):
        """`lost` of which the terms set `pen`; a taking worth less than the debt is a shortfall."""
        if pen:
            short[0] += min(lost, 0.0)
            pen = min(max(pen, 0.0), max(lost, 0.0))
        loss[p] = loss.get(p, 0.0) + lost
        penalty[p] = penalty.get(p, 0.0) + pen

    repaying = _table(liq, action="liquidate")
    if repaying is not None and repaying.num_rows:   # add(p, x, x) row by row, in numpy: the same sums in the same order
        x = repaying["collateral_seized_usd"].to_numpy() - repaying["debt_repaid_usd"].to_numpy()
        loss.update(row_order_sums(repaying["protocol"], x))
        penalty.update(row_order_sums(repaying["protocol"], np.maximum(x, 0.0)))
        short[0] = sequential_sum(np.minimum(x, 0.0))            # x == 0 adds 0.0: no change
    absorbs = _rows(events, "comet", "absorb", columns=("base_amount",))
    for r, e in zip(_rows(liq, "comet", "absorb", columns=LIQ_READ), absorbs):   # a row and an event per asset absorbed
        taken = r["collateral_seized_usd"] if r["collateral_asset"] != r["debt_asset"] else 0.0
        x = taken - e["base_amount"] * r["debt_price"]
        add("comet", x, x)
    barks = {e["auction"]: e for e in _rows(events, "maker", "bark", columns=("auction", "base_amount"))}
    last: dict[int, dict] = {}
    for e in _rows(events, "maker", columns=("auction", "action", "tab", "lot", "asset")):    # the fields read below
        if e["action"] not in FLIP_ACTIONS:
            last[e["auction"]] = e
    barked = _rows(liq, "maker", "bark", columns=LIQ_READ)
    for r, (_, b) in zip(barked, sorted(barks.items())):     # auction ids count the barks
        add("maker", r["collateral_seized_usd"] - r["debt_repaid_usd"], b["base_amount"] * r["debt_price"]
            - r["debt_repaid_usd"])
    dai = next((oracle_by_asset[r["debt_asset"]] for r in barked), 1.0)   # final DAI price
    for e in _rows(events, "maker", "take", columns=("returned", "oracle_price")):
        if e["returned"] and e["returned"] == e["returned"]:
            add("maker", -e["returned"] * e["oracle_price"], 0.0)
    for e in last.values():
        if not (e["action"] == "take" and (e["tab"] <= 0 or e["lot"] <= 0)):    # still open at the end
            add("maker", -max(0.0, e["lot"] * oracle_by_asset[e["asset"]] - e["tab"] * dai), 0.0)
    # Cat/Flip (Liquidations 1.x): the lot, less the debt it cleared
    bites = {e["auction"]: e for e in _rows(events, "maker", "bite", columns=("auction", "tab", "base_amount"))}
    for r, (_, b) in zip(_rows(liq, "maker", "bite", columns=LIQ_READ), sorted(bites.items())):
        add("maker", r["collateral_seized_usd"] - r["debt_repaid_usd"], (b["tab"] - b["base_amount"]) * r["debt_price"])
    for e in _rows(events, "maker", "dent", columns=("returned", "oracle_price")):     # collateral dented back to the owner
        add("maker", -e["returned"] * e["oracle_price"], 0.0)
    total, pen = sum(loss.values()), sum(penalty.values())
    return {"borrower_loss_usd": total, "borrower_penalty_usd": pen, "borrower_shortfall_usd": short[0],
            "borrower_slippage_usd": total - pen - short[0],
            "borrower_loss_by_protocol": dict(sorted(loss.items()))}


def liquidator_economics(outcome: Outcome) -> dict:
    """Profit of liquidators (liquidations.parquet) and of keepers' buyCollateral and take
    (events.parquet: Maker's tend, dent, deal and tick too), net of gas, flash-loan fees and payments to
    block builders; the builders' share of contested jobs (agents/competition.py) summed over both.
    Cat/Flip's keepers do not pay builders yet: their events carry no builder payment (NaN), counted in
    `builder_payments_unmodelled`."""
    keeping = ("take", "buyCollateral", "tend", "dent", "deal", "tick")
    ev = outcome.events
    events = _rows(ev, columns=[c for c in ("action", "profit_usd", "builder_usd") if c in ev.column_names]) \
        if ev is not None else []
    keepers = sum(e["profit_usd"] for e in events if e["action"] in keeping)
    liq = outcome.liquidations
    liquidators = float(pc.sum(liq["profit_usd"]).as_py() or 0.0) if liq.num_rows else 0.0
    nan = float("nan")
    bids = np.array([e.get("builder_usd", nan) for e in events if e["action"] in keeping], dtype=float)
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
