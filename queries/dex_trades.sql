-- Dune spellbook `dex.trades` rows from ingested Uniswap v2/v3 Swap events, same columns and conventions
-- (spellbook dbt_subprojects/dex/macros/models/_project/uniswap_compatible_trades.sql):
-- v2: bought = the token with a non-zero Out, sold = the token paid In; taker = `to`, maker = the pair;
-- v3: amount0 < 0 means the trader bought token0; taker = recipient. token_pair is alphabetical.
-- amount_usd, tx_from and tx_to are left empty (no price join, no transactions table).
WITH swaps AS (
    SELECT '2' AS version, s.contract_address, s.evt_block_number, s.evt_tx_hash, s.evt_index, s.blockchain,
           s."to" AS taker, s.contract_address AS maker,
           CASE WHEN s.amount0Out = '0' THEN s.amount1Out ELSE s.amount0Out END AS bought_raw,
           CASE WHEN s.amount0In = '0' OR s.amount1Out = '0' THEN s.amount1In ELSE s.amount0In END AS sold_raw,
           s.amount0Out = '0' AS bought_is_1,
           s.amount0In = '0' OR s.amount1Out = '0' AS sold_is_1
    FROM uniswap_v2_pair_swap s
    UNION ALL
    SELECT '3', s.contract_address, s.evt_block_number, s.evt_tx_hash, s.evt_index, s.blockchain,
           s.recipient, NULL,
           CASE WHEN s.amount0::HUGEINT < 0 THEN abs(s.amount0::HUGEINT) ELSE abs(s.amount1::HUGEINT) END::VARCHAR,
           CASE WHEN s.amount0::HUGEINT < 0 THEN abs(s.amount1::HUGEINT) ELSE abs(s.amount0::HUGEINT) END::VARCHAR,
           s.amount0::HUGEINT >= 0,
           s.amount0::HUGEINT < 0
    FROM uniswap_v3_pool_swap s
),
named AS (
    SELECT w.*, c.source,
           CASE WHEN bought_is_1 THEN c.token1 ELSE c.asset END AS token_bought_address,
           CASE WHEN bought_is_1 THEN c.symbol1 ELSE c.symbol END AS token_bought_symbol,
           CASE WHEN bought_is_1 THEN c.decimals1 ELSE c.decimals END AS bought_decimals,
           CASE WHEN sold_is_1 THEN c.token1 ELSE c.asset END AS token_sold_address,
           CASE WHEN sold_is_1 THEN c.symbol1 ELSE c.symbol END AS token_sold_symbol,
           CASE WHEN sold_is_1 THEN c.decimals1 ELSE c.decimals END AS sold_decimals
    FROM swaps w
    JOIN contracts c ON c.source = 'uniswap-v' || w.version AND c.address = w.contract_address
        AND c.blockchain = w.blockchain
)
SELECT
    n.blockchain,
    'uniswap' AS project,
    n.version,
    date_trunc('month', to_timestamp(k."timestamp"))::DATE AS block_month,
    to_timestamp(k."timestamp")::DATE AS block_date,
    to_timestamp(k."timestamp") AS block_time,
    n.evt_block_number AS block_number,
    n.token_bought_symbol,
    n.token_sold_symbol,
    least(n.token_bought_symbol, n.token_sold_symbol) || '-' || greatest(n.token_bought_symbol, n.token_sold_symbol)
        AS token_pair,
    n.bought_raw::HUGEINT / 10::DOUBLE ** coalesce(n.bought_decimals, 18) AS token_bought_amount,
    n.sold_raw::HUGEINT / 10::DOUBLE ** coalesce(n.sold_decimals, 18) AS token_sold_amount,
    n.bought_raw AS token_bought_amount_raw,
    n.sold_raw AS token_sold_amount_raw,
    NULL::DOUBLE AS amount_usd,
    n.token_bought_address,
    n.token_sold_address,
    n.taker,
    n.maker,
    n.contract_address AS project_contract_address,
    n.evt_tx_hash AS tx_hash,
    NULL AS tx_from,
    NULL AS tx_to,
    n.evt_index
FROM named n
LEFT JOIN blocks k ON k.block_number = n.evt_block_number AND k.blockchain = n.blockchain
ORDER BY block_number, evt_index
