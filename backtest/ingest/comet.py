"""Comet (Compound III) base balances and risk parameters at a block, read by eth_call.

Comet stores a signed principal per account and two indexes that grow every second; none of them is in an
event (Supply/Withdraw carry present values, and a base transfer emits only the supply-side parts as
Transfer). So, with an RPC node that serves state at the block:
  principal   = userBasic(account).principal at the block, for every account the events name
                (queries/comet_accounts_at_block.sql);
  indexes     = totalsBasic() at the block, accrued to the block's time as Comet.accruedInterestIndices
                does: index += index * (rate * elapsed) / 1e18, with getSupplyRate/getBorrowRate of
                getUtilization() at the block;
  balance     = principal * supplyIndex / 1e15 (supply) or -principal * borrowIndex / 1e15 (borrow),
                rounded down (CometCore.presentValueSupply / presentValueBorrow),
which is what Comet's balanceOf / borrowBalanceOf return. Source: compound-finance/comet contracts/Comet.sol,
contracts/CometCore.sol. Collateral balances are exact from events alone (queries/comet_positions_at_block.sql).
"""

from __future__ import annotations

import pyarrow as pa

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from backtest.ingest.sources import _selector, call, try_call
from backtest.ingest.tables import chain_query

BASE_INDEX_SCALE = 10**15
FACTOR_SCALE = 10**18
TOTALS_BASIC = ("uint64", "uint64", "uint64", "uint64", "uint104", "uint104", "uint40", "uint8")
USER_BASIC = ("int104", "uint64", "uint64", "uint16", "uint8")
ASSET_INFO = ("uint8", "address", "address", "uint64", "uint64", "uint64", "uint64", "uint128")

BASE = pa.schema([("protocol", pa.string()), ("comet", pa.string()), ("account", pa.string()),
                  ("principal_raw", pa.string()), ("supply_raw", pa.string()), ("borrow_raw", pa.string()),
                  ("block_number", pa.int64())])


def accrued_indexes(supply_index: int, borrow_index: int, supply_rate: int, borrow_rate: int,
                    elapsed: int) -> tuple[int, int]:
    """Comet.accruedInterestIndices: simple interest per elapsed second, rounded down."""
    if elapsed <= 0:
        return supply_index, borrow_index
    return (supply_index + supply_index * (supply_rate * elapsed) // FACTOR_SCALE,
            borrow_index + borrow_index * (borrow_rate * elapsed) // FACTOR_SCALE)


def present_values(principal: int, supply_index: int, borrow_index: int) -> tuple[int, int]:
    """(supplied, borrowed) base amounts of one signed principal (CometCore.presentValueSupply/Borrow)."""
    if principal >= 0:
        return principal * supply_index // BASE_INDEX_SCALE, 0
    return 0, -principal * borrow_index // BASE_INDEX_SCALE


def indexes_at(client, comet: str, block: int, ts: int) -> tuple[int, int]:
    """The supply and borrow indexes a balanceOf at `block` (time `ts`) would use."""
    totals = call(client, comet, "totalsBasic()", out=TOTALS_BASIC, block=block)
    supply_index, borrow_index, last_accrual = totals[0], totals[1], totals[6]
    if ts <= last_accrual:
        return supply_index, borrow_index
    utilization = call(client, comet, "getUtilization()", block=block)
    rates = []
    for name in ("getSupplyRate", "getBorrowRate"):
        # mainnet Comet takes the utilization; some deployments' versions take no argument
        rate = try_call(client, comet, f"{name}(uint256)", args=(utilization,), arg_types=("uint256",),
                        out=("uint64",), block=block)
        rates.append(rate if rate is not None else call(client, comet, f"{name}()", out=("uint64",), block=block))
    return accrued_indexes(supply_index, borrow_index, rates[0], rates[1], ts - last_accrual)


def base_balances(con, client, block: int, ts: int) -> pa.Table:
    """Every Comet account's base supply and borrow at `block`, raw units (one row per account)."""
    accounts = chain_query(con, "comet_accounts_at_block", {"block": block}).to_pylist()
    rows = []
    by_comet: dict[str, list[str]] = {}
    for r in accounts:
        by_comet.setdefault(r["comet"], []).append(r["account"])
    for comet, people in sorted(by_comet.items()):
        supply_index, borrow_index = indexes_at(client, comet, block, ts)
        for account, basic in zip(people, user_basics(client, comet, people, block)):
            principal = basic[0]
            if principal == 0:
                continue
            supplied, borrowed = present_values(principal, supply_index, borrow_index)
            rows.append({"protocol": "comet", "comet": comet, "account": account, "principal_raw": str(principal),
                         "supply_raw": str(supplied), "borrow_raw": str(borrowed), "block_number": block})
    return pa.Table.from_pylist(rows, schema=BASE)


def user_basics(client, comet: str, accounts: list[str], block: int, per_batch: int = 100) -> list[tuple]:
    """userBasic(account) of many accounts, 100 eth_calls per JSON-RPC batch (one by one if refused)."""
    data = [_selector("userBasic(address)") + abi_encode(["address"], [a]).hex() for a in accounts]
    out: list[tuple] = []
    for i in range(0, len(data), per_batch):
        answers = client.many([("eth_call", [{"to": comet, "data": d}, hex(block)]) for d in data[i:i + per_batch]])
        out += [abi_decode(list(USER_BASIC), bytes.fromhex(a[2:])) for a in answers]
    return out


def asset_infos(client, comet: str, block: int) -> list[dict]:
    """getAssetInfo(i) for every collateral asset of a Comet at `block` (its liquidation parameters)."""
    n = call(client, comet, "numAssets()", out=("uint8",), block=block)
    out = []
    for i in range(int(n)):
        info = call(client, comet, "getAssetInfo(uint8)", args=(i,), arg_types=("uint8",),
                    out=("(" + ",".join(ASSET_INFO) + ")",), block=block)
        offset, asset, feed, scale, borrow_cf, liquidate_cf, liquidation_factor, cap = info
        out.append({"comet": comet, "asset": asset.lower(), "price_feed": feed.lower(), "scale": int(scale),
                    "borrow_collateral_factor": borrow_cf / FACTOR_SCALE,
                    "liquidate_collateral_factor": liquidate_cf / FACTOR_SCALE,
                    "liquidation_factor": liquidation_factor / FACTOR_SCALE, "supply_cap_raw": int(cap)})
    return out
