-- Uniswap v3 initialised ticks at block $block from Mint/Burn: each position adds its liquidity at
-- tickLower and removes it at tickUpper (Tick.update in Uniswap/v3-core contracts/libraries/Tick.sol:
-- liquidityNet += delta at the lower tick, -= delta at the upper; liquidityGross += |delta| at both).
-- Ticks whose gross liquidity is back to zero are cleared, as the pool clears them.
WITH deltas AS (
    SELECT contract_address, evt_block_number, tickLower, tickUpper, amount::HUGEINT AS delta FROM uniswap_v3_pool_mint
    UNION ALL
    SELECT contract_address, evt_block_number, tickLower, tickUpper, -amount::HUGEINT FROM uniswap_v3_pool_burn
),
ends AS (
    SELECT contract_address, tickLower AS tick, delta AS net, delta AS gross FROM deltas WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, tickUpper, -delta, delta FROM deltas WHERE evt_block_number <= $block
)
SELECT contract_address AS pool, $block::BIGINT AS block_number, tick::INTEGER AS tick,
       sum(net)::VARCHAR AS liquidity_net, sum(gross)::VARCHAR AS liquidity_gross
FROM ends
GROUP BY contract_address, tick
HAVING sum(gross) <> 0
ORDER BY pool, tick
