-- Morpho Blue positions at block $block from the Morpho contract's events, raw units, exact: shares and
-- collateral equal `position(id, user)`; assets convert with the market's totals at the block
-- (queries/morpho_blue_markets_at_block.sql) as the contract's SharesMathLib does, with 1e6 virtual shares
-- and 1 virtual asset: supply toAssetsDown, borrow toAssetsUp.
--   supplyShares: Supply(onBehalf) +, Withdraw(onBehalf) -, AccrueInterest's feeShares to the fee
--     recipient of the moment (its last SetFeeRecipient; address(0) before any)
--   borrowShares: Borrow(onBehalf) +, Repay(onBehalf) -, Liquidate(borrower) -(repaidShares + badDebtShares)
--   collateral: SupplyCollateral(onBehalf) +, WithdrawCollateral(onBehalf) -, Liquidate(borrower) -seizedAssets
WITH recipients AS (
    SELECT contract_address, evt_block_number * 100000 + evt_index AS pos, newFeeRecipient AS recipient
    FROM morpho_blue_morpho_set_fee_recipient WHERE evt_block_number <= $block
),
accruals AS (
    SELECT contract_address, id, evt_block_number * 100000 + evt_index AS pos, feeShares::HUGEINT AS shares
    FROM morpho_blue_morpho_accrue_interest WHERE evt_block_number <= $block AND feeShares::HUGEINT > 0
),
moves AS (
    SELECT contract_address, id, onBehalf AS account, shares::HUGEINT AS ss, 0::HUGEINT AS bs, 0::HUGEINT AS c
    FROM morpho_blue_morpho_supply WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, onBehalf, -shares::HUGEINT, 0, 0
    FROM morpho_blue_morpho_withdraw WHERE evt_block_number <= $block
    UNION ALL
    SELECT a.contract_address, a.id, coalesce(r.recipient, '0x0000000000000000000000000000000000000000'), a.shares, 0, 0
    FROM accruals a ASOF LEFT JOIN recipients r ON r.contract_address = a.contract_address AND r.pos < a.pos
    UNION ALL
    SELECT contract_address, id, onBehalf, 0, shares::HUGEINT, 0
    FROM morpho_blue_morpho_borrow WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, onBehalf, 0, -shares::HUGEINT, 0
    FROM morpho_blue_morpho_repay WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, borrower, 0, -(repaidShares::HUGEINT + badDebtShares::HUGEINT), -seizedAssets::HUGEINT
    FROM morpho_blue_morpho_liquidate WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, onBehalf, 0, 0, assets::HUGEINT
    FROM morpho_blue_morpho_supply_collateral WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, onBehalf, 0, 0, -assets::HUGEINT
    FROM morpho_blue_morpho_withdraw_collateral WHERE evt_block_number <= $block
),
pos AS (
    SELECT contract_address, id, account, sum(ss) AS supply_shares, sum(bs) AS borrow_shares, sum(c) AS collateral
    FROM moves GROUP BY contract_address, id, account
    HAVING sum(ss) <> 0 OR sum(bs) <> 0 OR sum(c) <> 0
)
SELECT 'morpho-blue' AS protocol, p.contract_address AS morpho, p.id AS market_id, p.account,
       p.supply_shares::VARCHAR AS supply_shares, p.borrow_shares::VARCHAR AS borrow_shares,
       p.collateral::VARCHAR AS collateral_raw,
       mul_div(p.supply_shares::VARCHAR, (m.total_supply_assets::HUGEINT + 1)::VARCHAR,
               (m.total_supply_shares::HUGEINT + 1000000)::VARCHAR) AS supply_raw,
       mul_div_up(p.borrow_shares::VARCHAR, (m.total_borrow_assets::HUGEINT + 1)::VARCHAR,
                  (m.total_borrow_shares::HUGEINT + 1000000)::VARCHAR) AS debt_raw,
       m.loan_token, m.loan_symbol, m.loan_decimals, m.collateral_token, m.collateral_symbol,
       m.collateral_decimals, m.lltv_raw, $block::BIGINT AS block_number
FROM pos p
JOIN morpho_blue_markets_at_block m ON m.morpho = p.contract_address AND m.market_id = p.id
ORDER BY morpho, market_id, account
