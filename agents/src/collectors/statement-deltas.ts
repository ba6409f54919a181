import type pg from 'pg'

/** What pg_stat_statements counted for one (queryid, dbid, userid) over one interval. */
export interface StatementDelta {
  readonly at: Date
  readonly intervalSeconds: number
  /** pg_stat_statements' queryid, a 64-bit integer as text. */
  readonly queryid: string
  readonly dbid: number
  readonly userid: number
  /** Resolved when read; null once the database or role is gone. */
  readonly database: string | null
  readonly userName: string | null
  /** The normalized text; null when pg_stat_statements no longer had it. */
  readonly query: string | null
  readonly calls: number
  readonly totalExecTimeMs: number
  readonly rows: number
  readonly sharedBlksHit: number
  readonly sharedBlksRead: number
  readonly tempBlksRead: number
  readonly tempBlksWritten: number
}

export interface StatementDeltasOptions {
  /** Only this database's statements (`SELECT oid FROM pg_database WHERE datname = ...`). */
  dbid?: number
  /** Default 10,000. */
  limit?: number
}

/** The statement deltas sampled since `since`, oldest first, with their text. */
export async function statementDeltas(
  pool: pg.Pool,
  since: Date,
  { dbid, limit = 10_000 }: StatementDeltasOptions = {},
): Promise<StatementDelta[]> {
  const { rows } = await pool.query<StatementDelta>(
    `SELECT s.at, s.interval_seconds AS "intervalSeconds", s.queryid::text AS queryid, s.dbid, s.userid,
            d.datname AS database, r.rolname AS "userName", t.query,
            s.calls::float8 AS calls, s.total_exec_time_ms AS "totalExecTimeMs", s.rows::float8 AS rows,
            s.shared_blks_hit::float8 AS "sharedBlksHit", s.shared_blks_read::float8 AS "sharedBlksRead",
            s.temp_blks_read::float8 AS "tempBlksRead", s.temp_blks_written::float8 AS "tempBlksWritten"
     FROM cairn_meta.stat_statements_samples s
     LEFT JOIN cairn_meta.statement_texts t USING (queryid)
     LEFT JOIN pg_database d ON d.oid = s.dbid
     LEFT JOIN pg_roles r ON r.oid = s.userid
     WHERE s.at >= $1 AND ($2::oid IS NULL OR s.dbid = $2)
     ORDER BY s.at, s.queryid
     LIMIT $3`,
    [since, dbid ?? null, limit],
  )
  return rows
}
