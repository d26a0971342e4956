-- The book per protocol and asset at each snapshot: accounts, amounts and USD values.
SELECT protocol, block_number, asset,
       count(*) FILTER (WHERE collateral > 0) AS suppliers,
       count(*) FILTER (WHERE debt > 0) AS borrowers,
       sum(collateral) AS collateral,
       sum(debt) AS debt,
       round(sum(collateral_usd), 2) AS collateral_usd,
       round(sum(debt_usd), 2) AS debt_usd,
       any_value(liquidation_threshold) AS liquidation_threshold
FROM positions_priced
GROUP BY protocol, block_number, asset
ORDER BY protocol, block_number, collateral_usd DESC
