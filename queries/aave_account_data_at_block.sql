-- Aave getUserAccountData at block $block for market $source ('aave-v3' or 'aave-v2'), rebuilt from events:
-- balances from aave_positions_raw (the output of aave_v{2,3}_positions_at_block for the same block),
-- prices from the oracle's price sources (their last AnswerUpdated: AaveOracle.getAssetPrice reads
-- latestAnswer), risk parameters from the configurator's last CollateralConfigurationChanged.
-- Formulas of GenericLogic.calculateUserAccountData (aave-v3-core protocol/libraries/logic/GenericLogic.sol;
-- protocol-v2 the same): per reserve base value = balance * price / 10^decimals (floored); collateral
-- counts when enabled and its own threshold is not 0; the average threshold and LTV are value-weighted and
-- floored; HF = (collateral percentMul avgLT) wadDiv debt; available = max(collateral percentMul ltv - debt, 0).
-- e-mode (v3.0): an account's category is its last UserEModeSet; for a reserve whose category
-- (EModeAssetCategoryChanged) equals the account's, the category's LTV and threshold replace the
-- reserve's (last EModeCategoryAdded; the LTV only where the reserve's own LTV is not 0, as in
-- GenericLogic). A category with a priceSource (`oracle` not 0) prices those reserves, collateral and debt,
-- at the oracle's price of that asset (EModeLogic.getEModeConfiguration; its price source must be in
-- the lake like any reserve's, else the account's values are null).
-- Not modelled: isolation mode, zero-LTV collateral rules, stable-rate debt.
WITH config AS (
    SELECT asset, ltv, liquidationThreshold AS lt FROM (
        SELECT 'aave-v3' AS source, asset, ltv, liquidationThreshold, evt_block_number, evt_index
        FROM aave_v3_configurator_collateral_configuration_changed
        UNION ALL
        SELECT 'aave-v2', asset, ltv, liquidationThreshold, evt_block_number, evt_index
        FROM aave_v2_configurator_collateral_configuration_changed
    )
    WHERE source = $source AND evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY asset ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
user_emode AS (
    SELECT "user" AS account, categoryId AS category FROM aave_v3_pool_user_e_mode_set
    WHERE $source = 'aave-v3' AND evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY "user" ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
asset_emode AS (
    SELECT asset, newCategoryId AS category FROM aave_v3_configurator_e_mode_asset_category_changed
    WHERE $source = 'aave-v3' AND evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY asset ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
emode AS (
    SELECT categoryId AS category, ltv, liquidationThreshold AS lt, oracle
    FROM aave_v3_configurator_e_mode_category_added
    WHERE $source = 'aave-v3' AND evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY categoryId ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
price AS (
    SELECT s.asset, p.answer_raw AS price
    FROM contracts s
    JOIN chainlink_prices p ON p.feed = s.address
    WHERE s.source = $source AND s.kind = 'price_source' AND p.block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY s.asset ORDER BY p.block_number DESC, p.evt_index DESC) = 1
),
per_asset AS (
    SELECT q.account,
           CASE WHEN q.collateral_enabled AND coalesce(c.lt, '0') <> '0'
                THEN mul_div(q.collateral_raw, p.price, '1' || repeat('0', q.decimals::INTEGER))::HUGEINT
                ELSE 0 END AS coll_base,
           mul_div(q.debt_raw, p.price, '1' || repeat('0', q.decimals::INTEGER))::HUGEINT AS debt_base,
           CASE WHEN e.category IS NOT NULL THEN e.lt ELSE coalesce(c.lt, '0') END::HUGEINT AS lt,
           CASE WHEN coalesce(c.ltv, '0') = '0' THEN '0'
                WHEN e.category IS NOT NULL THEN e.ltv ELSE c.ltv END::HUGEINT AS ltv
    FROM aave_positions_raw q
    LEFT JOIN config c ON c.asset = q.asset
    LEFT JOIN price pr ON pr.asset = q.asset
    LEFT JOIN user_emode ue ON ue.account = q.account
    LEFT JOIN asset_emode ae ON ae.asset = q.asset
    -- the category's values apply when the account's category is the asset's (and not 0)
    LEFT JOIN emode e ON e.category = ue.category AND ue.category = ae.category AND ue.category <> 0
    LEFT JOIN price ep ON ep.asset = e.oracle
    -- the category's priceSource, where it has one, else the reserve's own price
    CROSS JOIN LATERAL (SELECT CASE WHEN e.oracle IS NOT NULL
                                     AND e.oracle <> '0x0000000000000000000000000000000000000000'
                                    THEN ep.price ELSE pr.price END AS price) p
),
totals AS (
    SELECT account, sum(coll_base) AS coll, sum(debt_base) AS debt,
           CASE WHEN sum(coll_base) = 0 THEN 0 ELSE sum(coll_base * lt) // sum(coll_base) END AS avg_lt,
           CASE WHEN sum(coll_base) = 0 THEN 0 ELSE sum(coll_base * ltv) // sum(coll_base) END AS avg_ltv
    FROM per_asset
    GROUP BY account
)
SELECT
    account,
    coll::VARCHAR AS total_collateral_base,
    debt::VARCHAR AS total_debt_base,
    greatest(percent_mul(coll::VARCHAR, avg_ltv::VARCHAR)::HUGEINT - debt, 0)::VARCHAR AS available_borrows_base,
    avg_lt::VARCHAR AS current_liquidation_threshold,
    avg_ltv::VARCHAR AS ltv,
    CASE WHEN debt = 0
         THEN '115792089237316195423570985008687907853269984665640564039457584007913129639935'
         ELSE wad_div(percent_mul(coll::VARCHAR, avg_lt::VARCHAR), debt::VARCHAR) END AS health_factor,
    $block::BIGINT AS block_number
FROM totals
ORDER BY account
