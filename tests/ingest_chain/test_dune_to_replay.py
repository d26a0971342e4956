"""Dune exports reach a replay (issue 20): a lending.borrow and a lending.supply CSV in Dune's format, made
here, go `ingest --dune` -> `snapshot` (positions: net principal) -> the command the snapshot names for the
missing markets rows (the Aave configurator's events, here from a cryo dump made here) -> `import-prices`
-> `replay`."""

from __future__ import annotations

import json

import pytest

from backtest.cli import main as cli
from backtest.ingest.events import BY_TABLE
from backtest.ingest.logs import logs_to_table, write_range
from backtest.lake.io import read_table
from tests.ingest_chain.logmaker import encode_log

WETH, USDC = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b0" * 20
POOL, CONFIGURATOR = "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2", "0x64b761D848206f447Fe2dd461b0c635Ec39EbB27"
BLOCK = 16_800_100
BORROW_HEAD = ("blockchain,project,version,transaction_type,loan_type,symbol,token_address,borrower,on_behalf_of,"
               "repayer,liquidator,amount,amount_raw,amount_usd,block_month,block_time,block_number,"
               "project_contract_address,tx_hash,evt_index")
SUPPLY_HEAD = ("blockchain,project,version,transaction_type,symbol,token_address,depositor,on_behalf_of,"
               "withdrawn_to,liquidator,amount,amount_raw,amount_usd,block_month,block_time,block_number,"
               "project_contract_address,tx_hash,evt_index")


def when(block: int) -> str:
    return f"2023-03-11 01:{(block - 16_800_000) // 5 % 60:02}:00.000 UTC"


def tx(n: int) -> str:
    return "0x" + f"{n:064x}"


def supply(who, symbol, token, amount, decimals, block, n, kind="deposit"):
    return (f"ethereum,aave,3,{kind},{symbol},{token},{who},{who},,,{amount},{int(amount * 10**decimals)},,"
            f"2023-03-01,{when(block)},{block},{POOL},{tx(n)},{n}")


def borrow(who, symbol, token, amount, decimals, block, n, kind="borrow"):
    return (f"ethereum,aave,3,{kind},variable,{symbol},{token},{who},{who},,,{amount},{int(amount * 10**decimals)},,"
            f"2023-03-01,{when(block)},{block},{POOL},{tx(n)},{n}")


@pytest.fixture
def dune_lake(tmp_path):
    borrows = [borrow(ALICE, "USDC", USDC, 12_000, 6, 16_800_010, 1), borrow(BOB, "USDC", USDC, 5_000, 6, 16_800_020, 2),
               borrow(BOB, "USDC", USDC, -1_000, 6, 16_800_050, 3, "repay"),
               borrow(ALICE, "USDC", USDC, 1, 6, BLOCK, 4)]        # a row of the snapshot's block: its time
    supplies = [supply(ALICE, "WETH", WETH, 10, 18, 16_800_005, 5), supply(BOB, "WETH", WETH, 4, 18, 16_800_006, 6),
                supply(BOB, "WETH", WETH, -0.5, 18, 16_800_060, 7, "withdraw")]
    (tmp_path / "borrow.csv").write_text("\n".join([BORROW_HEAD, *borrows]) + "\n")
    (tmp_path / "supply.csv").write_text("\n".join([SUPPLY_HEAD, *supplies]) + "\n")
    lake = tmp_path / "lake"
    assert cli(["ingest", "--dune", str(tmp_path / "borrow.csv"), "--dune", str(tmp_path / "supply.csv"),
                "--lake", str(lake)]) == 0
    return lake


def test_a_dune_snapshot_writes_net_principal_and_names_the_missing_markets_command(dune_lake, capsys):
    capsys.readouterr()
    assert cli(["snapshot", "--block", str(BLOCK), "--lake", str(dune_lake)]) == 0
    out = capsys.readouterr().out
    rows = {(r["protocol"], r["account"], r["asset"]): (r["collateral"], r["debt"])
            for r in read_table(dune_lake, "positions").to_pylist()}
    assert rows == {("aave-v3", ALICE, "USDC"): (0.0, 12_001.0), ("aave-v3", ALICE, "WETH"): (10.0, 0.0),
                    ("aave-v3", BOB, "USDC"): (0.0, 4_000.0), ("aave-v3", BOB, "WETH"): (3.5, 0.0)}
    assert "interest is not in them" in out
    assert f"--address configurator={CONFIGURATOR} --from-block 16291127" in out
    # replay's default lake is the shipped sample: the snapshot names the lake to replay
    assert f"next: backtest replay SCENARIO --lake {dune_lake}" in out


def test_dune_exports_reach_a_replay(dune_lake, tmp_path, capsys):
    # the named command, fed from a cryo dump of the configurator's CollateralConfigurationChanged
    changed = BY_TABLE["aave_v3_configurator_collateral_configuration_changed"]
    logs = [encode_log(changed, {"asset": WETH, "ltv": 8000, "liquidationThreshold": 8250, "liquidationBonus": 10500},
                       address=CONFIGURATOR.lower(), block=16_800_001, log_index=0),
            encode_log(changed, {"asset": USDC, "ltv": 7700, "liquidationThreshold": 8000, "liquidationBonus": 10450},
                       address=CONFIGURATOR.lower(), block=16_800_001, log_index=1)]
    write_range(tmp_path / "dump", "ethereum", 16_800_000, 16_800_999, logs_to_table(logs, 1))
    assert cli(["ingest", "--source", "aave-v3", "--cryo", str(tmp_path / "dump"), "--lake", str(dune_lake),
                "--address", f"configurator={CONFIGURATOR}"]) == 0
    assert cli(["snapshot", "--block", str(BLOCK), "--lake", str(dune_lake)]) == 0
    out = capsys.readouterr().out
    assert "no markets row" not in out
    # symbols and decimals from the Dune rows of the same tokens (no RPC asked)
    markets = {r["asset"]: (r["asset_address"], r["decimals"], r["liquidation_threshold"], r["liquidation_bonus"])
               for r in read_table(dune_lake, "markets").to_pylist()}
    assert markets == {"WETH": (WETH, 18, 0.825, pytest.approx(0.05)), "USDC": (USDC, 6, 0.8, pytest.approx(0.045))}
    for asset, price in (("WETH", 1_500.0), ("USDC", 1.0)):
        prices = tmp_path / f"{asset}.csv"
        prices.write_text("snapped_at,price\n2023-03-10 00:00:00 UTC,%s\n2023-03-11 00:00:00 UTC,%s\n" % (price, price))
        assert cli(["import-prices", str(prices), "--asset", asset, "--format", "coingecko",
                    "--lake", str(dune_lake)]) == 0
    capsys.readouterr()
    assert cli(["replay", "--lake", str(dune_lake), "--out", str(tmp_path / "out"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    # ALICE: 10 WETH x 1500 x 0.825 = 12,375 against 12,001 USDC (HF 1.03): ETH -45 % liquidates her;
    # BOB: 3.5 x 1500 x 0.825 = 4,331 against 4,000 (HF 1.08): liquidated too
    assert (metrics["accounts"], metrics["accounts_liquidated"]) == (2, 2)
    assert (metrics["debt_usd_start"], metrics["collateral_usd_start"]) == (16_001.0, 13.5 * 1_500)
