-- Morpho Blue markets at block $block from the Morpho contract's events (morpho-org/morpho-blue
-- src/Morpho.sol, src/libraries/EventsLib.sol), raw units, exact: equal to `market(id)` and
-- `idToMarketParams(id)` when the lake holds the market's events from its CreateMarket on.
-- Totals as stored at the market's last interaction (interest since its last AccrueInterest is not
-- added: that needs the IRM's state).
--   totalSupplyAssets: Supply +assets, Withdraw -assets, AccrueInterest +interest, Liquidate -badDebtAssets
--   totalSupplyShares: Supply +shares, Withdraw -shares, AccrueInterest +feeShares
--   totalBorrowShares: Borrow +shares, Repay -shares, Liquidate -(repaidShares + badDebtShares)
--   totalBorrowAssets: Borrow +assets, AccrueInterest +interest, Repay -assets, Liquidate -(repaidAssets +
--     badDebtAssets), floored at 0 where the contract's zeroFloorSub floors a repay (it may exceed the
--     total by 1): x_n = max(x_{n-1} + d_n, 0) is S_n - min(0, min_{k<=n} S_k) over the prefix sums S.
WITH flows AS (
    SELECT contract_address, id, evt_block_number, evt_index, assets::HUGEINT AS tsa, shares::HUGEINT AS tss,
           0::HUGEINT AS tba, 0::HUGEINT AS tbs
    FROM morpho_blue_morpho_supply WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, evt_block_number, evt_index, -assets::HUGEINT, -shares::HUGEINT, 0, 0
    FROM morpho_blue_morpho_withdraw WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, evt_block_number, evt_index, 0, 0, assets::HUGEINT, shares::HUGEINT
    FROM morpho_blue_morpho_borrow WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, evt_block_number, evt_index, 0, 0, -assets::HUGEINT, -shares::HUGEINT
    FROM morpho_blue_morpho_repay WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, evt_block_number, evt_index, interest::HUGEINT, feeShares::HUGEINT,
           interest::HUGEINT, 0
    FROM morpho_blue_morpho_accrue_interest WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, evt_block_number, evt_index, -badDebtAssets::HUGEINT, 0,
           -(repaidAssets::HUGEINT + badDebtAssets::HUGEINT), -(repaidShares::HUGEINT + badDebtShares::HUGEINT)
    FROM morpho_blue_morpho_liquidate WHERE evt_block_number <= $block
),
running AS (
    SELECT *, sum(tba) OVER w AS s_tba FROM flows
    WINDOW w AS (PARTITION BY contract_address, id ORDER BY evt_block_number, evt_index
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
totals AS (
    SELECT contract_address, id, sum(tsa) AS tsa, sum(tss) AS tss, sum(tbs) AS tbs,
           arg_max(s_tba, (evt_block_number, evt_index)) - least(0::HUGEINT, min(s_tba)) AS tba
    FROM running GROUP BY contract_address, id
),
fees AS (
    SELECT contract_address, id, arg_max(newFee, (evt_block_number, evt_index)) AS fee
    FROM morpho_blue_morpho_set_fee WHERE evt_block_number <= $block GROUP BY contract_address, id
)
SELECT 'morpho-blue' AS protocol, m.contract_address AS morpho, m.id AS market_id,
       m.loanToken AS loan_token, m.collateralToken AS collateral_token, m.oracle, m.irm, m.lltv AS lltv_raw,
       coalesce(f.fee, '0') AS fee_raw,
       coalesce(t.tsa, 0)::VARCHAR AS total_supply_assets, coalesce(t.tss, 0)::VARCHAR AS total_supply_shares,
       coalesce(t.tba, 0)::VARCHAR AS total_borrow_assets, coalesce(t.tbs, 0)::VARCHAR AS total_borrow_shares,
       lt.symbol AS loan_symbol, lt.decimals AS loan_decimals, ct.symbol AS collateral_symbol,
       ct.decimals AS collateral_decimals, $block::BIGINT AS block_number
FROM morpho_blue_morpho_create_market m
LEFT JOIN totals t ON t.contract_address = m.contract_address AND t.id = m.id
LEFT JOIN fees f ON f.contract_address = m.contract_address AND f.id = m.id
LEFT JOIN (SELECT DISTINCT address, symbol, decimals FROM contracts WHERE source = 'morpho-blue' AND kind = 'token') lt
    ON lt.address = lower(m.loanToken)
LEFT JOIN (SELECT DISTINCT address, symbol, decimals FROM contracts WHERE source = 'morpho-blue' AND kind = 'token') ct
    ON ct.address = lower(m.collateralToken)
WHERE m.evt_block_number <= $block
ORDER BY morpho, market_id
