/** How a relation is read in a plan. */
export interface PlanScan {
  /** Schema-qualified. */
  readonly relation: string
  /** `Seq Scan`, `Index Scan`, `Index Only Scan`, `Bitmap Heap Scan`… */
  readonly node: string
  /** The index used, when the scan uses one. */
  readonly index?: string
}

/** The parts of a plan whose change explains a latency change: scans and joins. */
export interface PlanShape {
  readonly scans: readonly PlanScan[]
  /** Join node types in plan order: `Nested Loop`, `Hash Join`, `Merge Join`. */
  readonly joins: readonly string[]
  /** The planner's total cost of the root node. */
  readonly totalCost: number | null
}

interface PlanNode {
  'Node Type'?: string
  'Relation Name'?: string
  Schema?: string
  Alias?: string
  'Index Name'?: string
  'Total Cost'?: number
  Plans?: PlanNode[]
}

const JOINS = new Set(['Nested Loop', 'Hash Join', 'Merge Join'])

/**
 * The shape of an `EXPLAIN (FORMAT JSON, VERBOSE)` result: accepts the value of
 * its `QUERY PLAN` column (parsed or as text).
 */
export function planShape(queryPlan: unknown): PlanShape {
  const parsed = typeof queryPlan === 'string' ? (JSON.parse(queryPlan) as unknown) : queryPlan
  const root = (Array.isArray(parsed) ? parsed[0] : parsed) as { Plan?: PlanNode } | undefined
  const scans: PlanScan[] = []
  const joins: string[] = []
  const walk = (n: PlanNode) => {
    const type = n['Node Type'] ?? 'unknown'
    if (JOINS.has(type)) joins.push(type)
    if (n['Relation Name'] && type !== 'ModifyTable') {
      const relation = n.Schema ? `${n.Schema}.${n['Relation Name']}` : n['Relation Name']
      const index = n['Index Name'] ?? bitmapIndex(n)
      scans.push(index ? { relation, node: type, index } : { relation, node: type })
    }
    for (const child of n.Plans ?? []) walk(child)
  }
  if (root?.Plan) walk(root.Plan)
  return { scans, joins, totalCost: root?.Plan?.['Total Cost'] ?? null }
}

/** A Bitmap Heap Scan names its index on the Bitmap Index Scan beneath it. */
function bitmapIndex(n: PlanNode): string | undefined {
  for (const child of n.Plans ?? []) {
    if (child['Index Name']) return child['Index Name']
    const deeper = bitmapIndex(child)
    if (deeper) return deeper
  }
  return undefined
}

/**
 * What changed between two plan shapes, as a clause: `from Index Scan to Seq
 * Scan on silver.orders`; null when the scans and joins are the same.
 */
export function describePlanChange(before: PlanShape, after: PlanShape): string | null {
  const changes: string[] = []
  const relations = [...new Set([...before.scans, ...after.scans].map((s) => s.relation))]
  for (const relation of relations) {
    const was = scanLabel(before, relation)
    const now = scanLabel(after, relation)
    if (was === now) continue
    changes.push(`from ${was ?? 'not read'} to ${now ?? 'not read'} on ${relation}`)
  }
  const wasJoins = before.joins.join(', ')
  const nowJoins = after.joins.join(', ')
  if (wasJoins !== nowJoins) changes.push(`joins from ${wasJoins || 'none'} to ${nowJoins || 'none'}`)
  return changes.length > 0 ? changes.join('; ') : null
}

/** The scans of a plan in a few words: `Index Scan on silver.orders, Seq Scan on silver.order_items`. */
export function describePlan(shape: PlanShape): string {
  const scans = shape.scans.map((s) => `${s.node} on ${s.relation}`)
  return [...new Set(scans)].join(', ') || 'no table scans'
}

function scanLabel(shape: PlanShape, relation: string): string | null {
  const nodes = [...new Set(shape.scans.filter((s) => s.relation === relation).map((s) => s.node))]
  return nodes.length > 0 ? nodes.join(' and ') : null
}
