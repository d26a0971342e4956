-- How many borrowing accounts, and how much debt, sit in each health-factor band at each snapshot.
SELECT block_number, band, count(*) AS accounts, round(sum(debt_usd), 2) AS debt_usd,
       round(sum(collateral_usd), 2) AS collateral_usd,
       round(100 * sum(debt_usd) / sum(sum(debt_usd)) OVER (PARTITION BY block_number), 2) AS pct_of_debt
FROM health_bands
GROUP BY block_number, band
ORDER BY block_number, band
