-- The index advisor (agents/src/indexes): HypoPG for what-if costing, and what it remembers of index usage.

-- HypoPG where the server has it and this role may create it; without it the advisor says so and recommends nothing.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') THEN
    CREATE EXTENSION IF NOT EXISTS hypopg;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'hypopg is available but this role may not create it: the index advisor needs CREATE EXTENSION hypopg';
END
$$;

-- Per index, the scan count last seen and since when it has not changed: an index whose count stays put
-- over the advisor's usage window is unused. A count that moves (or drops, after a statistics reset)
-- starts the clock again.
CREATE TABLE cairn_meta.index_usage (
  indexrelid oid PRIMARY KEY,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  index_name text NOT NULL,
  idx_scan bigint NOT NULL CHECK (idx_scan >= 0),
  unchanged_since timestamptz NOT NULL,
  checked_at timestamptz NOT NULL
);

COMMENT ON TABLE cairn_meta.index_usage IS
  'Index advisor: each index''s idx_scan as last seen and since when it has stayed the same (unused-index detection)';
