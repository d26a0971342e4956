-- Every account a Comet market's events name up to block $block (compound-finance/comet
-- contracts/CometMainInterface.sol): the accounts whose principal backtest.ingest.comet reads by eth_call.
-- A base transfer between accounts (transferBase) emits no Supply/Withdraw and only the supply-side parts
-- as Transfer events, so principals cannot be rebuilt from events alone; these are the accounts to ask.
-- `base_events`: the account is named by a base-asset event (it may hold a base balance), not only by
-- SupplyCollateral.
SELECT contract_address AS comet, account, bool_or(base) AS base_events FROM (
    SELECT contract_address, dst AS account, true AS base FROM comet_comet_supply WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, src, true FROM comet_comet_withdraw WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, "from", true FROM comet_comet_transfer WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, "to", true FROM comet_comet_transfer WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, borrower, true FROM comet_comet_absorb_debt WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, dst, false FROM comet_comet_supply_collateral WHERE evt_block_number <= $block
)
WHERE account <> '0x0000000000000000000000000000000000000000'
GROUP BY ALL
ORDER BY comet, account
