-- One asset's price on the replay's step grid: the last non-outlier print at or before each step.
-- Parameters: $asset, $start, $end (TIMESTAMPTZ), $step_seconds.
WITH grid AS (
    SELECT unnest(generate_series($start::TIMESTAMPTZ, $end::TIMESTAMPTZ, to_seconds($step_seconds))) AS ts
), series AS (
    SELECT timestamp, price_usd
    FROM prices
    WHERE asset = $asset AND NOT coalesce(outlier, false)
)
SELECT g.ts AS timestamp, s.price_usd, s.timestamp AS observed_at
FROM grid g
ASOF LEFT JOIN series s ON g.ts >= s.timestamp
ORDER BY g.ts
