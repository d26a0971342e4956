-- Every positions row with the markets parameters in force at its block (as-of on
-- valid_from_block) and its asset's USD price as of its timestamp (as-of on prices,
-- outliers excluded). Derived view: other queries build on it.
WITH with_params AS (
    SELECT p.*, m.ltv, m.liquidation_threshold, m.liquidation_bonus, m.valid_from_block
    FROM positions p
    ASOF LEFT JOIN markets m
        ON p.protocol = m.protocol
       AND p.asset = m.asset
       AND p.block_number >= m.valid_from_block
), clean_prices AS (
    SELECT asset, timestamp, price_usd FROM prices WHERE NOT coalesce(outlier, false)
)
SELECT w.*, c.price_usd, c.timestamp AS price_observed_at,
       w.collateral * c.price_usd AS collateral_usd,
       w.debt * c.price_usd AS debt_usd
FROM with_params w
ASOF LEFT JOIN clean_prices c
    ON w.asset = c.asset
   AND w.timestamp >= c.timestamp
