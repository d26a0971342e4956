-- Net principal moved per account and token up to block $block, from lending.borrow / lending.supply rows
-- (ingested events and Dune imports alike). These are flows, not balances: interest is not in them, so for
-- Aave prefer aave_v{2,3}_positions_at_block; for a Dune export they are the best the rows allow.
-- The position's owner is on_behalf_of when given (spellbook fills it for deposits and borrows), else the
-- borrower / depositor.
-- The token-unit columns are the exact raw sums scaled by the token's decimals (amount = amount_raw /
-- 10^decimals, recovered per row), not a float sum: DuckDB adds floats in parallel in no fixed order, and
-- the same lake must give the same bytes. A group whose rows all have amount 0 or no raw amount falls back
-- to the float sum.
WITH flows AS (
    SELECT blockchain, project, version, coalesce(on_behalf_of, borrower) AS account, token_address, symbol,
           0::HUGEINT AS supplied_raw, amount_raw::HUGEINT AS borrowed_raw, 0.0 AS supplied, amount AS borrowed,
           amount_raw, amount
    FROM lending_borrow WHERE block_number <= $block
    UNION ALL
    SELECT blockchain, project, version, coalesce(on_behalf_of, depositor), token_address, symbol,
           amount_raw::HUGEINT, 0::HUGEINT, amount, 0.0, amount_raw, amount
    FROM lending_supply WHERE block_number <= $block
), scaled AS (
    SELECT blockchain, project, version, account, token_address, any_value(symbol) AS symbol,
           sum(supplied_raw) AS s_raw, sum(borrowed_raw) AS b_raw, sum(supplied) AS s, sum(borrowed) AS b,
           max(CASE WHEN amount <> 0 AND amount_raw IS NOT NULL
                    THEN round(log10(abs(amount_raw::DOUBLE / amount))) END) AS decimals
    FROM flows
    GROUP BY blockchain, project, version, account, token_address
)
SELECT blockchain, project, version, account, token_address, symbol,
       s_raw::VARCHAR AS net_supplied_raw, b_raw::VARCHAR AS net_borrowed_raw,
       coalesce(s_raw::DOUBLE / 10::DOUBLE ** decimals, s) AS net_supplied,
       coalesce(b_raw::DOUBLE / 10::DOUBLE ** decimals, b) AS net_borrowed, $block::BIGINT AS block_number
FROM scaled
ORDER BY blockchain, project, version, account, token_address
