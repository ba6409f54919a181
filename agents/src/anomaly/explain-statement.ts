import type { QueryEvent } from '@cairn/core'
import type { ReadOnlyDb } from '@cairn/plugins'
import { type PlanShape, planShape } from './plan-shape.js'

const EXPLAINABLE = new Set(['select', 'insert', 'update', 'delete'])

/** Whether the statement of an event can be explained: a DML statement with its text. */
export function isExplainable(event: QueryEvent): boolean {
  return EXPLAINABLE.has(event.kind) && typeof event.text === 'string' && !/^\s*explain\b/i.test(event.text)
}

/**
 * The plan shape PostgreSQL picks now for an event's statement, with its bind
 * parameters. Plain EXPLAIN (no ANALYZE) executes nothing, and `db` runs it in a
 * read-only transaction with a statement timeout.
 */
export async function explainStatement(db: ReadOnlyDb, event: QueryEvent): Promise<PlanShape> {
  if (!isExplainable(event)) throw new Error(`a ${event.kind} statement without its text cannot be explained`)
  const text = (event.text as string).trim().replace(/;\s*$/, '')
  const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(
    `EXPLAIN (FORMAT JSON, VERBOSE) ${text}`,
    event.params ?? [],
  )
  return planShape(rows[0]?.['QUERY PLAN'])
}
