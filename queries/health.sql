-- Health factor per (account, snapshot): Σ collateral·price·LT / Σ debt·price (Aave
-- GenericLogic.calculateUserAccountData, in USD floats). +inf with no debt. Derived view.
SELECT protocol, account, block_number, timestamp,
       sum(collateral_usd) AS collateral_usd,
       sum(collateral_usd * liquidation_threshold) AS adjusted_collateral_usd,
       sum(debt_usd) AS debt_usd,
       CASE WHEN sum(debt_usd) > 0
            THEN sum(collateral_usd * liquidation_threshold) / sum(debt_usd)
            ELSE 'inf'::DOUBLE END AS health_factor,
       count(*) FILTER (WHERE price_usd IS NULL) AS unpriced_assets,
       count(*) FILTER (WHERE liquidation_threshold IS NULL) AS assets_without_parameters
FROM positions_priced
GROUP BY protocol, account, block_number, timestamp
ORDER BY account, block_number
