-- Aave v2 positions at block $block (block time $ts), rebuilt from events, in raw token units.
--
-- aave/protocol-v2 contracts/protocol/tokenization: every v2 token event carries the *unscaled* amount and
-- the index it was scaled by, and the token stores amount.rayDiv(index):
--   AToken Mint(from, value, index) +, Burn(from, target, value, index) -, BalanceTransfer(from, to, value, index) -/+;
--   VariableDebtToken Mint(from, onBehalfOf, value, index) + to onBehalfOf, Burn(user, amount, index) -.
-- Balance = scaled.rayMul(normalised index at $ts) (ReserveLogic.getNormalizedIncome / getNormalizedDebt,
-- v2 MathUtils for the compounded debt). Stable-rate debt is not rebuilt.
WITH tokens AS (
    SELECT kind, address, asset, symbol, decimals FROM contracts
    WHERE source = 'aave-v2' AND kind IN ('atoken', 'vtoken')
),
deltas AS (
    SELECT contract_address, "from" AS account, ray_div(value, "index")::HUGEINT AS scaled, evt_block_number
    FROM aave_v2_atoken_mint
    UNION ALL
    SELECT contract_address, "from", -ray_div(value, "index")::HUGEINT, evt_block_number FROM aave_v2_atoken_burn
    UNION ALL
    SELECT contract_address, "from", -ray_div(value, "index")::HUGEINT, evt_block_number
    FROM aave_v2_atoken_balance_transfer
    UNION ALL
    SELECT contract_address, "to", ray_div(value, "index")::HUGEINT, evt_block_number
    FROM aave_v2_atoken_balance_transfer
    UNION ALL
    SELECT contract_address, onBehalfOf, ray_div(value, "index")::HUGEINT, evt_block_number FROM aave_v2_vtoken_mint
    UNION ALL
    SELECT contract_address, "user", -ray_div(amount, "index")::HUGEINT, evt_block_number FROM aave_v2_vtoken_burn
),
balances AS (
    SELECT d.account, t.asset, t.symbol, t.decimals,
           sum(CASE WHEN t.kind = 'atoken' THEN d.scaled ELSE 0 END) AS scaled_collateral,
           sum(CASE WHEN t.kind = 'vtoken' THEN d.scaled ELSE 0 END) AS scaled_debt
    FROM deltas d JOIN tokens t ON t.address = d.contract_address
    WHERE d.evt_block_number <= $block
    GROUP BY ALL
),
reserve_state AS (
    SELECT r.reserve, r.liquidityIndex, r.liquidityRate, r.variableBorrowIndex, r.variableBorrowRate,
           b."timestamp" AS updated_at
    FROM aave_v2_pool_reserve_data_updated r
    JOIN contracts c ON c.source = 'aave-v2' AND c.kind = 'pool' AND c.address = r.contract_address
    LEFT JOIN blocks b ON b.block_number = r.evt_block_number
    WHERE r.evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY r.reserve ORDER BY r.evt_block_number DESC, r.evt_index DESC) = 1
),
collateral_flag AS (
    SELECT reserve, "user" AS account, enabled FROM (
        SELECT reserve, "user", evt_block_number, evt_index, true AS enabled FROM aave_v2_pool_reserve_used_as_collateral_enabled
        UNION ALL
        SELECT reserve, "user", evt_block_number, evt_index, false FROM aave_v2_pool_reserve_used_as_collateral_disabled
    )
    WHERE evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY reserve, "user" ORDER BY evt_block_number DESC, evt_index DESC) = 1
)
SELECT
    'aave-v2' AS protocol,
    b.account,
    b.asset,
    b.symbol,
    b.decimals,
    b.scaled_collateral::VARCHAR AS scaled_collateral,
    b.scaled_debt::VARCHAR AS scaled_debt,
    ray_mul(b.scaled_collateral::VARCHAR,
            linear_index(r.liquidityIndex, r.liquidityRate, r.updated_at, $ts)) AS collateral_raw,
    CASE WHEN b.scaled_debt = 0 THEN '0' ELSE
        ray_mul(b.scaled_debt::VARCHAR,
                compound_index(r.variableBorrowIndex, r.variableBorrowRate, r.updated_at, $ts, 2)) END AS debt_raw,
    coalesce(f.enabled, false) AS collateral_enabled,
    $block::BIGINT AS block_number
FROM balances b
LEFT JOIN reserve_state r ON r.reserve = b.asset
LEFT JOIN collateral_flag f ON f.reserve = b.asset AND f.account = b.account
WHERE b.scaled_collateral <> 0 OR b.scaled_debt <> 0
ORDER BY b.account, b.asset
