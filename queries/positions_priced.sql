-- Every positions row with the markets parameters in force at its block (as-of on
-- valid_from_block) and its asset's USD price as of its timestamp (as-of on prices,
-- outliers excluded). Derived view: other queries build on it.
-- Aave v3 e-mode: a row whose account is in category k, in an asset of category k, takes LTV, LT and
-- bonus from the emode_categories row in force (GenericLogic.calculateUserAccountData), as the
-- replay's book does (backtest/inputs/book.py). Morpho Blue: the markets row of the position's market id.
WITH with_params AS (
    SELECT p.*, m.ltv, m.liquidation_threshold, m.liquidation_bonus, m.valid_from_block,
           CASE WHEN p.emode_category <> 0 AND p.emode_category = m.emode_category THEN p.emode_category END
               AS emode_key
    FROM positions p
    ASOF LEFT JOIN markets m
        ON p.protocol = m.protocol
       AND p.asset = m.asset
       -- a Morpho Blue market's parameters are its own (one row per market id and asset)
       AND coalesce(CASE WHEN p.protocol = 'morpho-blue' THEN p.market END, '') =
           coalesce(CASE WHEN m.protocol = 'morpho-blue' THEN m.market END, '')
       AND p.block_number >= m.valid_from_block
), with_emode AS (
    SELECT w.* EXCLUDE (emode_key, ltv, liquidation_threshold, liquidation_bonus, valid_from_block),
           coalesce(e.ltv, w.ltv) AS ltv,
           coalesce(e.liquidation_threshold, w.liquidation_threshold) AS liquidation_threshold,
           coalesce(e.liquidation_bonus, w.liquidation_bonus) AS liquidation_bonus,
           w.valid_from_block
    FROM with_params w
    ASOF LEFT JOIN emode_categories e
        ON w.protocol = e.protocol
       AND w.emode_key = e.category
       AND w.block_number >= e.valid_from_block
), clean_prices AS (
    SELECT asset, timestamp, price_usd FROM prices WHERE NOT coalesce(outlier, false)
)
SELECT w.*, c.price_usd, c.timestamp AS price_observed_at,
       w.collateral * c.price_usd AS collateral_usd,
       w.debt * c.price_usd AS debt_usd
FROM with_emode w
ASOF LEFT JOIN clean_prices c
    ON w.asset = c.asset
   AND w.timestamp >= c.timestamp
