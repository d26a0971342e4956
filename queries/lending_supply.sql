-- Dune spellbook `lending.supply` rows from the ingested Aave v2/v3 Pool events, same columns and signs
-- (duneanalytics/spellbook dbt_subprojects/hourly_spellbook/models/_sector/lending/supply/lending_base_supply.sql
-- and the lending_aave_v{2,3}_compatible_supply macros): deposit +, withdraw -, repay_with_atokens -,
-- deposit_liquidation - (collateral taken from the borrower). amount = amount_raw / 10^decimals; amount_usd is
-- left empty (no price join here). Rows imported from Dune CSV exports (backtest ingest --dune) follow.
WITH reserves AS (
    SELECT DISTINCT blockchain, source, asset, symbol, decimals FROM contracts WHERE kind = 'atoken'
),
base AS (
    SELECT 'aave-v3' AS source, '3' AS version, 'deposit' AS transaction_type, reserve AS token_address,
           "user" AS depositor, onBehalfOf AS on_behalf_of, NULL AS withdrawn_to, NULL AS liquidator,
           amount::HUGEINT AS amount_raw, contract_address, evt_block_number, evt_tx_hash, evt_index, blockchain
    FROM aave_v3_pool_supply
    UNION ALL
    SELECT 'aave-v3', '3', 'withdraw', reserve, "user", "user", "to", NULL, -amount::HUGEINT,
           contract_address, evt_block_number, evt_tx_hash, evt_index, blockchain
    FROM aave_v3_pool_withdraw
    UNION ALL
    SELECT 'aave-v3', '3', 'repay_with_atokens', reserve, repayer, "user", NULL, NULL, -amount::HUGEINT,
           contract_address, evt_block_number, evt_tx_hash, evt_index, blockchain
    FROM aave_v3_pool_repay WHERE useATokens
    UNION ALL
    SELECT 'aave-v3', '3', 'deposit_liquidation', collateralAsset, "user", "user", NULL, liquidator,
           -liquidatedCollateralAmount::HUGEINT, contract_address, evt_block_number, evt_tx_hash, evt_index, blockchain
    FROM aave_v3_pool_liquidation_call
    UNION ALL
    SELECT 'aave-v2', '2', 'deposit', reserve, "user", onBehalfOf, NULL, NULL, amount::HUGEINT,
           contract_address, evt_block_number, evt_tx_hash, evt_index, blockchain
    FROM aave_v2_pool_deposit
    UNION ALL
    SELECT 'aave-v2', '2', 'withdraw', reserve, "user", "user", "to", NULL, -amount::HUGEINT,
           contract_address, evt_block_number, evt_tx_hash, evt_index, blockchain
    FROM aave_v2_pool_withdraw
    UNION ALL
    SELECT 'aave-v2', '2', 'deposit_liquidation', collateralAsset, "user", "user", NULL, liquidator,
           -liquidatedCollateralAmount::HUGEINT, contract_address, evt_block_number, evt_tx_hash, evt_index, blockchain
    FROM aave_v2_pool_liquidation_call
)
, derived AS (
SELECT
    b.blockchain,
    'aave' AS project,
    b.version,
    b.transaction_type,
    r.symbol,
    b.token_address,
    b.depositor,
    b.on_behalf_of,
    b.withdrawn_to,
    b.liquidator,
    b.amount_raw / 10::DOUBLE ** coalesce(r.decimals, 18) AS amount,
    b.amount_raw::VARCHAR AS amount_raw,
    NULL::DOUBLE AS amount_usd,
    date_trunc('month', to_timestamp(k."timestamp"))::DATE AS block_month,
    to_timestamp(k."timestamp") AS block_time,
    b.evt_block_number AS block_number,
    b.contract_address AS project_contract_address,
    b.evt_tx_hash AS tx_hash,
    b.evt_index
FROM base b
JOIN contracts c ON c.source = b.source AND c.kind = 'pool' AND c.address = b.contract_address
    AND c.blockchain = b.blockchain
LEFT JOIN reserves r ON r.source = b.source AND r.asset = b.token_address AND r.blockchain = b.blockchain
LEFT JOIN blocks k ON k.block_number = b.evt_block_number AND k.blockchain = b.blockchain
)
SELECT * FROM derived
UNION ALL BY NAME
SELECT * FROM imported_lending_supply
ORDER BY block_number, evt_index
