-- Compound v2 positions at block $block from cToken events (compound-finance/compound-protocol
-- contracts/CToken.sol), raw units; needs the mul_div UDF (backtest.ingest.tables).
--
-- cToken balance: the sum of ERC-20 Transfer events (mint is Transfer(cToken -> minter), redeem
-- Transfer(redeemer -> cToken), seize Transfer(borrower -> liquidator) and the protocol's share
-- Transfer(borrower -> cToken)). Exact.
-- Borrow balance: the last Borrow / RepayBorrow (liquidations emit RepayBorrow) gives the principal
-- (accountBorrows); its interestIndex is the borrowIndex of the last AccrueInterest before it; then
-- principal * borrowIndex / interestIndex with the last borrowIndex at or before $block, which is
-- CToken.borrowBalanceStored. Exact.
-- Exchange rate, as exchangeRateStoredInternal: (cash + totalBorrows - totalReserves) * 1e18 / totalSupply,
-- each term rebuilt at $block from events:
--   totalSupply   = cTokens the cToken sent (mints) minus cTokens sent to it (redeems, protocol seize share);
--   totalBorrows  = the last totalBorrows carried by AccrueInterest, Borrow or RepayBorrow;
--   cash          = cashPrior of the last AccrueInterest (getCashPrior before that call's transfer), plus
--                   every flow after it: + Mint.mintAmount, + RepayBorrow.repayAmount, + ReservesAdded.addAmount
--                   (not the seize share, benefactor = the cToken itself, which moves no cash),
--                   - Redeem.redeemAmount, - Borrow.borrowAmount, - ReservesReduced.reduceAmount.
--                   accrueInterest emits only on the first call of a block, so a later AccrueInterest always
--                   re-anchors cash; what is missed is underlying sent to the cToken directly (a donation)
--                   between that donation and the next AccrueInterest;
--   totalReserves = newTotalReserves of the last ReservesAdded / ReservesReduced, plus, for every
--                   AccrueInterest after it, floor(reserveFactor * interestAccumulated / 1e18)
--                   (accrueInterest's mul_ScalarTruncateAddUInt) with the reserve factor of the last
--                   NewReserveFactor before it. Exact when the ingest starts at the cToken's deployment, or
--                   at least before a ReservesAdded/Reduced and the reserve factor's last change.
-- Collateral = cTokens * exchangeRate / 1e18 (truncated, as the Comptroller's mul_ScalarTruncate).
-- Only cTokens with the 4-field AccrueInterest (v2.3+, since 2019-11) are handled. What cannot be computed
-- is NULL, never 0: debt_raw without an AccrueInterest before the account's last Borrow/RepayBorrow,
-- exchange_rate and collateral_raw without any AccrueInterest (cash unknown).
WITH ctokens AS (
    SELECT address, asset, symbol, decimals FROM contracts WHERE source = 'compound-v2' AND kind = 'ctoken'
),
transfers AS (
    SELECT contract_address, "from", "to", amount::HUGEINT AS amount FROM compound_v2_ctoken_transfer
    WHERE evt_block_number <= $block
),
moves AS (
    SELECT contract_address, "to" AS account, amount AS delta FROM transfers WHERE "to" <> contract_address
    UNION ALL
    SELECT contract_address, "from", -amount FROM transfers WHERE "from" <> contract_address
),
held AS (
    SELECT contract_address, account, sum(delta) AS ctokens FROM moves GROUP BY ALL
),
total_supply AS (
    SELECT contract_address,
           sum(CASE WHEN "from" = contract_address THEN amount ELSE 0 END)
           - sum(CASE WHEN "to" = contract_address THEN amount ELSE 0 END) AS total_supply
    FROM transfers GROUP BY contract_address
),
accrue AS (
    SELECT contract_address, evt_block_number * 1000000 + evt_index AS pos, cashPrior, interestAccumulated,
           borrowIndex, totalBorrows
    FROM compound_v2_ctoken_accrue_interest WHERE evt_block_number <= $block
),
last_accrue AS (
    SELECT * FROM accrue QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY pos DESC) = 1
),
cash_flows AS (
    SELECT contract_address, evt_block_number * 1000000 + evt_index AS pos, mintAmount::HUGEINT AS delta
    FROM compound_v2_ctoken_mint WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number * 1000000 + evt_index, -redeemAmount::HUGEINT
    FROM compound_v2_ctoken_redeem WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number * 1000000 + evt_index, -borrowAmount::HUGEINT
    FROM compound_v2_ctoken_borrow WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number * 1000000 + evt_index, repayAmount::HUGEINT
    FROM compound_v2_ctoken_repay_borrow WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number * 1000000 + evt_index, addAmount::HUGEINT
    FROM compound_v2_ctoken_reserves_added WHERE evt_block_number <= $block AND benefactor <> contract_address
    UNION ALL
    SELECT contract_address, evt_block_number * 1000000 + evt_index, -reduceAmount::HUGEINT
    FROM compound_v2_ctoken_reserves_reduced WHERE evt_block_number <= $block
),
cash AS (
    SELECT a.contract_address,
           a.cashPrior::HUGEINT + coalesce(sum(f.delta) FILTER (WHERE f.pos > a.pos), 0) AS cash
    FROM last_accrue a LEFT JOIN cash_flows f USING (contract_address)
    GROUP BY a.contract_address, a.cashPrior
),
total_borrows AS (
    SELECT contract_address, totalBorrows::HUGEINT AS total_borrows FROM (
        SELECT contract_address, pos, totalBorrows FROM accrue
        UNION ALL
        SELECT contract_address, evt_block_number * 1000000 + evt_index, totalBorrows
        FROM compound_v2_ctoken_borrow WHERE evt_block_number <= $block
        UNION ALL
        SELECT contract_address, evt_block_number * 1000000 + evt_index, totalBorrows
        FROM compound_v2_ctoken_repay_borrow WHERE evt_block_number <= $block
    )
    QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY pos DESC) = 1
),
anchor AS (
    SELECT contract_address, pos, newTotalReserves::HUGEINT AS reserves FROM (
        SELECT contract_address, evt_block_number * 1000000 + evt_index AS pos, newTotalReserves
        FROM compound_v2_ctoken_reserves_added WHERE evt_block_number <= $block
        UNION ALL
        SELECT contract_address, evt_block_number * 1000000 + evt_index, newTotalReserves
        FROM compound_v2_ctoken_reserves_reduced WHERE evt_block_number <= $block
    )
    QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY pos DESC) = 1
),
reserve_factor AS (
    SELECT contract_address, evt_block_number * 1000000 + evt_index AS pos, newReserveFactorMantissa AS factor
    FROM compound_v2_ctoken_new_reserve_factor WHERE evt_block_number <= $block
),
accrued_reserves AS (
    -- the accruals after the last anchor, each with the reserve factor in force then
    SELECT a.contract_address, sum(mul_div(coalesce(f.factor, '0'), a.interestAccumulated,
                                           '1000000000000000000')::HUGEINT) AS added
    FROM accrue a
    LEFT JOIN anchor r USING (contract_address)
    ASOF LEFT JOIN reserve_factor f ON f.contract_address = a.contract_address AND f.pos < a.pos
    WHERE a.pos > coalesce(r.pos, -1)
    GROUP BY a.contract_address
),
market AS (
    SELECT m.contract_address, coalesce(s.total_supply, 0) AS total_supply, c.cash, b.total_borrows,
           coalesce(r.reserves, 0) + coalesce(x.added, 0) AS total_reserves, la.borrowIndex
    FROM (SELECT contract_address FROM last_accrue UNION SELECT contract_address FROM total_supply) m
    LEFT JOIN total_supply s USING (contract_address)
    LEFT JOIN cash c USING (contract_address)
    LEFT JOIN total_borrows b USING (contract_address)
    LEFT JOIN anchor r USING (contract_address)
    LEFT JOIN accrued_reserves x USING (contract_address)
    LEFT JOIN last_accrue la USING (contract_address)
),
rate AS (
    SELECT contract_address, total_supply, cash, total_borrows, total_reserves, borrowIndex,
           CASE WHEN total_supply > 0 AND cash IS NOT NULL
                THEN mul_div((cash + total_borrows - total_reserves)::VARCHAR, '1000000000000000000',
                             total_supply::VARCHAR) END AS exchange_rate
    FROM market
),
snapshots AS (
    SELECT contract_address, evt_block_number * 1000000 + evt_index AS pos, borrower AS account,
           accountBorrows AS principal
    FROM compound_v2_ctoken_borrow WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number * 1000000 + evt_index, borrower, accountBorrows
    FROM compound_v2_ctoken_repay_borrow WHERE evt_block_number <= $block
),
last_snapshot AS (
    SELECT * FROM snapshots
    QUALIFY row_number() OVER (PARTITION BY contract_address, account ORDER BY pos DESC) = 1
),
with_index AS (
    SELECT s.contract_address, s.account, s.principal, s.pos, a.borrowIndex AS interest_index
    FROM last_snapshot s ASOF LEFT JOIN accrue a ON a.contract_address = s.contract_address AND a.pos < s.pos
),
accounts AS (
    SELECT contract_address, account FROM held UNION SELECT contract_address, account FROM with_index
),
-- Comptroller.enterMarkets / exitMarket: a balance backs borrows only in a market the account entered.
-- NULL when no comptroller events are in the lake.
membership AS (
    SELECT cToken AS contract_address, account, entered FROM (
        SELECT cToken, account, evt_block_number, evt_index, true AS entered FROM compound_v2_comptroller_market_entered
        UNION ALL
        SELECT cToken, account, evt_block_number, evt_index, false FROM compound_v2_comptroller_market_exited
    )
    WHERE evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY cToken, account ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
comptroller_known AS (
    SELECT count(*) > 0 AS known FROM contracts WHERE source = 'compound-v2' AND kind = 'comptroller'
)
SELECT
    'compound-v2' AS protocol,
    a.account,
    a.contract_address AS ctoken,
    c.asset,
    c.symbol,
    c.decimals,
    coalesce(h.ctokens, 0)::VARCHAR AS ctoken_balance_raw,
    r.exchange_rate,
    mul_div(coalesce(h.ctokens, 0)::VARCHAR, r.exchange_rate, '1000000000000000000') AS collateral_raw,
    -- NULL (never 0) when the index cannot be computed: no AccrueInterest before the last Borrow/RepayBorrow
    -- in the lake (or only the pre-2019 3-field one, not decoded); backtest snapshot flags such a row
    CASE WHEN coalesce(w.principal, '0') = '0' THEN '0'
         ELSE mul_div(w.principal, r.borrowIndex, w.interest_index) END AS debt_raw,
    w.principal AS principal_raw,
    w.interest_index AS interest_index_raw,
    w.pos // 1000000 AS borrow_snapshot_block,
    r.cash::VARCHAR AS market_cash_raw,
    r.total_borrows::VARCHAR AS market_total_borrows_raw,
    r.total_reserves::VARCHAR AS market_total_reserves_raw,
    r.total_supply::VARCHAR AS market_total_supply_raw,
    CASE WHEN (SELECT known FROM comptroller_known) THEN coalesce(m.entered, false) END AS collateral_enabled,
    $block::BIGINT AS block_number
FROM accounts a
LEFT JOIN held h USING (contract_address, account)
LEFT JOIN with_index w USING (contract_address, account)
LEFT JOIN rate r USING (contract_address)
LEFT JOIN ctokens c ON c.address = a.contract_address
LEFT JOIN membership m USING (contract_address, account)
WHERE coalesce(h.ctokens, 0) <> 0 OR coalesce(w.principal, '0') <> '0'
ORDER BY a.account, ctoken
