import type pg from 'pg'

/** One statement's deltas summed over a window: the work pg_stat_statements saw, proxy or not. */
export interface StatementTotal {
  readonly queryid: string
  readonly dbid: number
  readonly userid: number
  readonly database: string | null
  readonly userName: string | null
  readonly query: string | null
  readonly calls: number
  readonly totalExecTimeMs: number
  readonly meanExecTimeMs: number
  readonly rows: number
  readonly sharedBlksHit: number
  readonly sharedBlksRead: number
  readonly tempBlksRead: number
  readonly tempBlksWritten: number
  readonly firstAt: Date
  readonly lastAt: Date
}

export interface StatementTotalsOptions {
  /** Only this database's statements. */
  dbid?: number
  /** Default 20. */
  limit?: number
}

/** The statements that took the most execution time since `since`, most first. */
export async function statementTotals(
  pool: pg.Pool,
  since: Date,
  { dbid, limit = 20 }: StatementTotalsOptions = {},
): Promise<StatementTotal[]> {
  const { rows } = await pool.query<StatementTotal>(
    `SELECT s.queryid::text AS queryid, s.dbid, s.userid, min(d.datname) AS database, min(r.rolname) AS "userName",
            min(t.query) AS query, sum(s.calls)::float8 AS calls, sum(s.total_exec_time_ms) AS "totalExecTimeMs",
            sum(s.total_exec_time_ms) / sum(s.calls) AS "meanExecTimeMs", sum(s.rows)::float8 AS rows,
            sum(s.shared_blks_hit)::float8 AS "sharedBlksHit", sum(s.shared_blks_read)::float8 AS "sharedBlksRead",
            sum(s.temp_blks_read)::float8 AS "tempBlksRead", sum(s.temp_blks_written)::float8 AS "tempBlksWritten",
            min(s.at) AS "firstAt", max(s.at) AS "lastAt"
     FROM cairn_meta.stat_statements_samples s
     LEFT JOIN cairn_meta.statement_texts t USING (queryid)
     LEFT JOIN pg_database d ON d.oid = s.dbid
     LEFT JOIN pg_roles r ON r.oid = s.userid
     WHERE s.at >= $1 AND ($2::oid IS NULL OR s.dbid = $2)
     GROUP BY s.queryid, s.dbid, s.userid
     ORDER BY "totalExecTimeMs" DESC
     LIMIT $3`,
    [since, dbid ?? null, limit],
  )
  return rows
}
