"""Ethereum mainnet deployments built in, so `--address` is optional for the usual contracts.

Sources: Aave's address book (bgd-labs/aave-address-book `src/AaveV3Ethereum.sol`, `AaveV2Ethereum.sol`),
Compound's `networks/mainnet.json` (compound-finance/compound-protocol) and comet `deployments/mainnet`,
Maker's chainlog (chainlog.makerdao.com: MCD_VAT, MCD_SPOT, MCD_DOG, MCD_CLIP_*), Chainlink's feed directory (proxies; the
aggregators behind them are found on chain), Uniswap v2/v3 pool addresses as listed by their factories,
Morpho's address page (docs.morpho.org/developers/contracts/addresses: Morpho Blue on Ethereum), Spark's
address registry (sparkdotfi/spark-address-registry `src/SparkLend.sol`: POOL, POOL_ADDRESSES_PROVIDER,
PROTOCOL_DATA_PROVIDER).
Each entry is (kind, address): the kind says which events the contract emits.
"""

from __future__ import annotations

MAINNET: dict[str, list[tuple[str, str]]] = {
    "aave-v3": [("pool", "0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2")],
    "aave-v2": [("pool", "0x7d2768dE32b0b80b7a3454c06BdAc94A69DDc7A9")],
    "compound-v2": [
        ("comptroller", "0x3d9819210A31b4961b30EF54bE2aeD79B9c9Cd3B"),
        ("ctoken", "0x4Ddc2D193948926D02f9B1fE9e1daa0718270ED5"),   # cETH
        ("ctoken", "0x39AA39c021dfbaE8faC545936693aC917d5E7563"),   # cUSDC
        ("ctoken", "0x5d3a536E4D6DbD6114cc1Ead35777bAB948E3643"),   # cDAI
        ("ctoken", "0xf650C3d88D12dB855b8bf7D11Be6C55A4e07dCC9"),   # cUSDT
        ("ctoken", "0xccF4429DB6322D5C611ee964527D42E5d685DD6a"),   # cWBTC2
    ],
    "comet": [("comet", "0xc3d688B66703497DAA19211EEdff47f25384cdc3"),    # cUSDCv3
              ("comet", "0xA17581A9E3356d9A858b789D68B4d866e593aE94")],   # cWETHv3
    "maker": [("vat", "0x35D1b3F3D7966A1DFe207aa4514C12a259A0492B"),      # MCD_VAT
              ("spotter", "0x65C79fcB50Ca1594B025960e539eD7A9a6D434A3"),  # MCD_SPOT
              ("dog", "0x135954d155898D42C90D2a57824C690e0c7BEf1B"),
              ("clip", "0xc67963a226eddd77B91aD8c421630A1b0AdFF270"),     # MCD_CLIP_ETH_A
              ("clip", "0x71eb894330e8a4b96b8d6056962e7F116F50e06F"),     # MCD_CLIP_ETH_B
              ("clip", "0xc2b12567523e3f3CBd9931492b91fe65b240Bc47"),     # MCD_CLIP_ETH_C
              ("clip", "0x0227b54AdbFAEec5f1eD1dFa11f54dcff9076e2C")],    # MCD_CLIP_WBTC_A
    "chainlink": [("proxy", "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"),   # ETH / USD
                  ("proxy", "0xF4030086522a5bEEa4988F8cA5B36dbC97BeE88c"),   # BTC / USD
                  ("proxy", "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6"),   # USDC / USD
                  ("proxy", "0xAed0c38402a5d19df6E4c03F4E2DceD6e29c1ee9"),   # DAI / USD
                  ("proxy", "0x3E7d1eAB13ad0104d2750B8863b489D65364e32D"),   # USDT / USD
                  ("proxy", "0x2c1d072e956AFFC0D435Cb7AC38EF18d24d9127c"),   # LINK / USD
                  ("proxy", "0x86392dC19c0b719886221c78AB11eb8Cf5c52812")],  # stETH / ETH
    "uniswap-v2": [("pair", "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"),    # USDC/WETH
                   ("pair", "0xA478c2975Ab1Ea89e8196811F51A7B7Ade33eB11")],   # DAI/WETH
    "uniswap-v3": [("pool", "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640"),    # USDC/WETH 0.05%
                   ("pool", "0x8ad599c3A0ff1De082011EFDDc58f1908eb6e6D8")],   # USDC/WETH 0.3%
    # SparkLend: the pool brings its spTokens, debt tokens, configurator and oracle sources (as Aave v3's);
    # the addresses provider and data provider are recorded with the contracts (they emit nothing we read)
    "spark": [("pool", "0xC13e21B648A5Ee794902342038FF3aDAB66BE987"),
              ("provider", "0x02C3eA4e34C0cBd694D2adFa2c690EECbC1793eE"),
              ("data_provider", "0xFc21d6d146E6086B8359705C8b28512a983db0cb")],
    "morpho-blue": [("morpho", "0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb")],   # every market in one contract
}

# The kind a user-given address is taken to be, per source.
DEFAULT_KIND = {"aave-v3": "pool", "aave-v2": "pool", "compound-v2": "ctoken", "comet": "comet",
                "maker": "clip", "chainlink": "proxy", "uniswap-v2": "pair", "uniswap-v3": "pool",
                "morpho-blue": "morpho", "spark": "pool"}


def known(source: str, chain_id: int) -> list[tuple[str, str]]:
    return list(MAINNET.get(source, [])) if chain_id == 1 else []
