-- Uniswap v2 pair reserves at block $block: the last Sync at or before it (UniswapV2Pair._update emits
-- Sync(reserve0, reserve1) after every mint, burn, swap and sync; Uniswap/v2-core contracts/UniswapV2Pair.sol).
-- Tokens: the pair's contracts row (token0(), token1() read at ingest), else the factory's PairCreated for it
-- when the lake has it (ingest --address factory=0x...); NULL when neither: unknown. The fee is 0.3 % for
-- every v2 pair (UniswapV2Pair.swap's 997/1000), so it is known without a call.
WITH created AS (
    SELECT pair, token0, token1 FROM uniswap_v2_factory_pair_created
    QUALIFY row_number() OVER (PARTITION BY pair ORDER BY evt_block_number, evt_index) = 1
)
SELECT
    c.address AS pool,
    coalesce(c.asset, f.token0) AS token0, c.symbol AS symbol0, c.decimals AS decimals0,
    coalesce(c.token1, f.token1) AS token1, c.symbol1, c.decimals1,
    coalesce(c.fee, 0.003) AS fee,
    s.reserve0 AS reserve0_raw,
    s.reserve1 AS reserve1_raw,
    s.evt_block_number AS synced_at_block,
    $block::BIGINT AS block_number
FROM uniswap_v2_pair_sync s
JOIN contracts c ON c.source = 'uniswap-v2' AND c.kind = 'pair' AND c.address = s.contract_address
LEFT JOIN created f ON f.pair = c.address
WHERE s.evt_block_number <= $block
QUALIFY row_number() OVER (PARTITION BY s.contract_address ORDER BY s.evt_block_number DESC, s.evt_index DESC) = 1
ORDER BY pool
