import type pg from 'pg'

/** A column a statement uses, as the proxy's analysis recorded it. */
export interface CapturedColumn {
  /** Schema-qualified (`silver.orders`). */
  relation: string | null
  column: string
  role: 'predicate' | 'join' | 'groupBy' | 'orderBy'
}

/** One distinct statement of a pass (text and parameters), from the proxy's query log. */
export interface CapturedStatement {
  fingerprint: string
  text: string
  params: (string | null)[] | null
  columns: CapturedColumn[]
  /** How often the pass ran it. */
  calls: number
}

/**
 * The distinct successful SELECTs the proxy logged to cairn_meta.query_events
 * between two instants (a pass of the workload), with their parameters and
 * the columns they use: what the baselines advise from, as Dexter reads a
 * query log.
 */
export async function capturedStatements(db: pg.Pool, from: number, until: number): Promise<CapturedStatement[]> {
  const { rows } = await db.query<CapturedStatement>(
    `SELECT fingerprint, statement_text AS text, params, coalesce(min(columns::text)::jsonb, '[]') AS columns,
            count(*)::int AS calls
       FROM cairn_meta.query_events
      WHERE at >= $1 AND at <= $2 AND sqlstate IS NULL AND kind = 'select' AND statement_text IS NOT NULL
      GROUP BY fingerprint, statement_text, params
      ORDER BY fingerprint, min(at)`,
    [new Date(from), new Date(until)],
  )
  return rows
}
