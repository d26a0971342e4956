"""Deploy Aave v3 and Aave v2 markets from their npm artifacts, in the order their contracts require.

Order and roles follow aave/aave-v3-deploy (deploy/00-core, 01-periphery, 02-market, 03-init-reserves)
and aave/protocol-v2 (tasks/full): addresses provider -> ACL -> libraries -> Pool proxy ->
configurator proxy -> oracle -> token implementations -> init reserves -> risk parameters.
Interest rates are set to zero so indexes stay at exactly one RAY and balances do not drift
between blocks: the differential tests compare integers, not approximations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3.contract import Contract

from backtest.devnet import artifacts as art
from backtest.devnet.chain import Chain

RAY = 10**27
ZERO = "0x0000000000000000000000000000000000000000"

V3_LIBRARIES = ("BorrowLogic", "BridgeLogic", "EModeLogic", "FlashLoanLogic", "LiquidationLogic",
                "PoolLogic", "SupplyLogic")


@dataclass(frozen=True)
class ReserveParams:
    """Risk parameters in Aave's own units: bps, and the bonus as 10500 for +5 %."""

    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    protocol_fee: int = 0           # v3 only: share of the bonus sent to the treasury
    borrowable: bool = True


@dataclass
class AaveReserve:
    asset: Contract                 # the underlying ERC-20
    a_token: Contract
    variable_debt: Contract
    stable_debt: Contract
    decimals: int
    params: ReserveParams


@dataclass
class AaveMarket:
    version: int
    pool: Contract
    configurator: Contract
    oracle: Contract
    provider: Contract
    treasury: str
    reserves: dict[str, AaveReserve] = field(default_factory=dict)   # by symbol
    extra: dict[str, Contract] = field(default_factory=dict)         # ACLManager, data provider, ...


def _v3_path(name: str) -> str:
    where = {
        "PoolAddressesProvider": "protocol/configuration", "ACLManager": "protocol/configuration",
        "Pool": "protocol/pool", "PoolConfigurator": "protocol/pool",
        "DefaultReserveInterestRateStrategy": "protocol/pool",
        "AToken": "protocol/tokenization", "VariableDebtToken": "protocol/tokenization",
        "StableDebtToken": "protocol/tokenization",
        "AaveOracle": "misc", "AaveProtocolDataProvider": "misc",
    }.get(name, "protocol/libraries/logic")
    return f"{where}/{name}.sol/{name}.json"


def v3(name: str) -> art.Artifact:
    return art.aave_v3(_v3_path(name))


