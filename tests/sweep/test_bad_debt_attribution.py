"""`bad_debt_usd_by_collateral.*`: every dollar of bad debt credited to one asset, Comet's and
Maker's losses included, so the columns add up to `bad_debt_usd`."""

import io
from types import SimpleNamespace as NS

import numpy as np
import pyarrow as pa
import pytest

from backtest.scenarios import load_scenario
from backtest.sweep import run_sweep
from backtest.metrics.attribution import NONE, accounts_by_collateral, bad_debt_by_collateral

NO_LIQUIDATIONS = pa.table({"protocol": pa.array([], pa.string()), "account": pa.array([], pa.string()),
                            "deficit_usd": pa.array([], pa.float64())})


def _event(protocol, action, asset, auction=-1, amount=0.0, base_amount=0.0, tab=np.nan, lot=np.nan,
           inventory=np.nan):
    return dict(protocol=protocol, action=action, auction=auction, asset=asset, amount=amount,
                base_amount=base_amount, tab=tab, lot=lot, inventory=inventory)


def test_bad_debt_is_credited_to_each_accounts_largest_starting_collateral():
    # reserves: CRV, WETH (two price assets). Account 0: $300 CRV + $100 WETH -> main CRV;
    # account 1: $50 CRV + $200 WETH -> main WETH; account 2 had nothing -> `none`.
    book = NS(collateral=np.array([[600.0, 0.05], [100.0, 0.1], [0.0, 0.0]]), reserve_prices=np.array([0.5, 2000.0]),
              assets=["CRV", "WETH"], price_assets=["CRV", "WETH"], reserve_asset=np.array([0, 1]),
              protocol=np.array(["aave-v3.3"] * 3, dtype=object), accounts=np.array(["0xa", "0xb", "0xc"]))
    # at the end (CRV 0.25, WETH 1000): account 0 has 0 collateral, $120 debt -> $120 bad debt;
    # account 1 has $50 collateral against $80 debt -> $30, and had $15 burned as a v3.3 deficit
    # earlier -> $45 for WETH; account 2 owes 28 x 0.25 = $7 with nothing ever pledged
    outcome = NS(collateral=np.array([[0.0, 0.0], [0.0, 0.05], [0.0, 0.0]]),
                 debt=np.array([[480.0, 0.0], [320.0, 0.0], [28.0, 0.0]]), oracle=np.array([0.25, 1000.0]),
                 prices=np.array([0.25, 1000.0]),
                 liquidations=pa.table({"protocol": ["aave-v3.3", "aave-v3.3"], "account": ["0xb", "0xa"],
                                        "deficit_usd": [15.0, 0.0]}))
    assert accounts_by_collateral(NS(book=book), outcome) == {"CRV": 120.0, "WETH": 45.0, NONE: 7.0}


def _mechanism_book():
    """Comet borrows USDC against WETH/WBTC; Maker vaults owe DAI. No account is left with bad debt."""
    assets = ["DAI", "USDC", "WBTC", "WETH", "wstETH"]
    reserves = [("comet", "USDC"), ("comet", "WETH"), ("comet", "WBTC"), ("maker", "DAI"), ("maker", "WETH"),
                ("maker", "wstETH")]
    debt = np.zeros((2, len(reserves)))
    debt[0, 0], debt[1, 3] = 5000.0, 3000.0        # 0xc: Comet, USDC base; 0xm: Maker, DAI
    return NS(protocol=np.array(["comet", "maker"], dtype=object), accounts=np.array(["0xc", "0xm"]),
              assets=[a for _, a in reserves], reserve_protocol=[p for p, _ in reserves], price_assets=assets,
              reserve_asset=np.array([assets.index(a) for _, a in reserves]), debt=debt,
              collateral=np.array([[0, 3.0, 0.1, 0, 0, 0], [0, 0, 0, 0, 1.0, 2.0]]),
              reserve_prices=np.array([1.0, 1000.0, 20000.0, 1.0, 1000.0, 900.0]))


def test_comet_and_maker_losses_go_to_the_collateral_that_lost_the_money():
    book = _mechanism_book()
    # final oracle: DAI 1, USDC 1, WBTC 15,000, WETH 800, wstETH 900
    oracle = np.array([1.0, 1.0, 15000.0, 800.0, 900.0])
    events = [
        # Comet: WETH paid out 900 USDC, bought back for 950 -> 900 - 950 - 0 x 800 = -$50 (a gain);
        # WBTC paid out 1,800, none bought, 0.1 left -> 1,800 - 0.1 x 15,000 = +$300.
        # The reserves loss (2,700 - 950) - 0.1 x 15,000 = $250 all goes to WBTC.
        _event("comet", "absorb", "WETH", amount=1.0, base_amount=900.0, inventory=1.0),
        _event("comet", "absorb", "WBTC", amount=0.1, base_amount=1800.0, inventory=0.1),
        _event("comet", "buyCollateral", "WETH", amount=1.0, base_amount=950.0, inventory=0.0),
        # Maker auction 1 (WETH): the lot ran out with 400 DAI of tab left -> $400 on WETH.
        _event("maker", "bark", "WETH", auction=1, tab=1000.0, lot=1.0),
        _event("maker", "take", "WETH", auction=1, tab=400.0, lot=0.0),
        # auction 2 (wstETH) still open: 1,200 DAI of tab against 0.5 x 900 = $450 of lot -> $750.
        _event("maker", "bark", "wstETH", auction=2, tab=2000.0, lot=1.5),
        _event("maker", "take", "wstETH", auction=2, tab=1200.0, lot=0.5),
        # auction 3 (WETH): the tab was raised, the rest of the lot went back -> $0.
        _event("maker", "bark", "WETH", auction=3, tab=500.0, lot=1.0),
        _event("maker", "take", "WETH", auction=3, tab=0.0, lot=0.0),
    ]
    outcome = NS(collateral=np.zeros((2, 6)), debt=np.zeros((2, 6)), oracle=oracle,
                 prices=oracle[book.reserve_asset], liquidations=NO_LIQUIDATIONS,
                 events=pa.Table.from_pylist(events),
                 protocols={"comet_reserves_loss_usd": 250.0, "maker_vow_loss_usd": 1150.0})
    got = bad_debt_by_collateral(NS(book=book), outcome)
    assert got == {"DAI": 0.0, "USDC": 0.0, "WBTC": 250.0, "WETH": 400.0, "wstETH": 750.0, NONE: 0.0}
    assert sum(got.values()) == 250.0 + 1150.0


