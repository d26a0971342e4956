"""Hand-worked cases for the loss metrics (backtest/metrics/losses.py, attribution.py): a bad debt
that recovers, a market whose borrowers' loss adds up term by term, and splits of bad debt that
add up to the total on a real replay of the sample."""

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace as NS

import numpy as np
import pyarrow as pa
import pytest

from backtest.engine.record import EVENTS_SCHEMA, LIQUIDATIONS_SCHEMA
from backtest.run import make_config, run
from backtest.metrics.attribution import NONE, bad_debt_by_debt_asset, bad_debt_by_protocol
from backtest.metrics.losses import bad_debt_over_time, borrower_loss
from backtest.scenarios import load_scenario

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _times(n):
    return [T0 + timedelta(minutes=10 * k) for k in range(n)]


def test_a_bad_debt_that_recovers_has_a_peak_and_a_time_under_water():
    # $0, then $5 at 00:10, peak $12 at 00:20 (and again at 00:40: the first counts), back to 0 at 00:50
    got = bad_debt_over_time(_times(7), [0.0, 5.0, 12.0, 3.0, 12.0, 0.0, 0.0])
    assert got == {"peak_bad_debt_usd": 12.0, "peak_bad_debt_at": "2024-01-01T00:20:00Z",
                   "first_bad_debt_at": "2024-01-01T00:10:00Z", "bad_debt_recovered_at": "2024-01-01T00:50:00Z",
                   "time_under_water_seconds": 2400.0, "under_water_at_end": False}


def test_a_bad_debt_that_dips_to_zero_and_returns_has_not_recovered():
    got = bad_debt_over_time(_times(5), [0.0, 4.0, 0.0, 2.0, 1.0])
    assert got["bad_debt_recovered_at"] is None and got["under_water_at_end"]
    assert got["time_under_water_seconds"] == 1800.0 and got["peak_bad_debt_usd"] == 4.0


def test_no_bad_debt_is_never_under_water():
    got = bad_debt_over_time(_times(3), [0.0, 0.0, 0.0])
    assert got["first_bad_debt_at"] is None and got["time_under_water_seconds"] == 0.0


def _table(schema, rows):
    cols = {f.name: [r.get(f.name, np.nan if pa.types.is_floating(f.type) else None) for r in rows] for f in schema}
    for f in schema:
        if f.name in ("step", "round"):
            cols[f.name] = [0] * len(rows)
        if f.name == "timestamp":
            cols[f.name] = [T0] * len(rows)
        if f.name == "auction":
            cols[f.name] = [r.get("auction", -1) for r in rows]
    return pa.table(cols, schema=schema)


def test_borrowers_loss_adds_up_per_protocol():
    liq = _table(LIQUIDATIONS_SCHEMA, [
        # Aave: $1,000 of USDC repaid for 0.525 WETH at $2,000 = $1,050 seized: a 5 % bonus, $50 lost
        dict(protocol="aave-v3", action="liquidate", debt_asset="USDC", collateral_asset="WETH",
             debt_price=1.0, collateral_seized_usd=1050.0, debt_repaid_usd=1000.0),
        # Comet: 1 WETH ($2,000) absorbed at liquidation factor 0.93 against $1,500 of debt:
        # basePaidOut = 1,860 (1,500 repaid + 360 credited); the borrower lost 2,000 - 1,860 = $140
        dict(protocol="comet", action="absorb", debt_asset="USDC", collateral_asset="WETH",
             debt_price=1.0, collateral_seized_usd=2000.0, debt_repaid_usd=1500.0),
        # Maker: bark of 1 WETH ($2,000) for 1,000 DAI of debt, tab 1,130 with the 13 % chop
        dict(protocol="maker", action="bark", debt_asset="DAI", collateral_asset="WETH",
             debt_price=1.0, collateral_seized_usd=2000.0, debt_repaid_usd=1000.0),
        # Maker: bark of 1 WETH for 1,000 DAI, tab 1,130; still open at the end with 0.5 WETH left, tab 200
        dict(protocol="maker", action="bark", debt_asset="DAI", collateral_asset="WETH",
             debt_price=1.0, collateral_seized_usd=2000.0, debt_repaid_usd=1000.0),
    ])
    events = _table(EVENTS_SCHEMA, [
        dict(protocol="comet", action="absorb", asset="WETH", base_amount=1860.0),
        dict(protocol="maker", action="bark", auction=1, asset="WETH", base_amount=1130.0, tab=1130.0, lot=1.0),
        dict(protocol="maker", action="bark", auction=2, asset="WETH", base_amount=1130.0, tab=1130.0, lot=1.0),
        # auction 1: 0.6 WETH sold for the tab (the auction price had fallen to $1,883.33 < $2,000
        # oracle); 0.4 WETH returned to the owner at $2,000 = $800
        dict(protocol="maker", action="take", auction=1, asset="WETH", tab=0.0, lot=0.0, returned=0.4,
             oracle_price=2000.0),
        dict(protocol="maker", action="take", auction=2, asset="WETH", tab=200.0, lot=0.5, returned=0.0,
             oracle_price=2000.0),
    ])
    got = borrower_loss(NS(liquidations=liq, events=events), {"WETH": 1800.0, "DAI": 1.0, "USDC": 1.0})
    # Maker, auction 1: 2,000 - 1,000 - 800 = $200 lost (chop 130 + 70 of auction discount);
    # auction 2: 2,000 - 1,000 - (0.5 x 1,800 - 200 = 700 owed back) = $300 (chop 130 + 170)
    assert got["borrower_loss_by_protocol"] == {"aave-v3": 50.0, "comet": 140.0, "maker": 500.0}
    assert got["borrower_loss_usd"] == 690.0
    assert got["borrower_penalty_usd"] == pytest.approx(50.0 + 140.0 + 260.0)
    assert got["borrower_slippage_usd"] == pytest.approx(240.0)
    assert got["borrower_shortfall_usd"] == 0.0


