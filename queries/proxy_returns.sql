-- Paired hourly log returns of a lake asset and a reference, for fitting a beta: the last print of
-- each hour; a return only between consecutive hours, and only hours where both series have one.
-- Parameters: $asset, $reference (lake names), $start, $end (TIMESTAMPTZ).
WITH hourly AS (
    SELECT asset, time_bucket(INTERVAL 1 HOUR, timestamp) AS hour, arg_max(price_usd, timestamp) AS price
    FROM prices
    WHERE asset IN ($asset, $reference) AND NOT coalesce(outlier, false)
      AND timestamp BETWEEN $start::TIMESTAMPTZ AND $end::TIMESTAMPTZ
    GROUP BY asset, hour
), returns AS (
    SELECT asset, hour,
           ln(price / lag(price) OVER (PARTITION BY asset ORDER BY hour)) AS r,
           hour - lag(hour) OVER (PARTITION BY asset ORDER BY hour) AS apart
    FROM hourly
)
SELECT x.hour, x.r AS asset_return, y.r AS reference_return
FROM returns x
JOIN returns y ON x.hour = y.hour
WHERE x.asset = $asset AND y.asset = $reference
  AND x.apart = INTERVAL 1 HOUR AND y.apart = INTERVAL 1 HOUR
ORDER BY x.hour
