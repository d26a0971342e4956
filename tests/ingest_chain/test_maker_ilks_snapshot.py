"""`backtest snapshot` names each Maker vault's ilk, and the replay's book keeps ETH-A and ETH-C apart."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pytest

from backtest.ingest.sources import _row
from tests.ingest_chain.test_offline_protocols import DOG, E18, VAT, A, B, Logs, lake_of

SPOT = "0x" + "8" * 40
ETH_A, ETH_C = (name.encode().ljust(32, b"\0") for name in ("ETH-A", "ETH-C"))


def word(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


@pytest.fixture
def lake(tmp_path, capsys):
    from backtest.cli import main as cli
    from backtest.ingest.tables import BLOCKS
    from backtest.lake.io import write_parquet
    L = Logs()
    for ilk, mat in ((ETH_A, 145), (ETH_C, 170)):
        L.add("maker_vat_init", VAT, 1, ilk=ilk)
        L.add("maker_spotter_file", SPOT, 1, ilk=ilk, what=word("mat"), data=mat * 10**25)     # 145 %, 170 %
        L.add("maker_dog_file", DOG, 2, ilk=ilk, what=word("chop"), data=113 * E18 // 100)     # 13 % penalty
    L.add("maker_vat_frob", VAT, 3, i=ETH_A, u=A, v=A, w=A, dink=10 * E18, dart=5_000 * E18)
    L.add("maker_vat_frob", VAT, 3, i=ETH_C, u=B, v=B, w=B, dink=3 * E18, dart=1_000 * E18)
    lake_of(tmp_path, L, [_row("maker", "vat", VAT), _row("maker", "spotter", SPOT), _row("maker", "dog", DOG)],
            ["maker"])
    write_parquet(pa.table({"block_number": [9], "timestamp": [1_700_000_000], "block_hash": ["0x"]}, schema=BLOCKS),
                  tmp_path / "blocks" / "ethereum.parquet")
    assert cli(["snapshot", "--block", "9", "--lake", str(tmp_path)]) == 0
    capsys.readouterr()
    return tmp_path


def test_snapshot_writes_the_ilk_as_the_market_of_maker_positions_and_markets(lake):
    from backtest.lake.io import read_table
    rows = {(r["market"], r["account"], r["asset"]): (r["collateral"], r["debt"])
            for r in read_table(lake, "positions").to_pylist() if r["protocol"] == "maker"}
    assert rows == {("ETH-A", A, "WETH"): (10.0, 0.0), ("ETH-A", A, "DAI"): (0.0, 5_000.0),
                    ("ETH-C", B, "WETH"): (3.0, 0.0), ("ETH-C", B, "DAI"): (0.0, 1_000.0)}
    markets = {(r["market"], r["asset"]): (r["liquidation_threshold"], r["liquidation_bonus"])
               for r in read_table(lake, "markets").to_pylist() if r["protocol"] == "maker"}
    # LT = 1 / mat, bonus = chop - 1
    assert markets == {("ETH-A", "WETH"): (pytest.approx(1 / 1.45), pytest.approx(0.13)),
                       ("ETH-C", "WETH"): (pytest.approx(1 / 1.70), pytest.approx(0.13))}


def test_the_book_read_from_the_snapshot_has_a_weth_reserve_per_ilk(lake):
    from backtest.inputs.book import load_book
    from backtest.run import make_config
    from backtest.lake.io import write_table
    from backtest.scenarios import load_scenario
    when = datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    write_table(lake, "prices", pa.table({"asset": ["WETH", "DAI"], "timestamp": [when, when],
                                          "price_usd": [2_000.0, 1.0]}))
    scenario = load_scenario("stylised-eth-crash")
    book = load_book(lake, scenario, make_config(scenario, lake))
    assert list(zip(book.assets, book.reserve_ilk)) == [("DAI", ""), ("WETH", "ETH-A"), ("WETH", "ETH-C")]
    assert list(book.liquidation_threshold) == pytest.approx([0.0, 1 / 1.45, 1 / 1.70])
    # vault A (10 WETH) in ETH-A's column only, vault B (3 WETH) in ETH-C's; both owe DAI in one column
    assert book.collateral.tolist() == [[0.0, 10.0, 0.0], [0.0, 0.0, 3.0]] and book.debt[:, 0].tolist() == [5_000.0,
                                                                                                          1_000.0]
