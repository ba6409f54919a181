import { inTransaction } from '@cairn/core'
import type pg from 'pg'

export interface ReadTransactionOptions {
  /** A size function waits for a table's lock; behind a long ALTER or TRUNCATE it gives up instead. Default 2 s. */
  lockTimeoutMs?: number
  statementTimeoutMs?: number
}

/**
 * Runs `read` in a READ ONLY transaction with lock and statement timeouts, so
 * a collector never writes by accident and never queues behind DDL for long.
 */
export async function readTransaction<T>(
  pool: pg.Pool,
  read: (client: pg.PoolClient) => Promise<T>,
  { lockTimeoutMs = 2_000, statementTimeoutMs = 30_000 }: ReadTransactionOptions = {},
): Promise<T> {
  return inTransaction(
    pool,
    read,
    `BEGIN READ ONLY; SET LOCAL lock_timeout = ${Math.round(lockTimeoutMs)}; SET LOCAL statement_timeout = ${Math.round(statementTimeoutMs)}`,
  )
}
