import type pg from 'pg'
import type { Collector, CollectorAvailability } from './collector.js'
import { counterDeltas } from './counter-deltas.js'
import { readTransaction } from './read-transaction.js'

export interface TableStatsCollectorOptions {
  /** Writable: the samples go to `cairn_meta`. */
  pool: pg.Pool
  /** Schemas whose tables and indexes are not sampled. Default `['cairn_meta']`: Cairn's own bookkeeping. */
  excludeSchemas?: readonly string[]
}

const TABLE_COUNTERS = [
  'seq_scan',
  'seq_tup_read',
  'idx_scan',
  'idx_tup_fetch',
  'n_tup_ins',
  'n_tup_upd',
  'n_tup_del',
  'n_tup_hot_upd',
  'heap_blks_read',
  'heap_blks_hit',
  'idx_blks_read',
  'idx_blks_hit',
  'vacuum_count',
  'autovacuum_count',
  'analyze_count',
  'autoanalyze_count',
] as const
const INDEX_COUNTERS = ['idx_scan', 'idx_tup_read', 'idx_tup_fetch', 'idx_blks_read', 'idx_blks_hit'] as const

type TableCounters = Record<(typeof TABLE_COUNTERS)[number], number>
type IndexCounters = Record<(typeof INDEX_COUNTERS)[number], number>

/** A row of pg_stat_user_tables + pg_statio_user_tables + sizes, named as the columns of table_stats_samples. */
interface TableReading extends TableCounters {
  relid: number
  schema_name: string
  table_name: string
  n_live_tup: number
  n_dead_tup: number
  n_mod_since_analyze: number
  last_vacuum: Date | null
  last_autovacuum: Date | null
  last_analyze: Date | null
  last_autoanalyze: Date | null
  total_bytes: number | null
  table_bytes: number | null
  indexes_bytes: number | null
}

interface IndexReading extends IndexCounters {
  indexrelid: number
  relid: number
  schema_name: string
  table_name: string
  index_name: string
  index_bytes: number | null
}

interface Reading {
  at: number
  tables: Map<number, TableReading>
  indexes: Map<number, IndexReading>
}

// Other sessions' temporary tables come and go with their sessions: noise in a time series.
const skipped = (alias: string) => `${alias}.schemaname <> ALL ($1::text[]) AND ${alias}.schemaname !~ '^pg_temp_'`

/**
 * Samples table and index statistics of the connected database: counters
 * (scans, tuples, blocks, vacuums) as deltas since the previous sample,
 * gauges (live and dead tuples, last vacuum and analyze, sizes) as read.
 * Every table and index is stored each interval, so the latest sample is a
 * whole picture; the first sample has gauges only.
 */
export class TableStatsCollector implements Collector {
  readonly name = 'tables'
  readonly #excluded: readonly string[]
  #previous: Reading | undefined

  constructor(private readonly options: TableStatsCollectorOptions) {
    this.#excluded = options.excludeSchemas ?? ['cairn_meta']
  }

  get availability(): CollectorAvailability {
    const left = this.#excluded.length
      ? ` (${this.#excluded.map((s) => `"${s}"`).join(', ')} and temporary tables skipped)`
      : ' (temporary tables skipped)'
    return {
      collecting: true,
      reason: `table and index statistics and sizes of this database are collected${left}`,
    }
  }

  async sample(): Promise<number> {
    const reading = await this.#read()
    const previous = this.#previous
    const intervalSeconds = previous ? (reading.at - previous.at) / 1000 : null
    const tables = [...reading.tables.values()].map((t) => ({
      ...t,
      ...deltasOrNull(previous && counterDeltas(previous.tables.get(t.relid), t, TABLE_COUNTERS), TABLE_COUNTERS),
      at: new Date(reading.at),
      interval_seconds: intervalSeconds,
    }))
    const indexes = [...reading.indexes.values()].map((i) => ({
      ...i,
      ...deltasOrNull(previous && counterDeltas(previous.indexes.get(i.indexrelid), i, INDEX_COUNTERS), INDEX_COUNTERS),
      at: new Date(reading.at),
      interval_seconds: intervalSeconds,
    }))
    // Rows as JSON objects keyed by column name: one statement, one transaction, for the whole sample.
    await this.options.pool.query(
      `WITH tables AS (
         INSERT INTO cairn_meta.table_stats_samples
         SELECT * FROM jsonb_populate_recordset(NULL::cairn_meta.table_stats_samples, $1::jsonb)
       )
       INSERT INTO cairn_meta.index_stats_samples
       SELECT * FROM jsonb_populate_recordset(NULL::cairn_meta.index_stats_samples, $2::jsonb)`,
      [JSON.stringify(tables), JSON.stringify(indexes)],
    )
    this.#previous = reading
    return tables.length + indexes.length
  }

