import pg from 'pg'
import type { ProposedAction } from '../../src/actuator/proposed-action.js'

export interface CapturedStatement {
  readonly fingerprint: string
  readonly kind: 'select' | 'insert' | 'update' | 'delete'
  /** With `$n` placeholders when `params` is given. */
  readonly text: string
  readonly relation: string
  /** One parameter list per execution; one execution without parameters when absent. */
  readonly params?: readonly (readonly (string | null)[])[]
  /** Columns the statement filters on, for the events' `columns`. */
  readonly predicateColumns?: readonly string[]
}

/**
 * Runs each statement for real (writes inside a rolled-back transaction, so
 * the tables stay as built) and records one `cairn_meta.query_events` row per
 * execution with its measured duration, as the proxy would.
 */
export async function captureExecutions(pool: pg.Pool, statements: readonly CapturedStatement[]): Promise<void> {
  await pool.query('SELECT cairn_meta.maintain_query_event_partitions(1, 7)')
  const client = await pool.connect()
  try {
    for (const st of statements) {
      for (const params of st.params ?? [[]]) {
        await client.query('BEGIN')
        const started = performance.now()
        const result = await client.query({ text: st.text, values: [...params] })
        const durationMs = performance.now() - started
        await client.query('ROLLBACK')
        const write = st.kind !== 'select'
        await client.query(
          `INSERT INTO cairn_meta.query_events (at, database, user_name, application_name, session_id, fingerprint,
             normalized_text, kind, relations_read, relations_written, deterministic, duration_ms, pool_wait_ms, rows,
             bytes_out, statement_text, params, columns)
           VALUES (now(), current_database(), current_user, 'test', 's1', $1, $2, $3, $4, $5, true, $6, 0, $7, 0, $8, $9, $10)`,
          [
            st.fingerprint,
            st.text,
            st.kind,
            write ? [] : [st.relation],
            write ? [st.relation] : [],
            durationMs,
            result.rowCount ?? 0,
            st.text,
            params.length > 0 ? params : null,
            JSON.stringify(
              (st.predicateColumns ?? []).map((column) => ({ relation: st.relation, column, role: 'predicate' })),
            ),
          ],
        )
      }
    }
  } finally {
    client.release()
  }
}

export interface IndexProposalSpec {
  readonly schema: string
  readonly table: string
  readonly name: string
  readonly columns: readonly string[]
  readonly unique?: boolean
  readonly fingerprints: readonly string[]
  readonly sizeBytes?: number
  readonly predictedBenefitMs?: number
}

/** An `index.create` proposal as the index advisor makes one: concurrent DDL, quoted identifiers. */
export function indexProposal(spec: IndexProposalSpec): ProposedAction {
  const table = `${pg.escapeIdentifier(spec.schema)}.${pg.escapeIdentifier(spec.table)}`
  const index = `${pg.escapeIdentifier(spec.schema)}.${pg.escapeIdentifier(spec.name)}`
  const columns = spec.columns.map((c) => pg.escapeIdentifier(c)).join(', ')
  return {
    kind: 'index.create',
    key: `index.create:${spec.schema}.${spec.table}(${spec.columns.join(', ')})${spec.unique ? ' unique' : ''}`,
    relation: `${spec.schema}.${spec.table}`,
    apply: {
      sql: `CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${pg.escapeIdentifier(spec.name)} ON ${table} (${columns})`,
      concurrently: true,
    },
    rollback: { sql: `DROP INDEX CONCURRENTLY IF EXISTS ${index}`, concurrently: true },
    reason: `The statements filtering ${spec.schema}.${spec.table} on ${spec.columns.join(', ')} read the whole table.`,
    evidence: { columns: spec.columns },
    ...(spec.predictedBenefitMs === undefined ? {} : { predictedBenefitMs: spec.predictedBenefitMs }),
    ...(spec.sizeBytes === undefined ? {} : { sizeBytes: spec.sizeBytes }),
    affectedFingerprints: [...spec.fingerprints],
    source: 'index-advisor',
  }
}

/** The relation's indexes by name, with validity. */
export async function indexesOn(pool: pg.Pool, relation: string): Promise<{ name: string; valid: boolean }[]> {
  const { rows } = await pool.query<{ name: string; valid: boolean }>(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass ORDER BY 1`,
    [relation],
  )
  return rows
}
