"""Real data in without surprises (issue 20): a snapshot of a lake decoded from a cryo dump without an RPC,
tables that land together or not at all, Compound v2 debt the lake cannot compute kept as unknown (never 0)
and reported by health and the replay's book, and two different logs at one (block, log index) named."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backtest.cli import main as cli
from backtest.ingest.events import BY_TABLE, _ev
from backtest.ingest.logs import logs_to_table, write_range
from backtest.ingest.sources import _row
from backtest.lake.io import read_table, table_files
from tests.ingest_chain.logmaker import encode_log
from tests.ingest_chain.test_offline_protocols import CTOKEN, E18, A, B, Logs, lake_of

PAIR, FACTORY, T0, T1 = ("0x" + c * 40 for c in "9876")
T_BLOCK = 1_700_000_000


def cryo_dump(folder, logs, blocks):
    """A cryo dump as `cryo logs` and `cryo blocks` write it: our logs files are cryo's (test_cryo_dump.py
    checks that against the real cryo), and the blocks dataset's columns are cryo's (block_hash binary,
    block_number and timestamp u32)."""
    write_range(folder, "ethereum", 0, 99, logs_to_table(logs, 1))
    pq.write_table(pa.table({"block_hash": pa.array([n.to_bytes(32, "big") for n in blocks], pa.binary()),
                             "block_number": pa.array(blocks, pa.uint32()),
                             "timestamp": pa.array([T_BLOCK + 12 * n for n in blocks], pa.uint32())}),
                   folder / "ethereum__blocks__00000000_to_00000099.parquet")


def sync_logs(with_factory: bool) -> list[dict]:
    sync = BY_TABLE["uniswap_v2_pair_sync"]
    logs = [encode_log(sync, {"reserve0": 5 * E18, "reserve1": 10_000 * 10**6}, address=PAIR, block=10, log_index=0),
            encode_log(sync, {"reserve0": 4 * E18, "reserve1": 12_000 * 10**6}, address=PAIR, block=20, log_index=3)]
    if with_factory:
        created = BY_TABLE["uniswap_v2_factory_pair_created"]
        logs.insert(0, encode_log(created, {"token0": T0, "token1": T1, "pair": PAIR, "allPairsLength": 1},
                                  address=FACTORY, block=5, log_index=0))
    return logs


@pytest.mark.parametrize("with_factory", [False, True])
def test_a_uniswap_v2_snapshot_from_a_cryo_dump_without_rpc(tmp_path, capsys, with_factory):
    dump, lake = tmp_path / "dump", tmp_path / "lake"
    cryo_dump(dump, sync_logs(with_factory), [5, 10, 20, 30])
    addresses = f"pair={PAIR}" + (f",factory={FACTORY}" if with_factory else "")
    assert cli(["ingest", "--source", "uniswap-v2", "--cryo", str(dump), "--lake", str(lake),
                "--address", addresses]) == 0
    assert cli(["snapshot", "--block", "30", "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    (row,) = read_table(lake, "pools").to_pylist()
    # the block's time came from the dump's blocks dataset; the v2 fee is every pair's 0.3 %
    assert (row["pool"], row["fee"], row["timestamp"]) == \
        (PAIR, 0.003, datetime.fromtimestamp(T_BLOCK + 360, tz=timezone.utc))
    fix = "ingest the pool with --rpc, or its factory's creation event (--address factory=0x...)"
    if with_factory:      # tokens from PairCreated (their addresses stand in for symbols); decimals still unknown
        assert (row["token0"], row["token1"]) == (T0, T1)
        assert row["unknown"] == f"decimals0 (reserves), decimals1 (reserves): {fix}"
    else:
        assert (row["token0"], row["token1"]) == (None, None)
        assert row["unknown"] == f"token0, token1, decimals0 (reserves), decimals1 (reserves): {fix}"
    assert (row["reserve0"], row["reserve1"]) == (None, None)      # unknown, never a guessed scale
    assert "1 rows have amounts the lake cannot compute" in out


def test_a_snapshot_lands_whole_or_not_at_all(tmp_path, monkeypatch, capsys):
    dump, lake = tmp_path / "dump", tmp_path / "lake"
    cryo_dump(dump, sync_logs(True), [5, 10, 20, 30])
    assert cli(["ingest", "--source", "uniswap-v2", "--cryo", str(dump), "--lake", str(lake),
                "--address", f"pair={PAIR},factory={FACTORY}"]) == 0
    assert cli(["snapshot", "--block", "30", "--lake", str(lake)]) == 0
    before = {p: p.read_bytes() for name in ("pools", "positions") for p in table_files(lake, name)}
    # a builder that makes a bad row (a fee above 50 %) at a later block: nothing of that snapshot is written
    import backtest.ingest.positions as snapshot

    def bad_pools(raw, block, ts):
        t = real(raw, block, ts)
        return t.set_column(t.schema.get_field_index("fee"), "fee", pa.array([0.9] * t.num_rows))
    real = snapshot.lake_pools
    monkeypatch.setattr(snapshot, "lake_pools", bad_pools)
    assert cli(["snapshot", "--block", "20", "--lake", str(lake)]) == 2
    assert "column 'fee', row 1: must be <= 0.5" in capsys.readouterr().err
    after = {p: p.read_bytes() for name in ("pools", "positions") for p in table_files(lake, name)}
    assert after == before and not list(lake.glob(".write.*"))
    # and a rerun at the same block that fails keeps the earlier file of that block as it was
    assert cli(["snapshot", "--block", "30", "--lake", str(lake)]) == 2
    assert {p: p.read_bytes() for name in ("pools",) for p in table_files(lake, name)} == \
        {p: b for p, b in before.items() if p.parent.name == "pools"}


def accrue(L, block, cash_prior, index, total_borrows):
    L.add("compound_v2_ctoken_accrue_interest", CTOKEN, block, cashPrior=cash_prior, interestAccumulated=0,
          borrowIndex=index, totalBorrows=total_borrows)


def compound_lake(tmp_path, capsys):
    """A lake whose first event of B is a Borrow with no AccrueInterest before it (the lake starts late, or
    only the pre-2019 3-field AccrueInterest, which is not decoded, precedes it)."""
    from backtest.ingest.tables import BLOCKS
    from backtest.lake.io import write_parquet, write_table
    L, ct, cp = Logs(), "compound_v2_ctoken_", "compound_v2_comptroller_"
    COMPTROLLER = "0x" + "6" * 40
    M = 10**6
    L.add(cp + "new_liquidation_incentive", COMPTROLLER, 1, oldLiquidationIncentiveMantissa=0,
          newLiquidationIncentiveMantissa=108 * E18 // 100)
    L.add(cp + "new_collateral_factor", COMPTROLLER, 1, cToken=CTOKEN, oldCollateralFactorMantissa=0,
          newCollateralFactorMantissa=75 * E18 // 100)
    old = _ev("compound-v2", "ctoken", "AccrueInterest(uint256 interestAccumulated, uint256 borrowIndex, "
              "uint256 totalBorrows)")                    # compound-protocol before v2.3 (2019-11)
    L.logs.append(encode_log(old, {"interestAccumulated": 0, "borrowIndex": E18, "totalBorrows": 0},
                             address=CTOKEN, block=2, log_index=0))
    L.add(ct + "borrow", CTOKEN, 3, borrower=B, borrowAmount=300 * M, accountBorrows=300 * M, totalBorrows=300 * M)
    accrue(L, 4, 0, E18, 300 * M)
    L.add(ct + "mint", CTOKEN, 4, minter=A, mintAmount=1000 * M, mintTokens=50_000 * 10**8)
    L.add(ct + "transfer", CTOKEN, 4, **{"from": CTOKEN, "to": A, "amount": 50_000 * 10**8})
    L.add(cp + "market_entered", COMPTROLLER, 4, cToken=CTOKEN, account=A)
    L.add(ct + "borrow", CTOKEN, 5, borrower=A, borrowAmount=100 * M, accountBorrows=100 * M, totalBorrows=400 * M)
    lake_of(tmp_path, L, [_row("compound-v2", "comptroller", COMPTROLLER),
                          _row("compound-v2", "ctoken", CTOKEN, asset="0x" + "c" * 40, symbol="USDC", decimals=6)],
            ["compound-v2"])
    write_parquet(pa.table({"block_number": [9], "timestamp": [T_BLOCK], "block_hash": ["0x"]}, schema=BLOCKS),
                  tmp_path / "blocks" / "ethereum.parquet")
    assert cli(["snapshot", "--block", "9", "--lake", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    when = datetime.fromtimestamp(T_BLOCK, tz=timezone.utc)
    write_table(tmp_path, "prices", pa.table({"asset": ["USDC"], "timestamp": [when], "price_usd": [1.0]}))
    return out


def test_a_compound_borrow_without_an_index_is_unknown_not_zero(tmp_path, capsys):
    out = compound_lake(tmp_path, capsys)
    rows = {r["account"]: r for r in read_table(tmp_path, "positions").to_pylist()}
    # A: cash 0 + 1000 minted - 100 borrowed, borrows 400: (900 + 400) * 1e18 / 50,000e8 per cToken -> 1300 USDC
    assert rows[A]["debt"] == 100.0 and rows[A]["collateral"] == 1300.0 and rows[A]["unknown"] is None
    assert rows[B]["debt"] is None          # was 0 before: coalesce(..., '0')
    assert rows[B]["unknown"].startswith("debt: no AccrueInterest before the account's last Borrow/RepayBorrow "
                                         "(block 3) in the lake") and "pre-2019 3-field" in rows[B]["unknown"]
    assert "1 rows have amounts the lake cannot compute" in out

    # health: B's health factor is empty (not +inf from a debt of 0), and it says so
    assert cli(["health", "--lake", str(tmp_path), "--out", str(tmp_path / "h.parquet")]) == 0
    said = capsys.readouterr().out
    assert "1 (account, snapshot) rows hold an amount the lake cannot compute" in said and B in said
    hf = {r["account"]: (r["health_factor"], r["unknown_amounts"]) for r in pq.read_table(tmp_path / "h.parquet")
          .to_pylist()}
    assert hf[B] == (None, 1) and hf[A] == (pytest.approx(1300 * 0.75 / 100), 0)

    # the replay's book leaves B out, whole, and warns with the reason
    from backtest.inputs.book import load_book
    from backtest.run import make_config
    from backtest.lake.validate import UnknownAmountsWarning
    from backtest.scenarios import load_scenario
    scenario = load_scenario("stylised-eth-crash")
    with pytest.warns(UnknownAmountsWarning, match=f"1 accounts left out .*compound-v2 {B} USDC: debt: no AccrueInterest"):
        book = load_book(tmp_path, scenario, make_config(scenario, tmp_path))
    assert list(book.accounts) == [A] and book.debt.sum() == 100.0
    # and so does `backtest replay` (the warning is its report; the metrics count A alone)
    capsys.readouterr()
    with pytest.warns(UnknownAmountsWarning, match="1 accounts left out"):
        assert cli(["replay", "--lake", str(tmp_path), "--out", str(tmp_path / "out"), "--json"]) == 0
    import json
    metrics = json.loads(capsys.readouterr().out)
    assert (metrics["accounts"], metrics["debt_usd_start"]) == (1, 100.0)


def test_the_other_position_queries_leave_no_unknown_as_zero(tmp_path):
    """Aave: a balance whose reserve has no ReserveDataUpdated yet is unknown (ray_mul of no index)."""
    from backtest.ingest.positions import lake_positions
    t = pa.table({"account": [A, B], "asset": ["0x" + "c" * 40] * 2, "symbol": ["USDC"] * 2, "decimals": [6, None],
                  "scaled_collateral": ["5", "0"], "scaled_debt": ["0", "7"], "collateral_raw": [None, "0"],
                  "debt_raw": ["0", "7000000"], "collateral_enabled": [True, False]})
    rows = lake_positions({"aave-v3": t}, 9, T_BLOCK, "ethereum").to_pylist()
    assert [(r["collateral"], r["debt"]) for r in rows] == [(None, 0.0), (0.0, None)]
    assert rows[0]["unknown"] == "no ReserveDataUpdated of reserve 0x" + "c" * 40 + " at or before the block, so no index"
    assert rows[1]["unknown"] == "decimals of the reserve: ingest the pool with --rpc"


def test_two_different_logs_at_one_position_are_named(tmp_path, capsys):
    sync = BY_TABLE["uniswap_v2_pair_sync"]
    one = encode_log(sync, {"reserve0": 1, "reserve1": 2}, address=PAIR, block=10, log_index=4)
    same = dict(one)                                   # the same log again (overlapping windows): no warning
    other = dict(one, transactionHash="0x" + "ab" * 32, data=encode_log(sync, {"reserve0": 3, "reserve1": 4},
                                                                       address=PAIR, block=10, log_index=4)["data"])
    write_range(tmp_path / "logs", "ethereum", 0, 19, logs_to_table([one], 1))
    write_range(tmp_path / "logs", "ethereum", 10, 29, logs_to_table([same], 1))
    assert capsys.readouterr().err == ""
    write_range(tmp_path / "logs", "ethereum", 0, 39, logs_to_table([other], 1))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "two different logs at block 10, log index 4" in err[0]
    assert f"kept tx 0x{'ab' * 32}" in err[0] and one["transactionHash"] in err[0]

    # a cryo dump with two files over the same blocks: named at ingest too
    dump = tmp_path / "dump"
    dump.mkdir()
    for name, log in (("00000000_to_00000019", one), ("00000010_to_00000029", other)):
        pq.write_table(logs_to_table([log], 1), dump / f"ethereum__logs__{name}.parquet")
    assert cli(["ingest", "--source", "uniswap-v2", "--cryo", str(dump), "--lake", str(tmp_path / "lake"),
                "--address", f"pair={PAIR}"]) == 0
    err = capsys.readouterr().err
    assert "two different logs at block 10, log index 4" in err and one["transactionHash"] in err
    assert "0x" + "ab" * 32 in err


@pytest.mark.parametrize("verb", ["snapshot", "ingest", "health"])
def test_every_option_has_help_and_the_lake_says_its_default(verb):
    import argparse

    from backtest.cli import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[verb]
    options = [a for a in sub._actions if a.option_strings and a.dest != "help"]
    assert options and [a.option_strings[0] for a in options if not a.help] == []
    lake = next(a for a in options if a.dest == "lake").help
    assert "default" in lake and "$BACKTEST_LAKE" in lake


def test_an_aave_pool_decoded_without_its_tokens_says_why_there_are_no_positions(tmp_path, capsys):
    """`ingest --cryo` of the pool alone, no RPC: its Borrow events are decoded but no aToken/debt token is
    known, so no balance can be rebuilt; the snapshot says so instead of reporting an empty book."""
    pool, reserve = "0x" + "87" * 20, "0x" + "c" * 40
    borrow = BY_TABLE["aave_v3_pool_borrow"]
    logs = [encode_log(borrow, {"reserve": reserve, "user": A, "onBehalfOf": A, "amount": 10**6, "interestRateMode": 2,
                                "borrowRate": 0, "referralCode": 0}, address=pool, block=10, log_index=0)]
    cryo_dump(tmp_path / "dump", logs, [10, 30])
    assert cli(["ingest", "--source", "aave-v3", "--cryo", str(tmp_path / "dump"), "--lake", str(tmp_path / "lake"),
                "--address", f"pool={pool}"]) == 0
    assert cli(["snapshot", "--block", "30", "--lake", str(tmp_path / "lake")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "aave-v3: the pool's events are in the lake but not its aTokens'" in err
    assert "ingest the pool with --rpc" in err


def test_write_tables_puts_back_what_was_there_when_a_move_fails(tmp_path, monkeypatch):
    import os

    import backtest.lake.io as io
    ticks = lambda tick: pa.table({"pool": [PAIR], "block_number": [9], "tick": pa.array([tick], pa.int32()),  # noqa: E731
                                   "liquidity_net": ["1"]})
    cats = lambda ltv: pa.table({"protocol": ["aave-v3"], "category": pa.array([1], pa.int32()), "ltv": [ltv],  # noqa: E731
                                 "liquidation_threshold": [0.95], "liquidation_bonus": [0.01],
                                 "valid_from_block": [1]})
    first = io.write_tables(tmp_path, {"pool_ticks": ticks(5), "emode_categories": cats(0.9)}, "x.parquet")
    before = {name: p.read_bytes() for name, p in first.items()}
    real, moves = os.replace, []

    def failing(src, dst):
        moves.append(dst)
        if len(moves) == 4:          # old ticks out, new ticks in, old categories out, then the disk fails
            raise OSError("disk full")
        return real(src, dst)
    monkeypatch.setattr(io.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        io.write_tables(tmp_path, {"pool_ticks": ticks(7), "emode_categories": cats(0.8)}, "x.parquet")
    monkeypatch.setattr(io.os, "replace", real)
    assert {name: p.read_bytes() for name, p in first.items()} == before      # both files as they were
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emode_categories", "pool_ticks"]   # no staging left


def test_markets_rows_leave_unknown_decimals_empty_not_18(tmp_path):
    from backtest.ingest.markets import compound_v2_markets
    from backtest.lake.validate import validate_markets
    L, cp = Logs(), "compound_v2_comptroller_"
    COMPTROLLER = "0x" + "6" * 40
    L.add(cp + "new_liquidation_incentive", COMPTROLLER, 1, oldLiquidationIncentiveMantissa=0,
          newLiquidationIncentiveMantissa=108 * E18 // 100)
    L.add(cp + "new_collateral_factor", COMPTROLLER, 2, cToken=CTOKEN, oldCollateralFactorMantissa=0,
          newCollateralFactorMantissa=75 * E18 // 100)
    con = lake_of(tmp_path, L, [_row("compound-v2", "comptroller", COMPTROLLER), _row("compound-v2", "ctoken", CTOKEN)],
                  ["compound-v2"])                  # a cToken given without an RPC: no symbol, no decimals
    table = compound_v2_markets(con, 5, "ethereum")
    (row,) = table.to_pylist()
    assert (row["asset"], row["decimals"], row["ltv"]) == (CTOKEN, None, 0.75)
    assert row["unknown"].startswith("decimals: no token metadata")
    validate_markets(table, "<markets>")                                 # valid: the row says why
    with pytest.raises(Exception, match="column 'decimals', row 1: must not be empty"):
        validate_markets(table.drop_columns(["unknown"]), "<markets>")
