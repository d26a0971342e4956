-- Maker vaults at block $block from the Vat's call logs (makerdao/dss src/vat.sol), raw units; needs the
-- mul_div UDF (backtest.ingest.tables).
-- The Vat logs every call as an anonymous LogNote (decoded by backtest.ingest.lognote): an urn's ink
-- (collateral, wad) and art (normalised debt, wad) move only through
--   frob(i, u, v, w, dink, dart)  urn (i, u) += (dink, dart)              (open, deposit, draw, wipe, free)
--   grab(i, u, v, w, dink, dart)  urn (i, u) += (dink, dart), both <= 0   (liquidation: Dog.bark, Cat.bite)
--   fork(ilk, src, dst, dink, dart)  src -= (dink, dart), dst += (dink, dart)
-- and an ilk's rate (ray) is 1e27 at init(ilk) plus every fold(i, u, rate) since (Jug.drip).
-- Debt = art * rate (rad, 1e45) exactly; debt_wad = floor(art * rate / 1e27) in DAI wad.
-- Exact when the ingest starts before the ilk's init (the whole fold history); without the init the rate
-- is unknown and left NULL, not guessed.
WITH moves AS (
    SELECT i AS ilk, u AS urn, dink::HUGEINT AS dink, dart::HUGEINT AS dart FROM maker_vat_frob
    WHERE evt_block_number <= $block
    UNION ALL
    SELECT i, u, dink::HUGEINT, dart::HUGEINT FROM maker_vat_grab WHERE evt_block_number <= $block
    UNION ALL
    SELECT ilk, src, -dink::HUGEINT, -dart::HUGEINT FROM maker_vat_fork WHERE evt_block_number <= $block
    UNION ALL
    SELECT ilk, dst, dink::HUGEINT, dart::HUGEINT FROM maker_vat_fork WHERE evt_block_number <= $block
),
urns AS (
    SELECT ilk, urn, sum(dink) AS ink, sum(dart) AS art FROM moves GROUP BY ilk, urn
),
rates AS (
    SELECT i.ilk, '1000000000000000000000000000'::HUGEINT + coalesce(sum(f.rate::HUGEINT), 0) AS rate
    FROM (SELECT DISTINCT ilk FROM maker_vat_init WHERE evt_block_number <= $block) i
    LEFT JOIN maker_vat_fold f ON f.i = i.ilk AND f.evt_block_number <= $block
    GROUP BY i.ilk
)
SELECT
    'maker' AS protocol,
    u.ilk,
    -- the ilk's name: bytes32 text, NUL-padded on the right (the hex itself if it is not UTF-8)
    coalesce(rtrim(try(decode(unhex(substr(u.ilk, 3)))::VARCHAR), chr(0)), u.ilk) AS ilk_name,
    u.urn,
    u.ink::VARCHAR AS ink_raw,
    u.art::VARCHAR AS art_raw,
    r.rate::VARCHAR AS rate_raw,
    mul_div(u.art::VARCHAR, r.rate::VARCHAR, '1') AS debt_rad,
    mul_div(u.art::VARCHAR, r.rate::VARCHAR, '1000000000000000000000000000') AS debt_wad,
    $block::BIGINT AS block_number
FROM urns u
LEFT JOIN rates r USING (ilk)
WHERE u.ink <> 0 OR u.art <> 0
ORDER BY u.ilk, u.urn
