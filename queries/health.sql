-- Health factor per (account, snapshot). Aave (GenericLogic.calculateUserAccountData): the
-- value-weighted average liquidation threshold, floored to whole bps, times the collateral value,
-- over the debt value. Compound v2: Σ collateral value x collateral factor over the debt value.
-- USD floats; +inf with no debt; NULL (not a number made from partial sums) when a row of the account has
-- an amount the lake could not compute (positions' `unknown`, counted in unknown_amounts). Derived view.
-- A Morpho Blue position is isolated in its market: account "ACCOUNT@MARKET_ID", as in the replay's book.
WITH totals AS (
    SELECT protocol, CASE WHEN protocol = 'morpho-blue' THEN account || '@' || market ELSE account END AS account,
           block_number, timestamp,
           sum(collateral_usd) AS collateral_usd,
           sum(collateral_usd * liquidation_threshold) AS weighted_usd,
           sum(debt_usd) AS debt_usd,
           count(*) FILTER (WHERE price_usd IS NULL) AS unpriced_assets,
           count(*) FILTER (WHERE liquidation_threshold IS NULL) AS assets_without_parameters,
           count(*) FILTER (WHERE "unknown" IS NOT NULL) AS unknown_amounts
    FROM positions_priced
    GROUP BY ALL
), adjusted AS (
    SELECT *,
           CASE WHEN collateral_usd <= 0 THEN 0
                WHEN protocol LIKE 'aave%' THEN collateral_usd * floor(weighted_usd / collateral_usd * 10000 + 1e-9) / 10000
                ELSE weighted_usd END AS adjusted_collateral_usd
    FROM totals
)
SELECT protocol, account, block_number, timestamp, collateral_usd, adjusted_collateral_usd, debt_usd,
       CASE WHEN unknown_amounts > 0 THEN NULL
            WHEN debt_usd > 0 THEN adjusted_collateral_usd / debt_usd ELSE 'inf'::DOUBLE END AS health_factor,
       unpriced_assets, assets_without_parameters, unknown_amounts
FROM adjusted
ORDER BY account, block_number
