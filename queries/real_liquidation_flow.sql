-- The day's real liquidation flow per step of a replay window and asset: collateral seized (sold) and debt
-- repaid (bought back), in token units, from the liquidation rows of lending_supply and lending_borrow
-- (Aave LiquidationCall decoded by `backtest ingest`, or Dune's lending.supply / lending.borrow imported).
-- What a historical path already carries (feedback_mode = "excess", backtest/inputs/carried.py).
-- $start, $end: the window (TIMESTAMPTZ); $step_seconds: the replay's step. A row belongs to the step whose
-- interval [start + k * step, start + (k + 1) * step) holds its block time.
WITH rows AS (
    SELECT symbol, block_time, -amount AS sold, 0.0 AS bought
    FROM lending_supply WHERE transaction_type = 'deposit_liquidation'
    UNION ALL
    SELECT symbol, block_time, 0.0, -amount
    FROM lending_borrow WHERE transaction_type = 'borrow_liquidation'
)
SELECT floor((epoch(block_time) - epoch($start::TIMESTAMPTZ)) / $step_seconds)::BIGINT AS step,
       symbol AS asset, sum(sold) AS sold, sum(bought) AS bought, count(*) AS events
FROM rows
WHERE block_time >= $start::TIMESTAMPTZ AND block_time < $end::TIMESTAMPTZ AND symbol IS NOT NULL
GROUP BY ALL
ORDER BY step, asset
