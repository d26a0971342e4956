-- Aave v3.0 e-mode categories at block $block: the last EModeCategoryAdded per id (PoolConfigurator.
-- setEModeCategory emits it on every change; aave-v3-core contracts/interfaces/IPoolConfigurator.sol).
-- Raw values are bps (ltv 9700, liquidationThreshold 9750, liquidationBonus 10100 = +1 %); the fractions
-- are bps / 1e4 and (bonus - 1e4) / 1e4, so 10500 -> 0.05 exactly as the markets rows are.
-- `oracle` is the category's priceSource (an asset whose AaveOracle price replaces that of every asset
-- of the category for accounts in it: aave_account_data_at_block applies it); 0x00..00 when unused.
SELECT 'aave-v3' AS protocol,
       categoryId::INTEGER AS category,
       ltv AS ltv_bps, liquidationThreshold AS liquidation_threshold_bps, liquidationBonus AS liquidation_bonus_bps,
       ltv::HUGEINT / 1e4 AS ltv,
       liquidationThreshold::HUGEINT / 1e4 AS liquidation_threshold,
       (liquidationBonus::HUGEINT - 10000) / 1e4 AS liquidation_bonus,
       oracle, label,
       evt_block_number AS valid_from_block
FROM aave_v3_configurator_e_mode_category_added
WHERE evt_block_number <= $block
QUALIFY row_number() OVER (PARTITION BY categoryId ORDER BY evt_block_number DESC, evt_index DESC) = 1
ORDER BY category
