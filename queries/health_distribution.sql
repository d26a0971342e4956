-- How many borrowing accounts, and how much debt, sit in each health-factor band at each snapshot.
WITH banded AS (
    SELECT block_number, debt_usd, collateral_usd,
           CASE WHEN health_factor < 1.0 THEN '0: < 1.00 (liquidatable)'
                WHEN health_factor < 1.05 THEN '1: 1.00-1.05'
                WHEN health_factor < 1.10 THEN '2: 1.05-1.10'
                WHEN health_factor < 1.25 THEN '3: 1.10-1.25'
                WHEN health_factor < 1.50 THEN '4: 1.25-1.50'
                WHEN health_factor < 2.00 THEN '5: 1.50-2.00'
                WHEN health_factor < 5.00 THEN '6: 2.00-5.00'
                ELSE '7: >= 5.00' END AS band
    FROM health
    WHERE debt_usd > 0
)
SELECT block_number, band, count(*) AS accounts,
       round(sum(debt_usd), 2) AS debt_usd,
       round(sum(collateral_usd), 2) AS collateral_usd,
       round(100 * sum(debt_usd) / sum(sum(debt_usd)) OVER (PARTITION BY block_number), 2) AS pct_of_debt
FROM banded
GROUP BY block_number, band
ORDER BY block_number, band