def test_a_taking_worth_less_than_the_debt_is_a_shortfall_not_a_negative_slippage():
    liq = _table(LIQUIDATIONS_SCHEMA, [
        # Aave: $1,000 repaid for collateral worth $900 (the account was under water): -$100
        dict(protocol="aave-v3", action="liquidate", debt_asset="USDC", collateral_asset="WETH",
             debt_price=1.0, collateral_seized_usd=900.0, debt_repaid_usd=1000.0),
        # Maker: bark of 1 WETH worth $1,050 for 1,000 DAI of debt, tab 1,130: the chop can take only $50;
        # the auction sells the whole lot for $1,000 (taken at $1,000 < $1,050 oracle): $0 returned
        dict(protocol="maker", action="bark", debt_asset="DAI", collateral_asset="WETH",
             debt_price=1.0, collateral_seized_usd=1050.0, debt_repaid_usd=1000.0),
    ])
    events = _table(EVENTS_SCHEMA, [
        dict(protocol="maker", action="bark", auction=1, asset="WETH", base_amount=1130.0, tab=1130.0, lot=1.0),
        dict(protocol="maker", action="take", auction=1, asset="WETH", tab=130.0, lot=0.0, returned=0.0,
             oracle_price=1050.0),
    ])
    got = borrower_loss(NS(liquidations=liq, events=events), {"WETH": 1050.0, "DAI": 1.0, "USDC": 1.0})
    assert got["borrower_loss_usd"] == pytest.approx(-100.0 + 50.0)
    assert got["borrower_shortfall_usd"] == pytest.approx(-100.0)
    assert got["borrower_penalty_usd"] == pytest.approx(50.0)       # the chop, capped at what the lot could pay
    assert got["borrower_slippage_usd"] == pytest.approx(0.0)


def test_bad_debt_by_debt_asset_and_protocol_add_up():
    # reserves: USDC, WETH, DAI; account 0 (aave-v3) owes $60 USDC + $40 DAI against $70 of WETH
    # -> $30 bad debt: $18 USDC, $12 DAI; account 1 (aave-v3.3) had $15 burned repaying WETH
    book = NS(assets=["USDC", "WETH", "DAI"], price_assets=["USDC", "WETH", "DAI"], reserve_asset=np.array([0, 1, 2]),
              protocol=np.array(["aave-v3", "aave-v3.3", "maker"], dtype=object),
              accounts=np.array(["0xa", "0xb", "0xm"]), reserve_protocol=["aave-v3", "aave-v3", "maker"],
              debt=np.array([[60.0, 0, 40.0], [0, 0.01, 0], [0, 0, 500.0]]))
    liq = pa.table({"protocol": ["aave-v3.3"], "account": ["0xb"], "debt_asset": ["WETH"], "deficit_usd": [15.0]})
    outcome = NS(collateral=np.array([[0, 0.07, 0], [0, 0, 0], [0, 0, 0]]),
                 debt=np.array([[60.0, 0, 40.0], [0, 0, 0], [0, 0, 0]]), oracle=np.array([1.0, 1000.0, 1.0]),
                 prices=np.array([1.0, 1000.0, 1.0]),
                 liquidations=liq, protocols={"maker_vow_loss_usd": 25.0})
    by_debt = bad_debt_by_debt_asset(NS(book=book), outcome)
    assert by_debt == pytest.approx({"USDC": 18.0, "WETH": 15.0, "DAI": 12.0 + 25.0, NONE: 0.0})
    assert bad_debt_by_protocol(NS(book=book), outcome) == pytest.approx(
        {"aave-v3": 30.0, "aave-v3.3": 15.0, "maker": 25.0})


@pytest.fixture(scope="module")
def crash(small_lake):
    scenario = load_scenario("stylised-eth-crash")
    return run(make_config(scenario, small_lake), scenario)


