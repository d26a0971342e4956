-- Aave v3 positions at block $block (block time $ts, unix seconds), rebuilt from events, in raw token units.
--
-- Scaled balances come from the aToken / variable debt token events (ScaledBalanceTokenBase.sol and
-- AToken.sol, aave/aave-v3-core contracts/protocol/tokenization):
--   Mint(caller, onBehalfOf, value, balanceIncrease, index): value >= balanceIncrease is a mint of
--     value - balanceIncrease; value < balanceIncrease is a burn of balanceIncrease - value that was
--     smaller than the interest accrued (_burnScaled emits Mint then);
--   Burn(from, target, value, balanceIncrease, index): a burn of value + balanceIncrease;
--   the scaled amount is amount.rayDiv(index), exactly as the token stores it;
--   BalanceTransfer(from, to, value, index): value is already scaled (transfers, liquidation fee to treasury).
-- Balance = scaled.rayMul(normalised index at $ts), the index being the last ReserveDataUpdated before
-- $block moved on by its rate (ReserveLogic.getNormalizedIncome / getNormalizedVariableDebt).
-- Stable-rate debt is not rebuilt (deprecated since v3.2; zero on most reserves).
-- Needs the ray_mul / ray_div / linear_index / compound_index UDFs (backtest.ingest.tables).
WITH tokens AS (
    SELECT kind, address, asset, symbol, decimals FROM contracts
    WHERE source = 'aave-v3' AND kind IN ('atoken', 'vtoken')
),
mint_burn AS (
    SELECT 'atoken' AS kind, contract_address, evt_block_number, evt_index, onBehalfOf AS account,
           value, balanceIncrease, "index", 1 AS is_mint
    FROM aave_v3_atoken_mint
    UNION ALL
    SELECT 'atoken', contract_address, evt_block_number, evt_index, "from", value, balanceIncrease, "index", 0
    FROM aave_v3_atoken_burn
    UNION ALL
    SELECT 'vtoken', contract_address, evt_block_number, evt_index, onBehalfOf, value, balanceIncrease, "index", 1
    FROM aave_v3_vtoken_mint
    UNION ALL
    SELECT 'vtoken', contract_address, evt_block_number, evt_index, "from", value, balanceIncrease, "index", 0
    FROM aave_v3_vtoken_burn
),
deltas AS (
    SELECT contract_address, account,
           CASE
             WHEN is_mint = 1 AND value::HUGEINT >= balanceIncrease::HUGEINT
               THEN ray_div((value::HUGEINT - balanceIncrease::HUGEINT)::VARCHAR, "index")::HUGEINT
             WHEN is_mint = 1
               THEN -ray_div((balanceIncrease::HUGEINT - value::HUGEINT)::VARCHAR, "index")::HUGEINT
             ELSE -ray_div((value::HUGEINT + balanceIncrease::HUGEINT)::VARCHAR, "index")::HUGEINT
           END AS scaled
    FROM mint_burn
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, "from", -value::HUGEINT FROM aave_v3_atoken_balance_transfer
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, "to", value::HUGEINT FROM aave_v3_atoken_balance_transfer
    WHERE evt_block_number <= $block
),
scaled AS (
    SELECT t.asset, t.symbol, t.decimals, t.kind, d.account, sum(d.scaled) AS scaled
    FROM deltas d JOIN tokens t ON t.address = d.contract_address
    GROUP BY ALL
),
reserve_state AS (
    SELECT r.reserve, r.liquidityIndex, r.liquidityRate, r.variableBorrowIndex, r.variableBorrowRate,
           b."timestamp" AS updated_at
    FROM aave_v3_pool_reserve_data_updated r
    JOIN contracts c ON c.source = 'aave-v3' AND c.kind = 'pool' AND c.address = r.contract_address
    LEFT JOIN blocks b ON b.block_number = r.evt_block_number
    WHERE r.evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY r.reserve ORDER BY r.evt_block_number DESC, r.evt_index DESC) = 1
),
collateral_flag AS (
    SELECT reserve, "user" AS account, enabled FROM (
        SELECT reserve, "user", evt_block_number, evt_index, true AS enabled FROM aave_v3_pool_reserve_used_as_collateral_enabled
        UNION ALL
        SELECT reserve, "user", evt_block_number, evt_index, false FROM aave_v3_pool_reserve_used_as_collateral_disabled
    )
    WHERE evt_block_number <= $block
    QUALIFY row_number() OVER (PARTITION BY reserve, "user" ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
balances AS (
    SELECT s.account, s.asset, s.symbol, s.decimals,
           sum(CASE WHEN s.kind = 'atoken' THEN s.scaled ELSE 0 END) AS scaled_collateral,
           sum(CASE WHEN s.kind = 'vtoken' THEN s.scaled ELSE 0 END) AS scaled_debt
    FROM scaled s
    GROUP BY ALL
)
SELECT
    'aave-v3' AS protocol,
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
                compound_index(r.variableBorrowIndex, r.variableBorrowRate, r.updated_at, $ts, 3)) END AS debt_raw,
    coalesce(f.enabled, false) AS collateral_enabled,
    $block::BIGINT AS block_number
FROM balances b
LEFT JOIN reserve_state r ON r.reserve = b.asset
LEFT JOIN collateral_flag f ON f.reserve = b.asset AND f.account = b.account
WHERE b.scaled_collateral <> 0 OR b.scaled_debt <> 0
ORDER BY b.account, b.asset
