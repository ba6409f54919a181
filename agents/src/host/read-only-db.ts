import { inTransaction } from '@cairn/core'
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
      const result = await inTransaction(
        pool,
        (client) => client.query<R>(sql, params as unknown[]),
        `BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeout}`,
      )
      return { rows: result.rows }
    },
  }
}
