import type { StatementKind } from '@cairn/core'
import { parseSync } from 'libpg-query'
import type pg from 'pg'
import type { WorkloadTemplate } from './workload-sample.js'

export interface SampleStatStatementsOptions {
  readonly from: number
  readonly until: number
  /** Normalized texts of the templates the proxy saw (`comparableText`): the same work is not counted twice. */
  readonly seen: ReadonlySet<string>
  /** Default 100. */
  readonly maxTemplates?: number
}

const KINDS: Record<string, StatementKind> = {
  SelectStmt: 'select',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  InsertStmt: 'insert',
}

/**
 * A statement's text in a form that a proxy-normalized text and a
 * pg_stat_statements text of the same statement share: lower case, one space,
 * every placeholder `$`. (pg_stat_statements of PostgreSQL 15 keeps each
 * element of an IN list, which the proxy folds: such a statement may count
 * twice.)
 */
export function comparableText(text: string): string {
  return text
    .toLowerCase()
    .replace(/\$\d+/g, '$')
    .replace(/\s+/g, ' ')
    .replace(/\s*;\s*$/, '')
    .trim()
}

interface Row {
  queryid: string
  query: string
  calls: number
  total_ms: number
  rows: number
  first: Date
  last: Date
}

/**
 * The work that bypassed the proxy over the window, per pg_stat_statements
 * entry, from the collectors' per-interval deltas (`cairn_meta.stat_statements_samples`)
 * of this database: templates whose only statement is the normalized text
 * with `$n` placeholders and no parameters (costed with a generic plan).
 * Entries the proxy also saw, and anything but one SELECT, INSERT, UPDATE or
 * DELETE, are left out. Needs `loadModule` from libpg-query beforehand.
 */
export async function sampleStatStatements(
  client: pg.ClientBase,
  { from, until, seen, maxTemplates = 100 }: SampleStatStatementsOptions,
): Promise<WorkloadTemplate[]> {
  const { rows } = await client.query<Row>(
    `SELECT s.queryid::text AS queryid, t.query, sum(s.calls)::float8 AS calls,
            sum(s.total_exec_time_ms)::float8 AS total_ms, sum(s.rows)::float8 AS rows,
            min(s.at - make_interval(secs => s.interval_seconds)) AS first, max(s.at) AS last
       FROM cairn_meta.stat_statements_samples s
       JOIN cairn_meta.statement_texts t USING (queryid)
      WHERE s.at > $1 AND s.at <= $2
        AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      GROUP BY s.queryid, t.query
      ORDER BY sum(s.total_exec_time_ms) DESC
      LIMIT $3`,
    [new Date(from), new Date(until), maxTemplates * 4],
  )
  const templates: WorkloadTemplate[] = []
  for (const r of rows) {
    if (templates.length >= maxTemplates) break
    const comparable = comparableText(r.query)
    if (seen.has(comparable)) continue
    const parsed = parseStatement(r.query)
    if (!parsed) continue
    const hours = Math.max(60_000, r.last.getTime() - Math.max(from, r.first.getTime())) / 3_600_000
    templates.push({
      fingerprint: `pgss:${r.queryid}`,
      normalizedText: r.query,
      kind: parsed.kind,
      calls: r.calls,
      totalMs: r.total_ms,
      meanMs: r.calls > 0 ? r.total_ms / r.calls : 0,
      rows: r.rows,
      callsPerHour: r.calls / hours,
      msPerHour: r.total_ms / hours,
      relationsRead: parsed.read,
      relationsWritten: parsed.written,
      columns: [],
      statements: [{ text: r.query, params: null }],
      source: 'pg_stat_statements',
    })
  }
  return templates
}

type Node = Record<string, unknown>

/** Kind and relations of one DML statement; undefined for anything else. */
function parseStatement(text: string): { kind: StatementKind; read: string[]; written: string[] } | undefined {
  let tree: { stmts?: { stmt: Node }[] }
  try {
    tree = parseSync(text) as typeof tree
  } catch {
    return undefined
  }
  if (tree.stmts?.length !== 1) return undefined
  const stmt = tree.stmts[0]?.stmt as Node
  const type = Object.keys(stmt)[0] as string
  const kind = KINDS[type]
  if (!kind) return undefined
  const body = stmt[type] as Node
  const target = body.relation as Node | undefined
  const written = target ? [nameOf(target)] : []
  const read = new Set<string>()
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit)
    if (typeof v !== 'object' || v === null) return
    for (const [k, x] of Object.entries(v as Node)) {
      if (k === 'RangeVar' && typeof x === 'object' && x !== null) read.add(nameOf(x as Node))
      else visit(x)
    }
  }
  visit(body)
  // The target of an UPDATE or DELETE is read too: its WHERE finds the rows.
  if (kind !== 'insert' && target) read.add(nameOf(target))
  return { kind, read: [...read], written }
}

function nameOf(rangeVar: Node): string {
  const name = rangeVar.relname as string
  return rangeVar.schemaname ? `${rangeVar.schemaname as string}.${name}` : name
}
