"""Morpho Blue on a local chain: the real contract (npm @morpho-org/morpho-blue, compiled here),
our settable oracle and fixed-rate IRM (contracts/MorphoTest*.sol), markets and positions.

    mb = deploy_morpho(chain)
    m = create_market(mb, loan=usdc, collateral=weth, lltv=86 * 10**16, price=oracle_price(2000, 18, 6))
    mb.send("supply", m, assets, 0, lp, b"")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3.contract import Contract

from backtest.devnet import artifacts as art
from backtest.devnet.chain import Chain
from backtest.protocols.morpho_blue import MarketParams, MarketState, Position
from backtest.protocols.morpho_blue.params import ORACLE_PRICE_SCALE

# LLTVs the tests enable (the owner must enable each before a market may use it); a spread from
# 38.5 % to 98 %, so incentive factors from the 1.15 cap down to ~1.006 are exercised.
LLTVS = tuple(x * 10**15 for x in (385, 625, 770, 860, 915, 945, 965, 980))
MAX_UINT = 2**256 - 1


def oracle_price(price: float, collateral_decimals: int, loan_decimals: int) -> int:
    """A Morpho oracle answer: one collateral base unit in loan base units, scaled by 1e36."""
    return int(round(price * 10**(36 + loan_decimals - collateral_decimals)))


@dataclass
class MorphoMarket:
    params: MarketParams
    oracle: Contract

    @property
    def id(self) -> str:
        return self.params.id

    @property
    def args(self) -> tuple:
        p = self.params
        return (p.loan_token, p.collateral_token, p.oracle, p.irm, p.lltv)


@dataclass
class MorphoBlue:
    chain: Chain
    morpho: Contract
    irm: Contract
    own: dict[str, art.Artifact] = field(repr=False)
    markets: dict[str, MorphoMarket] = field(default_factory=dict)

    def call(self, fn: str, market: MorphoMarket, *args):
        """A contract call on a market (MarketParams first), for chain.send / send_many."""
        return getattr(self.morpho.functions, fn)(market.args, *args)

    def send(self, fn: str, market: MorphoMarket, *args, sender: str | None = None) -> dict:
        return self.chain.send(self.call(fn, market, *args), sender)

    def state(self, market: MorphoMarket, block: str | int = "latest") -> MarketState:
        return MarketState(*self.chain.call_many([self.morpho.functions.market(market.id)], block)[0])

    def position(self, market: MorphoMarket, user: str, block: str | int = "latest") -> Position:
        return Position(*self.chain.call_many([self.morpho.functions.position(market.id, user)], block)[0])


def deploy_morpho(chain: Chain, lltvs: tuple[int, ...] = LLTVS) -> MorphoBlue:
    """Morpho owned by the deployer, our IRM enabled (rate 0 until set), `lltvs` enabled."""
    own = art.compile_own()
    morpho = chain.deploy(art.morpho_blue(), chain.deployer)
    irm = chain.deploy(own["MorphoTestIrm"])
    chain.send_many([(morpho.functions.enableIrm(irm.address), None)]
                    + [(morpho.functions.enableLltv(x), None) for x in lltvs])
    return MorphoBlue(chain, morpho, irm, own)


def create_market(mb: MorphoBlue, loan: Contract, collateral: Contract, lltv: int, price: int,
                  name: str | None = None) -> MorphoMarket:
    """A new oracle at `price` (oracle_price units) and a market over it; returns the market."""
    oracle = mb.chain.deploy(mb.own["MorphoTestOracle"], price)
    params = MarketParams(loan.address, collateral.address, oracle.address, mb.irm.address, lltv)
    market = MorphoMarket(params, oracle)
    mb.send("createMarket", market)
    mb.markets[name or market.id] = market
    return market


def collateral_value(collateral: int, price: int) -> int:
    """Collateral in loan base units at the oracle price, rounded down as the contract does."""
    return collateral * price // ORACLE_PRICE_SCALE


def deploy_tokens(chain: Chain, decimals: dict[str, int]) -> dict[str, Contract]:
    """MintableERC20s (the Aave test token: anyone may mint) by symbol."""
    mintable = art.aave_v3("mocks/tokens/MintableERC20.sol/MintableERC20.json")
    return {s: chain.deploy(mintable, s, s, d) for s, d in decimals.items()}


def fund(mb: MorphoBlue, tokens: dict[str, Contract], accounts: list[str], amount: int = 10**40) -> None:
    """Every account gets `amount` of every token, approved to Morpho."""
    calls = [(t.functions.mint(a, amount), a) for a in accounts for t in tokens.values()]
    calls += [(t.functions.approve(mb.morpho.address, MAX_UINT), a) for a in accounts for t in tokens.values()]
    mb.chain.send_many(calls)
