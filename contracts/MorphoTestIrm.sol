// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

/// Morpho Blue's MarketParams and Market, laid out as in IMorpho.sol so the selectors match.
struct MorphoMarketParams {
    address loanToken;
    address collateralToken;
    address oracle;
    address irm;
    uint256 lltv;
}

struct MorphoMarket {
    uint128 totalSupplyAssets;
    uint128 totalSupplyShares;
    uint128 totalBorrowAssets;
    uint128 totalBorrowShares;
    uint128 lastUpdate;
    uint128 fee;
}

/// An interest rate model (IIrm) with one per-second borrow rate in WAD for every market, set by
/// the tests: accrual is then a known function of time, and a rate of 0 freezes the market.
contract MorphoTestIrm {
    uint256 public rate;

    function setRate(uint256 newRate) external {
        rate = newRate;
    }

    function borrowRate(MorphoMarketParams memory, MorphoMarket memory) external view returns (uint256) {
        return rate;
    }

    function borrowRateView(MorphoMarketParams memory, MorphoMarket memory) external view returns (uint256) {
        return rate;
    }
}
