"""Which contracts a source's logs come from, found on chain at the last block ingested.

A user names the top contract (an Aave pool, a Uniswap pair, a Chainlink proxy or feed, ...); the
contracts that actually emit the events are read from it: Aave's aTokens and debt tokens from
`getReserveData`, a Chainlink proxy's aggregators from `phaseAggregators`. Token symbols and decimals
are read here too, so decoded amounts can be scaled without another network call.
"""

from __future__ import annotations

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak

from backtest.errors import InputError
from backtest.ingest.addresses import DEFAULT_KIND, known
from backtest.ingest.rpc import RpcClient, RpcError, Unreachable

SOURCES = tuple(DEFAULT_KIND)
V3_LAYOUT = ("aave-v3", "spark")       # SparkLend is Aave v3.0 code: the same getters and ReserveData layout


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def call(client: RpcClient, to: str, signature: str, args: tuple = (), arg_types: tuple = (),
         out: tuple = ("uint256",), block: int | str = "latest"):
    data = _selector(signature) + (abi_encode(list(arg_types), list(args)).hex() if arg_types else "")
    raw = client.eth_call(to, data, block)
    values = abi_decode(list(out), bytes.fromhex(raw[2:]))
    return values[0] if len(values) == 1 else values


def try_call(client, to, signature, **kw):
    """None when the contract reverts or answers something that does not decode (it is not that kind);
    a node that cannot be reached still raises."""
    try:
        return call(client, to, signature, **kw)
    except Unreachable:
        raise
    except (RpcError, DecodingError, ValueError, OverflowError):
        return None


def token_meta(client: RpcClient, token: str, block) -> tuple[str, int]:
    """(symbol, decimals); MKR-style bytes32 symbols are handled, unknown ones become the address."""
    decimals = try_call(client, token, "decimals()", out=("uint8",), block=block)
    symbol = try_call(client, token, "symbol()", out=("string",), block=block)
    if symbol is None:
        raw = try_call(client, token, "symbol()", out=("bytes32",), block=block)
        symbol = raw.rstrip(b"\0").decode(errors="replace") if raw else None
    return symbol or token.lower(), 18 if decimals is None else int(decimals)


def _row(source, kind, address, **extra) -> dict:
    return {"source": source, "kind": kind, "address": address.lower(), "asset": None, "symbol": None,
            "decimals": None, "token1": None, "symbol1": None, "decimals1": None, "fee": None, "phase": None,
            **extra}


def discover(client: RpcClient, source: str, addresses: list[str], chain_id: int, block: int) -> list[dict]:
    """Contract rows (source, kind, address, asset, symbol, decimals, ...) for `source`."""
    if source not in SOURCES:
        raise InputError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")
    # an address may carry its kind ("vat=0x..."); a bare one is the source's main contract
    given = [(k or DEFAULT_KIND[source], a) for k, _, a in (x.rpartition("=") for x in addresses)] \
        or known(source, chain_id)
    if not given:
        raise InputError(f"--address is required for {source} on chain {chain_id} (built-in addresses are "
                         "for Ethereum mainnet)")
    rows: list[dict] = []
    for kind, address in given:
        if source in ("aave-v3", "aave-v2", "spark") and kind == "pool":
            rows += _aave(client, source, address, block)
        elif source in ("aave-v3", "spark") and kind == "provider":      # PoolAddressesProvider: its pool
            pool = try_call(client, address, "getPool()", out=("address",), block=block)
            if pool is None:
                raise InputError(f"{address} does not answer getPool() at block {block}: not a PoolAddressesProvider?")
            rows.append(_row(source, "provider", address))
            if not any(k == "pool" for k, _ in given):
                rows += _aave(client, source, pool, block)
        elif source == "chainlink":
            rows += _chainlink(client, address, block)
        elif source in ("uniswap-v2", "uniswap-v3") and kind != "factory":
            rows.append(_pool(client, source, kind, address, block))
        elif source == "compound-v2" and kind == "comptroller":
            markets = try_call(client, address, "getAllMarkets()", out=("address[]",), block=block) or []
            rows.append(_row(source, kind, address))
            rows += [_ctoken(client, m, block) for m in markets]
        elif source == "compound-v2" and kind == "ctoken":
            rows.append(_ctoken(client, address, block))
        elif source == "comet" and kind == "comet":
            rows += _comet(client, address, block)
        else:
            rows.append(_row(source, kind, address))
    seen, out = set(), []
    for r in rows:
        if r["address"] not in seen:
            seen.add(r["address"])
            out.append(r)
    return out


