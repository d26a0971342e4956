-- The lowest price one lake asset traded at inside a window: a bar's low (bars wholly inside the
-- window), else the print itself; with the bar's start and end (equal for a point print).
-- Parameters: $asset, $start, $end (TIMESTAMPTZ).
WITH rows AS (
    SELECT coalesce(low, price_usd) AS low, price_usd AS close,
           timestamp - to_seconds(coalesce(bar_seconds, 0)) AS bar_start, timestamp AS bar_end
    FROM prices
    WHERE asset = $asset AND NOT coalesce(outlier, false)
)
SELECT min(low) AS low, arg_min(bar_start, low) AS bar_start, arg_min(bar_end, low) AS bar_end,
       min(close) AS lowest_close
FROM rows
WHERE bar_start >= $start::TIMESTAMPTZ AND bar_end <= $end::TIMESTAMPTZ
