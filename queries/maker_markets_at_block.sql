-- Maker risk parameters per ilk at block $block (makerdao/dss src/spot.sol, src/dog.sol): the Spotter's
-- liquidation ratio from its last file(ilk, "mat", ray) call log, the Dog's penalty from its last
-- File(ilk, "chop", wad) event. A vault is unsafe when ink * spot < art * rate with spot = price / mat, so
-- the liquidation threshold is 1 / mat; the penalty adds chop - 1 to the debt an auction must raise.
-- An ilk with no mat in the lake has no row.
WITH mat AS (
    SELECT ilk, data AS mat, evt_block_number FROM maker_spotter_file
    WHERE evt_block_number <= $block AND what = lower('0x' || rpad(hex('mat'), 64, '0'))
    QUALIFY row_number() OVER (PARTITION BY ilk ORDER BY evt_block_number DESC, evt_index DESC) = 1
),
chop AS (
    SELECT ilk, data AS chop, evt_block_number FROM maker_dog_file
    WHERE evt_block_number <= $block AND what = lower('0x' || rpad(hex('chop'), 64, '0'))
    QUALIFY row_number() OVER (PARTITION BY ilk ORDER BY evt_block_number DESC, evt_index DESC) = 1
)
SELECT 'maker' AS protocol, m.ilk,
       coalesce(rtrim(try(decode(unhex(substr(m.ilk, 3)))::VARCHAR), chr(0)), m.ilk) AS ilk_name,
       m.mat AS mat_ray, c.chop AS chop_wad,
       1e27 / m.mat::DOUBLE AS liquidation_threshold,
       c.chop::DOUBLE / 1e18 - 1 AS liquidation_bonus,
       greatest(m.evt_block_number, coalesce(c.evt_block_number, 0)) AS valid_from_block
FROM mat m LEFT JOIN chop c USING (ilk)
ORDER BY m.ilk
