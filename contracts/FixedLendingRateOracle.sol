// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice Aave v2's interest rate strategy asks a lending rate oracle for the market stable
/// borrow rate (aave/protocol-v2 contracts/interfaces/ILendingRateOracle.sol). npm ships no
/// implementation, so this one returns what its owner set (zero by default).
contract FixedLendingRateOracle {
    address public immutable owner;
    mapping(address => uint256) private rates;

    constructor() {
        owner = msg.sender;
    }

    function getMarketBorrowRate(address asset) external view returns (uint256) {
        return rates[asset];
    }

    function setMarketBorrowRate(address asset, uint256 rate) external {
        require(msg.sender == owner, "FixedLendingRateOracle: not owner");
        rates[asset] = rate;
    }
}
