-- One asset's prints that shape a replay window: the last non-outlier print at or before $start,
-- every print inside the window, and the first at or after $end (the bar that holds the end).
-- Bars (bar_seconds set) carry their open, high and low; `timestamp` is the bar's end.
-- Parameters: $asset, $start, $end (TIMESTAMPTZ).
WITH series AS (
    SELECT timestamp, price_usd, open, high, low, bar_seconds
    FROM prices
    WHERE asset = $asset AND NOT coalesce(outlier, false)
), bounds AS (
    SELECT coalesce((SELECT max(timestamp) FROM series WHERE timestamp <= $start::TIMESTAMPTZ), $start::TIMESTAMPTZ) AS lo,
           coalesce((SELECT min(timestamp) FROM series WHERE timestamp >= $end::TIMESTAMPTZ), $end::TIMESTAMPTZ) AS hi
)
SELECT s.timestamp, s.price_usd, s.open, s.high, s.low, s.bar_seconds
FROM series s, bounds b
WHERE s.timestamp BETWEEN b.lo AND b.hi
ORDER BY s.timestamp
