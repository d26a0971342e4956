-- Uniswap v3 pool state at block $block: price and tick from the last Swap or Initialize, and the active
-- liquidity from the last Swap plus every Mint/Burn since then whose range holds the current tick
-- (UniswapV3Pool._modifyPosition changes `liquidity` only when tickLower <= slot0.tick < tickUpper;
-- Uniswap/v3-core contracts/UniswapV3Pool.sol).
WITH price AS (
    SELECT contract_address, evt_block_number, evt_index, sqrtPriceX96, tick, liquidity FROM uniswap_v3_pool_swap
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number, evt_index, sqrtPriceX96, tick, NULL FROM uniswap_v3_pool_initialize
    WHERE evt_block_number <= $block
),
last_price AS (
    SELECT * FROM price
    QUALIFY row_number() OVER (PARTITION BY contract_address ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
changes AS (
    SELECT contract_address, evt_block_number, evt_index, tickLower, tickUpper, amount::HUGEINT AS delta
    FROM uniswap_v3_pool_mint WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, evt_block_number, evt_index, tickLower, tickUpper, -amount::HUGEINT
    FROM uniswap_v3_pool_burn WHERE evt_block_number <= $block
),
active AS (
    SELECT p.contract_address,
           coalesce(p.liquidity::HUGEINT, 0) + coalesce(sum(c.delta) FILTER (
               WHERE c.tickLower <= p.tick AND p.tick < c.tickUpper), 0) AS liquidity
    FROM last_price p
    LEFT JOIN changes c ON c.contract_address = p.contract_address
        AND (c.evt_block_number > p.evt_block_number
             OR (c.evt_block_number = p.evt_block_number AND c.evt_index > p.evt_index))
    GROUP BY p.contract_address, p.liquidity
),
-- Tokens and fee: the pool's contracts row (token0(), token1(), fee() read at ingest), else the factory's
-- PoolCreated for it when the lake has it (ingest --address factory=0x...); NULL when neither: unknown.
created AS (
    SELECT pool, token0, token1, fee FROM uniswap_v3_factory_pool_created
    QUALIFY row_number() OVER (PARTITION BY pool ORDER BY evt_block_number, evt_index) = 1
)
SELECT
    c.address AS pool,
    coalesce(c.asset, f.token0) AS token0, c.symbol AS symbol0, c.decimals AS decimals0,
    coalesce(c.token1, f.token1) AS token1, c.symbol1, c.decimals1,
    coalesce(c.fee, f.fee::DOUBLE / 1e6) AS fee,
    p.sqrtPriceX96 AS sqrt_price_x96,
    p.tick,
    a.liquidity::VARCHAR AS liquidity,
    $block::BIGINT AS block_number
FROM last_price p
JOIN active a USING (contract_address)
JOIN contracts c ON c.source = 'uniswap-v3' AND c.kind = 'pool' AND c.address = p.contract_address
LEFT JOIN created f ON f.pool = c.address
ORDER BY pool
