"""borrower_loss and liquidator_economics work on numpy columns; here they are held to the row-at-a-time
loops they replaced (kept below as written before), bit for bit, on random tables of every kind of
row they read: NaN, -0.0, zeros and negatives, repeated auction ids, more rows than events and the reverse,
Cat/Flip rows among Dog/Clipper's."""

from types import SimpleNamespace as NS

import numpy as np
import pyarrow as pa
import pytest

from backtest.engine.record import EVENTS_SCHEMA, LIQUIDATIONS_SCHEMA
from backtest.metrics.losses import borrower_loss, liquidator_economics, row_order_sums, sequential_sum
from backtest.protocols.maker_flip.flip import ACTIONS as FLIP_ACTIONS

LIQ_READ = ("collateral_seized_usd", "debt_repaid_usd", "debt_price", "debt_asset", "collateral_asset")
ASSETS = ("WETH", "DAI", "USDC", "WBTC")


def _rows(table, protocol=None, action=None):
    return [r for r in table.to_pylist() if protocol in (None, r["protocol"]) and action in (None, r["action"])]


def borrower_loss_loop(outcome, oracle_by_asset):
    liq, events = outcome.liquidations, outcome.events
    loss, penalty, short = {}, {}, [0.0]

    def add(p, lost, pen):
        if pen:
            short[0] += min(lost, 0.0)
            pen = min(max(pen, 0.0), max(lost, 0.0))
        loss[p] = loss.get(p, 0.0) + lost
        penalty[p] = penalty.get(p, 0.0) + pen

    repaying = _rows(liq, action="liquidate")
    if repaying:     # (the numpy form this loop had before: row_order_sums is held to its loop elsewhere)
        x = np.array([r["collateral_seized_usd"] - r["debt_repaid_usd"] for r in repaying])
        keys = pa.array([r["protocol"] for r in repaying])
        loss.update(row_order_sums(keys, x))
        penalty.update(row_order_sums(keys, np.maximum(x, 0.0)))
        short[0] = sequential_sum(np.minimum(x, 0.0))
    for r, e in zip(_rows(liq, "comet", "absorb"), _rows(events, "comet", "absorb")):
        taken = r["collateral_seized_usd"] if r["collateral_asset"] != r["debt_asset"] else 0.0
        x = taken - e["base_amount"] * r["debt_price"]
        add("comet", x, x)
    barks = {e["auction"]: e for e in _rows(events, "maker", "bark")}
    last = {}
    for e in _rows(events, "maker"):
        if e["action"] not in FLIP_ACTIONS:
            last[e["auction"]] = e
    barked = _rows(liq, "maker", "bark")
    for r, (_, b) in zip(barked, sorted(barks.items())):
        add("maker", r["collateral_seized_usd"] - r["debt_repaid_usd"], b["base_amount"] * r["debt_price"]
            - r["debt_repaid_usd"])
    dai = next((oracle_by_asset[r["debt_asset"]] for r in barked), 1.0)
    for e in _rows(events, "maker", "take"):
        if e["returned"] and e["returned"] == e["returned"]:
            add("maker", -e["returned"] * e["oracle_price"], 0.0)
    for e in last.values():
        if not (e["action"] == "take" and (e["tab"] <= 0 or e["lot"] <= 0)):
            add("maker", -max(0.0, e["lot"] * oracle_by_asset[e["asset"]] - e["tab"] * dai), 0.0)
    bites = {e["auction"]: e for e in _rows(events, "maker", "bite")}
    for r, (_, b) in zip(_rows(liq, "maker", "bite"), sorted(bites.items())):
        add("maker", r["collateral_seized_usd"] - r["debt_repaid_usd"], (b["tab"] - b["base_amount"]) * r["debt_price"])
    for e in _rows(events, "maker", "dent"):
        add("maker", -e["returned"] * e["oracle_price"], 0.0)
    total, pen = sum(loss.values()), sum(penalty.values())
    return {"borrower_loss_usd": total, "borrower_penalty_usd": pen, "borrower_shortfall_usd": short[0],
            "borrower_slippage_usd": total - pen - short[0], "borrower_loss_by_protocol": dict(sorted(loss.items()))}


def keepers_loop(outcome):
    keeping = ("take", "buyCollateral", "tend", "dent", "deal", "tick")
    events = outcome.events.to_pylist() if outcome.events is not None else []
    keepers = sum(e["profit_usd"] for e in events if e["action"] in keeping)
    bids = np.array([e.get("builder_usd", float("nan")) for e in events if e["action"] in keeping], dtype=float)
    return float(keepers), bids


def _value(rng, size=None):
    """Floats with the awkward ones common: NaN, -0.0, 0.0, negatives, tiny and huge."""
    x = rng.standard_normal(size) * 10.0 ** rng.uniform(-3, 6, size)
    special = rng.choice([np.nan, -0.0, 0.0, 1.0, -1.0], size)
    return np.where(rng.random(size) < 0.25, special, x)


