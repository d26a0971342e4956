-- Gas price on the step grid (last observation at or before each step). $start, $end, $step_seconds.
WITH grid AS (
    SELECT unnest(generate_series($start::TIMESTAMPTZ, $end::TIMESTAMPTZ, to_seconds($step_seconds))) AS ts
)
SELECT g.ts AS timestamp, s.gas_price_gwei
FROM grid g
ASOF LEFT JOIN gas s ON g.ts >= s.timestamp
ORDER BY g.ts
