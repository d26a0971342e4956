"""Morpho Blue in the replay: each (market, borrower) is its own book row, both of a market's reserves are
keyed by its id (as Maker's ilks), liquidators repay with the Morpho incentive factor and a liquidation
that takes the last collateral realises the rest of the debt as bad debt at once."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from backtest.run import make_config, run
from backtest.protocols.morpho_blue import maths
from backtest.protocols.morpho_blue.terms import morpho_blue_terms
from backtest.protocols.rules import RULES, Params
from backtest.scenarios import load_scenario

# (market id, collateral, loan, LLTV): ids are labels here; `backtest snapshot` writes the keccak ids
MARKETS = (("0x" + "a1" * 32, "WETH", "USDC", 0.86), ("0x" + "b2" * 32, "WBTC", "USDC", 0.86),
           ("0x" + "c3" * 32, "WETH", "USDT", 0.945))


def _append(path, rows: list[dict]) -> None:
    t = pq.read_table(path)
    extra = pa.Table.from_pylist([{f.name: r.get(f.name) for f in t.schema} for r in rows], schema=t.schema)
    pq.write_table(pa.concat_tables([t, extra]), path)


def morpho_lake(base, dest, n=60, seed=1):
    """The sample's Aave v3 book plus n borrowers spread over three Morpho markets at HF 1.0-1.4, ten of
    them in two markets at once; markets rows as `backtest snapshot` writes them."""
    shutil.copytree(base, dest)
    rng = np.random.default_rng(seed)
    pos_file = next((dest / "positions").glob("*.parquet"))
    mk_file = next((dest / "markets").glob("*.parquet"))
    first = pq.read_table(pos_file).slice(0, 1).to_pylist()[0]
    usd = {"WETH": 2_300.0, "WBTC": 42_000.0, "USDC": 1.0, "USDT": 1.0}
    rows, markets = [], []
    for k, (mid, coll, loan, lltv) in enumerate(MARKETS):
        bonus = float(maths.incentive_factor(lltv)) - 1
        markets += [dict(protocol="morpho-blue", market=mid, asset=coll, decimals=18, ltv=lltv,
                         liquidation_threshold=lltv, liquidation_bonus=bonus, close_factor=1.0, protocol_fee=0.0,
                         valid_from_block=first["block_number"] - 1),
                    dict(protocol="morpho-blue", market=mid, asset=loan, decimals=6, ltv=0.0,
                         liquidation_threshold=0.0, liquidation_bonus=0.0, close_factor=1.0, protocol_fee=0.0,
                         valid_from_block=first["block_number"] - 1)]
        for i in range(n // len(MARKETS)):
            account = f"0x{(i if i < 10 else 1000 * k + i):040x}"        # accounts 0-9 borrow in every market
            amount = float(10 ** rng.uniform(0, 2))
            debt = amount * usd[coll] * lltv / rng.uniform(1.0, 1.4)
            common = dict(protocol="morpho-blue", market=mid, account=account, block_number=first["block_number"],
                          timestamp=first["timestamp"], emode_category=None)
            rows += [dict(common, asset=coll, collateral=amount, debt=0.0),
                     dict(common, asset=loan, collateral=0.0, debt=debt)]
    _append(pos_file, rows)
    _append(mk_file, markets)
    return dest


@pytest.fixture(scope="module")
def replay(sample_lake, tmp_path_factory):
    lake = morpho_lake(sample_lake(600, protocols=("aave-v3",)), tmp_path_factory.mktemp("morpho") / "lake")
    scenario = load_scenario("stylised-eth-crash")
    # liquidators that wait 1,500 blocks (5 h) let accounts sink below water first, so some liquidations
    # take the last collateral and realise bad debt (acting at once, they leave none on this book)
    return run(make_config(scenario, lake, ["liquidator.latency_blocks=1500", "competitors=none"]), scenario)


def test_each_market_position_is_its_own_row_on_its_markets_reserves(replay):
    book = replay.inputs.book
    rows = [i for i, p in enumerate(book.protocol) if p == "morpho-blue"]
    assert len(rows) == 60 and all("@" in book.accounts[i] for i in rows)
    # account 0 borrows in all three markets: three rows, each with only its own market's reserves
    zero = [i for i in rows if book.accounts[i].startswith(f"0x{0:040x}@")]
    assert len(zero) == 3
    morpho_reserves = [j for j, p in enumerate(book.reserve_protocol) if p == "morpho-blue"]
    assert len(morpho_reserves) == 6                       # (collateral, loan) x 3 markets, USDC twice apart
    for i in zero:
        used = np.flatnonzero((book.collateral[i] > 0) | (book.debt[i] > 0))
        assert len(used) == 2 and set(used) <= set(morpho_reserves)


def test_liquidators_repay_with_the_morpho_incentive(replay):
    liq = replay.outcome.liquidations.to_pandas()
    mine = liq[liq["protocol"] == "morpho-blue"]
    assert len(mine) > 0
    lif = {("WETH", "USDC"): maths.incentive_factor(0.86), ("WBTC", "USDC"): maths.incentive_factor(0.86),
           ("WETH", "USDT"): maths.incentive_factor(0.945)}
    for r in mine.itertuples():
        ratio = r.collateral_seized * r.collateral_price / (r.debt_repaid * r.debt_price)
        assert ratio == pytest.approx(float(lif[(r.collateral_asset, r.debt_asset)]), rel=1e-9)
        assert r.protocol_fee == 0.0
    # bad debt is realised (burned from the account) when a liquidation took the last collateral: per
    # market from the liquidations' accounts (ACCOUNT@MARKET), and in the run's bad debt by protocol
    realised = mine[mine["deficit_usd"] > 0]
    assert len(realised) > 0
    per_market = realised.groupby(realised["account"].str.split("@").str[1])["deficit_usd"].sum()
    assert set(per_market.index) <= {m for m, *_ in MARKETS} and per_market.sum() > 0
    assert replay.metrics["bad_debt_usd_by_protocol"]["morpho-blue"] >= per_market.sum() * (1 - 1e-9)
    # the run's bad debt per market: realised plus what is left on accounts, adding up to Morpho's total
    by_market = replay.metrics["bad_debt_usd_by_morpho_market"]
    assert set(by_market) == {m for m, *_ in MARKETS}
    assert sum(by_market.values()) == pytest.approx(replay.metrics["bad_debt_usd_by_protocol"]["morpho-blue"],
                                                    rel=1e-12)
    for market, realised in per_market.items():
        assert by_market[market] >= realised * (1 - 1e-9)


def test_the_engine_runs_the_differential_tested_function():
    """RULES['morpho-blue'].terms is maths.liquidate_at on one row: same numbers as the array function."""
    assert RULES["morpho-blue"].terms is morpho_blue_terms
    rng = np.random.default_rng(4)
    for _ in range(200):
        coll, debt = np.array([rng.uniform(0.1, 10), 0.0]), np.array([0.0, rng.uniform(100, 30_000)])
        price = np.array([rng.uniform(500, 3_000), 1.0])
        lltv = float(rng.choice([0.625, 0.86, 0.945]))
        p = Params(bonus=np.array([float(maths.incentive_factor(lltv)) - 1, 0.0]), protocol_fee=np.zeros(2),
                   close_factor=np.ones(2))
        size = rng.uniform(0.1, 1.0)
        repaid, seized, fee = morpho_blue_terms(0.9, 1, 0, coll, debt, price, p, size)
        want = maths.liquidate(debt[1] * size, debt[1], coll[0], price[0] / price[1], lltv)
        assert (repaid, seized, fee) == pytest.approx((float(want.repaid), float(want.seized), 0.0), rel=1e-12)


def test_sample_data_morpho_markets_share_the_venues_and_replay(tmp_path):
    """`backtest sample-data --morpho`: a few isolated markets over the sample's assets (ids as the contract
    computes them), liquidated into the same venues as the rest of the sample."""
    from backtest.cli import main
    from backtest.protocols.morpho_blue import MarketParams
    from backtest.sample import morpho
    from backtest.sample.lake import ASSETS
    assert main(["sample-data", "--out", str(tmp_path), "--accounts", "2000", "--seed", "2", "--morpho"]) == 0
    mk = pq.read_table(next((tmp_path / "markets").glob("*.parquet"))).to_pandas()
    rows = mk[mk["protocol"] == "morpho-blue"]
    ids = morpho.market_ids(ASSETS)
    assert set(rows["market"]) == set(ids) and len(rows) == 2 * len(ids)
    coll, loan, lltv, _ = morpho.MARKETS[0]
    assert ids[0] == MarketParams(ASSETS[loan][0], ASSETS[coll][0], morpho.ZERO, morpho.ADAPTIVE_CURVE_IRM,
                                  lltv * 10**15).id
    # queries/health.sql: one row per (market, borrower), with that market's LLTV, as the book has them
    from backtest.queries import run as query
    health = query("health", tmp_path).to_pandas()
    health = health[health["protocol"] == "morpho-blue"].set_index("account")
    pos = pq.read_table(next((tmp_path / "positions").glob("*.parquet"))).to_pandas()
    pos = pos[pos["protocol"] == "morpho-blue"]
    assert len(health) == len(pos.groupby(["market", "account"]))
    lltv = {(r.market, r.asset): r.liquidation_threshold for r in rows.itertuples()}
    price = {"WETH": ASSETS["WETH"][5], "WBTC": ASSETS["WBTC"][5], "wstETH": ASSETS["wstETH"][5], "USDC": 1.0,
             "USDT": 1.0}
    for (market, account), g in list(pos.groupby(["market", "account"]))[:50]:
        c, d = g[g["collateral"] > 0].iloc[0], g[g["debt"] > 0].iloc[0]
        want = c.collateral * price[c.asset] * lltv[(market, c.asset)] / (d.debt * price[d.asset])
        assert health.loc[f"{account}@{market}", "health_factor"] == pytest.approx(want, rel=1e-6)
    scenario = load_scenario("stylised-eth-crash")
    out = run(make_config(scenario, tmp_path, []), scenario)
    liq = out.outcome.liquidations.to_pandas()
    assert (liq["protocol"] == "morpho-blue").sum() > 0
    assert "morpho-blue" in out.metrics["bad_debt_usd_by_protocol"]
