"""The events we decode, by source and contract kind; topic0 is computed from the canonical signature.

Signatures are those of the contracts' interfaces (see reference/chain-conventions.md for the
repository and file of each). A decoded table is named `<source>_<contract>_<event>` in snake case,
e.g. `aave_v3_pool_supply`, and is always filtered by the contract addresses of its kind as well as
by topic0, because topics collide (Compound v2 Mint == Uniswap v2 Mint; Aave v2/v3 Withdraw).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eth_utils import keccak


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    indexed: bool = False


@dataclass(frozen=True)
class Event:
    source: str          # aave-v3, uniswap-v2, ...
    contract: str        # pool, atoken, vtoken, pair, ctoken, feed, ...
    name: str
    params: tuple[Param, ...]
    # The non-indexed params, in order, are one static struct of this name in the ABI (Morpho's
    # CreateMarket(Id indexed id, MarketParams marketParams)): the same words in `data`, but the
    # canonical signature writes them as a tuple.
    struct: str = ""

    @property
    def signature(self) -> str:
        if self.struct:
            indexed = [p.type for p in self.params if p.indexed]
            inner = ",".join(p.type for p in self.params if not p.indexed)
            return f"{self.name}({','.join(indexed + [f'({inner})'])})"
        return f"{self.name}({','.join(p.type for p in self.params)})"

    @property
    def topic0(self) -> bytes:
        return keccak(text=self.signature)

    @property
    def table(self) -> str:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()
        return f"{self.source.replace('-', '_')}_{self.contract}_{snake}"


def _ev(source: str, contract: str, text: str) -> Event:
    """'Supply(address indexed reserve, address user, ...)' -> Event."""
    name, inner = re.fullmatch(r"(\w+)\((.*)\)", text.strip()).groups()
    params = []
    for part in filter(None, (p.strip() for p in inner.split(","))):
        words = part.split()
        params.append(Param(words[-1], words[0], "indexed" in words[1:-1]))
    return Event(source, contract, name, tuple(params))


_AAVE_V3_POOL = """
Supply(address indexed reserve, address user, address indexed onBehalfOf, uint256 amount, uint16 indexed referralCode)
Withdraw(address indexed reserve, address indexed user, address indexed to, uint256 amount)
Borrow(address indexed reserve, address user, address indexed onBehalfOf, uint256 amount, uint8 interestRateMode, uint256 borrowRate, uint16 indexed referralCode)
Repay(address indexed reserve, address indexed user, address indexed repayer, uint256 amount, bool useATokens)
LiquidationCall(address indexed collateralAsset, address indexed debtAsset, address indexed user, uint256 debtToCover, uint256 liquidatedCollateralAmount, address liquidator, bool receiveAToken)
ReserveDataUpdated(address indexed reserve, uint256 liquidityRate, uint256 stableBorrowRate, uint256 variableBorrowRate, uint256 liquidityIndex, uint256 variableBorrowIndex)
FlashLoan(address indexed target, address initiator, address indexed asset, uint256 amount, uint8 interestRateMode, uint256 premium, uint16 indexed referralCode)
ReserveUsedAsCollateralEnabled(address indexed reserve, address indexed user)
ReserveUsedAsCollateralDisabled(address indexed reserve, address indexed user)
UserEModeSet(address indexed user, uint8 categoryId)
"""
_AAVE_V3_TOKEN = """
Mint(address indexed caller, address indexed onBehalfOf, uint256 value, uint256 balanceIncrease, uint256 index)
Burn(address indexed from, address indexed target, uint256 value, uint256 balanceIncrease, uint256 index)
"""
_AAVE_CONFIGURATOR = """
CollateralConfigurationChanged(address indexed asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
"""
# Aave v3.0 e-mode (aave-v3-core contracts/interfaces/IPoolConfigurator.sol; v3.2+ replaced them):
# `label` is an ABI string, decoded by backtest.ingest.dynamic.
_AAVE_V3_EMODE = """
EModeCategoryAdded(uint8 indexed categoryId, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus, address oracle, string label)
EModeAssetCategoryChanged(address indexed asset, uint8 oldCategoryId, uint8 newCategoryId)
LiquidationProtocolFeeChanged(address indexed asset, uint256 oldFee, uint256 newFee)
"""
_AAVE_V2_POOL = """
Deposit(address indexed reserve, address user, address indexed onBehalfOf, uint256 amount, uint16 indexed referral)
Withdraw(address indexed reserve, address indexed user, address indexed to, uint256 amount)
Borrow(address indexed reserve, address user, address indexed onBehalfOf, uint256 amount, uint256 borrowRateMode, uint256 borrowRate, uint16 indexed referral)
Repay(address indexed reserve, address indexed user, address indexed repayer, uint256 amount)
LiquidationCall(address indexed collateralAsset, address indexed debtAsset, address indexed user, uint256 debtToCover, uint256 liquidatedCollateralAmount, address liquidator, bool receiveAToken)
ReserveDataUpdated(address indexed reserve, uint256 liquidityRate, uint256 stableBorrowRate, uint256 variableBorrowRate, uint256 liquidityIndex, uint256 variableBorrowIndex)
FlashLoan(address indexed target, address indexed initiator, address indexed asset, uint256 amount, uint256 premium, uint16 referralCode)
ReserveUsedAsCollateralEnabled(address indexed reserve, address indexed user)
ReserveUsedAsCollateralDisabled(address indexed reserve, address indexed user)
"""
_COMPOUND_V2 = """
Mint(address minter, uint256 mintAmount, uint256 mintTokens)
Redeem(address redeemer, uint256 redeemAmount, uint256 redeemTokens)
Borrow(address borrower, uint256 borrowAmount, uint256 accountBorrows, uint256 totalBorrows)
RepayBorrow(address payer, address borrower, uint256 repayAmount, uint256 accountBorrows, uint256 totalBorrows)
LiquidateBorrow(address liquidator, address borrower, uint256 repayAmount, address cTokenCollateral, uint256 seizeTokens)
AccrueInterest(uint256 cashPrior, uint256 interestAccumulated, uint256 borrowIndex, uint256 totalBorrows)
Transfer(address indexed from, address indexed to, uint256 amount)
ReservesAdded(address benefactor, uint256 addAmount, uint256 newTotalReserves)
ReservesReduced(address admin, uint256 reduceAmount, uint256 newTotalReserves)
NewReserveFactor(uint256 oldReserveFactorMantissa, uint256 newReserveFactorMantissa)
"""
# Comptroller (compound-protocol contracts/Comptroller.sol): the risk parameters of the markets rows.
_COMPTROLLER = """
MarketListed(address cToken)
MarketEntered(address cToken, address account)
MarketExited(address cToken, address account)
NewCollateralFactor(address cToken, uint256 oldCollateralFactorMantissa, uint256 newCollateralFactorMantissa)
NewCloseFactor(uint256 oldCloseFactorMantissa, uint256 newCloseFactorMantissa)
NewLiquidationIncentive(uint256 oldLiquidationIncentiveMantissa, uint256 newLiquidationIncentiveMantissa)
"""
_COMET = """
Supply(address indexed from, address indexed dst, uint256 amount)
Withdraw(address indexed src, address indexed to, uint256 amount)
SupplyCollateral(address indexed from, address indexed dst, address indexed asset, uint256 amount)
WithdrawCollateral(address indexed src, address indexed to, address indexed asset, uint256 amount)
TransferCollateral(address indexed from, address indexed to, address indexed asset, uint256 amount)
AbsorbDebt(address indexed absorber, address indexed borrower, uint256 basePaidOut, uint256 usdValue)
AbsorbCollateral(address indexed absorber, address indexed borrower, address indexed asset, uint256 collateralAbsorbed, uint256 usdValue)
BuyCollateral(address indexed buyer, address indexed asset, uint256 baseAmount, uint256 collateralAmount)
Transfer(address indexed from, address indexed to, uint256 amount)
"""
_MAKER_DOG = """
Bark(bytes32 indexed ilk, address indexed urn, uint256 ink, uint256 art, uint256 due, address clip, uint256 indexed id)
File(bytes32 indexed ilk, bytes32 indexed what, uint256 data)
"""
_MAKER_CLIP = """
Kick(uint256 indexed id, uint256 top, uint256 tab, uint256 lot, address indexed usr, address indexed kpr, uint256 coin)
Take(uint256 indexed id, uint256 max, uint256 price, uint256 owe, uint256 tab, uint256 lot, address indexed usr)
Redo(uint256 indexed id, uint256 top, uint256 tab, uint256 lot, address indexed usr, address indexed kpr, uint256 coin)
"""
_UNISWAP_V2 = """
Sync(uint112 reserve0, uint112 reserve1)
Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)
Mint(address indexed sender, uint256 amount0, uint256 amount1)
Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to)
"""
_UNISWAP_V3 = """
Initialize(uint160 sqrtPriceX96, int24 tick)
Swap(address indexed sender, address indexed recipient, int256 amount0, int256 amount1, uint160 sqrtPriceX96, uint128 liquidity, int24 tick)
Mint(address sender, address indexed owner, int24 indexed tickLower, int24 indexed tickUpper, uint128 amount, uint256 amount0, uint256 amount1)
Burn(address indexed owner, int24 indexed tickLower, int24 indexed tickUpper, uint128 amount, uint256 amount0, uint256 amount1)
"""
_CHAINLINK = """
AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)
NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt)
"""

# Morpho Blue (morpho-org/morpho-blue src/libraries/EventsLib.sol; `Id` is bytes32). CreateMarket's
# MarketParams struct is spelled out below and marked as a struct for the canonical signature.
_MORPHO = """
SetFee(bytes32 indexed id, uint256 newFee)
SetFeeRecipient(address indexed newFeeRecipient)
Supply(bytes32 indexed id, address indexed caller, address indexed onBehalf, uint256 assets, uint256 shares)
Withdraw(bytes32 indexed id, address caller, address indexed onBehalf, address indexed receiver, uint256 assets, uint256 shares)
Borrow(bytes32 indexed id, address caller, address indexed onBehalf, address indexed receiver, uint256 assets, uint256 shares)
Repay(bytes32 indexed id, address indexed caller, address indexed onBehalf, uint256 assets, uint256 shares)
SupplyCollateral(bytes32 indexed id, address indexed caller, address indexed onBehalf, uint256 assets)
WithdrawCollateral(bytes32 indexed id, address caller, address indexed onBehalf, address indexed receiver, uint256 assets)
Liquidate(bytes32 indexed id, address indexed caller, address indexed borrower, uint256 repaidAssets, uint256 repaidShares, uint256 seizedAssets, uint256 badDebtAssets, uint256 badDebtShares)
AccrueInterest(bytes32 indexed id, uint256 prevBorrowRate, uint256 interest, uint256 feeShares)
"""
_MORPHO_CREATE = "CreateMarket(bytes32 indexed id, address loanToken, address collateralToken, address oracle, " \
    "address irm, uint256 lltv)"


def _many(source: str, contract: str, block: str) -> list[Event]:
    return [_ev(source, contract, line) for line in block.strip().splitlines() if line.strip()]


def _aave_v3(source: str) -> list[Event]:
    return (_many(source, "pool", _AAVE_V3_POOL)
            + _many(source, "atoken", _AAVE_V3_TOKEN + "BalanceTransfer(address indexed from, address indexed to, "
                    "uint256 value, uint256 index)")
            + _many(source, "vtoken", _AAVE_V3_TOKEN)
            + _many(source, "configurator", _AAVE_CONFIGURATOR + _AAVE_V3_EMODE))


EVENTS: tuple[Event, ...] = tuple(
    _aave_v3("aave-v3")
    + _aave_v3("spark")         # SparkLend: Aave v3.0 code (its own Pool, tokens and configurator), same events
    + _many("aave-v2", "pool", _AAVE_V2_POOL)
    + _many("aave-v2", "configurator", _AAVE_CONFIGURATOR)
    + _many("aave-v2", "atoken", """