def deploy_aave_v3(chain: Chain, tokens: dict[str, Contract], feeds: dict[str, Contract],
                   params: dict[str, ReserveParams], treasury: str) -> AaveMarket:
    """A complete Aave v3 market over `tokens`, priced by `feeds` (8-decimal USD, as on mainnet)."""
    admin = chain.deployer
    provider = chain.deploy(v3("PoolAddressesProvider"), "backtest-devnet-v3", admin)
    chain.send(provider.functions.setACLAdmin(admin))
    acl = chain.deploy(v3("ACLManager"), provider.address)
    chain.send(provider.functions.setACLManager(acl.address))
    chain.send(acl.functions.addPoolAdmin(admin))

    # Pool: 7 libraries, FlashLoanLogic itself links BorrowLogic (library_order sorts that out)
    libraries = chain.deploy_libraries({name: v3(name) for name in V3_LIBRARIES})
    pool_impl = chain.deploy(v3("Pool"), provider.address, libraries=libraries)
    chain.send(provider.functions.setPoolImpl(pool_impl.address))
    pool = chain.at(v3("Pool"), provider.functions.getPool().call())

    configurator_libs = chain.deploy_libraries({"ConfiguratorLogic": v3("ConfiguratorLogic")})
    configurator_impl = chain.deploy(v3("PoolConfigurator"), libraries=configurator_libs)
    chain.send(provider.functions.setPoolConfiguratorImpl(configurator_impl.address))
    configurator = chain.at(v3("PoolConfigurator"), provider.functions.getPoolConfigurator().call())

    symbols = list(tokens)
    oracle = chain.deploy(v3("AaveOracle"), provider.address,
                          [tokens[s].address for s in symbols], [feeds[s].address for s in symbols],
                          ZERO, ZERO, 10**8)          # base currency USD (address 0), unit 1e8
    chain.send(provider.functions.setPriceOracle(oracle.address))
    data_provider = chain.deploy(v3("AaveProtocolDataProvider"), provider.address)
    chain.send(provider.functions.setPoolDataProvider(data_provider.address))

    a_impl = chain.deploy(v3("AToken"), pool.address)
    s_impl = chain.deploy(v3("StableDebtToken"), pool.address)
    v_impl = chain.deploy(v3("VariableDebtToken"), pool.address)
    strategy = chain.deploy(v3("DefaultReserveInterestRateStrategy"), provider.address,
                            RAY * 8 // 10, 0, 0, 0, 0, 0, 0, 0, RAY * 2 // 10)

    inputs = []
    for s in symbols:
        decimals = tokens[s].functions.decimals().call()
        inputs.append((a_impl.address, s_impl.address, v_impl.address, decimals, strategy.address,
                       tokens[s].address, treasury, ZERO, f"Aave {s}", f"a{s}", f"Aave variable debt {s}",
                       f"variableDebt{s}", f"Aave stable debt {s}", f"stableDebt{s}", b""))
    chain.send(configurator.functions.initReserves(inputs))

    market = AaveMarket(3, pool, configurator, oracle, provider, treasury,
                        extra={"ACLManager": acl, "AaveProtocolDataProvider": data_provider})
    for s, inp in zip(symbols, inputs):
        p = params[s]
        chain.send(configurator.functions.configureReserveAsCollateral(
            tokens[s].address, p.ltv, p.liquidation_threshold, p.liquidation_bonus))
        if p.borrowable:
            chain.send(configurator.functions.setReserveBorrowing(tokens[s].address, True))
        if p.protocol_fee:
            chain.send(configurator.functions.setLiquidationProtocolFee(tokens[s].address, p.protocol_fee))
        data = pool.functions.getReserveData(tokens[s].address).call()
        # ReserveData (v3.0): ..., aTokenAddress [8], stableDebtTokenAddress [9], variableDebtTokenAddress [10]
        market.reserves[s] = AaveReserve(tokens[s], chain.at(v3("AToken"), data[8]),
                                         chain.at(v3("VariableDebtToken"), data[10]),
                                         chain.at(v3("StableDebtToken"), data[9]), inp[3], p)
    return market


def _v2_path(name: str) -> str:
    where = {
        "LendingPoolAddressesProvider": "protocol/configuration",
        "LendingPool": "protocol/lendingpool", "LendingPoolConfigurator": "protocol/lendingpool",
        "LendingPoolCollateralManager": "protocol/lendingpool",
        "DefaultReserveInterestRateStrategy": "protocol/lendingpool",
        "AToken": "protocol/tokenization", "VariableDebtToken": "protocol/tokenization",
        "StableDebtToken": "protocol/tokenization",
        "AaveOracle": "misc", "AaveProtocolDataProvider": "misc",
    }.get(name, "protocol/libraries/logic")
    return f"{where}/{name}.sol/{name}.json"


def v2(name: str) -> art.Artifact:
    return art.aave_v2(_v2_path(name))


def deploy_aave_v2(chain: Chain, tokens: dict[str, Contract], feeds: dict[str, Contract],
                   params: dict[str, ReserveParams], treasury: str,
                   rate_oracle: Contract) -> AaveMarket:
    """A complete Aave v2 market; prices come from the same 8-decimal feeds (v2 only needs one unit)."""
    admin = chain.deployer
    provider = chain.deploy(v2("LendingPoolAddressesProvider"), "backtest-devnet-v2")
    chain.send(provider.functions.setPoolAdmin(admin))
    chain.send(provider.functions.setEmergencyAdmin(admin))

    # LendingPool: ReserveLogic and ValidationLogic, which itself links GenericLogic
    libraries = chain.deploy_libraries({n: v2(n) for n in ("ReserveLogic", "GenericLogic", "ValidationLogic")})
    pool_impl = chain.deploy(v2("LendingPool"), libraries=libraries)
    chain.send(provider.functions.setLendingPoolImpl(pool_impl.address))
    pool = chain.at(v2("LendingPool"), provider.functions.getLendingPool().call())
    configurator_impl = chain.deploy(v2("LendingPoolConfigurator"))
    chain.send(provider.functions.setLendingPoolConfiguratorImpl(configurator_impl.address))
    configurator = chain.at(v2("LendingPoolConfigurator"), provider.functions.getLendingPoolConfigurator().call())
    collateral_manager = chain.deploy(v2("LendingPoolCollateralManager"))
    chain.send(provider.functions.setLendingPoolCollateralManager(collateral_manager.address))

    symbols = list(tokens)
    # v2's oracle answers 1 ether for its WETH; we give it an address that is no reserve
    not_weth = "0x000000000000000000000000000000000000dEaD"
    oracle = chain.deploy(v2("AaveOracle"), [tokens[s].address for s in symbols],
                          [feeds[s].address for s in symbols], ZERO, not_weth)
    chain.send(provider.functions.setPriceOracle(oracle.address))
    chain.send(provider.functions.setLendingRateOracle(rate_oracle.address))
    strategy = chain.deploy(v2("DefaultReserveInterestRateStrategy"), provider.address,
                            RAY * 8 // 10, 0, 0, 0, 0, 0)
    data_provider = chain.deploy(v2("AaveProtocolDataProvider"), provider.address)

    market = AaveMarket(2, pool, configurator, oracle, provider, treasury,
                        extra={"LendingPoolCollateralManager": collateral_manager,
                               "AaveProtocolDataProvider": data_provider})
    for s in symbols:
        token, p = tokens[s], params[s]
        decimals = token.functions.decimals().call()
        a_impl = chain.deploy(v2("AToken"), pool.address, token.address, treasury, f"Aave v2 {s}", f"a{s}", ZERO)
        s_impl = chain.deploy(v2("StableDebtToken"), pool.address, token.address, f"stable {s}", f"sd{s}", ZERO)
        v_impl = chain.deploy(v2("VariableDebtToken"), pool.address, token.address, f"variable {s}", f"vd{s}", ZERO)
        chain.send(configurator.functions.initReserve(a_impl.address, s_impl.address, v_impl.address,
                                                      decimals, strategy.address))
        chain.send(configurator.functions.configureReserveAsCollateral(
            token.address, p.ltv, p.liquidation_threshold, p.liquidation_bonus))
        if p.borrowable:
            chain.send(configurator.functions.enableBorrowingOnReserve(token.address, False))
        data = pool.functions.getReserveData(token.address).call()
        # ReserveData (v2): ..., aTokenAddress [7], stableDebtTokenAddress [8], variableDebtTokenAddress [9]
        market.reserves[s] = AaveReserve(token, chain.at(v2("AToken"), data[7]),
                                         chain.at(v2("VariableDebtToken"), data[9]),
                                         chain.at(v2("StableDebtToken"), data[8]), decimals, p)
    return market


@dataclass(frozen=True)
class EModeCategory:
    """An Aave v3.0 e-mode category in the contract's units (bps; bonus 10100 = +1 %)."""

    category: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    label: str
    assets: tuple[str, ...]            # symbols of the reserves put in it
    price_source: str = ZERO           # an asset whose oracle price replaces the members' (0: none)


def configure_emode(chain: Chain, market: AaveMarket, category: EModeCategory) -> None:
    """PoolConfigurator.setEModeCategory, then setAssetEModeCategory for each member, as the pool admin
    (the deployer). The category's LT must exceed each member's own LT (PoolConfigurator.sol)."""
    c = category
    calls = [(market.configurator.functions.setEModeCategory(c.category, c.ltv, c.liquidation_threshold,
                                                               c.liquidation_bonus, c.price_source, c.label), None)]
    calls += [(market.configurator.functions.setAssetEModeCategory(market.reserves[s].asset.address, c.category), None)
              for s in c.assets]
    chain.send_many(calls)
