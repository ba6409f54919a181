import type pg from 'pg'
import type { ActionStatement } from './proposed-action.js'

export interface DdlOptions {
  /** How long a statement waits for a lock before it gives up (`lock_timeout`). Default 5 s. */
  readonly lockTimeoutMs?: number
  /** How long a statement may run (`statement_timeout`). Default 10 min. */
  readonly statementTimeoutMs?: number
}

/** An index the statement created, from the catalog. */
export interface CreatedIndex {
  /** Schema-qualified, quoted: usable in SQL as is. */
  readonly name: string
  readonly bytes: number
}

export interface DdlResult {
  readonly ok: boolean
  readonly durationMs: number
  readonly error?: string
  readonly sqlstate?: string
  /** Valid indexes on the relation that were not there before. */
  readonly created: readonly CreatedIndex[]
  /**
   * Invalid indexes on the relation that were not invalid before: what a
   * failed concurrent build (or drop) leaves behind. Quoted names.
   */
  readonly leftoverInvalid: readonly string[]
}

interface IndexRow {
  oid: number
  name: string
  valid: boolean
  bytes: string
}

/** Indexes of the relation, with quoted names built by the catalog (`format('%I.%I')`). */
async function indexesOf(client: pg.ClientBase, relation: string): Promise<IndexRow[]> {
  const { rows } = await client.query<IndexRow>(
    `SELECT i.indexrelid::int8 AS oid, format('%I.%I', n.nspname, c.relname) AS name, i.indisvalid AS valid,
            pg_relation_size(i.indexrelid) AS bytes
     FROM pg_index i
     JOIN pg_class c ON c.oid = i.indexrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE i.indrelid = to_regclass($1)`,
    [relation],
  )
  return rows.map((r) => ({ ...r, oid: Number(r.oid) }))
}

/**
 * Runs one DDL statement of an action on a dedicated connection (the caller's,
 * holding the relation's advisory lock): `lock_timeout` and `statement_timeout`
 * set on the session; a concurrent statement (`CREATE/DROP INDEX CONCURRENTLY`)
 * runs on its own, outside a transaction, as PostgreSQL requires; any other in
 * a transaction of its own, so it applies whole or not at all. Compares the
 * relation's indexes before and after, to report what was created and what a
 * failure left invalid. Never throws for a failing statement: the error is in
 * the result.
 */
export async function applyDdl(
  client: pg.ClientBase,
  relation: string,
  statement: ActionStatement,
  { lockTimeoutMs = 5_000, statementTimeoutMs = 600_000 }: DdlOptions = {},
): Promise<DdlResult> {
  await client.query(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [
    `${Math.max(1, Math.round(lockTimeoutMs))}ms`,
    `${Math.max(1, Math.round(statementTimeoutMs))}ms`,
  ])
  const before = await indexesOf(client, relation)
  const started = performance.now()
  let error: { message: string; sqlstate?: string } | undefined
  try {
    if (statement.concurrently) await client.query(statement.sql)
    else {
      await client.query('BEGIN')
      try {
        await client.query(statement.sql)
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      }
    }
  } catch (err) {
    const e = err as Error & { code?: string }
    error = { message: e.message, ...(e.code ? { sqlstate: e.code } : {}) }
  }
  const durationMs = performance.now() - started
  const after = await indexesOf(client, relation)
  const beforeValid = new Set(before.filter((i) => i.valid).map((i) => i.oid))
  const beforeInvalid = new Set(before.filter((i) => !i.valid).map((i) => i.oid))
  const created = after
    .filter((i) => i.valid && !beforeValid.has(i.oid) && !beforeInvalid.has(i.oid))
    .map((i) => ({ name: i.name, bytes: Number(i.bytes) }))
  const leftoverInvalid = after.filter((i) => !i.valid && !beforeInvalid.has(i.oid)).map((i) => i.name)
  return {
    ok: error === undefined,
    durationMs,
    ...(error ? { error: error.message } : {}),
    ...(error?.sqlstate ? { sqlstate: error.sqlstate } : {}),
    created,
    leftoverInvalid,
  }
}

/** Quoted names of the relation's invalid indexes: recorded before a change, so recovery drops only what the change left. */
export async function invalidIndexes(client: pg.ClientBase, relation: string): Promise<string[]> {
  return (await indexesOf(client, relation)).filter((i) => !i.valid).map((i) => i.name)
}

/** The statement that removes an invalid index left by a failed concurrent build; `name` comes quoted from the catalog. */
export function dropInvalidIndexStatement(name: string): ActionStatement {
  return { sql: `DROP INDEX CONCURRENTLY IF EXISTS ${name}`, concurrently: true }
}
