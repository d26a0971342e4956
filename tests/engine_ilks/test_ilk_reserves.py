"""A Maker book with ETH-A and ETH-C vaults: both hold WETH, each ilk is a reserve of its own."""

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from backtest.inputs.book import load_book
from backtest.run import make_config
from backtest.errors import InputError
from backtest.lake.io import read_table, write_table
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")
MAT = {"ETH-A": 1.45, "ETH-C": 1.70}
CHOP = {"ETH-A": 1.13, "ETH-C": 1.10}      # ETH-C's chop made different here to tell the rows apart


def _rewrite(lake, name, table):
    for f in (lake / name).glob("*.parquet"):
        f.unlink()
    write_table(lake, name, table)


def _two_ilks(small_lake, tmp_path, ilks=("ETH-A", "ETH-C"), markets_for=("ETH-A", "ETH-C")):
    """The sample's Maker WETH vaults, every other one (by account) moved to the second ilk, as
    `backtest snapshot` writes them: the ilk's name in `market`, on the vault's gem and DAI rows."""
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake)
    pos = read_table(lake, "positions")
    maker = pc.equal(pos["protocol"], "maker")
    weth_vaults = sorted(set(pos.filter(pc.and_(maker, pc.equal(pos["asset"], "WETH")))["account"].to_pylist()))
    ilk_of = {a: ilks[k % 2] for k, a in enumerate(weth_vaults)}
    market = [ilk_of.get(a, m) if p == "maker" else m for p, a, m in
              zip(pos["protocol"].to_pylist(), pos["account"].to_pylist(), pos["market"].to_pylist())]
    _rewrite(lake, "positions", pos.set_column(pos.schema.get_field_index("market"), "market", pa.array(market)))
    mk = read_table(lake, "markets")
    weth_row = pc.and_(pc.equal(mk["protocol"], "maker"), pc.equal(mk["asset"], "WETH"))
    (row,) = mk.filter(weth_row).to_pylist()
    rows = [dict(row, market=i, ltv=1 / MAT[i], liquidation_threshold=1 / MAT[i], liquidation_bonus=CHOP[i] - 1)
            for i in markets_for]
    _rewrite(lake, "markets", pa.concat_tables([mk.filter(pc.invert(weth_row)),
                                                pa.Table.from_pylist(rows, schema=mk.schema)]))
    return lake, ilk_of


def test_each_ilk_is_a_reserve_with_its_own_threshold_and_penalty(small_lake, tmp_path):
    lake, ilk_of = _two_ilks(small_lake, tmp_path)
    book = load_book(lake, SCENARIO, make_config(SCENARIO, lake))
    cols = [j for j, (p, a) in enumerate(zip(book.reserve_protocol, book.assets)) if (p, a) == ("maker", "WETH")]
    assert [book.reserve_ilk[j] for j in cols] == ["ETH-A", "ETH-C"]
    a, c = cols
    # LT = 1 / mat: 0.6897 for ETH-A, 0.5882 for ETH-C; bonus = chop - 1
    assert book.liquidation_threshold[a] == pytest.approx(1 / 1.45) and book.liquidation_bonus[a] == pytest.approx(0.13)
    assert book.liquidation_threshold[c] == pytest.approx(1 / 1.70) and book.liquidation_bonus[c] == pytest.approx(0.10)
    # every vault's WETH sits in its own ilk's column, none in the other
    for account, ilk in ilk_of.items():
        i = int(np.flatnonzero(book.accounts == account)[0])
        mine, other = (a, c) if ilk == "ETH-A" else (c, a)
        assert book.collateral[i, mine] > 0 and book.collateral[i, other] == 0
    # DAI stays one reserve that every ilk's vaults owe; the other reserves carry no ilk
    dai = [j for j, (p, x) in enumerate(zip(book.reserve_protocol, book.assets)) if (p, x) == ("maker", "DAI")]
    assert len(dai) == 1 and book.reserve_ilk[dai[0]] == "" and book.debt[:, dai[0]].sum() > 0
    assert {book.reserve_ilk[j] for j, p in enumerate(book.reserve_protocol) if p != "maker"} == {""}


def test_the_sample_keeps_one_maker_reserve_per_asset_named_after_its_default_ilk(small_lake):
    book = load_book(small_lake, SCENARIO, make_config(SCENARIO, small_lake))
    maker = {a: book.reserve_ilk[j] for j, (p, a) in enumerate(zip(book.reserve_protocol, book.assets)) if p == "maker"}
    assert maker == {"DAI": "", "WBTC": "WBTC-A", "WETH": "ETH-A", "wstETH": "WSTETH-A"}


def test_an_ilk_without_its_markets_row_is_refused_naming_the_ilks_there_are(small_lake, tmp_path):
    lake, _ = _two_ilks(small_lake, tmp_path, ilks=("ETH-A", "ETH-B"), markets_for=("ETH-A", "ETH-C"))
    with pytest.raises(InputError, match="maker WETH of ilk \\(market\\) 'ETH-B'.*name ETH-A, ETH-C"):
        load_book(lake, SCENARIO, make_config(SCENARIO, lake))


def test_one_markets_row_serves_an_asset_whose_positions_name_their_market_otherwise(small_lake, tmp_path):
    # positions split ETH-A / ETH-C but the markets table has one Maker WETH row (named ETH-A):
    # both reserves take it, as a lake that names positions and markets apart always did
    lake, _ = _two_ilks(small_lake, tmp_path, markets_for=("ETH-A",))
    book = load_book(lake, SCENARIO, make_config(SCENARIO, lake))
    cols = [j for j, (p, a) in enumerate(zip(book.reserve_protocol, book.assets)) if (p, a) == ("maker", "WETH")]
    assert list(book.liquidation_threshold[cols]) == pytest.approx([1 / 1.45, 1 / 1.45])
