-- Each borrowing (account, snapshot) of health with its health-factor band and whether the account is in an
-- e-mode category (its loops sit near HF 1.03-1.1 by design). Derived view: health_distribution and
-- health_distribution_outside_emode count it.
WITH emode AS (
    SELECT DISTINCT protocol, account, block_number
    FROM positions
    WHERE coalesce(emode_category, 0) <> 0
)
SELECT h.protocol, h.account, h.block_number, h.debt_usd, h.collateral_usd, h.health_factor,
       CASE WHEN h.health_factor < 1.0 THEN '0: < 1.00 (liquidatable)'
            WHEN h.health_factor < 1.05 THEN '1: 1.00-1.05'
            WHEN h.health_factor < 1.10 THEN '2: 1.05-1.10'
            WHEN h.health_factor < 1.25 THEN '3: 1.10-1.25'
            WHEN h.health_factor < 1.50 THEN '4: 1.25-1.50'
            WHEN h.health_factor < 2.00 THEN '5: 1.50-2.00'
            WHEN h.health_factor < 5.00 THEN '6: 2.00-5.00'
            ELSE '7: >= 5.00' END AS band,
       e.account IS NOT NULL AS in_emode
FROM health h
LEFT JOIN emode e ON h.protocol = e.protocol AND h.account = e.account AND h.block_number = e.block_number
WHERE h.debt_usd > 0
