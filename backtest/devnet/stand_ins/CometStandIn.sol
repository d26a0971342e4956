// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice A test stand-in for Compound III (Comet), NOT mainnet bytecode (none is on npm). It emits the
/// mainnet events with the same signatures and indexed layout (compound-finance/comet
/// contracts/CometMainInterface.sol, ERC-20 Transfer) and keeps Comet's state (contracts/CometStorage.sol):
/// signed principal per account, baseSupplyIndex / baseBorrowIndex accrued per second, total principals,
/// collateral balances; with Comet's present/principal value rounding (contracts/CometCore.sol) and its
/// supply, withdraw, transfer and absorb bookkeeping (contracts/Comet.sol). Tokens are counters; the rate
/// model is a fixed per-second supply and borrow rate; collateralisation checks are left out.
contract CometStandIn {
    event Supply(address indexed from, address indexed dst, uint amount);
    event Transfer(address indexed from, address indexed to, uint amount);
    event Withdraw(address indexed src, address indexed to, uint amount);
    event SupplyCollateral(address indexed from, address indexed dst, address indexed asset, uint amount);
    event TransferCollateral(address indexed from, address indexed to, address indexed asset, uint amount);
    event WithdrawCollateral(address indexed src, address indexed to, address indexed asset, uint amount);
    event AbsorbDebt(address indexed absorber, address indexed borrower, uint basePaidOut, uint usdValue);
    event AbsorbCollateral(address indexed absorber, address indexed borrower, address indexed asset, uint collateralAbsorbed, uint usdValue);

    struct TotalsBasic {
        uint64 baseSupplyIndex;
        uint64 baseBorrowIndex;
        uint64 trackingSupplyIndex;
        uint64 trackingBorrowIndex;
        uint104 totalSupplyBase;
        uint104 totalBorrowBase;
        uint40 lastAccrualTime;
        uint8 pauseFlags;
    }
    struct UserBasic {
        int104 principal;
        uint64 baseTrackingIndex;
        uint64 baseTrackingAccrued;
        uint16 assetsIn;
        uint8 _reserved;
    }
    struct AssetInfo {
        uint8 offset;
        address asset;
        address priceFeed;
        uint64 scale;
        uint64 borrowCollateralFactor;
        uint64 liquidateCollateralFactor;
        uint64 liquidationFactor;
        uint128 supplyCap;
    }

    uint64 internal constant BASE_INDEX_SCALE = 1e15;
    uint64 internal constant FACTOR_SCALE = 1e18;
    uint64 internal constant PRICE_SCALE = 1e8;

    address public immutable baseToken;
    uint64 public immutable baseScale;
    uint64 public supplyRatePerSecond;
    uint64 public borrowRatePerSecond;
    uint128 public basePrice = 1e8;

    uint64 internal baseSupplyIndex = BASE_INDEX_SCALE;
    uint64 internal baseBorrowIndex = BASE_INDEX_SCALE;
    uint104 internal totalSupplyBase;
    uint104 internal totalBorrowBase;
    uint40 internal lastAccrualTime;

    mapping(address => UserBasic) public userBasic;
    mapping(address => mapping(address => uint128)) internal collateral;
    mapping(address => uint128) public totalsCollateral;
    AssetInfo[] internal assets;
    mapping(address => uint128) public assetPrice;

    constructor(address baseToken_, uint64 baseScale_) {
        baseToken = baseToken_;
        baseScale = baseScale_;
        lastAccrualTime = uint40(block.timestamp);
    }

    // ------------------------------------------------------------------ configuration (stand-in only)

    function addAsset(address asset, uint64 scale, uint64 borrowCF, uint64 liquidateCF, uint64 liquidationFactor,
                      uint128 supplyCap, uint128 price) external {
        assets.push(AssetInfo(uint8(assets.length), asset, address(0), scale, borrowCF, liquidateCF,
                              liquidationFactor, supplyCap));
        assetPrice[asset] = price;
    }

    function setRates(uint64 supplyRate, uint64 borrowRate) external {
        accrueInternal();
        supplyRatePerSecond = supplyRate;
        borrowRatePerSecond = borrowRate;
    }

    function setPrice(address asset, uint128 price) external { assetPrice[asset] = price; }

    // ------------------------------------------------------------------ views, as Comet's

    function numAssets() external view returns (uint8) { return uint8(assets.length); }

    function getAssetInfo(uint8 i) external view returns (AssetInfo memory) { return assets[i]; }

    function totalsBasic() external view returns (TotalsBasic memory) {
        return TotalsBasic(baseSupplyIndex, baseBorrowIndex, 0, 0, totalSupplyBase, totalBorrowBase, lastAccrualTime, 0);
    }

    function getUtilization() public view returns (uint) {
        uint supplied = presentValueSupply(baseSupplyIndex, totalSupplyBase);
        uint borrowed = presentValueBorrow(baseBorrowIndex, totalBorrowBase);
        return supplied == 0 ? 0 : borrowed * FACTOR_SCALE / supplied;
    }

    function getSupplyRate(uint) public view returns (uint64) { return supplyRatePerSecond; }

    function getBorrowRate(uint) public view returns (uint64) { return borrowRatePerSecond; }

    function balanceOf(address account) external view returns (uint256) {
        (uint64 supplyIndex, ) = accruedInterestIndices(block.timestamp - lastAccrualTime);
        int104 p = userBasic[account].principal;
        return p > 0 ? presentValueSupply(supplyIndex, uint104(p)) : 0;
    }

    function borrowBalanceOf(address account) external view returns (uint256) {
        (, uint64 borrowIndex) = accruedInterestIndices(block.timestamp - lastAccrualTime);
        int104 p = userBasic[account].principal;
        return p < 0 ? presentValueBorrow(borrowIndex, uint104(-p)) : 0;
    }

    function collateralBalanceOf(address account, address asset) external view returns (uint128) {
        return collateral[account][asset];
    }

    // ------------------------------------------------------------------ maths (CometCore)

    function presentValueSupply(uint64 index, uint104 principal) internal pure returns (uint104) {
        return uint104(uint(principal) * index / BASE_INDEX_SCALE);
    }

    function presentValueBorrow(uint64 index, uint104 principal) internal pure returns (uint104) {
        return uint104(uint(principal) * index / BASE_INDEX_SCALE);
    }

    function principalValueSupply(uint64 index, uint104 present) internal pure returns (uint104) {
        return uint104(uint(present) * BASE_INDEX_SCALE / index);
    }

    function principalValueBorrow(uint64 index, uint104 present) internal pure returns (uint104) {
        return uint104((uint(present) * BASE_INDEX_SCALE + index - 1) / index);
    }

    function presentValue(int104 principal) internal view returns (int256) {
        if (principal >= 0) return int256(uint256(presentValueSupply(baseSupplyIndex, uint104(principal))));
        return -int256(uint256(presentValueBorrow(baseBorrowIndex, uint104(-principal))));
    }

    function principalValue(int256 present) internal view returns (int104) {
        if (present >= 0) return int104(principalValueSupply(baseSupplyIndex, uint104(uint256(present))));
        return -int104(principalValueBorrow(baseBorrowIndex, uint104(uint256(-present))));
    }

    function accruedInterestIndices(uint elapsed) internal view returns (uint64, uint64) {
        uint64 s = baseSupplyIndex;
        uint64 b = baseBorrowIndex;
        if (elapsed > 0) {
            s += uint64(uint(s) * (supplyRatePerSecond * elapsed) / FACTOR_SCALE);
            b += uint64(uint(b) * (borrowRatePerSecond * elapsed) / FACTOR_SCALE);
        }
        return (s, b);
    }

    function accrueInternal() internal {
        uint elapsed = block.timestamp - lastAccrualTime;
        if (elapsed > 0) {
            (baseSupplyIndex, baseBorrowIndex) = accruedInterestIndices(elapsed);
            lastAccrualTime = uint40(block.timestamp);
        }
    }

    function repayAndSupplyAmount(int104 oldP, int104 newP) internal pure returns (uint104, uint104) {
        if (newP < oldP) return (0, 0);
        if (newP <= 0) return (uint104(newP - oldP), 0);
        if (oldP >= 0) return (0, uint104(newP - oldP));
        return (uint104(-oldP), uint104(newP));
    }

    function withdrawAndBorrowAmount(int104 oldP, int104 newP) internal pure returns (uint104, uint104) {
        if (newP > oldP) return (0, 0);
        if (newP >= 0) return (uint104(oldP - newP), 0);
        if (oldP <= 0) return (0, uint104(oldP - newP));
        return (uint104(oldP), uint104(-newP));
    }

    function _setPrincipal(address account, int104 oldP, int104 newP) internal {
        if (newP >= oldP) {
            (uint104 repay, uint104 supply) = repayAndSupplyAmount(oldP, newP);
            totalSupplyBase += supply;
            totalBorrowBase -= repay;
        } else {
            (uint104 withdrawn, uint104 borrowed) = withdrawAndBorrowAmount(oldP, newP);
            totalSupplyBase -= withdrawn;
            totalBorrowBase += borrowed;
        }
        userBasic[account].principal = newP;
    }

    // ------------------------------------------------------------------ operations

    function supply(address asset, uint amount) external { supplyTo(msg.sender, asset, amount); }

    function supplyTo(address dst, address asset, uint amount) public {
        if (asset == baseToken) {
            accrueInternal();
            int104 oldP = userBasic[dst].principal;
            int104 newP = principalValue(presentValue(oldP) + int256(amount));
            (, uint104 supplied) = repayAndSupplyAmount(oldP, newP);
            _setPrincipal(dst, oldP, newP);
            emit Supply(msg.sender, dst, amount);
            if (supplied > 0) emit Transfer(address(0), dst, presentValueSupply(baseSupplyIndex, supplied));
        } else {
            collateral[dst][asset] += uint128(amount);
            totalsCollateral[asset] += uint128(amount);
            emit SupplyCollateral(msg.sender, dst, asset, amount);
        }
    }

    function withdraw(address asset, uint amount) external { withdrawTo(msg.sender, asset, amount); }

    function withdrawTo(address to, address asset, uint amount) public {
        if (asset == baseToken) {
            accrueInternal();
            int104 oldP = userBasic[msg.sender].principal;
            int104 newP = principalValue(presentValue(oldP) - int256(amount));
            (uint104 withdrawn, ) = withdrawAndBorrowAmount(oldP, newP);
            _setPrincipal(msg.sender, oldP, newP);
            emit Withdraw(msg.sender, to, amount);
            if (withdrawn > 0) emit Transfer(msg.sender, address(0), presentValueSupply(baseSupplyIndex, withdrawn));
        } else {
            collateral[msg.sender][asset] -= uint128(amount);
            totalsCollateral[asset] -= uint128(amount);
            emit WithdrawCollateral(msg.sender, to, asset, amount);
        }
    }

    function transferAsset(address dst, address asset, uint amount) external {
        if (asset == baseToken) {
            accrueInternal();
            int104 srcOld = userBasic[msg.sender].principal;
            int104 dstOld = userBasic[dst].principal;
            int104 srcNew = principalValue(presentValue(srcOld) - int256(amount));
            int104 dstNew = principalValue(presentValue(dstOld) + int256(amount));
            (uint104 withdrawn, ) = withdrawAndBorrowAmount(srcOld, srcNew);
            (, uint104 supplied) = repayAndSupplyAmount(dstOld, dstNew);
            _setPrincipal(msg.sender, srcOld, srcNew);
            _setPrincipal(dst, dstOld, dstNew);
            if (withdrawn > 0) emit Transfer(msg.sender, address(0), presentValueSupply(baseSupplyIndex, withdrawn));
            if (supplied > 0) emit Transfer(address(0), dst, presentValueSupply(baseSupplyIndex, supplied));
        } else {
            collateral[msg.sender][asset] -= uint128(amount);
            collateral[dst][asset] += uint128(amount);
            emit TransferCollateral(msg.sender, dst, asset, amount);
        }
    }

    /// Comet.absorbInternal: all collateral to the protocol, valued at liquidationFactor, credited in base.
    function absorb(address absorber, address[] calldata accounts) external {
        accrueInternal();
        for (uint i = 0; i < accounts.length; i++) {
            address account = accounts[i];
            int104 oldP = userBasic[account].principal;
            int256 oldBalance = presentValue(oldP);
            uint deltaValue = 0;
            for (uint8 k = 0; k < assets.length; k++) {
                AssetInfo memory a = assets[k];
                uint128 seized = collateral[account][a.asset];
                if (seized == 0) continue;
                collateral[account][a.asset] = 0;
                totalsCollateral[a.asset] -= seized;
                uint value = uint(seized) * assetPrice[a.asset] / a.scale;
                deltaValue += value * a.liquidationFactor / FACTOR_SCALE;
                emit AbsorbCollateral(absorber, account, a.asset, seized, value);
            }
            uint deltaBalance = deltaValue * baseScale / basePrice;
            int256 newBalance = oldBalance + int256(deltaBalance);
            if (newBalance < 0) newBalance = 0;
            int104 newP = principalValue(newBalance);
            _setPrincipal(account, oldP, newP);
            uint basePaidOut = uint(newBalance - oldBalance);
            emit AbsorbDebt(absorber, account, basePaidOut, basePaidOut * basePrice / baseScale);
        }
    }
}
