-- Each asset's USD price as of a moment: the last non-outlier print at or before $at.
SELECT asset, arg_max(price_usd, timestamp) AS price_usd, max(timestamp) AS observed_at
FROM prices
WHERE timestamp <= $at::TIMESTAMPTZ AND NOT coalesce(outlier, false)
GROUP BY asset
ORDER BY asset
