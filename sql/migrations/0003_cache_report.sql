-- "How do I know caching works?": per statement fingerprint, over the telemetry kept, what the result cache did and why not.
CREATE VIEW cairn_meta.cache_report AS
SELECT
  fingerprint,
  min(normalized_text) AS normalized_text,
  count(*) AS statements,
  count(*) FILTER (WHERE cache = 'hit') AS hits,
  count(*) FILTER (WHERE cache = 'miss') AS misses,
  count(*) FILTER (WHERE cache = 'bypass') AS bypasses,
  count(*) FILTER (WHERE cache = 'uncacheable') AS uncacheable,
  round(100.0 * count(*) FILTER (WHERE cache = 'hit') / nullif(count(*) FILTER (WHERE cache IN ('hit', 'miss')), 0), 1) AS hit_rate_pct,
  bool_and(cache IS DISTINCT FROM 'uncacheable') AS cacheable,
  (array_agg(cache_reason ORDER BY at DESC) FILTER (WHERE cache_reason IS NOT NULL))[1] AS why_not,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE cache = 'hit') AS hit_p50_ms,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE cache = 'miss') AS miss_p50_ms,
  max(at) AS last_seen
FROM cairn_meta.query_events
WHERE cache IS NOT NULL
GROUP BY fingerprint;

COMMENT ON VIEW cairn_meta.cache_report IS 'Per fingerprint: cache hits, misses, bypasses, and why a statement is not cacheable';
