-- One row per statement the proxy saw. Partitioned by day so retention is a DROP, not a DELETE.
CREATE TABLE cairn_meta.query_events (
  at timestamptz NOT NULL,
  database text NOT NULL,
  user_name text NOT NULL,
  application_name text NOT NULL,
  session_id text NOT NULL,
  fingerprint text NOT NULL,
  normalized_text text NOT NULL,
  kind text NOT NULL,
  relations_read text[] NOT NULL,
  relations_written text[] NOT NULL,
  deterministic boolean NOT NULL,
  duration_ms double precision NOT NULL,
  pool_wait_ms double precision NOT NULL,
  rows bigint NOT NULL,
  bytes_out bigint NOT NULL,
  sqlstate text,
  cache text CHECK (cache IN ('hit', 'miss', 'bypass', 'uncacheable')),
  cache_reason text
) PARTITION BY RANGE (at);

CREATE INDEX query_events_fingerprint_at ON cairn_meta.query_events (fingerprint, at);

COMMENT ON TABLE cairn_meta.query_events IS 'Per-statement telemetry from the proxy, one partition per UTC day';

-- Creates the partitions for today and the next `days_ahead` days, and drops those older than `retention_days`.
CREATE FUNCTION cairn_meta.maintain_query_event_partitions(days_ahead integer, retention_days integer)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  d date;
  part record;
BEGIN
  FOR d IN SELECT generate_series((now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date + days_ahead, interval '1 day')::date LOOP
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS cairn_meta.%I PARTITION OF cairn_meta.query_events FOR VALUES FROM (%L) TO (%L)',
      'query_events_' || to_char(d, 'YYYYMMDD'), d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
  END LOOP;
  FOR part IN
    SELECT c.relname FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_namespace n ON n.oid = p.relnamespace
    WHERE n.nspname = 'cairn_meta' AND p.relname = 'query_events'
      AND c.relname ~ '^query_events_\d{8}$'
      AND to_date(substring(c.relname from '\d{8}$'), 'YYYYMMDD') < (now() AT TIME ZONE 'UTC')::date - retention_days
  LOOP
    EXECUTE format('DROP TABLE cairn_meta.%I', part.relname);
  END LOOP;
END
$$;
