"""Uniswap v2 and v3 pools from @uniswap/v2-core and @uniswap/v3-core, driven without the periphery.

v2: tokens are sent to the pair, then `mint`/`swap` is called (the pair checks balances against
reserves; UniswapV2Pair.sol). v3: `mint`/`swap` pay through callbacks, which our
UniswapV3Caller contract answers from the sender's approved balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3.contract import Contract

from backtest.devnet import artifacts as art
from backtest.devnet.chain import Chain

MAX_UINT = 2**256 - 1
# TickMath.MIN_SQRT_RATIO / MAX_SQRT_RATIO (Uniswap/v3-core contracts/libraries/TickMath.sol)
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342


@dataclass
class Uniswap:
    v2_factory: Contract
    v3_factory: Contract
    v3_caller: Contract
    v2_pairs: dict[tuple[str, str], Contract] = field(default_factory=dict)   # (symbol_a, symbol_b)
    v3_pools: dict[tuple[str, str, int], Contract] = field(default_factory=dict)


def deploy_uniswap(chain: Chain, own: dict[str, art.Artifact]) -> Uniswap:
    v2_factory = chain.deploy(art.uniswap_v2("UniswapV2Factory"), chain.deployer)
    v3_factory = chain.deploy(art.uniswap_v3("UniswapV3Factory"))
    caller = chain.deploy(own["UniswapV3Caller"])
    return Uniswap(v2_factory, v3_factory, caller)


def create_v2_pair(chain: Chain, uni: Uniswap, token_a: Contract, token_b: Contract) -> Contract:
    chain.send(uni.v2_factory.functions.createPair(token_a.address, token_b.address))
    address = uni.v2_factory.functions.getPair(token_a.address, token_b.address).call()
    return chain.at(art.uniswap_v2("UniswapV2Pair"), address)


def add_v2_liquidity(chain: Chain, pair: Contract, tokens: dict[str, Contract], amounts: dict[str, int],
                     sender: str) -> None:
    """Send both tokens to the pair and mint LP tokens to `sender` (tokens keyed by address)."""
    calls = [(tokens[address].functions.transfer(pair.address, amount), sender) for address, amount in amounts.items()]
    chain.send_many(calls + [(pair.functions.mint(sender), sender)])


def v2_swap(chain: Chain, pair: Contract, token_in: Contract, amount_in: int, amount_out: int,
            sender: str, to: str | None = None) -> dict:
    """Exact-input swap: pay `amount_in`, ask for `amount_out` of the other token (the pair enforces K)."""
    chain.send(token_in.functions.transfer(pair.address, amount_in), sender)
    zero_in = pair.functions.token0().call() == token_in.address
    outs = (0, amount_out) if zero_in else (amount_out, 0)
    return chain.send(pair.functions.swap(*outs, to or sender, b""), sender)


def create_v3_pool(chain: Chain, uni: Uniswap, token_a: Contract, token_b: Contract, fee: int,
                   sqrt_price_x96: int) -> Contract:
    chain.send(uni.v3_factory.functions.createPool(token_a.address, token_b.address, fee))
    address = uni.v3_factory.functions.getPool(token_a.address, token_b.address, fee).call()
    pool = chain.at(art.uniswap_v3("UniswapV3Pool"), address)
    chain.send(pool.functions.initialize(sqrt_price_x96))
    return pool


def v3_approve(chain: Chain, uni: Uniswap, tokens: list[Contract], owner: str) -> None:
    for t in tokens:
        chain.send(t.functions.approve(uni.v3_caller.address, MAX_UINT), owner)


def v3_mint(chain: Chain, uni: Uniswap, pool: Contract, tick_lower: int, tick_upper: int, liquidity: int,
            owner: str) -> dict:
    return chain.send(uni.v3_caller.functions.mint(pool.address, tick_lower, tick_upper, liquidity), owner)


def v3_swap(chain: Chain, uni: Uniswap, pool: Contract, zero_for_one: bool, amount_specified: int,
            owner: str, sqrt_price_limit_x96: int | None = None) -> tuple[int, int]:
    """Swap through the caller; returns the pool's (amount0, amount1) deltas from the Swapped event."""
    if sqrt_price_limit_x96 is None:
        sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    receipt = chain.send(uni.v3_caller.functions.swap(pool.address, zero_for_one, amount_specified,
                                                      sqrt_price_limit_x96, owner), owner)
    topic = "0x" + chain.w3.keccak(text="Swapped(address,int256,int256)").hex().removeprefix("0x")
    log = next(lg for lg in receipt["logs"] if lg["topics"][0] == topic
               and lg["address"].lower() == uni.v3_caller.address.lower())
    amount0, amount1 = chain.w3.codec.decode(["int256", "int256"], bytes.fromhex(log["data"][2:]))
    return amount0, amount1
