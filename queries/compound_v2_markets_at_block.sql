-- Compound v2 risk parameters at block $block from the Comptroller's events (compound-finance/
-- compound-protocol contracts/Comptroller.sol): per cToken the last NewCollateralFactor, and the
-- comptroller's last NewLiquidationIncentive and NewCloseFactor. Mantissas are 1e18-scaled.
-- A cToken whose collateral factor was never set in the ingested range has no row.
WITH cf AS (
    SELECT contract_address AS comptroller, cToken AS ctoken, newCollateralFactorMantissa_f64 / 1e18 AS collateral_factor,
           evt_block_number
    FROM compound_v2_comptroller_new_collateral_factor WHERE evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY contract_address, cToken ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
incentive AS (
    SELECT contract_address AS comptroller, newLiquidationIncentiveMantissa_f64 / 1e18 AS incentive, evt_block_number
    FROM compound_v2_comptroller_new_liquidation_incentive WHERE evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
close_factor AS (
    SELECT contract_address AS comptroller, newCloseFactorMantissa_f64 / 1e18 AS close_factor, evt_block_number
    FROM compound_v2_comptroller_new_close_factor WHERE evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY evt_block_number DESC, evt_index DESC) = 1
)
SELECT 'compound-v2' AS protocol, cf.ctoken, c.asset, c.symbol, c.decimals, cf.collateral_factor,
       i.incentive - 1 AS liquidation_bonus, k.close_factor,
       greatest(cf.evt_block_number, coalesce(i.evt_block_number, 0), coalesce(k.evt_block_number, 0)) AS valid_from_block
FROM cf
LEFT JOIN incentive i USING (comptroller)
LEFT JOIN close_factor k USING (comptroller)
LEFT JOIN contracts c ON c.source = 'compound-v2' AND c.kind = 'ctoken' AND c.address = cf.ctoken
ORDER BY cf.ctoken
