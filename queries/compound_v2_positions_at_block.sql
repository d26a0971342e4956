-- Compound v2 positions at block $block from cToken events (compound-finance/compound-protocol
-- contracts/CToken.sol), raw units.
-- cToken balance: the sum of ERC-20 Transfer events (mint is Transfer(cToken -> minter), redeem
-- Transfer(redeemer -> cToken), seize Transfer(borrower -> liquidator) and, since v2.?, the protocol's
-- share Transfer(borrower -> cToken)); exact.
-- Borrow balance: the last Borrow / RepayBorrow (liquidations emit RepayBorrow too) gives the principal
-- (accountBorrows) and, through the AccrueInterest of that transaction, its interestIndex; then
-- principal * borrowIndex / interestIndex with the last borrowIndex at or before $block, which is
-- CToken.borrowBalanceStored exactly.
-- Collateral in underlying units multiplies by the exchange rate of the last Mint or Redeem
-- (mintAmount * 1e18 / mintTokens): an estimate, as the stored rate also moves with interest and reserves.
-- Only cTokens with the 4-field AccrueInterest (v2.3+, since 2019-11) are handled.
WITH ctokens AS (
    SELECT address, asset, symbol, decimals FROM contracts WHERE source = 'compound-v2' AND kind = 'ctoken'
),
moves AS (
    SELECT contract_address, "to" AS account, amount::HUGEINT AS delta FROM compound_v2_ctoken_transfer
    WHERE evt_block_number <= $block AND "to" <> contract_address
    UNION ALL
    SELECT contract_address, "from", -amount::HUGEINT FROM compound_v2_ctoken_transfer
    WHERE evt_block_number <= $block AND "from" <> contract_address
),
held AS (
    SELECT contract_address, account, sum(delta) AS ctokens FROM moves GROUP BY ALL
),
accrue AS (
    SELECT contract_address, evt_block_number, evt_index, borrowIndex FROM compound_v2_ctoken_accrue_interest
    WHERE evt_block_number <= $block
),
snapshots AS (
    SELECT contract_address, evt_block_number, evt_index, borrower AS account, accountBorrows AS principal
    FROM compound_v2_ctoken_borrow WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number, evt_index, borrower, accountBorrows
    FROM compound_v2_ctoken_repay_borrow WHERE evt_block_number <= $block
),
last_snapshot AS (
    SELECT * FROM snapshots
    QUALIFY row_number() OVER (PARTITION BY contract_address, account ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
with_index AS (
    SELECT s.contract_address, s.account, s.principal,
           (SELECT a.borrowIndex FROM accrue a WHERE a.contract_address = s.contract_address
              AND (a.evt_block_number < s.evt_block_number
                   OR (a.evt_block_number = s.evt_block_number AND a.evt_index < s.evt_index))
            ORDER BY a.evt_block_number DESC, a.evt_index DESC LIMIT 1) AS interest_index
    FROM last_snapshot s
),
index_now AS (
    SELECT contract_address, borrowIndex FROM accrue
    QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
rate AS (
    SELECT contract_address, mul_div(amt, '1000000000000000000', tokens) AS exchange_rate FROM (
        SELECT contract_address, evt_block_number, evt_index, mintAmount AS amt, mintTokens AS tokens
        FROM compound_v2_ctoken_mint WHERE evt_block_number <= $block AND mintTokens <> '0'
        UNION ALL
        SELECT contract_address, evt_block_number, evt_index, redeemAmount, redeemTokens
        FROM compound_v2_ctoken_redeem WHERE evt_block_number <= $block AND redeemTokens <> '0'
    )
    QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
accounts AS (
    SELECT contract_address, account FROM held UNION SELECT contract_address, account FROM with_index
)
SELECT
    'compound-v2' AS protocol,
    a.account,
    a.contract_address AS ctoken,
    c.asset,
    c.symbol,
    c.decimals,
    coalesce(h.ctokens, 0)::VARCHAR AS ctoken_balance_raw,
    r.exchange_rate AS exchange_rate_estimate,
    mul_div(coalesce(h.ctokens, 0)::VARCHAR, r.exchange_rate, '1000000000000000000') AS collateral_raw_estimate,
    coalesce(CASE WHEN w.principal = '0' THEN '0'
                  ELSE mul_div(w.principal, n.borrowIndex, w.interest_index) END, '0') AS debt_raw,
    $block::BIGINT AS block_number
FROM accounts a
LEFT JOIN held h USING (contract_address, account)
LEFT JOIN with_index w USING (contract_address, account)
LEFT JOIN index_now n USING (contract_address)
LEFT JOIN rate r USING (contract_address)
LEFT JOIN ctokens c ON c.address = a.contract_address
WHERE coalesce(h.ctokens, 0) <> 0 OR coalesce(w.principal, '0') <> '0'
ORDER BY a.account, ctoken
