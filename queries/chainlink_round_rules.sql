-- A Chainlink feed's trigger rule read back from its rounds (getRoundData dumps: columns round,
-- answer, start, update): the longest gap between rounds (the heartbeat plus the round's latency)
-- and the median move of the rounds written before the heartbeat was due (deviation-triggered:
-- their median sits at the deviation threshold). $csv: the dump; $heartbeat: the listed heartbeat, s.
-- Rounds with answer 0 (one invalid round in the chainlink_sajanrajdev dumps) are left out.
WITH rounds AS (
    SELECT "update"::DOUBLE AS t, answer::DOUBLE AS p
    FROM read_csv_auto($csv)
    WHERE answer > 0
), steps AS (
    SELECT t - lag(t) OVER (ORDER BY t) AS gap, abs(ln(p / lag(p) OVER (ORDER BY t))) AS move
    FROM rounds
)
SELECT
    count(*) + 1 AS rounds,
    max(gap) AS longest_gap_seconds,
    median(move) FILTER (WHERE gap < 0.95 * $heartbeat) AS median_early_move,
    count(*) FILTER (WHERE gap < 0.95 * $heartbeat) AS early_rounds
FROM steps
WHERE gap IS NOT NULL
