-- Time series sampled by the collectors (agents/src/collectors): pg_stat_statements deltas, table and
-- index statistics, host resources. Counters are stored as the increase over the sample's interval,
-- gauges as read. The collectors delete rows older than their retention in small batches (by `at`).

-- One query text per queryid, written the first time the queryid shows up in a sample, not every interval.
CREATE TABLE cairn_meta.statement_texts (
  queryid bigint PRIMARY KEY,
  query text NOT NULL,
  first_seen timestamptz NOT NULL
);

COMMENT ON TABLE cairn_meta.statement_texts IS
  'Normalized statement text per pg_stat_statements queryid; deleted with retention once no sample refers to it';

-- Per interval and (queryid, dbid, userid): what pg_stat_statements counted since the previous snapshot,
-- only for entries whose calls changed. Covers work that bypasses the proxy.
CREATE TABLE cairn_meta.stat_statements_samples (
  at timestamptz NOT NULL,
  interval_seconds double precision NOT NULL CHECK (interval_seconds >= 0),
  queryid bigint NOT NULL,
  dbid oid NOT NULL,
  userid oid NOT NULL,
  calls bigint NOT NULL CHECK (calls > 0),
  total_exec_time_ms double precision NOT NULL CHECK (total_exec_time_ms >= 0),
  rows bigint NOT NULL CHECK (rows >= 0),
  shared_blks_hit bigint NOT NULL CHECK (shared_blks_hit >= 0),
  shared_blks_read bigint NOT NULL CHECK (shared_blks_read >= 0),
  temp_blks_read bigint NOT NULL CHECK (temp_blks_read >= 0),
  temp_blks_written bigint NOT NULL CHECK (temp_blks_written >= 0)
);

CREATE INDEX stat_statements_samples_at ON cairn_meta.stat_statements_samples (at);
CREATE INDEX stat_statements_samples_queryid_at ON cairn_meta.stat_statements_samples (queryid, at);

COMMENT ON TABLE cairn_meta.stat_statements_samples IS
  'pg_stat_statements deltas per interval; a reset of the view counts the new values as the delta, never a negative one';

-- Per interval and table (pg_stat_user_tables, pg_statio_user_tables, sizes). Counter columns are the
-- increase since the previous sample and NULL on a collector's first sample; gauges are as read.
CREATE TABLE cairn_meta.table_stats_samples (
  at timestamptz NOT NULL,
  interval_seconds double precision,
  relid oid NOT NULL,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  seq_scan bigint,
  seq_tup_read bigint,
  idx_scan bigint,
  idx_tup_fetch bigint,
  n_tup_ins bigint,
  n_tup_upd bigint,
  n_tup_del bigint,
  n_tup_hot_upd bigint,
  heap_blks_read bigint,
  heap_blks_hit bigint,
  idx_blks_read bigint,
  idx_blks_hit bigint,
  vacuum_count bigint,
  autovacuum_count bigint,
  analyze_count bigint,
  autoanalyze_count bigint,
  n_live_tup bigint NOT NULL,
  n_dead_tup bigint NOT NULL,
  n_mod_since_analyze bigint NOT NULL,
  last_vacuum timestamptz,
  last_autovacuum timestamptz,
  last_analyze timestamptz,
  last_autoanalyze timestamptz,
  total_bytes bigint,
  table_bytes bigint,
  indexes_bytes bigint
);

CREATE INDEX table_stats_samples_at ON cairn_meta.table_stats_samples (at);
CREATE INDEX table_stats_samples_relid_at ON cairn_meta.table_stats_samples (relid, at);

COMMENT ON TABLE cairn_meta.table_stats_samples IS
  'Table statistics per interval: counters as deltas (NULL on a first sample), live/dead tuples, vacuum times and sizes as read';

-- Per interval and index (pg_stat_user_indexes, pg_statio_user_indexes, size); same conventions.
CREATE TABLE cairn_meta.index_stats_samples (
  at timestamptz NOT NULL,
  interval_seconds double precision,
  indexrelid oid NOT NULL,
  relid oid NOT NULL,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  index_name text NOT NULL,
  idx_scan bigint,
  idx_tup_read bigint,
  idx_tup_fetch bigint,
  idx_blks_read bigint,
  idx_blks_hit bigint,
  index_bytes bigint
);

CREATE INDEX index_stats_samples_at ON cairn_meta.index_stats_samples (at);
CREATE INDEX index_stats_samples_indexrelid_at ON cairn_meta.index_stats_samples (indexrelid, at);

COMMENT ON TABLE cairn_meta.index_stats_samples IS
  'Index statistics per interval: scans, tuples and block reads as deltas (NULL on a first sample), size as read';

-- Host resources from /proc, one row per interval and host. Rates are over the interval.
CREATE TABLE cairn_meta.host_samples (
  at timestamptz NOT NULL,
  cpu_percent double precision NOT NULL CHECK (cpu_percent BETWEEN 0 AND 100),
  mem_used_bytes bigint NOT NULL CHECK (mem_used_bytes >= 0),
  mem_total_bytes bigint NOT NULL CHECK (mem_total_bytes >= 0),
  disk_read_bytes_per_s double precision CHECK (disk_read_bytes_per_s >= 0),
  disk_write_bytes_per_s double precision CHECK (disk_write_bytes_per_s >= 0),
  load1 double precision NOT NULL,
  host text NOT NULL,
  load5 double precision NOT NULL,
  load15 double precision NOT NULL,
  cpu_count integer NOT NULL CHECK (cpu_count > 0),
  cpu_iowait_percent double precision NOT NULL CHECK (cpu_iowait_percent BETWEEN 0 AND 100),
  interval_seconds double precision NOT NULL CHECK (interval_seconds > 0)
);

CREATE INDEX host_samples_at ON cairn_meta.host_samples (at);
CREATE INDEX host_samples_host_at ON cairn_meta.host_samples (host, at);

COMMENT ON TABLE cairn_meta.host_samples IS
  'Host resources per interval: CPU busy % over all cores, MemTotal - MemAvailable, whole-disk bytes/s (NULL when no whole disk is visible), load averages';

-- What each collector collects, and why not when it does not, for `cairn status`.
CREATE TABLE cairn_meta.collector_status (
  collector text PRIMARY KEY CHECK (collector IN ('statements', 'tables', 'host')),
  host text NOT NULL,
  collecting boolean NOT NULL,
  reason text NOT NULL CHECK (reason <> ''),
  interval_ms integer NOT NULL CHECK (interval_ms > 0),
  samples bigint NOT NULL,
  errors bigint NOT NULL,
  last_error text,
  last_sample_at timestamptz,
  updated_at timestamptz NOT NULL
);