  #read(): Promise<Reading> {
    const excluded = [...this.#excluded]
    return readTransaction(this.options.pool, async (client) => {
      const tables = await client.query<TableReading>(
        `SELECT t.relid, t.schemaname AS schema_name, t.relname AS table_name,
                t.seq_scan::float8 AS seq_scan, t.seq_tup_read::float8 AS seq_tup_read,
                coalesce(t.idx_scan, 0)::float8 AS idx_scan, coalesce(t.idx_tup_fetch, 0)::float8 AS idx_tup_fetch,
                t.n_tup_ins::float8 AS n_tup_ins, t.n_tup_upd::float8 AS n_tup_upd, t.n_tup_del::float8 AS n_tup_del,
                t.n_tup_hot_upd::float8 AS n_tup_hot_upd,
                coalesce(io.heap_blks_read, 0)::float8 AS heap_blks_read,
                coalesce(io.heap_blks_hit, 0)::float8 AS heap_blks_hit,
                coalesce(io.idx_blks_read, 0)::float8 AS idx_blks_read,
                coalesce(io.idx_blks_hit, 0)::float8 AS idx_blks_hit,
                t.vacuum_count::float8 AS vacuum_count, t.autovacuum_count::float8 AS autovacuum_count,
                t.analyze_count::float8 AS analyze_count, t.autoanalyze_count::float8 AS autoanalyze_count,
                t.n_live_tup::float8 AS n_live_tup, t.n_dead_tup::float8 AS n_dead_tup,
                t.n_mod_since_analyze::float8 AS n_mod_since_analyze,
                t.last_vacuum, t.last_autovacuum, t.last_analyze, t.last_autoanalyze,
                pg_total_relation_size(t.relid)::float8 AS total_bytes,
                pg_relation_size(t.relid)::float8 AS table_bytes,
                pg_indexes_size(t.relid)::float8 AS indexes_bytes
         FROM pg_stat_user_tables t
         JOIN pg_statio_user_tables io USING (relid)
         WHERE ${skipped('t')}`,
        [excluded],
      )
      const indexes = await client.query<IndexReading>(
        `SELECT i.indexrelid, i.relid, i.schemaname AS schema_name, i.relname AS table_name,
                i.indexrelname AS index_name,
                i.idx_scan::float8 AS idx_scan, i.idx_tup_read::float8 AS idx_tup_read,
                i.idx_tup_fetch::float8 AS idx_tup_fetch,
                coalesce(io.idx_blks_read, 0)::float8 AS idx_blks_read,
                coalesce(io.idx_blks_hit, 0)::float8 AS idx_blks_hit,
                pg_relation_size(i.indexrelid)::float8 AS index_bytes
         FROM pg_stat_user_indexes i
         JOIN pg_statio_user_indexes io USING (indexrelid)
         WHERE ${skipped('i')}`,
        [excluded],
      )
      return {
        at: Date.now(),
        tables: new Map(tables.rows.map((t) => [t.relid, t])),
        indexes: new Map(indexes.rows.map((i) => [i.indexrelid, i])),
      }
    })
  }
}

/** The deltas, or every counter NULL when there is no previous sample to count from. */
function deltasOrNull<K extends string>(
  deltas: Record<K, number> | undefined,
  keys: readonly K[],
): Record<K, number | null> {
  return deltas ?? (Object.fromEntries(keys.map((k) => [k, null])) as Record<K, null>)
}
