import type pg from 'pg'

/**
 * One table in one sample. Counters are the increase over the sample's
 * interval and null in a collector's first sample; the rest is as read.
 */
export interface TableStats {
  readonly at: Date
  readonly intervalSeconds: number | null
  readonly relid: number
  readonly schema: string
  readonly table: string
  readonly seqScan: number | null
  readonly seqTupRead: number | null
  readonly idxScan: number | null
  readonly idxTupFetch: number | null
  readonly inserted: number | null
  readonly updated: number | null
  readonly deleted: number | null
  readonly hotUpdated: number | null
  readonly heapBlksRead: number | null
  readonly heapBlksHit: number | null
  readonly idxBlksRead: number | null
  readonly idxBlksHit: number | null
  readonly vacuums: number | null
  readonly autovacuums: number | null
  readonly analyzes: number | null
  readonly autoanalyzes: number | null
  readonly liveTuples: number
  readonly deadTuples: number
  readonly modifiedSinceAnalyze: number
  readonly lastVacuum: Date | null
  readonly lastAutovacuum: Date | null
  readonly lastAnalyze: Date | null
  readonly lastAutoanalyze: Date | null
  /** pg_total_relation_size: heap, TOAST and indexes. */
  readonly totalBytes: number | null
  /** pg_relation_size: the main fork of the heap. */
  readonly tableBytes: number | null
  readonly indexesBytes: number | null
}

/** Every table as of the latest sample, largest first. */
export async function latestTableStats(pool: pg.Pool): Promise<TableStats[]> {
  const { rows } = await pool.query<TableStats>(
    `SELECT at, interval_seconds AS "intervalSeconds", relid, schema_name AS "schema", table_name AS "table",
            seq_scan::float8 AS "seqScan", seq_tup_read::float8 AS "seqTupRead", idx_scan::float8 AS "idxScan",
            idx_tup_fetch::float8 AS "idxTupFetch", n_tup_ins::float8 AS inserted, n_tup_upd::float8 AS updated,
            n_tup_del::float8 AS deleted, n_tup_hot_upd::float8 AS "hotUpdated",
            heap_blks_read::float8 AS "heapBlksRead", heap_blks_hit::float8 AS "heapBlksHit",
            idx_blks_read::float8 AS "idxBlksRead", idx_blks_hit::float8 AS "idxBlksHit",
            vacuum_count::float8 AS vacuums, autovacuum_count::float8 AS autovacuums,
            analyze_count::float8 AS analyzes, autoanalyze_count::float8 AS autoanalyzes,
            n_live_tup::float8 AS "liveTuples", n_dead_tup::float8 AS "deadTuples",
            n_mod_since_analyze::float8 AS "modifiedSinceAnalyze",
            last_vacuum AS "lastVacuum", last_autovacuum AS "lastAutovacuum", last_analyze AS "lastAnalyze",
            last_autoanalyze AS "lastAutoanalyze", total_bytes::float8 AS "totalBytes",
            table_bytes::float8 AS "tableBytes", indexes_bytes::float8 AS "indexesBytes"
     FROM cairn_meta.table_stats_samples
     WHERE at = (SELECT max(at) FROM cairn_meta.table_stats_samples)
     ORDER BY total_bytes DESC NULLS LAST, schema_name, table_name`,
  )
  return rows
}
