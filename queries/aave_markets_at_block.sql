-- Aave risk parameters per reserve at block $block for market $source ('aave-v3' or 'aave-v2'), from the
-- configurator's events (aave-v3-core / protocol-v2 PoolConfigurator): the last CollateralConfigurationChanged
-- (ltv, liquidation threshold, bonus, in bps: 10500 = +5 %), for v3 the last LiquidationProtocolFeeChanged
-- (share of the bonus to the treasury, bps) and EModeAssetCategoryChanged (the asset's e-mode category,
-- 0 when never set). A reserve never configured as collateral in the ingested range has no row.
WITH config AS (
    SELECT asset, ltv, liquidationThreshold, liquidationBonus, evt_block_number FROM (
        SELECT 'aave-v3' AS source, * FROM aave_v3_configurator_collateral_configuration_changed
        UNION ALL BY NAME
        SELECT 'aave-v2' AS source, * FROM aave_v2_configurator_collateral_configuration_changed
    )
    WHERE source = $source AND evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY asset ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
fee AS (
    SELECT asset, newFee, evt_block_number FROM aave_v3_configurator_liquidation_protocol_fee_changed
    WHERE $source = 'aave-v3' AND evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY asset ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
emode AS (
    SELECT asset, newCategoryId, evt_block_number FROM aave_v3_configurator_e_mode_asset_category_changed
    WHERE $source = 'aave-v3' AND evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY asset ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
-- symbol and decimals: the aToken's contracts row (read by eth_call at ingest), else a Dune export's rows of
-- the same token (decimals from amount_raw / amount): configurator events + a Dune export name the reserves
tokens AS (
    SELECT asset, arg_min(symbol, pref) AS symbol, arg_min(decimals, pref) AS decimals FROM (
        SELECT DISTINCT asset, symbol, decimals, 0 AS pref FROM contracts
        WHERE source = $source AND kind = 'atoken' AND symbol IS NOT NULL
        UNION ALL
        SELECT token_address, min(symbol), max(round(log10(abs(amount_raw::DOUBLE / amount))))::BIGINT, 1
        FROM (SELECT project, version, token_address, symbol, amount_raw, amount FROM imported_lending_supply
              UNION ALL
              SELECT project, version, token_address, symbol, amount_raw, amount FROM imported_lending_borrow)
        WHERE project = 'aave' AND 'aave-v' || version = $source AND amount <> 0 AND amount_raw IS NOT NULL
        GROUP BY token_address
    )
    GROUP BY asset
)
SELECT $source AS protocol, c.asset AS asset_address, t.symbol, t.decimals,
       c.ltv::HUGEINT / 1e4 AS ltv,
       c.liquidationThreshold::HUGEINT / 1e4 AS liquidation_threshold,
       CASE WHEN c.liquidationBonus::HUGEINT = 0 THEN 0.0
            ELSE (c.liquidationBonus::HUGEINT - 10000) / 1e4 END AS liquidation_bonus,
       coalesce(f.newFee::HUGEINT, 0) / 1e4 AS protocol_fee,
       coalesce(e.newCategoryId, 0)::INTEGER AS emode_category,
       greatest(c.evt_block_number, coalesce(f.evt_block_number, 0), coalesce(e.evt_block_number, 0))
           AS valid_from_block
FROM config c
LEFT JOIN fee f USING (asset)
LEFT JOIN emode e USING (asset)
LEFT JOIN tokens t ON t.asset = c.asset
ORDER BY c.asset
