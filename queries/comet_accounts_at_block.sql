-- Every account a Comet market's events name up to block $block (compound-finance/comet
-- contracts/CometMainInterface.sol): the accounts whose principal backtest.ingest.comet reads by eth_call.
-- A base transfer between accounts (transferBase) emits no Supply/Withdraw and only the supply-side parts
-- as Transfer events, so principals cannot be rebuilt from events alone; these are the accounts to ask.
SELECT DISTINCT contract_address AS comet, account FROM (
    SELECT contract_address, dst AS account FROM comet_comet_supply WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, src FROM comet_comet_withdraw WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, "from" FROM comet_comet_transfer WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, "to" FROM comet_comet_transfer WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, borrower FROM comet_comet_absorb_debt WHERE evt_block_number <= $block
    UNION ALL SELECT contract_address, dst FROM comet_comet_supply_collateral WHERE evt_block_number <= $block
)
WHERE account <> '0x0000000000000000000000000000000000000000'
ORDER BY comet, account
