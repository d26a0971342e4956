-- Uniswap v2 pair reserves at block $block: the last Sync at or before it (UniswapV2Pair._update emits
-- Sync(reserve0, reserve1) after every mint, burn, swap and sync; Uniswap/v2-core contracts/UniswapV2Pair.sol).
SELECT
    c.address AS pool,
    c.asset AS token0, c.symbol AS symbol0, c.decimals AS decimals0,
    c.token1, c.symbol1, c.decimals1,
    c.fee,
    s.reserve0 AS reserve0_raw,
    s.reserve1 AS reserve1_raw,
    s.evt_block_number AS synced_at_block,
    $block::BIGINT AS block_number
FROM uniswap_v2_pair_sync s
JOIN contracts c ON c.source = 'uniswap-v2' AND c.kind = 'pair' AND c.address = s.contract_address
WHERE s.evt_block_number <= $block
QUALIFY row_number() OVER (PARTITION BY s.contract_address ORDER BY s.evt_block_number DESC, s.evt_index DESC) = 1
ORDER BY pool
