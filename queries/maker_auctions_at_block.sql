-- Maker Liquidations 2.0 auctions open at block $block (makerdao/dss src/clip.sol, src/dog.sol):
-- Kick, Take and Redo each carry the auction's tab (DAI owed, rad = 1e45) and lot (collateral, wad = 1e18)
-- after the call; the last of them per (clipper, id) is its state. An auction is open while tab > 0 and
-- lot > 0 (Clipper.take removes it when either reaches zero). The Bark that started it names the ilk.
WITH states AS (
    SELECT contract_address, id, evt_block_number, evt_index, tab, lot, usr, top, NULL AS price FROM maker_clip_kick
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, evt_block_number, evt_index, tab, lot, usr, NULL, price FROM maker_clip_take
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT contract_address, id, evt_block_number, evt_index, tab, lot, usr, top, NULL FROM maker_clip_redo
    WHERE evt_block_number <= $block
),
last AS (
    SELECT * FROM states
    QUALIFY row_number() OVER (PARTITION BY contract_address, id ORDER BY evt_block_number DESC, evt_index DESC) = 1
)
SELECT
    'maker' AS protocol,
    l.contract_address AS clipper,
    l.id,
    b.ilk,
    l.usr AS urn,
    l.tab AS tab_rad,
    l.lot AS lot_wad,
    -- rad values pass HUGEINT's range: to wad exactly (/1e27) first, then one rounding to float
    mul_div(l.tab, '1', '1000000000000000000000000000')::HUGEINT / 1e18 AS tab_dai,
    l.lot::DOUBLE / 1e18 AS lot,
    l.evt_block_number AS last_change_block,
    $block::BIGINT AS block_number
FROM last l
LEFT JOIN maker_dog_bark b ON b.clip = l.contract_address AND b.id = l.id
WHERE l.tab <> '0' AND l.lot <> '0'
ORDER BY clipper, id
