import type pg from 'pg'

/** One index in one sample: counters over the sample's interval (null in a first sample), size as read. */
export interface IndexStats {
  readonly at: Date
  readonly intervalSeconds: number | null
  readonly indexrelid: number
  readonly relid: number
  readonly schema: string
  readonly table: string
  readonly index: string
  readonly idxScan: number | null
  readonly idxTupRead: number | null
  readonly idxTupFetch: number | null
  readonly idxBlksRead: number | null
  readonly idxBlksHit: number | null
  readonly indexBytes: number | null
}

/** Every index as of the latest sample, by schema, table and index name. */
export async function latestIndexStats(pool: pg.Pool): Promise<IndexStats[]> {
  const { rows } = await pool.query<IndexStats>(
    `SELECT at, interval_seconds AS "intervalSeconds", indexrelid, relid, schema_name AS "schema",
            table_name AS "table", index_name AS "index", idx_scan::float8 AS "idxScan",
            idx_tup_read::float8 AS "idxTupRead", idx_tup_fetch::float8 AS "idxTupFetch",
            idx_blks_read::float8 AS "idxBlksRead", idx_blks_hit::float8 AS "idxBlksHit",
            index_bytes::float8 AS "indexBytes"
     FROM cairn_meta.index_stats_samples
     WHERE at = (SELECT max(at) FROM cairn_meta.index_stats_samples)
     ORDER BY schema_name, table_name, index_name`,
  )
  return rows
}
