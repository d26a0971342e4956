"""Dune lending.borrow / lending.supply CSV exports, in their exact column layout, into the lake."""

from __future__ import annotations

import csv

import pyarrow.parquet as pq
import pytest

from backtest.cli import main as cli
from backtest.ingest.dune import BORROW_COLUMNS, SUPPLY_COLUMNS, import_dune_csv
from backtest.ingest.tables import chain_query, connect_chain

USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead083c756cc2"
POOL = "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2"
A, B, C, D, L = ("0x" + c * 40 for c in "abcde")


def row(columns, **values):
    base = {"blockchain": "ethereum", "project": "aave", "version": "3", "block_month": "2023-03-01",
            "block_time": f"2023-03-11 01:{values.get('block_number', 0) % 60:02}:47.000 UTC",
            "project_contract_address": POOL, "amount_usd": ""}
    base.update({k: str(v) for k, v in values.items()})
    return [base.get(c, "") for c in columns]


def write(path, columns, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)
    return path


BORROWS = [
    row(BORROW_COLUMNS, transaction_type="borrow", loan_type="variable", symbol="USDC", token_address=USDC,
        borrower=A, on_behalf_of=A, amount=1000.5, amount_raw=1000500000, block_number=100, tx_hash="0x01", evt_index=3),
    row(BORROW_COLUMNS, transaction_type="repay", symbol="USDC", token_address=USDC, borrower=A, on_behalf_of=A,
        repayer=A, amount=-400.25, amount_raw=-400250000, block_number=105, tx_hash="0x02", evt_index=1),
    row(BORROW_COLUMNS, transaction_type="borrow_liquidation", symbol="USDC", token_address=USDC, borrower=A,
        on_behalf_of=A, liquidator=L, amount=-100, amount_raw=-100000000, block_number=110, tx_hash="0x03", evt_index=7),
    row(BORROW_COLUMNS, transaction_type="borrow", loan_type="variable", symbol="WETH", token_address=WETH,
        borrower=B, on_behalf_of=C, amount=2.5, amount_raw=2500000000000000000, block_number=120, tx_hash="0x04",
        evt_index=0),
]
SUPPLIES = [
    row(SUPPLY_COLUMNS, transaction_type="deposit", symbol="WETH", token_address=WETH, depositor=A, on_behalf_of=A,
        amount=10, amount_raw=10 * 10**18, block_number=90, tx_hash="0x05", evt_index=2),
    row(SUPPLY_COLUMNS, transaction_type="deposit_liquidation", symbol="WETH", token_address=WETH, depositor=A,
        on_behalf_of=A, liquidator=L, amount=-0.05, amount_raw=-5 * 10**16, block_number=110, tx_hash="0x03", evt_index=6),
    row(SUPPLY_COLUMNS, transaction_type="withdraw", symbol="WETH", token_address=WETH, depositor=A, on_behalf_of=A,
        withdrawn_to=D, amount=-3, amount_raw=-3 * 10**18, block_number=130, tx_hash="0x06", evt_index=4),
]


@pytest.fixture
def lake(tmp_path, capsys):
    borrows = write(tmp_path / "borrow.csv", BORROW_COLUMNS, BORROWS + [BORROWS[0]])   # last row: a duplicate
    supplies = write(tmp_path / "supply.csv", SUPPLY_COLUMNS, SUPPLIES)
    assert cli(["ingest", "--dune", str(borrows), "--dune", str(supplies), "--lake", str(tmp_path / "lake")]) == 0
    out = capsys.readouterr().out
    assert "4 lending_borrow rows" in out and "(1 duplicate rows dropped)" in out and "3 lending_supply rows" in out
    return tmp_path / "lake"


def flows(lake, block):
    rows = chain_query(connect_chain(lake), "lending_flows_at_block", {"block": block}).to_pylist()
    return {(r["account"], r["symbol"]): (r["net_supplied_raw"], r["net_borrowed_raw"]) for r in rows}


def test_imported_rows_keep_dunes_columns_types_and_signs(lake):
    rows = chain_query(connect_chain(lake), "lending_borrow").to_pylist()
    assert [r["transaction_type"] for r in rows] == ["borrow", "repay", "borrow_liquidation", "borrow"]
    assert [r["amount"] for r in rows] == [1000.5, -400.25, -100.0, 2.5]
    assert rows[3]["amount_raw"] == "2500000000000000000"        # exact, not a float
    assert str(rows[0]["block_time"]) == "2023-03-11 01:40:47+00:00"
    assert rows[0]["amount_usd"] is None and rows[1]["loan_type"] is None


