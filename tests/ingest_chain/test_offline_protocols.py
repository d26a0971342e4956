"""Compound v2, Comet and Maker: no npm contracts to run, so their logs are encoded with eth_abi (as
a node returns them) and the decoded tables and the at-block SQL are checked on hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import decode as abi_decode

from backtest.ingest.comet import accrued_indexes, present_values
from backtest.ingest.events import BY_TABLE, NOTES, NOTES_BY_TABLE
from backtest.ingest.lognote import decode_note
from backtest.ingest.logs import logs_to_table, write_range
from backtest.ingest.pipeline import decode_source, merge_contracts
from backtest.ingest.sources import _row
from backtest.ingest.tables import chain_query, connect_chain
from tests.ingest_chain.logmaker import encode_log, encode_note, random_value

E18 = 10**18
CTOKEN, COMET, DOG, CLIP, VAT = ("0x" + c * 40 for c in "12345")
A, B, C, X, U, K, WETH = ("0x" + c * 40 for c in "abcdef7")


class Logs:
    """Builds a block-ordered list of encoded logs; log indexes count up within a block."""

    def __init__(self):
        self.logs, self.index = [], {}

    def add(self, table, address, block, **values):
        i = self.index.get(block, 0)
        self.index[block] = i + 1
        if table in NOTES_BY_TABLE:
            self.logs.append(encode_note(NOTES_BY_TABLE[table], values, address=address, block=block, log_index=i))
        else:
            self.logs.append(encode_log(BY_TABLE[table], values, address=address, block=block, log_index=i))


def lake_of(tmp_path, logs, rows, sources):
    table = logs_to_table(logs.logs, 1)
    write_range(tmp_path / "logs", "ethereum", 0, 99, table)
    contracts = merge_contracts(tmp_path, "ethereum", rows)
    for s in sources:
        decode_source(tmp_path, "ethereum", s, contracts)
    return connect_chain(tmp_path)


def test_compound_v2_balances_borrow_balance_and_exchange_rate_stored(tmp_path):
    L, ct = Logs(), "compound_v2_ctoken_"

    def accrue(block, cash_prior, interest, index, total_borrows):
        L.add(ct + "accrue_interest", CTOKEN, block, cashPrior=cash_prior, interestAccumulated=interest,
              borrowIndex=index, totalBorrows=total_borrows)

    M = 10**6
    L.add(ct + "new_reserve_factor", CTOKEN, 9, oldReserveFactorMantissa=0, newReserveFactorMantissa=E18 // 10)
    accrue(10, 0, 0, E18, 0)
    L.add(ct + "mint", CTOKEN, 10, minter=A, mintAmount=1000 * M, mintTokens=50_000 * 10**8)
    L.add(ct + "transfer", CTOKEN, 10, **{"from": CTOKEN, "to": A, "amount": 50_000 * 10**8})
    accrue(11, 1000 * M, 0, E18, 0)
    L.add(ct + "borrow", CTOKEN, 11, borrower=B, borrowAmount=300 * M, accountBorrows=300 * M, totalBorrows=300 * M)
    # 30 of interest at a 10 % reserve factor: reserves 3
    accrue(20, 700 * M, 30 * M, 11 * E18 // 10, 330 * M)
    # B owed 300 * 1.1 = 330 and repays 100: 230 left
    L.add(ct + "repay_borrow", CTOKEN, 20, payer=B, borrower=B, repayAmount=100 * M, accountBorrows=230 * M,
          totalBorrows=230 * M)
    accrue(25, 800 * M, 23 * M, 121 * E18 // 100, 253 * M)          # reserves 3 + 2.3 = 5.3
    L.add(ct + "transfer", CTOKEN, 26, **{"from": A, "to": C, "amount": 10_000 * 10**8})
    accrue(30, 800 * M, 0, 121 * E18 // 100, 253 * M)
    L.add(ct + "reserves_added", CTOKEN, 30, benefactor=X, addAmount=2 * M, newTotalReserves=7_300_000)
    L.add(ct + "redeem", CTOKEN, 30, redeemer=A, redeemAmount=400 * M, redeemTokens=19_000 * 10**8)
    L.add(ct + "transfer", CTOKEN, 30, **{"from": A, "to": CTOKEN, "amount": 19_000 * 10**8})
    # a liquidation's protocol share: cTokens back to the cToken and reserves up, no cash moved
    L.add(ct + "transfer", CTOKEN, 31, **{"from": C, "to": CTOKEN, "amount": 1_000 * 10**8})
    L.add(ct + "reserves_added", CTOKEN, 31, benefactor=CTOKEN, addAmount=20 * M, newTotalReserves=27_300_000)
    con = lake_of(tmp_path, L, [_row("compound-v2", "ctoken", CTOKEN, asset=WETH, symbol="USDC", decimals=6)],
                  ["compound-v2"])

    def at(block):
        rows = chain_query(con, "compound_v2_positions_at_block", {"block": block}).to_pylist()
        return {r["account"]: r for r in rows}

    # block 19: B's debt is still 300 (index unchanged since the borrow); cash 1000 - 300 = 700, borrows 300,
    # reserves 0, supply 50,000e8: rate 1000e6 * 1e18 / 50,000e8 = 2e14, A's collateral 1000e6
    got = at(19)
    assert (got[A]["ctoken_balance_raw"], got[A]["collateral_raw"], got[A]["exchange_rate"]) == \
        (str(50_000 * 10**8), str(1000 * M), str(2 * 10**14))
    assert (got[B]["debt_raw"], got[B]["market_cash_raw"]) == (str(300 * M), str(700 * M))
    # block 20: cash 700 + 100 repaid = 800, borrows 230, reserves 3: (800 + 230 - 3)e6 * 1e18 / 50,000e8
    # = 2.054e14, and A's 50,000e8 cTokens are worth 1027e6
    got = at(20)
    assert (got[A]["exchange_rate"], got[A]["collateral_raw"], got[A]["market_total_reserves_raw"]) == \
        (str(2054 * 10**11), str(1027 * M), str(3 * M))
    assert at(25)[B]["debt_raw"] == str(253 * M)                        # 230 * 1.21 / 1.1
    # block 30: cash 800 + 2 added - 400 redeemed = 402; reserves anchored at 7.3 by ReservesAdded;
    # supply 31,000e8: rate = 647.7e6 * 1e18 / 31,000e8 = 208935483870967 (floored);
    # A holds 21,000e8: 21,000e8 * 208935483870967 / 1e18 = 438764516 (floored)
    got = at(30)
    assert (got[A]["market_cash_raw"], got[A]["market_total_reserves_raw"], got[A]["market_total_supply_raw"]) == \
        (str(402 * M), "7300000", str(31_000 * 10**8))
    assert (got[A]["exchange_rate"], got[A]["collateral_raw"]) == ("208935483870967", "438764516")
    assert got[C]["ctoken_balance_raw"] == str(10_000 * 10**8)
    # block 31: the seize share leaves cash at 402, reserves 27.3, supply 30,000e8:
    # (402 + 253 - 27.3)e6 * 1e18 / 30,000e8 = 209233333333333 (floored)
    got = at(31)
    assert (got[A]["market_cash_raw"], got[A]["exchange_rate"]) == (str(402 * M), "209233333333333")
    assert got[C]["ctoken_balance_raw"] == str(9_000 * 10**8)


def test_comet_collateral_exact_and_base_as_flows(tmp_path):
    L, cm = Logs(), "comet_comet_"
    L.add(cm + "supply_collateral", COMET, 5, **{"from": A, "dst": A, "asset": WETH, "amount": 5 * E18})
    L.add(cm + "supply_collateral", COMET, 5, **{"from": B, "dst": B, "asset": WETH, "amount": 2 * E18})
    L.add(cm + "supply", COMET, 6, **{"from": A, "dst": A, "amount": 1000 * 10**6})
    L.add(cm + "withdraw", COMET, 6, src=B, to=B, amount=500 * 10**6)               # B borrows 500
    L.add(cm + "transfer_collateral", COMET, 7, **{"from": A, "to": C, "asset": WETH, "amount": E18})
    L.add(cm + "withdraw_collateral", COMET, 8, src=A, to=A, asset=WETH, amount=E18 // 2)
    L.add(cm + "absorb_collateral", COMET, 9, absorber=X, borrower=B, asset=WETH, collateralAbsorbed=2 * E18,
          usdValue=1)
    L.add(cm + "absorb_debt", COMET, 9, absorber=X, borrower=B, basePaidOut=500 * 10**6, usdValue=1)
    con = lake_of(tmp_path, L, [_row("comet", "comet", COMET)], ["comet"])
    rows = chain_query(con, "comet_positions_at_block", {"block": 9}).to_pylist()
    got = {(r["account"], r["asset"]): r["collateral_raw"] or r["base_net_flow_raw"] for r in rows}
    # A: 5 - 1 transferred - 0.5 withdrawn = 3.5 WETH; C: 1; B: 2 absorbed -> gone; base: A +1000, B -500 +500 -> gone
    assert got == {(A, WETH): str(35 * E18 // 10), (C, WETH): str(E18), (A, None): str(1000 * 10**6)}
    before = chain_query(con, "comet_positions_at_block", {"block": 8}).to_pylist()
    assert {(r["account"], r["asset"]) for r in before} >= {(B, WETH), (B, None)}


def test_maker_open_auctions(tmp_path):
    L = Logs()
    rad = 10**45
    ilk = b"ETH-A".ljust(32, b"\0")
    L.add("maker_dog_bark", DOG, 10, ilk=ilk, urn=U, ink=10 * E18, art=900 * E18, due=1000 * rad, clip=CLIP, id=1)
    L.add("maker_clip_kick", CLIP, 10, id=1, top=2000 * 10**27, tab=1000 * rad, lot=10 * E18, usr=U, kpr=K, coin=0)
    L.add("maker_clip_take", CLIP, 12, id=1, max=2000 * 10**27, price=1500 * 10**27, owe=600 * rad,
          tab=400 * rad, lot=4 * E18, usr=U)
    L.add("maker_clip_kick", CLIP, 13, id=2, top=2000 * 10**27, tab=50 * rad, lot=E18, usr=U, kpr=K, coin=0)
    L.add("maker_clip_take", CLIP, 14, id=2, max=2000 * 10**27, price=1500 * 10**27, owe=50 * rad, tab=0,
          lot=3 * E18 // 10, usr=U)
    con = lake_of(tmp_path, L, [_row("maker", "dog", DOG), _row("maker", "clip", CLIP)], ["maker"])
    open_at = lambda b: [(r["id"], r["tab_dai"], r["lot"], r["ilk"])  # noqa: E731
                         for r in chain_query(con, "maker_auctions_at_block", {"block": b}).to_pylist()]
    ilk_hex = "0x" + ilk.hex()
    assert open_at(11) == [("1", 1000.0, 10.0, ilk_hex)]
    assert open_at(13) == [("1", 400.0, 4.0, ilk_hex), ("2", 50.0, 1.0, None)]   # id 2 had no Bark here
    assert open_at(20) == [("1", 400.0, 4.0, ilk_hex)]                            # id 2 paid off: tab 0


@pytest.mark.parametrize("note", NOTES, ids=lambda n: n.table)
def test_every_vat_note_decodes_like_eth_abi_on_its_calldata(note):
    rng = np.random.default_rng(len(note.table))
    values = [{p.name: random_value(rng, p.type, i if i < 2 else 2) for p in note.params} for i in range(12)]
    logs = [encode_note(note, v, address=VAT, block=10 + i, log_index=0) for i, v in enumerate(values)]
    rows = decode_note(logs_to_table(logs, 1), note, [bytes.fromhex(VAT[2:])]).to_pylist()
    assert len(rows) == 12
    for row, log in zip(rows, logs):
        calldata = bytes.fromhex(log["data"][2:])[64:]
        want = abi_decode([p.type for p in note.params], calldata[4:4 + 32 * len(note.params)])
        for p, w in zip(note.params, want):
            got = row[p.name]
            got = bytes.fromhex(got[2:]) if p.type == "bytes32" else int(got) if p.type.startswith(("int", "uint")) \
                else got
            assert got == (w.lower() if p.type == "address" else w), (p.name, p.type)
    # the same selector from another contract, or a normal event with that topic0, is not this call
    assert decode_note(logs_to_table(logs, 1), note, [bytes.fromhex(DOG[2:])]).num_rows == 0


def test_maker_vaults_from_vat_notes(tmp_path):
    L, E27 = Logs(), 10**27
    eth, wbtc = b"ETH-A".ljust(32, b"\0"), b"WBTC-A".ljust(32, b"\0")
    L.add("maker_vat_init", VAT, 1, ilk=eth)
    L.add("maker_vat_frob", VAT, 2, i=eth, u=A, v=A, w=A, dink=10 * E18, dart=5_000 * E18)
    L.add("maker_vat_frob", VAT, 2, i=eth, u=B, v=B, w=B, dink=3 * E18, dart=1_000 * E18)
    L.add("maker_vat_fold", VAT, 3, i=eth, u=X, rate=E27 // 10)             # rate 1.1
    L.add("maker_vat_frob", VAT, 4, i=eth, u=A, v=A, w=A, dink=-2 * E18, dart=-1_000 * E18)
    L.add("maker_vat_fork", VAT, 5, ilk=eth, src=A, dst=C, dink=E18, dart=500 * E18)
    L.add("maker_vat_grab", VAT, 6, i=eth, u=B, v=X, w=X, dink=-3 * E18, dart=-1_000 * E18)  # B liquidated whole
    L.add("maker_vat_fold", VAT, 7, i=eth, u=X, rate=-E27 // 100)           # a negative fee: rate 1.09
    L.add("maker_vat_frob", VAT, 8, i=wbtc, u=A, v=A, w=A, dink=E18, dart=100 * E18)  # no init in the lake
    con = lake_of(tmp_path, L, [_row("maker", "vat", VAT)], ["maker"])
    at = lambda b: {(r["ilk_name"], r["urn"]): (r["ink_raw"], r["art_raw"], r["rate_raw"], r["debt_wad"])  # noqa: E731
                    for r in chain_query(con, "maker_vaults_at_block", {"block": b}).to_pylist()}
    # block 3: A 10 ink, 5,000 art at rate 1.1: debt 5,500 DAI; B 3 ink, 1,000 art: 1,100
    assert at(3) == {("ETH-A", A): (str(10 * E18), str(5_000 * E18), str(11 * E27 // 10), str(5_500 * E18)),
                     ("ETH-A", B): (str(3 * E18), str(1_000 * E18), str(11 * E27 // 10), str(1_100 * E18))}
    # block 8: A 10 - 2 - 1 = 7 ink, 5,000 - 1,000 - 500 = 3,500 art at 1.09: 3,815 DAI; C 1 ink, 500 art:
    # 545 DAI; B gone; WBTC-A's rate is unknown (no init): NULL, not 1.0
    got = at(8)
    assert got[("ETH-A", A)] == (str(7 * E18), str(3_500 * E18), str(109 * E27 // 100), str(3_815 * E18))
    assert got[("ETH-A", C)][3] == str(545 * E18) and ("ETH-A", B) not in got
    assert got[("WBTC-A", A)] == (str(E18), str(100 * E18), None, None)


def test_comet_index_accrual_and_present_value():
    # 1e15 supply index, 3.17e-10/s (about 1 % a year) for 86,400 s: 1e15 * (317e6 * 86,400) / 1e18
    # = 27,388,800,000 added -> 1,000,027,388,800,000
    assert accrued_indexes(10**15, 10**15, 317_000_000, 634_000_000, 86_400) == \
        (1_000_027_388_800_000, 1_000_054_777_600_000)
    assert accrued_indexes(10**15, 2 * 10**15, 5, 5, 0) == (10**15, 2 * 10**15)
    # principal 1,000e6 at index 1.0000273888 -> 1,000,027,388 (rounded down); a borrow of principal
    # -500e6 at 1.0000547776 -> 500,027,388
    assert present_values(1_000 * 10**6, 1_000_027_388_800_000, 10**15) == (1_000_027_388, 0)
    assert present_values(-500 * 10**6, 10**15, 1_000_054_777_600_000) == (0, 500_027_388)


def test_snapshot_without_rpc_writes_comet_collateral_and_maker_vaults_and_says_what_is_missing(tmp_path, capsys):
    from backtest.cli import main as cli
    from backtest.lake.io import read_table
    L, cm = Logs(), "comet_comet_"
    L.add(cm + "supply_collateral", COMET, 5, **{"from": A, "dst": A, "asset": WETH, "amount": 5 * E18})
    L.add(cm + "supply", COMET, 6, **{"from": A, "dst": A, "amount": 1000 * 10**6})
    L.add("maker_vat_init", VAT, 6, ilk=b"ETH-A".ljust(32, b"\0"))
    L.add("maker_vat_frob", VAT, 7, i=b"ETH-A".ljust(32, b"\0"), u=B, v=B, w=B, dink=2 * E18, dart=900 * E18)
    # ETH-B's init predates the lake: art is known, the rate (so the debt) is not
    L.add("maker_vat_frob", VAT, 7, i=b"ETH-B".ljust(32, b"\0"), u=C, v=C, w=C, dink=3 * E18, dart=500 * E18)
    lake_of(tmp_path, L, [_row("comet", "comet", COMET), _row("comet", "collateral", WETH, asset=WETH, symbol="WETH",
                                                                  decimals=18), _row("maker", "vat", VAT)],
            ["comet", "maker"])
    import pyarrow as pa
    from backtest.ingest.tables import BLOCKS
    from backtest.lake.io import write_parquet
    write_parquet(pa.table({"block_number": [9], "timestamp": [1_700_000_000], "block_hash": ["0x"]}, schema=BLOCKS),
                  tmp_path / "blocks" / "ethereum.parquet")
    assert cli(["snapshot", "--block", "9", "--lake", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "comet: base balances need --rpc" in out and "no init(ilk) in the lake for ETH-B" in out
    rows = {(r["protocol"], r["market"], r["account"], r["asset"]): (r["collateral"], r["debt"], r["unknown"])
            for r in read_table(tmp_path, "positions").to_pylist()}
    # unknown is never 0: A's Comet base row (its asset the Comet's address: no RPC, no base symbol) and C's
    # ETH-B debt carry no amount and say why
    base = "base supply and borrow: Comet's principals are contract state; snapshot with --rpc"
    assert rows == {("comet", "ethereum", A, "WETH"): (5.0, 0.0, None), ("comet", "ethereum", A, COMET): (None, None, base),
                    ("maker", "ETH-A", B, "WETH"): (2.0, 0.0, None), ("maker", "ETH-A", B, "DAI"): (0.0, 900.0, None),
                    ("maker", "ETH-B", C, "WETH"): (3.0, 0.0, None),
                    ("maker", "ETH-B", C, "DAI"): (0.0, None, "debt: no init(ETH-B) in the lake, so no rate; ingest "
                                                             "the Vat from before the ilk's init")}


def test_compound_v2_markets_and_entered_markets_from_the_comptroller(tmp_path):
    L, ct, cp = Logs(), "compound_v2_ctoken_", "compound_v2_comptroller_"
    COMPTROLLER = "0x" + "6" * 40
    L.add(cp + "new_close_factor", COMPTROLLER, 1, oldCloseFactorMantissa=0, newCloseFactorMantissa=E18 // 2)
    L.add(cp + "new_liquidation_incentive", COMPTROLLER, 1, oldLiquidationIncentiveMantissa=0,
          newLiquidationIncentiveMantissa=108 * E18 // 100)
    L.add(cp + "new_collateral_factor", COMPTROLLER, 2, cToken=CTOKEN, oldCollateralFactorMantissa=0,
          newCollateralFactorMantissa=75 * E18 // 100)
    L.add(ct + "accrue_interest", CTOKEN, 3, cashPrior=0, interestAccumulated=0, borrowIndex=E18, totalBorrows=0)
    for who in (A, B):
        L.add(ct + "mint", CTOKEN, 3, minter=who, mintAmount=100 * 10**6, mintTokens=5_000 * 10**8)
        L.add(ct + "transfer", CTOKEN, 3, **{"from": CTOKEN, "to": who, "amount": 5_000 * 10**8})
    L.add(cp + "market_entered", COMPTROLLER, 4, cToken=CTOKEN, account=A)
    L.add(cp + "market_entered", COMPTROLLER, 4, cToken=CTOKEN, account=B)
    L.add(cp + "market_exited", COMPTROLLER, 5, cToken=CTOKEN, account=B)
    L.add(cp + "new_collateral_factor", COMPTROLLER, 6, cToken=CTOKEN, oldCollateralFactorMantissa=75 * E18 // 100,
          newCollateralFactorMantissa=80 * E18 // 100)
    con = lake_of(tmp_path, L, [_row("compound-v2", "comptroller", COMPTROLLER),
                                _row("compound-v2", "ctoken", CTOKEN, asset=WETH, symbol="USDC", decimals=6)],
                  ["compound-v2"])
    markets = lambda b: [(r["symbol"], r["collateral_factor"], r["liquidation_bonus"], r["close_factor"],  # noqa: E731
                          r["valid_from_block"])
                         for r in chain_query(con, "compound_v2_markets_at_block", {"block": b}).to_pylist()]
    assert markets(5) == [("USDC", 0.75, pytest.approx(0.08), 0.5, 2)]
    assert markets(6) == [("USDC", 0.8, pytest.approx(0.08), 0.5, 6)]
    enabled = lambda b: {r["account"]: r["collateral_enabled"]  # noqa: E731
                         for r in chain_query(con, "compound_v2_positions_at_block", {"block": b}).to_pylist()}
    # before any MarketEntered the comptroller is known, so no market counts yet; B exits at block 5
    assert enabled(3) == {A: False, B: False} and enabled(4) == {A: True, B: True} and enabled(5) == {A: True, B: False}


def test_maker_markets_from_the_spotters_mat_and_the_dogs_chop(tmp_path):
    L, SPOT = Logs(), "0x" + "8" * 40
    eth, word = b"ETH-A".ljust(32, b"\0"), (lambda text: text.encode().ljust(32, b"\0"))  # noqa: E731
    L.add("maker_spotter_file", SPOT, 1, ilk=eth, what=word("mat"), data=145 * 10**25)       # 145 %
    L.add("maker_spotter_file", SPOT, 1, ilk=eth, what=word("par"), data=10**27)            # not mat: ignored
    L.add("maker_dog_file", DOG, 2, ilk=eth, what=word("chop"), data=113 * E18 // 100)      # 13 % penalty
    L.add("maker_spotter_file", SPOT, 5, ilk=eth, what=word("mat"), data=150 * 10**25)
    con = lake_of(tmp_path, L, [_row("maker", "spotter", SPOT), _row("maker", "dog", DOG)], ["maker"])
    rows = lambda b: [(r["ilk_name"], r["liquidation_threshold"], r["liquidation_bonus"], r["valid_from_block"])  # noqa: E731
                      for r in chain_query(con, "maker_markets_at_block", {"block": b}).to_pylist()]
    # threshold 1 / 1.45 = 0.6897, bonus 1.13 - 1 = 0.13; after block 5: 1 / 1.5
    assert rows(1) == [("ETH-A", pytest.approx(1 / 1.45), None, 1)]
    assert rows(4) == [("ETH-A", pytest.approx(1 / 1.45), pytest.approx(0.13), 2)]
    assert rows(5) == [("ETH-A", pytest.approx(1 / 1.5), pytest.approx(0.13), 5)]
    from backtest.ingest.markets import maker_markets
    (row,) = maker_markets(con, 5).to_pylist()
    assert (row["market"], row["asset"], row["ltv"], row["liquidation_threshold"]) == \
        ("ETH-A", "WETH", pytest.approx(1 / 1.5), pytest.approx(1 / 1.5))
