"""Build a local market a user can play with: tokens, price feeds, Aave v3, Aave v2, Uniswap v2/v3.

    with start_anvil() as node:
        net = build_devnet(Chain(node.url))
        net.set_price("WETH", 1_500.0)          # a Chainlink-style AnswerUpdated on chain

Everything is deployed by `chain.deployer` (anvil's first account), which stays admin of all
of it. The same code serves the chain tests (deployed once per session) and `python -m backtest.devnet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3.contract import Contract

from backtest.devnet import artifacts as art
from backtest.devnet.aave import AaveMarket, ReserveParams, deploy_aave_v2, deploy_aave_v3
from backtest.devnet.chain import Chain
from backtest.devnet.uniswap import (Uniswap, add_v2_liquidity, create_v2_pair, create_v3_pool, deploy_uniswap,
                                     v3_approve, v3_mint)
from backtest.markets import uniswap_v3_math as v3math

FEED_DECIMALS = 8          # Aave's oracle wants 8-decimal USD prices, as Chainlink's USD feeds


@dataclass(frozen=True)
class AssetSpec:
    symbol: str
    decimals: int
    price_usd: float
    params: ReserveParams


# Mainnet-like parameters (Aave v3 Ethereum, 2023), rounded
DEFAULT_ASSETS = (
    AssetSpec("WETH", 18, 2_000.0, ReserveParams(8000, 8250, 10500, protocol_fee=1000)),
    AssetSpec("WBTC", 8, 30_000.0, ReserveParams(7000, 7500, 10650, protocol_fee=1000)),
    AssetSpec("USDC", 6, 1.0, ReserveParams(7700, 8000, 10450, protocol_fee=1000)),
    AssetSpec("DAI", 18, 1.0, ReserveParams(6700, 7700, 10400, protocol_fee=1000)),
)


def price_answer(price_usd: float) -> int:
    return round(price_usd * 10**FEED_DECIMALS)


@dataclass
class Devnet:
    chain: Chain
    assets: dict[str, AssetSpec]
    tokens: dict[str, Contract]
    feeds: dict[str, Contract]
    aave_v3: AaveMarket
    aave_v2: AaveMarket
    uniswap: Uniswap
    own: dict[str, art.Artifact] = field(repr=False, default_factory=dict)

    @property
    def treasury(self) -> str:
        return self.aave_v3.treasury

    def set_price(self, symbol: str, price_usd: float | None = None, *, answer: int | None = None) -> dict:
        """Push a new round to the asset's feed (emits NewRound and AnswerUpdated)."""
        value = answer if answer is not None else price_answer(price_usd)
        return self.chain.send(self.feeds[symbol].functions.updateAnswer(value))

    def set_prices(self, answers: dict[str, int]) -> dict:
        """Several feeds in one block, in raw 8-decimal answers."""
        return self.chain.send_many([(self.feeds[s].functions.updateAnswer(a), None) for s, a in answers.items()])

    def mint(self, symbol: str, to: str, amount: int) -> None:
        self.chain.send(self.tokens[symbol].functions.mint(to, amount))

    def addresses(self) -> dict[str, str]:
        out = {f"token.{s}": t.address for s, t in self.tokens.items()}
        out |= {f"feed.{s}": f.address for s, f in self.feeds.items()}
        for m in (self.aave_v3, self.aave_v2):
            tag = f"aave_v{m.version}"
            out |= {f"{tag}.pool": m.pool.address, f"{tag}.configurator": m.configurator.address,
                    f"{tag}.oracle": m.oracle.address, f"{tag}.addresses_provider": m.provider.address}
            out |= {f"{tag}.{k}": c.address for k, c in m.extra.items()}
            out |= {f"{tag}.a{s}": r.a_token.address for s, r in m.reserves.items()}
        out["uniswap_v2.factory"] = self.uniswap.v2_factory.address
        out["uniswap_v3.factory"] = self.uniswap.v3_factory.address
        out["uniswap_v3.caller"] = self.uniswap.v3_caller.address
        out |= {f"uniswap_v2.{a}-{b}": p.address for (a, b), p in self.uniswap.v2_pairs.items()}
        out |= {f"uniswap_v3.{a}-{b}-{fee}": p.address for (a, b, fee), p in self.uniswap.v3_pools.items()}
        out["treasury"] = self.treasury
        return out


