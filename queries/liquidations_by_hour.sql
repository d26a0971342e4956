-- Over a results folder: liquidations per hour, protocol and collateral asset.
SELECT date_trunc('hour', timestamp) AS hour, protocol, collateral_asset,
       count(*) AS liquidations,
       round(sum(debt_repaid_usd), 2) AS debt_repaid_usd,
       round(sum(collateral_seized_usd), 2) AS collateral_seized_usd,
       round(sum(profit_usd), 2) AS liquidator_profit_usd,
       max(round) AS deepest_round
FROM liquidations
GROUP BY ALL
ORDER BY hour, protocol, collateral_asset
