-- The health-factor bands of health_distribution over accounts in no e-mode category: the price-sensitive book.
-- An e-mode loop (wstETH against WETH) sits near HF 1.03-1.1 by design and is not liquidated by a fall of
-- ETH; the sample's generator targets the shape of the rest (backtest/sample/health.py).
WITH emode AS (
    SELECT DISTINCT protocol, account, block_number
    FROM positions
    WHERE coalesce(emode_category, 0) <> 0
), banded AS (
    SELECT h.block_number, h.debt_usd, h.collateral_usd,
           CASE WHEN h.health_factor < 1.0 THEN '0: < 1.00 (liquidatable)'
                WHEN h.health_factor < 1.05 THEN '1: 1.00-1.05'
                WHEN h.health_factor < 1.10 THEN '2: 1.05-1.10'
                WHEN h.health_factor < 1.25 THEN '3: 1.10-1.25'
                WHEN h.health_factor < 1.50 THEN '4: 1.25-1.50'
                WHEN h.health_factor < 2.00 THEN '5: 1.50-2.00'
                WHEN h.health_factor < 5.00 THEN '6: 2.00-5.00'
                ELSE '7: >= 5.00' END AS band
    FROM health h
    ANTI JOIN emode e ON h.protocol = e.protocol AND h.account = e.account AND h.block_number = e.block_number
    WHERE h.debt_usd > 0
)
SELECT block_number, band, count(*) AS accounts,
       round(sum(debt_usd), 2) AS debt_usd,
       round(sum(collateral_usd), 2) AS collateral_usd,
       round(100 * sum(debt_usd) / sum(sum(debt_usd)) OVER (PARTITION BY block_number), 2) AS pct_of_debt
FROM banded
GROUP BY block_number, band
ORDER BY block_number, band