def build_devnet(chain: Chain, assets: tuple[AssetSpec, ...] = DEFAULT_ASSETS) -> Devnet:
    own = art.compile_own()
    spec = {a.symbol: a for a in assets}
    mintable = art.aave_v3("mocks/tokens/MintableERC20.sol/MintableERC20.json")
    tokens = {a.symbol: chain.deploy(mintable, a.symbol, a.symbol, a.decimals) for a in assets}
    feeds = {a.symbol: chain.deploy(own["PriceFeed"], FEED_DECIMALS, f"{a.symbol} / USD", price_answer(a.price_usd))
             for a in assets}
    params = {a.symbol: a.params for a in assets}
    treasury = chain.accounts[-1]

    v3 = deploy_aave_v3(chain, tokens, feeds, params, treasury)
    rate_oracle = chain.deploy(own["FixedLendingRateOracle"])
    v2 = deploy_aave_v2(chain, tokens, feeds, params, treasury, rate_oracle)
    uni = deploy_uniswap(chain, own)
    return Devnet(chain, spec, tokens, feeds, v3, v2, uni, own)


def seed_liquidity(net: Devnet, *, usd_per_reserve: float = 50_000_000.0, pair_usd: float = 20_000_000.0) -> str:
    """Give every Aave reserve lendable liquidity and open a v2 pair of each asset against USDC.

    Returns the liquidity provider's address (anvil account 1).
    """
    chain, lp = net.chain, net.chain.accounts[1]
    for s, a in net.assets.items():
        amount = int(usd_per_reserve / a.price_usd * 10**a.decimals)
        net.mint(s, lp, 2 * amount)
        for m in (net.aave_v3, net.aave_v2):
            chain.send(net.tokens[s].functions.approve(m.pool.address, 2**256 - 1), lp)
        chain.send(net.aave_v3.pool.functions.supply(net.tokens[s].address, amount, lp, 0), lp)
        chain.send(net.aave_v2.pool.functions.deposit(net.tokens[s].address, amount, lp, 0), lp)
    usdc = net.assets["USDC"]
    for s, a in net.assets.items():
        if s == "USDC":
            continue
        pair = create_v2_pair(chain, net.uniswap, net.tokens[s], net.tokens["USDC"])
        amounts = {net.tokens[s].address: int(pair_usd / a.price_usd * 10**a.decimals),
                   net.tokens["USDC"].address: int(pair_usd * 10**usdc.decimals)}
        for address, amount in amounts.items():
            sym = next(k for k, t in net.tokens.items() if t.address == address)
            net.mint(sym, lp, amount)
        add_v2_liquidity(chain, pair, {t.address: t for t in net.tokens.values()}, amounts, lp)
        net.uniswap.v2_pairs[(s, "USDC")] = pair
    _seed_v3_pool(net, lp, "WETH", "USDC", 3000, pair_usd)
    return lp


def _seed_v3_pool(net: Devnet, lp: str, sym_a: str, sym_b: str, fee: int, usd: float) -> None:
    """A v3 pool at the assets' prices with one position of about `usd` per side, +-20 % around the price."""
    chain, uni = net.chain, net.uniswap
    a, b = net.tokens[sym_a], net.tokens[sym_b]
    (s0, t0), (s1, t1) = sorted(((sym_a, a), (sym_b, b)), key=lambda x: int(x[1].address, 16))
    # raw token1 per raw token0
    raw_price = net.assets[s0].price_usd / net.assets[s1].price_usd * 10**(net.assets[s1].decimals - net.assets[s0].decimals)
    sqrt_x96 = int(raw_price ** 0.5 * 2**96)
    pool = create_v3_pool(chain, uni, t0, t1, fee, sqrt_x96)
    spacing = {500: 10, 3000: 60, 10000: 200}[fee]
    tick = v3math.tick_at_sqrt_ratio(sqrt_x96)
    width = int(0.2 / 1e-4) // spacing * spacing               # ~ +-20 % in price
    lower, upper = (tick // spacing) * spacing - width, (tick // spacing) * spacing + width
    # L so that the token1 side holds about `usd`: amount1 = L * (sqrtP - sqrtLower) / 2^96
    amount1 = usd / net.assets[s1].price_usd * 10**net.assets[s1].decimals
    liquidity = int(amount1 * 2**96 / (sqrt_x96 - v3math.sqrt_ratio_at_tick(lower)))
    need0, need1 = v3math.mint_amounts(sqrt_x96, tick, lower, upper, liquidity)
    chain.send_many([(t0.functions.mint(lp, need0), None), (t1.functions.mint(lp, need1), None)])
    v3_approve(chain, uni, [t0, t1], lp)
    v3_mint(chain, uni, pool, lower, upper, liquidity, lp)
    uni.v3_pools[(sym_a, sym_b, fee)] = pool