Mint(address indexed from, uint256 value, uint256 index)
Burn(address indexed from, address indexed target, uint256 value, uint256 index)
BalanceTransfer(address indexed from, address indexed to, uint256 value, uint256 index)
""")
    + _many("aave-v2", "vtoken", """
Mint(address indexed from, address indexed onBehalfOf, uint256 value, uint256 index)
Burn(address indexed user, uint256 amount, uint256 index)
""")
    + _many("compound-v2", "ctoken", _COMPOUND_V2)
    + _many("compound-v2", "comptroller", _COMPTROLLER)
    + _many("comet", "comet", _COMET)
    + _many("maker", "dog", _MAKER_DOG)
    + _many("maker", "clip", _MAKER_CLIP)
    + _many("uniswap-v2", "pair", _UNISWAP_V2)
    + _many("uniswap-v3", "pool", _UNISWAP_V3)
    # the factories' creation events: a pool's tokens (and a v3 pool's fee) without an RPC
    # (Uniswap/v2-core UniswapV2Factory.sol, Uniswap/v3-core UniswapV3Factory.sol)
    + _many("uniswap-v2", "factory", "PairCreated(address indexed token0, address indexed token1, address pair, "
            "uint256 allPairsLength)")
    + _many("uniswap-v3", "factory", "PoolCreated(address indexed token0, address indexed token1, uint24 indexed fee, "
            "int24 tickSpacing, address pool)")
    + _many("chainlink", "feed", _CHAINLINK)
    + [Event("morpho-blue", "morpho", "CreateMarket", _ev("morpho-blue", "morpho", _MORPHO_CREATE).params,
             struct="marketParams")]
    + _many("morpho-blue", "morpho", _MORPHO)
)

SOURCES = tuple(dict.fromkeys(e.source for e in EVENTS))
BY_TABLE = {e.table: e for e in EVENTS}


@dataclass(frozen=True)
class Note(Event):
    """A DSNote call log: anonymous, topic0 = the function selector left-aligned in 32 bytes, topics 1-3 =
    the first three words of calldata, data = abi bytes of the first 224 bytes of calldata (makerdao/dss
    src/vat.sol `note`). The arguments are read from that calldata copy, so the Vat layout (sig, arg1-3)
    and LibNote's (sig, caller, arg1-2, src/lib.sol) decode the same way."""

    @property
    def topic0(self) -> bytes:
        return keccak(text=self.signature)[:4] + bytes(28)

    @property
    def table(self) -> str:
        return f"{self.source.replace('-', '_')}_{self.contract}_{self.name.lower()}"


