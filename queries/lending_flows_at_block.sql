-- Net principal moved per account and token up to block $block, from lending.borrow / lending.supply rows
-- (ingested events and Dune imports alike). These are flows, not balances: interest is not in them, so for
-- Aave prefer aave_v{2,3}_positions_at_block; for a Dune export they are the best the rows allow.
-- The position's owner is on_behalf_of when given (spellbook fills it for deposits and borrows), else the
-- borrower / depositor.
WITH flows AS (
    SELECT blockchain, project, version, coalesce(on_behalf_of, borrower) AS account, token_address, symbol,
           0::HUGEINT AS supplied_raw, amount_raw::HUGEINT AS borrowed_raw, 0.0 AS supplied, amount AS borrowed
    FROM lending_borrow WHERE block_number <= $block
    UNION ALL
    SELECT blockchain, project, version, coalesce(on_behalf_of, depositor), token_address, symbol,
           amount_raw::HUGEINT, 0::HUGEINT, amount, 0.0
    FROM lending_supply WHERE block_number <= $block
)
SELECT blockchain, project, version, account, token_address, any_value(symbol) AS symbol,
       sum(supplied_raw)::VARCHAR AS net_supplied_raw, sum(borrowed_raw)::VARCHAR AS net_borrowed_raw,
       sum(supplied) AS net_supplied, sum(borrowed) AS net_borrowed, $block::BIGINT AS block_number
FROM flows
GROUP BY blockchain, project, version, account, token_address
ORDER BY blockchain, project, version, account, token_address
