// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice A test stand-in for a Compound v2 cToken, NOT mainnet bytecode (none is on npm). It emits the
/// mainnet events with the same signatures and indexed layout (compound-finance/compound-protocol
/// contracts/CTokenInterfaces.sol) and keeps the state the real cToken keeps (CToken.sol): balances,
/// totalSupply, cash, totalBorrows, totalReserves, borrowIndex and each account's borrow snapshot, with
/// the same accrual, exchange-rate, seize and reserve arithmetic. The underlying token is only a counter
/// (`cash`), the interest model a fixed per-block rate, and the Comptroller's checks are left out.
contract CTokenStandIn {
    event AccrueInterest(uint cashPrior, uint interestAccumulated, uint borrowIndex, uint totalBorrows);
    event Mint(address minter, uint mintAmount, uint mintTokens);
    event Redeem(address redeemer, uint redeemAmount, uint redeemTokens);
    event Borrow(address borrower, uint borrowAmount, uint accountBorrows, uint totalBorrows);
    event RepayBorrow(address payer, address borrower, uint repayAmount, uint accountBorrows, uint totalBorrows);
    event LiquidateBorrow(address liquidator, address borrower, uint repayAmount, address cTokenCollateral, uint seizeTokens);
    event Transfer(address indexed from, address indexed to, uint amount);
    event ReservesAdded(address benefactor, uint addAmount, uint newTotalReserves);
    event ReservesReduced(address admin, uint reduceAmount, uint newTotalReserves);
    event NewReserveFactor(uint oldReserveFactorMantissa, uint newReserveFactorMantissa);

    struct BorrowSnapshot { uint principal; uint interestIndex; }

    uint internal constant EXP = 1e18;
    uint public constant protocolSeizeShareMantissa = 2.8e16;
    uint public immutable initialExchangeRateMantissa;
    address public immutable admin;
    address public immutable underlying;

    uint public totalSupply;
    uint public totalBorrows;
    uint public totalReserves;
    uint public reserveFactorMantissa;
    uint public borrowIndex = EXP;
    uint public accrualBlockNumber;
    uint public borrowRatePerBlock;
    uint internal cash;
    mapping(address => uint) public balanceOf;
    mapping(address => BorrowSnapshot) internal accountBorrows;

    constructor(address underlying_, uint initialExchangeRate) {
        underlying = underlying_;
        initialExchangeRateMantissa = initialExchangeRate;
        admin = msg.sender;
        accrualBlockNumber = block.number;
    }

    // ------------------------------------------------------------------ views

    function getCash() external view returns (uint) { return cash; }

    function exchangeRateStored() public view returns (uint) {
        if (totalSupply == 0) return initialExchangeRateMantissa;
        return (cash + totalBorrows - totalReserves) * EXP / totalSupply;
    }

    function borrowBalanceStored(address account) public view returns (uint) {
        BorrowSnapshot memory s = accountBorrows[account];
        if (s.principal == 0) return 0;
        return s.principal * borrowIndex / s.interestIndex;
    }

    // ------------------------------------------------------------------ interest

    function accrueInterest() public {
        if (accrualBlockNumber == block.number) return;          // once a block, and no event otherwise
        uint cashPrior = cash;
        uint simpleInterestFactor = borrowRatePerBlock * (block.number - accrualBlockNumber);
        uint interestAccumulated = simpleInterestFactor * totalBorrows / EXP;
        totalBorrows = interestAccumulated + totalBorrows;
        totalReserves = reserveFactorMantissa * interestAccumulated / EXP + totalReserves;
        borrowIndex = simpleInterestFactor * borrowIndex / EXP + borrowIndex;
        accrualBlockNumber = block.number;
        emit AccrueInterest(cashPrior, interestAccumulated, borrowIndex, totalBorrows);
    }

    function setBorrowRatePerBlock(uint rate) external { borrowRatePerBlock = rate; }

    function _setReserveFactor(uint newReserveFactorMantissa) external {
        require(msg.sender == admin, "admin");
        accrueInterest();
        emit NewReserveFactor(reserveFactorMantissa, newReserveFactorMantissa);
        reserveFactorMantissa = newReserveFactorMantissa;
    }

    function _addReserves(uint addAmount) external {
        accrueInterest();
        cash += addAmount;
        totalReserves += addAmount;
        emit ReservesAdded(msg.sender, addAmount, totalReserves);
    }

    function _reduceReserves(uint reduceAmount) external {
        require(msg.sender == admin, "admin");
        accrueInterest();
        require(reduceAmount <= cash && reduceAmount <= totalReserves, "reserves");
        totalReserves -= reduceAmount;
        cash -= reduceAmount;
        emit ReservesReduced(admin, reduceAmount, totalReserves);
    }

    // ------------------------------------------------------------------ user operations

    function mint(uint mintAmount) external {
        accrueInterest();
        uint rate = exchangeRateStored();
        cash += mintAmount;
        uint mintTokens = mintAmount * EXP / rate;
        totalSupply += mintTokens;
        balanceOf[msg.sender] += mintTokens;
        emit Mint(msg.sender, mintAmount, mintTokens);
        emit Transfer(address(this), msg.sender, mintTokens);
    }

    function redeem(uint redeemTokens) external {
        accrueInterest();
        uint redeemAmount = exchangeRateStored() * redeemTokens / EXP;
        require(redeemAmount <= cash, "cash");
        totalSupply -= redeemTokens;
        balanceOf[msg.sender] -= redeemTokens;
        cash -= redeemAmount;
        emit Transfer(msg.sender, address(this), redeemTokens);
        emit Redeem(msg.sender, redeemAmount, redeemTokens);
    }

    function borrow(uint borrowAmount) external {
        accrueInterest();
        require(borrowAmount <= cash, "cash");
        uint accountBorrowsNew = borrowBalanceStored(msg.sender) + borrowAmount;
        totalBorrows += borrowAmount;
        accountBorrows[msg.sender] = BorrowSnapshot(accountBorrowsNew, borrowIndex);
        cash -= borrowAmount;
        emit Borrow(msg.sender, borrowAmount, accountBorrowsNew, totalBorrows);
    }

    function repayBorrow(uint repayAmount) external { accrueInterest(); _repay(msg.sender, msg.sender, repayAmount); }

    function repayBorrowBehalf(address borrower, uint repayAmount) external {
        accrueInterest();
        _repay(msg.sender, borrower, repayAmount);
    }

    function _repay(address payer, address borrower, uint repayAmount) internal returns (uint) {
        uint owed = borrowBalanceStored(borrower);
        uint actual = repayAmount == type(uint).max ? owed : repayAmount;
        uint accountBorrowsNew = owed - actual;              // reverts on over-repayment, as CToken does
        cash += actual;
        totalBorrows = totalBorrows - actual;
        accountBorrows[borrower] = BorrowSnapshot(accountBorrowsNew, borrowIndex);
        emit RepayBorrow(payer, borrower, actual, accountBorrowsNew, totalBorrows);
        return actual;
    }

    function transfer(address dst, uint amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[dst] += amount;
        emit Transfer(msg.sender, dst, amount);
        return true;
    }

    /// The Comptroller's liquidateCalculateSeizeTokens is replaced by a caller-given seize ratio
    /// (collateral cTokens per unit repaid, 1e18 scale).
    function liquidateBorrow(address borrower, uint repayAmount, CTokenStandIn cTokenCollateral, uint seizeRatio) external {
        accrueInterest();
        cTokenCollateral.accrueInterest();
        uint actual = _repay(msg.sender, borrower, repayAmount);
        uint seizeTokens = actual * seizeRatio / EXP;
        if (address(cTokenCollateral) == address(this)) {
            _seize(address(this), msg.sender, borrower, seizeTokens);
        } else {
            cTokenCollateral.seize(msg.sender, borrower, seizeTokens);
        }
        emit LiquidateBorrow(msg.sender, borrower, actual, address(cTokenCollateral), seizeTokens);
    }

    function seize(address liquidator, address borrower, uint seizeTokens) external {
        _seize(msg.sender, liquidator, borrower, seizeTokens);
    }

    function _seize(address, address liquidator, address borrower, uint seizeTokens) internal {
        uint protocolSeizeTokens = seizeTokens * protocolSeizeShareMantissa / EXP;
        uint liquidatorSeizeTokens = seizeTokens - protocolSeizeTokens;
        uint protocolSeizeAmount = exchangeRateStored() * protocolSeizeTokens / EXP;
        totalReserves += protocolSeizeAmount;
        totalSupply -= protocolSeizeTokens;
        balanceOf[borrower] -= seizeTokens;
        balanceOf[liquidator] += liquidatorSeizeTokens;
        emit Transfer(borrower, liquidator, liquidatorSeizeTokens);
        emit Transfer(borrower, address(this), protocolSeizeTokens);
        emit ReservesAdded(address(this), protocolSeizeAmount, totalReserves);
    }
}
