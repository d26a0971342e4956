"""Compound v2, Comet and Maker: no npm contracts to run, so their logs are encoded with eth_abi (as
a node returns them) and the decoded tables and the at-block SQL are checked on hand-worked numbers."""

from __future__ import annotations

from backtest.ingest.events import BY_TABLE
from backtest.ingest.logs import logs_to_table, write_range
from backtest.ingest.pipeline import decode_source, merge_contracts
from backtest.ingest.sources import _row
from backtest.ingest.tables import chain_query, connect_chain
from tests.ingest_chain.logmaker import encode_log

E18 = 10**18
CTOKEN, COMET, DOG, CLIP = ("0x" + c * 40 for c in "1234")
A, B, C, X, U, K, WETH = ("0x" + c * 40 for c in "abcdef7")


class Logs:
    """Builds a block-ordered list of encoded logs; log indexes count up within a block."""

    def __init__(self):
        self.logs, self.index = [], {}

    def add(self, table, address, block, **values):
        i = self.index.get(block, 0)
        self.index[block] = i + 1
        self.logs.append(encode_log(BY_TABLE[table], values, address=address, block=block, log_index=i))


def lake_of(tmp_path, logs, rows, sources):
    table = logs_to_table(logs.logs, 1)
    write_range(tmp_path / "logs", "ethereum", 0, 99, table)
    contracts = merge_contracts(tmp_path, "ethereum", rows)
    for s in sources:
        decode_source(tmp_path, "ethereum", s, contracts)
    return connect_chain(tmp_path)


def test_compound_v2_balances_and_borrow_balance_stored(tmp_path):
    L, ct = Logs(), "compound_v2_ctoken_"
    accrue = lambda block, index: L.add(ct + "accrue_interest", CTOKEN, block, cashPrior=0,  # noqa: E731
                                        interestAccumulated=0, borrowIndex=index, totalBorrows=0)
    accrue(10, E18)
    L.add(ct + "mint", CTOKEN, 10, minter=A, mintAmount=1000 * 10**6, mintTokens=50_000 * 10**8)
    L.add(ct + "transfer", CTOKEN, 10, **{"from": CTOKEN, "to": A, "amount": 50_000 * 10**8})
    accrue(11, E18)
    L.add(ct + "borrow", CTOKEN, 11, borrower=B, borrowAmount=300 * 10**6, accountBorrows=300 * 10**6,
          totalBorrows=300 * 10**6)
    accrue(20, 11 * E18 // 10)
    # B owed 300 * 1.1 = 330 and repays 100: 230 left
    L.add(ct + "repay_borrow", CTOKEN, 20, payer=B, borrower=B, repayAmount=100 * 10**6,
          accountBorrows=230 * 10**6, totalBorrows=230 * 10**6)
    accrue(25, 121 * E18 // 100)
    L.add(ct + "transfer", CTOKEN, 26, **{"from": A, "to": C, "amount": 10_000 * 10**8})
    accrue(30, 121 * E18 // 100)
    L.add(ct + "redeem", CTOKEN, 30, redeemer=A, redeemAmount=400 * 10**6, redeemTokens=19_000 * 10**8)
    L.add(ct + "transfer", CTOKEN, 30, **{"from": A, "to": CTOKEN, "amount": 19_000 * 10**8})
    con = lake_of(tmp_path, L, [_row("compound-v2", "ctoken", CTOKEN, asset=WETH, symbol="USDC", decimals=6)],
                  ["compound-v2"])

    def at(block):
        rows = chain_query(con, "compound_v2_positions_at_block", {"block": block}).to_pylist()
        return {r["account"]: (r["ctoken_balance_raw"], r["debt_raw"], r["collateral_raw_estimate"]) for r in rows}

    # block 19: B's debt is still 300 (index unchanged since the borrow); A holds 50,000 cTokens worth
    # 50,000e8 * (1000e6 * 1e18 / 50,000e8 = 2e14) / 1e18 = 1000e6
    assert at(19) == {A: (str(50_000 * 10**8), "0", str(1000 * 10**6)), B: ("0", str(300 * 10**6), "0")}
    # block 25: 230 * 1.21 / 1.1 = 253
    assert at(25)[B][1] == str(253 * 10**6)
    # block 30: A 50,000 - 10,000 - 19,000 = 21,000 cTokens; rate from the redeem 400e6*1e18/19,000e8
    # = 210526315789473 (floored); 21,000e8 * that / 1e18 = 442105263 (floored)
    got = at(30)
    assert got[A] == (str(21_000 * 10**8), "0", "442105263") and got[C][0] == str(10_000 * 10**8)


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