def _aave(client, source, pool, block) -> list[dict]:
    reserves = try_call(client, pool, "getReservesList()", out=("address[]",), block=block)
    if reserves is None:
        raise InputError(f"{pool} does not answer getReservesList() at block {block}: not an Aave pool?")
    v3 = source in V3_LAYOUT
    rows = [_row(source, "pool", pool)]
    # The configurator (risk parameters) and the oracle's price source of each reserve, through the
    # addresses provider (v3 Pool.ADDRESSES_PROVIDER, v2 LendingPool.getAddressesProvider).
    provider = try_call(client, pool, "ADDRESSES_PROVIDER()" if v3 else "getAddressesProvider()",
                        out=("address",), block=block)
    oracle = None
    if provider:
        configurator = try_call(client, provider, "getPoolConfigurator()" if v3
                                else "getLendingPoolConfigurator()", out=("address",), block=block)
        oracle = try_call(client, provider, "getPriceOracle()", out=("address",), block=block)
        if configurator:
            rows.append(_row(source, "configurator", configurator))
    # ReserveData is all static words; aToken/stable/variable sit at words 8-10 (v3.0) or 7-9 (v2).
    first = 8 if v3 else 7
    n_words = 15 if v3 else 12
    for asset in reserves:
        words = call(client, pool, "getReserveData(address)", (asset,), ("address",),
                     out=tuple(["uint256"] * n_words), block=block)
        a_token, s_token, v_token = (f"0x{w:040x}" for w in words[first:first + 3])
        symbol, decimals = token_meta(client, asset, block)
        meta = {"asset": asset.lower(), "symbol": symbol, "decimals": decimals}
        rows += [_row(source, "atoken", a_token, **meta), _row(source, "stoken", s_token, **meta),
                 _row(source, "vtoken", v_token, **meta)]
        feed = oracle and try_call(client, oracle, "getSourceOfAsset(address)", args=(asset,),
                                   arg_types=("address",), out=("address",), block=block)
        if feed and int(feed, 16):
            rows.append(_row(source, "price_source", feed, **meta))   # its AnswerUpdated: ingest --source chainlink
    return rows


def _ctoken(client, address, block) -> dict:
    """A cToken with its underlying's symbol and decimals; cETH has no underlying() (ETH, 18)."""
    underlying = try_call(client, address, "underlying()", out=("address",), block=block)
    if underlying is None:
        return _row("compound-v2", "ctoken", address, symbol="ETH", decimals=18)
    symbol, decimals = token_meta(client, underlying, block)
    return _row("compound-v2", "ctoken", address, asset=underlying.lower(), symbol=symbol, decimals=decimals)


def _comet(client, address, block) -> list[dict]:
    """A Comet with its base token, and its collateral assets (kind `collateral`, token1 = the Comet)."""
    base = try_call(client, address, "baseToken()", out=("address",), block=block)
    if base is None:
        return [_row("comet", "comet", address)]
    symbol, decimals = token_meta(client, base, block)
    rows = [_row("comet", "comet", address, asset=base.lower(), symbol=symbol, decimals=decimals)]
    n = try_call(client, address, "numAssets()", out=("uint8",), block=block) or 0
    for i in range(int(n)):
        info = try_call(client, address, "getAssetInfo(uint8)", args=(i,), arg_types=("uint8",),
                        out=("(uint8,address,address,uint64,uint64,uint64,uint64,uint128)",), block=block)
        if info:
            s, d = token_meta(client, info[1], block)
            rows.append(_row("comet", "collateral", info[1], asset=info[1].lower(), symbol=s, decimals=d,
                             token1=address.lower()))
    return rows


def _chainlink(client, address, block) -> list[dict]:
    """A proxy stands for every aggregator it has pointed to (AnswerUpdated comes from those)."""
    phase = try_call(client, address, "phaseId()", out=("uint16",), block=block)
    description = try_call(client, address, "description()", out=("string",), block=block)
    decimals = try_call(client, address, "decimals()", out=("uint8",), block=block)
    meta = {"asset": address.lower(), "symbol": description, "decimals": decimals}
    if phase is None:
        return [_row("chainlink", "feed", address, **meta)]
    rows = [_row("chainlink", "proxy", address, **meta)]
    for p in range(1, int(phase) + 1):
        agg = try_call(client, address, "phaseAggregators(uint16)", args=(p,), arg_types=("uint16",),
                       out=("address",), block=block)
        if agg and int(agg, 16):
            rows.append(_row("chainlink", "feed", agg, phase=p, **meta))
    return rows


# Every Uniswap v2 pair charges 0.3 %: UniswapV2Pair.swap checks balances net of amountIn * 3 / 1000
# (Uniswap/v2-core contracts/UniswapV2Pair.sol, the `* 1000 - amountIn * 3` adjusted balances).
V2_FEE = 0.003


def _pool(client, source, kind, address, block) -> dict:
    t0 = try_call(client, address, "token0()", out=("address",), block=block)
    t1 = try_call(client, address, "token1()", out=("address",), block=block)
    if t0 is None or t1 is None:
        raise InputError(f"{address} has no token0()/token1() at block {block}: not a {source} pool?")
    s0, d0 = token_meta(client, t0, block)
    s1, d1 = token_meta(client, t1, block)
    fee = V2_FEE if source == "uniswap-v2" else try_call(client, address, "fee()", out=("uint24",), block=block)
    fee = fee / 1e6 if isinstance(fee, int) else fee          # None: unknown, never 0
    return _row(source, kind, address, asset=t0.lower(), symbol=s0, decimals=d0, token1=t1.lower(),
                symbol1=s1, decimals1=d1, fee=fee)
