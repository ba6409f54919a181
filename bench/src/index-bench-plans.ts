import { analyticTemplates } from '@cairn/pipelines'
import type pg from 'pg'
import { type CapturedStatement, capturedStatements } from './index-bench-captured.js'
import type { WorkloadPass } from './index-bench-workload.js'

type PlanNode = { Plan?: PlanNode; Plans?: PlanNode[]; 'Index Name'?: string }

/** Statements explained per regressed template. */
const SAMPLE = 5

const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim()

/**
 * Per template, which of the contender's indexes the plans of its statements
 * (those of `pass`, up to five) use now. A template that got slower while its
 * plans use none of them runs the plan it ran before: its slowdown is the
 * machine's variation, not the indexes'. Null for a template with no
 * statement to explain.
 */
export async function indexesInPlans(
  db: pg.Pool,
  pass: WorkloadPass,
  templates: readonly string[],
  own: ReadonlySet<string>,
): Promise<Map<string, string[] | null>> {
  const out = new Map<string, string[] | null>()
  if (templates.length === 0) return out
  const captured = await capturedStatements(db, pass.startedAt, pass.endedAt + 1000)
  for (const name of templates) {
    const sql = analyticTemplates.find((t) => t.name === name)?.sql
    const statements = sql ? captured.filter((s) => oneLine(s.text) === oneLine(sql)).slice(0, SAMPLE) : []
    if (statements.length === 0) {
      out.set(name, null)
      continue
    }
    const used = new Set<string>()
    for (const s of statements) for (const index of await planIndexes(db, s)) if (own.has(index)) used.add(index)
    out.set(name, [...used].sort())
  }
  return out
}

async function planIndexes(db: pg.Pool, s: CapturedStatement): Promise<string[]> {
  const { rows } = await db.query<{ 'QUERY PLAN': PlanNode[] }>(`EXPLAIN (FORMAT JSON) ${s.text}`, [
    ...(s.params ?? []),
  ])
  const names: string[] = []
  const visit = (node: PlanNode | undefined): void => {
    if (!node) return
    if (node['Index Name']) names.push(node['Index Name'])
    visit(node.Plan)
    for (const child of node.Plans ?? []) visit(child)
  }
  visit(rows[0]?.['QUERY PLAN']?.[0])
  return names
}
