import type { ReadOnlyDb } from '@cairn/plugins'
import type pg from 'pg'

export interface ReadOnlyDbOptions {
  /** Per statement, milliseconds. Default 30 s. */
  statementTimeoutMs?: number
}

/**
 * Read-only access for agents: each query runs in its own READ ONLY transaction
 * with a statement timeout, so an agent can neither write nor hold a connection
 * for long.
 */
export function readOnlyDb(pool: pg.Pool, options: ReadOnlyDbOptions = {}): ReadOnlyDb {
  const timeout = Math.max(1, Math.round(options.statementTimeoutMs ?? 30_000))
  return {
    async query<R extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
      const client = await pool.connect()
      try {
        await client.query(`BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeout}`)
        try {
          const result = await client.query<R>(sql, params as unknown[])
          await client.query('COMMIT')
          return { rows: result.rows }
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {})
          throw err
        }
      } finally {
        client.release()
      }
    },
  }
}
