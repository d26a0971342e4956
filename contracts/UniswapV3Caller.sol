// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC20Minimal {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

interface IUniswapV3PoolMinimal {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external returns (uint256 amount0, uint256 amount1);
    function swap(address recipient, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, bytes calldata data)
        external returns (int256 amount0, int256 amount1);
}

/// @notice Pays Uniswap v3 mint and swap callbacks from the caller's approved balance, so an EOA
/// (a test, a liquidator script) can add liquidity and swap against a bare pool without the periphery.
/// Callback rules: Uniswap/v3-core contracts/interfaces/callback/IUniswapV3{Mint,Swap}Callback.sol.
contract UniswapV3Caller {
    address private expectedPool;

    event Swapped(address indexed pool, int256 amount0, int256 amount1);

    function mint(address pool, int24 tickLower, int24 tickUpper, uint128 amount)
        external returns (uint256 amount0, uint256 amount1)
    {
        expectedPool = pool;
        (amount0, amount1) = IUniswapV3PoolMinimal(pool).mint(msg.sender, tickLower, tickUpper, amount, abi.encode(msg.sender));
        expectedPool = address(0);
    }

    /// @param amountSpecified > 0 exact input, < 0 exact output (the pool's own convention)
    function swap(address pool, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96, address recipient)
        external returns (int256 amount0, int256 amount1)
    {
        expectedPool = pool;
        (amount0, amount1) = IUniswapV3PoolMinimal(pool).swap(
            recipient, zeroForOne, amountSpecified, sqrtPriceLimitX96, abi.encode(msg.sender));
        expectedPool = address(0);
        emit Swapped(pool, amount0, amount1);
    }

    function uniswapV3MintCallback(uint256 owed0, uint256 owed1, bytes calldata data) external {
        _pay(owed0, owed1, data);
    }

    function uniswapV3SwapCallback(int256 delta0, int256 delta1, bytes calldata data) external {
        _pay(delta0 > 0 ? uint256(delta0) : 0, delta1 > 0 ? uint256(delta1) : 0, data);
    }

    function _pay(uint256 owed0, uint256 owed1, bytes calldata data) private {
        require(msg.sender == expectedPool, "UniswapV3Caller: unexpected caller");
        address payer = abi.decode(data, (address));
        IUniswapV3PoolMinimal pool = IUniswapV3PoolMinimal(msg.sender);
        if (owed0 > 0) require(IERC20Minimal(pool.token0()).transferFrom(payer, msg.sender, owed0), "pay0");
        if (owed1 > 0) require(IERC20Minimal(pool.token1()).transferFrom(payer, msg.sender, owed1), "pay1");
    }
}
