import pg from 'pg'
import type { IndexSpec } from './index-bench-baselines.js'
import type { CapturedStatement } from './index-bench-captured.js'

/** Dexter's defaults: a query is looked at from this estimated cost on, and an index must halve it. */
const MIN_COST = 100
const SAVINGS_RATIO = 0.5
/** The column roles a B-tree can serve: compared, joined, sorted. */
const INDEXABLE_ROLES = new Set(['predicate', 'join', 'orderBy'])
/** HypoPG names its indexes `<oid>btree_table_column`. */
const HYPOTHETICAL_NAME = /^<(\d+)>/

/** An index the Dexter-style advisor suggests, with the queries that asked for it. */
export interface DexterSuggestion extends IndexSpec {
  queries: number
  /** The largest share of one query's estimated cost it saved. */
  bestSaving: number
}

export interface DexterAdvice {
  /** Distinct statements (text and parameters) looked at. */
  queries: number
  /** Of which below the cost bar, not explainable, or with no indexable column. */
  cheap: number
  unexplained: number
  firstError?: string
  noColumns: number
  explains: number
  analysisMs: number
  suggestions: DexterSuggestion[]
}

interface Hypothetical extends IndexSpec {
  oid: number
}

type PlanNode = { Plan?: PlanNode; Plans?: PlanNode[]; 'Total Cost'?: number; 'Index Name'?: string }

/**
 * A Dexter-style index advisor, the comparison for Cairn's: per query (each
 * distinct statement with its parameters), HypoPG what-if costing of
 * single-column B-trees on the columns it compares, joins or sorts on, then of
 * two-column ones (every ordered pair on one table) as well; the indexes the
 * cheaper plan uses are taken when they cut that query's estimated cost by at
 * least half (a two-column plan must halve the single-column plan's cost, and
 * falls back to it when it uses several indexes) — Dexter's rules. Nothing is
 * verified: what is suggested is built.
 */
export async function dexterStyleAdvice(
  client: pg.ClientBase,
  statements: readonly CapturedStatement[],
): Promise<DexterAdvice> {
  const started = performance.now()
  const hypopg = await hypopgSchema(client)
  const columnsOf = await relationColumns(client)
  const advice: DexterAdvice = {
    queries: statements.length,
    cheap: 0,
    unexplained: 0,
    noColumns: 0,
    explains: 0,
    analysisMs: 0,
    suggestions: [],
  }
  const suggestions = new Map<string, DexterSuggestion>()
  const explain = async (s: CapturedStatement): Promise<PlanNode | undefined> => {
    advice.explains++
    const { rows } = await client.query<{ 'QUERY PLAN': PlanNode[] }>(`EXPLAIN (FORMAT JSON) ${s.text}`, [
      ...(s.params ?? []),
    ])
    return rows[0]?.['QUERY PLAN']?.[0]
  }
  const create = async (spec: IndexSpec): Promise<Hypothetical> => {
    const { rows } = await client.query<{ oid: number }>(
      `SELECT indexrelid::int8::float8 AS oid FROM ${hypopg}.hypopg_create_index($1)`,
      [
        `CREATE INDEX ON ${quotedRelation(spec.relation)} (${spec.columns.map((c) => pg.escapeIdentifier(c)).join(', ')})`,
      ],
    )
    return { ...spec, oid: Number(rows[0]?.oid) }
  }
  const reset = () => client.query(`SELECT ${hypopg}.hypopg_reset()`)

  for (const s of statements) {
    const byRelation = indexableColumns(s, columnsOf)
    if (byRelation.size === 0) {
      advice.noColumns++
      continue
    }
    try {
      // Get the initial cost; a query cheap already is left alone.
      await reset()
      const initial = await explain(s)
      const cost0 = initial?.Plan?.['Total Cost'] ?? Number.NaN
      if (!(cost0 >= MIN_COST)) {
        advice.cheap++
        continue
      }
      // Single-column candidates, then two-column ones on top.
      const singles: Hypothetical[] = []
      for (const [relation, columns] of byRelation)
        for (const column of columns) singles.push(await create({ relation, columns: [column] }))
      const plan1 = await explain(s)
      const pairs: Hypothetical[] = []
      for (const [relation, columns] of byRelation)
        for (const a of columns)
          for (const b of columns) if (a !== b) pairs.push(await create({ relation, columns: [a, b] }))
      const plan2 = pairs.length > 0 ? await explain(s) : plan1
      const cost1 = plan1?.Plan?.['Total Cost'] ?? Number.NaN
      const cost2 = plan2?.Plan?.['Total Cost'] ?? Number.NaN
      // See if the new indexes were used and meet the bar.
      const savings1 = cost1 < cost0 * SAVINGS_RATIO
      let savings2 = cost1 > MIN_COST && cost2 < cost1 * SAVINGS_RATIO
      const all = [...singles, ...pairs]
      let used = usedIndexes(savings2 ? plan2 : plan1, all)
      if (savings2 && used.length > 1) {
        // Likely a bad suggestion: the single-column plan instead.
        used = usedIndexes(plan1, all)
        savings2 = false
      }
      if (!(savings1 || savings2)) continue
      const saving = 1 - (savings2 ? cost2 : cost1) / cost0
      for (const index of used) {
        const key = `${index.relation}(${index.columns.join(', ')})`
        const known = suggestions.get(key)
        if (known) {
          known.queries++
          known.bestSaving = Math.max(known.bestSaving, saving)
        } else
          suggestions.set(key, { relation: index.relation, columns: index.columns, queries: 1, bestSaving: saving })
      }
    } catch (err) {
      advice.unexplained++
      advice.firstError ??= (err as Error).message
    } finally {
      await reset()
    }
  }
  advice.suggestions = [...suggestions.values()]
  advice.analysisMs = performance.now() - started
  return advice
}