def _note(source: str, contract: str, text: str) -> Note:
    e = _ev(source, contract, text)
    return Note(source, contract, e.name, e.params)


# The Vat calls that move a vault or an ilk's rate (makerdao/dss src/vat.sol).
NOTES: tuple[Note, ...] = tuple(_note("maker", "vat", line) for line in """
frob(bytes32 i, address u, address v, address w, int256 dink, int256 dart)
grab(bytes32 i, address u, address v, address w, int256 dink, int256 dart)
fork(bytes32 ilk, address src, address dst, int256 dink, int256 dart)
fold(bytes32 i, address u, int256 rate)
init(bytes32 ilk)
""".strip().splitlines())
# The Spotter's liquidation ratio per ilk, file(ilk, "mat", ray) (makerdao/dss src/spot.sol, LibNote).
NOTES += (_note("maker", "spotter", "file(bytes32 ilk, bytes32 what, uint256 data)"),)
NOTES_BY_TABLE = {n.table: n for n in NOTES}


def events_of(source: str) -> list[Event]:
    return [e for e in EVENTS if e.source == source]


def notes_of(source: str) -> list[Note]:
    return [n for n in NOTES if n.source == source]


def topic0s_of(source: str) -> list[str]:
    return sorted({"0x" + e.topic0.hex() for e in [*events_of(source), *notes_of(source)]})
