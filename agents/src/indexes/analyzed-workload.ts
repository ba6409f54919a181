import type { StatementKind } from '@cairn/core'
import { type TableFacts, tableNamed } from './relation-catalog.js'
import { type StatementPredicates, statementPredicates } from './statement-predicates.js'
import type { WorkloadSample, WorkloadStatement } from './workload-sample.js'

/** A template that reads tables an index could serve, with what its statements compare. */
export interface AnalyzedTemplate {
  readonly fingerprint: string
  readonly normalizedText: string
  readonly kind: StatementKind
  readonly callsPerHour: number
  readonly msPerHour: number
  readonly meanMs: number
  readonly source: 'proxy' | 'pg_stat_statements'
  /** Qualified tables it reads. */
  readonly tables: readonly string[]
  /** The shape of its statements (they share it: they differ only in constants). */
  readonly shape: StatementPredicates
}

/** One real statement that is costed with and without candidate indexes. */
export interface CostedStatement {
  readonly id: number
  readonly fingerprint: string
  readonly text: string
  readonly params: readonly (string | null)[] | null
  readonly tables: readonly string[]
  /** The template's milliseconds per hour, shared among its costed statements: what this statement stands for. */
  readonly weightMs: number
  /** The template's calls per hour, shared likewise. */
  readonly callsPerHour: number
  /**
   * Without its parameters (work seen only by pg_stat_statements): explained
   * as a generic plan with this many parameters; 0 for a statement with its
   * literals or parameters.
   */
  readonly genericParameters: number
}

/** A condition every statement on a table that tests the column writes with the same literal. */
export interface ConstantCondition {
  readonly relation: string
  readonly column: string
  /** SQL, e.g. `"status" = 'paid'`. */
  readonly condition: string
  readonly fingerprints: readonly string[]
}

export interface AnalyzedWorkload {
  readonly templates: readonly AnalyzedTemplate[]
  readonly statements: readonly CostedStatement[]
  readonly constants: readonly ConstantCondition[]
  /** Rows written per hour per table, by the workload's INSERT/UPDATE/DELETE templates or the table statistics. */
  readonly writesPerHour: Readonly<Record<string, number>>
  /** Templates left out, and why. */
  readonly skipped: readonly { readonly fingerprint: string; readonly reason: string }[]
}

const READS: ReadonlySet<StatementKind> = new Set(['select', 'update', 'delete', 'insert'])

/**
 * Turns the sampled workload into what the candidates and the costing need:
 * each reading template's shape, the statements to cost (the first
 * `statementsPerTemplate` of each template's sample), the constant conditions
 * across the workload, and each table's write rate.
 */
export function analyzeWorkload(
  sample: WorkloadSample,
  tables: ReadonlyMap<string, TableFacts>,
  { statementsPerTemplate = 3 }: { statementsPerTemplate?: number } = {},
): AnalyzedWorkload {
  const columnSets = new Map([...tables.values()].map((t) => [t.relation, new Set(t.columns.map((c) => c.name))]))
  const context = {
    qualify: (ref: { schema?: string; name: string }) =>
      tableNamed(tables, ref.schema ? `${ref.schema}.${ref.name}` : ref.name)?.relation,
    columnsOf: (relation: string) => columnSets.get(relation),
  }
  const templates: AnalyzedTemplate[] = []
  const statements: CostedStatement[] = []
  const skipped: { fingerprint: string; reason: string }[] = []
  const writesPerHour: Record<string, number> = {}
  // relation → column → literal conditions seen (null: compared with something that is not a literal).
  const literals = new Map<string, Map<string, { conditions: Set<string | null>; fingerprints: Set<string> }>>()

  for (const template of sample.templates) {
    if (template.kind !== 'select') {
      for (const written of template.relationsWritten) {
        const table = tableNamed(tables, written)
        if (table && template.calls > 0)
          writesPerHour[table.relation] =
            (writesPerHour[table.relation] ?? 0) + (template.rows * template.callsPerHour) / template.calls
      }
    }
    const read = [...new Set(template.relationsRead.map((r) => tableNamed(tables, r)?.relation))].filter(
      (r): r is string => r !== undefined,
    )
    if (!READS.has(template.kind) || read.length === 0) continue
    const parsed = template.statements.map((s) => ({
      statement: s,
      shape: statementPredicates(s.text, s.params, context),
    }))
    const generic = template.source === 'pg_stat_statements'
    const usable = parsed.filter((p) => p.shape.explainable && (generic || hasParams(p.statement)))
    const first = usable[0]
    if (!first) {
      skipped.push({
        fingerprint: template.fingerprint,
        reason:
          template.statements.length === 0
            ? 'no statement text was recorded for it'
            : 'its statements cannot be explained (not one plain statement, or placeholders without their parameters)',
      })
      continue
    }
    if (template.kind === 'insert' && !read.some((r) => first.shape.referenced.some((x) => x.relation === r))) continue
    templates.push({
      fingerprint: template.fingerprint,
      normalizedText: template.normalizedText,
      kind: template.kind,
      callsPerHour: template.callsPerHour,
      msPerHour: template.msPerHour,
      meanMs: template.meanMs,
      source: template.source,
      tables: read,
      shape: first.shape,
    })
    const costed = usable.slice(0, statementsPerTemplate)
    for (const { statement, shape } of costed) {
      statements.push({
        id: statements.length,
        fingerprint: template.fingerprint,
        text: statement.text.trim().replace(/;\s*$/, ''),
        params: statement.params,
        tables: read,
        weightMs: template.msPerHour / costed.length,
        callsPerHour: template.callsPerHour / costed.length,
        genericParameters: hasParams(statement) ? 0 : Math.max(1, shape.parameters),
      })
    }
    for (const { shape } of parsed) {
      for (const p of shape.predicates) {
        if (p.disjunctive) continue
        const byColumn = literals.get(p.relation) ?? new Map()
        literals.set(p.relation, byColumn)
        const seen = byColumn.get(p.column) ?? { conditions: new Set(), fingerprints: new Set() }
        byColumn.set(p.column, seen)
        seen.conditions.add(p.operator === 'eq' || p.operator === 'range' ? (p.literal ?? null) : null)
        seen.fingerprints.add(template.fingerprint)
      }
    }
  }

  for (const table of tables.values()) {
    if (table.writesPerHour !== null)
      writesPerHour[table.relation] = Math.max(writesPerHour[table.relation] ?? 0, table.writesPerHour)
  }

  const constants: ConstantCondition[] = []
  for (const [relation, byColumn] of literals) {
    for (const [column, seen] of byColumn) {
      const [only] = seen.conditions
      if (seen.conditions.size === 1 && typeof only === 'string')
        constants.push({ relation, column, condition: only, fingerprints: [...seen.fingerprints] })
    }
  }
  return { templates, statements, constants, writesPerHour, skipped }
}

/** A statement with `$n` placeholders can be explained only with its parameters. */
function hasParams(s: WorkloadStatement): boolean {
  return s.params !== null || !/\$\d/.test(s.text)
}