def test_every_split_of_bad_debt_adds_up_to_it_on_a_replay(crash):
    m = crash.metrics
    assert m["bad_debt_usd"] > 0
    for key in ("bad_debt_usd_by_protocol", "bad_debt_usd_by_debt_asset", "bad_debt_usd_by_collateral"):
        assert sum(m[key].values()) == pytest.approx(m["bad_debt_usd"], rel=1e-9, abs=1e-6), key
    assert m["peak_bad_debt_usd"] >= m["bad_debt_usd"]
    steps = crash.outcome.steps.to_pandas()
    assert m["peak_bad_debt_usd"] == steps["bad_debt_usd"].max()
    assert steps["bad_debt_usd"].iloc[-1] == pytest.approx(m["bad_debt_usd"], rel=1e-9)


def test_volume_against_depth_is_what_the_steps_sold(crash):
    m, steps = crash.metrics, crash.outcome.steps.to_pandas()
    sold = steps.groupby("asset")[["sold", "sold_usd"]].sum()
    start = steps.sort_values("step").drop_duplicates("asset").set_index("asset")["price_exogenous"]
    assert any(v["depth_2pct_usd"] for v in m["volume_by_asset"].values())
    for a, v in m["volume_by_asset"].items():
        assert v["sold_usd"] == pytest.approx(sold.loc[a, "sold_usd"])
        if v["depth_2pct_usd"] is not None:      # units over units: the USD depth at the start price
            assert v["sold_over_depth_2pct"] == pytest.approx(sold.loc[a, "sold"] * start[a] / v["depth_2pct_usd"])


def test_builder_payments_are_the_contested_jobs_share_and_come_out_of_profit(crash):
    m, liq = crash.metrics, crash.outcome.liquidations.to_pandas()
    ev = crash.outcome.events.to_pandas()
    keepers = ev[ev["action"].isin(["take", "buyCollateral"])]
    assert m["builder_payments_modelled"] is True
    assert m["builder_payments_usd"] == pytest.approx(liq["builder_usd"].sum() + keepers["builder_usd"].sum(skipna=True))
    assert m["builder_payments_unmodelled"] == int(keepers["builder_usd"].isna().sum())
    paid = liq[liq["builder_usd"] > 0]
    assert len(paid) > 0                                  # the default field contests jobs
    gross = paid["proceeds_usd"] - paid["cost_usd"] - paid["gas_usd"] - paid["flash_fee_usd"]
    share = crash.config.competition.builder_share
    np.testing.assert_allclose(paid["builder_usd"], share * gross, rtol=1e-9)
    np.testing.assert_allclose(paid["profit_usd"], (1 - share) * gross, rtol=1e-9, atol=1e-9)
    # keepers' takes and buyCollateral pay the same share of what their trades realised
    bids = keepers[keepers["builder_usd"] > 0]
    assert set(bids["action"]) == {"take", "buyCollateral"}
    gross = bids["proceeds_usd"] - bids["cost_usd"] - bids["gas_usd"] - bids["flash_fee_usd"]
    np.testing.assert_allclose(bids["builder_usd"], share * gross, rtol=1e-9)


def test_row_order_sums_are_the_python_loops_sums_bit_for_bit():
    # np.sum adds pairwise and differs from a loop in the last bits; metrics.json must keep the loop's
    import numpy as np
    import pyarrow as pa
    from backtest.metrics.losses import row_order_sums, sequential_sum
    rng = np.random.default_rng(5)
    keys = rng.choice(["maker", "aave-v3", "comet", "aave-v2"], 20_000)
    values = rng.normal(0, 1e5, 20_000) * rng.random(20_000) ** 4
    loop: dict = {}
    for k, v in zip(keys.tolist(), values.tolist()):
        loop[k] = loop.get(k, 0.0) + v
    for arr in (pa.array(keys), pa.chunked_array([pa.array(keys[:7_000]), pa.array(keys[7_000:])])):
        got = row_order_sums(arr, values)
        assert list(got) == list(loop) and got == loop            # same keys, same order, same bits
    total = 0.0
    for v in values.tolist():
        total += v
    assert sequential_sum(values) == total and float(np.sum(values)) != total
    assert sequential_sum(np.array([])) == 0.0 and row_order_sums(pa.array([], pa.string()), np.array([])) == {}


def test_book_keys_are_kept_per_book_and_do_not_keep_it_alive():
    # a sweep's paths share one book: its keys are worked out once; another book gets its own
    import gc
    import weakref
    from backtest.metrics.attribution import book_keys

    class Book:            # weak-referenceable, as the loaded Book is
        def __init__(self, protocols, collateral):
            self.protocol = np.array(protocols, dtype=object)
            self.collateral = np.array(collateral)
            self.reserve_prices = np.array([1.0, 2000.0])
            self.assets = ["USDC", "WETH"]

    a = Book(["aave-v3", "comet"], [[10.0, 0.0], [0.0, 1.0]])
    b = Book(["maker", "maker"], [[0.0, 0.0], [50.0, 0.0]])
    keys = book_keys(a)
    assert book_keys(a) is keys
    assert keys.protocols == ["aave-v3", "comet"] and keys.main.tolist() == ["USDC", "WETH"]
    assert book_keys(b).protocols == ["maker"] and book_keys(b).pledged.tolist() == [False, True]
    gone = weakref.ref(a)
    del a, keys
    gc.collect()
    assert gone() is None                  # the kept keys hold it only weakly