def test_a_loss_no_event_explains_goes_to_none_and_still_adds_up():
    book = _mechanism_book()
    outcome = NS(collateral=np.zeros((2, 6)), debt=np.zeros((2, 6)), oracle=np.ones(5), prices=np.ones(6),
                 liquidations=NO_LIQUIDATIONS, events=None, protocols={"comet_reserves_loss_usd": 12.5})
    got = bad_debt_by_collateral(NS(book=book), outcome)
    assert got[NONE] == 12.5 and sum(got.values()) == 12.5


@pytest.fixture(scope="module")
def drought_row(small_lake, tmp_path_factory):
    # venues at 0.1 % of the book's depth: Comet's reserves lose money on the 3,000-account sample
    # (Maker's auctions leave tab unraised, but within their penalty: the Vow loses nothing)
    scenario = load_scenario("stylised-keeper-drought")
    result = run_sweep(scenario, small_lake, tmp_path_factory.mktemp("drought"), overrides=["pool_depth_scale=0.001"],
                       workers=1, progress_stream=io.StringIO())
    return {k: v[0] for k, v in result.results.to_pydict().items()}


def test_a_sweep_rows_bad_debt_by_collateral_adds_up_with_comet_and_maker_losses(drought_row):
    row = drought_row
    comet, maker = row["comet_reserves_loss_usd"], row["maker_vow_loss_usd"]
    by_coll = {k.split(".", 1)[1]: v for k, v in row.items() if k.startswith("bad_debt_usd_by_collateral.")}
    # columns crediting the accounts alone (as before Comet and Maker were attributed) add up to
    # bad_debt_usd - comet - maker: short whenever either lost money, as Comet does here (pools this thin
    # cannot take its inventory back; its loss is hand-worked in tests/engine_mechanisms/test_comet_replay.py)
    assert comet > 0 and maker >= 0 and row["maker_uncovered_tab_usd"] > 0
    assert sum(by_coll.values()) == pytest.approx(row["bad_debt_usd"], rel=1e-12)
    # the sample's Comet and Maker collateral is WETH, WBTC and wstETH: their columns hold the losses
    assert by_coll["WETH"] + by_coll["WBTC"] + by_coll["wstETH"] >= comet + maker
    assert by_coll[NONE] == 0.0


def _burned_by_isin(book, liq):
    """attribution._burned as it was: the deficits picked in Python, the rows by np.isin over every account."""
    debt = liq["debt_asset"].to_pylist() if "debt_asset" in liq.column_names else [NONE] * liq.num_rows
    burned = [(p, a, d, x) for p, a, d, x in zip(liq["protocol"].to_pylist(), liq["account"].to_pylist(),
                                                   debt, liq["deficit_usd"].to_pylist()) if x]
    if not burned:
        return []
    accounts = np.asarray(book.accounts)
    hits = np.flatnonzero(np.isin(accounts, np.array(sorted({a for _, a, _, _ in burned}), dtype=accounts.dtype)))
    row = {(book.protocol[i], accounts[i]): int(i) for i in hits}
    return [(row[(p, a)], d, x) for p, a, d, x in burned]


def test_the_burned_deficits_and_their_rows_are_those_np_isin_found():
    # deficits of 0.0, -0.0 and null are no burn, NaN is one; an account in several protocols; one (protocol,
    # account) on two book rows (the last row's); with and without a debt_asset column; none burned
    from backtest.metrics.attribution import _burned
    rng = np.random.default_rng(5)
    accounts = np.array([f"0x{i % 40:02x}" for i in range(120)])
    protocols = np.array(rng.choice(["aave-v3.3", "morpho-blue", "aave-v3"], 120), dtype=object)
    protocols[[3, 43]], accounts[43] = "aave-v3.3", accounts[3]
    book = NS(accounts=accounts, protocol=protocols)
    rows = rng.integers(0, 120, 300)
    deficits = [[0.0, -0.0, np.nan, 1.5, 20.0, None][k] for k in rng.integers(0, 6, 300)]
    liq = pa.table({"protocol": protocols[rows].astype(str), "account": accounts[rows],
                    "debt_asset": rng.choice(["USDC", "DAI"], 300), "deficit_usd": pa.array(deficits, pa.float64())})
    for table in (liq, liq.drop_columns(["debt_asset"]), liq.slice(0, 0),
                  liq.set_column(3, "deficit_usd", pa.array([0.0] * 300))):
        assert repr(_burned(NS(book=book), NS(liquidations=table))) == repr(_burned_by_isin(book, table))
    got = _burned(NS(book=book), NS(liquidations=liq))
    assert len(got) > 20 and 3 not in [i for i, _, _ in got]          # row 3's key is row 43's
