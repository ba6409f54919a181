import type { StatementKind } from '@cairn/core'
import type pg from 'pg'

/** One statement as it was sent: the text, and its bind parameters when it had `$n` placeholders. */
export interface WorkloadStatement {
  readonly text: string
  readonly params: readonly (string | null)[] | null
}

export interface WorkloadColumn {
  readonly relation: string | null
  readonly column: string
  readonly role: 'predicate' | 'join' | 'groupBy' | 'orderBy'
}

/** One query template (fingerprint) over the window. */
export interface WorkloadTemplate {
  readonly fingerprint: string
  readonly normalizedText: string
  readonly kind: StatementKind
  readonly calls: number
  readonly totalMs: number
  readonly meanMs: number
  /** Rows returned or changed, over the window. */
  readonly rows: number
  readonly callsPerHour: number
  /** Time the template costs the workload per hour: what an index can save. */
  readonly msPerHour: number
  readonly relationsRead: readonly string[]
  readonly relationsWritten: readonly string[]
  readonly columns: readonly WorkloadColumn[]
  /**
   * Distinct statements with their real parameters, in a stable pseudo-random
   * order: the first few are costed, all of them are read for constant predicates.
   */
  readonly statements: readonly WorkloadStatement[]
  /** Seen by the proxy, or only by pg_stat_statements (work that bypassed the proxy: no parameters, a generic plan). */
  readonly source: 'proxy' | 'pg_stat_statements'
}

export interface WorkloadSample {
  readonly from: number
  readonly until: number
  /** The part of the window that had events (a proxy that just started saw less than the window). */
  readonly spanMs: number
  readonly events: number
  /** Heaviest first (total time). */
  readonly templates: readonly WorkloadTemplate[]
}

export interface SampleWorkloadOptions {
  readonly from: number
  readonly until: number
  /** Templates kept, heaviest first. Default 200. */
  readonly maxTemplates?: number
  /** Distinct statements kept per template. Default 50. */
  readonly statementsPerTemplate?: number
}

const KINDS: readonly StatementKind[] = ['select', 'insert', 'update', 'delete']
/** Rates over less than a minute of history would be mostly noise. */
const MIN_SPAN_MS = 60_000

interface TemplateRow {
  fingerprint: string
  normalized_text: string
  kind: StatementKind
  calls: number
  total_ms: number
  rows: number
  relations_read: string[] | null
  relations_written: string[] | null
  columns: WorkloadColumn[] | null
  statements: { text: string; params: (string | null)[] | null }[] | null
  first_at: Date
  events: number
}

/**
 * The workload the proxy saw over a window, per template: how often, how
 * long, which columns in which roles, and a sample of real statements with
 * their parameters. Failed statements are left out: they say nothing of what
 * an index would save.
 */
export async function sampleWorkload(
  client: pg.ClientBase,
  { from, until, maxTemplates = 200, statementsPerTemplate = 50 }: SampleWorkloadOptions,
): Promise<WorkloadSample> {
  const { rows } = await client.query<TemplateRow>(
    `WITH w AS (
       SELECT at, fingerprint, normalized_text, kind, relations_read, relations_written, duration_ms, rows,
              statement_text, params, columns
         FROM cairn_meta.query_events
        WHERE at >= $1 AND at < $2 AND sqlstate IS NULL AND kind = ANY($3)
     ), t AS (
       SELECT fingerprint, min(normalized_text) AS normalized_text, min(kind) AS kind,
              count(*)::float8 AS calls, sum(duration_ms)::float8 AS total_ms, sum(rows)::float8 AS rows,
              (array_agg(to_jsonb(relations_read) ORDER BY at DESC))[1] AS relations_read,
              (array_agg(to_jsonb(relations_written) ORDER BY at DESC))[1] AS relations_written,
              (array_agg(columns ORDER BY at DESC) FILTER (WHERE columns IS NOT NULL))[1] AS columns,
              min(at) AS first_at
         FROM w GROUP BY fingerprint
        ORDER BY sum(duration_ms) DESC
        LIMIT $4
     ), distinct_statements AS (
       SELECT DISTINCT w.fingerprint, w.statement_text, w.params
         FROM w JOIN t USING (fingerprint)
        WHERE w.statement_text IS NOT NULL
     ), sampled AS (
       SELECT fingerprint, statement_text, params,
              row_number() OVER (
                PARTITION BY fingerprint
                ORDER BY md5(statement_text || coalesce(array_to_string(params, chr(31), chr(30)), ''))
              ) AS n
         FROM distinct_statements
     ), statements AS (
       SELECT fingerprint, jsonb_agg(jsonb_build_object('text', statement_text, 'params', to_jsonb(params)) ORDER BY n) AS statements
         FROM sampled WHERE n <= $5 GROUP BY fingerprint
     )
     SELECT t.*, s.statements, (SELECT count(*)::float8 FROM w) AS events
       FROM t LEFT JOIN statements s USING (fingerprint)
      ORDER BY t.total_ms DESC`,
    [new Date(from), new Date(until), KINDS, maxTemplates, statementsPerTemplate],
  )
  const firstAt = Math.min(...rows.map((r) => r.first_at.getTime()), until)
  const spanMs = Math.max(MIN_SPAN_MS, until - Math.max(from, firstAt))
  const hours = spanMs / 3_600_000
  return {
    from,
    until,
    spanMs,
    events: Number(rows[0]?.events ?? 0),
    templates: rows.map((r) => ({
      fingerprint: r.fingerprint,
      normalizedText: r.normalized_text,
      kind: r.kind,
      calls: r.calls,
      totalMs: r.total_ms,
      meanMs: r.calls > 0 ? r.total_ms / r.calls : 0,
      rows: r.rows,
      callsPerHour: r.calls / hours,
      msPerHour: r.total_ms / hours,
      relationsRead: r.relations_read ?? [],
      relationsWritten: r.relations_written ?? [],
      columns: (r.columns ?? []).filter((c) => typeof c?.column === 'string'),
      statements: (r.statements ?? []).map((s) => ({ text: s.text, params: s.params })),
      source: 'proxy' as const,
    })),
  }
}
