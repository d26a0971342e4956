// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

/// A Morpho Blue oracle (IOracle: `price()`) whose price the tests set: the price of one
/// collateral base unit in loan base units, scaled by 1e36.
contract MorphoTestOracle {
    uint256 public price;

    constructor(uint256 initialPrice) {
        price = initialPrice;
    }

    function setPrice(uint256 newPrice) external {
        price = newPrice;
    }
}
