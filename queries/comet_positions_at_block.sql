-- Compound III (Comet) positions at block $block from its events (compound-finance/comet
-- contracts/CometMainInterface.sol, Comet.sol), raw units.
-- Collateral per (account, asset) is exact: SupplyCollateral(dst) +, WithdrawCollateral(src) -,
-- TransferCollateral(from -, to +), AbsorbCollateral(borrower) - (collateral earns no interest in Comet).
-- The base asset is net flows only: Supply(dst) +, Withdraw(src) -, AbsorbDebt(borrower) + basePaidOut;
-- interest accrues through indexes that Comet does not emit, so `base_net_flow_raw` is not a balance.
WITH coll AS (
    SELECT contract_address, dst AS account, asset, amount::HUGEINT AS delta FROM comet_comet_supply_collateral
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, src, asset, -amount::HUGEINT FROM comet_comet_withdraw_collateral
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, "from", asset, -amount::HUGEINT FROM comet_comet_transfer_collateral
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, "to", asset, amount::HUGEINT FROM comet_comet_transfer_collateral
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, borrower, asset, -collateralAbsorbed::HUGEINT FROM comet_comet_absorb_collateral
    WHERE evt_block_number <= $block
),
base AS (
    SELECT contract_address, dst AS account, amount::HUGEINT AS delta FROM comet_comet_supply
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, src, -amount::HUGEINT FROM comet_comet_withdraw WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, borrower, basePaidOut::HUGEINT FROM comet_comet_absorb_debt
    WHERE evt_block_number <= $block
)
SELECT 'comet' AS protocol, contract_address AS comet, account, asset, sum(delta)::VARCHAR AS collateral_raw,
       NULL AS base_net_flow_raw, $block::BIGINT AS block_number
FROM coll GROUP BY contract_address, account, asset HAVING sum(delta) <> 0
UNION ALL
SELECT 'comet', contract_address, account, NULL, NULL, sum(delta)::VARCHAR, $block::BIGINT
FROM base GROUP BY contract_address, account HAVING sum(delta) <> 0
ORDER BY comet, account, asset NULLS LAST