async function hypopgSchema(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'`,
  )
  const schema = rows[0]?.schema
  if (!schema) throw new Error('HypoPG is not installed in the bench database (CREATE EXTENSION hypopg)')
  return pg.escapeIdentifier(schema)
}

/** The columns of every table and materialized view of silver and gold, by `schema.table`. */
async function relationColumns(client: pg.ClientBase): Promise<Map<string, Set<string>>> {
  const { rows } = await client.query<{ relation: string; columns: string[] }>(
    `SELECT n.nspname || '.' || c.relname AS relation, array_agg(a.attname::text) AS columns
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname IN ('silver', 'gold') AND c.relkind IN ('r', 'm', 'p')
      GROUP BY 1`,
  )
  return new Map(rows.map((r) => [r.relation, new Set(r.columns)]))
}

/** Per relation, the columns the statement compares, joins or sorts on that exist there. */
function indexableColumns(s: CapturedStatement, columnsOf: ReadonlyMap<string, Set<string>>): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const c of s.columns) {
    if (!c.relation || !INDEXABLE_ROLES.has(c.role) || !columnsOf.get(c.relation)?.has(c.column)) continue
    const columns = out.get(c.relation) ?? []
    if (!columns.includes(c.column)) columns.push(c.column)
    out.set(c.relation, columns)
  }
  return out
}

function usedIndexes(plan: PlanNode | undefined, hypothetical: readonly Hypothetical[]): Hypothetical[] {
  const byOid = new Map(hypothetical.map((h) => [h.oid, h]))
  const used = new Map<number, Hypothetical>()
  const visit = (node: PlanNode | undefined): void => {
    if (!node) return
    const match = HYPOTHETICAL_NAME.exec(node['Index Name'] ?? '')
    const index = match ? byOid.get(Number(match[1])) : undefined
    if (index) used.set(index.oid, index)
    visit(node.Plan)
    for (const child of node.Plans ?? []) visit(child)
  }
  visit(plan)
  return [...used.values()]
}

export function quotedRelation(relation: string): string {
  const dot = relation.indexOf('.')
  return `${pg.escapeIdentifier(relation.slice(0, dot))}.${pg.escapeIdentifier(relation.slice(dot + 1))}`
}
