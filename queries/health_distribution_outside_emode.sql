-- The bands of health_distribution over accounts in no e-mode category: the price-sensitive book, whose shape
-- the sample's generator targets (backtest/sample/health.py). An e-mode loop (wstETH against WETH) sits near
-- HF 1.03-1.1 by design and is not liquidated by a fall of ETH.
SELECT block_number, band, count(*) AS accounts, round(sum(debt_usd), 2) AS debt_usd,
       round(sum(collateral_usd), 2) AS collateral_usd,
       round(100 * sum(debt_usd) / sum(sum(debt_usd)) OVER (PARTITION BY block_number), 2) AS pct_of_debt
FROM health_bands
WHERE NOT in_emode
GROUP BY block_number, band
ORDER BY block_number, band
