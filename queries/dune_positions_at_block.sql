-- Positions at block $block from Dune lending.borrow / lending.supply exports alone (the imported_* views,
-- not the rows derived from ingested events, whose protocols have exact queries of their own): net
-- principal per (protocol, owner, token), as queries/lending_flows_at_block.sql nets them. What a Dune export
-- can give: no interest (a balance is understated by the interest accrued since each flow), no
-- collateral-enabled flag. A net below 0 (more withdrawn or repaid than the export's rows put in: interest,
-- or rows before the export's first block) is not a balance; backtest snapshot flags it as unknown.
-- The owner is on_behalf_of when given, else the borrower / depositor; decimals are recovered per row from
-- amount_raw / amount, and the token-unit sums are the exact raw sums scaled once.
WITH flows AS (
    SELECT project, version, coalesce(on_behalf_of, borrower) AS account, token_address, symbol,
           0::HUGEINT AS supplied_raw, amount_raw::HUGEINT AS borrowed_raw, amount_raw, amount
    FROM imported_lending_borrow WHERE block_number <= $block
    UNION ALL
    SELECT project, version, coalesce(on_behalf_of, depositor), token_address, symbol,
           amount_raw::HUGEINT, 0::HUGEINT, amount_raw, amount
    FROM imported_lending_supply WHERE block_number <= $block
)
SELECT project, version, account, token_address, min(symbol) AS symbol,
       sum(supplied_raw)::VARCHAR AS supplied_raw, sum(borrowed_raw)::VARCHAR AS borrowed_raw,
       max(CASE WHEN amount <> 0 AND amount_raw IS NOT NULL
                THEN round(log10(abs(amount_raw::DOUBLE / amount)))::BIGINT END) AS decimals
FROM flows
GROUP BY project, version, account, token_address
HAVING sum(supplied_raw) <> 0 OR sum(borrowed_raw) <> 0
ORDER BY project, version, account, token_address
