import type pg from 'pg'

export interface PruneCollectorSamplesOptions {
  /** Rows whose `at` is older than this many days are deleted. */
  retentionDays: number
  /** Rows per DELETE: small transactions, short locks, little WAL at once. Default 5,000. */
  batchSize?: number
  /** The moment the window ends; default now. */
  now?: Date
  /** Stops between batches. */
  signal?: AbortSignal
}

/** Rows deleted, per table of `cairn_meta`. */
export type PrunedRows = Record<
  'stat_statements_samples' | 'statement_texts' | 'table_stats_samples' | 'index_stats_samples' | 'host_samples',
  number
>

const SAMPLE_TABLES = ['stat_statements_samples', 'table_stats_samples', 'index_stats_samples', 'host_samples'] as const

/**
 * Deletes the collectors' samples older than the retention window, in small
 * batches, then the statement texts no remaining sample refers to (and first
 * seen before the window, so a text written a moment ago is never taken for
 * an orphan).
 */
export async function pruneCollectorSamples(pool: pg.Pool, options: PruneCollectorSamplesOptions): Promise<PrunedRows> {
  const { retentionDays, batchSize = 5_000, now = new Date(), signal } = options
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000)
  const pruned: PrunedRows = {
    stat_statements_samples: 0,
    statement_texts: 0,
    table_stats_samples: 0,
    index_stats_samples: 0,
    host_samples: 0,
  }
  for (const table of SAMPLE_TABLES) {
    pruned[table] = await inBatches(
      pool,
      // The table names are constants of this module, not catalog or user text.
      `DELETE FROM cairn_meta.${table}
       WHERE ctid = ANY (ARRAY(SELECT ctid FROM cairn_meta.${table} WHERE at < $1 LIMIT $2))`,
      cutoff,
      batchSize,
      signal,
    )
  }
  pruned.statement_texts = await inBatches(
    pool,
    `DELETE FROM cairn_meta.statement_texts
     WHERE ctid = ANY (ARRAY(
       SELECT t.ctid FROM cairn_meta.statement_texts t
       WHERE t.first_seen < $1
         AND NOT EXISTS (SELECT 1 FROM cairn_meta.stat_statements_samples s WHERE s.queryid = t.queryid)
       LIMIT $2))`,
    cutoff,
    batchSize,
    signal,
  )
  return pruned
}

async function inBatches(
  pool: pg.Pool,
  sql: string,
  cutoff: Date,
  batchSize: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  let total = 0
  for (;;) {
    if (signal?.aborted) return total
    const { rowCount } = await pool.query(sql, [cutoff, batchSize])
    total += rowCount ?? 0
    if ((rowCount ?? 0) < batchSize) return total
  }
}
