-- Each Aave v3 account's e-mode category at block $block: its last UserEModeSet at or before the block
-- (Pool.setUserEMode, aave-v3-core contracts/protocol/libraries/logic/EModeLogic.sol executeSetUserEMode).
-- An account with no such event is in category 0 (no e-mode) and has no row here.
SELECT "user" AS account, categoryId::INTEGER AS category, evt_block_number AS set_at_block
FROM aave_v3_pool_user_e_mode_set
WHERE evt_block_number <= $block
QUALIFY row_number() OVER (PARTITION BY "user" ORDER BY evt_block_number DESC, evt_index DESC) = 1
ORDER BY account