def _tables(rng):
    n = int(rng.integers(0, 40))
    kinds = [("aave-v3", "liquidate"), ("aave-v2", "liquidate"), ("comet", "absorb"), ("maker", "bark"),
             ("maker", "bite")]
    k = rng.integers(0, len(kinds), n)
    liq = {f.name: [] for f in LIQUIDATIONS_SCHEMA}
    for j in k.tolist():
        row = {f.name: (0 if pa.types.is_integer(f.type) else None) for f in LIQUIDATIONS_SCHEMA}
        row.update(protocol=kinds[j][0], action=kinds[j][1], account="0x1", liquidator="x",
                   debt_asset=str(rng.choice(ASSETS)), collateral_asset=str(rng.choice(ASSETS)),
                   **{c: float(_value(rng)) for c in LIQ_READ if c not in ("debt_asset", "collateral_asset")})
        for name in liq:
            liq[name].append(row[name] if name != "timestamp" else None)
    m = int(rng.integers(0, 40))
    actions = [("comet", "absorb"), ("comet", "buyCollateral"), ("maker", "bark"), ("maker", "take"),
               ("maker", "redo"), ("maker", "bite"), ("maker", "dent"), ("maker", "tend"), ("maker", "deal")]
    ev = {f.name: [] for f in EVENTS_SCHEMA}
    for j in rng.integers(0, len(actions), m).tolist():
        row = {f.name: float(_value(rng)) if pa.types.is_floating(f.type) else None for f in EVENTS_SCHEMA}
        row.update(step=0, round=0, protocol=actions[j][0], action=actions[j][1], auction=int(rng.integers(0, 6)),
                   account="", liquidator="", asset=str(rng.choice(ASSETS)))
        if rng.random() < 0.3:
            row["returned"] = None                     # a null: returns nothing
        for name in ev:
            ev[name].append(row[name] if name != "timestamp" else None)
    return NS(liquidations=pa.table(liq, schema=LIQUIDATIONS_SCHEMA), events=pa.table(ev, schema=EVENTS_SCHEMA))


def _same(a, b):
    """Equal bit for bit: NaN as NaN, -0.0 apart from 0.0."""
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return np.array(a, dtype=float).tobytes() == np.array(b, dtype=float).tobytes()


@pytest.mark.parametrize("seed", range(300))
def test_borrower_loss_is_the_row_loop_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    outcome = _tables(rng)
    if outcome.events.num_rows:                        # the loop reads a null `returned` only where it tests it
        back = outcome.events["returned"].to_pylist()
        acts = outcome.events["action"].to_pylist()
        fixed = [0.0 if x is None and a == "dent" else x for x, a in zip(back, acts)]
        outcome.events = outcome.events.set_column(EVENTS_SCHEMA.get_field_index("returned"), "returned",
                                                   pa.array(fixed, pa.float64()))
    oracle = dict(zip(ASSETS, _value(rng, len(ASSETS)).tolist()))
    want, got = borrower_loss_loop(outcome, oracle), borrower_loss(outcome, oracle)
    assert list(got) == list(want)
    assert all(_same(got[k], want[k]) for k in want), (got, want)


@pytest.mark.parametrize("seed", range(100))
def test_keeper_profit_and_builder_bids_are_the_row_loop_bit_for_bit(seed):
    outcome = _tables(np.random.default_rng(seed))
    keepers, bids = keepers_loop(outcome)
    got = liquidator_economics(outcome)
    assert _same(got["keeper_profit_usd"], keepers)
    assert got["builder_payments_unmodelled"] == int(np.count_nonzero(bids != bids))
    liq_paid = outcome.liquidations["builder_usd"].to_numpy(zero_copy_only=False).astype(float)
    assert _same(got["builder_payments_usd"], sequential_sum(np.concatenate((liq_paid[liq_paid == liq_paid],
                                                                               bids[bids == bids]))))


def test_bad_debt_by_debt_asset_on_kept_zeros_is_the_fresh_zeros_product():
    # the [N, R] shares are written into zeros kept per book between runs: each run's split is the one a fresh
    # np.zeros gives, bit for bit, and the zeros are handed back zeroed (a run after a run sees none of its rows)
    from backtest.metrics.attribution import Settled, bad_debt_by_debt_asset, book_keys

    class Book:                                          # weak-referenceable, as the loaded Book is: zeros are kept
        def __init__(self, rng, n, r):
            self.price_assets = [f"A{j}" for j in range(r)]
            self.assets, self.reserve_asset = list(self.price_assets), np.arange(r)
            self.reserve_protocol = ["aave-v3"] * r
            self.protocol = np.array(["aave-v3"] * n, dtype=object)

    rng = np.random.default_rng(2)
    n, r = 300, 5
    book = Book(rng, n, r)
    for _ in range(4):
        debt = rng.random((n, r)) * (rng.random((n, r)) < 0.4) * 10.0 ** rng.uniform(-2, 6, (n, r))
        prices = rng.random(r) * 3e3
        left = np.where(rng.random(n) < 0.3, rng.random(n) * 1e4, 0.0)
        outcome = NS(debt=debt, prices=prices, protocols={})
        rows = np.flatnonzero(left)
        owed = debt[rows] * prices
        total = owed.sum(axis=1)
        share = np.zeros(debt.shape)
        share[rows] = np.divide(owed, total[:, None], out=np.zeros_like(owed), where=total[:, None] > 0)
        want = (left @ share).tolist()
        got = bad_debt_by_debt_asset(NS(book=book), outcome, Settled(left, []))
        assert _same([got[a] for a in book.price_assets], want) and got["none"] == 0.0
        kept = book_keys(book)._zeros
        assert len(kept) == 1 and kept[0].shape == (n, r) and not kept[0].any()