def test_net_flows_at_a_block_from_dune_rows(lake):
    # block 108: USDC borrowed 1000.5 - repaid 400.25 = 600.25 -> 600250000 raw; WETH supplied 10
    assert flows(lake, 108) == {(A, "USDC"): ("0", "600250000"), (A, "WETH"): ("10000000000000000000", "0")}
    # block 200: USDC 600.25 - 100 liquidated = 500.25; WETH 10 - 0.05 seized - 3 withdrawn = 6.95;
    # the WETH borrow of B was on behalf of C: C owes it
    assert flows(lake, 200) == {(A, "USDC"): ("0", "500250000"), (A, "WETH"): ("6950000000000000000", "0"),
                                (C, "WETH"): ("0", "2500000000000000000")}


def test_the_lake_file_holds_each_positions_rows_together_in_chain_order(tmp_path):
    # chain order interleaves owners and tokens; the owner is on_behalf_of, else the borrower
    rows = [row(BORROW_COLUMNS, transaction_type="borrow", symbol=sym, token_address=token, borrower=who,
                on_behalf_of=behalf, amount=1, amount_raw=10**6, block_number=block, tx_hash=f"0x{block:02}", evt_index=0)
            for block, who, behalf, sym, token in [(1, D, "", "USDC", USDC), (2, A, A, "WETH", WETH),
                                                   (3, D, D, "USDC", USDC), (4, B, A, "USDC", USDC),
                                                   (5, A, A, "WETH", WETH)]]
    out = import_dune_csv(write(tmp_path / "b.csv", BORROW_COLUMNS, rows), tmp_path / "lake")[1]
    stored = pq.read_table(out)
    assert stored["block_number"].to_pylist() == [4, 2, 5, 1, 3]       # (A, USDC), (A, WETH) x2, (D, USDC) x2
    meta = pq.ParquetFile(out).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    assert "RLE_DICTIONARY" in encodings["token_address"] and "RLE_DICTIONARY" not in encodings["borrower"]


@pytest.mark.parametrize("change, message", [
    (lambda r: r.__setitem__(BORROW_COLUMNS.index("amount"), "400.25"), "column 'amount', row 2: a repay is negative"),
    (lambda r: r.__setitem__(BORROW_COLUMNS.index("transaction_type"), "flashloan"), "column 'transaction_type', row 2"),
    (lambda r: r.__setitem__(BORROW_COLUMNS.index("block_time"), "yesterday"), "column 'block_time', row 2"),
])
def test_a_bad_row_is_named_by_file_column_and_row(tmp_path, capsys, change, message):
    rows = [list(r) for r in BORROWS]
    change(rows[1])
    path = write(tmp_path / "bad.csv", BORROW_COLUMNS, rows)
    assert cli(["ingest", "--dune", str(path), "--lake", str(tmp_path / "lake")]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad.csv" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lake").exists()


def test_a_missing_column_is_named(tmp_path, capsys):
    cols = [c for c in BORROW_COLUMNS if c != "evt_index"]
    path = write(tmp_path / "short.csv", cols, [r[:-1] for r in BORROWS])
    assert cli(["ingest", "--dune", str(path), "--lake", str(tmp_path / "lake")]) == 2
    assert "column 'evt_index'" in capsys.readouterr().err


def test_snapshot_of_a_dune_lake_at_a_block_without_a_time_says_how_to_give_one(lake, capsys):
    # a Dune-only lake snapshots (tests/ingest_chain/test_dune_to_replay.py); a block none of its rows has
    # has no time in the lake: one line naming the ways to give it
    assert cli(["snapshot", "--block", "200", "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "no timestamp for block 200: pass --rpc" in err and "Dune exports: a block that one of their rows has" \
        in err and len(err.strip().splitlines()) == 1
    assert cli(["snapshot", "--block", "200", "--lake", str(lake.parent / "empty")]) == 2
    err = capsys.readouterr().err
    assert "run `backtest ingest` first" in err and len(err.strip().splitlines()) == 1
